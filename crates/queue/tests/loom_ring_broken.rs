//! The ring's loom models show their teeth: deliberately broken variants of the protocol
//! (`procshare_queue::ring::Faults`) must fail the same kinds of model that pass in
//! `loom_ring.rs`, with loom's own diagnosis or the model's assertion.
//!
//! * `no_wake` (neither side ever wakes an announced sleeper): a consumer that went to
//!   sleep on an empty ring is never woken, and loom reports the deadlock
//!   (`"deadlock; threads = [..]"`, loom 0.7's message).
//! * `racy_head` (consumers take the head with a load and a store instead of a CAS): two
//!   consumers can both take the same message: the model's duplicate check fails.
//!
//! * `ignore_pending_claim` (waiters sleep until woken even while the slot they wait for
//!   is claimed and not yet published or released): the fence-free notify of the claimant
//!   may miss them, and loom reports the deadlock. This is the case the ring's naps exist
//!   for ("Wake-ups without a fence" in `ring.rs`).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-queue --target-dir target/loom --test loom_ring_broken`.
#![cfg(loom)]

mod common;

use common::{explore, LoomRing};
use loom::thread;
use procshare_queue::ring::{Faults, CONSUMER, PRODUCER};
use procshare_sync::loom::Deadline;
use std::sync::Arc;

#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn a_ring_that_never_wakes_deadlocks() {
    let faults = Faults {
        no_wake: true,
        ..Faults::default()
    };
    explore(
        "broken a_ring_that_never_wakes_deadlocks",
        None,
        move || {
            let ring = Arc::new(LoomRing::new(1, 1, 2, 0).with_faults(faults));
            let r = ring.clone();
            let producer = thread::spawn(move || {
                let me = r.r().register(PRODUCER).unwrap();
                for i in 0..2u8 {
                    r.r().put(me, &[i], &Deadline::never()).unwrap();
                }
            });
            let me = ring.r().register(CONSUMER).unwrap();
            let mut out = Vec::new();
            for i in 0..2u8 {
                ring.r().get(me, &mut out, &Deadline::never()).unwrap();
                assert_eq!(out, [i]);
            }
            producer.join().unwrap();
        },
    );
}

#[test]
#[should_panic(expected = "duplicated")]
fn consumers_without_a_cas_duplicate_messages() {
    let faults = Faults {
        racy_head: true,
        ..Faults::default()
    };
    explore(
        "broken consumers_without_a_cas_duplicate_messages",
        None,
        move || {
            let ring = Arc::new(LoomRing::new(2, 1, 3, 0).with_faults(faults));
            let me = ring.r().register(PRODUCER).unwrap();
            for i in 0..2u8 {
                ring.r().put(me, &[i], &Deadline::never()).unwrap();
            }
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let r = ring.clone();
                    thread::spawn(move || {
                        let me = r.r().register(CONSUMER).unwrap();
                        let mut out = Vec::new();
                        r.r().try_get(me, &mut out).map(|_| out[0]).ok()
                    })
                })
                .collect();
            let got: Vec<Option<u8>> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
            assert!(
                got[0].is_none() || got[0] != got[1],
                "message {got:?} duplicated"
            );
        },
    );
}

#[test]
#[should_panic(expected = "deadlock; threads = ")]
fn a_waiter_that_ignores_a_pending_claim_misses_its_wake_up() {
    let faults = Faults {
        ignore_pending_claim: true,
        ..Faults::default()
    };
    explore(
        "broken a_waiter_that_ignores_a_pending_claim_misses_its_wake_up",
        None,
        move || {
            let ring = Arc::new(LoomRing::new(1, 1, 2, 0).with_faults(faults));
            let r = ring.clone();
            let producer = thread::spawn(move || {
                let me = r.r().register(PRODUCER).unwrap();
                r.r().put(me, &[7], &Deadline::never()).unwrap();
            });
            let me = ring.r().register(CONSUMER).unwrap();
            let mut out = Vec::new();
            ring.r().get(me, &mut out, &Deadline::never()).unwrap();
            assert_eq!(out, [7]);
            producer.join().unwrap();
        },
    );
}
