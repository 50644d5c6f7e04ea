//! Every excluding strategy, across processes: 2, 4 and 8 processes × 100 000 locked
//! increments end exact; `try_lock` and `try_lock_for` on a held lock fail (the latter
//! only after its timeout); the `NoLock` control excludes nothing.

mod common;

use common::run_children;
use procshare::strategy::{NoLock, TicketLock};
use procshare::{Process, RawLock, Value};
use std::time::{Duration, Instant};

const EACH: u64 = 100_000;

fn exact<L: RawLock>(procs: usize) {
    let v = Value::<u64, L>::new(0).unwrap();
    run_children(procs, |_| {
        for _ in 0..EACH {
            *v.lock().unwrap() += 1;
        }
    });
    assert_eq!(
        v.load().unwrap(),
        procs as u64 * EACH,
        "strategy {}",
        L::NAME
    );
}

fn held_lock_refuses_others<L: RawLock>() {
    let v = Value::<u64, L>::new(0).unwrap();
    let guard = v.lock().unwrap();
    let mut child = Process::spawn(|| {
        assert!(v.try_lock().unwrap().is_none(), "try_lock on a held lock");
        assert!(
            v.get_lock().try_acquire().unwrap().is_none(),
            "get_lock().try_acquire() on a held lock"
        );
        let t0 = Instant::now();
        assert!(v
            .try_lock_for(Duration::from_millis(100))
            .unwrap()
            .is_none());
        assert!(
            t0.elapsed() >= Duration::from_millis(100),
            "timed out early"
        );
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0, "strategy {}", L::NAME);
    drop(guard);
    // Released: a child now gets it at once.
    run_children(1, |_| {
        assert!(v.try_lock_for(Duration::from_secs(30)).unwrap().is_some());
    });
}

macro_rules! strategy_tests {
    ($($name:ident: $lock:ty;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn two_processes_exact() { exact::<$lock>(2) }
            #[test]
            fn four_processes_exact() { exact::<$lock>(4) }
            #[test]
            fn eight_processes_exact() { exact::<$lock>(8) }
            #[test]
            fn held_lock_refuses_other_processes() { held_lock_refuses_others::<$lock>() }
        }
    )*};
}

// Every excluding strategy, from the one list in `procshare-sync`.
procshare_sync::with_all_strategies!(strategy_tests);

#[test]
fn nolock_excludes_nothing() {
    let v = Value::<u64, NoLock>::new(0).unwrap();
    let _held = v.lock().unwrap();
    run_children(1, |_| {
        assert!(v.try_lock().unwrap().is_some());
        assert!(v.get_lock().try_acquire().unwrap().is_some());
        assert!(v.try_lock_for(Duration::ZERO).unwrap().is_some());
    });
}

#[test]
fn ticket_lock_grants_in_arrival_order() {
    // The parent holds ticket 0. Child i takes its ticket only once i + 1 tickets have
    // been issued, so the children queue in the order 0, 1, 2, 3; each records, under the
    // lock, its position. FIFO means the positions come out in queueing order.
    use procshare::Array;
    let lock = Value::<u32, TicketLock>::new(0).unwrap();
    let order = Array::<u32>::zeroed(4).unwrap();
    let held = lock.lock().unwrap();
    let mut children: Vec<Process> = (0..4u32)
        .map(|i| {
            Process::spawn(|| {
                while lock.get_lock().raw().tickets_issued() != i + 1 {
                    std::thread::yield_now();
                }
                let mut g = lock.lock().unwrap();
                order.set(*g as usize, i).unwrap();
                *g += 1;
            })
            .unwrap()
        })
        .collect();
    while lock.get_lock().raw().tickets_issued() != 5 {
        std::thread::yield_now();
    }
    drop(held);
    for c in &mut children {
        assert_eq!(c.join().unwrap(), 0);
    }
    assert_eq!(order.to_vec().unwrap(), [0, 1, 2, 3]);
}
