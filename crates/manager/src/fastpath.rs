//! The local fast path: a client on the same machine talks to its server thread over two
//! shared-memory rings instead of the socket.
//!
//! On this kind of machine a socket round trip is mostly sleep and wake-up (20–50 µs), so
//! a manager that only speaks sockets cannot be much faster than CPython's. A client
//! connected over a **Unix socket** therefore, right after `Hello`, creates a region
//! holding a request ring and a reply ring (the Queue's ring protocol,
//! [`procshare_queue::ring`], with its shared [`procshare_sync::AdaptiveWait`]: a short spin, then an
//! announced futex sleep) and hands it to the server; from then on that connection's
//! requests and replies travel through the rings. The requests and replies are the same
//! bytes as on the socket ([`crate::wire`]), served by the same code.
//!
//! # Hand-over
//!
//! | step | client                                                   | server                                  |
//! |------|----------------------------------------------------------|-----------------------------------------|
//! | 1    | `Hello` over the socket (after the HMAC handshake)        | joins the session                       |
//! | 2    | creates a sealed memfd ([`Region::new_sealed`]), writes the prelude and both rings, registers as the request ring's producer and the reply ring's consumer | — |
//! | 3    | `FastPath` request over the socket, waits for its reply  | checks: a session, a Unix socket, nothing read ahead; replies `Ok` |
//! | 4    | one byte with the memfd attached (`SCM_RIGHTS`)           | `recvmsg`: exactly one descriptor; [`Region::map_sealed`] checks it is a memory file of exactly [`REGION_LEN`] bytes whose size is sealed; then the prelude's magic and version; registers as consumer / producer |
//! | 5    | waits for the reply over the socket                       | replies `Ok` (or a typed error, and the connection stays on the socket) |
//! | 6    | requests and replies through the rings                    | serves the rings on the connection's thread |
//!
//! The geometry (slot count, slot size, record count) is the server's own constant,
//! never read from the region, and the ring never follows a stored pointer or index
//! that it does not reduce modulo its own slot count, so nothing a client writes there
//! makes the server touch memory outside the mapping; a claimed message length is
//! clamped to the ring's size before anything is allocated.
//!
//! What a client *can* do to its own rings by writing their control words directly
//! (rather than through the protocol) is confined to its own connection: a sequence word
//! set ahead of the ring's head or tail makes the ring's claim loop retry, so that
//! client's server thread may spin until the server stops. That client is authenticated
//! (it holds the authkey, with which it could as well ask the server to shut down); no
//! other client's rings, objects or threads are affected. Bounding those retries belongs
//! in the ring protocol (loom-checked) and is not done yet.
//!
//! # Messages in the rings
//!
//! A message (a request or a reply envelope) travels as one or more ring messages, each
//! its chunk of at most [`CHUNK`] bytes followed by one tag byte: [`LAST`] ends the
//! message, [`MORE`] says another chunk follows. So any message the socket carries fits
//! (a dict request is one ring message of one slot), and a ring message can never be
//! larger than the ring (the ring refuses one at once, [`WaitError::TooLarge`]). The
//! server gathers chunks up to its request limit; past it the rest of the message is
//! read and dropped, and the reply is [`RemoteKind::TooLarge`]. A missing or unknown tag
//! is a [`RemoteKind::BadRequest`] reply. Either way the connection keeps serving.
//!
//! # Liveness and the guarantees
//!
//! The socket stays open beside the rings as the liveness channel. Every wait on a ring
//! is sliced ([`SLICE`]); between slices the waiter checks whether the socket's peer has
//! closed, and the ring itself reports `Disconnected` once its other side's process is
//! proven dead or deregistered. So a client killed mid-request is noticed by its server
//! thread (whose session then releases the dead client's references, exactly as on the
//! socket), and a client never hangs on a server that died. A request is applied only
//! once its last chunk has arrived, so a client killed while writing one leaves nothing
//! half-applied (a chunk whose writer died is a tombstone the ring skips).
//!
//! # Fork
//!
//! A ring pair belongs to the thread, and the process, that created it: after `fork` a
//! child never touches its parent's rings (the client's per-thread connections are keyed
//! by pid), it opens its own connection with its own rings.
//!
//! Tested by the crate's `tests/fastpath.rs` (the seeds' behaviours, exact counters, a
//! client SIGKILLed mid-request, fork, the fast path off, a hostile ring client, and a
//! server-side count of ring requests proving the fast path is used).

use crate::client::{pid, Transport};
use crate::error::{Error, RemoteError, RemoteKind, Result};
use crate::link::Link;
use crate::wire::{encode_request, Reply, Request};
use procshare_queue::ring::{
    Faults, Geometry, Header, Record, RingRef, WaitError, CONSUMER, PRODUCER, SLOT_HEADER_WORDS,
};
use procshare_shm::Region;
use procshare_sync::hook::{self, Point};
use procshare_sync::loom::{AtomicU64, Deadline};
use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The region's first word: identifies a procshare fast-path region.
pub const MAGIC: u64 = u64::from_le_bytes(*b"psfastp\x01");
/// The layout version in the region's second word.
pub const VERSION: u64 = 1;
/// Slots per ring.
const SLOTS: u64 = 128;
/// Words per slot, the two header words included: 240 payload bytes.
const SLOT_WORDS: usize = 32;
/// Participant records per ring (one client thread, one server thread, spares).
const RECORDS: usize = 4;
/// The ring's shape.
const GEOMETRY: Geometry = Geometry {
    slots: SLOTS,
    slot_words: SLOT_WORDS,
    records: RECORDS,
};
/// The largest chunk of a message in one ring message: half a ring, so that the writer
/// can fill one half while the reader empties the other.
pub const CHUNK: usize = (SLOTS as usize * (SLOT_WORDS - SLOT_HEADER_WORDS) * 8) / 2 - 1;
/// Tag byte: the last chunk of a message.
pub const LAST: u8 = 0;
/// Tag byte: more chunks follow.
pub const MORE: u8 = 1;
/// How long a ring wait lasts before the waiter checks the socket (and the server's
/// stop flag) again.
pub const SLICE: Duration = Duration::from_millis(100);

fn round64(n: usize) -> usize {
    n.div_ceil(64) * 64
}

const fn ring_bytes() -> usize {
    let header = std::mem::size_of::<Header>().div_ceil(64) * 64;
    header + RECORDS * std::mem::size_of::<Record>() + SLOTS as usize * SLOT_WORDS * 8
}

/// Offset of the request ring (after the 64-byte prelude).
const REQ_AT: usize = 64;
/// Offset of the reply ring.
const REP_AT: usize = REQ_AT + ring_bytes();
/// The exact size of a fast-path region.
pub const REGION_LEN: usize = REP_AT + ring_bytes();

/// A region holding the prelude (magic, version) and the two rings.
pub(crate) struct Rings {
    region: Region,
}

impl Rings {
    /// A fresh region (the client's), every ring empty.
    pub(crate) fn create() -> std::result::Result<Rings, procshare_shm::Error> {
        let region = Region::new_sealed(REGION_LEN)?;
        let base = region.base();
        let header = round64(std::mem::size_of::<Header>());
        for at in [REQ_AT, REP_AT] {
            // SAFETY: the region is fresh (nobody else has it yet), page-aligned and
            // REGION_LEN bytes long; the header at `at`, the records after it and the
            // slots after those are in bounds and 64-byte aligned (every offset is a
            // multiple of 64), and every type written holds only atomics.
            unsafe {
                base.add(at)
                    .cast::<Header>()
                    .write(Header::new(random_uid(), 0));
                let recs = base.add(at + header).cast::<Record>();
                for i in 0..RECORDS {
                    recs.add(i).write(Record::new());
                }
            }
        }
        let rings = Rings { region };
        rings.req().init_slots();
        rings.rep().init_slots();
        let (magic, version) = rings.prelude();
        version.store(VERSION, Ordering::Relaxed);
        magic.store(MAGIC, Ordering::Release);
        Ok(rings)
    }

    /// Map a region received from a client, checking the file (a sealed memory file of
    /// exactly [`REGION_LEN`] bytes) and the prelude.
    pub(crate) fn attach(file: File) -> std::result::Result<Rings, String> {
        let region = Region::map_sealed(file, REGION_LEN).map_err(|e| e.to_string())?;
        let rings = Rings { region };
        let (magic, version) = rings.prelude();
        if magic.load(Ordering::Acquire) != MAGIC {
            return Err("the region is not a fast-path region (bad magic)".into());
        }
        let v = version.load(Ordering::Relaxed);
        if v != VERSION {
            return Err(format!(
                "fast-path region version {v}, this server speaks {VERSION}"
            ));
        }
        Ok(rings)
    }

    fn prelude(&self) -> (&std::sync::atomic::AtomicU64, &std::sync::atomic::AtomicU64) {
        let base = self.region.base().cast::<std::sync::atomic::AtomicU64>();
        // SAFETY: the first 16 bytes of a page-aligned region of REGION_LEN bytes, reached
        // only through atomics.
        unsafe { (&*base, &*base.add(1)) }
    }

    fn ring(&self, at: usize) -> RingRef<'_> {
        let base = self.region.base();
        let header = round64(std::mem::size_of::<Header>());
        // SAFETY: the ring at `at` spans `ring_bytes()` bytes inside the region (its size
        // is sealed at REGION_LEN, checked when mapped), 64-byte aligned. Every type
        // there holds only atomics, so shared references are sound while another
        // process writes the same memory, whatever it writes: the geometry is ours, not
        // read from the region.
        unsafe {
            RingRef {
                hdr: &*base.add(at).cast::<Header>(),
                recs: std::slice::from_raw_parts(base.add(at + header).cast::<Record>(), RECORDS),
                words: std::slice::from_raw_parts(
                    base.add(at + header + RECORDS * std::mem::size_of::<Record>())
                        .cast::<AtomicU64>(),
                    SLOTS as usize * SLOT_WORDS,
                ),
                geo: GEOMETRY,
                faults: Faults::default(),
            }
        }
    }

    /// The request ring (client → server).
    pub(crate) fn req(&self) -> RingRef<'_> {
        self.ring(REQ_AT)
    }

    /// The reply ring (server → client).
    pub(crate) fn rep(&self) -> RingRef<'_> {
        self.ring(REP_AT)
    }

    fn fd(&self) -> RawFd {
        self.region.file().as_raw_fd()
    }
}

fn random_uid() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_ne_bytes(b)
}

/// Why a ring transfer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The other side is gone (closed socket, dead or deregistered process).
    Closed,
}

/// Put `body` as chunks into `ring` (record `me`); `alive` is asked between slices.
pub(crate) fn put_message(
    ring: &RingRef<'_>,
    me: usize,
    body: &[u8],
    buf: &mut Vec<u8>,
    alive: &dyn Fn() -> bool,
) -> std::result::Result<(), Stop> {
    let mut chunks = body.chunks(CHUNK).peekable();
    let mut first = true;
    while first || chunks.peek().is_some() {
        first = false;
        let chunk = chunks.next().unwrap_or(&[]);
        buf.clear();
        buf.extend_from_slice(chunk);
        buf.push(if chunks.peek().is_some() { MORE } else { LAST });
        loop {
            match ring.put(me, buf, &Deadline::after(SLICE)) {
                Ok(()) => break,
                Err(WaitError::TimedOut) if alive() => continue,
                Err(_) => return Err(Stop::Closed),
            }
        }
    }
    Ok(())
}

/// How long a receiver polls the ring (a few spins, then yielding the CPU between
/// attempts) before it waits on the ring's [`procshare_sync::AdaptiveWait`].
pub const POLL: Duration = Duration::from_micros(50);
/// Spins before the poll starts yielding.
const POLL_SPINS: u32 = 64;

/// Poll `ring` for a message for up to [`POLL`]: [`POLL_SPINS`] spins (the reply to a
/// dict request takes well under a microsecond of server time), then `sched_yield`
/// between attempts, so that on a machine with more runnable processes than CPUs the
/// peer gets this CPU instead of both sides sleeping in the kernel. Measured on this
/// 2-CPU VM under load: a long pure spin is several times slower than yielding (the
/// spinner holds the CPU the server needs), and yielding avoids the futex wake that the
/// ring's own adaptive wait ends in under load. True if a message was taken into `into`.
/// Never where a controlled scheduler is visible (the harness decides who runs); the
/// client's waits run without it (`hook::without_scheduler`), so they poll too.
fn poll(ring: &RingRef<'_>, me: usize, into: &mut Vec<u8>) -> bool {
    if hook::is_active() {
        return false;
    }
    let mut spins = 0u32;
    let mut start = None;
    loop {
        if ring.poll_get(me, into).is_ok() {
            return true;
        }
        if spins < POLL_SPINS {
            spins += 1;
            std::hint::spin_loop();
            continue;
        }
        let t0 = *start.get_or_insert_with(std::time::Instant::now);
        if t0.elapsed() >= POLL {
            return false;
        }
        std::thread::yield_now();
    }
}

/// One whole message gathered from a ring.
#[derive(Debug)]
pub(crate) enum Gathered {
    /// The message, in the caller's buffer.
    Whole,
    /// Longer than `max`: its chunks were read and dropped; `len` bytes in all.
    TooLarge { len: u64 },
    /// A chunk without a valid tag.
    BadTag,
}

/// Take one message's chunks from `ring` (record `me`) into `out` (at most `max` bytes).
pub(crate) fn get_message(
    ring: &RingRef<'_>,
    me: usize,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    max: u64,
    alive: &dyn Fn() -> bool,
) -> std::result::Result<Gathered, Stop> {
    let get = |into: &mut Vec<u8>| loop {
        if poll(ring, me, into) {
            return Ok(());
        }
        match ring.get(me, into, &Deadline::after(SLICE)) {
            Ok(_) => return Ok(()),
            Err(WaitError::TimedOut) if alive() => continue,
            Err(_) => return Err(Stop::Closed),
        }
    };
    // The common case, one chunk: straight into `out`.
    get(out)?;
    let mut tag = match out.pop() {
        Some(t @ (LAST | MORE)) => t,
        _ => return Ok(Gathered::BadTag),
    };
    let mut len = out.len() as u64;
    let mut too_large = len > max;
    if too_large {
        out.clear();
    }
    while tag == MORE {
        get(scratch)?;
        tag = match scratch.pop() {
            Some(t @ (LAST | MORE)) => t,
            _ => return Ok(Gathered::BadTag),
        };
        len += scratch.len() as u64;
        if len > max {
            too_large = true;
            out.clear();
        } else {
            out.extend_from_slice(scratch);
        }
    }
    Ok(if too_large {
        Gathered::TooLarge { len }
    } else {
        Gathered::Whole
    })
}

/// Has the peer of socket `fd` closed its end (EOF readable)?
pub(crate) fn peer_closed(fd: RawFd) -> bool {
    let mut b = 0u8;
    // SAFETY: a one-byte peek into a local buffer on an open socket; nothing is consumed.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut b as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0
}

/// Is `fd` a Unix-domain socket (the only kind that carries descriptors)?
pub(crate) fn is_unix_socket(fd: RawFd) -> bool {
    let mut domain: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes one int into a local of that size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut domain as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    r == 0 && domain == libc::AF_UNIX
}

/// Send one byte with descriptor `fd` attached (`SCM_RIGHTS`) over the Unix socket
/// `sock`.
fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    let byte = [b'F'];
    let iov = [io::IoSlice::new(&byte)];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    loop {
        match sendmsg::<UnixAddr>(sock, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(io::Error::other("sendmsg sent no byte")),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(io::Error::from(e)),
        }
    }
}

/// Receive the one byte of [`send_fd`] and exactly one descriptor with it. Anything else
/// (no descriptor, several, another byte, a truncated control message) is an error, and
/// every descriptor that came is closed.
pub(crate) fn recv_fd(sock: RawFd) -> std::result::Result<OwnedFd, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    let mut byte = [0u8; 1];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let (bytes, mut fds, truncated) = loop {
        let mut iov = [io::IoSliceMut::new(&mut byte)];
        match recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(msg) => {
                let mut fds = Vec::new();
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmRights(got) = c {
                            // SAFETY: the kernel just installed these descriptors in this
                            // process for us; nobody else owns them.
                            fds.extend(got.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
                        }
                    }
                }
                break (msg.bytes, fds, msg.flags.contains(MsgFlags::MSG_CTRUNC));
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("recvmsg: {e}")),
        }
    };
    if bytes != 1 || byte[0] != b'F' {
        return Err("the fast-path hand-over must be one byte with one descriptor".into());
    }
    if truncated || fds.len() != 1 {
        return Err(format!(
            "the fast-path hand-over carried {} descriptors{}; exactly one is expected",
            fds.len(),
            if truncated { " (truncated)" } else { "" }
        ));
    }
    Ok(fds.pop().expect("one"))
}

/// A client connection over the rings, with its socket kept as the liveness channel.
pub(crate) struct RingLink {
    rings: Rings,
    link: Link,
    /// The request ring's producer record and the reply ring's consumer record (this
    /// thread's).
    preq: usize,
    crep: usize,
    pid: u32,
    bufs: RefCell<(Vec<u8>, Vec<u8>)>,
}

/// Why the fast path was not set up (the connection stays on the socket), or a broken
/// connection.
pub(crate) enum Upgrade {
    /// On the rings now.
    Rings(RingLink),
    /// Still on the socket: the fast path is unavailable here (the reason is dropped).
    Socket(Link),
}

impl RingLink {
    /// Move an authenticated, introduced socket connection onto a fresh pair of rings.
    /// The server may refuse (a TCP connection, an old server): then the connection stays
    /// on the socket.
    pub(crate) fn upgrade(link: Link) -> Result<Upgrade> {
        // The rings' steps are no schedule points (see `send_message`); the socket's
        // round trips below pass theirs.
        let Ok(rings) = hook::without_scheduler(Rings::create) else {
            return Ok(Upgrade::Socket(link));
        };
        let (Some(preq), Some(crep)) = hook::without_scheduler(|| {
            (
                rings.req().register(PRODUCER),
                rings.rep().register(CONSUMER),
            )
        }) else {
            return Ok(Upgrade::Socket(link));
        };
        match crate::client::round_trip(&link, &Request::FastPath) {
            Ok(_) => {}
            Err(Error::Remote(_)) => return Ok(Upgrade::Socket(link)),
            Err(e) => return Err(e),
        }
        send_fd(link.as_raw_fd(), rings.fd())?;
        let reply = link.recv_message()?;
        match postcard::from_bytes::<Reply>(&reply).map_err(Error::codec)? {
            Reply::Ok(_) => Ok(Upgrade::Rings(RingLink {
                rings,
                link,
                preq,
                crep,
                pid: pid(),
                bufs: RefCell::new((Vec::new(), Vec::new())),
            })),
            Reply::Err(_) => Ok(Upgrade::Socket(link)),
        }
    }

    fn alive(&self) -> bool {
        !peer_closed(self.link.as_raw_fd())
    }
}

fn closed() -> Error {
    Error::Connection(procshare_connection::Error::Closed)
}

impl Transport for RingLink {
    fn send_message(&self, bytes: &[u8]) -> Result<()> {
        hook::point(Point::Send);
        let mut b = self.bufs.borrow_mut();
        // The rings' own steps are no schedule points: the server on the other side is
        // not scheduled, so, as with a socket, only Send and Recv are (see
        // `hook::without_scheduler`).
        hook::without_scheduler(|| {
            put_message(&self.rings.req(), self.preq, bytes, &mut b.0, &|| {
                self.alive()
            })
        })
        .map_err(|_| closed())
    }

    fn recv_message(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut b = self.bufs.borrow_mut();
        let r = hook::without_scheduler(|| {
            get_message(
                &self.rings.rep(),
                self.crep,
                &mut out,
                &mut b.1,
                procshare_connection::frame::DEFAULT_MAX_MESSAGE,
                &|| self.alive(),
            )
        });
        hook::point(Point::Recv);
        match r {
            Ok(Gathered::Whole) => Ok(out),
            Ok(Gathered::TooLarge { len }) => {
                Err(Error::Connection(procshare_connection::Error::TooLarge {
                    len,
                    max: procshare_connection::frame::DEFAULT_MAX_MESSAGE,
                }))
            }
            Ok(Gathered::BadTag) => Err(Error::codec("a reply chunk without a valid tag")),
            Err(Stop::Closed) => Err(closed()),
        }
    }
}

impl Drop for RingLink {
    fn drop(&mut self) {
        // Only the process (and thread) that registered: a forked child dropping its
        // inherited copy leaves its parent's rings alone.
        if pid() == self.pid {
            hook::without_scheduler(|| {
                self.rings.req().deregister_process(PRODUCER);
                self.rings.rep().deregister_process(CONSUMER);
            });
        }
    }
}

/// The server's side of one client's rings.
pub(crate) struct ServerRings {
    rings: Rings,
    creq: usize,
    prep: usize,
    fd: RawFd,
    bufs: RefCell<(Vec<u8>, Vec<u8>)>,
}

impl ServerRings {
    /// Take the client's region from the socket `fd` and join its rings. The error is
    /// the reason, for the client's typed error reply.
    pub(crate) fn accept(fd: RawFd) -> std::result::Result<ServerRings, String> {
        let file = File::from(recv_fd(fd)?);
        let rings = Rings::attach(file)?;
        let creq = rings
            .req()
            .register(CONSUMER)
            .ok_or("the request ring has no free participant record")?;
        let prep = match rings.rep().register(PRODUCER) {
            Some(i) => i,
            None => {
                rings.req().deregister_process(CONSUMER);
                return Err("the reply ring has no free participant record".into());
            }
        };
        Ok(ServerRings {
            rings,
            creq,
            prep,
            fd,
            bufs: RefCell::new((Vec::new(), Vec::new())),
        })
    }

    /// The next request into `out` (cleared first): `Ok(true)`, `Ok(false)` when the
    /// client is gone, or the error to reply with.
    pub(crate) fn recv(
        &self,
        out: &mut Vec<u8>,
        max: u64,
        stop: &dyn Fn() -> bool,
    ) -> std::result::Result<bool, RemoteError> {
        out.clear();
        let mut b = self.bufs.borrow_mut();
        let alive = || !stop() && !peer_closed(self.fd);
        let r = get_message(&self.rings.req(), self.creq, out, &mut b.1, max, &alive);
        hook::point(Point::Recv);
        match r {
            Ok(Gathered::Whole) => Ok(true),
            Ok(Gathered::TooLarge { len }) => Err(RemoteError::new(
                RemoteKind::TooLarge,
                format!("request of {len} bytes is over the limit of {max}"),
            )),
            Ok(Gathered::BadTag) => Err(RemoteError::new(
                RemoteKind::BadRequest,
                "a fast-path message must end with its chunk tag (0: last, 1: more)",
            )),
            Err(Stop::Closed) => Ok(false),
        }
    }

    /// Send one reply; false if the client is gone.
    pub(crate) fn send(&self, body: &[u8], stop: &dyn Fn() -> bool) -> bool {
        hook::point(Point::Send);
        let mut b = self.bufs.borrow_mut();
        let alive = || !stop() && !peer_closed(self.fd);
        put_message(&self.rings.rep(), self.prep, body, &mut b.0, &alive).is_ok()
    }
}

impl Drop for ServerRings {
    fn drop(&mut self) {
        // A client waiting for a reply learns at once that none will come.
        self.rings.req().deregister_process(CONSUMER);
        self.rings.rep().deregister_process(PRODUCER);
    }
}

/// A hand-written fast-path client for hostile tests: it does the hand-over and then
/// puts raw bytes into the request ring.
#[doc(hidden)]
pub struct RawRingClient {
    inner: RingLink,
}

impl RawRingClient {
    /// Connect, authenticate, say `Hello` for `session` and move onto rings; fails if the
    /// server does not take the rings.
    pub fn connect(address: &crate::Address, authkey: &[u8], session: u64) -> Result<Self> {
        let conn = procshare_connection::Client::new(address.clone())
            .auth(procshare_connection::Auth::key(authkey))
            .connect()?;
        let fd = conn.into_fd().ok_or(procshare_connection::Error::Closed)?;
        let link = Link::new(fd, procshare_connection::frame::DEFAULT_MAX_MESSAGE);
        crate::client::round_trip(&link, &Request::Hello { session })?;
        match RingLink::upgrade(link)? {
            Upgrade::Rings(inner) => Ok(RawRingClient { inner }),
            Upgrade::Socket(_) => Err(Error::codec("the server refused the fast path")),
        }
    }

    /// Do the hand-over with `file` instead of a proper region and return the server's
    /// answer to it (the connection is dropped afterwards).
    pub fn hand_over(
        address: &crate::Address,
        authkey: &[u8],
        session: u64,
        file: &File,
    ) -> Result<Reply> {
        let conn = procshare_connection::Client::new(address.clone())
            .auth(procshare_connection::Auth::key(authkey))
            .connect()?;
        let fd = conn.into_fd().ok_or(procshare_connection::Error::Closed)?;
        let link = Link::new(fd, procshare_connection::frame::DEFAULT_MAX_MESSAGE);
        crate::client::round_trip(&link, &Request::Hello { session })?;
        crate::client::round_trip(&link, &Request::FastPath)?;
        send_fd(link.as_raw_fd(), file.as_raw_fd())?;
        let reply = link.recv_message()?;
        postcard::from_bytes(&reply).map_err(Error::codec)
    }

    /// Put `bytes` into the request ring as one ring message, verbatim (no tag added).
    pub fn put_raw(&self, bytes: &[u8]) -> Result<()> {
        self.inner
            .rings
            .req()
            .put(
                self.inner.preq,
                bytes,
                &Deadline::after(Duration::from_secs(20)),
            )
            .map_err(|e| Error::codec(format!("{e:?}")))
    }

    /// The largest ring message the request ring takes.
    pub fn max_ring_message(&self) -> usize {
        GEOMETRY.max_message()
    }

    /// Send a whole message (chunked and tagged as a real client does).
    pub fn send_message(&self, bytes: &[u8]) -> Result<()> {
        self.inner.send_message(bytes)
    }

    /// One request, properly framed.
    pub fn send_request(&self, req: &Request) -> Result<()> {
        self.inner.send_message(&encode_request(req))
    }

    /// The next whole reply envelope.
    pub fn recv_reply(&self) -> Result<Reply> {
        let bytes = self.inner.recv_message()?;
        postcard::from_bytes(&bytes).map_err(Error::codec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_aligned_and_chunks_fit_the_ring() {
        assert_eq!(REQ_AT % 64, 0);
        assert_eq!(REP_AT % 64, 0);
        assert!(CHUNK < GEOMETRY.max_message());
        assert_eq!(GEOMETRY.slot_payload(), 240);
    }

    /// Two threads, each with its own record, as a client and its server thread.
    fn pass(rings: &Rings, msgs: &[Vec<u8>], max: u64) -> Vec<std::result::Result<Vec<u8>, u64>> {
        let alive = || true;
        std::thread::scope(|s| {
            s.spawn(|| {
                let p = rings.req().register(PRODUCER).unwrap();
                let mut buf = Vec::new();
                for m in msgs {
                    put_message(&rings.req(), p, m, &mut buf, &alive).unwrap();
                }
            });
            let c = rings.req().register(CONSUMER).unwrap();
            let (mut out, mut scratch) = (Vec::new(), Vec::new());
            msgs.iter()
                .map(
                    |_| match get_message(&rings.req(), c, &mut out, &mut scratch, max, &alive) {
                        Ok(Gathered::Whole) => Ok(out.clone()),
                        Ok(Gathered::TooLarge { len }) => Err(len),
                        other => panic!("{other:?}"),
                    },
                )
                .collect()
        })
    }

    #[test]
    fn messages_of_every_size_cross_the_rings_in_chunks() {
        let rings = Rings::create().unwrap();
        let msgs: Vec<Vec<u8>> = [0usize, 1, 239, 240, CHUNK, CHUNK + 1, 3 * CHUNK + 7]
            .iter()
            .map(|&len| (0..len).map(|i| (i % 251) as u8).collect())
            .collect();
        let got = pass(&rings, &msgs, 1 << 20);
        for (m, g) in msgs.iter().zip(got) {
            assert_eq!(g.as_ref(), Ok(m), "len {}", m.len());
        }
    }

    #[test]
    fn a_message_over_the_limit_is_dropped_whole_and_reported() {
        let rings = Rings::create().unwrap();
        let big = vec![9u8; 2 * CHUNK + 5];
        let got = pass(&rings, &[big.clone(), b"next".to_vec()], 1000);
        assert_eq!(got, vec![Err(big.len() as u64), Ok(b"next".to_vec())]);
    }

    #[test]
    fn a_region_that_is_not_a_fast_path_region_is_refused() {
        let plain = Region::new(REGION_LEN).unwrap();
        assert!(
            Rings::attach(plain.file().try_clone().unwrap()).is_err(),
            "not sealed"
        );
        let wrong = Region::new_sealed(REGION_LEN).unwrap();
        let e = Rings::attach(wrong.file().try_clone().unwrap())
            .err()
            .unwrap();
        assert!(e.contains("magic"), "{e}");
        let small = Region::new_sealed(4096).unwrap();
        assert!(
            Rings::attach(small.file().try_clone().unwrap()).is_err(),
            "size"
        );
        let good = Rings::create().unwrap();
        assert!(Rings::attach(good.region.file().try_clone().unwrap()).is_ok());
    }
}
