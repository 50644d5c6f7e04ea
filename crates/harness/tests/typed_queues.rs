//! The typed queues in the harness: `Queue<u64>` and `JoinableQueue<u64>` pass their
//! catalog entries (task_done and join included, with a kill), and `JoinableScenario`'s
//! property has teeth: a join that returns before the tasks are done, and a task_done
//! that counts nothing, are both caught.

use procshare_harness::scenarios::{
    typed_queue_catalog, HarnessJoinable, HarnessQueue, JoinableScenario,
};
use procshare_harness::search::{search, Mode, SearchConfig};
use procshare_queue::JoinableQueue;
use std::time::Duration;

#[test]
fn the_typed_queue_entries_pass() {
    for entry in typed_queue_catalog() {
        assert!(!entry.expects_failure());
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let report = entry
                .search(&SearchConfig {
                    cases: 64,
                    mode,
                    shrink: false,
                    ..SearchConfig::default()
                })
                .unwrap();
            assert!(
                report.finding.is_none(),
                "{} [{mode}]: {:?}",
                entry.name(),
                report.finding.map(|f| f.report.verdict)
            );
        }
    }
}

/// How a [`Broken`] joinable queue is broken.
trait Fault: Sync + 'static {
    const NAME: &'static str;
    const EAGER_JOIN: bool;
}

struct EagerJoin;
impl Fault for EagerJoin {
    const NAME: &'static str = "eager-join";
    const EAGER_JOIN: bool = true;
}

struct NoTaskDone;
impl Fault for NoTaskDone {
    const NAME: &'static str = "no-task-done";
    const EAGER_JOIN: bool = false;
}

/// `JoinableQueue<u64>` with one fault: `join` that returns true at once, or a
/// `task_done` that does nothing (while the janitor's drain still counts down).
struct Broken<F>(JoinableQueue<u64>, std::marker::PhantomData<F>);

impl<F: Fault> HarnessQueue for Broken<F> {
    const NAME: &'static str = F::NAME;
    fn create(capacity: usize) -> Result<Self, String> {
        HarnessQueue::create(capacity).map(|q| Broken(q, std::marker::PhantomData))
    }
    fn put(&self, item: u64) -> Result<(), String> {
        HarnessQueue::put(&self.0, item)
    }
    fn get_timeout(&self, timeout: Duration) -> Result<Option<u64>, String> {
        HarnessQueue::get_timeout(&self.0, timeout)
    }
    fn try_get(&self) -> Result<Option<u64>, String> {
        HarnessQueue::try_get(&self.0)
    }
    fn reset(&self) {
        HarnessQueue::reset(&self.0)
    }
}

impl<F: Fault> HarnessJoinable for Broken<F> {
    fn task_done(&self) -> Result<(), String> {
        if F::EAGER_JOIN {
            HarnessJoinable::task_done(&self.0)
        } else {
            Ok(())
        }
    }
    fn join_timeout(&self, timeout: Duration) -> Result<bool, String> {
        if F::EAGER_JOIN {
            Ok(true)
        } else {
            HarnessJoinable::join_timeout(&self.0, timeout)
        }
    }
    fn unfinished(&self) -> u64 {
        self.0.unfinished_tasks()
    }
}

fn finds<F: Fault>(needle: &str) {
    let scenario = JoinableScenario::<Broken<F>>::new(1, 2, 2, 1);
    let report = search(
        &scenario,
        &SearchConfig {
            cases: 64,
            mode: Mode::Random,
            shrink: false,
            ..SearchConfig::default()
        },
    )
    .unwrap();
    let finding = report.finding.expect("the broken queue must be caught");
    let verdict = finding.report.verdict.to_string();
    assert!(verdict.contains(needle), "{verdict}");
}

#[test]
fn a_join_that_returns_early_is_caught() {
    finds::<EagerJoin>("join returned true");
}

#[test]
fn a_task_done_that_counts_nothing_is_caught() {
    finds::<NoTaskDone>("tasks left unfinished");
}
