//! [`FifoQueue`]: a FIFO queue of JSON values.
//!
//! The operations, their inputs and outputs are documented on the type.

use super::error::OpError;
use super::model::Model;
use serde_json::Value;
use std::collections::VecDeque;

/// An initially empty FIFO queue.
///
/// | op        | input              | output                      | effect            |
/// |-----------|--------------------|-----------------------------|-------------------|
/// | `enqueue` | the value (≠ null) | ignored                     | push at the back  |
/// | `dequeue` | `null`             | the front value, or `null`  | pop the front     |
/// |           |                    | if the queue was empty      |                   |
///
/// `null` cannot be enqueued: it is the "empty" answer of `dequeue`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FifoQueue;

/// A parsed [`FifoQueue`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueCall {
    /// `enqueue(v)`.
    Enqueue(Value),
    /// `dequeue`.
    Dequeue,
}

impl Model for FifoQueue {
    type State = VecDeque<Value>;
    type Call = QueueCall;
    /// The dequeued value (`Value::Null`: empty); `Value::Null` for `enqueue`.
    type Output = Value;

    fn name(&self) -> &'static str {
        "FifoQueue"
    }

    fn init(&self) -> VecDeque<Value> {
        VecDeque::new()
    }

    fn parse_call(
        &self,
        op: &str,
        _key: Option<&str>,
        input: &Value,
    ) -> Result<QueueCall, OpError> {
        match op {
            "enqueue" if input.is_null() => Err(OpError::bad_input(op, "a non-null value", input)),
            "enqueue" => Ok(QueueCall::Enqueue(input.clone())),
            "dequeue" => Ok(QueueCall::Dequeue),
            _ => Err(OpError::unknown(self.name(), op)),
        }
    }

    fn parse_output(&self, call: &QueueCall, output: &Value) -> Result<Value, OpError> {
        Ok(match call {
            QueueCall::Enqueue(_) => Value::Null,
            QueueCall::Dequeue => output.clone(),
        })
    }

    fn step(
        &self,
        state: &VecDeque<Value>,
        call: &QueueCall,
        output: &Value,
    ) -> Option<VecDeque<Value>> {
        match call {
            QueueCall::Enqueue(v) => {
                let mut next = state.clone();
                next.push_back(v.clone());
                Some(next)
            }
            QueueCall::Dequeue if output.is_null() => state.is_empty().then(VecDeque::new),
            QueueCall::Dequeue => (state.front() == Some(output)).then(|| {
                let mut next = state.clone();
                next.pop_front();
                next
            }),
        }
    }

    fn step_unknown(&self, state: &VecDeque<Value>, call: &QueueCall) -> Vec<VecDeque<Value>> {
        let mut next = state.clone();
        match call {
            QueueCall::Enqueue(v) => next.push_back(v.clone()),
            QueueCall::Dequeue => {
                next.pop_front();
            }
        }
        vec![next]
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check, History, LinError, OpError, Operation, Outcome};
    use super::*;
    use serde_json::json;

    fn enq(client: u32, v: i64, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "enqueue", json!(v), call, ret, json!(null))
    }
    fn deq(client: u32, call: u64, ret: u64, v: Option<i64>) -> Operation {
        Operation::completed(client, "dequeue", json!(null), call, ret, json!(v))
    }
    fn verdict(ops: Vec<Operation>) -> Outcome {
        check(&FifoQueue, &History::from(ops)).unwrap()
    }

    #[test]
    fn fifo_order_ok() {
        let o = verdict(vec![
            enq(0, 1, 0, 1),
            enq(0, 2, 2, 3),
            deq(1, 4, 5, Some(1)),
            deq(1, 6, 7, Some(2)),
            deq(1, 8, 9, None),
        ]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn concurrent_enqueues_either_order() {
        for first in [1, 2] {
            let o = verdict(vec![
                enq(0, 1, 0, 3),
                enq(1, 2, 1, 2),
                deq(2, 4, 5, Some(first)),
                deq(2, 6, 7, Some(3 - first)),
            ]);
            assert!(o.is_ok(), "first {first}: {o}");
        }
    }

    #[test]
    fn fifo_violation_is_illegal() {
        let o = verdict(vec![
            enq(0, 1, 0, 1),
            enq(0, 2, 2, 3),
            deq(1, 4, 5, Some(2)),
            deq(1, 6, 7, Some(1)),
        ]);
        let v = o.violation().expect("illegal");
        // `enqueue(1)` completes, then `dequeue → 2`: whatever `enqueue(2)` did, 1 should
        // have come out first.
        assert_eq!(
            v.minimal.ops(),
            &[enq(0, 1, 0, 1), deq(1, 4, 5, Some(2))],
            "{v}"
        );
    }

    #[test]
    fn empty_dequeue_while_nonempty_is_illegal() {
        let o = verdict(vec![enq(0, 1, 0, 1), deq(1, 2, 3, None)]);
        assert!(o.is_illegal(), "{o}");
        let o = verdict(vec![enq(0, 1, 0, 3), deq(1, 1, 2, None)]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn duplicate_dequeue_is_illegal() {
        let o = verdict(vec![
            enq(0, 1, 0, 1),
            deq(1, 2, 5, Some(1)),
            deq(2, 3, 4, Some(1)),
        ]);
        assert!(o.is_illegal(), "{o}");
    }

    #[test]
    fn killed_enqueuer_and_dequeuer() {
        let killed_enq = Operation::indeterminate(0, "enqueue", json!(7), 0);
        let o = verdict(vec![killed_enq.clone(), deq(1, 1, 2, Some(7))]);
        assert!(o.is_ok(), "{o}");
        let o = verdict(vec![killed_enq, deq(1, 1, 2, None)]);
        assert!(o.is_ok(), "{o}");
        // A killed dequeuer may have consumed the value.
        let killed_deq = Operation::indeterminate(2, "dequeue", json!(null), 2);
        let o = verdict(vec![enq(0, 1, 0, 1), killed_deq, deq(1, 3, 4, None)]);
        assert!(o.is_ok(), "{o}");
    }

    #[test]
    fn null_cannot_be_enqueued() {
        let h = History::from(vec![Operation::completed(
            0,
            "enqueue",
            json!(null),
            0,
            1,
            json!(null),
        )]);
        assert!(matches!(
            check(&FifoQueue, &h),
            Err(LinError::Operation {
                source: OpError::BadInput { .. },
                ..
            })
        ));
    }
}
