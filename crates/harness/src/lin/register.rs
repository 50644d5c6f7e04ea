//! [`Register`]: a read/write/compare-and-set register of JSON values.
//!
//! The operations, their inputs and outputs are documented on the type.

use super::error::OpError;
use super::model::Model;
use serde_json::Value;

/// A register holding one JSON value.
///
/// | op      | input          | output                      | effect                        |
/// |---------|----------------|-----------------------------|-------------------------------|
/// | `read`  | `null`         | the value                   | none                          |
/// | `write` | the new value  | ignored (`null` by custom)  | value := input                |
/// | `cas`   | `[old, new]`   | `true` / `false`            | if value == old: value := new |
///
/// Values compare as JSON values (so `1` and `1.0` differ). The initial value is
/// configurable, `0` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The value before the first write.
    pub initial: Value,
}

impl Default for Register {
    /// Initial value `0`.
    fn default() -> Self {
        Register {
            initial: Value::from(0),
        }
    }
}

impl Register {
    /// A register starting at `initial`.
    pub fn new(initial: Value) -> Self {
        Register { initial }
    }
}

/// A parsed [`Register`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterCall {
    /// `read`.
    Read,
    /// `write(v)`.
    Write(Value),
    /// `cas(old, new)`.
    Cas(Value, Value),
}

impl Model for Register {
    type State = Value;
    type Call = RegisterCall;
    /// `read`: the value read; `cas`: whether it succeeded; `write`: nothing.
    type Output = Value;

    fn name(&self) -> &'static str {
        "Register"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn parse_call(
        &self,
        op: &str,
        _key: Option<&str>,
        input: &Value,
    ) -> Result<RegisterCall, OpError> {
        match op {
            "read" => Ok(RegisterCall::Read),
            "write" => Ok(RegisterCall::Write(input.clone())),
            "cas" => match input.as_array().map(Vec::as_slice) {
                Some([old, new]) => Ok(RegisterCall::Cas(old.clone(), new.clone())),
                _ => Err(OpError::bad_input(op, "[old, new]", input)),
            },
            _ => Err(OpError::unknown(self.name(), op)),
        }
    }

    fn parse_output(&self, call: &RegisterCall, output: &Value) -> Result<Value, OpError> {
        match call {
            RegisterCall::Read => Ok(output.clone()),
            RegisterCall::Write(_) => Ok(Value::Null),
            RegisterCall::Cas(..) if output.is_boolean() => Ok(output.clone()),
            RegisterCall::Cas(..) => Err(OpError::bad_output("cas", "true or false", output)),
        }
    }

    fn step(&self, state: &Value, call: &RegisterCall, output: &Value) -> Option<Value> {
        match call {
            RegisterCall::Read => (state == output).then(|| state.clone()),
            RegisterCall::Write(v) => Some(v.clone()),
            RegisterCall::Cas(old, new) => match (state == old, output.as_bool()) {
                (true, Some(true)) => Some(new.clone()),
                (false, Some(false)) => Some(state.clone()),
                _ => None,
            },
        }
    }

    fn step_unknown(&self, state: &Value, call: &RegisterCall) -> Vec<Value> {
        vec![unknown_step(state, call)]
    }

    /// Only the states that differ from `state`: a read, a failing cas or a write of the
    /// value already there leave nothing to explore, and are not cloned to say so.
    fn each_unknown_step(&self, state: &Value, call: &RegisterCall, each: &mut dyn FnMut(Value)) {
        match call {
            RegisterCall::Read => {}
            RegisterCall::Write(v) | RegisterCall::Cas(_, v) if v == state => {}
            RegisterCall::Write(v) => each(v.clone()),
            RegisterCall::Cas(old, new) if state == old => each(new.clone()),
            RegisterCall::Cas(..) => {}
        }
    }
}

/// The one state an operation of unknown outcome leaves: a read or a failing cas changes
/// nothing, a write or a succeeding cas sets the value.
fn unknown_step(state: &Value, call: &RegisterCall) -> Value {
    match call {
        RegisterCall::Read => state.clone(),
        RegisterCall::Write(v) => v.clone(),
        RegisterCall::Cas(old, new) if state == old => new.clone(),
        RegisterCall::Cas(..) => state.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_ops::{r, w};
    use super::super::{check, Checker, History, LinError, OpError, Operation, Outcome};
    use super::*;
    use serde_json::json;

    fn cas(client: u32, old: i64, new: i64, call: u64, ret: u64, ok: bool) -> Operation {
        Operation::completed(client, "cas", json!([old, new]), call, ret, json!(ok))
    }
    fn killed_write(client: u32, v: i64, call: u64) -> Operation {
        Operation::indeterminate(client, "write", json!(v), call)
    }
    fn verdict(ops: Vec<Operation>) -> Outcome {
        check(&Register::default(), &History::from(ops)).unwrap()
    }

    #[test]
    fn sequential_ok() {
        let o = verdict(vec![
            w(0, 1, 0, 1),
            r(1, 1, 2, 3),
            cas(0, 1, 2, 4, 5, true),
            cas(1, 1, 3, 6, 7, false),
            r(0, 2, 8, 9),
        ]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn concurrent_read_may_see_either_value() {
        for seen in [0, 1] {
            let o = verdict(vec![w(0, 1, 0, 5), r(1, seen, 1, 2)]);
            assert!(o.is_ok(), "read {seen}: {o}");
        }
    }

    /// The classic: `write(1)` completes, then a read returns the old value.
    #[test]
    fn stale_read_after_completed_write_is_illegal() {
        let o = verdict(vec![w(0, 1, 0, 1), r(1, 0, 2, 3)]);
        let v = o.violation().expect("illegal");
        assert_eq!(v.minimal.len(), 2);
        assert!(v.minimized);
    }

    /// Reads overlapping a write must agree on one switch point: once a read sees the new
    /// value, a later read cannot see the old one.
    #[test]
    fn new_then_old_is_illegal() {
        let o = verdict(vec![w(0, 1, 0, 10), r(1, 1, 1, 2), r(2, 0, 3, 4)]);
        assert!(o.is_illegal(), "{o}");
        let o = verdict(vec![w(0, 1, 0, 10), r(1, 0, 1, 2), r(2, 1, 3, 4)]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn killed_writer_seen_is_ok() {
        let o = verdict(vec![killed_write(0, 1, 0), r(1, 1, 5, 6), r(1, 1, 7, 8)]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn killed_writer_never_seen_is_ok() {
        let o = verdict(vec![killed_write(0, 1, 0), r(1, 0, 5, 6), r(1, 0, 7, 8)]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn killed_writer_takes_effect_late() {
        // The write may land long after the crash: after a read of 0 that follows it.
        let o = verdict(vec![killed_write(0, 1, 0), r(1, 0, 5, 6), r(1, 1, 7, 8)]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn killed_writer_seen_then_unseen_is_illegal() {
        let o = verdict(vec![killed_write(0, 1, 0), r(1, 1, 5, 6), r(1, 0, 7, 8)]);
        assert!(o.is_illegal(), "{o}");
    }

    #[test]
    fn killed_writer_cannot_take_effect_before_its_call() {
        let o = verdict(vec![r(1, 1, 0, 1), killed_write(0, 1, 2)]);
        assert!(o.is_illegal(), "{o}");
    }

    #[test]
    fn read_of_unwritten_value_is_illegal() {
        let o = verdict(vec![killed_write(0, 1, 0), w(1, 2, 1, 2), r(2, 3, 3, 4)]);
        let v = o.violation().expect("illegal");
        // The witness is the read alone: no write can explain it.
        assert_eq!(v.minimal.ops(), &[r(2, 3, 3, 4)]);
    }

    #[test]
    fn killed_cas() {
        let killed_cas = Operation::indeterminate(0, "cas", json!([0, 5]), 0);
        let o = verdict(vec![killed_cas, r(1, 5, 1, 2)]);
        assert!(o.is_ok(), "{o}");
        // The cas cannot succeed once the value is no longer 0.
        let late_cas = Operation::indeterminate(0, "cas", json!([0, 5]), 2);
        let o = verdict(vec![w(1, 1, 0, 1), late_cas, r(1, 5, 3, 4)]);
        assert!(o.is_illegal(), "{o}");
    }

    #[test]
    fn cas_failure_must_be_justified() {
        let o = verdict(vec![cas(0, 0, 1, 0, 1, false)]);
        assert!(o.is_illegal(), "{o}");
        let o = verdict(vec![cas(0, 0, 1, 0, 1, true), cas(1, 0, 2, 0, 1, true)]);
        assert!(o.is_illegal(), "{o}");
        let o = verdict(vec![cas(0, 0, 1, 0, 1, true), cas(1, 0, 2, 0, 1, false)]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn initial_value_and_json_values() {
        let model = Register::new(json!(null));
        let h = History::from(vec![
            Operation::completed(0, "read", json!(null), 0, 1, json!(null)),
            Operation::completed(0, "write", json!({"a": [1]}), 2, 3, json!(null)),
            Operation::completed(1, "read", json!(null), 4, 5, json!({"a": [1]})),
        ]);
        assert!(check(&model, &h).unwrap().is_ok());
    }

    #[test]
    fn bad_operations_are_typed_errors() {
        let h = History::from(vec![
            w(0, 1, 0, 1),
            Operation::completed(0, "incr", json!(1), 2, 3, json!(null)),
        ]);
        match check(&Register::default(), &h) {
            Err(LinError::Operation {
                index: 1,
                client: 0,
                source: OpError::UnknownOp { op, .. },
            }) => assert_eq!(op, "incr"),
            other => panic!("{other:?}"),
        }
        let h = History::from(vec![Operation::completed(
            0,
            "cas",
            json!(1),
            0,
            1,
            json!(true),
        )]);
        assert!(matches!(
            check(&Register::default(), &h),
            Err(LinError::Operation {
                source: OpError::BadInput { .. },
                ..
            })
        ));
        let h = History::from(vec![cas(0, 0, 1, 0, 1, true)]);
        let mut bad = h.ops()[0].clone();
        bad.output = Some(json!("yes"));
        assert!(matches!(
            check(&Register::default(), &History::from(vec![bad])),
            Err(LinError::Operation {
                source: OpError::BadOutput { .. },
                ..
            })
        ));
        // Malformed times in a history built in code are caught at check time too.
        let h = History::from(vec![r(0, 0, 5, 4)]);
        assert!(matches!(
            Checker::new().check(&Register::default(), &h),
            Err(LinError::ReturnBeforeCall { .. })
        ));
    }

    /// The override lists what `step_unknown` lists, less the state itself: every call
    /// kind, on a state it changes and on one it does not.
    #[test]
    fn each_unknown_step_agrees_with_step_unknown() {
        let m = Register::default();
        let calls = [
            RegisterCall::Read,
            RegisterCall::Write(json!(1)),
            RegisterCall::Write(json!(2)),
            RegisterCall::Cas(json!(1), json!(2)),
            RegisterCall::Cas(json!(1), json!(1)),
            RegisterCall::Cas(json!(2), json!(1)),
        ];
        let mut changed = 0;
        for state in [json!(1), json!(2)] {
            for call in &calls {
                let mut listed = Vec::new();
                m.each_unknown_step(&state, call, &mut |s| listed.push(s));
                let expected: Vec<Value> = m
                    .step_unknown(&state, call)
                    .into_iter()
                    .filter(|s| *s != state)
                    .collect();
                assert_eq!(listed, expected, "{call:?} on {state}");
                changed += listed.len();
            }
        }
        // write(1) on 2, write(2) on 1, cas(1, 2) on 1, cas(2, 1) on 2.
        assert_eq!(changed, 4);
    }
}
