//! Command-line front of the harness (run through `cargo xtask`):
//!
//! * `list`: the scenario catalog;
//! * `catalog [--cases N] [--seed S]`: search every scenario with random and PCT
//!   schedules; report cases, findings and schedules per second; fail on a surprise;
//! * `replay <scenario> <token>`: re-run one schedule step by step and print its table;
//! * `stress <counter|lost-update> [--strategy S] [--runs N] [--increments K]`: a
//!   free-running outcome histogram.

use procshare_harness::scenarios::catalog;
use procshare_harness::search::{Mode, SearchConfig};
use procshare_harness::stress::{stress, CounterLitmus, Histogram, Litmus};
use procshare_harness::{decode_token, HarnessError};
use procshare_sync::{FutexMutex, NoLock, PthreadMutex, SpinLock, TicketLock};
use std::io::Write;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: procshare-harness list\n       procshare-harness catalog [--cases N] [--seed S]\n       procshare-harness replay <scenario> <token>\n       procshare-harness stress <counter|lost-update> [--strategy futex|spin|ticket|pthread|nolock] [--runs N] [--increments K]"
    );
    ExitCode::from(2)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    match flag(args, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name} takes a number, not {v:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("list") => {
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
        Some("catalog") => run_catalog(&args[1..]),
        Some("replay") if args.len() == 3 => replay(&args[1], &args[2]),
        Some("stress") if args.len() >= 2 => run_stress(&args[1], &args[2..]),
        _ => return usage(),
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

fn run_catalog(args: &[String]) -> Result<bool, String> {
    let cases = number(args, "--cases", 256)? as u32;
    let seed = number(args, "--seed", 0x5eed)?;
    println!(
        "{:<40} {:<10} {:>6} {:>8} {:>10}  status",
        "scenario", "mode", "cases", "findings", "sched/s"
    );
    let (mut passed, mut failed) = (0u32, 0u32);
    for entry in catalog() {
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
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
            let ok = if entry.expects_failure() {
                found || mode != Mode::Random
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
            println!(
                "{:<40} {:<10} {:>6} {:>8} {:>10.0}  {status}",
                entry.name(),
                mode.to_string(),
                report.cases_run,
                u32::from(found),
                report.schedules_per_second()
            );
        }
    }
    println!("catalog: {passed} passed, {failed} failed");
    Ok(failed == 0)
}

fn replay(name: &str, token: &str) -> Result<bool, String> {
    let schedule = decode_token(token).map_err(|e| e.to_string())?;
    let entries = catalog();
    let entry = entries
        .iter()
        .find(|e| e.name() == name)
        .ok_or_else(|| format!("no scenario named {name:?} (see `list`)"))?;
    let (report, table) = entry.replay(schedule).map_err(|e| e.to_string())?;
    print!("{table}");
    println!("{} steps; verdict: {}", report.trace.len(), report.verdict);
    Ok(!report.verdict.is_failure() || entry.expects_failure())
}

fn run_stress(which: &str, args: &[String]) -> Result<bool, String> {
    let runs = number(args, "--runs", 10_000)?;
    let increments = number(args, "--increments", 100)?;
    let strategy = flag(args, "--strategy").unwrap_or_else(|| "futex".into());
    let load_then_store = match which {
        "counter" => false,
        "lost-update" => true,
        other => {
            return Err(format!(
                "unknown litmus test {other:?} (counter, lost-update)"
            ))
        }
    };
    let histogram = match strategy.as_str() {
        "futex" => go(
            &CounterLitmus::<FutexMutex>::new(2, increments, load_then_store),
            runs,
        ),
        "spin" => go(
            &CounterLitmus::<SpinLock>::new(2, increments, load_then_store),
            runs,
        ),
        "ticket" => go(
            &CounterLitmus::<TicketLock>::new(2, increments, load_then_store),
            runs,
        ),
        "pthread" => go(
            &CounterLitmus::<PthreadMutex>::new(2, increments, load_then_store),
            runs,
        ),
        "nolock" => go(
            &CounterLitmus::<NoLock>::new(2, increments, load_then_store),
            runs,
        ),
        other => return Err(format!("unknown strategy {other:?}")),
    }
    .map_err(|e| e.to_string())?;
    print!("{histogram}");
    Ok(histogram.forbidden() == 0)
}

fn go<T: Litmus>(litmus: &T, runs: u64) -> Result<Histogram, HarnessError> {
    let result = stress(litmus, runs, |done, total| {
        let filled = (done * 40 / total.max(1)) as usize;
        eprint!(
            "\r[{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(40 - filled)
        );
        let _ = std::io::stderr().flush();
    });
    eprintln!();
    result
}
