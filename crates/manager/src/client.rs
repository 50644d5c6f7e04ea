//! The client side: sessions, one connection per thread per process, and the transport
//! seam.
//!
//! * A **session** is one client process's claim on references. The first request of a
//!   process opens its *anchor* connection and says `Hello` with a fresh random session
//!   number; the anchor stays open as long as the process keeps anything of the manager,
//!   so the server releases the process's references exactly when the process dies (or
//!   drops the manager and every proxy). Reference traffic (`Incref`/`Decref`) goes over
//!   the anchor, so a proxy can be dropped anywhere, even in a thread-local destructor.
//! * Calls go over a **per-thread connection** (opened on first use, joining the same
//!   session). A thread blocked in `LockProxy::acquire` blocks only itself, and an
//!   `RLock` acquired by a thread belongs to that thread, as in CPython.
//! * **Fork.** Every connection remembers the pid that opened it. A process that finds a
//!   connection opened by another pid (it was forked) never touches it: it opens its own,
//!   under a new session (CPython #101320 is a proxy sharing its parent's socket). A proxy
//!   inherited across fork takes a reference for the child's session on first use.
//!
//! * **Fast path.** A per-thread connection to a server over a Unix socket moves onto
//!   two shared-memory rings right after `Hello` (see [`crate::fastpath`]), unless the
//!   manager was built with `fast_path(false)`. Under a controlled scheduler the rings'
//!   own steps are no schedule points (the server is not one of the harness's actors):
//!   a request passes the same `Send` and `Recv` points on either carrier. The anchor
//!   stays on the socket. [`TransportKind`] says which one a thread uses.
//!
//! [`Transport`] is the seam for a carrier of the same request and reply bytes: the
//! socket ([`Connection`], the manager's buffered link) and the fast path's rings
//! implement it.

use crate::error::{Error, Result};
use crate::fastpath::{RingLink, Upgrade};
use crate::link::Link;
use crate::wire::{encode_request, ReplyRef, Request};
use procshare_connection::frame::DEFAULT_MAX_MESSAGE;
use procshare_connection::{Address, Auth, Client, Connection};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// A carrier of whole request and reply messages between one client thread and the
/// server. A transport delivers each message whole or reports an error; it never splits,
/// merges or reorders them.
pub trait Transport {
    /// Send one whole message.
    fn send_message(&self, bytes: &[u8]) -> Result<()>;
    /// Receive one whole message.
    fn recv_message(&self) -> Result<Vec<u8>>;
}

impl Transport for Connection {
    fn send_message(&self, bytes: &[u8]) -> Result<()> {
        Ok(self.send_bytes(bytes)?)
    }
    fn recv_message(&self) -> Result<Vec<u8>> {
        Ok(self.recv_bytes()?)
    }
}

/// One request and its reply over `t`.
pub fn round_trip(t: &impl Transport, req: &Request) -> Result<Vec<u8>> {
    round_trip_bytes(t, &encode_request(req))
}

/// One encoded request and its reply over `t`.
fn round_trip_bytes(t: &impl Transport, req: &[u8]) -> Result<Vec<u8>> {
    t.send_message(req)?;
    let mut reply = t.recv_message()?;
    // The result is the tail of the frame: keep the frame's buffer, drop the envelope.
    let (start, len) = match postcard::from_bytes::<ReplyRef<'_>>(&reply).map_err(Error::codec)? {
        ReplyRef::Ok(bytes) => (
            bytes.as_ptr() as usize - reply.as_ptr() as usize,
            bytes.len(),
        ),
        ReplyRef::Err(e) => return Err(Error::from_remote(e)),
    };
    reply.truncate(start + len);
    reply.drain(..start);
    Ok(reply)
}

/// This process's id (cached; the cache is reset in every forked child).
pub(crate) fn pid() -> u32 {
    procshare_sync::loom::current_thread().0
}

/// Did the transport fail (so the connection must not be used again)?
fn broken<T>(r: &Result<T>) -> bool {
    matches!(
        r,
        Err(Error::Connection(_) | Error::Codec(_) | Error::Io(_))
    )
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: fall back to something unique enough for a session number
        // (it is not a secret; the authkey is).
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return t ^ (u64::from(pid()) << 32);
    }
    u64::from_ne_bytes(b)
}

/// Which carrier a thread's requests take (see [`crate::Manager::transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// The Unix or TCP socket.
    Socket,
    /// The local fast path: two shared-memory rings ([`crate::fastpath`]).
    SharedMemory,
}

/// A per-thread connection: the socket, or the rings beside it.
enum Conn {
    Socket(Link),
    Rings(RingLink),
}

impl Conn {
    fn kind(&self) -> TransportKind {
        match self {
            Conn::Socket(_) => TransportKind::Socket,
            Conn::Rings(_) => TransportKind::SharedMemory,
        }
    }
}

impl Transport for Conn {
    fn send_message(&self, bytes: &[u8]) -> Result<()> {
        match self {
            Conn::Socket(l) => l.send_message(bytes),
            Conn::Rings(r) => r.send_message(bytes),
        }
    }
    fn recv_message(&self) -> Result<Vec<u8>> {
        match self {
            Conn::Socket(l) => l.recv_message(),
            Conn::Rings(r) => r.recv_message(),
        }
    }
}

struct Anchor {
    pid: u32,
    session: u64,
    conn: Link,
}

/// What every proxy of one manager shares: where the server is and this process's session.
pub(crate) struct Core {
    uid: u64,
    client: Client,
    key: Vec<u8>,
    address: Address,
    anchor: Mutex<Option<Anchor>>,
    /// Move per-thread connections onto the fast path when the server is local.
    fast_path: bool,
}

struct Slot {
    uid: u64,
    core: Weak<Core>,
    pid: u32,
    conn: Option<Conn>,
}

thread_local! {
    static CONNS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

impl Core {
    pub(crate) fn new(address: Address, key: &[u8], fast_path: bool) -> Arc<Core> {
        Arc::new(Core {
            uid: random_u64(),
            client: Client::new(address.clone()).auth(Auth::key(key)),
            key: key.to_vec(),
            fast_path: fast_path && matches!(address, Address::Unix(_)),
            address,
            anchor: Mutex::new(None),
        })
    }

    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    fn anchor(&self) -> std::sync::MutexGuard<'_, Option<Anchor>> {
        self.anchor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This process's session, opening the anchor connection if needed.
    pub(crate) fn session(&self) -> Result<u64> {
        let me = pid();
        let mut a = self.anchor();
        if let Some(anchor) = a.as_ref() {
            if anchor.pid == me {
                return Ok(anchor.session);
            }
        }
        if let Some(inherited) = a.take() {
            // The parent's anchor: this process's copy of its descriptor is closed (the
            // parent's stays open, so its session is untouched).
            drop(inherited.conn);
        }
        let session = random_u64();
        let conn = self.open(session)?;
        *a = Some(Anchor {
            pid: me,
            session,
            conn,
        });
        Ok(session)
    }

    /// A new connection of `session`, authenticated and introduced.
    fn open(&self, session: u64) -> Result<Link> {
        let conn = self.client.connect()?;
        let fd = conn.into_fd().ok_or(procshare_connection::Error::Closed)?;
        let link = Link::new(fd, DEFAULT_MAX_MESSAGE);
        round_trip(&link, &Request::Hello { session })?;
        Ok(link)
    }

    /// A new per-thread connection of `session`: on the fast path when it is on and the
    /// server takes it, on the socket otherwise.
    fn open_call(&self, session: u64) -> Result<Conn> {
        let link = self.open(session)?;
        if !self.fast_path {
            return Ok(Conn::Socket(link));
        }
        Ok(match RingLink::upgrade(link)? {
            Upgrade::Rings(r) => Conn::Rings(r),
            Upgrade::Socket(l) => Conn::Socket(l),
        })
    }

    /// The carrier this thread's requests take (connecting first if needed).
    pub(crate) fn transport(self: &Arc<Self>) -> Result<TransportKind> {
        let conn = match self.take_conn() {
            Some(c) => c,
            None => {
                let session = self.session()?;
                self.open_call(session)?
            }
        };
        let kind = conn.kind();
        self.put_conn(conn);
        Ok(kind)
    }

    /// A request over the anchor (reference traffic).
    pub(crate) fn anchor_request(&self, req: &Request) -> Result<Vec<u8>> {
        self.session()?;
        let mut a = self.anchor();
        let anchor = a.as_mut().expect("session() opened it");
        let r = round_trip(&anchor.conn, req);
        if broken(&r) {
            // The stream can no longer be trusted: the next request opens a new session
            // (the server released this one's references when the anchor closed).
            *a = None;
        }
        r
    }

    fn take_conn(&self) -> Option<Conn> {
        let me = pid();
        CONNS
            .try_with(|c| {
                let mut slots = c.borrow_mut();
                // Forget connections of managers that are gone, or of another process.
                slots.retain(|s| s.core.strong_count() > 0 && s.pid == me);
                slots
                    .iter_mut()
                    .find(|s| s.uid == self.uid)
                    .and_then(|s| s.conn.take())
            })
            .ok()
            .flatten()
    }

    fn put_conn(self: &Arc<Self>, conn: Conn) {
        let me = pid();
        let _ = CONNS.try_with(|c| {
            let mut slots = c.borrow_mut();
            match slots.iter_mut().find(|s| s.uid == self.uid && s.pid == me) {
                Some(s) => s.conn = Some(conn),
                None => slots.push(Slot {
                    uid: self.uid,
                    core: Arc::downgrade(self),
                    pid: me,
                    conn: Some(conn),
                }),
            }
        });
    }

    /// A request over this thread's connection.
    pub(crate) fn request(self: &Arc<Self>, req: &Request) -> Result<Vec<u8>> {
        self.request_bytes(&encode_request(req))
    }

    /// An encoded request over this thread's connection.
    pub(crate) fn request_bytes(self: &Arc<Self>, req: &[u8]) -> Result<Vec<u8>> {
        let conn = match self.take_conn() {
            Some(c) => c,
            None => {
                let session = self.session()?;
                self.open_call(session)?
            }
        };
        let r = round_trip_bytes(&conn, req);
        if !broken(&r) {
            self.put_conn(conn);
        }
        r
    }

    /// A request over a connection of its own, closed afterwards, every step bounded by
    /// `timeout` (shutdown: a server that does not answer is not waited for).
    pub(crate) fn one_off(&self, req: &Request, timeout: Duration) -> Result<Vec<u8>> {
        let mut auth = Auth::key(&self.key);
        auth.timeout = Some(timeout);
        let conn = Client::new(self.address.clone()).auth(auth).connect()?;
        let conn = Bounded { conn, timeout };
        round_trip(
            &conn,
            &Request::Hello {
                session: random_u64(),
            },
        )?;
        round_trip(&conn, req)
    }
}

/// A connection whose receives give up after `timeout`.
struct Bounded {
    conn: Connection,
    timeout: Duration,
}

impl Transport for Bounded {
    fn send_message(&self, bytes: &[u8]) -> Result<()> {
        self.conn.send_message(bytes)
    }
    fn recv_message(&self) -> Result<Vec<u8>> {
        Ok(self.conn.recv_bytes_timeout(self.timeout)?)
    }
}
