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

    /// True (the default) if operations on different keys act on independent objects, so
    /// the checker may check each key's sub-history on its own. A model whose operations
    /// read or write several keys at once returns false; it then sees the whole history,
    /// with each operation's key passed to [`parse_call`](Model::parse_call).
    fn partitioned(&self) -> bool {
        true
    }
}
