//! Loom model checks of [`FutexMutex`], the three-state futex mutex.
//!
//! Every model runs the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable: a sleeper that is never woken makes loom
//! report a deadlock, so every model also checks "no lost wake-up". The guarded counter is
//! a `loom::cell::UnsafeCell`, so loom reports any two critical sections that the lock
//! failed to order (mutual exclusion, and release/acquire ordering).
//!
//! Checked: mutual exclusion with 2 and 3 threads; waiters forced to sleep (one, and two,
//! which needs the woken waiter to keep `WAITERS` set) are woken; `try_lock` fails while
//! the lock is held and otherwise succeeds only exclusively; `try_lock_for` whose deadline
//! may expire at any step either acquires exclusively or returns `Ok(false)`, leaves the
//! lock usable, and does not swallow a wake-up meant for another sleeper. Owner death is
//! not modelled (loom threads never die).
//!
//! Under loom `spin_loop` is a yield, after which loom runs another thread for one step
//! and does not reliably backtrack to try the other threads there. So in a model where
//! two threads just race for the lock, the loser spins once, the holder's `unlock` is the
//! step that follows, and the loser never sleeps (`broken::LostWakeMutex` passes such a
//! model). The `forced_*` models therefore hold the lock until a waiter has set `WAITERS`;
//! and each race model asserts that both of its outcomes occur in some execution. A clock
//! thread is spawned first, so that it is the thread loom prefers after a waiter yields.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target-loom --tests` (add `-- --nocapture` to see how many
//! executions each model explored).
// After the docs: a false crate-level `cfg` drops the attributes that follow it, so the
// docs would vanish from a normal build and trip `missing_docs`.
#![cfg(loom)]

mod common;

use common::raw_lock;
use procshare_sync::FutexMutex;

/// The `WAITERS` bit of the word (see the state table on [`FutexMutex`]).
const WAITERS: u32 = 1 << 31;

/// The `forced_*` models' [`raw_lock::ReleaseWhen`]: some waiter has announced itself
/// with `WAITERS`, so it is asleep or one step from sleeping.
fn a_waiter_sleeps(lock: &FutexMutex) -> bool {
    lock.state() & WAITERS != 0
}

#[test]
fn exclusion_two_threads() {
    raw_lock::exclusion("futex exclusion_two_threads", None, FutexMutex::new, 2);
}

#[test]
fn exclusion_three_threads() {
    raw_lock::exclusion("futex exclusion_three_threads", None, FutexMutex::new, 3);
}

/// Main holds the lock until a waiter has set `WAITERS`, then releases it; the waiter
/// must still get the lock. A wake-up that `unlock` forgets is a deadlock.
#[test]
fn forced_sleeper_is_woken() {
    raw_lock::held_then_released(
        "futex forced_sleeper_is_woken",
        None,
        FutexMutex::new,
        1,
        a_waiter_sleeps,
    );
}

/// As `forced_sleeper_is_woken`, with two waiters: a woken waiter that acquires without
/// keeping `WAITERS` for the other is a deadlock. Preemption bound 2: with 3 it explores
/// ~100k executions (~30 s). Main's spin-wait for `WAITERS` is not counted as preemptions.
#[test]
fn forced_two_sleepers_are_both_woken() {
    raw_lock::held_then_released(
        "futex forced_two_sleepers_are_both_woken",
        Some(2),
        FutexMutex::new,
        2,
        a_waiter_sleeps,
    );
}

#[test]
fn try_lock_fails_while_held() {
    raw_lock::try_lock_fails_while_held("futex try_lock_fails_while_held", FutexMutex::new);
}

#[test]
fn try_lock_races_a_holder() {
    raw_lock::try_lock_races_a_holder("futex try_lock_races_a_holder", FutexMutex::new);
}

/// `try_lock_for` by main races a holder thread while a clock thread expires the deadline
/// at any step (the clock is spawned first, see the module docs); `count` then checks that
/// the lock is still usable.
#[test]
fn try_lock_for_expires_at_any_step() {
    raw_lock::try_lock_for_expires_at_any_step(
        "futex try_lock_for_expires_at_any_step",
        FutexMutex::new,
    );
}

/// A `try_lock_for` that is asleep (or about to sleep) when the holder releases: it is
/// woken and acquires, or its deadline expires first; either way the lock stays usable.
#[test]
fn forced_sleeping_try_lock_for_expires_or_is_woken() {
    raw_lock::try_lock_for_on_a_held_lock(
        "futex forced_sleeping_try_lock_for_expires_or_is_woken",
        FutexMutex::new,
        a_waiter_sleeps,
    );
}

/// A timed and an untimed waiter sleep on the word while the clock may expire at any
/// step: a timed waiter that gives up must not take the untimed waiter's wake-up with it.
/// Preemption bound 1: with 2 it explores ~700k executions (~100 s).
#[test]
fn forced_timed_out_waiter_does_not_swallow_a_wake_up() {
    raw_lock::try_lock_for_beside_a_locker(
        "futex forced_timed_out_waiter_does_not_swallow_a_wake_up",
        Some(1),
        FutexMutex::new,
        a_waiter_sleeps,
    );
}
