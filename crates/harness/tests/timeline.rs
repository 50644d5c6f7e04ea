//! The catalog draws its linearizability findings: replaying a finding's schedule with a
//! timeline file set writes a self-contained HTML page of the minimal failing
//! sub-history and names it in the verdict; a passing case draws nothing.

use procshare_harness::scenarios::{catalog, CatalogEntry};
use procshare_harness::search::{Mode, SearchConfig};
use procshare_harness::timeline::{set_timeline_output, timeline_output};
use std::path::PathBuf;
use std::sync::Mutex;

/// The timeline file is process-wide: the tests of this file take turns.
static TURN: Mutex<()> = Mutex::new(());

fn entry(name: &str) -> Box<dyn CatalogEntry> {
    catalog()
        .into_iter()
        .find(|e| e.name() == name)
        .unwrap_or_else(|| panic!("no catalog entry {name}"))
}

fn temp_file(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "procshare-timeline-{}-{tag}.html",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_stale_read_finding_draws_its_timeline() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let name = "managed-dict-2/stale-reads";
    let e = entry(name);
    assert!(e.expects_failure(), "the stale-read control must fail");
    let report = e
        .search(&SearchConfig {
            cases: 64,
            seed: 7,
            mode: Mode::Random,
            shrink: true,
            ..SearchConfig::default()
        })
        .expect("search");
    let finding = report.finding.expect("the stale read is found");
    let file = temp_file("stale");
    set_timeline_output(Some(file.clone()));
    assert_eq!(timeline_output(), Some(file.clone()));
    let replayed = e.replay(finding.schedule.clone());
    set_timeline_output(None);
    let (case, _) = replayed.expect("replay");
    let verdict = case.verdict.to_string();
    assert!(case.verdict.is_failure(), "{verdict}");
    assert!(
        verdict.contains(&format!("timeline: {}", file.display())),
        "the verdict names the page: {verdict}"
    );
    let page = std::fs::read_to_string(&file).expect("the page was written");
    let _ = std::fs::remove_file(&file);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(name), "titled with the scenario");
    assert_eq!(
        page.matches("\"blocked\":true").count(),
        1,
        "exactly one operation cannot be placed"
    );
    assert!(page.contains("cannot be placed"));
    assert!(
        !page.contains("src=") && !page.contains("href="),
        "self-contained"
    );
}

#[test]
fn a_passing_case_draws_nothing() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let e = entry("managed-dict-2");
    assert!(!e.expects_failure());
    let file = temp_file("pass");
    set_timeline_output(Some(file.clone()));
    let replayed = e.replay(vec![0; 8]);
    set_timeline_output(None);
    let (case, _) = replayed.expect("replay");
    assert!(!case.verdict.is_failure(), "{}", case.verdict);
    assert!(!file.exists(), "a linearizable history drew a page");
}
