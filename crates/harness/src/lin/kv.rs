//! [`KeyValue`]: porcupine's key-value store of strings, with `get`, `put` and `append`.
//!
//! The operations, their inputs and outputs are documented on the type.

use super::error::OpError;
use super::model::Model;
use serde_json::Value;
use std::sync::Arc;

/// A map from string keys to string values in which an absent key reads as the empty
/// string (porcupine's `kvModel`, the store of MIT 6.824's labs and of Jepsen's
/// append tests).
///
/// | op       | key      | input      | output                         | effect                    |
/// |----------|----------|------------|--------------------------------|---------------------------|
/// | `get`    | required | `null`     | the value, `""` if absent      | none                      |
/// | `put`    | required | a string   | ignored                        | `map[key] := input`       |
/// | `append` | required | a string   | ignored                        | `map[key] := map[key] + input` |
///
/// Every operation touches one key, so the checker checks each key on its own (the
/// state is the one key's value). `get`'s output must be a string: `null` is rejected as
/// a [`OpError::BadOutput`], since this store has no "absent" answer (it reads `""`).
/// The state is a shared string (`Arc<str>`): cloning it for every search step costs a
/// reference count, not a copy of a value that appends make long.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyValue;

/// A parsed [`KeyValue`] call (the key is the partition's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvCall {
    /// `get(key)`.
    Get,
    /// `put(key, v)`.
    Put(Arc<str>),
    /// `append(key, v)`.
    Append(Arc<str>),
}

impl Model for KeyValue {
    /// The value of the partition's key (`""` when absent).
    type State = Arc<str>;
    type Call = KvCall;
    /// The string `get` returned; `None` for `put` and `append`.
    type Output = Option<Arc<str>>;

    fn name(&self) -> &'static str {
        "KeyValue"
    }

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn parse_call(&self, op: &str, key: Option<&str>, input: &Value) -> Result<KvCall, OpError> {
        let text = || {
            input
                .as_str()
                .map(Arc::from)
                .ok_or_else(|| OpError::bad_input(op, "a string", input))
        };
        let call = match op {
            "get" => KvCall::Get,
            "put" => KvCall::Put(text()?),
            "append" => KvCall::Append(text()?),
            _ => return Err(OpError::unknown(self.name(), op)),
        };
        match key {
            Some(_) => Ok(call),
            None => Err(OpError::MissingKey { op: op.to_owned() }),
        }
    }

    fn parse_output(&self, call: &KvCall, output: &Value) -> Result<Option<Arc<str>>, OpError> {
        match call {
            KvCall::Get => match output.as_str() {
                Some(s) => Ok(Some(Arc::from(s))),
                None => Err(OpError::bad_output("get", "a string", output)),
            },
            KvCall::Put(_) | KvCall::Append(_) => Ok(None),
        }
    }

    fn step(&self, state: &Arc<str>, call: &KvCall, output: &Option<Arc<str>>) -> Option<Arc<str>> {
        match call {
            KvCall::Get => (output.as_deref() == Some(&**state)).then(|| state.clone()),
            KvCall::Put(v) => Some(v.clone()),
            KvCall::Append(v) => Some(append(state, v)),
        }
    }

    fn step_unknown(&self, state: &Arc<str>, call: &KvCall) -> Vec<Arc<str>> {
        match call {
            KvCall::Get => vec![state.clone()],
            KvCall::Put(v) => vec![v.clone()],
            KvCall::Append(v) => vec![append(state, v)],
        }
    }
}

fn append(state: &str, suffix: &str) -> Arc<str> {
    if suffix.is_empty() {
        return Arc::from(state);
    }
    let mut s = String::with_capacity(state.len() + suffix.len());
    s.push_str(state);
    s.push_str(suffix);
    Arc::from(s)
}

#[cfg(test)]
mod tests {
    use super::super::{check, History, LinError, OpError, Operation, Outcome};
    use super::*;
    use serde_json::json;

    fn get(client: u32, k: &str, call: u64, ret: u64, v: &str) -> Operation {
        Operation::completed(client, "get", json!(null), call, ret, json!(v)).with_key(k)
    }
    fn put(client: u32, k: &str, v: &str, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "put", json!(v), call, ret, json!(null)).with_key(k)
    }
    fn append(client: u32, k: &str, v: &str, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "append", json!(v), call, ret, json!(null)).with_key(k)
    }
    fn verdict(ops: Vec<Operation>) -> Outcome {
        check(&KeyValue, &History::from(ops)).unwrap()
    }

    #[test]
    fn absent_key_reads_as_empty_string() {
        assert!(verdict(vec![get(0, "x", 0, 1, "")]).is_ok());
        // Not as anything else ...
        assert!(verdict(vec![get(0, "x", 0, 1, "a")]).is_illegal());
        // ... and not as `null`: this store has no "absent" answer.
        let h = History::from(vec![Operation::completed(
            0,
            "get",
            json!(null),
            0,
            1,
            json!(null),
        )
        .with_key("x")]);
        assert!(matches!(
            check(&KeyValue, &h),
            Err(LinError::Operation {
                source: OpError::BadOutput { .. },
                ..
            })
        ));
    }

    #[test]
    fn empty_string_read_after_append_is_stale() {
        let o = verdict(vec![append(0, "x", "a", 0, 1), get(1, "x", 2, 3, "")]);
        let v = o.violation().expect("illegal");
        assert_eq!(v.minimal.len(), 2, "{v}");
        // Concurrent with the append, both answers are fine.
        for seen in ["", "a"] {
            assert!(verdict(vec![append(0, "x", "a", 0, 5), get(1, "x", 1, 2, seen)]).is_ok());
        }
    }

    #[test]
    fn appends_concatenate_in_linearization_order() {
        // Two concurrent appends may land in either order, but a read sees one order,
        // and a later read cannot see the other.
        let base = || vec![append(0, "x", "a", 0, 10), append(1, "x", "b", 0, 10)];
        for seen in ["ab", "ba", "a", "b", ""] {
            let mut ops = base();
            ops.push(get(2, "x", 1, 2, seen));
            assert!(verdict(ops).is_ok(), "{seen}");
        }
        let mut ops = base();
        ops.push(get(2, "x", 1, 2, "ab"));
        ops.push(get(2, "x", 3, 4, "ba"));
        assert!(verdict(ops).is_illegal());
        // Append is not put: after put(a), append(b) the value is "ab", not "b".
        let o = verdict(vec![
            put(0, "x", "a", 0, 1),
            append(0, "x", "b", 2, 3),
            get(1, "x", 4, 5, "b"),
        ]);
        assert!(o.is_illegal(), "{o}");
        let o = verdict(vec![
            put(0, "x", "a", 0, 1),
            append(0, "x", "b", 2, 3),
            get(1, "x", 4, 5, "ab"),
        ]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn keys_are_independent_and_required() {
        let o = verdict(vec![
            append(0, "x", "a", 0, 1),
            get(1, "y", 2, 3, ""),
            get(1, "x", 4, 5, "a"),
        ]);
        assert!(o.is_ok(), "{o}");
        let h = History::from(vec![Operation::completed(
            0,
            "append",
            json!("a"),
            0,
            1,
            json!(null),
        )]);
        assert!(matches!(
            check(&KeyValue, &h),
            Err(LinError::Operation {
                source: OpError::MissingKey { .. },
                ..
            })
        ));
        let h = History::from(vec![Operation::completed(
            0,
            "put",
            json!(1),
            0,
            1,
            json!(null),
        )
        .with_key("x")]);
        assert!(matches!(
            check(&KeyValue, &h),
            Err(LinError::Operation {
                source: OpError::BadInput { .. },
                ..
            })
        ));
    }

    /// An append whose outcome is unknown may land after it returned, or never.
    #[test]
    fn unknown_append() {
        let info = Operation::info(0, "append", json!("a"), 0, 1).with_key("x");
        for seen in [["", ""], ["", "a"], ["a", "a"]] {
            let o = verdict(vec![
                info.clone(),
                get(1, "x", 2, 3, seen[0]),
                get(1, "x", 4, 5, seen[1]),
            ]);
            assert!(o.is_ok(), "{seen:?}: {o}");
        }
        let o = verdict(vec![info, get(1, "x", 2, 3, "a"), get(1, "x", 4, 5, "")]);
        assert!(o.is_illegal(), "{o}");
    }
}
