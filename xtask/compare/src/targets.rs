//! The project's performance targets (issue 16), evaluated on the cells of one run: every
//! ratio is between two medians measured in the same run, at 2 processes.

use crate::model::Report;
use serde::{Deserialize, Serialize};

/// What a target asks of the ratio.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// `a`'s throughput at least this many times `b`'s.
    FasterAtLeast(f64),
    /// `a`'s time per operation at most this many times `b`'s.
    TimeAtMost(f64),
    /// `a`'s throughput at least this many operations per second (no `b`).
    RateAtLeast(f64),
    /// `a`'s median (p50) latency at most this many times `b`'s: the typical operation,
    /// for "when both processes are on a CPU" on a machine where they often are not.
    P50AtMost(f64),
}

/// One target: a case against another (or an absolute rate), at 2 processes.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// What it says, for the report.
    pub what: &'static str,
    /// `(workload, case)` measured.
    pub a: (&'static str, &'static str),
    /// `(workload, case)` it is compared with.
    pub b: Option<(&'static str, &'static str)>,
    /// The goal.
    pub goal: Goal,
    /// The process count of `a`'s cell and of `b`'s: the same for most targets; a
    /// manager cell counts its client processes (the server is one more), so one
    /// client against a socketpair's two processes is `(1, 2)`.
    pub procs: (usize, usize),
}

/// Every target of issue 16.
pub const TARGETS: &[Target] = &[
    Target {
        what: "Value<_, FutexMutex> increments vs the bare futex mutex",
        a: ("counter", "value<futex>"),
        b: Some(("counter", "bare_futex")),
        goal: Goal::FasterAtLeast(0.8),
        procs: (2, 2),
    },
    Target {
        what: "Value<_, FutexMutex> increments vs CPython's Value + get_lock",
        a: ("counter", "value<futex>"),
        b: Some(("counter", "cpython_value_get_lock")),
        goal: Goal::FasterAtLeast(100.0),
        procs: (2, 2),
    },
    Target {
        what: "Queue 1→1, 64-byte messages per second",
        a: ("queue1", "procshare_queue"),
        b: None,
        goal: Goal::RateAtLeast(10e6),
        procs: (2, 2),
    },
    Target {
        what: "Queue 1→1 vs a raw pipe",
        a: ("queue1", "procshare_queue"),
        b: Some(("queue1", "raw_pipe")),
        goal: Goal::FasterAtLeast(1.2),
        procs: (2, 2),
    },
    Target {
        what: "Queue 1→1 vs CPython's Queue",
        a: ("queue1", "procshare_queue"),
        b: Some(("queue1", "cpython_queue")),
        goal: Goal::FasterAtLeast(30.0),
        procs: (2, 2),
    },
    Target {
        what: "Queue 1→1 vs iceoryx2 pub/sub",
        a: ("queue1", "procshare_queue"),
        b: Some(("queue1", "iceoryx2")),
        goal: Goal::FasterAtLeast(3.0),
        procs: (2, 2),
    },
    Target {
        what: "Connection round trip vs a raw socketpair",
        a: ("roundtrip", "connection"),
        b: Some(("roundtrip", "raw_socketpair")),
        goal: Goal::TimeAtMost(1.1),
        procs: (2, 2),
    },
    Target {
        what: "Connection round trip with read-ahead vs a raw socketpair",
        a: ("roundtrip", "connection+read_ahead"),
        b: Some(("roundtrip", "raw_socketpair")),
        goal: Goal::TimeAtMost(1.1),
        procs: (2, 2),
    },
    Target {
        what: "Manager dict op over the socket (1 client) vs a socketpair round trip",
        a: ("manager", "manager_socket"),
        b: Some(("roundtrip", "raw_socketpair")),
        goal: Goal::TimeAtMost(1.3),
        procs: (1, 2),
    },
    Target {
        what: "Manager dict op, local fast path, vs CPython's Manager (1 client each)",
        a: ("manager", "manager_local"),
        b: Some(("manager", "cpython_manager_dict")),
        goal: Goal::FasterAtLeast(10.0),
        procs: (1, 1),
    },
    Target {
        what: "Event ping-pong vs a raw futex ping-pong",
        a: ("pingpong", "event"),
        b: Some(("pingpong", "raw_futex")),
        goal: Goal::TimeAtMost(1.3),
        procs: (2, 2),
    },
    Target {
        what: "Condition<Lock> ping-pong vs a raw futex ping-pong",
        a: ("pingpong", "condition<lock>"),
        b: Some(("pingpong", "raw_futex")),
        goal: Goal::TimeAtMost(1.3),
        procs: (2, 2),
    },
    Target {
        what: "Condition<RLock> ping-pong vs a raw futex ping-pong",
        a: ("pingpong", "condition<rlock>"),
        b: Some(("pingpong", "raw_futex")),
        goal: Goal::TimeAtMost(1.3),
        procs: (2, 2),
    },
    Target {
        what: "Event ping-pong (adaptive waiting) vs a raw spinning ping-pong",
        a: ("pingpong", "event"),
        b: Some(("pingpong", "raw_spin")),
        goal: Goal::P50AtMost(3.0),
        procs: (2, 2),
    },
    Target {
        what: "Condition<Lock> ping-pong (adaptive waiting) vs a raw spinning ping-pong",
        a: ("pingpong", "condition<lock>"),
        b: Some(("pingpong", "raw_spin")),
        goal: Goal::P50AtMost(3.0),
        procs: (2, 2),
    },
];

/// How a target fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The goal is reached.
    Met,
    /// It is not.
    Missed,
    /// A side has no numbers.
    NotYetMeasured,
}

/// A target evaluated on a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// What the target says.
    pub what: String,
    /// The goal, as text (`≥ 0.8×`, `≤ 1.1× time`, `≥ 10 M/s`).
    pub goal: String,
    /// The measured ratio (or rate), if both sides were measured.
    pub measured: Option<f64>,
    /// Met, missed or not yet measured.
    pub state: State,
    /// Which cells, or which side is missing.
    pub detail: String,
}

/// Evaluate [`TARGETS`] on `report`.
pub fn evaluate(report: &Report) -> Vec<Verdict> {
    TARGETS.iter().map(|t| verdict(report, t)).collect()
}

/// Evaluate one target.
pub fn verdict(report: &Report, t: &Target) -> Verdict {
    let goal = match t.goal {
        Goal::FasterAtLeast(x) => format!("≥ {x}× throughput"),
        Goal::TimeAtMost(x) => format!("≤ {x}× time"),
        Goal::RateAtLeast(x) => format!("≥ {} M/s", x / 1e6),
        Goal::P50AtMost(x) => format!("≤ {x}× p50 latency"),
    };
    let p50 = matches!(t.goal, Goal::P50AtMost(_));
    let side = |(w, c): (&str, &str), procs: usize| {
        let cell = report.find(w, c, procs)?;
        if p50 {
            cell.p50_ns.map(|ns| ns as f64)
        } else {
            Some(cell.median)
        }
    };
    let name = |(w, c): (&str, &str)| format!("{w}/{c}");
    let a = side(t.a, t.procs.0);
    let b = t.b.map(|b| side(b, t.procs.1));
    let measured = match (t.goal, a, b) {
        (Goal::RateAtLeast(_), Some(a), None) => Some(a),
        (Goal::FasterAtLeast(_), Some(a), Some(Some(b))) if b > 0.0 => Some(a / b),
        (Goal::TimeAtMost(_), Some(a), Some(Some(b))) if a > 0.0 => Some(b / a),
        (Goal::P50AtMost(_), Some(a), Some(Some(b))) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let state = match (t.goal, measured) {
        (_, None) => State::NotYetMeasured,
        (Goal::FasterAtLeast(x) | Goal::RateAtLeast(x), Some(m)) if m >= x => State::Met,
        (Goal::TimeAtMost(x) | Goal::P50AtMost(x), Some(m)) if m <= x => State::Met,
        _ => State::Missed,
    };
    let mut detail = match t.b {
        Some(b) if t.procs.0 == t.procs.1 => {
            format!("{} vs {}, n = {}", name(t.a), name(b), t.procs.0)
        }
        Some(b) => format!(
            "{} at n = {} vs {} at n = {}",
            name(t.a),
            t.procs.0,
            name(b),
            t.procs.1
        ),
        None => format!("{}, n = {}", name(t.a), t.procs.0),
    };
    if a.is_none() {
        detail.push_str(&format!("; {} not yet measured", name(t.a)));
    }
    if let (Some(b), Some(None)) = (t.b, b) {
        detail.push_str(&format!("; {} not yet measured", name(b)));
    }
    Verdict {
        what: t.what.into(),
        goal,
        measured,
        state,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cell, Family, Machine, Status};

    fn report(cells: Vec<Cell>) -> Report {
        Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "test".into(),
                kernel: "test".into(),
                python: None,
                load: Default::default(),
            },
            date: String::new(),
            command: String::new(),
            quick: true,
            repetitions: 5,
            seconds: 0.1,
            cells,
            notes: Vec::new(),
            targets: Vec::new(),
        }
    }

    fn cell(workload: &str, case: &str, median: f64) -> Cell {
        let mut c = Cell::empty(
            workload,
            case,
            Family::Procshare,
            2,
            2,
            true,
            Status::Measured,
        );
        c.throughput = vec![median];
        c.summarise();
        c
    }

    const FASTER: Target = Target {
        what: "a vs b",
        a: ("w", "a"),
        b: Some(("w", "b")),
        goal: Goal::FasterAtLeast(0.8),
        procs: (2, 2),
    };

    #[test]
    fn throughput_targets_compare_medians() {
        let r = report(vec![cell("w", "a", 90.0), cell("w", "b", 100.0)]);
        let v = verdict(&r, &FASTER);
        assert_eq!(v.state, State::Met);
        assert!((v.measured.unwrap() - 0.9).abs() < 1e-12);
        let r = report(vec![cell("w", "a", 70.0), cell("w", "b", 100.0)]);
        assert_eq!(verdict(&r, &FASTER).state, State::Missed);
    }

    #[test]
    fn each_side_is_read_at_its_own_process_count() {
        // A manager cell counts clients: one client (2 processes) against a pair.
        let t = Target {
            goal: Goal::TimeAtMost(1.3),
            procs: (1, 2),
            ..FASTER
        };
        let mut one_client = cell("w", "a", 90.0);
        one_client.procs = 1;
        let many_clients = cell("w", "a", 1000.0);
        let r = report(vec![one_client, many_clients, cell("w", "b", 100.0)]);
        let v = verdict(&r, &t);
        assert!((v.measured.unwrap() - 100.0 / 90.0).abs() < 1e-12, "{v:?}");
        assert_eq!(v.state, State::Met);
        assert_eq!(v.detail, "w/a at n = 1 vs w/b at n = 2");
        // Without a cell at a's count the target is not measured, whatever else exists.
        let r = report(vec![cell("w", "a", 90.0), cell("w", "b", 100.0)]);
        assert_eq!(verdict(&r, &t).state, State::NotYetMeasured);
    }

    #[test]
    fn time_targets_invert_the_ratio() {
        let t = Target {
            goal: Goal::TimeAtMost(1.1),
            ..FASTER
        };
        // a does 95 round trips per second where b does 100: a takes 1.053× b's time.
        let r = report(vec![cell("w", "a", 95.0), cell("w", "b", 100.0)]);
        assert_eq!(verdict(&r, &t).state, State::Met);
        let r = report(vec![cell("w", "a", 80.0), cell("w", "b", 100.0)]);
        let v = verdict(&r, &t);
        assert_eq!(v.state, State::Missed);
        assert!((v.measured.unwrap() - 1.25).abs() < 1e-12);
    }

    #[test]
    fn latency_targets_compare_p50s() {
        let t = Target {
            goal: Goal::P50AtMost(3.0),
            ..FASTER
        };
        let mut a = cell("w", "a", 1.0);
        let mut b = cell("w", "b", 1.0);
        a.p50_ns = Some(2_000);
        b.p50_ns = Some(500);
        let v = verdict(&report(vec![a.clone(), b.clone()]), &t);
        assert_eq!((v.state, v.measured), (State::Missed, Some(4.0)));
        a.p50_ns = Some(1_400);
        assert_eq!(verdict(&report(vec![a, b]), &t).state, State::Met);
    }

    #[test]
    fn a_missing_side_is_not_yet_measured() {
        let mut todo = cell("w", "a", 0.0);
        todo.status = Status::NotYetMeasured("later".into());
        let r = report(vec![todo, cell("w", "b", 100.0)]);
        let v = verdict(&r, &FASTER);
        assert_eq!(v.state, State::NotYetMeasured);
        assert!(v.detail.contains("w/a not yet measured"), "{}", v.detail);
    }

    #[test]
    fn every_target_names_registered_cases() {
        let cases = crate::cases::cases();
        for t in TARGETS {
            for (w, c) in [Some(t.a), t.b].into_iter().flatten() {
                assert!(
                    cases.iter().any(|k| k.workload == w && k.name == c),
                    "{}: no case {w}/{c}",
                    t.what
                );
            }
        }
    }
}
