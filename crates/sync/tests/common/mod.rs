//! Helpers shared by the loom model files: exploring a model under a preemption bound and
//! checking that both outcomes of a race occur; [`raw_lock`] adds a counter guarded by a
//! lock and the models that every [`procshare_sync::RawLock`] strategy must pass.
//!
//! Every `tests/loom_*.rs` is its own crate and includes this module with `mod common;`
//! after its `#![cfg(loom)]`, so everything here is compiled under `--cfg loom` only.
//!
//! Shared objects live in `std::sync::Arc`s, not loom's: loom runs one model thread at a
//! time, so a std `Arc` is enough, and when a model fails loom unwinds the other threads
//! outside the execution, where dropping a loom `Arc` panics again and aborts the whole
//! test binary instead of reporting the failing test.
#![allow(
    dead_code,
    reason = "each loom test crate includes this module but uses only some of its helpers"
)]

pub(crate) mod raw_lock;

use loom::model::Builder;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A timeout long enough never to pass by itself: under loom only `expire_deadlines` ends it.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(1);

/// Explore `model` under the `LOOM_MAX_PREEMPTIONS` bound, lowered to `cap` if given, and
/// print how many executions that took. (`LOOM_LOG` traces only uncapped models: the
/// capped ones run through `Builder::check`, which installs no subscriber.)
pub(crate) fn explore(name: &str, cap: Option<usize>, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let counted = move || {
        counter.fetch_add(1, Relaxed);
        model();
    };
    let start = Instant::now();
    match cap {
        None => loom::model(counted),
        Some(cap) => {
            builder.preemption_bound = Some(builder.preemption_bound.map_or(cap, |b| b.min(cap)));
            builder.check(counted);
        }
    }
    eprintln!(
        "{name}: {} executions, preemption bound {:?}, {:.2?}",
        runs.load(Relaxed),
        builder.preemption_bound,
        start.elapsed()
    );
}

/// [`explore`] a model that returns which of two outcomes it had, and check that both
/// occur: the race really is explored. `never[i]` says what it means that outcome `i != 0`
/// never happened.
pub(crate) fn explore_outcomes(
    name: &str,
    cap: Option<usize>,
    never: [&str; 2],
    model: impl Fn() -> bool + Sync + Send + 'static,
) {
    let seen = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let record = seen.clone();
    explore(name, cap, move || {
        let outcome = model();
        record[usize::from(outcome)].store(true, Relaxed);
    });
    assert!(seen[1].load(Relaxed), "{name}: {}", never[1]);
    assert!(seen[0].load(Relaxed), "{name}: {}", never[0]);
}

/// [`explore_outcomes`] for a model whose two outcomes are just `false` and `true`.
pub(crate) fn explore_both(
    name: &str,
    cap: Option<usize>,
    model: impl Fn() -> bool + Sync + Send + 'static,
) {
    let never = [
        "outcome `false` never happened",
        "outcome `true` never happened",
    ];
    explore_outcomes(name, cap, never, model);
}
