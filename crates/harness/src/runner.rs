//! The controller: runs a [`Scenario`] in actor processes under a [`Chooser`], one case
//! at a time, and reports the trace, the history and the verdict.
//!
//! Actors are forked once and reused across cases (the pool): between cases the state is
//! reset by the scenario and every actor waits at its start point. Only an actor that was
//! killed (crash injection) or crashed is forked again. [`Runner::fork_per_case`] turns
//! pooling off, which is the baseline the pooled speed is measured against.

use crate::actor::{actor_main, is_parked, point_name, KIND_DEADLINE, KIND_LIVENESS, POINT_SPIN};
use crate::control::{
    signal, sleep_on, ControlBlock, AT_POINT, BLOCKED, DEAD, FINISHED, GO_EXPIRE, GO_QUIT, GO_RUN,
    MAX_ACTORS, RUNNING,
};
use crate::scenario::{read_history, read_history_from, Event, Scenario};
use crate::schedule::{Action, Choice, Chooser};
use procshare_shm::Process;
use procshare_sync::loom::Wake;
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// One step of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Step {
    /// What was chosen.
    pub choice: Choice,
    /// Its index among the options (what the schedule records).
    pub index: u32,
    /// The schedule point the actor was parked at (`acquire`, `load`, `wake`, …).
    pub point: &'static str,
    /// The history events the step recorded (operations it started or finished).
    pub events: Vec<Event>,
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Every actor finished and the property held.
    Pass,
    /// The property did not hold.
    PropertyFailed(String),
    /// An actor's body returned an error or panicked.
    ActorFailed {
        /// The actor.
        actor: usize,
        /// Its message.
        message: String,
    },
    /// No actor could run, but not all had finished: a genuine deadlock (or a livelock:
    /// every unfinished actor only spins).
    Deadlock {
        /// The actors that were blocked or spinning.
        blocked: Vec<usize>,
    },
    /// The case took more steps than allowed (e.g. a livelock).
    StepLimit,
    /// An actor neither parked nor finished for [`Runner::stuck_after`]: it is blocked
    /// somewhere the scheduler cannot see (a system call, a sleep inside a library).
    ActorStuck {
        /// The actor.
        actor: usize,
    },
    /// An actor process died without being chosen to (a crash, not an injected kill).
    ActorCrashed {
        /// The actor.
        actor: usize,
        /// Its exit code.
        code: i32,
    },
}

impl Verdict {
    /// Is it a finding (anything but `Pass`)?
    pub fn is_failure(&self) -> bool {
        *self != Verdict::Pass
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => write!(f, "pass"),
            Verdict::PropertyFailed(m) => write!(f, "property failed: {m}"),
            Verdict::ActorFailed { actor, message } => write!(f, "actor {actor} failed: {message}"),
            Verdict::Deadlock { blocked } => write!(f, "deadlock: actors {blocked:?} blocked"),
            Verdict::StepLimit => write!(f, "step limit reached"),
            Verdict::ActorStuck { actor } => {
                write!(f, "actor {actor} is stuck outside the scheduler's view")
            }
            Verdict::ActorCrashed { actor, code } => {
                write!(f, "actor {actor} crashed (exit code {code})")
            }
        }
    }
}

/// Everything one case produced.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The steps, in order.
    pub trace: Vec<Step>,
    /// The recorded history.
    pub history: Vec<Event>,
    /// Actors killed by crash injection.
    pub killed: Vec<usize>,
    /// How it ended.
    pub verdict: Verdict,
}

impl CaseReport {
    /// The schedule that reproduces this case (the chosen indices).
    pub fn schedule(&self) -> Vec<u32> {
        self.trace.iter().map(|s| s.index).collect()
    }
}

/// Errors of the harness itself (not findings).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The scenario asks for an unsupported number of actors.
    #[error("a scenario needs 1 to {MAX_ACTORS} actors, not {0}")]
    Actors(usize),
    /// Shared memory or a process could not be created.
    #[error(transparent)]
    Shm(#[from] procshare_shm::Error),
}

/// Runs cases of one scenario.
pub struct Runner<'s, S: Scenario> {
    scenario: &'s S,
    state: S::State,
    control: ControlBlock,
    actors: Vec<Option<Process>>,
    pooled: bool,
    max_steps: usize,
    stuck_after: Duration,
}

impl<S: Scenario> fmt::Debug for Runner<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("scenario", &self.scenario.name())
            .field("pooled", &self.pooled)
            .finish_non_exhaustive()
    }
}

impl<'s, S: Scenario> Runner<'s, S> {
    /// A runner with a pool of actor processes (forked on the first case).
    pub fn new(scenario: &'s S) -> Result<Self, HarnessError> {
        let n = scenario.actors();
        if n == 0 || n > MAX_ACTORS {
            return Err(HarnessError::Actors(n));
        }
        Ok(Runner {
            state: scenario.setup(),
            scenario,
            control: ControlBlock::new()?,
            actors: (0..n).map(|_| None).collect(),
            pooled: true,
            max_steps: 100_000,
            stuck_after: Duration::from_secs(10),
        })
    }

    /// Fork fresh actors for every case instead of reusing them (the slow baseline).
    pub fn fork_per_case(mut self) -> Self {
        self.pooled = false;
        self
    }

    /// Limit the steps of one case (default 100 000).
    pub fn max_steps(mut self, steps: usize) -> Self {
        self.max_steps = steps;
        self
    }

    /// How long an actor may run without parking before the case is reported as
    /// [`Verdict::ActorStuck`] (default 10 s).
    pub fn stuck_after(mut self, limit: Duration) -> Self {
        self.stuck_after = limit;
        self
    }

    /// The scenario's shared state (e.g. for a final look after a case).
    pub fn state(&self) -> &S::State {
        &self.state
    }

    fn spawn(&mut self, k: usize) -> Result<(), HarnessError> {
        let control = self.control.get();
        let scenario = self.scenario;
        let state = &self.state;
        let process = Process::spawn(|| {
            actor_main(control, k, &|me, rec| scenario.run(state, me, rec));
        })?;
        self.actors[k] = Some(process);
        Ok(())
    }

    fn go(&self, k: usize, command: u32) {
        let slot = &self.control.get().slots[k];
        if command != GO_QUIT {
            slot.state.store(RUNNING, Ordering::Relaxed);
        }
        slot.go.store(command, Ordering::Release);
        signal(&slot.go, &slot.go_sleeping);
    }

    /// Wait until no actor runs. `Err` if one died on its own or got stuck.
    fn wait_parked(&mut self) -> Result<(), Verdict> {
        let control = self.control.get();
        let n = self.actors.len();
        let mut spins = 0u32;
        let started = std::time::Instant::now();
        loop {
            let seen = control.parked.load(Ordering::Acquire);
            if control.slots[..n]
                .iter()
                .all(|s| is_parked(s.state.load(Ordering::Acquire)))
            {
                return Ok(());
            }
            if spins < crate::actor::SPINS {
                spins += 1;
                std::thread::yield_now();
                continue;
            }
            if sleep_on(
                &control.parked,
                seen,
                &control.controller_sleeping,
                Some(Duration::from_millis(100)),
            ) == Wake::TimedOut
            {
                for (k, a) in self.actors.iter_mut().enumerate() {
                    if let Some(p) = a {
                        if !p.is_alive() {
                            let code = p.exitcode().unwrap_or(-1);
                            *a = None;
                            return Err(Verdict::ActorCrashed { actor: k, code });
                        }
                    }
                }
                if started.elapsed() >= self.stuck_after {
                    let actor = (0..n)
                        .find(|&k| !is_parked(control.slots[k].state.load(Ordering::Acquire)))
                        .unwrap_or(0);
                    return Err(Verdict::ActorStuck { actor });
                }
            }
        }
    }

    fn options(&self, kills: u32, killed_any: bool, stale_spin: &[bool]) -> Vec<Choice> {
        let control = self.control.get();
        let mut options = Vec::new();
        for (actor, slot) in control.slots[..self.actors.len()].iter().enumerate() {
            let action = match slot.state.load(Ordering::Acquire) {
                // A spin step is a yield: spinning again before anyone else has moved
                // cannot change anything (after a kill it can: liveness checks).
                AT_POINT
                    if stale_spin[actor]
                        && !killed_any
                        && slot.point.load(Ordering::Relaxed) == POINT_SPIN =>
                {
                    None
                }
                AT_POINT => Some(Action::Run),
                BLOCKED if slot.woken.load(Ordering::Relaxed) != 0 => Some(Action::Wake),
                BLOCKED => match slot.wait_kind.load(Ordering::Relaxed) {
                    KIND_DEADLINE => Some(Action::Expire),
                    KIND_LIVENESS if killed_any => Some(Action::Expire),
                    _ => None,
                },
                _ => None,
            };
            if let Some(action) = action {
                options.push(Choice { actor, action });
            }
        }
        if kills < self.scenario.max_kills() {
            for (actor, slot) in control.slots[..self.actors.len()].iter().enumerate() {
                if matches!(slot.state.load(Ordering::Acquire), AT_POINT | BLOCKED) {
                    options.push(Choice {
                        actor,
                        action: Action::Kill,
                    });
                }
            }
        }
        options
    }

    /// Run one case, with `chooser` making every choice.
    pub fn run_case(&mut self, chooser: &mut dyn Chooser) -> Result<CaseReport, HarnessError> {
        let n = self.actors.len();
        self.scenario.reset(&self.state);
        self.control.get().reset_case(n);
        for k in 0..n {
            if self.actors[k].is_none() {
                self.spawn(k)?;
            }
        }
        let mut trace = Vec::new();
        let mut killed = Vec::new();
        let mut stale_spin = vec![false; n];
        let verdict = loop {
            if let Err(verdict) = self.wait_parked() {
                break verdict;
            }
            let options = self.options(killed.len() as u32, !killed.is_empty(), &stale_spin);
            if options.is_empty() {
                let control = self.control.get();
                let blocked: Vec<usize> = (0..n)
                    .filter(|&k| {
                        matches!(
                            control.slots[k].state.load(Ordering::Acquire),
                            BLOCKED | AT_POINT
                        )
                    })
                    .collect();
                if blocked.is_empty() {
                    break Verdict::Pass;
                }
                break Verdict::Deadlock { blocked };
            }
            if trace.len() >= self.max_steps {
                break Verdict::StepLimit;
            }
            let index = chooser.choose(trace.len(), &options).min(options.len() - 1);
            let choice = options[index];
            let code = self.control.get().slots[choice.actor]
                .point
                .load(Ordering::Relaxed);
            let spun = choice.action == Action::Run && code == POINT_SPIN;
            for (k, stale) in stale_spin.iter_mut().enumerate() {
                if k == choice.actor {
                    *stale = spun;
                } else if !spun {
                    *stale = false;
                }
            }
            let point = point_name(code);
            trace.push(Step {
                choice,
                index: index as u32,
                point,
                events: Vec::new(),
            });
            let events_before = self.control.get().events.load(Ordering::Acquire) as usize;
            match choice.action {
                Action::Run | Action::Wake => self.go(choice.actor, GO_RUN),
                Action::Expire => self.go(choice.actor, GO_EXPIRE),
                Action::Kill => {
                    if let Some(mut p) = self.actors[choice.actor].take() {
                        let _ = p.kill();
                        let _ = p.join();
                    }
                    self.control.get().slots[choice.actor]
                        .state
                        .store(DEAD, Ordering::Release);
                    killed.push(choice.actor);
                }
            }
            if let Err(verdict) = self.wait_parked() {
                break verdict;
            }
            if let Some(step) = trace.last_mut() {
                step.events = read_history_from(self.control.get(), events_before);
            }
        };
        let control = self.control.get();
        let history = read_history(control);
        let verdict = match verdict {
            Verdict::Pass => {
                let failed =
                    (0..n).find(|&k| control.slots[k].panicked.load(Ordering::Relaxed) != 0);
                match failed {
                    Some(actor) => Verdict::ActorFailed {
                        actor,
                        message: control.message(actor),
                    },
                    None => match self.scenario.check(&self.state, &history, &killed) {
                        Ok(()) => Verdict::Pass,
                        Err(m) => Verdict::PropertyFailed(m),
                    },
                }
            }
            v => v,
        };
        // Actors stuck mid-case (deadlock, step limit) cannot be reused: replace them.
        let finished = |k: usize| control.slots[k].state.load(Ordering::Acquire) == FINISHED;
        for k in 0..n {
            if !self.pooled || !finished(k) {
                self.retire(k);
            }
        }
        Ok(CaseReport {
            trace,
            history,
            killed,
            verdict,
        })
    }

    fn retire(&mut self, k: usize) {
        if let Some(mut p) = self.actors[k].take() {
            if self.control.get().slots[k].state.load(Ordering::Acquire) == FINISHED {
                self.go(k, GO_QUIT);
                let _ = p.join();
            } // else: dropping the Process kills and reaps it.
        }
    }
}

impl<S: Scenario> Drop for Runner<'_, S> {
    fn drop(&mut self) {
        for k in 0..self.actors.len() {
            self.retire(k);
        }
    }
}

/// Render a trace as a per-actor table: one column per actor, one row per step, each
/// cell the schedule point the actor was at and what happened to it, followed by the
/// operations the step recorded (`name(input)` when one starts, `→ output` when it ends),
/// named by `op_name`. Plain text through [`procshare_table::Table::render_plain`]:
///
/// ```text
/// step | actor 0     | actor 1
/// -----+-------------+---------------------
///    0 |             | start fetch_add(1)
///    1 | acquire     |
/// ```
pub fn render_trace_with(trace: &[Step], actors: usize, op_name: &dyn Fn(u32) -> String) -> String {
    let headers =
        std::iter::once("step".to_string()).chain((0..actors).map(|a| format!("actor {a}")));
    let mut table = procshare_table::Table::new(headers).align(0, procshare_table::Align::Right);
    for (i, step) in trace.iter().enumerate() {
        let mut row = vec![String::new(); actors + 1];
        row[0] = i.to_string();
        let mut cell = match step.choice.action {
            Action::Run => step.point.to_string(),
            Action::Wake => "woken".to_string(),
            Action::Expire => "timeout".to_string(),
            Action::Kill => "KILLED".to_string(),
        };
        for e in &step.events {
            if e.is_return {
                cell.push_str(&format!(" → {}", e.value));
            } else {
                cell.push_str(&format!(" {}({})", op_name(e.op), e.value));
            }
        }
        if let Some(slot) = row.get_mut(step.choice.actor + 1) {
            *slot = cell;
        }
        table.row(row);
    }
    table.render_plain()
}

/// [`render_trace_with`] naming operations by their numeric code.
pub fn render_trace(trace: &[Step], actors: usize) -> String {
    render_trace_with(trace, actors, &|op| format!("op{op}"))
}
