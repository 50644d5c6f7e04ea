//! Helpers of the loom suites: a ring whose memory is loom atomics, and `explore`.
//!
//! Compiled only under `--cfg loom` (each loom test file includes it after its
//! `#![cfg(loom)]`). Shared objects live in `std::sync::Arc`s: loom runs one model thread
//! at a time, and when a model fails loom unwinds threads outside the execution, where
//! dropping a loom `Arc` would panic again and abort the binary.
#![allow(
    dead_code,
    reason = "each loom test crate uses only some of the helpers"
)]

use loom::model::Builder;
use procshare_queue::ring::{Faults, Geometry, Header, Record, RingRef, SLOT_HEADER_WORDS};
use procshare_sync::loom::AtomicU64;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// A ring in ordinary (loom) memory: `slots` slots of `payload_words` words each.
pub(crate) struct LoomRing {
    hdr: Header,
    words: Vec<AtomicU64>,
    recs: Vec<Record>,
    geo: Geometry,
    pub(crate) faults: Faults,
}

impl LoomRing {
    pub(crate) fn new(slots: u64, payload_words: usize, records: usize, flags: u32) -> Self {
        let slot_words = payload_words + SLOT_HEADER_WORDS;
        let ring = LoomRing {
            hdr: Header::new(1, flags),
            words: (0..slots as usize * slot_words)
                .map(|_| AtomicU64::new(0))
                .collect(),
            recs: (0..records).map(|_| Record::new()).collect(),
            geo: Geometry {
                slots,
                slot_words,
                records,
            },
            faults: Faults::default(),
        };
        ring.r().init_slots();
        ring
    }

    pub(crate) fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub(crate) fn r(&self) -> RingRef<'_> {
        RingRef {
            hdr: &self.hdr,
            words: &self.words,
            recs: &self.recs,
            geo: self.geo,
            faults: self.faults,
        }
    }
}

/// Explore `model` under `LOOM_MAX_PREEMPTIONS`, lowered to `cap` if given; print how many
/// executions it took.
pub(crate) fn explore(name: &str, cap: Option<usize>, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    if let Some(cap) = cap {
        builder.preemption_bound = Some(builder.preemption_bound.map_or(cap, |b| b.min(cap)));
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Relaxed);
        model();
    });
    eprintln!(
        "{name}: {} executions, preemption bound {:?}, {:.2?}",
        runs.load(Relaxed),
        builder.preemption_bound,
        start.elapsed()
    );
}
