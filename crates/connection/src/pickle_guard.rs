//! A bound on what a pickle can cost to decode, checked before `serde-pickle` sees it.
//!
//! A pickle is a program for a small stack machine, and two of its features let a short
//! input cost far more than its length: nesting (`serde-pickle` converts values
//! recursively, so a list nested a hundred thousand deep, about 200 KB of `]`…`a`,
//! overflows a thread's stack and aborts the whole process) and memo references (each
//! `GET` of a memoized value is decoded into a copy of it, so a 1 MiB string followed by
//! a million two-byte `GET`s of it is 3 MiB that asks for a terabyte). A hostile peer must
//! not get either past a [`Connection`](crate::Connection) or a manager server.
//!
//! [`check`] runs the same stack machine over the opcodes without building any value: it
//! records which container holds which (a memo reference stays a reference until the end,
//! as in `serde-pickle`, where it stands for the memo entry's final value), then totals
//! the decoded tree once, each node's subtotal computed once, as if every reference were
//! expanded. It refuses a pickle whose decoded tree would be deeper than
//! [`Limits::depth`], hold more than [`Limits::values`] values or [`Limits::bytes`] bytes
//! of string data, refers to itself, or uses an opcode `serde-pickle` would not decode
//! anyway. Its cost is linear in the input. The common case, a pickle without memo
//! references or `DUP` (everything `serde-pickle` writes), is a tree: a first pass checks
//! its depth with a small fixed stack and allocates nothing, and only the rest is graphed.
//! Everything Python's pickler writes for plain data (protocols 0–5) and everything
//! `serde-pickle` writes passes; tested beside the code (the quick pass never accepts
//! what the full check refuses, over prefixes and corruptions of every test input) and
//! against python3 in `tests/python.rs`.

use std::collections::HashMap;

/// How much a decoded pickle may cost; see [`Limits::for_input`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The deepest nesting of containers (a scalar at the top is depth 1).
    pub depth: u32,
    /// Values in the decoded tree, every memo reference expanded.
    pub values: u64,
    /// Bytes of string, bytes and long-integer data in the decoded tree, expanded.
    pub bytes: u64,
}

/// The deepest nesting [`Limits::for_input`] allows.
pub const DEFAULT_DEPTH: u32 = 256;

impl Limits {
    /// The default for an input of `len` bytes: nesting at most 256 deep, and memo
    /// references that may add 64 Ki values and 1 MiB of data to what the input itself
    /// spells out (about twice its length). Plain data written without memo references
    /// is never refused for its size.
    pub fn for_input(len: usize) -> Limits {
        let len = len as u64;
        Limits {
            depth: DEFAULT_DEPTH,
            values: 2 * len + (64 << 10),
            bytes: 2 * len + (1 << 20),
        }
    }
}

/// Why [`check`] refused a pickle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The decoded tree would nest deeper than the limit.
    #[error("pickle nests deeper than {0} levels")]
    TooDeep(u32),
    /// Memo references would expand it past the value or byte limit.
    #[error("pickle would expand to more than {values} values or {bytes} bytes of data")]
    TooLarge {
        /// The value limit.
        values: u64,
        /// The byte limit.
        bytes: u64,
    },
    /// A value contains itself through a memo reference.
    #[error("pickle refers to itself")]
    Recursive,
    /// Not a pickle this decoder accepts (an unknown opcode, a truncated argument, a
    /// stack underflow, a missing memo entry, no STOP).
    #[error("malformed pickle at byte {at}: {what}")]
    Malformed {
        /// Offset of the opcode.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
}

/// A reference on the machine's stack: a node, or a memo entry (resolved at the end).
#[derive(Clone, Copy)]
enum Ref {
    Node(u32),
    Memo(u32),
}

enum Slot {
    Mark,
    Ref(Ref),
}

/// A value: the data bytes it carries itself and the references it holds.
#[derive(Default)]
struct Node {
    bytes: u64,
    children: Vec<Ref>,
}

/// One opcode and its argument: `arg` is what follows the opcode (a line with its
/// newline, GLOBAL's two lines, a fixed-size field, or a counted payload without its
/// length), `num` a fixed field's value or a payload's length, read little-endian.
pub(crate) struct Op<'a> {
    pub(crate) code: u8,
    pub(crate) arg: &'a [u8],
    pub(crate) num: u64,
}

/// The opcode at `*pos` and its argument, `*pos` moved past both: the one table of
/// argument shapes both passes read. `Err` says what is wrong (a truncated or
/// unterminated argument, an opcode `serde-pickle` would not decode).
pub(crate) fn next_op<'a>(p: &'a [u8], pos: &mut usize) -> Result<Op<'a>, &'static str> {
    let at = *pos;
    let code = *p.get(at).ok_or("truncated argument")?;
    let rest = &p[at + 1..];
    let take = |n: u64| -> Result<&'a [u8], &'static str> {
        usize::try_from(n)
            .ok()
            .and_then(|n| rest.get(..n))
            .ok_or("truncated argument")
    };
    let line = |from: usize| -> Result<usize, &'static str> {
        rest[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| from + i + 1)
            .ok_or("unterminated line argument")
    };
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    let (arg, num, len) = match code {
        // No argument.
        b'.' | b'(' | b'0' | b'1' | b'2' | b'N' | b'\x88' | b'\x89' | b']' | b'}' | b')'
        | b'\x8f' | b'a' | b's' | b'e' | b'u' | b'\x90' | b'l' | b'd' | b't' | b'\x91'
        | b'\x85' | b'\x86' | b'\x87' | b'\x94' | b'\x93' | b'R' | b'\x81' | b'b' => {
            (&rest[..0], 0, 0)
        }
        // A line: FLOAT, INT, LONG, STRING, UNICODE, PUT, GET.
        b'F' | b'I' | b'L' | b'S' | b'V' | b'p' | b'g' => {
            let n = line(0)?;
            (&rest[..n], 0, n)
        }
        // GLOBAL: module and name lines.
        b'c' => {
            let n = line(line(0)?)?;
            (&rest[..n], 0, n)
        }
        // A fixed-size field: PROTO, FRAME, BININT, BININT1, BININT2, BINFLOAT, BINPUT,
        // LONG_BINPUT, BINGET, LONG_BINGET.
        b'\x80' | b'\x95' | b'J' | b'K' | b'M' | b'G' | b'q' | b'r' | b'h' | b'j' => {
            let n = match code {
                b'\x80' | b'K' | b'q' | b'h' => 1,
                b'M' => 2,
                b'J' | b'r' | b'j' => 4,
                _ => 8,
            };
            let b = take(n)?;
            (b, le(b), n as usize)
        }
        // A counted payload: short strings and bytes, LONG1 (1-byte count); strings,
        // bytes, LONG4 (4); the 8-byte counted ones.
        b'U' | b'C' | b'\x8c' | b'\x8a' | b'T' | b'X' | b'B' | b'\x8b' | b'\x8d' | b'\x8e'
        | b'\x96' => {
            let w = match code {
                b'U' | b'C' | b'\x8c' | b'\x8a' => 1,
                b'T' | b'X' | b'B' | b'\x8b' => 4,
                _ => 8,
            };
            let n = le(take(w)?);
            let payload = take(w.saturating_add(n))?;
            (&payload[w as usize..], n, payload.len())
        }
        _ => return Err("opcode not accepted"),
    };
    *pos = at + 1 + len;
    Ok(Op { code, arg, num })
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    at: usize,
    stack: Vec<Slot>,
    nodes: Vec<Node>,
    memo: HashMap<u32, u32>,
}

impl<'a> Machine<'a> {
    fn bad<T>(&self, what: &'static str) -> Result<T, Refused> {
        Err(Refused::Malformed { at: self.at, what })
    }

    fn node(&mut self, bytes: u64, children: Vec<Ref>) -> Ref {
        self.nodes.push(Node { bytes, children });
        Ref::Node(self.nodes.len() as u32 - 1)
    }

    fn push_leaf(&mut self, bytes: u64) {
        let r = self.node(bytes, Vec::new());
        self.stack.push(Slot::Ref(r));
    }

    fn pop(&mut self) -> Result<Ref, Refused> {
        match self.stack.pop() {
            Some(Slot::Ref(r)) => Ok(r),
            _ => self.bad("stack underflow"),
        }
    }

    /// Everything above the topmost mark, the mark removed.
    fn pop_mark(&mut self) -> Result<Vec<Ref>, Refused> {
        let Some(m) = self.stack.iter().rposition(|s| matches!(s, Slot::Mark)) else {
            return self.bad("no mark");
        };
        let items = self
            .stack
            .drain(m..)
            .skip(1)
            .map(|s| match s {
                Slot::Ref(r) => r,
                Slot::Mark => unreachable!("the topmost mark is at m"),
            })
            .collect();
        Ok(items)
    }

    fn resolve(&self, r: Ref) -> Result<u32, Refused> {
        match r {
            Ref::Node(i) => Ok(i),
            Ref::Memo(id) => match self.memo.get(&id) {
                Some(&i) => Ok(i),
                None => self.bad("missing memo entry"),
            },
        }
    }

    /// Add `items` to the container on top of the stack (APPEND, SETITEM, ...).
    fn extend_top(&mut self, items: Vec<Ref>) -> Result<(), Refused> {
        let top = match self.stack.last() {
            Some(Slot::Ref(r)) => *r,
            _ => return self.bad("stack underflow"),
        };
        let i = self.resolve(top)?;
        self.nodes[i as usize].children.extend(items);
        Ok(())
    }

    fn memoize(&mut self, id: u64) -> Result<(), Refused> {
        let Ok(id) = u32::try_from(id) else {
            return self.bad("memo index out of range");
        };
        let top = match self.stack.last_mut() {
            Some(Slot::Ref(r)) => r,
            _ => return self.bad("stack underflow"),
        };
        let r = *top;
        *top = Ref::Memo(id);
        let i = self.resolve(r)?;
        self.memo.insert(id, i);
        Ok(())
    }

    fn decimal(&self, line: &[u8]) -> Result<u64, Refused> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim_end().parse().ok())
            .map_or_else(|| self.bad("bad memo index"), Ok)
    }

    fn run(&mut self) -> Result<Ref, Refused> {
        loop {
            self.at = self.pos;
            let Op { code, arg, num } = match next_op(self.input, &mut self.pos) {
                Ok(op) => op,
                Err(what) => return self.bad(what),
            };
            let op = code;
            match op {
                b'\x80' | b'\x95' => {}              // PROTO, FRAME
                b'.' => return self.pop(),           // STOP
                b'(' => self.stack.push(Slot::Mark), // MARK
                b'0' => _ = self.stack.pop(),        // POP (a mark too)
                b'1' => _ = self.pop_mark()?,        // POP_MARK
                b'2' => {
                    // DUP
                    let r = self.pop()?;
                    self.stack.push(Slot::Ref(r));
                    self.stack.push(Slot::Ref(r));
                }
                b'N' | b'\x88' | b'\x89' => self.push_leaf(0), // NONE, NEWTRUE, NEWFALSE
                // FLOAT, INT, LONG, STRING, UNICODE: a line; GLOBAL: two.
                b'F' | b'I' | b'L' | b'S' | b'V' | b'c' => self.push_leaf(arg.len() as u64),
                // BININT, BININT1, BININT2, BINFLOAT
                b'J' | b'K' | b'M' | b'G' => self.push_leaf(0),
                // Strings, bytes and long integers with a counted payload.
                b'U' | b'C' | b'\x8c' | b'\x8a' | b'T' | b'X' | b'B' | b'\x8b' | b'\x8d'
                | b'\x8e' | b'\x96' => self.push_leaf(num),
                b']' | b'}' | b')' | b'\x8f' => {
                    // EMPTY_LIST, EMPTY_DICT, EMPTY_TUPLE, EMPTY_SET
                    let r = self.node(0, Vec::new());
                    self.stack.push(Slot::Ref(r));
                }
                b'a' => {
                    // APPEND
                    let v = self.pop()?;
                    self.extend_top(vec![v])?;
                }
                b's' => {
                    // SETITEM
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.extend_top(vec![k, v])?;
                }
                b'e' | b'u' | b'\x90' => {
                    // APPENDS, SETITEMS, ADDITEMS
                    let items = self.pop_mark()?;
                    self.extend_top(items)?;
                }
                b'l' | b'd' | b't' | b'\x91' => {
                    // LIST, DICT, TUPLE, FROZENSET from the items above the mark
                    let items = self.pop_mark()?;
                    let r = self.node(0, items);
                    self.stack.push(Slot::Ref(r));
                }
                b'\x85' | b'\x86' | b'\x87' => {
                    // TUPLE1..3
                    let n = usize::from(op - b'\x84');
                    let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
                    items.reverse();
                    let r = self.node(0, items);
                    self.stack.push(Slot::Ref(r));
                }
                b'p' => {
                    // PUT: a decimal line
                    let id = self.decimal(arg)?;
                    self.memoize(id)?;
                }
                b'q' | b'r' => self.memoize(num)?, // BINPUT, LONG_BINPUT
                b'\x94' => {
                    // MEMOIZE: the next index
                    let id = self.memo.len() as u64;
                    self.memoize(id)?;
                }
                b'g' | b'h' | b'j' => {
                    // GET, BINGET, LONG_BINGET
                    let id = if op == b'g' { self.decimal(arg)? } else { num };
                    let Ok(id) = u32::try_from(id) else {
                        return self.bad("memo index out of range");
                    };
                    if !self.memo.contains_key(&id) {
                        return self.bad("missing memo entry");
                    }
                    self.stack.push(Slot::Ref(Ref::Memo(id)));
                }
                b'\x93' => {
                    // STACK_GLOBAL: module and name from the stack
                    let (name, module) = (self.pop()?, self.pop()?);
                    let r = self.node(0, vec![module, name]);
                    self.stack.push(Slot::Ref(r));
                }
                b'R' | b'\x81' => {
                    // REDUCE, NEWOBJ: callable (class) and argument tuple
                    let (args, callable) = (self.pop()?, self.pop()?);
                    let r = self.node(0, vec![callable, args]);
                    self.stack.push(Slot::Ref(r));
                }
                b'b' => {
                    // BUILD: state applied to the object below it
                    let state = self.pop()?;
                    self.extend_top(vec![state])?;
                }
                _ => return self.bad("opcode not accepted"),
            }
        }
    }
}

/// Per node, once totalled: (values, bytes, depth) of its expanded subtree.
type Total = (u64, u64, u32);

/// The slots [`quick`] keeps on the machine stack before it leaves the pickle to the full
/// check.
const QUICK_SLOTS: usize = 32;

/// The common case without allocating: a pickle with no memo reference (`GET`) and no
/// `DUP` is a tree, each value written once, so it decodes to at most one value per
/// opcode and no more data than its length; only its depth needs following, and a stack
/// of depths does that. True if it is such a pickle, within `limits`, and well formed;
/// false (undecided) for anything else, which the full check then decides.
fn quick(p: &[u8], limits: &Limits) -> bool {
    const MARK: u32 = 0;
    if (p.len() as u64) > limits.values.min(limits.bytes) {
        return false;
    }
    let mut stack = [0u32; QUICK_SLOTS];
    let mut len = 0usize;
    let mut pos = 0usize;
    // Helpers over (stack, len): each returns None where the full check must decide.
    fn push(stack: &mut [u32; QUICK_SLOTS], len: &mut usize, d: u32) -> Option<()> {
        *stack.get_mut(*len)? = d;
        *len += 1;
        Some(())
    }
    fn pop(stack: &[u32; QUICK_SLOTS], len: &mut usize) -> Option<u32> {
        let d = *stack.get(len.checked_sub(1)?)?;
        if d == MARK {
            return None;
        }
        *len -= 1;
        Some(d)
    }
    /// The deepest item above the topmost mark (0 if none), the mark removed.
    fn pop_mark(stack: &[u32; QUICK_SLOTS], len: &mut usize) -> Option<u32> {
        let m = stack[..*len].iter().rposition(|&d| d == MARK)?;
        let deepest = stack[m + 1..*len].iter().copied().max().unwrap_or(0);
        *len = m;
        Some(deepest)
    }
    /// The container on top now holds something `d` deep.
    fn holds(stack: &mut [u32; QUICK_SLOTS], len: usize, d: u32) -> Option<()> {
        let top = stack.get_mut(len.checked_sub(1)?)?;
        if *top == MARK {
            return None;
        }
        *top = (*top).max(d.checked_add(1)?);
        Some(())
    }
    let mut run = || -> Option<()> {
        loop {
            let op = next_op(p, &mut pos).ok()?.code;
            match op {
                b'\x80' | b'\x95' => {} // PROTO, FRAME
                b'.' => {
                    let d = pop(&stack, &mut len)?;
                    return (d <= limits.depth && pos == p.len()).then_some(());
                }
                b'(' => push(&mut stack, &mut len, MARK)?,
                // PUT, BINPUT, LONG_BINPUT, MEMOIZE: the top stays; without a GET nobody
                // reads the memo.
                b'p' | b'q' | b'r' | b'\x94' => _ = pop(&stack, &mut len.clone())?,
                // Scalars: None, booleans, numbers, strings, bytes.
                b'N' | b'\x88' | b'\x89' | b'F' | b'I' | b'L' | b'S' | b'V' | b'J' | b'K'
                | b'M' | b'G' | b'U' | b'C' | b'\x8c' | b'\x8a' | b'T' | b'X' | b'B' | b'\x8b'
                | b'\x8d' | b'\x8e' | b'\x96' => push(&mut stack, &mut len, 1)?,
                b']' | b'}' | b')' | b'\x8f' => push(&mut stack, &mut len, 1)?,
                b'a' => {
                    let v = pop(&stack, &mut len)?;
                    holds(&mut stack, len, v)?;
                }
                b's' => {
                    let v = pop(&stack, &mut len)?;
                    let k = pop(&stack, &mut len)?;
                    holds(&mut stack, len, v.max(k))?;
                }
                b'e' | b'u' | b'\x90' => {
                    let d = pop_mark(&stack, &mut len)?;
                    holds(&mut stack, len, d)?;
                }
                b'l' | b'd' | b't' | b'\x91' => {
                    let d = pop_mark(&stack, &mut len)?;
                    push(&mut stack, &mut len, d.checked_add(1)?)?;
                }
                b'\x85' | b'\x86' | b'\x87' => {
                    let mut d = 0;
                    for _ in 0..(op - b'\x84') {
                        d = d.max(pop(&stack, &mut len)?);
                    }
                    push(&mut stack, &mut len, d.checked_add(1)?)?;
                }
                b'b' => {
                    let s = pop(&stack, &mut len)?;
                    holds(&mut stack, len, s)?;
                }
                // GET, DUP, globals and everything else: the full check.
                _ => return None,
            }
            if stack[..len].iter().any(|&d| d > limits.depth) {
                return None;
            }
        }
    };
    run().is_some()
}

/// Check that decoding `pickle` stays within `limits`; see the [module docs](self).
pub fn check(pickle: &[u8], limits: &Limits) -> Result<(), Refused> {
    if quick(pickle, limits) {
        return Ok(());
    }
    full(pickle, limits)
}

/// The whole check: the machine over the node graph, then the totals.
fn full(pickle: &[u8], limits: &Limits) -> Result<(), Refused> {
    let mut m = Machine {
        input: pickle,
        pos: 0,
        at: 0,
        stack: Vec::new(),
        nodes: Vec::new(),
        memo: HashMap::new(),
    };
    let root = m.run()?;
    let root = m.resolve(root)?;
    let too_large = Refused::TooLarge {
        values: limits.values,
        bytes: limits.bytes,
    };
    // Post-order over the node graph, without recursion; `state`: 0 new, 1 on the path
    // (a reference back to it is a cycle), 2 totalled.
    let mut state = vec![0u8; m.nodes.len()];
    let mut total: Vec<Total> = vec![(0, 0, 0); m.nodes.len()];
    let mut path: Vec<(u32, usize)> = vec![(root, 0)];
    state[root as usize] = 1;
    while let Some(&mut (node, ref mut next)) = path.last_mut() {
        let children = &m.nodes[node as usize].children;
        if let Some(&child) = children.get(*next) {
            *next += 1;
            let c = m.resolve(child)?;
            match state[c as usize] {
                0 => {
                    state[c as usize] = 1;
                    path.push((c, 0));
                }
                1 => return Err(Refused::Recursive),
                _ => {}
            }
            continue;
        }
        let n = &m.nodes[node as usize];
        let mut t: Total = (1, n.bytes, 1);
        for &child in &n.children {
            let (v, b, d) = total[m.resolve(child)? as usize];
            t.0 = t.0.saturating_add(v);
            t.1 = t.1.saturating_add(b);
            t.2 = t.2.max(d.saturating_add(1));
        }
        if t.2 > limits.depth {
            return Err(Refused::TooDeep(limits.depth));
        }
        if t.0 > limits.values || t.1 > limits.bytes {
            return Err(too_large);
        }
        total[node as usize] = t;
        state[node as usize] = 2;
        path.pop();
    }
    Ok(())
}

/// [`check`] with [`Limits::for_input`].
pub fn check_default(pickle: &[u8]) -> Result<(), Refused> {
    check(pickle, &Limits::for_input(pickle.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_pickle::{value_to_vec, HashableValue, SerOptions, Value};
    use std::collections::BTreeMap;

    fn deep(n: usize) -> Vec<u8> {
        // ] ] ... ] then a ... a: a list nested n deep.
        let mut p = vec![0x80, 3];
        p.extend(std::iter::repeat_n(b']', n + 1));
        p.extend(std::iter::repeat_n(b'a', n));
        p.push(b'.');
        p
    }

    /// `[x, x]` nested `levels` deep through memo references: a few bytes a level.
    fn doubling(levels: u32) -> Vec<u8> {
        let mut p = vec![0x80, 3, b']', b'q', 0];
        for l in 1..=levels {
            // [g(l-1), g(l-1)] memoized as l.
            p.extend([
                b'(',
                b'h',
                (l - 1) as u8,
                b'h',
                (l - 1) as u8,
                b'l',
                b'q',
                l as u8,
            ]);
        }
        p.push(b'.');
        p
    }

    #[test]
    fn what_serde_pickle_writes_passes() {
        let mut dict = BTreeMap::new();
        dict.insert(HashableValue::String("a".into()), Value::I64(10));
        dict.insert(HashableValue::I64(2), Value::List(vec![Value::None; 3]));
        let v = Value::List(vec![
            Value::Dict(dict),
            Value::Tuple(vec![Value::F64(1.5), Value::Bool(true)]),
            Value::Bytes(vec![1, 2, 3]),
            Value::String("é".repeat(1000)),
            Value::I64(i64::MIN),
        ]);
        let p = value_to_vec(&v, SerOptions::new()).unwrap();
        assert_eq!(check_default(&p), Ok(()));
        let p = value_to_vec(
            &Value::List(vec![Value::I64(7); 100_000]),
            SerOptions::new(),
        )
        .unwrap();
        assert_eq!(check_default(&p), Ok(()));
    }

    /// What CPython 3.11's pickler writes (protocols 0, 2 and 5) for
    /// `x = [1, 's']; k = 'key'; [x, x, {'a': x, 'b': (x,)}, k, k, {k: 1}, {k: 2}, {1, 2},
    /// 3.5, 2**70]`: memo references to a list, a tuple and a string, a set, a big int.
    #[test]
    fn what_cpython_writes_with_shared_references_passes() {
        let pickles: [&[u8]; 3] = [
            b"(lp0\n(lp1\nI1\naVs\np2\naag1\na(dp3\nVa\np4\ng1\nsVb\np5\n(g1\ntp6\nsaVkey\np7\nag7\na(dp8\ng7\nI1\nsa(dp9\ng7\nI2\nsac__builtin__\nset\np10\n((lp11\nI1\naI2\natp12\nRp13\naF3.5\naL1180591620717411303424L\na.",
            b"\x80\x02]q\x00(]q\x01(K\x01X\x01\x00\x00\x00sq\x02eh\x01}q\x03(X\x01\x00\x00\x00aq\x04h\x01X\x01\x00\x00\x00bq\x05h\x01\x85q\x06uX\x03\x00\x00\x00keyq\x07h\x07}q\x08h\x07K\x01s}q\th\x07K\x02sc__builtin__\nset\nq\n]q\x0b(K\x01K\x02e\x85q\x0cRq\rG@\x0c\x00\x00\x00\x00\x00\x00\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@e.",
            b"\x80\x05\x95U\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94(K\x01\x8c\x01s\x94eh\x01}\x94(\x8c\x01a\x94h\x01\x8c\x01b\x94h\x01\x85\x94u\x8c\x03key\x94h\x07}\x94h\x07K\x01s}\x94h\x07K\x02s\x8f\x94(K\x01K\x02\x90G@\x0c\x00\x00\x00\x00\x00\x00\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@e.",
        ];
        for p in pickles {
            assert_eq!(check_default(p), Ok(()), "{p:?}");
            // (serde-pickle 1.2 itself then refuses the protocol 0 and 2 forms as a
            // "recursive structure", a limit of how it counts memo references: the
            // guard's part is only to add no refusal of its own.)
        }
    }

    #[test]
    fn nesting_is_bounded_where_the_decoder_would_recurse() {
        assert_eq!(check_default(&deep(255)), Ok(()));
        assert!(serde_pickle::value_from_slice(&deep(255), Default::default()).is_ok());
        assert_eq!(check_default(&deep(256)), Err(Refused::TooDeep(256)));
        assert_eq!(check_default(&deep(100_000)), Err(Refused::TooDeep(256)));
    }

    #[test]
    fn memo_references_cannot_amplify() {
        // One level decodes to [[], []]: three values, counted as such.
        let one = doubling(1);
        let v = serde_pickle::value_from_slice(&one, Default::default()).unwrap();
        assert_eq!(
            v,
            Value::List(vec![Value::List(vec![]), Value::List(vec![])])
        );
        let limits = |values| Limits {
            depth: 256,
            values,
            bytes: 1 << 20,
        };
        assert_eq!(check(&one, &limits(3)), Ok(()));
        assert!(matches!(
            check(&one, &limits(2)),
            Err(Refused::TooLarge { .. })
        ));
        // Ten levels expand to 2^11 - 1 values.
        assert_eq!(check(&doubling(10), &limits((1 << 11) - 1)), Ok(()));
        assert!(matches!(
            check(&doubling(10), &limits((1 << 11) - 2)),
            Err(Refused::TooLarge { .. })
        ));
        // 40 levels: about 350 bytes that would expand into 2^41 values.
        let bomb = doubling(40);
        assert!(bomb.len() < 400);
        assert!(matches!(
            check_default(&bomb),
            Err(Refused::TooLarge { .. })
        ));
    }

    #[test]
    fn a_referenced_string_counts_its_bytes_at_every_use() {
        // A 100 KB string memoized, then referenced 100 times in a list: 10 MB decoded.
        let mut p = vec![0x80, 3, b'X'];
        p.extend(100_000u32.to_le_bytes());
        p.extend(std::iter::repeat_n(b'x', 100_000));
        p.extend([b'q', 0, b'0', b'(']);
        for _ in 0..100 {
            p.extend([b'h', 0]);
        }
        p.extend([b'l', b'.']);
        assert!(matches!(check_default(&p), Err(Refused::TooLarge { .. })));
    }

    /// Every input of these tests, and every prefix and one-byte corruption of each.
    fn corpus() -> Vec<Vec<u8>> {
        let mut dict = BTreeMap::new();
        dict.insert(HashableValue::String("a".into()), Value::I64(10));
        let plain = value_to_vec(
            &Value::List(vec![
                Value::Dict(dict),
                Value::Tuple(vec![Value::F64(1.5), Value::Bool(true), Value::None]),
                Value::Bytes(vec![1, 2, 3]),
                Value::String("s".into()),
            ]),
            SerOptions::new(),
        )
        .unwrap();
        let base = [plain, deep(20), deep(300), doubling(3), doubling(30)];
        let mut out = Vec::new();
        for p in base {
            for cut in 0..p.len() {
                out.push(p[..cut].to_vec());
                for b in [b'h', b'2', b'(', b'a', b'.', b']', 0xff] {
                    let mut q = p.clone();
                    q[cut] = b;
                    out.push(q);
                }
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn the_quick_path_accepts_only_what_the_full_check_accepts() {
        let tight = Limits {
            depth: 8,
            values: 40,
            bytes: 40,
        };
        let mut quick_taken = 0;
        for p in corpus() {
            for limits in [Limits::for_input(p.len()), tight] {
                if quick(&p, &limits) {
                    quick_taken += 1;
                    assert_eq!(full(&p, &limits), Ok(()), "{p:?} {limits:?}");
                }
            }
        }
        assert!(quick_taken > 10, "the quick path is taken: {quick_taken}");
    }

    #[test]
    fn plain_data_takes_the_quick_path_and_the_rest_does_not() {
        let p = value_to_vec(&Value::List(vec![Value::I64(1); 10]), SerOptions::new()).unwrap();
        assert!(quick(&p, &Limits::for_input(p.len())));
        for other in [doubling(2), deep(40), deep(300)] {
            assert!(!quick(&other, &Limits::for_input(other.len())));
        }
    }

    #[test]
    fn self_reference_and_malformed_input_are_refused() {
        // A list memoized, then appended to itself.
        let p = [0x80, 3, b']', b'q', 0, b'h', 0, b'a', b'.'];
        assert_eq!(check_default(&p), Err(Refused::Recursive));
        for bad in [
            &b""[..],
            b"a.",
            b"\x80\x03h\x00.",
            b"\x80\x03X\xff\xff\xff\xff",
            b"\x80\x03]",
            b"\x80\x03\xfe.",
            b"\x80\x03I12",
        ] {
            assert!(
                matches!(check_default(bad), Err(Refused::Malformed { .. })),
                "{bad:?}"
            );
        }
    }
}
