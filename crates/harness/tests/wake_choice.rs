//! Which sleeper a wake releases is a scheduling choice: with two processes asleep on
//! one futex word and a `futex_wake(word, 1)`, the controller offers each of them (a
//! `Pick`), so both wake orders are reachable and replayable. Before, the lowest actor id
//! always won and no `Pick` step existed.

use procshare_harness::scenarios::{Increment, LockedCounter};
use procshare_harness::{Action, RandomChooser, Replay, Runner, SplitMix64, Verdict};
use procshare_sync::{FutexMutex, TicketLock};
use std::collections::BTreeSet;

/// The actors picked by the first wake that had a choice, over `cases` random cases.
fn first_picks<L: procshare_sync::RawLock>(cases: usize) -> BTreeSet<usize> {
    let s = LockedCounter::<L>::new(3, 1, Increment::Locked);
    let mut runner = Runner::new(&s).unwrap();
    let mut rng = SplitMix64::new(7);
    let mut picked = BTreeSet::new();
    for _ in 0..cases {
        let report = runner
            .run_case(&mut RandomChooser::new(rng.next_u64()))
            .unwrap();
        assert_eq!(report.verdict, Verdict::Pass);
        if let Some(step) = report
            .trace
            .iter()
            .find(|s| s.choice.action == Action::Pick)
        {
            picked.insert(step.choice.actor);
            // A pick replays like any other choice.
            let again = runner
                .run_case(&mut Replay::new(report.schedule()))
                .unwrap();
            assert_eq!(again.trace, report.trace);
        }
    }
    picked
}

#[test]
fn a_wake_of_one_of_two_sleepers_can_release_either() {
    let picked = first_picks::<FutexMutex>(400);
    assert!(
        picked.len() >= 2,
        "only actors {picked:?} were ever picked by a wake"
    );
}

#[test]
fn ticket_lock_wakes_everyone_so_it_needs_no_pick() {
    // TicketLock's unlock wakes every sleeper (`u32::MAX`): never a choice.
    assert!(first_picks::<TicketLock>(100).is_empty());
}
