//! `Condition`: CPython's condition variable, across processes.
//!
//! Like CPython's `threading.Condition` (which keeps one lock per waiter in a FIFO), every
//! waiter takes a *slot* of its own: a state word that only a notifier changes, an
//! [`AdaptiveWait`] on which the waiter spins briefly and then sleeps until the state
//! changes, and a ticket that orders waiters. All bookkeeping happens under the condition's lock, so
//! `notify(n)` marks exactly the `n` longest-waiting slots, a waiter that timed out removes
//! its slot before anyone can pick it, and a notification with nobody waiting leaves no
//! credit behind. The wake-up itself is deferred until the notifier releases the lock
//! (through [`Condition::release`] or a `wait`), so the woken waiter finds the lock free
//! instead of waking only to sleep on it again, and it costs a system call only if the
//! waiter had stopped spinning and announced its sleep; each sleep is bounded by the 50 ms
//! liveness slice, so a deferred wake is never lost (a notifier that releases the bare
//! lock, or dies, delays its waiter by at most one slice). The lock is a [`Lock`] or an
//! [`RLock`] (default), embedded in the
//! condition; an `RLock` held at depth `d` is released entirely for the wait and restored
//! to depth `d`.
//!
//! Capacity: `N` slots (default 32), fixed when the condition is created; one more waiter
//! gets [`SyncError::TooManyWaiters`] (slots of waiters that died are reclaimed first).
//!
//! Checked by `tests/loom_condition.rs` (no lost notify, `notify(n)` wakes at most `n`,
//! timeouts at every step; a variant whose notify does not wake must fail) and by the
//! cross-process tests in `tests/sync_objects.rs`.

use crate::liveness;
use crate::loom::{self, AtomicU32, Deadline, Ordering};
use crate::{AdaptiveWait, Lock, ProcessShared, RLock, SyncError};
use std::time::Duration;

const FREE: u32 = 0;
const WAITING: u32 = 1;
const NOTIFIED: u32 = 2;
/// Notified, but the wake-up is deferred until the notifier releases the lock.
const PENDING: u32 = 3;

/// A lock a [`Condition`] can be built on: [`Lock`] or [`RLock`].
pub trait ConditionLock: ProcessShared + Default + sealed::Sealed {
    /// Acquire.
    fn acquire(&self) -> Result<(), SyncError>;
    /// Release.
    fn release(&self) -> Result<(), SyncError>;
    /// Held by the calling thread?
    fn is_owned(&self) -> bool;
    /// Release entirely before a wait; what `acquire_restore` needs.
    #[doc(hidden)]
    fn release_save(&self) -> Result<u32, SyncError>;
    /// Acquire after a wait, restoring what `release_save` returned.
    #[doc(hidden)]
    fn acquire_restore(&self, saved: u32) -> Result<(), SyncError>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Lock {}
    impl Sealed for crate::RLock {}
}

impl ConditionLock for Lock {
    fn acquire(&self) -> Result<(), SyncError> {
        Lock::acquire(self)
    }
    fn release(&self) -> Result<(), SyncError> {
        Lock::release(self)
    }
    fn is_owned(&self) -> bool {
        self.is_mine()
    }
    fn release_save(&self) -> Result<u32, SyncError> {
        Lock::release(self).map(|()| 1)
    }
    fn acquire_restore(&self, _saved: u32) -> Result<(), SyncError> {
        Lock::acquire(self)
    }
}

impl ConditionLock for RLock {
    fn acquire(&self) -> Result<(), SyncError> {
        RLock::acquire(self)
    }
    fn release(&self) -> Result<(), SyncError> {
        RLock::release(self)
    }
    fn is_owned(&self) -> bool {
        RLock::is_owned(self)
    }
    fn release_save(&self) -> Result<u32, SyncError> {
        self.release_all()
    }
    fn acquire_restore(&self, saved: u32) -> Result<(), SyncError> {
        RLock::acquire_restore(self, saved)
    }
}

/// One waiter's place.
///
/// | `state`    | meaning                                   | set by                      |
/// |------------|-------------------------------------------|-----------------------------|
/// | `FREE`     | nobody's                                  | the waiter leaving, or a reclaim (lock held) |
/// | `WAITING`  | its waiter waits (spins or sleeps on `wait`) | the waiter (lock held)   |
/// | `PENDING`  | notified, wake-up deferred to the release | `notify` (lock held)        |
/// | `NOTIFIED` | notified and (if it slept) woken          | `flush` (CAS from `PENDING`), then `wait.notify_one` |
#[repr(C)]
#[derive(Debug)]
struct Slot {
    /// FREE, WAITING, PENDING or NOTIFIED.
    state: AtomicU32,
    /// Where the slot's waiter waits for `state` to leave `WAITING`; the notifier's
    /// `flush` makes a system call only if the waiter has announced that it sleeps.
    wait: AdaptiveWait,
    /// Order of arrival (wrapping); written under the lock.
    ticket: AtomicU32,
    /// The waiter's pid, to reclaim slots of waiters that died.
    pid: AtomicU32,
    /// When the waiter started waiting (`monotonic_ms`, truncated to 32 bits).
    since: AtomicU32,
}

/// A process-shared condition variable over an embedded lock `L`, with `N` waiter slots.
#[repr(C)]
#[derive(Debug)]
pub struct Condition<L: ConditionLock = RLock, const N: usize = 32> {
    lock: L,
    next_ticket: AtomicU32,
    slots: [Slot; N],
}

impl<L: ConditionLock, const N: usize> Default for Condition<L, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: ConditionLock, const N: usize> Condition<L, N> {
    /// A new condition with its own, unlocked lock.
    pub fn new() -> Self {
        Condition {
            lock: L::default(),
            next_ticket: AtomicU32::new(0),
            slots: std::array::from_fn(|_| Slot {
                state: AtomicU32::new(FREE),
                wait: AdaptiveWait::new(),
                ticket: AtomicU32::new(0),
                pid: AtomicU32::new(0),
                since: AtomicU32::new(0),
            }),
        }
    }

    /// The condition's lock.
    pub fn lock(&self) -> &L {
        &self.lock
    }

    /// Acquire the condition's lock.
    pub fn acquire(&self) -> Result<(), SyncError> {
        self.lock.acquire()
    }

    /// Release the condition's lock, then wake the waiters notified while it was held.
    pub fn release(&self) -> Result<(), SyncError> {
        self.lock.release()?;
        self.flush();
        Ok(())
    }

    /// Send the wake-ups that `notify` deferred. Runs *after* the lock is released, so a
    /// woken waiter finds the lock free instead of waking only to sleep on it again. A
    /// slot is claimed with a CAS, so each deferred wake is sent once; a waiter that has
    /// moved on (its slot freed or reused) makes the CAS fail, and a stray wake on a
    /// reused slot is harmless (waiters re-check their slot). A waiter that is still
    /// spinning sees `NOTIFIED` by itself: then no system call is made.
    fn flush(&self) {
        for slot in &self.slots {
            if slot.state.load(Ordering::Relaxed) == PENDING
                && slot
                    .state
                    .compare_exchange(PENDING, NOTIFIED, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
            {
                slot.wait.notify_one();
            }
        }
    }

    /// Number of waiter slots.
    pub fn capacity(&self) -> usize {
        N
    }

    /// Number of live processes waiting and not yet notified. Call with the lock held.
    pub fn waiting(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| {
                s.state.load(Ordering::Relaxed) == WAITING
                    && !liveness::is_dead(s.pid.load(Ordering::Relaxed))
            })
            .count()
    }

    /// Is the waiter in `slot` still there to be woken? A waiter that died must not
    /// swallow a notification, but only a proof of death counts (see
    /// [`liveness`](crate::liveness)). Probes cost system calls, so a waiter that began
    /// to wait in the current millisecond (by `monotonic_ms`) is not probed at all: a busy
    /// ping-pong makes no system call for it. Older waiters get the quick probe
    /// (`kill(pid, 0)`, which catches reaped processes) and the full one (a pidfd, which
    /// also catches zombies). The price: a waiter killed less than a millisecond after it
    /// began to wait may swallow one notification. Where the clock is not real (loom,
    /// virtual time, where `monotonic_ms` is always 0) every waiter gets the quick probe.
    fn waiter_alive(slot: &Slot) -> bool {
        let pid = slot.pid.load(Ordering::Relaxed);
        let age = (loom::monotonic_ms() as u32).wrapping_sub(slot.since.load(Ordering::Relaxed));
        if age < 1 && real_clock() {
            return true;
        }
        if liveness::is_gone(pid) {
            return false;
        }
        age < 1 || !liveness::is_dead(pid)
    }

    fn take_slot(&self) -> Result<&Slot, SyncError> {
        let free = || {
            self.slots
                .iter()
                .find(|s| s.state.load(Ordering::Relaxed) == FREE)
        };
        if let Some(slot) = free() {
            return Ok(slot);
        }
        // Full: reclaim the slots of waiters that died while waiting.
        for s in &self.slots {
            if s.state.load(Ordering::Relaxed) != FREE
                && liveness::is_dead(s.pid.load(Ordering::Relaxed))
            {
                s.state.store(FREE, Ordering::Relaxed);
            }
        }
        free().ok_or(SyncError::TooManyWaiters { capacity: N })
    }

    /// Release the lock, wait until notified or until `timeout` passes (`None`: no
    /// limit), and acquire the lock again. Returns true if notified, false on timeout
    /// (never earlier). The lock must be held ([`SyncError::NotOwner`] otherwise).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        self.wait_until(&timeout.map_or_else(Deadline::never, Deadline::after))
    }

    /// The one waiting path behind `wait` and `wait_for`: passes the `Release` point.
    fn wait_until(&self, deadline: &Deadline) -> Result<bool, SyncError> {
        crate::hook::point(crate::hook::Point::Release);
        if !self.lock.is_owned() {
            return Err(SyncError::NotOwner);
        }
        let slot = self.take_slot()?;
        let ticket = self.next_ticket.load(Ordering::Relaxed);
        self.next_ticket
            .store(ticket.wrapping_add(1), Ordering::Relaxed);
        slot.ticket.store(ticket, Ordering::Relaxed);
        slot.pid.store(loom::current_owner(), Ordering::Relaxed);
        slot.since
            .store(loom::monotonic_ms() as u32, Ordering::Relaxed);
        slot.state.store(WAITING, Ordering::Relaxed);
        let saved = match self.lock.release_save() {
            Ok(saved) => saved,
            Err(e) => {
                slot.state.store(FREE, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.flush();
        // Wait until notified: spin, then sleep. The liveness slice bounds each sleep: a
        // wake deferred by a notifier that then released the lock some other way than
        // through this condition (or died) is found by re-checking the slot.
        loop {
            let notified = slot.wait.wait_until(
                || slot.state.load(Ordering::Acquire) != WAITING,
                &deadline.or_liveness_check(),
            );
            if notified || deadline.expired() {
                break;
            }
        }
        let relocked = self.lock.acquire_restore(saved);
        let held = match &relocked {
            Ok(()) => true,
            Err(SyncError::Lock(e)) => e.lock_is_held(),
            Err(_) => false,
        };
        if !held {
            // Not holding the lock: leave the slot alone (a notifier may still pick it).
            return relocked.map(|()| false);
        }
        let notified = slot.state.load(Ordering::Relaxed) != WAITING;
        slot.state.store(FREE, Ordering::Relaxed);
        relocked.map(|()| notified)
    }

    /// Wait until `predicate()` holds, or `timeout` passes; returns the predicate's last
    /// value. The predicate is evaluated with the lock held.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, SyncError> {
        let deadline = timeout.map_or_else(Deadline::never, Deadline::after);
        let mut result = predicate();
        while !result {
            if deadline.expired() {
                break;
            }
            self.wait_until(&deadline)?;
            result = predicate();
        }
        Ok(result)
    }

    /// Wake up to `n` waiters, longest-waiting first; returns how many were woken. The
    /// lock must be held.
    pub fn notify(&self, n: usize) -> Result<usize, SyncError> {
        crate::hook::point(crate::hook::Point::Store);
        self.notify_impl(n, true)
    }

    /// Wake every waiter; returns how many were woken. The lock must be held.
    pub fn notify_all(&self) -> Result<usize, SyncError> {
        crate::hook::point(crate::hook::Point::Store);
        self.notify_impl(N, true)
    }

    /// Mark up to `n` waiters notified; `wake: false` is the broken control of
    /// `broken.rs` (slots marked, sleepers never woken).
    pub(crate) fn notify_impl(&self, n: usize, wake: bool) -> Result<usize, SyncError> {
        if !self.lock.is_owned() {
            return Err(SyncError::NotOwner);
        }
        let now = self.next_ticket.load(Ordering::Relaxed);
        let mut woken = 0;
        while woken < n {
            // The waiting slot with the oldest ticket (largest age).
            let oldest = self
                .slots
                .iter()
                .filter(|s| s.state.load(Ordering::Relaxed) == WAITING)
                .max_by_key(|s| now.wrapping_sub(s.ticket.load(Ordering::Relaxed)));
            let Some(slot) = oldest else { break };
            if !Self::waiter_alive(slot) {
                slot.state.store(FREE, Ordering::Relaxed);
                continue;
            }
            // Deferred: the wake-up is sent when the lock is released (`flush`). The
            // broken variant marks the slot and never wakes its sleeper.
            slot.state
                .store(if wake { PENDING } else { NOTIFIED }, Ordering::Release);
            woken += 1;
        }
        Ok(woken)
    }
}

/// Does `monotonic_ms` read a real clock here (not loom, not a scheduler's virtual time)?
fn real_clock() -> bool {
    #[cfg(not(loom))]
    return !crate::hook::virtual_time();
    #[cfg(loom)]
    return false;
}

// SAFETY: an embedded ProcessShared lock, AtomicU32 words and AdaptiveWaits (themselves
// ProcessShared), no pointers.
unsafe impl<L: ConditionLock, const N: usize> ProcessShared for Condition<L, N> {}
