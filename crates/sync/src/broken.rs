//! Deliberately broken lock variants: the loom suite must reject each of them, which shows
//! that the checks have teeth. Never use them for anything else.

#[cfg(loom)]
pub use lost_wake::LostWakeMutex;

#[cfg(loom)]
mod lost_wake {
    use crate::{FutexMutex, LockError, RawLock};
    use std::mem::MaybeUninit;
    use std::time::Duration;

    /// `FutexMutex` whose `unlock` forgets to wake a sleeper (a lost wake-up).
    #[derive(Debug, Default)]
    pub struct LostWakeMutex(FutexMutex);

    impl LostWakeMutex {
        /// An unlocked, broken mutex.
        pub fn new() -> Self {
            LostWakeMutex(FutexMutex::new())
        }
    }

    // SAFETY: it is not safe; that is the point. Only loom models instantiate it, and they
    // expect loom to report the lost wake-up as a deadlock.
    unsafe impl RawLock for LostWakeMutex {
        const NAME: &'static str = "broken-lost-wake";

        fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
            slot.write(LostWakeMutex::new());
            Ok(())
        }
        fn lock(&self) -> Result<(), LockError> {
            self.0.lock()
        }
        fn try_lock(&self) -> Result<bool, LockError> {
            self.0.try_lock()
        }
        fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
            self.0.try_lock_for(timeout)
        }
        unsafe fn unlock(&self) {
            // SAFETY: forwarded contract: the caller holds the lock.
            unsafe { self.0.unlock_without_wake() }
        }
    }
}
