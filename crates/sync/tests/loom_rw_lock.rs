//! Loom model checks of [`WriterPreferringRwLock`] and of the broken control
//! [`UncheckedReaderRwLock`].
//!
//! The guarded data is a `loom::cell::UnsafeCell`: readers read it (`with`), writers
//! write it (`with_mut`), so a reader and a writer (or two writers) that the lock failed
//! to order are loom's causality violation; a waiter that is never woken is loom's
//! deadlock report (no lost wake-up).
//!
//! Checked: readers share (a second reader gets in while one holds); a writer excludes
//! readers and writers (2 threads, and 3 threads in two mixes), every blocking call
//! returns (no lost wake-up); writer preference in a forced model (a reader arriving
//! while a writer waits does not get in, not even with `try_read`, before the writer has
//! written); `try_write_for` and `try_read_for` whose deadline may expire at any step
//! acquire correctly or give up leaving the lock usable (no stale writer-waiting bit); a
//! dead writer is taken over by a writer and by a reader with `OwnerDied`. The broken
//! control (readers that ignore the writer bits) must fail.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p
//! procshare-sync --test loom_rw_lock --target-dir target/loom`.
#![cfg(loom)]

mod common;

use common::{explore, explore_both, TIMEOUT};
use loom::cell::UnsafeCell;
use loom::thread;
use procshare_sync::broken::UncheckedReaderRwLock;
use procshare_sync::loom::{die, expire_deadlines};
use procshare_sync::rw_lock::WRITER_WAITING;
use procshare_sync::{LockError, RawRwLock, WriterPreferringRwLock};
use std::sync::Arc;

/// A lock and the data it guards.
struct Guarded<L> {
    lock: L,
    data: UnsafeCell<u64>,
}

// SAFETY: `data` is touched only under `lock` (which is what the models check).
unsafe impl<L: Sync> Sync for Guarded<L> {}

impl<L: RawRwLock + Default> Guarded<L> {
    fn new() -> Arc<Self> {
        Arc::new(Guarded {
            lock: L::default(),
            data: UnsafeCell::new(0),
        })
    }

    fn add_one(&self) {
        self.lock.write().unwrap();
        // SAFETY: write-locked.
        self.data.with_mut(|p| unsafe { *p += 1 });
        // SAFETY: we hold it for writing.
        unsafe { self.lock.unlock_write() }.unwrap();
    }

    fn read(&self) -> u64 {
        self.lock.read().unwrap();
        // SAFETY: read-locked: no writer.
        let v = self.data.with(|p| unsafe { *p });
        // SAFETY: we hold it for reading.
        unsafe { self.lock.unlock_read() }.unwrap();
        v
    }

    fn value(&self) -> u64 {
        // SAFETY: called after every thread was joined.
        self.data.with(|p| unsafe { *p })
    }
}

type Rw = Guarded<WriterPreferringRwLock>;

#[test]
fn readers_share() {
    explore("rw readers_share", None, || {
        let g = Rw::new();
        g.lock.read().unwrap();
        let g2 = g.clone();
        let t = thread::spawn(move || {
            assert!(g2.lock.try_read().unwrap(), "a second reader was refused");
            // SAFETY: both read: shared access is allowed.
            let _ = g2.data.with(|p| unsafe { *p });
            // SAFETY: held for reading just above.
            unsafe { g2.lock.unlock_read() }.unwrap();
        });
        // SAFETY: held for reading.
        let _ = g.data.with(|p| unsafe { *p });
        t.join().unwrap();
        // SAFETY: held for reading.
        unsafe { g.lock.unlock_read() }.unwrap();
        assert_eq!(g.lock.state(), 0);
    });
}

/// A writer and a reader, both blocking: exclusive, and both return.
#[test]
fn writer_and_reader_two_threads() {
    explore("rw writer_and_reader_two_threads", None, || {
        let g = Rw::new();
        let g2 = g.clone();
        let t = thread::spawn(move || g2.add_one());
        let v = g.read();
        assert!(v <= 1);
        t.join().unwrap();
        assert_eq!(g.value(), 1);
        assert_eq!(g.lock.state(), 0);
    });
}

/// Two writers and a reader.
#[test]
fn two_writers_and_a_reader() {
    explore("rw two_writers_and_a_reader", Some(2), || {
        let g = Rw::new();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || g.add_one())
            })
            .collect();
        assert!(g.read() <= 2);
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(g.value(), 2);
        assert_eq!(g.lock.state(), 0);
    });
}

/// A writer and two readers.
#[test]
fn a_writer_and_two_readers() {
    explore("rw a_writer_and_two_readers", Some(2), || {
        let g = Rw::new();
        let g2 = g.clone();
        let r = thread::spawn(move || g2.read());
        let g3 = g.clone();
        let w = thread::spawn(move || g3.add_one());
        let v = g.read();
        assert!(v <= 1 && r.join().unwrap() <= 1);
        w.join().unwrap();
        assert_eq!(g.value(), 1);
        assert_eq!(g.lock.state(), 0);
    });
}

/// Forced: a reader holds, a writer comes and waits (its bit is seen set), then a second
/// reader comes. It must not get in (`try_read` fails, and its `read` returns only after
/// the writer has written), although a reader still holds.
#[test]
fn a_waiting_writer_goes_before_a_new_reader() {
    explore("rw a_waiting_writer_goes_before_a_new_reader", None, || {
        let g = Rw::new();
        g.lock.read().unwrap();
        let g2 = g.clone();
        let w = thread::spawn(move || g2.add_one());
        while g.lock.state() & WRITER_WAITING == 0 {
            thread::yield_now();
        }
        assert!(
            !g.lock.try_read().unwrap(),
            "a new reader overtook a waiting writer"
        );
        let g3 = g.clone();
        let r = thread::spawn(move || g3.read());
        // SAFETY: the first read is ours.
        unsafe { g.lock.unlock_read() }.unwrap();
        assert_eq!(
            r.join().unwrap(),
            1,
            "the new reader got in before the writer"
        );
        w.join().unwrap();
        assert_eq!(g.lock.state(), 0);
    });
}

/// A writer's timeout may expire at any step while a reader holds and then releases:
/// it acquires exclusively or gives up, and either way the lock is free afterwards (a
/// writer that gave up took its waiting bit with it) and a reader gets in.
#[test]
fn try_write_for_expires_at_any_step() {
    explore_both("rw try_write_for_expires_at_any_step", None, || {
        let g = Rw::new();
        g.lock.read().unwrap();
        let g2 = g.clone();
        let w = thread::spawn(move || {
            let got = g2.lock.try_write_for(TIMEOUT).unwrap();
            if got {
                // SAFETY: write-locked.
                g2.data.with_mut(|p| unsafe { *p += 1 });
                // SAFETY: held for writing.
                unsafe { g2.lock.unlock_write() }.unwrap();
            }
            got
        });
        let clock = thread::spawn(expire_deadlines);
        // SAFETY: held for reading.
        unsafe { g.lock.unlock_read() }.unwrap();
        let got = w.join().unwrap();
        clock.join().unwrap();
        assert_eq!(g.lock.state(), 0, "a stale bit after try_write_for");
        assert_eq!(g.read(), u64::from(got));
        got
    });
}

/// A reader's timeout may expire at any step while a writer holds: it gets in only after
/// the write, or gives up.
#[test]
fn try_read_for_expires_at_any_step() {
    explore_both("rw try_read_for_expires_at_any_step", None, || {
        let g = Rw::new();
        g.lock.write().unwrap();
        let g2 = g.clone();
        let r = thread::spawn(move || {
            let got = g2.lock.try_read_for(TIMEOUT).unwrap();
            if got {
                // SAFETY: read-locked.
                assert_eq!(g2.data.with(|p| unsafe { *p }), 1);
                // SAFETY: held for reading.
                unsafe { g2.lock.unlock_read() }.unwrap();
            }
            got
        });
        let clock = thread::spawn(expire_deadlines);
        // SAFETY: write-locked.
        g.data.with_mut(|p| unsafe { *p = 1 });
        // SAFETY: held for writing.
        unsafe { g.lock.unlock_write() }.unwrap();
        let got = r.join().unwrap();
        clock.join().unwrap();
        assert_eq!(g.lock.state(), 0);
        got
    });
}

/// A writer dies holding the lock (at any step of a writer's and a reader's waits): a
/// waiter takes over with `OwnerDied` naming it, and the lock is usable afterwards.
#[test]
fn a_dead_writer_is_taken_over() {
    explore("rw a_dead_writer_is_taken_over", None, || {
        let g = Rw::new();
        let g2 = g.clone();
        let dead = thread::spawn(move || {
            g2.lock.write().unwrap();
            let me = procshare_sync::loom::current_owner();
            die();
            me
        });
        let g3 = g.clone();
        let writer = thread::spawn(move || {
            let took_over = match g3.lock.write() {
                Ok(()) => None,
                Err(LockError::OwnerDied { pid }) => pid,
                Err(e) => panic!("{e}"),
            };
            // SAFETY: held for writing either way.
            unsafe { g3.lock.unlock_write() }.unwrap();
            took_over
        });
        let reader = match g.lock.read() {
            Ok(()) => None,
            Err(LockError::OwnerDied { pid }) => pid,
            Err(e) => panic!("{e}"),
        };
        // SAFETY: read held either way.
        unsafe { g.lock.unlock_read() }.unwrap();
        let died = dead.join().unwrap();
        let by_writer = writer.join().unwrap();
        // The dead writer never released: at most one took it over, naming it; if
        // neither did, it died after both were done and still holds.
        let takers: Vec<_> = [reader, by_writer].into_iter().flatten().collect();
        match takers[..] {
            [] => assert_eq!(g.lock.state(), procshare_sync::rw_lock::WRITER | died),
            [pid] => {
                assert_eq!(pid, died);
                assert_eq!(g.lock.state(), 0);
            }
            _ => panic!("two takeovers: reader {reader:?}, writer {by_writer:?}"),
        }
    });
}

/// The broken control: a reader that increments the count without checking the writer
/// bits reads while a writer writes.
#[test]
#[should_panic(expected = "Causality violation")]
fn broken_control_unchecked_reader_fails() {
    explore("rw broken_control_unchecked_reader_fails", None, || {
        let g = Guarded::<UncheckedReaderRwLock>::new();
        let g2 = g.clone();
        let t = thread::spawn(move || g2.add_one());
        let _ = g.read();
        t.join().unwrap();
    });
}
