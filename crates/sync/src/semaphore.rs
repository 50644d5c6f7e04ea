//! `Semaphore` and `BoundedSemaphore`: counting semaphores in shared memory.
//!
//! Mirrors CPython's `multiprocessing.Semaphore`/`BoundedSemaphore` (POSIX semaphores
//! underneath). The count and the number of sleepers are two words; a sleeper announces
//! itself, then re-checks the count inside `futex_wait`, while a releaser raises the count,
//! then looks for sleepers. That is a Dekker-style handshake ("store mine, load yours" on
//! both sides), so both sides put a `fence(SeqCst)` between their store and their load:
//! without it, both could miss each other and the sleeper would sleep through the release.
//! A release wakes at most one sleeper; the count never goes below zero, so the semaphore
//! never admits more holders than its count. A woken sleeper that dies before taking the
//! unit would strand it while the others sleep: every sleep is therefore bounded by the
//! liveness slice (50 ms), after which the sleeper re-checks the count.
//!
//! Checked by `tests/loom_semaphore.rs` (never more holders than the count, no lost
//! wake-up, timeouts at every step; a variant without the fences must fail) and by the
//! cross-process tests in `tests/sync_objects.rs` (including a sleeper that dies the
//! moment it is woken).

use crate::loom::{fence, futex_wait, futex_wake, AtomicU32, Deadline, Ordering};
use crate::{ProcessShared, SyncError};
use std::time::Duration;

/// The shared core of both semaphores.
#[repr(C)]
#[derive(Debug)]
struct Core {
    /// The count; also the futex word sleepers wait on (while it is 0).
    value: AtomicU32,
    /// Processes that announced they may sleep on `value`.
    sleepers: AtomicU32,
}

impl Core {
    fn new(value: u32) -> Self {
        Core {
            value: AtomicU32::new(value),
            sleepers: AtomicU32::new(0),
        }
    }

    fn try_acquire(&self) -> bool {
        let mut v = self.value.load(Ordering::Relaxed);
        while v > 0 {
            match self
                .value
                .compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    fn acquire_until(&self, deadline: &Deadline, fenced: bool) -> bool {
        loop {
            if self.try_acquire() {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            self.sleepers.fetch_add(1, Ordering::Relaxed);
            if fenced {
                fence(Ordering::SeqCst);
            }
            if self.value.load(Ordering::Relaxed) == 0 {
                // At most one liveness slice: a release wakes exactly one sleeper, and if
                // that process dies before it takes the unit, the others must still find
                // it (they re-check the count when the slice passes).
                futex_wait(&self.value, 0, &deadline.or_liveness_check());
            }
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Add one to the count if `bound` allows; wake a sleeper.
    fn release(&self, bound: u32, fenced: bool) -> Result<(), ()> {
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            if v >= bound {
                return Err(());
            }
            match self
                .value
                .compare_exchange_weak(v, v + 1, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        if fenced {
            fence(Ordering::SeqCst);
        }
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            futex_wake(&self.value, 1);
        }
        Ok(())
    }
}

fn deadline(timeout: Option<Duration>) -> Deadline {
    timeout.map_or_else(Deadline::never, Deadline::after)
}

/// A counting semaphore: `acquire` takes one unit, waiting while there is none;
/// `release` gives one back, without bound.
#[repr(C)]
#[derive(Debug)]
pub struct Semaphore {
    core: Core,
}

impl Semaphore {
    /// A semaphore holding `value` units.
    pub fn new(value: u32) -> Self {
        Semaphore {
            core: Core::new(value),
        }
    }

    /// Give a unit back, waking one waiter. Fails only if the count would overflow `u32`.
    pub fn release(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Release);
        self.core
            .release(u32::MAX, true)
            .map_err(|()| SyncError::InvalidArgument("semaphore count would overflow"))
    }

    /// Acquire and release with the fences optional: `false` is the broken control of
    /// `broken.rs`.
    #[cfg(loom)]
    pub(crate) fn acquire_with_fence(&self, fenced: bool) {
        self.core.acquire_until(&Deadline::never(), fenced);
    }

    /// See [`Semaphore::acquire_with_fence`].
    #[cfg(loom)]
    pub(crate) fn release_with_fence(&self, fenced: bool) {
        let _unbounded = self.core.release(u32::MAX, fenced);
    }
}

/// A semaphore that refuses to be released above its initial value.
#[repr(C)]
#[derive(Debug)]
pub struct BoundedSemaphore {
    core: Core,
    bound: u32,
}

impl BoundedSemaphore {
    /// A semaphore holding `value` units, which is also its bound.
    pub fn new(value: u32) -> Self {
        BoundedSemaphore {
            core: Core::new(value),
            bound: value,
        }
    }

    /// Give a unit back; [`SyncError::ReleasedTooManyTimes`] if the count is at its bound.
    pub fn release(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Release);
        self.core
            .release(self.bound, true)
            .map_err(|()| SyncError::ReleasedTooManyTimes { bound: self.bound })
    }

    /// The bound (the initial value).
    pub fn bound(&self) -> u32 {
        self.bound
    }
}

/// The acquiring side, identical for both semaphores: written once.
macro_rules! acquiring {
    ($t:ty) => {
        impl $t {
            /// Take a unit, waiting as long as it takes.
            pub fn acquire(&self) {
                crate::hook::point(crate::hook::Point::Acquire);
                self.core.acquire_until(&Deadline::never(), true);
            }

            /// Take a unit if one is there now.
            pub fn try_acquire(&self) -> bool {
                crate::hook::point(crate::hook::Point::Acquire);
                self.core.try_acquire()
            }

            /// Take a unit, waiting at most `timeout` (never returns false earlier).
            pub fn acquire_timeout(&self, timeout: Duration) -> bool {
                crate::hook::point(crate::hook::Point::Acquire);
                self.core.acquire_until(&deadline(Some(timeout)), true)
            }

            /// The current count (CPython's `get_value()`).
            pub fn value(&self) -> u32 {
                self.core.value.load(Ordering::Relaxed)
            }
        }
    };
}

acquiring!(Semaphore);
acquiring!(BoundedSemaphore);

// SAFETY: two AtomicU32 words (and an immutable bound), no pointers, shared futex.
unsafe impl ProcessShared for Semaphore {}
// SAFETY: as above.
unsafe impl ProcessShared for BoundedSemaphore {}
