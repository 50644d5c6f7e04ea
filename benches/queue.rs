//! `Queue` between processes against two baselines measured in the same run, 64-byte
//! messages:
//!
//! | case        | what moves one message                                                 |
//! |-------------|------------------------------------------------------------------------|
//! | `queue`     | `procshare::ByteRing` (the ring under `Queue`, its byte interface): `put_bytes` / `get_bytes_into` |
//! | `raw_ring`  | baseline: Vyukov's bounded MPMC ring written here over a shared region: 1024 slots of a sequence word and eight data words, CAS on head and tail, spin (then `sched_yield`) when full or empty, no registration, no recovery, no sleeping |
//! | `pipe`      | baseline: one `write(2)` of 64 bytes, one `read(2)` of 64 bytes        |
//!
//! * **throughput 1→1 and 4→4**: producer and consumer processes (forked children) move
//!   `n` messages; the parent times from "everyone is ready" to "the consumers have all
//!   of them" and checks that every consumer got its share and every message was intact;
//! * **round trip**: parent and child pass a message back and forth through two rings
//!   (two queues, two raw rings); every round trip goes into an HDR histogram: p50, p99,
//!   p99.9, max;
//! * **system calls per message**: the ring counts the futex wakes and liveness probes it
//!   makes (`procshare::queue::ring::syscalls`), and every futex wait that really slept is
//!   a voluntary context switch (`getrusage`); the children report the sum (an upper
//!   bound: a preemption while yielding counts too). For the pipe, its `write` and `read`
//!   add 2 per message.
//!
//! In benchmark mode, after criterion's measurements, `main` runs every case
//! [`TABLE_RUNS`] times interleaved (one run of every case per pass) and prints the
//! medians and the ratios against the baselines, with the targets: 1→1 ≥ 0.4× the
//! raw ring and ≥ 1.2× the pipe, round-trip p50 ≤ 2× the raw ring's. In test mode
//! (`cargo test --benches`) every case runs once with a few messages.

mod common;

use common::{mode, write_result, Mode};
use criterion::Criterion;
use hdrhistogram::Histogram;
use procshare::queue::ring::syscalls;
use procshare::{heap, ByteRing, Process, RawValue};
use procshare_table::Table;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MSG: usize = 64;
const SLOTS: usize = 1024;
const TABLE_MSGS: u64 = 200_000;
const TABLE_ROUND_TRIPS: u64 = 20_000;
/// Interleaved runs behind each median of the table (this VM swings run to run; a run
/// of all cases takes about a second).
const TABLE_RUNS: usize = 15;
const TEST_MSGS: u64 = 2_000;

/// A message: its sequence number in the first word, the producer in the second, the
/// rest a pattern the consumer checks.
fn message(producer: u64, i: u64) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    m[..8].copy_from_slice(&i.to_le_bytes());
    m[8..16].copy_from_slice(&producer.to_le_bytes());
    for (j, b) in m[16..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_add(j as u8);
    }
    m
}

fn check(m: &[u8]) -> (u64, u64) {
    assert_eq!(m.len(), MSG);
    let i = u64::from_le_bytes(m[..8].try_into().unwrap());
    let p = u64::from_le_bytes(m[8..16].try_into().unwrap());
    for (j, b) in m[16..].iter().enumerate() {
        assert_eq!(*b, (i as u8).wrapping_add(j as u8), "garbled message");
    }
    (p, i)
}

/// Voluntary context switches of this process so far: each is a sleep in the kernel (a
/// futex wait that slept, a blocking read or write).
fn sleeps() -> u64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_nvcsw as u64
}

/// System calls the ring made (futex wakes, liveness probes) plus sleeps (futex waits
/// that slept) so far in this process.
fn ring_calls() -> u64 {
    syscalls() + sleeps()
}

// ------------------------------------------------------------------ the raw ring

/// Vyukov's bounded MPMC ring, the baseline: slot = `[seq, data × 8]` (`AtomicU64`s).
struct RawRing {
    block: heap::Block,
}

const RAW_WORDS: usize = 1 + MSG / 8;

impl RawRing {
    fn new() -> Self {
        let block = heap::alloc(128 + SLOTS * RAW_WORDS * 8).expect("heap::alloc");
        let r = RawRing { block };
        for i in 0..SLOTS {
            r.word(2 + i * RAW_WORDS).store(i as u64, Ordering::Relaxed);
        }
        r
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        // Words 0 (tail) and 8 (head, another cache line), then the slots from word 16.
        let i = if i < 2 { i * 8 } else { 16 + (i - 2) };
        assert!(i * 8 + 8 <= self.block.len());
        // SAFETY: in bounds (checked), 8-aligned (the block is 64-aligned), zero-filled
        // shared memory reached only through atomics.
        unsafe { &*self.block.ptr().cast::<AtomicU64>().add(i) }
    }

    fn put(&self, m: &[u8; MSG]) {
        let tail = self.word(0);
        let mut t = tail.load(Ordering::Relaxed);
        let mut spins = 0u32;
        loop {
            let slot = 2 + (t as usize % SLOTS) * RAW_WORDS;
            let s = self.word(slot).load(Ordering::Acquire);
            if s == t {
                match tail.compare_exchange_weak(t, t + 1, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        for (j, c) in m.chunks_exact(8).enumerate() {
                            self.word(slot + 1 + j).store(
                                u64::from_le_bytes(c.try_into().unwrap()),
                                Ordering::Relaxed,
                            );
                        }
                        self.word(slot).store(t + 1, Ordering::Release);
                        return;
                    }
                    Err(now) => t = now,
                }
            } else if s < t {
                backoff(&mut spins);
                t = tail.load(Ordering::Relaxed);
            } else {
                t = tail.load(Ordering::Relaxed);
            }
        }
    }

    fn get(&self, out: &mut [u8; MSG]) {
        let head = self.word(1);
        let mut h = head.load(Ordering::Relaxed);
        let mut spins = 0u32;
        loop {
            let slot = 2 + (h as usize % SLOTS) * RAW_WORDS;
            let s = self.word(slot).load(Ordering::Acquire);
            if s == h + 1 {
                match head.compare_exchange_weak(h, h + 1, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        for (j, c) in out.chunks_exact_mut(8).enumerate() {
                            c.copy_from_slice(
                                &self
                                    .word(slot + 1 + j)
                                    .load(Ordering::Relaxed)
                                    .to_le_bytes(),
                            );
                        }
                        self.word(slot).store(h + SLOTS as u64, Ordering::Release);
                        return;
                    }
                    Err(now) => h = now,
                }
            } else if s < h + 1 {
                backoff(&mut spins);
                h = head.load(Ordering::Relaxed);
            } else {
                h = head.load(Ordering::Relaxed);
            }
        }
    }
}

fn backoff(spins: &mut u32) {
    if *spins < 64 {
        std::hint::spin_loop();
        *spins += 1;
    } else {
        std::thread::yield_now();
    }
}

// ------------------------------------------------------------------ channels

/// One way of moving 64-byte messages between processes.
trait Channel: Sync {
    fn name() -> &'static str;
    fn create() -> Self;
    fn send(&self, m: &[u8; MSG]);
    fn recv(&self, out: &mut Vec<u8>);
}

struct QueueCh(ByteRing);
impl Channel for QueueCh {
    fn name() -> &'static str {
        "queue"
    }
    fn create() -> Self {
        QueueCh(ByteRing::new(SLOTS, SLOTS * MSG).expect("ByteRing::new"))
    }
    fn send(&self, m: &[u8; MSG]) {
        self.0.put_bytes(m).expect("put_bytes");
    }
    fn recv(&self, out: &mut Vec<u8>) {
        self.0.get_bytes_into(out).expect("get_bytes_into");
    }
}

struct RawCh(RawRing);
impl Channel for RawCh {
    fn name() -> &'static str {
        "raw_ring"
    }
    fn create() -> Self {
        RawCh(RawRing::new())
    }
    fn send(&self, m: &[u8; MSG]) {
        self.0.put(m);
    }
    fn recv(&self, out: &mut Vec<u8>) {
        out.resize(MSG, 0);
        let buf: &mut [u8; MSG] = out.as_mut_slice().try_into().unwrap();
        self.0.get(buf);
    }
}

struct PipeCh {
    r: i32,
    w: i32,
}
impl Channel for PipeCh {
    fn name() -> &'static str {
        "pipe"
    }
    fn create() -> Self {
        let mut fds = [0i32; 2];
        // SAFETY: pipe writes two fds into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        PipeCh {
            r: fds[0],
            w: fds[1],
        }
    }
    fn send(&self, m: &[u8; MSG]) {
        // SAFETY: writes 64 bytes from a valid buffer; a pipe write of at most PIPE_BUF
        // bytes is atomic and whole.
        let n = unsafe { libc::write(self.w, m.as_ptr().cast(), MSG) };
        assert_eq!(n, MSG as isize);
    }
    fn recv(&self, out: &mut Vec<u8>) {
        out.resize(MSG, 0);
        // SAFETY: reads at most 64 bytes into a buffer of 64. Every write is 64 bytes and
        // atomic, so a read returns one whole message.
        let n = unsafe { libc::read(self.r, out.as_mut_ptr().cast(), MSG) };
        assert_eq!(n, MSG as isize);
    }
}
impl Drop for PipeCh {
    fn drop(&mut self) {
        // SAFETY: closes the two fds this value owns.
        unsafe {
            libc::close(self.r);
            libc::close(self.w);
        }
    }
}

/// One throughput run: `producers` and `consumers` child processes move `msgs` messages
/// (a multiple of both). Returns the time and the ring's system calls per message.
/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine, so a
/// child's end and the parent's start can be subtracted.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `msgs` messages from `producers` to `consumers` processes; the time from the start
/// signal to the last consumer's last message, and system calls per message. The parent
/// does not spin while the children run: it blocks in `join` (on 2 CPUs a third
/// runnable process would take CPU time from the two it measures), and each consumer
/// stamps its own end.
fn throughput<C: Channel>(producers: u64, consumers: u64, msgs: u64) -> (Duration, f64) {
    let ch = C::create();
    let ready = RawValue::<u64>::new(0).unwrap();
    let go = RawValue::<u64>::new(0).unwrap();
    let ends: Vec<RawValue<u64>> = (0..consumers)
        .map(|_| RawValue::<u64>::new(0).unwrap())
        .collect();
    let calls = RawValue::<u64>::new(0).unwrap();
    let per_p = msgs / producers;
    let per_c = msgs / consumers;
    let mut children = Vec::new();
    for p in 0..producers {
        let (ch, ready, go, calls) = (&ch, &ready, &go, &calls);
        children.push(
            Process::spawn(move || {
                ready.fetch_add(1);
                while go.load() == 0 {
                    std::hint::spin_loop();
                }
                let before = ring_calls();
                for i in 0..per_p {
                    ch.send(&message(p, i));
                }
                calls.fetch_add(ring_calls() - before);
            })
            .unwrap(),
        );
    }
    for end in &ends {
        let (ch, ready, go, calls) = (&ch, &ready, &go, &calls);
        children.push(
            Process::spawn(move || {
                ready.fetch_add(1);
                while go.load() == 0 {
                    std::hint::spin_loop();
                }
                let before = ring_calls();
                let mut out = Vec::with_capacity(MSG);
                let mut last = vec![None::<u64>; producers as usize];
                for _ in 0..per_c {
                    ch.recv(&mut out);
                    let (p, i) = check(&out);
                    // FIFO per producer, as seen by one consumer.
                    assert!(last[p as usize].is_none_or(|l| l < i), "out of order");
                    last[p as usize] = Some(i);
                }
                let finished = monotonic_ns();
                calls.fetch_add(ring_calls() - before);
                end.store(finished);
            })
            .unwrap(),
        );
    }
    while ready.load() < producers + consumers {
        std::thread::yield_now();
    }
    let start = monotonic_ns();
    go.store(1);
    for c in &mut children {
        assert_eq!(c.join().unwrap(), 0, "{}: a child failed", C::name());
    }
    let last = ends.iter().map(RawValue::load).max().unwrap_or(start);
    let elapsed = Duration::from_nanos(last.saturating_sub(start).max(1));
    (elapsed, calls.load() as f64 / msgs as f64)
}

/// `rounds` round trips through two channels; every one recorded in nanoseconds.
fn round_trip<C: Channel>(rounds: u64) -> Histogram<u64> {
    let (ping, pong) = (C::create(), C::create());
    let ready = RawValue::<u64>::new(0).unwrap();
    let mut child = {
        let (ping, pong, ready) = (&ping, &pong, &ready);
        Process::spawn(move || {
            ready.store(1);
            let mut out = Vec::with_capacity(MSG);
            for _ in 0..rounds {
                ping.recv(&mut out);
                let m: [u8; MSG] = out.as_slice().try_into().unwrap();
                pong.send(&m);
            }
        })
        .unwrap()
    };
    while ready.load() == 0 {
        std::thread::yield_now();
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut out = Vec::with_capacity(MSG);
    for i in 0..rounds {
        let m = message(0, i);
        let start = Instant::now();
        ping.send(&m);
        pong.recv(&mut out);
        hist.record(start.elapsed().as_nanos() as u64).unwrap();
        assert_eq!(check(&out), (0, i));
    }
    assert_eq!(child.join().unwrap(), 0);
    hist
}

fn criterion_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_1to1");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(10);
    g.bench_function("queue", |b| {
        b.iter_custom(|n| throughput::<QueueCh>(1, 1, n.max(1)).0)
    });
    g.bench_function("raw_ring", |b| {
        b.iter_custom(|n| throughput::<RawCh>(1, 1, n.max(1)).0)
    });
    g.bench_function("pipe", |b| {
        b.iter_custom(|n| throughput::<PipeCh>(1, 1, n.max(1)).0)
    });
    g.finish();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type Tp = fn(u64, u64, u64) -> (Duration, f64);
type Rt = fn(u64) -> Histogram<u64>;

fn ratio_table(msgs: u64, rounds: u64, runs: usize) -> String {
    let tp: [(&str, Tp); 3] = [
        ("queue", throughput::<QueueCh>),
        ("raw_ring", throughput::<RawCh>),
        ("pipe", throughput::<PipeCh>),
    ];
    let rt: [(&str, Rt); 2] = [
        ("queue", round_trip::<QueueCh>),
        ("raw_ring", round_trip::<RawCh>),
    ];
    let shapes = [(1u64, 1u64), (4, 4)];
    // rates[shape][case], syscalls[shape][case], p50s/… per rt case
    let mut rates = vec![vec![Vec::new(); tp.len()]; shapes.len()];
    let mut calls = vec![vec![Vec::new(); tp.len()]; shapes.len()];
    let mut lat: Vec<Vec<[f64; 4]>> = vec![Vec::new(); rt.len()];
    for _ in 0..runs {
        for (s, &(p, c)) in shapes.iter().enumerate() {
            for (k, (_, f)) in tp.iter().enumerate() {
                let (d, sc) = f(p, c, msgs);
                rates[s][k].push(msgs as f64 / d.as_secs_f64() / 1e6);
                // A pipe message is a write(2) and a read(2) besides any sleep.
                calls[s][k].push(if tp[k].0 == "pipe" { sc + 2.0 } else { sc });
            }
        }
        for (k, (_, f)) in rt.iter().enumerate() {
            let h = f(rounds);
            lat[k].push([
                h.value_at_quantile(0.5) as f64,
                h.value_at_quantile(0.99) as f64,
                h.value_at_quantile(0.999) as f64,
                h.max() as f64,
            ]);
        }
    }
    let mut out = format!(
        "64-byte messages, {msgs} per throughput run, {rounds} round trips per latency run, \
         median of {runs} interleaved runs\n\n"
    );
    let mut t = Table::new([
        "shape",
        "case",
        "M msgs/s",
        "vs raw_ring",
        "vs pipe",
        "syscalls/msg",
    ])
    .numeric();
    for (s, &(p, c)) in shapes.iter().enumerate() {
        let med: Vec<f64> = rates[s].iter().map(|v| median(v.clone())).collect();
        for (k, (name, _)) in tp.iter().enumerate() {
            t.row([
                format!("{p}→{c}"),
                name.to_string(),
                format!("{:.2}", med[k]),
                format!("{:.3}", med[k] / med[1]),
                format!("{:.3}", med[k] / med[2]),
                format!("{:.4}", median(calls[s][k].clone())),
            ]);
        }
    }
    out.push_str(&t.render_markdown());
    let mut t = Table::new([
        "round trip",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "max ns",
        "p50 vs raw_ring",
    ])
    .numeric();
    let meds: Vec<[f64; 4]> = lat
        .iter()
        .map(|runs| std::array::from_fn(|q| median(runs.iter().map(|r| r[q]).collect())))
        .collect();
    for (k, (name, _)) in rt.iter().enumerate() {
        let m = meds[k];
        t.row([
            name.to_string(),
            format!("{:.0}", m[0]),
            format!("{:.0}", m[1]),
            format!("{:.0}", m[2]),
            format!("{:.0}", m[3]),
            format!("{:.3}", m[0] / meds[1][0]),
        ]);
    }
    out.push('\n');
    out.push_str(&t.render_markdown());
    out.push_str(
        "\nTargets (issue 13): 1→1 queue ≥ 0.4× raw_ring and ≥ 1.2× pipe; round-trip p50 ≤ 2× \
         raw_ring's.\n",
    );
    out
}

fn main() {
    let mode = mode();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
    match mode {
        Mode::Bench => {
            let table = ratio_table(TABLE_MSGS, TABLE_ROUND_TRIPS, TABLE_RUNS);
            println!();
            print!("{table}");
            write_result(
                "queue.md",
                "Queue: throughput and round trips between processes",
                "cargo bench --bench queue",
                &table,
            );
        }
        Mode::Test => {
            print!("{}", ratio_table(TEST_MSGS, 200, 1));
        }
        Mode::Other => {}
    }
}
