//! The locking skeleton shared by `Value` and `Array`: check once whether a scheduler is
//! installed, pass the `Acquire`/`Release` schedule points, and turn the raw lock's result
//! into a guard (or an owner-died error carrying the guard).

use procshare_sync::hook::{self, Point};
use procshare_sync::{GuardError, GuardResult, LockError, RawLock, TryGuardResult};
use std::time::Duration;

/// Lock and build the guard with `make(hooked)`.
pub(crate) fn acquire<L: RawLock, G>(lock: &L, make: impl FnOnce(bool) -> G) -> GuardResult<G> {
    let hooked = hook::is_active();
    hook::point_if(hooked, Point::Acquire);
    match lock.lock() {
        Ok(()) => Ok(make(hooked)),
        Err(e) => Err(GuardError::from_lock(e, || make(hooked))),
    }
}

/// Like [`acquire`], giving up after `timeout` (`Ok(None)`).
pub(crate) fn acquire_for<L: RawLock, G>(
    lock: &L,
    timeout: Duration,
    make: impl FnOnce(bool) -> G,
) -> TryGuardResult<G> {
    let hooked = hook::is_active();
    hook::point_if(hooked, Point::Acquire);
    match lock.try_lock_for(timeout) {
        Ok(true) => Ok(Some(make(hooked))),
        Ok(false) => Ok(None),
        Err(e) => Err(GuardError::from_lock(e, || make(hooked))),
    }
}

/// Pass the `Release` point and unlock.
///
/// # Safety
///
/// The caller holds `lock`.
pub(crate) unsafe fn release<L: RawLock>(lock: &L, hooked: bool) {
    hook::point_if(hooked, Point::Release);
    // SAFETY: forwarded from the caller.
    unsafe { lock.unlock() };
}

/// Run `f(hooked)` with the lock held; `Err` (and `f` not run) when the lock is not
/// acquired cleanly. On `OwnerDied` the lock is released again before returning.
pub(crate) fn with_lock<L: RawLock, R>(
    lock: &L,
    f: impl FnOnce(bool) -> R,
) -> Result<R, LockError> {
    let hooked = hook::is_active();
    hook::point_if(hooked, Point::Acquire);
    if let Err(e) = lock.lock() {
        if e.lock_is_held() {
            // SAFETY: OwnerDied means we hold the lock.
            unsafe { release(lock, hooked) };
        }
        return Err(e);
    }
    let r = f(hooked);
    // SAFETY: acquired just above.
    unsafe { release(lock, hooked) };
    Ok(r)
}
