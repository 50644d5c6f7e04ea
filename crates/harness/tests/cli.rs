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
