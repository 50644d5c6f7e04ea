//! Seed 004 (d): one process puts squares into a `Queue`; a second, started after the
//! first has finished, prints them until the queue is empty.
//!
//! Python: `p1` `put`s `num * num` for `[1, 2, 3, 4]`; the main program joins it, then
//! starts `p2`, which prints `"Queue elements:"`, `get`s while `not q.empty()`, and prints
//! `"Queue is now empty!"`. Rust: `Queue::<i32>`, two children, the same order of starts
//! and joins.

use crate::{child, Error};
use procshare::Queue;
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let mylist = [1i32, 2, 3, 4];
    let q = Queue::<i32>::new(0)?;
    let mut p1 = child::spawn(|_| {
        for num in mylist {
            q.put(&(num * num))?;
        }
        Ok(())
    })?;
    child::join_into(out, "square_list", &mut p1)?;
    let mut p2 = child::spawn(|out| {
        writeln!(out, "Queue elements:")?;
        while !q.is_empty() {
            writeln!(out, "{}", q.get()?)?;
        }
        writeln!(out, "Queue is now empty!")?;
        Ok(())
    })?;
    child::join_into(out, "print_queue", &mut p2)?;
    Ok(())
}
