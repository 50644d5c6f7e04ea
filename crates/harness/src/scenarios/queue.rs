//! Queue scenarios, generic over [`HarnessQueue`]: the seam where a researcher plugs in
//! their own queue, as `RawLock` is for locks.
//!
//! [`QueueScenario`] runs producers (actors `0..P`) that each put items `1..=I` tagged
//! with their index, and consumers (the other actors) that each make `G` timed gets
//! (under the controller a timeout's expiry is a schedule choice). Every call is recorded
//! with the [`Recorder`]; in the janitor, [`Scenario::check`] drains what is left (as
//! gets of one more client, after every recorded event) and checks:
//!
//! * **nothing invented**: every delivered item is one that some producer put;
//! * **no duplicate**: no item is delivered twice (a killed producer's in-flight item, or
//!   a killed consumer's, at most once);
//! * **no loss**: every item whose `put` returned is delivered (by a get or the drain),
//!   except at most one per get that a kill left unfinished (the documented exception:
//!   a consumer killed with a message claimed takes it with it);
//! * **FIFO per producer**: a get that returned producer `p`'s item `j` before a get of
//!   `p`'s item `i < j` was even invoked is a violation;
//! * **linearizable as a FIFO queue once the empty answers are dropped**: the history of
//!   puts and of the gets that returned an item, plus the drain, is checked with the
//!   `lin` checker's [`FifoQueue`](crate::lin::FifoQueue) model (a killed actor's
//!   unfinished call is indeterminate).
//!
//! The last one is deliberately weaker than linearizability. `procshare-queue`'s ring
//! docs state the queue is *not* linearizable: a message is visible only once published,
//! after its claim, so a get can time out while an earlier-claimed message is still
//! being written and a later one is already published and acknowledged. Linearize each
//! put at its claiming CAS and each successful get at its head CAS and the rest of the
//! history is a FIFO queue; only the empty answers have no linearization point. The
//! claim is tested: [`QueueScenario::strict`] keeps the empty answers in the history, and
//! with two producers the catalog *must* find a history that the FIFO check rejects
//! (`expects_failure = true`).
//!
//! [`PeekQueue`] is the deliberately broken queue: its get reads the head and only then
//! moves it past with a plain store, without claiming it, so two consumers can take the
//! same item; the catalog must catch it.

use crate::lin::{self, History, Operation};
use crate::{lin_history, Event, Recorder, Scenario};
use procshare_queue::{ByteRing, JoinableQueue, Queue, QueueError};
use procshare_shm::Shared;
use procshare_sync::hook::{self, Point};
use procshare_sync::ProcessShared;
use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A queue of non-zero `u64` items shared between processes, as the queue scenarios use
/// it. Implement it for your own queue and run [`queue_catalog`](super::queue_catalog) on it.
///
/// The value is created by the controller before the actors are forked, so it must keep
/// its state in shared memory. Calls should pass the schedule points of
/// `procshare_sync::hook` (`Claim`, `Write`, `Publish`, `Read`, `Release`, `Sleep`,
/// `Wake`) at each step, so that the controller can interleave them.
pub trait HarnessQueue: Sync + Sized + 'static {
    /// A short name for reports.
    const NAME: &'static str;
    /// A queue with room for at least `capacity` items.
    fn create(capacity: usize) -> Result<Self, String>;
    /// Put `item` (never 0), waiting for room.
    fn put(&self, item: u64) -> Result<(), String>;
    /// Put `item`, waiting at most `timeout` for room; false if there was none (default:
    /// [`HarnessQueue::put`], which waits as long as it takes). Used on a queue with less
    /// room than the scenario's items ([`QueueScenario::capacity`]), so that a producer
    /// whose consumers gave up does not wait forever.
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<bool, String> {
        let _ = timeout;
        self.put(item).map(|()| true)
    }
    /// Take the next item, waiting at most `timeout`; `None` if none came.
    fn get_timeout(&self, timeout: Duration) -> Result<Option<u64>, String>;
    /// Take the next item if there is one now (used by the janitor, unscheduled).
    fn try_get(&self) -> Result<Option<u64>, String>;
    /// Put the queue back to empty between cases (default: drain it).
    fn reset(&self) {
        while let Ok(Some(_)) = self.try_get() {}
    }
}

/// procshare's ring, items as 8-byte little-endian messages.
impl HarnessQueue for ByteRing {
    const NAME: &'static str = "byte-ring";

    fn create(capacity: usize) -> Result<Self, String> {
        ByteRing::new(capacity, capacity * 8).map_err(|e| e.to_string())
    }

    fn put(&self, item: u64) -> Result<(), String> {
        self.put_bytes(&item.to_le_bytes())
            .map_err(|e| e.to_string())
    }

    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<bool, String> {
        full_is_false(self.put_bytes_timeout(&item.to_le_bytes(), timeout))
    }

    fn get_timeout(&self, timeout: Duration) -> Result<Option<u64>, String> {
        let mut out = Vec::with_capacity(8);
        decode_bytes(self.get_bytes_into_timeout(&mut out, timeout), &out)
    }

    fn try_get(&self) -> Result<Option<u64>, String> {
        let mut out = Vec::with_capacity(8);
        decode_bytes(self.try_get_bytes_into(&mut out), &out)
    }
}

/// The operations the typed queues share (a `JoinableQueue` derefs to its `Queue`); the
/// rest of each `HarnessQueue` impl is given after `reset:`.
macro_rules! typed_harness_queue {
    ($(#[$doc:meta])* $ty:ty, $name:literal, $ctor:path $(, reset: $($reset:tt)*)?) => {
        $(#[$doc])*
        impl HarnessQueue for $ty {
            const NAME: &'static str = $name;

            fn create(capacity: usize) -> Result<Self, String> {
                $ctor(capacity, capacity * 16).map_err(|e| e.to_string())
            }

            fn put(&self, item: u64) -> Result<(), String> {
                Queue::put(self, &item).map_err(|e| e.to_string())
            }

            fn put_timeout(&self, item: u64, timeout: Duration) -> Result<bool, String> {
                full_is_false(Queue::put_timeout(self, &item, timeout))
            }

            fn get_timeout(&self, timeout: Duration) -> Result<Option<u64>, String> {
                typed(Queue::get_timeout(self, timeout))
            }

            fn try_get(&self) -> Result<Option<u64>, String> {
                typed(Queue::try_get(self))
            }
            $($($reset)*)?
        }
    };
}

typed_harness_queue!(
    /// procshare's typed `Queue<u64>` (postcard-encoded items over the same ring).
    Queue<u64>,
    "queue",
    Queue::with_capacity
);

typed_harness_queue!(
    /// procshare's `JoinableQueue<u64>`; its reset also marks every task left over done.
    JoinableQueue<u64>,
    "joinable-queue",
    JoinableQueue::with_capacity,
    reset:
    fn reset(&self) {
        while let Ok(Some(_)) = HarnessQueue::try_get(self) {}
        while JoinableQueue::task_done(self).is_ok() {}
    }
);

/// A deliberately broken `JoinableQueue<u64>`: its puts count their task *before* they
/// claim a slot (the ring's protocol before it counted after the claim), so a producer
/// killed between the two leaves a task nobody can finish. The kill-point matrix must
/// report those rows as [`KNOWN_LIMIT`](super::KNOWN_LIMIT) (`tests/killpoints.rs`).
pub struct CountBeforeClaimQueue(JoinableQueue<u64>);

impl CountBeforeClaimQueue {
    /// At most `maxsize` items and `bytes` bytes, with the fault set.
    pub fn with_capacity(maxsize: usize, bytes: usize) -> Result<Self, QueueError> {
        let faults = procshare_queue::ring::Faults {
            count_before_claim: true,
            ..Default::default()
        };
        JoinableQueue::with_faults(maxsize, bytes, faults).map(CountBeforeClaimQueue)
    }
}

impl std::ops::Deref for CountBeforeClaimQueue {
    type Target = JoinableQueue<u64>;
    fn deref(&self) -> &JoinableQueue<u64> {
        &self.0
    }
}

typed_harness_queue!(
    /// The broken `JoinableQueue<u64>` above; its reset marks every task left over done.
    CountBeforeClaimQueue,
    "count-before-claim-queue",
    CountBeforeClaimQueue::with_capacity,
    reset:
    fn reset(&self) {
        while let Ok(Some(_)) = HarnessQueue::try_get(self) {}
        while JoinableQueue::task_done(self).is_ok() {}
    }
);

fn full_is_false(r: Result<(), QueueError>) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(true),
        Err(QueueError::Full | QueueError::Disconnected) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

fn typed(r: Result<u64, QueueError>) -> Result<Option<u64>, String> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(QueueError::Empty | QueueError::Disconnected) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn decode_bytes(r: Result<usize, QueueError>, out: &[u8]) -> Result<Option<u64>, String> {
    match r {
        Ok(8) => Ok(Some(u64::from_le_bytes(out.try_into().expect("8 bytes")))),
        Ok(n) => Err(format!("a message of {n} bytes, not 8")),
        Err(QueueError::Empty | QueueError::Disconnected) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Slots of [`PeekQueue`] (it never wraps: reset between cases).
const PEEK_SLOTS: usize = 32;

/// The shared words of [`PeekQueue`].
#[derive(Debug)]
pub struct PeekCells {
    head: AtomicU64,
    tail: AtomicU64,
    slots: [AtomicU64; PEEK_SLOTS],
}

// SAFETY: atomics only.
unsafe impl ProcessShared for PeekCells {}

/// A deliberately broken queue: `get` reads the head item, passes a schedule point and
/// only then stores `head + 1`, without a CAS, so two consumers can both take it. Its
/// put is correct (claim with `fetch_add`, write, publish by storing the non-zero item).
#[derive(Debug)]
pub struct PeekQueue(Shared<PeekCells>);

impl PeekQueue {
    fn take(&self) -> Option<u64> {
        let c = &self.0;
        hook::point(Point::Claim);
        let h = c.head.load(Ordering::Acquire);
        let v = c.slots.get(h as usize)?.load(Ordering::Acquire);
        if v == 0 {
            return None;
        }
        hook::point(Point::Read);
        // The bug: not a compare_exchange(h, h + 1).
        c.head.store(h + 1, Ordering::Release);
        Some(v)
    }
}

impl HarnessQueue for PeekQueue {
    const NAME: &'static str = "peek-queue";

    fn create(_capacity: usize) -> Result<Self, String> {
        let cells = PeekCells {
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        };
        Shared::new(cells).map(PeekQueue).map_err(|e| e.to_string())
    }

    fn put(&self, item: u64) -> Result<(), String> {
        hook::point(Point::Claim);
        let t = self.0.tail.fetch_add(1, Ordering::AcqRel) as usize;
        let slot = self.0.slots.get(t).ok_or("peek-queue full")?;
        hook::point(Point::Publish);
        slot.store(item, Ordering::Release);
        Ok(())
    }

    fn get_timeout(&self, _timeout: Duration) -> Result<Option<u64>, String> {
        // "Waits" by retrying a few times; each retry is a schedule point.
        for _ in 0..3 {
            if let Some(v) = self.take() {
                return Ok(Some(v));
            }
            hook::point(Point::Sleep);
        }
        Ok(None)
    }

    fn try_get(&self) -> Result<Option<u64>, String> {
        Ok(self.take())
    }

    fn reset(&self) {
        self.0.head.store(0, Ordering::Relaxed);
        self.0.tail.store(0, Ordering::Relaxed);
        self.0
            .slots
            .iter()
            .for_each(|s| s.store(0, Ordering::Relaxed));
    }
}

const OP_PUT: u32 = 1;
const OP_GET: u32 = 2;

/// Producer `p`'s item `i` (`i ≥ 1`).
pub(crate) fn item(p: usize, i: u64) -> u64 {
    ((p as u64 + 1) << 16) | i
}

/// `(producer, index)` of an item, if it is one the scenario could have put.
pub(crate) fn decode(v: u64, producers: usize, items: u64) -> Option<(usize, u64)> {
    let p = (v >> 16).checked_sub(1)? as usize;
    let i = v & 0xffff;
    (p < producers && (1..=items).contains(&i)).then_some((p, i))
}

/// Producers and consumers on one queue `Q` (see the module docs for the property).
#[derive(Debug)]
pub struct QueueScenario<Q> {
    producers: usize,
    consumers: usize,
    items: u64,
    gets: usize,
    kills: u32,
    strict: bool,
    capacity: Option<usize>,
    _q: PhantomData<fn() -> Q>,
}

impl<Q: HarnessQueue> QueueScenario<Q> {
    /// `producers` producers putting `items` items each, `consumers` consumers making
    /// `gets` timed gets each.
    pub fn new(producers: usize, consumers: usize, items: u64, gets: usize) -> Self {
        QueueScenario {
            producers,
            consumers,
            items,
            gets,
            kills: 0,
            strict: false,
            capacity: None,
            _q: PhantomData,
        }
    }

    /// Allow `kills` SIGKILLs of actors.
    pub fn with_kills(mut self, kills: u32) -> Self {
        self.kills = kills;
        self
    }

    /// Create the queue with room for `capacity` items (default: every item the
    /// producers put), so that producers wait for room: a capacity of 1 makes every put
    /// after the first wait for a get, and a consumer killed mid-get leaves a producer
    /// that needs its slot back.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Keep the empty answers of timed-out gets in the linearizability check: full FIFO
    /// linearizability, which the ring does not claim.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    fn check_history(&self, q: &Q, history: &[Event]) -> Result<(), String> {
        // A put that timed out (returned 1) put nothing: leave it out of the history, and
        // its item must never be delivered.
        let timed_out: Vec<(u32, u64)> = history
            .iter()
            .filter(|e| e.is_return && e.op == OP_PUT && e.value == 1)
            .filter_map(|r| {
                history
                    .iter()
                    .find(|e| !e.is_return && e.id == r.id)
                    .map(|e| (e.id, e.value))
            })
            .collect();
        let kept: Vec<Event>;
        let history = if timed_out.is_empty() {
            history
        } else {
            kept = history
                .iter()
                .filter(|e| !timed_out.iter().any(|&(id, _)| id == e.id))
                .copied()
                .collect();
            &kept[..]
        };
        let (p, n) = (self.producers, self.items);
        let mut end = history.iter().map(|e| e.clock).max().map_or(0, |c| c + 1);
        // The drain: what is left, taken after everything recorded.
        let mut drained = Vec::new();
        while let Some(v) = q.try_get()? {
            drained.push((v, end, end + 1));
            end += 2;
            if drained.len() > p * n as usize {
                return Err("the queue holds more items than were put".into());
            }
        }
        let ret = |id: u32| history.iter().find(|e| e.is_return && e.id == id);
        // Delivered items with the invoke and return clocks of their get.
        let mut delivered: Vec<(u64, u64, u64)> = Vec::new();
        let mut pending_gets = 0;
        for call in history.iter().filter(|e| !e.is_return && e.op == OP_GET) {
            match ret(call.id) {
                Some(r) if r.value != 0 => delivered.push((r.value, call.clock, r.clock)),
                Some(_) => {}
                None => pending_gets += 1,
            }
        }
        delivered.extend(drained.iter().copied());
        let mut seen = HashSet::new();
        for &(v, _, _) in &delivered {
            if timed_out.iter().any(|&(_, t)| t == v) {
                return Err(format!("item {v:#x} delivered, but its put timed out"));
            }
            if decode(v, p, n).is_none() {
                return Err(format!("item {v:#x} delivered but never put"));
            }
            if !seen.insert(v) {
                return Err(format!("item {v:#x} delivered twice"));
            }
        }
        let acked: Vec<u64> = history
            .iter()
            .filter(|e| !e.is_return && e.op == OP_PUT && ret(e.id).is_some())
            .map(|e| e.value)
            .collect();
        let lost: Vec<u64> = acked.into_iter().filter(|v| !seen.contains(v)).collect();
        if lost.len() > pending_gets {
            return Err(format!(
                "acknowledged items {lost:x?} never delivered ({pending_gets} gets killed)"
            ));
        }
        // FIFO per producer, in real time.
        let mut by_producer: HashMap<usize, Vec<(u64, u64, u64)>> = HashMap::new();
        for &(v, call, r) in &delivered {
            let (prod, i) = decode(v, p, n).expect("checked above");
            by_producer.entry(prod).or_default().push((i, call, r));
        }
        for (prod, gets) in &by_producer {
            for a in gets {
                for b in gets {
                    if a.0 > b.0 && a.2 < b.1 {
                        return Err(format!(
                            "producer {prod}'s item {} was delivered before its item {}",
                            a.0, b.0
                        ));
                    }
                }
            }
        }
        self.check_lin(history, &drained)
    }

    fn check_lin(&self, history: &[Event], drained: &[(u64, u64, u64)]) -> Result<(), String> {
        let json = |e: &Event| match (e.op, e.is_return) {
            (OP_PUT, false) => serde_json::json!(e.value),
            (OP_GET, true) if e.value != 0 => serde_json::json!(e.value),
            _ => serde_json::Value::Null,
        };
        let recorded = lin_history(history, |op| self.op_name(op), json, json);
        let mut full = History::new();
        for op in recorded.ops() {
            let empty_answer =
                op.op == "dequeue" && op.output.as_ref().is_some_and(|o| o.is_null());
            if !empty_answer || self.strict {
                full.push(op.clone());
            }
        }
        let drain_client = (self.producers + self.consumers) as u32;
        for &(v, call, ret) in drained {
            full.push(
                Operation::completed(
                    drain_client,
                    "dequeue",
                    serde_json::Value::Null,
                    call,
                    ret,
                    serde_json::json!(v),
                )
                .with_key("0"),
            );
        }
        let what = if self.strict {
            "a FIFO queue"
        } else {
            "a FIFO queue (empty answers dropped)"
        };
        match lin::check(&lin::FifoQueue, &full) {
            Ok(lin::Outcome::Ok) => Ok(()),
            Ok(lin::Outcome::Illegal(v)) => Err(crate::timeline::not_linearizable(
                &lin::FifoQueue,
                &v,
                what,
                &self.name(),
            )),
            Ok(lin::Outcome::Unknown(u)) => Err(format!("linearizability unknown: {u:?}")),
            Err(e) => Err(format!("history rejected by the checker: {e}")),
        }
    }
}

impl<Q: HarnessQueue> Scenario for QueueScenario<Q> {
    type State = Q;

    fn name(&self) -> String {
        let kills = if self.kills > 0 {
            format!("+kill{}", self.kills)
        } else {
            String::new()
        };
        let strict = if self.strict { "/strict" } else { "" };
        let cap = self.capacity.map_or(String::new(), |c| format!("-cap{c}"));
        format!(
            "queue-{}p{}c{cap}{kills}{strict}/{}",
            self.producers,
            self.consumers,
            Q::NAME
        )
    }

    fn actors(&self) -> usize {
        self.producers + self.consumers
    }

    fn max_kills(&self) -> u32 {
        self.kills
    }

    /// With kills, every case on a fresh queue: its registrations outlive `reset`.
    fn fresh_each_case(&self) -> bool {
        self.kills > 0
    }

    fn setup(&self) -> Q {
        let capacity = self
            .capacity
            .unwrap_or(self.producers * self.items as usize);
        Q::create(capacity).expect("create the queue")
    }

    fn reset(&self, q: &Q) {
        q.reset();
    }

    fn op_name(&self, op: u32) -> String {
        match op {
            OP_PUT => "enqueue".into(),
            OP_GET => "dequeue".into(),
            other => format!("op{other}"),
        }
    }

    fn run(&self, q: &Q, actor: usize, rec: &Recorder) -> Result<(), String> {
        if actor < self.producers {
            for i in 1..=self.items {
                let v = item(actor, i);
                let id = rec.invoke(OP_PUT, 0, v);
                // On a queue with less room than the items, a put waits at most as long
                // as a get (its return value 1: timed out, not put).
                let put = match self.capacity {
                    Some(_) => q.put_timeout(v, Duration::from_millis(20))?,
                    None => q.put(v).map(|()| true)?,
                };
                rec.ret(id, u64::from(!put));
            }
        } else {
            for _ in 0..self.gets {
                let id = rec.invoke(OP_GET, 0, 0);
                let got = q.get_timeout(Duration::from_millis(20))?;
                rec.ret(id, got.unwrap_or(0));
            }
        }
        Ok(())
    }

    fn check(&self, q: &Q, history: &[Event], killed: &[usize]) -> Result<(), String> {
        self.check_history(q, history)?;
        if killed.is_empty() {
            return Ok(());
        }
        check_usable(q)
    }
}

/// An item no scenario puts (the usability probe's).
pub(crate) const PROBE: u64 = 0xffff_0001;

/// After a kill, the queue must still work: a fresh put and get (in the janitor, once
/// the case's items are drained).
pub(crate) fn check_usable<Q: HarnessQueue>(q: &Q) -> Result<(), String> {
    q.put(PROBE)
        .map_err(|e| format!("the queue is unusable after the kill: put failed: {e}"))?;
    match q.try_get()? {
        Some(PROBE) => Ok(()),
        Some(v) => Err(format!(
            "the queue is unusable after the kill: a fresh get returned {v:#x}, not the probe"
        )),
        None => Err("the queue is unusable after the kill: a fresh put was not delivered".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(client, op, value at invoke, value at return, call, ret)`; `ret = None`: the
    /// call never returned.
    type Op = (u32, u32, u64, u64, u64, Option<u64>);

    /// A history from `(client, op, value at invoke, value at return, call, ret)`;
    /// `ret = None`: never returned.
    fn history(ops: &[Op]) -> Vec<Event> {
        let mut events = Vec::new();
        for (id, &(client, op, input, output, call, ret)) in ops.iter().enumerate() {
            let e = |is_return, value, clock| Event {
                client,
                id: id as u32,
                is_return,
                op,
                key: 0,
                value,
                clock,
            };
            events.push(e(false, input, call));
            if let Some(r) = ret {
                events.push(e(true, output, r));
            }
        }
        events.sort_by_key(|e| e.clock);
        events
    }

    fn check(s: &QueueScenario<PeekQueue>, ops: &[Op]) -> Result<(), String> {
        let q = PeekQueue::create(4).unwrap();
        s.check_history(&q, &history(ops))
    }

    const A1: u64 = (1 << 16) | 1;
    const A2: u64 = (1 << 16) | 2;
    const B1: u64 = (2 << 16) | 1;

    #[test]
    fn fifo_per_producer_violation_is_reported() {
        let s = QueueScenario::<PeekQueue>::new(1, 1, 2, 2);
        let ops = [
            (0, OP_PUT, A1, 0, 0, Some(1)),
            (0, OP_PUT, A2, 0, 2, Some(3)),
            (1, OP_GET, 0, A2, 4, Some(5)),
            (1, OP_GET, 0, A1, 6, Some(7)),
        ];
        let err = check(&s, &ops).unwrap_err();
        assert!(
            err.contains("producer 0's item 2 was delivered before its item 1"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_losses_and_inventions_are_reported() {
        let s = QueueScenario::<PeekQueue>::new(1, 2, 2, 1);
        let dup = [
            (0, OP_PUT, A1, 0, 0, Some(1)),
            (1, OP_GET, 0, A1, 2, Some(3)),
            (2, OP_GET, 0, A1, 4, Some(5)),
        ];
        assert!(check(&s, &dup).unwrap_err().contains("twice"));
        let lost = [
            (0, OP_PUT, A1, 0, 0, Some(1)),
            (1, OP_GET, 0, 0, 2, Some(3)),
        ];
        assert!(check(&s, &lost).unwrap_err().contains("never delivered"));
        // ... unless a get was cut short by a kill (it may have taken it).
        let killed = [(0, OP_PUT, A1, 0, 0, Some(1)), (1, OP_GET, 0, 0, 2, None)];
        assert_eq!(check(&s, &killed), Ok(()));
        let invented = [(1, OP_GET, 0, B1, 0, Some(1))];
        assert!(check(&s, &invented).unwrap_err().contains("never put"));
    }

    /// The ring's documented non-linearizability: A claims, B puts and returns, the
    /// consumer times out (A's slot is unpublished), then takes A's and B's items.
    #[test]
    fn an_empty_answer_behind_an_unpublished_claim_is_only_rejected_when_strict() {
        let ops = [
            (0, OP_PUT, A1, 0, 0, Some(7)),
            (1, OP_PUT, B1, 0, 1, Some(2)),
            (2, OP_GET, 0, 0, 3, Some(4)),
            (2, OP_GET, 0, A1, 8, Some(9)),
            (2, OP_GET, 0, B1, 10, Some(11)),
        ];
        let weak = QueueScenario::<PeekQueue>::new(2, 1, 1, 3);
        assert_eq!(check(&weak, &ops), Ok(()));
        let err = check(&weak.strict(), &ops).unwrap_err();
        assert!(err.contains("not linearizable as a FIFO queue"), "{err}");
    }
}
