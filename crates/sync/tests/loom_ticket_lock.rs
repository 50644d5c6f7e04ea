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

mod common;

use common::explore;
use common::raw_lock::{self, at_any_point, Guarded};
use loom::thread;
use procshare_sync::{RawLock, TicketLock};

#[test]
fn exclusion_two_threads() {
    raw_lock::exclusion("ticket exclusion_two_threads", None, TicketLock::new, 2);
}

#[test]
fn exclusion_three_threads() {
    raw_lock::exclusion("ticket exclusion_three_threads", None, TicketLock::new, 3);
}

#[test]
fn try_lock_fails_while_held() {
    raw_lock::try_lock_fails_while_held("ticket try_lock_fails_while_held", TicketLock::new);
}

#[test]
fn try_lock_races_a_holder() {
    raw_lock::try_lock_races_a_holder("ticket try_lock_races_a_holder", TicketLock::new);
}

/// `try_lock_for` by main races a holder thread while a clock thread expires the deadline
/// at any step (the clock is spawned first, see the module docs); `count` then checks that
/// the lock is still usable.
#[test]
fn try_lock_for_expires_at_any_step() {
    raw_lock::try_lock_for_expires_at_any_step(
        "ticket try_lock_for_expires_at_any_step",
        TicketLock::new,
    );
}

/// A `try_lock_for` that starts while main holds the lock: it acquires after main
/// releases, or its deadline expires first; either way the lock stays usable.
#[test]
fn try_lock_for_on_a_held_lock() {
    raw_lock::try_lock_for_on_a_held_lock(
        "ticket try_lock_for_on_a_held_lock",
        TicketLock::new,
        at_any_point,
    );
}

/// Main holds the lock while a locker queues behind it, and releases it at any point.
#[test]
fn held_lock_is_handed_to_a_queued_locker() {
    raw_lock::held_then_released(
        "ticket held_lock_is_handed_to_a_queued_locker",
        None,
        TicketLock::new,
        1,
        at_any_point,
    );
}

/// As `held_lock_is_handed_to_a_queued_locker`, with two lockers.
#[test]
fn held_lock_is_handed_to_two_queued_lockers() {
    raw_lock::held_then_released(
        "ticket held_lock_is_handed_to_two_queued_lockers",
        None,
        TicketLock::new,
        2,
        at_any_point,
    );
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
            let g = Guarded::new(TicketLock::new());
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
    raw_lock::try_lock_for_beside_a_locker(
        "ticket try_lock_for_beside_a_queued_locker",
        Some(2),
        TicketLock::new,
        at_any_point,
    );
}
