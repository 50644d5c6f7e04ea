//! Helpers shared by the cross-process tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use procshare::{Process, RawValue};

/// A one-shot barrier for `parties` processes, on a relaxed-atomic counter in shared
/// memory. Waiters yield (no sleeps) until everyone has arrived.
pub(crate) struct SpinBarrier {
    arrived: RawValue<u32>,
    parties: u32,
}

impl SpinBarrier {
    pub(crate) fn new(parties: u32) -> Self {
        SpinBarrier {
            arrived: RawValue::new(0).unwrap(),
            parties,
        }
    }

    pub(crate) fn wait(&self) {
        self.arrived.fetch_add(1);
        while self.arrived.load() < self.parties {
            std::thread::yield_now();
        }
    }
}

/// Spawn `n` children running `f(i)`, join them all, and assert that each exited with 0.
pub(crate) fn run_children(n: usize, f: impl Fn(usize)) {
    let mut children: Vec<Process> = (0..n)
        .map(|i| Process::spawn(|| f(i)).expect("fork"))
        .collect();
    for child in &mut children {
        assert_eq!(
            child.join().expect("join"),
            0,
            "child {} failed",
            child.pid()
        );
    }
}

/// The first line a child made by `Process::spawn_with_output` writes (blocks until it
/// does), with its newline.
pub(crate) fn first_line(p: &mut Process) -> String {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(p.output().expect("spawned with output"))
        .read_line(&mut line)
        .expect("read the child's output");
    line
}
