//! `Shared<T>`: any [`ProcessShared`] object, moved into the shared heap.
//!
//! This is how the synchronisation objects (`Lock`, `RLock`, `Semaphore`,
//! `BoundedSemaphore`, `Condition`, `Event`, `Barrier`) and the lock strategies become
//! visible to forked children: `Shared::new(Semaphore::new(2))?` allocates a 64-byte
//! aligned block, moves the object in, and derefs to it. The object's bytes are never
//! moved again and its destructor never runs (`ProcessShared` types hold only atomics),
//! because other processes may still be using it when this handle is dropped; the block
//! returns to the heap of the process that created it.

use crate::heap::{self, Block};
use crate::Error;
use procshare_sync::ProcessShared;
use std::marker::PhantomData;
use std::ops::Deref;

/// A handle to a `T` living in memory shared with forked children.
pub struct Shared<T: ProcessShared> {
    block: Block,
    _marker: PhantomData<T>,
}

impl<T: ProcessShared> Shared<T> {
    /// Move `value` into shared memory.
    pub fn new(value: T) -> Result<Self, Error> {
        const { assert!(std::mem::align_of::<T>() <= heap::BLOCK_ALIGN) };
        let block = heap::alloc(std::mem::size_of::<T>())?;
        // SAFETY: the block is fresh (nobody else knows it), large enough and 64-byte
        // aligned, so it is valid for a write of T; T: ProcessShared may live there.
        unsafe { block.ptr().cast::<T>().write(value) };
        Ok(Shared {
            block,
            _marker: PhantomData,
        })
    }

    /// Offset of the object inside its shared region.
    pub fn offset(&self) -> usize {
        self.block.offset()
    }
}

impl<T: ProcessShared> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `new` wrote a T at the start of the block, which lives as long as self;
        // T is Sync and only interior-mutable through atomics, so shared references to it
        // are fine even while other processes use it.
        unsafe { &*self.block.ptr().cast::<T>() }
    }
}

impl<T: ProcessShared + std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Shared").field(&**self).finish()
    }
}
