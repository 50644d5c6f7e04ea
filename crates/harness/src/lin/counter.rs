//! [`Counter`]: an `i64` counter with blind adds, reads and fetch-and-add.
//!
//! The operations, their inputs and outputs are documented on the type.

use super::error::OpError;
use super::model::Model;
use serde_json::Value;

/// A counter starting at [`initial`](Counter::initial) (default 0).
///
/// | op          | input         | output              | effect            |
/// |-------------|---------------|---------------------|-------------------|
/// | `add`       | `n` (integer) | ignored             | value += n        |
/// | `get`       | `null`        | the value           | none              |
/// | `fetch_add` | `n` (integer) | the value *before*  | value += n        |
///
/// Arithmetic wraps like `i64::wrapping_add`. `fetch_add` makes lost updates visible: two
/// increments that both return the same old value cannot both have been atomic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    /// The value before the first operation.
    pub initial: i64,
}

/// A parsed [`Counter`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterCall {
    /// `add(n)`.
    Add(i64),
    /// `get`.
    Get,
    /// `fetch_add(n)`.
    FetchAdd(i64),
}

impl Model for Counter {
    type State = i64;
    type Call = CounterCall;
    /// The value returned by `get` or `fetch_add`; `None` for `add`.
    type Output = Option<i64>;

    fn name(&self) -> &'static str {
        "Counter"
    }

    fn init(&self) -> i64 {
        self.initial
    }

    fn parse_call(
        &self,
        op: &str,
        _key: Option<&str>,
        input: &Value,
    ) -> Result<CounterCall, OpError> {
        let amount = || {
            input
                .as_i64()
                .ok_or_else(|| OpError::bad_input(op, "an integer", input))
        };
        match op {
            "add" => Ok(CounterCall::Add(amount()?)),
            "get" => Ok(CounterCall::Get),
            "fetch_add" => Ok(CounterCall::FetchAdd(amount()?)),
            _ => Err(OpError::unknown(self.name(), op)),
        }
    }

    fn parse_output(&self, call: &CounterCall, output: &Value) -> Result<Option<i64>, OpError> {
        match call {
            CounterCall::Add(_) => Ok(None),
            CounterCall::Get | CounterCall::FetchAdd(_) => output
                .as_i64()
                .map(Some)
                .ok_or_else(|| OpError::bad_output(op_name(call), "an integer", output)),
        }
    }

    fn step(&self, state: &i64, call: &CounterCall, output: &Option<i64>) -> Option<i64> {
        match (call, output) {
            (CounterCall::Add(n), _) => Some(state.wrapping_add(*n)),
            (CounterCall::Get, Some(v)) => (v == state).then_some(*state),
            (CounterCall::FetchAdd(n), Some(old)) => (old == state).then(|| state.wrapping_add(*n)),
            _ => None,
        }
    }

    fn step_unknown(&self, state: &i64, call: &CounterCall) -> Vec<i64> {
        match call {
            CounterCall::Add(n) | CounterCall::FetchAdd(n) => vec![state.wrapping_add(*n)],
            CounterCall::Get => vec![*state],
        }
    }
}

fn op_name(call: &CounterCall) -> &'static str {
    match call {
        CounterCall::Add(_) => "add",
        CounterCall::Get => "get",
        CounterCall::FetchAdd(_) => "fetch_add",
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check, History, LinError, OpError, Operation, Outcome};
    use super::*;
    use serde_json::json;

    fn add(client: u32, n: i64, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "add", json!(n), call, ret, json!(null))
    }
    fn fetch_add(client: u32, n: i64, call: u64, ret: u64, old: i64) -> Operation {
        Operation::completed(client, "fetch_add", json!(n), call, ret, json!(old))
    }
    fn get(client: u32, call: u64, ret: u64, v: i64) -> Operation {
        Operation::completed(client, "get", json!(null), call, ret, json!(v))
    }
    fn verdict(ops: Vec<Operation>) -> Outcome {
        check(&Counter::default(), &History::from(ops)).unwrap()
    }

    #[test]
    fn concurrent_fetch_adds_ok() {
        let o = verdict(vec![
            fetch_add(0, 1, 0, 10, 1),
            fetch_add(1, 1, 1, 9, 0),
            fetch_add(2, 1, 2, 3, 2),
            get(0, 11, 12, 3),
        ]);
        assert!(o.is_ok(), "{o}");
    }

    /// Two increments both read 0 and wrote 1: a lost update.
    #[test]
    fn lost_update_is_illegal() {
        let o = verdict(vec![
            fetch_add(0, 1, 0, 3, 0),
            fetch_add(1, 1, 1, 2, 0),
            get(2, 4, 5, 1),
        ]);
        let v = o.violation().expect("illegal");
        // The two increments are the violation; the get is not needed.
        assert_eq!(v.minimal.len(), 2);
        assert!(v.minimal.ops().iter().all(|op| op.op == "fetch_add"));
    }

    #[test]
    fn blind_adds_and_gets() {
        let o = verdict(vec![
            add(0, 5, 0, 1),
            add(1, -2, 0, 3),
            get(2, 2, 4, 5),
            get(2, 5, 6, 3),
        ]);
        assert!(o.is_ok(), "{o}");
        let o = verdict(vec![add(0, 5, 0, 1), add(1, -2, 2, 3), get(2, 4, 5, 5)]);
        assert!(o.is_illegal(), "{o}");
    }

    #[test]
    fn killed_increment_may_or_may_not_count() {
        let killed = Operation::indeterminate(0, "fetch_add", json!(1), 0);
        for seen in [0, 1] {
            let o = verdict(vec![
                killed.clone(),
                add(1, 1, 1, 2),
                get(1, 3, 4, 1 + seen),
            ]);
            assert!(o.is_ok(), "seen {seen}: {o}");
        }
        let o = verdict(vec![killed, add(1, 1, 1, 2), get(1, 3, 4, 3)]);
        assert!(o.is_illegal(), "{o}");
    }

    #[test]
    fn wrapping() {
        let model = Counter { initial: i64::MAX };
        let h = History::from(vec![add(0, 1, 0, 1), get(0, 2, 3, i64::MIN)]);
        assert!(check(&model, &h).unwrap().is_ok());
    }

    #[test]
    fn bad_operations_are_typed_errors() {
        let h = History::from(vec![Operation::completed(
            0,
            "add",
            json!("one"),
            0,
            1,
            json!(null),
        )]);
        assert!(matches!(
            check(&Counter::default(), &h),
            Err(LinError::Operation {
                source: OpError::BadInput { .. },
                ..
            })
        ));
        let h = History::from(vec![Operation::completed(
            0,
            "get",
            json!(null),
            0,
            1,
            json!(null),
        )]);
        assert!(matches!(
            check(&Counter::default(), &h),
            Err(LinError::Operation {
                source: OpError::BadOutput { .. },
                ..
            })
        ));
    }
}
