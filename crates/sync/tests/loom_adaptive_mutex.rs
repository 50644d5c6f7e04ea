//! Loom model checks of [`AdaptiveMutex`]: a bounded spin (under loom one extra check of
//! the word) in front of `FutexMutex`'s park.
//!
//! The same models as `loom_futex_mutex.rs` (see there why the `forced_*` models hold the
//! lock until a waiter has set `WAITERS`, and why race models assert that both outcomes
//! occur): mutual exclusion with 2 and 3 threads (a `loom::cell::UnsafeCell` counter, so
//! an unordered pair of critical sections is a causality violation); one and two forced
//! sleepers are woken (a lost wake-up is a deadlock); `try_lock` fails while held and
//! races a holder; `try_lock_for` whose deadline may expire at any step either acquires
//! exclusively or returns `Ok(false)` and leaves the lock usable, asleep or not, and does
//! not swallow an untimed waiter's wake-up. The broken control
//! [`NoWakeAdaptiveMutex`] (its unlock skips the wake when `WAITERS` is set) must
//! deadlock in the forced-sleeper and three-thread models. Owner death is not modelled
//! (loom threads never die; `tests/zoo.rs` kills a holder).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --test loom_adaptive_mutex --target-dir target/loom`.
// After the docs: a false crate-level `cfg` drops the attributes that follow it, so the
// docs would vanish from a normal build and trip `missing_docs`.
#![cfg(loom)]

mod common;

use common::raw_lock;
use procshare_sync::broken::NoWakeAdaptiveMutex;
use procshare_sync::AdaptiveMutex;

/// The `WAITERS` bit of the word (see the state table on [`AdaptiveMutex`]).
const WAITERS: u32 = 1 << 31;

/// The `forced_*` models' release condition: some waiter is past its spin and has
/// announced itself with `WAITERS`.
fn a_waiter_sleeps(lock: &AdaptiveMutex) -> bool {
    lock.state() & WAITERS != 0
}

#[test]
fn exclusion_two_threads() {
    raw_lock::exclusion(
        "adaptive exclusion_two_threads",
        None,
        AdaptiveMutex::new,
        2,
    );
}

#[test]
fn exclusion_three_threads() {
    raw_lock::exclusion(
        "adaptive exclusion_three_threads",
        None,
        AdaptiveMutex::new,
        3,
    );
}

#[test]
fn forced_sleeper_is_woken() {
    raw_lock::held_then_released(
        "adaptive forced_sleeper_is_woken",
        None,
        AdaptiveMutex::new,
        1,
        a_waiter_sleeps,
    );
}

/// Two waiters past their spin (3 threads). Preemption bound 2, as for `FutexMutex`.
#[test]
fn forced_two_sleepers_are_both_woken() {
    raw_lock::held_then_released(
        "adaptive forced_two_sleepers_are_both_woken",
        Some(2),
        AdaptiveMutex::new,
        2,
        a_waiter_sleeps,
    );
}

#[test]
fn try_lock_fails_while_held() {
    raw_lock::try_lock_fails_while_held("adaptive try_lock_fails_while_held", AdaptiveMutex::new);
}

#[test]
fn try_lock_races_a_holder() {
    raw_lock::try_lock_races_a_holder("adaptive try_lock_races_a_holder", AdaptiveMutex::new);
}

#[test]
fn try_lock_for_expires_at_any_step() {
    raw_lock::try_lock_for_expires_at_any_step(
        "adaptive try_lock_for_expires_at_any_step",
        AdaptiveMutex::new,
    );
}

#[test]
fn forced_sleeping_try_lock_for_expires_or_is_woken() {
    raw_lock::try_lock_for_on_a_held_lock(
        "adaptive forced_sleeping_try_lock_for_expires_or_is_woken",
        AdaptiveMutex::new,
        a_waiter_sleeps,
    );
}

/// Preemption bound 1, as for `FutexMutex` (with 2 it explores ~700k executions).
#[test]
fn forced_timed_out_waiter_does_not_swallow_a_wake_up() {
    raw_lock::try_lock_for_beside_a_locker(
        "adaptive forced_timed_out_waiter_does_not_swallow_a_wake_up",
        Some(1),
        AdaptiveMutex::new,
        a_waiter_sleeps,
    );
}

/// The broken control: a forced sleeper is never woken.
#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn broken_no_wake_deadlocks_with_a_forced_sleeper() {
    raw_lock::held_then_released(
        "adaptive broken_no_wake_deadlocks_with_a_forced_sleeper",
        None,
        NoWakeAdaptiveMutex::new,
        1,
        |lock| lock.state() & WAITERS != 0,
    );
}

/// The broken control in the plain three-thread exclusion model.
#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn broken_no_wake_deadlocks_with_three_threads() {
    raw_lock::exclusion(
        "adaptive broken_no_wake_deadlocks_with_three_threads",
        None,
        NoWakeAdaptiveMutex::new,
        3,
    );
}
