//! Loom model checks of [`Peterson`] (two sides claimed per acquisition, a SeqCst fence
//! between the entry stores and loads) and of its broken twin [`UnfencedPeterson`].
//!
//! The guarded counter is a `loom::cell::UnsafeCell`: two critical sections that the lock
//! failed to order (both sides inside at once) are loom's causality violation.
//!
//! Checked: mutual exclusion with 2 threads and with 3 (the third waits for a free side);
//! `try_lock` fails while the lock is held and otherwise acquires only exclusively;
//! `try_lock_for` whose deadline may expire at any step either acquires exclusively or
//! withdraws, leaving the lock usable; a held lock is handed to waiting lockers. The
//! control: without the fence, loom finds the store-buffer execution in which both sides
//! read the other's flag as 0 and both enter (loom 0.7 treats SeqCst accesses as AcqRel,
//! so only a `fence(SeqCst)` orders a store before a later load, as on x86).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --test loom_peterson --target-dir target/loom`.
#![cfg(loom)]

mod common;

use common::raw_lock::{self, at_any_point};
use procshare_sync::broken::OneFencePeterson;
use procshare_sync::{Peterson, UnfencedPeterson};

#[test]
fn exclusion_two_threads() {
    raw_lock::exclusion("peterson exclusion_two_threads", None, Peterson::new, 2);
}

#[test]
fn exclusion_three_threads() {
    // The third locker spins for a free side: loom's branch budget allows one preemption
    // (as for SpinLock's three-thread models).
    raw_lock::exclusion(
        "peterson exclusion_three_threads",
        Some(1),
        Peterson::new,
        3,
    );
}

#[test]
fn try_lock_fails_while_held() {
    raw_lock::try_lock_fails_while_held("peterson try_lock_fails_while_held", Peterson::new);
}

#[test]
fn try_lock_races_a_holder() {
    raw_lock::try_lock_races_a_holder("peterson try_lock_races_a_holder", Peterson::new);
}

#[test]
fn try_lock_for_expires_at_any_step() {
    raw_lock::try_lock_for_expires_at_any_step(
        "peterson try_lock_for_expires_at_any_step",
        Peterson::new,
    );
}

#[test]
fn held_lock_is_handed_to_a_waiting_locker() {
    raw_lock::held_then_released(
        "peterson held_lock_is_handed_to_a_waiting_locker",
        None,
        Peterson::new,
        1,
        at_any_point,
    );
}

#[test]
fn held_lock_is_handed_to_two_waiting_lockers() {
    raw_lock::held_then_released(
        "peterson held_lock_is_handed_to_two_waiting_lockers",
        Some(1),
        Peterson::new,
        2,
        at_any_point,
    );
}

/// The broken twin: both sides enter in the store-buffer execution.
#[test]
#[should_panic(expected = "Causality violation: Concurrent")]
fn unfenced_twin_lets_both_sides_in() {
    raw_lock::exclusion(
        "broken unfenced_peterson exclusion_two_threads",
        None,
        UnfencedPeterson::new,
        2,
    );
}

/// The broken twin fails with three threads too (the third waits for a side).
#[test]
#[should_panic(expected = "Causality violation: Concurrent")]
fn unfenced_twin_lets_both_sides_in_three_threads() {
    raw_lock::exclusion(
        "broken unfenced_peterson exclusion_three_threads",
        Some(1),
        UnfencedPeterson::new,
        3,
    );
}

/// The textbook fix, one fence after both stores, is not enough in the Rust (C++20)
/// memory model: loom finds an execution in which the other side's `turn` store is
/// ordered after ours although its fence came second, and both enter. (It is enough on
/// x86-TSO hardware, where stores reach memory in order; `Peterson` fences twice.)
#[test]
#[should_panic(expected = "Causality violation: Concurrent")]
fn one_fence_after_both_stores_is_not_enough() {
    raw_lock::exclusion(
        "broken one_fence_peterson exclusion_two_threads",
        None,
        OneFencePeterson::new,
        2,
    );
}
