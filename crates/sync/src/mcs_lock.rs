//! `McsLock`: the Mellor-Crummey–Scott queue lock, with its queue nodes inside the lock
//! and addressed by index; waiters spin on their own node, then sleep on it.
//!
//! Algorithm: J. M. Mellor-Crummey and M. L. Scott, "Algorithms for scalable
//! synchronization on shared-memory multiprocessors", ACM TOCS 9(1), 1991 (the MCS list
//! lock). A locker appends its node to the queue with one swap of `tail` and links itself
//! behind its predecessor; each waiter waits on a word *of its own node* (its own cache
//! line: no cache-line storm when the lock changes hands), and the holder hands the lock
//! to its successor by writing that word. Acquisitions through `lock` are FIFO.
//!
//! # Nodes in shared memory
//!
//! The paper's nodes are per-thread records reached by pointers. Across processes a
//! pointer means nothing, so the `N` nodes live in the lock itself, one 64-byte line each,
//! and every link (`tail`, `next`) is a node *index* plus one (0: none). A locker claims a
//! free node for one acquisition (its `owner` word: 0 → thread id, a CAS) and frees it when
//! its release has handed the lock on; at most `N` callers queue at once, more wait
//! (yielding) for a free node. The waiting word is a futex: a waiter spins a little, then
//! announces `SLEEPING` and sleeps; the hand-off wakes it only if it announced.
//!
//! | word               | meaning                                                    |
//! |--------------------|------------------------------------------------------------|
//! | `tail`             | `0`: nobody queued or holding; `k + 1`: node `k` is last   |
//! | `holder`           | `k + 1` while node `k` holds the lock (read by `unlock`)   |
//! | `node.owner`       | `0`: node free; `tid`: claimed                             |
//! | `node.pid`         | the claimer's process id (diagnostics)                     |
//! | `node.next`        | `0`: no successor linked yet; `k + 1`: node `k` follows     |
//! | `node.state`       | `WAITING` / `SLEEPING` (a futex sleeper) / `GRANTED`        |
//!
//! Transitions: claim a node; `next = 0`, `state = WAITING`; `pred = tail.swap(me)`
//! (AcqRel); if `pred != 0`, `pred.next = me` (Release) and wait until `state == GRANTED`
//! (Acquire), sleeping after `state: WAITING → SLEEPING` (CAS). Release: if `next == 0`,
//! `tail: me → 0` (CAS, Release) ends it; otherwise (or when that CAS fails because a
//! successor is linking itself) wait for `next`, then `successor.state.swap(GRANTED)`
//! (Release) and wake it if it was `SLEEPING`; then free the node.
//!
//! Timeouts: a queued node cannot leave the queue in this lock (the paper's abortable
//! variants need more states), so `try_lock` and `try_lock_for` never queue: they take the
//! lock only when the queue is empty (`tail: 0 → me`), and `try_lock_for` polls (yielding)
//! until then or its deadline; under steady contention it may starve.
//!
//! # Owner death
//!
//! **Not detected; documented wedge.** The nodes record pids, but a waiter only sees its
//! own node, and a dead process can be anywhere in the queue. A holder killed inside its
//! critical section never hands on, and a *waiter* killed in the queue is handed the lock
//! and never passes it on: either way every later locker waits for ever (`lock`) or until
//! its timeout (`try_lock_for` returns false). `tests/zoo.rs` shows both.
//!
//! Tested by `tests/loom_mcs_lock.rs` (exclusion with 2 and 3 threads, hand-off to
//! sleeping waiters with no lost wake-up, `try_lock`, timeouts at any step; a broken
//! variant whose release forgets the successor that is still linking itself fails), by
//! the catalog of `procshare-harness` and the cross-process tests of `procshare`.

use crate::loom::{futex_wait, futex_wake, spin_loop, AtomicU32, Backoff, Deadline, Ordering};
use crate::{loom, slots, LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// `node.state`: queued, not sleeping.
const WAITING: u32 = 1;
/// `node.state`: queued, asleep (or about to be) in `futex_wait` on the word.
const SLEEPING: u32 = 2;
/// `node.state`: the predecessor handed the lock over.
const GRANTED: u32 = 0;

/// How many times a queued waiter checks its word before it sleeps.
const SPINS: u32 = if cfg!(loom) { 1 } else { 100 };

/// Read `word` with a read-modify-write (Acquire), in loops that poll for another party's
/// store: an RMW always reads the latest value in the word's modification order, where a
/// plain load is only promised to see it *eventually*. (loom, which has no "eventually",
/// lets a polling load read the old value for ever while the writer sleeps.)
fn fresh(word: &AtomicU32) -> u32 {
    word.fetch_or(0, Ordering::Acquire)
}

/// One queue node: one cache line.
#[repr(C, align(64))]
#[derive(Debug)]
struct Node {
    owner: AtomicU32,
    pid: AtomicU32,
    next: AtomicU32,
    state: AtomicU32,
}

impl Node {
    fn new() -> Self {
        Node {
            owner: AtomicU32::new(0),
            pid: AtomicU32::new(0),
            next: AtomicU32::new(0),
            state: AtomicU32::new(GRANTED),
        }
    }
}

/// An MCS queue lock with `N` queue nodes (at most `N` callers queue at once; more wait
/// for a node). Default `N = 16`: 17 cache lines.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct McsLock<const N: usize = 16> {
    tail: AtomicU32,
    holder: AtomicU32,
    nodes: [Node; N],
}

impl<const N: usize> McsLock<N> {
    /// An unlocked lock (for in-process use and loom models).
    pub fn new() -> Self {
        const { assert!(N >= 1 && N < (u32::MAX as usize)) };
        McsLock {
            tail: AtomicU32::new(0),
            holder: AtomicU32::new(0),
            nodes: std::array::from_fn(|_| Node::new()),
        }
    }

    /// The node index `link` names (`link` is index + 1, non-zero).
    fn node(&self, link: u32) -> &Node {
        &self.nodes[link as usize - 1]
    }

    /// Claim a node and reset it for queueing; its link (index + 1). `None` if every node
    /// is taken and `wait` is false.
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
                let n = &self.nodes[i];
                n.pid.store(loom::current_owner(), Ordering::Relaxed);
                n.next.store(0, Ordering::Relaxed);
                n.state.store(WAITING, Ordering::Relaxed);
                return Some(i as u32 + 1);
            }
            if !wait {
                return None;
            }
            backoff.snooze();
        }
    }

    fn free(&self, link: u32) {
        let n = self.node(link);
        n.pid.store(0, Ordering::Relaxed);
        slots::free(&n.owner);
    }

    /// Wait until node `link` is granted the lock.
    fn wait_granted(&self, link: u32) {
        let state = &self.node(link).state;
        for _ in 0..SPINS {
            if state.load(Ordering::Acquire) == GRANTED {
                return;
            }
            spin_loop();
        }
        loop {
            match state.compare_exchange(WAITING, SLEEPING, Ordering::Acquire, Ordering::Acquire) {
                Err(GRANTED) => return,
                Ok(_) | Err(_) => {
                    futex_wait(state, SLEEPING, &Deadline::never());
                }
            }
        }
    }

    /// Take the lock only if nobody holds or queues for it. `poll`: the caller polls in
    /// a loop, so it reads `tail` with a read-modify-write (see [`fresh`]).
    fn try_enqueue_alone(&self, poll: bool) -> bool {
        let tail = if poll {
            fresh(&self.tail)
        } else {
            self.tail.load(Ordering::Relaxed)
        };
        if tail != 0 {
            return false;
        }
        let Some(me) = self.claim(false) else {
            return false;
        };
        // AcqRel, not just Acquire: the Release half publishes the node's reset `next`
        // (by `claim`) to the next locker, whose link into `next` must come after it in
        // `next`'s modification order (loom found the lost link with Acquire alone).
        if self
            .tail
            .compare_exchange(0, me, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.holder.store(me, Ordering::Relaxed);
            true
        } else {
            self.free(me);
            false
        }
    }

    /// Release by node `me`; `broken` skips the wait for a successor that is linking
    /// itself (the loom control).
    fn release(&self, broken: bool) {
        let me = self.holder.swap(0, Ordering::Relaxed);
        debug_assert!(me != 0, "unlock of an unlocked MCS lock");
        let node = self.node(me);
        let mut next = node.next.load(Ordering::Acquire);
        if next == 0 {
            if self
                .tail
                .compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                self.free(me);
                return;
            }
            if broken {
                // The bug: the successor swapped `tail` but has not linked itself yet; it
                // is never granted the lock.
                self.free(me);
                return;
            }
            let mut backoff = Backoff::new();
            loop {
                next = fresh(&node.next);
                if next != 0 {
                    break;
                }
                backoff.snooze();
            }
        }
        if self.node(next).state.swap(GRANTED, Ordering::Release) == SLEEPING {
            futex_wake(&self.node(next).state, 1);
        }
        self.free(me);
    }

    fn lock_queued(&self) {
        let me = self.claim(true).expect("claim waits for a node");
        let pred = self.tail.swap(me, Ordering::AcqRel);
        if pred != 0 {
            // A swap, not a store: the releaser polls `next` with read-modify-writes, and
            // RMWs on one word are totally ordered, so its next poll reads this link
            // (between a plain store and polling RMWs loom, which has no eventual
            // visibility, lets the poll read its own older value for ever).
            self.node(pred).next.swap(me, Ordering::Release);
            self.wait_granted(me);
        }
        self.holder.store(me, Ordering::Relaxed);
    }

    /// Release forgetting a successor that is still linking itself: the loom control.
    #[cfg(loom)]
    pub(crate) fn release_broken(&self) {
        self.release(true);
    }
}

impl<const N: usize> McsLock<N> {
    /// How many queue nodes are claimed right now (holder, waiters): a diagnostic that
    /// lets tests wait until a process has queued.
    pub fn nodes_claimed(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.owner.load(Ordering::Relaxed) != 0)
            .count()
    }
}

impl<const N: usize> Default for McsLock<N> {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion: a caller holds the lock from the moment its swap of `tail` returned 0
// (or its CAS `0 → me` succeeded) or its node was GRANTED, until its release grants the
// next node or empties `tail`; each node is granted by its unique predecessor once, so at
// most one holds. Ordering: the hand-off is a Release swap read by the successor's Acquire
// load/CAS; emptying the queue is a Release CAS that the next `tail` swap (AcqRel) or CAS
// (Acquire) reads. All state is AtomicU32s holding indices, no pointers; the futex is
// shared. `try_lock_for` gives up only once its `Deadline` has expired.
unsafe impl<const N: usize> RawLock for McsLock<N> {
    const NAME: &'static str = "mcs";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(McsLock::new());
        Ok(())
    }

    fn lock(&self) -> Result<(), LockError> {
        self.lock_queued();
        Ok(())
    }

    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.try_enqueue_alone(false))
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        let deadline = Deadline::after(timeout);
        let mut backoff = Backoff::new();
        loop {
            if self.try_enqueue_alone(true) {
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
}

// SAFETY: AtomicU32 words holding indices, no pointers; the futex is shared.
unsafe impl<const N: usize> crate::ProcessShared for McsLock<N> {}
