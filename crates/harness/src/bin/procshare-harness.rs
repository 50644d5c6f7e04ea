//! Command-line front of the harness (run through `cargo xtask`):
//!
//! * `list`: the scenario catalog;
//! * `catalog [--cases N] [--seed S] [--write FILE] [--html DIR] [--only TEXT]`: search every scenario with random
//!   and PCT schedules; report cases, findings and schedules per second (also as a
//!   Markdown page with `--write`); fail on a surprise;
//!   `--html DIR` draws the HTML timeline of every finding that is a linearizability
//!   violation (see [`procshare_harness::timeline`]);
//! * `replay <scenario> <token> [--html FILE]`: re-run one schedule step by step and
//!   print its table (and draw its timeline, if its history is not linearizable);
//! * `stress <counter|lost-update> [--strategy S] [--runs N] [--increments K]`: a
//!   free-running outcome histogram.
//!
//! Arguments are parsed by clap: an unknown option, a missing or extra argument or a bad
//! number is a usage error (exit status 2), never silently ignored.
//!
//! The long-running commands (`catalog`, `stress`) draw an indicatif progress bar on
//! stderr, only when stderr is a terminal and `CI` is not set: piped output, test
//! captures and CI logs get the results and nothing else.

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use procshare_harness::scenarios::{catalog, CatalogEntry};
use procshare_harness::search::{Mode, SearchConfig};
use procshare_harness::stress::{stress, CounterLitmus, Histogram, Litmus};
use procshare_harness::table::{Align, Table};
use procshare_harness::timeline;
use procshare_harness::{decode_token, HarnessError};
use procshare_sync::{FutexMutex, NoLock, PthreadMutex, SpinLock, TicketLock};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Controlled schedules of real processes: the scenario catalog, replays, stress runs.
#[derive(Debug, Parser)]
#[command(name = "procshare-harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand, PartialEq, Eq)]
enum Command {
    /// Print the scenario catalog's names.
    List,
    /// Search every scenario with random and PCT schedules; fail on a surprise.
    Catalog {
        /// Cases (schedules) per scenario and mode.
        #[arg(long, default_value_t = 256)]
        cases: u32,
        /// Seed of every random decision.
        #[arg(long, default_value_t = 0x5eed)]
        seed: u64,
        /// Also write the table as a generated Markdown page to FILE.
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
        /// For every finding that is a linearizability violation, draw its HTML timeline
        /// into DIR (created if missing), one page per scenario and mode.
        #[arg(long, value_name = "DIR")]
        html: Option<PathBuf>,
        /// Search only the scenarios whose name contains TEXT.
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
    },
    /// Re-run one schedule step by step and print its per-actor table.
    Replay {
        /// The scenario's name (see `list`).
        scenario: String,
        /// The replay token (`ps1.…`).
        token: String,
        /// If the case's history is not linearizable, draw its HTML timeline into FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Free-running repetitions of a litmus test and their outcome histogram.
    Stress {
        /// Which litmus test.
        litmus: LitmusKind,
        /// The lock strategy.
        #[arg(long, value_enum, default_value_t = Strategy::Futex)]
        strategy: Strategy,
        /// Repetitions.
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
        /// Increments per actor and repetition.
        #[arg(long, default_value_t = 100)]
        increments: u64,
    },
}

/// The stress litmus tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LitmusKind {
    /// `*v.lock() += 1`: one critical section per increment.
    Counter,
    /// `v.store(v.load() + 1)`: two critical sections, loses updates.
    LostUpdate,
    /// The store-buffer litmus test, no fence (x86 shows `r1 = r2 = 0`).
    StoreBuffer,
    /// The store-buffer litmus test with `fence(SeqCst)` (never `r1 = r2 = 0`).
    StoreBufferFenced,
    /// Two processes enter and leave `Peterson` (`--increments` times each).
    Peterson,
    /// The same with `UnfencedPeterson` (both get in).
    PetersonUnfenced,
    /// Two processes enter and leave `Bakery`.
    Bakery,
    /// The same with `UnfencedBakery` (both get in).
    BakeryUnfenced,
}

/// The built-in lock strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Strategy {
    /// `FutexMutex`.
    Futex,
    /// `SpinLock`.
    Spin,
    /// `TicketLock`.
    Ticket,
    /// `PthreadMutex`.
    Pthread,
    /// `NoLock` (the racy control).
    Nolock,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => {
            for e in catalog() {
                println!(
                    "{}{}",
                    e.name(),
                    if e.expects_failure() {
                        "  (bug demonstration)"
                    } else {
                        ""
                    }
                );
            }
            Ok(true)
        }
        Command::Catalog {
            cases,
            seed,
            write,
            html,
            only,
        } => run_catalog(
            cases,
            seed,
            write.as_deref(),
            html.as_deref(),
            only.as_deref(),
        ),
        Command::Replay {
            scenario,
            token,
            html,
        } => replay(&scenario, &token, html.as_deref()),
        Command::Stress {
            litmus,
            strategy,
            runs,
            increments,
        } => run_stress(litmus, strategy, runs, increments),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_catalog(
    cases: u32,
    seed: u64,
    write: Option<&Path>,
    html: Option<&Path>,
    only: Option<&str>,
) -> Result<bool, String> {
    if let Some(dir) = html {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut pages = Vec::new();
    let mut table = Table::new(["scenario", "mode", "cases", "findings", "sched/s", "status"])
        .align(2, Align::Right)
        .align(3, Align::Right)
        .align(4, Align::Right);
    let (mut passed, mut failed) = (0u32, 0u32);
    let entries: Vec<_> = catalog()
        .into_iter()
        .filter(|e| only.is_none_or(|text| e.name().contains(text)))
        .collect();
    if entries.is_empty() {
        return Err(format!(
            "no scenario's name contains {:?}",
            only.unwrap_or("")
        ));
    }
    let modes = [Mode::Random, Mode::Pct { depth: 3 }];
    let bar = progress_bar((entries.len() * modes.len()) as u64, "searches");
    for entry in entries {
        for mode in modes {
            bar.set_message(format!("{} [{mode}]", entry.name()));
            let report = entry
                .search(&SearchConfig {
                    cases,
                    seed,
                    mode,
                    shrink: true,
                    ..SearchConfig::default()
                })
                .map_err(|e: HarnessError| e.to_string())?;
            let found = report.finding.is_some();
            // A bug demonstration must be found in every mode it is searched with.
            let ok = if entry.expects_failure() {
                found
            } else {
                !found
            };
            let status = match (&report.finding, ok) {
                (Some(f), true) => format!("found as expected: {}", f.token),
                (None, true) => "ok".to_string(),
                (Some(f), false) => {
                    format!("UNEXPECTED: {} — replay with {}", f.report.verdict, f.token)
                }
                (None, false) => "UNEXPECTED: the bug was not found".to_string(),
            };
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
            if let (Some(dir), Some(f)) = (html, &report.finding) {
                let file = dir.join(format!("{}-{mode}.html", file_stem(&entry.name())));
                if draw(entry.as_ref(), f.schedule.clone(), &file)? {
                    pages.push(file);
                }
            }
            table.row([
                entry.name(),
                mode.to_string(),
                report.cases_run.to_string(),
                u32::from(found).to_string(),
                format!("{:.0}", report.schedules_per_second()),
                status,
            ]);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let table = table.render_markdown();
    print!("{table}");
    println!("catalog: {passed} passed, {failed} failed");
    for page in &pages {
        println!("timeline: {}", page.display());
    }
    if let Some(path) = write {
        let page = format!(
            "# Scenario catalog\n\nGenerated by `cargo xtask results` (`procshare-harness catalog \
             --cases {cases} --seed {seed}`); do not edit by hand. Each scenario is searched with \
             {cases} random and {cases} PCT schedules (cases include the shrinking runs); bug \
             demonstrations must be found, everything else must pass.\n\n{table}\n\
             catalog: {passed} passed, {failed} failed\n"
        );
        std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(failed == 0)
}

fn replay(name: &str, token: &str, html: Option<&Path>) -> Result<bool, String> {
    let schedule = decode_token(token).map_err(|e| e.to_string())?;
    let entries = catalog();
    let entry = entries
        .iter()
        .find(|e| e.name() == name)
        .ok_or_else(|| format!("no scenario named {name:?} (see `list`)"))?;
    if let Some(file) = html {
        // A stale page from an earlier run must not pass for this case's.
        remove_stale(file)?;
        timeline::set_timeline_output(Some(file.to_path_buf()));
    }
    let replayed = entry.replay(schedule);
    timeline::set_timeline_output(None);
    let (report, table) = replayed.map_err(|e| e.to_string())?;
    print!("{table}");
    println!("{} steps; verdict: {}", report.trace.len(), report.verdict);
    if let Some(file) = html {
        if file.exists() {
            println!("timeline: {}", file.display());
        } else {
            println!("timeline: none (the case's history is linearizable, or its property is not a linearizability check)");
        }
    }
    Ok(!report.verdict.is_failure() || entry.expects_failure())
}

/// Replay `schedule` of `entry` once with the timeline drawn into `file`; whether a page
/// was drawn (only a linearizability violation draws one).
fn draw(entry: &dyn CatalogEntry, schedule: Vec<u32>, file: &Path) -> Result<bool, String> {
    remove_stale(file)?;
    timeline::set_timeline_output(Some(file.to_path_buf()));
    let replayed = entry.replay(schedule);
    timeline::set_timeline_output(None);
    replayed.map_err(|e| e.to_string())?;
    Ok(file.exists())
}

fn remove_stale(file: &Path) -> Result<(), String> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot replace {}: {e}", file.display())),
    }
}

/// A scenario name as a file name: `queue-2p1c/strict` → `queue-2p1c_strict`.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-+@.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn run_stress(
    litmus: LitmusKind,
    strategy: Strategy,
    runs: u64,
    increments: u64,
) -> Result<bool, String> {
    use procshare_harness::store_buffer::{PairExclusionLitmus, StoreBufferLitmus};
    let rounds = u32::try_from(increments).map_err(|_| "--increments is too large")?;
    let zoo = match litmus {
        LitmusKind::Counter | LitmusKind::LostUpdate => None,
        LitmusKind::StoreBuffer => Some(go(&StoreBufferLitmus::new(false), runs)),
        LitmusKind::StoreBufferFenced => Some(go(&StoreBufferLitmus::new(true), runs)),
        LitmusKind::Peterson => Some(go(
            &PairExclusionLitmus::<procshare_sync::Peterson>::new(rounds),
            runs,
        )),
        LitmusKind::PetersonUnfenced => Some(go(
            &PairExclusionLitmus::<procshare_sync::UnfencedPeterson>::new(rounds),
            runs,
        )),
        LitmusKind::Bakery => Some(go(
            &PairExclusionLitmus::<procshare_sync::Bakery<2>>::new(rounds),
            runs,
        )),
        LitmusKind::BakeryUnfenced => Some(go(
            &PairExclusionLitmus::<procshare_sync::UnfencedBakery<2>>::new(rounds),
            runs,
        )),
    };
    if let Some(histogram) = zoo {
        let histogram = histogram.map_err(|e| e.to_string())?;
        print!("{histogram}");
        return Ok(histogram.forbidden() == 0);
    }
    let load_then_store = litmus == LitmusKind::LostUpdate;
    let histogram = match strategy {
        Strategy::Futex => go(
            &CounterLitmus::<FutexMutex>::new(2, increments, load_then_store),
            runs,
        ),
        Strategy::Spin => go(
            &CounterLitmus::<SpinLock>::new(2, increments, load_then_store),
            runs,
        ),
        Strategy::Ticket => go(
            &CounterLitmus::<TicketLock>::new(2, increments, load_then_store),
            runs,
        ),
        Strategy::Pthread => go(
            &CounterLitmus::<PthreadMutex>::new(2, increments, load_then_store),
            runs,
        ),
        Strategy::Nolock => go(
            &CounterLitmus::<NoLock>::new(2, increments, load_then_store),
            runs,
        ),
    }
    .map_err(|e| e.to_string())?;
    print!("{histogram}");
    Ok(histogram.forbidden() == 0)
}

fn go<T: Litmus>(litmus: &T, runs: u64) -> Result<Histogram, HarnessError> {
    let bar = progress_bar(runs, "runs");
    bar.set_message(litmus.name());
    let result = stress(litmus, runs, |done, _| bar.set_position(done));
    bar.finish_and_clear();
    result
}

/// Whether to draw progress bars: only for a person watching a terminal, never in CI
/// (`CI` set, whatever its value) or into a pipe or file.
fn draws_progress(ci: Option<std::ffi::OsString>, stderr_is_terminal: bool) -> bool {
    ci.is_none() && stderr_is_terminal
}

/// A progress bar over `len` `unit`s on stderr, or a hidden one (see [`draws_progress`]).
fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    if !draws_progress(std::env::var_os("CI"), std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{elapsed}}) {{wide_msg}}");
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-");
    ProgressBar::new(len).with_style(style)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("procshare-harness").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn kind(args: &[&str]) -> ErrorKind {
        parse(args).expect_err("must be refused").kind()
    }

    #[test]
    fn every_existing_command_line_still_parses() {
        assert_eq!(parse(&["list"]).unwrap(), Command::List);
        assert_eq!(
            parse(&["catalog"]).unwrap(),
            Command::Catalog {
                cases: 256,
                seed: 0x5eed,
                write: None,
                html: None,
                only: None
            }
        );
        assert_eq!(
            parse(&["catalog", "--cases", "8", "--seed", "3", "--write", "out.md"]).unwrap(),
            Command::Catalog {
                cases: 8,
                seed: 3,
                write: Some("out.md".into()),
                html: None,
                only: None
            }
        );
        assert_eq!(
            parse(&["catalog", "--html", "pages", "--only", "dict"]).unwrap(),
            Command::Catalog {
                cases: 256,
                seed: 0x5eed,
                write: None,
                html: Some("pages".into()),
                only: Some("dict".into())
            }
        );
        assert_eq!(
            parse(&["replay", "a", "ps1.AQM", "--html", "t.html"]).unwrap(),
            Command::Replay {
                scenario: "a".into(),
                token: "ps1.AQM".into(),
                html: Some("t.html".into())
            }
        );
        assert_eq!(
            parse(&["replay", "counter-2x1/nolock", "ps1.AQM"]).unwrap(),
            Command::Replay {
                scenario: "counter-2x1/nolock".into(),
                token: "ps1.AQM".into(),
                html: None
            }
        );
        assert_eq!(
            parse(&[
                "stress",
                "lost-update",
                "--strategy",
                "nolock",
                "--runs",
                "5"
            ])
            .unwrap(),
            Command::Stress {
                litmus: LitmusKind::LostUpdate,
                strategy: Strategy::Nolock,
                runs: 5,
                increments: 100
            }
        );
    }

    #[test]
    fn progress_is_drawn_only_on_a_terminal_outside_ci() {
        assert!(draws_progress(None, true));
        assert!(!draws_progress(None, false));
        assert!(!draws_progress(Some("true".into()), true));
        assert!(!draws_progress(Some("".into()), true));
        // And the template is valid: a bad one would silently fall back to the default.
        assert!(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs ({elapsed}) {wide_msg}")
                .is_ok()
        );
    }

    #[test]
    fn unknown_options_are_refused() {
        assert_eq!(
            kind(&["catalog", "--case", "8"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(kind(&["list", "--verbose"]), ErrorKind::UnknownArgument);
        assert_eq!(
            kind(&["stress", "counter", "--threads", "4"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["replay", "a", "b", "--step"]),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn bad_values_and_missing_arguments_are_refused() {
        assert_eq!(
            kind(&["catalog", "--cases", "many"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["stress", "counter", "--strategy", "mcs"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(kind(&["stress", "deadlock"]), ErrorKind::InvalidValue);
        assert_eq!(
            kind(&["replay", "counter-2x1/nolock"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(kind(&["replay", "a", "b", "c"]), ErrorKind::UnknownArgument);
        assert_eq!(kind(&["frobnicate"]), ErrorKind::InvalidSubcommand);
        // No command at all is a usage error too (clap prints the help, exit status 2).
        assert_eq!(
            kind(&[]),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
    }
}
