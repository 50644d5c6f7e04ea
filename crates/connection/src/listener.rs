//! [`Listener`] and [`Client`]: CPython's `multiprocessing.connection.Listener` and
//! `Client`, over Unix sockets (filesystem paths and Linux abstract names) and TCP, with an
//! optional authkey.
//!
//! * Wire-compatible with CPython: frames from [`frame`](crate::frame), the handshake from
//!   [`handshake`]; the server challenges first, then the client
//!   (mutual authentication). As in CPython, an empty authkey means no authentication.
//! * `accept` returns a connection only after both directions of the handshake passed; a
//!   failed handshake (wrong key, hostile or oversized messages, a peer that stalls past
//!   the handshake timeout) is an error for that peer only, and the listener keeps
//!   accepting others.
//! * Binding a path that exists is [`Error::AddrInUse`], never a silent replacement;
//!   [`remove_stale_socket`] removes a socket file only after proving nobody listens on
//!   it (a connect gets `ECONNREFUSED`). A listener unlinks the path it created when it is
//!   dropped (CPython does the same on `close`).
//!
//! Tested by `tests/listener.rs` (both families, keys, stale sockets, hostile peers) and
//! `tests/python.rs` (a real python3 on either side).

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::handshake::{self, DigestPolicy};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{SocketAddr as UnixSocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where a [`Listener`] listens and a [`Client`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A Unix socket at a filesystem path (CPython's `AF_UNIX` with a path).
    Unix(PathBuf),
    /// A Linux abstract Unix socket name (CPython: a string starting with `\0`); the
    /// name here excludes the leading NUL.
    Abstract(Vec<u8>),
    /// A TCP address (CPython's `AF_INET` tuple).
    Tcp(SocketAddr),
}

impl Address {
    /// Parse CPython's string forms: a leading `\0` is an abstract name, a string that
    /// parses as `host:port` (IP literal) is TCP, anything else is a path.
    pub fn parse(s: &str) -> Address {
        if let Some(name) = s.strip_prefix('\0') {
            Address::Abstract(name.as_bytes().to_vec())
        } else if let Ok(addr) = s.parse::<SocketAddr>() {
            Address::Tcp(addr)
        } else {
            Address::Unix(PathBuf::from(s))
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Abstract(n) => write!(f, "\\0{}", String::from_utf8_lossy(n)),
            Address::Tcp(a) => write!(f, "{a}"),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Address {
        Address::Tcp(a)
    }
}

impl From<&Path> for Address {
    fn from(p: &Path) -> Address {
        Address::Unix(p.to_path_buf())
    }
}

impl From<PathBuf> for Address {
    fn from(p: PathBuf) -> Address {
        Address::Unix(p)
    }
}

/// Authentication settings shared by [`Listener`] and [`Client`].
#[derive(Clone)]
pub struct Auth {
    /// The shared secret; `None` or empty: no handshake (as CPython).
    pub key: Option<Vec<u8>>,
    /// Which handshake forms are accepted (default: CPython 3.12's).
    pub policy: DigestPolicy,
    /// Longest time a whole handshake may take (default 20 s; `None`: no limit). A peer
    /// that stalls is dropped with [`Error::Timeout`] instead of blocking the listener.
    pub timeout: Option<Duration>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for Auth {
    fn default() -> Auth {
        Auth {
            key: None,
            policy: DigestPolicy::default(),
            timeout: Some(Duration::from_secs(20)),
        }
    }
}

impl Auth {
    /// Authenticate with `key` (CPython's `authkey`), the default policy and timeout.
    pub fn key(key: &[u8]) -> Auth {
        Auth {
            key: Some(key.to_vec()),
            ..Auth::default()
        }
    }

    /// The same, with another digest policy.
    pub fn policy(mut self, policy: DigestPolicy) -> Auth {
        self.policy = policy;
        self
    }

    /// Run the serving side of the handshake on `conn` (nothing if no key is set), as
    /// [`Listener::accept`] does: for servers that accept with
    /// [`Listener::accept_unauthenticated`] and authenticate on another thread, so that a
    /// peer stalling in the handshake never delays the next `accept`.
    pub fn serve(&self, conn: &Connection) -> Result<()> {
        if let Some(key) = self.active_key() {
            handshake::serve(conn, key, self.policy, self.deadline())?;
        }
        Ok(())
    }

    fn active_key(&self) -> Option<&[u8]> {
        self.key.as_deref().filter(|k| !k.is_empty())
    }

    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }
}

enum Socket {
    Unix {
        listener: UnixListener,
        /// The path we created, unlinked on drop.
        path: Option<PathBuf>,
    },
    Tcp(TcpListener),
}

/// A bound, listening socket that accepts authenticated [`Connection`]s.
pub struct Listener {
    socket: Socket,
    address: Address,
    auth: Auth,
    max_message: u64,
    last_accepted: std::cell::RefCell<Option<String>>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("address", &self.address)
            .field("auth", &self.auth)
            .finish()
    }
}

fn bind_error(address: &Address, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::AddrInUse {
        Error::AddrInUse {
            address: address.to_string(),
        }
    } else {
        Error::Io(e)
    }
}

impl Listener {
    /// Bind and listen on `address` (TCP port 0: any free port, see
    /// [`address`](Listener::address)), authenticating clients with `key` if given.
    pub fn bind(address: impl Into<Address>, key: Option<&[u8]>) -> Result<Listener> {
        let auth = match key {
            Some(k) => Auth::key(k),
            None => Auth::default(),
        };
        Listener::bind_with(address, auth)
    }

    /// Bind with explicit authentication settings.
    pub fn bind_with(address: impl Into<Address>, auth: Auth) -> Result<Listener> {
        let address = address.into();
        let (socket, address) = match &address {
            Address::Unix(path) => {
                let listener = UnixListener::bind(path).map_err(|e| bind_error(&address, e))?;
                (
                    Socket::Unix {
                        listener,
                        path: Some(path.clone()),
                    },
                    address,
                )
            }
            Address::Abstract(name) => {
                let addr = UnixSocketAddr::from_abstract_name(name)?;
                let listener =
                    UnixListener::bind_addr(&addr).map_err(|e| bind_error(&address, e))?;
                (
                    Socket::Unix {
                        listener,
                        path: None,
                    },
                    address,
                )
            }
            Address::Tcp(addr) => {
                let listener = TcpListener::bind(addr).map_err(|e| bind_error(&address, e))?;
                let local = listener.local_addr()?;
                (Socket::Tcp(listener), Address::Tcp(local))
            }
        };
        Ok(Listener {
            socket,
            address,
            auth,
            max_message: crate::frame::DEFAULT_MAX_MESSAGE,
            last_accepted: Default::default(),
        })
    }

    /// The address clients connect to (with the real port for a TCP port 0).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The peer address of the last accepted connection, as displayed (CPython's
    /// `last_accepted`).
    pub fn last_accepted(&self) -> Option<String> {
        self.last_accepted.borrow().clone()
    }

    /// The receive limit given to accepted connections (default 1 GiB).
    pub fn set_max_message(&mut self, max: u64) {
        self.max_message = max;
    }

    /// The authentication settings clients must pass.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Accept one client and authenticate it (if a key is set). An error concerns that
    /// client only: call `accept` again for the next one.
    pub fn accept(&self) -> Result<Connection> {
        let conn = self.accept_unauthenticated()?;
        self.auth.serve(&conn)?;
        Ok(conn)
    }

    /// Accept one client **without** authenticating it: the caller must run
    /// [`Auth::serve`] (with [`Listener::auth`]) on the connection before reading
    /// anything else from it.
    pub fn accept_unauthenticated(&self) -> Result<Connection> {
        let (fd, peer): (OwnedFd, String) = match &self.socket {
            Socket::Unix { listener, .. } => {
                let (s, a) = listener.accept()?;
                (s.into(), format!("{a:?}"))
            }
            Socket::Tcp(l) => {
                let (s, a) = l.accept()?;
                s.set_nodelay(true)?;
                (s.into(), a.to_string())
            }
        };
        *self.last_accepted.borrow_mut() = Some(peer);
        let mut conn = Connection::from_socket(fd);
        conn.set_max_message(self.max_message);
        Ok(conn)
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match &self.socket {
            Socket::Unix { listener, .. } => listener.as_raw_fd(),
            Socket::Tcp(l) => l.as_raw_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Socket::Unix {
            path: Some(path), ..
        } = &self.socket
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Connects to a [`Listener`] (CPython's `Client(address, authkey=...)`).
#[derive(Debug, Clone)]
pub struct Client {
    address: Address,
    auth: Auth,
}

impl Client {
    /// A client of `address`, without authentication until [`auth`](Client::auth).
    pub fn new(address: impl Into<Address>) -> Client {
        Client {
            address: address.into(),
            auth: Auth::default(),
        }
    }

    /// Authenticate with these settings.
    pub fn auth(mut self, auth: Auth) -> Client {
        self.auth = auth;
        self
    }

    /// Connect and, if a key is set, run the client side of the handshake.
    pub fn connect(&self) -> Result<Connection> {
        let fd: OwnedFd = match &self.address {
            Address::Unix(path) => UnixStream::connect(path)?.into(),
            Address::Abstract(name) => {
                UnixStream::connect_addr(&UnixSocketAddr::from_abstract_name(name)?)?.into()
            }
            Address::Tcp(addr) => {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                s.into()
            }
        };
        let conn = Connection::from_socket(fd);
        if let Some(key) = self.auth.active_key() {
            handshake::client(&conn, key, self.auth.policy, self.auth.deadline())?;
        }
        Ok(conn)
    }
}

/// CPython's `Client(address, authkey=key)`.
pub fn connect(address: impl Into<Address>, key: Option<&[u8]>) -> Result<Connection> {
    let auth = key.map_or_else(Auth::default, Auth::key);
    Client::new(address).auth(auth).connect()
}

/// Remove the socket file at `path` if it is stale: it is a socket and a connect to it
/// is refused (`ECONNREFUSED`: no listener). Returns whether it was removed; `Ok(false)`
/// when nothing is there. A live listener is [`Error::AddrInUse`]; a path that is not a
/// socket is left alone ([`Error::Io`]).
pub fn remove_stale_socket(path: &Path) -> Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if !meta.file_type().is_socket() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a socket", path.display()),
        )));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(Error::AddrInUse {
            address: path.display().to_string(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path)?;
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
}
