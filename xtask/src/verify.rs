//! `cargo xtask verify`: every check CI runs, as a table of stages.
//!
//! The stages run in the order of [`STAGES`]; the first one that fails stops the run. A
//! summary table of the stages reached is printed either way, followed by the line
//! `verify: N passed, M failed` (tests and loom models together), which CI tooling reads.

use crate::count::Tally;
use crate::run;
use procshare_table::{Align, Table};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// One check: a cargo command, with its environment and what to count in its output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stage {
    /// Name shown in the summary and accepted on the command line.
    name: &'static str,
    /// Arguments to cargo, separated by spaces (none of them contains one).
    args: &'static str,
    /// Extra environment for the command.
    env: &'static [(&'static str, &'static str)],
    /// If the stage runs libtest binaries: what one passing test is called in the summary.
    counts: Option<&'static str>,
    /// Skipped by `--quick`.
    slow: bool,
}

impl Stage {
    /// A stage that runs `cargo <args>` and counts nothing.
    const fn new(name: &'static str, args: &'static str) -> Stage {
        Stage {
            name,
            args,
            env: &[],
            counts: None,
            slow: false,
        }
    }

    /// Run with this extra environment.
    const fn env(self, env: &'static [(&'static str, &'static str)]) -> Stage {
        Stage { env, ..self }
    }

    /// Count libtest results, calling each passing test a `unit` ("tests", "loom models").
    const fn counts(self, unit: &'static str) -> Stage {
        Stage {
            counts: Some(unit),
            ..self
        }
    }

    /// Skip under `--quick`.
    const fn slow(self) -> Stage {
        Stage { slow: true, ..self }
    }
}

/// Environment of the loom stage: compile the protocols against loom, bound preemptions.
const LOOM_ENV: &[(&str, &str)] = &[("RUSTFLAGS", "--cfg loom"), ("LOOM_MAX_PREEMPTIONS", "3")];

/// Every check, in order. Adding a check is adding a line.
///
/// The tutorial package is left out of `test` and run by `tutorials`, whose tests are all
/// insta snapshots: so the summary shows how many snapshots passed, and none is counted
/// twice.
///
/// The loom build has its own target directory: its `RUSTFLAGS` would otherwise invalidate
/// the normal build each time.
#[rustfmt::skip] // a table: one stage per line, columns aligned
pub(crate) const STAGES: &[Stage] = &[
    Stage::new("fmt",         "fmt --all -- --check"),
    Stage::new("clippy",      "clippy --workspace --all-targets -- -D warnings"),
    Stage::new("test",        "test --workspace --exclude procshare-tutorials").counts("tests"),
    Stage::new("tutorials",   "test -p procshare-tutorials").counts("snapshots"),
    Stage::new("loom",        "test --release -p procshare-sync -p procshare-queue --tests --target-dir target/loom").env(LOOM_ENV).counts("loom models").slow(),
    Stage::new("catalog",     "run --release -p procshare-harness --bin procshare-harness -- catalog --cases 256").counts("scenario searches"),
    // The bounded kill-point matrix (every queue and lock row, ~10 s): fails if a row does.
    Stage::new("killpoints",  "run --quiet --release -p procshare-harness --bin procshare-killpoints -- --quick"),
    Stage::new("bench-build", "bench --workspace --no-run"),
    // Smoke run of the comparison: fails if an excluding strategy or a channel lost an
    // update (or a cell failed); writes to target/compare-quick/, never docs/results/.
    Stage::new("compare",     "run --quiet --release -p procshare-compare -- --quick --no-progress --quiet"),
];

/// The names of all stages, in order.
pub(crate) fn stage_names() -> Vec<&'static str> {
    STAGES.iter().map(|s| s.name).collect()
}

/// Parsed `verify` arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// `--quick`: skip the slow stages.
    quick: bool,
    /// Stage names given on the command line; empty means all of them.
    only: Vec<String>,
}

impl Options {
    /// Parse the arguments after `verify`; `Ok(None)` means help was asked for. An
    /// unknown option or stage is an error.
    pub(crate) fn parse(args: &[String]) -> Result<Option<Options>, String> {
        use lexopt::Arg::{Long, Short, Value};
        let mut options = Options::default();
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            match arg {
                Long("quick") => options.quick = true,
                Short('h') | Long("help") => return Ok(None),
                Value(name) => {
                    let name = name.to_string_lossy();
                    if !STAGES.iter().any(|s| s.name == name) {
                        let known = stage_names().join(", ");
                        return Err(format!("unknown stage `{name}` (stages: {known})"));
                    }
                    options.only.push(name.into_owned());
                }
                other => return Err(format!("{} for verify", other.unexpected())),
            }
        }
        Ok(Some(options))
    }

    /// Whether `stage` runs in this invocation.
    fn selects(&self, stage: &Stage) -> Selection {
        if !self.only.is_empty() {
            // Named on the command line: run it, even if slow and `--quick` was given.
            if self.only.iter().any(|name| name == stage.name) {
                return Selection::Run;
            }
            return Selection::NotNamed;
        }
        if self.quick && stage.slow {
            return Selection::Quick;
        }
        Selection::Run
    }
}

/// Whether a stage runs, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selection {
    /// It runs.
    Run,
    /// Skipped by `--quick`: shown in the summary as skipped.
    Quick,
    /// Other stages were named on the command line: left out of the summary.
    NotNamed,
}

/// How a stage ended.
#[derive(Debug)]
enum Outcome {
    /// Not run (by `--quick`).
    Skipped,
    /// Ran and exited successfully.
    Pass,
    /// Ran and failed, or could not be started.
    Fail,
}

/// One row of the summary table.
#[derive(Debug)]
struct Row {
    /// The stage's name.
    stage: &'static str,
    /// How it ended.
    outcome: Outcome,
    /// Wall-clock seconds, if it ran.
    seconds: Option<f64>,
    /// What was counted, if anything: `(unit, counts)`.
    counted: Option<(&'static str, Tally)>,
}

/// Run the selected stages, print the summary, and return the process exit code.
pub(crate) fn verify(options: &Options) -> ExitCode {
    let root = workspace_root();
    let selected = STAGES
        .iter()
        .filter(|s| options.selects(s) == Selection::Run)
        .count();
    let mut rows = Vec::new();
    let mut position = 0;
    for stage in STAGES {
        match options.selects(stage) {
            Selection::Run => {}
            Selection::NotNamed => continue,
            Selection::Quick => {
                eprintln!("\n==> {}: skipped (--quick)", stage.name);
                rows.push(Row {
                    stage: stage.name,
                    outcome: Outcome::Skipped,
                    seconds: None,
                    counted: None,
                });
                continue;
            }
        }
        position += 1;
        eprintln!("\n==> [{position}/{selected}] {}", stage.name);
        let row = run_stage(&root, stage);
        let failed = matches!(row.outcome, Outcome::Fail);
        rows.push(row);
        if failed {
            eprintln!("==> {} failed; stopping", stage.name);
            break;
        }
    }
    print_summary(&rows);
    if rows.iter().any(|r| matches!(r.outcome, Outcome::Fail)) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Run one stage and time it.
fn run_stage(root: &Path, stage: &Stage) -> Row {
    let start = Instant::now();
    let args: Vec<&str> = stage.args.split_whitespace().collect();
    let result = run::cargo_tee(root, &args, stage.env);
    let seconds = Some(start.elapsed().as_secs_f64());
    let (outcome, counted) = match result {
        Ok(captured) => {
            let counted = stage
                .counts
                .map(|unit| (unit, Tally::from_output(&captured.stdout, &captured.stderr)));
            let outcome = if captured.status.success() {
                Outcome::Pass
            } else {
                eprintln!("==> {}: {}", stage.name, captured.status);
                Outcome::Fail
            };
            (outcome, counted)
        }
        Err(e) => {
            eprintln!("==> {}: could not run {:?}: {e}", stage.name, run::cargo());
            (Outcome::Fail, None)
        }
    };
    Row {
        stage: stage.name,
        outcome,
        seconds,
        counted,
    }
}

/// Print the summary table and the `verify: N passed, M failed` line, on stdout.
fn print_summary(rows: &[Row]) {
    print!("\n{}", summary(rows));
}

/// The summary: a Markdown table of the stages reached, then the totals line.
fn summary(rows: &[Row]) -> String {
    let mut table = Table::new(["stage", "result", "seconds", "counted"]).align(2, Align::Right);
    let mut total = Tally::default();
    for row in rows {
        let result = match row.outcome {
            Outcome::Skipped => "skipped",
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
        };
        let seconds = row.seconds.map_or("-".into(), |s| format!("{s:.1}"));
        let counted = row
            .counted
            .map_or("-".into(), |(unit, tally)| tally.describe(unit));
        if let Some((_, tally)) = row.counted {
            total.add(tally);
        }
        table.row([row.stage.to_string(), result.into(), seconds, counted]);
    }
    format!(
        "{}\nverify: {} passed, {} failed\n",
        table.render_markdown(),
        total.passed,
        total.failed
    )
}

/// The workspace root: the parent of this crate's directory.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        Options::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    fn selected(options: &Options) -> Vec<&'static str> {
        STAGES
            .iter()
            .filter(|s| options.selects(s) == Selection::Run)
            .map(|s| s.name)
            .collect()
    }

    #[test]
    fn full_run_is_every_stage_in_order() {
        let options = parse(&[]).unwrap().unwrap();
        assert_eq!(
            selected(&options),
            [
                "fmt",
                "clippy",
                "test",
                "tutorials",
                "loom",
                "catalog",
                "killpoints",
                "bench-build",
                "compare"
            ]
        );
    }

    #[test]
    fn quick_skips_loom() {
        let options = parse(&["--quick"]).unwrap().unwrap();
        assert_eq!(
            selected(&options),
            [
                "fmt",
                "clippy",
                "test",
                "tutorials",
                "catalog",
                "killpoints",
                "bench-build",
                "compare"
            ]
        );
    }

    #[test]
    fn named_stages_run_alone_even_when_slow() {
        let options = parse(&["--quick", "loom", "fmt"]).unwrap().unwrap();
        assert_eq!(selected(&options), ["fmt", "loom"]);
    }

    #[test]
    fn bad_arguments_are_rejected() {
        assert_eq!(
            parse(&["--fast"]),
            Err("invalid option '--fast' for verify".into())
        );
        assert!(parse(&["-q"]).is_err());
        assert!(parse(&["--quick=yes"]).is_err());
        assert!(parse(&["lint"])
            .unwrap_err()
            .contains("unknown stage `lint`"));
        assert_eq!(parse(&["--help"]), Ok(None));
    }

    #[test]
    fn summary_is_a_table_and_a_totals_line() {
        let tally = |passed, failed| Tally {
            passed,
            failed,
            ..Tally::default()
        };
        let rows = [
            Row {
                stage: "fmt",
                outcome: Outcome::Pass,
                seconds: Some(0.42),
                counted: None,
            },
            Row {
                stage: "test",
                outcome: Outcome::Fail,
                seconds: Some(61.0),
                counted: Some(("tests", tally(10, 2))),
            },
            Row {
                stage: "loom",
                outcome: Outcome::Skipped,
                seconds: None,
                counted: None,
            },
        ];
        assert_eq!(
            summary(&rows),
            "\
| stage | result  | seconds | counted            |
|-------|---------|--------:|--------------------|
| fmt   | pass    |     0.4 | -                  |
| test  | fail    |    61.0 | 10 tests, 2 failed |
| loom  | skipped |       - | -                  |

verify: 10 passed, 2 failed
"
        );
    }

    #[test]
    fn stage_names_are_unique() {
        for (i, a) in STAGES.iter().enumerate() {
            assert!(
                STAGES[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }
}
