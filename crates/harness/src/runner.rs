//! The controller: runs a [`Scenario`] in actor processes under a [`Chooser`], one case
//! at a time, and reports the trace, the history and the verdict.
//!
//! Actors are forked once and reused across cases (the pool): between cases the state is
//! reset by the scenario and every actor waits at its start point. Only an actor that was
//! killed (crash injection) or crashed is forked again. [`Runner::fork_per_case`] turns
//! pooling off, which is the baseline the pooled speed is measured against.

use crate::actor::{
    actor_main, is_parked, mark_woken, point_name, KIND_BOTH, KIND_DEADLINE, KIND_LIVENESS,
    POINT_SPIN, POINT_TIMER,
};
use crate::control::{
    signal, sleep_on, Control, ControlBlock, AT_POINT, BLOCKED, DEAD, FINISHED, GO_EXPIRE,
    GO_LIVENESS, GO_QUIT, GO_RUN, JANITOR_BUSY, JANITOR_CHECK, JANITOR_FAILED, JANITOR_OK,
    JANITOR_QUIT, JANITOR_RESET, JANITOR_RESET_FAILED, MAX_ACTORS, RUNNING,
};
use crate::scenario::{read_history, read_history_from, Event, Scenario};
use crate::schedule::{Action, Choice, Chooser};
use procshare_shm::Process;
use procshare_sync::loom::Wake;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
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
    /// The case ran longer than [`Runner::case_budget`] (wall-clock time).
    TimeLimit,
    /// Resetting the state or checking the property did not finish within
    /// [`Runner::janitor_budget`]: something the case left behind blocks it (typically a
    /// lock that stays held after every actor finished or died).
    ResetStuck,
    /// The scenario's `reset` panicked (its message).
    ResetFailed(String),
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
            Verdict::TimeLimit => write!(f, "time limit reached"),
            Verdict::ResetStuck => write!(
                f,
                "resetting the state or checking the property hung (something stays held)"
            ),
            Verdict::ResetFailed(m) => write!(f, "resetting the state failed: {m}"),
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
    /// The process that resets the state and checks the property (see `janitor_main`).
    janitor: Option<Process>,
    /// The last case may have changed the state: reset it before the next one.
    needs_reset: bool,
    /// The last case failed: set everything up afresh before the next one.
    needs_rebuild: bool,
    pooled: bool,
    max_steps: usize,
    stuck_after: Duration,
    case_budget: Duration,
    janitor_budget: Duration,
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
            janitor: None,
            needs_reset: false,
            needs_rebuild: false,
            pooled: true,
            max_steps: 100_000,
            stuck_after: Duration::from_secs(5),
            case_budget: Duration::from_secs(30),
            janitor_budget: Duration::from_secs(5),
        })
    }

    /// Wall-clock budget of one case (default 30 s): a case still running then ends as
    /// [`Verdict::TimeLimit`], a finding with its replay token.
    pub fn case_budget(mut self, limit: Duration) -> Self {
        self.case_budget = limit;
        self
    }

    /// How long resetting the state or checking the property may take (default 5 s)
    /// before the case is reported as [`Verdict::ResetStuck`].
    pub fn janitor_budget(mut self, limit: Duration) -> Self {
        self.janitor_budget = limit;
        self
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
    /// [`Verdict::ActorStuck`] (default 5 s).
    pub fn stuck_after(mut self, limit: Duration) -> Self {
        self.stuck_after = limit;
        self
    }

    /// The scenario's shared state (e.g. for a final look after a case: it is reset only
    /// when the next case starts).
    pub fn state(&self) -> &S::State {
        &self.state
    }

    /// Run `command` in the janitor (forking it if needed) and wait for its answer, at
    /// most [`Runner::janitor_budget`]. `None`: it did not answer in time, and it has been
    /// killed (a new one is forked next time).
    fn janitor_call(&mut self, command: u32, killed: &[usize]) -> Option<(u32, String)> {
        let control = self.control.get();
        let j = &control.janitor;
        if self.janitor.is_none() {
            let scenario = self.scenario;
            let state = &self.state;
            match Process::spawn(|| janitor_main(control, scenario, state)) {
                Ok(p) => self.janitor = Some(p),
                Err(e) => return Some((JANITOR_RESET_FAILED, format!("fork: {e}"))),
            }
        }
        j.killed
            .store(killed.iter().fold(0, |m, &k| m | 1 << k), Ordering::Relaxed);
        j.result.store(JANITOR_BUSY, Ordering::Relaxed);
        j.go.store(command, Ordering::Release);
        signal(&j.go, &j.go_sleeping);
        let started = std::time::Instant::now();
        loop {
            let r = j.result.load(Ordering::Acquire);
            if r != JANITOR_BUSY {
                return Some((r, crate::control::read_text(&j.message)));
            }
            let Some(left) = self.janitor_budget.checked_sub(started.elapsed()) else {
                self.janitor = None; // dropping the Process kills and reaps it
                return None;
            };
            sleep_on(&j.result, JANITOR_BUSY, &j.result_sleeping, Some(left));
        }
    }

    fn spawn(&mut self, k: usize) -> Result<(), HarnessError> {
        let control = self.control.get();
        let scenario = self.scenario;
        let state = &self.state;
        let atomic = scenario.atomic_points();
        let process = Process::spawn(|| {
            actor_main(control, k, atomic, &|me, rec| scenario.run(state, me, rec));
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

    fn options(
        &self,
        kills: u32,
        killed_any: bool,
        idle_at: &[u32],
        checked_at: &[u32],
    ) -> Vec<Choice> {
        let control = self.control.get();
        let mut options = Vec::new();
        for (actor, slot) in control.slots[..self.actors.len()].iter().enumerate() {
            let action = match slot.state.load(Ordering::Acquire) {
                // A spin step is a yield: spinning again before anyone else has moved
                // cannot change anything (after a kill it can: liveness checks).
                AT_POINT => {
                    let point = slot.point.load(Ordering::Relaxed);
                    // Spinning, or saying "not yet" at a deadline check, at a point this
                    // actor already passed idly since anyone else last moved cannot
                    // change anything: it would only repeat a full idle iteration. (A
                    // kill clears the masks: the spinner's next iteration runs its
                    // liveness check, which virtual time makes due at once.)
                    let run = idle_at[actor] & idle_bit(point) == 0;
                    (
                        run.then_some(Action::Run),
                        (point == POINT_TIMER).then_some(Action::Expire),
                    )
                }
                BLOCKED if slot.woken.load(Ordering::Relaxed) != 0 => (Some(Action::Wake), None),
                BLOCKED => {
                    // A liveness check can matter only after a kill, and only once per
                    // state it sleeps on until someone else moves (a checker that found
                    // its owner alive and sleeps on the same value would only repeat it).
                    let repeat = idle_at[actor] & LIVENESS_IDLE != 0
                        && checked_at[actor] == slot.wait_value.load(Ordering::Relaxed);
                    let check = (killed_any && !repeat).then_some(Action::Liveness);
                    match slot.wait_kind.load(Ordering::Relaxed) {
                        KIND_DEADLINE => (Some(Action::Expire), None),
                        KIND_LIVENESS => (check, None),
                        KIND_BOTH => (Some(Action::Expire), check),
                        _ => (None, None),
                    }
                }
                _ => (None, None),
            };
            for action in [action.0, action.1].into_iter().flatten() {
                options.push(Choice { actor, action });
            }
        }
        if kills < self.scenario.max_kills() {
            for (actor, slot) in control.slots[..self.actors.len()].iter().enumerate() {
                if matches!(slot.state.load(Ordering::Acquire), AT_POINT | BLOCKED)
                    && self.scenario.killable(actor)
                {
                    options.push(Choice {
                        actor,
                        action: Action::Kill,
                    });
                }
            }
        }
        options
    }

    /// The sleepers one pending futex wake may release, as `Pick` options (empty when no
    /// wake needs a choice). Wakes that leave no choice are handed out on the way.
    fn pending_picks(&self) -> Vec<Choice> {
        let control = self.control.get();
        for slot in &control.slots[..self.actors.len()] {
            while slot.wake_reqs_len.load(Ordering::Relaxed) > 0 {
                let req = slot.wake_reqs[0].load(Ordering::Relaxed);
                let left = (req >> 32) as u32;
                let candidates = (0..self.actors.len())
                    .filter(|&j| {
                        req & (1 << j) != 0
                            && control.slots[j].woken.load(Ordering::Relaxed) == 0
                            && control.slots[j].state.load(Ordering::Acquire) == BLOCKED
                    })
                    .collect::<Vec<_>>();
                if left > 0 && candidates.len() > left as usize {
                    return candidates
                        .into_iter()
                        .map(|actor| Choice {
                            actor,
                            action: Action::Pick,
                        })
                        .collect();
                }
                let mask = candidates.iter().fold(0u32, |m, &j| m | 1 << j);
                mark_woken(control, mask);
                pop_wake(slot);
            }
        }
        Vec::new()
    }

    /// The controller picked `actor` for the oldest pending wake.
    fn picked(&self, actor: usize) {
        let control = self.control.get();
        mark_woken(control, 1 << actor);
        let Some(slot) = control.slots[..self.actors.len()]
            .iter()
            .find(|s| s.wake_reqs_len.load(Ordering::Relaxed) > 0)
        else {
            return;
        };
        let req = slot.wake_reqs[0].load(Ordering::Relaxed);
        let left = (req >> 32).saturating_sub(1);
        if left == 0 {
            pop_wake(slot);
        } else {
            slot.wake_reqs[0].store(left << 32 | (req & 0xffff_ffff), Ordering::Relaxed);
        }
    }

    /// Run one case, with `chooser` making every choice.
    pub fn run_case(&mut self, chooser: &mut dyn Chooser) -> Result<CaseReport, HarnessError> {
        let n = self.actors.len();
        // `needs_reset`: a case ran since the last setup.
        if self.needs_rebuild || (self.needs_reset && self.scenario.fresh_each_case()) {
            self.rebuild();
        }
        if self.needs_reset {
            let early = |verdict| CaseReport {
                trace: Vec::new(),
                history: Vec::new(),
                killed: Vec::new(),
                verdict,
            };
            match self.janitor_call(JANITOR_RESET, &[]) {
                Some((JANITOR_OK, _)) => self.needs_reset = false,
                Some((_, message)) => {
                    self.needs_rebuild = true;
                    return Ok(early(Verdict::ResetFailed(message)));
                }
                None => {
                    self.needs_rebuild = true;
                    return Ok(early(Verdict::ResetStuck));
                }
            }
        }
        self.needs_reset = true;
        self.control.get().reset_case(n);
        let case_started = std::time::Instant::now();
        for k in 0..n {
            if self.actors[k].is_none() {
                self.spawn(k)?;
            }
        }
        let mut trace = Vec::new();
        let mut killed = Vec::new();
        // Per actor: the idle points (spin, timer) it passed since anyone else moved.
        let mut idle_at = vec![0u32; n];
        // Per actor: the word value it slept on at its last liveness check.
        let mut checked_at = vec![0u32; n];
        let verdict = loop {
            if let Err(verdict) = self.wait_parked() {
                break verdict;
            }
            let picks = self.pending_picks();
            let options = if picks.is_empty() {
                self.options(
                    killed.len() as u32,
                    !killed.is_empty(),
                    &idle_at,
                    &checked_at,
                )
            } else {
                picks
            };
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
            if case_started.elapsed() >= self.case_budget {
                break Verdict::TimeLimit;
            }
            let index = chooser.choose(trace.len(), &options).min(options.len() - 1);
            let choice = options[index];
            let code = self.control.get().slots[choice.actor]
                .point
                .load(Ordering::Relaxed);
            if choice.action == Action::Run && is_read(code) {
                // A load writes nothing: it neither repeats an idle iteration nor counts
                // as progress for the others.
            } else if choice.action == Action::Run && idle_bit(code) != 0 {
                idle_at[choice.actor] |= idle_bit(code);
            } else if choice.action == Action::Liveness {
                idle_at[choice.actor] |= LIVENESS_IDLE;
                checked_at[choice.actor] = self.control.get().slots[choice.actor]
                    .wait_value
                    .load(Ordering::Relaxed);
            } else {
                idle_at.iter_mut().for_each(|m| *m = 0);
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
                Action::Liveness => self.go(choice.actor, GO_LIVENESS),
                Action::Pick => self.picked(choice.actor),
                Action::Kill => {
                    if let Some(mut p) = self.actors[choice.actor].take() {
                        let _ = p.kill();
                        let _ = p.join();
                    }
                    self.control.get().slots[choice.actor]
                        .state
                        .store(DEAD, Ordering::Release);
                    self.control.get().kills.fetch_add(1, Ordering::Relaxed);
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
        // Actors stuck mid-case (deadlock, step limit) cannot be reused: replace them
        // (killing them first, so that what they hold is a dead owner's for the janitor).
        let finished = |k: usize| control.slots[k].state.load(Ordering::Acquire) == FINISHED;
        for k in 0..n {
            if !self.pooled || !finished(k) {
                self.retire(k);
            }
        }
        let verdict = match verdict {
            Verdict::Pass => {
                let failed =
                    (0..n).find(|&k| control.slots[k].panicked.load(Ordering::Relaxed) != 0);
                match failed {
                    Some(actor) => Verdict::ActorFailed {
                        actor,
                        message: control.message(actor),
                    },
                    // The property is checked in the janitor, never here: the state may
                    // hold a lock that a buggy primitive left held.
                    None => match self.janitor_call(JANITOR_CHECK, &killed) {
                        Some((JANITOR_OK, _)) => Verdict::Pass,
                        Some((JANITOR_FAILED, m)) => Verdict::PropertyFailed(m),
                        Some((_, m)) => Verdict::ResetFailed(m),
                        None => Verdict::ResetStuck,
                    },
                }
            }
            v => v,
        };
        // Whatever a failure left behind (a lock held by a live pooled actor, a half-done
        // update) must not reach the next case through `reset`, which could hang on it:
        // the next case starts over with fresh actors and a fresh state. (Not now: the
        // caller may still look at this case's final state.)
        self.needs_rebuild = verdict.is_failure();
        Ok(CaseReport {
            trace,
            history,
            killed,
            verdict,
        })
    }

    /// Kill every actor and the janitor and set the scenario up afresh (after a failing
    /// case, or a reset that hung).
    fn rebuild(&mut self) {
        for k in 0..self.actors.len() {
            self.actors[k] = None; // dropping the Process kills and reaps it
        }
        self.janitor = None;
        self.state = self.scenario.setup();
        self.needs_reset = false;
        self.needs_rebuild = false;
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
        if let Some(mut janitor) = self.janitor.take() {
            let j = &self.control.get().janitor;
            j.go.store(JANITOR_QUIT, Ordering::Release);
            signal(&j.go, &j.go_sleeping);
            // A janitor that does not quit within its budget is killed.
            if !matches!(janitor.join_timeout(self.janitor_budget), Ok(Some(_))) {
                drop(janitor);
            }
        }
    }
}

/// The janitor process: resets the scenario's state and checks its property on the
/// controller's behalf, with no scheduler installed (so real liveness checks recover
/// locks of killed actors). If either hangs, on a lock a buggy primitive left held, only
/// the janitor hangs: the controller reports [`Verdict::ResetStuck`] after its budget and
/// kills it. Never returns.
fn janitor_main<S: Scenario>(control: &'static Control, scenario: &S, state: &S::State) -> ! {
    let j = &control.janitor;
    loop {
        let command = loop {
            let c = j.go.swap(0, Ordering::Acquire);
            if c != 0 {
                break c;
            }
            sleep_on(&j.go, 0, &j.go_sleeping, None);
        };
        let panic_text = |p: Box<dyn std::any::Any + Send>| {
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into())
        };
        let (result, message) = match command {
            JANITOR_RESET => match catch_unwind(AssertUnwindSafe(|| scenario.reset(state))) {
                Ok(()) => (JANITOR_OK, String::new()),
                Err(p) => (JANITOR_RESET_FAILED, panic_text(p)),
            },
            JANITOR_CHECK => {
                let bits = j.killed.load(Ordering::Relaxed);
                let killed: Vec<usize> = (0..MAX_ACTORS).filter(|k| bits & (1 << k) != 0).collect();
                let history = read_history(control);
                match catch_unwind(AssertUnwindSafe(|| {
                    scenario.check(state, &history, &killed)
                })) {
                    Ok(Ok(())) => (JANITOR_OK, String::new()),
                    Ok(Err(m)) => (JANITOR_FAILED, m),
                    Err(p) => (
                        JANITOR_FAILED,
                        format!("the property check panicked: {}", panic_text(p)),
                    ),
                }
            }
            _ => {
                // SAFETY: leaving the janitor process at once, as a forked child must.
                unsafe { libc::_exit(0) }
            }
        };
        crate::control::write_text(&j.message, &message);
        j.result.store(result, Ordering::Release);
        signal(&j.result, &j.result_sleeping);
    }
}

/// Drop the oldest pending wake of `slot`.
fn pop_wake(slot: &crate::control::Slot) {
    let len = slot.wake_reqs_len.load(Ordering::Relaxed) as usize;
    for i in 1..len {
        let next = slot.wake_reqs[i].load(Ordering::Relaxed);
        slot.wake_reqs[i - 1].store(next, Ordering::Relaxed);
    }
    slot.wake_reqs_len
        .store(len.saturating_sub(1) as u32, Ordering::Relaxed);
}

/// Is `point` a read (a data load, or a load of one of the facade's atomics)?
fn is_read(point: u32) -> bool {
    point == crate::actor::POINT_LOAD || point == crate::actor::POINT_ATOMIC_LOAD
}

/// The idle-mask bit of a liveness check (see `options`).
const LIVENESS_IDLE: u32 = 4;

/// The bit of an idle point (a spin step, or a deadline check answered "not yet") in a
/// runner's per-actor idle mask; 0 for every other point.
fn idle_bit(point: u32) -> u32 {
    match point {
        POINT_SPIN => 1,
        POINT_TIMER => 2,
        _ => 0,
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
            Action::Liveness => "liveness check".to_string(),
            Action::Pick => "picked by the wake".to_string(),
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
