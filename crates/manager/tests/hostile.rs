//! Hostile clients, written by hand on raw connections: every bad request is a typed
//! error reply, nothing half-applied, the server keeps serving, its memory stays bounded,
//! and an unauthenticated peer is dropped before any request is read.

use procshare_connection::{frame, Address, Auth, Client, Connection};
use procshare_manager::wire::{self, Reply, Request, Value};
use procshare_manager::{Manager, RemoteKind};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

fn raw(m: &Manager) -> Connection {
    Client::new(m.address().clone())
        .auth(Auth::key(m.authkey()))
        .connect()
        .unwrap()
}

fn ask_bytes(c: &Connection, bytes: &[u8]) -> Reply {
    c.send_bytes(bytes).unwrap();
    postcard::from_bytes(&c.recv_bytes().unwrap()).unwrap()
}

fn ask(c: &Connection, r: &Request) -> Reply {
    ask_bytes(c, &wire::encode_request(r))
}

fn err_kind(r: Reply) -> RemoteKind {
    match r {
        Reply::Err(e) => e.kind,
        Reply::Ok(v) => panic!("expected an error, got {:?}", wire::unpickle_value(&v)),
    }
}

fn ok(r: Reply) -> Value {
    match r {
        Reply::Ok(v) => wire::unpickle_value(&v).unwrap(),
        Reply::Err(e) => panic!("{e}"),
    }
}

fn call(id: u64, method: &str, args: Vec<u8>) -> Request {
    Request::Call {
        id,
        method: method.into(),
        args,
    }
}

fn server_rss_kib(m: &Manager) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", m.server_pid().unwrap())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn bad_requests_get_typed_errors_and_change_nothing() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    d.insert("k".into(), 1).unwrap();
    let c = raw(&m);
    let call_get = call(d.id(), "get", wire::pickle(&("k",)).unwrap());
    assert_eq!(
        err_kind(ask(&c, &call_get)),
        RemoteKind::BadRequest,
        "before Hello"
    );
    assert!(matches!(
        ok(ask(&c, &Request::Hello { session: 1 })),
        Value::None
    ));
    assert_eq!(
        err_kind(ask(&c, &Request::Hello { session: 2 })),
        RemoteKind::BadRequest
    );
    // Garbage envelopes, the empty message, unpicklable arguments.
    assert_eq!(
        err_kind(ask_bytes(&c, b"\xff\xff\xff\xff")),
        RemoteKind::BadRequest
    );
    assert_eq!(err_kind(ask_bytes(&c, b"")), RemoteKind::BadRequest);
    // A valid envelope with bytes after it is not that envelope.
    let mut trailing = wire::encode_request(&Request::LiveObjects);
    trailing.push(0);
    assert_eq!(err_kind(ask_bytes(&c, &trailing)), RemoteKind::BadRequest);
    assert_eq!(
        err_kind(ask(&c, &call(d.id(), "get", b"not a pickle".to_vec()))),
        RemoteKind::BadRequest
    );
    // Unknown ids, types and methods.
    assert_eq!(
        err_kind(ask(
            &c,
            &call(999_999, "get", wire::pickle(&("k",)).unwrap())
        )),
        RemoteKind::UnknownObject
    );
    assert_eq!(
        err_kind(ask(&c, &Request::Incref { id: 999_999 })),
        RemoteKind::UnknownObject
    );
    assert_eq!(
        err_kind(ask(
            &c,
            &Request::Create {
                typeid: "no such type".into(),
                args: wire::pickle(&()).unwrap()
            }
        )),
        RemoteKind::UnknownType
    );
    assert_eq!(
        err_kind(ask(
            &c,
            &call(d.id(), "fetch_add", wire::pickle(&(1,)).unwrap())
        )),
        RemoteKind::NotExposed
    );
    // Wrong types and counts.
    assert_eq!(
        err_kind(ask(
            &c,
            &call(d.id(), "insert", wire::pickle(&(vec![1], 2)).unwrap())
        )),
        RemoteKind::TypeMismatch,
        "an unhashable key"
    );
    assert_eq!(
        err_kind(ask(
            &c,
            &call(d.id(), "insert", wire::pickle(&("only the key",)).unwrap())
        )),
        RemoteKind::TypeMismatch
    );
    assert_eq!(
        err_kind(ask(
            &c,
            &call(
                d.id(),
                "update",
                wire::pickle(&(vec![("ok", 1)], 5)).unwrap()
            )
        )),
        RemoteKind::TypeMismatch
    );
    // update is all or nothing: the bad pair (an unhashable key) comes last.
    let mixed = Value::List(vec![
        Value::Tuple(vec![Value::String("new".into()), Value::I64(1)]),
        Value::Tuple(vec![Value::List(vec![]), Value::I64(2)]),
    ]);
    let args = wire::pickle_value(&Value::Tuple(vec![mixed]));
    assert_eq!(
        err_kind(ask(&c, &call(d.id(), "update", args))),
        RemoteKind::TypeMismatch
    );
    // A forged proxy to an object that does not exist is not stored.
    let forged = wire::pickle_value(&Value::Tuple(vec![
        Value::String("forged".into()),
        wire::proxy_marker("dict", 424_242),
    ]));
    assert_eq!(
        err_kind(ask(&c, &call(d.id(), "insert", forged))),
        RemoteKind::UnknownObject
    );
    let l = m.list::<i64>().unwrap();
    assert_eq!(
        err_kind(ask(
            &c,
            &call(l.id(), "get", wire::pickle(&("zero",)).unwrap())
        )),
        RemoteKind::TypeMismatch
    );
    // Dropping a reference this session never held frees nothing.
    assert_eq!(
        err_kind(ask(&c, &Request::Decref { id: d.id() })),
        RemoteKind::NoReference
    );
    assert_eq!(m.live_objects().unwrap(), 2);
    assert_eq!(d.to_string(), "{'k': 1}", "nothing was applied");
    // The same connection still serves well-formed requests.
    let got = ok(ask(
        &c,
        &call(d.id(), "get", wire::pickle(&("k",)).unwrap()),
    ));
    assert_eq!(got, Value::List(vec![Value::I64(1)]));
}

#[test]
fn an_oversized_frame_is_a_typed_error_then_the_connection_closes() {
    let m = Manager::start().unwrap();
    for header in [
        frame::Header::for_len(0x7fff_ffff),
        frame::Header::extended(1 << 62),
    ] {
        let c = raw(&m);
        ok(ask(&c, &Request::Hello { session: 5 }));
        let mut s = UnixStream::from(c.into_fd().unwrap());
        s.write_all(header.as_bytes()).unwrap();
        let back = Connection::from_socket(s.into());
        let reply: Reply = postcard::from_bytes(&back.recv_bytes().unwrap()).unwrap();
        assert_eq!(err_kind(reply), RemoteKind::TooLarge);
        assert!(matches!(
            back.recv_bytes(),
            Err(procshare_connection::Error::Eof)
        ));
    }
    let d = m.dict::<i64, i64>().unwrap();
    d.insert(1, 1).unwrap();
    assert_eq!(d.len().unwrap(), 1, "the server kept serving");
}

/// Hundreds of frames that claim 15 MiB (under the limit) and deliver a few bytes, and
/// thousands of garbage frames: the server allocates only what arrives.
#[test]
fn server_memory_stays_bounded_under_hostile_frames() {
    let m = Manager::start().unwrap();
    let before = server_rss_kib(&m);
    for _ in 0..200 {
        let c = raw(&m);
        ok(ask(&c, &Request::Hello { session: 9 }));
        let mut s = UnixStream::from(c.into_fd().unwrap());
        s.write_all(frame::Header::for_len(15 << 20).as_bytes())
            .unwrap();
        s.write_all(&[0u8; 100]).unwrap();
        // Closing mid-frame: the server drops the partial request.
    }
    let c = raw(&m);
    ok(ask(&c, &Request::Hello { session: 10 }));
    for i in 0..2000u32 {
        // A variant number no envelope has, then noise.
        let mut junk = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        junk.extend(i.to_le_bytes().repeat(50));
        assert_eq!(err_kind(ask_bytes(&c, &junk)), RemoteKind::BadRequest);
    }
    let after = server_rss_kib(&m);
    // 200 claims allocated in full would be 3 GiB.
    assert!(
        after < before + 64 * 1024,
        "server RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(m.live_objects().unwrap(), 0);
}

/// A peer without the key: the server sends its challenge, takes the peer's request as a
/// wrong answer, refuses it and closes. The request is never applied.
#[test]
fn an_unauthenticated_connection_is_dropped_before_any_request_is_read() {
    let m = Manager::start().unwrap();
    let Address::Unix(path) = m.address().clone() else {
        panic!("Unix")
    };
    let mut s = UnixStream::connect(path).unwrap();
    let create = wire::encode_request(&Request::Create {
        typeid: "dict".into(),
        args: wire::pickle(&()).unwrap(),
    });
    s.write_all(&frame::encode(&create)).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let (messages, end) = frame::decode_all(&rest, 1 << 20);
    assert!(matches!(end, procshare_connection::Error::Eof), "{end:?}");
    // Exactly the challenge and the verdict: no reply to either request.
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with(b"#CHALLENGE#"),
        "the server spoke first"
    );
    assert_eq!(messages[1], b"#FAILURE#");
    assert_eq!(m.live_objects().unwrap(), 0, "nothing was created");
    // A wrong key: refused the same way.
    let wrong = Client::new(m.address().clone())
        .auth(Auth::key(b"guess"))
        .connect();
    assert!(wrong.is_err());
    assert_eq!(m.live_objects().unwrap(), 0);
}

/// Pickles that are short and cost the decoder far more than their length: a list nested
/// 100 000 deep (the recursive decoder would overflow a server thread's stack and abort
/// the whole server), a 100 KB string referenced 150 times through the memo (15 MB
/// decoded from 100 KB), and `[x, x]` doubled forty times in a few hundred bytes. Each is
/// a `BadRequest`, as arguments of a call and of a create; the server keeps serving and
/// its memory stays bounded.
#[test]
fn pickle_bombs_are_typed_errors_and_the_server_survives() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    d.insert("k".into(), 1).unwrap();
    let before = server_rss_kib(&m);
    let mut deep = vec![0x80, 3];
    deep.extend(std::iter::repeat_n(b']', 100_001));
    deep.extend(std::iter::repeat_n(b'a', 100_000));
    deep.push(b'.');
    let mut shared = vec![0x80, 3, b'X'];
    shared.extend(100_000u32.to_le_bytes());
    shared.extend(std::iter::repeat_n(b'x', 100_000));
    shared.extend([b'q', 0, b'0', b'(']);
    shared.extend([b'h', 0].repeat(150));
    shared.extend([b'l', b'.']);
    let mut doubling = vec![0x80, 3, b']', b'q', 0];
    for l in 1..=40u8 {
        doubling.extend([b'(', b'h', l - 1, b'h', l - 1, b'l', b'q', l]);
    }
    doubling.push(b'.');
    let c = raw(&m);
    ok(ask(&c, &Request::Hello { session: 11 }));
    for bomb in [&deep, &shared, &doubling] {
        for _ in 0..20 {
            assert_eq!(
                err_kind(ask(&c, &call(d.id(), "update", bomb.clone()))),
                RemoteKind::BadRequest
            );
        }
        let create = Request::Create {
            typeid: "dict".into(),
            args: bomb.clone(),
        };
        assert_eq!(err_kind(ask(&c, &create)), RemoteKind::BadRequest);
    }
    assert_eq!(
        d.get(&"k".to_string()).unwrap(),
        Some(1),
        "the server kept serving"
    );
    assert_eq!(d.len().unwrap(), 1, "nothing was applied");
    let after = server_rss_kib(&m);
    assert!(
        after < before + 64 * 1024,
        "server RSS grew from {before} KiB to {after} KiB"
    );
    drop(d);
    assert_eq!(m.live_objects().unwrap(), 0);
}

/// A client that shuts its socket for reading, then asks for a lock (or a semaphore
/// unit): the server acquires for it, cannot deliver the reply (`EPIPE`) and gives the
/// acquisition back before it closes the connection, since nobody else would ever release
/// it. The client waits for that close (`POLLHUP`), so the check after it is ordered.
#[test]
fn an_acquisition_whose_reply_cannot_be_delivered_is_given_back() {
    use std::os::fd::AsRawFd;
    let m = Manager::start().unwrap();
    let lock = m.lock().unwrap();
    let sem = m.semaphore(1).unwrap();
    let cases = [
        (lock.id(), "acquire", wire::pickle(&(None::<f64>,)).unwrap()),
        (lock.id(), "try_acquire", wire::pickle(&()).unwrap()),
        (sem.id(), "acquire", wire::pickle(&(None::<f64>,)).unwrap()),
    ];
    for (id, method, args) in cases {
        let c = raw(&m);
        ok(ask(&c, &Request::Hello { session: 21 }));
        let s = UnixStream::from(c.into_fd().unwrap());
        s.shutdown(std::net::Shutdown::Read).unwrap();
        let c = Connection::from_socket(s.try_clone().unwrap().into());
        c.send_bytes(&wire::encode_request(&call(id, method, args)))
            .unwrap();
        let mut pfd = libc::pollfd {
            fd: s.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: polls one live descriptor owned by `s`.
        let n = unsafe { libc::poll(&mut pfd, 1, 20_000) };
        assert_eq!(n, 1, "the server closes the connection");
        assert_ne!(pfd.revents & libc::POLLHUP, 0);
        assert!(
            lock.try_acquire().unwrap(),
            "{method}: the lock was given back"
        );
        lock.release().unwrap();
        assert_eq!(sem.value().unwrap(), 1, "{method}: the unit was given back");
    }
}
