//! Loom model checks of [`SpinLock`], the test-and-test-and-set spin lock.
//!
//! Every model runs the real protocol against the `procshare_sync::loom` facade. The
//! guarded counter is a `loom::cell::UnsafeCell`, so loom reports any two critical
//! sections that the lock failed to order (mutual exclusion, and release/acquire
//! ordering). A spin lock never sleeps in the kernel, so a "lost wake-up" here would be a
//! waiter spinning forever, which loom reports as exceeding its branch limit.
//!
//! Checked: mutual exclusion with 2 and 3 threads; a waiter spinning on a held lock gets
//! it once released; `try_lock` fails while the lock is held and otherwise succeeds only
//! exclusively; `try_lock_for` whose deadline may expire at any step either acquires
//! exclusively or returns `Ok(false)`, and leaves the lock usable. Owner death is not
//! modelled (loom threads never die).
//!
//! Each race model asserts that both of its outcomes occur in some execution. Under loom
//! `spin_loop` is a yield, after which loom runs another thread for one step and does not
//! reliably backtrack to try the other threads there; the clock thread is spawned first,
//! so that it is the thread loom prefers after a waiter yields.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target-loom --tests` (add `-- --nocapture` to see how many
//! executions each model explored).
// After the docs: a false crate-level `cfg` drops the attributes that follow it, so the
// docs would vanish from a normal build and trip `missing_docs`.
#![cfg(loom)]

mod common;

use common::raw_lock::{self, at_any_point};
use procshare_sync::SpinLock;

#[test]
fn exclusion_two_threads() {
    raw_lock::exclusion("spin exclusion_two_threads", None, SpinLock::new, 2);
}

/// Preemption bound 1: with two spinners and a preempted holder, loom (which has no notion
/// of fairness) explores paths where the spinners yield to each other forever, and gives
/// up with "Model exceeded maximum number of branches" at any bound above 1.
#[test]
fn exclusion_three_threads() {
    raw_lock::exclusion("spin exclusion_three_threads", Some(1), SpinLock::new, 3);
}

#[test]
fn try_lock_fails_while_held() {
    raw_lock::try_lock_fails_while_held("spin try_lock_fails_while_held", SpinLock::new);
}

#[test]
fn try_lock_races_a_holder() {
    raw_lock::try_lock_races_a_holder("spin try_lock_races_a_holder", SpinLock::new);
}

/// `try_lock_for` by main races a holder thread while a clock thread expires the deadline
/// at any step (the clock is spawned first, see the module docs); `count` then checks that
/// the lock is still usable.
#[test]
fn try_lock_for_expires_at_any_step() {
    raw_lock::try_lock_for_expires_at_any_step(
        "spin try_lock_for_expires_at_any_step",
        SpinLock::new,
    );
}

/// A `try_lock_for` that starts while main holds the lock: it acquires after main
/// releases, or its deadline expires first; either way the lock stays usable.
#[test]
fn try_lock_for_on_a_held_lock() {
    raw_lock::try_lock_for_on_a_held_lock(
        "spin try_lock_for_on_a_held_lock",
        SpinLock::new,
        at_any_point,
    );
}

/// Main holds the lock while a spinning waiter contends, and releases it at any point.
#[test]
fn held_lock_is_handed_to_a_spinning_waiter() {
    raw_lock::held_then_released(
        "spin held_lock_is_handed_to_a_spinning_waiter",
        None,
        SpinLock::new,
        1,
        at_any_point,
    );
}

/// Preemption bound 1, for the reason given on `exclusion_three_threads`.
#[test]
fn held_lock_is_handed_to_two_spinning_waiters() {
    raw_lock::held_then_released(
        "spin held_lock_is_handed_to_two_spinning_waiters",
        Some(1),
        SpinLock::new,
        2,
        at_any_point,
    );
}
