//! The pair workloads: processes `2k` (the initiator) and `2k + 1` (the responder) pass a
//! token back and forth; one operation is one round trip (ping and pong), timed by the
//! initiator, and only initiators count (a pair's rounds are counted once). When stopped,
//! the initiator sends a quit message instead of a ping; the responder counts the pings it
//! answered, and the cell's "lost" is the difference between the two counts (0 unless the
//! channel lost or invented a message).
//!
//! * ping-pong: a raw futex pair and a raw spinning pair (the baselines), two
//!   `Shared<Event>`s, and one `Shared<Condition<L>>` with a `turn` word (CPython's idiom,
//!   for the `Lock` and `RLock` conditions); both wait adaptively (`AdaptiveWait`: a
//!   short spin on the word, then an announced futex sleep), so they are compared with
//!   the spinning pair (typical round, p50) as well as with the futex pair;
//! * round trip: a 64-byte message echoed through a raw `socketpair` (the baseline) and
//!   through procshare's `Pipe::duplex` `Connection`, with and without read-ahead.

use crate::runner::{Ctx, Run};
use crate::sys::{futex_wait, futex_wake, read_exact, write_all, FdPair};
use procshare::{Condition, ConditionLock, Connection, Event, Pipe, Region, Shared};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// Size of a round-trip message.
pub const MESSAGE: usize = 64;

/// One channel between an initiator and a responder.
pub trait Channel {
    /// A fresh, idle channel.
    fn create() -> Result<Self, String>
    where
        Self: Sized;
    /// In each child, before the timed part: open what must be opened after the fork
    /// (`initiator` tells the side). Nothing by default.
    fn setup(&self, initiator: bool) {
        let _ = initiator;
    }
    /// Initiator: ping, then wait for the pong.
    fn round(&self);
    /// Initiator: tell the responder to stop (instead of a ping).
    fn quit(&self);
    /// Responder: wait for a ping and pong it; false when told to quit.
    fn respond(&self) -> bool;
}

/// One channel per pair of processes.
pub struct Pairs<C: Channel>(Vec<C>);

impl<C: Channel + 'static> Pairs<C> {
    /// `procs / 2` fresh channels (`procs` must be even).
    pub fn prepare(procs: usize) -> Result<Box<dyn Run>, String> {
        if procs % 2 != 0 {
            return Err(format!(
                "a pair workload needs an even process count, not {procs}"
            ));
        }
        let channels = (0..procs / 2)
            .map(|_| C::create())
            .collect::<Result<_, _>>()?;
        Ok(Box::new(Pairs::<C>(channels)))
    }
}

impl<C: Channel> Run for Pairs<C> {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let channel = &self.0[ctx.index / 2];
        channel.setup(ctx.index % 2 == 0);
        ctx.barrier();
        let mut n = 0;
        if ctx.index % 2 == 0 {
            while ctx.running() {
                let t = Instant::now();
                channel.round();
                ctx.record(t.elapsed().as_nanos() as u64);
                n += 1;
            }
            channel.quit();
        } else {
            while channel.respond() {
                n += 1;
            }
        }
        n
    }
    fn counted(&self, index: usize, _procs: usize) -> bool {
        index % 2 == 0
    }
    fn uses_barrier(&self) -> bool {
        true
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        Some(ops.chunks(2).map(|p| p[0].abs_diff(p[1])).sum())
    }
}

/// Fruitless polls of a spinning raw waiter between two `sched_yield`s.
pub const SPINS_PER_YIELD: u32 = 1 << 14;

/// Word values of the raw pairs.
const IDLE: u32 = 0;
/// A message is posted.
const POSTED: u32 = 1;
/// The initiator has stopped.
const QUIT: u32 = 2;

/// Two `u32` words in a region, one per direction and cache line; `SPIN` selects busy
/// waiting (with `spin_loop` hints) instead of shared futex waits and unconditional wakes.
/// The spinning waiter yields the CPU (`sched_yield`) after every [`SPINS_PER_YIELD`]
/// fruitless polls (tens of microseconds), so that a descheduled peer can run: without
/// it, one process preempted by an unrelated one makes each round cost a whole time
/// slice. When both processes are on a CPU a round never gets that far.
pub struct RawWords<const SPIN: bool> {
    region: Region,
}

impl<const SPIN: bool> RawWords<SPIN> {
    fn word(&self, which: usize) -> &AtomicU32 {
        // SAFETY: the region is page-aligned and 128 bytes long, so offsets 0 and 64 are
        // in bounds and aligned; zero-initialised, mapped as long as `self` lives, and
        // only ever accessed through atomics.
        unsafe { AtomicU32::from_ptr(self.region.base().add(64 * which).cast()) }
    }

    fn post(&self, which: usize, value: u32) {
        let w = self.word(which);
        w.store(value, Ordering::Release);
        if !SPIN {
            futex_wake(w, 1);
        }
    }

    fn take(&self, which: usize) -> u32 {
        let w = self.word(which);
        let mut spins = 0u32;
        loop {
            let v = w.load(Ordering::Acquire);
            if v != IDLE {
                w.store(IDLE, Ordering::Relaxed);
                return v;
            }
            if SPIN {
                spins += 1;
                if spins % SPINS_PER_YIELD == 0 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            } else {
                futex_wait(w, IDLE);
            }
        }
    }
}

impl<const SPIN: bool> Channel for RawWords<SPIN> {
    fn create() -> Result<Self, String> {
        let region = Region::new(128).map_err(|e| format!("Region::new: {e}"))?;
        Ok(RawWords { region })
    }
    fn round(&self) {
        self.post(0, POSTED);
        self.take(1);
    }
    fn quit(&self) {
        self.post(0, QUIT);
    }
    fn respond(&self) -> bool {
        if self.take(0) == QUIT {
            return false;
        }
        self.post(1, POSTED);
        true
    }
}

/// Two events, ping and pong, and a quit flag read by the responder after each ping.
pub struct Events {
    ping: Shared<Event>,
    pong: Shared<Event>,
    quit: Region,
}

impl Events {
    fn quitting(&self) -> &AtomicU32 {
        // SAFETY: the region is page-aligned and at least 4 bytes, zero-initialised,
        // mapped as long as `self` lives, only ever accessed through this atomic.
        unsafe { AtomicU32::from_ptr(self.quit.base().cast()) }
    }
}

impl Channel for Events {
    fn create() -> Result<Self, String> {
        let event = || Shared::new(Event::new()).map_err(|e| format!("Shared::new: {e}"));
        Ok(Events {
            ping: event()?,
            pong: event()?,
            quit: Region::new(64).map_err(|e| format!("Region::new: {e}"))?,
        })
    }
    fn round(&self) {
        self.ping.set();
        assert!(self.pong.wait(None), "untimed Event::wait returned false");
        self.pong.clear();
    }
    fn quit(&self) {
        self.quitting().store(1, Ordering::Release);
        self.ping.set();
    }
    fn respond(&self) -> bool {
        assert!(self.ping.wait(None), "untimed Event::wait returned false");
        self.ping.clear();
        if self.quitting().load(Ordering::Acquire) != 0 {
            return false;
        }
        self.pong.set();
        true
    }
}

/// Whose turn it is in [`Conditions`]: the initiator's.
const INITIATOR: u32 = 0;
/// The responder's.
const RESPONDER: u32 = 1;
/// The responder's, and it is to stop.
const STOPPING: u32 = 2;

/// One condition over lock `L` and a `turn` word read and written only under its lock.
pub struct Conditions<L: ConditionLock> {
    cond: Shared<Condition<L>>,
    turn: Region,
}

impl<L: ConditionLock> Conditions<L> {
    fn turn(&self) -> &AtomicU32 {
        // SAFETY: as in `Events::quitting`.
        unsafe { AtomicU32::from_ptr(self.turn.base().cast()) }
    }

    /// With the lock held: wait until `pred(turn)`.
    fn wait_until(&self, pred: impl Fn(u32) -> bool) {
        let ok = self
            .cond
            .wait_for(|| pred(self.turn().load(Ordering::Relaxed)), None)
            .expect("Condition::wait_for");
        assert!(ok, "untimed Condition::wait_for returned false");
    }

    /// With the lock held: set the turn and wake the peer.
    fn give(&self, turn: u32) {
        self.turn().store(turn, Ordering::Relaxed);
        self.cond.notify(1).expect("Condition::notify");
    }
}

impl<L: ConditionLock> Channel for Conditions<L> {
    fn create() -> Result<Self, String> {
        Ok(Conditions {
            cond: Shared::new(Condition::new()).map_err(|e| format!("Shared::new: {e}"))?,
            turn: Region::new(64).map_err(|e| format!("Region::new: {e}"))?,
        })
    }
    fn round(&self) {
        self.cond.acquire().expect("Condition::acquire");
        self.give(RESPONDER);
        self.wait_until(|t| t == INITIATOR);
        self.cond.release().expect("Condition::release");
    }
    fn quit(&self) {
        self.cond.acquire().expect("Condition::acquire");
        self.give(STOPPING);
        self.cond.release().expect("Condition::release");
    }
    fn respond(&self) -> bool {
        self.cond.acquire().expect("Condition::acquire");
        self.wait_until(|t| t != INITIATOR);
        let go_on = self.turn().load(Ordering::Relaxed) == RESPONDER;
        if go_on {
            self.give(INITIATOR);
        }
        self.cond.release().expect("Condition::release");
        go_on
    }
}

/// A 64-byte message echoed through `socketpair(AF_UNIX, SOCK_STREAM)`; a message whose
/// first byte is `0xff` is the quit message.
pub struct RawSocketpair(FdPair);

impl Channel for RawSocketpair {
    fn create() -> Result<Self, String> {
        FdPair::socketpair().map(RawSocketpair)
    }
    fn round(&self) {
        let msg = [7u8; MESSAGE];
        let mut back = [0u8; MESSAGE];
        assert!(write_all(self.0 .0[0], &msg), "socketpair write");
        assert!(read_exact(self.0 .0[0], &mut back), "socketpair read");
        assert_eq!(back, msg, "socketpair echo");
    }
    fn quit(&self) {
        assert!(
            write_all(self.0 .0[0], &[0xff; MESSAGE]),
            "socketpair write"
        );
    }
    fn respond(&self) -> bool {
        let mut buf = [0u8; MESSAGE];
        if !read_exact(self.0 .0[1], &mut buf) || buf[0] == 0xff {
            return false;
        }
        assert!(write_all(self.0 .0[1], &buf), "socketpair write");
        true
    }
}

/// A 64-byte message echoed through procshare's `Pipe::duplex`; an empty message quits.
/// `READ_AHEAD` turns on `Connection::set_read_ahead` at both ends (one `read` per
/// message instead of two; each end is read by one process only, as it requires).
pub struct Connections<const READ_AHEAD: bool>(Connection, Connection);

impl<const READ_AHEAD: bool> Channel for Connections<READ_AHEAD> {
    fn create() -> Result<Self, String> {
        let (mut a, mut b) = Pipe::duplex().map_err(|e| format!("Pipe::duplex: {e}"))?;
        for end in [&mut a, &mut b] {
            end.set_read_ahead(READ_AHEAD)
                .map_err(|e| format!("set_read_ahead: {e}"))?;
        }
        Ok(Connections(a, b))
    }
    fn round(&self) {
        let msg = [7u8; MESSAGE];
        self.0.send_bytes(&msg).expect("send_bytes");
        let back = self.0.recv_bytes().expect("recv_bytes");
        assert_eq!(back, msg, "Connection echo");
    }
    fn quit(&self) {
        self.0.send_bytes(b"").expect("send_bytes");
    }
    fn respond(&self) -> bool {
        let m = self.1.recv_bytes().expect("recv_bytes");
        if m.is_empty() {
            return false;
        }
        self.1.send_bytes(&m).expect("send_bytes");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::sample;
    use procshare::{Lock, RLock};
    use std::time::Duration;

    /// Every channel answers every ping and stops when told: the two counts of each pair
    /// agree, with one and with two pairs.
    fn check<C: Channel + 'static>() {
        for procs in [2, 4] {
            let run = Pairs::<C>::prepare(procs).unwrap();
            let s = sample(run.as_ref(), procs, Duration::from_millis(20), true).unwrap();
            assert_eq!(s.per_process.len(), procs / 2);
            assert!(s.per_process.iter().all(|&n| n > 0), "{:?}", s.per_process);
            assert_eq!(s.lost, Some(0));
            assert_eq!(s.latencies.len() as u64, s.per_process.iter().sum::<u64>());
        }
    }

    #[test]
    fn raw_futex_pairs() {
        check::<RawWords<false>>();
    }

    #[test]
    fn raw_spin_pairs() {
        check::<RawWords<true>>();
    }

    #[test]
    fn event_pairs() {
        check::<Events>();
    }

    #[test]
    fn condition_pairs() {
        check::<Conditions<Lock>>();
        check::<Conditions<RLock>>();
    }

    #[test]
    fn socket_and_connection_pairs() {
        check::<RawSocketpair>();
        check::<Connections<false>>();
        check::<Connections<true>>();
    }

    #[test]
    fn odd_process_counts_are_refused() {
        assert!(Pairs::<RawWords<false>>::prepare(3).is_err());
    }
}
