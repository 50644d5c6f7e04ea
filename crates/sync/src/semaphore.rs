//! `Semaphore` and `BoundedSemaphore`: counting semaphores in shared memory.
//!
//! Mirrors CPython's `multiprocessing.Semaphore`/`BoundedSemaphore` (POSIX semaphores
//! underneath). The count is one word; waiting is the shared [`AdaptiveWait`]: an acquirer
//! that finds the count at zero spins briefly, then announces itself and sleeps; a releaser
//! raises the count, then wakes one sleeper — with a system call only when one has
//! announced itself. The handshake between "count raised" and "sleeper announced" is the
//! adaptive wait's Dekker pair with its two `fence(SeqCst)`s (see its docs): without them
//! both sides could miss each other and the sleeper would sleep through the release.
//! The count never goes below zero, so the semaphore never admits more holders than its
//! count. A woken sleeper that dies before taking the unit would strand it while the
//! others sleep: every sleep is therefore bounded by the liveness slice (50 ms), after
//! which the sleeper re-checks the count.
//!
//! Checked by `tests/loom_semaphore.rs` (never more holders than the count, no lost
//! wake-up, timeouts at every step; a variant without the fences must fail) and by the
//! cross-process tests in `tests/sync_objects.rs` (including a sleeper that dies the
//! moment it is woken).

#[cfg(loom)]
use crate::adaptive_wait::Fences;
use crate::loom::{AtomicU32, Deadline, Ordering};
use crate::{AdaptiveWait, ProcessShared, SyncError};
use std::time::Duration;

/// The shared core of both semaphores.
///
/// | transition                         | made by                                      |
/// |------------------------------------|----------------------------------------------|
/// | `value → value - 1` (CAS, Acquire) | an acquirer that found `value > 0`           |
/// | `value → value + 1` (CAS, Release) | a releaser below the bound; then `notify_one`|
#[repr(C)]
#[derive(Debug)]
struct Core {
    /// The count.
    value: AtomicU32,
    /// Where acquirers wait for the count to leave zero.
    wait: AdaptiveWait,
}

impl Core {
    fn new(value: u32) -> Self {
        Core {
            value: AtomicU32::new(value),
            wait: AdaptiveWait::new(),
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

    fn acquire_until(&self, deadline: &Deadline) -> bool {
        loop {
            // At most one liveness slice per sleep: a release wakes one sleeper, and if
            // that process dies before it takes the unit, the others must still find it
            // (they re-check the count when the slice passes). `wait_until` tries once
            // more before it reports the slice, so a unit is never left behind.
            if self
                .wait
                .wait_until(|| self.try_acquire(), &deadline.or_liveness_check())
            {
                return true;
            }
            if deadline.expired() {
                return false;
            }
        }
    }

    /// Add one to the count if `bound` allows, then wake a sleeper.
    fn raise(&self, bound: u32) -> Result<(), ()> {
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            if v >= bound {
                return Err(());
            }
            match self
                .value
                .compare_exchange_weak(v, v + 1, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => v = now,
            }
        }
    }

    fn release(&self, bound: u32) -> Result<(), ()> {
        self.raise(bound)?;
        self.wait.notify_one();
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
            .release(u32::MAX)
            .map_err(|()| SyncError::InvalidArgument("semaphore count would overflow"))
    }

    /// Acquire with the adaptive wait's fence left out: the broken control of
    /// `broken.rs`.
    #[cfg(loom)]
    pub(crate) fn acquire_without_fence(&self) {
        let core = &self.core;
        let _ = core.try_acquire()
            || core.wait.wait_slow(
                &mut || core.try_acquire(),
                &mut || false,
                &Deadline::never(),
                Fences::Off,
            );
    }

    /// Release with the adaptive wait's fence left out (see
    /// [`Semaphore::acquire_without_fence`]).
    #[cfg(loom)]
    pub(crate) fn release_without_fence(&self) {
        if self.core.raise(u32::MAX).is_ok() {
            self.core.wait.notify(1, Fences::Off);
        }
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
            .release(self.bound)
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
                self.core.acquire_until(&Deadline::never());
            }

            /// Take a unit if one is there now.
            pub fn try_acquire(&self) -> bool {
                crate::hook::point(crate::hook::Point::Acquire);
                self.core.try_acquire()
            }

            /// Take a unit, waiting at most `timeout` (never returns false earlier).
            pub fn acquire_timeout(&self, timeout: Duration) -> bool {
                crate::hook::point(crate::hook::Point::Acquire);
                self.core.acquire_until(&deadline(Some(timeout)))
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

// SAFETY: an AtomicU32 and an AdaptiveWait (and an immutable bound), no pointers.
unsafe impl ProcessShared for Semaphore {}
// SAFETY: as above.
unsafe impl ProcessShared for BoundedSemaphore {}
