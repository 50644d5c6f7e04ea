//! `RLock`: CPython's recursive lock, owned by one thread of one process.
//!
//! A [`FutexMutex`] (whose word holds the owner's pid) plus the owner's thread id and a
//! recursion count, both written only by the owner. The owner may acquire again (the
//! count goes up) and must release as many times; a release by anyone else, or of an
//! unlocked `RLock`, is an error. A holder that dies is detected like `FutexMutex`'s.
//!
//! Checked by `tests/loom_rlock.rs` and `tests/sync_objects.rs`.

use crate::loom::{current_thread, AtomicU32, Ordering};
use crate::{FutexMutex, LockError, ProcessShared, RawLock, SyncError};
use std::time::Duration;

/// A process-shared recursive lock.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RLock {
    mutex: FutexMutex,
    /// Owner's thread id; 0 when unlocked. Written only by the owner.
    thread: AtomicU32,
    /// Recursion depth; written only by the owner.
    count: AtomicU32,
}

impl RLock {
    /// A new, unlocked recursive lock.
    pub fn new() -> Self {
        RLock {
            mutex: FutexMutex::new(),
            thread: AtomicU32::new(0),
            count: AtomicU32::new(0),
        }
    }

    /// Is it held by the calling thread of the calling process?
    pub fn is_owned(&self) -> bool {
        let (pid, tid) = current_thread();
        self.mutex.owner() == pid && self.thread.load(Ordering::Relaxed) == tid
    }

    /// How many times the owner has acquired it (0 when unlocked).
    pub fn depth(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    fn take(&self, r: Result<bool, LockError>, depth: u32) -> Result<bool, SyncError> {
        if matches!(r, Ok(true) | Err(LockError::OwnerDied { .. })) {
            self.thread.store(current_thread().1, Ordering::Relaxed);
            self.count.store(depth, Ordering::Relaxed);
        }
        Ok(r?)
    }

    fn reenter(&self) -> Result<bool, SyncError> {
        let c = self.count.load(Ordering::Relaxed);
        let c = c
            .checked_add(1)
            .ok_or(SyncError::InvalidArgument("RLock recursion depth overflow"))?;
        self.count.store(c, Ordering::Relaxed);
        Ok(true)
    }

    /// Acquire (again, if the caller owns it already).
    pub fn acquire(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        if self.is_owned() {
            return self.reenter().map(|_| ());
        }
        self.take(self.mutex.lock().map(|()| true), 1).map(|_| ())
    }

    /// Acquire if possible without waiting.
    pub fn try_acquire(&self) -> Result<bool, SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        if self.is_owned() {
            return self.reenter();
        }
        self.take(self.mutex.try_lock(), 1)
    }

    /// Acquire, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool, SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        if self.is_owned() {
            return self.reenter();
        }
        self.take(self.mutex.try_lock_for(timeout), 1)
    }

    /// Release once; the lock is free when every acquisition has been released.
    pub fn release(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Release);
        if !self.is_owned() {
            return Err(if self.mutex.owner() == 0 {
                SyncError::NotLocked
            } else {
                SyncError::NotOwner
            });
        }
        let c = self.count.load(Ordering::Relaxed) - 1;
        self.count.store(c, Ordering::Relaxed);
        if c == 0 {
            self.thread.store(0, Ordering::Relaxed);
            self.mutex.unlock_any();
        }
        Ok(())
    }

    /// Release every level at once (for `Condition::wait`); the depth to restore.
    pub(crate) fn release_all(&self) -> Result<u32, SyncError> {
        if !self.is_owned() {
            return Err(SyncError::NotOwner);
        }
        let depth = self.count.load(Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.thread.store(0, Ordering::Relaxed);
        self.mutex.unlock_any();
        Ok(depth)
    }

    /// Acquire again with the depth `release_all` returned.
    pub(crate) fn acquire_restore(&self, depth: u32) -> Result<(), SyncError> {
        self.take(self.mutex.lock().map(|()| true), depth)
            .map(|_| ())
    }
}

// SAFETY: a FutexMutex and two AtomicU32s, no pointers.
unsafe impl ProcessShared for RLock {}
