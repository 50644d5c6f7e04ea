//! Time is a scheduling choice: under the controller no primitive reads the wall clock.
//!
//! Actor 0 holds a lock while a lot of real time passes (it busy-waits 50 ms on the
//! clock inside its critical section, after actor 1 has started waiting); actor 1 asks
//! for the lock with a 1 ms timeout. With
//! a chooser that never lets a timer expire, actor 1 must get the lock, however long the
//! holder took in real time: only the controller's `Expire` choice makes time pass. With
//! a chooser that expires the first timer it is offered, actor 1 times out instead.

use procshare_harness::{Action, Choice, Chooser, Event, Recorder, Runner, Scenario, Verdict};
use procshare_shm::{RawValue, Value};
use procshare_sync::{FutexMutex, RawLock, SpinLock};
use std::marker::PhantomData;
use std::time::{Duration, Instant};

struct SlowHolder<L> {
    _l: PhantomData<fn() -> L>,
}

struct State<L: RawLock> {
    v: Value<u64, L>,
    /// 1 once actor 0 holds the lock; actor 1's outcome: 1 acquired, 2 timed out.
    held: RawValue<u32>,
    outcome: RawValue<u32>,
}

impl<L: RawLock> Scenario for SlowHolder<L> {
    type State = State<L>;
    fn name(&self) -> String {
        format!("slow-holder/{}", L::NAME)
    }
    fn actors(&self) -> usize {
        2
    }
    fn setup(&self) -> State<L> {
        State {
            v: Value::new(0).unwrap(),
            held: RawValue::new(0).unwrap(),
            outcome: RawValue::new(0).unwrap(),
        }
    }
    fn reset(&self, s: &State<L>) {
        s.held.store(0);
        s.outcome.store(0);
    }
    fn run(&self, s: &State<L>, actor: usize, _: &Recorder) -> Result<(), String> {
        if actor == 0 {
            let _g = s.v.lock().map_err(|e| e.to_string())?;
            s.held.store(1);
            // Park once more, so that actor 1 starts waiting before the real time passes.
            procshare_sync::hook::point(procshare_sync::hook::Point::Load);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(50) {
                std::hint::spin_loop(); // real time passes; virtual time does not
            }
        } else {
            assert_eq!(s.held.load(), 1, "the schedule runs the holder first");
            let got = s.v.try_lock_for(Duration::from_millis(1));
            s.outcome
                .store(if matches!(got, Ok(Some(_))) { 1 } else { 2 });
        }
        Ok(())
    }
    fn check(&self, _: &State<L>, _: &[Event], _: &[usize]) -> Result<(), String> {
        Ok(())
    }
}

/// Steps actor 0 takes first: start, acquire, the guard's load, the store of `held` (the
/// busy wait runs in that step), so that it parks at its release holding the lock.
const HOLDER_STEPS: usize = 4;

/// Runs the holder first; then never lets a timer expire and prefers actor 1.
struct NeverExpire;
impl Chooser for NeverExpire {
    fn choose(&mut self, step: usize, options: &[Choice]) -> usize {
        if step < HOLDER_STEPS {
            return 0;
        }
        options
            .iter()
            .rposition(|c| c.action != Action::Expire)
            .unwrap_or(0)
    }
}

/// Runs the holder first; then expires the first timer offered, else prefers actor 1.
struct ExpireAtOnce;
impl Chooser for ExpireAtOnce {
    fn choose(&mut self, step: usize, options: &[Choice]) -> usize {
        if step < HOLDER_STEPS {
            return 0;
        }
        options
            .iter()
            .position(|c| c.action == Action::Expire)
            .unwrap_or(options.len() - 1)
    }
}

fn outcome<L: RawLock>(chooser: &mut dyn Chooser) -> u32 {
    let s = SlowHolder::<L> { _l: PhantomData };
    let mut r = Runner::new(&s).unwrap();
    let report = r.run_case(chooser).unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{}", L::NAME);
    r.state().outcome.load()
}

#[test]
fn real_time_does_not_pass_under_the_controller() {
    assert_eq!(
        outcome::<FutexMutex>(&mut NeverExpire),
        1,
        "futex timed out by the clock"
    );
    assert_eq!(
        outcome::<SpinLock>(&mut NeverExpire),
        1,
        "spin timed out by the clock"
    );
}

#[test]
fn the_controller_lets_time_pass_when_it_chooses() {
    assert_eq!(outcome::<FutexMutex>(&mut ExpireAtOnce), 2);
    assert_eq!(outcome::<SpinLock>(&mut ExpireAtOnce), 2);
}
