//! `Lock`: CPython's non-recursive, ownerless lock, in shared memory.
//!
//! A [`FutexMutex`] word (which records the acquirer's pid) plus the id of the thread that
//! acquired it, so that `is_mine` can tell whether the caller holds it (a `Condition`
//! needs that). As in CPython, *any* process may release it — a lock acquired in one
//! process may be released by another, even after the first has exited (a hand-off) — and
//! releasing it while unlocked is an error.
//!
//! Because it is ownerless, a `Lock` is **never taken over** when its holder exits:
//!
//! | the holder exited without releasing | CPython             | procshare                          |
//! |-------------------------------------|---------------------|------------------------------------|
//! | `acquire_timeout(t)`                | `False` after `t`   | `Ok(false)` after `t`              |
//! | `acquire()` (untimed)               | blocks forever      | `Err(HolderExited { pid })`, lock still held; `release()` hands it on |
//! | `release()` from another process    | releases it         | releases it                        |
//!
//! The exit is noticed within one liveness slice (50 ms) and only on proof (see
//! [`liveness`](crate::liveness)). [`RLock`](crate::RLock), which only its owner may
//! release, takes a dead owner's lock over instead (`OwnerDied`): see
//! `docs/strategies.md`.
//!
//! A [`LockGuard`] releases only the acquisition it made: if the lock was handed off
//! meanwhile (released by another process and acquired again by someone else), dropping
//! the guard leaves the new holder alone. (Within one process it tells holders apart by
//! thread id, so the one gap left is a hand-off to another thread of the guard's own
//! process in the instant the guard is dropped.)
//!
//! Checked through `FutexMutex`'s loom models, `tests/sync_objects.rs` and
//! `tests/owner_death.rs` (the three-process hand-off, a dead holder reported without a
//! takeover).

use crate::futex_mutex::OnDeadOwner;
use crate::hook::{self, Point};
use crate::loom::{current_thread, AtomicU32, Deadline, Ordering};
use crate::{FutexMutex, GuardError, GuardResult, ProcessShared, SyncError};
use std::time::Duration;

/// A process-shared, non-recursive lock that any process may release.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Lock {
    mutex: FutexMutex,
    /// Thread id of the acquirer (the pid is in the mutex word); 0 when unlocked.
    thread: AtomicU32,
}

impl Lock {
    /// A new, unlocked lock.
    pub fn new() -> Self {
        Lock {
            mutex: FutexMutex::new(),
            thread: AtomicU32::new(0),
        }
    }

    /// The one acquiring path behind every public operation. `None`: no waiting at all.
    fn acquire_until(&self, deadline: Option<&Deadline>) -> Result<bool, SyncError> {
        hook::point(Point::Acquire);
        let got = if self.mutex.try_acquire_now() {
            true
        } else {
            match deadline {
                None => false,
                Some(deadline) => self.mutex.lock_contended(deadline, OnDeadOwner::Report)?,
            }
        };
        if got {
            self.thread.store(current_thread().1, Ordering::Relaxed);
        }
        Ok(got)
    }

    /// Acquire, waiting as long as the holder lives. If the holder exited without
    /// releasing, `Err(SyncError::Lock(LockError::HolderExited { .. }))`: the lock was not
    /// acquired and stays held until someone releases it.
    pub fn acquire(&self) -> Result<(), SyncError> {
        self.acquire_until(Some(&Deadline::never())).map(|_| ())
    }

    /// Acquire if free now.
    pub fn try_acquire(&self) -> Result<bool, SyncError> {
        self.acquire_until(None)
    }

    /// Acquire, waiting at most `timeout`; false when it ran out (never earlier), also
    /// when the holder has exited (CPython's behaviour).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool, SyncError> {
        self.acquire_until(Some(&Deadline::after(timeout)))
    }

    /// Release; any process may. [`SyncError::NotLocked`] if it was not locked.
    pub fn release(&self) -> Result<(), SyncError> {
        hook::point(Point::Release);
        self.thread.store(0, Ordering::Relaxed);
        if self.mutex.unlock_any() {
            Ok(())
        } else {
            Err(SyncError::NotLocked)
        }
    }

    /// Is it locked (by anyone)?
    pub fn is_locked(&self) -> bool {
        self.mutex.owner() != 0
    }

    /// Is it held by the calling thread (of the calling process)?
    pub fn is_mine(&self) -> bool {
        let (pid, tid) = current_thread();
        self.mutex.owner() == pid && self.thread.load(Ordering::Relaxed) == tid
    }

    /// The pid recorded as the acquirer; 0 when unlocked.
    pub fn holder(&self) -> u32 {
        self.mutex.owner()
    }

    /// Acquire (exactly as [`Lock::acquire`]) and get a guard that releases on drop.
    pub fn lock(&self) -> GuardResult<LockGuard<'_>> {
        match self.acquire() {
            Ok(()) => Ok(LockGuard { lock: self }),
            Err(SyncError::Lock(e)) => Err(GuardError::Lock(e)),
            Err(e) => unreachable!("acquire fails only with a lock error, not {e}"),
        }
    }

    /// Release the caller's own acquisition; false (nothing done) if the caller no
    /// longer holds it.
    fn release_mine(&self) -> bool {
        hook::point(Point::Release);
        if !self.is_mine() {
            return false;
        }
        self.thread.store(0, Ordering::Relaxed);
        self.mutex.unlock_if_owner(current_thread().0)
    }
}

/// Holds a [`Lock`]; releases it when dropped, unless it was handed off meanwhile.
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl LockGuard<'_> {
    /// Release now. [`SyncError::NotOwner`] if the lock was handed off meanwhile (another
    /// process released it), in which case nothing is released.
    pub fn release(self) -> Result<(), SyncError> {
        let this = std::mem::ManuallyDrop::new(self);
        if this.lock.release_mine() {
            Ok(())
        } else {
            Err(SyncError::NotOwner)
        }
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Not ours any more (handed off): leave the new holder alone.
        let _released_or_handed_off = self.lock.release_mine();
    }
}

// SAFETY: a FutexMutex and one AtomicU32, no pointers.
unsafe impl ProcessShared for Lock {}
