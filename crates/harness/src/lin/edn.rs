//! Jepsen/knossos histories in EDN, and porcupine's key-value logs (which are the same
//! format, one operation map per line).
//!
//! A history is a sequence of operation maps, either one after the other (one per line,
//! as Jepsen's `history.edn` and porcupine's `test_data/kv/*.txt`) or inside one vector
//! or list (`[{...} {...}]`, as knossos' test data):
//!
//! ```text
//! {:process 0, :type :invoke, :f :write, :value 3}
//! {:process 1, :type :invoke, :f :read, :value nil}
//! {:process 0, :type :ok, :f :write, :value 3}
//! {:process 1, :type :ok, :f :read, :value 3}
//! {:process 2, :type :invoke, :f :append, :key "k1", :value "x 2 0 y"}
//! ```
//!
//! | field      | meaning                                                                  |
//! |------------|--------------------------------------------------------------------------|
//! | `:process` | the client; a non-integer (`:nemesis`) marks a fault-injection event, skipped |
//! | `:type`    | `:invoke` (the call), then `:ok` (it happened), `:fail` (it did *not* happen: the operation is dropped) or `:info` (unknown outcome) |
//! | `:f`       | the operation name (keyword or string)                                   |
//! | `:value`   | the argument on `:invoke`, the result on `:ok`                           |
//! | `:key`     | optional: the object (porcupine's kv logs); strings or integers          |
//!
//! Other fields (`:time`, `:index`, `:error`, ...) are ignored. Times are event
//! positions: the `n`-th operation event of the file happens at time `n`. An `:info`
//! completion becomes an operation of unknown outcome ([`Operation::info`]): it may take
//! effect at any point after its call, also after the `:info` event, or never. An
//! invocation with no completion at the end of the file is indeterminate (no return).
//!
//! Inputs and outputs, in the checker's JSON form (EDN `nil` is `null`, keywords become
//! strings without the colon, vectors and lists arrays, maps objects):
//!
//! | `:f`                  | input                | output on `:ok`        |
//! |-----------------------|----------------------|------------------------|
//! | `read`, `get`, `dequeue` | `null`            | the completion's value |
//! | `cas`                 | the invoke's `[old new]` | `true`             |
//! | anything else         | the invoke's value   | `null` if the completion echoes the invoke's value, else the completion's value |
//!
//! Malformed text is a [`LinError::Syntax`] naming the line; nothing panics. The EDN
//! reader covers what histories use: `nil`, booleans, integers, floats, strings with
//! escapes, keywords, symbols, vectors, lists, maps, sets, `;` comments, commas as
//! whitespace; tagged literals and other reader macros are refused.

use super::error::{LinError, SyntaxError};
use super::history::{History, Operation};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

const FORMAT: &str = "EDN";

/// One EDN form, as far as histories need.
#[derive(Debug, Clone, PartialEq)]
enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Keyword(String),
    Symbol(String),
    Vector(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The checker's JSON form of a value.
    fn to_json(&self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Int(i) => Value::from(*i),
            Edn::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::Vector(items) => Value::Array(items.iter().map(Edn::to_json).collect()),
            Edn::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    let key = match k {
                        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s.clone(),
                        other => other.to_json().to_string(),
                    };
                    map.insert(key, v.to_json());
                }
                Value::Object(map)
            }
        }
    }

    /// A short rendering for error messages.
    fn describe(&self) -> String {
        let text = match self {
            Edn::Nil => "nil".to_owned(),
            Edn::Keyword(k) => format!(":{k}"),
            other => other.to_json().to_string(),
        };
        if text.chars().count() > 40 {
            format!("{}…", text.chars().take(39).collect::<String>())
        } else {
            text
        }
    }

    fn get(&self, field: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(name) if name == field))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A reader over the text, tracking the line.
struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

type Parsed<T> = Result<T, (usize, SyntaxError)>;

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            chars: text.chars().peekable(),
            line: 1,
        }
    }

    fn err<T>(&self, e: SyntaxError) -> Parsed<T> {
        Err((self.line, e))
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next();
        if c == Some('\n') {
            self.line += 1;
        }
        c
    }

    /// Skips whitespace, commas and comments; the next character, if any.
    fn skip(&mut self) -> Option<char> {
        loop {
            match self.chars.peek().copied() {
                Some(c) if c.is_whitespace() || c == ',' => {
                    self.bump();
                }
                Some(';') => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                other => return other,
            }
        }
    }

    /// The next form, `None` at the end of the text.
    fn form(&mut self) -> Parsed<Option<Edn>> {
        let Some(c) = self.skip() else {
            return Ok(None);
        };
        let form = match c {
            '[' | '(' => {
                self.bump();
                Edn::Vector(self.seq(if c == '[' { ']' } else { ')' })?)
            }
            '{' => {
                self.bump();
                self.map()?
            }
            '#' => {
                self.bump();
                if self.chars.peek() == Some(&'{') {
                    self.bump();
                    Edn::Vector(self.seq('}')?)
                } else {
                    return self.err(SyntaxError::UnexpectedChar('#'));
                }
            }
            '"' => {
                self.bump();
                Edn::Str(self.string()?)
            }
            ']' | ')' | '}' => return self.err(SyntaxError::UnexpectedChar(c)),
            _ => self.atom()?,
        };
        Ok(Some(form))
    }

    fn seq(&mut self, close: char) -> Parsed<Vec<Edn>> {
        let mut items = Vec::new();
        loop {
            match self.skip() {
                None => return self.err(SyntaxError::UnexpectedEnd),
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => match self.form()? {
                    Some(f) => items.push(f),
                    None => return self.err(SyntaxError::UnexpectedEnd),
                },
            }
        }
    }

    fn map(&mut self) -> Parsed<Edn> {
        let items = self.seq('}')?;
        if items.len() % 2 == 1 {
            return self.err(SyntaxError::OddMap);
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            entries.push((k, v));
        }
        Ok(Edn::Map(entries))
    }

    fn string(&mut self) -> Parsed<String> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return self.err(SyntaxError::UnexpectedEnd),
                Some('"') => return Ok(out),
                Some('\\') => {
                    let c = match self.bump() {
                        None => return self.err(SyntaxError::UnexpectedEnd),
                        Some(c) => c,
                    };
                    match c {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'u' => {
                            let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                                Some(ch) if hex.len() == 4 => out.push(ch),
                                _ => return self.err(SyntaxError::BadToken(format!("\\u{hex}"))),
                            }
                        }
                        other => return self.err(SyntaxError::BadEscape(other)),
                    }
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// A number, keyword, symbol, `nil`, `true` or `false`.
    fn atom(&mut self) -> Parsed<Edn> {
        let mut token = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_whitespace() || matches!(c, ',' | '[' | ']' | '(' | ')' | '{' | '}' | '"' | ';')
            {
                break;
            }
            token.push(c);
            self.bump();
        }
        let first = token.chars().next().unwrap_or(' ');
        let second = token.chars().nth(1);
        let bad = || SyntaxError::BadToken(token.clone());
        if let Some(name) = token.strip_prefix(':') {
            if name.is_empty() || name.starts_with(':') {
                return self.err(bad());
            }
            return Ok(Edn::Keyword(name.to_owned()));
        }
        let numeric = first.is_ascii_digit()
            || (matches!(first, '-' | '+') && second.is_some_and(|c| c.is_ascii_digit()));
        if numeric {
            let digits = token.strip_suffix('N').unwrap_or(&token);
            if let Ok(i) = digits.parse::<i64>() {
                return Ok(Edn::Int(i));
            }
            let digits = token.strip_suffix('M').unwrap_or(&token);
            return match digits.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Edn::Float(f)),
                _ => self.err(bad()),
            };
        }
        match token.as_str() {
            "nil" => Ok(Edn::Nil),
            "true" => Ok(Edn::Bool(true)),
            "false" => Ok(Edn::Bool(false)),
            "" => self.err(SyntaxError::UnexpectedChar(first)),
            _ if first.is_alphabetic() || "*+!-_?<>=./".contains(first) => {
                Ok(Edn::Symbol(token.clone()))
            }
            _ => self.err(bad()),
        }
    }
}

/// An event's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// An operation awaiting its completion.
struct Pending {
    /// Index into the output operations.
    op: usize,
    f: String,
    value: Edn,
}

/// Reads an EDN history (see the [module docs](self)).
pub(super) fn parse(text: &str) -> Result<History, LinError> {
    let syntax = |(line, error): (usize, SyntaxError)| LinError::Syntax {
        format: FORMAT,
        line,
        error,
    };
    let mut reader = Reader::new(text);
    let mut forms: Vec<(usize, Edn)> = Vec::new();
    loop {
        reader.skip();
        let line = reader.line;
        match reader.form().map_err(syntax)? {
            Some(f) => forms.push((line, f)),
            None => break,
        }
    }
    // One vector (or list) of maps: its elements are the events.
    if let [(line, Edn::Vector(items))] = forms.as_slice() {
        let line = *line;
        forms = items.iter().map(|f| (line, f.clone())).collect();
    }
    if forms.is_empty() {
        return Err(syntax((reader.line, SyntaxError::Empty)));
    }

    let mut ops: Vec<Operation> = Vec::new();
    let mut dropped: Vec<bool> = Vec::new();
    let mut pending: HashMap<u32, Pending> = HashMap::new();
    let mut time = 0u64;
    for (line, form) in forms {
        let at = |e: SyntaxError| syntax((line, e));
        if !matches!(form, Edn::Map(_)) {
            return Err(at(SyntaxError::NotAMap(form.describe())));
        }
        let process = match form.get("process") {
            None => return Err(at(SyntaxError::MissingField(":process"))),
            Some(Edn::Int(p)) => u32::try_from(*p).map_err(|_| {
                at(SyntaxError::BadField {
                    field: ":process",
                    expected: "an integer 0 ..= 2^32-1 or a keyword",
                    found: p.to_string(),
                })
            })?,
            // `:nemesis` and other non-client processes inject faults; not operations.
            Some(Edn::Keyword(_)) => continue,
            Some(other) => {
                return Err(at(SyntaxError::BadField {
                    field: ":process",
                    expected: "an integer 0 ..= 2^32-1 or a keyword",
                    found: other.describe(),
                }))
            }
        };
        let kind = match form.get("type") {
            None => return Err(at(SyntaxError::MissingField(":type"))),
            Some(Edn::Keyword(t)) => match t.as_str() {
                "invoke" => Kind::Invoke,
                "ok" => Kind::Ok,
                "fail" => Kind::Fail,
                "info" => Kind::Info,
                other => return Err(at(SyntaxError::UnknownType(other.to_owned()))),
            },
            Some(other) => return Err(at(SyntaxError::UnknownType(other.describe()))),
        };
        let f = match form.get("f") {
            None => return Err(at(SyntaxError::MissingField(":f"))),
            Some(Edn::Keyword(f) | Edn::Str(f) | Edn::Symbol(f)) => f.clone(),
            Some(other) => {
                return Err(at(SyntaxError::BadField {
                    field: ":f",
                    expected: "a keyword or string",
                    found: other.describe(),
                }))
            }
        };
        let value = form.get("value").cloned().unwrap_or(Edn::Nil);
        let key = match form.get("key") {
            None | Some(Edn::Nil) => None,
            Some(Edn::Str(k) | Edn::Keyword(k) | Edn::Symbol(k)) => Some(k.clone()),
            Some(Edn::Int(k)) => Some(k.to_string()),
            Some(other) => {
                return Err(at(SyntaxError::BadField {
                    field: ":key",
                    expected: "a string, keyword or integer",
                    found: other.describe(),
                }))
            }
        };
        let now = time;
        time += 1;
        if kind == Kind::Invoke {
            if pending.contains_key(&process) {
                return Err(at(SyntaxError::DoubleInvoke(process)));
            }
            let input = match f.as_str() {
                "read" | "get" | "dequeue" => Value::Null,
                _ => value.to_json(),
            };
            let mut op = Operation::indeterminate(process, f.clone(), input, now);
            op.key = key;
            pending.insert(
                process,
                Pending {
                    op: ops.len(),
                    f,
                    value,
                },
            );
            ops.push(op);
            dropped.push(false);
            continue;
        }
        let Some(p) = pending.remove(&process) else {
            return Err(at(SyntaxError::NoInvoke(process)));
        };
        if p.f != f {
            return Err(at(SyntaxError::Mismatch {
                process,
                invoked: p.f,
                completed: f,
            }));
        }
        let op = &mut ops[p.op];
        match kind {
            Kind::Ok => {
                op.ret = Some(now);
                op.output = Some(match f.as_str() {
                    "read" | "get" | "dequeue" => value.to_json(),
                    "cas" => Value::Bool(true),
                    _ if value == p.value => Value::Null,
                    _ => value.to_json(),
                });
            }
            Kind::Fail => dropped[p.op] = true,
            Kind::Info => {
                op.ret = Some(now);
                op.unknown = true;
            }
            Kind::Invoke => {}
        }
    }
    Ok(ops
        .into_iter()
        .zip(dropped)
        .filter_map(|(op, gone)| (!gone).then_some(op))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn syntax(text: &str) -> SyntaxError {
        match parse(text) {
            Err(LinError::Syntax { error, .. }) => error,
            other => panic!("{text:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_knossos_vector_and_lines() {
        let lines = r#"
            ; a comment
            {:process 0, :type :invoke, :f :write, :value 3, :time 17}
            {:process 1, :type :invoke, :f :read, :value nil}
            {:process 0, :type :ok, :f :write, :value 3}
            {:process :nemesis, :type :info, :f :start, :value nil}
            {:process 1, :type :ok, :f :read, :value 3}
            {:process 2, :type :invoke, :f :cas, :value [3 4]}
            {:process 2, :type :ok, :f :cas, :value [3 4]}
        "#;
        let h = parse(lines).unwrap();
        let vector = format!("[{lines}]");
        assert_eq!(parse(&vector).unwrap(), h);
        assert_eq!(
            h.ops(),
            &[
                Operation::completed(0, "write", json!(3), 0, 2, json!(null)),
                Operation::completed(1, "read", json!(null), 1, 3, json!(3)),
                Operation::completed(2, "cas", json!([3, 4]), 4, 5, json!(true)),
            ]
        );
    }

    #[test]
    fn fail_info_and_pending() {
        let h = parse(
            r#"{:process 0, :type :invoke, :f :write, :value 1}
               {:process 0, :type :fail, :f :write, :value 1}
               {:process 1, :type :invoke, :f :write, :value 2}
               {:process 1, :type :info, :f :write, :value :timed-out}
               {:process 2, :type :invoke, :f :read, :value nil}"#,
        )
        .unwrap();
        // The failed write is gone; the :info one returned with unknown outcome; the
        // read never returned.
        assert_eq!(
            h.ops(),
            &[
                Operation::info(1, "write", json!(2), 2, 3),
                Operation::indeterminate(2, "read", json!(null), 4),
            ]
        );
    }

    #[test]
    fn porcupine_kv_line() {
        let h = parse(
            r#"{:process 3, :type :invoke, :f :append, :key "7", :value "x 3 0 y"}
{:process 4, :type :invoke, :f :get, :key "7", :value nil}
{:process 3, :type :ok, :f :append, :key "7", :value "x 3 0 y"}
{:process 4, :type :ok, :f :get, :key "7", :value "x 3 0 y"}"#,
        )
        .unwrap();
        assert_eq!(
            h.ops(),
            &[
                Operation::completed(3, "append", json!("x 3 0 y"), 0, 2, json!(null))
                    .with_key("7"),
                Operation::completed(4, "get", json!(null), 1, 3, json!("x 3 0 y")).with_key("7"),
            ]
        );
    }

    #[test]
    fn values_and_escapes() {
        let h = parse(
            r#"{:process 0 :type :invoke :f :put :key 5 :value {"a" [1 -2.5 true] :b #{nil}}}
               {:process 0 :type :ok :f :put :key 5 :value "q\"\\\n\u00e9"}"#,
        )
        .unwrap();
        let op = &h.ops()[0];
        assert_eq!(op.key.as_deref(), Some("5"));
        assert_eq!(op.input, json!({"a": [1, -2.5, true], "b": [null]}));
        assert_eq!(op.output, Some(json!("q\"\\\né")));
    }

    #[test]
    fn malformed_is_a_typed_error() {
        assert_eq!(syntax(""), SyntaxError::Empty);
        assert_eq!(syntax("; nothing"), SyntaxError::Empty);
        assert_eq!(syntax("{:process 0"), SyntaxError::UnexpectedEnd);
        assert_eq!(syntax("{:process 0 :type}"), SyntaxError::OddMap);
        assert_eq!(syntax("]"), SyntaxError::UnexpectedChar(']'));
        assert_eq!(syntax(r#"{:f "ab}"#), SyntaxError::UnexpectedEnd);
        assert_eq!(syntax(r#"{:f "a\qb"}"#), SyntaxError::BadEscape('q'));
        assert_eq!(syntax("#inst \"2020\""), SyntaxError::UnexpectedChar('#'));
        assert_eq!(syntax("{:process 1x}"), SyntaxError::BadToken("1x".into()));
        assert_eq!(syntax("[1 2]"), SyntaxError::NotAMap("1".into()));
        assert_eq!(
            syntax("{:type :invoke :f :read}"),
            SyntaxError::MissingField(":process")
        );
        assert_eq!(
            syntax("{:process 0 :f :read}"),
            SyntaxError::MissingField(":type")
        );
        assert_eq!(
            syntax("{:process 0 :type :invoke}"),
            SyntaxError::MissingField(":f")
        );
        assert_eq!(
            syntax("{:process 0 :type :done :f :read}"),
            SyntaxError::UnknownType("done".into())
        );
        assert!(matches!(
            syntax("{:process -1 :type :invoke :f :read}"),
            SyntaxError::BadField {
                field: ":process",
                ..
            }
        ));
        assert_eq!(
            syntax("{:process 0 :type :ok :f :read :value 1}"),
            SyntaxError::NoInvoke(0)
        );
        assert_eq!(
            syntax("{:process 0 :type :invoke :f :read}\n{:process 0 :type :invoke :f :read}"),
            SyntaxError::DoubleInvoke(0)
        );
        assert!(matches!(
            syntax("{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :write}"),
            SyntaxError::Mismatch { .. }
        ));
        // The line is reported.
        match parse("{:process 0 :type :invoke :f :read}\n\n{:process 0 :type :ok :f 7}") {
            Err(LinError::Syntax { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
