//! The checker's command line: `procshare-lin check FILE [options]`, run as
//! `cargo xtask lin check FILE [options]`.
//!
//! It reads a history in any [`Format`] (detected, or `--format`), checks it against a
//! model (`--model`, or guessed from the operation names), and prints the verdict, the
//! time, the partitions and, for a violation, the witness table (values longer than
//! `--max-value` characters elided). `--html OUT` also writes the violation as a
//! self-contained page ([`render_html`]).
//!
//! | exit status | meaning                                            |
//! |-------------|----------------------------------------------------|
//! | 0           | linearizable                                       |
//! | 1           | not linearizable                                   |
//! | 2           | unknown: the time or step budget ran out           |
//! | 3           | no verdict: bad usage, unreadable or malformed file |
//!
//! The logic lives here, in the library, so that it is unit-tested; the binary
//! `procshare-lin` only calls [`run`].

use super::{
    render_html, render_table_elided, Checker, Counter, FifoQueue, Format, History, KeyValue, Map,
    Model, Outcome, Register,
};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Exit status: linearizable.
pub const EXIT_OK: u8 = 0;
/// Exit status: not linearizable.
pub const EXIT_ILLEGAL: u8 = 1;
/// Exit status: the budget ran out.
pub const EXIT_UNKNOWN: u8 = 2;
/// Exit status: bad usage or input.
pub const EXIT_ERROR: u8 = 3;

/// Linearizability checking of recorded histories (JSON, Jepsen logs, EDN).
#[derive(Debug, Parser)]
#[command(name = "procshare-lin")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check one history; exit 0 linearizable, 1 not, 2 unknown, 3 error.
    Check(CheckArgs),
}

/// `check`'s options.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The history file.
    file: PathBuf,
    /// Its format (default: detected from the first characters).
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// The model (default: guessed from the operation names).
    #[arg(long, value_enum)]
    model: Option<ModelKind>,
    /// The register's initial value, as JSON (default: `null` for Jepsen and EDN
    /// histories, which start absent; `0` for JSON ones).
    #[arg(long, value_name = "JSON")]
    initial: Option<String>,
    /// Give up (exit 2) after this many seconds.
    #[arg(long, value_name = "S")]
    timeout: Option<f64>,
    /// Write the violation as a self-contained HTML page to OUT.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
    /// Threads for independent partitions (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Minimise the witness until no single operation can be left out (no step budget;
    /// only --timeout limits it).
    #[arg(long)]
    one_minimal: bool,
    /// Report the whole failing partition instead of a minimised witness.
    #[arg(long, conflicts_with = "one_minimal")]
    no_minimize: bool,
    /// Elide values longer than this in the table.
    #[arg(long, default_value_t = 30, value_name = "N")]
    max_value: usize,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: super::UnknownFormat| e.to_string())
}

/// The built-in models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// read / write / cas on one value ([`Register`]).
    Register,
    /// get / put / append on string keys, absent = "" ([`KeyValue`]).
    Kv,
    /// add / get / fetch_add ([`Counter`]).
    Counter,
    /// enqueue / dequeue ([`FifoQueue`]).
    Queue,
    /// put / get / remove on keys, absent = null ([`Map`]).
    Map,
}

impl ModelKind {
    /// The model's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::Kv => "kv",
            ModelKind::Counter => "counter",
            ModelKind::Queue => "queue",
            ModelKind::Map => "map",
        }
    }

    /// Guesses the model from the operation names: `append` → kv; `enqueue`/`dequeue`
    /// → queue; `add`/`fetch_add` → counter; `remove` → map; `get`/`put` → kv for EDN
    /// histories (porcupine's kv logs) and map otherwise; else register.
    pub fn guess(history: &History, format: Format) -> ModelKind {
        let has = |names: &[&str]| history.ops().iter().any(|o| names.contains(&o.op.as_str()));
        if has(&["append"]) {
            ModelKind::Kv
        } else if has(&["enqueue", "dequeue"]) {
            ModelKind::Queue
        } else if has(&["add", "fetch_add"]) {
            ModelKind::Counter
        } else if has(&["remove"]) {
            ModelKind::Map
        } else if has(&["get", "put"]) {
            if format == Format::Edn {
                ModelKind::Kv
            } else {
                ModelKind::Map
            }
        } else {
            ModelKind::Register
        }
    }
}

/// Runs the command line `args` (the first is the program name), writing the report to
/// `out` and errors to `err`; returns the exit status.
pub fn run_with(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = if e.use_stderr() {
                write!(err, "{e}")
            } else {
                write!(out, "{e}")
            };
            return code;
        }
    };
    let Command::Check(args) = cli.command;
    match check_file(&args, out) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            EXIT_ERROR
        }
    }
}

/// [`run_with`] on the process's arguments, stdout and stderr.
pub fn run() -> std::process::ExitCode {
    let code = run_with(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::ExitCode::from(code)
}

fn check_file(args: &CheckArgs, out: &mut dyn Write) -> Result<u8, String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let format = args.format.unwrap_or_else(|| Format::detect(&text));
    let parse_start = Instant::now();
    let history = format
        .parse(&text)
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    let parse_time = parse_start.elapsed();
    let kind = args
        .model
        .unwrap_or_else(|| ModelKind::guess(&history, format));
    let initial: Value = match &args.initial {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("--initial: {e}"))?,
        None if format == Format::Json => Value::from(0),
        None => Value::Null,
    };
    let mut checker = Checker::new();
    if let Some(s) = args.timeout {
        let t =
            Duration::try_from_secs_f64(s).map_err(|_| format!("--timeout {s}: not a duration"))?;
        checker = checker.timeout(t);
    }
    if let Some(n) = args.threads {
        checker = checker.threads(n);
    }
    checker = checker
        .one_minimal(args.one_minimal)
        .minimize(!args.no_minimize);

    let model_label = match kind {
        ModelKind::Register => format!("register, initial {initial}"),
        other => other.name().to_owned(),
    };
    let _ = writeln!(
        out,
        "history: {} ({format}, {} operations, parsed in {})",
        args.file.display(),
        history.len(),
        millis(parse_time)
    );
    let _ = writeln!(out, "model:   {model_label}");
    let job = Job {
        args,
        history: &history,
        out,
    };
    match kind {
        ModelKind::Register => job.run(&Register::new(initial), &checker),
        ModelKind::Kv => job.run(&KeyValue, &checker),
        ModelKind::Counter => job.run(&Counter::default(), &checker),
        ModelKind::Queue => job.run(&FifoQueue, &checker),
        ModelKind::Map => job.run(&Map, &checker),
    }
}

fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// One check, generic over the model.
struct Job<'a> {
    args: &'a CheckArgs,
    history: &'a History,
    out: &'a mut dyn Write,
}

impl Job<'_> {
    fn run<M: Model>(self, model: &M, checker: &Checker) -> Result<u8, String> {
        let report = checker
            .check_report(model, self.history)
            .map_err(|e| format!("{}: {e}", self.args.file.display()))?;
        let out = self.out;
        let verdict = match &report.outcome {
            Outcome::Ok => "linearizable".to_owned(),
            Outcome::Illegal(_) => "NOT linearizable".to_owned(),
            Outcome::Unknown(u) => u.to_string(),
        };
        let _ = writeln!(out, "verdict: {verdict}");
        let _ = writeln!(
            out,
            "time:    {} ({} partition{} on {} thread{}, {} search steps)",
            millis(report.elapsed),
            report.partitions,
            if report.partitions == 1 { "" } else { "s" },
            report.threads,
            if report.threads == 1 { "" } else { "s" },
            report.steps
        );
        match &report.outcome {
            Outcome::Ok => {
                if let Some(path) = &self.args.html {
                    let _ = writeln!(
                        out,
                        "html:    not written to {} (nothing to show)",
                        path.display()
                    );
                }
                Ok(EXIT_OK)
            }
            Outcome::Unknown(_) => Ok(EXIT_UNKNOWN),
            Outcome::Illegal(v) => {
                let _ = writeln!(
                    out,
                    "witness: {}{} of {} operations{}",
                    v.key
                        .as_ref()
                        .map(|k| format!("key {k}, "))
                        .unwrap_or_default(),
                    v.minimal.len(),
                    v.partition.len(),
                    if v.minimized {
                        ", 1-minimal"
                    } else {
                        ", not shown to be minimal"
                    }
                );
                let _ = write!(
                    out,
                    "{}",
                    render_table_elided(&v.minimal, self.args.max_value)
                );
                if let Some(path) = &self.args.html {
                    write_html(model, v, &self.args.file, path)?;
                    let _ = writeln!(out, "html:    {}", path.display());
                }
                Ok(EXIT_ILLEGAL)
            }
        }
    }
}

fn write_html<M: Model>(
    model: &M,
    violation: &super::Violation,
    file: &Path,
    path: &Path,
) -> Result<(), String> {
    let title = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let page = render_html(model, violation, &title).map_err(|e| e.to_string())?;
    std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on(text: &str, extra: &[&str]) -> (u8, String, String) {
        let dir = std::env::temp_dir().join(format!(
            "procshare-lin-cli-{}-{}",
            std::process::id(),
            text.len() ^ extra.len() << 20
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("history.txt");
        std::fs::write(&file, text).unwrap();
        let mut args: Vec<OsString> = vec!["procshare-lin".into(), "check".into(), file.into()];
        args.extend(extra.iter().map(OsString::from));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_with(args, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    const STALE: &str = r#"[{"client":0,"call":0,"return":1,"op":"write","input":1},
        {"client":1,"call":2,"return":3,"op":"read","output":0}]"#;

    #[test]
    fn exit_codes() {
        let (code, out, _) = run_on(STALE, &[]);
        assert_eq!(code, EXIT_ILLEGAL, "{out}");
        assert!(out.contains("verdict: NOT linearizable"), "{out}");
        assert!(
            out.contains("write(1) → ok") && out.contains("read → 0"),
            "{out}"
        );
        assert!(out.contains("1 partition on 1 thread"), "{out}");

        let ok = r#"[{"client":0,"call":0,"return":1,"op":"write","input":1},
            {"client":1,"call":2,"return":3,"op":"read","output":1}]"#;
        let (code, out, _) = run_on(ok, &[]);
        assert_eq!(code, EXIT_OK, "{out}");
        assert!(out.contains("verdict: linearizable"));

        let (code, _, err) = run_on("[{\"client\": 0}]", &[]);
        assert_eq!(code, EXIT_ERROR);
        assert!(err.contains("malformed history JSON"), "{err}");
        let (code, _, _) = run_on(STALE, &["--model", "nonsense"]);
        assert_eq!(code, EXIT_ERROR);
    }

    #[test]
    fn unknown_when_out_of_time() {
        // n concurrent writes and reads of distinct values and a read nobody wrote:
        // exponential, so a zero timeout cannot decide it.
        let mut ops = Vec::new();
        for i in 0..40 {
            ops.push(format!(
                r#"{{"client":{i},"call":{i},"return":1000,"op":"write","input":{}}}"#,
                i + 1
            ));
            ops.push(format!(
                r#"{{"client":{},"call":{i},"return":1000,"op":"read","output":{}}}"#,
                100 + i,
                i + 1
            ));
        }
        ops.push(r#"{"client":999,"call":0,"return":1000,"op":"read","output":-1}"#.to_owned());
        let text = format!("[{}]", ops.join(","));
        let (code, out, _) = run_on(&text, &["--timeout", "0"]);
        assert_eq!(code, EXIT_UNKNOWN, "{out}");
        assert!(out.contains("unknown: time budget exhausted"), "{out}");
    }

    #[test]
    fn formats_and_models_are_guessed() {
        let log = "INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
                   INFO  jepsen.util - 0\t:ok\t:write\t1\n\
                   INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 1\t:ok\t:read\tnil\n";
        let (code, out, _) = run_on(log, &[]);
        assert_eq!(code, EXIT_ILLEGAL, "{out}");
        assert!(out.contains("(jepsen, 2 operations"), "{out}");
        assert!(out.contains("register, initial null"), "{out}");
        // With an initial value of 1 the stale read of nil is still stale; of 1 it is not.
        let (code, _, _) = run_on(
            &log.replace(":read\tnil\n", ":read\t1\n"),
            &["--initial", "1"],
        );
        assert_eq!(code, EXIT_OK);

        let kv = "{:process 0, :type :invoke, :f :append, :key \"k\", :value \"a very long value indeed, longer than thirty\"}\n\
                  {:process 0, :type :ok, :f :append, :key \"k\", :value \"a very long value indeed, longer than thirty\"}\n\
                  {:process 1, :type :invoke, :f :get, :key \"k\", :value nil}\n\
                  {:process 1, :type :ok, :f :get, :key \"k\", :value \"\"}\n";
        let (code, out, _) = run_on(kv, &[]);
        assert_eq!(code, EXIT_ILLEGAL, "{out}");
        assert!(out.contains("model:   kv"), "{out}");
        assert!(
            out.contains("witness: key k, 2 of 2 operations, 1-minimal"),
            "{out}"
        );
        assert!(
            out.contains("…") && !out.contains("longer than thirty"),
            "not elided: {out}"
        );
        let (_, out, _) = run_on(kv, &["--max-value", "100"]);
        assert!(out.contains("longer than thirty"), "{out}");
    }

    #[test]
    fn html_is_written_for_a_violation_only() {
        let dir = std::env::temp_dir().join(format!("procshare-lin-html-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let page = dir.join("v.html");
        let _ = std::fs::remove_file(&page);
        let (code, out, _) = run_on(STALE, &["--html", page.to_str().unwrap()]);
        assert_eq!(code, EXIT_ILLEGAL);
        assert!(out.contains("html:"), "{out}");
        let text = std::fs::read_to_string(&page).unwrap();
        assert!(text.contains("<svg"));
        let ok = STALE.replace("\"output\":0", "\"output\":1");
        let page2 = dir.join("none.html");
        let (code, out, _) = run_on(&ok, &["--html", page2.to_str().unwrap()]);
        assert_eq!(code, EXIT_OK);
        assert!(out.contains("not written"), "{out}");
        assert!(!page2.exists());
    }
}
