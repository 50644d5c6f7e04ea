//! The whole scenario catalog: correct scenarios pass bounded random and PCT searches;
//! the bug demonstrations (lost update, per-element transfer, `NoLock`) are found by
//! both.

use procshare_harness::scenarios::catalog;
use procshare_harness::search::{Mode, SearchConfig};

#[test]
fn every_catalog_entry_behaves_as_declared() {
    let mut problems = Vec::new();
    for entry in catalog() {
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let config = SearchConfig {
                cases: 64,
                mode,
                shrink: false,
                ..SearchConfig::default()
            };
            let report = entry.search(&config).unwrap();
            let found = report.finding.is_some();
            // A correct scenario must pass in every mode; a bug demonstration must be
            // found in every mode, PCT included.
            let wrong = found != entry.expects_failure();
            if wrong {
                problems.push(format!(
                    "{} [{mode}]: expected failure = {}, got {:?}",
                    entry.name(),
                    entry.expects_failure(),
                    report.finding.map(|f| f.report.verdict)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
