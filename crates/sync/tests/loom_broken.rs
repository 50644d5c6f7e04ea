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

use loom::cell::UnsafeCell;
use loom::thread;
use procshare_sync::broken::{LostWakeMutex, RelaxedSpinLock};
use procshare_sync::RawLock;
use std::sync::Arc; // std's, not loom's: see `Guarded::new`.

/// The `WAITERS` bit of the futex word (see the state table on `FutexMutex`).
const WAITERS: u32 = 1 << 31;

/// A counter guarded by the (broken) lock `L`.
struct Guarded<L> {
    lock: L,
    count: UnsafeCell<u32>,
}

// SAFETY: `count` is only accessed between an acquisition of `lock` and the matching
// unlock. For these broken locks that is *not* enough, which is what loom must report.
unsafe impl<L: RawLock> Sync for Guarded<L> {}

impl<L: RawLock + Default> Guarded<L> {
    /// Shared through a std `Arc`, not loom's: its refcount is not part of any protocol
    /// under test, and loom's `Arc::drop` panics when a failing model unwinds, which turns
    /// loom's report into an abort of the whole test binary.
    fn new() -> Arc<Self> {
        Arc::new(Guarded {
            lock: L::default(),
            count: UnsafeCell::new(0),
        })
    }

    /// Add one to the counter, then release the lock.
    ///
    /// # Safety
    ///
    /// The caller holds `self.lock`.
    unsafe fn bump_and_unlock(&self) {
        // SAFETY: the caller holds the lock (whether it orders the access is under test).
        self.count.with_mut(|c| unsafe { *c += 1 });
        // SAFETY: the caller holds the lock and gives it up here.
        unsafe { self.lock.unlock() };
    }

    /// Acquire with `lock`, add one, release.
    fn locked_bump(&self) {
        self.lock.lock().expect("lock");
        // SAFETY: acquired just above.
        unsafe { self.bump_and_unlock() };
    }
}

/// Main and `n - 1` spawned threads each add one under the lock `L`.
fn exclusion<L: RawLock + Default + 'static>(n: u32) {
    loom::model(move || {
        let g = Guarded::<L>::new();
        let handles: Vec<_> = (1..n)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.locked_bump())
            })
            .collect();
        g.locked_bump();
        for h in handles {
            h.join().unwrap();
        }
    });
}

/// The forced-sleep model of `loom_futex_mutex.rs`: main holds the lock until the waiter
/// has set `WAITERS`, then releases it without waking the sleeper.
#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn lost_wake_mutex_deadlocks_with_a_forced_sleeper() {
    loom::model(|| {
        let g = Guarded::<LostWakeMutex>::new();
        g.lock.lock().unwrap();
        let g2 = g.clone();
        let waiter = thread::spawn(move || g2.locked_bump());
        while g.lock.state() & WAITERS == 0 {
            thread::yield_now();
        }
        // SAFETY: main took the lock above.
        unsafe { g.bump_and_unlock() };
        waiter.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn lost_wake_mutex_deadlocks_with_three_threads() {
    exclusion::<LostWakeMutex>(3);
}

#[test]
#[should_panic(expected = "Causality violation: Concurrent")]
fn relaxed_spin_lock_races_on_the_guarded_data() {
    exclusion::<RelaxedSpinLock>(2);
}
