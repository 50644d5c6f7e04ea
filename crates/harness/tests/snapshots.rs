//! Snapshots of the harness's output for the canonical findings: the shrunk interleaving
//! of the lost update (`store(load() + 1)` under `FutexMutex`) and of the `NoLock`
//! counter, rendered as per-actor tables. Searches are seeded, so these are exact; a
//! change to the scheduler, the shrinker or a primitive's schedule points shows up here.

use procshare_harness::scenarios::{Increment, LockedCounter};
use procshare_harness::search::{search, SearchConfig};
use procshare_harness::{render_trace_with, Scenario};
use procshare_sync::{FutexMutex, NoLock};

fn shrunk_table<S: Scenario>(s: &S) -> String {
    let report = search(s, &SearchConfig::default()).unwrap();
    let f = report.finding.expect("a finding");
    format!(
        "scenario: {}\nverdict: {}\ntoken: {}\n\n{}",
        s.name(),
        f.report.verdict,
        f.token,
        render_trace_with(&f.report.trace, s.actors(), &|op| s.op_name(op))
    )
}

#[test]
fn lost_update_minimal_interleaving() {
    let s = LockedCounter::<FutexMutex>::new(2, 1, Increment::LoadThenStore);
    insta::assert_snapshot!(shrunk_table(&s));
}

#[test]
fn nolock_counter_minimal_interleaving() {
    let s = LockedCounter::<NoLock>::new(2, 1, Increment::Locked);
    insta::assert_snapshot!(shrunk_table(&s));
}
