//! The objects a manager server holds, and their methods.
//!
//! Data objects (dict, list, namespace, value, custom types) live behind one
//! `std::sync::Mutex` each: a request takes it, checks its whole input, then applies
//! (never half: every check that can fail runs before the first mutation), so any
//! interleaving of requests is a sequence of whole requests — a linearizable object.
//! Synchronisation objects are procshare's own (`Lock`, `RLock`, …) in the server's
//! memory, used by the server thread that serves each client connection; their blocking
//! calls wait in slices of [`SLICE`] so that a waiter whose client died gives up.
//!
//! A dict keeps Python's insertion order (an index from key to sequence number and the
//! entries by sequence number). Nested proxies inside stored values are references held
//! by the container: they are taken before the value is stored and dropped after it is
//! displaced (see `server.rs`).

use crate::custom::{CallError, DynExposed};
use crate::error::{RemoteError, RemoteKind, SyncCode};
use crate::wire::{repr, repr_items, type_error, HashableValue, Value};
use procshare_sync::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore, SyncError,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one slice of a blocking wait lasts before the server checks its client.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// A dict in insertion order.
#[derive(Debug, Default)]
pub(crate) struct ODict {
    index: BTreeMap<HashableValue, u64>,
    entries: BTreeMap<u64, (HashableValue, Value)>,
    next: u64,
}

impl ODict {
    pub(crate) fn get(&self, k: &HashableValue) -> Option<&Value> {
        self.index.get(k).map(|seq| &self.entries[seq].1)
    }

    /// Insert or replace (keeping the key's place); the old value.
    pub(crate) fn insert(&mut self, k: HashableValue, v: Value) -> Option<Value> {
        if let Some(seq) = self.index.get(&k) {
            let slot = self.entries.get_mut(seq).expect("index and entries agree");
            return Some(std::mem::replace(&mut slot.1, v));
        }
        let seq = self.next;
        self.next += 1;
        self.index.insert(k.clone(), seq);
        self.entries.insert(seq, (k, v));
        None
    }

    pub(crate) fn remove(&mut self, k: &HashableValue) -> Option<Value> {
        let seq = self.index.remove(k)?;
        self.entries.remove(&seq).map(|(_, v)| v)
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(HashableValue, Value)> {
        self.entries.values()
    }

    pub(crate) fn drain(&mut self) -> Vec<Value> {
        self.index.clear();
        std::mem::take(&mut self.entries)
            .into_values()
            .map(|(_, v)| v)
            .collect()
    }
}

/// A plain data object.
#[derive(Debug)]
pub(crate) enum Data {
    Dict(ODict),
    List(Vec<Value>),
    Namespace(ODict),
    Value(Value),
}

/// The two semaphores, behind one face.
pub(crate) trait Sem: Send + Sync {
    fn try_acquire(&self) -> bool;
    fn acquire_timeout(&self, d: Duration) -> bool;
    fn release(&self) -> Result<(), SyncError>;
    fn value(&self) -> u32;
}

macro_rules! sem {
    ($t:ty) => {
        impl Sem for $t {
            fn try_acquire(&self) -> bool {
                <$t>::try_acquire(self)
            }
            fn acquire_timeout(&self, d: Duration) -> bool {
                <$t>::acquire_timeout(self, d)
            }
            fn release(&self) -> Result<(), SyncError> {
                <$t>::release(self)
            }
            fn value(&self) -> u32 {
                <$t>::value(self)
            }
        }
    };
}
sem!(Semaphore);
sem!(BoundedSemaphore);

/// A queue on the server (its ring lives in the server's shared heap; only the server's
/// threads touch it).
pub(crate) enum ServerQueue {
    Plain(procshare_queue::Queue<()>),
    Joinable(procshare_queue::JoinableQueue<()>),
}

impl ServerQueue {
    pub(crate) fn ring(&self) -> &procshare_queue::ByteRing {
        match self {
            ServerQueue::Plain(q) => q.bytes(),
            ServerQueue::Joinable(q) => q.bytes(),
        }
    }
}

/// One object on the server.
pub(crate) enum Object {
    Data(Mutex<Data>),
    Custom(Mutex<Box<dyn DynExposed>>),
    Lock(Lock),
    RLock(RLock),
    Semaphore(Box<dyn Sem>),
    Condition(Box<Condition>),
    Event(Event),
    Barrier(Box<Barrier>),
    Queue(Box<ServerQueue>),
}

impl Object {
    /// Every value it stores (for releasing nested proxies when it is freed).
    pub(crate) fn drain_values(&self) -> Vec<Value> {
        match self {
            Object::Data(d) => match &mut *d.lock().unwrap_or_else(|p| p.into_inner()) {
                Data::Dict(m) | Data::Namespace(m) => m.drain(),
                Data::List(l) => std::mem::take(l),
                Data::Value(v) => vec![std::mem::replace(v, Value::None)],
            },
            Object::Queue(q) => {
                let mut out = Vec::new();
                let mut buf = Vec::new();
                while q.ring().try_get_bytes_into(&mut buf).is_ok() {
                    if let Ok(v) = crate::wire::unpickle_value(&buf) {
                        out.push(v);
                    }
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

/// The arguments of one call, checked one by one.
pub(crate) struct Args<'a> {
    items: Vec<Value>,
    /// Borrowed from the request frame.
    method: &'a str,
}

impl<'a> Args<'a> {
    /// Normalise the pickled argument value: a tuple or list is the arguments, `None` is
    /// none, anything else is one argument.
    pub(crate) fn new(method: &'a str, v: Value) -> Args<'a> {
        let items = match v {
            Value::Tuple(v) | Value::List(v) => v,
            Value::None => Vec::new(),
            other => vec![other],
        };
        Args { items, method }
    }

    pub(crate) fn method_name(&self) -> &'a str {
        self.method
    }

    pub(crate) fn items(&self) -> &[Value] {
        &self.items
    }

    pub(crate) fn into_value(self) -> Value {
        Value::Tuple(self.items)
    }

    /// Exactly `n` arguments, or a type error.
    pub(crate) fn take(self, n: usize) -> Result<Vec<Value>, RemoteError> {
        if self.items.len() != n {
            return Err(type_error(format!(
                "{}() takes {n} argument(s), {} given",
                self.method,
                self.items.len()
            )));
        }
        Ok(self.items)
    }

    pub(crate) fn one(self) -> Result<Value, RemoteError> {
        Ok(self.take(1)?.pop().expect("one argument"))
    }

    pub(crate) fn two(self) -> Result<(Value, Value), RemoteError> {
        let mut v = self.take(2)?;
        let b = v.pop().expect("two");
        let a = v.pop().expect("two");
        Ok((a, b))
    }
}

pub(crate) fn hashable(v: Value) -> Result<HashableValue, RemoteError> {
    v.into_hashable()
        .map_err(|_| type_error("unhashable key (a list, dict or set)"))
}

fn index(v: &Value, len: usize, allow_end: bool) -> Result<usize, RemoteError> {
    let Value::I64(i) = v else {
        return Err(type_error("list index must be an integer"));
    };
    let i = if *i < 0 { *i + len as i64 } else { *i };
    let limit = if allow_end {
        len as i64
    } else {
        len as i64 - 1
    };
    if i < 0 || i > limit {
        return Err(RemoteError::new(
            RemoteKind::IndexError,
            format!("list index {i} out of range (len {len})"),
        ));
    }
    Ok(i as usize)
}

fn opt(v: Option<Value>) -> Value {
    Value::List(v.into_iter().collect())
}

fn not_exposed(typeid: &str, method: &str) -> RemoteError {
    RemoteError::new(
        RemoteKind::NotExposed,
        format!("method {method:?} of {typeid:?} is not exposed"),
    )
}

fn key_error(k: &HashableValue) -> RemoteError {
    let mut s = String::new();
    repr(&k.clone().into_value(), &mut s);
    RemoteError::new(RemoteKind::KeyError, s)
}

fn int(v: usize) -> Value {
    Value::I64(v as i64)
}

/// A whole data request, planned: `stored` are the values about to enter the object
/// (their proxies are referenced first), `displaced` the values that leave it.
pub(crate) struct Outcome {
    pub(crate) result: Value,
    pub(crate) displaced: Vec<Value>,
}

impl Outcome {
    fn of(result: Value) -> Outcome {
        Outcome {
            result,
            displaced: Vec::new(),
        }
    }
}

/// The values a call on a data object stores (before it runs, to reference their
/// proxies). Wrong argument counts are reported by [`call_data`] itself.
pub(crate) fn stored_values<'a>(data: &Data, method: &str, args: &'a [Value]) -> Vec<&'a Value> {
    match (data, method, args) {
        (Data::Dict(_), "insert" | "get_or_insert", [_, v]) => vec![v],
        (Data::Dict(_), "update", [Value::List(items)]) => items
            .iter()
            .filter_map(|it| match it {
                Value::Tuple(kv) | Value::List(kv) if kv.len() == 2 => Some(&kv[1]),
                _ => None,
            })
            .collect(),
        (Data::List(_), "push", [v]) | (Data::List(_), "set" | "insert", [_, v]) => vec![v],
        (Data::List(_), "extend", [Value::List(items)]) => items.iter().collect(),
        (Data::Namespace(_), "set", [_, v]) => vec![v],
        (Data::Value(_), "set", [v]) => vec![v],
        (Data::Value(_), "compare_and_swap", [_, v]) => vec![v],
        _ => Vec::new(),
    }
}

/// Run `method` on a data object. Every check precedes every change.
pub(crate) fn call_data(data: &mut Data, args: Args<'_>) -> Result<Outcome, RemoteError> {
    match data {
        Data::Dict(d) => call_dict(d, args),
        Data::List(l) => call_list(l, args),
        Data::Namespace(n) => call_namespace(n, args),
        Data::Value(v) => call_value(v, args),
    }
}

fn call_dict(d: &mut ODict, args: Args<'_>) -> Result<Outcome, RemoteError> {
    Ok(match args.method_name() {
        "get" => {
            let k = hashable(args.one()?)?;
            Outcome::of(opt(d.get(&k).cloned()))
        }
        "insert" => {
            let (k, v) = args.two()?;
            let old = d.insert(hashable(k)?, v);
            Outcome {
                result: opt(old.clone()),
                displaced: old.into_iter().collect(),
            }
        }
        "remove" => {
            let k = hashable(args.one()?)?;
            let old = d.remove(&k);
            Outcome {
                result: opt(old.clone()),
                displaced: old.into_iter().collect(),
            }
        }
        "getitem" => {
            let k = hashable(args.one()?)?;
            Outcome::of(d.get(&k).cloned().ok_or_else(|| key_error(&k))?)
        }
        "contains_key" => Outcome::of(Value::Bool(d.get(&hashable(args.one()?)?).is_some())),
        "len" => {
            args.take(0)?;
            Outcome::of(int(d.len()))
        }
        "keys" => {
            args.take(0)?;
            Outcome::of(Value::List(
                d.iter().map(|(k, _)| k.clone().into_value()).collect(),
            ))
        }
        "values" => {
            args.take(0)?;
            Outcome::of(Value::List(d.iter().map(|(_, v)| v.clone()).collect()))
        }
        "items" => {
            args.take(0)?;
            Outcome::of(Value::List(
                d.iter()
                    .map(|(k, v)| Value::Tuple(vec![k.clone().into_value(), v.clone()]))
                    .collect(),
            ))
        }
        "update" => {
            let Value::List(items) = args.one()? else {
                return Err(type_error("update() takes a list of (key, value) pairs"));
            };
            // Check every pair before inserting any.
            let mut pairs = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    Value::Tuple(mut kv) | Value::List(mut kv) if kv.len() == 2 => {
                        let v = kv.pop().expect("two");
                        let k = hashable(kv.pop().expect("two"))?;
                        pairs.push((k, v));
                    }
                    _ => return Err(type_error("update() takes (key, value) pairs")),
                }
            }
            let displaced = pairs
                .into_iter()
                .filter_map(|(k, v)| d.insert(k, v))
                .collect();
            Outcome {
                result: Value::None,
                displaced,
            }
        }
        "clear" => {
            args.take(0)?;
            Outcome {
                result: Value::None,
                displaced: d.drain(),
            }
        }
        "get_or_insert" => {
            let (k, v) = args.two()?;
            let k = hashable(k)?;
            match d.get(&k) {
                // The default was not stored: it is "displaced" at once.
                Some(old) => Outcome {
                    result: old.clone(),
                    displaced: vec![v],
                },
                None => {
                    d.insert(k, v.clone());
                    Outcome::of(v)
                }
            }
        }
        "repr" => {
            args.take(0)?;
            let mut s = String::new();
            repr_items(d.iter().map(|(k, v)| (k.clone().into_value(), v)), &mut s);
            Outcome::of(Value::String(s))
        }
        other => return Err(not_exposed("dict", other)),
    })
}

fn call_list(l: &mut Vec<Value>, args: Args<'_>) -> Result<Outcome, RemoteError> {
    Ok(match args.method_name() {
        "push" => {
            l.push(args.one()?);
            Outcome::of(Value::None)
        }
        "get" => {
            let i = index(&args.one()?, l.len(), false)?;
            Outcome::of(l[i].clone())
        }
        "set" => {
            let (i, v) = args.two()?;
            let i = index(&i, l.len(), false)?;
            let old = std::mem::replace(&mut l[i], v);
            Outcome {
                result: Value::None,
                displaced: vec![old],
            }
        }
        "len" => {
            args.take(0)?;
            Outcome::of(int(l.len()))
        }
        "pop" => {
            args.take(0)?;
            let old = l.pop();
            Outcome {
                result: opt(old.clone()),
                displaced: old.into_iter().collect(),
            }
        }
        "extend" => {
            let Value::List(items) = args.one()? else {
                return Err(type_error("extend() takes a list"));
            };
            l.extend(items);
            Outcome::of(Value::None)
        }
        "insert" => {
            let (i, v) = args.two()?;
            let i = index(&i, l.len(), true)?;
            l.insert(i, v);
            Outcome::of(Value::None)
        }
        "remove" => {
            let i = index(&args.one()?, l.len(), false)?;
            let old = l.remove(i);
            Outcome {
                result: old.clone(),
                displaced: vec![old],
            }
        }
        "clear" => {
            args.take(0)?;
            Outcome {
                result: Value::None,
                displaced: std::mem::take(l),
            }
        }
        "to_vec" => {
            args.take(0)?;
            Outcome::of(Value::List(l.clone()))
        }
        "repr" => {
            args.take(0)?;
            let mut s = String::new();
            repr(&Value::List(l.clone()), &mut s);
            Outcome::of(Value::String(s))
        }
        other => return Err(not_exposed("list", other)),
    })
}

fn name(v: Value) -> Result<HashableValue, RemoteError> {
    match v {
        Value::String(s) => Ok(HashableValue::String(s)),
        _ => Err(type_error("attribute name must be a string")),
    }
}

fn call_namespace(n: &mut ODict, args: Args<'_>) -> Result<Outcome, RemoteError> {
    Ok(match args.method_name() {
        "get" => {
            let k = name(args.one()?)?;
            let v = n.get(&k).cloned().ok_or_else(|| {
                RemoteError::new(
                    RemoteKind::KeyError,
                    format!("'Namespace' object has no attribute {}", repr_key(&k)),
                )
            })?;
            Outcome::of(v)
        }
        "set" => {
            let (k, v) = args.two()?;
            let old = n.insert(name(k)?, v);
            Outcome {
                result: Value::None,
                displaced: old.into_iter().collect(),
            }
        }
        "del" => {
            let k = name(args.one()?)?;
            let old = n.remove(&k).ok_or_else(|| key_error(&k))?;
            Outcome {
                result: Value::None,
                displaced: vec![old],
            }
        }
        "names" => {
            args.take(0)?;
            Outcome::of(Value::List(
                n.iter().map(|(k, _)| k.clone().into_value()).collect(),
            ))
        }
        "repr" => {
            args.take(0)?;
            // CPython's Namespace repr: `name=repr` pairs, sorted.
            let mut parts: Vec<String> = n
                .iter()
                .map(|(k, v)| {
                    let HashableValue::String(k) = k else {
                        unreachable!("namespace keys are strings")
                    };
                    let mut s = format!("{k}=");
                    repr(v, &mut s);
                    s
                })
                .collect();
            parts.sort();
            Outcome::of(Value::String(format!("Namespace({})", parts.join(", "))))
        }
        other => return Err(not_exposed("namespace", other)),
    })
}

fn repr_key(k: &HashableValue) -> String {
    let mut s = String::new();
    repr(&k.clone().into_value(), &mut s);
    s
}

fn add(a: &Value, b: &Value) -> Result<Value, RemoteError> {
    match (a, b) {
        (Value::I64(x), Value::I64(y)) => x.checked_add(*y).map(Value::I64).ok_or_else(|| {
            RemoteError::new(RemoteKind::Overflow, format!("{x} + {y} overflows i64"))
        }),
        (Value::F64(x), Value::F64(y)) => Ok(Value::F64(x + y)),
        (Value::I64(x), Value::F64(y)) => Ok(Value::F64(*x as f64 + y)),
        (Value::F64(x), Value::I64(y)) => Ok(Value::F64(x + *y as f64)),
        _ => Err(type_error(
            "fetch_add() needs a number stored and a number added",
        )),
    }
}

fn call_value(v: &mut Value, args: Args<'_>) -> Result<Outcome, RemoteError> {
    Ok(match args.method_name() {
        "get" => {
            args.take(0)?;
            Outcome::of(v.clone())
        }
        "set" => {
            let new = args.one()?;
            let old = std::mem::replace(v, new);
            Outcome {
                result: Value::None,
                displaced: vec![old],
            }
        }
        "fetch_add" => {
            let d = args.one()?;
            let new = add(v, &d)?;
            Outcome::of(std::mem::replace(v, new))
        }
        "compare_and_swap" => {
            let (expected, new) = args.two()?;
            if *v == expected {
                let old = std::mem::replace(v, new);
                Outcome {
                    result: old.clone(),
                    displaced: vec![old],
                }
            } else {
                // Not stored: the new value is dropped at once.
                Outcome {
                    result: v.clone(),
                    displaced: vec![new],
                }
            }
        }
        "repr" => {
            args.take(0)?;
            let mut s = String::new();
            repr(v, &mut s);
            Outcome::of(Value::String(s))
        }
        other => return Err(not_exposed("value", other)),
    })
}

/// Call a custom object's method (the exposed list is checked first).
pub(crate) fn call_custom(
    obj: &mut dyn DynExposed,
    method: &str,
    args: Args<'_>,
) -> Result<Value, RemoteError> {
    let typeid = obj.typeid();
    if !obj.exposed().contains(&method) {
        return Err(not_exposed(typeid, method));
    }
    obj.call(method, args.into_value()).map_err(|e| match e {
        CallError::NoSuchMethod => not_exposed(typeid, method),
        CallError::BadArgs(m) => type_error(m),
        CallError::Failed(m) => RemoteError::new(RemoteKind::Method, m),
    })
}

pub(crate) fn queue_error(e: procshare_queue::QueueError) -> RemoteError {
    RemoteError::new(
        RemoteKind::Queue(crate::error::QueueCode::of(&e)),
        e.to_string(),
    )
}

pub(crate) fn sync_error(e: SyncError) -> RemoteError {
    RemoteError::new(RemoteKind::Sync(SyncCode::of(&e)), e.to_string())
}

/// A timeout argument: `None` or seconds.
pub(crate) fn timeout(v: Value) -> Result<Option<Duration>, RemoteError> {
    let secs = match v {
        Value::None => return Ok(None),
        Value::F64(s) => s,
        Value::I64(s) => s as f64,
        _ => return Err(type_error("timeout must be None or seconds")),
    };
    if !(secs >= 0.0 && secs.is_finite()) {
        return Err(type_error("timeout must be a finite, non-negative number"));
    }
    Ok(Some(Duration::from_secs_f64(secs.min(1e9))))
}

/// Wait in slices until `step` succeeds, the deadline passes or `gone` says the client
/// is gone. `step(slice)` waits at most `slice`.
pub(crate) fn sliced(
    timeout: Option<Duration>,
    gone: &dyn Fn() -> bool,
    mut step: impl FnMut(Duration) -> Result<bool, RemoteError>,
) -> Result<bool, RemoteError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        if step(slice)? {
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        if gone() {
            return Err(RemoteError::new(
                RemoteKind::ShuttingDown,
                "the client is gone",
            ));
        }
    }
}
