//! Snapshots of every ready tutorial's complete output, of the `list` table, and of the
//! `procshare-tutorial` binary's output (`run --all`, the error cases).
//!
//! Each snapshot's description says what was fixed to make the output the same on every
//! run, and how (from the registry's `deterministic_by`). On CI (`CI=true`) insta fails on
//! a missing or changed snapshot. Every test in this package is a snapshot test, so the
//! `tutorials` stage of `cargo xtask verify` counts snapshots.
//!
//! The free-running race variants vary from run to run: their snapshots redact the two
//! numbers, and the tests assert what must hold of them (nothing gained; nothing lost
//! under the lock).

use procshare_tutorials::{find, list, RunFn, Status, ALL};
use std::collections::BTreeSet;
use std::process::Command;

/// The output of the ready tutorial `name`.
fn output_of(name: &str) -> String {
    let t = find(name).unwrap_or_else(|| panic!("no tutorial named {name}"));
    let Status::Ready(run) = t.status else {
        panic!("{name} is pending")
    };
    captured(name, run)
}

/// What `run` writes, as text.
fn captured(name: &str, run: RunFn) -> String {
    let mut out = Vec::new();
    if let Err(e) = run(&mut out) {
        panic!(
            "{name} failed: {e}\noutput so far:\n{}",
            String::from_utf8_lossy(&out)
        );
    }
    String::from_utf8(out).expect("tutorial output is UTF-8")
}

/// One test per ready tutorial: the snapshot is named after the tutorial.
macro_rules! tutorial_snapshots {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                let t = find($name).expect("registered");
                insta::with_settings!({
                    description => t.deterministic_by,
                    omit_expression => true,
                    prepend_module_to_snapshot => false,
                }, {
                    insta::assert_snapshot!($name, output_of($name));
                });
            }
        )*

        /// The tutorials snapshotted above.
        const SNAPSHOTTED: &[&str] = &[$($name),*];
    };
}

tutorial_snapshots! {
    seed000_counter => "seed000-counter",
    seed000_queue_workers => "seed000-queue-workers",
    seed001_string_value => "seed001-string-value",
    seed002_global_list => "seed002-global-list",
    seed002_array => "seed002-array",
    seed002_value => "seed002-value",
    seed002_queue => "seed002-queue",
    seed002_manager_dict => "seed002-manager-dict",
    seed003_add_subtract => "seed003-add-subtract",
    seed003_thread_queue => "seed003-thread-queue",
    seed004_global_list => "seed004-global-list",
    seed004_array_value => "seed004-array-value",
    seed004_manager_list => "seed004-manager-list",
    seed004_queue => "seed004-queue",
    seed004_pipe => "seed004-pipe",
    race_nolock => "race-nolock",
    race_load_store => "race-load-store",
    race_locked => "race-locked",
}

/// Snapshots that are not a tutorial's output.
const OTHER_SNAPSHOTS: &[&str] = &[
    "list",
    "cli-run-all",
    "cli-errors",
    "free-race-nolock",
    "free-race-load-store",
    "free-race-locked",
];

/// The `list` table, after checking that the tests above cover exactly the ready
/// tutorials and that no snapshot file is left over from a renamed or removed test.
#[test]
fn list_table() {
    let ready: BTreeSet<&str> = ALL
        .iter()
        .filter(|t| t.is_ready())
        .map(|t| t.name)
        .collect();
    let tested: BTreeSet<&str> = SNAPSHOTTED.iter().copied().collect();
    assert_eq!(ready, tested, "every ready tutorial needs a snapshot test");

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("tests/snapshots exists")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|f| f.ends_with(".snap"))
        .collect();
    let expected: BTreeSet<String> = SNAPSHOTTED
        .iter()
        .chain(OTHER_SNAPSHOTS)
        .map(|name| format!("{name}.snap"))
        .collect();
    // A fresh checkout has every file; while snapshots are first written, some are missing.
    let stray: Vec<&String> = files.difference(&expected).collect();
    assert!(stray.is_empty(), "snapshot files without a test: {stray:?}");

    let mut out = Vec::new();
    list(&mut out).expect("write to a Vec");
    insta::with_settings!({
        description => "The registry's table, in registry order: nothing varies.",
        omit_expression => true,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("list", String::from_utf8(out).expect("UTF-8"));
    });
}

/// Run the `procshare-tutorial` binary.
fn binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_procshare-tutorial"))
        .args(args)
        .output()
        .expect("run procshare-tutorial")
}

/// `run --all` through the binary: every ready tutorial under its header, every pending
/// one named with its reason, exit status 0.
#[test]
fn cli_run_all() {
    let done = binary(&["run", "--all"]);
    assert!(
        done.status.success(),
        "run --all failed: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    insta::with_settings!({
        description => "Each tutorial made deterministic as its own snapshot says; they \
                        run one after another in registry order.",
        omit_expression => true,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("cli-run-all", String::from_utf8(done.stdout).expect("UTF-8"));
    });
}

/// The binary's answers to a pending tutorial, an unknown name and a bad command line:
/// exit status and stderr.
#[test]
fn cli_errors() {
    let mut report = String::new();
    for args in [&["run", "no-such-tutorial"][..], &["run"], &["frobnicate"]] {
        let done = binary(args);
        assert!(done.stdout.is_empty(), "{args:?} wrote to stdout");
        report += &format!(
            "$ procshare-tutorial {}\nexit status: {}\n{}\n",
            args.join(" "),
            done.status.code().expect("exited"),
            String::from_utf8_lossy(&done.stderr).trim_end()
        );
    }
    insta::with_settings!({
        description => "Fixed messages; nothing varies.",
        omit_expression => true,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("cli-errors", report);
    });
}

/// The numbers of a free-running line: `(expected, got, lost)`, and the line with them
/// redacted.
fn parse_free(line: &str) -> ((u64, u64, u64), String) {
    let number_after = |key: &str| -> u64 {
        let at = line
            .find(key)
            .unwrap_or_else(|| panic!("no `{key}` in {line:?}"))
            + key.len();
        let digits: String = line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("no number after `{key}` in {line:?}"))
    };
    let (expected, got) = (number_after("expected "), number_after("got "));
    let lost = number_after(&format!("got {got} ("));
    let redacted = line
        .replacen(&format!("got {got}"), "got [got]", 1)
        .replacen(&format!("({lost} lost"), "([lost] lost", 1);
    ((expected, got, lost), redacted)
}

/// Run the free-running variant of `name`, check its numbers with `check`, and snapshot
/// the line with the numbers redacted.
fn free_variant(name: &str, check: impl FnOnce(u64, u64, u64)) {
    let t = find(name).expect("registered");
    let free = t
        .free
        .expect("a race demonstration has a free-running variant");
    let output = captured(name, free);
    let line = output.trim_end();
    assert!(!line.contains('\n'), "one line expected: {output:?}");
    let ((expected, got, lost), redacted) = parse_free(line);
    assert_eq!(expected, got + lost, "{line}");
    check(expected, got, lost);
    insta::with_settings!({
        description => "Free-running: no scheduler, so the count varies from run to run and \
                        is redacted; the test asserts got + lost == expected.",
        omit_expression => true,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(format!("free-{name}"), redacted);
    });
}

#[test]
fn free_race_nolock() {
    free_variant("race-nolock", |_, got, _| assert!(got >= 1));
}

#[test]
fn free_race_load_store() {
    free_variant("race-load-store", |_, got, _| assert!(got >= 1));
}

#[test]
fn free_race_locked() {
    free_variant("race-locked", |expected, got, lost| {
        assert_eq!(
            (got, lost),
            (expected, 0),
            "the locked counter lost updates"
        );
    });
}
