//! Loom model checks of [`AdaptiveWait`], the spin-then-announced-sleep wait that Event,
//! Condition, Semaphore and the queue share.
//!
//! The models run the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable: a sleeper that nobody wakes makes loom report
//! a deadlock, so every model also checks "no lost wake-up". The spin is one round with a
//! yield under loom, so both "the change arrived while spinning" and "it arrived after the
//! announcement" are explored. A finite deadline expires when the model's clock thread
//! calls `expire_deadlines`, i.e. at any step.
//!
//! Proved, for every interleaving loom explores:
//! * a waiter whose predicate a waker makes true, then `notify_one`s, always returns true
//!   (2 threads), and `sleepers` is back to 0 afterwards;
//! * `notify_all` releases two and three sleepers (3 and 4 threads);
//! * two waiters that each consume a token, and a waker that gives two tokens each with a
//!   `notify_one`: both finish (a `notify_one` that hits a waiter in transit, or one whose
//!   token another waiter took, loses nothing);
//! * a timed wait racing the waker and a clock returns true only once the waker published
//!   and false only once the clock started; both outcomes occur; a timed waiter that gives
//!   up never strands an untimed one beside it;
//! * a liveness-bounded sleep ([`Deadline::or_liveness_check_of`]) returns false once the
//!   owner it watches dies, and never otherwise (without a death it would be a deadlock);
//! * claimed changes (`notify_all_after_claim` + `wait_until_pending`): a waker that
//!   claims with a `SeqCst` CAS, publishes and notifies without a fence releases one and
//!   two waiters (2 and 3 threads), and a waiter that ignores the pending claim
//!   (`pending` always false) loses the wake-up, which loom must report;
//! * the checks have teeth (each a `should_panic` on loom's deadlock report): the
//!   handshake without its two fences (`wait_until_unfenced` + `notify_one_unfenced`),
//!   without the waker's fence only, without the waiter's fence only, and a waker that
//!   notifies *before* it publishes (the contract's order reversed, with the real API),
//!   each lose the wake-up.
//!
//! The spin round has no yield under loom on purpose: after a yield, loom stops returning
//! values the thread saw before it, which hid every unfenced variant (checked: with a
//! `spin_loop()` in the round, all three unfenced variants passed).
//!
//! Shared objects live in `std::sync::Arc`s, not loom's (see `common/mod.rs`).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_adaptive_wait -- --nocapture`.

#![cfg(loom)]

mod common;

use common::{explore, explore_both, TIMEOUT};
use loom::thread;
use procshare_sync::broken::BrokenAdaptiveWait;
use procshare_sync::loom::{current_owner, die, expire_deadlines, AtomicU32, Deadline, Ordering};
use procshare_sync::AdaptiveWait;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// A flag and the wait on it.
struct Flag {
    wait: AdaptiveWait,
    flag: AtomicU32,
}

impl Flag {
    fn new() -> Arc<Self> {
        Arc::new(Flag {
            wait: AdaptiveWait::new(),
            flag: AtomicU32::new(0),
        })
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire) != 0
    }

    /// Wait (untimed) until the flag is set.
    fn wait(&self) -> bool {
        self.wait.wait_until(|| self.is_set(), &Deadline::never())
    }

    /// Publish, then notify: the contract's order.
    fn set_and_notify_all(&self) {
        self.flag.store(1, Ordering::Release);
        self.wait.notify_all();
    }
}

#[test]
fn one_waiter_is_woken_by_notify_one() {
    explore("adaptive one_waiter_is_woken_by_notify_one", None, || {
        let f = Flag::new();
        let f2 = f.clone();
        let waiter = thread::spawn(move || f2.wait());
        f.flag.store(1, Ordering::Release);
        f.wait.notify_one();
        assert!(waiter.join().unwrap(), "an untimed wait returned false");
        assert_eq!(f.wait.sleepers(), 0);
    });
}

/// `waiters` spawned threads wait while main sets the flag and calls `notify_all`.
fn notify_all_releases(name: &str, cap: Option<usize>, waiters: usize) {
    explore(name, cap, move || {
        let f = Flag::new();
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                let f = f.clone();
                thread::spawn(move || f.wait())
            })
            .collect();
        f.set_and_notify_all();
        for h in handles {
            assert!(h.join().unwrap(), "an untimed wait returned false");
        }
        assert_eq!(f.wait.sleepers(), 0);
    });
}

#[test]
fn notify_all_releases_two_sleepers() {
    notify_all_releases("adaptive notify_all_releases_two_sleepers", None, 2);
}

/// Preemption bound 2: four threads.
#[test]
fn notify_all_releases_three_sleepers() {
    notify_all_releases("adaptive notify_all_releases_three_sleepers", Some(2), 3);
}

/// A token count (the predicate consumes: like a semaphore or a queue's `get`).
struct Tokens {
    wait: AdaptiveWait,
    tokens: AtomicU32,
}

impl Tokens {
    fn new() -> Arc<Self> {
        Arc::new(Tokens {
            wait: AdaptiveWait::new(),
            tokens: AtomicU32::new(0),
        })
    }

    /// Take a token if there is one.
    fn try_take(&self) -> bool {
        let mut t = self.tokens.load(Ordering::Acquire);
        while t > 0 {
            match self
                .tokens
                .compare_exchange(t, t - 1, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => t = now,
            }
        }
        false
    }

    fn give(&self) {
        self.tokens.fetch_add(1, Ordering::Release);
        self.wait.notify_one();
    }
}

/// Two waiters each take one token; main gives two, each followed by `notify_one`.
#[test]
fn two_consumers_two_notify_ones() {
    explore("adaptive two_consumers_two_notify_ones", None, || {
        let t = Tokens::new();
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let t = t.clone();
                thread::spawn(move || t.wait.wait_until(|| t.try_take(), &Deadline::never()))
            })
            .collect();
        t.give();
        t.give();
        for h in handles {
            assert!(h.join().unwrap());
        }
        assert_eq!(t.tokens.load(Ordering::Relaxed), 0);
        assert_eq!(t.wait.sleepers(), 0);
    });
}

/// A timed waiter races main's publish + notify and a clock: true only once main began to
/// publish, false only once the clock started; both occur.
#[test]
fn timed_wait_expires_at_any_step() {
    explore_both("adaptive timed_wait_expires_at_any_step", None, || {
        let f = Flag::new();
        let (published, clocked) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let c = clocked.clone();
        let clock = thread::spawn(move || {
            c.store(true, Relaxed);
            expire_deadlines();
        });
        let (f2, p, c) = (f.clone(), published.clone(), clocked.clone());
        let waiter = thread::spawn(move || {
            let got = f2
                .wait
                .wait_until(|| f2.is_set(), &Deadline::after(TIMEOUT));
            if got {
                assert!(p.load(Relaxed), "true before the flag was published");
            } else {
                assert!(c.load(Relaxed), "false before the clock started");
            }
            got
        });
        published.store(true, Relaxed);
        f.set_and_notify_all();
        let got = waiter.join().unwrap();
        clock.join().unwrap();
        assert_eq!(f.wait.sleepers(), 0);
        got
    });
}

/// A timed and an untimed consumer, one token with `notify_one`, a clock. If the timed one
/// got the token, main gives a second; either way the untimed one must finish. Preemption
/// bound 2: four threads.
#[test]
fn timed_out_waiter_does_not_strand_an_untimed_one() {
    explore_both(
        "adaptive timed_out_waiter_does_not_strand_an_untimed_one",
        Some(2),
        || {
            let t = Tokens::new();
            let clock = thread::spawn(expire_deadlines);
            let t2 = t.clone();
            let timed = thread::spawn(move || {
                t2.wait
                    .wait_until(|| t2.try_take(), &Deadline::after(TIMEOUT))
            });
            let t3 = t.clone();
            let untimed =
                thread::spawn(move || t3.wait.wait_until(|| t3.try_take(), &Deadline::never()));
            t.give();
            let got = timed.join().unwrap();
            if got {
                t.give();
            }
            assert!(untimed.join().unwrap());
            clock.join().unwrap();
            assert_eq!(t.tokens.load(Ordering::Relaxed), 0);
            got
        },
    );
}

/// A sleep bounded by the liveness slice of an owner that dies instead of notifying:
/// the wait returns false (the slice passed and found the death); without the death loom
/// would report a deadlock.
#[test]
fn liveness_bounded_sleep_returns_when_the_owner_dies() {
    explore(
        "adaptive liveness_bounded_sleep_returns_when_the_owner_dies",
        None,
        || {
            let w = Arc::new(AdaptiveWait::new());
            let owner = Arc::new(AtomicU32::new(0));
            let o = owner.clone();
            let dying = thread::spawn(move || {
                o.store(current_owner(), Ordering::Release);
                die();
            });
            let id = loop {
                let id = owner.load(Ordering::Acquire);
                if id != 0 {
                    break id;
                }
                thread::yield_now();
            };
            let d = Deadline::never().or_liveness_check_of(id);
            assert!(!w.wait_until(|| false, &d));
            assert_eq!(w.sleepers(), 0);
            dying.join().unwrap();
        },
    );
}

/// The broken handshake: neither the waiter (between announcing itself and re-checking)
/// nor the waker (between publishing and looking for sleepers) fences, so both loads may
/// read the old values and the waiter sleeps through the only wake-up.
#[test]
#[should_panic(expected = "deadlock")]
fn broken_unfenced_handshake_loses_the_wake_up() {
    explore(
        "adaptive broken_unfenced_handshake_loses_the_wake_up",
        None,
        || {
            let f = Flag::new();
            let f2 = f.clone();
            let waiter = thread::spawn(move || {
                f2.wait
                    .wait_until_unfenced(|| f2.is_set(), &Deadline::never())
            });
            f.flag.store(1, Ordering::Release);
            f.wait.notify_one_unfenced();
            waiter.join().unwrap();
        },
    );
}

/// A waker without its fence (the waiter is the real one): one missing side suffices.
#[test]
#[should_panic(expected = "deadlock")]
fn broken_unfenced_notify_loses_the_wake_up() {
    explore(
        "adaptive broken_unfenced_notify_loses_the_wake_up",
        None,
        || {
            let f = Flag::new();
            let f2 = f.clone();
            let waiter = thread::spawn(move || f2.wait());
            f.flag.store(1, Ordering::Release);
            f.wait.notify_one_unfenced();
            waiter.join().unwrap();
        },
    );
}

/// A waiter without its fence (the waker is the real one).
#[test]
#[should_panic(expected = "deadlock")]
fn broken_unfenced_wait_loses_the_wake_up() {
    explore(
        "adaptive broken_unfenced_wait_loses_the_wake_up",
        None,
        || {
            let f = Flag::new();
            let f2 = f.clone();
            let waiter = thread::spawn(move || {
                f2.wait
                    .wait_until_unfenced(|| f2.is_set(), &Deadline::never())
            });
            f.flag.store(1, Ordering::Release);
            f.wait.notify_one();
            waiter.join().unwrap();
        },
    );
}

/// The contract broken by the caller: notify first, publish afterwards. The waiter may
/// announce itself after the notify looked and re-check before the publish.
#[test]
#[should_panic(expected = "deadlock")]
fn broken_notify_before_publish_loses_the_wake_up() {
    explore(
        "adaptive broken_notify_before_publish_loses_the_wake_up",
        None,
        || {
            let f = Flag::new();
            let f2 = f.clone();
            let waiter = thread::spawn(move || f2.wait());
            f.wait.notify_one();
            f.flag.store(1, Ordering::Release);
            waiter.join().unwrap();
        },
    );
}

/// A change that is claimed first: a `SeqCst` CAS on `claim`, then the publish of `flag`,
/// then a fence-free notify (the queue's protocol, reduced to one position).
struct Claimed {
    wait: AdaptiveWait,
    claim: AtomicU32,
    flag: AtomicU32,
}

impl Claimed {
    fn new() -> Arc<Self> {
        Arc::new(Claimed {
            wait: AdaptiveWait::new(),
            claim: AtomicU32::new(0),
            flag: AtomicU32::new(0),
        })
    }

    fn claim_publish_notify(&self) {
        self.claim
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .unwrap();
        procshare_sync::loom::after_seq_cst_rmw();
        self.flag.store(1, Ordering::Release);
        self.wait.notify_all_after_claim();
    }

    /// Wait until the flag is set; with `see_claim` false the waiter ignores the claim
    /// (the broken control).
    fn wait(&self, see_claim: bool) -> bool {
        self.wait.wait_until_pending(
            || self.flag.load(Ordering::Acquire) != 0,
            || see_claim && self.claim.load(Ordering::Acquire) != 0,
            &Deadline::never(),
        )
    }
}

/// `waiters` spawned threads wait on a claimed change that main makes.
fn claimed_change_releases(name: &str, cap: Option<usize>, waiters: usize, see_claim: bool) {
    explore(name, cap, move || {
        let c = Claimed::new();
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                let c = c.clone();
                thread::spawn(move || c.wait(see_claim))
            })
            .collect();
        c.claim_publish_notify();
        for h in handles {
            assert!(h.join().unwrap(), "an untimed wait returned false");
        }
        assert_eq!(c.wait.sleepers(), 0);
    });
}

#[test]
fn a_claimed_change_releases_its_waiter_without_a_fence() {
    claimed_change_releases(
        "adaptive a_claimed_change_releases_its_waiter",
        None,
        1,
        true,
    );
}

/// Preemption bound 2: three threads.
#[test]
fn a_claimed_change_releases_two_waiters_without_a_fence() {
    claimed_change_releases(
        "adaptive a_claimed_change_releases_two_waiters",
        Some(2),
        2,
        true,
    );
}

#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn a_waiter_that_ignores_the_claim_loses_the_fence_free_wake_up() {
    claimed_change_releases("broken a_waiter_that_ignores_the_claim", None, 1, false);
}
