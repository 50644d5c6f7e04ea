//! A linearizability checker for recorded histories.
//!
//! A [`History`] is a set of [`Operation`]s, each a call by one client with logical-clock
//! call and return times. It is *linearizable* with respect to a sequential
//! specification (a [`Model`]) if every operation can be given a point between its call
//! and its return such that applying the operations in the order of their points to the
//! model yields exactly the recorded outputs (Herlihy & Wing 1990). [`Checker::check`]
//! answers with an [`Outcome`]:
//!
//! * [`Outcome::Ok`]: a linearization exists;
//! * [`Outcome::Illegal`]: none exists; the [`Violation`] carries a small sub-history
//!   that is non-linearizable by itself, rendered by [`render_table`];
//! * [`Outcome::Unknown`]: the time or step budget ran out. The checker never answers
//!   `Ok` without having found a linearization.
//!
//! Malformed input is a typed [`LinError`], never a panic.
//!
//! Besides its own [JSON format](#json-format), the checker reads Jepsen's etcd logs and
//! Jepsen/knossos EDN histories (which include porcupine's kv logs): see [`Format`],
//! [`History::from_jepsen_log`], [`History::from_edn`]. A violation can be drawn as a
//! self-contained HTML page ([`render_html`]), and `cargo xtask lin check FILE` ([`cli`])
//! runs all of it from the command line. `docs/checker.md` is the user's guide.
//!
//! ```
//! use procshare_harness::lin::{check, History, Operation, Register};
//! use serde_json::json;
//!
//! // Client 0 writes 1 and returns; afterwards client 1 reads 0: a stale read.
//! let history = History::from(vec![
//!     Operation::completed(0, "write", json!(1), 0, 1, json!(null)),
//!     Operation::completed(1, "read", json!(null), 2, 3, json!(0)),
//! ]);
//! let outcome = check(&Register::default(), &history).unwrap();
//! let violation = outcome.violation().unwrap();
//! assert_eq!(violation.table(), "\
//! time | client 0      | client 1
//! -----+---------------+---------
//! 0..1 | write(1) → ok |
//! 2..3 |               | read → 0
//! ");
//! ```
//!
//! # Indeterminate operations
//!
//! An operation with no return (`ret: None`, JSON `"return": null`) is *indeterminate*:
//! its client crashed, was killed or timed out, so the operation may have taken effect at
//! any time after its call, or not at all, and its output is unknown. This is Jepsen's
//! `:info` operation as knossos treats it. Other operations of the same client need not
//! be ordered after it (a killed process is usually replaced by a new client id anyway).
//!
//! An operation that *returned* without an outcome ([`Operation::info`], JSON
//! `"unknown": true`: a client-side timeout reported at `ret`) is checked the same way:
//! it may take effect at any time after its call, including after its return, or never.
//! Its return time is kept for display only. This is not a read that returned `null`
//! (`"output": null`), which claims the value was `null`.
//!
//! # Models
//!
//! | model         | operations                                    | state             |
//! |---------------|-----------------------------------------------|-------------------|
//! | [`Register`]  | `read`, `write(v)`, `cas([old, new])`         | one JSON value    |
//! | [`Counter`]   | `add(n)`, `get`, `fetch_add(n)` → old value   | `i64`             |
//! | [`FifoQueue`] | `enqueue(v)`, `dequeue` → front or `null`     | `VecDeque<Value>` |
//! | [`Map`]       | `put(v)`, `get` → value or `null`, `remove`   | one key's value   |
//! | [`KeyValue`]  | `get` → string (`""` if absent), `put(s)`, `append(s)` | one key's string |
//!
//! Each model's type documents its inputs and outputs exactly. A new model implements
//! [`Model`]: a state type, `init`, parsing of calls and outputs, and `step` /
//! `step_unknown`; the trait's docs add a grow-only set as a worked example.
//!
//! # Partitioning (P-compositionality)
//!
//! Linearizability is local: a history is linearizable iff its restriction to each object
//! is. The `key` of an operation names its object, so the checker splits the history per
//! key ([`History::partition`]) and searches each part on its own, with a fresh model
//! state. A [`Map`] history thus becomes one small history per key. Operations without a
//! key form one more partition. A model whose operations span keys opts out with
//! [`Model::partitioned`].
//!
//! Partitions are checked in parallel ([`Checker::threads`], default: every core, with
//! `std::thread::scope`). The verdict does not depend on the thread count: partitions are
//! ordered (smallest first, then by key), the first failing one in that order is
//! reported, and a partition's search is abandoned only once an earlier one has failed.
//!
//! # Algorithm
//!
//! Per partition, Wing & Gong's backtracking search over the time-sorted list of call and
//! return entries, with Lowe's memoisation of (linearized set, state) configurations, as
//! in porcupine's `checkSingle`; indeterminate operations have a call entry only, and the
//! cache subsumes configurations that differ only by applied indeterminate operations.
//! The details, and why each step is sound, are in the `search` module's source
//! documentation. The worst case is exponential (the problem is NP-complete, Gibbons &
//! Korach 1997); a [`Checker`] bounds it with [`Checker::timeout`] and
//! [`Checker::max_steps`].
//!
//! Times are compared strictly: operation A precedes B iff A's return time is smaller
//! than B's call time. Equal times count as concurrent.
//!
//! # Minimisation
//!
//! On a violation, the failing partition is shrunk greedily, as lincheck minimises a
//! failing scenario: walking back from the latest operation, blocks of operations are
//! left out while the history stays non-linearizable (the block size gallops: doubled
//! after a success, halved after a failure). An operation is left out only if the history
//! stays non-linearizable with that operation made *indeterminate*: the witness
//! [`Violation::minimal`] is then non-linearizable by itself, and the left-out operations
//! cannot explain the violation away whatever they did. Merely deleting operations would
//! not be sound: deleting the write a read observed turns a stale read into "read of a
//! value nobody wrote". Weakening is monotone, so one pass gives a 1-minimal witness (no
//! single operation can be left out), unless the minimisation budget
//! ([`Checker::minimize_steps`]) runs out first; [`Checker::one_minimal`] lifts the
//! budget (only the timeout remains), so the witness is 1-minimal.
//!
//! # JSON format
//!
//! A history is a JSON array of operation objects, in any order:
//!
//! ```json
//! [
//!   {"client": 0, "call": 0, "return": 3,    "op": "write", "key": "x", "input": 1,    "output": null},
//!   {"client": 1, "call": 1, "return": 2,    "op": "read",  "key": "x", "input": null, "output": 0},
//!   {"client": 2, "call": 4, "return": null, "op": "cas",   "key": "x", "input": [1, 2], "output": null}
//! ]
//! ```
//!
//! | field    | type                    | meaning                                              |
//! |----------|-------------------------|------------------------------------------------------|
//! | `client` | integer, 0 ..= 2³²−1    | the actor (process) making the call; required        |
//! | `call`   | integer, 0 ..= 2⁶⁴−1    | logical time of the call; required                   |
//! | `return` | integer ≥ `call`, or `null` | logical time of the return; `null` or absent: indeterminate |
//! | `op`     | string                  | the operation, interpreted by the model; required    |
//! | `key`    | string, optional        | the object/key; absent or `null`: the unkeyed object |
//! | `input`  | any JSON, optional      | the argument (`null` / absent: none; an array for several) |
//! | `output` | any JSON, optional      | the result (`null` / absent: none); must be `null` or absent when `return` is `null` or `unknown` is true |
//! | `unknown`| boolean, optional       | `true`: returned, outcome unknown ([`Operation::info`]); absent: false |
//!
//! Times come from any logical clock shared by all clients (e.g. a global event counter);
//! only their order matters. Unknown fields are rejected (a misspelt `"ret"` would
//! otherwise silently make every operation indeterminate). [`History::from_json`] reports
//! malformed JSON, a return before its call, and an output on an indeterminate operation
//! as [`LinError`]s; operations the model does not know are reported by the check, as
//! [`LinError::Operation`]. [`History::to_json`] writes the same format, one operation per
//! line.
//!
//! # Limitations
//!
//! * Checking is exponential in the worst case. Legal histories are usually found fast;
//!   proving a history *illegal* explores every configuration before the violation, which
//!   grows with concurrency and, above all, with the number of indeterminate operations
//!   still pending (each may take effect at any later point).
//! * Minimisation re-checks the failing partition tens of times (each proof of
//!   illegality is such an exhaustive search), so on a partition that is slow to check
//!   it may stop early ([`Violation::minimized`] is then false); the witness is still
//!   correct.
//! * Operations on several keys at once (a transfer, a snapshot) need a model with
//!   [`Model::partitioned`] false, which checks the whole history as one object.
//! * States must be cloned and hashed at every step: models with large states (long
//!   queues) are slower per step.
//!
//! # Tests and benchmarks
//!
//! Each model's file has hand-written legal and illegal histories, including
//! indeterminate operations; [`sim`] generates histories of correct objects, which must
//! all pass, and the checker must catch a corrupted read in them. The readers have
//! tests of every event kind and of malformed input; `tests/lin_formats.rs` checks the
//! sample files of `tests/lin-data/` and one hand-written history per imported feature
//! (`:fail`, `:info`, `append`, empty-string reads); `tests/lin_html.rs` opens the HTML
//! page in headless Chromium. `benches/lin.rs` measures a 10 000-operation map history
//! and a 100-operation register history with 20 indeterminate operations;
//! `benches/lin_porcupine.rs` histories shaped like porcupine's test data, with one and
//! with all threads.

mod check;
pub mod cli;
mod counter;
pub mod edn;
mod error;
mod formats;
mod history;
mod html;
pub mod jepsen_log;
mod kv;
mod map;
mod minimize;
mod model;
mod queue;
mod register;
mod render;
mod search;
pub mod sim;

pub use check::{check, Checker, Outcome, Report, Unknown, Violation};
pub use counter::{Counter, CounterCall};
pub use error::{LinError, OpError, SyntaxError};
pub use formats::{Format, UnknownFormat};
pub use history::{History, Operation};
pub use html::{explain, render_html, Explanation};
pub use kv::{KeyValue, KvCall};
pub use map::{Map, MapCall};
pub use model::Model;
pub use queue::{FifoQueue, QueueCall};
pub use register::{Register, RegisterCall};
pub use render::{render_table, render_table_elided};
pub use search::Exhausted;

#[cfg(test)]
mod test_ops {
    //! Operation builders shared by the checker's unit tests.
    use super::Operation;
    use serde_json::json;

    /// A completed register `write(v)`.
    pub(super) fn w(client: u32, v: i64, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "write", json!(v), call, ret, json!(null))
    }

    /// A completed register `read → v`.
    pub(super) fn r(client: u32, v: i64, call: u64, ret: u64) -> Operation {
        Operation::completed(client, "read", json!(null), call, ret, json!(v))
    }
}
