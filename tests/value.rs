//! `Value` and `RawValue` across processes: visibility both ways, guards, load/store,
//! the deterministic lost update of `store(load() + 1)` and of `NoLock`, and lock-free
//! `fetch_add`.

mod common;

use bytemuck::{Pod, Zeroable};
use common::{run_children, SpinBarrier};
use procshare::strategy::{FutexMutex, NoLock};
use procshare::{Process, RawValue, Value};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
    tag: [u8; 8],
}

#[test]
fn a_childs_write_is_seen_by_the_parent_and_the_parents_by_the_child() {
    let v = Value::<i64>::new(-5).unwrap();
    let mut p = Process::spawn(|| {
        assert_eq!(
            v.load().unwrap(),
            -5,
            "the parent's write is seen in the child"
        );
        v.store(42).unwrap();
    })
    .unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(v.load().unwrap(), 42);
}

#[test]
fn structs_floats_and_strings_round_trip_through_a_child() {
    let v = Value::<Point>::new(Point {
        x: 1.5,
        y: -2.0,
        tag: *b"before\0\0",
    })
    .unwrap();
    let s = Value::<[u8; 5]>::new(*b"hello").unwrap();
    run_children(1, |_| {
        let mut g = v.lock().unwrap();
        g.x *= 2.0;
        g.tag = *b"after\0\0\0";
        drop(g);
        let mut g = s.lock().unwrap();
        g.reverse();
    });
    let p = v.load().unwrap();
    assert_eq!((p.x, p.y, &p.tag), (3.0, -2.0, b"after\0\0\0"));
    assert_eq!(&s.load().unwrap(), b"olleh");
}

#[test]
fn guard_writes_back_only_on_drop() {
    let v = Value::<u32>::new(1).unwrap();
    {
        let mut g = v.lock().unwrap();
        *g = 2;
        assert_eq!(*g, 2);
        // Still held: another acquisition times out.
        assert!(v.try_lock_for(Duration::from_millis(10)).unwrap().is_none());
    }
    assert_eq!(v.load().unwrap(), 2);
}

fn locked_increments_are_exact<L: procshare::RawLock>(procs: usize, each: u64) {
    let v = Value::<u64, L>::new(0).unwrap();
    run_children(procs, |_| {
        for _ in 0..each {
            *v.lock().unwrap() += 1;
        }
    });
    assert_eq!(v.load().unwrap(), procs as u64 * each);
}

#[test]
fn locked_increments_from_two_children_are_exact() {
    locked_increments_are_exact::<FutexMutex>(2, 10_000);
}

#[test]
fn store_of_load_plus_one_loses_updates() {
    // Each child reads, then all meet at a barrier, then each writes what it read plus
    // one: every write is based on the same stale read, whatever the scheduling.
    let v = Value::<u64>::new(0).unwrap();
    let barrier = SpinBarrier::new(4);
    run_children(4, |_| {
        let x = v.load().unwrap();
        barrier.wait();
        v.store(x + 1).unwrap();
    });
    assert_eq!(
        v.load().unwrap(),
        1,
        "three of the four updates must be lost"
    );
}

#[test]
fn nolock_guard_loses_updates() {
    // Under NoLock every child gets a "guard" at once; they all read 0 before any writes.
    let v = Value::<u64, NoLock>::new(0).unwrap();
    let barrier = SpinBarrier::new(2);
    run_children(2, |_| {
        let mut g = v.lock().unwrap();
        let x = *g;
        barrier.wait();
        *g = x + 1;
    });
    assert_eq!(v.load().unwrap(), 1, "one of the two updates must be lost");
}

#[test]
fn raw_value_fetch_add_never_loses_an_update() {
    let v = RawValue::<u64>::new(0).unwrap();
    run_children(4, |_| {
        for _ in 0..100_000 {
            v.fetch_add(1);
        }
    });
    assert_eq!(v.load(), 400_000);
}

#[test]
fn raw_value_load_then_store_loses_updates_when_forced() {
    let v = RawValue::<u32>::new(10).unwrap();
    let barrier = SpinBarrier::new(2);
    run_children(2, |_| {
        let x = v.load();
        barrier.wait();
        v.store(x + 1);
    });
    assert_eq!(v.load(), 11);
}

#[test]
fn many_small_values_share_an_arena() {
    let before = procshare::heap::arena_count();
    let values: Vec<Value<u32>> = (0..1000).map(|i| Value::new(i).unwrap()).collect();
    assert!(procshare::heap::arena_count() <= before + 1);
    run_children(1, |_| {
        for (i, v) in values.iter().enumerate() {
            assert_eq!(v.load().unwrap(), i as u32);
            v.store(2 * i as u32).unwrap();
        }
    });
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v.load().unwrap(), 2 * i as u32);
    }
}

#[test]
fn a_child_allocates_from_its_own_arenas() {
    // A child that creates shared objects must not hand out blocks its parent also uses.
    let parent_side = Value::<u64>::new(7).unwrap();
    run_children(1, |_| {
        let mine: Vec<Value<u64>> = (0..100).map(|_| Value::new(99).unwrap()).collect();
        assert_eq!(mine.len(), 100);
        assert_eq!(parent_side.load().unwrap(), 7);
    });
    assert_eq!(parent_side.load().unwrap(), 7);
    let after = Value::<u64>::new(1).unwrap();
    assert_eq!(after.load().unwrap(), 1);
    assert_eq!(parent_side.load().unwrap(), 7);
}

#[test]
fn a_value_moved_into_a_child_is_not_freed_under_it() {
    // The parent must not drop (and so free) a shared object moved into the child's
    // closure: otherwise the next allocation could reuse its block while the child writes.
    let moved = Value::<u64>::new(0).unwrap();
    let done = RawValue::<u32>::new(0).unwrap();
    let go = RawValue::<u32>::new(0).unwrap();
    let (go_ref, done_ref) = (&go, &done);
    let mut child = Process::spawn(move || {
        while go_ref.load() == 0 {
            std::thread::yield_now();
        }
        moved.store(0xdead).unwrap();
        done_ref.store(1);
    })
    .unwrap();
    // Allocations the parent makes now must not land on the moved value's block.
    let fresh: Vec<Value<u64>> = (0..64).map(|_| Value::new(7).unwrap()).collect();
    go.store(1);
    assert_eq!(child.join().unwrap(), 0);
    assert_eq!(done.load(), 1);
    assert!(fresh.iter().all(|v| v.load().unwrap() == 7));
}
