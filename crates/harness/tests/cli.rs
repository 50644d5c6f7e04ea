//! The `procshare-harness` binary refuses what it does not understand: an unknown option
//! or subcommand is a usage error with exit status 2 and a message naming it, not a
//! silently ignored flag.

use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_procshare-harness"))
        .args(args)
        .env("CI", "true")
        .output()
        .expect("run procshare-harness")
}

#[test]
fn an_unknown_option_is_a_usage_error() {
    let out = harness(&["catalog", "--cases", "1", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--frobnicate"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing ran: {out:?}");
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let out = harness(&["catalogue"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("catalogue"));
}

#[test]
fn a_known_command_still_runs() {
    let out = harness(&["list"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("lost-update-2x1/futex  (bug demonstration)"),
        "{stdout}"
    );
}

/// Run with stderr piped, with and without `CI`: either way no progress bar may reach it.
/// (The command must have run: exit status 0, or 1 for a catalog with failed rows.)
fn quiet_stderr(args: &[&str]) {
    for ci in [true, false] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_procshare-harness"));
        command.args(args);
        if ci {
            command.env("CI", "true");
        } else {
            command.env_remove("CI");
        }
        let out = command.output().expect("run procshare-harness");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
        assert!(
            out.stderr.is_empty(),
            "CI={ci}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn stress_draws_no_progress_into_a_pipe_or_ci() {
    quiet_stderr(&["stress", "counter", "--runs", "50", "--increments", "2"]);
}

#[test]
fn catalog_draws_no_progress_into_a_pipe_or_ci() {
    // One case per search: some demonstrations go unfound (exit status 1), which is
    // beside the point here.
    quiet_stderr(&["catalog", "--cases", "1"]);
}

/// `--html` draws a finding's timeline: `catalog --html DIR` one page per mode in which a
/// linearizability violation was found, `replay --html FILE` the page of that one case.
#[test]
fn html_timelines_of_a_linearizability_finding() {
    let dir = std::env::temp_dir().join(format!("procshare-cli-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let name = "managed-dict-2/stale-reads";
    let out = harness(&[
        "catalog",
        "--cases",
        "64",
        "--only",
        name,
        "--html",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("catalog: 2 passed, 0 failed"), "{stdout}");
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .expect("the directory was created")
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 2, "one page per mode: {pages:?}");
    for page in &pages {
        assert!(
            stdout.contains(&format!("timeline: {}", page.display())),
            "{stdout}"
        );
        let html = std::fs::read_to_string(page).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains(name));
        assert_eq!(html.matches("\"blocked\":true").count(), 1);
    }
    // Replay the random mode's finding by its token, drawing into one file.
    let token = stdout
        .lines()
        .find(|l| l.contains(name) && l.contains("random"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("ps1.")))
        .unwrap_or_else(|| panic!("no token in {stdout}"))
        .to_string();
    let file = dir.join("replay.html");
    let out = harness(&["replay", name, &token, "--html", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("timeline: {}", file.display())),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&file).expect("replay drew the page");
    assert_eq!(html.matches("\"blocked\":true").count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn catalog_only_refuses_a_filter_that_matches_nothing() {
    let out = harness(&["catalog", "--only", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-scenario"));
}
