//! The loom suite shows its teeth: the deliberately broken variants of
//! `procshare_sync::broken` must make the same kinds of model that pass for the real
//! strategies fail, with loom's own diagnosis.
//!
//! * [`LostWakeMutex`] (`FutexMutex` whose `unlock` never wakes a sleeper): loom reports
//!   a deadlock, both in the forced-sleep model and in the plain three-thread exclusion
//!   model. (In a two-thread race loom never makes the waiter sleep, see
//!   `loom_futex_mutex.rs`, so that model would not catch it.)
//! * [`RelaxedSpinLock`] (a spin lock whose CAS and unlock store are `Relaxed`): it still
//!   excludes, but orders nothing, and loom reports the unordered accesses to the guarded
//!   `UnsafeCell` as a causality violation.
//!
//! The expected panic messages are loom 0.7's: `"deadlock; threads = [..]"` when no thread
//! can run but some have not finished (`src/rt/execution.rs`), and `"Causality violation:
//! Concurrent .. accesses to `UnsafeCell`"` for accesses no happens-before orders
//! (`src/rt/cell.rs`).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target-loom --tests`.
// After the docs: a false crate-level `cfg` drops the attributes that follow it, so the
// docs would vanish from a normal build and trip `missing_docs`.
#![cfg(loom)]

mod common;

use common::raw_lock;
use procshare_sync::broken::{LostWakeMutex, RelaxedSpinLock};

/// The `WAITERS` bit of the futex word (see the state table on `FutexMutex`).
const WAITERS: u32 = 1 << 31;

/// The forced-sleep model of `loom_futex_mutex.rs`: main holds the lock until the waiter
/// has set `WAITERS`, then releases it without waking the sleeper.
#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn lost_wake_mutex_deadlocks_with_a_forced_sleeper() {
    raw_lock::held_then_released(
        "broken lost_wake_mutex_deadlocks_with_a_forced_sleeper",
        None,
        LostWakeMutex::new,
        1,
        |lock| lock.state() & WAITERS != 0,
    );
}

#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn lost_wake_mutex_deadlocks_with_three_threads() {
    raw_lock::exclusion(
        "broken lost_wake_mutex_deadlocks_with_three_threads",
        None,
        LostWakeMutex::new,
        3,
    );
}

#[test]
#[should_panic(expected = "Causality violation: Concurrent")]
fn relaxed_spin_lock_races_on_the_guarded_data() {
    raw_lock::exclusion(
        "broken relaxed_spin_lock_races_on_the_guarded_data",
        None,
        RelaxedSpinLock::new,
        2,
    );
}
