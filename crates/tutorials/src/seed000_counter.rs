//! Seed 000 (a): ten processes each add 1 to a shared counter under its lock.
//!
//! Python: `Value('i', 0)`, and in each of 10 processes `with counter.get_lock():
//! counter.value += 1`; prints `Counter: 10`. Rust: a `Value<i32>` and
//! `*counter.lock()? += 1`, the guard holding the lock for the whole read-modify-write.

use crate::{child, Error};
use procshare::Value;
use std::io::Write;

/// How many processes increment the counter.
const PROCESSES: usize = 10;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let counter = Value::<i32>::new(0)?;
    let mut children = (0..PROCESSES)
        .map(|_| {
            child::spawn(|_| {
                *counter.lock()? += 1;
                Ok(())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for c in &mut children {
        child::join("increment", c)?;
    }
    writeln!(out, "Counter: {}", counter.load()?)?;
    Ok(())
}
