//! The seam between lock strategies and everything built on them.
//!
//! [`RawLock`] is the trait a strategy implements; [`GuardSend`] and [`GuardNoSend`] are
//! the two answers to "may a guard of this lock be released from another thread?" (the
//! model is lock_api's `GuardMarker`).

use crate::LockError;
use std::mem::MaybeUninit;
use std::time::Duration;

/// A raw lock whose state lives in memory that several processes map.
///
/// Each strategy ([`FutexMutex`](crate::FutexMutex), [`SpinLock`](crate::SpinLock),
/// [`TicketLock`](crate::TicketLock), [`PthreadMutex`](crate::PthreadMutex),
/// [`NoLock`](crate::NoLock)) implements this trait and nothing else; `Value`, `Array`, the
/// benches and the harness are generic over it. A researcher adds a strategy the same way.
///
/// # Safety
///
/// An implementation must guarantee, for every value initialised by [`RawLock::init`]:
///
/// * **Mutual exclusion** (when [`RawLock::EXCLUSIVE`] is true): between a successful
///   acquisition (`lock` returning `Ok(())` or `Err(LockError::OwnerDied { .. })`,
///   `try_lock`/`try_lock_for` returning `Ok(true)`) and the matching `unlock`, no other
///   caller, in this or any other process, completes an acquisition.
/// * **Ordering**: everything written before `unlock` happens-before everything after the
///   next acquisition (release/acquire).
/// * **Process-shared state**: the lock works when its bytes are in a `MAP_SHARED` mapping
///   that other processes map at other addresses. It holds no pointers and no
///   process-local state, and a futex on it is never `FUTEX_PRIVATE_FLAG`.
/// * **Failure**: any `Err` other than `OwnerDied` means the lock was not acquired.
/// * **Timeouts**: `try_lock_for(d)` returns `Ok(false)` only after at least `d` has passed.
/// * **Thread affinity**: if an unlock must happen on the thread that locked (a pthread
///   mutex: `EPERM` otherwise), [`RawLock::GuardMarker`] is [`GuardNoSend`], so that safe
///   guards cannot travel to another thread.
/// * **Schedule points**: every loop that waits for another process without sleeping in
///   [`futex_wait`](crate::loom::futex_wait) calls
///   [`hook::point(Point::Spin)`](crate::hook::point) on each round (the facade's
///   [`Backoff::snooze`](crate::loom::Backoff::snooze) does), so that a controlled
///   scheduler can run the process it waits for instead of declaring it stuck.
///
/// When `EXCLUSIVE` is true, safe wrappers rely on mutual exclusion to hand out plain
/// `&mut` access to the protected shared data (`Array::lock` works in place). `NoLock`
/// sets `EXCLUSIVE = false` and promises only ordering, process-shared state, failure and
/// timeouts; wrappers then copy the data in and out with atomics instead.
pub unsafe trait RawLock: Send + Sync {
    /// Short name of the strategy, used in reports and benchmark ids.
    const NAME: &'static str;

    /// [`GuardSend`] if the lock may be released from any thread, [`GuardNoSend`] if it
    /// must be released by the thread that acquired it. Guards carry it, so a guard of a
    /// thread-affine lock is `!Send`.
    type GuardMarker;

    /// Whether the strategy excludes at all (false only for the `NoLock` control).
    const EXCLUSIVE: bool = true;

    /// Initialise an unlocked lock in place. The slot is not yet visible to any other
    /// process or thread, and is never moved afterwards.
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError>
    where
        Self: Sized;

    /// Acquire, waiting as long as it takes.
    ///
    /// `Err(LockError::OwnerDied { .. })` means the lock *is* held by the caller, whose
    /// previous holder died inside its critical section.
    fn lock(&self) -> Result<(), LockError>;

    /// Acquire if that is possible without waiting.
    fn try_lock(&self) -> Result<bool, LockError>;

    /// Acquire, waiting at most `timeout`; `Ok(false)` when the time ran out.
    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError>;

    /// Release. An `Err` means the lock could not be released (e.g. `EPERM` from a pthread
    /// mutex unlocked by a thread that does not own it): it is then still held, and the
    /// caller must report it, never ignore it.
    ///
    /// # Safety
    ///
    /// The caller holds the lock: it acquired it and has not released it since.
    unsafe fn unlock(&self) -> Result<(), LockError>;

    /// Put an idle lock back in the state [`init`](RawLock::init) left it in. Default:
    /// nothing, for a lock whose idle state is always the same (a free futex word).
    /// A strategy whose idle states differ overrides it: a CLH lock's released tail node
    /// moves with every hand-off, so the same operations take other steps (claim other
    /// nodes) after another history. The harness resets the lock this way between cases,
    /// so that at atomic granularity a replay starts where the case it replays started.
    ///
    /// # Safety
    ///
    /// The lock is idle until this returns: nobody, in any process, holds it, waits for
    /// it or is inside any of its operations.
    unsafe fn reset_idle(&self) {}
}

/// A guard marker for locks that any thread may release: their guards are `Send`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardSend(());

/// A guard marker for locks that only the acquiring thread may release: their guards are
/// `!Send` (this type holds a raw pointer, which is neither `Send` nor, by default,
/// `Sync`; it is declared `Sync` because sharing a `&guard` between threads is harmless).
#[derive(Debug, Clone, Copy)]
pub struct GuardNoSend(std::marker::PhantomData<*mut ()>);

// SAFETY: the marker holds no data; a shared reference to a guard lets no other thread
// release the lock.
unsafe impl Sync for GuardNoSend {}
