//! Running one nested cargo command: echo it, stream its output through, capture it.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;

/// What a finished command left behind.
#[derive(Debug)]
pub(crate) struct Captured {
    /// How the command exited.
    pub(crate) status: ExitStatus,
    /// Everything it wrote to stdout (already shown on ours).
    pub(crate) stdout: String,
    /// Everything it wrote to stderr (already shown on ours).
    pub(crate) stderr: String,
}

/// The cargo that runs us: `$CARGO`, which cargo sets for `cargo run`, else `cargo`.
pub(crate) fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Run `cargo <args>` in `dir` with the extra environment `env`.
///
/// The command is printed first (`$ RUSTFLAGS='--cfg loom' cargo test ...`, on stderr like
/// cargo's own status lines). Its stdin is closed; its stdout and stderr go to ours as they
/// arrive, chunk by chunk (so partial lines show up too), and are captured as well.
pub(crate) fn cargo_tee(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> io::Result<Captured> {
    let program = cargo();
    eprintln!("$ {}", display(&program, args, env));

    let mut command = Command::new(&program);
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Cargo would see a pipe and drop its colours; keep them when a person is watching.
    if io::stderr().is_terminal() && std::env::var_os("CARGO_TERM_COLOR").is_none() {
        command.env("CARGO_TERM_COLOR", "always");
    }

    let mut child = command.spawn()?;
    let child_stdout = child.stdout.take().expect("stdout was piped");
    let child_stderr = child.stderr.take().expect("stderr was piped");
    // Both pipes are drained at once, or a child filling one of them would stall.
    let (stdout, stderr) = thread::scope(|scope| {
        let out = scope.spawn(|| tee(child_stdout, io::stdout()));
        let err = scope.spawn(|| tee(child_stderr, io::stderr()));
        (join(out), join(err))
    });
    let status = child.wait()?;
    Ok(Captured {
        status,
        stdout: String::from_utf8_lossy(&stdout?).into_owned(),
        stderr: String::from_utf8_lossy(&stderr?).into_owned(),
    })
}

/// Join a tee thread, passing its panic on.
fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Copy `from` to `to` until end of file, returning everything copied.
///
/// A failing `to` (a closed terminal, `| head`) does not stop the copy: the child must
/// never block on a full pipe, and the capture is still needed for counting.
fn tee(mut from: impl Read, mut to: impl Write) -> io::Result<Vec<u8>> {
    let mut captured = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(captured),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        captured.extend_from_slice(&buf[..n]);
        // Ignored on purpose, see above.
        let _ = to.write_all(&buf[..n]).and_then(|()| to.flush());
    }
}

/// The command as a shell line: `NAME=value ... cargo args...`, quoted where needed.
///
/// The program is shown by its file name (`cargo`, not the toolchain path in `$CARGO`),
/// so the line can be pasted into a shell.
fn display(program: &OsString, args: &[&str], env: &[(&str, &str)]) -> String {
    let program = Path::new(program)
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy();
    let env = env.iter().map(|(k, v)| format!("{k}={}", quote(v)));
    let words = std::iter::once(quote(&program)).chain(args.iter().map(|a| quote(a)));
    env.chain(words).collect::<Vec<_>>().join(" ")
}

/// Quote `word` for a POSIX shell, only if it needs it.
fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_env_program_and_args_as_a_shell_line() {
        let line = display(
            &"/home/me/.rustup/toolchains/stable/bin/cargo".into(),
            &["test", "--release", "-p", "procshare-sync"],
            &[("RUSTFLAGS", "--cfg loom"), ("LOOM_MAX_PREEMPTIONS", "3")],
        );
        assert_eq!(
            line,
            "RUSTFLAGS='--cfg loom' LOOM_MAX_PREEMPTIONS=3 cargo test --release -p procshare-sync"
        );
    }

    #[test]
    fn quotes_only_what_the_shell_would_split() {
        assert_eq!(quote("--workspace"), "--workspace");
        assert_eq!(quote("target/loom"), "target/loom");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn tee_copies_and_captures_everything() {
        let input: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let mut shown = Vec::new();
        let captured = tee(&input[..], &mut shown).unwrap();
        assert_eq!(captured, input);
        assert_eq!(shown, input);
    }
}
