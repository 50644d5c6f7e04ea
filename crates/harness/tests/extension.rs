//! The extension point: a researcher's own lock strategy runs the whole lock catalog by
//! implementing `RawLock` and nothing else. Here a deliberately broken "test, then set"
//! lock (the check and the claim are two separate steps, so two processes can both see
//! the lock free) is caught: the harness finds a schedule that breaks the counter, and
//! shrinks it.

use procshare_harness::scenarios::lock_catalog;
use procshare_harness::search::{Mode, SearchConfig};
use procshare_harness::Verdict;
use procshare_sync::hook::{self, Point};
use procshare_sync::{LockError, RawLock};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Broken on purpose: `lock` reads the word, and only later writes it.
#[repr(C)]
struct TestThenSet(AtomicU32);

// SAFETY: it is NOT a correct lock (exclusion fails); that is the point of the test, and
// only the harness's actors, whose findings are asserted, ever use it.
unsafe impl RawLock for TestThenSet {
    const NAME: &'static str = "test-then-set";
    type GuardMarker = procshare_sync::GuardSend;

    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(TestThenSet(AtomicU32::new(0)));
        Ok(())
    }

    fn lock(&self) -> Result<(), LockError> {
        loop {
            if self.0.load(Ordering::Acquire) == 0 {
                // The bug: another process may claim the lock between the test and the
                // set. A schedule point makes the gap visible to the scheduler.
                hook::point(Point::Store);
                self.0.store(1, Ordering::Release);
                return Ok(());
            }
            hook::point(Point::Spin);
            std::thread::yield_now();
        }
    }

    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.swap(1, Ordering::Acquire) == 0)
    }

    fn try_lock_for(&self, _timeout: Duration) -> Result<bool, LockError> {
        self.try_lock()
    }

    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.store(0, Ordering::Release);
        Ok(())
    }
}

#[test]
fn a_buggy_user_strategy_is_caught_by_the_catalog() {
    let catalog = lock_catalog::<TestThenSet>();
    let counter = catalog
        .iter()
        .find(|e| e.name() == "counter-2x2/test-then-set")
        .expect("the counter scenario runs with any strategy");
    let report = counter
        .search(&SearchConfig {
            mode: Mode::Random,
            ..SearchConfig::default()
        })
        .unwrap();
    let finding = report.finding.expect("the broken lock is caught");
    assert!(matches!(finding.report.verdict, Verdict::PropertyFailed(_)));
    // Shrunk to a short schedule, replayable from its token.
    assert!(finding.schedule.len() <= 8, "{:?}", finding.schedule);
    let (again, table) = counter.replay(finding.schedule.clone()).unwrap();
    assert_eq!(again.verdict, finding.report.verdict, "{table}");
}

#[test]
fn correct_built_in_strategies_pass_the_same_scenario() {
    for entry in lock_catalog::<procshare_sync::FutexMutex>() {
        if entry.expects_failure() {
            continue;
        }
        let report = entry.search(&SearchConfig::default()).unwrap();
        assert!(report.finding.is_none(), "{}", entry.name());
    }
}
