//! The queue scenarios alone (they are also in the whole catalog): procshare's ring
//! passes them, the broken `PeekQueue` is caught on the two-consumer ones, and the ring's
//! documented non-linearizability (empty answers kept) is found, in random and PCT modes.

use procshare_harness::scenarios::{queue_catalog, PeekQueue, QueueScenario};
use procshare_harness::search::{search, Mode, SearchConfig};
use procshare_queue::ByteRing;

fn config(mode: Mode) -> SearchConfig {
    SearchConfig {
        cases: 64,
        mode,
        shrink: false,
        ..SearchConfig::default()
    }
}

#[test]
fn queue_entries_behave_as_declared() {
    let mut problems = Vec::new();
    let mut entries = queue_catalog::<ByteRing>(false);
    entries.extend(queue_catalog::<PeekQueue>(true));
    for entry in entries {
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let report = entry.search(&config(mode)).unwrap();
            if report.finding.is_some() != entry.expects_failure() {
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

#[test]
fn the_ring_is_not_linearizable_with_empty_answers() {
    let strict = QueueScenario::<ByteRing>::new(2, 1, 1, 2).strict();
    for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
        let report = search(&strict, &config(mode)).unwrap();
        let finding = report
            .finding
            .unwrap_or_else(|| panic!("[{mode}] no non-linearizable history found"));
        let text = format!("{:?}", finding.report.verdict);
        assert!(text.contains("not linearizable as a FIFO queue"), "{text}");
    }
}
