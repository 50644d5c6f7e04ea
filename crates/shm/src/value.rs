//! `Value<T, L>` and `RawValue<T>`: one shared `T`, with or without a lock.
//!
//! `Value` mirrors CPython's `multiprocessing.Value`: [`Value::lock`] is
//! `with v.get_lock(): ...` (a guard through which the value is read and written), while
//! [`Value::load`] and [`Value::store`] each take the lock on their own, like `v.value` and
//! `v.value = x`, so `v.store(v.load()? + 1)` loses updates under contention exactly as
//! `v.value += 1` does in CPython. `RawValue` is `Value(..., lock=False)`: no lock at all,
//! relaxed atomics, and a lock-free `fetch_add` for integers.
//!
//! Layout of the shared block: the lock `L` at offset 0, the value at the next multiple of
//! 8 bytes; both in one 64-byte-aligned heap block. Tested across processes in the
//! `procshare` package (`tests/value.rs`).

use crate::atomic_copy::{self, AtomicInt};
use crate::heap::{self, Block};
use crate::locking;
use crate::locking::LockHandle;
use crate::Error;
use bytemuck::Pod;
use procshare_sync::hook::{self, Point};
use procshare_sync::{FutexMutex, GuardResult, LockError, RawLock, TryGuardResult};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

/// Offset of `T` data behind a lock of type `L`: past the lock, aligned to 8 bytes and to
/// `T`'s alignment (at most [`heap::BLOCK_ALIGN`], checked by [`alloc_locked`]).
pub(crate) const fn data_offset<L, T>() -> usize {
    let align = if std::mem::align_of::<T>() > 8 {
        std::mem::align_of::<T>()
    } else {
        8
    };
    std::mem::size_of::<L>().next_multiple_of(align)
}

/// Allocate a block holding an initialised `L` followed by `data_len` bytes of `T`s.
pub(crate) fn alloc_locked<L: RawLock, T>(data_len: usize) -> Result<Block, Error> {
    const {
        assert!(
            std::mem::align_of::<L>() <= heap::BLOCK_ALIGN,
            "lock alignment above 64"
        );
        assert!(
            std::mem::align_of::<T>() <= heap::BLOCK_ALIGN,
            "element alignment above 64"
        );
    };
    let len = data_offset::<L, T>()
        .checked_add(data_len)
        .ok_or(Error::TooLarge {
            elements: data_len,
            element_size: 1,
        })?;
    let block = heap::alloc(len)?;
    // SAFETY: the block is fresh (no other handle, no other process knows its offset),
    // 64-byte aligned and large enough for L; L::init initialises it in place.
    let slot = unsafe { &mut *block.ptr().cast::<MaybeUninit<L>>() };
    L::init(slot)?;
    Ok(block)
}

/// A `T` in shared memory, guarded by a lock of strategy `L` (default [`FutexMutex`]).
///
/// Create it in the parent, then use it from forked children (see `Process`): the child
/// sees the parent's writes and the parent sees the child's. Only the creating process
/// frees the memory, when its handle is dropped: join the children first.
pub struct Value<T: Pod, L: RawLock = FutexMutex> {
    block: Block,
    _marker: PhantomData<(T, L)>,
}

impl<T: Pod, L: RawLock> std::fmt::Debug for Value<T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("lock", &L::NAME)
            .field("offset", &self.block.offset())
            .finish_non_exhaustive()
    }
}

impl<T: Pod, L: RawLock> Value<T, L> {
    /// A new shared value holding `init`.
    pub fn new(init: T) -> Result<Self, Error> {
        let block = alloc_locked::<L, T>(std::mem::size_of::<T>())?;
        let v = Value {
            block,
            _marker: PhantomData,
        };
        // SAFETY: the data lies in our fresh block, 8-aligned; nobody else sees it yet.
        unsafe { atomic_copy::store(v.data(), &init) };
        Ok(v)
    }

    /// The lock (CPython's `get_lock()`), e.g. to hold it across several operations.
    /// Acquiring gives a guard, so only a holder can release it:
    ///
    /// ```
    /// # use procshare_shm::Value;
    /// let v = Value::<i32>::new(0)?;
    /// let held = v.get_lock().acquire().unwrap(); // `with v.get_lock():`
    /// assert!(v.try_lock().unwrap().is_none(), "held");
    /// held.release()?;
    /// assert!(v.try_lock().unwrap().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_lock(&self) -> LockHandle<'_, L> {
        LockHandle::new(self.raw_lock())
    }

    /// Put the idle lock back in its initial state ([`RawLock::reset_idle`]): for a
    /// harness that starts every case from the same lock.
    ///
    /// # Safety
    ///
    /// The lock is idle until this returns: nobody, in any process, holds it (no guard is
    /// alive), waits for it or is inside any of its operations.
    pub unsafe fn reset_idle_lock(&self) {
        // SAFETY: the caller promises the lock is idle, which is `reset_idle`'s contract.
        unsafe { self.raw_lock().reset_idle() }
    }

    fn raw_lock(&self) -> &L {
        // SAFETY: the block starts with an `L` initialised by `L::init` and never moved;
        // `L: Sync` and lives as long as the block.
        unsafe { &*self.block.ptr().cast::<L>() }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: data_offset + size_of::<T>() is inside the block (see `new`).
        unsafe { self.block.ptr().add(data_offset::<L, T>()) }
    }

    fn read(&self, hooked: bool) -> T {
        hook::point_if(hooked, Point::Load);
        // SAFETY: the data is a T in our block, 8-aligned, and only ever accessed through
        // atomic_copy with this T.
        unsafe { atomic_copy::load(self.data()) }
    }

    fn write(&self, x: &T, hooked: bool) {
        hook::point_if(hooked, Point::Store);
        // SAFETY: as in `read`.
        unsafe { atomic_copy::store(self.data(), x) }
    }

    fn guard(&self, hooked: bool) -> ValueGuard<'_, T, L> {
        ValueGuard {
            hooked,
            local: self.read(hooked),
            dirty: false,
            value: self,
            _marker: PhantomData,
        }
    }

    /// Lock, and get a guard through which the value is read and written
    /// (`with v.get_lock(): v.value += 1`). Written back and unlocked when dropped.
    ///
    /// [`GuardError::OwnerDied`](procshare_sync::GuardError::OwnerDied) carries the guard: the lock is held, but its previous
    /// holder died inside its critical section.
    #[inline]
    pub fn lock(&self) -> GuardResult<ValueGuard<'_, T, L>> {
        locking::acquire(self.raw_lock(), |hooked| self.guard(hooked))
    }

    /// Like [`Value::lock`], but only if the lock is free now (`Ok(None)` otherwise).
    pub fn try_lock(&self) -> TryGuardResult<ValueGuard<'_, T, L>> {
        locking::acquire_for(self.raw_lock(), None, |hooked| self.guard(hooked))
    }

    /// Like [`Value::lock`] but gives up after `timeout` (`Ok(None)`).
    pub fn try_lock_for(&self, timeout: Duration) -> TryGuardResult<ValueGuard<'_, T, L>> {
        locking::acquire_for(self.raw_lock(), Some(timeout), |hooked| self.guard(hooked))
    }

    /// Run `f` with the lock held; `Err` (and `f` not run) when the lock is not acquired
    /// cleanly. On `OwnerDied` the lock is released again before returning.
    fn locked<R>(&self, f: impl FnOnce(bool) -> R) -> Result<R, LockError> {
        locking::with_lock(self.raw_lock(), f)
    }

    /// Read the value under the lock (CPython's `v.value`).
    pub fn load(&self) -> Result<T, LockError> {
        self.locked(|hooked| self.read(hooked))
    }

    /// Write the value under the lock (CPython's `v.value = x`).
    pub fn store(&self, x: T) -> Result<(), LockError> {
        self.locked(|hooked| self.write(&x, hooked))
    }
}

/// The lock of a [`Value`], held; reads and writes go through it.
///
/// The guard holds a private copy of the value (a `T` is small), read when the lock was
/// taken and written back (if it was changed) just before the lock is released. It is
/// `!Send` when the strategy's guards must stay on the locking thread
/// ([`RawLock::GuardMarker`]): a `PthreadMutex` guard cannot be moved to another thread,
/// where its unlock would fail with `EPERM`.
///
/// ```
/// # use procshare_shm::Value;
/// fn assert_send<T: Send>(_: &T) {}
/// let v = Value::<u64>::new(0)?; // FutexMutex: any thread may release it
/// assert_send(&v.lock().unwrap());
/// # Ok::<(), procshare_shm::Error>(())
/// ```
///
/// ```compile_fail
/// # use procshare_shm::Value;
/// # use procshare_sync::PthreadMutex;
/// fn assert_send<T: Send>(_: &T) {}
/// let v = Value::<u64, PthreadMutex>::new(0)?;
/// assert_send(&v.lock().unwrap()); // error: the guard is `!Send`
/// # Ok::<(), procshare_shm::Error>(())
/// ```
pub struct ValueGuard<'a, T: Pod, L: RawLock> {
    value: &'a Value<T, L>,
    /// Whether a scheduler was installed when the lock was taken.
    hooked: bool,
    local: T,
    dirty: bool,
    _marker: PhantomData<L::GuardMarker>,
}

impl<T: Pod, L: RawLock> ValueGuard<'_, T, L> {
    fn finish(&mut self) -> Result<(), LockError> {
        if self.dirty {
            self.value.write(&self.local, self.hooked);
            self.dirty = false;
        }
        // SAFETY: a guard exists only while its lock is held, and `finish` runs once (from
        // `unlock`, which then forgets the guard, or from `drop`).
        unsafe { locking::release(self.value.raw_lock(), self.hooked) }
    }

    /// Write back and release, reporting a failed unlock as an error (dropping the
    /// guard panics on one instead).
    pub fn unlock(self) -> Result<(), LockError> {
        let mut this = std::mem::ManuallyDrop::new(self);
        this.finish()
    }
}

impl<T: Pod + std::fmt::Debug, L: RawLock> std::fmt::Debug for ValueGuard<'_, T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueGuard")
            .field("lock", &L::NAME)
            .field("local", &self.local)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<T: Pod, L: RawLock> Deref for ValueGuard<'_, T, L> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.local
    }
}

impl<T: Pod, L: RawLock> DerefMut for ValueGuard<'_, T, L> {
    fn deref_mut(&mut self) -> &mut T {
        self.dirty = true;
        &mut self.local
    }
}

impl<T: Pod, L: RawLock> Drop for ValueGuard<'_, T, L> {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            locking::unlock_failed(L::NAME, e);
        }
    }
}

/// A `T` in shared memory with no lock (CPython's `Value(..., lock=False)`).
///
/// Reads and writes are relaxed atomics: racing on it is allowed and loses updates, but is
/// never undefined behaviour. Integers have a lock-free [`RawValue::fetch_add`].
pub struct RawValue<T: Pod> {
    block: Block,
    _marker: PhantomData<T>,
}

impl<T: Pod> std::fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawValue")
            .field("offset", &self.block.offset())
            .finish_non_exhaustive()
    }
}

impl<T: Pod> RawValue<T> {
    /// A new shared value holding `init`.
    pub fn new(init: T) -> Result<Self, Error> {
        let v = RawValue {
            block: heap::alloc(std::mem::size_of::<T>())?,
            _marker: PhantomData,
        };
        v.store(init);
        Ok(v)
    }

    /// Read the value (relaxed).
    pub fn load(&self) -> T {
        hook::point(Point::Load);
        // SAFETY: the block holds a T, 64-aligned, accessed only through atomic_copy.
        unsafe { atomic_copy::load(self.block.ptr()) }
    }

    /// Write the value (relaxed).
    pub fn store(&self, x: T) {
        hook::point(Point::Store);
        // SAFETY: as in `load`.
        unsafe { atomic_copy::store(self.block.ptr(), &x) }
    }
}

impl<T: AtomicInt> RawValue<T> {
    /// Atomically add `delta` (wrapping), returning the previous value: the lock-free
    /// strategy, which never loses an update.
    pub fn fetch_add(&self, delta: T) -> T {
        hook::point(Point::Store);
        // SAFETY: as in `load`; AtomicInt uses atomics of the same width as atomic_copy.
        unsafe { T::fetch_add_at(self.block.ptr(), delta) }
    }
}
