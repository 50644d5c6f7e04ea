//! Seed 001: a fixed-size 10-byte string in a `Value`, polled by one process and set by
//! another.
//!
//! Python: `Value(c_char * 10)`; process-1 loops `while shared_data.value != b"my_data":
//! sleep(0.5)`, process-2 sleeps 1 s, sets the value, sleeps 1 s, and both print that they
//! are done. Rust: a `Value<[u8; 10]>` read as a NUL-terminated string (ctypes' `.value`
//! of a `c_char` array). The sleeps only ordered the two processes, so they become Event
//! handshakes: process-2 writes once process-1 has looked and found nothing (the first
//! sleep), and reports once process-1 has reported (the second). Between its polls
//! process-1 waits for the "written" event instead of sleeping half a second.

use crate::{child, Error};
use procshare::{Event, Shared, Value};
use std::io::Write;

/// The string process-2 stores.
const MY_DATA: &[u8] = b"my_data";

/// The bytes of a `c_char` array up to its first NUL, like ctypes' `.value`.
fn c_string(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    // Ten zero bytes: the empty string, as `Value(c_char * 10)` starts.
    let shared_data = Value::<[u8; 10]>::new([0; 10])?;
    let looked = Shared::new(Event::new())?;
    let written = Shared::new(Event::new())?;
    let reported = Shared::new(Event::new())?;

    let mut p1 = child::spawn(|out| {
        while c_string(&shared_data.load()?) != MY_DATA {
            looked.set();
            written.wait(None);
        }
        writeln!(out, "process-1 got the value. exit.")?;
        reported.set();
        Ok(())
    })?;
    let mut p2 = child::spawn(|out| {
        looked.wait(None);
        let mut bytes = [0u8; 10];
        bytes[..MY_DATA.len()].copy_from_slice(MY_DATA);
        shared_data.store(bytes)?;
        written.set();
        reported.wait(None);
        writeln!(out, "process-2 set the value. exit.")?;
        Ok(())
    })?;
    child::join_into(out, "process-1", &mut p1)?;
    child::join_into(out, "process-2", &mut p2)?;
    Ok(())
}
