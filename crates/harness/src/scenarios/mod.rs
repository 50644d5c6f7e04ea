//! The built-in scenario catalog. Each scenario is generic over the lock strategy, so any
//! `RawLock` — the built-in ones or a researcher's own — runs the whole catalog. Adding a
//! scenario is adding a file here (or anywhere: the trait is public).

mod counter;

pub use counter::{Increment, LockedCounter};
