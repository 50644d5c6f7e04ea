//! The facade every protocol in this crate is written against.
//!
//! Normally it re-exports `std`'s atomics and talks to the kernel: a real `futex(2)` (shared,
//! i.e. without `FUTEX_PRIVATE_FLAG`), `CLOCK_MONOTONIC` deadlines and process ids. Under
//! `--cfg loom` the same names are loom's model objects:
//!
//! * the futex is a loom `Mutex` + one `Condvar` per word: `wait` compares the word under the
//!   mutex and returns at once on a mismatch, exactly like `futex(2)`; `wake` notifies. A
//!   wake-up that a protocol forgets to send therefore shows up as loom's deadlock report;
//! * a finite [`Deadline`] expires when a model thread calls `expire_deadlines` (loom builds only), so a
//!   timeout "may expire at any step" and loom explores every step;
//! * owners are loom threads; a model thread may declare its process dead ([`die`], at
//!   any step the model chooses). From then on liveness probes of its owner id answer
//!   *dead*, and a liveness-bounded sleeper ([`Deadline::or_liveness_check_of`]) may time
//!   out to notice it, exactly as its real liveness slice would: at the death, if the
//!   owner it checks is dead or its word changed meanwhile (the dead process may have been
//!   the one that would have woken it), or at once if it starts sleeping on a dead
//!   owner. Without a death no liveness sleep expires, so a lost wake-up stays loom's
//!   deadlock. A spinning waiter's [`LivenessTimer`] is due once some
//!   owner is dead.
//!
//! Protocol code imports only from here (and asks [`liveness`](crate::liveness) whether a
//! peer died); it never makes a system call itself: those live in `sys`.

use std::time::Duration;

#[cfg(not(loom))]
pub use crate::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub use std::sync::atomic::{fence, Ordering};

#[cfg(loom)]
pub use ::loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Busy-wait hint; a yield point under loom.
#[inline]
pub fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    ::loom::hint::spin_loop();
}

/// Give up the processor (`sched_yield`); a yield point under loom.
#[inline]
pub fn yield_now() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    ::loom::thread::yield_now();
}

/// How many doublings of busy-waiting a backoff does before it starts to yield.
/// Kept tiny under loom: every spin is a scheduling point there.
pub const SPIN_DOUBLINGS: u32 = if cfg!(loom) { 0 } else { 6 };

/// Exponential backoff for spin loops: `2^k` spin hints for `k < SPIN_DOUBLINGS`, then
/// `yield_now` on every later step.
#[derive(Debug, Default)]
pub struct Backoff {
    step: u32,
}

impl Backoff {
    /// A fresh backoff. Under a scheduler with virtual time it starts in its yielding
    /// phase: spinning buys nothing when the scheduler decides who runs, and every round
    /// of the waiter's loop (liveness checks included) is then the same, which is what
    /// lets the scheduler see that a waiter spinning again cannot change anything.
    pub fn new() -> Self {
        #[cfg(not(loom))]
        if crate::hook::virtual_time() {
            return Backoff {
                step: SPIN_DOUBLINGS,
            };
        }
        Backoff { step: 0 }
    }

    /// Wait a little, longer on each call.
    #[inline]
    #[allow(
        clippy::absurd_extreme_comparisons,
        reason = "SPIN_DOUBLINGS is 0 under loom, where the comparison is constant on purpose"
    )]
    pub fn snooze(&mut self) {
        if self.step < SPIN_DOUBLINGS {
            for _ in 0..(1u32 << self.step) {
                spin_loop();
            }
            self.step += 1;
        } else {
            yield_now();
        }
        #[cfg(not(loom))]
        crate::hook::point(crate::hook::Point::Spin);
    }

    /// True once spinning has given way to yielding.
    #[allow(
        clippy::absurd_extreme_comparisons,
        reason = "SPIN_DOUBLINGS is 0 under loom, where the comparison is constant on purpose"
    )]
    pub fn is_yielding(&self) -> bool {
        self.step >= SPIN_DOUBLINGS
    }
}

/// The longest an adaptive wait busy-waits before it sleeps (see
/// [`AdaptiveWait`](crate::AdaptiveWait), which shortens it while spins keep failing):
/// about what a futex sleep and wake-up cost here (10–40 µs), so that spinning never costs
/// more than about twice what sleeping at once would.
pub const SPIN_BUDGET: Duration = Duration::from_micros(20);

/// The clock of a bounded busy-wait: [`SpinBudget::spent`] turns true once the limit
/// given to [`SpinBudget::start`] has passed. Reads `CLOCK_MONOTONIC` through the vDSO (no
/// system call). Not under loom, where a spin is one bounded round.
#[cfg(not(loom))]
#[derive(Debug)]
pub struct SpinBudget {
    start: std::time::Instant,
    limit: Duration,
}

#[cfg(not(loom))]
impl SpinBudget {
    /// Start spending at most `limit`.
    #[inline]
    pub fn start(limit: Duration) -> Self {
        SpinBudget {
            start: std::time::Instant::now(),
            limit,
        }
    }

    /// Has the budget been spent?
    #[inline]
    pub fn spent(&mut self) -> bool {
        self.start.elapsed() >= self.limit
    }
}

/// What a [`futex_wait`] returned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Woken by [`futex_wake`], or spuriously: re-check the word.
    Woken,
    /// The word did not hold the expected value; the caller did not sleep.
    Changed,
    /// The deadline passed first.
    TimedOut,
}

/// What bounds a futex wait, as a controlled scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// No timeout: only a wake ends it.
    Untimed,
    /// Only the owner-liveness slice bounds it: expiring it matters only once an owner
    /// may have died.
    Liveness,
    /// A caller's timeout bounds it: it may expire at any step.
    Deadline,
    /// Both a caller's timeout and the liveness slice bound it: the timeout may expire at
    /// any step, the slice matters once an owner may have died.
    DeadlineOrLiveness,
}

/// When a timed operation gives up. Measured on `CLOCK_MONOTONIC`; never early.
///
/// Under a controlled scheduler that keeps virtual time ([`Scheduler::virtual_time`](
/// crate::hook::Scheduler::virtual_time)) no deadline reads the clock: a finite deadline
/// is a *timer* that expires only when the scheduler says so (at a
/// [`Point::Timer`](crate::hook::Point::Timer) check or in a futex wait it bounds), so a
/// run is a pure function of its schedule, timeouts included. Under loom a finite deadline
/// expires when the model's clock thread calls `expire_deadlines`.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    #[cfg(not(loom))]
    at: Option<std::time::Instant>,
    #[cfg(not(loom))]
    kind: WaitKind,
    /// A virtual timer's id (non-zero) under a scheduler with virtual time.
    #[cfg(not(loom))]
    timer: u32,
    #[cfg(loom)]
    finite: bool,
    /// Bounded by the liveness slice too (`or_liveness_check`).
    #[cfg(loom)]
    liveness: bool,
    /// The owner whose death the liveness slice would notice (0: none named).
    #[cfg(loom)]
    owner: u32,
}

/// Ids of virtual timers (process-local; only their identity matters).
#[cfg(not(loom))]
static NEXT_TIMER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

impl Deadline {
    /// A deadline that never passes.
    pub fn never() -> Self {
        #[cfg(not(loom))]
        return Deadline {
            at: None,
            kind: WaitKind::Untimed,
            timer: 0,
        };
        #[cfg(loom)]
        return Deadline {
            finite: false,
            liveness: false,
            owner: 0,
        };
    }

    /// A deadline `timeout` from now. A timeout too large to represent never passes.
    pub fn after(timeout: Duration) -> Self {
        #[cfg(not(loom))]
        {
            if crate::hook::virtual_time() {
                let timer = NEXT_TIMER
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    .max(1);
                return Deadline {
                    at: None,
                    kind: WaitKind::Deadline,
                    timer,
                };
            }
            let at = std::time::Instant::now().checked_add(timeout);
            let kind = if at.is_some() {
                WaitKind::Deadline
            } else {
                WaitKind::Untimed
            };
            Deadline { at, kind, timer: 0 }
        }
        #[cfg(loom)]
        {
            let _ = timeout;
            Deadline {
                finite: true,
                liveness: false,
                owner: 0,
            }
        }
    }

    /// Is it a real deadline (not [`Deadline::never`])?
    pub fn is_finite(&self) -> bool {
        #[cfg(not(loom))]
        return self.timer != 0 || (self.at.is_some() && self.kind != WaitKind::Liveness);
        #[cfg(loom)]
        return self.finite;
    }

    /// What bounds a wait on this deadline.
    pub fn kind(&self) -> WaitKind {
        #[cfg(not(loom))]
        return self.kind;
        #[cfg(loom)]
        return match (self.finite, self.liveness) {
            (false, false) => WaitKind::Untimed,
            (false, true) => WaitKind::Liveness,
            (true, false) => WaitKind::Deadline,
            (true, true) => WaitKind::DeadlineOrLiveness,
        };
    }

    /// The virtual timer's id under a scheduler with virtual time; 0 otherwise.
    pub fn timer(&self) -> u32 {
        #[cfg(not(loom))]
        return self.timer;
        #[cfg(loom)]
        return 0;
    }

    /// Has the deadline passed? (Under virtual time: has the scheduler let it expire?)
    pub fn expired(&self) -> bool {
        #[cfg(not(loom))]
        {
            if self.timer != 0 {
                return crate::hook::timer_expired(self.timer);
            }
            if self.kind == WaitKind::Liveness {
                // Only the liveness slice: the caller's own deadline is `never`.
                return false;
            }
            self.at.is_some_and(|at| std::time::Instant::now() >= at)
        }
        #[cfg(loom)]
        return self.finite && model::expired();
    }

    /// The earlier of this deadline and the next liveness check ([`LIVENESS_SLICE`] from
    /// now): how long a waiter sleeps before it asks whether the lock's owner still lives.
    pub fn or_liveness_check(&self) -> Deadline {
        let kind = match self.kind() {
            WaitKind::Untimed | WaitKind::Liveness => WaitKind::Liveness,
            WaitKind::Deadline | WaitKind::DeadlineOrLiveness => WaitKind::DeadlineOrLiveness,
        };
        #[cfg(not(loom))]
        {
            if self.timer != 0 || crate::hook::virtual_time() {
                // Virtual time: the scheduler decides when the slice passes.
                return Deadline {
                    at: None,
                    kind,
                    timer: self.timer,
                };
            }
            let check = std::time::Instant::now() + LIVENESS_SLICE;
            Deadline {
                at: Some(self.at.map_or(check, |at| at.min(check))),
                kind,
                timer: 0,
            }
        }
        #[cfg(loom)]
        {
            let _ = kind;
            Deadline {
                finite: self.finite,
                liveness: true,
                owner: 0,
            }
        }
    }

    /// [`Deadline::or_liveness_check`] for a waiter that, when the slice passes, checks
    /// whether `owner` still lives. Identical outside loom; under loom the slice passes
    /// (the sleep times out) only once `owner` has died ([`die`]), which is the one case
    /// in which the check after it can change anything.
    pub fn or_liveness_check_of(&self, owner: u32) -> Deadline {
        #[cfg(not(loom))]
        {
            let _ = owner;
            self.or_liveness_check()
        }
        #[cfg(loom)]
        {
            let mut d = self.or_liveness_check();
            d.owner = owner;
            d
        }
    }

    #[cfg(not(loom))]
    fn remaining(&self) -> Option<Option<Duration>> {
        match self.at {
            None => Some(None),
            Some(at) => at
                .checked_duration_since(std::time::Instant::now())
                .filter(|d| !d.is_zero())
                .map(Some),
        }
    }
}

/// How often a waiter checks whether a lock's recorded owner is still alive.
#[cfg(not(loom))]
pub const LIVENESS_SLICE: Duration = Duration::from_millis(50);

/// Sleep while `word` holds `expected`, until woken or until `deadline`.
///
/// Returns at once with [`Wake::Changed`] when the word differs. May return
/// [`Wake::Woken`] spuriously; callers always re-check the word.
pub fn futex_wait(word: &AtomicU32, expected: u32, deadline: &Deadline) -> Wake {
    #[cfg(not(loom))]
    {
        if let Some(outcome) = crate::hook::futex_wait(word.as_std(), expected, deadline) {
            return outcome;
        }
        let Some(timeout) = deadline.remaining() else {
            return Wake::TimedOut;
        };
        crate::hook::blocked();
        let r = crate::sys::futex_wait(word.as_std(), expected, timeout);
        crate::hook::runnable();
        r
    }
    #[cfg(loom)]
    return model::wait(word, expected, deadline);
}

/// How long a [`nap`] sleeps: the first nap of a wait, and the longest (each nap doubles).
pub const NAP: (Duration, Duration) = (Duration::from_micros(50), Duration::from_millis(1));

/// A short sleep on `word` for a waiter that may not be woken: its predicate depends on a
/// peer that has *claimed* a change (a SeqCst read-modify-write the waiter saw) but not
/// published it yet, and whose notify may not see the waiter (see
/// [`AdaptiveWait::notify_all_after_claim`](crate::AdaptiveWait::notify_all_after_claim)).
/// So the waiter re-checks after a bounded sleep instead of sleeping until woken.
///
/// The `round`-th nap of one wait sleeps [`NAP`]`.0 × 2^round`, at most [`NAP`]`.1`, and
/// never past `deadline`; a nap that runs out reports [`Wake::Woken`] (re-check), and
/// [`Wake::TimedOut`] only once `deadline` itself passed. Under a controlled scheduler it
/// is a plain [`futex_wait`] (the scheduler runs one process at a time, so a claimant's
/// publish is visible before the waiter's next step); under loom it sleeps until the next
/// claimed-change notify on `word` ([`end_naps`]) or wake, unless one came since `ticket`
/// was taken ([`nap_ticket`]), and times out when the deadline expires or, for a
/// liveness-bounded wait, once some model thread died (the claimant may be dead).
pub fn nap(word: &AtomicU32, expected: u32, deadline: &Deadline, round: u32, ticket: u64) -> Wake {
    #[cfg(not(loom))]
    {
        let _ = ticket;
        if crate::hook::is_active() {
            return futex_wait(word, expected, deadline);
        }
        let nap = NAP.0.saturating_mul(1 << round.min(5)).min(NAP.1);
        let Some(left) = deadline.remaining() else {
            return Wake::TimedOut;
        };
        let timeout = left.map_or(nap, |left| left.min(nap));
        match crate::sys::futex_wait(word.as_std(), expected, Some(timeout)) {
            Wake::TimedOut if deadline.remaining().is_none() => Wake::TimedOut,
            Wake::TimedOut => Wake::Woken,
            other => other,
        }
    }
    #[cfg(loom)]
    {
        let _ = round;
        model::nap(word, expected, deadline, ticket)
    }
}

/// The ticket a waiter takes before the checks after which it may [`nap`]: 0 in a real
/// build; under loom the count of claimed-change notifies so far, so that a nap ends at
/// once if one came after the checks.
#[inline(always)]
pub fn nap_ticket() -> u64 {
    #[cfg(not(loom))]
    return 0;
    #[cfg(loom)]
    return model::nap_ticket();
}

/// Called by a claimed-change notify
/// ([`AdaptiveWait::notify_all_after_claim`](crate::AdaptiveWait::notify_all_after_claim))
/// after its look at the sleepers: nothing in a real build; under loom it ends the naps
/// on `word`. A real nap ends by its timeout, by which time the claimant has published
/// (or died: the liveness slice covers that); the model lets it end exactly when the
/// claimant is done, so that a napping waiter is one blocked thread rather than a loop
/// of re-checks that would multiply the interleavings loom explores.
#[inline(always)]
pub fn end_naps(word: &AtomicU32) {
    #[cfg(loom)]
    model::end_naps(word);
    #[cfg(not(loom))]
    let _ = word;
}

/// After a `SeqCst` read-modify-write that a fence-free notify relies on
/// ([`AdaptiveWait::notify_all_after_claim`](crate::AdaptiveWait::notify_all_after_claim)):
/// nothing in a real build, where the RMW itself takes part in the single total order of
/// `SeqCst` operations; `fence(SeqCst)` under loom, which models `SeqCst` accesses as
/// `AcqRel` and so needs the fence to check the argument as C++20 states it.
#[inline(always)]
pub fn after_seq_cst_rmw() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// Wake at most `n` sleepers of `word`; `u32::MAX` wakes all.
pub fn futex_wake(word: &AtomicU32, n: u32) {
    #[cfg(not(loom))]
    {
        crate::hook::futex_wake(word.as_std(), n);
        crate::sys::futex_wake(word.as_std(), n);
    }
    #[cfg(loom)]
    model::wake(word, n);
}

/// Under loom: declare the calling model thread's process dead. Liveness probes of its
/// owner id ([`current_owner`]) answer dead from now on, and waiters sleeping on its
/// behalf ([`Deadline::or_liveness_check_of`]) are roused to notice. The thread must make
/// no further visible step (a dead process does nothing): return right after.
#[cfg(loom)]
pub fn die() {
    model::die();
}

/// Under loom: is model owner `owner` dead (see [`die`])?
#[cfg(loom)]
pub(crate) fn owner_dead(owner: u32) -> bool {
    model::is_dead(owner)
}

/// Under loom: make every finite [`Deadline`] of the current model run expire now, and
/// wake its sleepers. A loom test calls this from a "clock" thread so that loom explores
/// the timeout at every point of the other threads' executions.
#[cfg(loom)]
pub fn expire_deadlines() {
    model::expire();
}

/// The id that a lock records as its owner: the process id (cached; refreshed after
/// `fork`). Under loom, a distinct id per model thread. Never 0 and below `2^30`.
#[inline]
pub fn current_owner() -> u32 {
    #[cfg(not(loom))]
    return crate::sys::current_pid();
    #[cfg(loom)]
    return model::current_owner();
}

/// The calling thread, as `(process id, thread id)`: who owns an `RLock`. Under loom,
/// the model thread's process (its own id, unless it joined another's with
/// [`share_process_of`]) and its own id.
#[inline]
pub fn current_thread() -> (u32, u32) {
    #[cfg(not(loom))]
    return (crate::sys::current_pid(), crate::sys::current_tid());
    #[cfg(loom)]
    return (model::current_owner(), model::current_thread_id());
}

/// Under loom: make the calling model thread another thread of process `pid` (the
/// [`current_owner`] of the thread it joins): it records `pid` as a lock owner, as two
/// threads of one real process do, while [`current_thread`] still tells them apart.
#[cfg(loom)]
pub fn share_process_of(pid: u32) {
    model::share_process_of(pid);
}

/// Milliseconds on `CLOCK_MONOTONIC`, comparable between processes. Under loom, and under
/// a scheduler with virtual time, always 0.
pub fn monotonic_ms() -> u64 {
    #[cfg(not(loom))]
    {
        if crate::hook::virtual_time() {
            return 0;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes a timespec into `ts`.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
    }
    #[cfg(loom)]
    return 0;
}

/// A rate limiter for liveness checks in spin loops: due at most once per
/// [`LIVENESS_SLICE`]; never due under loom.
#[derive(Debug)]
pub struct LivenessTimer {
    #[cfg(not(loom))]
    last: Option<std::time::Instant>,
    #[cfg(not(loom))]
    calls: u32,
}

impl LivenessTimer {
    /// A timer whose first check is one slice away.
    pub fn new() -> Self {
        LivenessTimer {
            #[cfg(not(loom))]
            last: None,
            #[cfg(not(loom))]
            calls: 0,
        }
    }

    /// True when a liveness check is due now. Under a scheduler with virtual time the
    /// scheduler decides ([`Scheduler::liveness_due`](crate::hook::Scheduler::liveness_due)).
    #[inline]
    pub fn due(&mut self) -> bool {
        #[cfg(not(loom))]
        {
            if crate::hook::virtual_time() {
                return crate::hook::liveness_due();
            }
            self.calls = self.calls.wrapping_add(1);
            if self.calls % 64 != 0 {
                return false;
            }
            let now = std::time::Instant::now();
            match self.last {
                None => {
                    self.last = Some(now);
                    false
                }
                Some(last) if now.duration_since(last) >= LIVENESS_SLICE => {
                    self.last = Some(now);
                    true
                }
                Some(_) => false,
            }
        }
        #[cfg(loom)]
        return model::any_dead();
    }
}

impl Default for LivenessTimer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(loom)]
mod model {
    //! loom's model of the futex, the clock and the owners.
    use super::{AtomicU32, Deadline, Wake};
    use ::loom::sync::atomic::AtomicBool;
    use ::loom::sync::{Condvar, Mutex};
    use std::sync::atomic::Ordering;
    // A std `Arc`, not loom's: the shim lives in a loom `lazy_static`, which a failing model
    // drops while unwinding, outside the execution; loom's `Arc::drop` panics there, and
    // that second panic aborts the test binary instead of reporting the failure.
    use std::sync::Arc;

    /// One sleeper: its own condition variable, so that a wake reaches exactly the
    /// sleepers it was meant for and an expiry only those with a finite deadline.
    struct Sleeper {
        id: u64,
        key: usize,
        finite: bool,
        /// The owner whose death ends this sleep (0: none).
        owner: u32,
        woken: bool,
        /// A nap: ended by `end_naps` on its word too, and, when liveness-bounded, by
        /// any death.
        nap: bool,
        /// A liveness-bounded nap.
        nap_liveness: bool,
        cv: Arc<Condvar>,
    }

    struct Shim {
        /// The sleepers, in arrival order (a wake takes the oldest first).
        sleepers: Mutex<(u64, Vec<Sleeper>)>,
        expired: AtomicBool,
        /// Bit k: model owner k has died.
        dead: AtomicU32,
        /// Claimed-change notifies so far (`end_naps`, a Release increment); a waiter's
        /// ticket is an Acquire load of it. A loom atomic: a waiter whose ticket read an
        /// increment has synchronised with that notifier and sees its published change,
        /// so its checks say ready (as in reality its re-check after the nap would); one
        /// whose ticket is older naps until the next increment, or not at all if it came
        /// already. (With a ticket loom does not order, a waiter could take it after the
        /// last notify, still read the change as unpublished, and nap for ever.)
        naps: ::loom::sync::atomic::AtomicU64,
    }

    ::loom::lazy_static! {
        static ref SHIM: Shim = Shim {
            sleepers: Mutex::new((0, Vec::new())),
            expired: AtomicBool::new(false),
            dead: AtomicU32::new(0),
            naps: ::loom::sync::atomic::AtomicU64::new(0),
        };
        static ref NEXT_OWNER: AtomicU32 = AtomicU32::new(1);
    }

    ::loom::thread_local! {
        /// The model thread's own id (its "thread id", and its process id by default).
        static OWNER: u32 = NEXT_OWNER.fetch_add(1, Ordering::Relaxed);
        /// The process it joined with `share_process_of` (0: its own).
        static PROCESS: std::cell::Cell<u32> = std::cell::Cell::new(0);
    }

    pub(super) fn current_owner() -> u32 {
        let joined = PROCESS.with(|p| p.get());
        if joined != 0 {
            joined
        } else {
            current_thread_id()
        }
    }

    pub(super) fn current_thread_id() -> u32 {
        OWNER.with(|o| *o)
    }

    pub(super) fn share_process_of(pid: u32) {
        PROCESS.with(|p| p.set(pid));
    }

    pub(super) fn expired() -> bool {
        SHIM.expired.load(Ordering::SeqCst)
    }

    pub(super) fn is_dead(owner: u32) -> bool {
        owner != 0 && owner < 32 && SHIM.dead.load(Ordering::SeqCst) & (1 << owner) != 0
    }

    pub(super) fn any_dead() -> bool {
        SHIM.dead.load(Ordering::SeqCst) != 0
    }

    /// The calling thread's process dies: rouse every liveness-bounded sleeper. Each
    /// of them times out if its owner is now dead or its word no longer holds what it
    /// slept on (the dead process may have been the one that would have woken it: in
    /// reality its next liveness slice would find that); the others sleep on.
    pub(super) fn die() {
        let me = current_owner();
        assert!(me < 32, "at most 31 model owners");
        let guard = SHIM.sleepers.lock().unwrap();
        SHIM.dead.fetch_or(1 << me, Ordering::SeqCst);
        for s in guard.1.iter().filter(|s| s.owner != 0 || s.nap_liveness) {
            s.cv.notify_one();
        }
    }

    pub(super) fn nap_ticket() -> u64 {
        SHIM.naps.load(Ordering::Acquire)
    }

    /// A nap: like `wait`, but it also ends at the next `end_naps` on `word` (at once if
    /// one came since `ticket`), and a liveness-bounded one at any death.
    pub(super) fn nap(word: &AtomicU32, expected: u32, deadline: &Deadline, ticket: u64) -> Wake {
        let key = word as *const AtomicU32 as usize;
        let guard = SHIM.sleepers.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return Wake::Changed;
        }
        if SHIM.naps.load(Ordering::Relaxed) != ticket {
            return Wake::Woken;
        }
        let gone = |d: &Deadline| d.expired() || (d.liveness && any_dead());
        if gone(deadline) {
            return Wake::TimedOut;
        }
        park(guard, key, deadline, true, || gone(deadline))
    }

    /// Count a claimed-change notify and end the naps on `word`.
    pub(super) fn end_naps(word: &AtomicU32) {
        let key = word as *const AtomicU32 as usize;
        let mut guard = SHIM.sleepers.lock().unwrap();
        SHIM.naps.fetch_add(1, Ordering::Release);
        for s in guard
            .1
            .iter_mut()
            .filter(|s| s.key == key && s.nap && !s.woken)
        {
            s.woken = true;
            s.cv.notify_one();
        }
    }

    /// Like `futex(2)`: compare under the lock, sleep until a wake picks this sleeper or
    /// (finite deadlines only) the clock expires. A sleeper that was woken reports
    /// `Woken` even if the clock expired too, as the kernel does.
    pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: &Deadline) -> Wake {
        let key = word as *const AtomicU32 as usize;
        let guard = SHIM.sleepers.lock().unwrap();
        if word.load(Ordering::SeqCst) != expected {
            return Wake::Changed;
        }
        if deadline.expired() || is_dead(deadline.owner) {
            return Wake::TimedOut;
        }
        park(guard, key, deadline, false, || {
            let slice_passes = deadline.owner != 0
                && (is_dead(deadline.owner) || word.load(Ordering::SeqCst) != expected);
            deadline.expired() || slice_passes
        })
    }

    /// List a sleeper of `key` (a nap, or a futex wait ended by its deadline's owner
    /// dying) and park it on its own condition variable until a wake picks it (`Woken`)
    /// or, when it is notified otherwise, `gone` says its time is up (`TimedOut`). It
    /// leaves the list either way. `guard` is the one the caller made its checks under.
    fn park(
        mut guard: ::loom::sync::MutexGuard<'_, (u64, Vec<Sleeper>)>,
        key: usize,
        deadline: &Deadline,
        nap: bool,
        mut gone: impl FnMut() -> bool,
    ) -> Wake {
        let id = guard.0;
        guard.0 += 1;
        let cv = Arc::new(Condvar::new());
        guard.1.push(Sleeper {
            id,
            key,
            finite: deadline.finite,
            owner: if nap { 0 } else { deadline.owner },
            woken: false,
            nap,
            nap_liveness: nap && deadline.liveness,
            cv: cv.clone(),
        });
        loop {
            guard = cv.wait(guard).unwrap();
            let i = guard
                .1
                .iter()
                .position(|s| s.id == id)
                .expect("a sleeper stays listed until it leaves");
            if guard.1[i].woken {
                guard.1.remove(i);
                return Wake::Woken;
            }
            if gone() {
                guard.1.remove(i);
                return Wake::TimedOut;
            }
        }
    }

    /// Wake the `n` oldest sleepers of `word`.
    pub(super) fn wake(word: &AtomicU32, n: u32) {
        let key = word as *const AtomicU32 as usize;
        let mut guard = SHIM.sleepers.lock().unwrap();
        let mut left = n;
        for s in guard.1.iter_mut().filter(|s| s.key == key && !s.woken) {
            if left == 0 {
                break;
            }
            s.woken = true;
            s.cv.notify_one();
            left -= 1;
        }
    }

    /// Expire every finite deadline and rouse the sleepers that have one.
    pub(super) fn expire() {
        SHIM.expired.store(true, Ordering::SeqCst);
        let guard = SHIM.sleepers.lock().unwrap();
        for s in guard.1.iter().filter(|s| s.finite) {
            s.cv.notify_one();
        }
    }
}
