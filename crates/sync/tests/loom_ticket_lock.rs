//! Loom model checks of [`TicketLock`], the FIFO ticket lock whose waiters sleep on a futex.
//!
//! Every model runs the real protocol against the `procshare_sync::loom` facade, where the
//! futex is a loom mutex + condition variable: a sleeper that is never woken makes loom
//! report a deadlock, so every model also checks "no lost wake-up". The guarded counter is
//! a `loom::cell::UnsafeCell`, so loom reports any two critical sections that the lock
//! failed to order (mutual exclusion, and release/acquire ordering).
//!
//! Checked: mutual exclusion with 2 and 3 threads; queued lockers of a held lock (the
//! second in line sleeps at once, the first after one spin) all get it, in FIFO order;
//! `try_lock` fails while the lock is held and otherwise succeeds only exclusively;
//! `try_lock_for` (which never queues: it sleeps until the lock is free) whose deadline
//! may expire at any step either acquires exclusively or returns `Ok(false)`, leaves the
//! lock usable, and does not strand a queued locker. Owner death is not detected by this
//! strategy and not modelled.
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

use loom::cell::UnsafeCell;
use loom::model::Builder;
use loom::thread;
use procshare_sync::loom::expire_deadlines;
use procshare_sync::{RawLock, TicketLock};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc; // std's, not loom's: see `Guarded::new`.
use std::time::{Duration, Instant};

/// The strategy under test.
type Lock = TicketLock;

/// A timeout long enough never to pass by itself: under loom only `expire_deadlines` ends it.
const TIMEOUT: Duration = Duration::from_secs(1);

/// A counter guarded by the lock under test.
struct Guarded {
    lock: Lock,
    count: UnsafeCell<u32>,
}

// SAFETY: `count` is only accessed between a successful acquisition of `lock` and the
// matching unlock. Whether the lock really excludes is what the models check: loom's
// `UnsafeCell` panics on any two accesses that the lock failed to order.
unsafe impl Sync for Guarded {}

impl Guarded {
    /// Shared through a std `Arc`, not loom's: its refcount is not part of any protocol
    /// under test, and loom's `Arc::drop` panics when a failing model unwinds, which turns
    /// loom's report into an abort of the whole test binary.
    fn new() -> Arc<Self> {
        Arc::new(Guarded {
            lock: Lock::new(),
            count: UnsafeCell::new(0),
        })
    }

    /// Add one to the counter, then release the lock.
    ///
    /// # Safety
    ///
    /// The caller holds `self.lock`.
    unsafe fn bump_and_unlock(&self) {
        // SAFETY: the caller holds the lock, so no other thread accesses the counter.
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

    /// If `acquired` (what a `try_lock`/`try_lock_for` just returned), add one and
    /// release. Returns `acquired`.
    fn bump_if(&self, acquired: bool) -> bool {
        if acquired {
            // SAFETY: the caller's try_lock / try_lock_for just returned true.
            unsafe { self.bump_and_unlock() };
        }
        acquired
    }

    /// The counter, read under the lock (which must therefore still be usable).
    fn count(&self) -> u32 {
        self.lock.lock().expect("lock");
        // SAFETY: we hold the lock.
        let n = self.count.with(|c| unsafe { *c });
        // SAFETY: acquired just above.
        unsafe { self.lock.unlock() };
        n
    }
}

/// Explore `model` under the `LOOM_MAX_PREEMPTIONS` bound, lowered to `cap` if given, and
/// print how many executions that took. (`LOOM_LOG` traces only uncapped models: the
/// capped ones run through `Builder::check`, which installs no subscriber.)
fn explore(name: &str, cap: Option<usize>, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let counted = move || {
        counter.fetch_add(1, Relaxed);
        model();
    };
    let start = Instant::now();
    match cap {
        None => loom::model(counted),
        Some(cap) => {
            builder.preemption_bound = Some(builder.preemption_bound.map_or(cap, |b| b.min(cap)));
            builder.check(counted);
        }
    }
    eprintln!(
        "{name}: {} executions, preemption bound {:?}, {:.2?}",
        runs.load(Relaxed),
        builder.preemption_bound,
        start.elapsed()
    );
}

/// [`explore`] a model that returns whether its racing acquisition succeeded, and check
/// that some execution acquires and some does not: the race really is explored.
fn explore_race(name: &str, cap: Option<usize>, model: impl Fn() -> bool + Sync + Send + 'static) {
    let seen = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let record = seen.clone();
    explore(name, cap, move || {
        let acquired = model();
        record[usize::from(acquired)].store(true, Relaxed);
    });
    assert!(seen[1].load(Relaxed), "{name}: no execution acquired");
    assert!(seen[0].load(Relaxed), "{name}: every execution acquired");
}

/// Main and `n - 1` spawned threads each add one under the lock.
fn exclusion(name: &str, cap: Option<usize>, n: u32) {
    explore(name, cap, move || {
        let g = Guarded::new();
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

#[test]
fn exclusion_two_threads() {
    exclusion("ticket exclusion_two_threads", None, 2);
}

#[test]
fn exclusion_three_threads() {
    exclusion("ticket exclusion_three_threads", None, 3);
}

/// Main holds the lock while `waiters` spawned lockers contend, and releases it at any
/// point; each of them must still get the lock.
fn held_then_released(name: &str, cap: Option<usize>, waiters: u32) {
    explore(name, cap, move || {
        let g = Guarded::new();
        g.lock.lock().unwrap();
        let handles: Vec<_> = (0..waiters)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.locked_bump())
            })
            .collect();
        // SAFETY: main took the lock above.
        unsafe { g.bump_and_unlock() };
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(g.count(), waiters + 1);
    });
}

#[test]
fn try_lock_fails_while_held() {
    explore("ticket try_lock_fails_while_held", None, || {
        let g = Guarded::new();
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

#[test]
fn try_lock_races_a_holder() {
    explore_race("ticket try_lock_races_a_holder", None, || {
        let g = Guarded::new();
        let g2 = g.clone();
        let holder = thread::spawn(move || g2.locked_bump());
        let acquired = g.bump_if(g.lock.try_lock().unwrap());
        holder.join().unwrap();
        assert_eq!(g.count(), 1 + u32::from(acquired));
        acquired
    });
}

/// `try_lock_for` by main races a holder thread while a clock thread expires the deadline
/// at any step (the clock is spawned first, see the module docs); `count` then checks that
/// the lock is still usable.
#[test]
fn try_lock_for_expires_at_any_step() {
    explore_race("ticket try_lock_for_expires_at_any_step", None, || {
        let g = Guarded::new();
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

/// A `try_lock_for` that starts while main holds the lock: it acquires after main
/// releases, or its deadline expires first; either way the lock stays usable.
#[test]
fn try_lock_for_on_a_held_lock() {
    explore_race("ticket try_lock_for_on_a_held_lock", None, || {
        let g = Guarded::new();
        g.lock.lock().unwrap();
        let clock = thread::spawn(expire_deadlines);
        let g2 = g.clone();
        let timed = thread::spawn(move || g2.bump_if(g2.lock.try_lock_for(TIMEOUT).unwrap()));
        // SAFETY: main took the lock above.
        unsafe { g.bump_and_unlock() };
        let acquired = timed.join().unwrap();
        clock.join().unwrap();
        assert_eq!(g.count(), 1 + u32::from(acquired));
        acquired
    });
}

#[test]
fn held_lock_is_handed_to_a_queued_locker() {
    held_then_released("ticket held_lock_is_handed_to_a_queued_locker", None, 1);
}

#[test]
fn held_lock_is_handed_to_two_queued_lockers() {
    held_then_released("ticket held_lock_is_handed_to_two_queued_lockers", None, 2);
}

/// Main holds the lock while two lockers queue behind it, one after the other (main waits
/// for each ticket to be taken). The second in line sleeps at once, the first after one
/// spin; main releases at any point of that. Each must get the lock, in ticket order: a
/// locker checks that it sees the count its predecessors left.
#[test]
fn forced_queued_lockers_are_served_in_fifo_order() {
    explore(
        "ticket forced_queued_lockers_are_served_in_fifo_order",
        None,
        || {
            let g = Guarded::new();
            g.lock.lock().unwrap();
            let mut handles = Vec::new();
            for position in 1..=2 {
                let g2 = g.clone();
                handles.push(thread::spawn(move || {
                    g2.lock.lock().unwrap();
                    // SAFETY: acquired just above.
                    let seen = g2.count.with(|c| unsafe { *c });
                    // SAFETY: acquired just above.
                    unsafe { g2.bump_and_unlock() };
                    assert_eq!(seen, position, "served out of ticket order");
                }));
                while g.lock.tickets_issued() != position + 1 {
                    thread::yield_now();
                }
            }
            // SAFETY: main took the lock above.
            unsafe { g.bump_and_unlock() };
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(g.count(), 3);
        },
    );
}

/// A `try_lock_for` and a queued `lock` wait on a held lock while the clock may expire at
/// any step: both sleep on `serving`, and the release must wake them both. Preemption
/// bound 2: with 3 it explores ~600k executions (~2 min).
#[test]
fn try_lock_for_beside_a_queued_locker() {
    explore_race(
        "ticket try_lock_for_beside_a_queued_locker",
        Some(2),
        || {
            let g = Guarded::new();
            g.lock.lock().unwrap();
            let clock = thread::spawn(expire_deadlines);
            let g2 = g.clone();
            let timed = thread::spawn(move || g2.bump_if(g2.lock.try_lock_for(TIMEOUT).unwrap()));
            let g3 = g.clone();
            let queued = thread::spawn(move || g3.locked_bump());
            // SAFETY: main took the lock above.
            unsafe { g.bump_and_unlock() };
            let acquired = timed.join().unwrap();
            queued.join().unwrap();
            clock.join().unwrap();
            assert_eq!(g.count(), 2 + u32::from(acquired));
            acquired
        },
    );
}
