//! The entry point: [`Checker`] partitions a history, runs the search on each part within
//! a budget, and on a violation shrinks it to a witness.

use super::error::LinError;
use super::history::{History, Operation};
use super::minimize::minimize;
use super::model::Model;
use super::render::render_table;
use super::search::{search, Budget, Exhausted, FxBuild, Prepared, SearchResult};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The verdict on a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Linearizable: every partition has a linearization.
    Ok,
    /// Not linearizable; the violation found, with a minimal witness.
    Illegal(Box<Violation>),
    /// The budget ran out before a verdict: nothing is claimed either way.
    Unknown(Unknown),
}

impl Outcome {
    /// True for [`Outcome::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// True for [`Outcome::Illegal`].
    pub fn is_illegal(&self) -> bool {
        matches!(self, Outcome::Illegal(_))
    }

    /// True for [`Outcome::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown(_))
    }

    /// The violation, for [`Outcome::Illegal`].
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Outcome::Illegal(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("linearizable"),
            Outcome::Illegal(v) => v.fmt(f),
            Outcome::Unknown(u) => u.fmt(f),
        }
    }
}

/// A non-linearizable partition and a small witness taken from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key of the failing partition (`None`: operations without a key, or a model that
    /// is not partitioned).
    pub key: Option<String>,
    /// The failing partition: every operation on that key.
    pub partition: History,
    /// A sub-history of `partition` that is itself non-linearizable, and that stays so
    /// whatever the left-out operations did (see the [module docs](super#minimisation)).
    pub minimal: History,
    /// True if every operation of `minimal` was shown to be needed; false if minimisation
    /// was off or its budget ran out (`minimal` is then still a valid witness).
    pub minimized: bool,
}

impl Violation {
    /// The witness as a per-client table ([`render_table`]).
    pub fn table(&self) -> String {
        render_table(&self.minimal)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "not linearizable (key {key}")?,
            None => write!(f, "not linearizable (")?,
        }
        writeln!(
            f,
            "{}{} of {} operations shown):",
            if self.key.is_some() { ", " } else { "" },
            self.minimal.len(),
            self.partition.len()
        )?;
        f.write_str(&self.table())
    }
}

/// Why no verdict was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The key of the partition whose search ran out of budget.
    pub key: Option<String>,
    /// Which limit was hit.
    pub reason: Exhausted,
    /// Search steps the exhausted partition used.
    pub steps: u64,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            Exhausted::Steps => "step budget",
            Exhausted::Timeout => "time budget",
        };
        write!(f, "unknown: {why} exhausted after {} steps", self.steps)?;
        if let Some(key) = &self.key {
            write!(f, " on key {key}")?;
        }
        Ok(())
    }
}

/// What a check did, besides its verdict: for the command line and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The verdict.
    pub outcome: Outcome,
    /// Partitions (independent objects) the history was split into.
    pub partitions: usize,
    /// Threads the partitions were checked on.
    pub threads: usize,
    /// Search steps of the partitions that were checked to the end (not counting
    /// minimisation, nor partitions stopped because an earlier one failed).
    pub steps: u64,
    /// Wall-clock time of the whole check, minimisation included.
    pub elapsed: Duration,
}

/// Configures and runs a check.
///
/// ```
/// use procshare_harness::lin::{Checker, History, Operation, Register};
/// use serde_json::json;
/// use std::time::Duration;
///
/// let history = History::from(vec![
///     Operation::completed(0, "write", json!(1), 0, 1, json!(null)),
///     Operation::completed(1, "read", json!(null), 2, 3, json!(0)), // stale
/// ]);
/// let outcome = Checker::new()
///     .timeout(Duration::from_secs(10))
///     .threads(2)
///     .one_minimal(true)
///     .check(&Register::default(), &history)
///     .unwrap();
/// assert!(outcome.is_illegal());
/// assert!(outcome.violation().unwrap().minimized);
/// ```
#[derive(Debug, Clone)]
pub struct Checker {
    timeout: Option<Duration>,
    max_steps: Option<u64>,
    minimize: bool,
    minimize_steps: Option<u64>,
    one_minimal: bool,
    threads: Option<usize>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            timeout: None,
            max_steps: None,
            minimize: true,
            minimize_steps: None,
            one_minimal: false,
            threads: None,
        }
    }
}

impl Checker {
    /// No time or step limit on the check; minimisation on, with the default budget (see
    /// [`minimize_steps`](Self::minimize_steps)); partitions checked on every available
    /// core (see [`threads`](Self::threads)).
    pub fn new() -> Self {
        Checker::default()
    }

    /// Stops with [`Outcome::Unknown`] after `timeout` (checked every 1024 steps). The
    /// same deadline also ends minimisation.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Stops with [`Outcome::Unknown`] when the search of one partition takes more than
    /// `steps` steps. The limit applies to each partition on its own, so that the verdict
    /// does not depend on the number of threads.
    #[must_use]
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.max_steps = Some(steps);
        self
    }

    /// Checks independent partitions on up to `threads` threads (at least 1; default: the
    /// available parallelism). The verdict does not depend on it: partitions are ordered
    /// (smallest first, then by key) and the first one, in that order, without a
    /// linearization is the one reported; a partition is abandoned only once an earlier
    /// one has failed.
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Turns minimisation of a violation on (default) or off.
    #[must_use]
    pub fn minimize(mut self, on: bool) -> Self {
        self.minimize = on;
        self
    }

    /// Search steps minimisation may use in all. By default it is relative to the cost of
    /// the check that found the violation: `S` steps on the failing partition give
    /// minimisation `32 × S + 1 000 000` steps. Either way, no single re-check may use
    /// more than `4 × S + 100 000` (an expensive re-check counts as "operation needed").
    #[must_use]
    pub fn minimize_steps(mut self, steps: u64) -> Self {
        self.minimize_steps = Some(steps);
        self
    }

    /// With `true`, minimisation has no step budget at all (only the
    /// [`timeout`](Self::timeout)), so the witness is 1-minimal ([`Violation::minimized`])
    /// unless the deadline passes first: no single operation can be left out of it.
    /// This may take as many re-checks as the failing partition has operations, each an
    /// exhaustive search.
    #[must_use]
    pub fn one_minimal(mut self, on: bool) -> Self {
        self.one_minimal = on;
        self
    }

    /// Checks `history` against `model`.
    ///
    /// Every operation is validated and parsed by the model first, so a malformed history
    /// is an error even if the search would have stopped early. The first partition in
    /// order (smallest first, then key order) that is illegal or exhausts its budget
    /// decides the answer; see [`threads`](Self::threads).
    pub fn check<M: Model>(&self, model: &M, history: &History) -> Result<Outcome, LinError> {
        self.check_report(model, history).map(|r| r.outcome)
    }

    /// [`check`](Self::check), with the counts and times of a [`Report`].
    pub fn check_report<M: Model>(&self, model: &M, history: &History) -> Result<Report, LinError> {
        let start = Instant::now();
        // A timeout too large to add to now is no timeout.
        let deadline = self.timeout.and_then(|t| start.checked_add(t));
        let prepared = prepare(model, history)?;

        let key_of = |p: &Prepared<M>| {
            if model.partitioned() {
                history.ops()[p.index].key.as_deref()
            } else {
                None
            }
        };
        let first_key = prepared.first().and_then(&key_of);
        let mut parts: Vec<(Option<&str>, Vec<&Prepared<M>>)> = if prepared.is_empty() {
            Vec::new()
        } else if prepared.iter().all(|p| key_of(p) == first_key) {
            // One object (the usual history of a register or a queue): no map.
            vec![(first_key, prepared.iter().collect())]
        } else {
            let mut map: BTreeMap<Option<&str>, Vec<&Prepared<M>>> = BTreeMap::new();
            for p in &prepared {
                map.entry(key_of(p)).or_default().push(p);
            }
            map.into_iter().collect()
        };
        // Smallest first: a hard partition exhausting the budget then hides as few
        // verdicts on the others as possible.
        parts.sort_by_key(|(key, ops)| (ops.len(), *key));

        let threads = match parts.len() {
            // No parallelism to have: skip asking the system for its core count.
            0 | 1 => 1,
            n => self.threads.unwrap_or_else(cores).min(n),
        };
        let results = run_partitions(model, &parts, threads, deadline, self.max_steps);
        let steps = results.iter().flatten().map(|r| r.1).sum();
        let mut report = Report {
            outcome: Outcome::Ok,
            partitions: parts.len(),
            threads,
            steps,
            elapsed: Duration::ZERO,
        };

        for ((key, ops), result) in parts.iter().zip(results) {
            // Every partition before the first failing one ran to the end.
            let Some((result, cost)) = result else {
                break;
            };
            match result {
                SearchResult::Linearizable => {}
                SearchResult::Exhausted(reason) => {
                    report.outcome = Outcome::Unknown(Unknown {
                        key: key.map(str::to_owned),
                        reason,
                        steps: cost,
                    });
                    break;
                }
                SearchResult::Illegal => {
                    let violation = self.violation(model, history, *key, ops, cost, deadline);
                    report.outcome = Outcome::Illegal(Box::new(violation));
                    break;
                }
            }
        }
        report.elapsed = start.elapsed();
        Ok(report)
    }

    /// The violation of illegal partition `ops` (whose check took `cost` steps), minimised
    /// as configured.
    fn violation<M: Model>(
        &self,
        model: &M,
        history: &History,
        key: Option<&str>,
        ops: &[&Prepared<M>],
        cost: u64,
        deadline: Option<Instant>,
    ) -> Violation {
        let (keep, minimized) = if self.minimize {
            let (total, per_check) = if self.one_minimal {
                (u64::MAX, u64::MAX)
            } else {
                (
                    self.minimize_steps
                        .unwrap_or(cost.saturating_mul(32).saturating_add(1_000_000)),
                    cost.saturating_mul(4).saturating_add(100_000),
                )
            };
            let mut budget = Budget::new(deadline, Some(total));
            let classes = call_classes(history, ops);
            minimize(model, ops, &classes, &mut budget, per_check)
        } else {
            (vec![true; ops.len()], false)
        };
        let original = |p: &&Prepared<M>| history.ops()[p.index].clone();
        Violation {
            key: key.map(str::to_owned),
            partition: ops.iter().map(original).collect(),
            minimal: ops
                .iter()
                .zip(&keep)
                .filter(|(_, &k)| k)
                .map(|(p, _)| original(p))
                .collect(),
            minimized,
        }
    }
}

/// The available parallelism, asked once: `available_parallelism` reads cgroup files,
/// which would cost more than checking a small history.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A partition's search result and its steps; `None` if it was not searched to the end
/// because an earlier partition failed.
type PartResult = Option<(SearchResult, u64)>;

/// Searches every partition on `threads` threads (inline for one). Partition `i` is
/// abandoned only once a partition before it has failed, so every partition before the
/// first failing one has a result.
fn run_partitions<M: Model>(
    model: &M,
    parts: &[(Option<&str>, Vec<&Prepared<M>>)],
    threads: usize,
    deadline: Option<Instant>,
    max_steps: Option<u64>,
) -> Vec<PartResult> {
    if threads <= 1 {
        // In order, on this thread: the first failing partition ends the check.
        let mut results: Vec<PartResult> = Vec::with_capacity(parts.len());
        for (_, ops) in parts {
            let mut budget = Budget::new(deadline, max_steps);
            let result = search(model, ops, None, &mut budget);
            results.push(Some((result, budget.steps)));
            if result != SearchResult::Linearizable {
                break;
            }
        }
        results.resize(parts.len(), None);
        return results;
    }
    let first_bad = Arc::new(AtomicUsize::new(usize::MAX));
    let run_one = |i: usize| -> PartResult {
        if first_bad.load(Ordering::Relaxed) < i {
            return None;
        }
        let mut budget = Budget::new(deadline, max_steps).cancelled_by(first_bad.clone(), i);
        let result = search(model, &parts[i].1, None, &mut budget);
        if budget.cancelled {
            return None;
        }
        if result != SearchResult::Linearizable {
            first_bad.fetch_min(i, Ordering::Relaxed);
        }
        Some((result, budget.steps))
    };
    // Largest partitions first (the end of the order), for a balanced finish.
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<PartResult>> = (0..parts.len()).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let taken = next.fetch_add(1, Ordering::Relaxed);
                if taken >= parts.len() {
                    break;
                }
                let i = parts.len() - 1 - taken;
                let result = run_one(i);
                // A poisoned slot means another worker panicked (a model's bug); the
                // scope re-raises that panic.
                if let Ok(mut slot) = results[i].lock() {
                    *slot = result;
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or(None))
        .collect()
}

/// Checks `history` against `model` with the default [`Checker`] (no time limit).
pub fn check<M: Model>(model: &M, history: &History) -> Result<Outcome, LinError> {
    Checker::new().check(model, history)
}

/// Validates every operation and parses it with the model.
pub(super) fn prepare<M: Model>(
    model: &M,
    history: &History,
) -> Result<Vec<Prepared<M>>, LinError> {
    let mut prepared: Vec<Prepared<M>> = history
        .ops()
        .iter()
        .enumerate()
        .map(|(index, op)| prepare_one(model, index, op))
        .collect::<Result<_, _>>()?;
    // Indeterminate operations with the same call (name, key, input) share a class: the
    // search treats those of a class as interchangeable (see the `search` module docs).
    // A completed operation is never one of them, so it gets a class of its own without
    // hashing its call (that cost a small history a tenth of its check); the minimiser,
    // which weakens completed operations, asks for the full classes ([`call_classes`]).
    let mut classes: HashMap<(&str, Option<&str>, &Value), u32, FxBuild> = HashMap::default();
    let mut next = 0u32;
    for (p, op) in prepared.iter_mut().zip(history.ops()) {
        p.class = if p.ret.is_none() {
            *classes
                .entry((op.op.as_str(), op.key.as_deref(), &op.input))
                .or_insert(next)
        } else {
            next
        };
        if p.class == next {
            next += 1;
        }
    }
    Ok(prepared)
}

/// Every operation's class by its call alone (name, key, input), indeterminate or not:
/// the classes the minimiser's weakened searches use. Dense from 0, like the prepared
/// ones.
fn call_classes<M: Model>(history: &History, ops: &[&Prepared<M>]) -> Vec<u32> {
    // Keyed by the input itself (JSON values compare and hash by content), not by its
    // text: formatting every input cost a small history more than its search.
    let mut classes: HashMap<(&str, Option<&str>, &Value), u32, FxBuild> = HashMap::default();
    ops.iter()
        .map(|p| {
            let op = &history.ops()[p.index];
            let next = classes.len() as u32;
            *classes
                .entry((op.op.as_str(), op.key.as_deref(), &op.input))
                .or_insert(next)
        })
        .collect()
}

fn prepare_one<M: Model>(model: &M, index: usize, op: &Operation) -> Result<Prepared<M>, LinError> {
    op.validate(index)?;
    let wrap = |source| LinError::Operation {
        index,
        client: op.client,
        source,
    };
    let parsed = model
        .parse_call(&op.op, op.key.as_deref(), &op.input)
        .map_err(wrap)?;
    // An operation of unknown outcome is searched as one that never returned: it may
    // take effect after its return too.
    let ret = if op.unknown { None } else { op.ret };
    let output = match ret {
        Some(_) => Some(
            model
                .parse_output(&parsed, op.output.as_ref().unwrap_or(&Value::Null))
                .map_err(wrap)?,
        ),
        None => None,
    };
    Ok(Prepared {
        index,
        class: 0,
        call: op.call,
        ret,
        parsed,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::super::sim::{register_history, SimConfig};
    use super::super::test_ops::{r, w};
    use super::super::{OpError, Register, RegisterCall};
    use super::*;

    /// The verdict, and which partition is blamed, do not depend on the thread count:
    /// keys "a" (legal), "b" and "c" (both illegal; "b" is first in order) and a large
    /// legal key "z" that the workers take first.
    #[test]
    fn verdict_is_independent_of_threads() {
        use super::super::sim::{map_history, SimConfig};
        use super::super::Map;
        use serde_json::json;
        let put = |c: u32, k: &str, v: i64, t: u64| {
            Operation::completed(c, "put", json!(v), t, t + 1, json!(null)).with_key(k)
        };
        let get = |c: u32, k: &str, v: i64, t: u64| {
            Operation::completed(c, "get", json!(null), t, t + 1, json!(v)).with_key(k)
        };
        let mut h: History = map_history(SimConfig {
            clients: 4,
            ops: 400,
            keys: 1,
            crashes: 5,
            seed: 9,
        })
        .into_iter()
        .map(|o| o.with_key("z"))
        .collect();
        h.extend([
            put(50, "a", 1, 0),
            get(51, "a", 1, 2),
            put(52, "b", 1, 0),
            get(53, "b", 2, 2), // never put
            put(54, "c", 1, 0),
            put(54, "c", 2, 2),
            get(55, "c", 1, 4), // stale
        ]);
        let expected = Checker::new().threads(1).check(&Map, &h).unwrap();
        assert_eq!(expected.violation().unwrap().key.as_deref(), Some("b"));
        for threads in [2, 3, 8] {
            let report = Checker::new()
                .threads(threads)
                .check_report(&Map, &h)
                .unwrap();
            assert_eq!(report.outcome, expected, "{threads} threads");
            assert_eq!(report.partitions, 4);
            assert_eq!(report.threads, threads.min(4));
        }
        // Without "b", "c" is the first failing key, whatever the threads.
        let h: History = h
            .into_iter()
            .filter(|o| o.key.as_deref() != Some("b"))
            .collect();
        for threads in [1, 2, 8] {
            let o = Checker::new().threads(threads).check(&Map, &h).unwrap();
            assert_eq!(
                o.violation().unwrap().key.as_deref(),
                Some("c"),
                "{threads}"
            );
        }
    }

    #[test]
    fn empty_history_is_ok() {
        assert_eq!(
            check(&Register::default(), &History::new()).unwrap(),
            Outcome::Ok
        );
    }

    /// `n` writes and `n` reads of distinct values, all concurrent, plus a read of a value
    /// nobody wrote: illegal, but only after exploring ~2ⁿ configurations.
    fn hard_history(n: u32) -> History {
        let mut ops = Vec::new();
        for i in 0..n {
            ops.push(w(i, i64::from(i) + 1, u64::from(i), 1000));
            ops.push(r(n + i, i64::from(i) + 1, u64::from(i), 1000));
        }
        ops.push(r(2 * n, 999, 0, 1000));
        History::from(ops)
    }

    #[test]
    fn step_budget_gives_unknown() {
        let checker = Checker::new().max_steps(100_000);
        let o = checker
            .check(&Register::default(), &hard_history(30))
            .unwrap();
        match o {
            Outcome::Unknown(Unknown {
                reason: Exhausted::Steps,
                steps: 100_000,
                key: None,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(
            o.to_string().starts_with("unknown: step budget exhausted"),
            "{o}"
        );
    }

    #[test]
    fn timeout_gives_unknown() {
        let start = Instant::now();
        let checker = Checker::new().timeout(Duration::from_millis(50));
        let o = checker
            .check(&Register::default(), &hard_history(30))
            .unwrap();
        assert!(
            matches!(
                o,
                Outcome::Unknown(Unknown {
                    reason: Exhausted::Timeout,
                    ..
                })
            ),
            "{o:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn small_hard_history_is_decided() {
        let o = check(&Register::default(), &hard_history(6)).unwrap();
        let v = o.violation().expect("illegal");
        assert_eq!(v.minimal.ops(), &[r(12, 999, 0, 1000)]);
    }

    /// A stale read appended to 300 operations of a correct register: the witness is the
    /// write of the old value, the write that overwrote it and the stale read.
    #[test]
    fn minimisation_finds_the_stale_read() {
        let cfg = SimConfig {
            clients: 4,
            ops: 300,
            keys: 0,
            crashes: 10,
            seed: 3,
        };
        let mut h = register_history(cfg);
        let end = h.ops().iter().filter_map(|o| o.ret).max().unwrap();
        let stale = [
            w(100, 2000, end + 1, end + 2),
            w(100, 1000, end + 3, end + 4),
            r(101, 2000, end + 5, end + 6),
        ];
        h.extend(stale.clone());

        let o = check(&Register::default(), &h).unwrap();
        let v = o.violation().expect("illegal");
        assert!(v.minimized);
        assert_eq!(v.partition.len(), 303);
        assert_eq!(v.minimal.ops(), &stale, "{v}");
        // The witness is illegal on its own.
        assert!(check(&Register::default(), &v.minimal)
            .unwrap()
            .is_illegal());
    }

    #[test]
    fn minimisation_off_or_out_of_budget() {
        let h = History::from(vec![
            w(0, 1, 0, 1),
            w(0, 2, 2, 3),
            r(1, 1, 4, 5),
            r(1, 7, 6, 7),
        ]);
        let o = Checker::new()
            .minimize(false)
            .check(&Register::default(), &h)
            .unwrap();
        let v = o.violation().unwrap();
        assert_eq!(v.minimal, h);
        assert!(!v.minimized);

        let o = Checker::new()
            .minimize_steps(3)
            .check(&Register::default(), &h)
            .unwrap();
        let v = o.violation().unwrap();
        assert!(!v.minimized);
        assert!(check(&Register::default(), &v.minimal)
            .unwrap()
            .is_illegal());

        let v = check(&Register::default(), &h).unwrap();
        let v = v.violation().unwrap();
        assert!(v.minimized);
        // Two violations (a stale read, a read of 7): the later one is dropped first, and
        // the stale read remains, with the writes that make it stale.
        assert_eq!(v.minimal.ops(), &h.ops()[..3]);
    }

    /// A register that ignores keys and opts out of partitioning: keyed operations all
    /// act on the one register.
    struct GlobalRegister;

    impl Model for GlobalRegister {
        type State = Value;
        type Call = RegisterCall;
        type Output = Value;
        fn name(&self) -> &'static str {
            "GlobalRegister"
        }
        fn init(&self) -> Value {
            Register::default().init()
        }
        fn parse_call(
            &self,
            op: &str,
            key: Option<&str>,
            input: &Value,
        ) -> Result<RegisterCall, OpError> {
            Register::default().parse_call(op, key, input)
        }
        fn parse_output(&self, call: &RegisterCall, output: &Value) -> Result<Value, OpError> {
            Register::default().parse_output(call, output)
        }
        fn step(&self, state: &Value, call: &RegisterCall, output: &Value) -> Option<Value> {
            Register::default().step(state, call, output)
        }
        fn step_unknown(&self, state: &Value, call: &RegisterCall) -> Vec<Value> {
            Register::default().step_unknown(state, call)
        }
        fn partitioned(&self) -> bool {
            false
        }
    }

    #[test]
    fn unpartitioned_model_sees_all_keys() {
        let h = History::from(vec![
            w(0, 1, 0, 1).with_key("a"),
            r(1, 0, 2, 3).with_key("b"),
        ]);
        assert!(check(&Register::default(), &h).unwrap().is_ok());
        let o = check(&GlobalRegister, &h).unwrap();
        assert_eq!(o.violation().unwrap().key, None);
    }

    #[test]
    fn display() {
        let h = History::from(vec![
            w(0, 1, 0, 1).with_key("x"),
            r(1, 0, 2, 3).with_key("x"),
        ]);
        let o = check(&Register::default(), &h).unwrap();
        assert_eq!(
            o.to_string(),
            "\
not linearizable (key x, 2 of 2 operations shown):
time | client 0         | client 1
-----+------------------+------------
0..1 | write(x, 1) → ok |
2..3 |                  | read(x) → 0
"
        );
        assert_eq!(Outcome::Ok.to_string(), "linearizable");
    }

    /// Errors are found before any search, even in partitions after a failing one.
    #[test]
    fn errors_before_search() {
        let h = History::from(vec![
            w(0, 1, 0, 1).with_key("a"),
            r(1, 0, 2, 3).with_key("a"),
            Operation::completed(0, "frobnicate", Value::Null, 0, 1, Value::Null).with_key("b"),
        ]);
        assert!(matches!(
            check(&Register::default(), &h),
            Err(LinError::Operation { index: 2, .. })
        ));
    }
}
