//! A counter guarded by a lock, and the models that every [`RawLock`] strategy must pass,
//! each written once and instantiated by `loom_<strategy>.rs` with the strategy's
//! constructor (and by `loom_broken.rs` with the broken variants, which must fail them).
//!
//! The guarded counter is a `loom::cell::UnsafeCell`, so loom reports any two critical
//! sections that the lock failed to order (mutual exclusion, and release/acquire
//! ordering). A clock thread, where a model has one, is spawned first, so that it is the
//! thread loom prefers after a waiter yields (see the strategies' module docs).

use super::{explore, explore_outcomes, TIMEOUT};
use loom::cell::UnsafeCell;
use loom::thread;
use procshare_sync::loom::expire_deadlines;
use procshare_sync::RawLock;
use std::sync::Arc; // std's, not loom's: see `Guarded::new`.

/// A counter guarded by the lock `L`.
pub(crate) struct Guarded<L> {
    pub(crate) lock: L,
    pub(crate) count: UnsafeCell<u32>,
}

// SAFETY: `count` is only accessed between a successful acquisition of `lock` and the
// matching release. Whether the lock really excludes is what the models check: loom's
// `UnsafeCell` panics on any two accesses that the lock failed to order.
unsafe impl<L: Sync> Sync for Guarded<L> {}

impl<L> Guarded<L> {
    /// Shared through a std `Arc`, not loom's: its refcount is not part of any protocol
    /// under test, and loom's `Arc::drop` panics when a failing model unwinds, which turns
    /// loom's report into an abort of the whole test binary.
    pub(crate) fn new(lock: L) -> Arc<Self> {
        Arc::new(Guarded {
            lock,
            count: UnsafeCell::new(0),
        })
    }
}

impl<L: RawLock> Guarded<L> {
    /// Add one to the counter, then release the lock.
    ///
    /// # Safety
    ///
    /// The caller holds `self.lock`.
    pub(crate) unsafe fn bump_and_unlock(&self) {
        // SAFETY: the caller holds the lock, so no other thread accesses the counter
        // (for a broken lock, whether it orders the access is what is under test).
        self.count.with_mut(|c| unsafe { *c += 1 });
        // SAFETY: the caller holds the lock and gives it up here.
        unsafe { self.lock.unlock() }.expect("unlock");
    }

    /// Acquire with `lock`, add one, release.
    pub(crate) fn locked_bump(&self) {
        self.lock.lock().expect("lock");
        // SAFETY: acquired just above.
        unsafe { self.bump_and_unlock() };
    }

    /// If `acquired` (what a `try_lock`/`try_lock_for` just returned), add one and
    /// release. Returns `acquired`.
    pub(crate) fn bump_if(&self, acquired: bool) -> bool {
        if acquired {
            // SAFETY: the caller's try_lock / try_lock_for just returned true.
            unsafe { self.bump_and_unlock() };
        }
        acquired
    }

    /// The counter, read under the lock (which must therefore still be usable).
    pub(crate) fn count(&self) -> u32 {
        self.lock.lock().expect("lock");
        // SAFETY: we hold the lock.
        let n = self.count.with(|c| unsafe { *c });
        // SAFETY: acquired just above.
        unsafe { self.lock.unlock() }.expect("unlock");
        n
    }

    /// Main, holding the lock, spins (yielding to loom) until `release_when` holds.
    fn until(&self, release_when: ReleaseWhen<L>) {
        while !release_when(&self.lock) {
            thread::yield_now();
        }
    }
}

/// When main, holding the lock while others wait for it, releases it: once this predicate
/// on the lock holds (e.g. "a waiter has announced that it sleeps").
pub(crate) type ReleaseWhen<L> = fn(&L) -> bool;

/// [`ReleaseWhen`] for releasing at any point: main does not wait at all.
pub(crate) fn at_any_point<L>(_: &L) -> bool {
    true
}

/// What it means for a race model (one that returns whether its racing acquisition
/// succeeded, see [`explore_outcomes`]) that outcome `false` or `true` never happened.
const ACQUIRED: [&str; 2] = ["every execution acquired", "no execution acquired"];

/// Main and `n - 1` spawned threads each add one under a lock made by `new`.
pub(crate) fn exclusion<L: RawLock + 'static>(
    name: &str,
    cap: Option<usize>,
    new: fn() -> L,
    n: u32,
) {
    explore(name, cap, move || {
        let g = Guarded::new(new());
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
        assert_eq!(g.count(), n);
    });
}

/// Main holds the lock while `waiters` spawned lockers contend, and releases it once
/// `release_when` holds; each of them must still get the lock. A wake-up that `unlock`
/// forgets is a deadlock.
pub(crate) fn held_then_released<L: RawLock + 'static>(
    name: &str,
    cap: Option<usize>,
    new: fn() -> L,
    waiters: u32,
    release_when: ReleaseWhen<L>,
) {
    explore(name, cap, move || {
        let g = Guarded::new(new());
        g.lock.lock().unwrap();
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.locked_bump())
            })
            .collect();
        g.until(release_when);
        // SAFETY: main took the lock above.
        unsafe { g.bump_and_unlock() };
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(g.count(), waiters + 1);
    });
}

/// `try_lock` fails while main holds the lock, and succeeds once it is free.
pub(crate) fn try_lock_fails_while_held<L: RawLock + 'static>(name: &str, new: fn() -> L) {
    explore(name, None, move || {
        let g = Guarded::new(new());
        g.lock.lock().unwrap();
        let g2 = g.clone();
        let held = thread::spawn(move || g2.lock.try_lock().unwrap());
        assert!(!held.join().unwrap(), "try_lock succeeded while held");
        // SAFETY: main took the lock above.
        unsafe { g.bump_and_unlock() };
        let g2 = g.clone();
        let free = thread::spawn(move || g2.bump_if(g2.lock.try_lock().unwrap()));
        assert!(free.join().unwrap(), "try_lock failed on a free lock");
        assert_eq!(g.count(), 2);
    });
}

/// `try_lock` by main races a holder thread: it acquires only exclusively.
pub(crate) fn try_lock_races_a_holder<L: RawLock + 'static>(name: &str, new: fn() -> L) {
    explore_outcomes(name, None, ACQUIRED, move || {
        let g = Guarded::new(new());
        let g2 = g.clone();
        let holder = thread::spawn(move || g2.locked_bump());
        let acquired = g.bump_if(g.lock.try_lock().unwrap());
        holder.join().unwrap();
        assert_eq!(g.count(), 1 + u32::from(acquired));
        acquired
    });
}

/// `try_lock_for` by main races a holder thread while a clock thread expires the deadline
/// at any step; `count` then checks that the lock is still usable.
pub(crate) fn try_lock_for_expires_at_any_step<L: RawLock + 'static>(name: &str, new: fn() -> L) {
    explore_outcomes(name, None, ACQUIRED, move || {
        let g = Guarded::new(new());
        let clock = thread::spawn(expire_deadlines);
        let g2 = g.clone();
        let holder = thread::spawn(move || g2.locked_bump());
        let acquired = g.bump_if(g.lock.try_lock_for(TIMEOUT).unwrap());
        clock.join().unwrap();
        holder.join().unwrap();
        assert_eq!(g.count(), 1 + u32::from(acquired));
        acquired
    });
}

/// A `try_lock_for` that starts while main holds the lock, which main releases once
/// `release_when` holds: it acquires after the release, or its deadline expires first;
/// either way the lock stays usable.
pub(crate) fn try_lock_for_on_a_held_lock<L: RawLock + 'static>(
    name: &str,
    new: fn() -> L,
    release_when: ReleaseWhen<L>,
) {
    explore_outcomes(name, None, ACQUIRED, move || {
        let g = Guarded::new(new());
        g.lock.lock().unwrap();
        let clock = thread::spawn(expire_deadlines);
        let g2 = g.clone();
        let timed = thread::spawn(move || g2.bump_if(g2.lock.try_lock_for(TIMEOUT).unwrap()));
        g.until(release_when);
        // SAFETY: main took the lock above.
        unsafe { g.bump_and_unlock() };
        let acquired = timed.join().unwrap();
        clock.join().unwrap();
        assert_eq!(g.count(), 1 + u32::from(acquired));
        acquired
    });
}

/// A `try_lock_for` and a plain `lock` wait on a lock that main holds and releases once
/// `release_when` holds, while the clock may expire the deadline at any step: the release
/// must reach the plain locker even when the timed one gives up.
pub(crate) fn try_lock_for_beside_a_locker<L: RawLock + 'static>(
    name: &str,
    cap: Option<usize>,
    new: fn() -> L,
    release_when: ReleaseWhen<L>,
) {
    explore_outcomes(name, cap, ACQUIRED, move || {
        let g = Guarded::new(new());
        g.lock.lock().unwrap();
        let clock = thread::spawn(expire_deadlines);
        let g2 = g.clone();
        let timed = thread::spawn(move || g2.bump_if(g2.lock.try_lock_for(TIMEOUT).unwrap()));
        let g3 = g.clone();
        let locker = thread::spawn(move || g3.locked_bump());
        g.until(release_when);
        // SAFETY: main took the lock above.
        unsafe { g.bump_and_unlock() };
        let acquired = timed.join().unwrap();
        locker.join().unwrap();
        clock.join().unwrap();
        assert_eq!(g.count(), 2 + u32::from(acquired));
        acquired
    });
}
