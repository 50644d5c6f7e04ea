//! `RwValue` and `RwArray` across processes: with 2, 4 and 8 processes the writers'
//! updates are exact (100 000 each) while readers check an invariant on every read (all
//! elements equal, never going back), and pure reader processes beside them see only
//! whole updates; a writer killed inside its section is reported to the next reader of
//! an `RwArray` with the half-written elements visible (the documented outcome).

mod common;

use common::{first_line, run_children};
use procshare::{GuardError, Process, RawValue, RwArray, RwValue};
use std::io::Write;

/// Updates per writer process.
const EACH: u64 = 100_000;
/// Elements of the array: a write-back is 8 separate element stores.
const LEN: usize = 8;

/// `writers` processes each add 1 to every element `EACH` times under the write lock and
/// read under the read lock after every write; two more processes only read until the
/// writers are done. Every read sees `LEN` equal elements (a reader let in beside a
/// writer's element-by-element write-back would see them differ) that never go back, and
/// the end is exact.
fn array_exact(writers: usize) {
    let a = RwArray::<u64>::zeroed(LEN).unwrap();
    let done = RawValue::<u32>::new(0).unwrap();
    let target = writers as u64 * EACH;
    run_children(writers + 2, |i| {
        let check = |r: &[u64], last: &mut u64| {
            assert!(r.iter().all(|&x| x == r[0]), "torn read {r:?}");
            assert!(r[0] >= *last, "a read went back: {} after {last}", r[0]);
            *last = r[0];
        };
        let mut last = 0;
        if i >= writers {
            let mut reads = 0u64;
            while done.load() < writers as u32 {
                check(&a.read().unwrap(), &mut last);
                reads += 1;
            }
            assert!(reads > 0);
            return;
        }
        for _ in 0..EACH {
            a.write().unwrap().iter_mut().for_each(|x| *x += 1);
            check(&a.read().unwrap(), &mut last);
        }
        done.fetch_add(1);
    });
    assert_eq!(a.to_vec().unwrap(), vec![target; LEN]);
    assert_eq!(a.raw().state(), 0);
}

#[test]
fn array_two_processes_exact() {
    array_exact(2);
}

#[test]
fn array_four_processes_exact() {
    array_exact(4);
}

#[test]
fn array_eight_processes_exact() {
    array_exact(8);
}

/// The value flavour: a `(count, count * 3)` pair whose invariant readers check;
/// `procs` writers, `EACH` read-modify-writes each, exact at the end.
fn value_exact(procs: usize) {
    let v = RwValue::<[u64; 2]>::new([0, 0]).unwrap();
    run_children(procs, |_| {
        for _ in 0..EACH {
            {
                let mut w = v.write().unwrap();
                w[0] += 1;
                w[1] = w[0] * 3;
            }
            let r = v.read().unwrap();
            assert_eq!(r[1], r[0] * 3, "torn read {:?}", *r);
        }
    });
    let n = procs as u64 * EACH;
    assert_eq!(v.load().unwrap(), [n, 3 * n]);
}

#[test]
fn value_two_processes_exact() {
    value_exact(2);
}

#[test]
fn value_four_processes_exact() {
    value_exact(4);
}

#[test]
fn value_eight_processes_exact() {
    value_exact(8);
}

/// A writer SIGKILLed after writing back half of its update (element stores are the
/// guard's drop, so the child writes the first half with `set`, which releases, then
/// takes the write lock and dies holding it): the next reader gets `OwnerDied` with the
/// dead pid and sees the half update; a writer repairs it and the lock works again.
#[test]
fn a_killed_writer_is_reported_to_the_next_reader() {
    let a = RwArray::<u64>::zeroed(4).unwrap();
    let mut child = Process::spawn_with_output(|out| {
        a.set(0, 1).unwrap();
        a.set(1, 1).unwrap();
        let _w = a.write().unwrap();
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
    match a.read() {
        Err(GuardError::OwnerDied { pid: p, guard }) => {
            assert_eq!(p, Some(pid));
            assert_eq!(&*guard, &[1, 1, 0, 0], "the half update is visible");
        }
        other => panic!("expected OwnerDied, got {:?}", other.map(|g| g.to_vec())),
    }
    a.write().unwrap().copy_from_slice(&[1; 4]);
    assert_eq!(a.to_vec().unwrap(), vec![1; 4]);
    assert_eq!(a.raw().state(), 0);
}
