//! No run hangs: a primitive that never returns ends as a finding with its replay token,
//! within the runner's budgets, never as a hung test (or a hung `cargo xtask verify`).
//!
//! Three deliberately broken locks: one that sleeps where no scheduler can see it
//! (`pause(2)`) when contended, one whose unlock is lost (the next locker spins for ever),
//! and the same lost unlock with a single actor, where only the property check — which
//! takes the lock — would block: it runs in the janitor process, which the controller
//! gives up on after its budget.

use procshare_harness::scenarios::{Increment, LockedCounter};
use procshare_harness::search::{search, Mode, SearchConfig};
use procshare_harness::{decode_token, RandomChooser, Runner, SplitMix64, Verdict};
use procshare_sync::hook::{self, Point};
use procshare_sync::{GuardSend, LockError, RawLock};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Contended, it sleeps in `pause(2)`, which no scheduler sees: the actor is stuck.
#[repr(C)]
struct SleepsForever(AtomicU32);

// SAFETY: NOT a correct lock (a contended `lock` never returns); only the harness's
// actors use it, and the test asserts that the harness reports them stuck.
unsafe impl RawLock for SleepsForever {
    const NAME: &'static str = "sleeps-forever";
    type GuardMarker = GuardSend;
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(SleepsForever(AtomicU32::new(0)));
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        while self.0.swap(1, Ordering::Acquire) != 0 {
            // SAFETY: pause() only waits for a signal.
            unsafe { libc::pause() };
        }
        Ok(())
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.swap(1, Ordering::Acquire) == 0)
    }
    fn try_lock_for(&self, _: Duration) -> Result<bool, LockError> {
        self.try_lock()
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.store(0, Ordering::Release);
        Ok(())
    }
}

/// Its unlock does nothing: whoever locks next spins (at schedule points) for ever.
#[repr(C)]
struct LostUnlock(AtomicU32);

// SAFETY: NOT a correct lock (it is never released); only the harness uses it, and the
// tests assert the findings.
unsafe impl RawLock for LostUnlock {
    const NAME: &'static str = "lost-unlock";
    type GuardMarker = GuardSend;
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(LostUnlock(AtomicU32::new(0)));
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        while self.0.swap(1, Ordering::Acquire) != 0 {
            hook::point(Point::Spin);
            std::thread::yield_now();
        }
        Ok(())
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.swap(1, Ordering::Acquire) == 0)
    }
    fn try_lock_for(&self, _: Duration) -> Result<bool, LockError> {
        self.try_lock()
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        Ok(())
    }
}

/// The first failing case among `cases` random ones.
fn first_failure<L: RawLock>(runner: &mut Runner<'_, LockedCounter<L>>, cases: usize) -> Verdict {
    let mut rng = SplitMix64::new(3);
    for _ in 0..cases {
        let report = runner
            .run_case(&mut RandomChooser::new(rng.next_u64()))
            .unwrap();
        if report.verdict.is_failure() {
            return report.verdict;
        }
    }
    Verdict::Pass
}

#[test]
fn an_actor_asleep_outside_the_schedulers_view_is_reported_stuck() {
    let s = LockedCounter::<SleepsForever>::new(2, 1, Increment::Locked);
    let mut runner = Runner::new(&s)
        .unwrap()
        .stuck_after(Duration::from_millis(300));
    let verdict = first_failure(&mut runner, 64);
    assert!(
        matches!(verdict, Verdict::ActorStuck { .. }),
        "got {verdict}"
    );
    // The runner recovered (fresh actors): it keeps running cases.
    runner
        .run_case(&mut RandomChooser::new(1))
        .expect("the runner is still usable");
}

#[test]
fn a_lost_unlock_is_a_deadlock_finding_with_a_replay_token() {
    let s = LockedCounter::<LostUnlock>::new(2, 1, Increment::Locked);
    let config = SearchConfig {
        cases: 16,
        mode: Mode::Random,
        ..SearchConfig::default()
    };
    let report = search(&s, &config).unwrap();
    let finding = report.finding.expect("the hang must be a finding");
    assert!(
        matches!(finding.report.verdict, Verdict::Deadlock { .. }),
        "got {}",
        finding.report.verdict
    );
    assert!(decode_token(&finding.token).is_ok());
}

#[test]
fn a_property_check_that_would_block_ends_as_reset_stuck() {
    // One actor: its case "passes", but the lock stays held, so the property check (which
    // takes the lock) blocks: in the janitor, not in the controller.
    let s = LockedCounter::<LostUnlock>::new(1, 1, Increment::Locked);
    let mut runner = Runner::new(&s)
        .unwrap()
        .janitor_budget(Duration::from_millis(300));
    let verdict = first_failure(&mut runner, 4);
    assert_eq!(verdict, Verdict::ResetStuck);
    // Recovered with a fresh state: the next case fails the same way, not worse.
    assert_eq!(first_failure(&mut runner, 1), Verdict::ResetStuck);
}
