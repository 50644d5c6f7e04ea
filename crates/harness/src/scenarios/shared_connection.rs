//! Two writers share one `Connection` end, guarded by a `Lock`, and one of them may be
//! killed at any point: every message that reaches the reader is whole and intact, and
//! none is garbled by the other writer or by the death.
//!
//! The writers send numbered messages on one end of a socket pair (`Pipe::duplex`),
//! each send inside the lock (`send_bytes` passes its `Send` schedule point, so the
//! controller interleaves and kills around it). The property, checked in the janitor,
//! reads the other end without blocking (`poll(0)` before every receive): the frames
//! read are exactly the completed sends plus at most the killed writer's send in flight,
//! each one a message some writer sent, none twice; a framing error or a half-written
//! frame is a failure (with frames split into two writes and a kill between them, the
//! search finds exactly that: checked by hand). A frame
//! is one gathered write, so a kill lands before or after it, never inside; a writer
//! killed inside a frame larger than the socket buffer is `tests/connection.rs`'s
//! `a_child_writing_half_a_frame_leaves_the_reader_with_truncated`. A `Lock` whose holder
//! was killed is reported (`HolderExited`) and released by the survivor, as a hand-off.

use crate::{Event, Recorder, Scenario};
use procshare_connection::{Connection, Pipe};
use procshare_shm::Shared;
use procshare_sync::{Lock, LockError, SyncError};
use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// Messages per writer.
const MESSAGES: u64 = 2;
/// How long the property waits for the rest of a frame whose first bytes have arrived
/// (real time: it runs in the janitor, with no scheduler).
const PARTIAL: Duration = Duration::from_millis(50);
const OP_SEND: u32 = 1;

/// Shared state of [`SharedConnection`]: the lock and the socket pair's two ends (each
/// process makes its own `Connection` over a duplicate of the descriptor).
#[derive(Debug)]
pub struct ConnectionState {
    lock: Shared<Lock>,
    write_end: OwnedFd,
    read_end: OwnedFd,
}

/// Two writers on one connection end, guarded by a lock, with one kill allowed.
#[derive(Debug, Default)]
pub struct SharedConnection;

/// The bytes writer `actor` sends as its message `n` (a length that differs per message,
/// and a pattern a mix-up would break).
fn message(actor: usize, n: u64) -> Vec<u8> {
    let tag = (actor as u8) << 4 | n as u8;
    let mut m = vec![tag; 24 + 8 * n as usize + actor];
    m[0] = actor as u8;
    m[1] = n as u8;
    m
}

fn connection(fd: &OwnedFd) -> Result<Connection, String> {
    fd.try_clone()
        .map(Connection::from_socket)
        .map_err(|e| format!("dup: {e}"))
}

impl Scenario for SharedConnection {
    type State = ConnectionState;

    fn name(&self) -> String {
        "shared-connection-2+kill1".into()
    }

    fn actors(&self) -> usize {
        2
    }

    fn max_kills(&self) -> u32 {
        1
    }

    fn setup(&self) -> ConnectionState {
        let (a, b) = Pipe::duplex().expect("socketpair");
        ConnectionState {
            lock: Shared::new(Lock::new()).expect("shared memory"),
            write_end: a.into_fd().expect("an open end"),
            read_end: b.into_fd().expect("an open end"),
        }
    }

    fn reset(&self, state: &ConnectionState) {
        // A killed writer may have left the lock held: hand it on.
        if state.lock.is_locked() {
            let _ = state.lock.release();
        }
        // Drain what the last case left unread.
        let reader = connection(&state.read_end).expect("dup");
        while reader.poll(Some(Duration::ZERO)).unwrap_or(false) {
            if reader.recv_bytes_timeout(PARTIAL).is_err() {
                break;
            }
        }
    }

    fn run(&self, state: &ConnectionState, actor: usize, rec: &Recorder) -> Result<(), String> {
        let conn = connection(&state.write_end)?;
        for n in 0..MESSAGES {
            match state.lock.acquire() {
                Ok(()) => {}
                // The other writer died holding it: the frame it was sending is whole or
                // absent (one gathered write), so the stream is clean; take over by
                // handing the lock on, then acquire it.
                Err(SyncError::Lock(LockError::HolderExited { .. })) => {
                    state.lock.release().map_err(|e| e.to_string())?;
                    state.lock.acquire().map_err(|e| e.to_string())?;
                }
                Err(e) => return Err(e.to_string()),
            }
            let op = rec.invoke(OP_SEND, actor as u32, n);
            conn.send_bytes(&message(actor, n))
                .map_err(|e| e.to_string())?;
            rec.ret(op, 0);
            state.lock.release().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn op_name(&self, op: u32) -> String {
        match op {
            OP_SEND => "send".into(),
            _ => format!("op{op}"),
        }
    }

    fn check(
        &self,
        state: &ConnectionState,
        history: &[Event],
        killed: &[usize],
    ) -> Result<(), String> {
        let reader = connection(&state.read_end)?;
        let mut received = Vec::new();
        while reader
            .poll(Some(Duration::ZERO))
            .map_err(|e| e.to_string())?
        {
            // A frame whose first bytes are there arrives whole at once; one that does not
            // within `PARTIAL` was left half-written.
            match reader.recv_bytes_timeout(PARTIAL) {
                Ok(m) => received.push(m),
                Err(procshare_connection::Error::Timeout) => {
                    return Err("a half-written frame is stuck on the shared end".into())
                }
                Err(e) => return Err(format!("framing error on the shared end: {e}")),
            }
        }
        let sent = |returned: bool| -> BTreeSet<(usize, u64)> {
            history
                .iter()
                .filter(|e| e.op == OP_SEND && e.is_return == returned)
                .map(|e| {
                    let n = history
                        .iter()
                        .find(|c| !c.is_return && c.id == e.id)
                        .map_or(e.value, |c| c.value);
                    (e.key as usize, n)
                })
                .collect()
        };
        let completed = sent(true);
        let started = sent(false);
        let mut seen = BTreeSet::new();
        for m in &received {
            let (actor, n) = (usize::from(m[0]), u64::from(m[1]));
            if *m != message(actor, n) {
                return Err(format!("a garbled message: {m:?}"));
            }
            if !started.contains(&(actor, n)) {
                return Err(format!("message {n} of writer {actor} was never sent"));
            }
            if !seen.insert((actor, n)) {
                return Err(format!("message {n} of writer {actor} arrived twice"));
            }
        }
        if let Some(lost) = completed.difference(&seen).next() {
            return Err(format!("a completed send was lost: {lost:?}"));
        }
        let in_flight = seen.difference(&completed).count();
        if in_flight > killed.len() {
            return Err(format!(
                "{in_flight} messages arrived whose send never completed"
            ));
        }
        Ok(())
    }
}
