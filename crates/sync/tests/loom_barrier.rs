//! Loom model checks of [`Barrier`] (CPython's `threading.Barrier` algorithm on a
//! monitor: a futex mutex plus a sequence word).
//!
//! The models run the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable: a party that nobody wakes makes loom report
//! a deadlock. A finite deadline expires when the model's clock thread calls
//! `expire_deadlines`, i.e. at any step.
//!
//! Proved, for every interleaving loom explores:
//! * nobody leaves early: with 2 and 3 parties (3 under preemption bound 2), every party
//!   marks its arrival before `wait` and, when `wait` returns, finds every party of its
//!   cycle marked; the indices of a cycle are exactly `0..parties`;
//! * two consecutive cycles (every party waits twice; 2 parties, and 3 under preemption
//!   bound 2) work the same way: a fast party entering the second cycle while a slow one
//!   still leaves the first neither completes nor corrupts either cycle;
//! * `abort` makes every waiting and later party fail with `BrokenBarrier` (2 and 3
//!   parties), and after `reset` the barrier completes a cycle again;
//! * `reset` racing a waiting party: either the party was waiting and fails, and the
//!   barrier is usable again once it has left, or it arrives after the reset and completes
//!   a cycle with the resetter;
//! * the model has teeth: `wait_early`, which treats the next-to-last arrival as the last,
//!   lets a party leave before the others arrived, and the first model catches it.
//!
//! Shared objects live in `std::sync::Arc`s, not loom's: loom runs one model thread at a
//! time, so a std `Arc` is enough, and when a model fails loom unwinds the other threads
//! outside the execution, where dropping a loom `Arc` panics again and aborts the whole
//! test binary instead of reporting the failing test.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_barrier -- --nocapture`.

#![cfg(loom)]

mod common;

use common::{explore, explore_both, TIMEOUT};
use loom::thread;
use procshare_sync::broken::BrokenBarrier;
use procshare_sync::loom::expire_deadlines;
use procshare_sync::{Barrier, SyncError};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

/// Most cycles a model runs.
const CYCLES: usize = 2;

/// A barrier plus test-side bookkeeping (std atomics: outside the model; loom runs one
/// thread at a time, so they show the true order of events).
struct Parties {
    barrier: Barrier,
    parties: usize,
    /// `arrived[cycle][party]`: set by the party just before it waits in that cycle.
    arrived: [[AtomicBool; 3]; CYCLES],
    /// Per cycle, the set of indices `wait` returned (bit `i` for index `i`).
    indices: [AtomicU32; CYCLES],
}

impl Parties {
    fn new(parties: usize) -> Self {
        Parties {
            barrier: Barrier::new(parties as u32).unwrap(),
            parties,
            arrived: Default::default(),
            indices: Default::default(),
        }
    }

    /// Party `me` passes the barrier in `cycle` with `wait` (or the broken `wait_early`)
    /// and checks that everybody of the cycle had arrived and its index is unique.
    fn pass(&self, cycle: usize, me: usize, wait: impl FnOnce(&Barrier) -> Result<u32, SyncError>) {
        self.arrived[cycle][me].store(true, Relaxed);
        let index = wait(&self.barrier).unwrap();
        for (party, arrived) in self.arrived[cycle][..self.parties].iter().enumerate() {
            assert!(
                arrived.load(Relaxed),
                "party {me} left the barrier before party {party} arrived (cycle {cycle})"
            );
        }
        assert!(
            (index as usize) < self.parties,
            "index {index} out of range"
        );
        let seen = self.indices[cycle].fetch_or(1 << index, Relaxed);
        assert_eq!(
            seen & (1 << index),
            0,
            "index {index} given twice in cycle {cycle}"
        );
    }

    /// After every party passed `cycles` cycles: each cycle handed out `0..parties`.
    fn check_indices(&self, cycles: usize) {
        for cycle in &self.indices[..cycles] {
            assert_eq!(cycle.load(Relaxed), (1 << self.parties) - 1);
        }
    }
}

/// `parties` threads (main and `parties - 1` spawned) each pass `cycles` cycles.
fn cycles(name: &str, cap: Option<usize>, parties: usize, cycles: usize) {
    explore(name, cap, move || {
        let p = Arc::new(Parties::new(parties));
        let handles: Vec<_> = (1..parties)
            .map(|me| {
                let p = p.clone();
                thread::spawn(move || {
                    for cycle in 0..cycles {
                        p.pass(cycle, me, Barrier::wait);
                    }
                })
            })
            .collect();
        for cycle in 0..cycles {
            p.pass(cycle, 0, Barrier::wait);
        }
        for h in handles {
            h.join().unwrap();
        }
        p.check_indices(cycles);
        assert_eq!(p.barrier.n_waiting(), 0);
        assert!(!p.barrier.is_broken());
    });
}

#[test]
fn nobody_leaves_early_two_parties() {
    cycles("barrier nobody_leaves_early_two_parties", None, 2, 1);
}

/// Preemption bound 2: with 3 it explores ~90k executions (~12 s).
#[test]
fn nobody_leaves_early_three_parties() {
    cycles("barrier nobody_leaves_early_three_parties", Some(2), 3, 1);
}

#[test]
fn two_cycles_two_parties() {
    cycles("barrier two_cycles_two_parties", None, 2, 2);
}

/// Preemption bound 2.
#[test]
fn two_cycles_three_parties() {
    cycles("barrier two_cycles_three_parties", Some(2), 3, 2);
}

/// `parties - 1` spawned parties wait while main aborts: every one of them fails with
/// `BrokenBarrier`, and so does a later wait. Then `reset` repairs the barrier.
fn abort_breaks_everyone(parties: usize) {
    let p = Arc::new(Parties::new(parties));
    let handles: Vec<_> = (1..parties)
        .map(|_| {
            let p = p.clone();
            thread::spawn(move || p.barrier.wait())
        })
        .collect();
    p.barrier.abort().unwrap();
    for h in handles {
        let r = h.join().unwrap();
        assert!(matches!(r, Err(SyncError::BrokenBarrier)), "{r:?}");
    }
    assert!(p.barrier.is_broken());
    let r = p.barrier.wait();
    assert!(matches!(r, Err(SyncError::BrokenBarrier)), "{r:?}");
    p.barrier.reset().unwrap();
    assert!(!p.barrier.is_broken());
    assert_eq!(p.barrier.n_waiting(), 0);
}

/// 2 parties: after the abort and the reset, a fresh cycle completes.
#[test]
fn abort_breaks_and_reset_repairs_two_parties() {
    explore(
        "barrier abort_breaks_and_reset_repairs_two_parties",
        None,
        || {
            abort_breaks_everyone(2);
        },
    );
    explore(
        "barrier cycle_after_abort_and_reset_two_parties",
        None,
        || {
            let p = Arc::new(Parties::new(2));
            p.barrier.abort().unwrap();
            p.barrier.reset().unwrap();
            let p2 = p.clone();
            let other = thread::spawn(move || p2.pass(0, 1, Barrier::wait));
            p.pass(0, 0, Barrier::wait);
            other.join().unwrap();
            p.check_indices(1);
        },
    );
}

#[test]
fn abort_breaks_three_parties() {
    explore("barrier abort_breaks_three_parties", None, || {
        abort_breaks_everyone(3);
    });
}

/// 2 parties: a spawned party waits while main resets and then waits with a timeout, and
/// a clock runs. Either both waits succeed with indices {0, 1} (the party arrived after
/// the reset, or before it but the cycle completed first), or both fail (the reset caught
/// the party waiting, or main's deadline passed first); the barrier is usable afterwards.
#[test]
fn reset_races_a_waiting_party() {
    explore_both("barrier reset_races_a_waiting_party", None, || {
        let b = Arc::new(Barrier::new(2).unwrap());
        let clock = thread::spawn(expire_deadlines);
        let b2 = b.clone();
        let party = thread::spawn(move || b2.wait());
        b.reset().unwrap();
        let mine = b.wait_timeout(TIMEOUT);
        let theirs = party.join().unwrap();
        clock.join().unwrap();
        match (&mine, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a + b, 1, "indices {a} and {b}"),
            (Err(SyncError::BrokenBarrier), Err(SyncError::BrokenBarrier)) => {}
            _ => panic!("main {mine:?}, party {theirs:?}"),
        }
        b.reset().unwrap();
        assert!(!b.is_broken());
        assert_eq!(b.n_waiting(), 0);
        mine.is_ok()
    });
}

/// The deliberately broken barrier: `wait_early` completes the cycle one arrival early, so
/// with 2 parties the first to arrive leaves alone. The first model must catch it.
#[test]
#[should_panic(expected = "left the barrier before")]
fn broken_wait_early_leaves_before_all_arrived() {
    explore(
        "barrier broken_wait_early_leaves_before_all_arrived",
        None,
        || {
            let p = Arc::new(Parties::new(2));
            let p2 = p.clone();
            let other = thread::spawn(move || p2.pass(0, 1, Barrier::wait_early));
            p.pass(0, 0, Barrier::wait_early);
            other.join().unwrap();
        },
    );
}

/// A barrier timeout may expire at any step: party A waits with a timeout (a clock thread
/// expires it at a point loom chooses), party B without. Either the cycle completes for
/// both, or A's timeout breaks it and *both* are told `BrokenBarrier` (B too, whether it
/// was already waiting or arrives after); nobody hangs, and both outcomes happen.
#[test]
fn wait_timeout_expires_at_any_step() {
    explore_both("barrier wait_timeout_expires_at_any_step", None, || {
        let barrier = Arc::new(Barrier::new(2).unwrap());
        let clock = thread::spawn(expire_deadlines);
        let b = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait())
        };
        let a = barrier.wait_timeout(TIMEOUT);
        let b = b.join().unwrap();
        clock.join().unwrap();
        match (&a, &b) {
            (Ok(_), Ok(_)) => false,
            (Err(SyncError::BrokenBarrier), Err(SyncError::BrokenBarrier)) => true,
            _ => panic!("inconsistent outcomes: timed party {a:?}, untimed party {b:?}"),
        }
    });
}
