//! Seed 003 (a): one process adds 1 and another subtracts 1, a million times each, both
//! under the value's lock; the value ends at 0.
//!
//! Python: `Value('i', 0)` and `with shared_value.get_lock(): shared_value.value += 1`
//! (`-= 1` in the other process). (The post calls the processes threads; they are
//! `multiprocessing.Process`es.) Rust: a `Value<i32>` and `*v.lock()? += 1` / `-= 1`.

use crate::{child, Error};
use procshare::Value;
use std::io::Write;

/// How many times each process changes the value.
const TIMES: u32 = 1_000_000;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let shared_value = Value::<i32>::new(0)?;
    let mut increment = child::spawn(|_| {
        for _ in 0..TIMES {
            *shared_value.lock()? += 1;
        }
        Ok(())
    })?;
    let mut decrement = child::spawn(|_| {
        for _ in 0..TIMES {
            *shared_value.lock()? -= 1;
        }
        Ok(())
    })?;
    child::join("increment", &mut increment)?;
    child::join("decrement", &mut decrement)?;
    writeln!(out, "Shared value: {}", shared_value.load()?)?;
    Ok(())
}
