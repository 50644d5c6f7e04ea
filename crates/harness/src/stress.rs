//! Stress mode: free-running repetitions of a small litmus scenario (no scheduler: the
//! hardware and the kernel interleave), and an outcome histogram in the style of
//! OpenJDK's jcstress. Each outcome is declared *acceptable*, *interesting* (allowed but
//! worth seeing: the lost updates of an unlocked counter) or *forbidden* (a bug); a
//! forbidden outcome fails the run.
//!
//! The actor processes are forked once. Every repetition the controller resets the state
//! and bumps a start word; the actors spin on it (so they start as close together as
//! possible), run their part, and report done.

use crate::HarnessError;
use procshare_shm::{Process, Region, Value};
use procshare_sync::os::{raw_futex_wait, raw_futex_wake};
use procshare_sync::{GuardError, RawLock};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How an outcome is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Expected.
    Acceptable,
    /// Allowed, and the point of the demonstration.
    Interesting,
    /// A bug: fails the run.
    Forbidden,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Acceptable => "ACCEPTABLE",
            Class::Interesting => "INTERESTING",
            Class::Forbidden => "FORBIDDEN",
        })
    }
}

/// A litmus scenario for stress mode.
pub trait Litmus: Sync {
    /// Shared state (in shared memory).
    type State: Sync;
    /// Name for reports.
    fn name(&self) -> String;
    /// Number of actors.
    fn actors(&self) -> usize;
    /// Create the state.
    fn setup(&self) -> Self::State;
    /// Reset it before a repetition.
    fn reset(&self, state: &Self::State);
    /// Actor `actor`'s part.
    fn run(&self, state: &Self::State, actor: usize);
    /// The outcome of a repetition, read from the final state.
    fn outcome(&self, state: &Self::State) -> String;
    /// The class of an outcome, and what it means.
    fn classify(&self, outcome: &str) -> (Class, String);
}

/// Outcome counts of a stress run.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// The litmus scenario.
    pub name: String,
    /// Repetitions run.
    pub runs: u64,
    /// `(outcome, count, class, meaning)`, most frequent first.
    pub rows: Vec<(String, u64, Class, String)>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Histogram {
    /// Number of repetitions with a forbidden outcome.
    pub fn forbidden(&self) -> u64 {
        self.rows
            .iter()
            .filter(|r| r.2 == Class::Forbidden)
            .map(|r| r.1)
            .sum()
    }

    /// Count of repetitions whose outcome has class `class`.
    pub fn count(&self, class: Class) -> u64 {
        self.rows.iter().filter(|r| r.2 == class).map(|r| r.1).sum()
    }
}

impl fmt::Display for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} runs in {:.2?}",
            self.name, self.runs, self.elapsed
        )?;
        let mut table = procshare_table::Table::new(["outcome", "count", "class", "meaning"])
            .align(0, procshare_table::Align::Right)
            .align(1, procshare_table::Align::Right);
        for (outcome, count, class, meaning) in &self.rows {
            table.row([
                outcome.clone(),
                count.to_string(),
                class.to_string(),
                meaning.clone(),
            ]);
        }
        f.write_str(&table.render_plain())
    }
}

#[repr(C)]
struct StressControl {
    start: AtomicU32,
    done: AtomicU32,
}

const QUIT: u32 = u32::MAX;

/// Run `litmus` `runs` times; `progress(done, total)` is called every 1% or so.
pub fn stress<T: Litmus>(
    litmus: &T,
    runs: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<Histogram, HarnessError> {
    let began = Instant::now();
    let region = Region::new(std::mem::size_of::<StressControl>())?;
    // SAFETY: the fresh mapping is zero-filled (a valid StressControl of atomics), large
    // enough and page-aligned; it outlives the actors' use (they are joined below).
    let ctl: &StressControl = unsafe { &*region.base().cast::<StressControl>() };
    let state = litmus.setup();
    let n = litmus.actors();
    let mut actors = Vec::with_capacity(n);
    for k in 0..n {
        let state = &state;
        actors.push(Process::spawn(move || {
            let mut seen = 0u32;
            loop {
                let mut spins = 0u32;
                let gen = loop {
                    let g = ctl.start.load(Ordering::Acquire);
                    if g != seen {
                        break g;
                    }
                    if spins < 100_000 {
                        spins += 1;
                        std::hint::spin_loop();
                    } else {
                        raw_futex_wait(&ctl.start, seen, None);
                    }
                };
                if gen == QUIT {
                    return;
                }
                seen = gen;
                litmus.run(state, k);
                ctl.done.fetch_add(1, Ordering::AcqRel);
                raw_futex_wake(&ctl.done, 1);
            }
        })?);
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let step = (runs / 100).max(1);
    for run in 1..=runs {
        litmus.reset(&state);
        ctl.done.store(0, Ordering::Relaxed);
        ctl.start.store(run as u32 & !(1 << 31), Ordering::Release);
        raw_futex_wake(&ctl.start, u32::MAX);
        loop {
            let d = ctl.done.load(Ordering::Acquire);
            if d as usize == n {
                break;
            }
            raw_futex_wait(&ctl.done, d, Some(Duration::from_millis(10)));
        }
        *counts.entry(litmus.outcome(&state)).or_default() += 1;
        if run % step == 0 || run == runs {
            progress(run, runs);
        }
    }
    ctl.start.store(QUIT, Ordering::Release);
    raw_futex_wake(&ctl.start, u32::MAX);
    for mut a in actors {
        a.join()?;
    }
    let mut rows: Vec<(String, u64, Class, String)> = counts
        .into_iter()
        .map(|(o, c)| {
            let (class, meaning) = litmus.classify(&o);
            (o, c, class, meaning)
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Histogram {
        name: litmus.name(),
        runs,
        rows,
        elapsed: began.elapsed(),
    })
}

/// The counter litmus test: each of `actors` actors increments a `Value<u64, L>`
/// `increments` times, with one critical section per increment (`*v.lock() += 1`), or as
/// `store(load() + 1)` when `load_then_store`.
#[derive(Debug)]
pub struct CounterLitmus<L: RawLock> {
    actors: usize,
    increments: u64,
    load_then_store: bool,
    _lock: std::marker::PhantomData<fn() -> L>,
}

impl<L: RawLock> CounterLitmus<L> {
    /// A counter litmus test.
    pub fn new(actors: usize, increments: u64, load_then_store: bool) -> Self {
        CounterLitmus {
            actors,
            increments,
            load_then_store,
            _lock: std::marker::PhantomData,
        }
    }

    fn total(&self) -> u64 {
        self.actors as u64 * self.increments
    }
}

impl<L: RawLock> Litmus for CounterLitmus<L> {
    type State = Value<u64, L>;

    fn name(&self) -> String {
        let how = if self.load_then_store {
            "lost-update"
        } else {
            "counter"
        };
        format!("{how}/{} ({}x{})", L::NAME, self.actors, self.increments)
    }

    fn actors(&self) -> usize {
        self.actors
    }

    fn setup(&self) -> Self::State {
        Value::new(0).expect("shared memory")
    }

    fn reset(&self, state: &Self::State) {
        if let Ok(mut g) = state.lock().map_err(GuardError::into_guard) {
            *g = 0;
        }
    }

    fn run(&self, state: &Self::State, _actor: usize) {
        for _ in 0..self.increments {
            if self.load_then_store {
                if let Ok(x) = state.load() {
                    let _ = state.store(x + 1);
                }
            } else if let Ok(mut g) = state.lock() {
                *g += 1;
            }
        }
    }

    fn outcome(&self, state: &Self::State) -> String {
        state
            .load()
            .map_or_else(|e| format!("error: {e}"), |v| v.to_string())
    }

    fn classify(&self, outcome: &str) -> (Class, String) {
        let total = self.total();
        match outcome.parse::<u64>() {
            Ok(v) if v == total => (Class::Acceptable, "every increment counted".into()),
            Ok(v) if v < total && (self.load_then_store || !L::EXCLUSIVE) => {
                (Class::Interesting, format!("{} lost update(s)", total - v))
            }
            Ok(v) if v < total => (
                Class::Forbidden,
                format!("{} update(s) lost under a lock", total - v),
            ),
            Ok(_) => (Class::Forbidden, "more increments than were made".into()),
            Err(_) => (Class::Forbidden, "the counter could not be read".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use procshare_sync::{FutexMutex, NoLock};

    #[test]
    fn locked_counter_shows_only_the_expected_outcome() {
        let h = stress(
            &CounterLitmus::<FutexMutex>::new(2, 200, false),
            300,
            |_, _| {},
        )
        .unwrap();
        assert_eq!(h.runs, 300);
        assert_eq!(h.forbidden(), 0, "{h}");
        assert_eq!(h.rows.len(), 1, "{h}");
        assert_eq!(h.rows[0].0, "400");
        assert_eq!(h.count(Class::Acceptable), 300);
    }

    #[test]
    fn unlocked_counter_outcomes_are_all_declared() {
        let litmus = CounterLitmus::<NoLock>::new(2, 200, false);
        let h = stress(&litmus, 300, |_, _| {}).unwrap();
        assert_eq!(h.rows.iter().map(|r| r.1).sum::<u64>(), 300);
        assert_eq!(h.forbidden(), 0, "{h}");
        // Every outcome is a count between 2 (the least two racing incrementers can
        // leave: each overwrites all but one of the other's updates) and the total.
        for (outcome, _, class, _) in &h.rows {
            let v: u64 = outcome.parse().unwrap();
            assert!((2..=400).contains(&v), "{h}");
            assert_eq!(*class == Class::Acceptable, v == 400);
        }
    }

    #[test]
    fn classification_of_the_counter() {
        let locked = CounterLitmus::<FutexMutex>::new(2, 10, false);
        assert_eq!(locked.classify("20").0, Class::Acceptable);
        assert_eq!(locked.classify("19").0, Class::Forbidden);
        assert_eq!(locked.classify("21").0, Class::Forbidden);
        let racy = CounterLitmus::<FutexMutex>::new(2, 10, true);
        assert_eq!(racy.classify("12").0, Class::Interesting);
    }
}
