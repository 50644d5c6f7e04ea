//! Loom model checks of [`RawSeqLock`], the sequence-lock protocol, over a two-word value
//! `(a, b)` that every write sets to `(k, k)`: a reader that returns `a != b` accepted a
//! torn copy. The data words are loom atomics accessed with relaxed loads and stores only,
//! as the typed `SeqLock` of `procshare-shm` does, so every weak-memory outcome is
//! explored.
//!
//! Checked: with one writer (two writes) and a reader, with two writers and a reader, and
//! with one writer and two readers, no reader ever returns a torn value, and each returns a
//! value some write made; a writer that dies mid-write (`loom::die` after its first word)
//! is repaired by the next writer, which is told (`write_begin` returns true), while a
//! reader meanwhile either gets a consistent value or `HolderExited`. The broken control
//! (a reader that skips the re-check of the sequence) returns a torn value in some
//! execution, which the model reports.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --test loom_seq_lock --target-dir target/loom`.
#![cfg(loom)]

mod common;

use common::explore;
use loom::thread;
use procshare_sync::loom::{die, AtomicU64, Ordering::Relaxed};
use procshare_sync::{LockError, RawSeqLock};
use std::sync::Arc;

struct Pair {
    lock: RawSeqLock,
    a: AtomicU64,
    b: AtomicU64,
}

fn pair() -> Arc<Pair> {
    Arc::new(Pair {
        lock: RawSeqLock::new(),
        a: AtomicU64::new(0),
        b: AtomicU64::new(0),
    })
}

fn write(p: &Pair, k: u64) -> bool {
    let died = p.lock.write_begin().unwrap();
    p.a.store(k, Relaxed);
    p.b.store(k, Relaxed);
    // SAFETY: write_begin succeeded just above.
    unsafe { p.lock.write_end() }.unwrap();
    died
}

fn read(p: &Pair) -> Result<(u64, u64), LockError> {
    loop {
        let s = p.lock.read_begin()?;
        let v = (p.a.load(Relaxed), p.b.load(Relaxed));
        if p.lock.read_validate(s) {
            return Ok(v);
        }
    }
}

/// The broken reader: no re-check of the sequence after the copy.
fn read_without_recheck(p: &Pair) -> (u64, u64) {
    let _ = p.lock.read_begin().unwrap();
    (p.a.load(Relaxed), p.b.load(Relaxed))
}

fn assert_whole(v: (u64, u64), written: &[u64]) {
    assert_eq!(v.0, v.1, "torn read: {v:?}");
    assert!(written.contains(&v.0), "a value nobody wrote: {v:?}");
}

#[test]
fn reader_never_sees_a_torn_value_one_writer() {
    explore("seq_lock one writer two writes", None, || {
        let p = pair();
        let w = {
            let p = p.clone();
            thread::spawn(move || {
                write(&p, 1);
                write(&p, 2);
            })
        };
        assert_whole(read(&p).unwrap(), &[0, 1, 2]);
        w.join().unwrap();
        assert_whole(read(&p).unwrap(), &[2]);
    });
}

#[test]
fn reader_never_sees_a_torn_value_two_writers() {
    explore("seq_lock two writers", Some(2), || {
        let p = pair();
        let ws: Vec<_> = [1, 2]
            .map(|k| {
                let p = p.clone();
                thread::spawn(move || {
                    write(&p, k);
                })
            })
            .into();
        assert_whole(read(&p).unwrap(), &[0, 1, 2]);
        for w in ws {
            w.join().unwrap();
        }
        assert_whole(read(&p).unwrap(), &[1, 2]);
    });
}

#[test]
fn two_readers_never_see_a_torn_value() {
    explore("seq_lock two readers", Some(2), || {
        let p = pair();
        let w = {
            let p = p.clone();
            thread::spawn(move || {
                write(&p, 1);
            })
        };
        let r = {
            let p = p.clone();
            thread::spawn(move || assert_whole(read(&p).unwrap(), &[0, 1]))
        };
        assert_whole(read(&p).unwrap(), &[0, 1]);
        w.join().unwrap();
        r.join().unwrap();
    });
}

#[test]
fn a_writer_dying_mid_write_is_repaired_by_the_next() {
    explore("seq_lock writer dies", None, || {
        let p = pair();
        let dead = {
            let p = p.clone();
            thread::spawn(move || {
                p.lock.write_begin().unwrap();
                p.a.store(7, Relaxed);
                die(); // mid-write: `b` is never written, `seq` stays odd
            })
        };
        let r = {
            let p = p.clone();
            thread::spawn(move || match read(&p) {
                Ok(v) => assert_whole(v, &[0, 9]),
                Err(LockError::HolderExited { .. }) => {}
                Err(e) => panic!("unexpected {e}"),
            })
        };
        dead.join().unwrap();
        assert!(write(&p, 9), "the next writer must be told of the dead one");
        r.join().unwrap();
        assert_whole(read(&p).unwrap(), &[9]);
    });
}

/// The broken control: without the re-check a reader accepts a copy a write overlapped.
#[test]
#[should_panic(expected = "torn read")]
fn reader_without_recheck_sees_a_torn_value() {
    explore("broken seq_lock reader without recheck", None, || {
        let p = pair();
        let w = {
            let p = p.clone();
            thread::spawn(move || {
                write(&p, 1);
            })
        };
        assert_whole(read_without_recheck(&p), &[0, 1]);
        w.join().unwrap();
    });
}
