//! `AdaptiveMutex`: spin for a bounded, self-tuning time, then park on a futex; the
//! owner's pid in the word, so that a dead holder is taken over with `OwnerDied`.
//!
//! Anchors: glibc's `PTHREAD_MUTEX_ADAPTIVE_NP` (`nptl/pthread_mutex_lock.c`: a contended
//! locker retries `trylock` up to a per-mutex estimate `__spins * 2 + 10` times, capped
//! by `max_adaptive_count`, then blocks in the futex lock; after each spin it moves the
//! estimate an eighth of the way towards the count it just needed), and parking_lot's
//! `SpinWait` (`parking_lot_core/src/spinwait.rs`: a few exponentially growing rounds of
//! spin hints before the thread parks). Both spin because a holder that runs on another
//! CPU usually releases within about the cost of one sleep and wake-up, and both bound
//! the spin because a holder that waits for the spinner's CPU (oversubscription) does not.
//!
//! Here the spin is bounded in *time*, not in checks: [`SPIN_BUDGET`] (20 µs, about what a
//! futex sleep and wake-up cost on this VM) shifted right by a per-lock `spin_shift`
//! (`0..=4`), which is the self-tuning part and works like glibc's estimate with the
//! project's policy (the one [`AdaptiveWait`](crate::AdaptiveWait) uses): a spin that
//! ends in a sleep halves the next spin (down to 1/16, 1.25 µs), a spin that acquires
//! doubles it back. So with more processes than cores the spin soon shrinks to a short
//! look before the park, and with a holder that runs elsewhere it stays long.
//!
//! The park is exactly [`FutexMutex`]'s: the lock *is* a `FutexMutex` word (Drepper's
//! three-state mutex with the owner's pid in the locked states) plus the tuning word, and
//! after its spin a locker enters `FutexMutex`'s contended path, so sleeping, waking and
//! the owner-death takeover are the ones that suite already checks.
//!
//! # State table
//!
//! | word         | value            | meaning                                              |
//! |--------------|------------------|------------------------------------------------------|
//! | `word`       | `0`              | unlocked                                             |
//! | `word`       | `pid`            | held by process `pid`; nobody sleeps                 |
//! | `word`       | `pid \| WAITERS` | held by `pid`; some process may sleep on the word    |
//! | `spin_shift` | `0..=4`          | the spin is `SPIN_BUDGET >> spin_shift` (heuristic,  |
//! |              |                  | not part of the protocol; absent under loom)         |
//!
//! | transition                          | made by                                        |
//! |-------------------------------------|------------------------------------------------|
//! | `0 → me` (CAS, Acquire)             | a locker on the fast path or in its spin       |
//! | `0 → me \| WAITERS` (CAS, Acquire)  | a locker past its spin that has slept          |
//! | `pid → pid \| WAITERS` (CAS)        | a locker past its spin, about to sleep         |
//! | `pid[\|W] → me \| WAITERS` (CAS)    | a waiter that proved `pid` dead (`OwnerDied`)  |
//! | `* → 0` (swap, Release)             | the holder; wakes one sleeper if `WAITERS`     |
//! | `spin_shift ± 1` (Relaxed)          | a spin that slept (+1) or acquired (−1)        |
//!
//! A spinner only reads the word (a relaxed load) until it sees `0`, then tries one CAS:
//! it does not pull the cache line away from the holder while it waits. It spins whether
//! or not `WAITERS` is set, so a running locker may barge past a woken sleeper (no
//! fairness, like glibc's and parking_lot's mutexes); the woken sleeper then finds the
//! word held and sleeps again with `WAITERS` set, so no wake-up is lost.
//!
//! Owner death: as [`FutexMutex`]. A waiter past its spin sleeps at most the liveness
//! slice (50 ms) at a time, checks the recorded owner's liveness, and exactly one waiter
//! takes a dead holder's lock over and gets [`LockError::OwnerDied`] holding it
//! (`tests/zoo.rs` kills a holder). Under a controlled scheduler (the harness) the
//! locker does not spin at all: spinning would only repeat idle steps.
//!
//! Tested by `tests/loom_adaptive_mutex.rs` (exclusion with 2 and 3 threads, sleepers
//! woken, `try_lock`, `try_lock_for` expiring at any step; the broken
//! `broken::NoWakeAdaptiveMutex`, whose unlock skips the wake, must deadlock), the unit
//! tests below, the harness catalog and the cross-process tests of the `procshare`
//! package (`tests/locks.rs`: 2/4/8 processes × 100 000 increments exact).

use crate::futex_mutex::OnDeadOwner;
use crate::loom::Deadline;
#[cfg(not(loom))]
use crate::loom::{spin_loop, SpinBudget, SPIN_BUDGET};
#[cfg(not(loom))]
use crate::loom::{AtomicU32, Ordering};
use crate::{FutexMutex, LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// Word checks between two looks at the spin clock.
#[cfg(not(loom))]
const CHECKS_PER_CLOCK: u32 = 16;
/// Spin hints between two word checks.
#[cfg(not(loom))]
const HINTS_PER_CHECK: u32 = 4;
/// The shortest spin is `SPIN_BUDGET >> MAX_SPIN_SHIFT`.
#[cfg(not(loom))]
const MAX_SPIN_SHIFT: u32 = 4;

/// A spin-then-park mutex on one futex word with the owner's pid, plus a self-tuning spin
/// budget. See the [module docs](self) for the state table and the anchors.
///
/// Fairness: none. Cost uncontended: one CAS to lock, one swap to unlock, no system call
/// (as [`FutexMutex`]); contended: up to `SPIN_BUDGET >> spin_shift` of read-only
/// spinning, then a futex sleep.
#[repr(C)]
#[derive(Debug)]
pub struct AdaptiveMutex {
    mutex: FutexMutex,
    /// The spin is `SPIN_BUDGET >> spin_shift`; relaxed accesses (a lost update only
    /// costs a little spinning or sleeping).
    #[cfg(not(loom))]
    spin_shift: AtomicU32,
}

impl AdaptiveMutex {
    /// An unlocked mutex (for use inside one process and in loom models; in shared memory
    /// use [`RawLock::init`]).
    pub fn new() -> Self {
        AdaptiveMutex {
            mutex: FutexMutex::new(),
            #[cfg(not(loom))]
            spin_shift: AtomicU32::new(0),
        }
    }

    /// One CAS `0 → me` (Acquire).
    #[inline]
    fn try_acquire(&self) -> bool {
        self.mutex.try_acquire_now()
    }

    /// The bounded spin: true if it acquired. Ends early (false) when a finite `deadline`
    /// passes; the caller's park then re-checks the word once and returns `Ok(false)`.
    #[cfg(not(loom))]
    fn spin(&self, deadline: &Deadline) -> bool {
        if crate::hook::is_active() {
            return false;
        }
        let shift = self.spin_shift.load(Ordering::Relaxed).min(MAX_SPIN_SHIFT);
        let mut budget = SpinBudget::start(SPIN_BUDGET / (1 << shift));
        let acquired = 'spin: loop {
            for _ in 0..CHECKS_PER_CLOCK {
                for _ in 0..HINTS_PER_CHECK {
                    spin_loop();
                }
                if self.mutex.state() == 0 && self.try_acquire() {
                    break 'spin true;
                }
            }
            if budget.spent() || (deadline.is_finite() && deadline.expired()) {
                break false;
            }
        };
        let next = if acquired {
            shift.saturating_sub(1)
        } else {
            (shift + 1).min(MAX_SPIN_SHIFT)
        };
        if next != shift {
            self.spin_shift.store(next, Ordering::Relaxed);
        }
        acquired
    }

    /// Under loom the spin is one more check without a yield (as in
    /// [`AdaptiveWait`](crate::AdaptiveWait)): bounded, so the model advances.
    #[cfg(loom)]
    fn spin(&self, _deadline: &Deadline) -> bool {
        self.mutex.state() == 0 && self.try_acquire()
    }

    /// Spin, then park (FutexMutex's contended path, with the owner-death takeover).
    #[cold]
    fn lock_slow(&self, deadline: &Deadline) -> Result<bool, LockError> {
        // No early return on an expired deadline: the park answers `Ok(false)` at once
        // then (its futex wait times out), after it has re-checked the word.
        if self.spin(deadline) {
            return Ok(true);
        }
        self.mutex.lock_contended(deadline, OnDeadOwner::TakeOver)
    }

    /// The pid (loom: thread id) recorded as the holder; 0 when unlocked.
    pub fn owner(&self) -> u32 {
        self.mutex.owner()
    }

    /// The raw futex word, for tests and diagnostics (see the state table).
    pub fn state(&self) -> u32 {
        self.mutex.state()
    }

    /// The current spin shift (the spin is `SPIN_BUDGET >> shift`), for tests and reports.
    #[cfg(not(loom))]
    pub fn spin_shift(&self) -> u32 {
        self.spin_shift.load(Ordering::Relaxed)
    }

    /// The inner mutex, for the broken control of `broken.rs`.
    #[cfg(loom)]
    pub(crate) fn inner(&self) -> &FutexMutex {
        &self.mutex
    }
}

impl Default for AdaptiveMutex {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: exclusion and ordering as `FutexMutex` (whose word this is): the spin acquires
// only by an Acquire CAS from 0, the park is `FutexMutex::lock_contended`, and only
// `unlock` (a Release swap) returns the word to 0. The state is two AtomicU32 words (no
// pointers); the futex is shared (no FUTEX_PRIVATE_FLAG) and all-zero is unlocked.
// `try_lock_for` returns `Ok(false)` only from an expired deadline (the spin's check or
// the park's). The spin loop calls no schedule point, because it does not run under a
// controlled scheduler (`hook::is_active`); the park sleeps in `futex_wait`. Any thread
// may release.
unsafe impl RawLock for AdaptiveMutex {
    const NAME: &'static str = "adaptive";
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(AdaptiveMutex::new());
        Ok(())
    }

    #[inline]
    fn lock(&self) -> Result<(), LockError> {
        if self.try_acquire() {
            return Ok(());
        }
        self.lock_slow(&Deadline::never()).map(|_| ())
    }

    #[inline]
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.try_acquire())
    }

    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        if self.try_acquire() {
            return Ok(true);
        }
        self.lock_slow(&Deadline::after(timeout))
    }

    #[inline]
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.mutex.unlock_any();
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn uncontended_lock_records_the_owner_and_unlock_clears_it() {
        let m = AdaptiveMutex::new();
        m.lock().unwrap();
        assert_eq!(m.owner(), std::process::id());
        assert!(!m.try_lock().unwrap());
        // SAFETY: locked above.
        unsafe { m.unlock().unwrap() };
        assert_eq!(m.state(), 0);
        assert!(m.try_lock().unwrap());
    }

    #[test]
    fn a_spin_that_sleeps_shortens_the_next_and_one_that_acquires_lengthens_it() {
        let m = AdaptiveMutex::new();
        m.lock().unwrap();
        // Held throughout: the spin (at most 20 µs) runs out and the park times out at
        // the deadline.
        assert!(!m.try_lock_for(Duration::from_millis(20)).unwrap());
        assert_eq!(m.spin_shift(), 1);
        assert!(!m.try_lock_for(Duration::from_millis(20)).unwrap());
        assert_eq!(m.spin_shift(), 2);
        // SAFETY: locked above.
        unsafe { m.unlock().unwrap() };
        // Free: the spin's first check acquires.
        assert!(m.spin(&Deadline::never()));
        assert_eq!(m.spin_shift(), 1);
    }

    #[test]
    fn the_spin_never_goes_below_its_floor() {
        let m = AdaptiveMutex::new();
        m.lock().unwrap();
        for _ in 0..MAX_SPIN_SHIFT + 3 {
            assert!(!m.spin(&Deadline::never()));
        }
        assert_eq!(m.spin_shift(), MAX_SPIN_SHIFT);
    }

    #[test]
    fn try_lock_for_on_a_held_lock_waits_its_timeout() {
        let m = AdaptiveMutex::new();
        m.lock().unwrap();
        let timeout = Duration::from_millis(30);
        let t0 = Instant::now();
        assert!(!m.try_lock_for(timeout).unwrap());
        assert!(t0.elapsed() >= timeout, "returned after {:?}", t0.elapsed());
    }

    #[test]
    fn a_parked_waiter_is_woken_by_unlock() {
        let m = AdaptiveMutex::new();
        m.lock().unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                m.lock().unwrap();
                // SAFETY: locked just above.
                unsafe { m.unlock().unwrap() };
            });
            // The waiter's spin is bounded: it ends up asleep with WAITERS set.
            while m.state() & (1 << 31) == 0 {
                std::thread::yield_now();
            }
            // SAFETY: locked above.
            unsafe { m.unlock().unwrap() };
            waiter.join().unwrap();
        });
        assert_eq!(m.state(), 0);
    }
}
