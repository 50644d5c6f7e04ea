//! The reader-writer scenarios alone (they are also in the whole catalog): the
//! writer-preferring lock passes them, with kills too, and the broken
//! check-then-register lock is caught on every readers-and-writers scenario, in random
//! and PCT modes.

use procshare_harness::scenarios::{rw_catalog, ReaderDeath, RegisterOnlyRwLock};
use procshare_harness::search::{Mode, SearchConfig};
use procshare_sync::WriterPreferringRwLock;

#[test]
fn rw_entries_behave_as_declared() {
    let mut problems = Vec::new();
    let mut entries = rw_catalog::<WriterPreferringRwLock>(false, ReaderDeath::Wedges);
    entries.extend(rw_catalog::<RegisterOnlyRwLock>(true, ReaderDeath::Wedges));
    for entry in entries {
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let config = SearchConfig {
                cases: 64,
                mode,
                shrink: false,
                ..SearchConfig::default()
            };
            let report = entry.search(&config).unwrap();
            eprintln!(
                "{} [{mode}]: {:?}",
                entry.name(),
                report.finding.as_ref().map(|f| &f.report.verdict)
            );
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

use procshare_harness::scenarios::{RwHow, RwScenario};
use procshare_harness::search::search;
use procshare_sync::{LockError, RawRwLock};
use std::mem::MaybeUninit;
use std::time::Duration;

/// Random search kills early (a kill is offered for every actor at every step), so a
/// writer killed inside its hold is rarer than a reader killed (about 1 case in 100 here):
/// 1024 cases.
fn finding<S: procshare_harness::Scenario>(s: &S, mode: Mode) -> Option<String> {
    let config = SearchConfig {
        cases: 1024,
        mode,
        shrink: false,
        ..SearchConfig::default()
    };
    search(s, &config)
        .unwrap()
        .finding
        .map(|f| format!("{:?}", f.report.verdict))
}

/// The kill scenarios reach a reader killed while holding: declaring that the
/// writer-preferring lock recovers dead readers (it does not: it wedges) is refuted.
#[test]
fn a_reader_killed_holding_is_reached_and_wedges() {
    let s = RwScenario::<WriterPreferringRwLock>::new(2, 1, 1, RwHow::Timed)
        .with_kills(1, ReaderDeath::Recovers);
    for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
        let f = finding(&s, mode).expect("a reader killed holding, not recovered");
        assert!(f.contains("the lock was left held"), "{f}");
    }
}

/// A lock that takes a dead writer over silently (no `OwnerDied`): the kill scenarios
/// must notice that a death inside the critical section went unreported.
#[derive(Debug)]
struct SilentTakeover(WriterPreferringRwLock);

fn silent(r: Result<(), LockError>) -> Result<(), LockError> {
    match r {
        Err(LockError::OwnerDied { .. }) => Ok(()),
        r => r,
    }
}

fn silent_try(r: Result<bool, LockError>) -> Result<bool, LockError> {
    match r {
        Err(LockError::OwnerDied { .. }) => Ok(true),
        r => r,
    }
}

// SAFETY: forwards to WriterPreferringRwLock, except that a takeover is not reported
// (the lock is still held, so exclusion holds; only the report is missing).
unsafe impl RawRwLock for SilentTakeover {
    const NAME: &'static str = "rw-silent-takeover";
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(SilentTakeover(WriterPreferringRwLock::new()));
        Ok(())
    }
    fn read(&self) -> Result<(), LockError> {
        silent(self.0.read())
    }
    fn try_read(&self) -> Result<bool, LockError> {
        silent_try(self.0.try_read())
    }
    fn try_read_for(&self, timeout: Duration) -> Result<bool, LockError> {
        silent_try(self.0.try_read_for(timeout))
    }
    unsafe fn unlock_read(&self) -> Result<(), LockError> {
        // SAFETY: forwarded.
        unsafe { self.0.unlock_read() }
    }
    fn write(&self) -> Result<(), LockError> {
        silent(self.0.write())
    }
    fn try_write(&self) -> Result<bool, LockError> {
        silent_try(self.0.try_write())
    }
    fn try_write_for(&self, timeout: Duration) -> Result<bool, LockError> {
        silent_try(self.0.try_write_for(timeout))
    }
    unsafe fn unlock_write(&self) -> Result<(), LockError> {
        // SAFETY: forwarded.
        unsafe { self.0.unlock_write() }
    }
}

#[test]
fn a_writer_killed_holding_is_reached_and_must_be_reported() {
    let s =
        RwScenario::<SilentTakeover>::new(1, 2, 1, RwHow::Timed).with_kills(1, ReaderDeath::Wedges);
    for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
        let f = finding(&s, mode).unwrap_or_else(|| panic!("[{mode}] no silent takeover found"));
        assert!(
            f.contains("OwnerDied reports for") || f.contains("torn value"),
            "{f}"
        );
    }
}

/// The SeqLock entries of the sync catalog (also in the whole catalog), here on their
/// own: green under random and PCT, with a writer killed too.
#[test]
fn seqlock_entries_pass() {
    use procshare_harness::scenarios::SeqScenario;
    for s in [
        SeqScenario::new(2, 1, 2),
        SeqScenario::new(1, 2, 2),
        SeqScenario::new(2, 1, 2).with_kills(1),
    ] {
        for mode in [Mode::Random, Mode::Pct { depth: 3 }] {
            let config = SearchConfig {
                cases: 64,
                mode,
                shrink: false,
                ..SearchConfig::default()
            };
            let report = search(&s, &config).unwrap();
            assert!(
                report.finding.is_none(),
                "{} [{mode}]: {:?}",
                procshare_harness::Scenario::name(&s),
                report.finding.map(|f| f.report.verdict)
            );
        }
    }
}
