//! The manager's server: a registry of objects, reference counts by session, and one
//! thread per client connection.
//!
//! # Why a thread per connection
//!
//! Proxies to synchronisation objects block on the server (`LockProxy::acquire`,
//! `ConditionProxy::wait`, `BarrierProxy::wait`): a blocked call needs a context that
//! blocks, and an `RLock` or a `Condition`'s lock belongs to whoever acquired it, which is
//! exactly "the server thread of that client connection" (CPython's manager makes the same
//! choice). Each client thread has its own connection, so a slow, blocked or dead client
//! holds only its own server thread; the accept loop does no I/O with clients (the
//! handshake runs on the connection's thread, bounded by the authentication timeout), so
//! no client can delay another's accept.
//!
//! A peer that has not authenticated costs a thread for at most the handshake timeout,
//! and at most [`MAX_UNAUTHENTICATED`] such peers are kept at once: a connection accepted
//! beyond that is closed at once, before any byte is exchanged. A flood of silent
//! connections therefore bounds the server's threads and memory (and can delay new
//! clients, never the ones already authenticated), and `shutdown` still ends the server
//! with its SIGTERM step (`tests/manager.rs`).
//!
//! # References
//!
//! | who holds a reference        | taken when                                  | dropped when                          |
//! |------------------------------|---------------------------------------------|---------------------------------------|
//! | a session (a client process) | it creates the object, gets a proxy in a reply, or sends `Incref` | it sends `Decref`, or its last connection closes (the process died or dropped its manager) |
//! | a container (dict, list, …)  | a value holding the proxy is stored          | that value is replaced or removed, or the container is freed |
//!
//! An object whose count reaches zero is removed, and the nested proxies it held are
//! released in turn. (A cycle — a dict that holds a proxy to itself — is never freed, as
//! in CPython without its cycle collector.) Proxies in a reply are referenced for the
//! session while the container's lock is still held, so another client cannot free them
//! in between.
//!
//! Lock order: an object's content lock, then the registry; the registry is never held
//! while a content lock is taken, and nested references are dropped only after the
//! container's lock is released.
//!
//! Tested by `tests/manager.rs` (live-object counts after drops, nested proxies, a client
//! SIGKILLed while holding references) and `tests/hostile.rs`.

use crate::custom::Ctor;
use crate::error::{RemoteError, RemoteKind};
use crate::fastpath::{is_unix_socket, peer_closed, ServerRings};
use crate::link::{Link, KEEP_OUT};
use crate::objects::{self, Args, Data, ODict, Object};
use crate::wire::{
    encode_ok_reply_into, encode_reply, pickle_value, proxies_in, unpickle_value, Reply,
    RequestRef, Value, DEFAULT_MAX_REQUEST,
};
use procshare_connection::{Auth, Connection, Error as ConnError, Listener};
use procshare_sync::hook::{self, Point};
use procshare_sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How many accepted connections may be in their handshake at once; one more is closed
/// as soon as it is accepted.
pub const MAX_UNAUTHENTICATED: usize = 64;

struct Entry {
    obj: Arc<Object>,
    refs: u64,
}

#[derive(Default)]
struct Session {
    conns: u32,
    refs: HashMap<u64, u64>,
}

#[derive(Default)]
struct Registry {
    objects: HashMap<u64, Entry>,
    sessions: HashMap<u64, Session>,
    next_id: u64,
}

/// What a server does when a client asks it to shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnShutdown {
    /// `_exit(0)` after the reply (the forked server of `Manager::start`).
    Exit,
    /// Stop accepting and close every connection (an in-process server).
    Stop,
}

/// Everything the server's threads share.
pub(crate) struct State {
    registry: Mutex<Registry>,
    types: HashMap<&'static str, Ctor>,
    pub(crate) stop: AtomicBool,
    conns: Mutex<HashMap<u64, RawFd>>,
    next_conn: AtomicU64,
    on_shutdown: OnShutdown,
    max_request: u64,
    /// Requests served through fast-path rings (for `Request::RingRequests`).
    ring_requests: AtomicU64,
    /// Accepted connections not yet through their handshake.
    unauthenticated: AtomicUsize,
}

/// One place among the [`MAX_UNAUTHENTICATED`] handshakes, given back when dropped.
struct HandshakeSlot(Arc<State>);

impl HandshakeSlot {
    fn take(state: &Arc<State>) -> Option<HandshakeSlot> {
        let n = state.unauthenticated.fetch_add(1, Ordering::AcqRel);
        let slot = HandshakeSlot(state.clone());
        // Over the cap: dropping the slot gives the place back at once.
        (n < MAX_UNAUTHENTICATED).then_some(slot)
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.0.unauthenticated.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where a connection's requests come from and its replies go.
#[derive(Clone, Copy)]
enum Carrier<'a> {
    /// The connection's socket.
    Socket(&'a Link),
    /// The client's shared-memory rings (the socket stays open beside them).
    Rings(&'a ServerRings),
}

/// Why [`State::serve_requests`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// The client is gone (or the server stops): end the connection.
    Closed,
    /// The client asked for the fast path and was told to send its region.
    FastPath,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a request handler is a bug, but it must not take every later request
    // down with it: the data under the lock is consistent between requests.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unknown(id: u64) -> RemoteError {
    RemoteError::new(RemoteKind::UnknownObject, format!("no object with id {id}"))
}

fn bad_request(msg: impl Into<String>) -> RemoteError {
    RemoteError::new(RemoteKind::BadRequest, msg)
}

/// What a connection remembers between requests.
#[derive(Default)]
struct ConnState {
    session: Option<u64>,
    /// RLocks (and conditions' locks) this connection's thread holds, with depths: released
    /// when the connection ends (the thread is their owner).
    held: HashMap<u64, (Arc<Object>, u32)>,
}

/// An acquisition to take back if its reply cannot be delivered.
enum Undo {
    Lock(Arc<Object>),
    Semaphore(Arc<Object>),
}

impl State {
    pub(crate) fn new(types: HashMap<&'static str, Ctor>, on_shutdown: OnShutdown) -> State {
        State {
            registry: Mutex::new(Registry {
                next_id: 1,
                ..Registry::default()
            }),
            types,
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            on_shutdown,
            max_request: DEFAULT_MAX_REQUEST,
            ring_requests: AtomicU64::new(0),
            unauthenticated: AtomicUsize::new(0),
        }
    }

    /// The number of live objects.
    pub(crate) fn live(&self) -> usize {
        lock(&self.registry).objects.len()
    }

    fn get(&self, id: u64) -> Result<Arc<Object>, RemoteError> {
        lock(&self.registry)
            .objects
            .get(&id)
            .map(|e| e.obj.clone())
            .ok_or_else(|| unknown(id))
    }

    /// Reference every id (all or none) for a container (`session: None`) or a session.
    fn incref_all(&self, ids: &[u64], session: Option<u64>) -> Result<(), RemoteError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut reg = lock(&self.registry);
        if let Some(&id) = ids.iter().find(|id| !reg.objects.contains_key(id)) {
            return Err(unknown(id));
        }
        for &id in ids {
            reg.objects.get_mut(&id).expect("checked").refs += 1;
            if let Some(s) = session {
                *reg.sessions
                    .entry(s)
                    .or_default()
                    .refs
                    .entry(id)
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    /// Drop container references, freeing what reaches zero (and what it held).
    fn decref_all(&self, mut ids: Vec<u64>) {
        while !ids.is_empty() {
            let mut freed = Vec::new();
            {
                let mut reg = lock(&self.registry);
                for id in ids.drain(..) {
                    if let Some(e) = reg.objects.get_mut(&id) {
                        e.refs = e.refs.saturating_sub(1);
                        if e.refs == 0 {
                            freed.push(reg.objects.remove(&id).expect("present").obj);
                        }
                    }
                }
            }
            // The registry is released: take each freed object's content lock.
            for obj in freed {
                for v in obj.drain_values() {
                    proxies_in(&v, &mut ids);
                }
            }
        }
    }

    fn decref_session(&self, session: u64, id: u64) -> Result<(), RemoteError> {
        {
            let mut reg = lock(&self.registry);
            let s = reg.sessions.entry(session).or_default();
            match s.refs.get_mut(&id) {
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    s.refs.remove(&id);
                }
                None => {
                    return Err(RemoteError::new(
                        RemoteKind::NoReference,
                        format!("this session holds no reference to object {id}"),
                    ))
                }
            }
        }
        self.decref_all(vec![id]);
        Ok(())
    }

    fn join_session(&self, session: u64) {
        lock(&self.registry)
            .sessions
            .entry(session)
            .or_default()
            .conns += 1;
    }

    /// A connection of `session` closed; the last one releases its references.
    fn leave_session(&self, session: u64) {
        let released = {
            let mut reg = lock(&self.registry);
            let Some(s) = reg.sessions.get_mut(&session) else {
                return;
            };
            s.conns = s.conns.saturating_sub(1);
            if s.conns > 0 {
                return;
            }
            let s = reg.sessions.remove(&session).expect("present");
            let mut ids = Vec::new();
            for (id, n) in s.refs {
                ids.extend(std::iter::repeat_n(id, n as usize));
            }
            ids
        };
        self.decref_all(released);
    }

    fn create(&self, typeid: &str, args: Value, session: u64) -> Result<Value, RemoteError> {
        let args = Args::new(typeid, args);
        let obj = match typeid {
            "dict" => {
                args.take(0)?;
                Object::Data(Mutex::new(Data::Dict(ODict::default())))
            }
            "list" => {
                let init = match args.take(1)?.pop().expect("one") {
                    Value::List(v) => v,
                    _ => return Err(crate::wire::type_error("list() takes a list")),
                };
                let mut ids = Vec::new();
                init.iter().for_each(|v| proxies_in(v, &mut ids));
                self.incref_all(&ids, None)?;
                Object::Data(Mutex::new(Data::List(init)))
            }
            "namespace" => {
                args.take(0)?;
                Object::Data(Mutex::new(Data::Namespace(ODict::default())))
            }
            "value" => {
                let v = args.one()?;
                let mut ids = Vec::new();
                proxies_in(&v, &mut ids);
                self.incref_all(&ids, None)?;
                Object::Data(Mutex::new(Data::Value(v)))
            }
            "lock" => {
                args.take(0)?;
                Object::Lock(Lock::new())
            }
            "rlock" => {
                args.take(0)?;
                Object::RLock(RLock::new())
            }
            "semaphore" | "bounded_semaphore" => {
                let Value::I64(n) = args.one()? else {
                    return Err(crate::wire::type_error("semaphore value must be an int"));
                };
                let n = u32::try_from(n)
                    .map_err(|_| crate::wire::type_error("semaphore value out of range"))?;
                if typeid == "semaphore" {
                    Object::Semaphore(Box::new(Semaphore::new(n)))
                } else {
                    Object::Semaphore(Box::new(BoundedSemaphore::new(n)))
                }
            }
            "condition" => {
                args.take(0)?;
                Object::Condition(Box::new(Condition::new()))
            }
            "event" => {
                args.take(0)?;
                Object::Event(Event::new())
            }
            "queue" | "joinable_queue" => {
                let Value::I64(n) = args.one()? else {
                    return Err(crate::wire::type_error("queue maxsize must be an int"));
                };
                let n = usize::try_from(n.max(0))
                    .map_err(|_| crate::wire::type_error("queue maxsize out of range"))?;
                let q = if typeid == "queue" {
                    objects::ServerQueue::Plain(
                        procshare_queue::Queue::new(n).map_err(objects::queue_error)?,
                    )
                } else {
                    objects::ServerQueue::Joinable(
                        procshare_queue::JoinableQueue::new(n).map_err(objects::queue_error)?,
                    )
                };
                Object::Queue(Box::new(q))
            }
            "barrier" => {
                let Value::I64(n) = args.one()? else {
                    return Err(crate::wire::type_error("barrier parties must be an int"));
                };
                let n = u32::try_from(n)
                    .map_err(|_| crate::wire::type_error("barrier parties out of range"))?;
                Object::Barrier(Box::new(Barrier::new(n).map_err(objects::sync_error)?))
            }
            custom => {
                let ctor = self.types.get(custom).ok_or_else(|| {
                    RemoteError::new(
                        RemoteKind::UnknownType,
                        format!("no type {custom:?} is registered on this manager"),
                    )
                })?;
                let obj =
                    ctor(args.into_value()).map_err(|m| RemoteError::new(RemoteKind::Method, m))?;
                Object::Custom(Mutex::new(obj))
            }
        };
        let mut reg = lock(&self.registry);
        let id = reg.next_id;
        reg.next_id += 1;
        reg.objects.insert(
            id,
            Entry {
                obj: Arc::new(obj),
                refs: 1,
            },
        );
        *reg.sessions
            .entry(session)
            .or_default()
            .refs
            .entry(id)
            .or_default() += 1;
        Ok(Value::I64(id as i64))
    }

    /// Handle one request. `gone` says whether the client has hung up (for blocking
    /// calls).
    fn handle(
        &self,
        req: RequestRef<'_>,
        cs: &mut ConnState,
        gone: &dyn Fn() -> bool,
    ) -> (Result<Value, RemoteError>, Option<Undo>) {
        let session = match (&req, cs.session) {
            (RequestRef::Hello { session }, None) => {
                self.join_session(*session);
                cs.session = Some(*session);
                return (Ok(Value::None), None);
            }
            (RequestRef::Hello { .. }, Some(_)) => {
                return (Err(bad_request("a second Hello on one connection")), None)
            }
            (_, None) => return (Err(bad_request("the first request must be Hello")), None),
            (_, Some(s)) => s,
        };
        let unpickle = |bytes: &[u8]| {
            unpickle_value(bytes).map_err(|e| bad_request(format!("arguments: {e}")))
        };
        match req {
            RequestRef::Hello { .. } => unreachable!("handled above"),
            RequestRef::Create { typeid, args } => {
                let r = unpickle(args).and_then(|a| self.create(typeid, a, session));
                (r, None)
            }
            RequestRef::Call { id, method, args } => match unpickle(args) {
                Err(e) => (Err(e), None),
                Ok(args) => self.call(id, Args::new(method, args), session, cs, gone),
            },
            RequestRef::Incref { id } => (
                self.incref_all(&[id], Some(session)).map(|_| Value::None),
                None,
            ),
            RequestRef::Decref { id } => {
                (self.decref_session(session, id).map(|_| Value::None), None)
            }
            RequestRef::LiveObjects => (Ok(Value::I64(self.live() as i64)), None),
            RequestRef::Shutdown => (Ok(Value::None), None),
            RequestRef::FastPath => (
                Err(bad_request("FastPath is served by the connection")),
                None,
            ),
            RequestRef::RingRequests => (
                Ok(Value::I64(
                    self.ring_requests
                        .load(Ordering::Relaxed)
                        .min(i64::MAX as u64) as i64,
                )),
                None,
            ),
        }
    }

    fn call(
        &self,
        id: u64,
        args: Args<'_>,
        session: u64,
        cs: &mut ConnState,
        gone: &dyn Fn() -> bool,
    ) -> (Result<Value, RemoteError>, Option<Undo>) {
        let obj = match self.get(id) {
            Ok(o) => o,
            Err(e) => return (Err(e), None),
        };
        hook::point(Point::Store);
        if let Object::Data(data) = &*obj {
            return (self.call_data(data, args, session), None);
        }
        let method = args.method_name().to_owned();
        let method = method.as_str();
        match &*obj {
            Object::Custom(c) => {
                let r = objects::call_custom(&mut **lock(c), method, args);
                (r, None)
            }
            Object::Queue(q) => (self.call_queue(q, method, args, session, gone), None),
            _ => self.call_sync(id, &obj, method, args, cs, gone),
        }
    }

    fn call_data(
        &self,
        data: &Mutex<Data>,
        args: Args<'_>,
        session: u64,
    ) -> Result<Value, RemoteError> {
        let outcome = {
            let mut d = lock(data);
            // Reference the proxies about to be stored (all or none), then apply.
            let mut stored = Vec::new();
            for v in objects::stored_values(&d, args.method_name(), args.items()) {
                proxies_in(v, &mut stored);
            }
            self.incref_all(&stored, None)?;
            let outcome = match objects::call_data(&mut d, args) {
                Ok(o) => o,
                Err(e) => {
                    drop(d);
                    self.decref_all(stored);
                    return Err(e);
                }
            };
            // Proxies in the result become the session's, before anyone can free them.
            let mut returned = Vec::new();
            proxies_in(&outcome.result, &mut returned);
            if let Err(e) = self.incref_all(&returned, Some(session)) {
                // Cannot happen (the container holds them), but never leave a hole.
                drop(d);
                self.decref_all(stored);
                return Err(e);
            }
            outcome
        };
        let mut displaced = Vec::new();
        outcome
            .displaced
            .iter()
            .for_each(|v| proxies_in(v, &mut displaced));
        self.decref_all(displaced);
        Ok(outcome.result)
    }

    /// A queue call. Items are stored pickled; the proxies inside an item are the queue's
    /// references while it is queued and become the taker's session's when it is taken.
    fn call_queue(
        &self,
        q: &objects::ServerQueue,
        method: &str,
        args: Args<'_>,
        session: u64,
        gone: &dyn Fn() -> bool,
    ) -> Result<Value, RemoteError> {
        use objects::{queue_error, sliced, timeout};
        use procshare_queue::QueueError;
        let ring = q.ring();
        let put = |item: Value, t: Option<Option<std::time::Duration>>| {
            let mut ids = Vec::new();
            proxies_in(&item, &mut ids);
            self.incref_all(&ids, None)?;
            let bytes = pickle_value(&item);
            let r = match t {
                None => match ring.try_put_bytes(&bytes) {
                    Ok(()) => Ok(true),
                    Err(QueueError::Full) => Ok(false),
                    Err(e) => Err(queue_error(e)),
                },
                Some(t) => sliced(t, gone, |s| match ring.put_bytes_timeout(&bytes, s) {
                    Ok(()) => Ok(true),
                    Err(QueueError::Full) => Ok(false),
                    Err(e) => Err(queue_error(e)),
                }),
            };
            match r {
                Ok(true) => Ok(Value::None),
                Ok(false) => {
                    self.decref_all(ids);
                    Err(queue_error(QueueError::Full))
                }
                Err(e) => {
                    self.decref_all(ids);
                    Err(e)
                }
            }
        };
        let get = |t: Option<Option<std::time::Duration>>| {
            let mut buf = Vec::new();
            let got = match t {
                None => ring
                    .try_get_bytes_into(&mut buf)
                    .map(|_| true)
                    .map_err(queue_error)?,
                Some(t) => sliced(t, gone, |s| {
                    match ring.get_bytes_into_timeout(&mut buf, s) {
                        Ok(_) => Ok(true),
                        Err(QueueError::Empty) => Ok(false),
                        Err(e) => Err(queue_error(e)),
                    }
                })?,
            };
            if !got {
                return Err(queue_error(QueueError::Empty));
            }
            let item = unpickle_value(&buf)
                .map_err(|e| bad_request(format!("a queued item does not decode: {e}")))?;
            // The queue's references become the taker's.
            let mut ids = Vec::new();
            proxies_in(&item, &mut ids);
            self.incref_all(&ids, Some(session))?;
            self.decref_all(ids);
            Ok(item)
        };
        let joinable = match q {
            objects::ServerQueue::Joinable(j) => Some(j),
            objects::ServerQueue::Plain(_) => None,
        };
        match (method, joinable) {
            ("put", _) => {
                let (item, t) = args.two()?;
                put(item, Some(timeout(t)?))
            }
            ("try_put", _) => put(args.one()?, None),
            ("get", _) => get(Some(timeout(args.one()?)?)),
            ("try_get", _) => {
                args.take(0)?;
                get(None)
            }
            ("qsize", _) => {
                args.take(0)?;
                Ok(Value::I64(ring.len() as i64))
            }
            ("is_empty", _) => {
                args.take(0)?;
                Ok(Value::Bool(ring.is_empty()))
            }
            ("is_full", _) => {
                args.take(0)?;
                Ok(Value::Bool(ring.is_full()))
            }
            ("task_done", Some(j)) => {
                args.take(0)?;
                j.task_done().map_err(queue_error)?;
                Ok(Value::None)
            }
            ("join", Some(j)) => {
                let t = timeout(args.one()?)?;
                let done = sliced(t, gone, |s| Ok(j.join_timeout(s)))?;
                Ok(Value::Bool(done))
            }
            ("unfinished_tasks", Some(j)) => {
                args.take(0)?;
                Ok(Value::I64(j.unfinished_tasks() as i64))
            }
            _ => Err(RemoteError::new(
                RemoteKind::NotExposed,
                format!("method {method:?} is not exposed by this queue"),
            )),
        }
    }

    fn call_sync(
        &self,
        id: u64,
        obj: &Arc<Object>,
        method: &str,
        args: Args<'_>,
        cs: &mut ConnState,
        gone: &dyn Fn() -> bool,
    ) -> (Result<Value, RemoteError>, Option<Undo>) {
        let r = sync_call(id, obj, method, args, cs, gone);
        match r {
            Ok((v, undo)) => (Ok(v), undo),
            Err(e) => (Err(e), None),
        }
    }

    /// May this connection move onto rings now?
    fn fast_path_allowed(
        &self,
        carrier: &Carrier<'_>,
        fd: RawFd,
        cs: &ConnState,
    ) -> Result<Value, RemoteError> {
        match carrier {
            Carrier::Rings(_) => Err(bad_request("this connection is on the fast path already")),
            Carrier::Socket(_) if cs.session.is_none() => {
                Err(bad_request("the first request must be Hello"))
            }
            Carrier::Socket(_) if !is_unix_socket(fd) => Err(bad_request(
                "the fast path needs a Unix socket (a client on this machine)",
            )),
            Carrier::Socket(link) if link.buffered() > 0 => Err(bad_request(
                "nothing may follow a FastPath request before its reply",
            )),
            Carrier::Socket(_) => Ok(Value::None),
        }
    }

    /// Serve requests from `carrier` until the client goes (or asks for the fast path,
    /// on the socket).
    fn serve_requests(
        self: &Arc<Self>,
        carrier: Carrier<'_>,
        fd: RawFd,
        cs: &mut ConnState,
        gone: &dyn Fn() -> bool,
    ) -> Exit {
        let stop = || self.stop.load(Ordering::Acquire);
        // Kept from request to request: the rings' request buffer, the pickled result and
        // the encoded reply (the steady state allocates none of them).
        let (mut inbuf, mut pickled, mut reply) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            let frame = match carrier {
                Carrier::Socket(conn) => match conn.recv_frame() {
                    Ok(f) => f,
                    Err(ConnError::TooLarge { len, max }) => {
                        let e = RemoteError::new(
                            RemoteKind::TooLarge,
                            format!("request of {len} bytes is over the limit of {max}"),
                        );
                        let _ = conn.send_frame(&encode_reply(&Reply::Err(e)));
                        return Exit::Closed;
                    }
                    Err(_) => return Exit::Closed,
                },
                Carrier::Rings(rings) => match rings.recv(&mut inbuf, self.max_request, &stop) {
                    Ok(true) => {
                        self.ring_requests.fetch_add(1, Ordering::Relaxed);
                        std::mem::take(&mut inbuf)
                    }
                    Ok(false) => return Exit::Closed,
                    Err(e) => {
                        // A message over the limit (read and dropped whole) or a bad
                        // chunk tag: the rings still frame messages, so keep serving.
                        if !rings.send(&encode_reply(&Reply::Err(e)), &stop) {
                            return Exit::Closed;
                        }
                        continue;
                    }
                },
            };
            let (result, undo, shutdown, fast) = match decode_request(&frame) {
                Err(e) => (Err(e), None, false, false),
                Ok(RequestRef::FastPath) => {
                    let r = self.fast_path_allowed(&carrier, fd, cs);
                    let fast = r.is_ok();
                    (r, None, false, fast)
                }
                Ok(req) => {
                    let shutdown = matches!(req, RequestRef::Shutdown) && cs.session.is_some();
                    let (r, u) = self.handle(req, cs, gone);
                    (r, u, shutdown, false)
                }
            };
            inbuf = frame;
            match result {
                Ok(v) => encode_ok_reply_into(&v, &mut pickled, &mut reply),
                Err(e) => reply = encode_reply(&Reply::Err(e)),
            }
            let delivered = match carrier {
                Carrier::Socket(conn) => conn.send_frame(&reply).is_ok(),
                Carrier::Rings(rings) => rings.send(&reply, &stop),
            };
            // Kept only while small: one large request or reply must not pin its size in
            // every connection that once carried one.
            for buf in [&mut inbuf, &mut pickled, &mut reply] {
                if buf.capacity() > KEEP_OUT {
                    *buf = Vec::new();
                }
            }
            if !delivered {
                // The client is gone before it learnt the result: an acquisition it
                // never heard of is given back.
                match undo {
                    Some(Undo::Lock(o)) => {
                        if let Object::Lock(l) = &*o {
                            let _ = l.release();
                        }
                    }
                    Some(Undo::Semaphore(o)) => {
                        if let Object::Semaphore(s) = &*o {
                            let _ = s.release();
                        }
                    }
                    None => {}
                }
                return Exit::Closed;
            }
            if fast {
                return Exit::FastPath;
            }
            if shutdown {
                match self.on_shutdown {
                    // SAFETY: ends the forked server process at once; nothing of it needs
                    // to run on the way out (its objects die with it).
                    OnShutdown::Exit => unsafe { libc::_exit(0) },
                    OnShutdown::Stop => {
                        self.stop_all();
                        return Exit::Closed;
                    }
                }
            }
        }
    }

    /// Serve one accepted, not yet authenticated connection until it closes; `slot` is
    /// its place among the handshakes, given back when the handshake ends.
    fn serve_connection(self: &Arc<Self>, conn: Connection, auth: &Auth, slot: HandshakeSlot) {
        let refused = self.stop.load(Ordering::Acquire) || auth.serve(&conn).is_err();
        drop(slot);
        if refused {
            return; // Dropped before any request was read.
        }
        let Some(fd) = conn.into_fd() else {
            return;
        };
        let conn = Link::new(fd, self.max_request);
        let no = self.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(no, conn.as_raw_fd());
        let mut cs = ConnState::default();
        let fd = conn.as_raw_fd();
        let gone = move || peer_closed(fd);
        let mut exit = self.serve_requests(Carrier::Socket(&conn), fd, &mut cs, &gone);
        while exit == Exit::FastPath {
            // The client sends its region now (see `fastpath`'s hand-over table).
            match ServerRings::accept(fd) {
                Ok(rings) => {
                    let ok = encode_reply(&Reply::Ok(pickle_value(&Value::None)));
                    if conn.send_frame(&ok).is_err() {
                        break;
                    }
                    exit = self.serve_requests(Carrier::Rings(&rings), fd, &mut cs, &gone);
                }
                Err(why) => {
                    let e = bad_request(format!("the fast path is refused: {why}"));
                    if conn.send_frame(&encode_reply(&Reply::Err(e))).is_err() {
                        break;
                    }
                    exit = self.serve_requests(Carrier::Socket(&conn), fd, &mut cs, &gone);
                }
            }
        }
        // This thread owns the RLocks it acquired for the client: give them back.
        for (_, (obj, depth)) in cs.held.drain() {
            for _ in 0..depth {
                let _ = match &*obj {
                    Object::RLock(l) => l.release(),
                    Object::Condition(c) => c.release(),
                    _ => Ok(()),
                };
            }
        }
        lock(&self.conns).remove(&no);
        if let Some(s) = cs.session {
            self.leave_session(s);
        }
        drop(conn);
    }

    /// Stop: no new connections, every open one shut down.
    pub(crate) fn stop_all(&self) {
        self.stop.store(true, Ordering::Release);
        for &fd in lock(&self.conns).values() {
            // SAFETY: shutdown(2) on a descriptor that is open: connection threads remove
            // their entry (under this lock) before closing it.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    /// Accept clients until stopped, a thread each.
    pub(crate) fn accept_loop(self: &Arc<Self>, listener: &Listener) {
        let auth = Arc::new(listener.auth().clone());
        while !self.stop.load(Ordering::Acquire) {
            let conn = match listener.accept_unauthenticated() {
                Ok(c) => c,
                Err(_) => {
                    // Out of descriptors, or a peer that reset before accept: try again
                    // shortly; never spin.
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
            };
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let Some(slot) = HandshakeSlot::take(self) else {
                drop(conn); // Too many handshakes under way: closed before any byte.
                continue;
            };
            let state = self.clone();
            let auth = auth.clone();
            let spawned = std::thread::Builder::new()
                .name("manager-conn".into())
                .spawn(move || state.serve_connection(conn, &auth, slot));
            // Out of threads: that client is refused (its connection dropped), others
            // keep being served.
            drop(spawned);
        }
    }
}

/// The request in `frame`, which must hold exactly one envelope.
fn decode_request(frame: &[u8]) -> Result<RequestRef<'_>, RemoteError> {
    match postcard::take_from_bytes::<RequestRef<'_>>(frame) {
        Ok((req, [])) => Ok(req),
        Ok((_, rest)) => Err(bad_request(format!(
            "{} bytes after the request",
            rest.len()
        ))),
        Err(e) => Err(bad_request(format!("undecodable request: {e}"))),
    }
}

fn as_bool(v: bool) -> Value {
    Value::Bool(v)
}

/// A call on a synchronisation object, on this connection's thread.
fn sync_call(
    id: u64,
    obj: &Arc<Object>,
    method: &str,
    args: Args<'_>,
    cs: &mut ConnState,
    gone: &dyn Fn() -> bool,
) -> Result<(Value, Option<Undo>), RemoteError> {
    use objects::{sliced, sync_error, timeout};
    let not_exposed = || {
        RemoteError::new(
            RemoteKind::NotExposed,
            format!("method {method:?} is not exposed by this object"),
        )
    };
    let none = Ok((Value::None, None));
    match &**obj {
        Object::Lock(l) => match method {
            "acquire" => {
                let t = timeout(args.one()?)?;
                let got = sliced(t, gone, |s| l.acquire_timeout(s).map_err(sync_error))?;
                Ok((as_bool(got), got.then(|| Undo::Lock(obj.clone()))))
            }
            "try_acquire" => {
                args.take(0)?;
                let got = l.try_acquire().map_err(sync_error)?;
                Ok((as_bool(got), got.then(|| Undo::Lock(obj.clone()))))
            }
            "release" => {
                args.take(0)?;
                l.release().map_err(sync_error)?;
                none
            }
            "is_locked" => {
                args.take(0)?;
                Ok((as_bool(l.is_locked()), None))
            }
            _ => Err(not_exposed()),
        },
        Object::RLock(_) | Object::Condition(_)
            if matches!(method, "acquire" | "try_acquire" | "release") =>
        {
            let acquire = |t: Option<std::time::Duration>| -> Result<bool, RemoteError> {
                match &**obj {
                    Object::RLock(l) => {
                        sliced(t, gone, |s| l.acquire_timeout(s).map_err(sync_error))
                    }
                    Object::Condition(c) => {
                        sliced(t, gone, |s| c.lock().acquire_timeout(s).map_err(sync_error))
                    }
                    _ => unreachable!(),
                }
            };
            match method {
                "acquire" | "try_acquire" => {
                    let t = if method == "acquire" {
                        timeout(args.one()?)?
                    } else {
                        args.take(0)?;
                        Some(std::time::Duration::ZERO)
                    };
                    let got = acquire(t)?;
                    if got {
                        cs.held.entry(id).or_insert_with(|| (obj.clone(), 0)).1 += 1;
                    }
                    Ok((as_bool(got), None))
                }
                _ => {
                    args.take(0)?;
                    match &**obj {
                        Object::RLock(l) => l.release(),
                        Object::Condition(c) => c.release(),
                        _ => unreachable!(),
                    }
                    .map_err(sync_error)?;
                    if let Some(e) = cs.held.get_mut(&id) {
                        e.1 -= 1;
                        if e.1 == 0 {
                            cs.held.remove(&id);
                        }
                    }
                    none
                }
            }
        }
        Object::RLock(_) => Err(not_exposed()),
        Object::Condition(c) => match method {
            "wait" => {
                let t = timeout(args.one()?)?;
                // Each slice releases and retakes the lock; a notify needs the lock, so
                // none can slip between two slices.
                let woke = sliced(t, gone, |s| c.wait(Some(s)).map_err(sync_error))?;
                Ok((as_bool(woke), None))
            }
            "notify" => {
                let Value::I64(n) = args.one()? else {
                    return Err(crate::wire::type_error("notify(n) takes an int"));
                };
                let n = c.notify(n.max(0) as usize).map_err(sync_error)?;
                Ok((Value::I64(n as i64), None))
            }
            "notify_all" => {
                args.take(0)?;
                let n = c.notify_all().map_err(sync_error)?;
                Ok((Value::I64(n as i64), None))
            }
            _ => Err(not_exposed()),
        },
        Object::Semaphore(sem) => match method {
            "acquire" => {
                let t = timeout(args.one()?)?;
                let got = sliced(t, gone, |s| Ok(sem.acquire_timeout(s)))?;
                Ok((as_bool(got), got.then(|| Undo::Semaphore(obj.clone()))))
            }
            "try_acquire" => {
                args.take(0)?;
                let got = sem.try_acquire();
                Ok((as_bool(got), got.then(|| Undo::Semaphore(obj.clone()))))
            }
            "release" => {
                args.take(0)?;
                sem.release().map_err(sync_error)?;
                none
            }
            "value" => {
                args.take(0)?;
                Ok((Value::I64(sem.value() as i64), None))
            }
            _ => Err(not_exposed()),
        },
        Object::Event(e) => match method {
            "set" => {
                args.take(0)?;
                e.set();
                none
            }
            "clear" => {
                args.take(0)?;
                e.clear();
                none
            }
            "is_set" => {
                args.take(0)?;
                Ok((as_bool(e.is_set()), None))
            }
            "wait" => {
                let t = timeout(args.one()?)?;
                let set = sliced(t, gone, |s| Ok(e.wait(Some(s))))?;
                Ok((as_bool(set), None))
            }
            _ => Err(not_exposed()),
        },
        Object::Barrier(b) => match method {
            "wait" => {
                // Not sliced: a timeout breaks a barrier.
                let i = match timeout(args.one()?)? {
                    None => b.wait(),
                    Some(t) => b.wait_timeout(t),
                }
                .map_err(sync_error)?;
                Ok((Value::I64(i as i64), None))
            }
            "reset" => {
                args.take(0)?;
                b.reset().map_err(sync_error)?;
                none
            }
            "abort" => {
                args.take(0)?;
                b.abort().map_err(sync_error)?;
                none
            }
            "parties" => {
                args.take(0)?;
                Ok((Value::I64(b.parties() as i64), None))
            }
            "n_waiting" => {
                args.take(0)?;
                Ok((Value::I64(b.n_waiting() as i64), None))
            }
            "is_broken" => {
                args.take(0)?;
                Ok((as_bool(b.is_broken()), None))
            }
            _ => Err(not_exposed()),
        },
        Object::Data(_) | Object::Custom(_) | Object::Queue(_) => {
            unreachable!("not a sync object")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_slots_are_capped_and_given_back() {
        let state = Arc::new(State::new(HashMap::new(), OnShutdown::Stop));
        let slots: Vec<_> = (0..MAX_UNAUTHENTICATED)
            .map(|_| HandshakeSlot::take(&state).expect("under the cap"))
            .collect();
        assert!(HandshakeSlot::take(&state).is_none(), "one over the cap");
        assert_eq!(
            state.unauthenticated.load(Ordering::Relaxed),
            MAX_UNAUTHENTICATED,
            "a refused take gives its place back"
        );
        drop(slots);
        assert_eq!(state.unauthenticated.load(Ordering::Relaxed), 0);
        assert!(HandshakeSlot::take(&state).is_some(), "free again");
    }
}
