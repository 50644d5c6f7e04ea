//! `cargo xtask`: the project's automation, written in Rust so that it runs wherever cargo
//! runs (the matklad xtask pattern; the alias lives in `.cargo/config.toml`).
//!
//! * `cargo xtask verify [--quick] [STAGE...]` runs every check CI runs, in order, and
//!   stops at the first failure; see [`verify::STAGES`] for the list.
//! * `cargo xtask replay <scenario> <token>`, `cargo xtask stress <litmus> [options]` and
//!   `cargo xtask catalog [options]` run the harness (`crates/harness`, binary
//!   `procshare-harness`) in release mode.
//! * `cargo xtask tutorial list|run <name>|run --all` runs the ported seed tutorials
//!   (`crates/tutorials`, binary `procshare-tutorial`).
//! * `cargo xtask help` prints the usage.
//!
//! Nested cargo is the one that runs us (the `CARGO` environment variable, falling back to
//! `cargo`), always started from the workspace root. Every command is echoed before it
//! runs and its output is streamed through while being captured for counting.

mod count;
mod run;
mod verify;

use std::process::ExitCode;

/// Usage text for `cargo xtask help`, for no arguments and for a usage error; `{stages}`
/// stands for the stage names.
const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  verify [--quick] [STAGE...]
                 run every check CI runs, in order, stopping at the first failure:
                 {stages}; then print a summary table
                 and the line `verify: N passed, M failed`
                   --quick   skip the slow stages (the loom model checks)
                   STAGE...  run only the named stages (e.g. `cargo xtask verify loom`)
  replay <scenario> <token>
                 re-run a harness schedule step by step and print its per-actor table
  stress <counter|lost-update> [--strategy S] [--runs N] [--increments K]
                 free-running repetitions and their outcome histogram (S: futex, spin,
                 ticket, pthread, nolock)
  catalog [--cases N] [--seed S]
                 search every harness scenario with random and PCT schedules
  list           the harness's scenario names
  tutorial list | run <name> [--free] | run --all [--free]
                 the seed tutorials ported to procshare: list them (ready or pending, and
                 why), run one or all; --free adds a race's free-running variant
  hook-cost      measure what the inactive schedule hooks cost: the locked-increment bench
                 with the hooks compiled in and compiled out (--cfg procshare_hooks_off)
  results        regenerate docs/results/ (lock and sync-object benchmark tables, the
                 scenario catalog) from fresh measurements
  help           print this text

The CI entry point is .ci/run, which prints tool versions and runs `cargo xtask verify`.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    };
    match command.as_str() {
        "help" | "-h" | "--help" => {
            println!("{}", usage());
            ExitCode::SUCCESS
        }
        "verify" => match verify::Options::parse(rest) {
            Ok(Some(options)) => verify::verify(&options),
            Ok(None) => {
                println!("{}", usage());
                ExitCode::SUCCESS
            }
            Err(message) => usage_error(&message),
        },
        "replay" | "stress" | "catalog" | "list" => harness(&args),
        "tutorial" => tutorial(rest),
        "results" => results(),
        "hook-cost" => hook_cost(),
        other => usage_error(&format!("unknown command `{other}`")),
    }
}

/// The usage text, with the stage names filled in from [`verify::STAGES`].
fn usage() -> String {
    USAGE.replace("{stages}", &verify::stage_names().join(", "))
}

/// Report a usage error on stderr, with the usage text, and exit with status 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{}", usage());
    ExitCode::from(2)
}

/// Forward a harness command to the `procshare-harness` binary (built in release mode).
fn harness(args: &[String]) -> ExitCode {
    forward(
        "run --quiet --release -p procshare-harness --bin procshare-harness --",
        args,
    )
}

/// Forward `tutorial <args>` to the `procshare-tutorial` binary (a debug build: the one
/// the tests already made, and the whole suite runs in seconds).
fn tutorial(args: &[String]) -> ExitCode {
    if args.is_empty() {
        return usage_error("`tutorial` needs `list` or `run`");
    }
    forward(
        "run --quiet -p procshare-tutorials --bin procshare-tutorial --",
        args,
    )
}

/// Run `cargo <command> <args>` from the workspace root and exit with its status.
fn forward(command: &str, args: &[String]) -> ExitCode {
    let mut cargo_args: Vec<String> = command.split(' ').map(String::from).collect();
    cargo_args.extend(args.iter().cloned());
    let refs: Vec<&str> = cargo_args.iter().map(String::as_str).collect();
    match run::cargo_tee(&verify::workspace_root(), &refs, &[]) {
        Ok(done) if done.status.success() => ExitCode::SUCCESS,
        Ok(done) => ExitCode::from(done.status.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(e) => {
            eprintln!("error: could not run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One cargo invocation: its arguments and extra environment.
type CargoStep<'a> = (Vec<&'a str>, &'a [(&'a str, &'a str)]);

/// Regenerate `docs/results/`: every page there is written by a measurement, never by hand.
fn results() -> ExitCode {
    let root = verify::workspace_root();
    let dir = root.join("docs").join("results");
    let dir_str = dir.to_string_lossy().into_owned();
    let catalog_page = dir.join("catalog.md").to_string_lossy().into_owned();
    let env = [("PROCSHARE_RESULTS", dir_str.as_str())];
    let steps: [CargoStep<'_>; 3] = [
        (vec!["bench", "--bench", "locks", "--", "table"], &env),
        (
            vec!["bench", "--bench", "sync_objects", "--", "table"],
            &env,
        ),
        (
            vec![
                "run",
                "--quiet",
                "--release",
                "-p",
                "procshare-harness",
                "--bin",
                "procshare-harness",
                "--",
                "catalog",
                "--cases",
                "256",
                "--write",
                &catalog_page,
            ],
            &[],
        ),
    ];
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {dir_str}: {e}");
        return ExitCode::FAILURE;
    }
    for (args, env) in steps {
        match run::cargo_tee(&root, &args, env) {
            Ok(done) if done.status.success() => {}
            Ok(_) => return ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: could not run cargo: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The middle estimate of criterion's `time: [low mid high]` line, in nanoseconds.
fn criterion_ns(output: &str) -> Option<f64> {
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with("time:"))?;
    let inner = line.split('[').nth(1)?.split(']').next()?;
    let words: Vec<&str> = inner.split_whitespace().collect();
    let (value, unit) = (words.get(2)?.parse::<f64>().ok()?, *words.get(3)?);
    let scale = match unit {
        "ps" => 1e-3,
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        _ => return None,
    };
    Some(value * scale)
}

/// Run the `value_lock_increment` bench with the hooks compiled in and compiled out and
/// print the ratio: what the harness costs a program that never installs a scheduler.
fn hook_cost() -> ExitCode {
    let root = verify::workspace_root();
    let args = [
        "bench",
        "-p",
        "procshare-harness",
        "--bench",
        "schedules",
        "--",
        "value_lock_increment",
    ];
    let mut off_args = args.to_vec();
    off_args.splice(1..1, ["--target-dir", "target/nohooks"]);
    let mut times = Vec::new();
    for (label, args, env) in [
        (
            "compiled out",
            off_args,
            vec![("RUSTFLAGS", "--cfg procshare_hooks_off")],
        ),
        ("compiled in", args.to_vec(), vec![]),
    ] {
        match run::cargo_tee(&root, &args, &env) {
            Ok(done) if done.status.success() => match criterion_ns(&done.stdout) {
                Some(ns) => times.push((label, ns)),
                None => {
                    eprintln!("error: no criterion time in the output");
                    return ExitCode::FAILURE;
                }
            },
            Ok(_) => return ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: could not run cargo: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for (label, ns) in &times {
        println!("value_lock_increment, hooks {label}: {ns:.3} ns");
    }
    println!(
        "hooks compiled in / compiled out: {:.3}",
        times[1].1 / times[0].1
    );
    ExitCode::SUCCESS
}
