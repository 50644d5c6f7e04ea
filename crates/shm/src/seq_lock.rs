//! `SeqLock<T: Pod>`: a read-mostly value in shared memory behind a sequence lock.
//!
//! The protocol is [`RawSeqLock`] of `procshare-sync` (loom-checked there, see its docs):
//! readers copy the value optimistically and retry when a write overlapped the copy;
//! they never write shared memory and never block the writer. The value is copied in and
//! out with relaxed atomic words (the `atomic_copy` module), never plain racing accesses,
//! so a torn copy is thrown away, never undefined behaviour. Writers exclude each other
//! with the lock's `FutexMutex`; a writer killed mid-write is repaired by the next write
//! (which replaces the whole value), and a reader waiting on its unfinished write gets
//! `LockError::HolderExited` instead of waiting for ever.
//!
//! Tested by `tests/seq_lock.rs` of `procshare` (2/4/8 processes: one writer, readers that
//! never see a torn value; a killed writer).

use crate::{Error, RawValue, Shared};
use bytemuck::Pod;
use procshare_sync::{LockError, RawSeqLock};

/// A `T` in shared memory that readers read without locking.
pub struct SeqLock<T: Pod> {
    lock: Shared<RawSeqLock>,
    data: RawValue<T>,
}

impl<T: Pod> std::fmt::Debug for SeqLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeqLock")
            .field("sequence", &self.lock.sequence())
            .finish_non_exhaustive()
    }
}

impl<T: Pod> SeqLock<T> {
    /// A new shared value holding `init`.
    pub fn new(init: T) -> Result<Self, Error> {
        Ok(SeqLock {
            lock: Shared::new(RawSeqLock::new())?,
            data: RawValue::new(init)?,
        })
    }

    /// A consistent copy of the value (retried while writes overlap it).
    /// `Err(HolderExited)`: a writer died mid-write and no write has repaired it yet.
    pub fn read(&self) -> Result<T, LockError> {
        loop {
            let seq = self.lock.read_begin()?;
            let v = self.data.load();
            if self.lock.read_validate(seq) {
                return Ok(v);
            }
        }
    }

    /// Replace the value. Returns `Ok(true)` if a previous writer had died mid-write (its
    /// torn value is now replaced), `Ok(false)` otherwise.
    pub fn write(&self, v: T) -> Result<bool, LockError> {
        let repaired = self.lock.write_begin()?;
        self.data.store(v);
        // SAFETY: write_begin succeeded just above.
        unsafe { self.lock.write_end() }?;
        Ok(repaired)
    }

    /// Read-modify-write under the writers' mutex (readers still never block).
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Result<bool, LockError> {
        let repaired = self.lock.write_begin()?;
        self.data.store(f(self.data.load()));
        // SAFETY: write_begin succeeded just above.
        unsafe { self.lock.write_end() }?;
        Ok(repaired)
    }

    /// How many writes have completed (the sequence / 2). A diagnostic.
    pub fn writes(&self) -> u32 {
        self.lock.sequence() / 2
    }
}
