//! Jepsen's etcd register logs, as porcupine keeps them in `test_data/jepsen/` (after
//! Horn & Kroening's linearizability-checker) and `test_data/etcd/`.
//!
//! Each line is one event logged by `jepsen.util`: the process, the event type, the
//! operation and its value, separated by tabs and/or spaces (tabs in the real logs; shown
//! as spaces below), optionally followed by
//! `:hint N` (ignored):
//!
//! ```text
//! INFO  jepsen.util - 3  :invoke  :cas  [1 4]
//! INFO  jepsen.util - 3  :fail  :cas  [1 4]
//! INFO  jepsen.util - 4  :invoke  :read  nil
//! INFO  jepsen.util - 4  :ok  :read  2
//! INFO  jepsen.util - 1  :invoke  :write  3
//! INFO  jepsen.util - 1  :info  :write  :timed-out
//! INFO  jepsen.util - 6   :ok :write   38   :hint 2
//! ```
//!
//! The history is a single register of integers that starts absent (`nil`, JSON
//! `null`): check it with [`Register::new(Value::Null)`](super::Register). Events read
//! as porcupine's parser reads them:
//!
//! | event                 | operation                                                  |
//! |-----------------------|------------------------------------------------------------|
//! | `:invoke :read nil`   | call of `read`                                             |
//! | `:invoke :write v`    | call of `write(v)`                                         |
//! | `:invoke :cas [a b]`  | call of `cas(a, b)`                                        |
//! | `:ok :read v` / `nil` | returns `v` / `null` (the key does not exist)              |
//! | `:ok :write v`        | returns                                                    |
//! | `:ok :cas [a b]`      | returns `true`: the value was `a` and is now `b`           |
//! | `:fail :cas [a b]`    | returns `false`: etcd reported the comparison failed, so it did not happen *and* the value was not `a` |
//! | `:fail :read ...`     | did not happen (a read with no effect): dropped            |
//! | `:fail :write ...`    | did not happen: dropped                                    |
//! | `:info :f ...`        | unknown outcome ([`Operation::info`]): may take effect at any point after its call, also later, or never |
//! | no completion         | indeterminate (never returned)                             |
//!
//! (In EDN histories, [`edn`](super::edn), a `:fail` cas is simply dropped, as knossos
//! does; porcupine's reading of these logs is stronger, and the one that gives its
//! verdicts.) Times are line positions. Lines of other loggers (`jepsen.core`, ...) and
//! blank lines are skipped; a `jepsen.util` line that is not an event is a
//! [`LinError::Syntax`].

use super::error::{LinError, SyntaxError};
use super::history::{History, Operation};
use serde_json::{json, Value};
use std::collections::HashMap;

const FORMAT: &str = "Jepsen log";

/// A parsed event value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Nil,
    Int(i64),
    Pair(i64, i64),
    Keyword,
}

fn parse_arg(words: &[&str]) -> Option<(Arg, usize)> {
    let first = *words.first()?;
    if first == "nil" {
        return Some((Arg::Nil, 1));
    }
    if first.starts_with(':') && first.len() > 1 {
        return Some((Arg::Keyword, 1));
    }
    if let Some(rest) = first.strip_prefix('[') {
        // `[a b]`: either one word `[a` + `b]`, or `[a b]` split differently.
        let joined: String = if rest.ends_with(']') {
            rest.to_owned()
        } else {
            format!("{rest} {}", words.get(1)?)
        };
        let used = if rest.ends_with(']') { 1 } else { 2 };
        let inner = joined.strip_suffix(']')?;
        let mut nums = inner.split_whitespace().map(str::parse::<i64>);
        let (a, b) = (nums.next()?.ok()?, nums.next()?.ok()?);
        if nums.next().is_some() {
            return None;
        }
        return Some((Arg::Pair(a, b), used));
    }
    first.parse().ok().map(|i| (Arg::Int(i), 1))
}

/// Reads a Jepsen etcd log (see the [module docs](self)).
pub(super) fn parse(text: &str) -> Result<History, LinError> {
    let mut ops: Vec<Operation> = Vec::new();
    let mut keep: Vec<bool> = Vec::new();
    let mut pending: HashMap<u32, usize> = HashMap::new();
    let mut time = 0u64;
    for (n, line) in text.lines().enumerate() {
        let at = |error| LinError::Syntax {
            format: FORMAT,
            line: n + 1,
            error,
        };
        if line.trim().is_empty() {
            continue;
        }
        let not_event = || at(SyntaxError::NotALogLine(line.chars().take(80).collect()));
        let words: Vec<&str> = line.split_whitespace().collect();
        // LEVEL logger - rest
        let (logger, rest) = match words.as_slice() {
            [_level, logger, "-", rest @ ..] => (*logger, rest),
            _ => return Err(not_event()),
        };
        if logger != "jepsen.util" {
            continue;
        }
        let (process, kind, f, arg) = match rest {
            [process, kind, f, value @ ..] => {
                let process: u32 = process.parse().map_err(|_| not_event())?;
                let (arg, used) = parse_arg(value).ok_or_else(not_event)?;
                match &value[used..] {
                    [] => {}
                    [":hint", hint] if hint.parse::<u64>().is_ok() => {}
                    _ => return Err(not_event()),
                }
                (process, *kind, *f, arg)
            }
            _ => return Err(not_event()),
        };
        let f = f
            .strip_prefix(':')
            .filter(|f| matches!(*f, "read" | "write" | "cas"))
            .ok_or_else(not_event)?;
        let now = time;
        time += 1;
        match kind {
            ":invoke" => {
                let input = match (f, &arg) {
                    ("read", _) => Value::Null,
                    ("write", Arg::Int(v)) => json!(v),
                    ("cas", Arg::Pair(a, b)) => json!([a, b]),
                    _ => return Err(not_event()),
                };
                if pending.contains_key(&process) {
                    return Err(at(SyntaxError::DoubleInvoke(process)));
                }
                pending.insert(process, ops.len());
                ops.push(Operation::indeterminate(process, f, input, now));
                keep.push(true);
            }
            ":ok" | ":fail" | ":info" => {
                let Some(i) = pending.remove(&process) else {
                    return Err(at(SyntaxError::NoInvoke(process)));
                };
                let op = &mut ops[i];
                if op.op != f {
                    return Err(at(SyntaxError::Mismatch {
                        process,
                        invoked: op.op.clone(),
                        completed: f.to_owned(),
                    }));
                }
                match (kind, f, arg) {
                    (":info", _, _) => {
                        op.ret = Some(now);
                        op.unknown = true;
                    }
                    (":ok", "read", Arg::Nil) => op.complete(now, Value::Null),
                    (":ok", "read", Arg::Int(v)) => op.complete(now, json!(v)),
                    (":ok", "write", _) => op.complete(now, Value::Null),
                    (":ok", "cas", _) => op.complete(now, json!(true)),
                    (":fail", "cas", Arg::Pair(..)) => op.complete(now, json!(false)),
                    (":fail", "read" | "write", _) => keep[i] = false,
                    _ => return Err(not_event()),
                }
            }
            _ => return Err(at(SyntaxError::UnknownType(kind.to_owned()))),
        }
    }
    if ops.is_empty() {
        return Err(LinError::Syntax {
            format: FORMAT,
            line: text.lines().count().max(1),
            error: SyntaxError::Empty,
        });
    }
    Ok(ops
        .into_iter()
        .zip(keep)
        .filter_map(|(op, k)| k.then_some(op))
        .collect())
}

impl Operation {
    /// Marks the operation returned at `ret` with `output`.
    fn complete(&mut self, ret: u64, output: Value) {
        self.ret = Some(ret);
        self.output = Some(output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(text: &str) -> (usize, SyntaxError) {
        match parse(text) {
            Err(LinError::Syntax { line, error, .. }) => (line, error),
            other => panic!("{text:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn events_become_operations() {
        let h = parse(
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
             INFO  jepsen.core - something else entirely\n\
             INFO  jepsen.util - 1\t:invoke\t:cas\t[0 3]\n\
             INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
             INFO  jepsen.util - 1\t:fail\t:cas\t[0 3]\n\
             \n\
             INFO  jepsen.util - 2 \t:invoke :write \t38 \t:hint 0\n\
             INFO  jepsen.util - 2 \t:ok :write \t38 \t:hint 2\n\
             INFO  jepsen.util - 3\t:invoke\t:write\t4\n\
             INFO  jepsen.util - 3\t:info\t:write\t:timed-out\n\
             INFO  jepsen.util - 4\t:invoke\t:read\tnil\n\
             INFO  jepsen.util - 4\t:fail\t:read\t:timed-out\n\
             INFO  jepsen.util - 5\t:invoke\t:cas\t[4 1]\n",
        )
        .unwrap();
        assert_eq!(
            h.ops(),
            &[
                Operation::completed(0, "read", json!(null), 0, 2, json!(null)),
                Operation::completed(1, "cas", json!([0, 3]), 1, 3, json!(false)),
                Operation::completed(2, "write", json!(38), 4, 5, json!(null)),
                Operation::info(3, "write", json!(4), 6, 7),
                Operation::indeterminate(5, "cas", json!([4, 1]), 10),
            ]
        );
    }

    #[test]
    fn malformed_is_a_typed_error() {
        assert_eq!(syntax("").1, SyntaxError::Empty);
        assert_eq!(
            syntax("INFO jepsen.core - hello").1,
            SyntaxError::Empty,
            "no events at all"
        );
        assert!(matches!(syntax("garbage").1, SyntaxError::NotALogLine(_)));
        for bad in [
            "INFO  jepsen.util - x\t:invoke\t:read\tnil",
            "INFO  jepsen.util - 0\t:invoke\t:frob\tnil",
            "INFO  jepsen.util - 0\t:invoke\t:write\tnil",
            "INFO  jepsen.util - 0\t:invoke\t:cas\t[1]",
            "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2 3]",
            "INFO  jepsen.util - 0\t:invoke\t:write\t1\textra",
            "INFO  jepsen.util - 0\t:invoke",
        ] {
            assert!(
                matches!(syntax(bad), (1, SyntaxError::NotALogLine(_))),
                "{bad}"
            );
        }
        assert_eq!(
            syntax("INFO jepsen.util - 0 :invoke :read nil\nINFO jepsen.util - 0 :done :read nil"),
            (2, SyntaxError::UnknownType(":done".into()))
        );
        assert_eq!(
            syntax("INFO jepsen.util - 0 :ok :read 1").1,
            SyntaxError::NoInvoke(0)
        );
        assert_eq!(
            syntax(
                "INFO jepsen.util - 0 :invoke :read nil\nINFO jepsen.util - 0 :invoke :read nil"
            )
            .1,
            SyntaxError::DoubleInvoke(0)
        );
        assert!(matches!(
            syntax("INFO jepsen.util - 0 :invoke :read nil\nINFO jepsen.util - 0 :ok :write 1").1,
            SyntaxError::Mismatch { .. }
        ));
    }
}
