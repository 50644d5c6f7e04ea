//! Schedule points: where a controlled scheduler may take over.
//!
//! Every primitive calls [`point`] once before each operation that another process can
//! observe (acquire, release, shared load, shared store); spin loops call it with
//! [`Point::Spin`] on every backoff step. The futex shim first offers every wait and wake
//! to the scheduler ([`Scheduler::futex_wait`], [`Scheduler::futex_wake`]): a controlled
//! scheduler decides them itself, so that which blocked actor a wake releases — and when a
//! timed wait expires — is a scheduling choice, replayed exactly; otherwise the shim
//! reports [`blocked`]/[`runnable`] around the kernel sleep. With no scheduler installed
//! each call is a single relaxed load and a predictable branch; the harness installs a
//! [`Scheduler`] in an actor process to decide which actor runs next.

use std::sync::atomic::{AtomicPtr, Ordering};

/// What a primitive is about to do at a schedule point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Point {
    /// About to acquire a lock.
    Acquire,
    /// About to release a lock.
    Release,
    /// About to read shared data.
    Load,
    /// About to write shared data.
    Store,
    /// Spinning: no progress is possible until another actor acts.
    Spin,
    /// A timed operation asks whether its deadline has passed (virtual time only: the
    /// scheduler answers, see [`Scheduler::timer_expired`]).
    Timer,
    /// About to load one of the facade's atomics (atomic granularity only, see
    /// [`set_atomic_points`]).
    AtomicLoad,
    /// About to store to one of the facade's atomics (atomic granularity only).
    AtomicStore,
    /// About to swap, compare-and-swap or read-modify-write one of the facade's atomics
    /// (atomic granularity only).
    AtomicRmw,
    /// About to send a message on a connection.
    Send,
    /// About to receive a message from a connection.
    Recv,
    /// About to poll a connection for a readable message.
    Poll,
    /// A queue is about to claim space for a message (producer) or a message (consumer).
    Claim,
    /// A queue producer is about to copy a claimed message into shared memory.
    Write,
    /// A queue producer is about to publish a written message to consumers.
    Publish,
    /// A queue consumer is about to copy a claimed message out of shared memory.
    Read,
    /// A queue side is about to announce itself as a sleeper and sleep.
    Sleep,
    /// A queue side is about to wake the other side's announced sleepers.
    Wake,
}

/// A controlled scheduler, installed per process by the harness.
pub trait Scheduler: Sync {
    /// Called before the operation `point`; may block until this process is chosen to run.
    fn point(&self, point: Point);

    /// Offered every futex wait on `word` (expected value `expected`; `deadline` says
    /// what bounds it: its [`kind`](crate::loom::Deadline::kind) and, under virtual time,
    /// its [`timer`](crate::loom::Deadline::timer)). Return `Some(outcome)` to decide it
    /// without a kernel sleep (the scheduler checks the word and parks the actor until it
    /// is woken or its timeout is chosen to expire), or `None` for a real sleep. Default:
    /// `None`.
    fn futex_wait(
        &self,
        word: &std::sync::atomic::AtomicU32,
        expected: u32,
        deadline: &crate::loom::Deadline,
    ) -> Option<crate::loom::Wake> {
        let _ = (word, expected, deadline);
        None
    }

    /// Does this scheduler keep virtual time? Then no primitive reads the clock: a finite
    /// [`Deadline`](crate::loom::Deadline) expires only when [`Scheduler::timer_expired`]
    /// (or a futex wait the scheduler decides) says so, liveness checks run when
    /// [`Scheduler::liveness_due`] says so, and `monotonic_ms` is 0. Default: false.
    fn virtual_time(&self) -> bool {
        false
    }

    /// Virtual time: has timer `timer` expired? Called at every deadline check, so the
    /// scheduler may let time pass at any such step; once it said yes it must keep saying
    /// yes for that timer. Default: false.
    fn timer_expired(&self, timer: u32) -> bool {
        let _ = timer;
        false
    }

    /// Virtual time: should a spinning waiter check its lock owner's liveness now?
    /// Default: false.
    fn liveness_due(&self) -> bool {
        false
    }

    /// Offered every futex wake of up to `n` sleepers of `word`. Return true if the
    /// scheduler handled it (it then also delivers real wakes if anyone sleeps in the
    /// kernel). Default: false.
    fn futex_wake(&self, word: &std::sync::atomic::AtomicU32, n: u32) -> bool {
        let _ = (word, n);
        false
    }

    /// The calling process is about to sleep in the kernel (it is not runnable).
    fn blocked(&self) {}

    /// The calling process woke up (it is runnable again).
    fn runnable(&self) {}
}

static ACTIVE: AtomicPtr<&'static dyn Scheduler> = AtomicPtr::new(std::ptr::null_mut());

/// Whether every access to the facade's atomics is a schedule point in this process.
static ATOMIC_POINTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Granularity of the schedule points in this process: `true` makes every load, store,
/// swap, compare-and-swap and read-modify-write of the facade's atomics
/// ([`crate::loom::AtomicU32`], …) a schedule point ([`Point::AtomicLoad`],
/// [`Point::AtomicStore`], [`Point::AtomicRmw`]) besides the operation-level points;
/// `false` (the default) keeps only the operation-level ones. A controlled scheduler sets
/// it in its actor processes when a scenario asks for atomic granularity.
pub fn set_atomic_points(on: bool) {
    ATOMIC_POINTS.store(on, Ordering::Release);
}

/// A schedule point before an access to one of the facade's atomics, if atomic
/// granularity is on ([`set_atomic_points`]) and a scheduler is installed; otherwise one
/// relaxed load and a predictable branch.
#[inline(always)]
pub fn atomic(point: Point) {
    if cfg!(procshare_hooks_off) {
        return;
    }
    if ATOMIC_POINTS.load(Ordering::Relaxed) {
        point_slow(point);
    }
}

/// Install `scheduler` for this process (or remove it with `None`).
pub fn install(scheduler: Option<&'static dyn Scheduler>) {
    let ptr = match scheduler {
        Some(s) => Box::into_raw(Box::new(s)),
        None => std::ptr::null_mut(),
    };
    // The previous box is leaked on purpose: another thread may still be reading it.
    ACTIVE.store(ptr, Ordering::Release);
}

/// Run `f` as if no scheduler were installed in this process, then put back the one that
/// was: for code that waits on a peer the controller does not schedule (a manager
/// server's reply on the fast path's shared-memory rings). Its atomic steps and waits are
/// then no schedule points and its clock is the real one, as a blocking `read` of a socket
/// passes none: the caller passes the operation-level points around it, so a schedule
/// sees the same points whichever carrier a request took. Meant for the single-threaded
/// actor processes of the harness: another thread of the process sees no scheduler
/// meanwhile either, and an `install` meanwhile is undone when `f` returns.
pub fn without_scheduler<R>(f: impl FnOnce() -> R) -> R {
    // The common case, no scheduler: no write to the word every schedule point reads.
    if ACTIVE.load(Ordering::Relaxed).is_null() {
        return f();
    }
    struct Restore(*mut &'static dyn Scheduler);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.store(self.0, Ordering::Release);
        }
    }
    let _restore = Restore(ACTIVE.swap(std::ptr::null_mut(), Ordering::AcqRel));
    f()
}

#[inline(always)]
fn active() -> Option<&'static dyn Scheduler> {
    // `--cfg procshare_hooks_off` compiles the hooks out: only for measuring what they
    // cost (`cargo xtask hook-cost`); the harness cannot run in such a build.
    if cfg!(procshare_hooks_off) {
        return None;
    }
    // Relaxed on the hot path (no scheduler: nothing to synchronise with, and the compiler
    // stays free to keep values in registers across the check); the Acquire fence on the
    // rare path pairs with `install`'s Release store before the box is read.
    let ptr = ACTIVE.load(Ordering::Relaxed);
    if ptr.is_null() {
        return None;
    }
    std::sync::atomic::fence(Ordering::Acquire);
    // SAFETY: only `install` stores non-null pointers, each from `Box::into_raw` of a box
    // that is never freed, holding a `'static` reference; the fence above makes the box's
    // contents visible.
    Some(unsafe { *ptr })
}

/// Is a scheduler installed in this process? Primitives whose waits the scheduler cannot
/// see (they sleep inside libc, like `PthreadMutex`) poll instead while one is.
#[inline]
pub fn is_active() -> bool {
    active().is_some()
}

/// A schedule point before `point` if `active` (the caller's earlier [`is_active`]):
/// primitives check once per operation and carry the answer, so an operation with
/// several points pays for one check when no scheduler is installed.
#[inline(always)]
pub fn point_if(active: bool, point: Point) {
    if active {
        point_slow(point);
    }
}

/// A schedule point before `point`. Free when no scheduler is installed (one relaxed load
/// and a branch; the rest is out of line).
#[inline(always)]
pub fn point(point: Point) {
    if is_active() {
        point_slow(point);
    }
}

/// The rare path of every schedule point: out of line and cold, so that the primitives'
/// fast paths stay as small as with the hooks compiled out.
#[cold]
#[inline(never)]
fn point_slow(point: Point) {
    if let Some(s) = active() {
        s.point(point);
    }
}

/// Offer a futex wait to the scheduler (see [`Scheduler::futex_wait`]).
#[inline]
pub fn futex_wait(
    word: &std::sync::atomic::AtomicU32,
    expected: u32,
    deadline: &crate::loom::Deadline,
) -> Option<crate::loom::Wake> {
    active().and_then(|s| s.futex_wait(word, expected, deadline))
}

/// Does the installed scheduler keep virtual time (see [`Scheduler::virtual_time`])?
#[inline]
pub fn virtual_time() -> bool {
    active().is_some_and(|s| s.virtual_time())
}

/// Virtual time: has timer `timer` expired (see [`Scheduler::timer_expired`])? False with
/// no scheduler.
#[inline]
pub fn timer_expired(timer: u32) -> bool {
    active().is_some_and(|s| s.timer_expired(timer))
}

/// Virtual time: is a liveness check due (see [`Scheduler::liveness_due`])?
#[inline]
pub fn liveness_due() -> bool {
    active().is_some_and(|s| s.liveness_due())
}

/// Offer a futex wake to the scheduler (see [`Scheduler::futex_wake`]).
#[inline]
pub fn futex_wake(word: &std::sync::atomic::AtomicU32, n: u32) -> bool {
    active().is_some_and(|s| s.futex_wake(word, n))
}

/// The calling process is about to sleep in the kernel.
#[inline]
pub fn blocked() {
    if let Some(s) = active() {
        s.blocked();
    }
}

/// The calling process woke up from a kernel sleep.
#[inline]
pub fn runnable() {
    if let Some(s) = active() {
        s.runnable();
    }
}
