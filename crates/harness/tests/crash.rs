//! The crash scenario's property has teeth: with the holder killed while two actors wait,
//! a strategy that takes a dead owner's lock over *silently* (no `OwnerDied`) is caught
//! ("the death went unreported"), and so is one that reports the death to more than one
//! locker ("both waiters got OwnerDied"). The real strategies pass the same searches.

use procshare_harness::scenarios::HolderKilled;
use procshare_harness::search::{search, Mode, SearchConfig};
use procshare_sync::{FutexMutex, GuardSend, LockError, RawLock};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// `FutexMutex` that swallows `OwnerDied`: it takes the lock over and says nothing.
#[repr(C)]
#[derive(Default)]
struct SilentTakeover(FutexMutex);

// SAFETY: it excludes exactly as FutexMutex does; what it breaks on purpose is the
// contract that a takeover is reported (OwnerDied), which the scenario's property checks.
unsafe impl RawLock for SilentTakeover {
    const NAME: &'static str = "silent-takeover";
    type GuardMarker = GuardSend;
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(SilentTakeover::default());
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        match self.0.lock() {
            Err(e) if e.lock_is_held() => Ok(()),
            r => r,
        }
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        self.0.try_lock()
    }
    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        self.0.try_lock_for(timeout)
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        // SAFETY: forwarded contract.
        unsafe { self.0.unlock() }
    }
}

/// `FutexMutex` that, once any takeover happened, tells *every* later locker that the
/// previous holder died (the double report).
#[repr(C)]
#[derive(Default)]
struct ReportsTwice {
    inner: FutexMutex,
    died: AtomicU32,
}

// SAFETY: it excludes exactly as FutexMutex does; it over-reports deaths on purpose.
unsafe impl RawLock for ReportsTwice {
    const NAME: &'static str = "reports-twice";
    type GuardMarker = GuardSend;
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(ReportsTwice::default());
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        match self.inner.lock() {
            Err(e) if e.lock_is_held() => {
                self.died.store(1, Ordering::Relaxed);
                Err(e)
            }
            Ok(()) if self.died.load(Ordering::Relaxed) != 0 => {
                Err(LockError::OwnerDied { pid: None })
            }
            r => r,
        }
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        self.inner.try_lock()
    }
    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        self.inner.try_lock_for(timeout)
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        // SAFETY: forwarded contract.
        unsafe { self.inner.unlock() }
    }
}

fn finding<L: RawLock>(mode: Mode) -> Option<String> {
    let config = SearchConfig {
        cases: 256,
        mode,
        shrink: false,
        ..SearchConfig::default()
    };
    search(&HolderKilled::<L>::new(3), &config)
        .unwrap()
        .finding
        .map(|f| format!("{} ({})", f.report.verdict, f.token))
}

#[test]
fn a_silent_takeover_is_caught() {
    let found = finding::<SilentTakeover>(Mode::Random).expect("silent takeover not caught");
    assert!(found.contains("went unreported"), "{found}");
}

#[test]
fn a_death_reported_twice_is_caught() {
    let found = finding::<ReportsTwice>(Mode::Random).expect("double report not caught");
    assert!(found.contains("OwnerDied reports"), "{found}");
}

#[test]
fn futex_mutex_passes_random_and_pct() {
    assert_eq!(finding::<FutexMutex>(Mode::Random), None);
    assert_eq!(finding::<FutexMutex>(Mode::Pct { depth: 3 }), None);
}
