//! The manager's wire protocol: one request frame, one reply frame.
//!
//! Frames are the Connection's ([`procshare_connection::frame`]); inside, the envelope
//! ([`Request`], [`Reply`]) is postcard, and the payloads (method arguments, results,
//! stored data) are pickle ([`Value`]), a self-describing format: the server can check
//! argument types, print values as Python does, and find the nested proxies inside a
//! stored value (a proxy is the tuple `("__procshare_proxy__", typeid, id)`, see
//! [`proxy_marker`]).
//!
//! # A request's life cycle
//!
//! | state        | what happens                                              | a client that dies here… |
//! |--------------|-----------------------------------------------------------|--------------------------|
//! | `Handshake`  | mutual HMAC (the Connection's); nothing is read before it passes | is dropped; nothing read |
//! | `Hello`      | the connection joins a session (the client process)       | its session is released when its last connection closes |
//! | `Receiving`  | the frame arrives (bounded: [`DEFAULT_MAX_REQUEST`])      | …left a partial frame: never applied |
//! | `Applying`   | decoded, checked whole, then applied under the object's lock | …cannot: the request is applied whole |
//! | `Replying`   | the reply is written                                      | …the result stands (a lock it just acquired is released again) |
//!
//! Malformed envelopes, unknown ids, wrong argument types and unknown methods are
//! error replies ([`RemoteError`]); the connection keeps serving. Tested by the crate's
//! `tests/` (hostile frames written by hand) and the unit tests below.

use crate::error::{RemoteError, RemoteKind};
use serde::{Deserialize, Serialize};
pub use serde_pickle::{HashableValue, Value};

/// The largest request frame a server accepts by default (16 MiB); a longer one is a
/// [`RemoteKind::TooLarge`] reply and the connection is closed.
pub const DEFAULT_MAX_REQUEST: u64 = 16 << 20;

/// The first element of the tuple that stands for a proxy inside stored data.
pub const PROXY_TAG: &str = "__procshare_proxy__";

/// A request from a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// The first request on every connection: join session `session` (a random number
    /// chosen by the client process). References belong to sessions.
    Hello {
        /// The client process's session.
        session: u64,
    },
    /// Create an object of type `typeid` from the pickled `args`; the session gets one
    /// reference. Reply: the new id (pickled `int`).
    Create {
        /// `"dict"`, `"list"`, `"namespace"`, `"value"`, `"lock"`, … or a custom type.
        typeid: String,
        /// Pickled tuple of constructor arguments.
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
    },
    /// Call `method` of object `id` with the pickled argument tuple `args`.
    Call {
        /// The object.
        id: u64,
        /// The method name.
        method: String,
        /// Pickled tuple of arguments.
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
    },
    /// The session takes one more reference to `id`.
    Incref {
        /// The object.
        id: u64,
    },
    /// The session drops one reference to `id` (freed when no reference is left).
    Decref {
        /// The object.
        id: u64,
    },
    /// How many objects are alive (reply: pickled `int`).
    LiveObjects,
    /// Stop the server (reply first).
    Shutdown,
    /// Move this connection onto shared-memory rings (the local fast path, see
    /// [`crate::fastpath`]): after the `Ok` reply the client sends one byte carrying the
    /// region's memfd (`SCM_RIGHTS`), and the server answers once more over the socket.
    /// Refused (an error reply, the connection stays on the socket) before `Hello`, on a
    /// connection that is not a Unix socket, or on one already on rings.
    FastPath,
    /// How many requests this server has served through fast-path rings so far (reply:
    /// pickled `int`): tests use it to prove the fast path is taken.
    RingRequests,
}

/// [`Request`] read in place, as the server reads it: the same encoding, the method name,
/// type id and pickled arguments borrowed from the frame (`a_request_read_in_place_is_the_request`).
#[derive(Debug, Deserialize)]
pub(crate) enum RequestRef<'a> {
    /// [`Request::Hello`].
    Hello { session: u64 },
    /// [`Request::Create`].
    Create { typeid: &'a str, args: &'a [u8] },
    /// [`Request::Call`].
    Call {
        id: u64,
        method: &'a str,
        args: &'a [u8],
    },
    /// [`Request::Incref`].
    Incref { id: u64 },
    /// [`Request::Decref`].
    Decref { id: u64 },
    /// [`Request::LiveObjects`].
    LiveObjects,
    /// [`Request::Shutdown`].
    Shutdown,
    /// [`Request::FastPath`].
    FastPath,
    /// [`Request::RingRequests`].
    RingRequests,
}

/// The server's answer to one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// Success: the pickled result.
    Ok(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Failure: nothing was applied.
    Err(RemoteError),
}

/// [`Reply`] read in place: the same encoding, the result borrowed from the frame.
#[derive(Debug, Deserialize)]
pub(crate) enum ReplyRef<'a> {
    /// [`Reply::Ok`].
    Ok(&'a [u8]),
    /// [`Reply::Err`].
    Err(RemoteError),
}

/// Encode a request envelope.
pub fn encode_request(r: &Request) -> Vec<u8> {
    postcard::to_allocvec(r).expect("postcard encodes every Request")
}

/// [`Request::Call`] borrowed, for encoding without copying the method name: the same
/// variant index and fields, so the same bytes (`a_call_encodes_as_the_request_does`).
#[derive(Serialize)]
enum CallRef<'a> {
    #[allow(dead_code)]
    Hello { session: u64 },
    #[allow(dead_code)]
    Create { typeid: &'a str, args: &'a [u8] },
    Call {
        id: u64,
        method: &'a str,
        #[serde(with = "serde_bytes")]
        args: &'a [u8],
    },
}

/// Encode `Request::Call { id, method, args }` without building the request.
pub fn encode_call(id: u64, method: &str, args: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_call_into(id, method, args, &mut out);
    out
}

/// [`encode_call`] into `out` (cleared first, its capacity kept).
pub(crate) fn encode_call_into(id: u64, method: &str, args: &[u8], out: &mut Vec<u8>) {
    postcard_into(&CallRef::Call { id, method, args }, out);
}

/// Encode a reply envelope.
pub fn encode_reply(r: &Reply) -> Vec<u8> {
    postcard::to_allocvec(r).expect("postcard encodes every Reply")
}

/// [`Reply::Ok`] of `v`, pickled through `scratch` into `out` (both cleared first and
/// kept by the caller, so a server that answers request after request allocates
/// nothing): the same bytes as `encode_reply(&Reply::Ok(pickle_value(v)))`
/// (`an_ok_reply_encodes_in_place_as_reply_ok_does`).
pub(crate) fn encode_ok_reply_into(v: &Value, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    enum OkRef<'a> {
        Ok(#[serde(with = "serde_bytes")] &'a [u8]),
    }
    scratch.clear();
    serde_pickle::value_to_writer(scratch, v, serde_pickle::SerOptions::new())
        .expect("a Value always pickles");
    postcard_into(&OkRef::Ok(scratch), out);
}

/// Encode an envelope into `out` (cleared first, its capacity kept).
fn postcard_into<T: Serialize>(v: &T, out: &mut Vec<u8>) {
    out.clear();
    let taken = std::mem::take(out);
    *out = postcard::to_extend(v, taken).expect("postcard encodes every envelope");
}

/// Pickle a value (payloads of requests and replies).
pub fn pickle<T: Serialize>(v: &T) -> Result<Vec<u8>, serde_pickle::Error> {
    serde_pickle::to_vec(v, serde_pickle::SerOptions::new())
}

/// [`pickle`] into `out` (cleared first, its capacity kept).
pub(crate) fn pickle_into<T: Serialize>(
    v: &T,
    out: &mut Vec<u8>,
) -> Result<(), serde_pickle::Error> {
    out.clear();
    serde_pickle::to_writer(out, v, serde_pickle::SerOptions::new())
}

/// Pickle an already built [`Value`].
pub fn pickle_value(v: &Value) -> Vec<u8> {
    serde_pickle::value_to_vec(v, serde_pickle::SerOptions::new()).expect("a Value always pickles")
}

/// Why a payload did not unpickle: too costly to decode or malformed (the guard), or
/// refused by `serde-pickle`.
pub use procshare_connection::plain_pickle::DecodeError as UnpickleError;

/// Unpickle any value ([`procshare_connection::plain_pickle::value_from_slice`]): plain
/// data (what a Rust client sends) is decoded directly, anything else after the guard, so
/// a hostile payload can neither nest deep enough to overflow a stack nor expand through
/// memo references.
pub fn unpickle_value(bytes: &[u8]) -> Result<Value, UnpickleError> {
    procshare_connection::plain_pickle::value_from_slice(bytes)
}

/// The value that stands for a proxy to object `id` of type `typeid`.
pub fn proxy_marker(typeid: &str, id: u64) -> Value {
    Value::Tuple(vec![
        Value::String(PROXY_TAG.into()),
        Value::String(typeid.into()),
        Value::I64(id as i64),
    ])
}

/// If `v` stands for a proxy: its type and id.
pub fn as_proxy(v: &Value) -> Option<(&str, u64)> {
    match v {
        Value::Tuple(items) => match items.as_slice() {
            [Value::String(tag), Value::String(typeid), Value::I64(id)]
                if tag == PROXY_TAG && *id >= 0 =>
            {
                Some((typeid, *id as u64))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Every proxy id inside `v` (with repetition), appended to `out`.
pub fn proxies_in(v: &Value, out: &mut Vec<u64>) {
    if let Some((_, id)) = as_proxy(v) {
        out.push(id);
        return;
    }
    match v {
        Value::List(items) | Value::Tuple(items) => items.iter().for_each(|i| proxies_in(i, out)),
        Value::Dict(map) => map.values().for_each(|i| proxies_in(i, out)),
        _ => {}
    }
}

/// A type-mismatch error.
pub(crate) fn type_error(msg: impl Into<String>) -> RemoteError {
    RemoteError::new(RemoteKind::TypeMismatch, msg)
}

/// Python's `repr` of a string: single quotes unless the text has one and no double one.
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn repr_bytes(b: &[u8], out: &mut String) {
    out.push_str("b'");
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('\'');
}

fn repr_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        // `{:?}` keeps the `.0` of whole numbers, as Python's repr does.
        out.push_str(&format!("{f:?}"));
    }
}

/// The display name of a proxy type (`dict` → `DictProxy`, as CPython names them).
pub fn proxy_type_name(typeid: &str) -> String {
    match typeid {
        "dict" => "DictProxy".into(),
        "list" => "ListProxy".into(),
        "namespace" => "NamespaceProxy".into(),
        "value" => "ValueProxy".into(),
        other => format!("{other}Proxy"),
    }
}

/// Python's `repr` of a value; a nested proxy prints as CPython prints one
/// (`<DictProxy object, typeid 'dict', id 3>`).
pub fn repr(v: &Value, out: &mut String) {
    if let Some((typeid, id)) = as_proxy(v) {
        out.push_str(&format!(
            "<{} object, typeid '{typeid}', id {id}>",
            proxy_type_name(typeid)
        ));
        return;
    }
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::I64(i) => out.push_str(&i.to_string()),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::F64(f) => repr_float(*f, out),
        Value::Bytes(b) => repr_bytes(b, out),
        Value::String(s) => repr_str(s, out),
        Value::List(items) => repr_seq(items.iter(), "[", "]", false, out),
        Value::Tuple(items) => repr_seq(items.iter(), "(", ")", items.len() == 1, out),
        Value::Set(s) if s.is_empty() => out.push_str("set()"),
        Value::Set(s) => repr_hseq(s.iter(), "{", "}", out),
        Value::FrozenSet(s) if s.is_empty() => out.push_str("frozenset()"),
        Value::FrozenSet(s) => repr_hseq(s.iter(), "frozenset({", "})", out),
        Value::Dict(map) => {
            repr_items(map.iter().map(|(k, v)| (k.clone().into_value(), v)), out);
        }
    }
}

/// `{k: v, …}` in the order given.
pub fn repr_items<'a>(items: impl Iterator<Item = (Value, &'a Value)>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr(&k, out);
        out.push_str(": ");
        repr(v, out);
    }
    out.push('}');
}

fn repr_seq<'a>(
    items: impl Iterator<Item = &'a Value>,
    open: &str,
    close: &str,
    trailing_comma: bool,
    out: &mut String,
) {
    out.push_str(open);
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr(v, out);
    }
    if trailing_comma {
        out.push(',');
    }
    out.push_str(close);
}

fn repr_hseq<'a>(
    items: impl Iterator<Item = &'a HashableValue>,
    open: &str,
    close: &str,
    out: &mut String,
) {
    out.push_str(open);
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr(&v.clone().into_value(), out);
    }
    out.push_str(close);
}

/// `repr` into a fresh string.
pub fn repr_string(v: &Value) -> String {
    let mut s = String::new();
    repr(v, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_encodes_as_the_request_does() {
        for (id, method, args) in [(0, "", vec![]), (1 << 40, "get", vec![0x80; 200])] {
            let owned = encode_request(&Request::Call {
                id,
                method: method.into(),
                args: args.clone(),
            });
            assert_eq!(encode_call(id, method, &args), owned);
            let mut out = vec![5u8; 500];
            encode_call_into(id, method, &args, &mut out);
            assert_eq!(out, owned);
        }
        let mut out = vec![1u8; 9];
        pickle_into(&("key", 3i64), &mut out).unwrap();
        assert_eq!(out, pickle(&("key", 3i64)).unwrap());
    }

    #[test]
    fn an_ok_reply_encodes_in_place_as_reply_ok_does() {
        let (mut scratch, mut out) = (vec![9u8; 40], vec![1u8; 3]);
        let long = Value::String("x".repeat(300));
        for v in [Value::None, Value::I64(-5), long, proxy_marker("dict", 7)] {
            encode_ok_reply_into(&v, &mut scratch, &mut out);
            assert_eq!(out, encode_reply(&Reply::Ok(pickle_value(&v))));
        }
    }

    #[test]
    fn a_request_read_in_place_is_the_request() {
        let all = [
            Request::Hello { session: 1 << 50 },
            Request::Create {
                typeid: "dict".into(),
                args: vec![0x80, 4, b')', b'.'],
            },
            Request::Call {
                id: 3,
                method: "get".into(),
                args: vec![0x80; 300],
            },
            Request::Incref { id: 4 },
            Request::Decref { id: u64::MAX },
            Request::LiveObjects,
            Request::Shutdown,
            Request::FastPath,
            Request::RingRequests,
        ];
        for req in all {
            let bytes = encode_request(&req);
            let got = postcard::from_bytes::<RequestRef<'_>>(&bytes).unwrap();
            let same = match (&req, got) {
                (Request::Hello { session: a }, RequestRef::Hello { session: b }) => *a == b,
                (Request::Create { typeid, args }, RequestRef::Create { typeid: t, args: a }) => {
                    typeid == t && args == a
                }
                (
                    Request::Call { id, method, args },
                    RequestRef::Call {
                        id: i,
                        method: m,
                        args: a,
                    },
                ) => *id == i && method == m && args == a,
                (Request::Incref { id: a }, RequestRef::Incref { id: b })
                | (Request::Decref { id: a }, RequestRef::Decref { id: b }) => *a == b,
                (Request::LiveObjects, RequestRef::LiveObjects)
                | (Request::Shutdown, RequestRef::Shutdown)
                | (Request::FastPath, RequestRef::FastPath)
                | (Request::RingRequests, RequestRef::RingRequests) => true,
                _ => false,
            };
            assert!(same, "{req:?}");
        }
    }

    #[test]
    fn a_reply_read_in_place_is_the_reply() {
        for payload in [vec![], vec![7u8; 3], vec![0x80; 300]] {
            let bytes = encode_reply(&Reply::Ok(payload.clone()));
            match postcard::from_bytes::<ReplyRef<'_>>(&bytes).unwrap() {
                ReplyRef::Ok(b) => assert_eq!(b, &payload[..]),
                other => panic!("{other:?}"),
            }
        }
        let e = RemoteError::new(RemoteKind::TypeMismatch, "no");
        let bytes = encode_reply(&Reply::Err(e.clone()));
        match postcard::from_bytes::<ReplyRef<'_>>(&bytes).unwrap() {
            ReplyRef::Err(got) => assert_eq!(format!("{got:?}"), format!("{e:?}")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repr_is_pythons() {
        let v = Value::List(vec![
            Value::Tuple(vec![Value::String("ann".into()), Value::I64(90)]),
            Value::Tuple(vec![Value::F64(1.0)]),
            Value::String("it's".into()),
            Value::Bytes(b"a\x00'".to_vec()),
            Value::None,
            Value::Bool(true),
        ]);
        assert_eq!(
            repr_string(&v),
            r#"[('ann', 90), (1.0,), "it's", b'a\x00\'', None, True]"#
        );
        assert_eq!(
            repr_string(&proxy_marker("dict", 7)),
            "<DictProxy object, typeid 'dict', id 7>"
        );
    }

    #[test]
    fn proxies_are_found_inside_containers() {
        let v = Value::List(vec![
            proxy_marker("dict", 1),
            Value::Tuple(vec![Value::I64(3), proxy_marker("list", 2)]),
            // Not a marker: wrong arity.
            Value::Tuple(vec![Value::String(PROXY_TAG.into()), Value::I64(9)]),
        ]);
        let mut ids = Vec::new();
        proxies_in(&v, &mut ids);
        assert_eq!(ids, vec![1, 2]);
    }

    #[test]
    fn envelopes_round_trip_and_garbage_is_an_error() {
        let r = Request::Call {
            id: 3,
            method: "get".into(),
            args: pickle(&("a",)).unwrap(),
        };
        let back: Request = postcard::from_bytes(&encode_request(&r)).unwrap();
        assert!(matches!(back, Request::Call { id: 3, .. }));
        assert!(postcard::from_bytes::<Request>(&[0xff, 0xff, 0xff]).is_err());
    }
}
