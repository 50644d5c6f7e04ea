//! `cargo xtask compare`: every lock strategy and primitive of procshare against the raw
//! limits of the machine, CPython's `multiprocessing` and the Rust IPC crates a user
//! would otherwise pick, measured in one run on one machine, with correctness (lost
//! updates) and fairness beside speed.
//!
//! * [`cases`] is the registry: the workloads and every row (adding a strategy is one
//!   line; see its docs for how to add anything else);
//! * [`runner`] runs one repetition of one cell in real forked processes
//!   ([`procshare::Process::spawn`]), started together and stopped together;
//! * [`locks`], [`rw`], [`pairs`], [`streams`] and [`peers`] are the workloads' implementations,
//!   [`sys`] the raw system calls of the baselines, [`python`] the CPython side
//!   (`python/compare.py`);
//! * [`compare`] interleaves the repetitions and reduces them to [`model::Cell`]s;
//!   [`targets`] evaluates the project's targets; [`report`] and [`plot`] write
//!   `compare.md` and the SVGs; the JSON is [`model::Report`] as serde writes it;
//!   [`strategies`] renders `docs/strategies.md`'s table from a JSON.
//!
//! Tested by the unit tests of each module (the runner's accounting, every channel's
//! counts, the loss check that `verify` relies on, the targets' arithmetic, the plots'
//! labels) and by `tests/json.rs`, which reads the committed `docs/results/compare.json`
//! back.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cases;
pub mod compare;
pub mod locks;
pub mod manager;
pub mod model;
pub mod pairs;
pub mod peers;
pub mod plot;
pub mod python;
pub mod report;
pub mod runner;
pub mod rw;
pub mod strategies;
pub mod streams;
pub mod sys;
pub mod targets;

/// The workspace root (two levels above this package).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("xtask/compare lives two levels below the workspace root")
        .to_path_buf()
}
