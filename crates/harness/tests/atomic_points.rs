//! Schedule points at every atomic step: a spin lock whose test and set are two separate
//! atomics (a load, then a store) excludes nothing, but the gap between them is invisible
//! to operation-level points: the search cannot put another process there, and passes.
//! At atomic granularity (`AtomicGranularity`, the facade's atomics as schedule points) the
//! harness runs the other actor between the load and the store, finds the lost update in
//! real processes, and shrinks it. The built-in strategies pass at that granularity too.

use procshare_harness::scenarios::{Increment, LockedCounter};
use procshare_harness::search::{search, Mode, SearchConfig};
use procshare_harness::{render_trace, AtomicGranularity, Scenario, Verdict};
use procshare_sync::hook::{self, Point};
use procshare_sync::loom::{AtomicU32, Ordering};
use procshare_sync::{FutexMutex, GuardSend, LockError, RawLock, SpinLock, TicketLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// Test, then set, with two atomics: broken on purpose.
#[repr(C)]
struct SplitTas(AtomicU32);

// SAFETY: NOT a correct lock (two lockers may both see 0 and both store 1); only the
// harness uses it, and the test asserts what the harness finds.
unsafe impl RawLock for SplitTas {
    const NAME: &'static str = "split-tas";
    type GuardMarker = GuardSend;
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(SplitTas(AtomicU32::new(0)));
        Ok(())
    }
    fn lock(&self) -> Result<(), LockError> {
        loop {
            if self.0.load(Ordering::Acquire) == 0 {
                self.0.store(1, Ordering::Relaxed); // the gap is between these two
                return Ok(());
            }
            hook::point(Point::Spin);
        }
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

fn config(mode: Mode, shrink: bool) -> SearchConfig {
    SearchConfig {
        cases: 256,
        mode,
        shrink,
        ..SearchConfig::default()
    }
}

#[test]
fn operation_level_points_cannot_reach_the_gap() {
    let s = LockedCounter::<SplitTas>::new(2, 1, Increment::Locked);
    let report = search(&s, &config(Mode::Random, false)).unwrap();
    assert!(
        report.finding.is_none(),
        "{:?}",
        report.finding.map(|f| f.token)
    );
}

#[test]
fn atomic_level_points_find_and_shrink_the_gap() {
    let s = AtomicGranularity(LockedCounter::<SplitTas>::new(2, 1, Increment::Locked));
    let report = search(&s, &config(Mode::Random, true)).unwrap();
    let finding = report
        .finding
        .expect("the gap between load and store was not found");
    assert!(
        matches!(finding.report.verdict, Verdict::PropertyFailed(_)),
        "{}",
        finding.report.verdict
    );
    // The shrunk interleaving: both actors load 0 before either stores 1.
    let trace = render_trace(&finding.report.trace, 2);
    let loads: Vec<usize> = finding
        .report
        .trace
        .iter()
        .filter(|s| s.point == "atomic load")
        .map(|s| s.choice.actor)
        .collect();
    assert!(loads.contains(&0) && loads.contains(&1), "{trace}");
    eprintln!("{} shrunk to {}:\n{trace}", s.name(), finding.token);
}

#[test]
fn the_built_in_strategies_pass_at_atomic_granularity() {
    fn passes<L: RawLock + 'static>() {
        let s = AtomicGranularity(LockedCounter::<L>::new(2, 2, Increment::Locked));
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let report = search(&s, &config(mode, false)).unwrap();
            assert!(
                report.finding.is_none(),
                "{} [{mode}]: {:?}",
                s.name(),
                report.finding.map(|f| f.report.verdict.to_string())
            );
        }
    }
    passes::<FutexMutex>();
    passes::<SpinLock>();
    passes::<TicketLock>();
}

/// CLH's `try_lock` reads a released tail node, claims a node of its own, then enqueues
/// with a compare-and-swap on `tail`. Preempted between the read and the CAS, it may see
/// another actor take the lock behind that node and free it, and another claim the freed
/// node (the lowest free index) and enqueue it, held, as the tail again: the CAS must
/// fail then, which is what the counter in the tail word's high half is for. At atomic
/// granularity the search puts the others in that window; with the counter erased
/// (cargo-mutants' `<<`/`>>` swaps in `bumped`) two actors hold the lock at once and the
/// unlock of one releases the other's node. Two increments each: with the counter stuck
/// at 1 (`old << 32`), only a tail written by an enqueue is recycled to an equal word,
/// so the window must open after a first lock cycle. Found by the release build within
/// 35 to 487 cases (counter gone) and 40 to 841 (stuck at 1) over seeds 1 to 8, so the
/// search runs 2048 in each mode.
#[test]
fn clh_try_lock_never_enqueues_on_a_recycled_tail_node() {
    let s = AtomicGranularity(LockedCounter::<procshare_sync::ClhLock>::new(
        3,
        2,
        Increment::Timed,
    ));
    for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
        let config = SearchConfig {
            cases: 2048,
            ..config(mode, false)
        };
        let report = search(&s, &config).unwrap();
        assert!(
            report.finding.is_none(),
            "{} [{mode}]: {:?}",
            s.name(),
            report
                .finding
                .map(|f| (f.token, f.report.verdict.to_string()))
        );
    }
}
