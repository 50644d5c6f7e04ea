//! Conformance: every public operation of every primitive passes its schedule point, and
//! through one internal path (so that `Lock::lock` passes the same point as
//! `Lock::acquire`, `Condition::wait_for` the same as `Condition::wait`, …): a counting
//! scheduler records the points each operation passes, and the table below says what
//! each must pass. (One test in this binary: the scheduler is installed process-wide.)

use procshare::hook::{self, Point, Scheduler};
use procshare::strategy::{FutexMutex, SpinLock, TicketLock};
use procshare::{
    Array, Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, RawLock, Semaphore, Shared,
    Value,
};
use std::sync::Mutex;
use std::time::Duration;

static SEEN: Mutex<Vec<Point>> = Mutex::new(Vec::new());

struct Counting;

impl Scheduler for Counting {
    fn point(&self, point: Point) {
        SEEN.lock().unwrap().push(point);
    }
}

/// The points `op` passes (an operation that cannot block here: nobody else runs).
fn points(op: impl FnOnce()) -> Vec<Point> {
    SEEN.lock().unwrap().clear();
    op();
    std::mem::take(&mut *SEEN.lock().unwrap())
}

use Point::{Acquire, Load, Release, Store};

fn value_ops<L: RawLock>(problems: &mut Vec<String>) {
    let v = Value::<u64, L>::new(0).unwrap();
    let a = Array::<u64, L>::zeroed(2).unwrap();
    let d = Duration::from_millis(1);
    let cases: Vec<(&str, Vec<Point>, Vec<Point>)> = vec![
        (
            "Value::load",
            points(|| drop(v.load())),
            vec![Acquire, Load, Release],
        ),
        (
            "Value::store",
            points(|| drop(v.store(1))),
            vec![Acquire, Store, Release],
        ),
        (
            "Value::lock, read",
            points(|| drop(v.lock())),
            vec![Acquire, Load, Release],
        ),
        (
            "Value::lock, write",
            points(|| *v.lock().unwrap() += 1),
            vec![Acquire, Load, Store, Release],
        ),
        (
            "Value::try_lock",
            points(|| drop(v.try_lock())),
            vec![Acquire, Load, Release],
        ),
        (
            "Value::try_lock_for",
            points(|| drop(v.try_lock_for(d))),
            vec![Acquire, Load, Release],
        ),
        (
            "Value::get_lock().acquire",
            points(|| drop(v.get_lock().acquire())),
            vec![Acquire, Release],
        ),
        (
            "Array::get",
            points(|| drop(a.get(0))),
            vec![Acquire, Load, Release],
        ),
        (
            "Array::set",
            points(|| drop(a.set(0, 1))),
            vec![Acquire, Store, Release],
        ),
        (
            "Array::to_vec",
            points(|| drop(a.to_vec())),
            vec![Acquire, Load, Load, Release],
        ),
        // Under a scheduler the guard copies, so that the elements' points stay visible.
        (
            "Array::lock",
            points(|| drop(a.lock())),
            vec![Acquire, Load, Load, Release],
        ),
        (
            "Array::try_lock",
            points(|| drop(a.try_lock())),
            vec![Acquire, Load, Load, Release],
        ),
    ];
    for (name, got, want) in cases {
        if got != want {
            problems.push(format!(
                "{name}<{}>: passed {got:?}, expected {want:?}",
                L::NAME
            ));
        }
    }
}

#[test]
fn every_public_operation_passes_its_schedule_points() {
    hook::install(Some(&Counting));
    let mut problems = Vec::new();
    value_ops::<FutexMutex>(&mut problems);
    value_ops::<SpinLock>(&mut problems);
    value_ops::<TicketLock>(&mut problems);

    let lock = Shared::new(Lock::new()).unwrap();
    let rlock = Shared::new(RLock::new()).unwrap();
    let sem = Shared::new(Semaphore::new(1)).unwrap();
    let bsem = Shared::new(BoundedSemaphore::new(1)).unwrap();
    let event = Shared::new(Event::new()).unwrap();
    let cond = Shared::new(Condition::<Lock, 2>::new()).unwrap();
    let barrier = Shared::new(Barrier::new(1).unwrap()).unwrap();
    let d = Duration::from_millis(1);
    let cases: Vec<(&str, Vec<Point>, Vec<Point>)> = vec![
        (
            "Lock::acquire",
            points(|| lock.acquire().unwrap()),
            vec![Acquire],
        ),
        (
            "Lock::release",
            points(|| lock.release().unwrap()),
            vec![Release],
        ),
        (
            "Lock::try_acquire",
            points(|| assert!(lock.try_acquire().unwrap())),
            vec![Acquire],
        ),
        (
            "Lock::release (2)",
            points(|| lock.release().unwrap()),
            vec![Release],
        ),
        (
            "hook::without_scheduler around Lock::try_acquire and release",
            points(|| {
                hook::without_scheduler(|| {
                    assert!(!hook::is_active());
                    assert!(lock.try_acquire().unwrap());
                    lock.release().unwrap();
                });
                assert!(hook::is_active(), "the scheduler is back");
            }),
            vec![],
        ),
        (
            "Lock::acquire_timeout",
            points(|| assert!(lock.acquire_timeout(d).unwrap())),
            vec![Acquire],
        ),
        (
            "Lock::release (3)",
            points(|| lock.release().unwrap()),
            vec![Release],
        ),
        (
            "Lock::lock + drop",
            points(|| drop(lock.lock().unwrap())),
            vec![Acquire, Release],
        ),
        (
            "RLock::acquire",
            points(|| rlock.acquire().unwrap()),
            vec![Acquire],
        ),
        (
            "RLock::try_acquire (nested)",
            points(|| assert!(rlock.try_acquire().unwrap())),
            vec![Acquire],
        ),
        (
            "RLock::acquire_timeout (nested)",
            points(|| assert!(rlock.acquire_timeout(d).unwrap())),
            vec![Acquire],
        ),
        (
            "RLock::release x3",
            points(|| (0..3).for_each(|_| rlock.release().unwrap())),
            vec![Release, Release, Release],
        ),
        (
            "Semaphore::acquire",
            points(|| sem.acquire()),
            vec![Acquire],
        ),
        (
            "Semaphore::release",
            points(|| sem.release().unwrap()),
            vec![Release],
        ),
        (
            "Semaphore::try_acquire",
            points(|| assert!(sem.try_acquire())),
            vec![Acquire],
        ),
        (
            "Semaphore::release (2)",
            points(|| sem.release().unwrap()),
            vec![Release],
        ),
        (
            "Semaphore::acquire_timeout",
            points(|| assert!(sem.acquire_timeout(d))),
            vec![Acquire],
        ),
        (
            "BoundedSemaphore::acquire",
            points(|| bsem.acquire()),
            vec![Acquire],
        ),
        (
            "BoundedSemaphore::release",
            points(|| bsem.release().unwrap()),
            vec![Release],
        ),
        (
            "BoundedSemaphore::release over the bound",
            points(|| assert!(bsem.release().is_err())),
            vec![Release],
        ),
        ("Event::set", points(|| event.set()), vec![Release]),
        (
            "Event::wait (set)",
            points(|| assert!(event.wait(Some(d)))),
            vec![Acquire],
        ),
        ("Event::clear", points(|| event.clear()), vec![Store]),
        (
            "Condition::acquire",
            points(|| cond.acquire().unwrap()),
            vec![Acquire],
        ),
        (
            "Condition::notify",
            points(|| assert_eq!(cond.notify(1).unwrap(), 0)),
            vec![Store],
        ),
        (
            "Condition::notify_all",
            points(|| assert_eq!(cond.notify_all().unwrap(), 0)),
            vec![Store],
        ),
        (
            "Condition::wait_for (true at once)",
            points(|| assert!(cond.wait_for(|| true, Some(d)).unwrap())),
            vec![],
        ),
        // The condition's own point, then its lock's release and re-acquisition.
        (
            "Condition::wait (times out)",
            points(|| assert!(!cond.wait(Some(d)).unwrap())),
            vec![Release, Release, Acquire],
        ),
        (
            "Condition::wait_for (times out)",
            points(|| assert!(!cond.wait_for(|| false, Some(d)).unwrap())),
            vec![Release, Release, Acquire],
        ),
        (
            "Condition::release",
            points(|| cond.release().unwrap()),
            vec![Release],
        ),
        (
            "Barrier::wait (1 party)",
            points(|| assert_eq!(barrier.wait().unwrap(), 0)),
            vec![Acquire],
        ),
        (
            "Barrier::abort",
            points(|| barrier.abort().unwrap()),
            vec![Store],
        ),
        (
            "Barrier::reset",
            points(|| barrier.reset().unwrap()),
            vec![Store],
        ),
    ];
    hook::install(None);
    for (name, got, want) in cases {
        if got != want {
            problems.push(format!("{name}: passed {got:?}, expected {want:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
