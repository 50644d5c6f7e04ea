//! Loom model checks of the ring protocol (`procshare_queue::ring`).
//!
//! The models run the real `RingRef` code over loom atomics; the futex is the facade's
//! loom model, so a sleeper that nobody wakes makes loom report a deadlock, and a finite
//! deadline expires when the model's clock thread calls `expire_deadlines`.
//!
//! Proved, for every interleaving loom explores:
//! * one producer and one consumer through a one- and a two-slot ring, more messages than
//!   slots (both sides block, wrap around): every message arrives once, in order; no
//!   lost wake-up on either side;
//! * a message of two slots in a two-slot ring (it needs the ring empty) between one-slot
//!   messages: intact and in order;
//! * two producers and one consumer, and one producer and two consumers, through one
//!   slot (three threads, preemption bound 0): no loss, no duplication, no lost wake-up
//!   among several sleepers;
//! * a timed `get` racing a `put` and the clock: it returns the message or times out, and
//!   a timed-out get loses nothing;
//! * a producer whose process dies between claiming and publishing does not wedge the
//!   consumer: the claim becomes a tombstone and the next producer's message arrives;
//! * a poller (`poll_get`) sees such a stalled head as empty, `try_get` as stalled;
//! * a consumer whose process dies between claiming and releasing does not wedge the
//!   producer: its slot is released and the ring stays usable.
//!
//! The broken variants are in `loom_ring_broken.rs`.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-queue --target-dir target/loom --test loom_ring -- --nocapture`.
#![cfg(loom)]

mod common;

use common::{explore, LoomRing};
use loom::sync::atomic::AtomicBool;
use loom::thread;
use procshare_queue::ring::{Faults, GetError, WaitError, CONSUMER, JOINABLE, PRODUCER};
use procshare_sync::loom::{expire_deadlines, Deadline};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

fn put(ring: &LoomRing, me: usize, msg: &[u8]) {
    ring.r()
        .put(me, msg, &Deadline::never())
        .expect("an untimed put with a live consumer succeeds");
}

fn get(ring: &LoomRing, me: usize) -> Vec<u8> {
    let mut out = Vec::new();
    ring.r()
        .get(me, &mut out, &Deadline::never())
        .expect("an untimed get with a live producer succeeds");
    out
}

/// One producer sends `count` one-byte messages through `slots` slots.
fn spsc(name: &str, slots: u64, count: u8, cap: Option<usize>) {
    explore(name, cap, move || {
        let ring = Arc::new(LoomRing::new(slots, 1, 2, 0));
        let r = ring.clone();
        let producer = thread::spawn(move || {
            let me = r.r().register(PRODUCER).unwrap();
            for i in 0..count {
                put(&r, me, &[i]);
            }
        });
        let me = ring.r().register(CONSUMER).unwrap();
        for i in 0..count {
            assert_eq!(get(&ring, me), [i], "out of order, lost or duplicated");
        }
        producer.join().unwrap();
        assert!(ring.r().is_empty());
    });
}

/// Preemption bound 2.
#[test]
fn spsc_one_slot_three_messages() {
    spsc("ring spsc_one_slot_three_messages", 1, 3, Some(2));
}

/// Preemption bound 2.
#[test]
fn spsc_two_slots_three_messages() {
    spsc("ring spsc_two_slots_three_messages", 2, 3, Some(2));
}

/// Preemption bound 1 (bound 3 did not finish in 200 s here).
#[test]
fn a_two_slot_message_between_one_slot_messages() {
    explore(
        "ring a_two_slot_message_between_one_slot_messages",
        Some(1),
        || {
            let ring = Arc::new(LoomRing::new(2, 1, 2, 0));
            let r = ring.clone();
            let big: Vec<u8> = (1..=12).collect();
            let b = big.clone();
            let producer = thread::spawn(move || {
                let me = r.r().register(PRODUCER).unwrap();
                put(&r, me, &[7]);
                put(&r, me, &b);
                put(&r, me, &[8]);
            });
            let me = ring.r().register(CONSUMER).unwrap();
            assert_eq!(get(&ring, me), [7]);
            assert_eq!(get(&ring, me), big);
            assert_eq!(get(&ring, me), [8]);
            producer.join().unwrap();
        },
    );
}

/// Two producers put `PER_PRODUCER` messages each; main consumes them all.
/// Three threads: preemption bound 0 (every interleaving that blocking and yielding
/// produce, every value a load may read; bound 1 did not finish in 6 minutes here).
#[test]
fn two_producers_one_consumer() {
    const PER_PRODUCER: u8 = 1;
    explore("ring two_producers_one_consumer", Some(0), || {
        // One slot: the producers contend for it and sleep on `space`.
        let ring = Arc::new(LoomRing::new(1, 1, 3, 0));
        let producers: Vec<_> = (0..2u8)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || {
                    let me = r.r().register(PRODUCER).unwrap();
                    for i in 0..PER_PRODUCER {
                        put(&r, me, &[p, i]);
                    }
                })
            })
            .collect();
        let me = ring.r().register(CONSUMER).unwrap();
        let mut next = [0u8; 2];
        for _ in 0..2 * PER_PRODUCER {
            let m = get(&ring, me);
            let p = m[0] as usize;
            assert_eq!(
                m[1], next[p],
                "producer {p}: out of order, lost or duplicated"
            );
            next[p] += 1;
        }
        assert_eq!(next, [PER_PRODUCER; 2]);
        for p in producers {
            p.join().unwrap();
        }
    });
}

/// Main puts two messages through one slot; two consumers take one each.
/// Three threads: preemption bound 0 (every interleaving that blocking and yielding
/// produce, every value a load may read; bound 1 did not finish in 6 minutes here).
#[test]
fn one_producer_two_consumers() {
    explore("ring one_producer_two_consumers", Some(0), || {
        let ring = Arc::new(LoomRing::new(1, 1, 3, 0));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let r = ring.clone();
                thread::spawn(move || {
                    let me = r.r().register(CONSUMER).unwrap();
                    get(&r, me)[0]
                })
            })
            .collect();
        let me = ring.r().register(PRODUCER).unwrap();
        for i in 0..2u8 {
            put(&ring, me, &[i]);
        }
        let mut got: Vec<u8> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1], "lost or duplicated");
    });
}

/// A timed get races a put and the clock.
#[test]
fn timed_get_returns_the_message_or_times_out_without_loss() {
    explore(
        "ring timed_get_returns_the_message_or_times_out_without_loss",
        None,
        || {
            let ring = Arc::new(LoomRing::new(1, 1, 2, 0));
            let r = ring.clone();
            let producer = thread::spawn(move || {
                let me = r.r().register(PRODUCER).unwrap();
                put(&r, me, &[5]);
            });
            let clock = thread::spawn(expire_deadlines);
            let me = ring.r().register(CONSUMER).unwrap();
            let mut out = Vec::new();
            let deadline = Deadline::after(Duration::from_secs(1));
            match ring.r().get(me, &mut out, &deadline) {
                Ok(1) => assert_eq!(out, [5]),
                Ok(n) => panic!("a message of {n} bytes"),
                Err(WaitError::TimedOut) => {
                    producer.join().unwrap();
                    assert_eq!(get(&ring, me), [5], "a timed-out get lost the message");
                    clock.join().unwrap();
                    return;
                }
                Err(e) => panic!("{e:?}"),
            }
            producer.join().unwrap();
            clock.join().unwrap();
        },
    );
}

/// Producer A dies right after claiming a position; main puts one message and takes one:
/// it must skip A's claim (whether before or after its own) and get its own message.
/// Producer A: registers, then puts `[1]` with `faults` (one of which makes it die).
fn spawn_dying_producer(ring: &Arc<LoomRing>, faults: Faults) -> thread::JoinHandle<()> {
    let r = ring.clone();
    thread::spawn(move || {
        let me = r.r().register(PRODUCER).unwrap();
        let mut broken = r.r();
        broken.faults = faults;
        let _ = broken.put(me, &[1], &Deadline::never());
    })
}

#[test]
fn a_producer_dead_between_claim_and_publish_is_skipped() {
    explore(
        "ring a_producer_dead_between_claim_and_publish_is_skipped",
        None,
        || {
            let ring = Arc::new(LoomRing::new(2, 1, 2, 0));
            let me = ring.r().register(PRODUCER | CONSUMER).unwrap();
            let a = spawn_dying_producer(
                &ring,
                Faults {
                    die_after_put_claim: true,
                    ..Faults::default()
                },
            );
            put(&ring, me, &[2]);
            assert_eq!(get(&ring, me), [2], "main's message must arrive, A's never");
            a.join().unwrap();
        },
    );
}

/// A poller's `poll_get` never looks at `tail`: a head claimed by a producer that died
/// before publishing is `Empty` to it, while `try_get` tells `Stalled` (and the blocking
/// `get`, which a poller falls back to, recovers it: see the test above).
#[test]
fn poll_get_sees_a_stalled_head_as_empty() {
    explore("ring poll_get_sees_a_stalled_head_as_empty", None, || {
        let ring = Arc::new(LoomRing::new(2, 1, 2, 0));
        let me = ring.r().register(CONSUMER).unwrap();
        let a = spawn_dying_producer(
            &ring,
            Faults {
                die_after_put_claim: true,
                ..Faults::default()
            },
        );
        a.join().unwrap();
        let mut out = Vec::new();
        assert_eq!(ring.r().poll_get(me, &mut out), Err(GetError::Empty));
        assert_eq!(ring.r().try_get(me, &mut out), Err(GetError::Stalled(0)));
        assert!(ring.r().recover_producer(0), "A is dead: its slot recovers");
        assert_eq!(ring.r().poll_get(me, &mut out), Err(GetError::Empty));
        assert_eq!(ring.r().try_get(me, &mut out), Err(GetError::Empty));
    });
}

/// Joinable ring: producer A dies in its put (after its claim, with `counted` after it
/// also counted its task, before its publish) while main puts and takes one message.
/// Once A is dead and its slot recovered, the task count is exactly main's task: one
/// `task_done`, no second, and `join` returns.
fn a_dead_put_leaves_no_task(name: &str, counted: bool) {
    explore(name, None, move || {
        let ring = Arc::new(LoomRing::new(2, 1, 2, JOINABLE));
        let me = ring.r().register(PRODUCER | CONSUMER).unwrap();
        let a = spawn_dying_producer(
            &ring,
            Faults {
                die_after_put_claim: !counted,
                die_after_put_count: counted,
                ..Faults::default()
            },
        );
        put(&ring, me, &[2]);
        a.join().unwrap();
        let mut got = Vec::new();
        let mut out = Vec::new();
        loop {
            match ring.r().try_get(me, &mut out) {
                Ok(_) => got.push(out[0]),
                Err(GetError::Stalled(q)) => {
                    assert!(ring.r().recover_producer(q), "A is dead: its slot recovers")
                }
                Err(GetError::Empty) => break,
            }
        }
        assert_eq!(got, [2], "main's message arrives, A's never");
        assert_eq!(ring.r().unfinished(), 1, "only main's task is unfinished");
        assert!(ring.r().task_done());
        assert!(!ring.r().task_done(), "A's void put left no task to finish");
        assert!(ring.r().join(&Deadline::never()));
    });
}

#[test]
fn a_producer_dead_before_counting_its_task_leaves_none() {
    a_dead_put_leaves_no_task(
        "ring a_producer_dead_before_counting_its_task_leaves_none",
        false,
    );
}

#[test]
fn a_producer_dead_after_counting_its_task_leaves_none() {
    a_dead_put_leaves_no_task(
        "ring a_producer_dead_after_counting_its_task_leaves_none",
        true,
    );
}

/// Consumer C dies right after claiming the message at position 0 (one slot); the
/// producer's next put must get the slot back.
#[test]
fn a_consumer_dead_between_claim_and_release_is_released() {
    explore(
        "ring a_consumer_dead_between_claim_and_release_is_released",
        None,
        || {
            let ring = Arc::new(LoomRing::new(1, 1, 2, 0));
            let me = ring.r().register(PRODUCER | CONSUMER).unwrap();
            put(&ring, me, &[1]);
            let registered = Arc::new(AtomicBool::new(false));
            let (r, reg) = (ring.clone(), registered.clone());
            let c = thread::spawn(move || {
                let me = r.r().register(CONSUMER).unwrap();
                reg.store(true, SeqCst);
                let mut broken = r.r();
                broken.faults = Faults {
                    die_after_get_claim: true,
                    ..Faults::default()
                };
                let mut out = Vec::new();
                let _ = broken.get(me, &mut out, &Deadline::never());
            });
            while !registered.load(SeqCst) {
                thread::yield_now();
            }
            // The slot is held by C (alive or dead) until C takes message 1.
            put(&ring, me, &[2]);
            assert_eq!(get(&ring, me), [2]);
            c.join().unwrap();
        },
    );
}
