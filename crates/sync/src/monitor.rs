//! `Monitor`: a mutex plus a "something changed" futex word, for objects whose state is a
//! few words updated under the mutex (the barrier, the condition's bookkeeping).
//!
//! `wait` reads the sequence word while holding the mutex, releases the mutex, and sleeps
//! while the word still holds what it read; `notify_all` bumps the word under the mutex
//! and wakes the sleepers (only if there are any). Because the read and the bump both
//! happen under the mutex, a notification between the waiter's unlock and its sleep
//! changes the word, and the sleep returns at once: no lost wake-up. Waiters always
//! re-check their predicate, so spurious wake-ups are harmless.
//!
//! Checked by the loom models of the objects built on it (`tests/loom_barrier.rs`).

use crate::loom::{futex_wait, futex_wake, AtomicU32, Deadline, Ordering, Wake};
use crate::{FutexMutex, LockError, RawLock};

/// A monitor in shared memory: a [`FutexMutex`] and two words.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    mutex: FutexMutex,
    /// Bumped by every `notify_all`; the futex word waiters sleep on.
    seq: AtomicU32,
    /// Number of processes between `wait`'s read of `seq` and its re-lock.
    sleepers: AtomicU32,
}

impl Monitor {
    pub(crate) fn new() -> Self {
        Monitor {
            mutex: FutexMutex::new(),
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
        }
    }

    /// Lock. `Err(OwnerDied)` means it is held, and its previous holder died in it.
    pub(crate) fn lock(&self) -> Result<(), LockError> {
        self.mutex.lock()
    }

    /// Unlock.
    ///
    /// # Safety
    ///
    /// The caller holds the monitor.
    pub(crate) unsafe fn unlock(&self) {
        self.mutex.unlock_any();
    }

    /// Release the monitor, sleep until notified (or `deadline`), lock it again.
    /// Returns false if the sleep timed out (the caller checks its own deadline). Must be called with the monitor held; it is
    /// held again when this returns, also on error (`OwnerDied`).
    pub(crate) fn wait(&self, deadline: &Deadline) -> Result<bool, LockError> {
        let seen = self.seq.load(Ordering::Relaxed);
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        // The caller holds the monitor (documented precondition).
        self.mutex.unlock_any();
        let woke = futex_wait(&self.seq, seen, deadline);
        let relocked = self.mutex.lock();
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        relocked?;
        Ok(woke != Wake::TimedOut)
    }

    /// Wake every waiter. Must be called with the monitor held.
    pub(crate) fn notify_all(&self) {
        self.seq.fetch_add(1, Ordering::Release);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            futex_wake(&self.seq, u32::MAX);
        }
    }
}
