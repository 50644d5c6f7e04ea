//! Seed 002 (d): a child puts squares into a `Queue`; the parent prints them on one line.
//!
//! Python: `Queue()`, the child `put`s `n * n` for `[2, 3, 4, 5, 8, 19]`, the parent joins
//! it, then `while not queue.empty(): print(queue.get(), end=' ')`. Rust: `Queue::<i32>`
//! (unbounded by count, like CPython's `Queue()`), `put`, `is_empty` and `get`.
//!
//! The `empty()` loop is right here only because the child was joined first: procshare's
//! `put` returns once the item is in shared memory (there is no feeder thread), so after
//! the join every square is in the queue and `is_empty` is exact. Seed 003's example
//! shows the same loop stopping early when the producer is still running.

use crate::{child, Error};
use procshare::Queue;
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let numbers = [2i32, 3, 4, 5, 8, 19];
    let queue = Queue::<i32>::new(0)?;
    let mut p = child::spawn(|_| {
        for n in numbers {
            queue.put(&(n * n))?;
        }
        Ok(())
    })?;
    child::join_into(out, "calc_square_using_queue", &mut p)?;
    while !queue.is_empty() {
        write!(out, "{} ", queue.get()?)?;
    }
    writeln!(out)?;
    Ok(())
}
