//! Loom model checks of [`Semaphore`] and [`BoundedSemaphore`].
//!
//! The models run the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable: a sleeper that nobody wakes makes loom report
//! a deadlock, so every model also checks "no lost wake-up". A finite deadline expires
//! when the model's clock thread calls `expire_deadlines`, i.e. at any step.
//!
//! Proved, for every interleaving loom explores:
//! * a semaphore of count 1 or 2 shared by 3 threads never has more holders than its count
//!   (a holder counter checked on entry; with count 1 a `loom::cell::UnsafeCell` also checks
//!   that the holders' accesses are ordered), and its count is back where it started;
//! * a thread that blocks in `acquire` is woken by a `release` (one sleeper; two sleepers and
//!   two releases): the sleepers/count handshake loses no wake-up;
//! * `acquire_timeout` whose deadline may expire at any step returns true (and holds a unit)
//!   or false (and took none), also next to an untimed waiter (preemption bound 2: four
//!   threads);
//! * `BoundedSemaphore` refuses, with `ReleasedTooManyTimes`, exactly the release that would
//!   raise it above its bound;
//! * the model has teeth: without the two `SeqCst` fences of the Dekker handshake
//!   (`acquire_unfenced`/`release_unfenced`) loom finds the store-buffer outcome in which the
//!   sleeper misses the count and the releaser misses the sleeper, and reports the deadlock.
//!
//! Shared objects live in `std::sync::Arc`s, not loom's: loom runs one model thread at a
//! time, so a std `Arc` is enough, and when a model fails loom unwinds the other threads
//! outside the execution, where dropping a loom `Arc` panics again and aborts the whole
//! test binary instead of reporting the failing test.
//!
//! Not proved: that a timed waiter which gives up never takes an untimed waiter's wake-up
//! with it. The facade's `expire_deadlines` wakes *every* sleeper, untimed ones included,
//! and an untimed waiter woken that way re-reads the count and takes the unit; so a mutant
//! that checks the deadline before retrying `try_acquire` (and thereby swallows the
//! wake-up) still passes `timed_out_waiter_does_not_swallow_a_wake_up`. The real protocol
//! retries `try_acquire` before it looks at the deadline, which is what makes it safe.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_semaphore -- --nocapture`.

#![cfg(loom)]

mod common;

use common::{explore, explore_both, TIMEOUT};
use loom::cell::UnsafeCell;
use loom::thread;
use procshare_sync::broken::BrokenSemaphore;
use procshare_sync::loom::expire_deadlines;
use procshare_sync::{BoundedSemaphore, Semaphore, SyncError};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

/// A semaphore, a count of its current holders and a cell that holders write.
struct Guarded {
    sem: Semaphore,
    count: u32,
    /// Threads between a successful acquire and their release (test bookkeeping, outside
    /// the model: loom runs one thread at a time, so this is the true number).
    inside: AtomicU32,
    /// Written by every holder when `count == 1`: loom checks the writes are ordered.
    cell: UnsafeCell<u32>,
}

// SAFETY: `cell` is written only by a holder of a semaphore of count 1; whether that
// excludes is what the models check (loom's `UnsafeCell` panics on unordered accesses).
unsafe impl Sync for Guarded {}

impl Guarded {
    fn new(count: u32) -> Arc<Self> {
        Arc::new(Guarded {
            sem: Semaphore::new(count),
            count,
            inside: AtomicU32::new(0),
            cell: UnsafeCell::new(0),
        })
    }

    /// The caller just acquired a unit: check and do the holder's work, then release.
    fn hold_and_release(&self) {
        let holders = self.inside.fetch_add(1, Relaxed) + 1;
        assert!(
            holders <= self.count,
            "{holders} holders of a semaphore of count {}",
            self.count
        );
        if self.count == 1 {
            // SAFETY: with count 1 the caller is the only holder (checked just above, and by
            // loom for the ordering of the accesses).
            self.cell.with_mut(|c| unsafe { *c += 1 });
        }
        self.inside.fetch_sub(1, Relaxed);
        self.sem.release().unwrap();
    }
}

/// Main and two spawned threads each acquire, hold and release a semaphore of `count`.
fn never_more_holders(name: &str, count: u32) {
    explore(name, None, move || {
        let g = Guarded::new(count);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || {
                    g.sem.acquire();
                    g.hold_and_release();
                })
            })
            .collect();
        g.sem.acquire();
        g.hold_and_release();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(g.sem.value(), count);
    });
}

#[test]
fn count_one_admits_one_of_three() {
    never_more_holders("semaphore count_one_admits_one_of_three", 1);
}

#[test]
fn count_two_admits_two_of_three() {
    never_more_holders("semaphore count_two_admits_two_of_three", 2);
}

/// An empty semaphore: a spawned thread acquires (and may sleep) while main releases.
#[test]
fn blocked_acquire_is_woken_by_release() {
    explore(
        "semaphore blocked_acquire_is_woken_by_release",
        None,
        || {
            let sem = Arc::new(Semaphore::new(0));
            let s = sem.clone();
            let waiter = thread::spawn(move || s.acquire());
            sem.release().unwrap();
            waiter.join().unwrap();
            assert_eq!(sem.value(), 0);
        },
    );
}

/// Two sleepers and two releases: each release wakes one sleeper and neither is lost, even
/// when both releases happen before either sleeper runs again.
#[test]
fn two_blocked_acquires_are_woken_by_two_releases() {
    explore(
        "semaphore two_blocked_acquires_are_woken_by_two_releases",
        None,
        || {
            let sem = Arc::new(Semaphore::new(0));
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let s = sem.clone();
                    thread::spawn(move || s.acquire())
                })
                .collect();
            sem.release().unwrap();
            sem.release().unwrap();
            for w in waiters {
                w.join().unwrap();
            }
            assert_eq!(sem.value(), 0);
        },
    );
}

/// `acquire_timeout` races a release while the clock may expire the deadline at any step:
/// true means it holds the unit (the count is 0 afterwards), false that it took nothing.
#[test]
fn acquire_timeout_expires_at_any_step() {
    explore_both(
        "semaphore acquire_timeout_expires_at_any_step",
        None,
        || {
            let sem = Arc::new(Semaphore::new(0));
            let clock = thread::spawn(expire_deadlines);
            let s = sem.clone();
            let releaser = thread::spawn(move || s.release().unwrap());
            let acquired = sem.acquire_timeout(TIMEOUT);
            releaser.join().unwrap();
            clock.join().unwrap();
            assert_eq!(sem.value(), u32::from(!acquired));
            if acquired {
                sem.release().unwrap();
            }
            assert_eq!(sem.value(), 1);
            acquired
        },
    );
}

/// A timed and an untimed waiter on an empty semaphore, one release, a clock: if the timed
/// waiter gives up, the untimed waiter still gets the unit; if the timed waiter took the
/// unit, a second release serves the untimed one. Preemption bound 2: four threads.
/// Blind spot: the clock's `expire_deadlines` also wakes the untimed waiter (see the file
/// header), so a wake-up swallowed by the timed waiter goes unnoticed here.
#[test]
fn timed_out_waiter_does_not_swallow_a_wake_up() {
    explore_both(
        "semaphore timed_out_waiter_does_not_swallow_a_wake_up",
        Some(2),
        || {
            let sem = Arc::new(Semaphore::new(0));
            let clock = thread::spawn(expire_deadlines);
            let s = sem.clone();
            let timed = thread::spawn(move || s.acquire_timeout(TIMEOUT));
            let s = sem.clone();
            let untimed = thread::spawn(move || s.acquire());
            sem.release().unwrap();
            let acquired = timed.join().unwrap();
            if acquired {
                sem.release().unwrap();
            }
            untimed.join().unwrap();
            clock.join().unwrap();
            assert_eq!(sem.value(), 0);
            acquired
        },
    );
}

/// A `BoundedSemaphore(1)`: main acquires and releases while a spawned thread releases
/// once more. Exactly one of the two releases fits under the bound; the other is refused
/// with `ReleasedTooManyTimes`, and the count never passes the bound.
///
/// The extra release runs in the spawned thread on purpose: loom 0.7's DPOR records only
/// the last access to an atomic, so a refused release (a lone load) made by main *before*
/// the other thread's load and CAS is never reordered after them; loom would then explore
/// only the "refused" outcome. `explore_both` checks that both outcomes are explored.
#[test]
fn bounded_refuses_release_above_bound() {
    explore_both(
        "semaphore bounded_refuses_release_above_bound",
        None,
        || {
            let sem = Arc::new(BoundedSemaphore::new(1));
            let s = sem.clone();
            let extra = thread::spawn(move || s.release());
            sem.acquire();
            let mine = sem.release();
            let theirs = extra.join().unwrap();
            assert_eq!(sem.value(), 1);
            for r in [&mine, &theirs] {
                if let Err(e) = r {
                    assert!(
                        matches!(e, SyncError::ReleasedTooManyTimes { bound: 1 }),
                        "unexpected error {e:?}"
                    );
                }
            }
            assert!(
                mine.is_ok() != theirs.is_ok(),
                "releases: main {mine:?}, extra {theirs:?}"
            );
            // The extra release fits only while main holds its unit.
            theirs.is_ok()
        },
    );
}

/// The deliberately broken handshake: without the fences, the sleeper's load of the count
/// and the releaser's load of `sleepers` may both read the old values (store buffering),
/// so the sleeper sleeps through the only release. loom must report the deadlock.
#[test]
#[should_panic(expected = "deadlock")]
fn broken_unfenced_handshake_loses_a_wake_up() {
    explore(
        "semaphore broken_unfenced_handshake_loses_a_wake_up",
        None,
        || {
            let sem = Arc::new(Semaphore::new(0));
            let s = sem.clone();
            let waiter = thread::spawn(move || s.acquire_unfenced());
            sem.release_unfenced();
            waiter.join().unwrap();
        },
    );
}
