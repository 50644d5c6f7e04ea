//! `FutexMutex`: the default strategy, a three-state futex mutex that records its owner.
//!
//! Algorithm: Drepper, "Futexes Are Tricky" (2011), mutex 2 ("unlocked / locked / locked
//! with waiters"), with the "locked" states carrying the owner's process id in the same
//! word, as the kernel's robust futexes do (`FUTEX_WAITERS | tid`). Keeping owner and state
//! in one word means taking the lock and recording the owner is one compare-and-swap: there
//! is no window in which the lock is held by nobody known.
//!
//! Owner death: a waiter sleeps at most [`LIVENESS_SLICE`](crate::loom::LIVENESS_SLICE)
//! (50 ms) at a time; when a sleep times out on an unchanged word it asks whether the owner
//! is alive (a zombie counts as dead) and, if not, takes the lock over with one CAS and
//! returns [`LockError::OwnerDied`] holding it. A dead holder is detected within about
//! 50 ms of its death; exactly one waiter gets the error. Only a proof of death counts
//! (see [`liveness`](crate::liveness)): a holder whose state cannot be read is waited
//! for, never taken over. CPython's ownerless [`Lock`](crate::Lock) uses the same word
//! without the takeover ([`OnDeadOwner::Report`]).
//!
//! Tested by `tests/loom_futex_mutex.rs` (mutual exclusion with 2 and 3 threads, no lost
//! wake-up, `try_lock`, timeouts that expire at any step, and a broken variant that must
//! fail) and by the cross-process tests of the `procshare` package.

use crate::loom::{futex_wait, futex_wake, spin_loop, AtomicU32, Deadline, Ordering, Wake};
use crate::{liveness, loom, LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// Set while some process may be asleep in `futex_wait` on the word.
const WAITERS: u32 = 1 << 31;
/// The owner's process id (Linux pids are below `2^22`).
const OWNER: u32 = !WAITERS;

/// How many times a contended `lock` re-checks the word before it sleeps; the checks are
/// spaced by an exponential backoff (1, 2, 4, … spin hints), so that the waiter does not
/// keep pulling the lock's cache line away from the holder (measured: a flat 100-check
/// spin cost 25–35 % of two-process throughput against a bare futex mutex).
const SPINS: u32 = if cfg!(loom) { 1 } else { 7 };

/// What a waiter does when it proves the lock's recorded owner dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnDeadOwner {
    /// Take the lock over and report [`LockError::OwnerDied`] with it held.
    TakeOver,
    /// Leave the lock held: an untimed wait reports [`LockError::HolderExited`], a timed
    /// one keeps waiting (someone may still release it) until its deadline.
    Report,
    /// The broken control of the loom suite: take over with a plain store instead of a
    /// compare-and-swap, so that two waiters that both found the owner dead both take the
    /// lock. Never used outside `broken.rs`.
    #[cfg(loom)]
    BrokenStoreTakeOver,
}

/// A mutex on one 32-bit futex word in shared memory.
///
/// | word              | meaning                                                  |
/// |-------------------|----------------------------------------------------------|
/// | `0`               | unlocked                                                 |
/// | `pid`             | held by process `pid`; nobody sleeps                     |
/// | `pid \| WAITERS`  | held by process `pid`; some process may sleep on the word|
///
/// | transition                          | made by                                    |
/// |-------------------------------------|--------------------------------------------|
/// | `0 → me` (CAS, Acquire)             | an uncontended locker                      |
/// | `0 → me \| WAITERS` (CAS, Acquire)  | a locker that has slept (others may sleep) |
/// | `pid → pid \| WAITERS` (CAS)        | a locker about to sleep                    |
/// | `pid[\|W] → me \| WAITERS` (CAS)    | a waiter that found `pid` dead (OwnerDied) |
/// | `* → 0` (swap, Release)             | the holder; wakes one sleeper if `WAITERS` |
///
/// Fairness: none (a running process may barge past a woken one). Cost uncontended: one
/// CAS to lock, one swap to unlock, no system call.
#[repr(C)]
#[derive(Debug)]
pub struct FutexMutex {
    word: AtomicU32,
}

impl FutexMutex {
    /// An unlocked mutex (for use inside one process and in loom models; in shared memory
    /// use [`RawLock::init`]).
    pub fn new() -> Self {
        FutexMutex {
            word: AtomicU32::new(0),
        }
    }

    #[inline]
    fn try_acquire(&self, me: u32) -> bool {
        self.word
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// The contended path: spin a little, then sleep on the word until it is ours, the
    /// deadline passes (`Ok(false)`) or the owner is found dead (`on_dead` says what then).
    #[cold]
    pub(crate) fn lock_contended(
        &self,
        deadline: &Deadline,
        on_dead: OnDeadOwner,
    ) -> Result<bool, LockError> {
        let me = loom::current_owner();
        for round in 0..SPINS {
            let s = self.word.load(Ordering::Relaxed);
            if s == 0 {
                if self.try_acquire(me) {
                    return Ok(true);
                }
            } else if s & WAITERS != 0 {
                break;
            }
            for _ in 0..1u32 << round.min(6) {
                spin_loop();
            }
        }
        loop {
            let mut s = self.word.load(Ordering::Relaxed);
            if s == 0 {
                // We may have slept: others may still sleep, so keep WAITERS set.
                if self
                    .word
                    .compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(true);
                }
                continue;
            }
            if s & WAITERS == 0 {
                if self
                    .word
                    .compare_exchange(s, s | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                s |= WAITERS;
            }
            if futex_wait(&self.word, s, &deadline.or_liveness_check_of(s & OWNER))
                == Wake::TimedOut
            {
                if deadline.expired() {
                    return Ok(false);
                }
                let owner = s & OWNER;
                if self.word.load(Ordering::Relaxed) == s && liveness::is_dead(owner) {
                    match on_dead {
                        OnDeadOwner::TakeOver => {
                            if self
                                .word
                                .compare_exchange(
                                    s,
                                    me | WAITERS,
                                    Ordering::Acquire,
                                    Ordering::Relaxed,
                                )
                                .is_ok()
                            {
                                return Err(LockError::OwnerDied { pid: Some(owner) });
                            }
                        }
                        OnDeadOwner::Report if !deadline.is_finite() => {
                            return Err(LockError::HolderExited { pid: owner });
                        }
                        OnDeadOwner::Report => {}
                        #[cfg(loom)]
                        OnDeadOwner::BrokenStoreTakeOver => {
                            self.word.store(me | WAITERS, Ordering::Release);
                            return Err(LockError::OwnerDied { pid: Some(owner) });
                        }
                    }
                }
            }
        }
    }

    /// The lock word, for the broken controls of `broken.rs`.
    #[cfg(loom)]
    pub(crate) fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Release the mutex whoever holds it: the ownerless release of CPython's `Lock`.
    /// Returns false (and changes nothing) if it was not locked.
    #[inline]
    pub fn unlock_any(&self) -> bool {
        let old = self.word.swap(0, Ordering::Release);
        if old & WAITERS != 0 {
            futex_wake(&self.word, 1);
        }
        old != 0
    }

    /// Release the mutex only if process `owner` holds it (one CAS: a lock that was
    /// released by someone else and taken by another process is left alone). Returns
    /// whether it released.
    pub(crate) fn unlock_if_owner(&self, owner: u32) -> bool {
        let mut s = self.word.load(Ordering::Relaxed);
        while s & OWNER == owner && owner != 0 {
            match self
                .word
                .compare_exchange_weak(s, 0, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if s & WAITERS != 0 {
                        futex_wake(&self.word, 1);
                    }
                    return true;
                }
                Err(now) => s = now,
            }
        }
        false
    }

    /// Acquire without waiting (for `Lock`, which adds its own bookkeeping).
    #[inline]
    pub(crate) fn try_acquire_now(&self) -> bool {
        self.try_acquire(loom::current_owner())
    }

    /// The pid (loom: thread id) recorded as the holder; 0 when unlocked.
    pub fn owner(&self) -> u32 {
        self.word.load(Ordering::Relaxed) & OWNER
    }

    /// The raw word, for tests and diagnostics.
    pub fn state(&self) -> u32 {
        self.word.load(Ordering::Relaxed)
    }
}

impl Default for FutexMutex {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion: every acquisition is a CAS from 0 (or, on owner death, from the dead
// owner's unchanged word) to a non-zero word, and only `unlock` returns the word to 0.
// Ordering: acquisitions are Acquire CASes, the release is a Release swap. The state is one
// AtomicU32 holding no pointer; the futex calls are shared (not private). Timeouts come
// from `Deadline`, which never expires early.
unsafe impl RawLock for FutexMutex {
    const NAME: &'static str = "futex";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(FutexMutex::new());
        Ok(())
    }

    #[inline]
    fn lock(&self) -> Result<(), LockError> {
        if self.try_acquire(loom::current_owner()) {
            return Ok(());
        }
        self.lock_contended(&Deadline::never(), OnDeadOwner::TakeOver)
            .map(|_| ())
    }

    #[inline]
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.try_acquire(loom::current_owner()))
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        if self.try_acquire(loom::current_owner()) {
            return Ok(true);
        }
        self.lock_contended(&Deadline::after(timeout), OnDeadOwner::TakeOver)
    }

    #[inline]
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.unlock_any();
        Ok(())
    }
}
