//! The kill-point matrix has teeth: a queue without crash recovery fails rows, the ring
//! passes the same rows, a `JoinableQueue` producer killed anywhere in a put leaves `join`
//! exact while a queue that counts its task before claiming is reported as a known limit
//! (not as a pass), and a kill lands exactly at the step it was aimed at.

use procshare_harness::killpoints::{rows, KillAt, KillTarget, Policy, RowOutcome, Target};
use procshare_harness::scenarios::{
    CountBeforeClaimQueue, HarnessJoinable, JoinableScenario, NoRecoveryQueue, QueueScenario,
    KNOWN_LIMIT,
};
use procshare_harness::{Action, Runner};
use procshare_queue::{ByteRing, JoinableQueue};

fn put_target<Q: procshare_harness::scenarios::HarnessQueue>() -> KillTarget<QueueScenario<Q>> {
    KillTarget {
        scenario: QueueScenario::<Q>::new(2, 1, 2, 4).with_kills(1),
        primitive: Q::NAME.into(),
        victim: 0,
        role: "producer",
    }
}

#[test]
fn a_queue_without_crash_recovery_fails_the_put_rows_the_ring_passes() {
    let broken = rows(&put_target::<NoRecoveryQueue>(), &Policy::ALL).unwrap();
    // Without a kill the broken queue is correct: no "(no kill)" row.
    assert!(
        broken.iter().all(|r| r.operation != "(no kill)"),
        "{broken:#?}"
    );
    let failed: Vec<_> = broken.iter().filter(|r| r.failed()).collect();
    assert!(
        failed
            .iter()
            .any(|r| r.operation == "put" && (r.point == "write" || r.point == "publish")),
        "a producer killed between claim and publish must wedge it: {broken:#?}"
    );
    for r in &failed {
        let RowOutcome::Fail { verdict, token, .. } = &r.outcome else {
            unreachable!()
        };
        assert!(token.starts_with("ps1."), "{token}");
        assert!(!verdict.is_empty());
    }

    let ring = rows(&put_target::<ByteRing>(), &Policy::ALL).unwrap();
    assert!(
        ring.iter().all(|r| r.outcome == RowOutcome::Pass),
        "{ring:#?}"
    );
    for point in ["claim", "write", "publish"] {
        assert!(
            ring.iter()
                .any(|r| r.operation == "put" && r.point == point),
            "no put row at {point}: {ring:#?}"
        );
    }
}

fn joinable_target<Q: HarnessJoinable>() -> KillTarget<JoinableScenario<Q>> {
    KillTarget {
        scenario: JoinableScenario::<Q>::new(1, 2, 2, 1).with_kills(1),
        primitive: Q::NAME.into(),
        victim: 0,
        role: "producer",
    }
}

#[test]
fn a_producer_killed_anywhere_in_a_put_leaves_join_exact() {
    let rows = rows(
        &joinable_target::<JoinableQueue<u64>>(),
        &[Policy::SurvivorsFirst],
    )
    .unwrap();
    for point in ["claim", "write", "publish"] {
        assert!(
            rows.iter()
                .any(|r| r.operation == "put" && r.point == point),
            "no put row at {point}: {rows:#?}"
        );
    }
    assert!(
        rows.iter().all(|r| r.outcome == RowOutcome::Pass),
        "{rows:#?}"
    );
}

#[test]
fn a_queue_that_counts_before_it_claims_is_reported_as_a_known_limit_not_a_pass() {
    let rows = rows(
        &joinable_target::<CountBeforeClaimQueue>(),
        &[Policy::SurvivorsFirst],
    )
    .unwrap();
    assert!(rows.iter().all(|r| !r.failed()), "{rows:#?}");
    let claim = rows
        .iter()
        .find(|r| r.operation == "put" && r.point == "claim")
        .expect("a put row at claim");
    assert!(
        matches!(claim.outcome, RowOutcome::KnownLimit { cases } if cases == claim.cases),
        "{claim:#?}"
    );
    // Killed after the claim, the put is void: its slot becomes a tombstone, which
    // takes its task back, and join is exact.
    for point in ["write", "publish"] {
        let r = rows
            .iter()
            .find(|r| r.operation == "put" && r.point == point)
            .unwrap();
        assert_eq!(r.outcome, RowOutcome::Pass, "{r:#?}");
    }
    assert!(KNOWN_LIMIT.starts_with("known limit"));
}

#[test]
fn a_kill_lands_exactly_at_the_victims_kth_step() {
    let target = put_target::<ByteRing>();
    let (steps, verdict) = target.count(Policy::RoundRobin).unwrap();
    assert!(!verdict.is_failure(), "{verdict}");
    assert!(steps.len() >= 7, "{steps:#?}");
    for k in [0, 2, steps.len() - 1] {
        let mut runner = Runner::new(&target.scenario).unwrap();
        let report = runner
            .run_case(&mut KillAt::new(Policy::RoundRobin, 0, Some(k)))
            .unwrap();
        assert_eq!(report.killed, vec![0]);
        let victim_steps_before_kill = report
            .trace
            .iter()
            .take_while(|s| s.choice.action != Action::Kill)
            .filter(|s| s.choice.actor == 0)
            .count();
        assert_eq!(victim_steps_before_kill, k);
        let kill = report
            .trace
            .iter()
            .find(|s| s.choice.action == Action::Kill)
            .unwrap();
        assert!(steps[k].point.ends_with(kill.point), "{k}: {:?}", steps[k]);
    }
    assert_eq!(target.scenario(), "queue-2p1c+kill1/byte-ring");
}
