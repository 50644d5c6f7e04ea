//! `Lock`: CPython's non-recursive, ownerless lock, in shared memory.
//!
//! A [`FutexMutex`] (so a holder that dies is detected by waiters, within about 50 ms)
//! plus the id of the thread that acquired it, so that `is_mine` can tell whether the
//! caller holds it (a `Condition` needs that). Any process may release it, as in CPython;
//! releasing it while unlocked is an error.
//!
//! Checked through `FutexMutex`'s loom models and `tests/sync_objects.rs`.

use crate::loom::{current_thread, AtomicU32, Ordering};
use crate::{FutexMutex, GuardError, GuardResult, LockError, ProcessShared, RawLock, SyncError};
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

    fn acquired(&self, r: Result<bool, LockError>) -> Result<bool, SyncError> {
        let held = matches!(r, Ok(true) | Err(LockError::OwnerDied { .. }));
        if held {
            self.thread.store(current_thread().1, Ordering::Relaxed);
        }
        Ok(r?)
    }

    /// Acquire, waiting as long as it takes. `Err(SyncError::Lock(LockError::OwnerDied))`
    /// means the lock *is* held by the caller, whose previous holder died.
    pub fn acquire(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        self.acquired(self.mutex.lock().map(|()| true)).map(|_| ())
    }

    /// Acquire if free now.
    pub fn try_acquire(&self) -> Result<bool, SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        self.acquired(self.mutex.try_lock())
    }

    /// Acquire, waiting at most `timeout`; false when it ran out (never earlier).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool, SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        self.acquired(self.mutex.try_lock_for(timeout))
    }

    /// Release; any process may. [`SyncError::NotLocked`] if it was not locked.
    pub fn release(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Release);
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

    /// Acquire and get a guard that releases on drop. [`GuardError::OwnerDied`] carries
    /// the guard (the lock is held; its previous holder died).
    pub fn lock(&self) -> GuardResult<LockGuard<'_>> {
        let r = self.mutex.lock();
        if matches!(r, Ok(()) | Err(LockError::OwnerDied { .. })) {
            self.thread.store(current_thread().1, Ordering::Relaxed);
        }
        match r {
            Ok(()) => Ok(LockGuard { lock: self }),
            Err(e) => Err(GuardError::from_lock(e, || LockGuard { lock: self })),
        }
    }
}

/// Holds a [`Lock`]; releases it when dropped.
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

// SAFETY: a FutexMutex and one AtomicU32, no pointers.
unsafe impl ProcessShared for Lock {}
