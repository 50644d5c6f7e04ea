//! `Array<T, L>` and `RawArray<T>`: a fixed-length shared `[T]`, with or without a lock.
//!
//! Mirrors CPython's `multiprocessing.Array`: element reads and writes each take the lock
//! (`arr[i]`, `arr[i] = x`), and [`Array::lock`] holds it across a whole update
//! (`with arr.get_lock(): ...`), handing out a `&mut [T]`. An index out of range is an
//! [`Error::IndexOutOfRange`], never undefined behaviour. `RawArray` has no lock.
//!
//! # `lock()` works in place
//!
//! With an excluding strategy ([`RawLock::EXCLUSIVE`]) the guard's slice *is* the shared
//! elements: locking costs the lock and nothing per element, whatever the length (the
//! `array_lock` rows of `benches/locks.rs` compare 16 and 1 M elements). That is sound
//! because every other access to the elements goes through the same lock, which the
//! strategy's `unsafe impl` promises excludes. Two cases copy instead (O(n) per lock: the
//! elements are read with relaxed atomics into a private buffer and written back at
//! unlock): the `NoLock` control, whose "critical sections" overlap (plain references
//! would be a data race, atomics are not), and any lock taken under a controlled
//! scheduler, so that the harness keeps its per-element schedule points and a broken
//! strategy under test cannot cause a data race.
//!
//! Layout: the lock `L` at offset 0, then the elements from the next multiple of 8 bytes
//! (and of `T`'s alignment), in one 64-byte-aligned heap block. Elements are moved with
//! relaxed atomics of a width that divides the element size (see `atomic_copy`), so
//! neighbours are never touched. Tested across processes in the `procshare` package
//! (`tests/array.rs`).

use crate::atomic_copy::{self, AtomicInt};
use crate::heap::{self, Block};
use crate::locking::{self, LockHandle};
use crate::value::{alloc_locked, data_offset};
use crate::Error;
use bytemuck::Pod;
use procshare_sync::hook::{self, Point};
use procshare_sync::{FutexMutex, GuardResult, LockError, RawLock, TryGuardResult};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

fn byte_len<T>(len: usize) -> Result<usize, Error> {
    len.checked_mul(std::mem::size_of::<T>())
        .filter(|&n| n <= isize::MAX as usize / 2)
        .ok_or(Error::TooLarge {
            elements: len,
            element_size: std::mem::size_of::<T>(),
        })
}

/// Element storage shared by [`Array`] and [`RawArray`]: `len` `T`s starting at `base`.
struct Elements<T> {
    base: *mut u8,
    len: usize,
    _marker: PhantomData<T>,
}

impl<T: Pod> Elements<T> {
    fn check(&self, index: usize) -> Result<*mut u8, Error> {
        if index < self.len {
            // SAFETY: index < len, so the element lies inside the block.
            Ok(unsafe { self.base.add(index * std::mem::size_of::<T>()) })
        } else {
            Err(Error::IndexOutOfRange {
                index,
                len: self.len,
            })
        }
    }

    fn get(&self, index: usize, hooked: bool) -> Result<T, Error> {
        let p = self.check(index)?;
        hook::point_if(hooked, Point::Load);
        // SAFETY: p is element `index`, aligned to word_size::<T>() (the base is 8-aligned
        // and T's size is a multiple of its word size); accessed only via atomic_copy.
        Ok(unsafe { atomic_copy::load(p) })
    }

    fn set(&self, index: usize, x: T, hooked: bool) -> Result<(), Error> {
        let p = self.check(index)?;
        hook::point_if(hooked, Point::Store);
        // SAFETY: as in `get`.
        unsafe { atomic_copy::store(p, &x) };
        Ok(())
    }

    fn read_all(&self, hooked: bool) -> Vec<T> {
        (0..self.len)
            .map(|i| self.get(i, hooked).expect("in range"))
            .collect()
    }

    fn write_all(&self, xs: &[T], hooked: bool) {
        debug_assert_eq!(xs.len(), self.len);
        for (i, x) in xs.iter().enumerate() {
            self.set(i, *x, hooked).expect("in range");
        }
    }
}

/// A fixed-length `[T]` in shared memory, guarded by a lock of strategy `L`.
pub struct Array<T: Pod, L: RawLock = FutexMutex> {
    block: Block,
    len: usize,
    _marker: PhantomData<(T, L)>,
}

impl<T: Pod, L: RawLock> std::fmt::Debug for Array<T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array")
            .field("lock", &L::NAME)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<T: Pod, L: RawLock> Array<T, L> {
    /// A zero-filled array of `len` elements.
    pub fn zeroed(len: usize) -> Result<Self, Error> {
        let block = alloc_locked::<L, T>(byte_len::<T>(len)?)?;
        Ok(Array {
            block,
            len,
            _marker: PhantomData,
        })
    }

    /// An array holding a copy of `xs`.
    pub fn from_slice(xs: &[T]) -> Result<Self, Error> {
        let a = Self::zeroed(xs.len())?;
        a.elements().write_all(xs, false);
        Ok(a)
    }

    fn elements(&self) -> Elements<T> {
        Elements {
            // SAFETY: the elements start data_offset bytes into the block (see alloc_locked).
            base: unsafe { self.block.ptr().add(data_offset::<L, T>()) },
            len: self.len,
            _marker: PhantomData,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lock (CPython's `get_lock()`), to hold it across several operations; see
    /// [`LockHandle`].
    pub fn get_lock(&self) -> LockHandle<'_, L> {
        LockHandle::new(self.raw_lock())
    }

    fn raw_lock(&self) -> &L {
        // SAFETY: the block starts with an initialised L, never moved, `L: Sync`.
        unsafe { &*self.block.ptr().cast::<L>() }
    }

    fn locked<R>(&self, f: impl FnOnce(bool) -> R) -> Result<R, LockError> {
        locking::with_lock(self.raw_lock(), f)
    }

    /// Element `index`, read under the lock (`arr[i]`).
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.elements().check(index)?;
        self.locked(|hooked| self.elements().get(index, hooked))?
    }

    /// Write element `index` under the lock (`arr[i] = x`).
    pub fn set(&self, index: usize, x: T) -> Result<(), Error> {
        self.elements().check(index)?;
        self.locked(|hooked| self.elements().set(index, x, hooked))?
    }

    /// A copy of all elements, read under one acquisition of the lock (`arr[:]`).
    pub fn to_vec(&self) -> Result<Vec<T>, LockError> {
        self.locked(|hooked| self.elements().read_all(hooked))
    }

    fn guard(&self, hooked: bool) -> ArrayGuard<'_, T, L> {
        // In place unless the strategy does not exclude or a scheduler controls us (see
        // the module docs).
        let copy = (!L::EXCLUSIVE || hooked).then(|| Copy {
            local: self.elements().read_all(hooked),
            dirty: false,
        });
        ArrayGuard {
            hooked,
            copy,
            array: self,
            _marker: PhantomData,
        }
    }

    /// Lock, and get the elements as a `&mut [T]` until the guard drops
    /// (`with arr.get_lock(): ...`), in place for excluding strategies (see the module
    /// docs). [`GuardError::OwnerDied`](procshare_sync::GuardError::OwnerDied) carries the
    /// guard.
    pub fn lock(&self) -> GuardResult<ArrayGuard<'_, T, L>> {
        locking::acquire(self.raw_lock(), |hooked| self.guard(hooked))
    }

    /// Like [`Array::lock`], but only if the lock is free now (`Ok(None)` otherwise).
    pub fn try_lock(&self) -> TryGuardResult<ArrayGuard<'_, T, L>> {
        locking::acquire_for(self.raw_lock(), None, |hooked| self.guard(hooked))
    }

    /// Like [`Array::lock`] but gives up after `timeout` (`Ok(None)`).
    pub fn try_lock_for(&self, timeout: Duration) -> TryGuardResult<ArrayGuard<'_, T, L>> {
        locking::acquire_for(self.raw_lock(), Some(timeout), |hooked| self.guard(hooked))
    }
}

/// The private copy an [`ArrayGuard`] works on when it cannot work in place.
struct Copy<T> {
    local: Vec<T>,
    dirty: bool,
}

/// The lock of an [`Array`], held; derefs to the elements as a slice.
///
/// For excluding strategies the slice is the shared elements themselves; otherwise (the
/// `NoLock` control, or under a controlled scheduler) a private copy, read when the lock
/// was taken and written back (if changed) just before the lock is released. `!Send`
/// when the strategy's guards must stay on the locking thread ([`RawLock::GuardMarker`]).
pub struct ArrayGuard<'a, T: Pod, L: RawLock> {
    array: &'a Array<T, L>,
    /// Whether a scheduler was installed when the lock was taken.
    hooked: bool,
    /// `None`: in place.
    copy: Option<Copy<T>>,
    _marker: PhantomData<L::GuardMarker>,
}

impl<T: Pod + std::fmt::Debug, L: RawLock> std::fmt::Debug for ArrayGuard<'_, T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayGuard")
            .field("lock", &L::NAME)
            .field("in_place", &self.copy.is_none())
            .field("elements", &&**self)
            .finish()
    }
}

impl<T: Pod, L: RawLock> ArrayGuard<'_, T, L> {
    /// Is the guard's slice the shared elements themselves (no copy)?
    pub fn is_in_place(&self) -> bool {
        self.copy.is_none()
    }

    fn finish(&mut self) -> Result<(), LockError> {
        if let Some(copy) = &mut self.copy {
            if copy.dirty {
                self.array.elements().write_all(&copy.local, self.hooked);
                copy.dirty = false;
            }
        }
        // SAFETY: a guard exists only while its lock is held; `finish` runs once.
        unsafe { locking::release(self.array.raw_lock(), self.hooked) }
    }

    /// Write back (if copied) and release, reporting a failed unlock as an error
    /// (dropping the guard panics on one instead).
    pub fn unlock(self) -> Result<(), LockError> {
        let mut this = std::mem::ManuallyDrop::new(self);
        this.finish()
    }
}

impl<T: Pod, L: RawLock> Deref for ArrayGuard<'_, T, L> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.copy {
            Some(copy) => &copy.local,
            // SAFETY: in place only for an excluding strategy (`L::EXCLUSIVE`, promised by
            // its `unsafe impl RawLock`) whose lock this guard holds; every other access to
            // the elements, from this or any process, goes through the same lock, so
            // nothing writes them while the guard lives. They are `len` initialised `T`s
            // (Pod: any bytes are valid), aligned to `T` (see `data_offset`), inside the
            // block that `self.array` keeps alive.
            None => unsafe {
                std::slice::from_raw_parts(self.array.elements().base.cast::<T>(), self.array.len)
            },
        }
    }
}

impl<T: Pod, L: RawLock> DerefMut for ArrayGuard<'_, T, L> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.copy {
            Some(copy) => {
                copy.dirty = true;
                &mut copy.local
            }
            // SAFETY: as in `deref`; `&mut self` makes this the only reference handed out
            // by the guard, and no other guard of the lock exists while it is held.
            None => unsafe {
                std::slice::from_raw_parts_mut(
                    self.array.elements().base.cast::<T>(),
                    self.array.len,
                )
            },
        }
    }
}

impl<T: Pod, L: RawLock> Drop for ArrayGuard<'_, T, L> {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            locking::unlock_failed(L::NAME, e);
        }
    }
}

/// A fixed-length `[T]` in shared memory with no lock (`Array(..., lock=False)`).
pub struct RawArray<T: Pod> {
    block: Block,
    len: usize,
    _marker: PhantomData<T>,
}

impl<T: Pod> std::fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawArray")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<T: Pod> RawArray<T> {
    /// A zero-filled array of `len` elements.
    pub fn zeroed(len: usize) -> Result<Self, Error> {
        Ok(RawArray {
            block: heap::alloc(byte_len::<T>(len)?)?,
            len,
            _marker: PhantomData,
        })
    }

    /// An array holding a copy of `xs`.
    pub fn from_slice(xs: &[T]) -> Result<Self, Error> {
        let a = Self::zeroed(xs.len())?;
        a.elements().write_all(xs, false);
        Ok(a)
    }

    fn elements(&self) -> Elements<T> {
        Elements {
            base: self.block.ptr(),
            len: self.len,
            _marker: PhantomData,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `index` (relaxed).
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.elements().get(index, hook::is_active())
    }

    /// Write element `index` (relaxed).
    pub fn set(&self, index: usize, x: T) -> Result<(), Error> {
        self.elements().set(index, x, hook::is_active())
    }

    /// A copy of all elements (each read relaxed; not a snapshot).
    pub fn to_vec(&self) -> Vec<T> {
        self.elements().read_all(hook::is_active())
    }
}

impl<T: AtomicInt> RawArray<T> {
    /// Atomically add `delta` to element `index`, returning its previous value.
    pub fn fetch_add(&self, index: usize, delta: T) -> Result<T, Error> {
        let p = self.elements().check(index)?;
        hook::point(Point::Store);
        // SAFETY: element `index` of this array, aligned, accessed only atomically with
        // atomics of T's width.
        Ok(unsafe { T::fetch_add_at(p, delta) })
    }
}
