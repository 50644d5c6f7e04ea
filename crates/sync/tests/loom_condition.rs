//! Loom model checks of [`Condition`], over a [`Lock`] and over an [`RLock`].
//!
//! The models run the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable: a waiter that nobody wakes makes loom report
//! a deadlock. A finite deadline expires when the model's clock thread calls
//! `expire_deadlines`, i.e. at any step. The state the condition guards is a
//! `loom::cell::UnsafeCell`, so loom also checks that the condition's lock orders every
//! access to it, including across `wait`'s release and re-acquisition. The conditions have
//! [`SLOTS`] waiter slots: enough for the models' waiters, few enough to keep them fast.
//!
//! Proved, for every interleaving loom explores:
//! * no lost notify: a waiter in the `while tokens == 0 { wait }` pattern terminates once a
//!   notifier adds a token and calls `notify(1)` (one waiter; two waiters and two
//!   token + `notify(1)` rounds, under preemption bound 2);
//! * `notify(1)` wakes at most one: with two waiters inside `wait`, `notify(1)` reports one
//!   woken, `waiting()` drops from 2 to 1, at most one `wait` returns before a second
//!   `notify(1)`, and that one releases the other (preemption bound 2);
//! * `wait(Some(_))` racing a notify and a clock returns true exactly when the notify
//!   picked it, and a timed waiter that gives up never takes the notification an untimed
//!   waiter needed (preemption bound 2: four threads);
//! * over an `RLock` held at depth 3, `wait` releases every level (a notifier acquires it at
//!   depth 1) and restores depth 3; `wait`/`notify` without the lock are `NotOwner`;
//! * the model has teeth: `notify_without_wake` marks the slot but leaves its waiter
//!   asleep, and loom reports the deadlock.
//!
//! Shared objects live in `std::sync::Arc`s, not loom's: loom runs one model thread at a
//! time, so a std `Arc` is enough, and when a model fails loom unwinds the other threads
//! outside the execution, where dropping a loom `Arc` panics again and aborts the whole
//! test binary instead of reporting the failing test.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_condition -- --nocapture`.

#![cfg(loom)]

mod common;

use common::{explore, explore_both, TIMEOUT};
use loom::cell::UnsafeCell;
use loom::thread;
use procshare_sync::broken::BrokenCondition;
use procshare_sync::loom::expire_deadlines;
use procshare_sync::{Condition, ConditionLock, Lock, RLock, SyncError};
use std::sync::Arc;

/// Waiter slots of the conditions under test.
const SLOTS: usize = 2;

/// A condition and a token count that only holders of its lock touch.
struct Shared<L: ConditionLock> {
    cond: Condition<L, SLOTS>,
    tokens: UnsafeCell<u32>,
}

// SAFETY: `tokens` is only accessed with `cond`'s lock held (by `with_tokens`' callers);
// whether the lock and `wait` really order those accesses is what loom checks.
unsafe impl<L: ConditionLock> Sync for Shared<L> {}

impl<L: ConditionLock> Shared<L> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            cond: Condition::new(),
            tokens: UnsafeCell::new(0),
        })
    }

    /// Run `f` on the token count. The caller holds the condition's lock.
    fn with_tokens<R>(&self, f: impl FnOnce(&mut u32) -> R) -> R {
        assert!(
            self.cond.lock().is_owned(),
            "tokens touched without the lock"
        );
        // SAFETY: the caller holds the condition's lock (asserted), so no other thread
        // accesses the count; loom checks the accesses are ordered.
        self.tokens.with_mut(|t| f(unsafe { &mut *t }))
    }

    /// Take the lock, add a token, `notify(1)`, release; returns what `notify` reported.
    fn give(&self, notify: impl FnOnce(&Condition<L, SLOTS>) -> Result<usize, SyncError>) -> usize {
        self.cond.acquire().unwrap();
        self.with_tokens(|t| *t += 1);
        let woken = notify(&self.cond).unwrap();
        assert!(woken <= 1, "notify(1) reported {woken} woken");
        self.cond.release().unwrap();
        woken
    }

    /// Take the lock, wait (untimed) until there is a token, take it, release.
    fn take(&self) {
        self.cond.acquire().unwrap();
        while self.with_tokens(|t| *t) == 0 {
            assert!(
                self.cond.wait(None).unwrap(),
                "an untimed wait returned false"
            );
        }
        self.with_tokens(|t| *t -= 1);
        self.cond.release().unwrap();
    }
}

/// One waiter takes a token that main gives with `notify(1)`.
#[test]
fn no_lost_notify_one_waiter() {
    explore("condition no_lost_notify_one_waiter", None, || {
        let s = Shared::<Lock>::new();
        let s2 = s.clone();
        let waiter = thread::spawn(move || s2.take());
        s.give(|c| c.notify(1));
        waiter.join().unwrap();
        s.cond.acquire().unwrap();
        assert_eq!(s.with_tokens(|t| *t), 0);
        assert_eq!(s.cond.waiting(), 0);
        s.cond.release().unwrap();
    });
}

/// Two waiters each take a token; main gives two, each with `notify(1)`. A notification
/// that went to a waiter which then found no token (the other one took it without
/// waiting) is followed by the second round, which must reach it. Preemption bound 2:
/// with 3 it explores ~300k executions (~25 s).
#[test]
fn no_lost_notify_two_waiters() {
    explore("condition no_lost_notify_two_waiters", Some(2), || {
        let s = Shared::<Lock>::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || s.take())
            })
            .collect();
        s.give(|c| c.notify(1));
        s.give(|c| c.notify(1));
        for w in waiters {
            w.join().unwrap();
        }
        s.cond.acquire().unwrap();
        assert_eq!(s.with_tokens(|t| *t), 0);
        s.cond.release().unwrap();
    });
}

/// Two waiters wait once each (no predicate: a return means "notified") and count their
/// returns under the lock. Main waits, on a test-side loom condvar, until both have
/// announced themselves while holding the condition's lock; once main holds that lock,
/// both are therefore inside `wait`. Then `notify(1)` must report exactly one woken and
/// leave one waiting, and when main next holds the lock at most one wait has returned;
/// a second `notify(1)` releases the other. Preemption bound 2: with 3 it explores ~170k
/// executions (~30 s).
#[test]
fn notify_one_wakes_at_most_one() {
    explore("condition notify_one_wakes_at_most_one", Some(2), || {
        let s = Shared::<Lock>::new();
        let arrived = Arc::new((loom::sync::Mutex::new(0u32), loom::sync::Condvar::new()));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (s, arrived) = (s.clone(), arrived.clone());
                thread::spawn(move || {
                    s.cond.acquire().unwrap();
                    *arrived.0.lock().unwrap() += 1;
                    arrived.1.notify_one();
                    assert!(s.cond.wait(None).unwrap(), "an untimed wait returned false");
                    s.with_tokens(|returned| *returned += 1);
                    s.cond.release().unwrap();
                })
            })
            .collect();
        let mut n = arrived.0.lock().unwrap();
        while *n < 2 {
            n = arrived.1.wait(n).unwrap();
        }
        drop(n);
        s.cond.acquire().unwrap();
        assert_eq!(s.cond.waiting(), 2);
        assert_eq!(s.cond.notify(1).unwrap(), 1);
        assert_eq!(s.cond.waiting(), 1);
        s.cond.release().unwrap();
        s.cond.acquire().unwrap();
        let returned = s.with_tokens(|returned| *returned);
        assert!(returned <= 1, "notify(1) let {returned} waits return");
        assert_eq!(s.cond.waiting(), 1);
        assert_eq!(s.cond.notify(1).unwrap(), 1);
        s.cond.release().unwrap();
        for w in waiters {
            w.join().unwrap();
        }
        s.cond.acquire().unwrap();
        assert_eq!(s.with_tokens(|returned| *returned), 2);
        assert_eq!(s.cond.waiting(), 0);
        s.cond.release().unwrap();
    });
}

/// A timed waiter races main's `notify(1)` and a clock: it returns true exactly when the
/// notify reported it woken; both outcomes occur; no slot stays taken.
#[test]
fn timed_wait_is_true_exactly_when_notified() {
    explore_both(
        "condition timed_wait_is_true_exactly_when_notified",
        None,
        || {
            let s = Shared::<Lock>::new();
            let clock = thread::spawn(expire_deadlines);
            let s2 = s.clone();
            let waiter = thread::spawn(move || {
                s2.cond.acquire().unwrap();
                let got = s2.cond.wait(Some(TIMEOUT)).unwrap();
                s2.cond.release().unwrap();
                got
            });
            s.cond.acquire().unwrap();
            let woken = s.cond.notify(1).unwrap();
            s.cond.release().unwrap();
            let got = waiter.join().unwrap();
            clock.join().unwrap();
            assert_eq!(got, woken == 1, "wait returned {got}, notify woke {woken}");
            s.cond.acquire().unwrap();
            assert_eq!(s.cond.waiting(), 0);
            s.cond.release().unwrap();
            got
        },
    );
}

/// A timed waiter, an untimed token taker, a clock, and main giving one token with
/// `notify(1)`. If the notify picked the timed waiter (possibly after its deadline
/// passed), the timed waiter must say so by returning true, and main gives the taker a
/// second notify; if it returned false, the taker must get by with the first. A timed
/// waiter that swallowed the notification and returned false strands the taker: deadlock.
/// Preemption bound 2: four threads.
#[test]
fn timed_waiter_does_not_swallow_a_notify() {
    explore_both(
        "condition timed_waiter_does_not_swallow_a_notify",
        Some(2),
        || {
            let s = Shared::<Lock>::new();
            let clock = thread::spawn(expire_deadlines);
            let s2 = s.clone();
            let timed = thread::spawn(move || {
                s2.cond.acquire().unwrap();
                let got = s2.cond.wait(Some(TIMEOUT)).unwrap();
                s2.cond.release().unwrap();
                got
            });
            let s2 = s.clone();
            let taker = thread::spawn(move || s2.take());
            let woken = s.give(|c| c.notify(1));
            let got = timed.join().unwrap();
            assert!(
                !got || woken == 1,
                "timed wait returned true, nobody notified it"
            );
            if got {
                s.cond.acquire().unwrap();
                s.cond.notify(1).unwrap();
                s.cond.release().unwrap();
            }
            taker.join().unwrap();
            clock.join().unwrap();
            got
        },
    );
}

/// Over an `RLock`: the waiter holds it at depth 3 when it waits; main can acquire it
/// meanwhile (at depth 1), adds a token and notifies; the waiter is back at depth 3
/// afterwards and must release three times; a fourth release is an error.
#[test]
fn rlock_depth_is_restored_after_wait() {
    explore("condition rlock_depth_is_restored_after_wait", None, || {
        let s = Shared::<RLock>::new();
        let s2 = s.clone();
        let waiter = thread::spawn(move || {
            let lock = s2.cond.lock();
            for _ in 0..3 {
                s2.cond.acquire().unwrap();
            }
            assert_eq!(lock.depth(), 3);
            while s2.with_tokens(|t| *t) == 0 {
                assert!(
                    s2.cond.wait(None).unwrap(),
                    "an untimed wait returned false"
                );
                assert!(lock.is_owned());
                assert_eq!(lock.depth(), 3, "wait did not restore the depth");
            }
            for _ in 0..3 {
                s2.cond.release().unwrap();
            }
            let err = s2.cond.release().unwrap_err();
            assert!(
                matches!(err, SyncError::NotLocked | SyncError::NotOwner),
                "{err:?}"
            );
        });
        s.cond.acquire().unwrap();
        assert_eq!(
            s.cond.lock().depth(),
            1,
            "wait left levels of the RLock held"
        );
        s.with_tokens(|t| *t += 1);
        s.cond.notify(1).unwrap();
        s.cond.release().unwrap();
        waiter.join().unwrap();
        assert!(!s.cond.lock().is_owned());
    });
}

/// `wait` and `notify` without the lock are refused with `NotOwner`, over both locks, and
/// take no slot.
#[test]
fn wait_and_notify_need_the_lock() {
    fn check<L: ConditionLock>() {
        let c = Condition::<L, SLOTS>::new();
        assert!(matches!(c.wait(Some(TIMEOUT)), Err(SyncError::NotOwner)));
        assert!(matches!(c.notify(1), Err(SyncError::NotOwner)));
        assert!(matches!(c.notify_all(), Err(SyncError::NotOwner)));
        c.acquire().unwrap();
        assert_eq!(c.waiting(), 0);
        assert_eq!(c.notify_all().unwrap(), 0);
        c.release().unwrap();
    }
    explore("condition wait_and_notify_need_the_lock", None, || {
        check::<Lock>();
        check::<RLock>();
    });
}

/// The deliberately broken notify: the slot is marked notified but its sleeping waiter is
/// not woken. loom must report the deadlock.
#[test]
#[should_panic(expected = "deadlock")]
fn broken_notify_without_wake_strands_a_waiter() {
    explore(
        "condition broken_notify_without_wake_strands_a_waiter",
        None,
        || {
            let s = Shared::<Lock>::new();
            let s2 = s.clone();
            let waiter = thread::spawn(move || s2.take());
            s.give(|c| c.notify_without_wake(1));
            waiter.join().unwrap();
        },
    );
}

/// `notify_all` with 2 and 3 waiters: one round that adds a token per waiter and calls
/// `notify_all` must release every waiter, whatever point each has reached (none sleeps
/// through it). Preemption bound 2 for two waiters, 1 for three (state space).
fn notify_all_releases(name: &str, waiters: u32, cap: usize) {
    explore(name, Some(cap), move || {
        let s = Shared::<Lock>::new();
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || s.take())
            })
            .collect();
        s.cond.acquire().unwrap();
        s.with_tokens(|t| *t += waiters);
        let woken = s.cond.notify_all().unwrap();
        assert!(
            woken <= waiters as usize,
            "notify_all woke {woken} of {waiters}"
        );
        s.cond.release().unwrap();
        for h in handles {
            h.join().unwrap();
        }
        s.cond.acquire().unwrap();
        assert_eq!(s.with_tokens(|t| *t), 0);
        s.cond.release().unwrap();
    });
}

#[test]
fn notify_all_releases_two_waiters() {
    notify_all_releases("condition notify_all_releases_two_waiters", 2, 2);
}

#[test]
fn notify_all_releases_three_waiters() {
    notify_all_releases("condition notify_all_releases_three_waiters", 3, 1);
}

/// The model has teeth: a `notify_all` that marks every waiter but wakes none strands
/// them, which loom reports as a deadlock.
#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn broken_notify_all_without_wake_strands_the_waiters() {
    explore("broken notify_all without wake", Some(2), || {
        let s = Shared::<Lock>::new();
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || s.take())
            })
            .collect();
        s.cond.acquire().unwrap();
        s.with_tokens(|t| *t += 2);
        s.cond.notify_without_wake(usize::MAX).unwrap();
        s.cond.release().unwrap();
        for h in handles {
            h.join().unwrap();
        }
    });
}
