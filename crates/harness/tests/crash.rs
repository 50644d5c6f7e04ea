//! The crash scenario's property has teeth: with the holder killed while two actors wait,
//! a strategy that takes a dead owner's lock over *silently* (no `OwnerDied`) is caught
//! ("the death went unreported"), and so is one that reports the death to more than one
//! locker ("both waiters got OwnerDied"). The real strategies pass the same searches.
//!
//! A `Condition` waiter killed while it waits must not swallow the notification meant for
//! a live one: one schedule of `condition-waiter-killed-2+kill1` that puts the dead
//! waiter first in line is replayed and must pass.

use procshare_harness::scenarios::{HolderKilled, WaiterKilled};
use procshare_harness::search::{search, Mode, SearchConfig};
use procshare_harness::{decode_token, Action, RandomChooser, Replay, Runner, Verdict};
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

/// The schedule: waiter 1 begins to wait; waiter 2 reaches the lock; waiter 1 is killed
/// in its wait (its slot still says "waiting", and it is the older waiter); the notifier
/// takes the lock, counts one live waiter (`waiting()`), notifies one and releases; then
/// waiter 2 must be woken, see the flag and finish. With the quick liveness probe
/// (`liveness::is_gone`) made to say "alive", the notification goes to the dead waiter
/// and waiter 2 sleeps forever (the harness reports a deadlock): the token was found by
/// a random search of that mutant, and the harness's clock is virtual, so no full probe
/// stands in for the quick one.
#[test]
fn a_dead_waiter_never_swallows_a_live_ones_notification() {
    let scenario = WaiterKilled::new();
    let mut runner = Runner::new(&scenario).unwrap();
    let schedule = decode_token("ps1.AQYCAQ").unwrap();
    let report = runner.run_case(&mut Replay::new(schedule)).unwrap();
    let steps: Vec<(usize, Action, &str)> = report
        .trace
        .iter()
        .map(|s| (s.choice.actor, s.choice.action, s.point))
        .collect();
    let first = |actor: usize, action: Action, point: Option<&str>| {
        steps
            .iter()
            .position(|&(a, c, p)| a == actor && c == action && point.is_none_or(|w| w == p))
            .unwrap_or_else(|| panic!("no {action:?} of actor {actor} in {steps:?}"))
    };
    // The interesting schedule, not some other one: waiter 1 was killed after it began
    // to wait (its wait's release point); waiter 2 began its wait before the notifier's
    // last step and was woken after it.
    assert_eq!(report.killed, [1]);
    assert!(first(1, Action::Run, Some("release")) < first(1, Action::Kill, None));
    let notifier_done = steps.iter().rposition(|s| s.0 == 0).unwrap();
    assert!(
        first(2, Action::Run, Some("release")) < notifier_done,
        "{steps:?}"
    );
    assert!(first(2, Action::Wake, None) > notifier_done, "{steps:?}");
    assert_eq!(report.verdict, Verdict::Pass, "{steps:?}");
}

/// `Scenario::killable`: the notifier (actor 0) is never offered as a victim, the
/// waiters are, and every case passes.
#[test]
fn only_killable_actors_are_killed() {
    let scenario = WaiterKilled::new();
    let mut runner = Runner::new(&scenario).unwrap();
    let mut victims = [0u32; 3];
    for seed in 0..64 {
        let report = runner.run_case(&mut RandomChooser::new(seed)).unwrap();
        assert_eq!(report.verdict, Verdict::Pass, "seed {seed}");
        for &k in &report.killed {
            victims[k] += 1;
        }
    }
    assert_eq!(victims[0], 0, "the notifier was killed");
    assert!(victims[1] > 0 && victims[2] > 0, "{victims:?}");
}
