//! `RwLock<T: Pod>`: a value in shared memory behind a writer-preferring reader-writer
//! lock, with `read()` / `write()` guards.
//!
//! The protocol is [`WriterPreferringRwLock`] of `procshare-sync` (loom-checked there,
//! see its docs for the state table and owner death). The value is copied in and out with
//! relaxed atomic words, as `Value` does (`atomic_copy`); the lock's acquire/release
//! orders those copies. A read guard holds a copy taken under the read lock; a write guard
//! holds a copy that is written back (if changed) just before the write lock is released.
//!
//! Owner death: a writer killed inside its section is detected by the next locker within
//! one liveness slice, which gets [`GuardError::OwnerDied`] carrying its guard (read or
//! write). A reader killed while holding is not detected: writers wedge (bound them with
//! `try_write_for`). Tested by `tests/rw_lock.rs` of `procshare`. For another
//! `RawRwLock` strategy, or for arrays, see `RwValue<T, L>` and `RwArray<T, L>`.

use crate::{Error, RawValue, Shared};
use bytemuck::Pod;
use procshare_sync::{
    GuardError, GuardResult, LockError, RawRwLock, TryGuardResult, WriterPreferringRwLock,
};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

/// A `T` in shared memory that many processes may read at once and one at a time write.
///
/// ```
/// # use procshare_shm::RwLock;
/// let v = RwLock::new([0u64; 2])?;
/// {
///     let mut w = v.write().unwrap();
///     w[0] += 1;
///     w[1] += 1;
/// }
/// let r1 = v.read().unwrap();
/// let r2 = v.try_read().unwrap().expect("readers share");
/// assert_eq!(*r1, [1, 1]);
/// assert_eq!(*r2, [1, 1]);
/// assert!(v.try_write().unwrap().is_none(), "readers exclude a writer");
/// # Ok::<(), procshare_shm::Error>(())
/// ```
pub struct RwLock<T: Pod> {
    lock: Shared<WriterPreferringRwLock>,
    data: RawValue<T>,
}

impl<T: Pod> std::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwLock")
            .field("state", &format_args!("{:#x}", self.lock.state()))
            .finish_non_exhaustive()
    }
}

impl<T: Pod> RwLock<T> {
    /// A new shared value holding `init`, unlocked.
    pub fn new(init: T) -> Result<Self, Error> {
        Ok(RwLock {
            lock: Shared::new(WriterPreferringRwLock::new())?,
            data: RawValue::new(init)?,
        })
    }

    /// The raw lock (e.g. for diagnostics: [`WriterPreferringRwLock::state`]).
    pub fn raw(&self) -> &WriterPreferringRwLock {
        &self.lock
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            lock: self,
            local: self.data.load(),
        }
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            lock: self,
            local: self.data.load(),
            dirty: false,
        }
    }

    /// Lock for reading, waiting as long as it takes (behind any waiting writer).
    pub fn read(&self) -> GuardResult<RwLockReadGuard<'_, T>> {
        match self.lock.read() {
            Ok(()) => Ok(self.read_guard()),
            Err(e) => Err(GuardError::from_lock(e, || self.read_guard())),
        }
    }

    /// Lock for reading only if that is possible now (`Ok(None)` otherwise).
    pub fn try_read(&self) -> TryGuardResult<RwLockReadGuard<'_, T>> {
        self.tried(self.lock.try_read(), Self::read_guard)
    }

    /// Lock for reading, giving up after `timeout` (`Ok(None)`).
    pub fn try_read_for(&self, timeout: Duration) -> TryGuardResult<RwLockReadGuard<'_, T>> {
        self.tried(self.lock.try_read_for(timeout), Self::read_guard)
    }

    /// Lock for writing, waiting as long as it takes.
    pub fn write(&self) -> GuardResult<RwLockWriteGuard<'_, T>> {
        match self.lock.write() {
            Ok(()) => Ok(self.write_guard()),
            Err(e) => Err(GuardError::from_lock(e, || self.write_guard())),
        }
    }

    /// Lock for writing only if that is possible now (`Ok(None)` otherwise).
    pub fn try_write(&self) -> TryGuardResult<RwLockWriteGuard<'_, T>> {
        self.tried(self.lock.try_write(), Self::write_guard)
    }

    /// Lock for writing, giving up after `timeout` (`Ok(None)`).
    pub fn try_write_for(&self, timeout: Duration) -> TryGuardResult<RwLockWriteGuard<'_, T>> {
        self.tried(self.lock.try_write_for(timeout), Self::write_guard)
    }

    fn tried<'a, G>(
        &'a self,
        r: Result<bool, LockError>,
        make: impl FnOnce(&'a Self) -> G,
    ) -> TryGuardResult<G> {
        match r {
            Ok(true) => Ok(Some(make(self))),
            Ok(false) => Ok(None),
            Err(e) => Err(GuardError::from_lock(e, || make(self))),
        }
    }
}

/// A read lock of an [`RwLock`], held; derefs to a copy of the value taken under it.
pub struct RwLockReadGuard<'a, T: Pod> {
    lock: &'a RwLock<T>,
    local: T,
}

impl<T: Pod> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.local
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RwLockReadGuard").field(&self.local).finish()
    }
}

impl<T: Pod> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: a read guard exists only while its read lock is held; drop runs once.
        // The strategy's unlock never fails.
        let _ = unsafe { self.lock.lock.unlock_read() };
    }
}

/// A write lock of an [`RwLock`], held; the value is written back (if changed) when it
/// is dropped, just before the lock is released.
pub struct RwLockWriteGuard<'a, T: Pod> {
    lock: &'a RwLock<T>,
    local: T,
    dirty: bool,
}

impl<T: Pod> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.local
    }
}

impl<T: Pod> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.dirty = true;
        &mut self.local
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwLockWriteGuard")
            .field("local", &self.local)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<T: Pod> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        if self.dirty {
            self.lock.data.store(self.local);
        }
        // SAFETY: a write guard exists only while its write lock is held; drop runs once.
        // The strategy's unlock never fails.
        let _ = unsafe { self.lock.lock.unlock_write() };
    }
}
