//! HTML timelines of the catalog's linearizability findings.
//!
//! The scenarios whose property is a linearizability check (the locked counter, the
//! managed dict, the queues) report a violation as text: the minimal failing
//! sub-history as a table. When a timeline file is set ([`set_timeline_output`]), they
//! also draw that sub-history as a self-contained HTML page
//! ([`crate::lin::render_html`]: one lane per actor, each operation a bar, the
//! linearizable prefix marked, the operation that cannot be placed highlighted) and name
//! the file in the message. `procshare-harness replay … --html FILE` and
//! `catalog --html DIR` set it and re-run a finding's schedule once, so the page shows
//! exactly the case the replay token names.
//!
//! The property runs in the runner's janitor process, which is forked from the process
//! that set the file: the setting is a leaked, atomically published pointer (no lock that
//! a fork could catch held), read there.
//!
//! Tested by `tests/timeline.rs` (a stale-read finding's page has the lanes and the
//! highlighted operation; a passing case writes nothing) and the binary's `--html` tests
//! in `tests/cli.rs`.

use crate::lin::{self, Model, Violation};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};

static OUTPUT: AtomicPtr<PathBuf> = AtomicPtr::new(std::ptr::null_mut());

/// Draw every linearizability violation that a scenario's property finds from now on
/// into `path` (each one replaces the last), or stop drawing with `None`. Set it before
/// creating the runner (its janitor process, which checks the property, is forked
/// later and inherits it).
pub fn set_timeline_output(path: Option<PathBuf>) {
    let new = path.map_or(std::ptr::null_mut(), |p| Box::into_raw(Box::new(p)));
    // The old path is leaked on purpose: another thread may still be reading it.
    OUTPUT.store(new, Ordering::Release);
}

/// The file set by [`set_timeline_output`], if any.
pub fn timeline_output() -> Option<PathBuf> {
    let p = OUTPUT.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: only `set_timeline_output` stores non-null pointers, each from
    // `Box::into_raw` of a box that is never freed; the Acquire load pairs with its
    // Release store, so the path's contents are visible.
    Some(unsafe { (*p).clone() })
}

/// The failure message of a property that found `violation` of `model` (`what`: "a
/// counter", "a map", …), with the minimal witness as a table; and, if a timeline file
/// is set, the page drawn into it (titled `scenario`) and named in the message.
pub(crate) fn not_linearizable<M: Model>(
    model: &M,
    violation: &Violation,
    what: &str,
    scenario: &str,
) -> String {
    let mut message = format!(
        "not linearizable as {what}; minimal witness:\n{}",
        lin::render_table(&violation.minimal)
    );
    if let Some(path) = timeline_output() {
        match write_page(model, violation, scenario, &path) {
            Ok(()) => message.push_str(&format!("\ntimeline: {}", path.display())),
            Err(e) => message.push_str(&format!("\ntimeline not written: {e}")),
        }
    }
    message
}

fn write_page<M: Model>(
    model: &M,
    violation: &Violation,
    scenario: &str,
    path: &Path,
) -> Result<(), String> {
    let page = lin::render_html(model, violation, scenario).map_err(|e| e.to_string())?;
    std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))
}
