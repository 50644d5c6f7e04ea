//! Schedules as an ordinary proptest property: every schedule of the locked counter, and
//! of the transfer and barrier scenarios, passes. A failure here would be shrunk by
//! proptest and persisted in `proptest-regressions/` like any proptest failure, and
//! replayed first on the next run.

use procshare_harness::scenarios::{
    ArrayTransfer, BarrierPhases, Increment, LockedCounter, TransferHow,
};
use procshare_harness::search::schedule_strategy;
use procshare_harness::{render_trace, Replay, Runner, Scenario};
use procshare_sync::{FutexMutex, TicketLock};
use proptest::prelude::*;
use std::cell::RefCell;

/// Run `schedule` on a per-thread pooled runner of a leaked (so `'static`) scenario.
fn passes<S: Scenario + 'static>(
    runner: &'static std::thread::LocalKey<RefCell<Option<Runner<'static, S>>>>,
    make: fn() -> S,
    schedule: Vec<u32>,
) -> Result<(), TestCaseError> {
    runner.with(|cell| {
        let mut slot = cell.borrow_mut();
        let r = slot.get_or_insert_with(|| Runner::new(Box::leak(Box::new(make()))).unwrap());
        let report = r.run_case(&mut Replay::new(schedule)).unwrap();
        prop_assert!(
            !report.verdict.is_failure(),
            "{}\n{}",
            report.verdict,
            render_trace(&report.trace, 3)
        );
        Ok(())
    })
}

thread_local! {
    static COUNTER: RefCell<Option<Runner<'static, LockedCounter<FutexMutex>>>> = const { RefCell::new(None) };
    static TRANSFER: RefCell<Option<Runner<'static, ArrayTransfer<TicketLock>>>> = const { RefCell::new(None) };
    static BARRIER: RefCell<Option<Runner<'static, BarrierPhases>>> = const { RefCell::new(None) };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn locked_counter_passes_every_schedule(schedule in schedule_strategy(4, 48)) {
        passes(&COUNTER, || LockedCounter::new(3, 1, Increment::Locked), schedule)?;
    }

    #[test]
    fn atomic_transfers_keep_the_sum_under_every_schedule(schedule in schedule_strategy(4, 48)) {
        passes(&TRANSFER, || ArrayTransfer::new(3, TransferHow::Atomic), schedule)?;
    }

    #[test]
    fn barrier_phases_hold_under_every_schedule(schedule in schedule_strategy(4, 64)) {
        passes(&BARRIER, || BarrierPhases::new(3, 2), schedule)?;
    }
}
