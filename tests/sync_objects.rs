//! The synchronisation objects across real forked processes, checked against CPython's
//! documented behaviour of `multiprocessing`'s `Lock`, `RLock`, `Semaphore`,
//! `BoundedSemaphore`, `Condition`, `Event` and `Barrier`.
//!
//! No test sleeps to synchronise. A parent that needs a child to be *blocked* (not merely
//! started) polls `/proc/<pid>/syscall` until the child sleeps in `futex(2)`, or polls the
//! object's own state (`Condition::waiting`, `Barrier::n_waiting`), yielding between
//! checks. Children report through exit codes (a failed assertion is exit code 1) and
//! shared counters; every wait that could hang on a bug is bounded, so a bug fails the
//! test instead of hanging it.

mod common;

use common::run_children;
use procshare::process::exit;
use procshare::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, LockError, Process, RLock, RawArray,
    RawValue, Semaphore, Shared, SyncError,
};
use std::time::{Duration, Instant};

/// Far longer than any test should take: how long a parent waits before declaring a hang.
const HANG: Duration = Duration::from_secs(20);
/// The timeout the timing tests use (CPython's tests use 0.1 s too).
const TIMEOUT: Duration = Duration::from_millis(100);

/// Exit code of a child that got `SyncError::BrokenBarrier`.
const BROKEN: i32 = 3;
/// Exit code of a child whose untimed `Lock::acquire` reported `HolderExited`.
const HOLDER_EXITED: i32 = 4;
/// Exit code of a child whose blocking call returned normally.
const RETURNED: i32 = 5;
/// Exit code of a child whose timed wait ran out.
const TIMED_OUT: i32 = 6;
/// Exit code of a child that got `SyncError::ActionUnavailable`.
const ACTION_UNAVAILABLE: i32 = 7;

/// Yield until `cond()` holds; panic (never hang) if it takes longer than [`HANG`].
fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < HANG, "gave up waiting until {what}");
        std::thread::yield_now();
    }
}

/// Return once `child` is asleep in `futex(2)`: it is blocked in a wait, not merely about
/// to call one. (`/proc/<pid>/syscall` names the system call of a sleeping task and says
/// "running" for a running one.)
fn wait_until_blocked(child: &Process) {
    let path = format!("/proc/{}/syscall", child.pid());
    let futex = format!("{} ", libc::SYS_futex);
    spin_until(&format!("child {} sleeps in futex", child.pid()), || {
        std::fs::read_to_string(&path).is_ok_and(|s| s.starts_with(&futex))
    });
}

/// Send `sig` to `child` (not yet reaped).
fn signal(child: &Process, sig: libc::c_int) {
    // SAFETY: kill(2) touches no memory of ours; the pid is our child, not yet reaped, so
    // it cannot have been reused.
    let r = unsafe { libc::kill(child.pid() as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill({}, {sig})", child.pid());
}

/// Return once `child` is stopped (state `T` in `/proc/<pid>/stat`).
fn wait_until_stopped(child: &Process) {
    let path = format!("/proc/{}/stat", child.pid());
    spin_until(&format!("child {} is stopped", child.pid()), || {
        std::fs::read_to_string(&path).is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('T'))
        })
    });
}

/// Join `child`, panicking if it does not end within [`HANG`]; its exit code.
fn join(child: &mut Process) -> i32 {
    child
        .join_timeout(HANG)
        .expect("join")
        .unwrap_or_else(|| panic!("child {} hung", child.pid()))
}

/// A child that never returns by itself (it is killed by the test).
fn spawn_idle_forever(f: impl FnOnce()) -> Process {
    Process::spawn(|| {
        f();
        loop {
            std::thread::park();
        }
    })
    .expect("fork")
}

// ---------------------------------------------------------------------------------------
// Semaphore and BoundedSemaphore
// ---------------------------------------------------------------------------------------

#[test]
fn semaphore_counts_down_to_zero_and_releases_without_bound() {
    let sem = Shared::new(Semaphore::new(2)).unwrap();
    assert_eq!(sem.value(), 2);
    assert!(sem.try_acquire());
    assert_eq!(sem.value(), 1);
    sem.acquire();
    assert_eq!(sem.value(), 0);
    assert!(!sem.try_acquire(), "try_acquire at 0 must fail");
    assert_eq!(sem.value(), 0);
    // Another process sees the same count: it cannot take a unit either, and a timed
    // acquire gives up only after its timeout.
    run_children(1, |_| {
        assert!(!sem.try_acquire());
        let t0 = Instant::now();
        assert!(!sem.acquire_timeout(TIMEOUT));
        assert!(t0.elapsed() >= TIMEOUT, "acquire_timeout gave up early");
    });
    // Releases (from either process) raise it past the initial value: no bound.
    sem.release().unwrap();
    sem.release().unwrap();
    run_children(1, |_| {
        sem.release().unwrap();
        sem.release().unwrap();
    });
    sem.release().unwrap();
    assert_eq!(sem.value(), 5);
    run_children(1, |_| {
        for _ in 0..5 {
            assert!(sem.try_acquire());
        }
        assert!(!sem.try_acquire());
    });
    assert_eq!(sem.value(), 0);
}

#[test]
fn semaphore_release_wakes_a_child_blocked_in_acquire() {
    let sem = Shared::new(Semaphore::new(0)).unwrap();
    let mut child = Process::spawn(|| {
        sem.acquire();
        exit(RETURNED);
    })
    .unwrap();
    wait_until_blocked(&child);
    assert!(child.is_alive(), "acquire on 0 returned without a release");
    sem.release().unwrap();
    assert_eq!(join(&mut child), RETURNED);
    assert_eq!(sem.value(), 0, "the child took the unit");
}

#[test]
fn semaphore_each_release_wakes_exactly_one_blocked_child() {
    let sem = Shared::new(Semaphore::new(0)).unwrap();
    let mut children: Vec<Process> = (0..3)
        .map(|_| {
            Process::spawn(|| {
                sem.acquire();
                exit(RETURNED);
            })
            .unwrap()
        })
        .collect();
    for c in &children {
        wait_until_blocked(c);
    }
    sem.release().unwrap();
    sem.release().unwrap();
    spin_until("two children took a unit each", || {
        children
            .iter_mut()
            .map(|c| !c.is_alive())
            .filter(|&done| done)
            .count()
            >= 2
    });
    assert_eq!(sem.value(), 0);
    let (done, mut blocked): (Vec<_>, Vec<_>) =
        children.into_iter().partition(|c| c.exitcode().is_some());
    assert_eq!(done.len(), 2, "two releases woke more than two acquirers");
    assert!(done.iter().all(|c| c.exitcode() == Some(RETURNED)));
    // The third is still blocked (no unit left for it) until the third release.
    wait_until_blocked(&blocked[0]);
    assert!(blocked[0].is_alive());
    sem.release().unwrap();
    assert_eq!(join(&mut blocked[0]), RETURNED);
    assert_eq!(sem.value(), 0);
}

/// The semaphore a [`DieOnWake`] child watches.
static WATCHED: std::sync::atomic::AtomicPtr<Semaphore> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// A schedule hook that SIGKILLs its own process the moment it returns from a kernel
/// sleep while the watched semaphore has a unit: the waiter dies after being woken and
/// before taking the unit, deterministically.
struct DieOnWake;

impl procshare::hook::Scheduler for DieOnWake {
    fn point(&self, _: procshare::hook::Point) {}

    fn runnable(&self) {
        let sem = WATCHED.load(std::sync::atomic::Ordering::Relaxed);
        // SAFETY: set by this process to a `Shared<Semaphore>` that its (never returning)
        // child closure keeps alive; the object is only read through `&`.
        if !sem.is_null() && unsafe { &*sem }.value() > 0 {
            // SAFETY: raise only sends a signal to ourselves.
            unsafe { libc::raise(libc::SIGKILL) };
        }
    }
}

#[test]
fn semaphore_waiter_killed_right_after_being_woken_does_not_strand_the_unit() {
    // Before sleeps were bounded by the liveness slice, the one wake-up went to the doomed
    // waiter (queued first), the unit stayed at 1, and the other waiter slept for ever.
    let sem = Shared::new(Semaphore::new(0)).unwrap();
    let mut doomed = Process::spawn(|| {
        WATCHED.store(
            &*sem as *const Semaphore as *mut Semaphore,
            std::sync::atomic::Ordering::Relaxed,
        );
        procshare::hook::install(Some(&DieOnWake));
        sem.acquire();
        exit(RETURNED); // never: it dies whenever it wakes to a unit
    })
    .unwrap();
    wait_until_blocked(&doomed);
    let mut other = Process::spawn(|| {
        sem.acquire();
        exit(RETURNED);
    })
    .unwrap();
    wait_until_blocked(&other);
    sem.release().unwrap();
    assert_eq!(
        join(&mut other),
        RETURNED,
        "the other waiter never got the unit"
    );
    if doomed.join_timeout(Duration::ZERO).unwrap().is_none() {
        // The wake-up went to the other waiter: the doomed one still sleeps. Give it a
        // unit to wake to, so that it dies as designed.
        sem.release().unwrap();
    }
    assert_eq!(join(&mut doomed), -libc::SIGKILL);
}

#[test]
fn semaphore_never_admits_more_holders_than_its_count() {
    let sem = Shared::new(Semaphore::new(2)).unwrap();
    let inside = RawValue::<u32>::new(0).unwrap();
    let too_many = RawValue::<u32>::new(0).unwrap();
    run_children(4, |_| {
        for _ in 0..500 {
            sem.acquire();
            if inside.fetch_add(1) + 1 > 2 {
                too_many.fetch_add(1);
            }
            inside.fetch_add(u32::MAX); // -1
            sem.release().unwrap();
        }
    });
    assert_eq!(
        too_many.load(),
        0,
        "more than 2 processes held a Semaphore(2)"
    );
    assert_eq!(sem.value(), 2);
}

#[test]
fn bounded_semaphore_refuses_a_release_above_its_bound() {
    let sem = Shared::new(BoundedSemaphore::new(2)).unwrap();
    assert_eq!(sem.bound(), 2);
    assert!(matches!(
        sem.release(),
        Err(SyncError::ReleasedTooManyTimes { bound: 2 })
    ));
    sem.acquire();
    assert!(sem.try_acquire());
    assert!(!sem.try_acquire());
    assert_eq!(sem.value(), 0);
    // One release from a child, one from the parent: both fine.
    run_children(1, |_| sem.release().unwrap());
    sem.release().unwrap();
    assert_eq!(sem.value(), 2);
    // The third is one too many, in any process, and changes nothing.
    assert!(matches!(
        sem.release(),
        Err(SyncError::ReleasedTooManyTimes { bound: 2 })
    ));
    run_children(1, |_| {
        assert!(matches!(
            sem.release(),
            Err(SyncError::ReleasedTooManyTimes { bound: 2 })
        ));
    });
    assert_eq!(sem.value(), 2);
}

// ---------------------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------------------

#[test]
fn lock_held_elsewhere_times_out_after_the_timeout() {
    let lock = Shared::new(Lock::new()).unwrap();
    lock.acquire().unwrap();
    assert!(lock.is_locked());
    assert!(lock.is_mine(), "is_mine in the holder");
    run_children(1, |_| {
        assert!(lock.is_locked());
        assert!(!lock.is_mine(), "is_mine in another process");
        assert!(!lock.try_acquire().unwrap());
        let t0 = Instant::now();
        assert!(!lock.acquire_timeout(TIMEOUT).unwrap());
        let waited = t0.elapsed();
        assert!(
            waited >= TIMEOUT,
            "acquire_timeout gave up after {waited:?}"
        );
    });
    assert!(lock.is_mine());
    lock.release().unwrap();
    assert!(!lock.is_locked());
    assert!(!lock.is_mine());
    // Free now: a child gets it at once.
    run_children(1, |_| {
        assert!(lock.acquire_timeout(HANG).unwrap());
        assert!(lock.is_mine());
        lock.release().unwrap();
    });
}

#[test]
fn lock_release_of_an_unlocked_lock_is_not_locked() {
    let lock = Shared::new(Lock::new()).unwrap();
    assert!(matches!(lock.release(), Err(SyncError::NotLocked)));
    lock.acquire().unwrap();
    lock.release().unwrap();
    assert!(matches!(lock.release(), Err(SyncError::NotLocked)));
    run_children(1, |_| {
        assert!(matches!(lock.release(), Err(SyncError::NotLocked)));
    });
    assert!(!lock.is_locked());
}

#[test]
fn lock_acquired_by_the_parent_can_be_released_by_a_child() {
    let lock = Shared::new(Lock::new()).unwrap();
    lock.acquire().unwrap();
    run_children(1, |_| {
        assert!(!lock.is_mine());
        lock.release()
            .expect("Lock is ownerless: any process may release it");
        assert!(!lock.is_locked());
    });
    assert!(!lock.is_locked());
    assert!(!lock.is_mine());
    assert!(lock.try_acquire().unwrap(), "released by the child");
    lock.release().unwrap();
}

#[test]
fn lock_release_by_the_parent_wakes_a_child_blocked_in_acquire() {
    let lock = Shared::new(Lock::new()).unwrap();
    let guard = lock.lock().unwrap();
    let mut child = Process::spawn(|| {
        lock.acquire().unwrap();
        assert!(lock.is_mine());
        lock.release().unwrap();
        exit(RETURNED);
    })
    .unwrap();
    wait_until_blocked(&child);
    assert!(child.is_alive());
    drop(guard); // the guard releases
    assert_eq!(join(&mut child), RETURNED);
    assert!(!lock.is_locked());
}

// ---------------------------------------------------------------------------------------
// RLock
// ---------------------------------------------------------------------------------------

#[test]
fn rlock_needs_as_many_releases_as_acquires() {
    let rlock = Shared::new(RLock::new()).unwrap();
    rlock.acquire().unwrap();
    assert!(rlock.try_acquire().unwrap(), "the owner re-enters");
    assert!(rlock.acquire_timeout(TIMEOUT).unwrap());
    assert_eq!(rlock.depth(), 3);
    assert!(rlock.is_owned());
    for depth in (0..3).rev() {
        // Not free yet for anyone else; nor can anyone else release it.
        run_children(1, |_| {
            assert!(!rlock.is_owned());
            assert!(!rlock.try_acquire().unwrap(), "acquired a held RLock");
            assert!(matches!(rlock.release(), Err(SyncError::NotOwner)));
        });
        rlock.release().unwrap();
        assert_eq!(rlock.depth(), depth);
    }
    assert!(!rlock.is_owned());
    assert!(
        matches!(rlock.release(), Err(SyncError::NotLocked)),
        "a fourth release must fail"
    );
    // Free after the last release: another process gets it.
    run_children(1, |_| {
        assert!(rlock.try_acquire().unwrap());
        assert!(rlock.is_owned());
        assert_eq!(rlock.depth(), 1);
        rlock.release().unwrap();
    });
    assert_eq!(rlock.depth(), 0);
}

#[test]
fn rlock_held_by_a_child_cannot_be_released_by_the_parent() {
    let rlock = Shared::new(RLock::new()).unwrap();
    let locked = RawValue::<u32>::new(0).unwrap();
    let mut child = spawn_idle_forever(|| {
        rlock.acquire().unwrap();
        rlock.acquire().unwrap();
        locked.store(1);
    });
    spin_until("the child holds the RLock", || locked.load() == 1);
    assert!(matches!(rlock.release(), Err(SyncError::NotOwner)));
    assert!(!rlock.try_acquire().unwrap());
    child.kill().unwrap();
    assert_eq!(join(&mut child), -libc::SIGKILL);
}

// ---------------------------------------------------------------------------------------
// Condition
// ---------------------------------------------------------------------------------------

/// With the lock held: how many processes wait on `cond`.
fn waiting_now<const N: usize>(cond: &Condition<RLock, N>) -> usize {
    cond.acquire().unwrap();
    let n = cond.waiting();
    cond.release().unwrap();
    n
}

#[test]
fn condition_notify_wakes_exactly_n_longest_waiting() {
    const WAITERS: usize = 6;
    let cond: Shared<Condition> = Shared::new(Condition::new()).unwrap();
    let woken = RawValue::<u32>::new(0).unwrap();
    // Per child: its place in the order of arrival, and whether it was woken.
    let arrival = RawArray::<u32>::zeroed(WAITERS).unwrap();
    let was_woken = RawArray::<u32>::zeroed(WAITERS).unwrap();
    let next_arrival = RawValue::<u32>::new(0).unwrap();
    let mut children: Vec<Process> = (0..WAITERS)
        .map(|i| {
            let (cond, woken, arrival, was_woken, next_arrival) =
                (&cond, &woken, &arrival, &was_woken, &next_arrival);
            Process::spawn(move || {
                cond.acquire().unwrap();
                arrival.set(i, next_arrival.fetch_add(1)).unwrap();
                assert!(cond.wait(None).unwrap(), "wait(None) returned false");
                assert!(cond.lock().is_owned(), "wait returned without the lock");
                was_woken.set(i, 1).unwrap();
                woken.fetch_add(1);
                cond.release().unwrap();
            })
            .unwrap()
        })
        .collect();
    spin_until("6 processes wait", || waiting_now(&cond) == WAITERS);

    cond.acquire().unwrap();
    assert_eq!(cond.notify(2).unwrap(), 2);
    assert_eq!(
        cond.waiting(),
        4,
        "notified waiters no longer count as waiting"
    );
    cond.release().unwrap();
    spin_until("2 woken children record it", || woken.load() == 2);

    // Exactly the two longest-waiting were woken; join them.
    let flags = was_woken.to_vec();
    let order = arrival.to_vec();
    for (i, child) in children.iter_mut().enumerate() {
        if flags[i] == 1 {
            assert!(
                order[i] < 2,
                "woke child {i}, arrival {}, not the oldest",
                order[i]
            );
            assert_eq!(join(child), 0);
        }
    }
    // The other four are still asleep in their wait, still counted, and nobody else
    // recorded a wake-up.
    for (i, child) in children.iter_mut().enumerate() {
        if flags[i] == 0 {
            wait_until_blocked(child);
            assert!(child.is_alive(), "child {i} left its wait unnotified");
        }
    }
    assert_eq!(waiting_now(&cond), 4);
    assert_eq!(woken.load(), 2, "notify(2) woke more than 2");

    cond.acquire().unwrap();
    assert_eq!(cond.notify(4).unwrap(), 4);
    cond.release().unwrap();
    for child in &mut children {
        assert_eq!(join(child), 0);
    }
    assert_eq!(woken.load(), 6);

    // Nobody waits: a notify wakes nobody and leaves no credit for a later waiter.
    cond.acquire().unwrap();
    assert_eq!(cond.waiting(), 0);
    assert_eq!(cond.notify(3).unwrap(), 0);
    assert_eq!(cond.notify_all().unwrap(), 0);
    cond.release().unwrap();
    run_children(1, |_| {
        cond.acquire().unwrap();
        let t0 = Instant::now();
        assert!(
            !cond.wait(Some(TIMEOUT)).unwrap(),
            "woken by a notify that happened before the wait"
        );
        assert!(t0.elapsed() >= TIMEOUT);
        cond.release().unwrap();
    });
    assert_eq!(woken.load(), 6);
}

#[test]
fn condition_wait_for_returns_once_the_predicate_holds() {
    let cond: Shared<Condition> = Shared::new(Condition::new()).unwrap();
    let counter = RawValue::<u32>::new(0).unwrap();
    let evaluations = RawValue::<u32>::new(0).unwrap();
    let mut waiter = Process::spawn(|| {
        cond.acquire().unwrap();
        let ok = cond
            .wait_for(
                || {
                    assert!(cond.lock().is_owned(), "predicate run without the lock");
                    evaluations.fetch_add(1);
                    counter.load() == 4
                },
                Some(HANG),
            )
            .unwrap();
        assert!(ok, "wait_for timed out");
        assert_eq!(counter.load(), 4);
        cond.release().unwrap();
    })
    .unwrap();
    let mut notifier = Process::spawn(|| {
        for _ in 0..4 {
            // Notify only while the waiter waits, so that each notify wakes it.
            spin_until("the waiter waits", || {
                cond.acquire().unwrap();
                if cond.waiting() == 1 {
                    return true;
                }
                cond.release().unwrap();
                false
            });
            counter.fetch_add(1);
            assert_eq!(cond.notify(1).unwrap(), 1);
            cond.release().unwrap();
        }
    })
    .unwrap();
    assert_eq!(join(&mut notifier), 0);
    assert_eq!(join(&mut waiter), 0);
    // Once before waiting, and once after each of the 4 notifications.
    assert_eq!(evaluations.load(), 5);
    // A predicate that never holds: false after the timeout.
    run_children(1, |_| {
        cond.acquire().unwrap();
        let t0 = Instant::now();
        assert!(!cond
            .wait_for(|| counter.load() == 5, Some(TIMEOUT))
            .unwrap());
        assert!(t0.elapsed() >= TIMEOUT);
        cond.release().unwrap();
    });
}

#[test]
fn condition_needs_its_lock_and_times_out() {
    let cond: Shared<Condition> = Shared::new(Condition::new()).unwrap();
    assert!(matches!(cond.wait(None), Err(SyncError::NotOwner)));
    assert!(matches!(cond.wait(Some(TIMEOUT)), Err(SyncError::NotOwner)));
    assert!(matches!(cond.notify(1), Err(SyncError::NotOwner)));
    assert!(matches!(cond.notify_all(), Err(SyncError::NotOwner)));
    assert!(matches!(cond.release(), Err(SyncError::NotLocked)));
    // Held by the parent: still not the child's.
    cond.acquire().unwrap();
    run_children(1, |_| {
        assert!(matches!(cond.wait(Some(TIMEOUT)), Err(SyncError::NotOwner)));
        assert!(matches!(cond.notify(1), Err(SyncError::NotOwner)));
        assert!(matches!(cond.release(), Err(SyncError::NotOwner)));
    });
    cond.release().unwrap();
    // With the lock and no notify: false after the timeout, with the lock held again.
    run_children(1, |_| {
        cond.acquire().unwrap();
        let t0 = Instant::now();
        assert!(!cond.wait(Some(TIMEOUT)).unwrap());
        let waited = t0.elapsed();
        assert!(waited >= TIMEOUT, "wait timed out after {waited:?}");
        assert!(cond.lock().is_owned());
        assert_eq!(cond.waiting(), 0, "a timed-out waiter left its slot behind");
        cond.release().unwrap();
    });
}

#[test]
fn condition_on_a_plain_lock_works_across_processes() {
    let cond: Shared<Condition<Lock>> = Shared::new(Condition::new()).unwrap();
    assert!(matches!(cond.notify(1), Err(SyncError::NotOwner)));
    let mut waiter = Process::spawn(|| {
        cond.acquire().unwrap();
        assert!(cond.wait(Some(HANG)).unwrap());
        assert!(cond.lock().is_mine());
        cond.release().unwrap();
    })
    .unwrap();
    spin_until("the waiter waits", || {
        cond.acquire().unwrap();
        let n = cond.waiting();
        cond.release().unwrap();
        n == 1
    });
    cond.acquire().unwrap();
    assert_eq!(cond.notify_all().unwrap(), 1);
    cond.release().unwrap();
    assert_eq!(join(&mut waiter), 0);
}

#[test]
fn condition_wait_releases_every_level_of_its_rlock_and_restores_them() {
    let cond: Shared<Condition> = Shared::new(Condition::new()).unwrap();
    let mut waiter = Process::spawn(|| {
        cond.acquire().unwrap();
        cond.acquire().unwrap();
        assert_eq!(cond.lock().depth(), 2);
        assert!(cond.wait(Some(HANG)).unwrap());
        assert_eq!(cond.lock().depth(), 2, "depth not restored after the wait");
        cond.release().unwrap();
        cond.release().unwrap();
        assert!(matches!(cond.release(), Err(SyncError::NotLocked)));
    })
    .unwrap();
    // The parent can take the lock (so the wait released both levels) and notify.
    spin_until("the waiter waits", || waiting_now(&cond) == 1);
    cond.acquire().unwrap();
    assert_eq!(cond.notify(1).unwrap(), 1);
    cond.release().unwrap();
    assert_eq!(join(&mut waiter), 0);
}

#[test]
fn condition_with_all_slots_taken_refuses_one_more_waiter() {
    let cond: Shared<Condition<RLock, 2>> = Shared::new(Condition::new()).unwrap();
    assert_eq!(cond.capacity(), 2);
    let mut waiters: Vec<Process> = (0..2)
        .map(|_| {
            Process::spawn(|| {
                cond.acquire().unwrap();
                assert!(cond.wait(Some(HANG)).unwrap());
                cond.release().unwrap();
            })
            .unwrap()
        })
        .collect();
    spin_until("2 processes wait", || waiting_now(&cond) == 2);
    cond.acquire().unwrap();
    assert!(matches!(
        cond.wait(Some(TIMEOUT)),
        Err(SyncError::TooManyWaiters { capacity: 2 })
    ));
    assert!(cond.lock().is_owned(), "a refused wait keeps the lock");
    assert_eq!(cond.notify_all().unwrap(), 2);
    cond.release().unwrap();
    for w in &mut waiters {
        assert_eq!(join(w), 0);
    }
}

#[test]
fn condition_reclaims_the_slot_of_a_waiter_that_died() {
    let cond: Shared<Condition<RLock, 1>> = Shared::new(Condition::new()).unwrap();
    let mut doomed = Process::spawn(|| {
        cond.acquire().unwrap();
        let _ = cond.wait(None);
    })
    .unwrap();
    spin_until("the doomed child waits", || waiting_now(&cond) == 1);
    doomed.kill().unwrap();
    assert_eq!(join(&mut doomed), -libc::SIGKILL);
    run_children(1, |_| {
        cond.acquire().unwrap();
        assert!(
            !cond.wait(Some(TIMEOUT)).unwrap(),
            "the only slot was not reclaimed"
        );
        cond.release().unwrap();
    });
}

/// BUG: a waiter that died keeps its slot `WAITING`; `notify(1)` then picks that slot (it
/// is the oldest) and counts it as woken, and the live waiter sleeps on. In CPython a dead
/// waiter cannot swallow a notification (the semaphore it would have taken is taken by a
/// live waiter).
#[test]
fn condition_notify_is_not_swallowed_by_a_waiter_that_died() {
    let cond: Shared<Condition> = Shared::new(Condition::new()).unwrap();
    let mut doomed = Process::spawn(|| {
        cond.acquire().unwrap();
        let _ = cond.wait(None);
    })
    .unwrap();
    spin_until("the doomed child waits", || waiting_now(&cond) == 1);
    let began = Instant::now();
    doomed.kill().unwrap();
    assert_eq!(join(&mut doomed), -libc::SIGKILL);
    let mut live = Process::spawn(|| {
        cond.acquire().unwrap();
        let notified = cond.wait(Some(Duration::from_secs(2))).unwrap();
        cond.release().unwrap();
        exit(if notified { RETURNED } else { TIMED_OUT });
    })
    .unwrap();
    wait_until_blocked(&live);
    // `notify` does not probe a waiter that began to wait in the current millisecond (the
    // documented price of `Condition::waiter_alive`: such a waiter, killed at once, may
    // swallow one notification). Kill, reap, fork and block can all fit in that
    // millisecond, so let the clock pass it (a condition on time, not on the other
    // process).
    spin_until("the dead waiter is past the 1 ms grace", || {
        began.elapsed() >= Duration::from_millis(2)
    });
    cond.acquire().unwrap();
    let waiting = cond.waiting();
    let woke = cond.notify(1).unwrap();
    cond.release().unwrap();
    assert_eq!(
        join(&mut live),
        RETURNED,
        "notify(1) went to the dead waiter; the live one was never woken"
    );
    assert_eq!(woke, 1);
    assert_eq!(waiting, 1, "a dead waiter is counted as waiting");
}

// ---------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------

#[test]
fn event_wait_times_out_unset_and_returns_at_once_when_set() {
    let ev = Shared::new(Event::new()).unwrap();
    assert!(!ev.is_set());
    run_children(1, |_| {
        let t0 = Instant::now();
        assert!(!ev.wait(Some(TIMEOUT)));
        let waited = t0.elapsed();
        assert!(waited >= TIMEOUT, "wait gave up after {waited:?}");
    });
    ev.set();
    assert!(ev.is_set());
    run_children(1, |_| {
        assert!(ev.is_set());
        assert!(ev.wait(None));
        // Already set: even a huge timeout returns at once.
        let t0 = Instant::now();
        assert!(ev.wait(Some(HANG)));
        assert!(t0.elapsed() < HANG / 2);
        ev.clear();
    });
    assert!(!ev.is_set(), "cleared by the child");
    ev.clear(); // clearing an unset event is fine
    assert!(!ev.is_set());
    assert!(!ev.wait(Some(Duration::ZERO)));
}

#[test]
fn event_set_releases_every_blocked_child() {
    let ev = Shared::new(Event::new()).unwrap();
    let mut children: Vec<Process> = (0..4)
        .map(|_| {
            Process::spawn(|| {
                assert!(ev.wait(None));
                exit(RETURNED);
            })
            .unwrap()
        })
        .collect();
    for c in &children {
        wait_until_blocked(c);
    }
    assert!(children.iter_mut().all(|c| c.is_alive()));
    ev.set();
    for c in &mut children {
        assert_eq!(join(c), RETURNED);
    }
    assert!(ev.is_set(), "set stays set after waking the waiters");
}

/// BUG: `set()` followed by `clear()` before a blocked waiter gets the CPU leaves that
/// waiter asleep: it wakes, finds the flag clear and sleeps again. CPython
/// (`threading.Event`, of which `multiprocessing.Event` is a clone): `set` awakens every
/// waiting thread, and `wait` "returns True if and only if the internal flag has been set
/// to true, either before the wait call or after the wait starts".
///
/// The waiters are stopped (SIGSTOP) while the parent runs `set(); clear()`, so that none
/// of them can run in between: that makes deterministic what otherwise depends on the
/// scheduler (without the stop, the test fails in most runs, not all).
#[test]
fn event_set_then_clear_still_releases_the_waiters_blocked_at_the_set() {
    let ev = Shared::new(Event::new()).unwrap();
    let limit = Duration::from_secs(2);
    let mut children: Vec<Process> = (0..3)
        .map(|_| {
            Process::spawn(|| {
                let t0 = Instant::now();
                let flag = ev.wait(Some(limit));
                exit(match (flag, t0.elapsed() < limit) {
                    (true, _) => RETURNED,
                    (false, true) => 2, // returned early, but reported the flag clear
                    (false, false) => TIMED_OUT,
                });
            })
            .unwrap()
        })
        .collect();
    for c in &children {
        wait_until_blocked(c);
        signal(c, libc::SIGSTOP);
        wait_until_stopped(c);
    }
    ev.set();
    ev.clear();
    for c in &children {
        signal(c, libc::SIGCONT);
    }
    for c in &mut children {
        assert_eq!(
            join(c),
            RETURNED,
            "a waiter blocked in wait() when set() ran was not released (exit {TIMED_OUT}: \
             it slept through the set until its timeout)"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------

#[test]
fn barrier_of_5_processes_runs_10_passes_in_lockstep() {
    const PARTIES: usize = 5;
    const PASSES: u32 = 10;
    // The action outlives this test (it is registered for the barrier's whole life).
    // progress[i] = k + 1 once process i has arrived at pass k.
    let progress: &'static RawArray<u32> = Box::leak(Box::new(RawArray::zeroed(PARTIES).unwrap()));
    let index_zero = RawArray::<u32>::zeroed(PASSES as usize).unwrap();
    let index_sum = RawArray::<u32>::zeroed(PASSES as usize).unwrap();
    let actions: &'static RawValue<u32> = Box::leak(Box::new(RawValue::new(0).unwrap()));
    let action_saw_stragglers: &'static RawValue<u32> =
        Box::leak(Box::new(RawValue::new(0).unwrap()));
    // CPython's Barrier(parties, action): the action, given once, runs in the last arrival
    // of each pass, before anyone leaves, while every party calls plain `wait()`.
    let barrier = Barrier::with_action(PARTIES as u32, move || {
        let pass = actions.fetch_add(1);
        if progress.to_vec().iter().any(|&p| p != pass + 1) {
            action_saw_stragglers.fetch_add(1);
        }
    })
    .unwrap();
    let barrier = Shared::new(barrier.with_timeout(HANG)).unwrap();
    run_children(PARTIES, |i| {
        for k in 0..PASSES {
            progress.set(i, k + 1).unwrap();
            let index = barrier.wait().unwrap();
            assert!(index < PARTIES as u32);
            if index == 0 {
                index_zero.fetch_add(k as usize, 1).unwrap();
            }
            index_sum.fetch_add(k as usize, index).unwrap();
            // Everyone finished pass k; nobody is beyond pass k + 1.
            for (j, p) in progress.to_vec().into_iter().enumerate() {
                assert!(p > k, "process {j} at {p} when {i} left pass {k}");
                assert!(p <= k + 2, "process {j} at {p} when {i} left pass {k}");
            }
        }
    });
    assert_eq!(
        actions.load(),
        PASSES,
        "the action runs exactly once per pass"
    );
    assert_eq!(action_saw_stragglers.load(), 0);
    assert_eq!(
        index_zero.to_vec(),
        vec![1; PASSES as usize],
        "one index 0 per pass"
    );
    assert_eq!(
        index_sum.to_vec(),
        vec![10; PASSES as usize],
        "indices 0..5 per pass"
    );
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
}

/// A child that waits on `barrier` and exits with [`BROKEN`] if it is broken.
fn spawn_barrier_waiter(barrier: &Barrier) -> Process {
    Process::spawn(|| match barrier.wait() {
        Err(SyncError::BrokenBarrier) => exit(BROKEN),
        Ok(index) => exit(10 + index as i32),
        Err(e) => panic!("unexpected {e}"),
    })
    .unwrap()
}

/// One full cycle of `barrier` (3 parties: 2 children and the parent) succeeds.
fn full_cycle(barrier: &Barrier) {
    let mut children = [spawn_barrier_waiter(barrier), spawn_barrier_waiter(barrier)];
    let mut indices = vec![barrier.wait().unwrap()];
    for c in &mut children {
        let code = join(c);
        assert!((10..13).contains(&code), "child exit {code}");
        indices.push((code - 10) as u32);
    }
    indices.sort_unstable();
    assert_eq!(indices, [0, 1, 2]);
}

#[test]
fn barrier_abort_breaks_every_waiter_until_reset() {
    let barrier = Shared::new(Barrier::new(3).unwrap()).unwrap();
    assert_eq!(barrier.parties(), 3);
    let mut children = [
        spawn_barrier_waiter(&barrier),
        spawn_barrier_waiter(&barrier),
    ];
    spin_until("2 parties wait", || barrier.n_waiting() == 2);
    barrier.abort().unwrap();
    for c in &mut children {
        assert_eq!(join(c), BROKEN);
    }
    assert!(barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
    // Stays broken, for every process, without waiting.
    assert!(matches!(barrier.wait(), Err(SyncError::BrokenBarrier)));
    run_children(1, |_| {
        assert!(barrier.is_broken());
        assert!(matches!(barrier.wait(), Err(SyncError::BrokenBarrier)));
    });
    // Reset makes it usable again.
    barrier.reset().unwrap();
    assert!(!barrier.is_broken());
    full_cycle(&barrier);
    assert!(!barrier.is_broken());
}

#[test]
fn barrier_reset_breaks_the_current_waiters_and_leaves_it_usable() {
    let barrier = Shared::new(Barrier::new(3).unwrap()).unwrap();
    let mut children = [
        spawn_barrier_waiter(&barrier),
        spawn_barrier_waiter(&barrier),
    ];
    spin_until("2 parties wait", || barrier.n_waiting() == 2);
    barrier.reset().unwrap();
    for c in &mut children {
        assert_eq!(join(c), BROKEN);
    }
    assert!(!barrier.is_broken());
    full_cycle(&barrier);
}

#[test]
fn barrier_wait_timeout_breaks_it_for_every_party() {
    let barrier = Shared::new(Barrier::new(3).unwrap()).unwrap();
    let mut patient = spawn_barrier_waiter(&barrier);
    spin_until("1 party waits", || barrier.n_waiting() == 1);
    run_children(1, |_| {
        let t0 = Instant::now();
        assert!(matches!(
            barrier.wait_timeout(TIMEOUT),
            Err(SyncError::BrokenBarrier)
        ));
        let waited = t0.elapsed();
        assert!(waited >= TIMEOUT, "wait_timeout gave up after {waited:?}");
    });
    assert_eq!(join(&mut patient), BROKEN);
    assert!(barrier.is_broken());
    run_children(1, |_| {
        let t0 = Instant::now();
        assert!(matches!(barrier.wait(), Err(SyncError::BrokenBarrier)));
        assert!(
            t0.elapsed() < HANG / 2,
            "a broken barrier made a waiter wait"
        );
    });
}

#[test]
fn barrier_default_timeout_applies_to_wait() {
    let barrier = Shared::new(Barrier::new(2).unwrap().with_timeout(TIMEOUT)).unwrap();
    run_children(1, |_| {
        let t0 = Instant::now();
        assert!(matches!(barrier.wait(), Err(SyncError::BrokenBarrier)));
        assert!(t0.elapsed() >= TIMEOUT);
    });
    assert!(barrier.is_broken());
}

#[test]
fn barrier_rejects_zero_parties_and_a_panicking_action_breaks_it() {
    assert!(matches!(
        Barrier::new(0),
        Err(SyncError::InvalidArgument(_))
    ));
    assert!(matches!(
        Barrier::new(Barrier::MAX_PARTIES + 1),
        Err(SyncError::InvalidArgument(_))
    ));
    let action = || panic!("the barrier action fails (expected by this test)");
    let barrier = Shared::new(Barrier::with_action(2, action).unwrap()).unwrap();
    let mut other = spawn_barrier_waiter(&barrier);
    spin_until("1 party waits", || barrier.n_waiting() == 1);
    // The parent completes the cycle; the action panics (caught by the barrier).
    assert!(matches!(barrier.wait(), Err(SyncError::BrokenBarrier)));
    assert_eq!(join(&mut other), BROKEN);
    assert!(barrier.is_broken());
}

// ---------------------------------------------------------------------------------------
// Owner death
// ---------------------------------------------------------------------------------------

#[test]
fn lock_whose_holder_was_killed_is_reported_never_taken_over() {
    let lock = Shared::new(Lock::new()).unwrap();
    let locked = RawValue::<u32>::new(0).unwrap();
    let mut holder = spawn_idle_forever(|| {
        lock.acquire().unwrap();
        locked.store(1);
    });
    spin_until("the holder holds the lock", || locked.load() == 1);
    let pid = holder.pid();
    holder.kill().unwrap();
    assert_eq!(join(&mut holder), -libc::SIGKILL);
    // CPython: acquire(timeout=t) after the holder exited is False after t.
    let t0 = Instant::now();
    assert!(!lock.acquire_timeout(TIMEOUT).unwrap());
    assert!(t0.elapsed() >= TIMEOUT, "gave up early: {:?}", t0.elapsed());
    // Untimed: reported, not hung, and not acquired.
    match lock.acquire() {
        Err(SyncError::Lock(LockError::HolderExited { pid: got })) => assert_eq!(got, pid),
        other => panic!("expected HolderExited, got {other:?}"),
    }
    assert!(lock.is_locked(), "the exited holder's acquisition stands");
    assert!(!lock.is_mine(), "nobody took the lock over");
    assert_eq!(lock.holder(), pid);
    assert!(matches!(
        lock.lock(),
        Err(procshare::GuardError::Lock(LockError::HolderExited { .. }))
    ));
    // The hand-off: an explicit release by anyone frees it.
    lock.release().unwrap();
    assert!(!lock.is_locked());
    run_children(1, |_| {
        lock.acquire().unwrap();
        lock.release().unwrap();
    });
}

#[test]
fn lock_waiter_blocked_when_the_holder_dies_is_told_and_does_not_take_it() {
    let lock = Shared::new(Lock::new()).unwrap();
    let locked = RawValue::<u32>::new(0).unwrap();
    let mut holder = spawn_idle_forever(|| {
        lock.acquire().unwrap();
        locked.store(1);
    });
    spin_until("the holder holds the lock", || locked.load() == 1);
    let pid = holder.pid();
    let mut waiter = Process::spawn(|| match lock.acquire() {
        Err(SyncError::Lock(LockError::HolderExited { .. })) => {
            assert!(!lock.is_mine());
            exit(HOLDER_EXITED);
        }
        other => panic!("expected HolderExited, got {other:?}"),
    })
    .unwrap();
    wait_until_blocked(&waiter);
    holder.kill().unwrap();
    assert_eq!(join(&mut waiter), HOLDER_EXITED);
    assert_eq!(join(&mut holder), -libc::SIGKILL);
    assert!(lock.is_locked());
    assert_eq!(lock.holder(), pid);
}

#[test]
fn lock_hand_off_across_three_processes_keeps_mutual_exclusion() {
    // A acquires and exits without releasing; B releases (the hand-off); C acquires and
    // stays inside; a fourth process must not get in while C is there.
    let lock = Shared::new(Lock::new()).unwrap();
    let c_inside = RawValue::<u32>::new(0).unwrap();
    let mut a = Process::spawn(|| lock.acquire().unwrap()).unwrap();
    assert_eq!(join(&mut a), 0);
    assert!(lock.is_locked());
    let mut b = Process::spawn(|| lock.release().unwrap()).unwrap();
    assert_eq!(join(&mut b), 0);
    let mut c = spawn_idle_forever(|| {
        assert!(lock.acquire_timeout(HANG).unwrap());
        c_inside.store(1);
    });
    spin_until("C holds the lock", || c_inside.load() == 1);
    run_children(1, |_| {
        assert!(
            !lock.try_acquire().unwrap(),
            "a fourth process got in beside C"
        );
        assert!(!lock.acquire_timeout(TIMEOUT).unwrap());
    });
    assert_eq!(lock.holder(), c.pid());
    c.kill().unwrap();
    join(&mut c);
}

#[test]
fn lock_guard_does_not_release_a_lock_that_was_handed_off() {
    let lock = Shared::new(Lock::new()).unwrap();
    let c_inside = RawValue::<u32>::new(0).unwrap();
    let guard = lock.lock().unwrap();
    // Another process releases the parent's acquisition and a third takes the lock.
    let mut b = Process::spawn(|| lock.release().unwrap()).unwrap();
    assert_eq!(join(&mut b), 0);
    let mut c = spawn_idle_forever(|| {
        assert!(lock.acquire_timeout(HANG).unwrap());
        c_inside.store(1);
    });
    spin_until("C holds the lock", || c_inside.load() == 1);
    assert!(matches!(guard.release(), Err(SyncError::NotOwner)));
    assert_eq!(lock.holder(), c.pid(), "the stale guard released C's lock");
    c.kill().unwrap();
    join(&mut c);
}

#[test]
fn rlock_whose_owner_was_killed_reports_owner_died_at_depth_1() {
    let rlock = Shared::new(RLock::new()).unwrap();
    let locked = RawValue::<u32>::new(0).unwrap();
    let mut holder = spawn_idle_forever(|| {
        rlock.acquire().unwrap();
        rlock.acquire().unwrap();
        locked.store(1);
    });
    spin_until("the holder holds the RLock", || locked.load() == 1);
    holder.kill().unwrap();
    assert_eq!(join(&mut holder), -libc::SIGKILL);
    assert!(matches!(
        rlock.acquire(),
        Err(SyncError::Lock(LockError::OwnerDied { .. }))
    ));
    assert!(rlock.is_owned());
    assert_eq!(rlock.depth(), 1, "the dead owner's depth is not inherited");
    rlock.release().unwrap();
    assert!(matches!(rlock.release(), Err(SyncError::NotLocked)));
}

#[test]
fn barrier_whose_party_was_killed_breaks_for_the_others_after_their_timeout() {
    let timeout = Duration::from_millis(200);
    let barrier = Shared::new(Barrier::new(3).unwrap().with_timeout(timeout)).unwrap();
    let mut doomed = spawn_idle_forever(|| {});
    let mut waiters = [
        spawn_barrier_waiter(&barrier),
        spawn_barrier_waiter(&barrier),
    ];
    spin_until("2 parties wait", || barrier.n_waiting() == 2);
    doomed.kill().unwrap(); // the third party dies before arriving
    assert_eq!(join(&mut doomed), -libc::SIGKILL);
    for w in &mut waiters {
        assert_eq!(join(w), BROKEN);
    }
    assert!(barrier.is_broken());
}

#[test]
fn barrier_party_killed_inside_wait_breaks_it_and_reset_makes_it_reusable() {
    // No timeout anywhere: before dead parties were noticed, the survivor waited forever
    // (and `reset` could not bring the count down). `join` bounds the test instead.
    let barrier = Shared::new(Barrier::new(3).unwrap()).unwrap();
    let mut doomed = spawn_barrier_waiter(&barrier);
    spin_until("the doomed party waits", || barrier.n_waiting() == 1);
    let mut survivor = spawn_barrier_waiter(&barrier);
    spin_until("2 parties wait", || barrier.n_waiting() == 2);
    doomed.kill().unwrap(); // dies inside wait(), counted as arrived
    assert_eq!(join(&mut doomed), -libc::SIGKILL);
    assert_eq!(join(&mut survivor), BROKEN, "the survivor must be told");
    assert!(barrier.is_broken());
    barrier.reset().unwrap();
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0, "the dead party still counts");
    // Reusable at once: a full cycle of three live parties.
    full_cycle(&barrier);
}

#[test]
fn barrier_reset_forgets_a_party_that_died_while_waiting() {
    // Nobody notices the death before `reset` (no survivor waits): reset alone must bring
    // the count back down so that the next cycle fills normally.
    let barrier = Shared::new(Barrier::new(2).unwrap()).unwrap();
    let mut doomed = spawn_barrier_waiter(&barrier);
    spin_until("the doomed party waits", || barrier.n_waiting() == 1);
    doomed.kill().unwrap();
    assert_eq!(join(&mut doomed), -libc::SIGKILL);
    barrier.reset().unwrap();
    let mut other = spawn_barrier_waiter(&barrier);
    spin_until("1 party waits", || barrier.n_waiting() == 1);
    assert_eq!(barrier.wait().unwrap(), 1, "the parent arrives second");
    assert_eq!(join(&mut other), 10, "the child arrived first (index 0)");
}

#[test]
fn condition_notify_then_a_bare_lock_release_still_wakes_the_waiter() {
    // notify defers its wake-up to the condition's own release; a notifier that releases
    // the bare lock instead delays the waiter by at most one liveness slice, never for
    // ever.
    let cond = Shared::new(Condition::<Lock>::new()).unwrap();
    let mut waiter = Process::spawn(|| {
        cond.acquire().unwrap();
        if !cond.wait(None).unwrap() {
            exit(TIMED_OUT);
        }
        cond.release().unwrap();
        exit(RETURNED);
    })
    .unwrap();
    spin_until("the child waits", || {
        cond.acquire().unwrap();
        let n = cond.waiting();
        cond.release().unwrap();
        n == 1
    });
    cond.acquire().unwrap();
    assert_eq!(cond.notify(1).unwrap(), 1);
    cond.lock().release().unwrap();
    assert_eq!(join(&mut waiter), RETURNED);
}

// ---------------------------------------------------------------------------------------
// Two threads of one process
// ---------------------------------------------------------------------------------------

#[test]
fn two_threads_of_one_process_are_two_owners() {
    // In a child (its threads end before it does): the RLock, the Lock's `is_mine` and a
    // Condition's lock belong to a thread of a process, not to the process.
    let rlock = Shared::new(RLock::new()).unwrap();
    let lock = Shared::new(Lock::new()).unwrap();
    let cond = Shared::new(Condition::<RLock, 2>::new()).unwrap();
    run_children(1, |_| {
        rlock.acquire().unwrap();
        lock.acquire().unwrap();
        cond.acquire().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(!rlock.is_owned());
                assert!(!rlock.try_acquire().unwrap(), "a second thread got in");
                assert!(matches!(rlock.release(), Err(SyncError::NotOwner)));
                assert!(!lock.is_mine());
                assert!(!lock.try_acquire().unwrap());
                assert!(matches!(cond.notify(1), Err(SyncError::NotOwner)));
                assert!(matches!(cond.wait(Some(TIMEOUT)), Err(SyncError::NotOwner)));
            });
        });
        assert!(rlock.is_owned());
        assert_eq!(rlock.depth(), 1);
        rlock.release().unwrap();
        assert!(lock.is_mine());
        lock.release().unwrap();
        cond.release().unwrap();
    });
}

#[test]
fn barrier_last_party_from_a_sibling_process_never_runs_its_own_action_in_place() {
    use std::sync::atomic::{AtomicU32, Ordering};
    // A process forked *before* the barrier's action was registered has no such action: as
    // the last party it must break the barrier with `ActionUnavailable`. That sibling
    // inherits the same registration counters, so its own actions land at the
    // same indices as the parent's and only the registering pid in the tag tells them
    // apart. It must never run its own action in place of the parent's.
    //
    // The barrier lives in a region mapped before the fork (so at the same address in the
    // sibling) and is written there after it; `published` (in the same region) tells the
    // sibling it is there.
    const BARRIER_BYTES: usize = 4096;
    const _: () = assert!(std::mem::size_of::<Barrier>() <= BARRIER_BYTES);
    const _: () = assert!(std::mem::align_of::<Barrier>() <= BARRIER_BYTES);
    let region = procshare::Region::new(2 * BARRIER_BYTES).unwrap();
    let slot = region.base().cast::<Barrier>();
    // SAFETY: offset BARRIER_BYTES lies inside the 2 * BARRIER_BYTES region and is
    // page-aligned; the zero-filled word is a valid AtomicU32 reached only atomically.
    let published: &AtomicU32 = unsafe { &*region.base().add(BARRIER_BYTES).cast() };
    let foreign_ran: &'static RawValue<u32> = Box::leak(Box::new(RawValue::new(0).unwrap()));
    let own_ran: &'static RawValue<u32> = Box::leak(Box::new(RawValue::new(0).unwrap()));
    let mut sibling = Process::spawn(|| {
        // Its own actions, at the indices (and sequence numbers) the parent's next
        // registrations get: 16 of them, in case other tests' threads register meanwhile.
        for _ in 0..16 {
            let _registered = Barrier::with_action(2, || foreign_ran.store(1)).unwrap();
        }
        spin_until("the parent publishes the barrier", || {
            published.load(Ordering::Acquire) != 0
        });
        // SAFETY: the parent wrote a Barrier at `slot` before its Release store to
        // `published`, which the Acquire load above read; the region is mapped MAP_SHARED
        // at this address here too, and a Barrier is only ever used through `&`.
        let barrier = unsafe { &*slot };
        spin_until("the parent waits", || barrier.n_waiting() == 1);
        match barrier.wait() {
            Err(SyncError::ActionUnavailable) => exit(ACTION_UNAVAILABLE),
            Err(SyncError::BrokenBarrier) => exit(BROKEN),
            Ok(index) => exit(10 + index as i32),
            Err(e) => panic!("unexpected {e}"),
        }
    })
    .unwrap();
    let barrier = Barrier::with_action(2, || own_ran.store(1))
        .unwrap()
        .with_timeout(HANG);
    // SAFETY: `slot` is page-aligned, inside the region, large enough (asserted above)
    // and not yet used by anybody: the sibling reads it only after `published`.
    unsafe { slot.write(barrier) };
    published.store(1, Ordering::Release);
    // SAFETY: written just above; only ever used through `&` from now on.
    let barrier = unsafe { &*slot };
    // The sibling arrives last, finds no action of the parent's, and breaks the barrier.
    match barrier.wait() {
        Err(SyncError::BrokenBarrier) => {}
        other => panic!("the parent's wait should see a broken barrier, got {other:?}"),
    }
    assert_eq!(join(&mut sibling), ACTION_UNAVAILABLE);
    assert_eq!(foreign_ran.load(), 0, "the sibling ran its own action");
    assert_eq!(
        own_ran.load(),
        0,
        "the sibling cannot run the parent's action"
    );
    assert!(barrier.is_broken());
}
