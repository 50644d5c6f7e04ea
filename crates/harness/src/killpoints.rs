//! The kill-point matrix: every schedule point of an operation, with the actor that runs
//! it SIGKILLed exactly there, deterministically.
//!
//! A [`KillTarget`] is a scenario with crash injection and one designated *victim*
//! actor. For each base schedule ([`Policy`]: survivors first, victim first, round robin),
//! a counting run (no kill) lists the victim's steps: each is a schedule point it was
//! parked at (`claim`, `write`, `publish`, `read`, `sleep`, `wake`, `acquire`, …, or
//! `asleep` in a futex wait) and the operation it was inside, read off the recorded
//! history. Then, for each step `k`, the same base schedule runs with the victim killed
//! *instead of* taking its `k`-th step: up to the kill the case is the counting run's, so
//! the kill lands at exactly that point (checked: a kill elsewhere fails the case). After
//! it, the survivors run on; blocked ones get their liveness checks and timeouts as
//! choices, so they recover what the dead left behind or give up, and the runner's step,
//! time and stuck budgets turn any hang into a failing case. The scenario's property is
//! checked as in every other case (for the queues: nothing acknowledged lost, nothing
//! delivered twice except the documented at-most-once item, the queue still usable; for
//! the locks: the death reported exactly once).
//!
//! Cases are grouped into rows (primitive × operation × point × who is killed). A row
//! passes if every case of it passed; a case that fails with the scenario's
//! [`KNOWN_LIMIT`] message (a joinable queue's producer killed between counting its task
//! and claiming a slot: a researcher's queue may document it; procshare's no longer has
//! it) makes the row a *known limit*, reported as such; any other
//! failure fails the row and carries its replay token (`cargo xtask replay <scenario>
//! <token>`). `cargo xtask killpoints` prints the matrix and writes
//! `docs/results/killpoints.md`; `tests/killpoints.rs` shows that a queue without crash
//! recovery fails rows.

use crate::scenarios::KNOWN_LIMIT;
use crate::{encode_token, Action, Choice, Chooser, HarnessError, Runner, Scenario, Verdict};
use std::time::Duration;

/// The base schedule a kill is injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Run any other actor before the victim (round robin among them): the victim moves
    /// only when nobody else can.
    SurvivorsFirst,
    /// Run the victim whenever it can move, the others round robin otherwise.
    VictimFirst,
    /// Round robin over the actors that can move.
    RoundRobin,
}

impl Policy {
    /// Every policy, in the order a full matrix runs them.
    pub const ALL: [Policy; 3] = [
        Policy::SurvivorsFirst,
        Policy::VictimFirst,
        Policy::RoundRobin,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Policy::SurvivorsFirst => "survivors-first",
            Policy::VictimFirst => "victim-first",
            Policy::RoundRobin => "round-robin",
        }
    }
}

/// Among one actor's options, the most progress first: a wake, a step, a liveness check,
/// and a timeout last (so survivors recover what a dead actor left before giving up). At
/// a deadline check the answer is "not yet" twice in a row, then the deadline passes.
fn rank(action: Action) -> u8 {
    match action {
        Action::Wake => 0,
        Action::Run => 1,
        Action::Pick => 2,
        Action::Liveness => 3,
        Action::Expire => 4,
        Action::Kill => 5,
    }
}

/// Does choosing `action` for an actor count as one of its steps?
fn is_step(action: Action) -> bool {
    matches!(
        action,
        Action::Run | Action::Wake | Action::Expire | Action::Liveness
    )
}

/// The chooser of the matrix: a deterministic base policy, with the victim killed
/// instead of taking its `kill_at`-th step.
#[derive(Debug, Clone)]
pub struct KillAt {
    policy: Policy,
    victim: usize,
    kill_at: Option<usize>,
    steps: usize,
    next: usize,
    killed: bool,
    /// Per actor: deadline checks answered "not yet" in a row.
    not_yet: [u8; crate::MAX_ACTORS],
}

impl KillAt {
    /// Run `policy`, killing `victim` instead of its step number `kill_at` (from 0;
    /// `None`: never, the counting run).
    pub fn new(policy: Policy, victim: usize, kill_at: Option<usize>) -> Self {
        KillAt {
            policy,
            victim,
            kill_at,
            steps: 0,
            next: 0,
            killed: false,
            not_yet: [0; crate::MAX_ACTORS],
        }
    }

    fn base(&mut self, options: &[Choice]) -> Option<usize> {
        let best_of = |actor: usize| {
            options
                .iter()
                .enumerate()
                .filter(|(_, c)| c.actor == actor && c.action != Action::Kill)
                .min_by_key(|(_, c)| rank(c.action))
                .map(|(i, _)| i)
        };
        let mut actors: Vec<usize> = options
            .iter()
            .filter(|c| c.action != Action::Kill)
            .map(|c| c.actor)
            .collect();
        actors.dedup();
        if actors.is_empty() {
            return None;
        }
        // Round robin over `among` (fair, so that a spinning actor cannot starve the
        // one it waits for).
        let mut round_robin = |among: &[usize]| {
            let a = among
                .iter()
                .copied()
                .find(|&a| a >= self.next)
                .unwrap_or(among[0]);
            self.next = a + 1;
            a
        };
        let others: Vec<usize> = actors
            .iter()
            .copied()
            .filter(|&a| a != self.victim)
            .collect();
        let victim_can = actors.contains(&self.victim);
        let actor = match self.policy {
            Policy::SurvivorsFirst if !others.is_empty() => round_robin(&others),
            Policy::SurvivorsFirst => self.victim,
            Policy::VictimFirst if victim_can => self.victim,
            Policy::VictimFirst => round_robin(&others),
            Policy::RoundRobin => round_robin(&actors),
        };
        let pick = best_of(actor)?;
        // A deadline check (a `Run` beside an `Expire` for the same actor at a point) is
        // answered "not yet" twice, then the deadline passes: a timed wait ends.
        let expire = options
            .iter()
            .position(|c| c.actor == actor && c.action == Action::Expire);
        let at_timer = options[pick].action == Action::Run && expire.is_some();
        if at_timer && self.not_yet[actor] >= 2 {
            self.not_yet[actor] = 0;
            return expire;
        }
        if at_timer {
            self.not_yet[actor] += 1;
        }
        Some(pick)
    }
}

impl Chooser for KillAt {
    fn choose(&mut self, _step: usize, options: &[Choice]) -> usize {
        let kill = options
            .iter()
            .position(|c| c.action == Action::Kill && c.actor == self.victim);
        let Some(pick) = self.base(options) else {
            // Nothing but kills is offered: the case is stuck anyway. Kill the victim (the
            // property check or the verdict reports what is left).
            return kill.unwrap_or(0);
        };
        let c = options[pick];
        if c.actor == self.victim && is_step(c.action) {
            if !self.killed && self.kill_at == Some(self.steps) {
                if let Some(k) = kill {
                    self.killed = true;
                    return k;
                }
            }
            self.steps += 1;
        }
        pick
    }
}

/// One step of the victim in a counting run: where it was parked and in what operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VictimStep {
    /// The operation in flight (`put`, `get`, …; `(between ops)` if none).
    pub operation: String,
    /// The schedule point (`asleep`: blocked in a futex wait).
    pub point: String,
}

/// How one case of the matrix ended.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// The base schedule.
    pub policy: Policy,
    /// The victim step the kill replaced.
    pub k: usize,
    /// Where the kill was meant to land.
    pub at: VictimStep,
    /// The case's verdict (a kill that landed elsewhere is a `PropertyFailed`).
    pub verdict: Verdict,
    /// Its replay token.
    pub token: String,
}

/// A scenario with crash injection and the actor the matrix kills.
pub trait Target: Sync {
    /// The primitive's name (`ByteRing`, `JoinableQueue`, `FutexMutex`, …).
    fn primitive(&self) -> String;
    /// The scenario's name (for `cargo xtask replay`).
    fn scenario(&self) -> String;
    /// Who is killed (`producer`, `consumer`, `holder`, …).
    fn role(&self) -> &'static str;
    /// Every case of the target under `policies`, in order.
    fn cases(&self, policies: &[Policy]) -> Result<Vec<CaseOutcome>, HarnessError>;
    /// Replay one case from its schedule: its report and per-actor table.
    fn replay(&self, schedule: Vec<u32>) -> Result<(crate::CaseReport, String), HarnessError>;
}

/// A [`Target`] made of a scenario and its victim.
#[derive(Debug)]
pub struct KillTarget<S> {
    /// The scenario (its `max_kills` must be at least 1).
    pub scenario: S,
    /// The primitive's name.
    pub primitive: String,
    /// The actor killed.
    pub victim: usize,
    /// Its role's name.
    pub role: &'static str,
}

/// Budgets of one case: a hang ends as a failing verdict, never a hung run.
fn runner<S: Scenario>(scenario: &S) -> Result<Runner<'_, S>, HarnessError> {
    Ok(Runner::new(scenario)?
        .max_steps(20_000)
        .case_budget(Duration::from_secs(20))
        .stuck_after(Duration::from_secs(5))
        .janitor_budget(Duration::from_secs(5)))
}

/// The point a step of a trace was at, as the matrix names it.
fn point_of(step: &crate::Step) -> String {
    match (step.choice.action, step.point) {
        (Action::Run, p) => p.to_string(),
        (_, "timer") => "timer".into(),
        _ => "asleep".into(),
    }
}

impl<S: Scenario> KillTarget<S> {
    /// The victim's steps in the counting run of `policy`, and that run's verdict.
    pub fn count(&self, policy: Policy) -> Result<(Vec<VictimStep>, Verdict), HarnessError> {
        let mut runner = runner(&self.scenario)?;
        let report = runner.run_case(&mut KillAt::new(policy, self.victim, None))?;
        let mut open: Vec<u32> = Vec::new();
        let mut steps = Vec::new();
        // The last operation-level point the victim passed in its current operation: an
        // atomic-level point is named after it (`claim › atomic rmw`).
        let mut coarse: Option<String> = None;
        for step in &report.trace {
            if step.choice.actor == self.victim && is_step(step.choice.action) {
                let mut point = point_of(step);
                if point.starts_with("atomic") {
                    let after = coarse.as_deref().unwrap_or("entry");
                    point = format!("{after} › {point}");
                } else {
                    coarse = Some(point.clone());
                }
                let operation = open.last().map_or("(between ops)".to_string(), |&op| {
                    // The queue scenarios name their operations for the FIFO model.
                    match self.scenario.op_name(op).as_str() {
                        "enqueue" => "put".to_string(),
                        "dequeue" => "get".to_string(),
                        other => other.to_string(),
                    }
                });
                steps.push(VictimStep { operation, point });
            }
            for e in step
                .events
                .iter()
                .filter(|e| e.client as usize == self.victim)
            {
                if e.is_return {
                    open.retain(|&op| op != e.op);
                } else {
                    open.push(e.op);
                }
                coarse = None;
            }
        }
        Ok((steps, report.verdict))
    }
}

impl<S: Scenario> Target for KillTarget<S> {
    fn primitive(&self) -> String {
        self.primitive.clone()
    }

    fn scenario(&self) -> String {
        self.scenario.name()
    }

    fn role(&self) -> &'static str {
        self.role
    }

    fn replay(&self, schedule: Vec<u32>) -> Result<(crate::CaseReport, String), HarnessError> {
        let mut runner = runner(&self.scenario)?;
        let report = runner.run_case(&mut crate::Replay::new(schedule))?;
        let table = crate::render_trace_with(&report.trace, self.scenario.actors(), &|op| {
            self.scenario.op_name(op)
        });
        Ok((report, table))
    }

    fn cases(&self, policies: &[Policy]) -> Result<Vec<CaseOutcome>, HarnessError> {
        let mut out = Vec::new();
        for &policy in policies {
            let (steps, verdict) = self.count(policy)?;
            if verdict.is_failure() {
                // Without a kill the scenario must pass: report it as a case of its own.
                out.push(CaseOutcome {
                    policy,
                    k: usize::MAX,
                    at: VictimStep {
                        operation: "(no kill)".into(),
                        point: "-".into(),
                    },
                    verdict,
                    token: String::new(),
                });
                continue;
            }
            for (k, at) in steps.into_iter().enumerate() {
                // A fresh runner (fresh state, fresh actors) per case: a pooled one would
                // start from the state the previous case's reset left (positions moved
                // on, participants registered), so the case would not follow the
                // counting run up to the kill.
                let mut runner = runner(&self.scenario)?;
                let report = runner.run_case(&mut KillAt::new(policy, self.victim, Some(k)))?;
                let token = encode_token(&report.schedule());
                let landed = report
                    .trace
                    .iter()
                    .find(|s| s.choice.action == Action::Kill)
                    .map(|s| s.point.to_string());
                let verdict = match landed {
                    _ if report.verdict.is_failure() => report.verdict,
                    Some(p)
                        if at.point.ends_with(p.as_str())
                            || (at.point == "asleep" && p == "wake") =>
                    {
                        report.verdict
                    }
                    other => Verdict::PropertyFailed(format!(
                        "the kill meant for step {k} ({} in {}) landed at {other:?}",
                        at.point, at.operation
                    )),
                };
                out.push(CaseOutcome {
                    policy,
                    k,
                    at,
                    verdict,
                    token,
                });
            }
        }
        Ok(out)
    }
}

/// Box a [`KillTarget`].
pub fn target<S: Scenario + 'static>(
    primitive: &str,
    scenario: S,
    victim: usize,
    role: &'static str,
) -> Box<dyn Target> {
    Box::new(KillTarget {
        scenario,
        primitive: primitive.to_string(),
        victim,
        role,
    })
}

/// How a row ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// Every case passed.
    Pass,
    /// Every case passed or hit the documented limit ([`KNOWN_LIMIT`]); `cases` of them
    /// hit it.
    KnownLimit {
        /// Cases that hit the limit.
        cases: usize,
    },
    /// Some case failed: the first failure's verdict, scenario-replay token, and how many.
    Fail {
        /// How many cases failed.
        cases: usize,
        /// The first failing case's verdict.
        verdict: String,
        /// Its replay token.
        token: String,
    },
}

/// One row of the matrix.
#[derive(Debug, Clone)]
pub struct Row {
    /// The primitive.
    pub primitive: String,
    /// The scenario (to replay a failure).
    pub scenario: String,
    /// The operation the victim was in.
    pub operation: String,
    /// The schedule point it was killed at.
    pub point: String,
    /// Who was killed.
    pub role: &'static str,
    /// Cases run.
    pub cases: usize,
    /// How the row ended.
    pub outcome: RowOutcome,
}

impl Row {
    /// Did the row fail?
    pub fn failed(&self) -> bool {
        matches!(self.outcome, RowOutcome::Fail { .. })
    }
}

/// A token for a table cell: whole up to 120 characters; a longer one (a case that ran
/// into its step limit) is cut, and [`failures`] lists it whole.
fn short_token(token: &str) -> String {
    if token.len() <= 120 {
        token.to_string()
    } else {
        format!("{}… (whole token below the table)", &token[..60])
    }
}

/// The failing rows' whole replay commands, one per line.
pub fn failures(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        if let RowOutcome::Fail { token, .. } = &r.outcome {
            out.push_str(&format!(
                "{} / {} / {} / {}: cargo xtask killpoints replay {} {token}\n",
                r.primitive, r.operation, r.point, r.role, r.scenario
            ));
        }
    }
    out
}

/// A verdict fit for a table cell: its first line, at most 200 characters, no `|`.
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out.replace('|', "/")
}

/// Run `target` under `policies` and group its cases into rows (in order of first
/// appearance).
pub fn rows(target: &dyn Target, policies: &[Policy]) -> Result<Vec<Row>, HarnessError> {
    let mut rows: Vec<Row> = Vec::new();
    for case in target.cases(policies)? {
        let i = match rows
            .iter()
            .position(|r| r.operation == case.at.operation && r.point == case.at.point)
        {
            Some(i) => i,
            None => {
                rows.push(Row {
                    primitive: target.primitive(),
                    scenario: target.scenario(),
                    operation: case.at.operation.clone(),
                    point: case.at.point.clone(),
                    role: target.role(),
                    cases: 0,
                    outcome: RowOutcome::Pass,
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[i];
        row.cases += 1;
        let limit =
            matches!(&case.verdict, Verdict::PropertyFailed(m) if m.starts_with(KNOWN_LIMIT));
        row.outcome = match (
            std::mem::replace(&mut row.outcome, RowOutcome::Pass),
            &case.verdict,
        ) {
            (
                RowOutcome::Fail {
                    cases,
                    verdict,
                    token,
                },
                v,
            ) => RowOutcome::Fail {
                cases: cases + usize::from(v.is_failure() && !limit),
                verdict,
                token,
            },
            (o, Verdict::Pass) => o,
            (RowOutcome::Pass, _) if limit => RowOutcome::KnownLimit { cases: 1 },
            (RowOutcome::KnownLimit { cases }, _) if limit => {
                RowOutcome::KnownLimit { cases: cases + 1 }
            }
            (_, v) => RowOutcome::Fail {
                cases: 1,
                verdict: format!(
                    "{} ({}, victim step {})",
                    one_line(&v.to_string()),
                    case.policy.name(),
                    case.k
                ),
                token: case.token.clone(),
            },
        };
    }
    Ok(rows)
}

/// The matrix's targets: the queues (put, get, task_done, join; producers and consumers
/// killed; the ring, the typed `Queue` and `JoinableQueue`) and the locks whose
/// scenarios allow kills (a holder killed at each point of lock, critical section and
/// unlock). `quick`: the ring at operation granularity only (the full matrix adds it at
/// atomic granularity, where every access to its words is a point).
pub fn matrix(quick: bool) -> Vec<Box<dyn Target>> {
    use crate::scenarios::{
        HolderKilled, JoinableScenario, ManagedDict, QueueScenario, ReaderDeath, RwHow, RwScenario,
        SeqScenario,
    };
    use crate::AtomicGranularity;
    use procshare_queue::{ByteRing, JoinableQueue, Queue};
    use procshare_sync::{
        AdaptiveMutex, FutexMutex, PthreadMutex, SpinLock, WriterPreferringRwLock,
    };
    let mut t = vec![
        // put: two producers (the victim and a survivor), one consumer.
        target(
            "ByteRing",
            QueueScenario::<ByteRing>::new(2, 1, 2, 4).with_kills(1),
            0,
            "producer",
        ),
        // get: one producer, two consumers (the victim and a survivor).
        target(
            "ByteRing",
            QueueScenario::<ByteRing>::new(1, 2, 2, 2).with_kills(1),
            1,
            "consumer",
        ),
        // A one-slot ring: puts wait for room (sleep, wake), and a consumer killed
        // mid-get holds the slot a waiting producer needs.
        target(
            "ByteRing",
            QueueScenario::<ByteRing>::new(1, 2, 3, 2)
                .capacity(1)
                .with_kills(1),
            0,
            "producer",
        ),
        target(
            "ByteRing",
            QueueScenario::<ByteRing>::new(1, 2, 3, 2)
                .capacity(1)
                .with_kills(1),
            1,
            "consumer",
        ),
        target(
            "Queue<u64>",
            QueueScenario::<Queue<u64>>::new(2, 1, 2, 4).with_kills(1),
            0,
            "producer",
        ),
        target(
            "Queue<u64>",
            QueueScenario::<Queue<u64>>::new(1, 2, 2, 2).with_kills(1),
            1,
            "consumer",
        ),
        // put and join (the producer joins after its puts).
        target(
            "JoinableQueue<u64>",
            JoinableScenario::<JoinableQueue<u64>>::new(1, 2, 2, 1).with_kills(1),
            0,
            "producer",
        ),
        // get and task_done.
        target(
            "JoinableQueue<u64>",
            JoinableScenario::<JoinableQueue<u64>>::new(1, 2, 2, 1).with_kills(1),
            1,
            "consumer",
        ),
        target(
            "FutexMutex",
            HolderKilled::<FutexMutex>::new(3),
            0,
            "holder",
        ),
        target("SpinLock", HolderKilled::<SpinLock>::new(3), 0, "holder"),
        target(
            "PthreadMutex",
            HolderKilled::<PthreadMutex>::new(3),
            0,
            "holder",
        ),
        target(
            "AdaptiveMutex",
            HolderKilled::<AdaptiveMutex>::new(3),
            0,
            "holder",
        ),
        target(
            "Manager dict",
            ManagedDict::new(2).with_kills(1),
            0,
            "client",
        ),
        // The reader-writer lock: a writer killed (taken over with OwnerDied, reported
        // once) and a reader killed (the documented wedge for writers, bounded by the
        // timeouts), at each point of read/write and their holds.
        target(
            "WriterPreferringRwLock",
            RwScenario::<WriterPreferringRwLock>::new(1, 2, 1, RwHow::Timed)
                .with_kills(1, ReaderDeath::Wedges),
            1,
            "writer",
        ),
        target(
            "WriterPreferringRwLock",
            RwScenario::<WriterPreferringRwLock>::new(1, 2, 1, RwHow::Timed)
                .with_kills(1, ReaderDeath::Wedges),
            0,
            "reader",
        ),
        // SeqLock: a writer killed inside its update.
        target(
            "SeqLock",
            SeqScenario::new(2, 1, 2).with_kills(1),
            2,
            "writer",
        ),
    ];
    // task_done passes two operation-level points (Store before its count, Wake before
    // its notify), join a Sleep per failed check; at atomic granularity every access to
    // the count is a point too, and join's.
    t.push(target(
        "JoinableQueue<u64>",
        AtomicGranularity(JoinableScenario::<JoinableQueue<u64>>::new(1, 1, 1, 1).with_kills(1)),
        1,
        "consumer",
    ));
    t.push(target(
        "JoinableQueue<u64>",
        AtomicGranularity(JoinableScenario::<JoinableQueue<u64>>::new(1, 1, 1, 1).with_kills(1)),
        0,
        "producer",
    ));
    if !quick {
        t.push(target(
            "ByteRing",
            AtomicGranularity(QueueScenario::<ByteRing>::new(2, 1, 1, 2).with_kills(1)),
            0,
            "producer",
        ));
        t.push(target(
            "ByteRing",
            AtomicGranularity(QueueScenario::<ByteRing>::new(1, 2, 2, 1).with_kills(1)),
            1,
            "consumer",
        ));
        for victim in [0, 1] {
            t.push(target(
                "ByteRing",
                AtomicGranularity(
                    QueueScenario::<ByteRing>::new(1, 2, 2, 1)
                        .capacity(1)
                        .with_kills(1),
                ),
                victim,
                if victim == 0 { "producer" } else { "consumer" },
            ));
        }
        t.push(target(
            "Queue<u64>",
            AtomicGranularity(QueueScenario::<Queue<u64>>::new(2, 1, 1, 2).with_kills(1)),
            0,
            "producer",
        ));
        // The locks at atomic granularity: every access of the lock word is a point.
        t.push(target(
            "FutexMutex",
            AtomicGranularity(HolderKilled::<FutexMutex>::new(2)),
            0,
            "holder",
        ));
        t.push(target(
            "SpinLock",
            AtomicGranularity(HolderKilled::<SpinLock>::new(2)),
            0,
            "holder",
        ));
        t.push(target(
            "AdaptiveMutex",
            AtomicGranularity(HolderKilled::<AdaptiveMutex>::new(2)),
            0,
            "holder",
        ));
    }
    t
}

/// The policies of a quick (`verify`) or full matrix: all three either way (the quick
/// matrix differs by its targets).
pub fn policies(_quick: bool) -> &'static [Policy] {
    &Policy::ALL
}

/// Render rows as a table (markdown or plain text) with the project's renderer.
pub fn render(rows: &[Row], markdown: bool) -> String {
    let mut table = procshare_table::Table::new([
        "primitive",
        "scenario",
        "operation",
        "point",
        "killed",
        "cases",
        "outcome",
    ])
    .align(5, procshare_table::Align::Right);
    for r in rows {
        let outcome = match &r.outcome {
            RowOutcome::Pass => "pass".to_string(),
            RowOutcome::KnownLimit { cases } => {
                format!("{KNOWN_LIMIT} ({cases} of {} cases; documented)", r.cases)
            }
            RowOutcome::Fail {
                cases,
                verdict,
                token,
            } => format!(
                "FAIL in {cases} of {} cases: {verdict}; replay: `cargo xtask killpoints \
                 replay {} {}`",
                r.cases,
                r.scenario,
                short_token(token)
            ),
        };
        table.row([
            r.primitive.clone(),
            r.scenario.clone(),
            r.operation.clone(),
            r.point.clone(),
            r.role.to_string(),
            r.cases.to_string(),
            outcome,
        ]);
    }
    if markdown {
        table.render_markdown()
    } else {
        table.render_plain()
    }
}
