//! `ClhLock`: the Craig / Landin–Hagersten queue lock, with its queue nodes inside the
//! lock and addressed by index; each waiter spins on its predecessor's node, then sleeps
//! on it.
//!
//! Algorithm: T. S. Craig, "Building FIFO and priority-queuing spin locks from atomic
//! swap", TR 93-02-02, University of Washington, 1993; P. Magnusson, A. Landin and
//! E. Hagersten, "Queue locks on cache coherent multiprocessors", IPPS 1994. The queue is
//! implicit: `tail` names the last node; a locker marks its own node locked, swaps it into
//! `tail` and waits until the node it displaced (its predecessor) is released. A release
//! is one store to the holder's own node. Unlike MCS no `next` links exist, so a release
//! never waits for a successor; in exchange the waiter spins on *another* process's node.
//! Acquisitions through `lock` are FIFO.
//!
//! # Nodes in shared memory
//!
//! As in [`McsLock`](crate::McsLock), the `N` nodes live in the lock (one 64-byte line
//! each) and `tail` holds a node index plus one, never a pointer. In CLH a node outlives
//! its holder's critical section: it stays the queue's tail (or its successor's
//! predecessor) until the successor has seen it released, and it is that *successor* who
//! frees it (the paper's "take your predecessor's node"). Node 0 starts as a released
//! dummy tail. So at most `N - 1` callers queue at once; more wait (yielding) for a node.
//!
//! `tail` is 64 bits: the node's link in the low half and a counter in the high half that
//! every enqueue increments, so that `try_lock`'s compare-and-swap cannot mistake a tail
//! node that was freed and enqueued again for the released one it looked at (ABA).
//!
//! | word          | meaning                                                          |
//! |---------------|------------------------------------------------------------------|
//! | `tail`        | `counter << 32 \| (k + 1)`: node `k` is the last in the queue    |
//! | `holder`      | `k + 1` while node `k` holds the lock (read by `unlock`)         |
//! | `node.owner`  | `0`: free; otherwise claimed (a thread id, or `DUMMY`)            |
//! | `node.state`  | `LOCKED` / `SLEEPING` (a successor sleeps on it) / `RELEASED`     |
//!
//! Transitions: claim a node; `state = LOCKED`; `pred = tail.swap(me)` (a CAS loop that
//! bumps the counter, AcqRel); wait until `pred.state == RELEASED` (Acquire), sleeping
//! after `pred.state: LOCKED → SLEEPING` (CAS); free `pred`. Release:
//! `state.swap(RELEASED)` (Release), waking the successor if it was `SLEEPING`.
//!
//! Timeouts: a queued node cannot leave (the abortable variants need more states), so
//! `try_lock` takes the lock only if the tail node is released (enqueueing behind it with
//! one CAS), and `try_lock_for` polls that (yielding) until its deadline; under steady
//! contention it may starve.
//!
//! # Owner death
//!
//! **Not detected; documented wedge.** A holder killed inside its critical section never
//! releases its node; a waiter killed in the queue never releases *its* node once it
//! inherits the lock. Every later locker waits for ever (`lock`) or until its timeout
//! (`try_lock_for` returns false). `tests/zoo.rs` shows both.
//!
//! Tested by `tests/loom_clh_lock.rs` (exclusion with 2 and 3 threads, hand-off to
//! sleeping waiters with no lost wake-up, `try_lock`, timeouts at any step; a broken
//! variant that frees its own node at release instead of leaving it to the successor
//! fails), by the catalog of `procshare-harness` and the cross-process tests of
//! `procshare`.

use crate::loom::{
    futex_wait, futex_wake, spin_loop, AtomicU32, AtomicU64, Backoff, Deadline, Ordering,
};
use crate::{slots, LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// `node.state`: its claimer holds or waits for the lock.
const LOCKED: u32 = 1;
/// `node.state`: locked, and the successor sleeps (or is about to) on the word.
const SLEEPING: u32 = 2;
/// `node.state`: released: the successor may go.
const RELEASED: u32 = 0;
/// `node.owner` of the initial dummy tail.
const DUMMY: u32 = u32::MAX;

/// How many times a waiter checks its predecessor before it sleeps.
const SPINS: u32 = if cfg!(loom) { 1 } else { 100 };

/// One queue node: one cache line.
#[repr(C, align(64))]
#[derive(Debug)]
struct Node {
    owner: AtomicU32,
    state: AtomicU32,
}

/// A CLH queue lock with `N` queue nodes (at most `N - 1` callers queue at once; more
/// wait for a node). Default `N = 16`: 17 cache lines.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct ClhLock<const N: usize = 16> {
    tail: AtomicU64,
    holder: AtomicU32,
    nodes: [Node; N],
}

/// The node link in a `tail` word.
fn link(tail: u64) -> u32 {
    tail as u32
}

/// `tail` after enqueueing `me` over `old`.
fn bumped(old: u64, me: u32) -> u64 {
    ((old >> 32).wrapping_add(1) << 32) | u64::from(me)
}

impl<const N: usize> ClhLock<N> {
    /// An unlocked lock (for in-process use and loom models).
    pub fn new() -> Self {
        const { assert!(N >= 2 && N < (u32::MAX as usize)) };
        ClhLock {
            tail: AtomicU64::new(1),
            holder: AtomicU32::new(0),
            nodes: std::array::from_fn(|i| Node {
                owner: AtomicU32::new(if i == 0 { DUMMY } else { 0 }),
                state: AtomicU32::new(RELEASED),
            }),
        }
    }

    fn node(&self, link: u32) -> &Node {
        &self.nodes[link as usize - 1]
    }

    /// Claim a node, marked `LOCKED`; its link. `None` if none is free and `!wait`.
    fn claim(&self, wait: bool) -> Option<u32> {
        let me = slots::me();
        let mut backoff = Backoff::new();
        loop {
            let free = self.nodes.iter().position(|n| {
                n.owner.load(Ordering::Relaxed) == 0
                    && n.owner
                        .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
            });
            if let Some(i) = free {
                self.nodes[i].state.store(LOCKED, Ordering::Relaxed);
                return Some(i as u32 + 1);
            }
            if !wait {
                return None;
            }
            backoff.snooze();
        }
    }

    /// Wait until node `pred` is released.
    fn wait_released(&self, pred: u32) {
        let state = &self.node(pred).state;
        for _ in 0..SPINS {
            if state.load(Ordering::Acquire) == RELEASED {
                return;
            }
            spin_loop();
        }
        loop {
            match state.compare_exchange(LOCKED, SLEEPING, Ordering::Acquire, Ordering::Acquire) {
                Err(RELEASED) => return,
                Ok(_) | Err(_) => {
                    futex_wait(state, SLEEPING, &Deadline::never());
                }
            }
        }
    }

    fn lock_queued(&self) {
        let me = self.claim(true).expect("claim waits for a node");
        let mut old = self.tail.load(Ordering::Relaxed);
        while let Err(now) = self.tail.compare_exchange_weak(
            old,
            bumped(old, me),
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            old = now;
        }
        let pred = link(old);
        self.wait_released(pred);
        slots::free(&self.node(pred).owner);
        self.holder.store(me, Ordering::Relaxed);
    }

    /// Enqueue only behind a released tail node: the lock is then ours at once. `poll`:
    /// the caller polls in a loop, so it reads with read-modify-writes, which always see
    /// the latest value (a plain load is only promised to see it *eventually*; loom, which
    /// has no "eventually", lets a polling load read the old value for ever).
    fn try_enqueue_released(&self, poll: bool) -> bool {
        let old = if poll {
            self.tail.fetch_or(0, Ordering::Acquire)
        } else {
            self.tail.load(Ordering::Acquire)
        };
        let pred = link(old);
        let state = &self.node(pred).state;
        let released = if poll {
            state.fetch_or(0, Ordering::Acquire)
        } else {
            state.load(Ordering::Acquire)
        };
        if released != RELEASED {
            return false;
        }
        let Some(me) = self.claim(false) else {
            return false;
        };
        if self
            .tail
            .compare_exchange(old, bumped(old, me), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            // `pred` was the tail while released; the counter proves it still was at the
            // CAS (it is not a node freed and enqueued again meanwhile).
            slots::free(&self.node(pred).owner);
            self.holder.store(me, Ordering::Relaxed);
            true
        } else {
            slots::free(&self.node(me).owner);
            false
        }
    }

    /// Release by the holder; `broken` also frees the holder's own node at once (the loom
    /// control: a new claimer may reset it to `LOCKED` before the successor saw it
    /// released).
    fn release(&self, broken: bool) {
        let me = self.holder.swap(0, Ordering::Relaxed);
        debug_assert!(me != 0, "unlock of an unlocked CLH lock");
        let state = &self.node(me).state;
        if state.swap(RELEASED, Ordering::Release) == SLEEPING {
            futex_wake(state, 1);
        }
        if broken {
            slots::free(&self.node(me).owner);
        }
    }

    /// The broken release of the loom control.
    #[cfg(loom)]
    pub(crate) fn release_broken(&self) {
        self.release(true);
    }
}

impl<const N: usize> ClhLock<N> {
    /// How many queue nodes are claimed right now (holder, waiters, and the released tail node): a diagnostic that
    /// lets tests wait until a process has queued.
    pub fn nodes_claimed(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.owner.load(Ordering::Relaxed) != 0)
            .count()
    }
}

impl<const N: usize> Default for ClhLock<N> {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion: every enqueue displaces a unique predecessor node (CAS on `tail`),
// so the queue is a chain; a caller holds the lock from when its predecessor is RELEASED
// until it releases its own node, which only its unique successor waits on. Ordering: the
// release is a Release swap read by the successor's Acquire load/CAS. The state is
// AtomicU32/AtomicU64 words holding indices, no pointers; the futex is shared.
// `try_lock_for` gives up only once its `Deadline` has expired.
unsafe impl<const N: usize> RawLock for ClhLock<N> {
    const NAME: &'static str = "clh";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(ClhLock::new());
        Ok(())
    }

    fn lock(&self) -> Result<(), LockError> {
        self.lock_queued();
        Ok(())
    }

    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.try_enqueue_released(false))
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        let deadline = Deadline::after(timeout);
        let mut backoff = Backoff::new();
        loop {
            if self.try_enqueue_released(true) {
                return Ok(true);
            }
            if deadline.expired() {
                return Ok(false);
            }
            backoff.snooze();
        }
    }

    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.release(false);
        Ok(())
    }

    /// Node 0 the released dummy tail again, every other node free (as `new`).
    unsafe fn reset_idle(&self) {
        for (i, n) in self.nodes.iter().enumerate() {
            n.state.store(RELEASED, Ordering::Relaxed);
            n.owner
                .store(if i == 0 { DUMMY } else { 0 }, Ordering::Relaxed);
        }
        self.holder.store(0, Ordering::Relaxed);
        // Release: a caller that hands the lock on after this (a pipe, a futex) publishes
        // the words above with it.
        self.tail.store(1, Ordering::Release);
    }
}

// SAFETY: AtomicU32/AtomicU64 words holding indices, no pointers; the futex is shared.
unsafe impl<const N: usize> crate::ProcessShared for ClhLock<N> {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The words that make up the lock's state, in order.
    fn words<const N: usize>(l: &ClhLock<N>) -> Vec<u64> {
        let mut w = vec![l.tail.load(Ordering::Relaxed)];
        w.push(l.holder.load(Ordering::Relaxed).into());
        for n in &l.nodes {
            w.push(n.owner.load(Ordering::Relaxed).into());
            w.push(n.state.load(Ordering::Relaxed).into());
        }
        w
    }

    #[test]
    fn an_idle_lock_is_reset_to_the_state_new_left_it_in() {
        let l = ClhLock::<4>::new();
        let fresh = words(&l);
        for _ in 0..3 {
            l.lock().unwrap();
            // SAFETY: locked just above.
            unsafe { l.unlock().unwrap() };
        }
        assert!(l.try_lock().unwrap());
        // SAFETY: locked just above.
        unsafe { l.unlock().unwrap() };
        // Idle, but the released tail node moved on and the counter counted.
        assert_ne!(words(&l), fresh);
        assert_eq!(l.nodes_claimed(), 1, "only the released tail node");
        // SAFETY: no one else uses this lock.
        unsafe { l.reset_idle() };
        assert_eq!(words(&l), fresh);
        // And it still works.
        assert!(l.try_lock().unwrap());
        assert!(!l.try_lock().unwrap());
        // SAFETY: locked just above.
        unsafe { l.unlock().unwrap() };
    }
}
