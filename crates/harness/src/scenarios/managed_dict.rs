//! Actors share a dict on a Manager server (`procshare-manager`): every recorded history,
//! with the final contents read after the actors are done, is linearizable as a map.
//!
//! The manager is started in `setup` (its server is a process the controller does not
//! schedule). In every case each actor connects afresh (`Manager::connect`, then
//! `attach` to the dict by its id), so every case opens the same connections and passes
//! the same schedule points whatever the actor process did before (pooled actors, or
//! actors forked anew after a kill); then it calls `insert`, `get` and `remove` through
//! its `DictProxy` and records each call. Requests take the local fast path's rings (the
//! default, checked: an actor on the socket fails the case) or, with
//! [`ManagedDict::over_socket`], the socket. Either way a request passes its schedule
//! point before it is sent, and the reply's point comes after the reply has arrived (see
//! `procshare-manager`'s `link.rs` and `fastpath.rs`; the rings' own steps are no points,
//! the server not being scheduled), so a request is applied entirely within one step of
//! its actor: replays are exact, and a kill lands before a request is sent or after its
//! reply came (its operation is then indeterminate). In the janitor, the property reads every key once more (operations of
//! an extra client, after every recorded event) and checks the whole history with the
//! `lin` checker's [`Map`](crate::lin::Map) model, key by key.
//!
//! The control ([`ManagedDict::stale_reads`]) answers `get` from a per-actor cache of its
//! own last writes, as a client-side cache would: a read that misses another actor's
//! later write is found and reported as not linearizable.

use crate::lin::{self, History, Operation};
use crate::{lin_history, Event, Recorder, Scenario};
use procshare_manager::{DictProxy, Manager, TransportKind};
use std::collections::HashMap;

const OP_PUT: u32 = 1;
const OP_GET: u32 = 2;
const OP_REMOVE: u32 = 3;
/// The keys the actors share.
const KEYS: u32 = 2;
/// Recorded output of a `get` that found nothing.
const ABSENT: u64 = u64::MAX;

/// Shared state: the manager (its server process) and the dict.
pub struct DictState {
    manager: Manager,
    dict: DictProxy<u32, u64>,
    key: Vec<u8>,
}

impl std::fmt::Debug for DictState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DictState")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

/// `actors` actors doing puts, gets and removes on two keys of one managed dict.
#[derive(Debug, Clone)]
pub struct ManagedDict {
    actors: usize,
    kills: u32,
    stale: bool,
    socket: bool,
}

impl ManagedDict {
    /// `actors` actors (2 or 3), no kills.
    pub fn new(actors: usize) -> Self {
        ManagedDict {
            actors,
            kills: 0,
            stale: false,
            socket: false,
        }
    }

    /// Allow `kills` SIGKILLs of actors.
    pub fn with_kills(mut self, kills: u32) -> Self {
        self.kills = kills;
        self
    }

    /// The actors' requests go over the socket (`fast_path(false)`), not the local fast
    /// path's shared-memory rings (the default).
    pub fn over_socket(mut self) -> Self {
        self.socket = true;
        self
    }

    /// The broken control: each actor answers `get` from its own cache of what it wrote.
    pub fn stale_reads(mut self) -> Self {
        self.stale = true;
        self
    }

    /// Actor `a`'s script: (op, key, value to put).
    fn script(a: usize) -> [(u32, u32, u64); 4] {
        let v = |i: u64| (a as u64 + 1) * 10 + i;
        let (k, other) = ((a as u32) % KEYS, (a as u32 + 1) % KEYS);
        [
            (OP_PUT, k, v(1)),
            (OP_GET, other, 0),
            (OP_PUT, other, v(2)),
            (if a % 2 == 0 { OP_GET } else { OP_REMOVE }, k, 0),
        ]
    }
}

impl Scenario for ManagedDict {
    type State = DictState;

    fn name(&self) -> String {
        let kills = if self.kills > 0 {
            format!("+kill{}", self.kills)
        } else {
            String::new()
        };
        let stale = if self.stale { "/stale-reads" } else { "" };
        let socket = if self.socket { "/socket" } else { "" };
        format!("managed-dict-{}{kills}{stale}{socket}", self.actors)
    }

    fn actors(&self) -> usize {
        self.actors
    }

    fn max_kills(&self) -> u32 {
        self.kills
    }

    fn setup(&self) -> DictState {
        let manager = Manager::start().expect("start a manager");
        let dict = manager.dict().expect("create the dict");
        let key = manager.authkey().to_vec();
        DictState { manager, dict, key }
    }

    fn reset(&self, state: &DictState) {
        state.dict.clear().expect("clear the dict");
    }

    fn op_name(&self, op: u32) -> String {
        match op {
            OP_PUT => "put".into(),
            OP_GET => "get".into(),
            OP_REMOVE => "remove".into(),
            other => format!("op{other}"),
        }
    }

    fn run(&self, state: &DictState, actor: usize, rec: &Recorder) -> Result<(), String> {
        let mut cache: HashMap<u32, u64> = HashMap::new();
        let m = Manager::builder()
            .fast_path(!self.socket)
            .connect(state.manager.address().clone(), &state.key)
            .map_err(|e| e.to_string())?;
        let want = if self.socket {
            TransportKind::Socket
        } else {
            TransportKind::SharedMemory
        };
        let got = m.transport().map_err(|e| e.to_string())?;
        if got != want {
            return Err(format!("requests go over {got:?}, not {want:?}"));
        }
        let dict: DictProxy<u32, u64> = m.attach(state.dict.id()).map_err(|e| e.to_string())?;
        for (op, key, value) in Self::script(actor) {
            let id = rec.invoke(op, key, value);
            let out = match op {
                OP_PUT => {
                    dict.insert(key, value).map_err(|e| e.to_string())?;
                    cache.insert(key, value);
                    0
                }
                OP_GET => match cache.get(&key).filter(|_| self.stale) {
                    Some(&v) => v,
                    None => dict.get(&key).map_err(|e| e.to_string())?.unwrap_or(ABSENT),
                },
                _ => {
                    dict.remove(&key).map_err(|e| e.to_string())?;
                    cache.remove(&key);
                    0
                }
            };
            rec.ret(id, out);
        }
        Ok(())
    }

    fn check(&self, state: &DictState, history: &[Event], _killed: &[usize]) -> Result<(), String> {
        let json = |e: &Event| match (e.op, e.is_return) {
            (OP_PUT, false) => serde_json::json!(e.value),
            (OP_GET, true) if e.value == ABSENT => serde_json::Value::Null,
            (OP_GET, true) => serde_json::json!(e.value),
            _ => serde_json::Value::Null,
        };
        let mut ops: Vec<Operation> = lin_history(history, |op| self.op_name(op), json, json)
            .ops()
            .to_vec();
        // The final contents, read after everything recorded, by one more client.
        let mut clock = history.iter().map(|e| e.clock).max().map_or(0, |c| c + 1);
        for key in 0..KEYS {
            let v = state.dict.get(&key).map_err(|e| e.to_string())?;
            let out = v.map_or(serde_json::Value::Null, |v| serde_json::json!(v));
            ops.push(
                Operation::completed(
                    self.actors as u32,
                    "get",
                    serde_json::Value::Null,
                    clock,
                    clock + 1,
                    out,
                )
                .with_key(key.to_string()),
            );
            clock += 2;
        }
        let mut full = History::new();
        ops.into_iter().for_each(|op| full.push(op));
        match lin::check(&lin::Map, &full) {
            Ok(lin::Outcome::Ok) => Ok(()),
            Ok(lin::Outcome::Illegal(v)) => Err(crate::timeline::not_linearizable(
                &lin::Map,
                &v,
                "a map",
                &self.name(),
            )),
            Ok(lin::Outcome::Unknown(u)) => Err(format!("linearizability unknown: {u:?}")),
            Err(e) => Err(format!("history rejected by the checker: {e}")),
        }
    }
}
