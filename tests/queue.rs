//! `Queue`, `SimpleQueue`, `JoinableQueue` across forked processes: CPython's documented
//! queue behaviours as Rust tests of the same observable result, `Disconnected` both ways,
//! and producers and consumers SIGKILLed in the middle of their loops.
//!
//! Every child is a `Process` (it leaves with `_exit`); no test sleeps to synchronise:
//! children and parent hand over through the queues and shared counters.

use procshare::{JoinableQueue, Process, Queue, QueueError, RawValue, SimpleQueue, Value};
use std::time::{Duration, Instant};

#[test]
fn queue_6_is_full_after_six_puts_and_try_put_is_full_at_once() {
    let q = Queue::<u32>::new(6).unwrap();
    for i in 0..6 {
        assert!(!q.is_full(), "full after {i} puts");
        q.try_put(&i).unwrap();
    }
    assert!(q.is_full());
    assert_eq!(q.qsize(), 6);
    assert!(matches!(q.try_put(&6), Err(QueueError::Full)));
    assert_eq!(q.qsize(), 6);
}

#[test]
fn put_timeout_on_a_full_queue_is_full_after_the_timeout() {
    let q = Queue::<u32>::new(1).unwrap();
    q.put(&1).unwrap();
    let start = Instant::now();
    assert!(matches!(
        q.put_timeout(&2, Duration::from_millis(100)),
        Err(QueueError::Full)
    ));
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "gave up early"
    );
    assert_eq!(q.get().unwrap(), 1);
}

#[test]
fn get_timeout_on_an_empty_queue_is_empty_after_the_timeout() {
    let q = Queue::<u32>::new(0).unwrap();
    let start = Instant::now();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(100)),
        Err(QueueError::Empty)
    ));
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "gave up early"
    );
    assert!(matches!(q.try_get(), Err(QueueError::Empty)));
}

#[test]
fn qsize_goes_0_1_2_1_0() {
    let q = Queue::<String>::new(0).unwrap();
    let mut sizes = vec![q.qsize()];
    q.put(&"a".to_string()).unwrap();
    sizes.push(q.qsize());
    q.put(&"b".to_string()).unwrap();
    sizes.push(q.qsize());
    assert_eq!(q.get().unwrap(), "a");
    sizes.push(q.qsize());
    assert_eq!(q.get().unwrap(), "b");
    sizes.push(q.qsize());
    assert_eq!(sizes, [0, 1, 2, 1, 0]);
    assert!(q.is_empty());
}

#[test]
fn a_child_puts_2_3_4_5_and_the_parent_gets_them_with_each_get_variant() {
    let q = Queue::<u64>::new(0).unwrap();
    let mut child = Process::spawn(|| {
        for i in 2..=5u64 {
            q.put(&i).unwrap();
        }
    })
    .unwrap();
    assert_eq!(q.get().unwrap(), 2);
    assert_eq!(q.get_timeout(Duration::from_secs(60)).unwrap(), 3);
    assert_eq!(child.join().unwrap(), 0);
    // The child has exited: its items are in shared memory, nothing held elsewhere.
    assert_eq!(q.try_get().unwrap(), 4);
    let mut buf = Vec::new();
    let n = q.get_bytes_into(&mut buf).unwrap();
    assert_eq!(n, buf.len());
    assert_eq!(postcard_u64(&buf), 5);
    assert!(matches!(q.try_get(), Err(QueueError::Empty)));
}

/// postcard encodes a `u64` as a varint.
fn postcard_u64(buf: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, b) in buf.iter().enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

#[test]
fn joinable_queue_with_four_workers_and_ten_items() {
    let q = JoinableQueue::<Option<u32>>::new(0).unwrap();
    let done = Value::<u64>::new(0).unwrap();
    let results = Queue::<u32>::new(0).unwrap();
    let mut workers: Vec<Process> = (0..4)
        .map(|_| {
            Process::spawn(|| loop {
                match q.get().unwrap() {
                    Some(x) => {
                        results.put(&(x * 10)).unwrap();
                        *done.lock().unwrap() += 1;
                        q.task_done().unwrap();
                    }
                    None => {
                        q.task_done().unwrap();
                        break;
                    }
                }
            })
            .unwrap()
        })
        .collect();
    for i in 0..10 {
        q.put(&Some(i)).unwrap();
    }
    q.join();
    // join returned: all ten task_done calls had happened (each follows its count).
    assert_eq!(done.load().unwrap(), 10);
    assert_eq!(q.unfinished_tasks(), 0);
    let mut got: Vec<u32> = (0..10).map(|_| results.get().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..10).map(|i| i * 10).collect::<Vec<_>>());
    for _ in 0..4 {
        q.put(&None).unwrap();
    }
    for w in &mut workers {
        assert_eq!(w.join().unwrap(), 0);
    }
    q.join();
    assert!(matches!(q.task_done(), Err(QueueError::TaskDone)));
}

#[test]
fn join_waits_for_the_last_task_done() {
    let q = JoinableQueue::<u32>::new(0).unwrap();
    q.put(&1).unwrap();
    assert!(
        !q.join_timeout(Duration::from_millis(20)),
        "joined with a task open"
    );
    assert_eq!(q.get().unwrap(), 1);
    assert!(
        !q.join_timeout(Duration::from_millis(20)),
        "joined before task_done"
    );
    q.task_done().unwrap();
    assert!(q.join_timeout(Duration::from_secs(60)));
    assert!(matches!(q.task_done(), Err(QueueError::TaskDone)));
}

#[test]
fn a_process_forked_while_the_parent_has_items_neither_loses_nor_duplicates_them() {
    let q = Queue::<u32>::new(8).unwrap();
    let back = Queue::<u32>::new(8).unwrap();
    for i in 0..6 {
        q.put(&i).unwrap();
    }
    let mut child = Process::spawn(|| {
        for _ in 0..3 {
            back.put(&q.get().unwrap()).unwrap();
        }
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0);
    let from_child: Vec<u32> = (0..3).map(|_| back.try_get().unwrap()).collect();
    let from_parent: Vec<u32> = (0..3).map(|_| q.try_get().unwrap()).collect();
    assert_eq!(from_child, [0, 1, 2]);
    assert_eq!(from_parent, [3, 4, 5]);
    assert!(matches!(q.try_get(), Err(QueueError::Empty)));
    assert!(matches!(back.try_get(), Err(QueueError::Empty)));
}

#[test]
fn a_closed_queue_is_closed_on_put_and_get() {
    let q = Queue::<u32>::new(0).unwrap();
    q.put(&1).unwrap();
    q.close();
    assert!(matches!(q.put(&2), Err(QueueError::Closed)));
    assert!(matches!(q.try_put(&2), Err(QueueError::Closed)));
    assert!(matches!(q.get(), Err(QueueError::Closed)));
    assert!(matches!(q.try_get(), Err(QueueError::Closed)));
    let s = SimpleQueue::<u32>::new().unwrap();
    s.close();
    assert!(matches!(s.put(&1), Err(QueueError::Closed)));
    assert!(matches!(s.get(), Err(QueueError::Closed)));
}

#[test]
fn a_message_twice_the_ring_size_is_too_large_at_once() {
    let q = Queue::<Vec<u8>>::with_capacity(4, 1024).unwrap();
    let max = q.bytes().max_message();
    assert_eq!(max, 1024);
    let huge = vec![7u8; 2 * max];
    // A blocking put would hang here if the size were not checked first.
    assert!(matches!(
        q.put(&huge),
        Err(QueueError::TooLarge { max: 1024, .. })
    ));
    assert!(matches!(q.try_put(&huge), Err(QueueError::TooLarge { .. })));
    assert!(matches!(
        q.put_timeout(&huge, Duration::from_secs(3600)),
        Err(QueueError::TooLarge { .. })
    ));
    // The largest message that fits (its 2-byte length prefix included) does.
    let fits = vec![1u8; max - 2];
    q.put(&fits).unwrap();
    assert_eq!(q.get().unwrap(), fits);
}

#[test]
fn simple_queue_passes_items_between_processes() {
    let q = SimpleQueue::<(u32, String)>::new().unwrap();
    let mut child = Process::spawn(|| {
        for i in 0..100 {
            q.put(&(i, format!("item {i}"))).unwrap();
        }
    })
    .unwrap();
    for i in 0..100 {
        assert_eq!(q.get().unwrap(), (i, format!("item {i}")));
    }
    assert_eq!(child.join().unwrap(), 0);
    assert!(q.is_empty());
}

#[test]
fn a_consumer_whose_every_producer_exited_is_disconnected() {
    let q = Queue::<u32>::new(0).unwrap();
    let mut child = Process::spawn(|| q.put(&1).unwrap()).unwrap();
    assert_eq!(q.get().unwrap(), 1);
    assert_eq!(child.join().unwrap(), 0);
    // CPython would wait here forever.
    assert!(matches!(q.get(), Err(QueueError::Disconnected)));
    // The parent may still become a producer itself.
    q.put(&2).unwrap();
    assert_eq!(q.get().unwrap(), 2);
}

#[test]
fn a_producer_whose_every_consumer_exited_is_disconnected() {
    let q = Queue::<u32>::new(2).unwrap();
    q.put(&1).unwrap();
    let mut child = Process::spawn(|| assert_eq!(q.get().unwrap(), 1)).unwrap();
    assert_eq!(child.join().unwrap(), 0);
    q.put(&2).unwrap();
    q.put(&3).unwrap();
    assert!(matches!(q.put(&4), Err(QueueError::Disconnected)));
    assert!(matches!(q.try_put(&4), Err(QueueError::Full)));
}

#[test]
fn a_consumer_blocked_while_the_last_producer_closes_is_disconnected() {
    let q = Queue::<u32>::new(0).unwrap();
    let (to_parent, to_child) = (Queue::<u32>::new(0).unwrap(), Queue::<u32>::new(0).unwrap());
    let mut child = Process::spawn(|| {
        q.bytes().register_producer().unwrap();
        to_parent.put(&0).unwrap();
        // The parent is about to block in get (or is blocked): either way only the close
        // can end it.
        assert_eq!(to_child.get().unwrap(), 1);
        q.close();
        // Stay alive until the parent is done: only the close can end its get.
        assert_eq!(to_child.get().unwrap(), 2);
    })
    .unwrap();
    assert_eq!(to_parent.get().unwrap(), 0);
    to_child.put(&1).unwrap();
    assert!(matches!(q.get(), Err(QueueError::Disconnected)));
    to_child.put(&2).unwrap();
    assert_eq!(child.join().unwrap(), 0);
}

/// A producer SIGKILLed in a loop of puts, five times over: the consumer never wedges,
/// gets every item whose put returned exactly once and in order, at most one more (the
/// put in flight), and the queue stays usable.
#[test]
fn a_producer_killed_in_a_loop_of_puts_loses_no_acknowledged_item() {
    let q = Queue::<u64>::new(16).unwrap();
    // The parent puts too (at the end): registered as a producer, it keeps its own gets
    // from being told `Disconnected` between one round's dead child and the next's.
    q.bytes().register_producer().unwrap();
    let acked = RawValue::<u64>::new(0).unwrap();
    let mut next = 0u64;
    for round in 0..5 {
        let start = next;
        let mut child = Process::spawn(|| {
            let mut i = start;
            loop {
                q.put(&i).unwrap();
                i += 1;
                acked.store(i);
            }
        })
        .unwrap();
        // Take a few hundred items while the child runs, then kill it mid-loop.
        while next < start + 300 {
            assert_eq!(q.get().unwrap(), next, "round {round}");
            next += 1;
        }
        child.kill().unwrap();
        assert_eq!(child.join().unwrap(), -libc::SIGKILL);
        let acknowledged = acked.load();
        // Drain: exactly the acknowledged items, in order, plus at most the one in flight.
        loop {
            match q.try_get() {
                Ok(x) => {
                    assert_eq!(x, next, "round {round}: lost or duplicated");
                    next += 1;
                }
                Err(QueueError::Empty) => break,
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert!(
            next >= acknowledged,
            "round {round}: acknowledged {acknowledged}, got {next}"
        );
        assert!(
            next <= acknowledged + 1,
            "round {round}: more than the put in flight"
        );
    }
    q.put(&u64::MAX).unwrap();
    assert_eq!(q.get().unwrap(), u64::MAX);
}

/// A consumer SIGKILLed in a loop of gets, five times over: the producer never wedges
/// (a slot held by the dead consumer is released), every item put is delivered exactly
/// once except at most the one the dead consumer had claimed, in order.
#[test]
fn a_consumer_killed_in_a_loop_of_gets_wedges_nobody() {
    let q = Queue::<u64>::new(4).unwrap();
    // The parent takes too (it drains): registered as a consumer, its puts are not told
    // `Disconnected` between one round's dead child and the next's.
    q.bytes().register_consumer().unwrap();
    let got = RawValue::<u64>::new(0).unwrap();
    let broken = RawValue::<u64>::new(0).unwrap();
    let mut next = 0u64;
    for round in 0..5 {
        got.store(next);
        let start = next;
        let mut child = Process::spawn(|| {
            let mut want = start;
            loop {
                let x = q.get().unwrap();
                if x != want {
                    broken.store(1);
                }
                want = x + 1;
                got.store(want);
            }
        })
        .unwrap();
        // Feed the child until it has taken a few hundred, then kill it.
        while got.load() < start + 300 {
            q.put(&next).unwrap();
            next += 1;
        }
        child.kill().unwrap();
        assert_eq!(child.join().unwrap(), -libc::SIGKILL);
        assert_eq!(broken.load(), 0, "round {round}: the child saw a gap");
        let taken = got.load();
        // Everything not taken is still there, in order, except at most the one item the
        // child had claimed when it died.
        let mut expect: Option<u64> = None;
        loop {
            match q.try_get() {
                Ok(x) => {
                    match expect {
                        None => assert!(
                            x == taken || x == taken + 1,
                            "round {round}: first item left {x}, the child took {taken}"
                        ),
                        Some(e) => assert_eq!(x, e, "round {round}: lost or duplicated"),
                    }
                    expect = Some(x + 1);
                }
                Err(QueueError::Empty) => break,
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        // Nothing put is missing at the end; at most the claimed item is missing at the front.
        match expect {
            Some(e) => assert_eq!(e, next, "round {round}: items missing at the end"),
            None => assert!(next - taken <= 1, "round {round}: {taken} taken of {next}"),
        }
        // The queue is usable: fill it to the brim (the dead consumer's slot is back).
        for i in 0..4u64 {
            q.put_timeout(&(next + i), Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("round {round}: put {i}: {e}"));
        }
        for i in 0..4u64 {
            assert_eq!(q.try_get().unwrap(), next + i, "round {round}");
        }
        next += 4;
    }
}

/// Stops the process at the `n`-th pass of a schedule point: writes one byte to a pipe
/// (the parent waits for it) and pauses until it is killed. Installed in a child only.
struct StopAt {
    point: procshare::hook::Point,
    n: u64,
    seen: std::sync::atomic::AtomicU64,
    fd: i32,
}

impl procshare::hook::Scheduler for StopAt {
    fn point(&self, point: procshare::hook::Point) {
        if point == self.point
            && self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == self.n
        {
            // SAFETY: writes one byte from a valid buffer to the pipe's write end.
            unsafe { libc::write(self.fd, [1u8].as_ptr().cast(), 1) };
            loop {
                // SAFETY: pause() just waits for a signal (the parent's SIGKILL).
                unsafe { libc::pause() };
            }
        }
    }
}

/// A pipe; the parent blocks on its read end until the child reached its stop point.
fn stop_pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: pipe writes two fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

fn wait_stopped(r: i32) {
    let mut b = [0u8; 1];
    // SAFETY: reads one byte into a valid buffer (blocks until the child wrote it).
    assert_eq!(unsafe { libc::read(r, b.as_mut_ptr().cast(), 1) }, 1);
}

/// Exactly between claiming and publishing: a producer killed at its third `Publish`
/// point (two puts returned, the third claimed its slot) leaves a claim that the
/// consumer must skip; the two acknowledged items arrive, the third never, and the queue
/// stays usable — also for the slot the dead claim took.
#[test]
fn a_producer_killed_between_claim_and_publish_does_not_wedge_the_consumer() {
    let q = Queue::<u32>::new(4).unwrap();
    q.bytes().register_producer().unwrap();
    let (r, w) = stop_pipe();
    let mut child = Process::spawn(|| {
        let stop: &'static StopAt = Box::leak(Box::new(StopAt {
            point: procshare::hook::Point::Publish,
            n: 3,
            seen: Default::default(),
            fd: w,
        }));
        procshare::hook::install(Some(stop));
        for i in 1..=3 {
            q.put(&i).unwrap();
        }
    })
    .unwrap();
    wait_stopped(r);
    child.kill().unwrap();
    assert_eq!(child.join().unwrap(), -libc::SIGKILL);
    assert_eq!(
        q.qsize(),
        3,
        "the dead claim still counts until it is skipped"
    );
    assert_eq!(q.try_get().unwrap(), 1);
    assert_eq!(q.try_get().unwrap(), 2);
    assert!(
        matches!(q.try_get(), Err(QueueError::Empty)),
        "the unpublished item"
    );
    for i in 10..14 {
        q.try_put(&i).unwrap();
    }
    for i in 10..14 {
        assert_eq!(q.get().unwrap(), i);
    }
    // SAFETY: closes the pipe's two fds, which this test owns.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
}

/// Exactly between claiming and releasing: a consumer killed at its second `Read` point
/// (it took item 1, then claimed item 2) holds a slot; the producer must get it back.
/// Item 2 is delivered at most once (here: never), everything after it exactly once.
#[test]
fn a_consumer_killed_between_claim_and_release_does_not_wedge_the_producer() {
    let q = Queue::<u32>::new(2).unwrap();
    q.bytes().register_consumer().unwrap();
    q.put(&1).unwrap();
    q.put(&2).unwrap();
    let (r, w) = stop_pipe();
    let mut child = Process::spawn(|| {
        let stop: &'static StopAt = Box::leak(Box::new(StopAt {
            point: procshare::hook::Point::Read,
            n: 2,
            seen: Default::default(),
            fd: w,
        }));
        procshare::hook::install(Some(stop));
        assert_eq!(q.get().unwrap(), 1);
        let _ = q.get();
    })
    .unwrap();
    wait_stopped(r);
    child.kill().unwrap();
    assert_eq!(child.join().unwrap(), -libc::SIGKILL);
    assert!(q.is_empty());
    // Both slots are needed: one was freed by the child's first get, the other is held by
    // its dead claim until a put recovers it.
    q.try_put(&3).unwrap();
    q.put_timeout(&4, Duration::from_secs(60)).unwrap();
    assert_eq!(q.try_get().unwrap(), 3);
    assert_eq!(q.try_get().unwrap(), 4);
    // SAFETY: closes the pipe's two fds, which this test owns.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
}

/// Seed 003's `empty()` trap across processes, made exact by handshakes: the producer has
/// put item 0 and is slower for the rest; a consumer looping `while !q.is_empty()` takes
/// item 0, finds the queue empty and stops, missing items 1 and 2. The correct loop beside
/// it — `get` until the sentinel — takes everything that follows.
#[test]
fn the_empty_trap_a_consumer_looping_on_is_empty_stops_early() {
    let q = Queue::<Option<u32>>::new(0).unwrap();
    let (ready, go) = (Queue::<u32>::new(0).unwrap(), Queue::<u32>::new(0).unwrap());
    let mut producer = Process::spawn(|| {
        q.put(&Some(0)).unwrap();
        ready.put(&0).unwrap();
        // "Slower": the rest comes only after the consumer's loop has run.
        assert_eq!(go.get().unwrap(), 1);
        q.put(&Some(1)).unwrap();
        q.put(&Some(2)).unwrap();
        q.put(&None).unwrap();
    })
    .unwrap();
    assert_eq!(ready.get().unwrap(), 0);
    let mut trapped = Vec::new();
    while !q.is_empty() {
        trapped.push(q.get().unwrap().unwrap());
    }
    assert_eq!(trapped, [0], "the trap stops after the first item");
    go.put(&1).unwrap();
    let mut rest = Vec::new();
    while let Some(x) = q.get().unwrap() {
        rest.push(x);
    }
    assert_eq!(rest, [1, 2], "the sentinel loop gets what the trap missed");
    assert_eq!(producer.join().unwrap(), 0);
}
