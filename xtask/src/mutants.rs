//! `cargo xtask mutants`: how much of the protocol code the tests can tell apart from a
//! broken copy of it, measured with cargo-mutants (27.x) and with hand-written protocol
//! mutants.
//!
//! * `mutants plan` lists the protocol files, how many mutants cargo-mutants generates in
//!   each, and the shards they are cut into ([`PER_SHARD`] mutants a shard, so that one
//!   shard fits in about 30 minutes on two cores).
//! * `mutants run SHARD...` (`futex_mutex/2of3`, `spin_lock`, or `--all`) runs those shards
//!   and stores each one's outcome in `docs/results/mutants/<shard>.tsv`, stamped with the
//!   date, the command and a hash of the mutated file (the report marks a shard stale when
//!   the file has changed since). Each test binary runs under a watchdog
//!   ([`BINARY_TIMEOUT_S`]): a hang costs minutes, not the whole run's timeout.
//! * `mutants hand [NAME...]` applies the hand-written mutants of `xtask/mutants/hand/`
//!   (one per protocol step: a lost wake, an erased contention mark, a skipped re-check)
//!   one at a time to a scratch copy of the tree and runs the same tests.
//! * `mutants report` writes `docs/results/mutants.md` from the stored shards and the
//!   triage of every miss (`xtask/mutants/triage.tsv`).
//!
//! The test command is the cross-process tests and the harness (catalog, crash and
//! atomic-point searches) plus the sync crate's unit tests and a file's own
//! cross-process tests (`extra_test_args`); loom is left out on purpose:
//! the question is what a researcher's primitive gets without a model checker.
//! cargo-mutants 27 ignores `--test-package` (its baseline runs `cargo test
//! --package=<mutated>` only), so the other packages are passed as extra `cargo test`
//! arguments after `--`, and [`check_baseline`] refuses a run whose baseline log does not
//! show them. Not run by CI: a full run takes hours.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use crate::verify::workspace_root;

/// One Markdown table through the project's renderer.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = procshare_table::Table::new(header.iter().copied());
    for r in rows {
        t.row(r.iter().map(String::as_str));
    }
    t.render_markdown()
}

/// The protocol files whose mutants are measured: the strategies and sync objects of
/// `crates/sync` (not the facade, the error types, the broken controls or the syscall
/// layer), and the queue's ring (`ring`, in `crates/queue`; see [`location`]). The zoo's
/// strategies (from `adaptive_mutex` on) and the ring came later: their shards are listed
/// by `mutants plan` and run like the others.
pub(crate) const PROTOCOL_FILES: &[&str] = &[
    "futex_mutex",
    "spin_lock",
    "ticket_lock",
    "rlock",
    "lock",
    "semaphore",
    "condition",
    "event",
    "barrier",
    "monitor",
    "liveness",
    "adaptive_mutex",
    "adaptive_wait",
    "mcs_lock",
    "clh_lock",
    "bakery",
    "peterson",
    "slots",
    "rw_lock",
    "seq_lock",
    "ring",
];

/// Where a protocol file lives: its package and its path in the workspace.
pub(crate) fn location(file: &str) -> (&'static str, String) {
    match file {
        "ring" => ("procshare-queue", "crates/queue/src/ring.rs".into()),
        _ => ("procshare-sync", format!("crates/sync/src/{file}.rs")),
    }
}

/// Test targets a file's mutants are tested with besides [`TEST_ARGS`]: the file's own
/// cross-process tests where they have a file of their own (the catalog's scenarios are
/// in `catalog` already). Added for `seq_lock`, `rw_lock` and the zoo's wedge tests after
/// the first `seq_lock` shard ran without its tests (its shard stamp shows the command).
fn extra_test_args(file: &str) -> &'static [&'static str] {
    match file {
        "ring" => &["--test", "queue"],
        "seq_lock" => &["--test", "seq_lock"],
        "rw_lock" => &["--test", "rw_lock", "--test", "rw_value"],
        "peterson" | "bakery" | "mcs_lock" | "clh_lock" => &["--test", "zoo"],
        _ => &[],
    }
}

/// Mutants whose name matches this are not generated (`--exclude-re`): the deliberately
/// broken controls that share a file with the real code, the twins `UnfencedPeterson` and
/// `UnfencedBakery` and the loom-only broken steps (`Semaphore::acquire_without_fence`,
/// `release_without_fence`, the queue locks' `release_broken`). They are controls, not
/// protocol code, and the loom-only ones are not even compiled by the test command.
const EXCLUDE_RE: &str = "Unfenced|_without_fence|release_broken";

/// Mutants a shard holds at most: about 30 minutes on two cores. A mutant the tests
/// catch costs a rebuild and the tests up to the first failure (about a minute), a miss
/// the whole suite (two to four minutes), a hang the full [`TEST_TIMEOUT_S`] (since the
/// watchdog, [`BINARY_TIMEOUT_S`] plus the tests before the hung binary); measured before
/// the watchdog: `liveness`, 15 mutants with two hangs, took 24 minutes, `monitor`, 8 with
/// three, 44, `condition/1of6`, 12 with three, 33. (The first shards were cut at 25,
/// which took 40–75 minutes.)
pub(crate) const PER_SHARD: usize = 12;

/// The `cargo test` arguments every mutant is tested with (after cargo-mutants' own
/// `--package=procshare-sync`).
pub(crate) const TEST_ARGS: &[&str] = &[
    "--package",
    "procshare",
    "--package",
    "procshare-harness",
    "--lib",
    "--test",
    "locks",
    "--test",
    "owner_death",
    "--test",
    "liveness",
    "--test",
    "sync_objects",
    "--test",
    "schedule_points",
    "--test",
    "custom_strategy",
    "--test",
    "catalog",
    "--test",
    "crash",
    "--test",
    "atomic_points",
];

/// A test run longer than this (seconds) counts as a hang: the mutant is reported as
/// timed out (a hang is a detection, shown in its own column). Generous: the test phase
/// also rebuilds everything that depends on the mutated crate (cargo-mutants' build phase
/// builds only that crate's tests), and a loaded 2-core machine runs the suite in 1.5 to
/// 4 minutes.
const TEST_TIMEOUT_S: u64 = 480;

/// Each test binary of a shard's test runs gets at most this long (seconds): cargo runs
/// it through [`WATCHDOG`] (a cargo `runner`), which kills the binary's whole process
/// group (its forked children too) when the time is up and says so in the log, and the
/// mutant is stored as timed out, as if [`TEST_TIMEOUT_S`] had stopped the whole run. A
/// hang then costs this instead of the whole run's timeout. The slowest binary,
/// `catalog`, takes about 20 s alone and under a minute on a loaded machine.
const BINARY_TIMEOUT_S: u64 = 150;

/// The line [`WATCHDOG`] writes to stderr when it kills a binary.
const WATCHDOG_MARK: &str = "procshare-watchdog: killed";

/// The cargo runner of a shard's test binaries (see [`BINARY_TIMEOUT_S`]), written to
/// `target/mutants/watchdog.sh` before a shard runs. Job control puts the binary in a
/// process group of its own, so one kill takes its forked children with it.
const WATCHDOG: &str = r#"#!/bin/bash
# Written by `cargo xtask mutants`: runs one test binary ("$@") in a process group of its
# own and kills the whole group after PROCSHARE_BINARY_TIMEOUT_S seconds.
set -m
limit=${PROCSHARE_BINARY_TIMEOUT_S:?}
"$@" &
pid=$!
# The mark is printed in two pieces and the dog is disowned: with job control on, bash may
# report a job's end with the job's command text, which must never read as the mark.
(sleep "$limit" && printf '%s: %s %s after %s s\n' procshare-watchdog killed "$1" "$limit" >&2 && kill -KILL -- "-$pid" 2>/dev/null) &
dog=$!
disown "$dog"
wait "$pid"
rc=$?
kill -- "-$dog" 2>/dev/null
exit "$rc"
"#;

/// Write [`WATCHDOG`] under `root`'s target directory; its path.
fn write_watchdog(root: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = root.join("target").join("mutants");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("watchdog.sh");
    fs::write(&path, WATCHDOG).map_err(|e| format!("{}: {e}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The mutants whose test log shows a [`WATCHDOG`] kill: the name in each log's first
/// `*** ` line (cargo-mutants writes one log a mutant into `log/`).
fn watchdog_kills(mutants_out: &Path) -> Vec<String> {
    let Ok(dir) = fs::read_dir(mutants_out.join("log")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| fs::read_to_string(p).ok())
        .filter(|text| text.contains(WATCHDOG_MARK))
        .filter_map(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("*** ").map(str::to_string))
        })
        .collect();
    names.sort();
    names
}

/// One shard: `file` (a stem of [`PROTOCOL_FILES`]), part `k` of `n` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) file: String,
    pub(crate) k: usize,
    pub(crate) n: usize,
}

impl Shard {
    /// `spin_lock` (one shard) or `futex_mutex/2of3`.
    pub(crate) fn id(&self) -> String {
        if self.n == 1 {
            self.file.clone()
        } else {
            format!("{}/{}of{}", self.file, self.k, self.n)
        }
    }

    fn file_name(&self) -> String {
        self.id().replace('/', "-")
    }

    /// Parse a shard id; `n` is checked against the plan by the caller.
    pub(crate) fn parse(id: &str) -> Result<Shard, String> {
        let (file, part) = match id.split_once('/') {
            Some((f, p)) => (f, Some(p)),
            None => (id, None),
        };
        if !PROTOCOL_FILES.contains(&file) {
            return Err(format!(
                "unknown protocol file `{file}` (known: {})",
                PROTOCOL_FILES.join(", ")
            ));
        }
        let (k, n) = match part {
            None => (1, 1),
            Some(p) => {
                let (k, n) = p
                    .split_once("of")
                    .ok_or_else(|| format!("bad shard `{id}`: want FILE/KofN"))?;
                let k: usize = k.parse().map_err(|_| format!("bad shard `{id}`"))?;
                let n: usize = n.parse().map_err(|_| format!("bad shard `{id}`"))?;
                if k == 0 || k > n {
                    return Err(format!("bad shard `{id}`: K must be in 1..=N"));
                }
                (k, n)
            }
        };
        Ok(Shard {
            file: file.to_string(),
            k,
            n,
        })
    }
}

/// Shards a file of `count` mutants is cut into.
pub(crate) fn shards_for(count: usize) -> usize {
    count.div_ceil(PER_SHARD).max(1)
}

fn src(file: &str) -> String {
    location(file).1
}

fn results_dir(root: &Path) -> PathBuf {
    root.join("docs").join("results").join("mutants")
}

/// FNV-1a of a file's bytes: enough to tell that a file changed since its shard ran.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn file_hash(root: &Path, file: &str) -> String {
    match fs::read(root.join(src(file))) {
        Ok(bytes) => format!("{:016x}", fnv1a(&bytes)),
        Err(_) => "missing".into(),
    }
}

fn cargo_mutants(root: &Path) -> Command {
    let mut c = Command::new(crate::run::cargo());
    c.current_dir(root).arg("mutants");
    c
}

/// How many mutants cargo-mutants generates in `file`.
fn count_mutants(root: &Path, file: &str) -> Result<usize, String> {
    let out = cargo_mutants(root)
        .args(["--list", "-p", location(file).0, "-f", &src(file)])
        .args(["--exclude-re", EXCLUDE_RE])
        .output()
        .map_err(|e| format!("cannot run cargo mutants (is cargo-mutants 27 installed? `cargo install cargo-mutants --version ^27 --locked`): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo mutants --list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count())
}

fn plan(root: &Path) -> Result<Vec<(String, usize, Vec<Shard>)>, String> {
    let mut out = Vec::new();
    for file in PROTOCOL_FILES {
        let count = count_mutants(root, file)?;
        let n = shards_for(count);
        let shards = (1..=n)
            .map(|k| Shard {
                file: (*file).to_string(),
                k,
                n,
            })
            .collect();
        out.push(((*file).to_string(), count, shards));
    }
    Ok(out)
}

/// The outcome of one mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Caught,
    Missed,
    Timeout,
    Unviable,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Caught => "caught",
            Outcome::Missed => "missed",
            Outcome::Timeout => "timeout",
            Outcome::Unviable => "unviable",
        }
    }

    fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "caught" => Outcome::Caught,
            "missed" => Outcome::Missed,
            "timeout" => Outcome::Timeout,
            "unviable" => Outcome::Unviable,
            _ => return None,
        })
    }
}

/// A stored shard (or the hand-written set): its stamp lines and its mutants.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Stored {
    /// `key: value` stamp lines (date, command, hash, duration).
    pub(crate) stamp: BTreeMap<String, String>,
    /// (mutant name, outcome).
    pub(crate) mutants: Vec<(String, Outcome)>,
}

impl Stored {
    /// `# key: value` lines, then one `outcome<TAB>name` line a mutant.
    pub(crate) fn to_text(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.stamp {
            let _ = writeln!(s, "# {k}: {v}");
        }
        for (name, o) in &self.mutants {
            let _ = writeln!(s, "{}\t{name}", o.as_str());
        }
        s
    }

    /// Parse [`Stored::to_text`]'s format; a malformed line is an error.
    pub(crate) fn parse(text: &str) -> Result<Stored, String> {
        let mut st = Stored::default();
        for (i, line) in text.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("# ") {
                let (k, v) = rest
                    .split_once(": ")
                    .ok_or_else(|| format!("line {}: bad stamp", i + 1))?;
                st.stamp.insert(k.to_string(), v.to_string());
            } else if !line.trim().is_empty() {
                let (o, name) = line
                    .split_once('\t')
                    .ok_or_else(|| format!("line {}: want OUTCOME<TAB>NAME", i + 1))?;
                let o = Outcome::parse(o)
                    .ok_or_else(|| format!("line {}: unknown outcome `{o}`", i + 1))?;
                st.mutants.push((name.to_string(), o));
            }
        }
        Ok(st)
    }
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn git_rev(root: &Path) -> String {
    Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Refuse a run whose baseline did not test the packages we asked for (the trap of
/// cargo-mutants 27 ignoring `--test-package`).
pub(crate) fn check_baseline(log: &str) -> Result<(), String> {
    let test_line = log
        .lines()
        .find(|l| l.starts_with("*** ") && l.contains(" test ") && !l.contains("--no-run"))
        .ok_or("the baseline log has no `cargo test` command line")?;
    for want in ["procshare-harness", "catalog", "sync_objects"] {
        if !test_line.contains(want) {
            return Err(format!(
                "the baseline's test command does not include `{want}`: {test_line}"
            ));
        }
    }
    Ok(())
}

fn read_list(dir: &Path, name: &str) -> Vec<String> {
    fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn run_shard(root: &Path, shard: &Shard) -> Result<Stored, String> {
    let out_dir = root.join("target").join("mutants").join(shard.file_name());
    fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let mut cmd = cargo_mutants(root);
    let shard_arg = format!("{}/{}", shard.k - 1, shard.n);
    let timeout = TEST_TIMEOUT_S.to_string();
    let (package, file) = location(&shard.file);
    let mut args: Vec<&str> = vec![
        "-p",
        package,
        "-f",
        &file,
        "--sharding",
        "slice",
        "--shard",
        &shard_arg,
        "--timeout",
        &timeout,
        "--cap-lints",
        "true",
        "--exclude-re",
        EXCLUDE_RE,
        "-o",
    ];
    let out_str = out_dir.to_string_lossy().into_owned();
    args.push(&out_str);
    args.push("--");
    args.extend_from_slice(TEST_ARGS);
    args.extend_from_slice(extra_test_args(&shard.file));
    cmd.args(&args);
    let watchdog = write_watchdog(root)?;
    cmd.env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", &watchdog)
        .env("PROCSHARE_BINARY_TIMEOUT_S", BINARY_TIMEOUT_S.to_string());
    let line = format!(
        "cargo mutants {} (each test binary under the watchdog, {BINARY_TIMEOUT_S} s)",
        args.join(" ")
    );
    eprintln!("+ {line}");
    // Stamped before the run: cargo-mutants copies the tree when it starts.
    let (date, commit, hash) = (today(), git_rev(root), file_hash(root, &shard.file));
    let started = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo mutants: {e}"))?;
    let took = started.elapsed();
    let mo = out_dir.join("mutants.out");
    let baseline = fs::read_to_string(mo.join("log").join("baseline.log")).unwrap_or_default();
    check_baseline(&baseline)?;
    // Exit codes 0 (all caught), 2 (some missed) and 3 (some timed out) are results; the
    // rest (baseline failed, usage) are errors.
    match status.code() {
        Some(0) | Some(2) | Some(3) => {}
        other => return Err(format!("cargo mutants failed (exit {other:?})")),
    }
    let mut st = Stored::default();
    st.stamp.insert("shard".into(), shard.id());
    st.stamp.insert("date".into(), date);
    st.stamp.insert("commit".into(), commit);
    st.stamp.insert("file_hash".into(), hash);
    st.stamp.insert("command".into(), line);
    st.stamp
        .insert("duration".into(), format!("{} s", took.as_secs()));
    let killed = watchdog_kills(&mo);
    for (list, o) in [
        ("caught.txt", Outcome::Caught),
        ("missed.txt", Outcome::Missed),
        ("timeout.txt", Outcome::Timeout),
        ("unviable.txt", Outcome::Unviable),
    ] {
        for name in read_list(&mo, list) {
            // A binary the watchdog killed failed the run: a hang, not a caught failure.
            let o = if o == Outcome::Caught && killed.contains(&name) {
                Outcome::Timeout
            } else {
                o
            };
            st.mutants.push((name, o));
        }
    }
    st.mutants.sort();
    Ok(st)
}

fn store(root: &Path, name: &str, st: &Stored) -> Result<(), String> {
    let dir = results_dir(root);
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.tsv"));
    fs::write(&path, st.to_text()).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// A hand-written mutant: which file, what it breaks, and the exact text it replaces.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HandMutant {
    pub(crate) name: String,
    pub(crate) file: String,
    pub(crate) what: String,
    pub(crate) find: String,
    pub(crate) replace: String,
}

/// Parse a `.mutant` file: `name:`, `file:`, `what:` header lines, then a `--- find`
/// block and a `--- replace` block.
pub(crate) fn parse_hand(text: &str) -> Result<HandMutant, String> {
    let (head, rest) = text
        .split_once("--- find\n")
        .ok_or("missing `--- find` block")?;
    let (find, replace) = rest
        .split_once("--- replace\n")
        .ok_or("missing `--- replace` block")?;
    let mut fields = BTreeMap::new();
    for line in head.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line `{line}`"))?;
        fields.insert(k.trim().to_string(), v.trim().to_string());
    }
    let get = |k: &str| {
        fields
            .get(k)
            .cloned()
            .ok_or_else(|| format!("missing `{k}:`"))
    };
    if find.trim().is_empty() {
        return Err("empty `--- find` block".into());
    }
    Ok(HandMutant {
        name: get("name")?,
        file: get("file")?,
        what: get("what")?,
        find: find.to_string(),
        replace: replace.to_string(),
    })
}

/// Apply a hand mutant to a source text: the find block must occur exactly once, or
/// the mutant is stale (an error, never a silent pass).
pub(crate) fn apply_hand(source: &str, m: &HandMutant) -> Result<String, String> {
    match source.matches(m.find.as_str()).count() {
        1 => Ok(source.replacen(m.find.as_str(), m.replace.as_str(), 1)),
        0 => Err(format!(
            "{}: the find block no longer occurs in {}",
            m.name, m.file
        )),
        n => Err(format!(
            "{}: the find block occurs {n} times in {}",
            m.name, m.file
        )),
    }
}

fn load_hand(root: &Path) -> Result<Vec<HandMutant>, String> {
    let dir = root.join("xtask").join("mutants").join("hand");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mutant"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            parse_hand(&text).map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

/// Run the test command in `dir` (a scratch copy), with its own target dir; a run past
/// the timeout is killed and reported as a hang.
fn test_in(dir: &Path, target: &Path) -> Result<Outcome, String> {
    let build = Command::new(crate::run::cargo())
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .args(["test", "--no-run", "--package", "procshare-sync"])
        .args(TEST_ARGS)
        .status()
        .map_err(|e| e.to_string())?;
    if !build.success() {
        return Ok(Outcome::Unviable);
    }
    let mut child = Command::new(crate::run::cargo())
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .args(["test", "--package", "procshare-sync"])
        .args(TEST_ARGS)
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(if status.success() {
                Outcome::Missed
            } else {
                Outcome::Caught
            });
        }
        if started.elapsed() > Duration::from_secs(TEST_TIMEOUT_S) {
            // Kill the whole process group: the tests fork.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            return Ok(Outcome::Timeout);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to).map_err(|e| e.to_string())?;
    let status = Command::new("tar")
        .current_dir(from)
        .args(["--exclude=./target", "--exclude=./.git", "-cf", "-", "."])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut tar| {
            let out = tar.stdout.take().expect("piped");
            let untar = Command::new("tar")
                .current_dir(to)
                .args(["-xf", "-"])
                .stdin(out)
                .status();
            tar.wait()?;
            untar
        })
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err("copying the tree failed".into())
    }
}

fn hand(root: &Path, only: &[String]) -> Result<Stored, String> {
    let mutants = load_hand(root)?;
    let scratch = root.join("target").join("mutants").join("hand-tree");
    let target = root.join("target").join("mutants").join("hand-target");
    copy_tree(root, &scratch)?;
    let mut st = Stored::default();
    st.stamp.insert("shard".into(), "hand".into());
    st.stamp.insert("date".into(), today());
    st.stamp.insert("commit".into(), git_rev(root));
    st.stamp.insert(
        "command".into(),
        format!(
            "cargo test --package procshare-sync {} (per mutant, in a scratch copy)",
            TEST_ARGS.join(" ")
        ),
    );
    let started = Instant::now();
    for m in &mutants {
        if !only.is_empty() && !only.contains(&m.name) {
            continue;
        }
        let path = scratch.join(&m.file);
        let original = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", m.file))?;
        let mutated = apply_hand(&original, m)?;
        fs::write(&path, mutated).map_err(|e| e.to_string())?;
        eprintln!("+ hand mutant {}: {}", m.name, m.what);
        let outcome = test_in(&scratch, &target);
        fs::write(&path, &original).map_err(|e| e.to_string())?;
        let outcome = outcome?;
        eprintln!("  -> {}", outcome.as_str());
        st.mutants
            .push((format!("{}: {} ({})", m.name, m.what, m.file), outcome));
    }
    st.stamp.insert(
        "duration".into(),
        format!("{} s", started.elapsed().as_secs()),
    );
    Ok(st)
}

/// `old` with the rows of `new`'s mutants replaced (a row is `NAME: what (file)`); the
/// stamp says both runs.
pub(crate) fn merge_hand(mut old: Stored, new: Stored) -> Stored {
    let key = |row: &str| row.split(':').next().unwrap_or_default().to_string();
    let fresh: Vec<String> = new.mutants.iter().map(|(m, _)| key(m)).collect();
    old.mutants.retain(|(m, _)| !fresh.contains(&key(m)));
    old.mutants.extend(new.mutants);
    old.mutants.sort();
    if let Some(d) = new.stamp.get("date") {
        let was = old.stamp.get("date").cloned().unwrap_or_default();
        old.stamp
            .insert("date".into(), format!("{was}; partial rerun {d}"));
    }
    old
}

/// A triaged miss: why the tests cannot (or do not yet) tell it from the real code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Triage {
    /// `equivalent` (behaves identically: not counted) or `gap` (a real miss).
    pub(crate) kind: String,
    pub(crate) note: String,
}

/// `NAME<TAB>equivalent|gap<TAB>note` lines; `#` comments.
pub(crate) fn parse_triage(text: &str) -> Result<BTreeMap<String, Triage>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(kind), Some(note)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "triage line {}: want NAME<TAB>KIND<TAB>NOTE",
                i + 1
            ));
        };
        if kind != "equivalent" && kind != "gap" {
            return Err(format!(
                "triage line {}: kind must be equivalent or gap",
                i + 1
            ));
        }
        out.insert(
            name.to_string(),
            Triage {
                kind: kind.to_string(),
                note: note.to_string(),
            },
        );
    }
    Ok(out)
}

/// Counts of one set of mutants, misses split by their triage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) caught: usize,
    pub(crate) timeout: usize,
    pub(crate) missed_gap: usize,
    pub(crate) missed_equivalent: usize,
    pub(crate) missed_untriaged: usize,
    pub(crate) unviable: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, o: Outcome, triage: Option<&Triage>) {
        match o {
            Outcome::Caught => self.caught += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::Unviable => self.unviable += 1,
            Outcome::Missed => match triage.map(|t| t.kind.as_str()) {
                Some("equivalent") => self.missed_equivalent += 1,
                Some(_) => self.missed_gap += 1,
                None => self.missed_untriaged += 1,
            },
        }
    }

    /// Caught (a hang counts: the run did not pass) over every viable, non-equivalent
    /// mutant; an untriaged miss counts as a miss. `None` when there is nothing to count.
    pub(crate) fn caught_share(&self) -> Option<f64> {
        let detected = self.caught + self.timeout;
        let denominator = detected + self.missed_gap + self.missed_untriaged;
        (denominator > 0).then(|| detected as f64 / denominator as f64)
    }

    fn merge(&mut self, o: &Tally) {
        self.caught += o.caught;
        self.timeout += o.timeout;
        self.missed_gap += o.missed_gap;
        self.missed_equivalent += o.missed_equivalent;
        self.missed_untriaged += o.missed_untriaged;
        self.unviable += o.unviable;
    }
}

fn pct(share: Option<f64>) -> String {
    share.map_or("–".into(), |s| format!("{:.0}%", s * 100.0))
}

fn report(root: &Path) -> Result<String, String> {
    let triage_text = fs::read_to_string(root.join("xtask").join("mutants").join("triage.tsv"))
        .unwrap_or_default();
    let triage = parse_triage(&triage_text)?;
    let dir = results_dir(root);
    let mut stored: Vec<(String, Stored)> = Vec::new();
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "tsv") {
                let text = fs::read_to_string(&p).map_err(|e| e.to_string())?;
                let st = Stored::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?;
                let name = p
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                stored.push((name, st));
            }
        }
    }
    stored.sort_by(|a, b| a.0.cmp(&b.0));

    let mut md = String::new();
    md.push_str("# Mutants: what the tests without loom catch\n\n");
    md.push_str(
        "Generated by `cargo xtask mutants report` from the shards stored in \
         `docs/results/mutants/` (each run by `cargo xtask mutants run SHARD`) and the \
         triage in `xtask/mutants/triage.tsv`; do not edit by hand.\n\n\
         The test command is the cross-process tests of the locks and sync objects, the \
         harness searches and the sync crate's unit tests, plus a file's own \
         cross-process tests where it has them (the ring, seq_lock, rw_lock, the zoo's \
         wedge tests: since 2026-12-04; each shard's exact command is listed below); \
         loom is left out. *Timed out* = a hang: the whole run past \
         its timeout or, in shards run since the watchdog, one test binary past its own \
         (killed with its forked children). *Caught share* = (caught + timed out) / \
         (viable − equivalent); an untriaged miss counts as a miss. A shard is *stale* \
         when its file changed since it ran.\n\n",
    );
    let mut rows = Vec::new();
    let mut total = Tally::default();
    let mut total_hand = Tally::default();
    let mut misses = Vec::new();
    for (name, st) in &stored {
        let mut t = Tally::default();
        for (m, o) in &st.mutants {
            let tr = triage.get(m);
            t.add(*o, tr);
            if *o == Outcome::Missed {
                misses.push((m.clone(), tr.cloned()));
            }
        }
        let shard = st
            .stamp
            .get("shard")
            .cloned()
            .unwrap_or_else(|| name.clone());
        let stale = if shard == "hand" {
            "–".to_string()
        } else {
            let file = shard.split('/').next().unwrap_or_default();
            let now = file_hash(root, file);
            if st.stamp.get("file_hash") == Some(&now) {
                "no".into()
            } else {
                "**yes**".into()
            }
        };
        if shard == "hand" {
            total_hand.merge(&t);
        } else {
            total.merge(&t);
        }
        rows.push(vec![
            shard,
            st.stamp.get("date").cloned().unwrap_or_default(),
            st.stamp.get("duration").cloned().unwrap_or_default(),
            t.caught.to_string(),
            t.timeout.to_string(),
            (t.missed_gap + t.missed_untriaged).to_string(),
            t.missed_equivalent.to_string(),
            t.unviable.to_string(),
            pct(t.caught_share()),
            stale,
        ]);
    }
    let header = [
        "shard",
        "run",
        "took",
        "caught",
        "timed out",
        "missed",
        "equivalent",
        "unviable",
        "caught share",
        "stale",
    ];
    md.push_str(&table(&header, &rows));
    md.push('\n');
    let _ = writeln!(
        md,
        "**cargo-mutants shards: caught share {} over {} viable non-equivalent mutants.** \
         Hand-written protocol mutants: caught share {} over {}.\n",
        pct(total.caught_share()),
        total.caught + total.timeout + total.missed_gap + total.missed_untriaged,
        pct(total_hand.caught_share()),
        total_hand.caught
            + total_hand.timeout
            + total_hand.missed_gap
            + total_hand.missed_untriaged,
    );
    let mut not_run = Vec::new();
    for file in PROTOCOL_FILES {
        if !stored.iter().any(|(_, st)| {
            st.stamp
                .get("shard")
                .is_some_and(|s| s.split('/').next() == Some(*file))
        }) {
            not_run.push(*file);
        }
    }
    if !not_run.is_empty() {
        let _ = writeln!(
            md,
            "Protocol files with no shard run yet: {}.\n",
            not_run.join(", ")
        );
    }
    // How much of today's mutant list the stored shards cover (needs cargo-mutants).
    let listed: Result<usize, String> = PROTOCOL_FILES.iter().map(|f| count_mutants(root, f)).sum();
    match listed {
        Ok(listed) => {
            let ran: usize = stored
                .iter()
                .filter(|(name, _)| name != "hand")
                .map(|(_, st)| st.mutants.len())
                .sum();
            let _ = writeln!(
                md,
                "Coverage: the stored shards hold {ran} of the {listed} mutants cargo-mutants \
                 lists in the protocol files today ({}).\n",
                pct(Some(ran as f64 / listed.max(1) as f64))
            );
        }
        Err(e) => eprintln!("note: no coverage line ({e})"),
    }
    md.push_str("## Every miss, triaged\n\n");
    if misses.is_empty() {
        md.push_str("None.\n");
    } else {
        let rows: Vec<Vec<String>> = misses
            .iter()
            .map(|(m, t)| {
                vec![
                    format!("`{}`", m.replace('|', "\\|")),
                    t.as_ref()
                        .map_or("**untriaged**".into(), |t| t.kind.clone()),
                    t.as_ref()
                        .map_or(String::new(), |t| t.note.replace('|', "\\|")),
                ]
            })
            .collect();
        md.push_str(&table(
            &["mutant", "kind", "why / what would catch it"],
            &rows,
        ));
    }
    md.push_str("\n## How each shard was run\n\n");
    for (_, st) in &stored {
        let _ = writeln!(
            md,
            "- `{}`: {} at commit {}: `{}`",
            st.stamp.get("shard").cloned().unwrap_or_default(),
            st.stamp.get("date").cloned().unwrap_or_default(),
            st.stamp.get("commit").cloned().unwrap_or_default(),
            st.stamp.get("command").cloned().unwrap_or_default()
        );
    }
    Ok(md)
}

/// `cargo xtask mutants <plan|run|hand|report> ...`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("plan") if args.len() == 1 => plan(&root).map(|p| {
            let rows: Vec<Vec<String>> = p
                .iter()
                .map(|(f, c, s)| {
                    vec![
                        src(f),
                        c.to_string(),
                        s.iter().map(Shard::id).collect::<Vec<_>>().join(" "),
                    ]
                })
                .collect();
            print!("{}", table(&["file", "mutants", "shards"], &rows));
            let total: usize = p.iter().map(|(_, c, _)| c).sum();
            println!(
                "{total} mutants in {} shards",
                p.iter().map(|(_, _, s)| s.len()).sum::<usize>()
            );
        }),
        Some("run") if args.len() > 1 => (|| {
            let shards: Vec<Shard> = if args[1..] == ["--all".to_string()] {
                plan(&root)?.into_iter().flat_map(|(_, _, s)| s).collect()
            } else {
                let mut v = Vec::new();
                for id in &args[1..] {
                    let s = Shard::parse(id)?;
                    let n = shards_for(count_mutants(&root, &s.file)?);
                    if s.n != n {
                        return Err(format!(
                            "{} has {n} shard(s) now (`cargo xtask mutants plan`)",
                            s.file
                        ));
                    }
                    v.push(s);
                }
                v
            };
            for s in &shards {
                let st = run_shard(&root, s)?;
                store(&root, &s.file_name(), &st)?;
            }
            Ok(())
        })(),
        Some("hand") => hand(&root, &args[1..]).and_then(|st| {
            // A partial run (named mutants) replaces only their rows.
            let path = results_dir(&root).join("hand.tsv");
            let st = match fs::read_to_string(&path) {
                Ok(old) if !args[1..].is_empty() => merge_hand(Stored::parse(&old)?, st),
                _ => st,
            };
            store(&root, "hand", &st)
        }),
        Some("report") if args.len() == 1 => report(&root).and_then(|md| {
            let path = root.join("docs").join("results").join("mutants.md");
            fs::write(&path, md).map_err(|e| e.to_string())?;
            eprintln!("wrote {}", path.display());
            Ok(())
        }),
        _ => Err(
            "usage: cargo xtask mutants plan | run SHARD...|--all | hand [NAME...] | report".into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory under the target dir, emptied first.
    fn scratch(name: &str) -> PathBuf {
        let d = workspace_root()
            .join("target")
            .join("xtask-tests")
            .join(name);
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_watchdog_kills_a_hung_binary_with_its_children_and_says_so() {
        let dir = scratch("watchdog");
        let watchdog = write_watchdog(&dir).unwrap();
        // A "test binary" that forks a child, prints its pid, and hangs.
        let out = Command::new(&watchdog)
            .args(["bash", "-c", "sleep 600 & echo $!; sleep 600"])
            .env("PROCSHARE_BINARY_TIMEOUT_S", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(137), "killed by SIGKILL");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(WATCHDOG_MARK), "{stderr}");
        let child: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // The forked child went with it (reaped by init soon after; bounded wait).
        let gone = Instant::now();
        while Path::new(&format!("/proc/{child}")).exists() {
            assert!(
                gone.elapsed() < Duration::from_secs(10),
                "child {child} survived"
            );
            std::thread::yield_now();
        }
        // A binary that ends in time keeps its exit code and is not marked. bash may
        // print a job's command text when the job ends (it did, 1 run in 20, before the
        // mark was split): the script must never contain the mark as written.
        assert!(!WATCHDOG.contains(WATCHDOG_MARK));
        for (cmd, code) in [("exit 0", 0), ("exit 3", 3)] {
            let out = Command::new(&watchdog)
                .args(["bash", "-c", cmd])
                .env("PROCSHARE_BINARY_TIMEOUT_S", "60")
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(code));
            assert!(!String::from_utf8_lossy(&out.stderr).contains(WATCHDOG_MARK));
        }
    }

    #[test]
    fn a_mutant_whose_log_shows_a_watchdog_kill_is_found_by_name() {
        let mo = scratch("watchdog-logs");
        fs::create_dir_all(mo.join("log")).unwrap();
        let log = |file: &str, name: &str, body: &str| {
            fs::write(
                mo.join("log").join(file),
                format!("\n*** {name}\n\n{body}\n"),
            )
            .unwrap()
        };
        log(
            "a.log",
            "src/x.rs:1:1: replace f -> bool with true",
            "test result: FAILED",
        );
        log(
            "b.log",
            "src/x.rs:2:1: replace g -> bool with false",
            &format!("{WATCHDOG_MARK} target/debug/deps/locks-1 after 150 s"),
        );
        assert_eq!(
            watchdog_kills(&mo),
            ["src/x.rs:2:1: replace g -> bool with false"]
        );
        assert!(watchdog_kills(&mo.join("nowhere")).is_empty());
    }

    #[test]
    fn shard_ids_round_trip_and_bad_ones_are_refused() {
        let s = Shard::parse("futex_mutex/2of3").unwrap();
        assert_eq!((s.k, s.n), (2, 3));
        assert_eq!(s.id(), "futex_mutex/2of3");
        assert_eq!(Shard::parse("spin_lock").unwrap().id(), "spin_lock");
        assert!(Shard::parse("broken").is_err());
        assert!(Shard::parse("spin_lock/0of2").is_err());
        assert!(Shard::parse("spin_lock/3of2").is_err());
        assert!(Shard::parse("spin_lock/x").is_err());
        assert_eq!(shards_for(0), 1);
        assert_eq!(shards_for(12), 1);
        assert_eq!(shards_for(13), 2);
        assert_eq!(shards_for(25), 3);
    }

    #[test]
    fn stored_text_round_trips_and_rejects_garbage() {
        let mut st = Stored::default();
        st.stamp.insert("date".into(), "2026-12-01".into());
        st.mutants
            .push(("a.rs:1:1: replace x".into(), Outcome::Missed));
        st.mutants
            .push(("a.rs:2:1: delete !".into(), Outcome::Caught));
        assert_eq!(Stored::parse(&st.to_text()).unwrap(), st);
        assert!(Stored::parse("won\tx").is_err());
        assert!(Stored::parse("no tab here").is_err());
    }

    #[test]
    fn baseline_without_the_other_packages_is_refused() {
        let bad = "*** cargo test --no-run --package=procshare-sync@0.1.0\n\
                   *** cargo test --package=procshare-sync@0.1.0\n";
        assert!(check_baseline(bad).is_err());
        let good = "*** cargo test --package=procshare-sync@0.1.0 --package procshare \
                    --package procshare-harness --test sync_objects --test catalog\n";
        assert!(check_baseline(good).is_ok());
    }

    #[test]
    fn hand_mutants_parse_and_apply_exactly_once() {
        let text = "name: n\nfile: f.rs\nwhat: w\n--- find\na + b\n--- replace\na - b\n";
        let m = parse_hand(text).unwrap();
        assert_eq!(apply_hand("x = a + b\n", &m).unwrap(), "x = a - b\n");
        assert!(
            apply_hand("x = a * b\n", &m).is_err(),
            "stale mutant must be an error"
        );
        assert!(
            apply_hand("a + b\na + b\n", &m).is_err(),
            "ambiguous mutant"
        );
        assert!(parse_hand("name: n\n--- replace\n").is_err());
    }

    #[test]
    fn a_partial_hand_run_replaces_only_its_rows() {
        let mut old = Stored::default();
        old.mutants.push(("a: x (f)".into(), Outcome::Caught));
        old.mutants.push(("b: y (f)".into(), Outcome::Missed));
        let mut new = Stored::default();
        new.mutants.push(("b: y2 (f)".into(), Outcome::Caught));
        let merged = merge_hand(old, new);
        assert_eq!(
            merged.mutants,
            vec![
                ("a: x (f)".to_string(), Outcome::Caught),
                ("b: y2 (f)".to_string(), Outcome::Caught)
            ]
        );
    }

    #[test]
    fn caught_share_counts_hangs_and_untriaged_misses_but_not_equivalents() {
        let mut t = Tally::default();
        let eq = Triage {
            kind: "equivalent".into(),
            note: String::new(),
        };
        t.add(Outcome::Caught, None);
        t.add(Outcome::Timeout, None);
        t.add(Outcome::Missed, Some(&eq));
        t.add(Outcome::Missed, None);
        t.add(Outcome::Unviable, None);
        assert_eq!(t.caught_share(), Some(2.0 / 3.0));
        assert_eq!(Tally::default().caught_share(), None);
        assert!(parse_triage("x\tmaybe\tnote").is_err());
        assert_eq!(
            parse_triage("# c\nx\tgap\tnote\n").unwrap()["x"].kind,
            "gap"
        );
    }

    #[test]
    fn every_hand_mutant_still_applies_to_the_tree() {
        let root = workspace_root();
        let stale: Vec<String> = load_hand(&root)
            .unwrap()
            .iter()
            .filter_map(|m| {
                let source = fs::read_to_string(root.join(&m.file)).unwrap();
                apply_hand(&source, m).err()
            })
            .collect();
        assert!(
            stale.is_empty(),
            "stale hand mutants:\n{}",
            stale.join("\n")
        );
    }

    #[test]
    fn every_test_target_a_shard_names_exists() {
        let root = workspace_root();
        let mut targets: Vec<&str> = TEST_ARGS.to_vec();
        for file in PROTOCOL_FILES {
            targets.extend_from_slice(extra_test_args(file));
        }
        let missing: Vec<&str> = targets
            .windows(2)
            .filter(|w| w[0] == "--test")
            .map(|w| w[1])
            .filter(|t| {
                !root.join("tests").join(format!("{t}.rs")).exists()
                    && !root
                        .join("crates/harness/tests")
                        .join(format!("{t}.rs"))
                        .exists()
            })
            .collect();
        assert!(missing.is_empty(), "no such test targets: {missing:?}");
        assert_eq!(extra_test_args("seq_lock"), ["--test", "seq_lock"]);
    }
}
