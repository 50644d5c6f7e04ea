//! Seed 003 (b): a producer and a consumer *thread* share a queue, and the consumer's
//! `while not q.empty()` loop stops it early — the `empty()` trap.
//!
//! Python: `queue.Queue()` shared by two `threading.Thread`s; the producer puts 0..9 with
//! a 1 s pause after each, the consumer loops while the queue is not empty, taking an item
//! every 0.5 s. It takes item 0, then finds the queue empty during the producer's pause,
//! and stops: the other nine items are produced for nobody. Rust: two `std::thread`s and
//! a thread-safe FIFO (a `Mutex<VecDeque>` with a `Condvar`, like `queue.Queue`, which is
//! for threads, not processes); `empty()` is `is_empty()`.
//!
//! The sleeps become handshakes that force the same interleaving every run: the producer
//! puts item 0 and waits until the consumer has looked at the queue twice (taking 0, then
//! finding it empty) before it puts the rest. The fixed consumer beside it loops on a
//! blocking `get` until a `None` sentinel (Python: `q.get()` until `None`), and receives
//! all ten; there, each put waits until the previous item was consumed, so the lines
//! alternate deterministically.

use crate::Error;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Condvar, Mutex};

/// `queue.Queue` for threads: FIFO, `put`, blocking `get`, `empty`.
struct ThreadQueue<T> {
    items: Mutex<VecDeque<T>>,
    changed: Condvar,
}

impl<T> ThreadQueue<T> {
    fn new() -> Self {
        ThreadQueue {
            items: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
        }
    }

    fn put(&self, item: T) {
        self.items.lock().unwrap().push_back(item);
        self.changed.notify_all();
    }

    fn get(&self) -> T {
        let mut items = self.items.lock().unwrap();
        loop {
            if let Some(item) = items.pop_front() {
                self.changed.notify_all();
                return item;
            }
            items = self.changed.wait(items).unwrap();
        }
    }

    fn is_empty(&self) -> bool {
        self.items.lock().unwrap().is_empty()
    }
}

/// A counter threads wait on: the handshakes that replace the original's sleeps.
struct Steps {
    done: Mutex<u32>,
    changed: Condvar,
}

impl Steps {
    fn new() -> Self {
        Steps {
            done: Mutex::new(0),
            changed: Condvar::new(),
        }
    }

    fn advance(&self) {
        *self.done.lock().unwrap() += 1;
        self.changed.notify_all();
    }

    fn wait_for(&self, n: u32) {
        let mut done = self.done.lock().unwrap();
        while *done < n {
            done = self.changed.wait(done).unwrap();
        }
    }
}

/// The output lines, in the order they happen (both threads append).
struct Log(Mutex<Vec<String>>);

impl Log {
    fn line(&self, text: String) {
        self.0.lock().unwrap().push(text);
    }
}

/// Run the example: the trap, then the fixed consumer.
pub fn run(out: &mut dyn Write) -> Result<(), Error> {
    writeln!(out, "consumer loops while the queue is not empty:")?;
    for line in trapped() {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "consumer loops on get() until a None sentinel:")?;
    for line in fixed() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn trapped() -> Vec<String> {
    let queue = ThreadQueue::new();
    let started = Steps::new(); // the producer has put item 0
    let looked = Steps::new(); // times the consumer has looked at the queue
    let log = Log(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..10 {
                // Logged just before the put, so that its line always precedes the
                // consumer's (Python prints right after the put, before its pause).
                log.line(format!("Produced: {i}"));
                queue.put(i);
                if i == 0 {
                    started.advance();
                    // The original's 1 s pause: long enough for the consumer to take item
                    // 0 and then find the queue empty.
                    looked.wait_for(2);
                }
            }
        });
        s.spawn(|| {
            // The original starts the consumer right after the producer's first put.
            started.wait_for(1);
            loop {
                let item = queue.get();
                log.line(format!("Consumed: {item}"));
                looked.advance();
                let empty = queue.is_empty();
                looked.advance();
                if empty {
                    break;
                }
            }
        });
    });
    log.0.into_inner().unwrap()
}

fn fixed() -> Vec<String> {
    let queue = ThreadQueue::new();
    let consumed = Steps::new();
    let log = Log(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..10u32 {
                log.line(format!("Produced: {i}"));
                queue.put(Some(i));
                consumed.wait_for(i + 1); // the pause: the consumer takes it first
            }
            queue.put(None);
        });
        s.spawn(|| {
            while let Some(item) = queue.get() {
                log.line(format!("Consumed: {item}"));
                consumed.advance();
            }
        });
    });
    log.0.into_inner().unwrap()
}
