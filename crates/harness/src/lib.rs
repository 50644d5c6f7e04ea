//! The procshare harness: what makes procshare a testbed rather than a library.
//!
//! * [`lin`]: a linearizability checker for recorded histories (Wing & Gong's search with
//!   Lowe's memoisation, partitioned per object/key), for histories recorded by the harness
//!   or imported as JSON from other systems.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod lin;
