//! The procshare harness: what makes procshare a testbed rather than a library.
//!
//! * **Controlled mode** ([`Runner`]): a scenario's actors are real forked processes; at
//!   every schedule point of every primitive (acquire, release, load, store, spin, futex
//!   wait) an actor parks, and the controller picks, from a [`Chooser`], which actor runs
//!   its next step, which woken or timed-out waiter resumes, or which actor is SIGKILLed.
//!   The same scenario with the same schedule produces the same trace, history and final
//!   state every time; a schedule travels as one replay token ([`encode_token`]).
//! * [`killpoints`]: the kill-point matrix: every schedule point of an operation, with the
//!   actor running it SIGKILLed exactly there, under deterministic base schedules
//!   (`cargo xtask killpoints`, `docs/results/killpoints.md`).
//! * [`lin`]: a linearizability checker for recorded histories (Wing & Gong's search with
//!   Lowe's memoisation, partitioned per object/key), for histories recorded by the harness
//!   or imported as JSON from other systems.
#![deny(unsafe_op_in_unsafe_fn)]

mod actor;
mod control;
pub mod killpoints;
pub mod lin;
mod runner;
mod scenario;
pub mod scenarios;
mod schedule;
pub mod search;
pub mod store_buffer;
pub mod stress;
pub mod timeline;

/// The table renderer every report uses (re-exported for scenarios' own reports).
pub use procshare_table as table;

pub use control::{MAX_ACTORS, MAX_EVENTS};
pub use runner::{
    render_trace, render_trace_with, CaseReport, HarnessError, Runner, Step, Verdict,
};
pub use scenario::{lin_history, AtomicGranularity, Event, OpId, Recorder, Scenario};
pub use schedule::{
    decode_token, encode_token, Action, Choice, Chooser, PctChooser, RandomChooser, Replay,
    SplitMix64, TokenError, MAX_TOKEN_STEPS,
};
