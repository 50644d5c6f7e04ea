//! The queue workloads: the first half of the processes produce 64-byte messages as fast
//! as they can, the second half consume them; one operation is one message consumed, and
//! only consumers count. When stopped, each producer sends one stop message after its
//! last one and each consumer stops at the first stop message it takes, so every message
//! sent before is consumed (per producer, its messages precede its stop message, and a
//! consumer is alive as long as a stop message is unread): the cell's "lost" is exactly
//! the messages sent and never received.
//!
//! Here: the raw pipe baseline (one `pipe()` shared by every producer and consumer, each
//! message one atomic 64-byte `write` and one `read`), and procshare's queue through its
//! byte interface ([`ProcshareQueue`]: `ByteRing::put_bytes` / `get_bytes_into`, no
//! allocation per message, as `Queue::put_bytes` does).

use crate::runner::{Ctx, Run};
use crate::sys::{read_once, write_all, FdPair};

/// Size of a queue message.
pub const MESSAGE: usize = 64;

/// The operations of a multi-producer multi-consumer message channel.
pub trait Stream {
    /// A fresh, empty channel for `producers` producers and `consumers` consumers.
    fn create(producers: usize, consumers: usize) -> Result<Self, String>
    where
        Self: Sized;
    /// Producer `p`: send one message, or the stop message.
    fn send(&self, p: usize, msg: &[u8; MESSAGE], stop: bool);
    /// Consumer `c`: take one message; false for a stop message.
    fn recv(&self, c: usize) -> bool;
}

/// A stream workload: `procs / 2` producers (indices `0..procs / 2`), as many consumers.
pub struct Streams<S: Stream>(S);

impl<S: Stream + 'static> Streams<S> {
    /// A fresh channel for `procs` processes (even, at least 2).
    pub fn prepare(procs: usize) -> Result<Box<dyn Run>, String> {
        if procs < 2 || procs % 2 != 0 {
            return Err(format!(
                "a queue workload needs an even process count, not {procs}"
            ));
        }
        Ok(Box::new(Streams(S::create(procs / 2, procs / 2)?)))
    }
}

impl<S: Stream> Run for Streams<S> {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let half = ctx.procs / 2;
        let mut n = 0u64;
        if ctx.index < half {
            let mut msg = [7u8; MESSAGE];
            while ctx.running() {
                msg[1..9].copy_from_slice(&n.to_le_bytes());
                self.0.send(ctx.index, &msg, false);
                n += 1;
            }
            self.0.send(ctx.index, &msg, true);
        } else {
            while self.0.recv(ctx.index - half) {
                n += 1;
            }
        }
        n
    }
    fn counted(&self, index: usize, procs: usize) -> bool {
        index >= procs / 2
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        let (sent, received) = ops.split_at(ops.len() / 2);
        Some(
            sent.iter()
                .sum::<u64>()
                .abs_diff(received.iter().sum::<u64>()),
        )
    }
}

/// One pipe shared by every producer and consumer; a message whose first byte is `0xff`
/// is a stop message.
pub struct RawPipe(FdPair);

impl Stream for RawPipe {
    fn create(_producers: usize, _consumers: usize) -> Result<Self, String> {
        FdPair::pipe().map(RawPipe)
    }
    fn send(&self, _p: usize, msg: &[u8; MESSAGE], stop: bool) {
        let ok = if stop {
            write_all(self.0 .0[1], &[0xff; MESSAGE])
        } else {
            write_all(self.0 .0[1], msg)
        };
        assert!(ok, "pipe write");
    }
    fn recv(&self, _c: usize) -> bool {
        let mut buf = [0u8; MESSAGE];
        // One read per message: several consumers share the pipe, and a 64-byte write is
        // atomic, so every read returns one whole message.
        let n = read_once(self.0 .0[0], &mut buf);
        assert_eq!(n, MESSAGE, "pipe read returned {n} bytes");
        buf[0] != 0xff
    }
}

/// procshare's queue (the ring under `Queue`), bounded like CPython's default queue
/// would be by memory: 4096 items, 1 MiB of payload.
pub struct ProcshareQueue(procshare::ByteRing);

impl Stream for ProcshareQueue {
    fn create(_producers: usize, _consumers: usize) -> Result<Self, String> {
        procshare::ByteRing::new(4096, 1 << 20)
            .map(ProcshareQueue)
            .map_err(|e| e.to_string())
    }
    fn send(&self, _p: usize, msg: &[u8; MESSAGE], stop: bool) {
        let r = if stop {
            self.0.put_bytes(&[0xff; MESSAGE])
        } else {
            self.0.put_bytes(msg)
        };
        r.expect("queue put");
    }
    fn recv(&self, _c: usize) -> bool {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(MESSAGE));
        }
        BUF.with(|b| {
            let mut b = b.borrow_mut();
            let n = self.0.get_bytes_into(&mut b).expect("queue get");
            assert_eq!(n, MESSAGE, "queue message of {n} bytes");
            b[0] != 0xff
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::sample;
    use std::time::Duration;

    #[test]
    fn queue_streams_lose_nothing() {
        for procs in [2, 4] {
            let run = Streams::<ProcshareQueue>::prepare(procs).unwrap();
            let s = sample(run.as_ref(), procs, Duration::from_millis(20), false).unwrap();
            assert!(s.per_process.iter().sum::<u64>() > 0);
            assert_eq!(s.lost, Some(0));
        }
    }

    #[test]
    fn pipe_streams_lose_nothing() {
        for procs in [2, 8] {
            let run = Streams::<RawPipe>::prepare(procs).unwrap();
            let s = sample(run.as_ref(), procs, Duration::from_millis(20), false).unwrap();
            assert_eq!(s.per_process.len(), procs / 2);
            assert!(s.per_process.iter().sum::<u64>() > 0);
            assert_eq!(s.lost, Some(0));
        }
    }

    /// The loss count is the difference between sent and received.
    #[test]
    fn lost_is_sent_minus_received() {
        let run = Streams(RawPipe::create(2, 2).unwrap());
        assert_eq!(run.lost(&[10, 5, 7, 6]), Some(2));
    }
}
