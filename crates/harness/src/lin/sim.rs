//! Deterministic simulated histories of *correct* concurrent objects, for benchmarks and
//! for testing the checker itself (every history generated here is linearizable, since a
//! real sequential object produced it).
//!
//! The simulation runs `clients` client slots on one logical clock. At each tick a
//! pseudo-random slot (SplitMix64 from `seed`) takes its next step:
//!
//! 1. idle → *call* a random operation (call time = now);
//! 2. called → *apply* it to the sequential object (the linearization point, between call
//!    and return; no clock tick);
//! 3. applied → *return* its output (return time = now).
//!
//! so operations of different slots overlap freely. A crash turns an operation
//! indeterminate: it is killed either before its apply (it never takes effect) or after it
//! (it took effect, nobody saw the answer); the slot then continues under a new client id,
//! as a restarted process would.

use super::history::{History, Operation};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// Concurrent client slots (at least 1).
    pub clients: u32,
    /// Operations to generate.
    pub ops: usize,
    /// Keys (objects) to spread operations over; 0 means unkeyed.
    pub keys: usize,
    /// How many operations crash (spread evenly over the run; at most `ops`).
    pub crashes: usize,
    /// PRNG seed.
    pub seed: u64,
}

/// SplitMix64 (Steele, Lea & Flood), enough for reproducible workloads.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

enum Phase {
    Idle,
    Called(usize),
    Applied(usize, Value),
}

/// Runs the simulation. `gen` makes a call `(op, key, input)`; `apply` runs it on the
/// sequential object and returns the output.
fn simulate(
    cfg: SimConfig,
    mut gen: impl FnMut(&mut Rng) -> (&'static str, Option<String>, Value),
    mut apply: impl FnMut(&str, Option<&str>, &Value) -> Value,
) -> History {
    let mut rng = Rng(cfg.seed);
    let slots = cfg.clients.max(1);
    let mut ids: Vec<u32> = (0..slots).collect();
    let mut next_id = slots;
    let mut phases: Vec<Phase> = (0..slots).map(|_| Phase::Idle).collect();
    let mut ops: Vec<Operation> = Vec::with_capacity(cfg.ops);
    let crashes = cfg.crashes.min(cfg.ops);
    // Operations 0, every, 2 * every, ... crash.
    let every = cfg.ops.checked_div(crashes).unwrap_or(0);
    let crashing = |i: usize| every > 0 && i % every == 0 && i / every < crashes;
    let mut now = 0u64;
    let mut in_flight = 0usize;
    while ops.len() < cfg.ops || in_flight > 0 {
        let s = rng.below(u64::from(slots)) as usize;
        match std::mem::replace(&mut phases[s], Phase::Idle) {
            Phase::Idle if ops.len() < cfg.ops => {
                let (op, key, input) = gen(&mut rng);
                let mut o = Operation::indeterminate(ids[s], op, input, now);
                o.key = key;
                now += 1;
                phases[s] = Phase::Called(ops.len());
                ops.push(o);
                in_flight += 1;
            }
            Phase::Idle => {}
            Phase::Called(i) if crashing(i) && rng.below(2) == 0 => {
                // Killed before taking effect.
                in_flight -= 1;
                ids[s] = next_id;
                next_id += 1;
            }
            Phase::Called(i) => {
                let o = &ops[i];
                let out = apply(&o.op, o.key.as_deref(), &o.input);
                phases[s] = Phase::Applied(i, out);
            }
            Phase::Applied(i, out) => {
                in_flight -= 1;
                if crashing(i) {
                    // Took effect, but nobody saw the answer.
                    ids[s] = next_id;
                    next_id += 1;
                } else {
                    ops[i].ret = Some(now);
                    ops[i].output = Some(out);
                    now += 1;
                }
            }
        }
    }
    History::from(ops)
}

fn key_of(rng: &mut Rng, keys: usize) -> Option<String> {
    (keys > 0).then(|| format!("k{}", rng.below(keys as u64)))
}

/// A history of a correct [`Map`](super::Map): 50% `get`, 40% `put` (of fresh values),
/// 10% `remove`, over keys `k0`, `k1`, ... (`cfg.keys` of them, at least one).
pub fn map_history(cfg: SimConfig) -> History {
    let keys = cfg.keys.max(1);
    let mut fresh = 0u64;
    let mut map: BTreeMap<String, Value> = BTreeMap::new();
    simulate(
        cfg,
        |rng| {
            let key = key_of(rng, keys);
            match rng.below(10) {
                0..=4 => ("get", key, Value::Null),
                5..=8 => {
                    fresh += 1;
                    ("put", key, json!(fresh))
                }
                _ => ("remove", key, Value::Null),
            }
        },
        |op, key, input| {
            let key = key.unwrap_or_default().to_owned();
            match op {
                "get" => map.get(&key).cloned().unwrap_or(Value::Null),
                "put" => {
                    map.insert(key, input.clone());
                    Value::Null
                }
                _ => {
                    map.remove(&key);
                    Value::Null
                }
            }
        },
    )
}

/// A history of correct [`Register`](super::Register)s starting at 0: 50% `read`, 35%
/// `write` (of fresh values), 15% `cas` (expecting the current value or a stale one, to a
/// fresh value). Unkeyed if `cfg.keys` is 0.
pub fn register_history(cfg: SimConfig) -> History {
    let mut fresh = 0i64;
    let mut current: BTreeMap<Option<String>, Value> = BTreeMap::new();
    let mut recent: VecDeque<i64> = VecDeque::from([0]);
    simulate(
        cfg,
        |rng| {
            let key = key_of(rng, cfg.keys);
            match rng.below(20) {
                0..=9 => ("read", key, Value::Null),
                10..=16 => {
                    fresh += 1;
                    recent.push_back(fresh);
                    if recent.len() > 4 {
                        recent.pop_front();
                    }
                    ("write", key, json!(fresh))
                }
                _ => {
                    let expected = recent[rng.below(recent.len() as u64) as usize];
                    fresh += 1;
                    ("cas", key, json!([expected, fresh]))
                }
            }
        },
        |op, key, input| {
            let cell = current.entry(key.map(str::to_owned)).or_insert(json!(0));
            match op {
                "read" => cell.clone(),
                "write" => {
                    *cell = input.clone();
                    Value::Null
                }
                _ => {
                    let ok = *cell == input[0];
                    if ok {
                        *cell = input[1].clone();
                    }
                    json!(ok)
                }
            }
        },
    )
}

/// A history shaped like Jepsen's etcd register tests (porcupine's `test_data/jepsen`):
/// one unkeyed [`Register`](super::Register) starting at 0, a third each of `read`,
/// `write(v)` and `cas([old, new])` with `v`, `old`, `new` drawn from `0..values` (a small
/// domain, so cas succeeds often and states repeat), and `cfg.crashes` operations that
/// never return (Jepsen's timed-out `:info` operations, pending to the end of the history;
/// each crashed client is replaced by a new one, as Jepsen replaces a process).
pub fn cas_register_history(cfg: SimConfig, values: u64) -> History {
    let values = values.max(1);
    let mut current = json!(0);
    simulate(
        SimConfig { keys: 0, ..cfg },
        |rng| match rng.below(3) {
            0 => ("read", None, Value::Null),
            1 => ("write", None, json!(rng.below(values))),
            _ => ("cas", None, json!([rng.below(values), rng.below(values)])),
        },
        |op, _, input| match op {
            "read" => current.clone(),
            "write" => {
                current = input.clone();
                Value::Null
            }
            _ => {
                let ok = current == input[0];
                if ok {
                    current = input[1].clone();
                }
                json!(ok)
            }
        },
    )
}

/// A history of a correct [`KeyValue`](super::KeyValue) store shaped like porcupine's
/// `test_data/kv` logs: 50% `get`, 10% `put`, 40% `append` of fresh strings
/// (`"x N y"`), over keys `"0"`, `"1"`, ... (`cfg.keys` of them, at least one). Values
/// grow long, as appends accumulate.
pub fn kv_history(cfg: SimConfig) -> History {
    let keys = cfg.keys.max(1) as u64;
    let mut fresh = 0u64;
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    simulate(
        cfg,
        |rng| {
            let key = Some(rng.below(keys).to_string());
            match rng.below(10) {
                0..=4 => ("get", key, Value::Null),
                5 => {
                    fresh += 1;
                    ("put", key, json!(format!("x {fresh} y")))
                }
                _ => {
                    fresh += 1;
                    ("append", key, json!(format!("x {fresh} y")))
                }
            }
        },
        |op, key, input| {
            let value = store.entry(key.unwrap_or_default().to_owned()).or_default();
            match op {
                "get" => json!(value.clone()),
                "put" => {
                    *value = input.as_str().unwrap_or_default().to_owned();
                    Value::Null
                }
                _ => {
                    value.push_str(input.as_str().unwrap_or_default());
                    Value::Null
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::{check, Map, Register};
    use super::*;

    #[test]
    fn deterministic() {
        let cfg = SimConfig {
            clients: 3,
            ops: 200,
            keys: 5,
            crashes: 10,
            seed: 7,
        };
        assert_eq!(map_history(cfg), map_history(cfg));
        assert_ne!(map_history(cfg), map_history(SimConfig { seed: 8, ..cfg }));
    }

    #[test]
    fn shape() {
        let cfg = SimConfig {
            clients: 4,
            ops: 1000,
            keys: 0,
            crashes: 20,
            seed: 1,
        };
        let h = register_history(cfg);
        assert_eq!(h.len(), 1000);
        assert_eq!(h.ops().iter().filter(|o| o.is_indeterminate()).count(), 20);
        h.validate().unwrap();
        // Operations overlap.
        let overlapping = h
            .ops()
            .windows(2)
            .filter(|w| w[0].ret.is_none_or(|r| r > w[1].call))
            .count();
        assert!(overlapping > 100, "{overlapping}");
    }

    #[test]
    fn simulated_histories_are_linearizable() {
        for seed in 0..20 {
            let cfg = SimConfig {
                clients: 4,
                ops: 300,
                keys: 10,
                crashes: 15,
                seed,
            };
            let o = check(&Map, &map_history(cfg)).unwrap();
            assert!(o.is_ok(), "map seed {seed}: {o}");
            let o = check(
                &Register::default(),
                &register_history(SimConfig {
                    keys: 0,
                    ops: 100,
                    ..cfg
                }),
            )
            .unwrap();
            assert!(o.is_ok(), "register seed {seed}: {o}");
        }
    }

    #[test]
    fn porcupine_shaped_histories_are_linearizable() {
        use super::super::KeyValue;
        for seed in 0..5 {
            let cfg = SimConfig {
                clients: 5,
                ops: 85,
                keys: 0,
                crashes: 20,
                seed,
            };
            let h = cas_register_history(cfg, 5);
            assert_eq!(h.ops().iter().filter(|o| o.is_indeterminate()).count(), 20);
            let o = check(&Register::default(), &h).unwrap();
            assert!(o.is_ok(), "cas register seed {seed}: {o}");
            let cfg = SimConfig {
                clients: 50,
                ops: 300,
                keys: 10,
                crashes: 0,
                seed,
            };
            let h = kv_history(cfg);
            assert!(h.ops().iter().any(|o| o.op == "append"));
            let o = check(&KeyValue, &h).unwrap();
            assert!(o.is_ok(), "kv seed {seed}: {o}");
            // Teeth: a get that misses the last append before it is caught.
            let mut ops: Vec<Operation> = h.into_iter().collect();
            let Some(get) = ops
                .iter_mut()
                .rev()
                .find(|o| o.op == "get" && o.output.as_ref().is_some_and(|v| v != ""))
            else {
                continue;
            };
            get.output = Some(json!("x never y"));
            assert!(check(&KeyValue, &History::from(ops)).unwrap().is_illegal());
        }
    }

    /// The checker has teeth: corrupting one read of a simulated history is caught.
    #[test]
    fn corrupted_read_is_caught() {
        for seed in 0..20 {
            let cfg = SimConfig {
                clients: 4,
                ops: 100,
                keys: 0,
                crashes: 10,
                seed,
            };
            let mut ops: Vec<Operation> = register_history(cfg).into_iter().collect();
            let Some(read) = ops.iter_mut().find(|o| o.op == "read" && o.ret.is_some()) else {
                continue;
            };
            read.output = Some(json!(-1)); // never written
            let o = check(&Register::default(), &History::from(ops)).unwrap();
            let v = o.violation().unwrap_or_else(|| panic!("seed {seed}: {o}"));
            assert_eq!(v.minimal.len(), 1, "seed {seed}: {v}");
        }
    }
}
