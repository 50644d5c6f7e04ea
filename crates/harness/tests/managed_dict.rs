//! The managed-dict scenarios on their own (the whole catalog runs them too): the
//! correct ones pass random and PCT searches, the stale-read control is found by both,
//! and every case (kills and failing controls included) replays identically.

use procshare_harness::scenarios::catalog;
use procshare_harness::search::{Mode, SearchConfig};
use procshare_harness::{render_trace, MAX_ACTORS};

#[test]
fn managed_dict_histories_are_linearizable_and_stale_reads_are_found() {
    let entries: Vec<_> = catalog()
        .into_iter()
        .filter(|e| e.name().starts_with("managed-dict"))
        .collect();
    assert_eq!(entries.len(), 5);
    let mut problems = Vec::new();
    for entry in &entries {
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let config = SearchConfig {
                cases: 64,
                mode,
                shrink: false,
                ..SearchConfig::default()
            };
            let report = entry.search(&config).unwrap();
            if report.finding.is_some() != entry.expects_failure() {
                problems.push(format!(
                    "{} [{mode}]: expected failure = {}, got {:?}",
                    entry.name(),
                    entry.expects_failure(),
                    report.finding.map(|f| (f.report.verdict, f.token))
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn managed_dict_cases_replay_identically_kills_and_failures_included() {
    let mut saw_kill = false;
    let mut saw_failure = false;
    for entry in catalog()
        .into_iter()
        .filter(|e| e.name().starts_with("managed-dict"))
    {
        // Six seeds each; the failing control goes on (up to 64) until a case of it has
        // failed, so that a failing case's replay is checked too.
        let seeds = if entry.expects_failure() { 64 } else { 6 };
        let mut failed_here = false;
        for seed in 0..seeds {
            if seed >= 6 && (failed_here || !entry.expects_failure()) {
                break;
            }
            let (first, replays) = entry.replays(0xd1c7 + seed, 5).unwrap();
            saw_kill |= !first.killed.is_empty();
            failed_here |= first.verdict.to_string() != "pass";
            saw_failure |= failed_here;
            let print = |r: &procshare_harness::CaseReport| {
                format!(
                    "{}\n{:?}\n{:?}\n{}",
                    render_trace(&r.trace, MAX_ACTORS),
                    r.history,
                    r.killed,
                    r.verdict
                )
            };
            let want = print(&first);
            for r in &replays {
                assert_eq!(print(r), want, "{}", entry.name());
            }
        }
    }
    assert!(saw_kill, "no case killed an actor");
    assert!(saw_failure, "no case of the stale-read control failed");
}
