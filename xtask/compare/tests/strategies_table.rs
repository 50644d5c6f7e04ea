//! `docs/strategies.md`'s table is generated from a comparison's JSON: the generator
//! reads a committed `compare.json` fixture (the counter and read-mostly cells of a
//! `--quick` run) and renders one row per strategy with the numbers the cells hold; the
//! committed document carries the generated section between its markers.

use procshare_compare::model::Report;
use procshare_compare::strategies::{section, splice, BEGIN, END};
use procshare_compare::workspace_root;

fn fixture() -> (Report, serde_json::Value) {
    let path = workspace_root().join("xtask/compare/tests/fixtures/strategies-compare.json");
    let text = std::fs::read_to_string(&path).expect("the fixture");
    (
        serde_json::from_str(&text).expect("the fixture is a Report"),
        serde_json::from_str(&text).expect("the fixture is JSON"),
    )
}

/// The median of one cell, read from the raw JSON (not through the generator).
fn median(json: &serde_json::Value, workload: &str, case: &str, procs: u64) -> f64 {
    json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"] == workload && c["case"] == case && c["procs"] == procs)
        .unwrap_or_else(|| panic!("{workload}/{case}/{procs} in the fixture"))["median"]
        .as_f64()
        .unwrap()
}

/// Column `i` (0-based) of a Markdown table row, trimmed.
fn field(row: &str, i: usize) -> &str {
    row.split('|').nth(i + 1).expect("a column").trim()
}

fn row<'a>(table: &'a str, case: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(&format!("| `{case}`")))
        .unwrap_or_else(|| panic!("no row for {case} in\n{table}"))
}

#[test]
fn the_fixture_renders_one_row_per_strategy_with_its_numbers() {
    let (report, json) = fixture();
    let table = section(&report);
    assert!(table.contains("a `--quick` run"), "says which run: {table}");
    assert!(table.contains(&report.date), "{table}");
    for case in [
        "value<futex>",
        "value<spin>",
        "value<ticket>",
        "value<pthread>",
        "value<mcs>",
        "value<clh>",
        "value<adaptive>",
        "value<peterson>",
        "value<bakery>",
        "value<nolock>",
        "rwvalue<rw-writer-preferring>",
        "seqlock",
    ] {
        row(&table, case);
    }
    // Time per operation uncontended is 1 / throughput at 1 process.
    let ns = 1e9 / median(&json, "counter", "value<futex>", 1);
    assert_eq!(field(row(&table, "value<futex>"), 2), format!("{ns:.1}"));
    // × futex at 2 processes: the time against FutexMutex's on the same workload.
    let x =
        median(&json, "rw_read90", "value<futex>", 2) / median(&json, "rw_read90", "seqlock", 2);
    assert_eq!(field(row(&table, "seqlock"), 4), format!("{x:.2}×"));
    assert_eq!(field(row(&table, "seqlock"), 1), "read-mostly");
    // The control's losses are shown, the excluding strategies' zero.
    assert_ne!(field(row(&table, "value<nolock>"), 8), "0");
    assert_eq!(field(row(&table, "value<mcs>"), 8), "0");
    // The owner-death column.
    assert!(row(&table, "value<ticket>").contains("not detected"));
    assert!(row(&table, "value<adaptive>").contains("`OwnerDied`"));
}

#[test]
fn the_committed_document_holds_a_generated_section() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/strategies.md")).unwrap();
    let start = doc.find(BEGIN).expect("BEGIN marker");
    let end = doc.find(END).expect("END marker");
    assert!(start < end);
    let generated = &doc[start + BEGIN.len()..end];
    assert!(generated
        .trim_start()
        .starts_with("Generated from the comparison of"));
    // Re-splicing the committed section leaves the document unchanged.
    assert_eq!(splice(&doc, generated.trim()).unwrap(), doc);
}
