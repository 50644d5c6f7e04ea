//! What the three race demonstrations share: the counter program, a forced schedule
//! replayed from its token, every schedule enumerated, and the free-running variant.
//!
//! The program is the harness's counter scenario (`LockedCounter`): two actor processes
//! each increment a shared `Value<u64, L>` once, either as `*v.lock() += 1` or as
//! `v.store(v.load() + 1)`. Under the harness one actor runs at a time and the controller
//! decides every step, so a replay token fixes the interleaving exactly, and enumerating
//! the controller's choices depth-first visits every interleaving the program has.

use crate::{child, Error};
use procshare::{Barrier, RawLock, Shared, Value};
use procshare_harness::scenarios::{catalog, Increment, LockedCounter};
use procshare_harness::{
    decode_token, render_trace_with, Choice, Chooser, Replay, Runner, Scenario, Verdict,
};
use std::collections::BTreeMap;
use std::io::Write;

/// Actor processes in the forced and enumerated runs.
const ACTORS: usize = 2;
/// Increments per actor in the forced and enumerated runs.
const INCREMENTS: u64 = 1;
/// More schedules than this means the program is not the small one we expect.
const MAX_SCHEDULES: usize = 100_000;

/// Processes in the free-running variant.
const FREE_PROCESSES: usize = 2;
/// Increments per process in the free-running variant.
const FREE_INCREMENTS: u64 = 100_000;

/// The counter program: [`ACTORS`] actors, [`INCREMENTS`] each, incremented `how`.
pub(crate) fn program<L: RawLock>(how: Increment) -> LockedCounter<L> {
    LockedCounter::new(ACTORS, INCREMENTS, how)
}

/// Replay `token` on `scenario` and print its per-actor table and the result.
pub(crate) fn forced<L: RawLock>(
    out: &mut dyn Write,
    scenario: &LockedCounter<L>,
    token: &str,
) -> Result<(), Error> {
    let schedule = decode_token(token).map_err(|e| Error::Unexpected(e.to_string()))?;
    let mut runner = Runner::new(scenario)?;
    let report = runner.run_case(&mut Replay::new(schedule))?;
    let got = runner.state().load()?;
    let expected = ACTORS as u64 * INCREMENTS;
    let name = scenario.name();
    writeln!(out, "forced schedule {token} (harness scenario {name}):")?;
    let table = render_trace_with(&report.trace, ACTORS, &|op| scenario.op_name(op));
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    let lost = expected.saturating_sub(got);
    writeln!(out, "expected {expected}, got {got} (lost {lost})")?;
    writeln!(out, "harness verdict: {}", report.verdict)?;
    if catalog().iter().any(|e| e.name() == name) {
        writeln!(out, "replay it: cargo xtask replay {name} {token}")?;
    }
    Ok(())
}

/// A chooser that walks the tree of the controller's choices depth-first: it follows
/// `prefix`, then takes option 0, and records how many options each step offered.
#[derive(Debug, Default)]
struct DepthFirst {
    prefix: Vec<usize>,
    taken: Vec<(usize, usize)>,
}

impl Chooser for DepthFirst {
    fn choose(&mut self, step: usize, options: &[Choice]) -> usize {
        let choice = self.prefix.get(step).copied().unwrap_or(0);
        self.taken.push((choice, options.len()));
        choice
    }
}

impl DepthFirst {
    /// Move to the next unexplored schedule; false when every one has been run.
    fn advance(&mut self) -> bool {
        while let Some((choice, width)) = self.taken.pop() {
            if choice + 1 < width {
                self.prefix = self.taken.iter().map(|&(c, _)| c).collect();
                self.prefix.push(choice + 1);
                self.taken.clear();
                return true;
            }
        }
        false
    }
}

/// Run every schedule of `scenario`, and print how many there are and what the counter
/// ended at. Any verdict other than a pass or the counter's property failing is an error.
pub(crate) fn every_schedule<L: RawLock>(
    out: &mut dyn Write,
    scenario: &LockedCounter<L>,
) -> Result<(), Error> {
    let mut runner = Runner::new(scenario)?;
    let mut chooser = DepthFirst::default();
    let mut finals = BTreeMap::<u64, usize>::new();
    let mut total = 0usize;
    loop {
        let report = runner.run_case(&mut chooser)?;
        match report.verdict {
            Verdict::Pass | Verdict::PropertyFailed(_) => {}
            other => return Err(Error::Unexpected(format!("a schedule ended with {other}"))),
        }
        *finals.entry(runner.state().load()?).or_default() += 1;
        total += 1;
        if total > MAX_SCHEDULES {
            return Err(Error::Unexpected(format!(
                "more than {MAX_SCHEDULES} schedules"
            )));
        }
        if !chooser.advance() {
            break;
        }
    }
    let expected = ACTORS as u64 * INCREMENTS;
    let losing: usize = finals
        .iter()
        .filter(|&(&got, _)| got < expected)
        .map(|(_, n)| n)
        .sum();
    writeln!(
        out,
        "every schedule of this program, enumerated: {total} schedules, {losing} lose an update"
    )?;
    for (got, n) in &finals {
        writeln!(out, "  got {got}: {n} schedules")?;
    }
    Ok(())
}

/// The free-running variant: [`FREE_PROCESSES`] processes, released together by a
/// barrier, each incrementing [`FREE_INCREMENTS`] times with no scheduler; prints how many
/// increments were lost on this run (it varies).
pub(crate) fn free_run<L: RawLock>(out: &mut dyn Write, how: Increment) -> Result<(), Error> {
    let counter = Value::<u64, L>::new(0)?;
    let start = Shared::new(Barrier::new(FREE_PROCESSES as u32)?)?;
    let mut children = (0..FREE_PROCESSES)
        .map(|_| {
            child::spawn(|_| {
                start.wait()?;
                for _ in 0..FREE_INCREMENTS {
                    match how {
                        // (The races use `Locked` and `LoadThenStore` only.)
                        Increment::Locked | Increment::Timed => *counter.lock()? += 1,
                        Increment::LoadThenStore => counter.store(counter.load()? + 1)?,
                    }
                }
                Ok(())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for c in &mut children {
        child::join("increment", c)?;
    }
    let expected = FREE_PROCESSES as u64 * FREE_INCREMENTS;
    let got = counter.load()?;
    writeln!(
        out,
        "free-running (no scheduler): {FREE_PROCESSES} processes x {FREE_INCREMENTS} increments: \
         expected {expected}, got {got} ({} lost on this run)",
        expected.saturating_sub(got)
    )?;
    Ok(())
}
