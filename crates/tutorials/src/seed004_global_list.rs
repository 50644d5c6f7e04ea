//! Seed 004 (a): a global list filled in process p1 stays empty in the main program.
//!
//! Python: a module-level `result = []`, `square_list([1, 2, 3, 4])` appends the squares
//! in p1 and prints `Result(in process p1): [...]`; the main program then prints
//! `Result(in main program): []`. Rust: a `static` list (process-local, copied on fork).

use crate::local_list::LocalList;
use crate::{child, Error};
use std::io::Write;

/// The global list: each process has its own copy after the fork.
static RESULT: LocalList = LocalList::new();

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let mylist = [1i64, 2, 3, 4];
    let mut p1 = child::spawn(|out| {
        for num in mylist {
            RESULT.push(num * num);
        }
        writeln!(out, "Result(in process p1): {:?}", RESULT.to_vec())?;
        Ok(())
    })?;
    child::join_into(out, "p1", &mut p1)?;
    writeln!(out, "Result(in main program): {:?}", RESULT.to_vec())?;
    Ok(())
}
