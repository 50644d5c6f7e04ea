//! The locking skeleton shared by `Value` and `Array`: check once whether a scheduler is
//! installed, pass the `Acquire`/`Release` schedule points, turn the raw lock's result into
//! a guard (or an owner-died error carrying the guard), and never ignore a failed unlock.
//!
//! Also the safe lock handle that `get_lock()` returns ([`LockHandle`]): CPython's
//! `get_lock()` gives a lock one can acquire and release; here acquiring gives a guard
//! ([`HandleGuard`]) whose `release` (or drop) unlocks, so a lock can never be released by
//! someone who does not hold it.

use procshare_sync::hook::{self, Point};
use procshare_sync::{GuardError, GuardResult, LockError, RawLock, TryGuardResult};
use std::marker::PhantomData;
use std::time::Duration;

/// Lock and build the guard with `make(hooked)`.
///
/// Always inlined, with its error path out of line: with the hooks' branches in it, the
/// compiler otherwise keeps it a call that returns the guard through memory, which costs
/// an uncontended lock round trip (about 11 ns) a fifth more than the hooks themselves
/// (`cargo xtask hook-cost`).
#[inline(always)]
pub(crate) fn acquire<L: RawLock, G>(lock: &L, make: impl FnOnce(bool) -> G) -> GuardResult<G> {
    let hooked = hook::is_active();
    hook::point_if(hooked, Point::Acquire);
    match lock.lock() {
        Ok(()) => Ok(make(hooked)),
        Err(e) => acquire_failed(e, hooked, make),
    }
}

/// The rare end of [`acquire`]: the lock answered with an error (which may carry the
/// guard, for `OwnerDied`).
#[cold]
#[inline(never)]
fn acquire_failed<G>(e: LockError, hooked: bool, make: impl FnOnce(bool) -> G) -> GuardResult<G> {
    Err(GuardError::from_lock(e, || make(hooked)))
}

/// Like [`acquire`], giving up after `timeout` (`Ok(None)`); `None` for no wait at all.
pub(crate) fn acquire_for<L: RawLock, G>(
    lock: &L,
    timeout: Option<Duration>,
    make: impl FnOnce(bool) -> G,
) -> TryGuardResult<G> {
    let hooked = hook::is_active();
    hook::point_if(hooked, Point::Acquire);
    let r = match timeout {
        Some(timeout) => lock.try_lock_for(timeout),
        None => lock.try_lock(),
    };
    match r {
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
#[inline(always)]
pub(crate) unsafe fn release<L: RawLock>(lock: &L, hooked: bool) -> Result<(), LockError> {
    hook::point_if(hooked, Point::Release);
    // SAFETY: forwarded from the caller.
    unsafe { lock.unlock() }
}

/// What a guard's `Drop` does when the unlock fails: it cannot return the error, and
/// silence would leave the lock held forever, so it panics with a message that says so
/// (or, if the thread is already panicking, writes the message to stderr instead of
/// aborting the process with a second panic). Guards also have an explicit `unlock`
/// that returns the error.
pub(crate) fn unlock_failed(strategy: &str, e: LockError) {
    let msg = format!(
        "procshare: unlocking a `{strategy}` lock failed ({e}); it is still held. \
         (A guard of a thread-affine lock must be dropped by the thread that locked it.)"
    );
    if std::thread::panicking() {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{msg}\n").as_bytes());
    } else {
        panic!("{msg}");
    }
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
            unsafe { release(lock, hooked) }?;
        }
        return Err(e);
    }
    let r = f(hooked);
    // SAFETY: acquired just above.
    unsafe { release(lock, hooked) }?;
    Ok(r)
}

/// The lock of a `Value` or `Array` (what `get_lock()` returns), to hold it across
/// several operations or several objects, as `with v.get_lock(): ...` does in CPython.
///
/// Acquiring gives a [`HandleGuard`]; releasing is dropping the guard (or calling
/// [`HandleGuard::release`]), so the lock can only be released by whoever holds it.
/// The data itself is reached through the object's own `lock()` guard.
pub struct LockHandle<'a, L: RawLock> {
    lock: &'a L,
}

impl<L: RawLock> std::fmt::Debug for LockHandle<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockHandle")
            .field("strategy", &L::NAME)
            .finish()
    }
}

impl<'a, L: RawLock> LockHandle<'a, L> {
    pub(crate) fn new(lock: &'a L) -> Self {
        LockHandle { lock }
    }

    fn guard(&self, hooked: bool) -> HandleGuard<'a, L> {
        HandleGuard {
            lock: self.lock,
            hooked,
            _marker: PhantomData,
        }
    }

    /// Acquire, waiting as long as it takes. [`GuardError::OwnerDied`] carries the guard.
    pub fn acquire(&self) -> GuardResult<HandleGuard<'a, L>> {
        acquire(self.lock, |hooked| self.guard(hooked))
    }

    /// Acquire if that is possible without waiting (`Ok(None)` otherwise).
    pub fn try_acquire(&self) -> TryGuardResult<HandleGuard<'a, L>> {
        acquire_for(self.lock, None, |hooked| self.guard(hooked))
    }

    /// Acquire, waiting at most `timeout` (`Ok(None)` when it ran out).
    pub fn acquire_timeout(&self, timeout: Duration) -> TryGuardResult<HandleGuard<'a, L>> {
        acquire_for(self.lock, Some(timeout), |hooked| self.guard(hooked))
    }

    /// The strategy's name ([`RawLock::NAME`]).
    pub fn strategy(&self) -> &'static str {
        L::NAME
    }

    /// The raw lock, for a strategy's own diagnostics (e.g. `TicketLock::tickets_issued`).
    /// Its `unlock` is `unsafe`: release through a guard instead.
    pub fn raw(&self) -> &'a L {
        self.lock
    }
}

/// A lock acquired through a [`LockHandle`]; released when dropped.
///
/// `!Send` when the strategy's guards must stay on the locking thread
/// ([`RawLock::GuardMarker`]).
pub struct HandleGuard<'a, L: RawLock> {
    lock: &'a L,
    hooked: bool,
    _marker: PhantomData<L::GuardMarker>,
}

impl<L: RawLock> std::fmt::Debug for HandleGuard<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleGuard")
            .field("strategy", &L::NAME)
            .finish()
    }
}

impl<L: RawLock> HandleGuard<'_, L> {
    /// Release the lock, reporting a failed unlock as an error (dropping the guard
    /// panics on one instead).
    pub fn release(self) -> Result<(), LockError> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: a guard exists only while its lock is held, and ManuallyDrop keeps Drop
        // from releasing it a second time.
        unsafe { release(this.lock, this.hooked) }
    }
}

impl<L: RawLock> Drop for HandleGuard<'_, L> {
    fn drop(&mut self) {
        // SAFETY: a guard exists only while its lock is held.
        if let Err(e) = unsafe { release(self.lock, self.hooked) } {
            unlock_failed(L::NAME, e);
        }
    }
}
