//! `procshare-manager`: CPython's `multiprocessing.Manager` — a server process that owns
//! shared objects, and typed proxies through which other processes call their methods —
//! without its traps.
//!
//! ```
//! use procshare_manager::Manager;
//! use procshare_shm::Process;
//!
//! let manager = Manager::start()?;                 // forks the server
//! let scores = manager.dict::<String, i64>()?;
//! let hits = manager.value(0i64)?;
//! let mut child = Process::spawn(|| {
//!     scores.insert("ann".into(), 90).unwrap();
//!     hits.fetch_add(1).unwrap();                   // one atomic request
//! })?;
//! assert_eq!(child.join()?, 0);
//! assert_eq!(scores.to_string(), "{'ann': 90}");
//! assert_eq!(hits.get()?, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | module       | what it guarantees                                                      |
//! |--------------|-------------------------------------------------------------------------|
//! | [`manager`]  | `start` forks a server on a 0700 Unix socket with a random key; `shutdown` asks, then SIGTERM, then SIGKILL; `serve`/`connect` over TCP or Unix |
//! | [`mod@proxy`] | typed proxies, cheap to clone; nested proxies stay proxies; after fork a proxy uses the child's own connection |
//! | [`wire`]     | one request, one reply; malformed, oversized or mistyped requests are error replies |
//! | `server`     | a thread per connection, at most [`MAX_UNAUTHENTICATED`] of them in their handshake; references by session, released when a client dies; requests applied whole |
//! | [`custom`]   | user types with an explicit list of exposed methods                     |
//! | [`client`]   | sessions, per-thread connections, the [`Transport`] seam                |
//! | [`fastpath`] | local clients: requests and replies through two shared-memory rings handed over as a sealed memfd (`SCM_RIGHTS`); the socket stays as the liveness channel |
//!
//! What CPython's manager gets wrong and this one does not: a proxy inherited across
//! `fork` never shares its parent's socket (CPython #101320); a proxy stored in a managed
//! container comes back as a proxy, so nested updates are kept; nested proxies are
//! released with their container (#119937, #103136); a counter has an atomic
//! `fetch_add` (`value += 1` through a CPython proxy is two requests); a client that dies
//! releases its references.
//!
//! Tested by the crate's `tests/` (forked clients, hostile frames, a SIGKILLed client)
//! and measured by `benches/manager.rs` at the workspace root.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod client;
pub mod custom;
mod error;
pub mod fastpath;
mod link;
pub mod manager;
mod objects;
pub mod proxy;
mod server;
pub mod wire;

pub use client::{Transport, TransportKind};
pub use custom::{CallError, Exposed};
pub use error::{Error, QueueCode, RemoteError, RemoteKind, Result, SyncCode};
pub use manager::{Builder, Manager, Server, Stopped, STOP_GRACE};
pub use procshare_connection::Address;
pub use proxy::{
    BarrierProxy, ConditionProxy, CustomProxy, DictProxy, EventProxy, JoinableQueueProxy,
    ListProxy, LockProxy, NamespaceProxy, ProxyType, QueueProxy, RLockProxy, SemaphoreProxy,
    ValueProxy,
};
pub use server::MAX_UNAUTHENTICATED;
