//! `Barrier`: CPython's `threading.Barrier` algorithm, across processes.
//!
//! The state (`count`, and one of filling / draining / resetting / broken) lives in shared
//! memory and changes only under a [`Monitor`](crate::monitor). As in CPython, the last of
//! `parties` arrivals runs the action given at construction (in its own process, exactly
//! once per cycle, before anyone leaves) and switches to *draining*; later arrivals wait
//! until every waiter of the cycle has left, so a slow leaver can never be overtaken by
//! the next cycle. A wait that times out, an `abort`, an action that panics, or a party
//! that died *breaks* the barrier: every waiter gets [`SyncError::BrokenBarrier`] until
//! `reset`.
//!
//! # Dead parties
//!
//! Every party inside `wait` has a slot holding its pid. Waiters sleep at most one
//! liveness slice (50 ms) at a time; when a slice passes, they look for parties proven
//! dead (see [`liveness`](crate::liveness)), remove them from the count, and break the
//! barrier if the cycle was still filling (a dead party can never arrive). A party that
//! died while the cycle drained is removed without breaking anything. `reset` removes
//! dead parties first, so a barrier whose party died is reusable at once. At most
//! [`Barrier::MAX_PARTIES`] parties.
//!
//! # The action
//!
//! Shared memory cannot hold a closure. [`Barrier::with_action`] registers the action in
//! a process-local table (append-only, lock-free, so a child forked at any moment
//! inherits it intact) and stores its index and a tag in the barrier. Every process
//! forked after the registration finds it there, so whichever party arrives last runs it
//! from a plain [`Barrier::wait`]. A last party whose process has no such action (it was
//! not forked from the registering process) breaks the barrier and gets
//! [`SyncError::ActionUnavailable`].
//!
//! Checked by `tests/loom_barrier.rs` (no early release, generations, reset) and by the
//! cross-process tests in `tests/sync_objects.rs` (including a party SIGKILLed inside
//! `wait`).

use crate::loom::{AtomicU32, Deadline, Ordering};
use crate::monitor::Monitor;
use crate::{liveness, LockError, ProcessShared, SyncError};
use std::time::Duration;

/// One pid slot per party: the largest number of parties a barrier accepts.
const PARTY_SLOTS: u32 = if cfg!(loom) { 4 } else { 128 };

mod actions {
    //! The process-local table of barrier actions: append-only and lock-free, so that a
    //! child forked while another thread registers inherits a consistent table.
    use crate::SyncError;
    use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

    /// How many actions one process (and its descendants) may register.
    const CAPACITY: usize = 1024;

    pub(super) struct Action {
        tag: u64,
        run: Box<dyn Fn() + Send + Sync>,
    }

    static TABLE: [AtomicPtr<Action>; CAPACITY] =
        [const { AtomicPtr::new(std::ptr::null_mut()) }; CAPACITY];
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static SEQ: AtomicU32 = AtomicU32::new(0);

    /// Register `run`; its `(index + 1, tag)`.
    pub(super) fn register(run: Box<dyn Fn() + Send + Sync>) -> Result<(u32, u64), SyncError> {
        let index = NEXT.fetch_add(1, Ordering::Relaxed);
        if index >= CAPACITY {
            return Err(SyncError::InvalidArgument(
                "too many barrier actions registered in this process",
            ));
        }
        // The registering pid and a sequence number: another process's registration at
        // the same index has another tag.
        let tag =
            u64::from(std::process::id()) << 32 | u64::from(SEQ.fetch_add(1, Ordering::Relaxed));
        let action = Box::into_raw(Box::new(Action { tag, run }));
        TABLE[index].store(action, Ordering::Release);
        Ok((index as u32 + 1, tag))
    }

    /// Run the action registered as `(id, tag)`; false if this process has none.
    pub(super) fn run(id: u32, tag: u64) -> Result<bool, ()> {
        let Some(slot) = (id as usize).checked_sub(1).and_then(|i| TABLE.get(i)) else {
            return Ok(false);
        };
        let ptr = slot.load(Ordering::Acquire);
        if ptr.is_null() {
            return Ok(false);
        }
        // SAFETY: non-null entries come from `Box::into_raw` in `register` and are never
        // freed; Acquire pairs with its Release store.
        let action = unsafe { &*ptr };
        if action.tag != tag {
            return Ok(false);
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (action.run)()))
            .map(|()| true)
            .map_err(|_| ())
    }
}

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
///
/// `count` is the number of parties inside `wait` (arrived and not yet left); each of
/// them has its pid in one of the `pids` slots (0: free). All of it changes only under
/// the monitor.
#[repr(C)]
#[derive(Debug)]
pub struct Barrier {
    monitor: Monitor,
    parties: u32,
    /// Default timeout in nanoseconds; 0 for none.
    timeout_ns: u64,
    /// The action's index + 1 in the registering process's table (0: none), and its tag.
    action: u32,
    action_tag: u64,
    count: AtomicU32,
    state: AtomicU32,
    pids: [AtomicU32; PARTY_SLOTS as usize],
}

impl Barrier {
    /// The largest number of parties a barrier accepts (one pid slot each).
    pub const MAX_PARTIES: u32 = PARTY_SLOTS;

    /// A barrier for `parties` (1 to [`Barrier::MAX_PARTIES`]) processes, with no default timeout
    /// and no action.
    pub fn new(parties: u32) -> Result<Self, SyncError> {
        if parties == 0 {
            return Err(SyncError::InvalidArgument(
                "a barrier needs at least one party",
            ));
        }
        if parties > Self::MAX_PARTIES {
            return Err(SyncError::InvalidArgument(
                "a barrier takes at most MAX_PARTIES parties",
            ));
        }
        Ok(Barrier {
            monitor: Monitor::new(),
            parties,
            timeout_ns: 0,
            action: 0,
            action_tag: 0,
            count: AtomicU32::new(0),
            state: AtomicU32::new(FILLING),
            pids: std::array::from_fn(|_| AtomicU32::new(0)),
        })
    }

    /// A barrier whose last arrival of each cycle runs `action` (CPython's
    /// `Barrier(parties, action)`), in its own process, before anyone leaves. Create it
    /// before forking the parties: the action lives in this process and is inherited by
    /// its children (see the module docs). A panicking action breaks the barrier.
    pub fn with_action(
        parties: u32,
        action: impl Fn() + Send + Sync + 'static,
    ) -> Result<Self, SyncError> {
        let mut barrier = Barrier::new(parties)?;
        let (id, tag) = actions::register(Box::new(action))?;
        barrier.action = id;
        barrier.action_tag = tag;
        Ok(barrier)
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
    /// `0..parties`, unique within the cycle. The last arrival runs the action, if any.
    pub fn wait(&self) -> Result<u32, SyncError> {
        self.wait_for(None)
    }

    /// Wait for all parties, at most `timeout` (overriding the default). A timeout breaks
    /// the barrier.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, SyncError> {
        self.wait_for(Some(timeout))
    }

    fn wait_for(&self, timeout: Option<Duration>) -> Result<u32, SyncError> {
        crate::hook::point(crate::hook::Point::Acquire);
        let timeout =
            timeout.or((self.timeout_ns > 0).then(|| Duration::from_nanos(self.timeout_ns)));
        let deadline = timeout.map_or_else(Deadline::never, Deadline::after);
        self.enter()?;
        let result = self.wait_locked(&deadline, self.parties - 1);
        // SAFETY: `enter` succeeded, and every path of `wait_locked` holds the monitor.
        unsafe { self.monitor.unlock() };
        result
    }

    /// `wait` in which the arrival with index `last` completes the cycle: `parties - 1`
    /// is the real protocol; the broken control of `broken.rs` passes another index.
    #[cfg(loom)]
    pub(crate) fn wait_completing_at(&self, last: u32) -> Result<u32, SyncError> {
        self.enter()?;
        let result = self.wait_locked(&Deadline::never(), last);
        // SAFETY: `enter` succeeded, and every path of `wait_locked` holds the monitor.
        unsafe { self.monitor.unlock() };
        result
    }

    /// Lock the monitor; a holder that died in it breaks the barrier.
    fn enter(&self) -> Result<(), SyncError> {
        match self.monitor.lock() {
            Ok(()) => Ok(()),
            Err(LockError::OwnerDied { .. }) => {
                self.purge_dead_locked();
                self.break_locked();
                // SAFETY: OwnerDied means we hold the monitor.
                unsafe { self.monitor.unlock() };
                Err(SyncError::BrokenBarrier)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Wait on the monitor for a notification, at most one liveness slice; false only
    /// once `deadline` has passed. After a slice with no notification, parties proven
    /// dead are removed (see [`Barrier::purge_dead_locked`]). A dead holder of the monitor
    /// seen on re-lock breaks the barrier.
    fn sleep(&self, deadline: &Deadline) -> Result<bool, SyncError> {
        match self.monitor.wait(&deadline.or_liveness_check()) {
            Ok(true) => Ok(true),
            Ok(false) if deadline.expired() => Ok(false),
            Ok(false) => {
                self.purge_dead_locked();
                Ok(true)
            }
            Err(_) => {
                self.purge_dead_locked();
                self.break_locked();
                Err(SyncError::BrokenBarrier)
            }
        }
    }

    /// Remove the parties proven dead from the count (monitor held). A dead party breaks
    /// a filling cycle (it can never arrive); one that died while the cycle drained only
    /// stops counting, and the last live leaver reopens the barrier as usual.
    fn purge_dead_locked(&self) {
        let mut removed = 0;
        for slot in &self.pids {
            let pid = slot.load(Ordering::Relaxed);
            if pid != 0 && liveness::is_dead(pid) {
                slot.store(0, Ordering::Relaxed);
                removed += 1;
            }
        }
        if removed == 0 {
            return;
        }
        let left = self.count.load(Ordering::Relaxed).saturating_sub(removed);
        self.count.store(left, Ordering::Relaxed);
        match self.state() {
            FILLING => self.break_locked(),
            DRAINING | RESETTING if left == 0 => {
                self.state.store(FILLING, Ordering::Relaxed);
                self.monitor.notify_all();
            }
            _ => self.monitor.notify_all(),
        }
    }

    /// Take a free pid slot for the calling party (monitor held; at most `parties`
    /// parties are inside, so one is free).
    fn take_slot(&self) -> Option<&AtomicU32> {
        let slot = self.pids.iter().find(|s| s.load(Ordering::Relaxed) == 0)?;
        slot.store(crate::loom::current_owner(), Ordering::Relaxed);
        Some(slot)
    }

    fn state(&self) -> u32 {
        self.state.load(Ordering::Relaxed)
    }

    /// The body of `wait`, with the monitor held; the arrival with index `last` (always
    /// `parties - 1`, except in the broken `wait_early`) completes the cycle.
    fn wait_locked(&self, deadline: &Deadline, last: u32) -> Result<u32, SyncError> {
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
        let Some(slot) = self.take_slot() else {
            // Only possible if more than `parties` processes are inside: a broken count.
            self.break_locked();
            return Err(SyncError::BrokenBarrier);
        };
        self.count.store(index + 1, Ordering::Relaxed);
        let outcome = if index == last {
            self.release_locked()
        } else {
            self.await_release(deadline)
        };
        slot.store(0, Ordering::Relaxed);
        let left = self.count.load(Ordering::Relaxed).saturating_sub(1);
        self.count.store(left, Ordering::Relaxed);
        if left == 0 && matches!(self.state(), DRAINING | RESETTING) {
            self.state.store(FILLING, Ordering::Relaxed);
            self.monitor.notify_all();
        }
        outcome.map(|()| index)
    }

    fn release_locked(&self) -> Result<(), SyncError> {
        if self.action != 0 {
            // `run` catches a panicking action.
            match actions::run(self.action, self.action_tag) {
                Ok(true) => {}
                Ok(false) => {
                    self.break_locked();
                    return Err(SyncError::ActionUnavailable);
                }
                Err(()) => {
                    self.break_locked();
                    return Err(SyncError::BrokenBarrier);
                }
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
    /// [`SyncError::BrokenBarrier`]; parties that died inside `wait` are forgotten first,
    /// so the barrier is reusable as soon as the live waiters have left.
    pub fn reset(&self) -> Result<(), SyncError> {
        crate::hook::point(crate::hook::Point::Store);
        // A monitor holder that died breaks the barrier (and `enter` releases the
        // monitor again); this reset then repairs it, so enter once more.
        match self.enter() {
            Err(SyncError::BrokenBarrier) => self.enter()?,
            entered => entered?,
        }
        self.purge_dead_locked();
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::actions;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn an_action_runs_only_for_its_own_registration() {
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let (id, tag) = actions::register(Box::new(|| {
            RUNS.fetch_add(1, Ordering::Relaxed);
        }))
        .unwrap();
        assert_eq!(actions::run(id, tag), Ok(true));
        assert_eq!(RUNS.load(Ordering::Relaxed), 1);
        // Another process's registration at the same index has another tag.
        assert_eq!(actions::run(id, tag ^ 1), Ok(false));
        assert_eq!(actions::run(0, tag), Ok(false));
        assert_eq!(actions::run(u32::MAX, tag), Ok(false));
        assert_eq!(RUNS.load(Ordering::Relaxed), 1);
        let (id, tag) = actions::register(Box::new(|| panic!("expected by this test"))).unwrap();
        assert_eq!(actions::run(id, tag), Err(()));
    }
}
