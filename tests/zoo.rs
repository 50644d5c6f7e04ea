//! The strategy zoo's documented owner-death behaviour, shown with real SIGKILLed
//! processes: `Peterson`, `Bakery`, `McsLock` and `ClhLock` record no owner that a waiter
//! could prove dead and take over from, so a process killed while it holds the lock — and,
//! for the queue locks, one killed while it *waits* in the queue — wedges the lock: later
//! lockers can only bound their wait with `try_lock_for`, which returns `None` after its
//! timeout. Each test fails ("update the docs") if a strategy ever recovers instead.

mod common;

use common::first_line;
use procshare::strategy::{Bakery, ClhLock, McsLock, Peterson};
use procshare::{Process, RawLock, Value};
use std::io::Write;
use std::time::{Duration, Instant};

/// How long a later locker waits on the wedged lock.
const PROBE: Duration = Duration::from_millis(200);

/// Fork a child that takes the lock, says so on its output pipe, and waits to be killed.
fn spawn_holder<L: RawLock>(v: &Value<u64, L>) -> Process {
    let mut p = Process::spawn_with_output(|out| {
        let mut g = v.lock().unwrap();
        *g = 13;
        writeln!(out, "locked").unwrap();
        loop {
            // SAFETY: pause() only waits for a signal.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    assert_eq!(first_line(&mut p), "locked\n");
    p
}

/// The lock is wedged: a timed acquisition gives up after its full timeout.
fn assert_wedged<L: RawLock>(v: &Value<u64, L>) {
    let t0 = Instant::now();
    let got = v.try_lock_for(PROBE).unwrap();
    assert!(
        got.is_none(),
        "{} recovered from a dead process: update the docs",
        L::NAME
    );
    assert!(t0.elapsed() >= PROBE, "timed out early");
}

fn holder_killed_wedges<L: RawLock>() {
    let v = Value::<u64, L>::new(0).unwrap();
    let mut holder = spawn_holder(&v);
    holder.kill().unwrap();
    assert_eq!(holder.join().unwrap(), -libc::SIGKILL);
    assert_wedged(&v);
}

#[test]
fn peterson_is_wedged_by_a_killed_holder() {
    holder_killed_wedges::<Peterson>();
}

#[test]
fn bakery_is_wedged_by_a_killed_holder() {
    holder_killed_wedges::<Bakery>();
}

#[test]
fn mcs_is_wedged_by_a_killed_holder() {
    holder_killed_wedges::<McsLock>();
}

#[test]
fn clh_is_wedged_by_a_killed_holder() {
    holder_killed_wedges::<ClhLock>();
}

/// The parent holds the lock while a child queues behind it (`claimed()` reaches `when`
/// once the child has claimed its node); the child is killed in the queue, then the
/// parent releases: the hand-off goes to the dead node, and the lock is wedged.
fn waiter_killed_wedges<L: RawLock>(v: &Value<u64, L>, claimed: impl Fn() -> usize, when: usize) {
    let held = v.lock().unwrap();
    let mut queued = Process::spawn(|| {
        let _never = v.lock();
    })
    .unwrap();
    let t0 = Instant::now();
    while claimed() != when {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the waiter never queued"
        );
        std::thread::yield_now();
    }
    // A claimed node is not yet a queued one: the child enqueues a few instructions after
    // its claim and then sleeps on its node, so wait until it sleeps.
    wait_until_blocked(&queued);
    queued.kill().unwrap();
    assert_eq!(queued.join().unwrap(), -libc::SIGKILL);
    drop(held);
    assert_wedged(v);
}

/// Wait until process `p` is asleep (state `S` in `/proc/<pid>/stat`): a queued waiter
/// sleeps in `futex_wait` on its node after a short spin.
fn wait_until_blocked(p: &Process) {
    let path = format!("/proc/{}/stat", p.pid());
    let t0 = Instant::now();
    loop {
        let stat = std::fs::read_to_string(&path).unwrap();
        let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
        if state == Some('S') {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the waiter never slept"
        );
        std::thread::yield_now();
    }
}

#[test]
fn mcs_is_wedged_by_a_waiter_killed_in_the_queue() {
    let v = Value::<u64, McsLock>::new(0).unwrap();
    waiter_killed_wedges(&v, || v.get_lock().raw().nodes_claimed(), 2);
}

#[test]
fn clh_is_wedged_by_a_waiter_killed_in_the_queue() {
    let v = Value::<u64, ClhLock>::new(0).unwrap();
    // The holder freed the node it displaced when it acquired: claimed are the holder's
    // node and, once it has claimed, the waiter's.
    waiter_killed_wedges(&v, || v.get_lock().raw().nodes_claimed(), 2);
}
