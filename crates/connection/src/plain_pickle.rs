//! A direct decoder for plain-data pickles: what a request or reply between two Rust
//! processes holds, decoded in one pass with no buffer of its own.
//!
//! `serde-pickle` decodes every pickle through a general machine: a buffered reader
//! (an 8 KiB buffer) and a 128-slot value stack allocated per call, an intermediate
//! value type with memo references, then a conversion pass. For the pickles a manager
//! exchanges on every call — a tuple of a few strings and numbers — that setup is most
//! of the work. [`decode`] handles the *plain* subset directly: `None`, booleans, binary
//! integers (`LONG1` up to 8 bytes), binary floats, binary strings and bytes, lists,
//! tuples, dicts, sets, frozensets, marks, and memo *puts* (which change nothing when
//! there is no `GET`), framed by `PROTO`/`FRAME` and ended by one `STOP` at the very end
//! with exactly one value on the stack.
//!
//! Anything else — a memo `GET` or `DUP`, a text opcode of protocol 0, a global, a
//! malformed or truncated pickle, an unhashable key, nesting deeper than the limit — is
//! `None`, and the caller takes the general path ([`crate::pickle_guard`], then
//! `serde-pickle`), which decodes it or says why not: [`value_from_slice`] and
//! [`from_slice`] are both paths in one call. So the contract is one-sided:
//! whenever [`decode`] returns a value, `serde-pickle` returns the same value for the
//! same bytes. The unit tests check that over everything `serde-pickle` writes for
//! generated values, over Python-written pickles, and over every prefix and single-byte
//! corruption of them.

use crate::pickle_guard::{check_default, next_op, Refused, DEFAULT_DEPTH};
use serde::de::DeserializeOwned;
use serde_pickle::{HashableValue, Value};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

/// Why a pickle did not decode.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// It would cost too much to decode (nesting, memo expansion) or is malformed; see
    /// [`crate::pickle_guard`].
    #[error(transparent)]
    Refused(#[from] Refused),
    /// `serde-pickle` refused it (or it is not a `T`).
    #[error(transparent)]
    Pickle(#[from] serde_pickle::Error),
}

/// Any pickle as a [`Value`]: plain data through [`decode`], the rest through the guard
/// ([`check_default`]) and `serde-pickle`. The one way every crate here unpickles.
pub fn value_from_slice(bytes: &[u8]) -> Result<Value, DecodeError> {
    if let Some(v) = decode(bytes, DEFAULT_DEPTH) {
        return Ok(v);
    }
    check_default(bytes)?;
    Ok(serde_pickle::value_from_slice(
        bytes,
        serde_pickle::DeOptions::new(),
    )?)
}

/// Any pickle as a `T`, as [`value_from_slice`] decides: plain data through a [`Value`],
/// the rest in one pass straight into `T` after the guard.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    Ok(match decode(bytes, DEFAULT_DEPTH) {
        Some(v) => serde_pickle::from_value(v)?,
        None => {
            check_default(bytes)?;
            serde_pickle::from_slice(bytes, serde_pickle::DeOptions::new())?
        }
    })
}

/// The machine's stack, cut into segments by marks: an opcode sees only the values
/// pushed since the last mark (as in `serde-pickle`). Beside each value, the depth of its
/// tree (a scalar is depth 1).
struct Stack {
    vals: Vec<Value>,
    depths: Vec<u32>,
    marks: Vec<usize>,
    max_depth: u32,
}

impl Stack {
    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }
    fn push(&mut self, v: Value, depth: u32) -> Option<()> {
        if depth > self.max_depth {
            return None;
        }
        self.vals.push(v);
        self.depths.push(depth);
        Some(())
    }
    fn pop(&mut self) -> Option<(Value, u32)> {
        if self.vals.len() <= self.floor() {
            return None;
        }
        Some((self.vals.pop()?, self.depths.pop()?))
    }
    /// The values since the last mark, and the depth of the deepest (0 if none).
    fn pop_mark(&mut self) -> Option<(Vec<Value>, u32)> {
        let m = self.marks.pop()?;
        let depth = self.depths[m..].iter().copied().max().unwrap_or(0);
        self.depths.truncate(m);
        Some((self.vals.split_off(m), depth))
    }
    /// Change the container on top with `add`, which puts children as deep as
    /// `child_depth` into it.
    fn change_top(
        &mut self,
        child_depth: u32,
        add: impl FnOnce(&mut Value) -> Option<()>,
    ) -> Option<()> {
        if self.vals.len() <= self.floor() {
            return None;
        }
        let depth = (child_depth + 1).max(*self.depths.last()?);
        if depth > self.max_depth {
            return None;
        }
        add(self.vals.last_mut()?)?;
        *self.depths.last_mut()? = depth;
        Some(())
    }
}

fn hashable_all(values: Vec<Value>) -> Option<Vec<HashableValue>> {
    values.into_iter().map(|v| v.into_hashable().ok()).collect()
}

fn extend_list(v: &mut Value, items: Vec<Value>) -> Option<()> {
    let Value::List(list) = v else { return None };
    list.extend(items);
    Some(())
}

fn extend_set(v: &mut Value, items: Vec<Value>) -> Option<()> {
    let Value::Set(set) = v else { return None };
    set.extend(hashable_all(items)?);
    Some(())
}

fn add_pairs(v: &mut Value, flat: Vec<Value>) -> Option<()> {
    let Value::Dict(map) = v else { return None };
    if flat.len() % 2 != 0 {
        return None;
    }
    // Keys first, so that an unhashable one changes nothing.
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(val)) = (it.next(), it.next()) {
        pairs.push((k.into_hashable().ok()?, val));
    }
    map.extend(pairs);
    Some(())
}

/// Decode `pickle` if it is plain data (see the module docs) nesting at most `max_depth`
/// deep; `None` otherwise, and then `serde-pickle` must decide.
pub fn decode(pickle: &[u8], max_depth: u32) -> Option<Value> {
    let (vals, depths, marks) = SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(|| (Vec::with_capacity(8), Vec::with_capacity(8), Vec::new()));
    let mut s = Stack {
        vals,
        depths,
        marks,
        max_depth,
    };
    let v = run(pickle, &mut s);
    let Stack {
        mut vals,
        mut depths,
        mut marks,
        ..
    } = s;
    if vals.capacity() + depths.capacity() + marks.capacity() <= SPARE_MAX {
        vals.clear();
        depths.clear();
        marks.clear();
        let _ = SPARE.try_with(|c| c.set(Some((vals, depths, marks))));
    }
    v
}

/// The largest stack (in entries of its three vectors together) a thread keeps for its
/// next decode; a larger one, grown by a large message, is freed.
const SPARE_MAX: usize = 256;

thread_local! {
    /// The stack's vectors, kept between decodes on this thread: decoding a small value
    /// then allocates only the value itself (two or three allocations fewer a message,
    /// measured as a part of every manager round trip).
    static SPARE: Cell<Option<StackBuffers>> = const { Cell::new(None) };
}

/// A [`Stack`]'s three vectors, emptied.
type StackBuffers = (Vec<Value>, Vec<u32>, Vec<usize>);

/// [`decode`] with the stack given.
fn run(pickle: &[u8], s: &mut Stack) -> Option<Value> {
    let mut memo = BTreeSet::new();
    let mut pos = 0;
    loop {
        let op = next_op(pickle, &mut pos).ok()?;
        let arg = op.arg;
        let (v, depth) = match op.code {
            b'.' => {
                // STOP: the end of the input, one finished value, no open mark.
                let done = pos == pickle.len() && s.marks.is_empty() && s.vals.len() == 1;
                return done.then(|| s.vals.pop())?;
            }
            b'\x80' | b'\x95' => continue, // PROTO, FRAME
            b'(' => {
                s.marks.push(s.vals.len());
                continue;
            }
            // Memo puts: with no GET to read them back they change nothing, but like
            // serde-pickle they need a value to name, and an id put twice would make
            // serde-pickle's earlier stack entries stand for the later value.
            b'q' | b'r' | b'\x94' => {
                if s.vals.len() <= s.floor() {
                    return None;
                }
                let id = if op.code == b'\x94' {
                    memo.len() as u64
                } else {
                    op.num
                };
                if !memo.insert(id) {
                    return None;
                }
                continue;
            }
            b'N' => (Value::None, 1),
            b'\x88' => (Value::Bool(true), 1),
            b'\x89' => (Value::Bool(false), 1),
            b'J' => (Value::I64((op.num as u32 as i32).into()), 1),
            b'K' | b'M' => (Value::I64(op.num as i64), 1),
            b'\x8a' => {
                // LONG1: little-endian two's complement, up to 8 bytes here.
                let n = arg.len();
                if n > 8 {
                    return None;
                }
                let mut b = [0u8; 8];
                b[..n].copy_from_slice(arg);
                if n > 0 && arg[n - 1] & 0x80 != 0 {
                    b[n..].fill(0xff);
                }
                (Value::I64(i64::from_le_bytes(b)), 1)
            }
            b'G' => (Value::F64(f64::from_be_bytes(arg.try_into().ok()?)), 1),
            b'X' | b'\x8c' | b'\x8d' => (Value::String(std::str::from_utf8(arg).ok()?.into()), 1),
            b'B' | b'C' | b'\x8e' | b'\x96' => (Value::Bytes(arg.to_vec()), 1),
            b']' => (Value::List(Vec::new()), 1),
            b')' => (Value::Tuple(Vec::new()), 1),
            b'}' => (Value::Dict(BTreeMap::new()), 1),
            b'\x8f' => (Value::Set(BTreeSet::new()), 1),
            b'\x85' | b'\x86' | b'\x87' => {
                let n = usize::from(op.code - b'\x84');
                let mut items = Vec::with_capacity(n);
                let mut depth = 0;
                for _ in 0..n {
                    let (v, d) = s.pop()?;
                    items.push(v);
                    depth = depth.max(d);
                }
                items.reverse();
                (Value::Tuple(items), depth + 1)
            }
            b't' => {
                let (items, depth) = s.pop_mark()?;
                (Value::Tuple(items), depth + 1)
            }
            b'l' => {
                let (items, depth) = s.pop_mark()?;
                (Value::List(items), depth + 1)
            }
            b'\x91' => {
                let (items, depth) = s.pop_mark()?;
                (
                    Value::FrozenSet(hashable_all(items)?.into_iter().collect()),
                    depth + 1,
                )
            }
            b'd' => {
                let (items, depth) = s.pop_mark()?;
                let mut d = Value::Dict(BTreeMap::new());
                add_pairs(&mut d, items)?;
                (d, depth + 1)
            }
            b'a' => {
                let (item, depth) = s.pop()?;
                s.change_top(depth, |top| match top {
                    Value::List(l) => {
                        l.push(item);
                        Some(())
                    }
                    _ => None,
                })?;
                continue;
            }
            b'e' => {
                let (items, depth) = s.pop_mark()?;
                s.change_top(depth, |top| extend_list(top, items))?;
                continue;
            }
            b's' => {
                let (value, vd) = s.pop()?;
                let (key, kd) = s.pop()?;
                s.change_top(vd.max(kd), |top| add_pairs(top, vec![key, value]))?;
                continue;
            }
            b'u' => {
                let (items, depth) = s.pop_mark()?;
                s.change_top(depth, |top| add_pairs(top, items))?;
                continue;
            }
            b'\x90' => {
                let (items, depth) = s.pop_mark()?;
                s.change_top(depth, |top| extend_set(top, items))?;
                continue;
            }
            _ => return None,
        };
        s.push(v, depth)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle_guard::{check, Limits};
    use proptest::prelude::*;

    fn serde(p: &[u8]) -> Result<Value, serde_pickle::Error> {
        serde_pickle::value_from_slice(p, serde_pickle::DeOptions::new())
    }

    /// The contract: a value from `decode` is serde-pickle's value, and passes the guard.
    fn agrees(p: &[u8]) -> bool {
        match decode(p, 256) {
            None => true,
            Some(v) => {
                let theirs = serde(p)
                    .unwrap_or_else(|e| panic!("serde-pickle: {e} on {p:?}, decode: {v:?}"));
                assert_eq!(format!("{v:?}"), format!("{theirs:?}"), "on {p:?}");
                assert!(
                    check(p, &Limits::for_input(p.len())).is_ok(),
                    "guard on {p:?}"
                );
                true
            }
        }
    }

    fn pickle(v: &Value) -> Vec<u8> {
        serde_pickle::value_to_vec(v, serde_pickle::SerOptions::new()).unwrap()
    }

    fn hashable() -> impl Strategy<Value = HashableValue> {
        prop_oneof![
            Just(HashableValue::None),
            any::<bool>().prop_map(HashableValue::Bool),
            any::<i64>().prop_map(HashableValue::I64),
            "[a-z\u{e9}\u{1F600}]{0,6}".prop_map(HashableValue::String),
            proptest::collection::vec(any::<u8>(), 0..5).prop_map(HashableValue::Bytes),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::None),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<f64>().prop_map(Value::F64),
            "[a-z'\"\u{e9}]{0,8}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        ];
        // No sets: serde-pickle writes them as a call of `builtins.set`, which is not
        // plain (see `sets_are_left_to_serde_pickle`).
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Tuple),
                proptest::collection::btree_map(hashable(), inner, 0..4).prop_map(Value::Dict),
            ]
        })
    }

    /// Pickles Python writes for plain data (protocols 2–5: memo puts, frames, MARK-
    /// built containers, LONG1, sets through ADDITEMS), as python3 3.11's
    /// `pickle.dumps` wrote them (the expression above each).
    const PYTHON: &[&[u8]] = &[
        // pickle.dumps(("get", ["a", 1, 2.5, None, True]), 4)
        b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x03get\x94]\x94(\x8c\x01a\x94K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88e\x86\x94.",
        // pickle.dumps({"a": 10, "b": -300}, 2)
        b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x0aX\x01\x00\x00\x00bq\x02J\xd4\xfe\xff\xffu.",
        // pickle.dumps({1, 2}, 4)
        b"\x80\x04\x95\x09\x00\x00\x00\x00\x00\x00\x00\x8f\x94(K\x01K\x02\x90.",
        // pickle.dumps((2**63 - 1, -2**63, 2**40), 5)
        b"\x80\x05\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\x06\x00\x00\x00\x00\x00\x01\x87\x94.",
        // pickle.dumps(frozenset({b"x"}), 4)
        b"\x80\x04\x95\x08\x00\x00\x00\x00\x00\x00\x00(C\x01x\x94\x91\x94.",
        // pickle.dumps([{"k": (1, 2, 3)}, b"\x00", -1], 3)
        b"\x80\x03]q\x00(}q\x01X\x01\x00\x00\x00kq\x02K\x01K\x02K\x03\x87q\x03sC\x01\x00q\x04J\xff\xff\xff\xffe.",
    ];

    #[test]
    fn pythons_plain_pickles_decode_here_as_in_serde_pickle() {
        for p in PYTHON {
            assert!(decode(p, 256).is_some(), "plain: {p:?}");
            assert!(agrees(p));
        }
    }

    #[test]
    fn what_is_not_plain_is_left_to_serde_pickle() {
        let shared = b"\x80\x04]\x94(h\x00h\x00e."; // a list holding itself twice (GET)
        let text = b"I42\n."; // protocol 0
        let global = b"\x80\x02c__builtin__\nset\nq\x00]q\x01\x85q\x02Rq\x03."; // set, proto 2
        let trailing = b"N.N";
        let two = b"NN.";
        let open_mark = b"(N.";
        for p in [&shared[..], text, global, trailing, two, open_mark] {
            assert!(decode(p, 256).is_none(), "{p:?}");
        }
        let deep: Vec<u8> = [&[b']'; 300][..], &[b'a'; 299][..], b"."].concat();
        assert!(decode(&deep, 256).is_none(), "deeper than the limit");
        assert!(decode(&deep, 300).is_some());
        assert!(agrees(&deep));
        // The same limit as the guard's, to the level: lists, tuples and dicts.
        for (first, open, close) in [(&b"]"[..], &b"]"[..], &b"a"[..]), (b"}", b"K\x01}", b"s")] {
            for levels in [255usize, 256, 257] {
                let p: Vec<u8> = [
                    first.to_vec(),
                    open.repeat(levels - 1),
                    close.repeat(levels - 1),
                    b".".to_vec(),
                ]
                .concat();
                let guard = check(&p, &Limits::for_input(p.len())).is_ok();
                assert_eq!(
                    decode(&p, 256).is_some(),
                    guard,
                    "{levels} levels of {open:?}"
                );
                assert_eq!(guard, levels <= 256, "{levels} levels of {open:?}");
            }
        }
        let unhashable = b"}](u.";
        assert!(decode(unhashable, 256).is_none());
    }

    #[test]
    fn every_prefix_and_corruption_of_the_corpus_agrees() {
        let mut corpus: Vec<Vec<u8>> = PYTHON.iter().map(|p| p.to_vec()).collect();
        corpus.push(pickle(&Value::Tuple(vec![
            Value::String("insert".into()),
            Value::List(vec![Value::I64(-1), Value::F64(0.5)]),
        ])));
        for p in &corpus {
            for n in 0..p.len() {
                assert!(agrees(&p[..n]));
                for b in [0x00, 0x2e, 0x28, 0x61, 0x8c, 0x94, 0xff] {
                    let mut q = p.clone();
                    q[n] = b;
                    assert!(agrees(&q));
                }
            }
        }
    }

    #[test]
    fn both_paths_in_one_call() {
        // Plain: decoded here.
        let p = pickle(&Value::Tuple(vec![Value::String("k".into())]));
        assert_eq!(from_slice::<(String,)>(&p).unwrap(), ("k".to_string(),));
        // Not plain (a set is a call of builtins.set): serde-pickle's path, same answer.
        let set = Value::Set([HashableValue::I64(3)].into());
        let p = pickle(&set);
        assert!(decode(&p, DEFAULT_DEPTH).is_none());
        assert_eq!(value_from_slice(&p).unwrap(), set);
        assert_eq!(from_slice::<Vec<i64>>(&p).unwrap(), [3]);
        // Too deep for both: the guard's typed refusal, not a stack overflow.
        let deep: Vec<u8> = [&[b']'; 5000][..], &[b'a'; 4999][..], b"."].concat();
        assert!(matches!(
            value_from_slice(&deep),
            Err(DecodeError::Refused(Refused::TooDeep(_)))
        ));
        assert!(matches!(
            from_slice::<Value>(&deep),
            Err(DecodeError::Refused(_))
        ));
        // Not a T: serde-pickle's error.
        let p = pickle(&Value::I64(1));
        assert!(matches!(
            from_slice::<String>(&p),
            Err(DecodeError::Pickle(_))
        ));
    }

    #[test]
    fn sets_are_left_to_serde_pickle() {
        let set: BTreeSet<_> = [HashableValue::I64(1)].into();
        for v in [Value::Set(set.clone()), Value::FrozenSet(set)] {
            let p = pickle(&v);
            assert!(decode(&p, 256).is_none());
            assert!(agrees(&p));
        }
    }

    #[test]
    fn a_memo_id_put_twice_is_left_to_serde_pickle() {
        // `}` put as 0, then "a" put as 0 too: serde-pickle's SETITEMS then finds "a".
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x00K\nu.";
        assert!(decode(p, 256).is_none());
        assert!(serde(p).is_err());
    }

    proptest! {
        #[test]
        fn what_serde_pickle_writes_decodes_to_the_same_value(v in value()) {
            let p = pickle(&v);
            prop_assert!(decode(&p, 256).is_some(), "serde-pickle writes plain data: {:?}", p);
            prop_assert!(agrees(&p));
        }

        #[test]
        fn random_opcode_strings_agree(ops in proptest::collection::vec(
            prop_oneof![
                Just(&b"("[..]), Just(&b"N"[..]), Just(&b"]"[..]), Just(&b"}"[..]),
                Just(&b")"[..]), Just(&b"a"[..]), Just(&b"e"[..]), Just(&b"s"[..]),
                Just(&b"u"[..]), Just(&b"t"[..]), Just(&b"l"[..]), Just(&b"d"[..]),
                Just(&b"\x85"[..]), Just(&b"\x86"[..]), Just(&b"\x87"[..]),
                Just(&b"\x8f"[..]), Just(&b"\x90"[..]), Just(&b"\x91"[..]),
                Just(&b"\x94"[..]), Just(&b"K\x07"[..]), Just(&b"\x8c\x01k"[..]),
                Just(&b"\x88"[..]), Just(&b"."[..]), Just(&b"q\x00"[..]), Just(&b"q\x01"[..]),
                Just(&b"r\x01\x00\x00\x00"[..]),
            ],
            0..24,
        )) {
            let p: Vec<u8> = ops.concat();
            prop_assert!(agrees(&p));
            let mut q = p.clone();
            q.push(b'.');
            prop_assert!(agrees(&q));
        }
    }
}
