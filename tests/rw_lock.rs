//! `RwLock<T: Pod>` across processes: writers' increments are exact and no reader ever
//! sees a half-written value (2/4/8 processes); a writer waiting behind a reader goes
//! before a reader that arrives after it (forced with handshakes on the lock's own state,
//! no sleeps); a writer killed holding the lock is taken over with `OwnerDied`; a reader
//! killed holding it wedges writers (the documented limit), which `try_write_for` bounds.

mod common;

use common::{first_line, run_children};
use procshare::rw_lock_bits::WRITER_WAITING;
use procshare::{GuardError, Process, RwLock};
use std::io::Write;
use std::time::Duration;

/// Writes per process.
const EACH: u64 = 100_000;

/// `procs` processes each increment both words `EACH` times under the write lock and
/// read under the read lock after every write: every read sees two equal words (a torn
/// write-back would show `w[0] != w[1]`), never going back, and the end is exact.
fn exact(procs: usize) {
    let v = RwLock::<[u64; 2]>::new([0; 2]).unwrap();
    run_children(procs, |_| {
        let mut last = 0;
        for _ in 0..EACH {
            {
                let mut w = v.write().unwrap();
                w[0] += 1;
                w[1] += 1;
            }
            let r = v.read().unwrap();
            assert_eq!(r[0], r[1], "torn read {:?}", *r);
            assert!(r[0] > last, "a read went back: {} after {last}", r[0]);
            last = r[0];
        }
    });
    assert_eq!(*v.read().unwrap(), [procs as u64 * EACH; 2]);
    assert_eq!(v.raw().state(), 0);
}

#[test]
fn two_processes_exact() {
    exact(2);
}

#[test]
fn four_processes_exact() {
    exact(4);
}

#[test]
fn eight_processes_exact() {
    exact(8);
}

/// One writer and three pure readers that read until the writer is done: every copy is
/// whole and the values never go back.
#[test]
fn readers_beside_a_writer_never_see_a_torn_value() {
    let v = RwLock::<[u64; 2]>::new([0; 2]).unwrap();
    run_children(4, |i| {
        if i == 0 {
            for _ in 0..EACH {
                let mut w = v.write().unwrap();
                w[0] += 1;
                w[1] += 1;
            }
            return;
        }
        let mut last = 0;
        while last < EACH {
            let r = v.read().unwrap();
            assert_eq!(r[0], r[1], "torn read {:?}", *r);
            assert!(r[0] >= last, "a read went back");
            last = r[0];
        }
    });
    assert_eq!(*v.read().unwrap(), [EACH; 2]);
}

/// Forced: the parent holds a read lock; a writer child comes and waits (the parent sees
/// its writer-waiting bit); a reader arriving now is refused by `try_read` (although only
/// readers hold), and a reader child that blocks in `read` (the parent sees both children
/// asleep) gets in only after the writer has written.
#[test]
fn a_waiting_writer_goes_before_a_later_reader() {
    let v = RwLock::<[u64; 2]>::new([0; 2]).unwrap();
    let held = v.read().unwrap();
    let mut writer = Process::spawn(|| {
        let mut w = v.write().unwrap();
        w[0] += 1;
        w[1] += 1;
    })
    .unwrap();
    while v.raw().state() & WRITER_WAITING == 0 {
        std::thread::yield_now();
    }
    assert!(
        v.try_read().unwrap().is_none(),
        "a new reader overtook a waiting writer"
    );
    let mut reader = Process::spawn(|| {
        let r = v.read().unwrap();
        assert_eq!(*r, [1, 1], "the reader got in before the waiting writer");
    })
    .unwrap();
    while v.raw().sleepers() < 2 {
        std::thread::yield_now();
    }
    drop(held);
    assert_eq!(writer.join().unwrap(), 0);
    assert_eq!(reader.join().unwrap(), 0);
    assert_eq!(v.raw().state(), 0);
}

/// A writer SIGKILLed inside its section: the next writer (and, in a second round, a
/// reader) takes the lock over with `OwnerDied` naming the dead pid, and the lock works
/// afterwards.
#[test]
fn a_killed_writer_is_taken_over() {
    let v = RwLock::<[u64; 2]>::new([0; 2]).unwrap();
    for as_reader in [false, true] {
        let mut child = Process::spawn_with_output(|out| {
            let mut w = v.write().unwrap();
            w[0] = 7; // half an update, never written back
            writeln!(out, "holding").unwrap();
            loop {
                // SAFETY: pause() only waits for a signal.
                unsafe { libc::pause() };
            }
        })
        .unwrap();
        assert_eq!(first_line(&mut child), "holding\n");
        let pid = child.pid();
        child.kill().unwrap();
        assert_eq!(child.join().unwrap(), -libc::SIGKILL);
        if as_reader {
            match v.read() {
                Err(GuardError::OwnerDied { pid: p, guard }) => {
                    assert_eq!(p, Some(pid));
                    assert_eq!(*guard, [1, 1]);
                }
                other => panic!("expected OwnerDied, got {:?}", other.map(|g| *g)),
            }
        } else {
            match v.write() {
                Err(GuardError::OwnerDied { pid: p, mut guard }) => {
                    assert_eq!(p, Some(pid));
                    *guard = [1, 1];
                }
                other => panic!("expected OwnerDied, got {:?}", other.map(|g| *g)),
            }
        }
        assert_eq!(v.raw().state(), 0);
    }
    assert_eq!(*v.try_write().unwrap().expect("free"), [1, 1]);
}

/// The documented limit: readers are counted, not recorded, so a reader SIGKILLed while
/// holding is never released. A writer then waits for ever; `try_write_for` gives up (and
/// takes its writer-waiting bit with it, so readers still get in).
#[test]
fn a_killed_reader_wedges_writers() {
    let v = RwLock::<u64>::new(0).unwrap();
    let mut child = Process::spawn_with_output(|out| {
        let _r = v.read().unwrap();
        writeln!(out, "reading").unwrap();
        loop {
            // SAFETY: pause() only waits for a signal.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    assert_eq!(first_line(&mut child), "reading\n");
    child.kill().unwrap();
    assert_eq!(child.join().unwrap(), -libc::SIGKILL);
    assert!(
        v.try_write_for(Duration::from_millis(150))
            .unwrap()
            .is_none(),
        "a writer got in although a (dead) reader holds"
    );
    assert_eq!(v.raw().state(), 1, "the dead reader's count stays");
    assert!(v.try_read().unwrap().is_some(), "readers are not wedged");
}
