//! The checker on histories shaped like porcupine's test data, with one thread and with
//! every core, against the times porcupine reports for its own data on this machine
//! (issue 18): median 0.23 ms over its Jepsen etcd logs, 235 ms for its worst etcd log,
//! 232 ms for its 50-client kv log.
//!
//! | set          | histories                                                            |
//! |--------------|----------------------------------------------------------------------|
//! | `etcd`       | 100 cas-register histories (`lin::sim::cas_register_history`) the size of porcupine's Jepsen etcd logs: 5 client slots, values 0..5, read/write/cas in thirds, 80–90 operations of which 20 never return (timed out, pending to the end); in every other one the last completed read is changed to a value that makes the history illegal, if one does (most of porcupine's etcd logs are illegal; with 20 pending writes most reads can be explained, so only 8 of the 50 become illegal, which the summary prints) |
//! | `kv_c50`     | one kv history (`lin::sim::kv_history`): 50 clients, 10 keys, 2 000 get/put/append operations |
//!
//! Each history is checked once before timing, to be sure of its
//! verdict. Porcupine's `CheckEvents` gives a verdict only, so every timing runs the
//! checker with minimisation off. criterion measures each set with `threads(1)` and
//! `threads(all)`. Then (with
//! `--bench`) `main` times every history on its own, 1 and all threads interleaved, 5
//! runs each, and prints the median and the maximum per-history time of the etcd set and
//! the kv time, each as a ratio to porcupine's figure (the target: ≤ 0.1×).
//! The porcupine figures were measured on this machine on its own data, not in this run;
//! the ratios compare different histories of the same shape, so read them as orders of
//! magnitude.

use criterion::Criterion;
use procshare_harness::lin::sim::{cas_register_history, kv_history, SimConfig};
use procshare_harness::lin::{Checker, History, KeyValue, Model, Operation, Register};
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Porcupine's reported times (ms): median etcd log, worst etcd log, 50-client kv log.
const PORCUPINE_MEDIAN_MS: f64 = 0.23;
const PORCUPINE_WORST_ETCD_MS: f64 = 235.0;
const PORCUPINE_KV50_MS: f64 = 232.0;

/// The etcd-shaped set and each history's verdict (true: linearizable).
fn etcd_set() -> Vec<(History, bool)> {
    (0..100u64)
        .map(|seed| {
            let h = cas_register_history(
                SimConfig {
                    clients: 5,
                    ops: 80 + (seed as usize % 11),
                    keys: 0,
                    crashes: 20,
                    seed,
                },
                5,
            );
            if seed % 2 == 0 {
                return (h, true);
            }
            // Make the last completed read illegal, if some value does.
            let mut ops: Vec<Operation> = h.clone().into_iter().collect();
            let Some(i) = ops
                .iter()
                .rposition(|o| o.op == "read" && !o.is_indeterminate())
            else {
                return (h, true);
            };
            for v in 0..5 {
                ops[i].output = Some(json!(v));
                let bad = History::from(ops.clone());
                let o = checker(1).minimize(false).check(&Register::default(), &bad);
                if o.is_ok_and(|o| o.is_illegal()) {
                    return (bad, false);
                }
            }
            (h, true)
        })
        .collect()
}

fn kv_c50() -> History {
    kv_history(SimConfig {
        clients: 50,
        ops: 2000,
        keys: 10,
        crashes: 0,
        seed: 1,
    })
}

fn all_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn checker(threads: usize) -> Checker {
    Checker::new().threads(threads)
}

fn verify<M: Model>(model: &M, h: &History, legal: bool, what: &str) {
    let o = checker(1)
        .minimize(false)
        .check(model, h)
        .expect("valid history");
    assert_eq!(o.is_ok(), legal, "{what}: {o}");
}

fn bench(c: &mut Criterion, etcd: &[(History, bool)], kv: &History) {
    let mut g = c.benchmark_group("lin_porcupine");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let register = Register::default();
    for threads in [1, all_threads()] {
        g.bench_function(format!("etcd_100_histories_{threads}threads"), |b| {
            b.iter(|| {
                for (h, _) in etcd {
                    let c = checker(threads).minimize(false);
                    black_box(c.check(&register, black_box(h)).expect("valid"));
                }
            })
        });
        g.bench_function(format!("kv_c50_{threads}threads"), |b| {
            b.iter(|| {
                let c = checker(threads).minimize(false);
                c.check(&KeyValue, black_box(kv)).expect("valid")
            })
        });
    }
    g.finish();
}

/// Median of `runs` timings of checking `h` with each checker, interleaved.
fn medians<M: Model>(model: &M, h: &History, checkers: &[Checker], runs: usize) -> Vec<f64> {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); checkers.len()];
    for _ in 0..runs {
        for (t, c) in checkers.iter().enumerate() {
            let start = Instant::now();
            black_box(c.check(model, h).expect("valid"));
            times[t].push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times
        .into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect()
}

fn summary(etcd: &[(History, bool)], kv: &History) {
    let all = all_threads();
    // Verdict only, as porcupine's CheckEvents; 1 and all threads.
    let configs: Vec<(String, Checker)> = vec![
        ("1".into(), checker(1).minimize(false)),
        (format!("{all}"), checker(all).minimize(false)),
    ];
    let checkers: Vec<Checker> = configs.iter().map(|c| c.1.clone()).collect();
    let per: Vec<Vec<f64>> = etcd
        .iter()
        .map(|(h, _)| medians(&Register::default(), h, &checkers, 5))
        .collect();
    let kv_ms = medians(&KeyValue, kv, &checkers, 5);
    let illegal = etcd.iter().filter(|(_, legal)| !legal).count();
    println!();
    println!(
        "per-history check time (median of 5 interleaved runs); etcd set: {} histories, {illegal} illegal",
        etcd.len()
    );
    println!("| case | threads | ms | porcupine ms | ratio |");
    println!("|------|---------|---:|-------------:|------:|");
    for (t, (label, _)) in configs.iter().enumerate() {
        let mut col: Vec<f64> = per.iter().map(|p| p[t]).collect();
        col.sort_by(f64::total_cmp);
        let median = col[col.len() / 2];
        let worst = col[col.len() - 1];
        println!(
            "| etcd-shaped, median | {label} | {median:.4} | {PORCUPINE_MEDIAN_MS} | {:.3} |",
            median / PORCUPINE_MEDIAN_MS
        );
        println!(
            "| etcd-shaped, worst | {label} | {worst:.3} | {PORCUPINE_WORST_ETCD_MS} | {:.4} |",
            worst / PORCUPINE_WORST_ETCD_MS
        );
        println!(
            "| kv, 50 clients, 10 keys, 2000 ops | {label} | {:.3} | {PORCUPINE_KV50_MS} | {:.4} |",
            kv_ms[t],
            kv_ms[t] / PORCUPINE_KV50_MS
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let etcd = etcd_set();
    for (i, (h, legal)) in etcd.iter().enumerate() {
        verify(
            &Register::default(),
            h,
            *legal,
            &format!("etcd history {i}"),
        );
    }
    let kv = kv_c50();
    verify(&KeyValue, &kv, true, "kv c50");

    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &etcd, &kv);
    criterion.final_summary();
    if has("--bench") && !has("--test") && !has("--list") {
        summary(&etcd, &kv);
    }
}
