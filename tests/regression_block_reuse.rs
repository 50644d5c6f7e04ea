//! Regression: safe code could free shared memory that a live child still used.
//!
//! The program below is the reproduction from the foundation review, in safe code only:
//! a child borrows `v` and holds its lock; the parent drops `v` meanwhile. Before the fix
//! the heap handed `v`'s block straight to the next `Value::new`, reinitialised it under
//! the child (the parent could lock it while the child still held the old lock), and the
//! child's later write-back landed in the new value. Now the heap quarantines every block
//! that a live child may reach until that child is reaped. One test in this binary, as
//! the quarantine is process-wide.
#![forbid(unsafe_code)]

use procshare::{heap, Event, Process, RawValue, Shared, Value};
use std::time::{Duration, Instant};

#[test]
fn a_block_a_live_child_uses_is_never_handed_out_again() {
    let v = Value::<u64>::new(1).unwrap();
    let go = Shared::new(Event::new()).unwrap();
    let locked = RawValue::<u32>::new(0).unwrap();
    let mut child = Process::spawn(|| {
        let mut guard = v.lock().unwrap();
        locked.store(1);
        assert!(
            go.wait(Some(Duration::from_secs(20))),
            "never told to go on"
        );
        *guard = 99; // written back into v's block when the guard drops
    })
    .unwrap();
    let t0 = Instant::now();
    while locked.load() == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the child never locked"
        );
        std::thread::yield_now();
    }

    drop(v); // the parent's handle goes; the child still holds the lock in the block
             // Reusing the child's block would reinitialise its lock under it (so the parent could
             // lock "its" new value while the child holds the same word) and let the child's
             // write-back land in the new value, which the loads below would see.
    let fresh: Vec<Value<u64>> = (0..256).map(|_| Value::new(5).unwrap()).collect();
    let held_back = heap::quarantined_bytes();
    go.set();
    assert_eq!(child.join().unwrap(), 0);
    for w in &fresh {
        assert_eq!(
            w.load().unwrap(),
            5,
            "the child's write landed in a new value"
        );
    }
    assert!(
        held_back >= heap::BLOCK_ALIGN,
        "the freed block must have waited for the child"
    );
    // Reaped: nothing is held back any more.
    assert_eq!(heap::quarantined_bytes(), 0);
}
