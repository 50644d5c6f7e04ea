//! Loom model checks of [`Bakery`] (Lamport's bakery with its two SeqCst fences, slots
//! claimed per acquisition) and of its broken twin [`UnfencedBakery`].
//!
//! The guarded counter is a `loom::cell::UnsafeCell`: two critical sections that the lock
//! failed to order are loom's causality violation.
//!
//! Checked: mutual exclusion with 2 and 3 threads (three slots, and two slots for three
//! threads, where one waits for a free slot); `try_lock` fails while the lock is held and
//! otherwise acquires only exclusively; `try_lock_for` whose deadline may expire at any
//! step acquires exclusively or withdraws its ticket, leaving the lock usable; a held lock
//! is handed to waiting lockers. The control: without the fences loom finds the
//! store-buffer execution in which two parties both read the other's ticket as 0.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --test loom_bakery --target-dir target/loom`.
#![cfg(loom)]

mod common;

use common::raw_lock::{self, at_any_point};
use procshare_sync::{Bakery, UnfencedBakery};

#[test]
fn exclusion_two_threads() {
    raw_lock::exclusion("bakery exclusion_two_threads", None, Bakery::<2>::new, 2);
}

#[test]
fn exclusion_three_threads() {
    // Spinning waiters over three slots: bound the preemptions, as for SpinLock.
    raw_lock::exclusion(
        "bakery exclusion_three_threads",
        Some(1),
        Bakery::<3>::new,
        3,
    );
}

#[test]
fn exclusion_three_threads_two_slots() {
    raw_lock::exclusion(
        "bakery exclusion_three_threads_two_slots",
        Some(1),
        Bakery::<2>::new,
        3,
    );
}

#[test]
fn try_lock_fails_while_held() {
    raw_lock::try_lock_fails_while_held("bakery try_lock_fails_while_held", Bakery::<2>::new);
}

#[test]
fn try_lock_races_a_holder() {
    raw_lock::try_lock_races_a_holder("bakery try_lock_races_a_holder", Bakery::<2>::new);
}

#[test]
fn try_lock_for_expires_at_any_step() {
    raw_lock::try_lock_for_expires_at_any_step(
        "bakery try_lock_for_expires_at_any_step",
        Bakery::<2>::new,
    );
}

#[test]
fn held_lock_is_handed_to_a_waiting_locker() {
    raw_lock::held_then_released(
        "bakery held_lock_is_handed_to_a_waiting_locker",
        None,
        Bakery::<2>::new,
        1,
        at_any_point,
    );
}

#[test]
fn held_lock_is_handed_to_two_waiting_lockers() {
    raw_lock::held_then_released(
        "bakery held_lock_is_handed_to_two_waiting_lockers",
        Some(1),
        Bakery::<3>::new,
        2,
        at_any_point,
    );
}

/// The broken twin: two parties enter at once.
#[test]
#[should_panic(expected = "Causality violation: Concurrent")]
fn unfenced_twin_lets_two_in() {
    raw_lock::exclusion(
        "broken unfenced_bakery exclusion_two_threads",
        None,
        UnfencedBakery::<2>::new,
        2,
    );
}

/// The broken twin fails with three threads too.
#[test]
#[should_panic(expected = "Causality violation: Concurrent")]
fn unfenced_twin_lets_two_in_three_threads() {
    raw_lock::exclusion(
        "broken unfenced_bakery exclusion_three_threads",
        Some(1),
        UnfencedBakery::<3>::new,
        3,
    );
}
