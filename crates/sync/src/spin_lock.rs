//! `SpinLock`: test-and-test-and-set with bounded exponential backoff.
//!
//! Algorithm: Anderson (1990) / Rudolph & Segall's "test-and-test-and-set": waiters read
//! the word (shared cache line) until it looks free and only then try the CAS; between
//! reads they back off exponentially, up to `2^6` spin hints, and then yield the processor
//! instead of burning it (essential when processes outnumber cores). The word holds the
//! owner's pid, so a waiter that has been yielding checks about every 50 ms whether the
//! owner is alive and takes a dead owner's lock over ([`LockError::OwnerDied`]).
//!
//! Tested by `tests/loom_spin_lock.rs` and the cross-process tests of `procshare`.

use crate::loom::{AtomicU32, Backoff, Deadline, LivenessTimer, Ordering};
use crate::{liveness, loom, LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// A spin lock on one 32-bit word.
///
/// | word  | meaning                |
/// |-------|------------------------|
/// | `0`   | unlocked               |
/// | `pid` | held by process `pid`  |
///
/// Transitions: `0 → me` (CAS, Acquire) by a locker; `pid → me` (CAS, Acquire) by a waiter
/// that found `pid` dead; `me → 0` (store, Release) by the holder.
///
/// Fairness: none. Cost: one CAS / one store uncontended; waiters burn CPU until they
/// start yielding, and never sleep in the kernel.
#[repr(C)]
#[derive(Debug)]
pub struct SpinLock {
    word: AtomicU32,
}

impl SpinLock {
    /// An unlocked spin lock (for in-process use and loom models).
    pub fn new() -> Self {
        SpinLock {
            word: AtomicU32::new(0),
        }
    }

    #[inline]
    fn try_acquire(&self, me: u32) -> bool {
        self.word
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[cold]
    fn lock_contended(&self, deadline: &Deadline) -> Result<bool, LockError> {
        let me = loom::current_owner();
        let mut backoff = Backoff::new();
        let mut liveness = LivenessTimer::new();
        loop {
            let s = self.word.load(Ordering::Relaxed);
            if s == 0 {
                if self.try_acquire(me) {
                    return Ok(true);
                }
            } else if backoff.is_yielding()
                && liveness.due()
                && liveness::is_dead(s)
                && self
                    .word
                    .compare_exchange(s, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Err(LockError::OwnerDied { pid: Some(s) });
            }
            if deadline.expired() {
                return Ok(false);
            }
            backoff.snooze();
        }
    }
}

impl Default for SpinLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion: acquisitions are CASes from 0 (or from a dead owner's pid) to the
// caller's non-zero pid, and only the holder's `unlock` stores 0. Acquire CAS / Release
// store order the critical sections. One AtomicU32, no pointers. `try_lock_for` returns
// false only once `Deadline::expired` says the timeout has passed.
unsafe impl RawLock for SpinLock {
    const NAME: &'static str = "spin";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(SpinLock::new());
        Ok(())
    }

    #[inline]
    fn lock(&self) -> Result<(), LockError> {
        if self.try_acquire(loom::current_owner()) {
            return Ok(());
        }
        self.lock_contended(&Deadline::never()).map(|_| ())
    }

    #[inline]
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.try_acquire(loom::current_owner()))
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        if self.try_acquire(loom::current_owner()) {
            return Ok(true);
        }
        self.lock_contended(&Deadline::after(timeout))
    }

    #[inline]
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.word.store(0, Ordering::Release);
        Ok(())
    }
}
