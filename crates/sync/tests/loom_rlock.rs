//! Loom model checks of [`RLock`], the recursive lock (a futex mutex that records the
//! owning process, plus the owner's thread id and recursion depth).
//!
//! The models run the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable (a lost wake-up is a deadlock) and every loom
//! thread is a distinct owner. The guarded counter is a `loom::cell::UnsafeCell`, so loom
//! reports any two critical sections the lock failed to order.
//!
//! Proved, for every interleaving loom explores:
//! * mutual exclusion with 2 and 3 threads, each acquiring twice (depth 2, `is_owned`) and
//!   releasing twice around its increment; the lock is free afterwards;
//! * a release by a thread that does not own the lock fails and changes nothing: `NotOwner`
//!   while another thread holds it, `NotLocked` while nobody does (both outcomes occur
//!   when it races an owner), and the owner's own releases still succeed.
//!
//! Shared objects live in `std::sync::Arc`s, not loom's: loom runs one model thread at a
//! time, so a std `Arc` is enough, and when a model fails loom unwinds the other threads
//! outside the execution, where dropping a loom `Arc` panics again and aborts the whole
//! test binary instead of reporting the failing test.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --target-dir target/loom --test loom_rlock -- --nocapture`.

#![cfg(loom)]

mod common;

use common::raw_lock::Guarded;
use common::{explore, explore_outcomes};
use loom::thread;
use procshare_sync::{RLock, SyncError};

/// [`Guarded`] over an `RLock`: the counter is only accessed by the lock's owner (`bump`
/// and `owned_count` check `is_owned`/`depth`).
impl Guarded<RLock> {
    /// Acquire twice, add one, release twice.
    fn bump(&self) {
        self.lock.acquire().unwrap();
        self.lock.acquire().unwrap();
        assert!(self.lock.is_owned());
        assert_eq!(self.lock.depth(), 2);
        // SAFETY: we own the lock (asserted just above).
        self.count.with_mut(|c| unsafe { *c += 1 });
        self.lock.release().unwrap();
        assert!(
            self.lock.is_owned(),
            "released at depth 2 and lost the lock"
        );
        assert_eq!(self.lock.depth(), 1);
        self.lock.release().unwrap();
        assert!(!self.lock.is_owned());
    }

    /// The counter, read under the lock (which must therefore still be usable).
    fn owned_count(&self) -> u32 {
        self.lock.acquire().unwrap();
        assert_eq!(self.lock.depth(), 1);
        // SAFETY: we own the lock.
        let n = self.count.with(|c| unsafe { *c });
        self.lock.release().unwrap();
        n
    }
}

/// Main and `n - 1` spawned threads each run [`Guarded::bump`].
fn exclusion(name: &str, cap: Option<usize>, n: u32) {
    explore(name, cap, move || {
        let g = Guarded::new(RLock::new());
        let handles: Vec<_> = (1..n)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.bump())
            })
            .collect();
        g.bump();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(g.owned_count(), n);
        assert!(matches!(g.lock.release(), Err(SyncError::NotLocked)));
    });
}

#[test]
fn exclusion_two_threads() {
    exclusion("rlock exclusion_two_threads", None, 2);
}

/// Preemption bound 2: with 3 it explores ~76k executions (~16 s).
#[test]
fn exclusion_three_threads() {
    exclusion("rlock exclusion_three_threads", Some(2), 3);
}

/// Main holds the lock at depth 2 while a spawned thread tries to release it: `NotOwner`,
/// and main still owns it at depth 2; once main has released it, the other thread's
/// release is `NotLocked`.
#[test]
fn release_by_a_non_owner_is_refused() {
    explore("rlock release_by_a_non_owner_is_refused", None, || {
        let g = Guarded::new(RLock::new());
        g.lock.acquire().unwrap();
        g.lock.acquire().unwrap();
        let g2 = g.clone();
        let r = thread::spawn(move || {
            assert!(!g2.lock.is_owned());
            g2.lock.release()
        })
        .join()
        .unwrap();
        assert!(matches!(r, Err(SyncError::NotOwner)), "{r:?}");
        assert!(g.lock.is_owned());
        assert_eq!(g.lock.depth(), 2);
        g.lock.release().unwrap();
        g.lock.release().unwrap();
        let g2 = g.clone();
        let r = thread::spawn(move || g2.lock.release()).join().unwrap();
        assert!(matches!(r, Err(SyncError::NotLocked)), "{r:?}");
        assert_eq!(g.owned_count(), 0);
    });
}

/// A spawned owner runs [`Guarded::bump`] while main releases a lock it never acquired:
/// always an error (`NotOwner` while the owner holds it, `NotLocked` otherwise; both
/// occur), never a release of the owner's acquisition.
#[test]
fn release_by_a_non_owner_races_the_owner() {
    explore_outcomes(
        "rlock release_by_a_non_owner_races_the_owner",
        None,
        ["never raced a holding owner", "never found the lock free"],
        || {
            let g = Guarded::new(RLock::new());
            let g2 = g.clone();
            let owner = thread::spawn(move || g2.bump());
            let found_free = match g.lock.release() {
                Err(SyncError::NotOwner) => false,
                Err(SyncError::NotLocked) => true,
                r => panic!("a non-owner's release returned {r:?}"),
            };
            owner.join().unwrap();
            assert_eq!(g.owned_count(), 1);
            found_free
        },
    );
}
