//! `procshare-connection`: CPython's `multiprocessing.connection` — [`Pipe`],
//! [`Connection`], [`wait()`], [`Listener`] and [`Client`] — rebuilt for real OS processes
//! and wire-compatible with python3, so a Rust process and a Python process can talk.
//!
//! | module         | what it guarantees                                                       |
//! |----------------|--------------------------------------------------------------------------|
//! | [`frame`]      | the wire format (4-byte prefix, CPython's 8-byte extension); bounded, resumable reads |
//! | [`connection`] | message boundaries; `Eof` vs `Truncated`; `poll` never reads; timeouts keep partial frames |
//! | [`codec`]      | [`Postcard`] for Rust peers, [`Pickle`] for python3 peers                |
//! | [`wait`](mod@wait) | readiness of any mix of pipe ends, sockets and listeners, nothing read |
//! | [`handshake`]  | CPython's challenge/response, legacy MD5 and `{sha256}` forms, no downgrade under `ModernOnly` |
//! | [`listener`]   | Unix (path, abstract) and TCP listeners/clients; stale sockets detected  |
//! | [`pickle_guard`] | a hostile pickle cannot nest past 256 levels or expand through memo references before it is decoded |
//! | [`plain_pickle`] | plain-data pickles decoded directly, always to the value `serde-pickle` gives; the rest left to the guard and `serde-pickle` |
//!
//! ```
//! use procshare_connection::Pipe;
//!
//! let (a, b) = Pipe::duplex()?;
//! a.send_bytes(b"hello")?;
//! a.send(&(1u8, "two"))?;
//! assert_eq!(b.recv_bytes()?, b"hello");
//! assert_eq!(b.recv::<(u8, String)>()?, (1, "two".to_string()));
//! # Ok::<(), procshare_connection::Error>(())
//! ```
//!
//! Library code never panics on what a peer sends: every failure is an [`Error`].
#![deny(unsafe_op_in_unsafe_fn)]

pub mod codec;
pub mod connection;
mod error;
pub mod frame;
pub mod handshake;
pub mod listener;
pub mod pickle_guard;
pub mod plain_pickle;
mod sys;
pub mod wait;

pub use codec::{Codec, Pickle, Postcard};
pub use connection::{pipe, Connection, Pipe};
pub use error::{Error, Result};
pub use handshake::DigestPolicy;
pub use listener::{connect, remove_stale_socket, Address, Auth, Client, Listener};
pub use wait::{wait, wait_indices, Waitable};
