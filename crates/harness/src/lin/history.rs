//! The data model: a [`History`] of [`Operation`]s, and its JSON form.
//!
//! An operation is one call of one client on one object, with logical-clock call and return
//! times. A missing return marks an *indeterminate* operation (its client crashed or was
//! killed): it may have taken effect at any time after its call, or not at all. The JSON
//! format is documented in the [module docs](super#json-format); it maps one to one onto
//! [`Operation`]'s fields, and [`History::from_json`] validates what serde cannot
//! (returns before calls, outputs of indeterminate operations).

use super::error::LinError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// One operation of a history.
///
/// Built with [`Operation::completed`] or [`Operation::indeterminate`], then
/// [`with_key`](Operation::with_key) for keyed objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// The actor (process or thread) that made the call.
    pub client: u32,
    /// Logical time of the call.
    pub call: u64,
    /// Logical time of the return; `None` for an indeterminate operation.
    #[serde(rename = "return", default)]
    pub ret: Option<u64>,
    /// The operation's name, interpreted by the [`Model`](super::Model).
    pub op: String,
    /// The object or key the operation acts on; operations on different keys are checked
    /// independently (see [`History::partition`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The argument (`null` when there is none; an array for several, e.g. `cas`).
    #[serde(default)]
    pub input: Value,
    /// The result: `None` for an indeterminate operation. For a completed operation
    /// `None` and `Some(Value::Null)` mean the same (JSON `null`: "no value", e.g. the
    /// acknowledgement of a write or an empty dequeue).
    #[serde(default)]
    pub output: Option<Value>,
    /// True if the operation returned at `ret` but its outcome is unknown (Jepsen's
    /// `:info`, a client-side timeout): it may have taken effect at any point after its
    /// call, *including after it returned*, or not at all, and its output is unknown.
    /// This is not a read that returned `null`. JSON: `"unknown": true` (absent: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
}

impl Operation {
    /// A completed operation: `client` called `op(input)` at `call` and got `output` at
    /// `ret`.
    pub fn completed(
        client: u32,
        op: impl Into<String>,
        input: Value,
        call: u64,
        ret: u64,
        output: Value,
    ) -> Self {
        Operation {
            client,
            call,
            ret: Some(ret),
            op: op.into(),
            key: None,
            input,
            output: Some(output),
            unknown: false,
        }
    }

    /// An indeterminate operation: `client` called `op(input)` at `call` and never
    /// returned (crashed, killed, timed out).
    pub fn indeterminate(client: u32, op: impl Into<String>, input: Value, call: u64) -> Self {
        Operation {
            client,
            call,
            ret: None,
            op: op.into(),
            key: None,
            input,
            output: None,
            unknown: false,
        }
    }

    /// An operation whose outcome is unknown (Jepsen's `:info`): `client` called
    /// `op(input)` at `call` and at `ret` learnt only that it does not know whether it
    /// took effect (a timeout, a lost connection). It may take effect at any time after
    /// `call`, also after `ret`, or never; see [`unknown`](Operation::unknown).
    pub fn info(client: u32, op: impl Into<String>, input: Value, call: u64, ret: u64) -> Self {
        Operation {
            client,
            call,
            ret: Some(ret),
            op: op.into(),
            key: None,
            input,
            output: None,
            unknown: true,
        }
    }

    /// The same operation on object/key `key`.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// True if the operation's outcome is unknown: it never returned, or it returned
    /// without an outcome ([`unknown`](Operation::unknown)). The checker treats both the
    /// same way: the operation may take effect at any time after its call, or never.
    pub fn is_indeterminate(&self) -> bool {
        self.ret.is_none() || self.unknown
    }

    /// The output of a completed operation (`Value::Null` when none was recorded), `None`
    /// for an indeterminate one.
    pub fn output_value(&self) -> Option<&Value> {
        const NULL: Value = Value::Null;
        if self.is_indeterminate() {
            return None;
        }
        Some(self.output.as_ref().unwrap_or(&NULL))
    }

    /// Checks what serde cannot: the return is not before the call, and an indeterminate
    /// operation has no output. `index` is only used in the error.
    pub fn validate(&self, index: usize) -> Result<(), LinError> {
        match (self.ret, &self.output) {
            (Some(ret), _) if ret < self.call => Err(LinError::ReturnBeforeCall {
                index,
                call: self.call,
                ret,
            }),
            (None, Some(output)) if !output.is_null() => Err(LinError::OutputWithoutReturn {
                index,
                output: output.clone(),
            }),
            (Some(_), Some(output)) if self.unknown && !output.is_null() => {
                Err(LinError::OutputWithoutReturn {
                    index,
                    output: output.clone(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Renders the operation as a table cell: `write(1) → ok`, `read → 3`, `cas(1, 2) → ?`,
/// `get(x) → nil`.
///
/// The key (if any) comes first among the arguments, then the input (an array input
/// spreads into several arguments). An indeterminate operation's result is `?`. A `null`
/// output reads `ok` for an operation that has an input (a write-like call) and `nil` for
/// one that has none (a read of nothing, an empty dequeue). [`Operation::describe`] does
/// the same with long values elided.
impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(usize::MAX))
    }
}

impl Operation {
    /// The operation as its [`Display`](fmt::Display) form, with every value (argument or
    /// output) longer than `max_value` characters cut to its first `max_value - 1`
    /// characters and `…`.
    ///
    /// ```
    /// use procshare_harness::lin::Operation;
    /// use serde_json::json;
    ///
    /// let op = Operation::completed(3, "get", json!(null), 0, 1, json!("abcdefghij")).with_key("k");
    /// assert_eq!(op.describe(6), r#"get(k) → "abcd…"#);
    /// ```
    pub fn describe(&self, max_value: usize) -> String {
        let elide = |text: String| -> String {
            if text.chars().count() <= max_value {
                text
            } else {
                let keep = max_value.saturating_sub(1);
                let mut cut: String = text.chars().take(keep).collect();
                cut.push('…');
                cut
            }
        };
        let mut args: Vec<String> = Vec::new();
        if let Some(key) = &self.key {
            args.push(elide(key.clone()));
        }
        match &self.input {
            Value::Null => {}
            Value::Array(items) => args.extend(items.iter().map(|v| elide(v.to_string()))),
            other => args.push(elide(other.to_string())),
        }
        let mut out = self.op.clone();
        if !args.is_empty() {
            out.push('(');
            out.push_str(&args.join(", "));
            out.push(')');
        }
        match self.output_value() {
            None => out.push_str(" → ?"),
            Some(Value::Null) if self.input.is_null() => out.push_str(" → nil"),
            Some(Value::Null) => out.push_str(" → ok"),
            Some(v) => {
                out.push_str(" → ");
                out.push_str(&elide(v.to_string()));
            }
        }
        out
    }
}

/// A recorded history: operations in any order (the checker orders them by time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct History {
    ops: Vec<Operation>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History::default()
    }

    /// Adds an operation.
    pub fn push(&mut self, op: Operation) {
        self.ops.push(op);
    }

    /// The operations, in insertion order.
    pub fn ops(&self) -> &[Operation] {
        &self.ops
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if there are no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks every operation with [`Operation::validate`].
    pub fn validate(&self) -> Result<(), LinError> {
        self.ops
            .iter()
            .enumerate()
            .try_for_each(|(i, op)| op.validate(i))
    }

    /// Parses and validates a history in the [JSON format](super#json-format).
    ///
    /// A completed operation's `null` output is stored as `Some(Value::Null)`, so that
    /// `from_json(h.to_json())` gives back `h` for any history this function returned.
    pub fn from_json(text: &str) -> Result<History, LinError> {
        let mut history: History = serde_json::from_str(text)?;
        history.validate()?;
        for op in &mut history.ops {
            if !op.is_indeterminate() && op.output.is_none() {
                op.output = Some(Value::Null);
            }
            if op.is_indeterminate() {
                op.output = None;
            }
        }
        Ok(history)
    }

    /// The history in the [JSON format](super#json-format), one operation per line.
    pub fn to_json(&self) -> String {
        let mut out = String::from("[");
        for (i, op) in self.ops.iter().enumerate() {
            out.push_str(if i == 0 { "\n  " } else { ",\n  " });
            // Serializing a struct of strings, integers and `Value`s cannot fail.
            out.push_str(&serde_json::to_string(op).unwrap_or_default());
        }
        out.push_str(if self.ops.is_empty() { "]" } else { "\n]" });
        out
    }

    /// The sub-histories per key (P-compositionality): operations on different keys act
    /// on different objects, and a history is linearizable iff each of these is
    /// (linearizability is local, Herlihy & Wing 1990). Operations without a key form the
    /// `None` partition. Each partition keeps the original relative order.
    pub fn partition(&self) -> BTreeMap<Option<&str>, History> {
        let mut parts: BTreeMap<Option<&str>, History> = BTreeMap::new();
        for op in &self.ops {
            parts.entry(op.key.as_deref()).or_default().push(op.clone());
        }
        parts
    }
}

impl From<Vec<Operation>> for History {
    fn from(ops: Vec<Operation>) -> Self {
        History { ops }
    }
}

impl FromIterator<Operation> for History {
    fn from_iter<I: IntoIterator<Item = Operation>>(iter: I) -> Self {
        History {
            ops: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for History {
    type Item = Operation;
    type IntoIter = std::vec::IntoIter<Operation>;
    fn into_iter(self) -> Self::IntoIter {
        self.ops.into_iter()
    }
}

impl<'a> IntoIterator for &'a History {
    type Item = &'a Operation;
    type IntoIter = std::slice::Iter<'a, Operation>;
    fn into_iter(self) -> Self::IntoIter {
        self.ops.iter()
    }
}

impl Extend<Operation> for History {
    fn extend<I: IntoIterator<Item = Operation>>(&mut self, iter: I) {
        self.ops.extend(iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> History {
        History::from(vec![
            Operation::completed(0, "write", json!(1), 0, 3, json!(null)).with_key("x"),
            Operation::completed(1, "read", json!(null), 1, 2, json!(0)).with_key("x"),
            Operation::indeterminate(2, "cas", json!([1, 2]), 4),
            Operation::completed(1, "read", json!(null), 5, 5, json!({"a": [1, "b"]})),
        ])
    }

    #[test]
    fn json_round_trip() {
        let h = sample();
        let text = h.to_json();
        assert_eq!(History::from_json(&text).unwrap(), h);
        // And the text is stable.
        assert_eq!(History::from_json(&text).unwrap().to_json(), text);
        assert_eq!(History::new().to_json(), "[]");
        assert_eq!(History::from_json("[]").unwrap(), History::new());
    }

    #[test]
    fn json_shape() {
        let text = sample().to_json();
        let first = text.lines().nth(1).unwrap();
        assert_eq!(
            first,
            r#"  {"client":0,"call":0,"return":3,"op":"write","key":"x","input":1,"output":null},"#
        );
        let third = text.lines().nth(3).unwrap();
        assert_eq!(
            third,
            r#"  {"client":2,"call":4,"return":null,"op":"cas","input":[1,2],"output":null},"#
        );
    }

    #[test]
    fn json_defaults() {
        // `return`, `key`, `input` and `output` may be absent.
        let h = History::from_json(r#"[{"client": 3, "call": 7, "op": "read"}]"#).unwrap();
        let op = &h.ops()[0];
        assert_eq!(op.ret, None);
        assert_eq!(op.key, None);
        assert_eq!(op.input, Value::Null);
        assert_eq!(op.output, None);
        let h =
            History::from_json(r#"[{"client": 3, "call": 7, "return": 9, "op": "w"}]"#).unwrap();
        assert_eq!(h.ops()[0].output, Some(Value::Null));
    }

    #[test]
    fn json_return_before_call() {
        let err = History::from_json(
            r#"[{"client":0,"call":1,"return":2,"op":"read","output":0},
                {"client":0,"call":5,"return":4,"op":"read","output":0}]"#,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            LinError::ReturnBeforeCall {
                index: 1,
                call: 5,
                ret: 4
            }
        ));
    }

    #[test]
    fn json_output_without_return() {
        let err =
            History::from_json(r#"[{"client":0,"call":1,"return":null,"op":"read","output":3}]"#)
                .unwrap_err();
        assert!(matches!(
            err,
            LinError::OutputWithoutReturn { index: 0, .. }
        ));
    }

    #[test]
    fn json_malformed() {
        for text in [
            "",
            "{",
            r#"{"client":0}"#,                                 // not an array
            r#"[{"call":1,"op":"read"}]"#,                     // no client
            r#"[{"client":0,"op":"read"}]"#,                   // no call
            r#"[{"client":0,"call":1}]"#,                      // no op
            r#"[{"client":-1,"call":1,"op":"read"}]"#,         // negative client
            r#"[{"client":0,"call":"1","op":"read"}]"#,        // string time
            r#"[{"client":0,"call":1,"op":7}]"#,               // op not a string
            r#"[{"client":0,"call":1,"op":"read","ret":2}]"#,  // unknown field
            r#"[{"client":0,"call":1,"op":"read","key":5}]"#,  // key not a string
            r#"[{"client":0,"call":1,"op":"read"}] trailing"#, // trailing garbage
            r#"[{"client":4294967296,"call":1,"op":"read"}]"#, // client overflows u32
        ] {
            match History::from_json(text) {
                Err(LinError::Json(_)) => {}
                other => panic!("{text:?}: expected a JSON error, got {other:?}"),
            }
        }
    }

    #[test]
    fn display_cells() {
        let cells: Vec<String> = sample().ops().iter().map(ToString::to_string).collect();
        assert_eq!(
            cells,
            [
                "write(x, 1) → ok",
                "read(x) → 0",
                "cas(1, 2) → ?",
                r#"read → {"a":[1,"b"]}"#
            ]
        );
        let empty = Operation::completed(0, "dequeue", Value::Null, 0, 1, Value::Null);
        assert_eq!(empty.to_string(), "dequeue → nil");
    }

    #[test]
    fn partition_by_key() {
        let h = sample();
        let parts = h.partition();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[&Some("x")].len(), 2);
        assert_eq!(parts[&None].len(), 2);
    }
}
