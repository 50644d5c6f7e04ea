//! [`Manager`]: start, serve or connect to a manager server, and create objects on it.
//!
//! * [`Manager::start`] forks a server process listening on a Unix socket in a fresh
//!   private directory (`mkdtemp`, mode 0700), with a random 32-byte authkey. The child
//!   closes every socket it inherited before it binds (so it keeps none of its parent's
//!   connections open), reports readiness over a pipe, and never returns into
//!   the caller: it ends with `_exit` (the fork goes through `Process::spawn`).
//! * The server stops by itself when the process that started it dies without shutting
//!   it down (it notices being reparented within 100 ms).
//! * [`Manager::shutdown`] (and drop, in the process that started the server) asks the
//!   server to stop, then sends SIGTERM, then SIGKILL, each after [`STOP_GRACE`], reaps
//!   it and removes the directory.
//! * [`Manager::serve`] runs a server in the calling process on background threads (TCP
//!   on loopback by default, or any [`Address`]), for processes that know only its
//!   address and key; [`Manager::connect`] attaches to any running server.
//!
//! Every connection is authenticated by the Connection's mutual HMAC handshake before the
//! server reads a request from it.

use crate::client::{pid, Core};
use crate::custom::{ctor, Ctor, Exposed};
use crate::error::{Error, Result};
use crate::proxy::ProxyType;
use crate::proxy::{
    decode, BarrierProxy, ConditionProxy, CustomProxy, DictProxy, EventProxy, JoinableQueueProxy,
    ListProxy, LockProxy, NamespaceProxy, ProxyCore, QueueProxy, RLockProxy, SemaphoreProxy,
    ValueProxy,
};
use crate::server::{OnShutdown, State};
use crate::wire::{pickle, Request};
use procshare_connection::{Address, Listener, Pipe};
use procshare_shm::Process;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long `shutdown` waits after each step (request, SIGTERM) before the next.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How often the forked server checks that the process that started it is alive.
const CREATOR_POLL: Duration = Duration::from_millis(100);

/// How long `start` waits for the forked server to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Which step of [`Manager::shutdown`] ended the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// There was no server of this process to stop (a connected manager, one already
    /// shut down, or a copy in a forked child).
    Nothing,
    /// The server exited when asked (the `Shutdown` request).
    Asked,
    /// It did not answer in time and SIGTERM ended it.
    Terminated,
    /// SIGTERM did not end it in time either: SIGKILL did.
    Killed,
}

/// Configures a manager before its server starts (registered custom types) or before a
/// client connects (the local fast path).
pub struct Builder {
    types: HashMap<&'static str, Ctor>,
    fast_path: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            types: HashMap::new(),
            fast_path: true,
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("types", &self.types.keys().collect::<Vec<_>>())
            .field("fast_path", &self.fast_path)
            .finish()
    }
}

impl Builder {
    /// Serve objects of type `T` (created with [`Manager::create`]).
    pub fn register<T: Exposed>(mut self) -> Builder {
        self.types.insert(T::TYPEID, ctor::<T>);
        self
    }

    /// Use the local fast path (on by default): this process's per-thread connections to
    /// a server on this machine (a Unix socket) carry their requests through two
    /// shared-memory rings instead of the socket ([`crate::fastpath`]). `false` keeps
    /// every request on the socket. A TCP client always uses the socket.
    pub fn fast_path(mut self, on: bool) -> Builder {
        self.fast_path = on;
        self
    }

    /// Attach to a running server (see [`Manager::connect`]), with this builder's
    /// fast-path setting.
    pub fn connect(self, address: impl Into<Address>, authkey: &[u8]) -> Result<Manager> {
        let core = Core::new(address.into(), authkey, self.fast_path);
        core.session()?;
        Ok(Manager {
            core,
            authkey: authkey.to_vec(),
            server: None,
            creator: pid(),
        })
    }

    /// Fork the server process and connect to it (see [`Manager::start`]).
    pub fn start(mut self) -> Result<Manager> {
        let dir = private_dir()?;
        let path = dir.join("manager.sock");
        let mut authkey = vec![0u8; 32];
        getrandom::fill(&mut authkey)
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let (reader, writer) = Pipe::simplex()?;
        let types = std::mem::take(&mut self.types);
        let key = authkey.clone();
        let sock = path.clone();
        let mut process = Process::spawn(|| server_child(&sock, &key, &types, &writer))?;
        drop(writer);
        let ready = reader.recv_bytes_timeout(START_TIMEOUT);
        match ready {
            Ok(msg) if msg == b"ready" => {}
            other => {
                let _ = process.kill();
                let _ = process.join();
                let _ = std::fs::remove_dir_all(&dir);
                return Err(Error::Io(std::io::Error::other(match other {
                    Ok(msg) => String::from_utf8_lossy(&msg).into_owned(),
                    Err(e) => format!("the manager process did not start: {e}"),
                })));
            }
        }
        let address = Address::Unix(path);
        Ok(Manager {
            core: Core::new(address, &authkey, self.fast_path),
            authkey,
            server: Some(ServerProcess { process, dir }),
            creator: pid(),
        })
    }

    /// Run a server in this process (see [`Manager::serve`]).
    pub fn serve(self, address: impl Into<Address>, authkey: &[u8]) -> Result<Server> {
        let listener = Listener::bind(address, Some(authkey))?;
        let address = listener.address().clone();
        let state = Arc::new(State::new(self.types, OnShutdown::Stop));
        let s = state.clone();
        let thread = std::thread::Builder::new()
            .name("manager-accept".into())
            .spawn(move || s.accept_loop(&listener))?;
        Ok(Server {
            state,
            address,
            authkey: authkey.to_vec(),
            thread: Some(thread),
        })
    }
}

/// `mkdtemp`: a new directory only we can enter (mode 0700).
fn private_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir().join("procshare-manager-XXXXXX");
    let template = CString::new(base.into_os_string().into_encoded_bytes())
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let mut bytes = template.into_bytes_with_nul();
    // SAFETY: mkdtemp rewrites the XXXXXX of a NUL-terminated buffer we own.
    let p = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
    if p.is_null() {
        return Err(Error::Io(std::io::Error::last_os_error()));
    }
    bytes.pop();
    Ok(PathBuf::from(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Close every socket this process inherited: the server must not keep its parent's
/// connections (to other servers, or another manager's clients) open. Only sockets: other
/// descriptors (the shared heap's memory files, pipes) belong to objects the child may
/// still use, and the child never drops its parent's objects, so no owner closes these
/// sockets again.
fn close_inherited_sockets() {
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => return,
    };
    for fd in fds {
        if fd <= 2 {
            continue;
        }
        // SAFETY: fstat into a zeroed local struct; an fd that is not open is an error.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let is_socket =
            unsafe { libc::fstat(fd, &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
        if is_socket {
            // SAFETY: closing an inherited socket no code of this process uses (see
            // above).
            unsafe { libc::close(fd) };
        }
    }
}

/// The forked server's body: never returns while it serves (a shutdown request ends the
/// process with `_exit`).
fn server_child(
    path: &std::path::Path,
    key: &[u8],
    types: &HashMap<&'static str, Ctor>,
    ready: &procshare_connection::Connection,
) {
    // SAFETY: getppid has no preconditions.
    let creator = unsafe { libc::getppid() };
    close_inherited_sockets();
    // The server lives no longer than the process that started it: once that process is
    // gone (killed without a shutdown), this one is reparented and stops.
    let watchdog = std::thread::Builder::new()
        .name("manager-watchdog".into())
        .spawn(move || loop {
            std::thread::sleep(CREATOR_POLL);
            // SAFETY: getppid has no preconditions.
            if unsafe { libc::getppid() } != creator {
                // SAFETY: ends this server process at once (its objects die with it).
                unsafe { libc::_exit(0) };
            }
        });
    if watchdog.is_err() {
        let _ = ready.send_bytes(b"the manager could not start its watchdog thread");
        return;
    }
    let listener = match Listener::bind(path, Some(key)) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send_bytes(format!("the manager could not listen: {e}").as_bytes());
            return;
        }
    };
    let state = Arc::new(State::new(types.clone(), OnShutdown::Exit));
    if ready.send_bytes(b"ready").is_err() {
        return;
    }
    state.accept_loop(&listener);
}

struct ServerProcess {
    process: Process,
    dir: PathBuf,
}

/// A handle to a manager server: creates shared objects and hands out proxies to them.
///
/// ```
/// use procshare_manager::Manager;
/// use procshare_shm::Process;
///
/// let manager = Manager::start()?;
/// let d = manager.dict::<String, i64>()?;
/// let mut child = Process::spawn(|| {
///     d.insert("a".into(), 10).unwrap();
/// })?;
/// assert_eq!(child.join()?, 0);
/// assert_eq!(d.to_string(), "{'a': 10}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Manager {
    core: Arc<Core>,
    authkey: Vec<u8>,
    server: Option<ServerProcess>,
    creator: u32,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("address", self.core.address())
            .field("server_pid", &self.server_pid())
            .finish()
    }
}

impl Manager {
    /// A builder, to register custom types before starting.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Fork a server process (Unix socket in a private directory, random authkey).
    pub fn start() -> Result<Manager> {
        Builder::default().start()
    }

    /// Run a server in this process on `address` (e.g. `127.0.0.1:0` for any free
    /// loopback port; see [`Server::address`]), authenticating with `authkey`.
    pub fn serve(address: impl Into<Address>, authkey: &[u8]) -> Result<Server> {
        Builder::default().serve(address, authkey)
    }

    /// A TCP server on loopback, any free port.
    pub fn serve_loopback(authkey: &[u8]) -> Result<Server> {
        Manager::serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), authkey)
    }

    /// Attach to a running server. Fails at once if it cannot connect or authenticate.
    /// Over a Unix socket the fast path is on ([`Builder::fast_path`] turns it off).
    pub fn connect(address: impl Into<Address>, authkey: &[u8]) -> Result<Manager> {
        Builder::default().connect(address, authkey)
    }

    /// Which carrier the calling thread's requests take: [`TransportKind::SharedMemory`]
    /// on the local fast path, [`TransportKind::Socket`] otherwise (TCP, the fast path
    /// turned off, or a server that refused it). Connects this thread if needed.
    ///
    /// [`TransportKind::SharedMemory`]: crate::TransportKind::SharedMemory
    /// [`TransportKind::Socket`]: crate::TransportKind::Socket
    pub fn transport(&self) -> Result<crate::TransportKind> {
        self.core.transport()
    }

    /// How many requests the server has served through fast-path rings so far, from
    /// every client (a diagnostic: tests use it to prove the fast path is taken).
    pub fn ring_requests(&self) -> Result<u64> {
        let bytes = self.core.request(&Request::RingRequests)?;
        decode(&self.core, &bytes)
    }

    /// The server's address.
    pub fn address(&self) -> &Address {
        self.core.address()
    }

    /// The authkey clients need.
    pub fn authkey(&self) -> &[u8] {
        &self.authkey
    }

    /// The forked server's pid (managers made by [`Manager::start`] only).
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(|s| s.process.pid())
    }

    /// How many objects the server holds now.
    pub fn live_objects(&self) -> Result<usize> {
        let bytes = self.core.request(&Request::LiveObjects)?;
        decode(&self.core, &bytes)
    }

    /// Stop the forked server: a shutdown request, then SIGTERM, then SIGKILL, each after
    /// [`STOP_GRACE`]; says which step ended it. Nothing ([`Stopped::Nothing`]) for a
    /// connected manager, a second time, or in a process other than the one that started
    /// it (a forked child dropping its copy never stops the server).
    pub fn shutdown(&mut self) -> Result<Stopped> {
        if pid() != self.creator {
            return Ok(Stopped::Nothing);
        }
        let Some(mut server) = self.server.take() else {
            return Ok(Stopped::Nothing);
        };
        let _ = self.core.one_off(&Request::Shutdown, STOP_GRACE);
        let mut step = Stopped::Asked;
        if server.process.join_timeout(STOP_GRACE)?.is_none() {
            step = Stopped::Terminated;
            server.process.terminate()?;
            if server.process.join_timeout(STOP_GRACE)?.is_none() {
                step = Stopped::Killed;
                server.process.kill()?;
                server.process.join()?;
            }
        }
        std::fs::remove_dir_all(&server.dir).map_err(Error::Io)?;
        Ok(step)
    }

    fn make(&self, typeid: &str, args: impl Serialize) -> Result<Arc<ProxyCore>> {
        let args = pickle(&args).map_err(Error::codec)?;
        let bytes = self.core.request(&Request::Create {
            typeid: typeid.to_string(),
            args,
        })?;
        let id: u64 = decode(&self.core, &bytes)?;
        Ok(ProxyCore::new(self.core.clone(), id, typeid))
    }

    /// A proxy to the existing object `id` (as CPython rebuilds a proxy from its token):
    /// for a process that was given only an object's id, e.g. over a pipe. This process
    /// takes a reference of its own first ([`RemoteKind::UnknownObject`] if there is no
    /// such object). The type is the caller's claim: a call the object does not have is
    /// [`RemoteKind::NotExposed`], a reply of another type a codec error.
    ///
    /// [`RemoteKind::UnknownObject`]: crate::RemoteKind::UnknownObject
    /// [`RemoteKind::NotExposed`]: crate::RemoteKind::NotExposed
    pub fn attach<P: ProxyType>(&self, id: u64) -> Result<P> {
        self.core.anchor_request(&Request::Incref { id })?;
        let typeid = P::TYPEIDS.first().copied().unwrap_or("custom");
        Ok(P::from_proxy_core(ProxyCore::new(
            self.core.clone(),
            id,
            typeid,
        )))
    }

    /// A new, empty dict.
    pub fn dict<K, V>(&self) -> Result<DictProxy<K, V>> {
        Ok(DictProxy::from_core(self.make("dict", ())?))
    }

    /// A new, empty list.
    pub fn list<T>(&self) -> Result<ListProxy<T>> {
        Ok(ListProxy::from_core(
            self.make("list", (Vec::<()>::new(),))?,
        ))
    }

    /// A new list holding `items`.
    pub fn list_from<T: Serialize>(&self, items: Vec<T>) -> Result<ListProxy<T>> {
        Ok(ListProxy::from_core(self.make("list", (items,))?))
    }

    /// A new, empty namespace.
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        Ok(NamespaceProxy::from_core(self.make("namespace", ())?))
    }

    /// A new value holding `init`.
    pub fn value<T: Serialize + DeserializeOwned>(&self, init: T) -> Result<ValueProxy<T>> {
        Ok(ValueProxy::from_core(self.make("value", (&init,))?))
    }

    /// A new `Lock`.
    pub fn lock(&self) -> Result<LockProxy> {
        Ok(LockProxy::from_core(self.make("lock", ())?))
    }

    /// A new `RLock`.
    pub fn rlock(&self) -> Result<RLockProxy> {
        Ok(RLockProxy::from_core(self.make("rlock", ())?))
    }

    /// A new `Semaphore` with `value` units.
    pub fn semaphore(&self, value: u32) -> Result<SemaphoreProxy> {
        Ok(SemaphoreProxy::from_core(self.make("semaphore", (value,))?))
    }

    /// A new `BoundedSemaphore` with `value` units (and that bound).
    pub fn bounded_semaphore(&self, value: u32) -> Result<SemaphoreProxy> {
        Ok(SemaphoreProxy::from_core(
            self.make("bounded_semaphore", (value,))?,
        ))
    }

    /// A new `Condition` (with its own `RLock`).
    pub fn condition(&self) -> Result<ConditionProxy> {
        Ok(ConditionProxy::from_core(self.make("condition", ())?))
    }

    /// A new `Event`.
    pub fn event(&self) -> Result<EventProxy> {
        Ok(EventProxy::from_core(self.make("event", ())?))
    }

    /// A new `Queue` of at most `maxsize` items (0: bounded only by its bytes).
    pub fn queue<T>(&self, maxsize: usize) -> Result<QueueProxy<T>> {
        Ok(QueueProxy::from_core(self.make("queue", (maxsize,))?))
    }

    /// A new `JoinableQueue` of at most `maxsize` items (0: bounded only by its bytes).
    pub fn joinable_queue<T>(&self, maxsize: usize) -> Result<JoinableQueueProxy<T>> {
        Ok(JoinableQueueProxy::from_core(
            self.make("joinable_queue", (maxsize,))?,
        ))
    }

    /// A new `Barrier` for `parties` parties.
    pub fn barrier(&self, parties: u32) -> Result<BarrierProxy> {
        Ok(BarrierProxy::from_core(self.make("barrier", (parties,))?))
    }

    /// A new object of the registered custom type `T`, built from the constructor
    /// arguments `args` (a tuple).
    pub fn create<T: Exposed>(&self, args: impl Serialize) -> Result<CustomProxy> {
        self.create_named(T::TYPEID, args)
    }

    /// A new object of the custom type registered as `typeid` (for clients that do not
    /// have the type's code).
    pub fn create_named(&self, typeid: &str, args: impl Serialize) -> Result<CustomProxy> {
        Ok(CustomProxy::from_core(self.make(typeid, args)?))
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// A manager server running inside this process (see [`Manager::serve`]).
pub struct Server {
    state: Arc<State>,
    address: Address,
    authkey: Vec<u8>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.address)
            .finish()
    }
}

impl Server {
    /// Where clients connect (with the real port when bound to port 0).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// How many objects it holds now.
    pub fn live_objects(&self) -> usize {
        self.state.live()
    }

    /// A client of this server, in this process.
    pub fn manager(&self) -> Result<Manager> {
        Manager::connect(self.address.clone(), &self.authkey)
    }

    /// Stop: no new connections, every open one closed, the accept thread joined.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.state.stop_all();
        if let Some(thread) = self.thread.take() {
            // Wake the accept loop with a connection it will drop unread.
            let _ = procshare_connection::Client::new(self.address.clone()).connect();
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
