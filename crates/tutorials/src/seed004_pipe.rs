//! Seed 004 (e): a sender and a receiver process on the two ends of a `Pipe`; the message
//! `"END"` ends the conversation.
//!
//! Python: `parent_conn, child_conn = Pipe()`; process 1 `send`s `"hello"`, `"hey"`,
//! `"hru?"`, `"END"` on one end and closes it; process 2 `recv`s on the other until
//! `"END"`, printing every other message. Rust: `Pipe::duplex()` (CPython's default
//! `duplex=True`: a `socketpair`), `send(&msg)` / `recv::<String>()` (the compact codec
//! between Rust processes; `send_with(&Pickle, …)` would talk to a python3 peer), and
//! `close()`.

use crate::{child, Error};
use procshare::Pipe;
use std::io::Write;

/// Run the example.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    let msgs = ["hello", "hey", "hru?", "END"];
    let (parent_conn, child_conn) = Pipe::duplex()?;
    let mut sender = child::spawn(move |out| {
        let mut conn = parent_conn;
        for msg in msgs {
            conn.send(&msg.to_string())?;
            writeln!(out, "Sent the message: {msg}")?;
        }
        conn.close();
        Ok(())
    })?;
    let mut receiver = child::spawn(|out| {
        loop {
            let msg: String = child_conn.recv()?;
            if msg == "END" {
                break;
            }
            writeln!(out, "Received the message: {msg}")?;
        }
        Ok(())
    })?;
    child::join_into(out, "sender", &mut sender)?;
    child::join_into(out, "receiver", &mut receiver)?;
    Ok(())
}
