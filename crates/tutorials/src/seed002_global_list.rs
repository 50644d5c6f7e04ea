//! Seed 002 (a): a global list filled in a child stays empty in the parent.
//!
//! Python: a module-level `result = []`; the child appends the squares of
//! `[2, 3, 4, 5, 8, 19]` and prints `inside process: [...]`, the parent then prints
//! `outside process: []`. Rust: a `static` list (process-local memory, copied on fork).

use crate::local_list::LocalList;
use crate::{child, Error};
use std::io::Write;

/// The global list: each process has its own copy after the fork.
static RESULT: LocalList = LocalList::new();

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let numbers = [2i64, 3, 4, 5, 8, 19];
    let mut p = child::spawn(|out| {
        for n in numbers {
            RESULT.push(n * n);
        }
        writeln!(out, "inside process: {:?}", RESULT.to_vec())?;
        Ok(())
    })?;
    child::join_into(out, "calc_square", &mut p)?;
    writeln!(out, "outside process: {:?}", RESULT.to_vec())?;
    Ok(())
}
