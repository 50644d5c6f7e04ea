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
//! * `cargo xtask compare [--quick] [--json] [options]` runs the comparison
//!   (`xtask/compare`, binary `procshare-compare`, in release mode; a full run adds the
//!   `peers` feature) and writes `docs/results/compare.md`, its JSON and plots.
//! * `cargo xtask killpoints [--quick]` runs the kill-point matrix (`crates/harness`,
//!   binary `procshare-killpoints`, release mode) and, without `--quick`, writes
//!   `docs/results/killpoints.md`.
//! * `cargo xtask help` prints the usage.
//!
//! Arguments are parsed with lexopt ([`parse`]): an unknown command, an unknown option or
//! an argument to a command that takes none is a usage error (exit status 2). The harness
//! and tutorial commands are forwarded whole to their binaries, whose own parsers refuse
//! what they do not know.
//!
//! Nested cargo is the one that runs us (the `CARGO` environment variable, falling back to
//! `cargo`), always started from the workspace root. Every command is echoed before it
//! runs and its output is streamed through while being captured for counting.

mod count;
mod mutants;
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
  replay <scenario> <token> [--html FILE]
                 re-run a harness schedule step by step and print its per-actor table
                 (--html: draw the case's HTML timeline if its history is not
                 linearizable)
  stress <counter|lost-update> [--strategy S] [--runs N] [--increments K]
                 free-running repetitions and their outcome histogram (S: futex, spin,
                 ticket, pthread, nolock); also the store-buffer litmus tests
                 store-buffer[-fenced], peterson[-unfenced], bakery[-unfenced]
  catalog [--cases N] [--seed S] [--only TEXT] [--html DIR]
                 search every harness scenario (or those whose name contains TEXT)
                 with random and PCT schedules; --html: draw every linearizability
                 finding's timeline into DIR
  list           the harness's scenario names
  killpoints [--quick] | killpoints replay <scenario> <token>
                 the kill-point matrix: every schedule point of put, get, task_done, join
                 and the locks, with the actor running it SIGKILLed exactly there; prints
                 the matrix, writes docs/results/killpoints.md (not with --quick: the
                 bounded version verify runs) and fails if a row fails; `replay` re-runs
                 one case of it
  lin check FILE [--model M] [--timeout S] [--html OUT] [--format F] [--threads N]
                 [--one-minimal] [--initial JSON]
                 check a recorded history (JSON, Jepsen etcd log, Jepsen/knossos EDN) for
                 linearizability: verdict, time, partitions and the witness table; exit
                 0 linearizable, 1 not, 2 unknown, 3 error (M: register, kv, counter,
                 queue, map)
  tutorial list | run <name> [--free] | run --all [--free]
                 the seed tutorials ported to procshare: list them (ready or pending, and
                 why), run one or all; --free adds a race's free-running variant
  hook-cost      measure what the inactive schedule hooks cost: the locked-increment bench
                 with the hooks compiled in and compiled out (--cfg procshare_hooks_off),
                 medians of 5 interleaved rounds
  results        regenerate docs/results/ (lock, sync-object, queue, connection and
                 manager benchmark tables, the harness against shuttle, the scenario
                 catalog, the kill-point matrix) from fresh measurements
  compare [--quick] [--json] [options]
                 every strategy and primitive against the raw limits, CPython and the
                 Rust peers, in one run: writes docs/results/compare.md, compare.json
                 and SVG plots (--quick: CI-sized, no peers, to target/compare-quick/);
                 `cargo xtask compare --help` lists the options
  mutants plan | run SHARD...|--all | hand [NAME...] | report
                 measure what the tests without loom catch: cargo-mutants (27.x) over the
                 sync crate's protocol files, sharded (docs/results/mutants/), hand-written
                 protocol mutants (xtask/mutants/hand/), and docs/results/mutants.md
  help           print this text

The CI entry point is .ci/run, which prints tool versions and runs `cargo xtask verify`.";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Cli {
    /// `help`, `-h`, `--help`, or no arguments.
    Help,
    /// `verify [--quick] [STAGE...]`.
    Verify(verify::Options),
    /// `replay`, `stress`, `catalog`, `list` and their arguments, forwarded whole to the
    /// harness binary, whose own parser (clap) refuses what it does not know.
    Harness(Vec<String>),
    /// `tutorial <args>`, forwarded to the tutorial binary, which refuses what it does
    /// not know.
    Tutorial(Vec<String>),
    /// `lin <args>`, forwarded to the checker's binary (`procshare-lin`), whose parser
    /// refuses what it does not know.
    Lin(Vec<String>),
    /// `results`.
    Results,
    /// `hook-cost`.
    HookCost,
    /// `compare <args>`, forwarded to the comparison binary, which refuses what it does
    /// not know.
    Compare(Vec<String>),
    /// `mutants <plan|run|hand|report> ...`, parsed by [`mutants::main`].
    Mutants(Vec<String>),
    /// `killpoints [--quick]` or `killpoints replay <scenario> <token>`, forwarded to the
    /// matrix's binary (`procshare-killpoints`), whose parser refuses what it does not
    /// know.
    Killpoints(Vec<String>),
}

/// Parse the arguments after `cargo xtask`. An unknown command or option, or an argument
/// to a command that takes none, is an error.
fn parse(args: Vec<String>) -> Result<Cli, String> {
    use lexopt::Arg::{Long, Short, Value};
    let mut parser = lexopt::Parser::from_args(args);
    let command = match parser.next().map_err(|e| e.to_string())? {
        None | Some(Short('h') | Long("help")) => return Ok(Cli::Help),
        Some(Value(command)) => command.to_string_lossy().into_owned(),
        Some(other) => return Err(other.unexpected().to_string()),
    };
    let rest = |parser: &mut lexopt::Parser| -> Result<Vec<String>, String> {
        let raw = parser.raw_args().map_err(|e| e.to_string())?;
        Ok(raw.map(|a| a.to_string_lossy().into_owned()).collect())
    };
    let no_more = |parser: &mut lexopt::Parser, cli: Cli| match parser.next() {
        Ok(None) => Ok(cli),
        Ok(Some(arg)) => Err(format!("{} for {command}", arg.unexpected())),
        Err(e) => Err(e.to_string()),
    };
    match command.as_str() {
        "help" => no_more(&mut parser, Cli::Help),
        "verify" => match verify::Options::parse(&rest(&mut parser)?)? {
            Some(options) => Ok(Cli::Verify(options)),
            None => Ok(Cli::Help),
        },
        "replay" | "stress" | "catalog" | "list" => {
            let mut args = vec![command.clone()];
            args.extend(rest(&mut parser)?);
            Ok(Cli::Harness(args))
        }
        "tutorial" => {
            let args = rest(&mut parser)?;
            if args.is_empty() {
                return Err("`tutorial` needs `list` or `run`".into());
            }
            Ok(Cli::Tutorial(args))
        }
        "lin" => {
            let args = rest(&mut parser)?;
            if args.is_empty() {
                return Err("`lin` needs `check FILE`".into());
            }
            Ok(Cli::Lin(args))
        }
        "results" => no_more(&mut parser, Cli::Results),
        "hook-cost" => no_more(&mut parser, Cli::HookCost),
        "compare" => Ok(Cli::Compare(rest(&mut parser)?)),
        "mutants" => Ok(Cli::Mutants(rest(&mut parser)?)),
        "killpoints" => Ok(Cli::Killpoints(rest(&mut parser)?)),
        other => Err(format!("unknown command `{other}`")),
    }
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
        Ok(Cli::Help) => {
            println!("{}", usage());
            ExitCode::SUCCESS
        }
        Ok(Cli::Verify(options)) => verify::verify(&options),
        Ok(Cli::Harness(args)) => harness(&args),
        Ok(Cli::Tutorial(args)) => tutorial(&args),
        Ok(Cli::Lin(args)) => lin(&args),
        Ok(Cli::Results) => results(),
        Ok(Cli::HookCost) => hook_cost(),
        Ok(Cli::Compare(args)) => compare(&args),
        Ok(Cli::Mutants(args)) => mutants::main(&args),
        Ok(Cli::Killpoints(args)) => killpoints(&args),
        Err(message) => usage_error(&message),
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
    forward(
        "run --quiet -p procshare-tutorials --bin procshare-tutorial --",
        args,
    )
}

/// Forward `lin <args>` to the checker's binary (release: checking is the hot loop).
/// Its exit status (0 / 1 / 2 / 3: linearizable / not / unknown / error) passes through.
fn lin(args: &[String]) -> ExitCode {
    forward(
        "run --quiet --release -p procshare-harness --bin procshare-lin --",
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

/// Forward `compare <args>` to the comparison binary in release mode, with the Rust peers
/// (feature `peers`) unless `--quick` was given, telling it the command line to print.
fn compare(args: &[String]) -> ExitCode {
    let quick = args.iter().any(|a| a == "--quick");
    let command = format!("cargo xtask compare {}", args.join(" "));
    let mut forwarded = vec!["--command".to_string(), command.trim().to_string()];
    forwarded.extend(args.iter().cloned());
    let cargo = if quick {
        "run --quiet --release -p procshare-compare --"
    } else {
        "run --quiet --release -p procshare-compare --features peers --"
    };
    forward(cargo, &forwarded)
}

/// Forward `killpoints <args>` to the matrix's binary in release mode. A full run (no
/// `--quick`) writes `docs/results/killpoints.md`, headed by the command line.
fn killpoints(args: &[String]) -> ExitCode {
    let mut forwarded = Vec::new();
    if args.first().map(String::as_str) != Some("replay") {
        let command = format!("cargo xtask killpoints {}", args.join(" "));
        forwarded.push("--command-line".to_string());
        forwarded.push(command.trim().to_string());
        if !args.iter().any(|a| a == "--quick") {
            let page = verify::workspace_root()
                .join("docs")
                .join("results")
                .join("killpoints.md");
            forwarded.push("--write".to_string());
            forwarded.push(page.to_string_lossy().into_owned());
        }
    }
    forwarded.extend(args.iter().cloned());
    forward(
        "run --quiet --release -p procshare-harness --bin procshare-killpoints --",
        &forwarded,
    )
}

/// One cargo invocation: its arguments and extra environment.
type CargoStep<'a> = (Vec<&'a str>, &'a [(&'a str, &'a str)]);

/// Regenerate `docs/results/`: every page there is written by a measurement, never by hand.
fn results() -> ExitCode {
    let root = verify::workspace_root();
    let dir = root.join("docs").join("results");
    let dir_str = dir.to_string_lossy().into_owned();
    let catalog_page = dir.join("catalog.md").to_string_lossy().into_owned();
    let killpoints_page = dir.join("killpoints.md").to_string_lossy().into_owned();
    let env = [("PROCSHARE_RESULTS", dir_str.as_str())];
    let steps: [CargoStep<'_>; 8] = [
        (vec!["bench", "--bench", "locks", "--", "table"], &env),
        (
            vec!["bench", "--bench", "sync_objects", "--", "table"],
            &env,
        ),
        (vec!["bench", "--bench", "queue", "--", "table"], &env),
        (vec!["bench", "--bench", "connection", "--", "table"], &env),
        (vec!["bench", "--bench", "manager", "--", "table"], &env),
        (
            vec![
                "bench",
                "-p",
                "procshare-harness",
                "--bench",
                "shuttle",
                "--",
                "table",
            ],
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
        (
            vec![
                "run",
                "--quiet",
                "--release",
                "-p",
                "procshare-harness",
                "--bin",
                "procshare-killpoints",
                "--",
                "--command-line",
                "cargo xtask killpoints",
                "--write",
                &killpoints_page,
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
/// Rounds of the hook-cost measurement: each round runs both builds once, alternating
/// which goes first, and the ratio is taken between the medians.
const HOOK_COST_ROUNDS: usize = 5;

/// One build of the hook-cost measurement: its label, cargo arguments and environment.
type HookBuild<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);

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
    let configs: [HookBuild<'_>; 2] = [
        (
            "compiled out",
            off_args,
            vec![("RUSTFLAGS", "--cfg procshare_hooks_off")],
        ),
        ("compiled in", args.to_vec(), vec![]),
    ];
    // Interleaved rounds (this VM's speed drifts between runs): out, in; in, out; ...
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..HOOK_COST_ROUNDS {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (_, args, env) = &configs[i];
            match run::cargo_tee(&root, args, env) {
                Ok(done) if done.status.success() => match criterion_ns(&done.stdout) {
                    Some(ns) => times[i].push(ns),
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
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut medians = [0.0; 2];
    for (i, (label, _, _)) in configs.iter().enumerate() {
        let all: Vec<String> = times[i].iter().map(|t| format!("{t:.2}")).collect();
        medians[i] = median(&mut times[i]);
        println!(
            "value_lock_increment, hooks {label}: median {:.3} ns of [{}]",
            medians[i],
            all.join(", ")
        );
    }
    println!(
        "hooks compiled in / compiled out (medians of {HOOK_COST_ROUNDS} interleaved rounds): {:.3}",
        medians[1] / medians[0]
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Cli, String> {
        parse(args.iter().map(|a| a.to_string()).collect())
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(parse_args(&[]), Ok(Cli::Help));
        assert_eq!(parse_args(&["help"]), Ok(Cli::Help));
        assert_eq!(parse_args(&["--help"]), Ok(Cli::Help));
        assert_eq!(parse_args(&["verify", "--help"]), Ok(Cli::Help));
        assert!(matches!(
            parse_args(&["verify", "--quick", "fmt"]),
            Ok(Cli::Verify(_))
        ));
        assert_eq!(parse_args(&["results"]), Ok(Cli::Results));
        assert_eq!(parse_args(&["hook-cost"]), Ok(Cli::HookCost));
        assert_eq!(
            parse_args(&["compare", "--quick", "--json"]),
            Ok(Cli::Compare(strings(&["--quick", "--json"])))
        );
        assert_eq!(parse_args(&["compare"]), Ok(Cli::Compare(vec![])));
        assert_eq!(
            parse_args(&["killpoints", "--quick"]),
            Ok(Cli::Killpoints(strings(&["--quick"])))
        );
        assert_eq!(parse_args(&["killpoints"]), Ok(Cli::Killpoints(vec![])));
        for harness in [
            &["list"][..],
            &["catalog", "--cases", "8", "--seed", "1"],
            &["replay", "counter-2x2/futex", "ps1.AQM"],
            &["stress", "counter", "--strategy", "spin", "--runs", "10"],
        ] {
            assert_eq!(parse_args(harness), Ok(Cli::Harness(strings(harness))));
        }
        assert_eq!(
            parse_args(&["lin", "check", "h.json", "--html", "out.html"]),
            Ok(Cli::Lin(strings(&[
                "check", "h.json", "--html", "out.html"
            ])))
        );
        assert_eq!(
            parse_args(&["tutorial", "run", "--all", "--free"]),
            Ok(Cli::Tutorial(strings(&["run", "--all", "--free"])))
        );
    }

    #[test]
    fn unknown_commands_and_options_are_refused() {
        assert_eq!(
            parse_args(&["frobnicate"]),
            Err("unknown command `frobnicate`".into())
        );
        assert_eq!(
            parse_args(&["--verbose"]),
            Err("invalid option '--verbose'".into())
        );
        assert_eq!(
            parse_args(&["results", "--fast"]),
            Err("invalid option '--fast' for results".into())
        );
        assert!(parse_args(&["hook-cost", "extra"]).is_err());
        assert!(parse_args(&["help", "me"]).is_err());
        assert!(parse_args(&["verify", "--quik"]).is_err());
        assert!(parse_args(&["tutorial"]).is_err());
        assert!(parse_args(&["lin"]).is_err());
    }
}
