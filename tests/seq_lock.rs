//! `SeqLock<T: Pod>` across processes: readers copy the value without locking and never
//! see a torn one; writers' read-modify-writes are exact; a writer killed mid-write is
//! reported to readers (`HolderExited`, not a hang) and repaired by the next write.

mod common;

use common::{first_line, run_children};
use procshare::{LockError, Process, SeqLock};
use std::io::Write;

/// Updates per process.
const EACH: u64 = 100_000;

/// `procs` processes each add 1 to all four words `EACH` times and read the value after
/// every update: every read is whole (four equal words), and the end is exact.
fn exact(procs: usize) {
    let v = SeqLock::<[u64; 4]>::new([0; 4]).unwrap();
    run_children(procs, |_| {
        let mut last = 0;
        for _ in 0..EACH {
            v.update(|w| w.map(|x| x + 1)).unwrap();
            let w = v.read().unwrap();
            assert!(w.iter().all(|&x| x == w[0]), "torn read {w:?}");
            assert!(
                w[0] > last,
                "a read went back in time: {} after {last}",
                w[0]
            );
            last = w[0];
        }
    });
    assert_eq!(v.read().unwrap(), [procs as u64 * EACH; 4]);
    assert_eq!(u64::from(v.writes()), procs as u64 * EACH);
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

/// One writer, three pure readers: readers spin on `read` while the writer writes
/// `[k; 4]` for k = 1..=EACH; every copy is whole and the values never go back.
#[test]
fn readers_beside_a_writer_never_see_a_torn_value() {
    let v = SeqLock::<[u64; 4]>::new([0; 4]).unwrap();
    run_children(4, |i| {
        if i == 0 {
            for k in 1..=EACH {
                v.write([k; 4]).unwrap();
            }
            return;
        }
        let mut last = 0;
        while last < EACH {
            let w = v.read().unwrap();
            assert!(w.iter().all(|&x| x == w[0]), "torn read {w:?}");
            assert!(w[0] >= last, "a read went back in time");
            last = w[0];
        }
    });
}

/// A writer SIGKILLed between `write_begin` and its store (inside `update`'s closure):
/// a reader is told (`HolderExited` with the writer's pid) instead of waiting for ever,
/// and the next write repairs the value and says so.
#[test]
fn a_writer_killed_mid_write_is_reported_and_repaired() {
    let v = SeqLock::<[u64; 4]>::new([1; 4]).unwrap();
    let mut writer = Process::spawn_with_output(|out| {
        let _ = v.update(|w| {
            writeln!(out, "writing").unwrap();
            loop {
                // SAFETY: pause() only waits for a signal.
                unsafe { libc::pause() };
                if w[0] == u64::MAX {
                    break w;
                }
            }
        });
    })
    .unwrap();
    assert_eq!(first_line(&mut writer), "writing\n");
    let pid = writer.pid();
    writer.kill().unwrap();
    assert_eq!(writer.join().unwrap(), -libc::SIGKILL);
    match v.read() {
        Err(LockError::HolderExited { pid: p }) => assert_eq!(p, pid),
        other => panic!("expected HolderExited, got {other:?}"),
    }
    assert!(v.write([2; 4]).unwrap(), "the repair must be reported");
    assert_eq!(v.read().unwrap(), [2; 4]);
    assert!(!v.write([3; 4]).unwrap());
}
