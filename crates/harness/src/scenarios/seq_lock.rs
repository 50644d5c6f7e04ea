//! [`SeqScenario`]: readers and writers on a `SeqLock<[u64; 2]>`, optionally with a kill.
//!
//! Writers `update` the value to `[k + 1, k + 1]`; readers `read` it. Under the
//! controller a reader's copy is one schedule point (`Load`) between `read_begin` and
//! `read_validate`, and a writer's store one point (`Store`) after `write_begin`, so a
//! write lands inside a read and the reader must retry; a writer killed at its store
//! leaves the sequence odd. The property, on the history and the final state:
//!
//! * **no torn read**: every read returns two equal words;
//! * **reads are linearizable**: a read returns at least the writes that completed before
//!   it began and at most those that had begun before it returned, and one reader's
//!   reads never go back;
//! * **owner death, as documented**: a read may fail with `HolderExited` only if a writer
//!   was killed inside its `update`, and then a later write (an actor's, or the check's)
//!   reports the repair (`update` returns `Ok(true)`); no more repairs are reported than
//!   writers were killed inside `update`;
//! * **no lost write**: the final value lies between the completed and the started writes.

use crate::{Event, Recorder, Scenario};
use procshare_shm::SeqLock;
use procshare_sync::LockError;

const OP_READ: u32 = 1;
const OP_WRITE: u32 = 2;
/// A read's result when the two words differ.
const TORN: u64 = u64::MAX;
/// A read's result when it failed with `HolderExited`.
const EXITED: u64 = u64::MAX - 1;

/// Readers (actors `0..readers`) and writers on one `SeqLock`.
#[derive(Debug)]
pub struct SeqScenario {
    readers: usize,
    writers: usize,
    ops: usize,
    kills: u32,
}

impl SeqScenario {
    /// `readers` readers and `writers` writers, `ops` operations each.
    pub fn new(readers: usize, writers: usize, ops: usize) -> Self {
        SeqScenario {
            readers,
            writers,
            ops,
            kills: 0,
        }
    }

    /// Allow up to `kills` crash-injection choices per case.
    pub fn with_kills(mut self, kills: u32) -> Self {
        self.kills = kills;
        self
    }
}

impl Scenario for SeqScenario {
    type State = SeqLock<[u64; 2]>;

    fn name(&self) -> String {
        let kills = if self.kills > 0 {
            format!("+kill{}", self.kills)
        } else {
            String::new()
        };
        format!(
            "seqlock-{}r{}w-x{}{kills}",
            self.readers, self.writers, self.ops
        )
    }

    fn actors(&self) -> usize {
        self.readers + self.writers
    }

    fn max_kills(&self) -> u32 {
        self.kills
    }

    fn setup(&self) -> Self::State {
        SeqLock::new([0, 0]).expect("shared memory for the seqlock")
    }

    fn reset(&self, state: &Self::State) {
        // A full write repairs a dead writer's half-finished one.
        state.write([0, 0]).expect("reset the seqlock");
    }

    fn run(&self, state: &Self::State, actor: usize, rec: &Recorder) -> Result<(), String> {
        for _ in 0..self.ops {
            if actor >= self.readers {
                let op = rec.invoke(OP_WRITE, 0, 0);
                let repaired = state
                    .update(|[a, b]| {
                        let k = a.max(b) + 1;
                        [k, k]
                    })
                    .map_err(|e| format!("update: {e}"))?;
                rec.ret(op, u64::from(repaired));
            } else {
                let op = rec.invoke(OP_READ, 0, 0);
                let seen = match state.read() {
                    Ok([a, b]) if a == b => a,
                    Ok(_) => TORN,
                    Err(LockError::HolderExited { .. }) => EXITED,
                    Err(e) => return Err(format!("read: {e}")),
                };
                rec.ret(op, seen);
            }
        }
        Ok(())
    }

    fn op_name(&self, op: u32) -> String {
        match op {
            OP_READ => "read".into(),
            OP_WRITE => "write".into(),
            _ => format!("op{op}"),
        }
    }

    fn check(
        &self,
        state: &Self::State,
        history: &[Event],
        killed: &[usize],
    ) -> Result<(), String> {
        let call_of = |ret: &Event| {
            history
                .iter()
                .find(|c| !c.is_return && c.id == ret.id)
                .map_or(0, |c| c.clock)
        };
        let writes_begun_before = |clock: u64| {
            history
                .iter()
                .filter(|e| e.op == OP_WRITE && !e.is_return && e.clock < clock)
                .count() as u64
        };
        let writes_done_before = |clock: u64| {
            history
                .iter()
                .filter(|e| e.op == OP_WRITE && e.is_return && e.clock < clock)
                .count() as u64
        };
        let killed_writing = killed
            .iter()
            .filter(|&&a| a >= self.readers)
            .filter(|&&a| {
                let mine = history
                    .iter()
                    .filter(|e| e.op == OP_WRITE && e.client as usize == a);
                mine.clone().filter(|e| !e.is_return).count() > mine.filter(|e| e.is_return).count()
            })
            .count();
        let mut last_seen = vec![0u64; self.readers];
        let mut exited = 0;
        for r in history.iter().filter(|e| e.op == OP_READ && e.is_return) {
            match r.value {
                TORN => return Err(format!("actor {} read a torn value", r.client)),
                EXITED if killed_writing == 0 => {
                    return Err(format!(
                        "actor {} was told HolderExited, but no writer died inside a write",
                        r.client
                    ))
                }
                EXITED => exited += 1,
                v => {
                    let (lo, hi) = (writes_done_before(call_of(r)), writes_begun_before(r.clock));
                    if v < lo || v > hi {
                        return Err(format!(
                            "actor {} read {v}, but {lo} writes had completed before the read \
                             and {hi} had begun before it returned",
                            r.client
                        ));
                    }
                    let last = &mut last_seen[r.client as usize];
                    if v < *last {
                        return Err(format!("actor {} read {v} after {last}", r.client));
                    }
                    *last = v;
                }
            }
        }
        let mut repairs = history
            .iter()
            .filter(|e| e.op == OP_WRITE && e.is_return && e.value == 1)
            .count();
        // The check's own write: repairs what a dead writer left, and says so.
        if state.update(|v| v).map_err(|e| format!("update: {e}"))? {
            repairs += 1;
        }
        if repairs > killed_writing {
            return Err(format!(
                "{repairs} repairs reported, but {killed_writing} writer(s) died inside a write"
            ));
        }
        if exited > 0 && repairs == 0 {
            return Err("readers were told HolderExited, but no write reported the repair".into());
        }
        let value = state.read().map_err(|e| format!("read: {e}"))?;
        let completed = history
            .iter()
            .filter(|e| e.op == OP_WRITE && e.is_return)
            .count() as u64;
        let started = writes_begun_before(u64::MAX);
        if value[0] != value[1] || value[0] < completed || value[0] > started {
            return Err(format!(
                "the value is {value:?} after {completed} completed writes ({started} started)"
            ));
        }
        Ok(())
    }
}
