//! The violation page ([`render_html`]) opened in a real browser: headless Chromium loads
//! the page, runs its script and dumps the resulting DOM, in which the test finds one lane
//! per client, the operations of the longest linearizable prefix numbered in order, and
//! the unplaceable operation highlighted. A screenshot is taken too and must be a PNG.
//!
//! Chromium comes from the system packages (`apt-get install chromium`; `.ci/run`
//! installs it when it can). Without it the test cannot run; it then says so on the
//! terminal, bypassing libtest's output capture so the skip is visible in every run,
//! and passes. Set `PROCSHARE_CHROMIUM` to a browser binary to use another one, or
//! `PROCSHARE_REQUIRE_CHROMIUM=1` to make a missing browser a failure.

use procshare_harness::lin::{check, render_html, History, Operation, Register};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The browser binary, if one is installed.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROCSHARE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Writes straight to the process's stderr: libtest captures `print!`/`eprint!`, not
/// this, so the message shows even for a passing test.
fn shout(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Runs the browser headless on `page` with `extra` arguments, giving up after a minute;
/// returns its stdout.
fn run_browser(browser: &Path, page: &Path, profile: &Path, extra: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,520",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the browser");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
    });
    // A thread blocks in `wait`; this one waits for its answer at most a minute, and
    // kills the browser (by pid: the thread owns the handle) if none comes.
    let pid = child.id();
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    match exited.recv_timeout(Duration::from_secs(60)) {
        Ok(status) => {
            let status = status.expect("wait for the browser");
            assert!(status.success(), "browser failed: {status}");
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("the browser did not finish within a minute");
        }
    }
    reader
        .join()
        .expect("reader thread")
        .expect("browser output")
}

/// `write(1)` runs long; client 1 reads the new value, then client 2 the old one: the
/// longest linearizable prefix is write, read → 1, and read → 0 cannot be placed. A cas
/// of unknown outcome and a write that never returned are drawn too.
fn history() -> History {
    History::from(vec![
        Operation::completed(0, "write", json!(1), 0, 9, json!(null)),
        Operation::completed(1, "read", json!(null), 1, 3, json!(1)),
        Operation::completed(2, "read", json!(null), 4, 6, json!(0)),
        Operation::info(3, "cas", json!([0, 5]), 2, 7),
        Operation::indeterminate(4, "write", json!(7), 5),
    ])
}

#[test]
fn violation_page_renders_in_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var_os("PROCSHARE_REQUIRE_CHROMIUM").is_some() {
            panic!("PROCSHARE_REQUIRE_CHROMIUM is set and no chromium was found");
        }
        shout(
            "\n*** SKIPPED lin_html::violation_page_renders_in_chromium: no chromium found \
             (install it with `apt-get install chromium`, or set PROCSHARE_CHROMIUM) ***\n",
        );
        return;
    };
    let model = Register::default();
    let outcome = check(&model, &history()).unwrap();
    let violation = outcome.violation().expect("illegal").clone();
    // Draw the whole partition (not only the 3-operation witness): every kind of bar.
    let violation = procshare_harness::lin::Violation {
        minimal: violation.partition.clone(),
        minimized: false,
        ..violation
    };
    let page = render_html(&model, &violation, "new-then-old").unwrap();

    let dir = std::env::temp_dir().join(format!("procshare-lin-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("violation.html");
    std::fs::write(&file, &page).unwrap();

    let dom = run_browser(
        &browser,
        &file,
        &dir.join("profile-dom"),
        &["--dump-dom".into()],
    );
    // The script ran to its end ...
    assert!(
        dom.contains("data-rendered=\"true\""),
        "script did not run:\n{dom}"
    );
    // ... and drew one lane per client, in order,
    for client in 0..5 {
        assert!(
            dom.contains(&format!("<g class=\"lane\" data-client=\"{client}\">")),
            "lane {client} missing:\n{dom}"
        );
    }
    assert_eq!(dom.matches("<g class=\"lane\"").count(), 5);
    // the prefix, numbered in linearization order,
    assert!(
        dom.contains("<g class=\"op linearized\" data-op=\"0\">"),
        "{dom}"
    );
    assert!(
        dom.contains("<g class=\"op linearized\" data-op=\"1\">"),
        "{dom}"
    );
    assert!(dom.contains(">write(1) → ok</text>") && dom.contains(">read → 1</text>"));
    // and exactly one highlighted operation: the stale read.
    assert_eq!(dom.matches("class=\"op unplaceable\"").count(), 1, "{dom}");
    assert!(
        dom.contains("<g class=\"op unplaceable\" data-op=\"2\">"),
        "{dom}"
    );
    assert!(
        dom.contains("cannot be placed after the prefix"),
        "no hover text:\n{dom}"
    );
    assert!(dom.contains("The longest linearizable prefix has 2 operations"));

    let png = dir.join("violation.png");
    let _ = std::fs::remove_file(&png);
    run_browser(
        &browser,
        &file,
        &dir.join("profile-shot"),
        &[format!("--screenshot={}", png.display())],
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 10_000, "suspiciously small screenshot");
    shout(&format!(
        "lin_html: rendered with {}; screenshot {}",
        browser.display(),
        png.display()
    ));
}
