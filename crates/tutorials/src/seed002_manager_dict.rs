//! Seed 002 (e): a dictionary held by a `Manager`'s server process, updated by a child and
//! printed by the child and by the parent.
//!
//! Python: `manager.dict()`, `dictionary['a'] = 0` in the parent; the child sets `a`, `b`
//! and `c` to 10, 20 and 30 and prints the dict; after joining it, the parent prints it.
//! Rust: `Manager::start()` forks the server; `manager.dict::<String, i64>()` is a
//! `DictProxy`, `insert` is `d[k] = v`, and its `Display` prints like Python's dict. The
//! child's proxy is the parent's, inherited across `fork`: it notices the new process and
//! opens its own connection instead of sharing the parent's socket (CPython #101320).

use crate::{child, Error};
use procshare::Manager;
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let mut manager = Manager::start()?;
    let dictionary = manager.dict::<String, i64>()?;
    dictionary.insert("a".into(), 0)?;
    let mut p = child::spawn(|out| {
        dictionary.insert("a".into(), 10)?;
        dictionary.insert("b".into(), 20)?;
        dictionary.insert("c".into(), 30)?;
        writeln!(out, "dictionary within process: {dictionary}")?;
        Ok(())
    })?;
    child::join_into(out, "bar", &mut p)?;
    writeln!(out, "dictionary outside process: {dictionary}")?;
    drop(dictionary);
    manager.shutdown()?;
    Ok(())
}
