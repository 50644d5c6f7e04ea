//! Loom model checks of [`McsLock`], with its queue nodes inside the lock (three nodes in
//! these models), and of the broken control [`ForgetfulMcsLock`].
//!
//! The futex is loom's mutex + condition variable, so a waiter that sleeps on its node and
//! is never woken is loom's deadlock report (no lost wake-up); the guarded counter is a
//! `loom::cell::UnsafeCell`, so two critical sections that the lock failed to order are a
//! causality violation.
//!
//! Checked: mutual exclusion with 2 and 3 threads; queued lockers of a held lock are all
//! handed it (after one spin, under loom, each sleeps on its node); `try_lock` fails while
//! the lock is held and otherwise acquires only exclusively; `try_lock_for` (which never
//! queues) whose deadline may expire at any step acquires exclusively or gives up, leaving
//! the lock usable, beside a queued locker too. The broken control must fail.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --test loom_mcs_lock --target-dir target/loom`.
#![cfg(loom)]

mod common;

use common::raw_lock::{self, at_any_point};
use procshare_sync::broken::ForgetfulMcsLock;
use procshare_sync::McsLock;

fn new() -> McsLock<3> {
    McsLock::new()
}

#[test]
fn exclusion_two_threads() {
    raw_lock::exclusion("mcs exclusion_two_threads", None, new, 2);
}

#[test]
fn exclusion_three_threads() {
    // Preemption bound 2: with 3 it explores ~230k executions (~2 min).
    raw_lock::exclusion("mcs exclusion_three_threads", Some(2), new, 3);
}

#[test]
fn try_lock_fails_while_held() {
    raw_lock::try_lock_fails_while_held("mcs try_lock_fails_while_held", new);
}

#[test]
fn try_lock_races_a_holder() {
    raw_lock::try_lock_races_a_holder("mcs try_lock_races_a_holder", new);
}

#[test]
fn try_lock_for_expires_at_any_step() {
    raw_lock::try_lock_for_expires_at_any_step("mcs try_lock_for_expires_at_any_step", new);
}

#[test]
fn try_lock_for_on_a_held_lock() {
    raw_lock::try_lock_for_on_a_held_lock("mcs try_lock_for_on_a_held_lock", new, at_any_point);
}

#[test]
fn held_lock_is_handed_to_a_queued_locker() {
    raw_lock::held_then_released(
        "mcs held_lock_is_handed_to_a_queued_locker",
        None,
        new,
        1,
        at_any_point,
    );
}

#[test]
fn held_lock_is_handed_to_two_queued_lockers() {
    raw_lock::held_then_released(
        "mcs held_lock_is_handed_to_two_queued_lockers",
        None,
        new,
        2,
        at_any_point,
    );
}

#[test]
fn try_lock_for_beside_a_queued_locker() {
    raw_lock::try_lock_for_beside_a_locker(
        "mcs try_lock_for_beside_a_queued_locker",
        Some(2),
        new,
        at_any_point,
    );
}

/// The broken control fails the three-thread exclusion model: loom reports the waiter
/// that is never handed the lock as a deadlock.
#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn broken_control_fails_with_three_threads() {
    raw_lock::exclusion(
        "broken mcs exclusion_three_threads",
        None,
        ForgetfulMcsLock::<3>::new,
        3,
    );
}
