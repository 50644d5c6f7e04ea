//! `Barrier`: CPython's `threading.Barrier` algorithm, across processes.
//!
//! The state (`count`, and one of filling / draining / resetting / broken) lives in shared
//! memory and changes only under a [`Monitor`](crate::monitor). As in CPython, the last of
//! `parties` arrivals runs the action (in its own process, exactly once per cycle, before
//! anyone leaves) and switches to *draining*; later arrivals wait until every waiter of
//! the cycle has left, so a slow leaver can never be overtaken by the next cycle. A wait
//! that times out, an `abort`, an action that panics, or a party that died holding the
//! barrier's internal lock *breaks* the barrier: every waiter gets
//! [`SyncError::BrokenBarrier`] until `reset`. A party that dies while others wait is
//! noticed through the others' timeout.
//!
//! Checked by `tests/loom_barrier.rs` (no early release, generations, reset) and by the
//! cross-process tests in `tests/sync_objects.rs`.

use crate::loom::{AtomicU32, Deadline, Ordering};
use crate::monitor::Monitor;
use crate::{LockError, ProcessShared, SyncError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

const FILLING: u32 = 0;
const DRAINING: u32 = 1;
const RESETTING: u32 = 2;
const BROKEN: u32 = 3;

/// A process-shared barrier for `parties` processes.
///
/// | state       | meaning                                              | next                  |
/// |-------------|------------------------------------------------------|-----------------------|
/// | `FILLING`   | parties arrive and wait                              | `DRAINING`, `BROKEN`, `RESETTING` |
/// | `DRAINING`  | the cycle completed; waiters are leaving             | `FILLING` when the last left |
/// | `RESETTING` | `reset` while parties waited; they leave with errors | `FILLING` when the last left |
/// | `BROKEN`    | timeout / abort / action panic / dead party          | `RESETTING` or `FILLING` by `reset` |
#[repr(C)]
#[derive(Debug)]
pub struct Barrier {
    monitor: Monitor,
    parties: u32,
    /// Default timeout in nanoseconds; 0 for none.
    timeout_ns: u64,
    count: AtomicU32,
    state: AtomicU32,
}

impl Barrier {
    /// A barrier for `parties` (at least 1) processes, with no default timeout.
    pub fn new(parties: u32) -> Result<Self, SyncError> {
        if parties == 0 {
            return Err(SyncError::InvalidArgument(
                "a barrier needs at least one party",
            ));
        }
        Ok(Barrier {
            monitor: Monitor::new(),
            parties,
            timeout_ns: 0,
            count: AtomicU32::new(0),
            state: AtomicU32::new(FILLING),
        })
    }

    /// The same barrier with a default timeout for [`Barrier::wait`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX).max(1);
        self
    }

    /// Number of parties.
    pub fn parties(&self) -> u32 {
        self.parties
    }

    /// Number of parties waiting in the current cycle.
    pub fn n_waiting(&self) -> u32 {
        if self.state.load(Ordering::Relaxed) == FILLING {
            self.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Is the barrier broken?
    pub fn is_broken(&self) -> bool {
        self.state.load(Ordering::Relaxed) == BROKEN
    }

    /// Wait for all parties, with the default timeout. Returns this party's index in
    /// `0..parties`, unique within the cycle.
    pub fn wait(&self) -> Result<u32, SyncError> {
        self.wait_with(None, None)
    }

    /// Wait for all parties, at most `timeout` (overriding the default). A timeout breaks
    /// the barrier.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, SyncError> {
        self.wait_with(Some(timeout), None)
    }

    /// Wait; if this party completes the cycle, run `action` first (exactly once per
    /// cycle, before anyone leaves). Every party should pass the same action, as every
    /// CPython party shares the one given to the constructor. A panicking action breaks
    /// the barrier.
    pub fn wait_with(
        &self,
        timeout: Option<Duration>,
        action: Option<&dyn Fn()>,
    ) -> Result<u32, SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        let timeout =
            timeout.or((self.timeout_ns > 0).then(|| Duration::from_nanos(self.timeout_ns)));
        let deadline = timeout.map_or_else(Deadline::never, Deadline::after);
        self.enter()?;
        let result = self.wait_locked(&deadline, action, self.parties - 1);
        // SAFETY: `enter` succeeded, and every path of `wait_locked` holds the monitor.
        unsafe { self.monitor.unlock() };
        result
    }

    /// `wait` that completes the cycle one arrival early (the arrival with index
    /// `parties - 2` counts as the last): the deliberately broken variant that the loom
    /// suite must catch (a party leaves before all have arrived). Never use it.
    #[doc(hidden)]
    #[cfg(loom)]
    pub fn wait_early(&self) -> Result<u32, SyncError> {
        self.enter()?;
        let result = self.wait_locked(&Deadline::never(), None, self.parties.saturating_sub(2));
        // SAFETY: `enter` succeeded, and every path of `wait_locked` holds the monitor.
        unsafe { self.monitor.unlock() };
        result
    }

    /// Lock the monitor; a holder that died in it breaks the barrier.
    fn enter(&self) -> Result<(), SyncError> {
        match self.monitor.lock() {
            Ok(()) => Ok(()),
            Err(LockError::OwnerDied { .. }) => {
                self.break_locked();
                // SAFETY: OwnerDied means we hold the monitor.
                unsafe { self.monitor.unlock() };
                Err(SyncError::BrokenBarrier)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Wait on the monitor; a dead holder seen on re-lock breaks the barrier.
    fn sleep(&self, deadline: &Deadline) -> Result<bool, SyncError> {
        match self.monitor.wait(deadline) {
            Ok(woke) => Ok(woke),
            Err(_) => {
                self.break_locked();
                Err(SyncError::BrokenBarrier)
            }
        }
    }

    fn state(&self) -> u32 {
        self.state.load(Ordering::Relaxed)
    }

    /// The body of `wait`, with the monitor held; the arrival with index `last` (always
    /// `parties - 1`, except in the broken `wait_early`) completes the cycle.
    fn wait_locked(
        &self,
        deadline: &Deadline,
        action: Option<&dyn Fn()>,
        last: u32,
    ) -> Result<u32, SyncError> {
        // Block while the previous cycle drains or a reset completes.
        while matches!(self.state(), DRAINING | RESETTING) {
            if !self.sleep(deadline)? && matches!(self.state(), DRAINING | RESETTING) {
                self.break_locked();
                return Err(SyncError::BrokenBarrier);
            }
        }
        if self.state() == BROKEN {
            return Err(SyncError::BrokenBarrier);
        }
        let index = self.count.load(Ordering::Relaxed);
        self.count.store(index + 1, Ordering::Relaxed);
        let outcome = if index == last {
            self.release_locked(action)
        } else {
            self.await_release(deadline)
        };
        let left = self.count.load(Ordering::Relaxed) - 1;
        self.count.store(left, Ordering::Relaxed);
        if left == 0 && matches!(self.state(), DRAINING | RESETTING) {
            self.state.store(FILLING, Ordering::Relaxed);
            self.monitor.notify_all();
        }
        outcome.map(|()| index)
    }

    fn release_locked(&self, action: Option<&dyn Fn()>) -> Result<(), SyncError> {
        if let Some(action) = action {
            if catch_unwind(AssertUnwindSafe(action)).is_err() {
                self.break_locked();
                return Err(SyncError::BrokenBarrier);
            }
        }
        self.state.store(DRAINING, Ordering::Relaxed);
        self.monitor.notify_all();
        Ok(())
    }

    fn await_release(&self, deadline: &Deadline) -> Result<(), SyncError> {
        while self.state() == FILLING {
            if !self.sleep(deadline)? && self.state() == FILLING {
                self.break_locked();
                return Err(SyncError::BrokenBarrier);
            }
        }
        if self.state() == DRAINING {
            Ok(())
        } else {
            Err(SyncError::BrokenBarrier)
        }
    }

    fn break_locked(&self) {
        self.state.store(BROKEN, Ordering::Relaxed);
        self.monitor.notify_all();
    }

    /// Put the barrier back to its initial state. Parties waiting now get
    /// [`SyncError::BrokenBarrier`].
    pub fn reset(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Store);
        self.enter()?;
        if self.count.load(Ordering::Relaxed) > 0 {
            if matches!(self.state(), FILLING | BROKEN) {
                self.state.store(RESETTING, Ordering::Relaxed);
            }
        } else {
            self.state.store(FILLING, Ordering::Relaxed);
        }
        self.monitor.notify_all();
        // SAFETY: `enter` succeeded.
        unsafe { self.monitor.unlock() };
        Ok(())
    }

    /// Break the barrier: every waiter, now and later, gets [`SyncError::BrokenBarrier`]
    /// until `reset`.
    pub fn abort(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Store);
        self.enter()?;
        self.break_locked();
        // SAFETY: `enter` succeeded.
        unsafe { self.monitor.unlock() };
        Ok(())
    }
}

// SAFETY: a Monitor (FutexMutex + AtomicU32s), AtomicU32s and immutable integers; no
// pointers; shared futexes.
unsafe impl ProcessShared for Barrier {}
