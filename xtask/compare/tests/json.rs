//! The committed full report's raw data reads back: `docs/results/compare.json` parses
//! into a `Report`, its cells are consistent with their repetitions, the Markdown page
//! beside it is what the JSON renders to, and no excluding case lost an update.

use procshare_compare::model::{lost_update_violations, median, Report, Status};
use procshare_compare::{report, workspace_root};

fn committed() -> (Report, String) {
    let dir = workspace_root().join("docs").join("results");
    let json =
        std::fs::read_to_string(dir.join("compare.json")).expect("docs/results/compare.json");
    let page = std::fs::read_to_string(dir.join("compare.md")).expect("docs/results/compare.md");
    (
        serde_json::from_str(&json).expect("compare.json is a Report"),
        page,
    )
}

#[test]
fn the_committed_report_reads_back() {
    let (r, _) = committed();
    assert!(!r.quick, "docs/results holds a full run, not a --quick one");
    assert!(r.repetitions >= 5);
    assert!(r.machine.cpus >= 1);
    assert!(!r.cells.is_empty());
    for c in &r.cells {
        if c.status == Status::Measured {
            assert_eq!(
                c.throughput.len(),
                r.repetitions,
                "{} / {}",
                c.workload,
                c.case
            );
            assert_eq!(
                c.median,
                median(&c.throughput),
                "{} / {}",
                c.workload,
                c.case
            );
            assert!(c.min <= c.median && c.median <= c.max);
            assert_eq!(c.oversubscribed, c.procs > r.machine.cpus);
        }
    }
    assert!(lost_update_violations(&r.cells).is_empty());
}

#[test]
fn the_committed_page_is_the_rendering_of_the_json() {
    let (r, page) = committed();
    assert_eq!(report::markdown(&r), page);
}
