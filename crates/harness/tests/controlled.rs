//! Controlled schedules of real processes: determinism, the lost update found and shrunk,
//! locked counters passing random and PCT schedules, crash injection.

use procshare_harness::scenarios::{Increment, LockedCounter};
use procshare_harness::{
    decode_token, encode_token, render_trace, Action, PctChooser, RandomChooser, Replay, Runner,
    Verdict,
};
use procshare_sync::{FutexMutex, NoLock, SpinLock, TicketLock};

#[test]
fn the_default_schedule_runs_actors_one_after_the_other() {
    let s = LockedCounter::<FutexMutex>::new(2, 1, Increment::LoadThenStore);
    let mut r = Runner::new(&s).unwrap();
    let report = r.run_case(&mut Replay::new(vec![])).unwrap();
    assert_eq!(
        report.verdict,
        Verdict::Pass,
        "{}",
        render_trace(&report.trace, 2)
    );
    assert!(report.trace.iter().take(7).all(|s| s.choice.actor == 0));
}

#[test]
fn the_same_schedule_gives_the_same_trace_and_history() {
    let s = LockedCounter::<FutexMutex>::new(2, 2, Increment::Locked);
    let mut r = Runner::new(&s).unwrap();
    let first = r.run_case(&mut RandomChooser::new(42)).unwrap();
    let schedule = first.schedule();
    for _ in 0..50 {
        let again = r.run_case(&mut Replay::new(schedule.clone())).unwrap();
        assert_eq!(again.trace, first.trace);
        assert_eq!(again.history, first.history);
        assert_eq!(again.verdict, first.verdict);
    }
}

#[test]
fn a_hand_written_interleaving_loses_an_update() {
    // Actor 0 takes the lock and loads (acquire, load, release), then actor 1 does the
    // same, then both store.
    let s = LockedCounter::<FutexMutex>::new(2, 1, Increment::LoadThenStore);
    let mut r = Runner::new(&s).unwrap();
    let mut found = None;
    let mut rng = procshare_harness::SplitMix64::new(1);
    for _ in 0..500 {
        let report = r.run_case(&mut RandomChooser::new(rng.next_u64())).unwrap();
        if report.verdict.is_failure() {
            found = Some(report);
            break;
        }
    }
    let report = found.expect("random search finds the lost update");
    assert!(matches!(report.verdict, Verdict::PropertyFailed(_)));
    let token = encode_token(&report.schedule());
    let replayed = r
        .run_case(&mut Replay::new(decode_token(&token).unwrap()))
        .unwrap();
    assert_eq!(replayed.verdict, report.verdict);
}

#[test]
fn locked_counters_pass_random_and_pct_schedules() {
    fn check<L: procshare_sync::RawLock>() {
        let s = LockedCounter::<L>::new(2, 2, Increment::Locked);
        let mut r = Runner::new(&s).unwrap();
        for seed in 0..128 {
            let a = r.run_case(&mut RandomChooser::new(seed)).unwrap();
            assert_eq!(a.verdict, Verdict::Pass, "{}", render_trace(&a.trace, 2));
            let b = r.run_case(&mut PctChooser::new(seed, 2, 3, 40)).unwrap();
            assert_eq!(b.verdict, Verdict::Pass, "{}", render_trace(&b.trace, 2));
        }
    }
    check::<FutexMutex>();
    check::<SpinLock>();
    check::<TicketLock>();
}

#[test]
fn nolock_counter_loses_updates_under_some_schedule() {
    let s = LockedCounter::<NoLock>::new(2, 1, Increment::Locked);
    let mut r = Runner::new(&s).unwrap();
    let failures = (0..200)
        .filter(|&seed| {
            r.run_case(&mut RandomChooser::new(seed))
                .unwrap()
                .verdict
                .is_failure()
        })
        .count();
    assert!(failures > 0);
}

#[test]
fn a_holder_killed_mid_section_leaves_survivors_with_owner_died() {
    let s = LockedCounter::<FutexMutex>::new(2, 1, Increment::Locked).with_kills(1);
    let mut r = Runner::new(&s).unwrap();
    // Run actor 0 through `acquire` (it now holds the lock, parked before its load),
    // then kill it, then let actor 1 run to the end.
    let mut saw_kill = false;
    for seed in 0..300 {
        let report = r.run_case(&mut RandomChooser::new(seed)).unwrap();
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "seed {seed}\n{}",
            render_trace(&report.trace, 2)
        );
        saw_kill |= report.trace.iter().any(|s| s.choice.action == Action::Kill);
    }
    assert!(saw_kill);
}
