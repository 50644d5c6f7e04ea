//! The extension point: a strategy defined outside procshare (the `TasLock` of
//! `docs/guide.md`, verbatim) plugs into `Value`/`Array` by implementing `RawLock` and
//! nothing else, and runs the harness's whole lock catalog unchanged.

mod common;

use common::run_children;
use procshare::hook::{self, Point};
use procshare::{Array, Deadline, LockError, Process, RawLock, Value};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Test-and-set, no backoff.
#[repr(C)]
struct TasLock(AtomicU32);

// SAFETY: acquisitions are Acquire swaps from 0 to 1, the release a Release store of 0;
// one AtomicU32, no pointers; try_lock_for polls until its deadline has passed.
unsafe impl RawLock for TasLock {
    const NAME: &'static str = "tas";
    type GuardMarker = procshare::GuardSend;
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(TasLock(AtomicU32::new(0)));
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        while self.0.swap(1, Ordering::Acquire) != 0 {
            hook::point(Point::Spin); // let a controlled scheduler run the holder
            std::thread::yield_now();
        }
        Ok(())
    }
    fn try_lock(&self) -> Result<bool, LockError> {
        Ok(self.0.swap(1, Ordering::Acquire) == 0)
    }
    fn try_lock_for(&self, timeout: Duration) -> Result<bool, LockError> {
        let deadline = Deadline::after(timeout);
        loop {
            if self.try_lock()? {
                return Ok(true);
            }
            if deadline.expired() {
                return Ok(false);
            }
            hook::point(Point::Spin);
            std::thread::yield_now();
        }
    }
    unsafe fn unlock(&self) -> Result<(), LockError> {
        self.0.store(0, Ordering::Release);
        Ok(())
    }
}

#[test]
fn a_user_strategy_excludes_across_processes() {
    let v = Value::<u64, TasLock>::new(0).unwrap();
    run_children(4, |_| {
        for _ in 0..20_000 {
            *v.lock().unwrap() += 1;
        }
    });
    assert_eq!(v.load().unwrap(), 80_000);
}

#[test]
fn a_user_strategy_guards_arrays_and_times_out() {
    let a = Array::<u8, TasLock>::from_slice(b"abc").unwrap();
    let g = a.lock().unwrap();
    let mut child = Process::spawn(|| {
        assert!(a.try_lock_for(Duration::from_millis(50)).unwrap().is_none());
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0);
    drop(g);
    assert_eq!(a.to_vec().unwrap(), b"abc");
}

#[test]
fn the_guides_strategy_runs_the_whole_lock_catalog() {
    // Every lock scenario with TasLock: correct ones pass, the bug demonstrations are
    // found, under random and PCT schedules. (Without the schedule point in its spin loop
    // a waiting actor would be reported stuck.)
    use procshare_harness::scenarios::lock_catalog;
    use procshare_harness::search::{Mode, SearchConfig};
    let mut problems = Vec::new();
    for entry in lock_catalog::<TasLock>() {
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let config = SearchConfig {
                cases: 48,
                mode,
                shrink: false,
                ..SearchConfig::default()
            };
            let report = entry.search(&config).unwrap();
            if report.finding.is_some() != entry.expects_failure() {
                problems.push(format!(
                    "{} [{mode}]: {:?}",
                    entry.name(),
                    report.finding.map(|f| f.report.verdict.to_string())
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
