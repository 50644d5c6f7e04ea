//! Searching schedules for a failing case, and shrinking what is found.
//!
//! Three ways to search, selectable per run ([`Mode`]): uniform random choices, PCT, and
//! proptest (a `Vec<u32>` schedule strategy, [`schedule_strategy`], whose shrinking
//! removes and lowers choices). Whatever finds a failure, the schedule is then shrunk
//! toward the shortest, lowest schedule that fails *the same way* (same verdict kind):
//! chunks are removed (halving sizes down to one), then each choice is lowered, until no
//! change helps. Choices past a schedule's end are 0 (the lowest runnable actor), so the
//! shrunk schedule lists only the deviations from "run the lowest actor".

use crate::runner::{CaseReport, HarnessError, Runner, Verdict};
use crate::scenario::Scenario;
use crate::schedule::{encode_token, Chooser, PctChooser, RandomChooser, Replay, SplitMix64};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// How schedules are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Uniformly random choice at every step.
    Random,
    /// PCT with the given bug depth.
    Pct {
        /// Bug depth `d` (number of ordering constraints); `d - 1` change points.
        depth: usize,
    },
    /// proptest's `Vec<u32>` strategy (and its shrinking).
    Proptest,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Random => write!(f, "random"),
            Mode::Pct { depth } => write!(f, "pct(d={depth})"),
            Mode::Proptest => write!(f, "proptest"),
        }
    }
}

/// A search's parameters.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// How many cases (schedules) to try at most.
    pub cases: u32,
    /// Seed of every random decision: the same seed gives the same search.
    pub seed: u64,
    /// How schedules are generated.
    pub mode: Mode,
    /// Longest schedule proptest generates, and PCT's step estimate.
    pub max_len: usize,
    /// Shrink a failing schedule.
    pub shrink: bool,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            cases: 256,
            seed: 0x5eed,
            mode: Mode::Random,
            max_len: 64,
            shrink: true,
        }
    }
}

/// A failing case, shrunk.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The (shrunk) failing case.
    pub report: CaseReport,
    /// Its schedule, without trailing zeros.
    pub schedule: Vec<u32>,
    /// The replay token for `cargo xtask replay`.
    pub token: String,
    /// How many cases ran before the first failure.
    pub found_after: u32,
}

/// The outcome of a search.
#[derive(Debug, Clone)]
pub struct SearchReport {
    /// The scenario's name.
    pub scenario: String,
    /// The mode used.
    pub mode: Mode,
    /// Cases run (including the shrinking runs).
    pub cases_run: u32,
    /// The failure found, if any.
    pub finding: Option<Finding>,
    /// Wall time of the whole search.
    pub elapsed: Duration,
}

impl SearchReport {
    /// Cases per second over the whole search.
    pub fn schedules_per_second(&self) -> f64 {
        f64::from(self.cases_run) / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The proptest strategy for schedules: up to `max_len` choices, each below `max_choice`.
pub fn schedule_strategy(max_choice: u32, max_len: usize) -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(0..max_choice.max(1), 0..=max_len)
}

fn trimmed(mut s: Vec<u32>) -> Vec<u32> {
    while s.last() == Some(&0) {
        s.pop();
    }
    s
}

fn same_kind(a: &Verdict, b: &Verdict) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// How long [`shrink`] may take; it returns the smallest failing schedule found by then.
pub const SHRINK_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// Shrink a failing schedule: the shortest, lowest one found that fails like `failing`,
/// within [`SHRINK_BUDGET`].
pub fn shrink<S: Scenario>(
    runner: &mut Runner<'_, S>,
    failing: CaseReport,
    runs: &mut u32,
) -> Result<CaseReport, HarnessError> {
    let kind = failing.verdict.clone();
    let started = Instant::now();
    let mut best = failing;
    let mut current = trimmed(best.schedule());
    let mut attempt = |candidate: &[u32], runner: &mut Runner<'_, S>| {
        if started.elapsed() >= SHRINK_BUDGET {
            // Out of time: keep the best so far (slow findings, e.g. stuck actors, take
            // seconds per replay).
            return Ok(None);
        }
        *runs += 1;
        runner
            .run_case(&mut Replay::new(candidate.to_vec()))
            .map(|r| same_kind(&r.verdict, &kind).then_some(r))
    };
    loop {
        let mut improved = false;
        let mut size = current.len().div_ceil(2).max(1);
        while size >= 1 && !current.is_empty() {
            let mut i = 0;
            while i < current.len() {
                let mut candidate = current.clone();
                candidate.drain(i..(i + size).min(current.len()));
                if let Some(r) = attempt(&candidate, runner)? {
                    current = trimmed(r.schedule());
                    best = r;
                    improved = true;
                } else {
                    i += size;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
        // Lower each choice: to 0 if that still fails, else by one.
        let mut i = 0;
        while i < current.len() {
            let c = current[i];
            let mut targets = Vec::new();
            if c > 0 {
                targets.push(0);
            }
            if c > 1 {
                targets.push(c - 1);
            }
            let mut lowered = false;
            for target in targets {
                let mut candidate = current.clone();
                candidate[i] = target;
                if let Some(r) = attempt(&candidate, runner)? {
                    current = trimmed(r.schedule());
                    best = r;
                    improved = true;
                    lowered = true;
                    break;
                }
            }
            if !lowered {
                i += 1;
            }
        }
        if !improved {
            return Ok(best);
        }
    }
}

/// Search `scenario` for a failing schedule.
pub fn search<S: Scenario>(
    scenario: &S,
    config: &SearchConfig,
) -> Result<SearchReport, HarnessError> {
    let start = Instant::now();
    let mut runner = Runner::new(scenario)?;
    let mut runs = 0u32;
    let mut first: Option<(CaseReport, u32)> = None;
    match config.mode {
        Mode::Random | Mode::Pct { .. } => {
            let mut seeds = SplitMix64::new(config.seed);
            for case in 0..config.cases {
                let seed = seeds.next_u64();
                let mut chooser: Box<dyn Chooser> =
                    match config.mode {
                        Mode::Pct { depth } => Box::new(
                            PctChooser::new(seed, scenario.actors(), depth, config.max_len)
                                .with_kills(seed, scenario.max_kills(), config.max_len),
                        ),
                        _ => Box::new(RandomChooser::new(seed)),
                    };
                runs += 1;
                let report = runner.run_case(chooser.as_mut())?;
                if report.verdict.is_failure() {
                    first = Some((report, case + 1));
                    break;
                }
            }
        }
        Mode::Proptest => {
            let runner_cell = RefCell::new(&mut runner);
            let count = Cell::new(0u32);
            let error = RefCell::new(None);
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&config.seed.to_le_bytes());
            let mut pt = TestRunner::new_with_rng(
                Config {
                    cases: config.cases,
                    failure_persistence: None,
                    max_shrink_iters: 10_000,
                    ..Config::default()
                },
                TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
            );
            let max_choice = (2 * scenario.actors()) as u32;
            let outcome = pt.run(&schedule_strategy(max_choice, config.max_len), |choices| {
                count.set(count.get() + 1);
                match runner_cell.borrow_mut().run_case(&mut Replay::new(choices)) {
                    Ok(r) if r.verdict.is_failure() => {
                        Err(TestCaseError::fail(r.verdict.to_string()))
                    }
                    Ok(_) => Ok(()),
                    Err(e) => {
                        *error.borrow_mut() = Some(e);
                        Ok(())
                    }
                }
            });
            runs += count.get();
            if let Some(e) = error.into_inner() {
                return Err(e);
            }
            if let Err(TestError::Fail(_, minimal)) = outcome {
                runs += 1;
                let report = runner.run_case(&mut Replay::new(minimal))?;
                first = Some((report, runs));
            }
        }
    }
    let finding = match first {
        None => None,
        Some((report, found_after)) => {
            let report = if config.shrink {
                shrink(&mut runner, report, &mut runs)?
            } else {
                report
            };
            let schedule = trimmed(report.schedule());
            Some(Finding {
                token: encode_token(&schedule),
                schedule,
                report,
                found_after,
            })
        }
    };
    Ok(SearchReport {
        scenario: scenario.name(),
        mode: config.mode,
        cases_run: runs,
        finding,
        elapsed: start.elapsed(),
    })
}
