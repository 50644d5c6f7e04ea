//! Owner death, model-checked: a model thread takes a lock and then *dies* inside its
//! critical section (`procshare_sync::loom::die`, at a step loom chooses relative to the
//! other threads), and the others lock after it. Liveness probes of a dead thread answer
//! dead from then on, and a waiter sleeping on its behalf may time out to notice — the
//! liveness slice, as a choice loom explores.
//!
//! Checked, with 2 and 3 threads:
//! * `FutexMutex`, `SpinLock`, `RLock`: exactly one locker gets `OwnerDied`, holding the
//!   lock (the final lock of main counts, for executions in which the holder died after
//!   every waiter had passed); nobody else does; the guarded counter is never touched by
//!   two at once; nobody hangs (a waiter that never noticed the death is loom's deadlock);
//! * `Lock` (CPython's ownerless lock): nobody takes it over; an untimed acquire reports
//!   `HolderExited` instead, and the dead holder's acquisition stands;
//! * the model has teeth: `BrokenTakeoverMutex`, whose takeover is a store instead of a
//!   compare-and-swap, lets two waiters take the lock over, which the model reports.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_owner_death`.
#![cfg(loom)]

mod common;

use common::explore;
use common::raw_lock::Guarded;
use loom::thread;
use procshare_sync::broken::BrokenTakeoverMutex;
use procshare_sync::loom::die;
use procshare_sync::{FutexMutex, Lock, LockError, RLock, RawLock, SpinLock, SyncError};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// Lock, count an `OwnerDied` (the caller holds the lock either way), bump, unlock.
fn bump_counting_deaths<L: RawLock>(g: &Guarded<L>, deaths: &AtomicUsize) {
    match g.lock.lock() {
        Ok(()) => {}
        Err(e) if e.lock_is_held() => {
            deaths.fetch_add(1, Relaxed);
        }
        Err(e) => panic!("unexpected {e}"),
    }
    // SAFETY: the lock is held (Ok or OwnerDied).
    unsafe { g.bump_and_unlock() };
}

/// A holder that locks and dies, `waiters` lockers (main among them), then main locks
/// once more: exactly one of all these acquisitions reports the death.
fn owner_dies<L: RawLock + 'static>(
    name: &str,
    cap: Option<usize>,
    new: fn() -> L,
    waiters: usize,
) {
    let label = name.to_string();
    explore(name, cap, move || {
        let g = Guarded::new(new());
        let deaths = Arc::new(AtomicUsize::new(0));
        let holder = {
            let g = g.clone();
            thread::spawn(move || {
                g.lock.lock().unwrap();
                die(); // inside the critical section; a dead process does nothing more
            })
        };
        let others: Vec<_> = (1..waiters)
            .map(|_| {
                let (g, deaths) = (g.clone(), deaths.clone());
                thread::spawn(move || bump_counting_deaths(&g, &deaths))
            })
            .collect();
        bump_counting_deaths(&g, &deaths);
        holder.join().unwrap();
        for h in others {
            h.join().unwrap();
        }
        bump_counting_deaths(&g, &deaths);
        assert_eq!(
            deaths.load(Relaxed),
            1,
            "{label}: the holder's death must be reported exactly once"
        );
    });
}

#[test]
fn futex_mutex_owner_dies_two_threads() {
    owner_dies("owner_death futex 2", None, FutexMutex::new, 1);
}

#[test]
fn futex_mutex_owner_dies_three_threads() {
    owner_dies("owner_death futex 3", None, FutexMutex::new, 2);
}

#[test]
fn spin_lock_owner_dies_two_threads() {
    owner_dies("owner_death spin 2", None, SpinLock::new, 1);
}

#[test]
fn spin_lock_owner_dies_three_threads() {
    // Spinning waiters: three threads explode loom's branch budget beyond one preemption
    // (as in `loom_spin_lock.rs`).
    owner_dies("owner_death spin 3", Some(1), SpinLock::new, 2);
}

#[test]
fn rlock_owner_dies_two_and_three_threads() {
    for waiters in [1usize, 2] {
        explore("owner_death rlock", None, move || {
            let rlock = Arc::new(RLock::new());
            let deaths = Arc::new(AtomicUsize::new(0));
            let acquire = |rlock: &RLock, deaths: &AtomicUsize| {
                match rlock.acquire() {
                    Ok(()) => {}
                    Err(SyncError::Lock(LockError::OwnerDied { .. })) => {
                        deaths.fetch_add(1, Relaxed);
                        assert_eq!(rlock.depth(), 1, "a takeover starts at depth 1");
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
                assert!(rlock.is_owned());
                rlock.release().unwrap();
            };
            let holder = {
                let rlock = rlock.clone();
                thread::spawn(move || {
                    rlock.acquire().unwrap();
                    rlock.acquire().unwrap(); // depth 2, then death
                    die();
                })
            };
            let others: Vec<_> = (1..waiters)
                .map(|_| {
                    let (rlock, deaths) = (rlock.clone(), deaths.clone());
                    thread::spawn(move || acquire(&rlock, &deaths))
                })
                .collect();
            acquire(&rlock, &deaths);
            holder.join().unwrap();
            for h in others {
                h.join().unwrap();
            }
            acquire(&rlock, &deaths);
            assert_eq!(deaths.load(Relaxed), 1);
        });
    }
}

#[test]
fn lock_is_never_taken_over() {
    explore("owner_death lock", None, || {
        let lock = Arc::new(Lock::new());
        let holder = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.acquire().unwrap();
                die();
            })
        };
        // Main either gets the lock before the holder (and releases it), or is told that
        // the holder exited; it never takes it over.
        match lock.acquire() {
            Ok(()) => lock.release().unwrap(),
            Err(SyncError::Lock(LockError::HolderExited { .. })) => {}
            Err(e) => panic!("unexpected {e}"),
        }
        holder.join().unwrap();
        assert!(lock.is_locked(), "the dead holder's acquisition stands");
        assert!(!lock.is_mine());
        assert!(matches!(
            lock.acquire(),
            Err(SyncError::Lock(LockError::HolderExited { .. }))
        ));
    });
}

#[test]
fn a_takeover_by_store_is_caught() {
    // Two waiters both find the owner dead and both take the lock: loom reports the
    // concurrent accesses to the guarded counter, or the double report.
    let failure = std::panic::catch_unwind(|| {
        owner_dies("broken store takeover", None, BrokenTakeoverMutex::new, 2);
    })
    .expect_err("the broken takeover passed the owner-death model");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| failure.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    eprintln!("broken store takeover, as expected: {message}");
    assert!(
        message.contains("Causality violation") || message.contains("reported exactly once"),
        "unexpected failure: {message}"
    );
}
