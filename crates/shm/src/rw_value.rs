//! `RwValue<T, L>` and `RwArray<T, L>`: a shared `T` or `[T]` behind any reader-writer
//! strategy `L: RawRwLock` (default [`WriterPreferringRwLock`]), with read and write
//! guards: the reader-writer siblings of `Value` and `Array`.
//!
//! Any number of processes may hold read guards at once; a write guard excludes everyone
//! (as far as the strategy's `unsafe impl RawRwLock` promises: a researcher's own lock
//! plugs in unchanged, and the harness's reader-writer scenarios run on these types).
//!
//! Guards work on a private copy: a read guard holds the elements copied under the read
//! lock; a write guard holds a copy that is written back (if changed), element by
//! element, just before the write lock is released. Copying costs O(n) per acquisition,
//! but it means a broken strategy that lets a writer in beside a reader causes a torn
//! read (which the harness detects), never a data race: every shared access is a relaxed
//! atomic (`atomic_copy`), ordered by the lock's acquire/release. Under a controlled
//! scheduler every acquisition passes an `Acquire` point, every release a `Release`
//! point, and every element a `Load` or `Store` point, so a scheduler can put a writer's
//! store between a reader's two loads.
//!
//! Owner death is the strategy's: with [`WriterPreferringRwLock`] a writer killed inside
//! its section is reported to the next locker as [`GuardError::OwnerDied`] carrying its
//! guard (the data may be half-written: the new holder repairs it); a reader killed while
//! holding wedges writers (bound them with `try_write_for`), see the strategy's docs.
//!
//! Layout: the lock `L` at offset 0, the elements from the next multiple of 8 bytes (and
//! of `T`'s alignment), in one 64-byte-aligned heap block. Tested across processes in the
//! `procshare` package (`tests/rw_value.rs`: 2/4/8 processes, writers exact, readers
//! checking an invariant) and by the harness's `rw-*` catalog scenarios.

use crate::atomic_copy;
use crate::heap::{self, Block};
use crate::locking;
use crate::value::data_offset;
use crate::Error;
use bytemuck::Pod;
use procshare_sync::hook::{self, Point};
use procshare_sync::{
    GuardError, GuardResult, LockError, RawRwLock, TryGuardResult, WriterPreferringRwLock,
};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

/// The shared block of an [`RwValue`] or [`RwArray`]: an `L`, then `len` `T`s.
struct Cells<T, L> {
    block: Block,
    len: usize,
    _marker: PhantomData<(T, L)>,
}

/// How an acquisition waits.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    Not,
    For(Duration),
}

impl<T: Pod, L: RawRwLock> Cells<T, L> {
    fn new(len: usize) -> Result<Self, Error> {
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
        let too_large = Error::TooLarge {
            elements: len,
            element_size: std::mem::size_of::<T>(),
        };
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .filter(|&n| n <= isize::MAX as usize / 2)
            .and_then(|n| n.checked_add(data_offset::<L, T>()))
            .ok_or(too_large)?;
        let block = heap::alloc(bytes)?;
        // SAFETY: the block is fresh (nobody else knows its offset), 64-byte aligned and
        // large enough for an L at offset 0; L::init initialises it in place.
        let slot = unsafe { &mut *block.ptr().cast::<MaybeUninit<L>>() };
        L::init(slot)?;
        // The elements are written by the constructors before the value is shared.
        Ok(Cells {
            block,
            len,
            _marker: PhantomData,
        })
    }

    fn lock(&self) -> &L {
        // SAFETY: the block starts with an `L` initialised by `L::init`, never moved;
        // `L: Sync` and lives as long as the block.
        unsafe { &*self.block.ptr().cast::<L>() }
    }

    fn at(&self, index: usize) -> *mut u8 {
        debug_assert!(index < self.len);
        // SAFETY: element `index < len` lies inside the block (see `new`).
        unsafe {
            self.block
                .ptr()
                .add(data_offset::<L, T>() + index * std::mem::size_of::<T>())
        }
    }

    fn load(&self, index: usize, hooked: bool) -> T {
        hook::point_if(hooked, Point::Load);
        // SAFETY: element `index` is a T in our block, aligned to its atomic word size
        // (8-aligned base, size a multiple of the word), reached only via atomic_copy.
        unsafe { atomic_copy::load(self.at(index)) }
    }

    fn store(&self, index: usize, x: &T, hooked: bool) {
        hook::point_if(hooked, Point::Store);
        // SAFETY: as in `load`.
        unsafe { atomic_copy::store(self.at(index), x) }
    }

    fn load_all(&self, hooked: bool) -> Vec<T> {
        (0..self.len).map(|i| self.load(i, hooked)).collect()
    }

    /// Acquire for reading (`write == false`) or writing and build the guard.
    fn acquire<G>(
        &self,
        write: bool,
        wait: Wait,
        make: impl FnOnce(bool) -> G,
    ) -> TryGuardResult<G> {
        let hooked = hook::is_active();
        hook::point_if(hooked, Point::Acquire);
        let l = self.lock();
        let r = match (write, wait) {
            (false, Wait::Forever) => l.read().map(|()| true),
            (false, Wait::Not) => l.try_read(),
            (false, Wait::For(d)) => l.try_read_for(d),
            (true, Wait::Forever) => l.write().map(|()| true),
            (true, Wait::Not) => l.try_write(),
            (true, Wait::For(d)) => l.try_write_for(d),
        };
        match r {
            Ok(true) => Ok(Some(make(hooked))),
            Ok(false) => Ok(None),
            Err(e) => Err(GuardError::from_lock(e, || make(hooked))),
        }
    }

    /// # Safety
    ///
    /// The caller holds the lock for reading (`write == false`) or writing.
    unsafe fn release(&self, write: bool, hooked: bool) -> Result<(), LockError> {
        hook::point_if(hooked, Point::Release);
        // SAFETY: forwarded from the caller.
        unsafe {
            if write {
                self.lock().unlock_write()
            } else {
                self.lock().unlock_read()
            }
        }
    }

    /// # Safety
    ///
    /// No process holds or waits for the lock, and none will until this returns.
    unsafe fn reinit_lock(&self) -> Result<(), LockError> {
        // SAFETY: the caller guarantees nobody else uses the lock meanwhile; the block
        // starts with room for an `L`.
        let slot = unsafe { &mut *self.block.ptr().cast::<MaybeUninit<L>>() };
        L::init(slot)
    }
}

fn forever<G>(r: TryGuardResult<G>) -> GuardResult<G> {
    match r {
        Ok(Some(g)) => Ok(g),
        Ok(None) => unreachable!("an untimed acquisition does not time out"),
        Err(e) => Err(e),
    }
}

/// Unwrap a guard result for a one-shot operation: the owner-died case still has the
/// lock (the guard releases it when dropped), and is reported.
fn one_shot<G, R>(r: GuardResult<G>, f: impl FnOnce(&mut G) -> R) -> Result<R, LockError> {
    match r {
        Ok(mut g) => Ok(f(&mut g)),
        Err(GuardError::OwnerDied { pid, guard }) => {
            drop(guard);
            Err(LockError::OwnerDied { pid })
        }
        Err(GuardError::Lock(e)) => Err(e),
    }
}

/// A `T` in shared memory that many processes may read at once and one at a time write,
/// under reader-writer strategy `L`.
///
/// ```
/// # use procshare_shm::RwValue;
/// let v = RwValue::<[u64; 2]>::new([0, 0])?;
/// {
///     let mut w = v.write().unwrap();
///     w[0] += 1;
///     w[1] += 1;
/// }
/// let r1 = v.read().unwrap();
/// let r2 = v.try_read().unwrap().expect("readers share");
/// assert_eq!((*r1, *r2), ([1, 1], [1, 1]));
/// assert!(v.try_write().unwrap().is_none(), "readers exclude a writer");
/// # Ok::<(), procshare_shm::Error>(())
/// ```
pub struct RwValue<T: Pod, L: RawRwLock = WriterPreferringRwLock> {
    cells: Cells<T, L>,
}

impl<T: Pod, L: RawRwLock> std::fmt::Debug for RwValue<T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwValue")
            .field("lock", &L::NAME)
            .field("offset", &self.cells.block.offset())
            .finish_non_exhaustive()
    }
}

impl<T: Pod, L: RawRwLock> RwValue<T, L> {
    /// A new shared value holding `init`, unlocked.
    pub fn new(init: T) -> Result<Self, Error> {
        let cells = Cells::new(1)?;
        cells.store(0, &init, false);
        Ok(RwValue { cells })
    }

    /// The raw lock, for a strategy's own diagnostics. Its unlocks are `unsafe`: release
    /// through a guard instead.
    pub fn raw(&self) -> &L {
        self.cells.lock()
    }

    fn read_guard(&self, hooked: bool) -> RwValueReadGuard<'_, T, L> {
        RwValueReadGuard {
            value: self,
            hooked,
            local: self.cells.load(0, hooked),
        }
    }

    fn write_guard(&self, hooked: bool) -> RwValueWriteGuard<'_, T, L> {
        RwValueWriteGuard {
            value: self,
            hooked,
            local: self.cells.load(0, hooked),
            dirty: false,
        }
    }

    /// Lock for reading, waiting as long as it takes.
    /// [`GuardError::OwnerDied`] carries the (read) guard.
    pub fn read(&self) -> GuardResult<RwValueReadGuard<'_, T, L>> {
        forever(
            self.cells
                .acquire(false, Wait::Forever, |h| self.read_guard(h)),
        )
    }

    /// Lock for reading if that is possible now (`Ok(None)` otherwise).
    pub fn try_read(&self) -> TryGuardResult<RwValueReadGuard<'_, T, L>> {
        self.cells.acquire(false, Wait::Not, |h| self.read_guard(h))
    }

    /// Lock for reading, giving up after `timeout` (`Ok(None)`).
    pub fn try_read_for(&self, timeout: Duration) -> TryGuardResult<RwValueReadGuard<'_, T, L>> {
        self.cells
            .acquire(false, Wait::For(timeout), |h| self.read_guard(h))
    }

    /// Lock for writing, waiting as long as it takes.
    /// [`GuardError::OwnerDied`] carries the (write) guard.
    pub fn write(&self) -> GuardResult<RwValueWriteGuard<'_, T, L>> {
        forever(
            self.cells
                .acquire(true, Wait::Forever, |h| self.write_guard(h)),
        )
    }

    /// Lock for writing if that is possible now (`Ok(None)` otherwise).
    pub fn try_write(&self) -> TryGuardResult<RwValueWriteGuard<'_, T, L>> {
        self.cells.acquire(true, Wait::Not, |h| self.write_guard(h))
    }

    /// Lock for writing, giving up after `timeout` (`Ok(None)`).
    pub fn try_write_for(&self, timeout: Duration) -> TryGuardResult<RwValueWriteGuard<'_, T, L>> {
        self.cells
            .acquire(true, Wait::For(timeout), |h| self.write_guard(h))
    }

    /// Read the value under a read lock. `Err(OwnerDied)`: a writer died inside its
    /// section (the value may be half-written; the lock was released again).
    pub fn load(&self) -> Result<T, LockError> {
        one_shot(self.read(), |g| **g)
    }

    /// Write the value under the write lock (`Err(OwnerDied)`: written anyway, after a
    /// writer died inside its section).
    pub fn store(&self, x: T) -> Result<(), LockError> {
        one_shot(self.write(), |g| **g = x)
    }

    /// Put the lock back to free, whatever state it is in: the way out of a documented
    /// wedge (a reader killed while holding) once everyone who used it is gone.
    ///
    /// # Safety
    ///
    /// No process (this one included) holds or waits for the lock, and none will until
    /// this returns.
    pub unsafe fn reinit_lock(&self) -> Result<(), LockError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.cells.reinit_lock() }
    }
}

/// A read lock of an [`RwValue`], held; derefs to a copy of the value taken under it.
pub struct RwValueReadGuard<'a, T: Pod, L: RawRwLock> {
    value: &'a RwValue<T, L>,
    hooked: bool,
    local: T,
}

impl<T: Pod, L: RawRwLock> Deref for RwValueReadGuard<'_, T, L> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.local
    }
}

impl<T: Pod + std::fmt::Debug, L: RawRwLock> std::fmt::Debug for RwValueReadGuard<'_, T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RwValueReadGuard")
            .field(&self.local)
            .finish()
    }
}

impl<T: Pod, L: RawRwLock> Drop for RwValueReadGuard<'_, T, L> {
    fn drop(&mut self) {
        // SAFETY: a read guard exists only while its read lock is held; drop runs once.
        if let Err(e) = unsafe { self.value.cells.release(false, self.hooked) } {
            locking::unlock_failed(L::NAME, e);
        }
    }
}

/// A write lock of an [`RwValue`], held; the value is written back (if changed) when it
/// is dropped, just before the lock is released.
pub struct RwValueWriteGuard<'a, T: Pod, L: RawRwLock> {
    value: &'a RwValue<T, L>,
    hooked: bool,
    local: T,
    dirty: bool,
}

impl<T: Pod, L: RawRwLock> Deref for RwValueWriteGuard<'_, T, L> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.local
    }
}

impl<T: Pod, L: RawRwLock> DerefMut for RwValueWriteGuard<'_, T, L> {
    fn deref_mut(&mut self) -> &mut T {
        self.dirty = true;
        &mut self.local
    }
}

impl<T: Pod + std::fmt::Debug, L: RawRwLock> std::fmt::Debug for RwValueWriteGuard<'_, T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwValueWriteGuard")
            .field("local", &self.local)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<T: Pod, L: RawRwLock> Drop for RwValueWriteGuard<'_, T, L> {
    fn drop(&mut self) {
        if self.dirty {
            self.value.cells.store(0, &self.local, self.hooked);
        }
        // SAFETY: a write guard exists only while its write lock is held; drop runs once.
        if let Err(e) = unsafe { self.value.cells.release(true, self.hooked) } {
            locking::unlock_failed(L::NAME, e);
        }
    }
}

/// A fixed-length `[T]` in shared memory that many processes may read at once and one at
/// a time write, under reader-writer strategy `L`.
///
/// ```
/// # use procshare_shm::RwArray;
/// let a = RwArray::<u32>::from_slice(&[1, 2, 3])?;
/// a.write().unwrap().iter_mut().for_each(|x| *x *= 10);
/// assert_eq!(&*a.read().unwrap(), &[10, 20, 30]);
/// assert_eq!(a.get(1)?, 20);
/// assert!(a.get(3).is_err(), "out of range is an error");
/// # Ok::<(), procshare_shm::Error>(())
/// ```
pub struct RwArray<T: Pod, L: RawRwLock = WriterPreferringRwLock> {
    cells: Cells<T, L>,
}

impl<T: Pod, L: RawRwLock> std::fmt::Debug for RwArray<T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwArray")
            .field("lock", &L::NAME)
            .field("len", &self.cells.len)
            .finish_non_exhaustive()
    }
}

impl<T: Pod, L: RawRwLock> RwArray<T, L> {
    /// A zero-filled array of `len` elements, unlocked.
    pub fn zeroed(len: usize) -> Result<Self, Error> {
        let cells = Cells::new(len)?;
        let zero = T::zeroed();
        for i in 0..len {
            cells.store(i, &zero, false);
        }
        Ok(RwArray { cells })
    }

    /// An array holding a copy of `xs`, unlocked.
    pub fn from_slice(xs: &[T]) -> Result<Self, Error> {
        let cells = Cells::new(xs.len())?;
        for (i, x) in xs.iter().enumerate() {
            cells.store(i, x, false);
        }
        Ok(RwArray { cells })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.cells.len
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.cells.len == 0
    }

    /// The raw lock, for a strategy's own diagnostics. Its unlocks are `unsafe`: release
    /// through a guard instead.
    pub fn raw(&self) -> &L {
        self.cells.lock()
    }

    fn read_guard(&self, hooked: bool) -> RwArrayReadGuard<'_, T, L> {
        RwArrayReadGuard {
            array: self,
            hooked,
            local: self.cells.load_all(hooked),
        }
    }

    fn write_guard(&self, hooked: bool) -> RwArrayWriteGuard<'_, T, L> {
        RwArrayWriteGuard {
            array: self,
            hooked,
            local: self.cells.load_all(hooked),
            dirty: false,
        }
    }

    /// Lock for reading, waiting as long as it takes.
    /// [`GuardError::OwnerDied`] carries the (read) guard.
    pub fn read(&self) -> GuardResult<RwArrayReadGuard<'_, T, L>> {
        forever(
            self.cells
                .acquire(false, Wait::Forever, |h| self.read_guard(h)),
        )
    }

    /// Lock for reading if that is possible now (`Ok(None)` otherwise).
    pub fn try_read(&self) -> TryGuardResult<RwArrayReadGuard<'_, T, L>> {
        self.cells.acquire(false, Wait::Not, |h| self.read_guard(h))
    }

    /// Lock for reading, giving up after `timeout` (`Ok(None)`).
    pub fn try_read_for(&self, timeout: Duration) -> TryGuardResult<RwArrayReadGuard<'_, T, L>> {
        self.cells
            .acquire(false, Wait::For(timeout), |h| self.read_guard(h))
    }

    /// Lock for writing, waiting as long as it takes.
    /// [`GuardError::OwnerDied`] carries the (write) guard.
    pub fn write(&self) -> GuardResult<RwArrayWriteGuard<'_, T, L>> {
        forever(
            self.cells
                .acquire(true, Wait::Forever, |h| self.write_guard(h)),
        )
    }

    /// Lock for writing if that is possible now (`Ok(None)` otherwise).
    pub fn try_write(&self) -> TryGuardResult<RwArrayWriteGuard<'_, T, L>> {
        self.cells.acquire(true, Wait::Not, |h| self.write_guard(h))
    }

    /// Lock for writing, giving up after `timeout` (`Ok(None)`).
    pub fn try_write_for(&self, timeout: Duration) -> TryGuardResult<RwArrayWriteGuard<'_, T, L>> {
        self.cells
            .acquire(true, Wait::For(timeout), |h| self.write_guard(h))
    }

    fn check(&self, index: usize) -> Result<(), Error> {
        if index < self.cells.len {
            Ok(())
        } else {
            Err(Error::IndexOutOfRange {
                index,
                len: self.cells.len,
            })
        }
    }

    /// Element `index`, read under a read lock (reading only that element).
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.check(index)?;
        let r = self.cells.acquire(false, Wait::Forever, |hooked| hooked);
        let hooked = match forever(r) {
            Ok(h) => h,
            Err(GuardError::OwnerDied { pid, guard }) => {
                // SAFETY: OwnerDied from a read acquisition holds it for reading.
                unsafe { self.cells.release(false, guard) }?;
                return Err(LockError::OwnerDied { pid }.into());
            }
            Err(GuardError::Lock(e)) => return Err(e.into()),
        };
        let x = self.cells.load(index, hooked);
        // SAFETY: acquired for reading just above.
        unsafe { self.cells.release(false, hooked) }?;
        Ok(x)
    }

    /// Write element `index` under the write lock (writing only that element;
    /// `Err(OwnerDied)`: written anyway, after a writer died inside its section).
    pub fn set(&self, index: usize, x: T) -> Result<(), Error> {
        self.check(index)?;
        let r = self.cells.acquire(true, Wait::Forever, |hooked| hooked);
        let (hooked, died) = match forever(r) {
            Ok(h) => (h, None),
            Err(GuardError::OwnerDied { pid, guard }) => (guard, Some(pid)),
            Err(GuardError::Lock(e)) => return Err(e.into()),
        };
        self.cells.store(index, &x, hooked);
        // SAFETY: acquired for writing just above.
        unsafe { self.cells.release(true, hooked) }?;
        match died {
            Some(pid) => Err(LockError::OwnerDied { pid }.into()),
            None => Ok(()),
        }
    }

    /// A copy of all elements, read under one read lock.
    pub fn to_vec(&self) -> Result<Vec<T>, LockError> {
        one_shot(self.read(), |g| g.to_vec())
    }

    /// Put the lock back to free, whatever state it is in: the way out of a documented
    /// wedge (a reader killed while holding) once everyone who used it is gone.
    ///
    /// # Safety
    ///
    /// No process (this one included) holds or waits for the lock, and none will until
    /// this returns.
    pub unsafe fn reinit_lock(&self) -> Result<(), LockError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.cells.reinit_lock() }
    }
}

/// A read lock of an [`RwArray`], held; derefs to a copy of the elements taken under it.
pub struct RwArrayReadGuard<'a, T: Pod, L: RawRwLock> {
    array: &'a RwArray<T, L>,
    hooked: bool,
    local: Vec<T>,
}

impl<T: Pod, L: RawRwLock> Deref for RwArrayReadGuard<'_, T, L> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.local
    }
}

impl<T: Pod + std::fmt::Debug, L: RawRwLock> std::fmt::Debug for RwArrayReadGuard<'_, T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RwArrayReadGuard")
            .field(&self.local)
            .finish()
    }
}

impl<T: Pod, L: RawRwLock> Drop for RwArrayReadGuard<'_, T, L> {
    fn drop(&mut self) {
        // SAFETY: a read guard exists only while its read lock is held; drop runs once.
        if let Err(e) = unsafe { self.array.cells.release(false, self.hooked) } {
            locking::unlock_failed(L::NAME, e);
        }
    }
}

/// A write lock of an [`RwArray`], held; derefs to a copy of the elements, written back
/// (if changed, element by element) when it is dropped, just before the lock is released.
pub struct RwArrayWriteGuard<'a, T: Pod, L: RawRwLock> {
    array: &'a RwArray<T, L>,
    hooked: bool,
    local: Vec<T>,
    dirty: bool,
}

impl<T: Pod, L: RawRwLock> Deref for RwArrayWriteGuard<'_, T, L> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.local
    }
}

impl<T: Pod, L: RawRwLock> DerefMut for RwArrayWriteGuard<'_, T, L> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.dirty = true;
        &mut self.local
    }
}

impl<T: Pod + std::fmt::Debug, L: RawRwLock> std::fmt::Debug for RwArrayWriteGuard<'_, T, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwArrayWriteGuard")
            .field("local", &self.local)
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl<T: Pod, L: RawRwLock> RwArrayWriteGuard<'_, T, L> {
    /// Write the changes back now (element by element), keeping the lock: other
    /// processes see them once the lock is released, or at once if a writer dies holding
    /// it (the next locker's `OwnerDied` then finds them).
    pub fn flush(&mut self) {
        if self.dirty {
            for (i, x) in self.local.iter().enumerate() {
                self.array.cells.store(i, x, self.hooked);
            }
            self.dirty = false;
        }
    }
}

impl<T: Pod, L: RawRwLock> Drop for RwArrayWriteGuard<'_, T, L> {
    fn drop(&mut self) {
        self.flush();
        // SAFETY: a write guard exists only while its write lock is held; drop runs once.
        if let Err(e) = unsafe { self.array.cells.release(true, self.hooked) } {
            locking::unlock_failed(L::NAME, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_and_a_writer_excludes() {
        let a = RwArray::<u64>::from_slice(&[1, 2]).unwrap();
        let r = a.read().unwrap();
        assert!(a.try_read().unwrap().is_some());
        assert!(a.try_write().unwrap().is_none());
        drop(r);
        let mut w = a.try_write().unwrap().expect("free");
        assert!(a.try_read().unwrap().is_none());
        w[1] = 7;
        drop(w);
        assert_eq!(a.to_vec().unwrap(), vec![1, 7]);
        a.set(0, 9).unwrap();
        assert_eq!(a.get(0).unwrap(), 9);
        assert!(matches!(
            a.set(2, 0),
            Err(Error::IndexOutOfRange { index: 2, len: 2 })
        ));
    }

    #[test]
    fn an_unchanged_write_guard_writes_nothing_back() {
        let v = RwValue::<u32>::new(5).unwrap();
        let w = v.write().unwrap();
        assert_eq!(*w, 5);
        drop(w);
        v.store(6).unwrap();
        assert_eq!(v.load().unwrap(), 6);
    }

    #[test]
    fn reinit_frees_a_wedged_lock() {
        let v = RwValue::<u32>::new(1).unwrap();
        std::mem::forget(v.read().unwrap()); // a reader that never releases
        assert!(v.try_write().unwrap().is_none());
        // SAFETY: nobody holds or waits for the lock (the forgotten guard is gone).
        unsafe { v.reinit_lock() }.unwrap();
        assert!(v.try_write().unwrap().is_some());
        assert_eq!(v.load().unwrap(), 1);
    }

    #[test]
    fn an_empty_array_locks() {
        let a = RwArray::<u8>::zeroed(0).unwrap();
        assert!(a.is_empty());
        assert!(a.read().unwrap().is_empty());
    }
}
