//! The `Scenario` trait: what the harness runs, and the `Recorder` actors write their
//! history with.

use crate::control::{Control, MAX_EVENTS};
use std::sync::atomic::Ordering;

/// A concurrent scenario: shared state, one body per actor, and the property that must
/// hold on what is left at the end.
///
/// The state is created once by the controller, before the actor processes are forked,
/// so it must live in shared memory (`Value`, `Array`, `Shared<…>`, …) for the actors'
/// writes to be seen. Actor bodies run in forked processes: they must follow
/// `procshare::process`'s rules (no `println!`), and report failures as `Err` rather than
/// panicking where they can. Adding a scenario is writing one type that implements this
/// trait; nothing in the harness changes.
pub trait Scenario: Sync {
    /// The shared state.
    type State: Sync;

    /// A name for reports, e.g. `counter-2x2/futex`.
    fn name(&self) -> String;

    /// Number of actors (2 to [`MAX_ACTORS`](crate::control::MAX_ACTORS)).
    fn actors(&self) -> usize;

    /// How many "SIGKILL actor k now" choices a schedule may make (default 0: none).
    fn max_kills(&self) -> u32 {
        0
    }

    /// Whether a schedule may kill actor `actor` (default: every actor may be killed, up
    /// to [`max_kills`](Scenario::max_kills) of them). For a scenario whose property is
    /// about what a death does to the *others*, when one actor's death would make the
    /// property meaningless (a notifier killed leaves waiters waiting, as it should).
    fn killable(&self, actor: usize) -> bool {
        let _ = actor;
        true
    }

    /// Whether every case starts from a state set up afresh, with fresh actors, instead
    /// of a reset one (default: false, the pooled runner resets). For a state that
    /// remembers who took part in a way `reset` cannot undo, so that a replay token gives
    /// the same run on a pooled runner as on a fresh one. The queue's registrations are
    /// such a state: once any producer has registered (an earlier case's, or the
    /// janitor's usability probe), a consumer whose producers are all dead is told
    /// `Disconnected`, where on a fresh queue it times out.
    fn fresh_each_case(&self) -> bool {
        false
    }

    /// Schedule points at every access to the facade's atomics, besides the
    /// operation-level ones (default false: operation level only). Finer points reach
    /// bugs that live between a load and its store; they make cases longer (see
    /// `docs/results/` for the cost in schedules per second). Wrap any scenario in
    /// [`AtomicGranularity`] to turn them on.
    fn atomic_points(&self) -> bool {
        false
    }

    /// Create the shared state.
    fn setup(&self) -> Self::State;

    /// Put the state back to its initial value before a case (no actor runs meanwhile).
    ///
    /// Runs in the runner's *janitor* process, never in the controller, with a time
    /// budget: a reset that blocks (on a lock a buggy primitive left held) ends the case
    /// as `Verdict::ResetStuck` instead of hanging the run. After a failing case the
    /// runner sets the scenario up afresh instead of resetting.
    fn reset(&self, state: &Self::State);

    /// Actor `actor`'s steps. Schedule points inside the primitives it uses decide the
    /// interleaving.
    fn run(&self, state: &Self::State, actor: usize, rec: &Recorder) -> Result<(), String>;

    /// A name for operation code `op` in traces and tables (default `op<N>`).
    fn op_name(&self, op: u32) -> String {
        format!("op{op}")
    }

    /// The property, checked on the final state and the recorded history. `killed` lists
    /// the actors killed by crash injection. Like `reset`, it runs in the janitor process
    /// with a time budget, so it may take locks freely.
    fn check(&self, state: &Self::State, history: &[Event], killed: &[usize])
        -> Result<(), String>;
}

/// One history event: an operation's invocation or its return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    /// The actor.
    pub client: u32,
    /// Identifies the operation (the same for its invoke and its return).
    pub id: u32,
    /// True for the return, false for the invocation.
    pub is_return: bool,
    /// Scenario-defined operation code.
    pub op: u32,
    /// Scenario-defined object or key.
    pub key: u32,
    /// Input (invoke) or output (return).
    pub value: u64,
    /// Logical time: a total order of all events of the case.
    pub clock: u64,
}

/// Records invoke/return events into the case's shared history, on the shared logical
/// clock. Only one actor runs at a time under the controller, so the clock order is the
/// real order.
#[derive(Debug)]
pub struct Recorder {
    control: &'static Control,
    client: u32,
}

/// Handle returned by [`Recorder::invoke`], passed to [`Recorder::ret`].
#[derive(Debug, Clone, Copy)]
pub struct OpId {
    id: u32,
    op: u32,
    key: u32,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Recorder {
    pub(crate) fn new(control: &'static Control, client: u32) -> Self {
        Recorder { control, client }
    }

    fn push(&self, id: u32, is_return: bool, op: u32, key: u32, value: u64) {
        let i = self.control.events.fetch_add(1, Ordering::Relaxed) as usize;
        if i >= MAX_EVENTS {
            return;
        }
        let e = &self.control.history[i];
        e.client.store(self.client, Ordering::Relaxed);
        e.id.store(id, Ordering::Relaxed);
        e.kind.store(u32::from(is_return), Ordering::Relaxed);
        e.op.store(op, Ordering::Relaxed);
        e.key.store(key, Ordering::Relaxed);
        e.value.store(value, Ordering::Relaxed);
        let clock = self.control.clock.fetch_add(1, Ordering::Relaxed);
        e.clock.store(clock, Ordering::Release);
    }

    /// Record that operation `op` on `key` with `input` starts now.
    pub fn invoke(&self, op: u32, key: u32, input: u64) -> OpId {
        let id = self.control.next_op.fetch_add(1, Ordering::Relaxed);
        self.push(id, false, op, key, input);
        OpId { id, op, key }
    }

    /// Record that the operation returned `output`.
    pub fn ret(&self, op: OpId, output: u64) {
        self.push(op.id, true, op.op, op.key, output);
    }
}

pub(crate) fn read_history(control: &Control) -> Vec<Event> {
    read_history_from(control, 0)
}

/// The events recorded from index `from` on.
pub(crate) fn read_history_from(control: &Control, from: usize) -> Vec<Event> {
    let n = (control.events.load(Ordering::Acquire) as usize).min(MAX_EVENTS);
    control.history[from.min(n)..n]
        .iter()
        .map(|e| Event {
            client: e.client.load(Ordering::Relaxed),
            id: e.id.load(Ordering::Relaxed),
            is_return: e.kind.load(Ordering::Relaxed) == 1,
            op: e.op.load(Ordering::Relaxed),
            key: e.key.load(Ordering::Relaxed),
            value: e.value.load(Ordering::Relaxed),
            clock: e.clock.load(Ordering::Acquire),
        })
        .collect()
}

/// Turn a recorded history into one the linearizability checker ([`crate::lin`]) reads:
/// each invocation is paired with its return by operation id; an operation that never
/// returned (its actor was killed) becomes *indeterminate*. `name` names an operation
/// code, `input`/`output` turn an invoke/return event's value into the model's JSON.
pub fn lin_history(
    events: &[Event],
    name: impl Fn(u32) -> String,
    input: impl Fn(&Event) -> serde_json::Value,
    output: impl Fn(&Event) -> serde_json::Value,
) -> crate::lin::History {
    use crate::lin::{History, Operation};
    let mut history = History::new();
    for call in events.iter().filter(|e| !e.is_return) {
        let ret = events
            .iter()
            .find(|e| e.is_return && e.id == call.id && e.client == call.client);
        let op = match ret {
            Some(r) => Operation::completed(
                call.client,
                name(call.op),
                input(call),
                call.clock,
                r.clock,
                output(r),
            ),
            None => Operation::indeterminate(call.client, name(call.op), input(call), call.clock),
        };
        history.push(op.with_key(call.key.to_string()));
    }
    history
}

/// Any scenario, run with schedule points at every atomic access of the primitives it
/// uses ([`Scenario::atomic_points`]); its name gets an `@atomic` suffix.
#[derive(Debug)]
pub struct AtomicGranularity<S>(pub S);

impl<S: Scenario> Scenario for AtomicGranularity<S> {
    type State = S::State;
    fn name(&self) -> String {
        format!("{}@atomic", self.0.name())
    }
    fn actors(&self) -> usize {
        self.0.actors()
    }
    fn max_kills(&self) -> u32 {
        self.0.max_kills()
    }
    fn killable(&self, actor: usize) -> bool {
        self.0.killable(actor)
    }
    fn fresh_each_case(&self) -> bool {
        self.0.fresh_each_case()
    }
    fn atomic_points(&self) -> bool {
        true
    }
    fn setup(&self) -> Self::State {
        self.0.setup()
    }
    fn reset(&self, state: &Self::State) {
        self.0.reset(state)
    }
    fn run(&self, state: &Self::State, actor: usize, rec: &Recorder) -> Result<(), String> {
        self.0.run(state, actor, rec)
    }
    fn op_name(&self, op: u32) -> String {
        self.0.op_name(op)
    }
    fn check(
        &self,
        state: &Self::State,
        history: &[Event],
        killed: &[usize],
    ) -> Result<(), String> {
        self.0.check(state, history, killed)
    }
}
