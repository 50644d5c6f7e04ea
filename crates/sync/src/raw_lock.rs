//! The seam between lock strategies and everything built on them.

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
///
/// `NoLock` sets `EXCLUSIVE = false` and promises only the last three points: code that
/// needs exclusion (plain `&mut` access to shared data) must check `EXCLUSIVE`.
pub unsafe trait RawLock: Send + Sync {
    /// Short name of the strategy, used in reports and benchmark ids.
    const NAME: &'static str;

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

    /// Release.
    ///
    /// # Safety
    ///
    /// The caller holds the lock: it acquired it and has not released it since.
    unsafe fn unlock(&self);
}
