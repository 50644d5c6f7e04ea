//! `NoLock`: the control strategy that excludes nothing.
//!
//! Every operation succeeds at once. It exists so that a scenario can be run without
//! exclusion and its lost updates observed; code that hands out plain `&mut` access to
//! shared data must not rely on it ([`RawLock::EXCLUSIVE`] is false). Tested by the race
//! demonstrations of the `procshare` package, which assert that updates are lost.

use crate::{LockError, RawLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// A lock that does not lock. Zero-sized.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLock;

// SAFETY: `EXCLUSIVE` is false, so the trait promises no exclusion; there is no state to
// share, nothing can fail, and `try_lock_for` never returns false.
unsafe impl RawLock for NoLock {
    const NAME: &'static str = "nolock";
    const EXCLUSIVE: bool = false;
    type GuardMarker = crate::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(NoLock);
        Ok(())
    }

    #[inline]
    fn lock(&self) -> Result<(), LockError> {
        Ok(())
    }

    #[inline]
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(true)
    }

    #[inline]
    fn try_lock_for(&self, _timeout: Duration) -> Result<bool, LockError> {
        Ok(true)
    }

    #[inline]
    unsafe fn unlock(&self) -> Result<(), LockError> {
        Ok(())
    }
}
