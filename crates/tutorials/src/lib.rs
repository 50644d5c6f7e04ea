//! The seed tutorials (`/work/shared/seeds`, five blog posts about Python's
//! `multiprocessing`) ported to procshare, one module per example, plus the three race
//! demonstrations procshare exists for.
//!
//! Every ready example is a function `run(out)` that writes the same lines as the Python
//! original, byte for byte the same on every run: children never print, they write to a
//! [`ChildOutput`](procshare::process::ChildOutput) or to shared memory, and the parent
//! prints what they wrote in a fixed order. An example whose primitive does not exist
//! yet would be listed as [`Status::Pending`] with the reason (none is, today).
//!
//! [`ALL`] is the one registry: the `procshare-tutorial` binary (`list`, `run <name>`,
//! `run --all`), `cargo xtask tutorial` and the snapshot tests all read it. See
//! `docs/tutorials.md` for what each example shows and how it maps to the original.
#![deny(unsafe_op_in_unsafe_fn)]

mod child;
mod local_list;
mod race;

pub mod race_load_store;
pub mod race_locked;
pub mod race_nolock;
pub mod seed000_counter;
pub mod seed000_queue_workers;
pub mod seed001_string_value;
pub mod seed002_array;
pub mod seed002_global_list;
pub mod seed002_manager_dict;
pub mod seed002_queue;
pub mod seed002_value;
pub mod seed003_add_subtract;
pub mod seed003_thread_queue;
pub mod seed004_array_value;
pub mod seed004_global_list;
pub mod seed004_manager_list;
pub mod seed004_pipe;
pub mod seed004_queue;

use std::io::Write;

/// Why a tutorial could not run to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shared memory or a process could not be created or joined.
    #[error(transparent)]
    Shm(#[from] procshare::Error),
    /// A lock could not be taken.
    #[error(transparent)]
    Lock(#[from] procshare::LockError),
    /// A guard-returning lock method failed (the message of its `GuardError`).
    #[error("{0}")]
    Guard(String),
    /// A synchronisation object failed (a broken barrier, …).
    #[error(transparent)]
    Sync(#[from] procshare::SyncError),
    /// A message could not be sent or received on a `Connection`.
    #[error(transparent)]
    Connection(#[from] procshare::connection::Error),
    /// A manager request failed.
    #[error(transparent)]
    Manager(#[from] procshare::manager::Error),
    /// A queue operation failed.
    #[error(transparent)]
    Queue(#[from] procshare::QueueError),
    /// The harness could not run a schedule.
    #[error(transparent)]
    Harness(#[from] procshare_harness::HarnessError),
    /// Writing the output failed.
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
    /// A child process did not exit with code 0.
    #[error("child process `{name}` exited with code {code}; its output:\n{output}")]
    Child {
        /// What the tutorial calls the child.
        name: &'static str,
        /// Its exit code (CPython's convention: `-N` for signal `N`).
        code: i32,
        /// What it wrote before it ended.
        output: String,
    },
    /// The tutorial observed something its claim rules out.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl<G> From<procshare::GuardError<G>> for Error {
    fn from(e: procshare::GuardError<G>) -> Self {
        Error::Guard(e.to_string())
    }
}

/// The signature of a tutorial's entry point: write the output to `out`.
pub type RunFn = fn(out: &mut dyn Write) -> Result<(), Error>;

/// Whether a tutorial can run today.
#[derive(Debug, Clone, Copy)]
pub enum Status {
    /// Its primitives exist: run it with this function.
    Ready(RunFn),
    /// It needs a primitive that has not landed; the reason names it.
    Pending(&'static str),
}

/// One example of a seed tutorial, or one race demonstration.
#[derive(Debug, Clone, Copy)]
pub struct Tutorial {
    /// The name it is run by (`seed000-counter`, `race-nolock`, …).
    pub name: &'static str,
    /// The seed post it comes from (`000` … `004`), or `race` for the demonstrations.
    pub seed: &'static str,
    /// One line: what the example shows.
    pub summary: &'static str,
    /// Ready (with its entry point) or pending (with the reason).
    pub status: Status,
    /// What was fixed to make the output the same on every run, and how (the snapshot's
    /// description).
    pub deterministic_by: &'static str,
    /// A free-running variant whose output varies from run to run (not snapshotted), run
    /// by `procshare-tutorial run <name> --free`.
    pub free: Option<RunFn>,
}

impl Tutorial {
    /// Is it ready to run?
    pub fn is_ready(&self) -> bool {
        matches!(self.status, Status::Ready(_))
    }
}

/// A ready tutorial with no free-running variant.
const fn ready(
    name: &'static str,
    seed: &'static str,
    summary: &'static str,
    run: RunFn,
    deterministic_by: &'static str,
) -> Tutorial {
    Tutorial {
        name,
        seed,
        summary,
        status: Status::Ready(run),
        deterministic_by,
        free: None,
    }
}

/// A race demonstration: a forced schedule (snapshotted) and a free-running variant.
const fn race(
    name: &'static str,
    summary: &'static str,
    run: RunFn,
    free: RunFn,
    deterministic_by: &'static str,
) -> Tutorial {
    Tutorial {
        name,
        seed: "race",
        summary,
        status: Status::Ready(run),
        deterministic_by,
        free: Some(free),
    }
}

/// How every race demonstration is made exact.
const RACE_DETERMINISM: &str = "The interleaving is forced: the harness replays a fixed \
    replay token (one actor process runs at a time, every schedule point and futex wait \
    decided by the controller), then enumerates every schedule of the program depth-first; \
    both are pure functions of the program. The free-running variant (--free) is not \
    part of this output: its counts vary (see the free-race-* snapshots, which redact them).";

/// Every example of the five seed tutorials, in seed order, then the race demonstrations.
pub const ALL: &[Tutorial] = &[
    ready(
        "seed000-counter",
        "000",
        "10 processes each add 1 to a Value<i32> under its lock: the counter ends at 10",
        seed000_counter::run,
        "Nothing to fix: the children print nothing; the parent prints the counter after \
         joining all ten.",
    ),
    ready(
        "seed000-queue-workers",
        "000",
        "a Queue feeds items 0..9 and one None sentinel per worker to 4 worker processes",
        seed000_queue_workers::run,
        "Which worker takes which item varies from run to run (in Python too): each worker \
         writes its lines to its output pipe, and the parent prints all of them sorted by \
         item, then the checks that hold for every interleaving (each item exactly once, \
         the queue empty at the end).",
    ),
    ready(
        "seed001-string-value",
        "001",
        "a 10-byte string Value: one process polls until another sets it to \"my_data\"",
        seed001_string_value::run,
        "The original's sleeps (0.5 s polls, 1 s before and after the write) are Event \
         handshakes: the setter writes only after the poller has looked once and found \
         nothing, and reports only after the poller has reported. Each child writes to \
         its own output pipe; the parent prints process-1's lines, then process-2's.",
    ),
    ready(
        "seed002-global-list",
        "002",
        "a global list filled in a child is still empty in the parent",
        seed002_global_list::run,
        "The child writes its line to its output pipe; the parent prints it after joining \
         the child, then its own line.",
    ),
    ready(
        "seed002-array",
        "002",
        "an Array of 6 i32 filled with squares in a child is seen by the parent",
        seed002_array::run,
        "The child writes its line to its output pipe; the parent prints it after joining \
         the child, then its own line.",
    ),
    ready(
        "seed002-value",
        "002",
        "a Value<f64> changed from 3.14 to 11.24 in a child is seen by the parent",
        seed002_value::run,
        "The child writes its line to its output pipe; the parent prints it after joining \
         the child, then its own line.",
    ),
    ready(
        "seed002-queue",
        "002",
        "a child puts squares into a Queue; the parent prints them on one line",
        seed002_queue::run,
        "Nothing to fix: the parent joins the child before it reads the queue, and a put \
         has returned only once its item is in shared memory, so all six are there.",
    ),
    ready(
        "seed002-manager-dict",
        "002",
        "a Manager dict updated in a child, printed in the child and in the parent",
        seed002_manager_dict::run,
        "Nothing to fix: the parent prints after joining the child, whose line comes \
         through its output pipe; the dict prints its keys in insertion order, as Python's.",
    ),
    ready(
        "seed003-add-subtract",
        "003",
        "one process adds 1 and another subtracts 1, 1 000 000 times each, under the lock: 0",
        seed003_add_subtract::run,
        "Nothing to fix: the children print nothing; the parent prints the value after \
         joining both.",
    ),
    ready(
        "seed003-thread-queue",
        "003",
        "producer and consumer threads share a queue; the consumer's empty() check stops it early",
        seed003_thread_queue::run,
        "The original's sleeps (1 s after each put, 0.5 s after each get) are handshakes \
         between the two threads: the producer puts item 0 and waits until the consumer has \
         taken it and then found the queue empty; in the fixed version each put waits until \
         the previous item was consumed. Both threads append to one ordered log, printed \
         at the end.",
    ),
    ready(
        "seed004-global-list",
        "004",
        "a global list filled in process p1 is still empty in the main program",
        seed004_global_list::run,
        "The child writes its line to its output pipe; the parent prints it after joining \
         the child, then its own line.",
    ),
    ready(
        "seed004-array-value",
        "004",
        "squares into an Array<i32> and their sum into a Value<i32>, seen by the parent",
        seed004_array_value::run,
        "The child writes its two lines to its output pipe; the parent prints them after \
         joining the child, then its own two.",
    ),
    ready(
        "seed004-manager-list",
        "004",
        "a Manager list of (name, score) records: one process appends, another prints all",
        seed004_manager_list::run,
        "Nothing to fix: p2 starts after p1 has been joined, as in the original; each \
         child's lines come through its output pipe.",
    ),
    ready(
        "seed004-queue",
        "004",
        "one process puts squares into a Queue; a second prints them until it is empty",
        seed004_queue::run,
        "Nothing to fix: the second process starts after the first has been joined, as in \
         the original, so every square is in the queue when it looks.",
    ),
    ready(
        "seed004-pipe",
        "004",
        "a sender and a receiver process on the two ends of a Pipe, ending with \"END\"",
        seed004_pipe::run,
        "The two processes run concurrently and, in the original, print as they go, so \
         their lines interleave differently from run to run. Here each child writes to its \
         own output pipe; the parent prints the sender's lines, then the receiver's.",
    ),
    race(
        "race-nolock",
        "r1: the counter with no lock at all (NoLock) loses updates",
        race_nolock::run,
        race_nolock::free,
        RACE_DETERMINISM,
    ),
    race(
        "race-load-store",
        "r2: store(load() + 1) loses updates although each access takes the lock",
        race_load_store::run,
        race_load_store::free,
        RACE_DETERMINISM,
    ),
    race(
        "race-locked",
        "r3: the same counter under lock() never loses an update",
        race_locked::run,
        race_locked::free,
        RACE_DETERMINISM,
    ),
];

/// The tutorial called `name`.
pub fn find(name: &str) -> Option<&'static Tutorial> {
    ALL.iter().find(|t| t.name == name)
}

/// The `list` table: one line per tutorial (name, seed, status, summary), then the counts.
pub fn list(out: &mut dyn Write) -> std::io::Result<()> {
    let status = |t: &Tutorial| match t.status {
        Status::Ready(_) if t.free.is_some() => "ready (--free)".to_string(),
        Status::Ready(_) => "ready".to_string(),
        Status::Pending(reason) => format!("pending: {reason}"),
    };
    let name_width = ALL.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let status_width = ALL.iter().map(|t| status(t).len()).max().unwrap_or(0);
    for t in ALL {
        writeln!(
            out,
            "{:<name_width$}  {:<4}  {:<status_width$}  {}",
            t.name,
            t.seed,
            status(t),
            t.summary
        )?;
    }
    let ready = ALL.iter().filter(|t| t.is_ready()).count();
    writeln!(out, "{ready} ready, {} pending", ALL.len() - ready)
}
