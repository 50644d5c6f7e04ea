//! Seed 004 (c): a `Manager` list of (name, score) records; one process appends a record,
//! a second, started after the first has finished, prints them all.
//!
//! Python: `manager.list([('Sam', 10), ('Adam', 9), ('Kevin', 9)])`; p1 appends
//! `('Jeff', 8)` and prints `"New record added!"`; after p1 is joined, p2 prints every
//! record as `Name: …` / `Score: …` and a blank line. Rust: `manager.list_from(vec![…])` is
//! a `ListProxy<(String, i32)>`, `push` is `append`, `to_vec` takes the list whole (one
//! request, where iterating a CPython proxy asks for each item).

use crate::{child, Error};
use procshare::Manager;
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let mut manager = Manager::start()?;
    let records = manager.list_from(vec![
        ("Sam".to_string(), 10i32),
        ("Adam".to_string(), 9),
        ("Kevin".to_string(), 9),
    ])?;
    let new_record = ("Jeff".to_string(), 8i32);
    let mut p1 = child::spawn(|out| {
        records.push(new_record.clone())?;
        writeln!(out, "New record added!\n")?;
        Ok(())
    })?;
    child::join_into(out, "insert_record", &mut p1)?;
    let mut p2 = child::spawn(|out| {
        for (name, score) in records.to_vec()? {
            writeln!(out, "Name: {name}\nScore: {score}\n")?;
        }
        Ok(())
    })?;
    child::join_into(out, "print_records", &mut p2)?;
    drop(records);
    manager.shutdown()?;
    Ok(())
}
