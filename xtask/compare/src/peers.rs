//! The Rust peers a user would otherwise pick, on the queue 1→1 and round-trip
//! workloads, behind the `peers` cargo feature (so the default build stays light):
//!
//! * **iceoryx2** 0.10, publish/subscribe across processes (`ipc::Service`): a service of
//!   `[u8; 64]` per direction, the subscriber buffer 256 deep, no safe overflow and a
//!   publisher that retries until delivered (so nothing is dropped), `send_copy` and a
//!   busy-polling `receive` (iceoryx2's pub/sub does not block; a waitset would add an
//!   event service per direction). Each child opens its node and ports after the fork
//!   and meets the others at [`Ctx::barrier`] before the timed part.
//! * **ipc-channel** 0.20, `bytes_channel` (its untyped, fastest path: a `SOCK_SEQPACKET`
//!   socketpair on Linux), created in the parent and inherited across the fork.
//!
//! Without the feature, [`register`] adds the same rows as "not yet measured" with the
//! reason, so the report never silently drops them.

#[cfg(feature = "peers")]
use crate::cases::rust_case;
#[cfg(not(feature = "peers"))]
use crate::cases::todo_case;
use crate::cases::Case;
use crate::model::Family;

/// The peers' rows: `(workload, case)`.
pub const ROWS: &[(&str, &str)] = &[
    ("roundtrip", "iceoryx2"),
    ("roundtrip", "ipc_channel"),
    ("queue1", "iceoryx2"),
    ("queue1", "ipc_channel"),
];

/// Add the peers' cases.
#[cfg(not(feature = "peers"))]
pub fn register(cases: &mut Vec<Case>) {
    for (workload, name) in ROWS {
        cases.push(todo_case(
            workload,
            name,
            Family::Peer,
            "Rust peers not built: run the full `cargo xtask compare` (feature `peers`)",
        ));
    }
}

/// Add the peers' cases.
#[cfg(feature = "peers")]
pub fn register(cases: &mut Vec<Case>) {
    use crate::pairs::Pairs;
    use crate::streams::Streams;
    cases.push(rust_case(
        "roundtrip",
        "iceoryx2",
        Family::Peer,
        Pairs::<imp::IceoryxPair>::prepare,
    ));
    cases.push(rust_case(
        "roundtrip",
        "ipc_channel",
        Family::Peer,
        Pairs::<imp::IpcPair>::prepare,
    ));
    cases.push(rust_case(
        "queue1",
        "iceoryx2",
        Family::Peer,
        imp::IceoryxStream::prepare,
    ));
    cases.push(rust_case(
        "queue1",
        "ipc_channel",
        Family::Peer,
        Streams::<imp::IpcStream>::prepare,
    ));
}

#[cfg(feature = "peers")]
mod imp {
    use crate::pairs::{Channel, MESSAGE};
    use crate::runner::{Ctx, Run};
    use crate::streams::Stream;
    use iceoryx2::prelude::*;
    use ipc_channel::ipc::{bytes_channel, IpcBytesReceiver, IpcBytesSender};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// A 64-byte iceoryx2 payload; first byte `0xff` means stop.
    type Payload = [u8; MESSAGE];

    /// Service names unique to this process and call.
    fn unique(what: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        format!(
            "procshare-compare/{}/{what}/{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// One fruitless poll: a spin hint, and a `sched_yield` every
    /// [`SPINS_PER_YIELD`](crate::pairs::SPINS_PER_YIELD) polls, as the raw spinning
    /// baseline does.
    fn pause(spins: u32) -> u32 {
        let spins = spins.wrapping_add(1);
        if spins % crate::pairs::SPINS_PER_YIELD == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
        spins
    }

    /// One side's iceoryx2 ports: a publisher on `out`, a subscriber on `inp`.
    struct Ports {
        _node: Node<ipc::Service>,
        publisher: iceoryx2::port::publisher::Publisher<ipc::Service, Payload, ()>,
        subscriber: iceoryx2::port::subscriber::Subscriber<ipc::Service, Payload, ()>,
    }

    fn service(
        node: &Node<ipc::Service>,
        name: &str,
    ) -> iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, Payload, ()>
    {
        let name: ServiceName = name.try_into().expect("service name");
        // Both sides open the same service at once; one of them may find it half made.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match node
                .service_builder(&name)
                .publish_subscribe::<Payload>()
                .enable_safe_overflow(false)
                .subscriber_max_buffer_size(256)
                .open_or_create()
            {
                Ok(s) => return s,
                Err(e) if Instant::now() > deadline => panic!("iceoryx2 service: {e:?}"),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    impl Ports {
        /// Open both services, subscribe to `inp`, publish on `out`.
        fn open(out: &str, inp: &str) -> Ports {
            set_log_level(LogLevel::Error);
            let node = NodeBuilder::new()
                .create::<ipc::Service>()
                .expect("iceoryx2 node");
            let publisher = service(&node, out)
                .publisher_builder()
                .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
                .create()
                .expect("iceoryx2 publisher");
            let subscriber = service(&node, inp)
                .subscriber_builder()
                .buffer_size(256)
                .create()
                .expect("iceoryx2 subscriber");
            Ports {
                _node: node,
                publisher,
                subscriber,
            }
        }

        fn send(&self, msg: Payload) {
            // With no subscriber connected yet (the peer is between `open` and the
            // barrier) a message would reach nobody: retry until it reaches one.
            let mut spins = 0u32;
            while self.publisher.send_copy(msg).expect("iceoryx2 send") == 0 {
                spins = pause(spins);
            }
        }

        fn recv(&self) -> Payload {
            let mut spins = 0u32;
            loop {
                if let Some(sample) = self.subscriber.receive().expect("iceoryx2 receive") {
                    return *sample.payload();
                }
                spins = pause(spins);
            }
        }
    }

    /// An iceoryx2 ping/pong pair: the ports are opened in the children, so the channel
    /// only holds the two service names.
    pub(super) struct IceoryxPair {
        ping: String,
        pong: String,
        ports: std::cell::OnceCell<Ports>,
        initiator: std::cell::Cell<bool>,
    }

    impl Channel for IceoryxPair {
        fn create() -> Result<Self, String> {
            Ok(IceoryxPair {
                ping: unique("ping"),
                pong: unique("pong"),
                ports: std::cell::OnceCell::new(),
                initiator: std::cell::Cell::new(false),
            })
        }
        fn setup(&self, initiator: bool) {
            self.initiator.set(initiator);
            let ports = if initiator {
                Ports::open(&self.ping, &self.pong)
            } else {
                Ports::open(&self.pong, &self.ping)
            };
            let _ = self.ports.set(ports);
        }
        fn round(&self) {
            let p = self.ports.get().expect("set up");
            p.send([7; MESSAGE]);
            assert_eq!(p.recv(), [7; MESSAGE], "iceoryx2 echo");
        }
        fn quit(&self) {
            self.ports.get().expect("set up").send([0xff; MESSAGE]);
        }
        fn respond(&self) -> bool {
            let p = self.ports.get().expect("set up");
            let m = p.recv();
            if m[0] == 0xff {
                return false;
            }
            p.send(m);
            true
        }
    }

    /// iceoryx2 1→1: one publisher (process 0), one subscriber (process 1).
    pub(super) struct IceoryxStream {
        name: String,
        back: String,
    }

    impl IceoryxStream {
        pub(super) fn prepare(procs: usize) -> Result<Box<dyn Run>, String> {
            if procs != 2 {
                return Err(format!("iceoryx2 1→1 runs with 2 processes, not {procs}"));
            }
            Ok(Box::new(IceoryxStream {
                name: unique("stream"),
                back: unique("unused"),
            }))
        }
    }

    impl Run for IceoryxStream {
        fn body(&self, ctx: &Ctx<'_>) -> u64 {
            let mut n = 0u64;
            if ctx.index == 0 {
                let ports = Ports::open(&self.name, &self.back);
                ctx.barrier();
                let mut msg = [7u8; MESSAGE];
                while ctx.running() {
                    msg[1..9].copy_from_slice(&n.to_le_bytes());
                    ports.send(msg);
                    n += 1;
                }
                ports.send([0xff; MESSAGE]);
            } else {
                let ports = Ports::open(&self.back, &self.name);
                ctx.barrier();
                while ports.recv()[0] != 0xff {
                    n += 1;
                }
            }
            n
        }
        fn counted(&self, index: usize, _procs: usize) -> bool {
            index == 1
        }
        fn uses_barrier(&self) -> bool {
            true
        }
        fn lost(&self, ops: &[u64]) -> Option<u64> {
            Some(ops[0].abs_diff(ops[1]))
        }
    }

    /// An ipc-channel bytes pair per direction, made in the parent; an empty message quits.
    pub(super) struct IpcPair {
        ping: (IpcBytesSender, IpcBytesReceiver),
        pong: (IpcBytesSender, IpcBytesReceiver),
    }

    impl Channel for IpcPair {
        fn create() -> Result<Self, String> {
            let e = |e: std::io::Error| format!("ipc-channel: {e}");
            Ok(IpcPair {
                ping: bytes_channel().map_err(e)?,
                pong: bytes_channel().map_err(e)?,
            })
        }
        fn round(&self) {
            let msg = [7u8; MESSAGE];
            self.ping.0.send(&msg).expect("ipc-channel send");
            let back = self.pong.1.recv().expect("ipc-channel recv");
            assert_eq!(back, msg, "ipc-channel echo");
        }
        fn quit(&self) {
            self.ping.0.send(b"").expect("ipc-channel send");
        }
        fn respond(&self) -> bool {
            let m = self.ping.1.recv().expect("ipc-channel recv");
            if m.is_empty() {
                return false;
            }
            self.pong.0.send(&m).expect("ipc-channel send");
            true
        }
    }

    /// One ipc-channel bytes channel, 1→1; an empty message stops.
    pub(super) struct IpcStream(IpcBytesSender, IpcBytesReceiver);

    impl Stream for IpcStream {
        fn create(producers: usize, consumers: usize) -> Result<Self, String> {
            if (producers, consumers) != (1, 1) {
                return Err("ipc-channel receivers are single-consumer: 1→1 only".into());
            }
            let (s, r) = bytes_channel().map_err(|e| format!("ipc-channel: {e}"))?;
            Ok(IpcStream(s, r))
        }
        fn send(&self, _p: usize, msg: &[u8; MESSAGE], stop: bool) {
            let m: &[u8] = if stop { b"" } else { msg };
            self.0.send(m).expect("ipc-channel send");
        }
        fn recv(&self, _c: usize) -> bool {
            !self.1.recv().expect("ipc-channel recv").is_empty()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::pairs::Pairs;
        use crate::runner::sample;
        use crate::streams::Streams;

        fn check(run: Box<dyn Run>, procs: usize) {
            let s = sample(run.as_ref(), procs, Duration::from_millis(50), true).unwrap();
            assert!(s.per_process.iter().all(|&n| n > 0), "{:?}", s.per_process);
            assert_eq!(s.lost, Some(0));
        }

        #[test]
        fn iceoryx2_round_trips_and_streams() {
            check(Pairs::<IceoryxPair>::prepare(2).unwrap(), 2);
            check(IceoryxStream::prepare(2).unwrap(), 2);
        }

        #[test]
        fn ipc_channel_round_trips_and_streams() {
            check(Pairs::<IpcPair>::prepare(2).unwrap(), 2);
            check(Streams::<IpcStream>::prepare(2).unwrap(), 2);
        }
    }
}
