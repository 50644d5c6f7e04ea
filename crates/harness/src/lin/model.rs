//! The [`Model`] trait: a sequential specification the checker linearizes against.
//!
//! A model describes *one* object. The checker splits a history per key (see
//! [`History::partition`](super::History::partition)) and runs a fresh copy of the model's
//! initial state on each part, unless [`Model::partitioned`] says the model's operations
//! span several keys.
//!
//! Operations are parsed once, before the search ([`Model::parse_call`],
//! [`Model::parse_output`]), so the search's inner loop works on typed values and a bad
//! operation is a typed [`OpError`], never a panic.

use super::error::OpError;
use serde_json::Value;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification of one object.
///
/// The checker splits a history per key and runs each part from a fresh [`init`]
/// state (unless [`partitioned`] says otherwise), so a model describes a single object:
/// a register, one queue, one key of a map. Operations are parsed once, before the
/// search, into [`Call`] and [`Output`] values; a bad operation is reported as an
/// [`OpError`], and `step` never sees it.
///
/// [`init`]: Model::init
/// [`partitioned`]: Model::partitioned
/// [`Call`]: Model::Call
/// [`Output`]: Model::Output
///
/// `step` answers "in state `s`, can this call have returned this output, and what is the
/// state afterwards?"; `step_unknown` answers the same for a call whose output is unknown
/// (an indeterminate operation, or one the minimiser weakened), listing every state it may
/// leave. Both must be deterministic functions of their arguments.
///
/// # Adding a model
///
/// A grow-only set with `add(v)` and `read → [values]`; a read returns the members in
/// any order. Partitioned by key like the built-in models, so one model value describes
/// one set:
///
/// ```
/// use procshare_harness::lin::{check, History, Model, OpError, Operation};
/// use serde_json::{json, Value};
/// use std::collections::BTreeSet;
///
/// struct GSet;
///
/// #[derive(Debug)]
/// enum Call {
///     Add(i64),
///     Read,
/// }
///
/// impl Model for GSet {
///     type State = BTreeSet<i64>; // canonical: equal sets are equal states
///     type Call = Call;
///     type Output = Option<BTreeSet<i64>>; // what `read` returned
///
///     fn name(&self) -> &'static str {
///         "GSet"
///     }
///     fn init(&self) -> BTreeSet<i64> {
///         BTreeSet::new()
///     }
///     fn parse_call(&self, op: &str, _key: Option<&str>, input: &Value) -> Result<Call, OpError> {
///         match op {
///             "add" => input
///                 .as_i64()
///                 .map(Call::Add)
///                 .ok_or_else(|| OpError::bad_input(op, "an integer", input)),
///             "read" => Ok(Call::Read),
///             _ => Err(OpError::unknown(self.name(), op)),
///         }
///     }
///     fn parse_output(&self, call: &Call, output: &Value) -> Result<Self::Output, OpError> {
///         match call {
///             Call::Add(_) => Ok(None),
///             Call::Read => output
///                 .as_array()
///                 .and_then(|items| items.iter().map(Value::as_i64).collect())
///                 .map(Some)
///                 .ok_or_else(|| OpError::bad_output("read", "an array of integers", output)),
///         }
///     }
///     fn step(&self, state: &BTreeSet<i64>, call: &Call, output: &Self::Output) -> Option<BTreeSet<i64>> {
///         match call {
///             Call::Add(v) => {
///                 let mut next = state.clone();
///                 next.insert(*v);
///                 Some(next)
///             }
///             Call::Read => (output.as_ref() == Some(state)).then(|| state.clone()),
///         }
///     }
///     fn step_unknown(&self, state: &BTreeSet<i64>, call: &Call) -> Vec<BTreeSet<i64>> {
///         match call {
///             Call::Add(v) => {
///                 let mut next = state.clone();
///                 next.insert(*v);
///                 vec![next]
///             }
///             Call::Read => vec![state.clone()],
///         }
///     }
/// }
///
/// // add(1) returns; then a read misses it.
/// let history = History::from(vec![
///     Operation::completed(0, "add", json!(1), 0, 1, json!(null)),
///     Operation::completed(1, "read", json!(null), 2, 3, json!([])),
/// ]);
/// assert!(check(&GSet, &history).unwrap().is_illegal());
/// // A timed-out add (unknown outcome) may land after a read that misses it.
/// let history = History::from(vec![
///     Operation::info(0, "add", json!(1), 0, 1),
///     Operation::completed(1, "read", json!(null), 2, 3, json!([])),
///     Operation::completed(1, "read", json!(null), 4, 5, json!([1])),
/// ]);
/// assert!(check(&GSet, &history).unwrap().is_ok());
/// ```
pub trait Model: Sync {
    /// The object's state. Hashed and compared by Lowe's memoisation cache, so keep it
    /// small and canonical (two states that behave the same should be equal).
    type State: Clone + Eq + Hash + Debug;
    /// A parsed call (operation name, key and input). `Sync`: partitions are checked on
    /// several threads.
    type Call: Debug + Sync;
    /// A parsed output.
    type Output: Debug + Sync;

    /// The model's name, for error messages.
    fn name(&self) -> &'static str;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Parses an operation's name, key and input.
    fn parse_call(&self, op: &str, key: Option<&str>, input: &Value)
        -> Result<Self::Call, OpError>;

    /// Parses the output of a completed call (`Value::Null` when none was recorded).
    fn parse_output(&self, call: &Self::Call, output: &Value) -> Result<Self::Output, OpError>;

    /// The state after `call` returned `output` in `state`, or `None` if that is
    /// impossible.
    fn step(
        &self,
        state: &Self::State,
        call: &Self::Call,
        output: &Self::Output,
    ) -> Option<Self::State>;

    /// Every state `call` may leave when applied to `state` with an unknown output (each
    /// listed once; returning `state` itself is allowed and ignored, since "not applied"
    /// is always an option for an indeterminate operation).
    fn step_unknown(&self, state: &Self::State, call: &Self::Call) -> Vec<Self::State>;

    /// [`step_unknown`](Model::step_unknown) without the vector: calls `each` with every
    /// state it lists. The search calls this once per pending operation it tries at every
    /// node; the default collects `step_unknown`, and a model whose operations leave one
    /// state each may override it to spare that allocation (the register does). An
    /// override must produce exactly the states `step_unknown` lists, except that it may
    /// leave out `state` itself (the search ignores it anyway).
    fn each_unknown_step(
        &self,
        state: &Self::State,
        call: &Self::Call,
        each: &mut dyn FnMut(Self::State),
    ) {
        for next in self.step_unknown(state, call) {
            each(next);
        }
    }

    /// True (the default) if operations on different keys act on independent objects, so
    /// the checker may check each key's sub-history on its own. A model whose operations
    /// read or write several keys at once returns false; it then sees the whole history,
    /// with each operation's key passed to [`parse_call`](Model::parse_call).
    fn partitioned(&self) -> bool {
        true
    }
}
