//! Two threads of one process: owned locks belong to a *thread* of a process, not to the
//! process. A model thread joins main's process (`share_process_of`), so it records the
//! same pid as main, as a second thread of a real process would; it must still be told
//! apart from main. A mutant that compares only the pid (so that any thread of the owning
//! process counts as the owner) fails these models; with distinct pids per thread, as
//! before, it passed every check.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_threads`.
#![cfg(loom)]

mod common;

use common::explore;
use loom::thread;
use procshare_sync::loom::{current_owner, share_process_of};
use procshare_sync::{Condition, Lock, RLock, SyncError};
use std::sync::Arc;

#[test]
fn a_second_thread_of_the_owning_process_does_not_own_the_rlock() {
    explore("threads rlock", None, || {
        let rlock = Arc::new(RLock::new());
        rlock.acquire().unwrap();
        let pid = current_owner();
        let other = {
            let rlock = rlock.clone();
            thread::spawn(move || {
                share_process_of(pid);
                assert_eq!(current_owner(), pid, "same process");
                assert!(!rlock.is_owned());
                assert!(
                    !rlock.try_acquire().unwrap(),
                    "the RLock let a second thread in"
                );
                assert!(matches!(rlock.release(), Err(SyncError::NotOwner)));
            })
        };
        other.join().unwrap();
        assert!(rlock.is_owned());
        assert_eq!(rlock.depth(), 1, "the other thread changed the depth");
        rlock.release().unwrap();
    });
}

#[test]
fn a_second_thread_of_the_owning_process_is_not_the_holder_of_a_lock() {
    explore("threads lock and condition", None, || {
        let lock = Arc::new(Lock::new());
        let cond = Arc::new(Condition::<Lock, 2>::new());
        lock.acquire().unwrap();
        cond.acquire().unwrap();
        let pid = current_owner();
        let other = {
            let (lock, cond) = (lock.clone(), cond.clone());
            thread::spawn(move || {
                share_process_of(pid);
                assert!(!lock.is_mine(), "another thread of the process holds it");
                assert!(!lock.try_acquire().unwrap());
                // A condition's lock must be held by the calling *thread*.
                assert!(matches!(cond.notify(1), Err(SyncError::NotOwner)));
                assert!(matches!(cond.wait(None), Err(SyncError::NotOwner)));
            })
        };
        other.join().unwrap();
        assert!(lock.is_mine());
        lock.release().unwrap();
        cond.release().unwrap();
    });
}
