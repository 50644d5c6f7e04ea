//! Loom model checks of [`Event`].
//!
//! The models run the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable: a waiter that nobody wakes makes loom report
//! a deadlock. A finite deadline expires when the model's clock thread calls
//! `expire_deadlines`, i.e. at any step.
//!
//! Proved, for every interleaving loom explores:
//! * one, two and three waiters blocked in `wait(None)` all return true once `set` ran
//!   (`set` sees an announced sleeper whenever somebody may sleep, and wakes everybody);
//! * `wait(Some(_))` racing `set` and a clock returns true only after `set` started and
//!   false only after the clock started, both outcomes occur, and a second, untimed waiter
//!   is still woken;
//! * `set` immediately followed by `clear` still releases a waiter that was asleep at the
//!   `set` (it returns true: the generation moved), as CPython documents;
//! * `clear` between two `set`s neither loses the second `set`'s wake-up nor lets a waiter
//!   return on a cleared flag it never saw set; `clear` of an unset event changes nothing;
//! * the model has teeth: `set_without_wake` leaves a sleeper asleep and loom reports the
//!   deadlock.
//!
//! Shared objects live in `std::sync::Arc`s, not loom's: loom runs one model thread at a
//! time, so a std `Arc` is enough, and when a model fails loom unwinds the other threads
//! outside the execution, where dropping a loom `Arc` panics again and aborts the whole
//! test binary instead of reporting the failing test.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_event -- --nocapture`.

#![cfg(loom)]

mod common;

use common::{explore, explore_both, TIMEOUT};
use loom::thread::{self, JoinHandle};
use procshare_sync::broken::BrokenEvent;
use procshare_sync::loom::{expire_deadlines, AtomicU32};
use procshare_sync::Event;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// `waiters` spawned threads wait without a timeout while main sets the event.
fn all_waiters_return(name: &str, cap: Option<usize>, waiters: usize) {
    explore(name, cap, move || {
        let ev = Arc::new(Event::new());
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                let ev = ev.clone();
                thread::spawn(move || ev.wait(None))
            })
            .collect();
        ev.set();
        for h in handles {
            assert!(h.join().unwrap(), "an untimed wait returned false");
        }
        assert!(ev.is_set());
    });
}

#[test]
fn one_waiter_returns_after_set() {
    all_waiters_return("event one_waiter_returns_after_set", None, 1);
}

#[test]
fn two_waiters_return_after_set() {
    all_waiters_return("event two_waiters_return_after_set", None, 2);
}

/// Preemption bound 2: four threads.
#[test]
fn three_waiters_return_after_set() {
    all_waiters_return("event three_waiters_return_after_set", Some(2), 3);
}

/// Test-side record of which racers have started (std atomics: outside the model).
#[derive(Default)]
struct Started {
    set: AtomicBool,
    clock: AtomicBool,
}

impl Started {
    /// A fresh record, and the model's clock thread, which marks itself started before it
    /// expires the deadlines.
    fn with_clock() -> (Arc<Self>, JoinHandle<()>) {
        let started = Arc::new(Started::default());
        let s = started.clone();
        let clock = thread::spawn(move || {
            s.clock.store(true, Relaxed);
            expire_deadlines();
        });
        (started, clock)
    }

    /// Check `got`, what a timed wait returned: true only once the setter had started,
    /// false only once the clock had. Returns `got`.
    fn check(&self, got: bool) -> bool {
        if got {
            assert!(self.set.load(Relaxed), "wait returned true before set");
        } else {
            assert!(self.clock.load(Relaxed), "wait returned false early");
        }
        got
    }
}

/// A timed waiter (main) races a setter and a clock: true means the setter had started,
/// false that the clock had.
#[test]
fn timed_wait_returns_the_flag() {
    explore_both("event timed_wait_returns_the_flag", None, || {
        let ev = Arc::new(Event::new());
        let (started, clock) = Started::with_clock();
        let (e, s) = (ev.clone(), started.clone());
        let setter = thread::spawn(move || {
            s.set.store(true, Relaxed);
            e.set();
        });
        let got = started.check(ev.wait(Some(TIMEOUT)));
        setter.join().unwrap();
        clock.join().unwrap();
        assert!(ev.is_set());
        got
    });
}

/// A timed and an untimed waiter, a setter (main) and a clock: whatever the timed waiter
/// returns, the untimed one is woken. Preemption bound 2: four threads. (The clock's
/// `expire_deadlines` wakes every sleeper, the untimed one included; the models without a
/// clock are the ones that catch a `set` which wakes too few.)
#[test]
fn timed_waiter_does_not_strand_an_untimed_one() {
    explore_both(
        "event timed_waiter_does_not_strand_an_untimed_one",
        Some(2),
        || {
            let ev = Arc::new(Event::new());
            let clock = thread::spawn(expire_deadlines);
            let e = ev.clone();
            let timed = thread::spawn(move || e.wait(Some(TIMEOUT)));
            let e = ev.clone();
            let untimed = thread::spawn(move || e.wait(None));
            ev.set();
            assert!(untimed.join().unwrap(), "an untimed wait returned false");
            let got = timed.join().unwrap();
            clock.join().unwrap();
            got
        },
    );
}

/// How many waiters have announced that they sleep: the `sleepers` count of the event's
/// `AdaptiveWait`, for a test-side peek.
fn sleepers(ev: &Event) -> u32 {
    // SAFETY: `Event` is `#[repr(C)]` { word: AtomicU32, wait: AdaptiveWait } and
    // `AdaptiveWait` is `#[repr(C)]` { epoch: AtomicU32, sleepers: AtomicU32 }: three
    // facade `AtomicU32`s (loom's under `--cfg loom`) of one layout, so the third one sits
    // at index 2; we only read through it.
    let sleepers = unsafe { &*(ev as *const Event).cast::<AtomicU32>().add(2) };
    sleepers.load(Relaxed)
}

/// A waiter is asleep (or one step from sleeping: it has announced itself) when main sets
/// the event and at once clears it: the waiter must still return true.
#[test]
fn set_then_clear_releases_a_sleeping_waiter() {
    explore(
        "event set_then_clear_releases_a_sleeping_waiter",
        None,
        || {
            let ev = Arc::new(Event::new());
            let e = ev.clone();
            let waiter = thread::spawn(move || e.wait(None));
            while sleepers(&ev) == 0 {
                thread::yield_now();
            }
            ev.set();
            ev.clear();
            assert!(waiter.join().unwrap(), "an untimed wait returned false");
            assert!(!ev.is_set());
        },
    );
}

/// An untimed waiter while main sets, clears and sets again: the waiter may be woken by
/// the first `set` and find the flag cleared, but then it sleeps again and the second
/// `set` must wake it.
#[test]
fn clear_between_sets_loses_no_wake_up() {
    explore("event clear_between_sets_loses_no_wake_up", None, || {
        let ev = Arc::new(Event::new());
        let e = ev.clone();
        let waiter = thread::spawn(move || e.wait(None));
        ev.set();
        ev.clear();
        ev.set();
        assert!(waiter.join().unwrap());
        assert!(ev.is_set());
    });
}

/// A timed waiter while main sets and clears the event, and a clock: true means it saw the
/// flag set (main had started setting), false that the clock had started; afterwards the
/// flag is clear, and `clear` of an unset event leaves it unset.
#[test]
fn clear_resets_the_flag() {
    explore_both("event clear_resets_the_flag", None, || {
        let ev = Arc::new(Event::new());
        let (started, clock) = Started::with_clock();
        let (e, s) = (ev.clone(), started.clone());
        let waiter = thread::spawn(move || s.check(e.wait(Some(TIMEOUT))));
        started.set.store(true, Relaxed);
        ev.set();
        ev.clear();
        assert!(!ev.is_set());
        let got = waiter.join().unwrap();
        clock.join().unwrap();
        assert!(!ev.is_set());
        ev.clear();
        assert!(!ev.is_set());
        got
    });
}

/// The deliberately broken `set`: it raises the flag but does not wake a waiter that
/// already sleeps. loom must report the deadlock.
#[test]
#[should_panic(expected = "deadlock")]
fn broken_set_without_wake_strands_a_waiter() {
    explore(
        "event broken_set_without_wake_strands_a_waiter",
        None,
        || {
            let ev = Arc::new(Event::new());
            let e = ev.clone();
            let waiter = thread::spawn(move || e.wait(None));
            ev.set_without_wake();
            waiter.join().unwrap();
        },
    );
}
