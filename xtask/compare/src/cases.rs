//! The registry: every workload and every case of the comparison, in one place.
//!
//! # Adding a row
//!
//! * **A lock strategy** (anything implementing `RawLock`): one line in [`strategies`],
//!   `strategy::<MyLock>()`. It then runs the counter and the array workloads at every
//!   process count, and, if `RawLock::EXCLUSIVE` is true, any update it loses fails
//!   `cargo xtask verify`. Remove its line from [`PENDING_STRATEGIES`] if it was there.
//! * **A ping-pong or round-trip channel**: implement [`pairs::Channel`] (ping, pong,
//!   quit) and add `rust(workload, name, family, Pairs::<MyChannel>::prepare)` in
//!   [`cases`].
//! * **A queue**: implement [`streams::Stream`] (send, receive, stop message) and add a
//!   `rust(..., Streams::<MyQueue>::prepare)` line for `queue1` and `queue4`, replacing
//!   the `todo` rows.
//! * **Anything else**: implement [`Run`](crate::runner::Run) (a body per process, which
//!   processes count, what was lost) and register a `rust(...)` case.
//! * **A CPython row**: a case of `python/compare.py` (its `CASES` table) and a
//!   `python(...)` line here with the same names.

use crate::locks::{strategy, BareFutex, FetchAdd, Prepare, Strategy};
use crate::model::Family;
use crate::pairs::{Conditions, Connections, Events, Pairs, RawSocketpair, RawWords};
use crate::streams::{ProcshareQueue, RawPipe, Streams};
use procshare::strategy::{
    AdaptiveMutex, Bakery, ClhLock, FutexMutex, McsLock, NoLock, Peterson, PthreadMutex, SpinLock,
    TicketLock,
};
use procshare::{Lock, RLock};

/// Every lock strategy measured by the counter and array workloads. Adding a strategy
/// is adding a line.
pub fn strategies() -> Vec<Strategy> {
    vec![
        strategy::<FutexMutex>(),
        strategy::<SpinLock>(),
        strategy::<TicketLock>(),
        strategy::<PthreadMutex>(),
        strategy::<McsLock>(),
        strategy::<ClhLock>(),
        strategy::<AdaptiveMutex>(),
        strategy::<Peterson>(),
        strategy::<Bakery>(),
        strategy::<NoLock>(),
    ]
}

/// Strategies not written yet: shown as "not yet measured" rows until their line moves
/// to [`strategies`]. `(RawLock::NAME, why)`.
pub const PENDING_STRATEGIES: &[(&str, &str)] = &[];

/// One workload: what one operation is, at which process counts, against what.
#[derive(Debug)]
pub struct Workload {
    /// Key in the JSON and the case tables (also the Python script's).
    pub key: &'static str,
    /// Title in the report.
    pub title: &'static str,
    /// What one operation is.
    pub op: &'static str,
    /// Process counts of a full run.
    pub procs: &'static [usize],
    /// Process counts of a `--quick` run.
    pub quick_procs: &'static [usize],
    /// Whether single operations are timed (latency percentiles).
    pub latency: bool,
    /// The raw limit every row is compared with (a case of this workload).
    pub baseline: Option<&'static str>,
    /// The CPython row every row is compared with.
    pub cpython: Option<&'static str>,
}

/// The workloads, in report order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        key: "counter",
        title: "Counter increment",
        op: "one increment of a shared u64 (`*v.lock()? += 1`), every process at once",
        procs: &[1, 2, 4, 8],
        quick_procs: &[1, 2, 4],
        latency: false,
        baseline: Some("bare_futex"),
        cpython: Some("cpython_value_get_lock"),
    },
    Workload {
        key: "array64",
        title: "64-element Array update under one lock",
        op: "lock, add 1 to each of 64 u64s, unlock",
        procs: &[1, 2, 4, 8],
        quick_procs: &[1, 2],
        latency: false,
        baseline: Some("bare_futex"),
        cpython: Some("cpython_array_get_lock"),
    },
    Workload {
        key: "rw_read90",
        title: "Read-mostly [u64; 8] (90 % reads): reader-writer strategies",
        op: "a read (copy 8 words, check they are equal) or, every 10th, a write (add 1 to all 8), every process at once",
        procs: &[1, 2, 4, 8],
        quick_procs: &[2, 4],
        latency: false,
        baseline: Some("value<futex>"),
        cpython: None,
    },
    Workload {
        key: "rw_write",
        title: "Write-only [u64; 8]: reader-writer strategies",
        op: "a write (add 1 to all 8 words) under the write lock, every process at once",
        procs: &[1, 2, 4, 8],
        quick_procs: &[2],
        latency: false,
        baseline: Some("value<futex>"),
        cpython: None,
    },
    Workload {
        key: "pingpong",
        title: "Ping-pong (Event, Condition)",
        op: "one round trip of a token between two processes (pairs run side by side)",
        procs: &[2, 4, 8],
        quick_procs: &[2],
        latency: true,
        baseline: Some("raw_futex"),
        cpython: None,
    },
    Workload {
        key: "roundtrip",
        title: "Connection round trip (64 bytes)",
        op: "one 64-byte message echoed back (pairs run side by side)",
        procs: &[2, 4, 8],
        quick_procs: &[2],
        latency: true,
        baseline: Some("raw_socketpair"),
        cpython: Some("cpython_pipe"),
    },
    Workload {
        key: "queue1",
        title: "Queue 1→1 (64-byte messages)",
        op: "one 64-byte message received (one producer, one consumer)",
        procs: &[2],
        quick_procs: &[2],
        latency: false,
        baseline: Some("raw_pipe"),
        cpython: Some("cpython_queue"),
    },
    Workload {
        key: "queue4",
        title: "Queue 4→4 (64-byte messages)",
        op: "one 64-byte message received (four producers, four consumers)",
        procs: &[8],
        quick_procs: &[8],
        latency: false,
        baseline: Some("raw_pipe"),
        cpython: Some("cpython_queue"),
    },
    Workload {
        key: "manager",
        title: "Manager dict operation",
        op: "one `d[key] = value` through a manager proxy, every client process at once",
        procs: &[1, 2, 4, 8],
        quick_procs: &[2],
        latency: true,
        baseline: None,
        cpython: Some("cpython_manager_dict"),
    },
];

/// The workload with this key.
pub fn workload(key: &str) -> &'static Workload {
    WORKLOADS
        .iter()
        .find(|w| w.key == key)
        .unwrap_or_else(|| panic!("no workload `{key}`"))
}

/// Where a case's numbers come from.
pub enum Source {
    /// Forked Rust processes running a [`Run`](crate::runner::Run).
    Rust(Prepare),
    /// The case of the same name in `python/compare.py`.
    Python,
    /// Not measurable yet: why.
    Todo(String),
}

/// One row of a workload's table, measured at each of the workload's process counts.
pub struct Case {
    /// The workload's key.
    pub workload: &'static str,
    /// The row's name.
    pub name: String,
    /// Who it measures.
    pub family: Family,
    /// Promises to lose nothing (checked by `verify`).
    pub excluding: bool,
    /// Where its numbers come from.
    pub source: Source,
}

fn rust(workload: &'static str, name: &str, family: Family, prepare: Prepare) -> Case {
    Case {
        workload,
        name: name.into(),
        family,
        excluding: true,
        source: Source::Rust(prepare),
    }
}

fn python(workload: &'static str, name: &str, excluding: bool) -> Case {
    Case {
        workload,
        name: name.into(),
        family: Family::Cpython,
        excluding,
        source: Source::Python,
    }
}

fn todo(workload: &'static str, name: &str, family: Family, why: &str) -> Case {
    Case {
        workload,
        name: name.into(),
        family,
        excluding: true,
        source: Source::Todo(why.into()),
    }
}

/// Every case, in report order. `peers` adds the Rust IPC crates (when built with the
/// `peers` feature; otherwise their rows say why they are missing).
pub fn cases() -> Vec<Case> {
    use Family::{Baseline, Procshare};
    let mut cases = Vec::new();

    // Counter increment.
    cases.push(rust("counter", "bare_futex", Baseline, BareFutex::counter));
    cases.push(rust("counter", "fetch_add", Procshare, FetchAdd::prepare));
    for s in strategies() {
        let mut case = rust(
            "counter",
            &format!("value<{}>", s.name),
            Procshare,
            s.counter,
        );
        case.excluding = s.excluding;
        cases.push(case);
    }
    for (name, reason) in PENDING_STRATEGIES {
        let why = format!("strategy `{name}`: {reason}");
        cases.push(todo("counter", &format!("value<{name}>"), Procshare, &why));
    }
    cases.push(python("counter", "cpython_value_get_lock", true));
    cases.push(python("counter", "cpython_value_nolock", false));

    // 64-element array.
    cases.push(rust("array64", "bare_futex", Baseline, BareFutex::array));
    for s in strategies() {
        let mut case = rust("array64", &format!("array<{}>", s.name), Procshare, s.array);
        case.excluding = s.excluding;
        cases.push(case);
    }
    cases.push(python("array64", "cpython_array_get_lock", true));

    // Reader-writer workloads (the same data behind a mutex, an RwLock, a SeqLock).
    {
        use crate::rw::{FutexValue, ReadMostly, RwWords, SeqWords, Shape, WriteOnly};
        cases.push(rust(
            "rw_read90",
            FutexValue::NAME,
            Procshare,
            ReadMostly::<FutexValue>::prepare,
        ));
        cases.push(rust(
            "rw_read90",
            RwWords::NAME,
            Procshare,
            ReadMostly::<RwWords>::prepare,
        ));
        cases.push(rust(
            "rw_read90",
            SeqWords::NAME,
            Procshare,
            ReadMostly::<SeqWords>::prepare,
        ));
        cases.push(rust(
            "rw_write",
            FutexValue::NAME,
            Procshare,
            WriteOnly::<FutexValue>::prepare,
        ));
        cases.push(rust(
            "rw_write",
            RwWords::NAME,
            Procshare,
            WriteOnly::<RwWords>::prepare,
        ));
    }

    // Ping-pong.
    cases.push(rust(
        "pingpong",
        "raw_futex",
        Baseline,
        Pairs::<RawWords<false>>::prepare,
    ));
    cases.push(rust(
        "pingpong",
        "raw_spin",
        Baseline,
        Pairs::<RawWords<true>>::prepare,
    ));
    cases.push(rust(
        "pingpong",
        "event",
        Procshare,
        Pairs::<Events>::prepare,
    ));
    cases.push(rust(
        "pingpong",
        "condition<lock>",
        Procshare,
        Pairs::<Conditions<Lock>>::prepare,
    ));
    cases.push(rust(
        "pingpong",
        "condition<rlock>",
        Procshare,
        Pairs::<Conditions<RLock>>::prepare,
    ));

    // Round trip.
    cases.push(rust(
        "roundtrip",
        "raw_socketpair",
        Baseline,
        Pairs::<RawSocketpair>::prepare,
    ));
    cases.push(rust(
        "roundtrip",
        "connection",
        Procshare,
        Pairs::<Connections<false>>::prepare,
    ));
    cases.push(rust(
        "roundtrip",
        "connection+read_ahead",
        Procshare,
        Pairs::<Connections<true>>::prepare,
    ));
    cases.push(python("roundtrip", "cpython_pipe", true));

    // Queues.
    for key in ["queue1", "queue4"] {
        cases.push(rust(key, "raw_pipe", Baseline, Streams::<RawPipe>::prepare));
        cases.push(rust(
            key,
            "procshare_queue",
            Procshare,
            Streams::<ProcshareQueue>::prepare,
        ));
        cases.push(python(key, "cpython_queue", true));
    }

    // Manager.
    cases.push(rust(
        "manager",
        "manager_socket",
        Procshare,
        crate::manager::ManagerDict::prepare,
    ));
    cases.push(rust(
        "manager",
        "manager_local",
        Procshare,
        crate::manager::ManagerDict::prepare_local,
    ));
    cases.push(python("manager", "cpython_manager_dict", true));

    crate::peers::register(&mut cases);
    cases
}

/// Register a Rust case (for [`crate::peers`]).
#[cfg_attr(not(feature = "peers"), allow(dead_code))]
pub(crate) fn rust_case(
    workload: &'static str,
    name: &str,
    family: Family,
    prepare: Prepare,
) -> Case {
    rust(workload, name, family, prepare)
}

/// Register a placeholder case (for [`crate::peers`]).
#[cfg_attr(feature = "peers", allow(dead_code))]
pub(crate) fn todo_case(workload: &'static str, name: &str, family: Family, why: &str) -> Case {
    todo(workload, name, family, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_belongs_to_a_workload_and_names_are_unique_per_workload() {
        let cases = cases();
        for (i, c) in cases.iter().enumerate() {
            assert!(
                WORKLOADS.iter().any(|w| w.key == c.workload),
                "{}",
                c.workload
            );
            assert!(
                !cases[i + 1..]
                    .iter()
                    .any(|d| d.workload == c.workload && d.name == c.name),
                "{} / {} twice",
                c.workload,
                c.name
            );
        }
    }

    #[test]
    fn baselines_and_cpython_references_are_cases_of_their_workload() {
        let cases = cases();
        for w in WORKLOADS {
            for reference in [w.baseline, w.cpython].into_iter().flatten() {
                assert!(
                    cases
                        .iter()
                        .any(|c| c.workload == w.key && c.name == reference),
                    "{}: no case `{reference}`",
                    w.key
                );
            }
        }
    }

    #[test]
    fn nolock_is_the_only_non_excluding_strategy() {
        let non: Vec<_> = strategies()
            .into_iter()
            .filter(|s| !s.excluding)
            .map(|s| s.name)
            .collect();
        assert_eq!(non, ["nolock"]);
    }
}
