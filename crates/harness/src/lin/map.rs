//! [`Map`]: a key-value map, checked one key at a time.
//!
//! The operations, their inputs and outputs are documented on the type.

use super::error::OpError;
use super::model::Model;
use serde_json::Value;

/// A map from string keys to JSON values, initially empty.
///
/// | op       | key      | input              | output                       | effect              |
/// |----------|----------|--------------------|------------------------------|---------------------|
/// | `put`    | required | the value (≠ null) | ignored                      | `map[key] := input` |
/// | `get`    | required | `null`             | the value, `null` if absent  | none                |
/// | `remove` | required | `null`             | ignored                      | delete `map[key]`   |
///
/// Every operation touches exactly one key, so the map is the product of independent
/// per-key cells and the checker checks each key's sub-history on its own
/// (P-compositionality, as porcupine's `Partition`): the state the model sees is the value
/// of the one key of the partition being checked. This is what makes a 10 000-operation
/// map history cheap: the search is exponential in the concurrency within one key, not
/// across the whole map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Map;

/// A parsed [`Map`] call (the key is the partition's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapCall {
    /// `put(key, v)`.
    Put(Value),
    /// `get(key)`.
    Get,
    /// `remove(key)`.
    Remove,
}

impl Model for Map {
    /// The value of the partition's key; `None` if absent.
    type State = Option<Value>;
    type Call = MapCall;
    /// The value `get` returned (`Value::Null`: absent); `Value::Null` for the others.
    type Output = Value;

    fn name(&self) -> &'static str {
        "Map"
    }

    fn init(&self) -> Option<Value> {
        None
    }

    fn parse_call(&self, op: &str, key: Option<&str>, input: &Value) -> Result<MapCall, OpError> {
        let call = match op {
            "put" if input.is_null() => {
                return Err(OpError::bad_input(op, "a non-null value", input))
            }
            "put" => MapCall::Put(input.clone()),
            "get" => MapCall::Get,
            "remove" => MapCall::Remove,
            _ => return Err(OpError::unknown(self.name(), op)),
        };
        match key {
            Some(_) => Ok(call),
            None => Err(OpError::MissingKey { op: op.to_owned() }),
        }
    }

    fn parse_output(&self, call: &MapCall, output: &Value) -> Result<Value, OpError> {
        Ok(match call {
            MapCall::Get => output.clone(),
            MapCall::Put(_) | MapCall::Remove => Value::Null,
        })
    }

    fn step(&self, state: &Option<Value>, call: &MapCall, output: &Value) -> Option<Option<Value>> {
        match call {
            MapCall::Put(v) => Some(Some(v.clone())),
            MapCall::Remove => Some(None),
            MapCall::Get => {
                let current = state.as_ref().unwrap_or(&Value::Null);
                (current == output).then(|| state.clone())
            }
        }
    }

    fn step_unknown(&self, state: &Option<Value>, call: &MapCall) -> Vec<Option<Value>> {
        match call {
            MapCall::Put(v) => vec![Some(v.clone())],
            MapCall::Remove => vec![None],
            MapCall::Get => vec![state.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check, History, LinError, OpError, Operation, Outcome, Register};
    use super::*;
    use serde_json::json;

    fn put(client: u32, k: &str, v: i64, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "put", json!(v), call, ret, json!(null)).with_key(k)
    }
    fn get(client: u32, k: &str, call: u64, ret: u64, v: Option<i64>) -> Operation {
        Operation::completed(client, "get", json!(null), call, ret, json!(v)).with_key(k)
    }
    fn remove(client: u32, k: &str, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "remove", json!(null), call, ret, json!(null)).with_key(k)
    }
    fn verdict(ops: Vec<Operation>) -> Outcome {
        check(&Map, &History::from(ops)).unwrap()
    }

    #[test]
    fn per_key_ok() {
        // Read as one register this history is illegal (get x → 1 after put y 2); per key
        // it is fine.
        let o = verdict(vec![
            get(0, "x", 0, 1, None),
            put(0, "x", 1, 2, 3),
            put(1, "y", 2, 4, 5),
            get(1, "x", 6, 7, Some(1)),
            get(0, "y", 6, 8, Some(2)),
            remove(0, "x", 9, 10),
            get(1, "x", 11, 12, None),
        ]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn per_key_violation_names_the_key() {
        let o = verdict(vec![
            put(0, "x", 1, 0, 1),
            put(1, "y", 2, 0, 1),
            get(0, "y", 2, 3, Some(2)),
            get(1, "x", 2, 3, None), // stale: x was put before
        ]);
        let v = o.violation().expect("illegal");
        assert_eq!(v.key.as_deref(), Some("x"));
        assert_eq!(v.partition.len(), 2);
        assert!(v
            .minimal
            .ops()
            .iter()
            .all(|op| op.key.as_deref() == Some("x")));
    }

    #[test]
    fn removed_value_cannot_reappear() {
        let o = verdict(vec![
            put(0, "x", 1, 0, 1),
            remove(0, "x", 2, 3),
            get(1, "x", 4, 5, Some(1)),
        ]);
        assert!(o.is_illegal(), "{o}");
    }

    #[test]
    fn killed_put() {
        let killed = Operation::indeterminate(0, "put", json!(5), 0).with_key("x");
        let o = verdict(vec![
            killed.clone(),
            get(1, "x", 1, 2, Some(5)),
            get(1, "x", 3, 4, Some(5)),
        ]);
        assert!(o.is_ok(), "{o}");
        let o = verdict(vec![
            killed,
            get(1, "x", 1, 2, Some(5)),
            get(1, "x", 3, 4, None),
        ]);
        assert!(o.is_illegal(), "{o}");
    }

    /// Partitioning is not Map-specific: registers named by key are independent objects
    /// too.
    #[test]
    fn registers_partition_by_key() {
        let h = History::from(vec![
            Operation::completed(0, "write", json!(1), 0, 1, json!(null)).with_key("a"),
            Operation::completed(1, "read", json!(null), 2, 3, json!(0)).with_key("b"),
        ]);
        assert!(check(&Register::default(), &h).unwrap().is_ok());
    }

    #[test]
    fn key_is_required() {
        let h = History::from(vec![Operation::completed(
            0,
            "get",
            json!(null),
            0,
            1,
            json!(null),
        )]);
        assert!(matches!(
            check(&Map, &h),
            Err(LinError::Operation {
                source: OpError::MissingKey { .. },
                ..
            })
        ));
    }
}
