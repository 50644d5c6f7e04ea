//! Reader-writer scenarios, generic over [`RawRwLock`]: the seam where a researcher's own
//! reader-writer lock plugs in (`rw_catalog::<MyRwLock>()`), as `RawLock` is for locks.
//!
//! [`RwScenario`] runs `R` reader actors and `W` writer actors on an
//! `RwArray<u64, L>` of two elements that a correct run keeps equal. Each actor makes
//! `ops` acquisitions, blocking (`read()` / `write()`) or timed (`try_read_for` /
//! `try_write_for`, at most two attempts; under the harness a timeout's expiry is a
//! schedule choice). A writer reads `k = max` of the two elements and writes `k + 1` to
//! both (the guard's `flush` writes them back one by one, with a schedule point before
//! each, inside the recorded hold); a reader
//! loads both (a point between) and records whether they were equal. Inside every hold
//! the actor records the hold (`read` / `write`, invoked right after acquiring, returned
//! just before releasing) and passes a schedule point (a store to a witness), so two
//! holds that the lock let overlap show up as overlapping intervals in the history.
//!
//! The property, on the history and the final state:
//!
//! * **writers exclude everyone**: no `write` hold overlaps another hold (read or write).
//!   A killed actor's unfinished hold lasts until the next `owner-died` report (the
//!   lock's takeover) or, without one, to the end;
//! * **no torn read**: every read sees two equal elements, except after a writer's death
//!   was reported (`owner-died`) and before the next completed write (which repairs);
//! * **no lost write**: the final value lies between the writes that completed and the
//!   writes that started;
//! * **owner death, as the strategy documents it** ([`ReaderDeath`]): a writer killed
//!   while certainly holding is reported as `OwnerDied` to exactly one later locker (an
//!   actor or the check's own `try_write_for`); a reader killed while certainly holding
//!   either leaves the lock wedged for writers (`ReaderDeath::Wedges`: the check's
//!   `try_write` is refused, and the exclusion rule above means no writer got in after
//!   it) or is recovered with an `OwnerDied` (`ReaderDeath::Recovers`).
//!
//! [`RegisterOnlyRwLock`] is the deliberately broken reader-writer lock: a reader
//! registers in the reader count and does not check the writer flag after registering,
//! so it enters beside a writer that is inside. The catalog must find that under random
//! and PCT search.

use crate::{Event, Recorder, Scenario};
use procshare_shm::{RawValue, RwArray};
use procshare_sync::hook::{self, Point};
use procshare_sync::loom::{AtomicU32, Backoff, Deadline, Ordering};
use procshare_sync::{GuardError, LockError, RawRwLock};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::time::Duration;

/// Operation codes recorded in the history.
const OP_READ: u32 = 1;
const OP_WRITE: u32 = 2;
/// An acquisition that reported `OwnerDied` (key 0: read, 1: write).
const OP_OWNER_DIED: u32 = 3;
/// A whole attempt, from before acquiring to after releasing (key 0: read, 1: write).
const OP_ATTEMPT: u32 = 4;
/// A timed acquisition that gave up.
const OP_TIMEOUT: u32 = 5;
/// The value a reader records for a torn read.
const TORN: u64 = u64::MAX;
/// The timeout of timed acquisitions (virtual under the harness).
const TIMED_WAIT: Duration = Duration::from_millis(20);

/// How actors acquire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RwHow {
    /// `read()` / `write()`.
    Blocking,
    /// `try_read_for` / `try_write_for`, at most two attempts per operation.
    Timed,
}

/// What the strategy documents for a reader killed while holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderDeath {
    /// Readers are counted, not recorded: the count stays too high and writers wait for
    /// ever (`WriterPreferringRwLock`).
    Wedges,
    /// The next writer detects the dead reader and gets `OwnerDied`.
    Recovers,
}

/// Shared state of [`RwScenario`].
#[derive(Debug)]
pub struct RwState<L: RawRwLock> {
    data: RwArray<u64, L>,
    /// Stored to inside every hold: a schedule point with the lock held.
    witness: RawValue<u32>,
}

/// Readers and writers on one `RwArray` (see the [module docs](self)).
#[derive(Debug)]
pub struct RwScenario<L: RawRwLock> {
    readers: usize,
    writers: usize,
    ops: usize,
    how: RwHow,
    kills: u32,
    reader_death: ReaderDeath,
    _lock: PhantomData<fn() -> L>,
}

impl<L: RawRwLock> RwScenario<L> {
    /// `readers` reader actors (actors `0..readers`) and `writers` writer actors, each
    /// making `ops` acquisitions the way `how` says.
    pub fn new(readers: usize, writers: usize, ops: usize, how: RwHow) -> Self {
        RwScenario {
            readers,
            writers,
            ops,
            how,
            kills: 0,
            reader_death: ReaderDeath::Wedges,
            _lock: PhantomData,
        }
    }

    /// Allow up to `kills` crash-injection choices per case, with `reader_death` the
    /// strategy's documented outcome for a reader killed while holding.
    pub fn with_kills(mut self, kills: u32, reader_death: ReaderDeath) -> Self {
        self.kills = kills;
        self.reader_death = reader_death;
        self
    }

    fn is_writer(&self, actor: usize) -> bool {
        actor >= self.readers
    }

    fn read_once(&self, s: &RwState<L>, actor: usize, rec: &Recorder) -> Result<(), String> {
        let attempt = rec.invoke(OP_ATTEMPT, 0, 0);
        for _ in 0..self.tries() {
            let r = match self.how {
                RwHow::Blocking => s.data.read().map(Some),
                RwHow::Timed => s.data.try_read_for(TIMED_WAIT),
            };
            let guard = match r {
                Ok(Some(g)) => g,
                Ok(None) => {
                    let t = rec.invoke(OP_TIMEOUT, 0, 0);
                    rec.ret(t, 0);
                    continue;
                }
                Err(GuardError::OwnerDied { guard, .. }) => {
                    let d = rec.invoke(OP_OWNER_DIED, 0, 0);
                    rec.ret(d, 0);
                    guard
                }
                Err(e) => return Err(format!("read: {e}")),
            };
            let hold = rec.invoke(OP_READ, 0, 0);
            s.witness.store(actor as u32 + 1);
            let seen = if guard[0] == guard[1] { guard[0] } else { TORN };
            rec.ret(hold, seen);
            drop(guard);
            break;
        }
        rec.ret(attempt, 0);
        Ok(())
    }

    fn write_once(&self, s: &RwState<L>, actor: usize, rec: &Recorder) -> Result<(), String> {
        let attempt = rec.invoke(OP_ATTEMPT, 1, 0);
        for _ in 0..self.tries() {
            let r = match self.how {
                RwHow::Blocking => s.data.write().map(Some),
                RwHow::Timed => s.data.try_write_for(TIMED_WAIT),
            };
            let mut guard = match r {
                Ok(Some(g)) => g,
                Ok(None) => {
                    let t = rec.invoke(OP_TIMEOUT, 1, 0);
                    rec.ret(t, 0);
                    continue;
                }
                Err(GuardError::OwnerDied { guard, .. }) => {
                    let d = rec.invoke(OP_OWNER_DIED, 1, 0);
                    rec.ret(d, 0);
                    guard
                }
                Err(e) => return Err(format!("write: {e}")),
            };
            // A dead writer may have left the two halves apart: writing both repairs.
            let k = guard[0].max(guard[1]);
            let hold = rec.invoke(OP_WRITE, 0, k);
            guard[0] = k + 1;
            guard[1] = k + 1;
            guard.flush(); // both elements, a schedule point before each
            s.witness.store(actor as u32 + 1);
            rec.ret(hold, k + 1);
            drop(guard);
            break;
        }
        rec.ret(attempt, 0);
        Ok(())
    }

    fn tries(&self) -> usize {
        match self.how {
            RwHow::Blocking => 1,
            RwHow::Timed => 2,
        }
    }
}

/// The holds of a history as `(actor, is_write, start, end)`. A killed actor's
/// unfinished hold ends at the next hold or `owner-died` report of another actor: a
/// takeover, or (for a reader a wedging strategy does not recover) someone the lock let
/// in afterwards, which [`RwScenario::check`] judges separately.
fn holds(history: &[Event]) -> Vec<(u32, bool, u64, u64)> {
    let starts = |e: &Event| !e.is_return && matches!(e.op, OP_READ | OP_WRITE | OP_OWNER_DIED);
    history
        .iter()
        .filter(|e| !e.is_return && (e.op == OP_READ || e.op == OP_WRITE))
        .map(|call| {
            let end = history
                .iter()
                .find(|e| e.is_return && e.id == call.id)
                .or_else(|| {
                    history
                        .iter()
                        .find(|e| starts(e) && e.client != call.client && e.clock > call.clock)
                })
                .map_or(u64::MAX, |e| e.clock);
            (call.client, call.op == OP_WRITE, call.clock, end)
        })
        .collect()
}

impl<L: RawRwLock + 'static> Scenario for RwScenario<L> {
    type State = RwState<L>;

    fn name(&self) -> String {
        let how = match self.how {
            RwHow::Blocking => "rw",
            RwHow::Timed => "rw-timed",
        };
        let kills = if self.kills > 0 {
            format!("+kill{}", self.kills)
        } else {
            String::new()
        };
        format!(
            "{how}-{}r{}w-x{}{kills}/{}",
            self.readers,
            self.writers,
            self.ops,
            L::NAME
        )
    }

    fn actors(&self) -> usize {
        self.readers + self.writers
    }

    fn max_kills(&self) -> u32 {
        self.kills
    }

    fn setup(&self) -> Self::State {
        RwState {
            data: RwArray::zeroed(2).expect("shared memory for the data"),
            witness: RawValue::new(0).expect("shared memory for the witness"),
        }
    }

    fn reset(&self, state: &Self::State) {
        // A case may leave the lock wedged (a reader killed holding) or held by a dead
        // writer: start from a fresh lock.
        // SAFETY: the janitor runs alone: every actor of the case has finished or died.
        unsafe { state.data.reinit_lock() }.expect("re-initialise the lock");
        state
            .data
            .write()
            .map_err(|e| e.to_string())
            .expect("a fresh lock")
            .copy_from_slice(&[0, 0]);
        state.witness.store(0);
    }

    fn run(&self, state: &Self::State, actor: usize, rec: &Recorder) -> Result<(), String> {
        for _ in 0..self.ops {
            if self.is_writer(actor) {
                self.write_once(state, actor, rec)?;
            } else {
                self.read_once(state, actor, rec)?;
            }
        }
        Ok(())
    }

    fn op_name(&self, op: u32) -> String {
        match op {
            OP_READ => "read".into(),
            OP_WRITE => "write".into(),
            OP_OWNER_DIED => "owner-died".into(),
            OP_ATTEMPT => "attempt".into(),
            OP_TIMEOUT => "timeout".into(),
            _ => format!("op{op}"),
        }
    }

    fn check(
        &self,
        state: &Self::State,
        history: &[Event],
        killed: &[usize],
    ) -> Result<(), String> {
        // Writers exclude everyone.
        let holds = holds(history);
        for (i, a) in holds.iter().enumerate() {
            for b in &holds[i + 1..] {
                let overlap = a.2 < b.3 && b.2 < a.3;
                if overlap && (a.1 || b.1) {
                    return Err(format!(
                        "actor {} ({}) and actor {} ({}) held the lock together",
                        a.0,
                        if a.1 { "writing" } else { "reading" },
                        b.0,
                        if b.1 { "writing" } else { "reading" },
                    ));
                }
            }
        }
        // No torn read, except after a writer was killed (after its last recorded event)
        // and before another writer's hold began (which repaired the data).
        let dead_writer_last = killed
            .iter()
            .filter(|&&a| self.is_writer(a))
            .filter_map(|&a| history.iter().rfind(|e| e.client as usize == a))
            .map(|e| (e.client, e.clock))
            .min_by_key(|&(_, clock)| clock);
        for e in history {
            if e.op != OP_READ || !e.is_return || e.value != TORN {
                continue;
            }
            let call = history
                .iter()
                .find(|c| !c.is_return && c.id == e.id)
                .map_or(e.clock, |c| c.clock);
            let excused = dead_writer_last.is_some_and(|(dead, d)| {
                d < call
                    && !history.iter().any(|w| {
                        w.op == OP_WRITE
                            && !w.is_return
                            && w.client != dead
                            && d < w.clock
                            && w.clock < call
                    })
            });
            if !excused {
                return Err(format!(
                    "actor {} read a torn value with no writer killed mid-write before it",
                    e.client
                ));
            }
        }
        // Owner death.
        let unfinished = |op: u32, key: u32, actor: usize| {
            let calls = history
                .iter()
                .filter(|e| e.op == op && e.key == key && e.client as usize == actor);
            calls.clone().filter(|e| !e.is_return).count() > calls.filter(|e| e.is_return).count()
        };
        let certainly = |write: bool| {
            killed
                .iter()
                .filter(|&&a| self.is_writer(a) == write)
                .filter(|&&a| unfinished(if write { OP_WRITE } else { OP_READ }, 0, a))
                .count()
        };
        let maybe = |write: bool| {
            killed
                .iter()
                .filter(|&&a| self.is_writer(a) == write)
                .filter(|&&a| unfinished(OP_ATTEMPT, u32::from(write), a))
                .count()
        };
        let (dead_writers, dead_readers) = (certainly(true), certainly(false));
        let reports = history
            .iter()
            .filter(|e| e.op == OP_OWNER_DIED && !e.is_return)
            .count();
        // The check's own probe: a wedge is refused at once; otherwise a dead writer is
        // detected within one liveness slice (real time here, in the janitor).
        let wedge_expected = dead_readers > 0 && self.reader_death == ReaderDeath::Wedges;
        if wedge_expected {
            let first_dead_read = history
                .iter()
                .filter(|e| e.op == OP_READ && !e.is_return)
                .filter(|e| killed.contains(&(e.client as usize)))
                .filter(|e| !history.iter().any(|r| r.is_return && r.id == e.id))
                .map(|e| e.clock)
                .min();
            if let Some(c) = first_dead_read {
                if let Some(w) = history
                    .iter()
                    .find(|w| w.op == OP_WRITE && !w.is_return && w.clock > c)
                {
                    return Err(format!(
                        "actor {} got the write lock after a reader died holding it: the \
                         documented outcome is a wedge",
                        w.client
                    ));
                }
            }
        }
        let (value, probe_report) = if wedge_expected {
            match state.data.try_write() {
                Ok(None) => (None, false),
                Ok(Some(_)) | Err(GuardError::OwnerDied { .. }) => {
                    return Err(format!(
                        "a reader killed holding the lock should wedge writers (documented), \
                         but the check's try_write got in ({dead_readers} such readers)"
                    ))
                }
                Err(e) => return Err(e.to_string()),
            }
        } else {
            let probe = match state.data.try_write() {
                // A reader killed inside `read()` or its guard's drop may hold.
                Ok(None) if maybe(false) > 0 && self.reader_death == ReaderDeath::Wedges => {
                    Ok(None)
                }
                // A dead writer is detected within one liveness slice (50 ms).
                Ok(None) => state.data.try_write_for(Duration::from_millis(500)),
                r => r,
            };
            match probe {
                Ok(Some(g)) => (Some(g[0]), false),
                Ok(None) if maybe(false) > 0 && self.reader_death == ReaderDeath::Wedges => {
                    (None, false)
                }
                Ok(None) => return Err("the lock was left held".into()),
                Err(GuardError::OwnerDied { guard, .. }) => (Some(guard[0].max(guard[1])), true),
                Err(e) => return Err(e.to_string()),
            }
        };
        let reports = reports + usize::from(probe_report);
        let expected_min = dead_writers
            + if self.reader_death == ReaderDeath::Recovers {
                dead_readers
            } else {
                0
            };
        let possible_max = maybe(true)
            + if self.reader_death == ReaderDeath::Recovers {
                maybe(false)
            } else {
                0
            };
        if reports < expected_min {
            return Err(format!(
                "{reports} OwnerDied reports for {expected_min} actor(s) killed holding the lock"
            ));
        }
        if reports > possible_max {
            return Err(format!(
                "{reports} OwnerDied reports, but at most {possible_max} actor(s) can have died \
                 holding the lock"
            ));
        }
        self.count(history, killed, value)
    }
}

impl<L: RawRwLock> RwScenario<L> {
    /// No lost write: the final value (when the check could take the write lock) lies
    /// between the completed and the started writes.
    fn count(&self, history: &[Event], killed: &[usize], value: Option<u64>) -> Result<(), String> {
        let Some(value) = value else { return Ok(()) };
        let writes = |ret: bool| {
            history
                .iter()
                .filter(|e| e.op == OP_WRITE && e.is_return == ret)
                .count() as u64
        };
        // A writer killed after recording its write's end may die before writing it back.
        let killed_after_ret = killed
            .iter()
            .filter(|&&a| self.is_writer(a))
            .filter(|&&a| {
                let calls = history
                    .iter()
                    .filter(|e| e.op == OP_ATTEMPT && e.key == 1 && e.client as usize == a);
                calls.clone().filter(|e| !e.is_return).count()
                    > calls.filter(|e| e.is_return).count()
            })
            .count() as u64;
        let (completed, started) = (writes(true).saturating_sub(killed_after_ret), writes(false));
        if value < completed || value > started {
            return Err(format!(
                "the data is {value} after {completed} completed writes ({started} started): \
                 a write was lost"
            ));
        }
        Ok(())
    }
}

/// The deliberately broken reader-writer lock: a reader registers in the reader count
/// and **does not check the writer flag after registering**; a writer sets the flag, then
/// waits for the count to drain. A reader arriving while a writer is inside registers
/// and enters beside it.
///
/// | word      | meaning                               |
/// |-----------|---------------------------------------|
/// | `writer`  | 1 while a writer holds or drains      |
/// | `readers` | the number of registered readers      |
///
/// (The correct reader registers, then checks the flag and, if a writer is there,
/// deregisters and waits, with a `SeqCst` fence between the two: Dekker's handshake.
/// Checking the flag only *before* registering is broken too, but needs three ordering
/// constraints to show, beyond what 64 PCT cases of depth 3 find reliably.) Dead owners
/// are never detected. For the catalog only.
#[derive(Debug, Default)]
#[repr(C)]
pub struct RegisterOnlyRwLock {
    writer: AtomicU32,
    readers: AtomicU32,
}

impl RegisterOnlyRwLock {
    fn read_now(&self) -> bool {
        self.readers.fetch_add(1, Ordering::SeqCst);
        true // BUG: no look at `writer` after registering
    }

    fn write_until(&self, deadline: &Deadline) -> bool {
        let mut backoff = Backoff::new();
        while self
            .writer
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            if deadline.is_finite() && deadline.expired() {
                return false;
            }
            backoff.snooze();
        }
        hook::point(Point::Load); // about to look at the readers
        while self.readers.load(Ordering::SeqCst) != 0 {
            if deadline.is_finite() && deadline.expired() {
                self.writer.store(0, Ordering::SeqCst);
                return false;
            }
            backoff.snooze();
        }
        true
    }
}

// SAFETY: none, deliberately: it breaks exclusion (the catalog shows it). It does keep
// its state in two atomics without pointers, so it works in shared memory.
unsafe impl RawRwLock for RegisterOnlyRwLock {
    const NAME: &'static str = "rw-register-only";
    fn init(slot: &mut MaybeUninit<Self>) -> Result<(), LockError> {
        slot.write(Self::default());
        Ok(())
    }
    fn read(&self) -> Result<(), LockError> {
        self.read_now();
        Ok(())
    }
    fn try_read(&self) -> Result<bool, LockError> {
        Ok(self.read_now())
    }
    fn try_read_for(&self, _timeout: Duration) -> Result<bool, LockError> {
        Ok(self.read_now())
    }
    unsafe fn unlock_read(&self) -> Result<(), LockError> {
        self.readers.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
    fn write(&self) -> Result<(), LockError> {
        self.write_until(&Deadline::never());
        Ok(())
    }
    fn try_write(&self) -> Result<bool, LockError> {
        Ok(self.write_until(&Deadline::after(Duration::ZERO)))
    }
    fn try_write_for(&self, timeout: Duration) -> Result<bool, LockError> {
        Ok(self.write_until(&Deadline::after(timeout)))
    }
    unsafe fn unlock_write(&self) -> Result<(), LockError> {
        self.writer.store(0, Ordering::SeqCst);
        Ok(())
    }
}
