//! `Array<T, L>` and `RawArray<T>`: a fixed-length shared `[T]`, with or without a lock.
//!
//! Mirrors CPython's `multiprocessing.Array`: element reads and writes each take the lock
//! (`arr[i]`, `arr[i] = x`), and [`Array::lock`] holds it across a whole update
//! (`with arr.get_lock(): ...`), handing out a `&mut [T]`. An index out of range is an
//! [`Error::IndexOutOfRange`], never undefined behaviour. `RawArray` has no lock.
//!
//! Layout: the lock `L` at offset 0, then the elements from the next multiple of 8 bytes,
//! in one 64-byte-aligned heap block. Elements are moved with relaxed atomics of a width
//! that divides the element size (see `atomic_copy`), so neighbours are never touched.
//! Tested across processes in the `procshare` package (`tests/array.rs`).

use crate::atomic_copy::{self, AtomicInt};
use crate::heap::{self, Block};
use crate::locking;
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
        let block = alloc_locked::<L>(byte_len::<T>(len)?)?;
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
            base: unsafe { self.block.ptr().add(data_offset::<L>()) },
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

    /// The lock itself (CPython's `get_lock()`).
    pub fn get_lock(&self) -> &L {
        // SAFETY: the block starts with an initialised L, never moved, `L: Sync`.
        unsafe { &*self.block.ptr().cast::<L>() }
    }

    fn locked<R>(&self, f: impl FnOnce(bool) -> R) -> Result<R, LockError> {
        locking::with_lock(self.get_lock(), f)
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
        ArrayGuard {
            hooked,
            local: self.elements().read_all(hooked),
            dirty: false,
            array: self,
        }
    }

    /// Lock, and get the elements as a `&mut [T]` until the guard drops
    /// (`with arr.get_lock(): ...`). [`GuardError::OwnerDied`](procshare_sync::GuardError::OwnerDied) carries the guard.
    pub fn lock(&self) -> GuardResult<ArrayGuard<'_, T, L>> {
        locking::acquire(self.get_lock(), |hooked| self.guard(hooked))
    }

    /// Like [`Array::lock`] but gives up after `timeout` (`Ok(None)`).
    pub fn try_lock_for(&self, timeout: Duration) -> TryGuardResult<ArrayGuard<'_, T, L>> {
        locking::acquire_for(self.get_lock(), timeout, |hooked| self.guard(hooked))
    }
}

/// The lock of an [`Array`], held; derefs to the elements as a slice.
///
/// The guard holds a private copy of the elements, read when the lock was taken and
/// written back (if changed) just before the lock is released.
pub struct ArrayGuard<'a, T: Pod, L: RawLock> {
    array: &'a Array<T, L>,
    /// Whether a scheduler was installed when the lock was taken.
    hooked: bool,
    local: Vec<T>,
    dirty: bool,
}

impl<T: Pod + std::fmt::Debug, L: RawLock> std::fmt::Debug for ArrayGuard<'_, T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayGuard")
            .field("lock", &L::NAME)
            .field("local", &self.local)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<T: Pod, L: RawLock> Deref for ArrayGuard<'_, T, L> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.local
    }
}

impl<T: Pod, L: RawLock> DerefMut for ArrayGuard<'_, T, L> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.dirty = true;
        &mut self.local
    }
}

impl<T: Pod, L: RawLock> Drop for ArrayGuard<'_, T, L> {
    fn drop(&mut self) {
        if self.dirty {
            self.array.elements().write_all(&self.local, self.hooked);
        }
        // SAFETY: a guard exists only while its lock is held.
        unsafe { locking::release(self.array.get_lock(), self.hooked) };
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
