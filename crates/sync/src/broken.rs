//! Deliberately broken variants of the protocols: the loom suite must reject each of them,
//! which shows that the checks have teeth. Never use them for anything else. They exist in
//! loom builds only, and the production types carry none of them: the lock variants are
//! types of their own, the synchronisation objects' variants are extension traits
//! implemented here ([`BrokenAdaptiveWait`], [`BrokenBarrier`], [`BrokenCondition`],
//! [`BrokenEvent`], [`BrokenSemaphore`]) over crate-internal entry points.

#[cfg(loom)]
pub use crate::rw_lock::UncheckedReaderRwLock;
#[cfg(loom)]
pub use broken_takeover::BrokenTakeoverMutex;
#[cfg(loom)]
pub use objects::{
    BrokenAdaptiveWait, BrokenBarrier, BrokenCondition, BrokenEvent, BrokenSemaphore,
};

#[cfg(loom)]
mod objects {
    use crate::adaptive_wait::Fences;
    use crate::loom::Deadline;
    use crate::{AdaptiveWait, Barrier, Condition, ConditionLock, Event, Semaphore, SyncError};

    /// `AdaptiveWait` with one side of the Dekker handshake unfenced: a waiter that
    /// announces itself and re-checks without `fence(SeqCst)`, or a waker that looks for
    /// sleepers without it. Either lets both loads read the old values (store buffering),
    /// and the sleeper sleeps through the only wake-up.
    pub trait BrokenAdaptiveWait {
        /// The broken `wait_until` (no fence between the announcement and the re-check).
        fn wait_until_unfenced(&self, ready: impl FnMut() -> bool, deadline: &Deadline) -> bool;
        /// The broken `notify_one` (no fence between the caller's publish and the look at
        /// `sleepers`).
        fn notify_one_unfenced(&self) -> bool;
    }

    impl BrokenAdaptiveWait for AdaptiveWait {
        fn wait_until_unfenced(
            &self,
            mut ready: impl FnMut() -> bool,
            deadline: &Deadline,
        ) -> bool {
            ready() || self.wait_slow(&mut ready, &mut || false, deadline, Fences::Off)
        }
        fn notify_one_unfenced(&self) -> bool {
            self.notify(1, Fences::Off)
        }
    }

    /// `Barrier` whose `parties - 1`-th arrival (index `parties - 2`) completes the cycle:
    /// a party leaves before all have arrived.
    pub trait BrokenBarrier {
        /// The broken `wait`.
        fn wait_early(&self) -> Result<u32, SyncError>;
    }

    impl BrokenBarrier for Barrier {
        fn wait_early(&self) -> Result<u32, SyncError> {
            self.wait_completing_at(self.parties().saturating_sub(2))
        }
    }

    /// `Condition` whose notify marks slots but forgets to wake their sleepers.
    pub trait BrokenCondition {
        /// The broken `notify`.
        fn notify_without_wake(&self, n: usize) -> Result<usize, SyncError>;
    }

    impl<L: ConditionLock, const N: usize> BrokenCondition for Condition<L, N> {
        fn notify_without_wake(&self, n: usize) -> Result<usize, SyncError> {
            self.notify_impl(n, false)
        }
    }

    /// `Event` whose set wakes nobody.
    pub trait BrokenEvent {
        /// The broken `set`.
        fn set_without_wake(&self);
    }

    impl BrokenEvent for Event {
        fn set_without_wake(&self) {
            self.raise(false);
        }
    }

    /// `Semaphore` without its Dekker fences (a lost wake-up).
    pub trait BrokenSemaphore {
        /// The broken `acquire`.
        fn acquire_unfenced(&self);
        /// The broken `release`.
        fn release_unfenced(&self);
    }

    impl BrokenSemaphore for Semaphore {
        fn acquire_unfenced(&self) {
            self.acquire_without_fence();
        }
        fn release_unfenced(&self) {
            self.release_without_fence();
        }
    }
}
#[cfg(loom)]
pub use lost_wake::LostWakeMutex;
#[cfg(loom)]
pub use one_fence::OneFencePeterson;
#[cfg(loom)]
pub use queue_locks::{EagerFreeClhLock, ForgetfulMcsLock};

#[cfg(loom)]
mod queue_locks {
    use crate::{ClhLock, LockError, McsLock, RawLock};
    use std::mem::MaybeUninit;
    use std::time::Duration;

    /// `McsLock` whose release, finding no successor linked yet but `tail` moved on,
    /// frees its node instead of waiting for the successor to link itself: that
    /// successor is never granted the lock (a deadlock loom reports).
    #[derive(Debug, Default)]
    pub struct ForgetfulMcsLock<const N: usize>(McsLock<N>);

    impl<const N: usize> ForgetfulMcsLock<N> {
        /// An unlocked, broken lock.
        pub fn new() -> Self {
            ForgetfulMcsLock(McsLock::new())
        }
    }

    // SAFETY: it is not safe (a successor may be stranded); that is the point. Only loom
    // models instantiate it, and they expect loom to report the failure.
    unsafe impl<const N: usize> RawLock for ForgetfulMcsLock<N> {
        const NAME: &'static str = "broken-forgetful-mcs";
        type GuardMarker = crate::GuardSend;

        fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
            slot.write(ForgetfulMcsLock::new());
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
        unsafe fn unlock(&self) -> Result<(), LockError> {
            self.0.release_broken();
            Ok(())
        }
    }

    /// `ClhLock` whose release frees the holder's own node at once, instead of leaving
    /// it to the successor that still has to see it released: a new claimer may mark it
    /// locked again first.
    #[derive(Debug, Default)]
    pub struct EagerFreeClhLock<const N: usize>(ClhLock<N>);

    impl<const N: usize> EagerFreeClhLock<N> {
        /// An unlocked, broken lock.
        pub fn new() -> Self {
            EagerFreeClhLock(ClhLock::new())
        }
    }

    // SAFETY: it is not safe (a node may be reused while a successor waits on it); that is
    // the point. Only loom models instantiate it, and they expect loom to report it.
    unsafe impl<const N: usize> RawLock for EagerFreeClhLock<N> {
        const NAME: &'static str = "broken-eager-free-clh";
        type GuardMarker = crate::GuardSend;

        fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
            slot.write(EagerFreeClhLock::new());
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
        unsafe fn unlock(&self) -> Result<(), LockError> {
            self.0.release_broken();
            Ok(())
        }
        unsafe fn reset_idle(&self) {
            // SAFETY: the caller's promise (the lock is idle), passed on.
            unsafe { self.0.reset_idle() }
        }
    }
}

#[cfg(loom)]
mod one_fence {
    use crate::peterson::{acquire_with, release_one_fence, Fences};
    use crate::{LockError, RawLock, UnfencedPeterson};
    use std::mem::MaybeUninit;
    use std::time::Duration;

    /// `Peterson` with the textbook single `fence(SeqCst)` after both entry stores,
    /// instead of one after each: correct on x86-TSO, but not in the Rust memory model,
    /// which loom reports (see `tests/loom_peterson.rs`).
    #[derive(Debug, Default)]
    pub struct OneFencePeterson(UnfencedPeterson);

    impl OneFencePeterson {
        /// A fresh, broken lock.
        pub fn new() -> Self {
            OneFencePeterson(UnfencedPeterson::new())
        }
    }

    // SAFETY: it is not safe (both sides may enter); that is the point. Only loom models
    // instantiate it, and they expect loom to report the failure.
    unsafe impl RawLock for OneFencePeterson {
        const NAME: &'static str = "broken-one-fence-peterson";
        type GuardMarker = crate::GuardSend;

        fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
            slot.write(OneFencePeterson::new());
            Ok(())
        }
        fn lock(&self) -> Result<(), LockError> {
            acquire_with(&self.0, Fences::One, None);
            Ok(())
        }
        fn try_lock(&self) -> Result<bool, LockError> {
            Ok(acquire_with(&self.0, Fences::One, Some(Duration::ZERO)))
        }
        fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
            Ok(acquire_with(&self.0, Fences::One, Some(timeout)))
        }
        unsafe fn unlock(&self) -> Result<(), LockError> {
            release_one_fence(&self.0);
            Ok(())
        }
    }
}
#[cfg(loom)]
pub use relaxed_spin::RelaxedSpinLock;

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

        /// The raw word (see [`FutexMutex::state`]), so that a model can wait until a
        /// waiter has announced itself.
        pub fn state(&self) -> u32 {
            self.0.state()
        }
    }

    // SAFETY: it is not safe; that is the point. Only loom models instantiate it, and they
    // expect loom to report the lost wake-up as a deadlock.
    unsafe impl RawLock for LostWakeMutex {
        const NAME: &'static str = "broken-lost-wake";
        type GuardMarker = crate::GuardSend;

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
        unsafe fn unlock(&self) -> Result<(), LockError> {
            // The bug: release the word, but never wake a sleeper.
            self.0.word().swap(0, crate::loom::Ordering::Release);
            Ok(())
        }
    }
}

#[cfg(loom)]
mod relaxed_spin {
    use crate::loom::{yield_now, AtomicU32, Deadline, Ordering};
    use crate::{LockError, RawLock};
    use std::mem::MaybeUninit;
    use std::time::Duration;

    /// `SpinLock` with every ordering `Relaxed`: the lock CAS does not acquire and the
    /// unlock store does not release. It still excludes (one word, CAS from 0), but the
    /// next holder need not see what the previous one wrote: a data race on the protected
    /// data, which loom reports as a causality violation.
    ///
    /// | word | meaning  |
    /// |------|----------|
    /// | `0`  | unlocked |
    /// | `1`  | held     |
    #[derive(Debug)]
    pub struct RelaxedSpinLock {
        word: AtomicU32,
    }

    impl RelaxedSpinLock {
        /// An unlocked, broken spin lock.
        pub fn new() -> Self {
            RelaxedSpinLock {
                word: AtomicU32::new(0),
            }
        }

        fn try_acquire(&self) -> bool {
            self.word
                .compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        }
    }

    impl Default for RelaxedSpinLock {
        fn default() -> Self {
            Self::new()
        }
    }

    // SAFETY: it is not safe (no release/acquire ordering); that is the point. Only loom
    // models instantiate it, and they expect loom to report the data race.
    unsafe impl RawLock for RelaxedSpinLock {
        const NAME: &'static str = "broken-relaxed-spin";
        type GuardMarker = crate::GuardSend;

        fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
            slot.write(RelaxedSpinLock::new());
            Ok(())
        }
        fn lock(&self) -> Result<(), LockError> {
            while !self.try_acquire() {
                yield_now();
            }
            Ok(())
        }
        fn try_lock(&self) -> Result<bool, LockError> {
            Ok(self.try_acquire())
        }
        fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
            let deadline = Deadline::after(timeout);
            loop {
                if self.try_acquire() {
                    return Ok(true);
                }
                if deadline.expired() {
                    return Ok(false);
                }
                yield_now();
            }
        }
        unsafe fn unlock(&self) -> Result<(), LockError> {
            self.word.store(0, Ordering::Relaxed);
            Ok(())
        }
    }
}

#[cfg(loom)]
mod broken_takeover {
    use crate::futex_mutex::OnDeadOwner;
    use crate::loom::Deadline;
    use crate::{FutexMutex, LockError, RawLock};
    use std::mem::MaybeUninit;
    use std::time::Duration;

    /// `FutexMutex` whose takeover of a dead owner's lock is a plain store instead of a
    /// compare-and-swap: two waiters that both found the owner dead both take the lock
    /// (and both report `OwnerDied`). The owner-death models must catch it.
    #[derive(Debug, Default)]
    pub struct BrokenTakeoverMutex(FutexMutex);

    impl BrokenTakeoverMutex {
        /// An unlocked, broken mutex.
        pub fn new() -> Self {
            BrokenTakeoverMutex(FutexMutex::new())
        }
    }

    // SAFETY: it is not safe (a takeover may break exclusion); that is the point. Only
    // loom models instantiate it, and they expect loom to report the failure.
    unsafe impl RawLock for BrokenTakeoverMutex {
        const NAME: &'static str = "broken-store-takeover";
        type GuardMarker = crate::GuardSend;

        fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
            slot.write(BrokenTakeoverMutex::new());
            Ok(())
        }
        fn lock(&self) -> Result<(), LockError> {
            if self.0.try_acquire_now() {
                return Ok(());
            }
            self.0
                .lock_contended(&Deadline::never(), OnDeadOwner::BrokenStoreTakeOver)
                .map(|_| ())
        }
        fn try_lock(&self) -> Result<bool, LockError> {
            self.0.try_lock()
        }
        fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
            self.0.try_lock_for(timeout)
        }
        unsafe fn unlock(&self) -> Result<(), LockError> {
            // SAFETY: forwarded contract: the caller holds the lock.
            unsafe { self.0.unlock() }
        }
    }
}

#[cfg(loom)]
pub use no_wake_adaptive::NoWakeAdaptiveMutex;

#[cfg(loom)]
mod no_wake_adaptive {
    use crate::{AdaptiveMutex, LockError, RawLock};
    use std::mem::MaybeUninit;
    use std::time::Duration;

    /// `AdaptiveMutex` whose `unlock` skips the wake although `WAITERS` is set (a waiter
    /// past its spin sleeps through the release).
    #[derive(Debug, Default)]
    pub struct NoWakeAdaptiveMutex(AdaptiveMutex);

    impl NoWakeAdaptiveMutex {
        /// An unlocked, broken mutex.
        pub fn new() -> Self {
            NoWakeAdaptiveMutex(AdaptiveMutex::new())
        }

        /// The raw word (see [`AdaptiveMutex::state`]).
        pub fn state(&self) -> u32 {
            self.0.state()
        }
    }

    // SAFETY: it is not safe; that is the point. Only loom models instantiate it, and they
    // expect loom to report the lost wake-up as a deadlock.
    unsafe impl RawLock for NoWakeAdaptiveMutex {
        const NAME: &'static str = "broken-adaptive-no-wake";
        type GuardMarker = crate::GuardSend;

        fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
            slot.write(NoWakeAdaptiveMutex::new());
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
        unsafe fn unlock(&self) -> Result<(), LockError> {
            // The bug: release the word, and wake nobody even when WAITERS was set.
            self.0
                .inner()
                .word()
                .swap(0, crate::loom::Ordering::Release);
            Ok(())
        }
    }
}
