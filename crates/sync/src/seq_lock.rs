//! `RawSeqLock`: the protocol of a sequence lock, for read-mostly data that readers copy
//! optimistically; the typed `SeqLock<T: Pod>` of `procshare-shm` is built on it.
//!
//! Algorithm: the sequence lock of Linux (`seqlock_t`, S. Hemminger and others, 2002;
//! Lamport's "concurrent reading and writing", CACM 20(11), 1977, is the idea), in the
//! form H.-J. Boehm proved correct in the C++ memory model ("Can seqlocks get along with
//! programming language memory models?", MSPC 2012):
//!
//! ```text
//! writer:  lock writers; s = seq; seq = s + 1 (odd); fence(Release);
//!          write the data (relaxed atomics); seq = s + 2 (Release); unlock writers
//! reader:  s1 = seq (Acquire), until even; read the data (relaxed atomics);
//!          fence(Acquire); s2 = seq (Relaxed); if s1 != s2, retry
//! ```
//!
//! Readers never write shared memory and never block the writer: a read that overlaps a
//! write sees the sequence change and retries. The data is read and written only through
//! relaxed atomic words (never plain racing accesses), so a torn copy is a value the
//! reader throws away, never undefined behaviour. If a reader's copy contains any word of
//! a write, its `fence(Acquire)` synchronises with that writer's `fence(Release)`, so the
//! re-read sequence is the writer's odd value or later: the copy is rejected.
//!
//! | `seq`       | meaning                                            |
//! |-------------|----------------------------------------------------|
//! | even `2k`   | stable: `k` writes completed                       |
//! | odd         | a write is in progress (or its writer died in it)  |
//!
//! Writers exclude each other with a [`FutexMutex`] (the writer's pid is its owner word).
//! Owner death: a writer killed mid-write leaves `seq` odd. The next writer's lock
//! reports the death (`OwnerDied`), finds `seq` odd and does not bump it again: its full
//! write repairs the value, and readers proceed. A reader that waits on an odd `seq`
//! checks, about every 50 ms, whether the writer is proven dead and then returns
//! [`LockError::HolderExited`] (the value stays torn until the next write) instead of
//! waiting for ever.
//!
//! Tested by `tests/loom_seq_lock.rs` (a reader never accepts a torn two-word value, with
//! one writer and with two, and with two readers; a writer that dies mid-write is repaired
//! by the next; a broken reader that skips the re-check accepts a torn value, which loom
//! finds) and by the cross-process tests of `procshare` (`tests/seq_lock.rs`).

use crate::loom::{fence, AtomicU32, Backoff, LivenessTimer, Ordering};
use crate::{liveness, FutexMutex, LockError, RawLock};

/// The sequence word and the writers' mutex of a sequence lock; the data lives beside it
/// (see the module docs for the protocol the caller follows).
#[repr(C)]
#[derive(Debug)]
pub struct RawSeqLock {
    seq: AtomicU32,
    writer: FutexMutex,
}

impl RawSeqLock {
    /// A sequence lock with no write in progress.
    pub fn new() -> Self {
        RawSeqLock {
            seq: AtomicU32::new(0),
            writer: FutexMutex::new(),
        }
    }

    /// The sequence (even: stable). A diagnostic.
    pub fn sequence(&self) -> u32 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Begin a read: wait until no write is in progress and return the (even) sequence to
    /// pass to [`read_validate`](Self::read_validate). `Err(HolderExited)` if the write in
    /// progress belongs to a writer proven dead.
    pub fn read_begin(&self) -> Result<u32, LockError> {
        let mut backoff = Backoff::new();
        let mut timer = LivenessTimer::new();
        loop {
            let s = self.seq.load(Ordering::Acquire);
            if s & 1 == 0 {
                return Ok(s);
            }
            if backoff.is_yielding() && timer.due() {
                let owner = self.writer.owner();
                if owner != 0 && liveness::is_dead(owner) && self.seq.load(Ordering::Relaxed) == s {
                    return Err(LockError::HolderExited { pid: owner });
                }
            }
            backoff.snooze();
        }
    }

    /// After copying the data with relaxed atomic loads: is the copy consistent (no write
    /// overlapped it since `read_begin` returned `seq`)? If not, start again.
    pub fn read_validate(&self, seq: u32) -> bool {
        fence(Ordering::Acquire);
        self.seq.load(Ordering::Relaxed) == seq
    }

    /// Begin a write: exclude other writers and mark the data as being written. Returns
    /// whether a previous writer died mid-write (its torn value is about to be replaced).
    pub fn write_begin(&self) -> Result<bool, LockError> {
        let died = match self.writer.lock() {
            Ok(()) => false,
            Err(e) if e.lock_is_held() => true,
            Err(e) => return Err(e),
        };
        let s = self.seq.load(Ordering::Relaxed);
        if s & 1 == 0 {
            self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        }
        fence(Ordering::Release);
        Ok(died)
    }

    /// End a write begun by [`write_begin`](Self::write_begin): publish the data.
    ///
    /// # Safety
    ///
    /// The caller's `write_begin` succeeded and it has not ended that write yet.
    pub unsafe fn write_end(&self) -> Result<(), LockError> {
        let s = self.seq.load(Ordering::Relaxed);
        debug_assert!(s & 1 == 1, "write_end without write_begin");
        self.seq.store(s.wrapping_add(1), Ordering::Release);
        // SAFETY: `write_begin` locked the writers' mutex for the caller.
        unsafe { self.writer.unlock() }
    }
}

impl Default for RawSeqLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: an AtomicU32 and a FutexMutex (one AtomicU32, shared futex); no pointers.
unsafe impl crate::ProcessShared for RawSeqLock {}
