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

mod search {
    use procshare_harness::scenarios::{Increment, LockedCounter};
    use procshare_harness::search::{search, Mode, SearchConfig};
    use procshare_harness::{decode_token, render_trace_with, Event, Replay, Runner, Scenario};
    use procshare_sync::{FutexMutex, NoLock, PthreadMutex, SpinLock, TicketLock};

    /// The recorded operations, in clock order, as (actor, op name, value).
    fn ops<S: Scenario>(s: &S, history: &[Event]) -> Vec<(u32, String, bool)> {
        history
            .iter()
            .map(|e| (e.client, s.op_name(e.op), e.is_return))
            .collect()
    }

    fn assert_minimal_lost_update<S: Scenario>(s: &S, mode: Mode) {
        let report = search(
            s,
            &SearchConfig {
                mode,
                ..SearchConfig::default()
            },
        )
        .unwrap();
        let f = report.finding.expect("the lost update is found");
        let table = render_trace_with(&f.report.trace, 2, &|op| s.op_name(op));
        // The shrunk interleaving: both actors read before either writes.
        let invokes: Vec<(u32, String)> = ops(s, &f.report.history)
            .into_iter()
            .filter(|(_, _, ret)| !ret)
            .map(|(a, op, _)| (a, op))
            .collect();
        let names: Vec<&str> = invokes.iter().map(|(_, op)| op.as_str()).collect();
        assert!(
            names == ["read", "read", "write", "write"] || names == ["fetch_add", "fetch_add"],
            "{names:?}\n{table}"
        );
        assert_ne!(invokes[0].0, invokes[1].0, "two different actors\n{table}");
        // The token replays the same failure.
        let mut runner = Runner::new(s).unwrap();
        let again = runner
            .run_case(&mut Replay::new(decode_token(&f.token).unwrap()))
            .unwrap();
        assert_eq!(again.verdict, f.report.verdict);
        assert_eq!(again.trace, f.report.trace);
    }

    #[test]
    fn lost_update_is_found_and_shrunk_by_random_pct_and_proptest() {
        let s = LockedCounter::<FutexMutex>::new(2, 1, Increment::LoadThenStore);
        assert_minimal_lost_update(&s, Mode::Random);
        assert_minimal_lost_update(&s, Mode::Pct { depth: 2 });
        assert_minimal_lost_update(&s, Mode::Proptest);
    }

    #[test]
    fn nolock_lost_update_is_found_and_shrunk() {
        let s = LockedCounter::<NoLock>::new(2, 1, Increment::Locked);
        let report = search(&s, &SearchConfig::default()).unwrap();
        let f = report.finding.expect("found");
        // Shrunk: each actor's read (load point) happens before either writes back.
        let points: Vec<(usize, &str)> = f
            .report
            .trace
            .iter()
            .filter(|st| matches!(st.point, "load" | "store"))
            .map(|st| (st.choice.actor, st.point))
            .collect();
        assert_eq!(points.len(), 4, "{points:?}");
        assert_eq!(
            points.iter().map(|p| p.1).collect::<Vec<_>>(),
            ["load", "load", "store", "store"]
        );
    }

    #[test]
    fn correct_strategies_pass_256_schedules_in_every_mode() {
        fn check<L: procshare_sync::RawLock>() {
            for how in [Increment::Locked] {
                let s = LockedCounter::<L>::new(2, 2, how);
                for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
                    let r = search(
                        &s,
                        &SearchConfig {
                            mode,
                            ..SearchConfig::default()
                        },
                    )
                    .unwrap();
                    assert!(r.finding.is_none(), "{} {mode}: {:?}", s.name(), r.finding);
                    assert_eq!(r.cases_run, 256);
                }
            }
        }
        check::<FutexMutex>();
        check::<SpinLock>();
        check::<TicketLock>();
        check::<PthreadMutex>();
    }
}

#[test]
fn a_recorded_nolock_history_is_not_linearizable_as_a_counter() {
    use procshare_harness::search::{search, SearchConfig};
    use procshare_harness::{lin, lin_history, Scenario};
    let s = LockedCounter::<NoLock>::new(2, 1, Increment::Locked);
    let f = search(&s, &SearchConfig::default())
        .unwrap()
        .finding
        .expect("found");
    let history = lin_history(
        &f.report.history,
        |op| s.op_name(op),
        |e| serde_json::json!(e.value),
        |e| serde_json::json!(e.value),
    );
    match lin::check(&lin::Counter::default(), &history).unwrap() {
        lin::Outcome::Illegal(v) => {
            // Both fetch_adds returned 0: the witness is exactly those two operations.
            assert_eq!(v.minimal.len(), 2, "{}", lin::render_table(&v.minimal));
        }
        other => panic!("expected a violation, got {other:?}"),
    }
    // The same scenario under a lock records linearizable histories.
    let locked = LockedCounter::<FutexMutex>::new(2, 1, Increment::Locked);
    let mut r = Runner::new(&locked).unwrap();
    for seed in 0..32 {
        let report = r.run_case(&mut RandomChooser::new(seed)).unwrap();
        let h = lin_history(
            &report.history,
            |op| locked.op_name(op),
            |e| serde_json::json!(e.value),
            |e| serde_json::json!(e.value),
        );
        assert!(lin::check(&lin::Counter::default(), &h).unwrap().is_ok());
    }
}

#[test]
fn pct_takes_kill_choices_in_crash_scenarios() {
    // Before, PCT never picked a kill, so its "+kill" catalog rows were plain runs.
    let s = LockedCounter::<FutexMutex>::new(2, 1, Increment::Locked).with_kills(1);
    let mut r = Runner::new(&s).unwrap();
    let mut with_kills = 0;
    for seed in 0..64 {
        let mut pct = PctChooser::new(seed, 2, 2, 16).with_kills(seed, 1, 16);
        let report = r.run_case(&mut pct).unwrap();
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "{}",
            render_trace(&report.trace, 2)
        );
        with_kills += usize::from(!report.killed.is_empty());
    }
    assert!(with_kills > 0, "PCT never killed an actor in 64 cases");
}
