//! Interop with a real python3: its `multiprocessing.connection.Client` against a
//! procshare [`Listener`], a procshare [`Client`] against its `Listener`, good and bad
//! keys, Unix paths and TCP on 127.0.0.1, bytes and pickled data both ways. The local
//! python3 (3.11) speaks the legacy HMAC-MD5 form; `peers/modern.py` plays CPython 3.12's
//! `{sha256}` side step by step.
//!
//! Every python3 child is bounded: a line or an exit that does not come within
//! [`PEER_TIMEOUT`] fails the test, and the child is killed. Without python3 on `PATH`
//! each test prints `SKIPPED` and passes.

use procshare_connection::{
    wait, Address, Auth, Client, Codec, Connection, DigestPolicy, Error, Listener, Pickle,
};
use serde::Serialize;
use serde_pickle::{HashableValue as H, Value as V};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

const PEER_TIMEOUT: Duration = Duration::from_secs(20);
const KEY: &str = "interop key";

/// What python checks we send (peers/common.py `FROM_RUST_OBJ`).
#[derive(Serialize)]
struct FromRust {
    answer: i64,
    list: Vec<i64>,
    none: Option<i64>,
    pair: (bool, String),
    f: f64,
}

fn from_rust() -> FromRust {
    FromRust {
        answer: 42,
        list: vec![1, 2, 3],
        none: None,
        pair: (true, "x".into()),
        f: -0.5,
    }
}

/// What python sends (peers/common.py `FROM_PYTHON_OBJ`).
fn from_python() -> V {
    V::List(vec![
        V::I64(1),
        V::F64(2.5),
        V::String("str".into()),
        V::Bytes(b"raw".to_vec()),
        V::Tuple(vec![V::I64(1), V::String("t".into())]),
        V::Dict(
            [
                (H::String("k".into()), V::None),
                (H::String("n".into()), V::I64(-7)),
            ]
            .into(),
        ),
        V::None,
        V::Bool(true),
    ])
}

/// `v` with every tuple as a list (what a serde `Deserialize` sees).
fn untupled(v: V) -> V {
    match v {
        V::Tuple(items) | V::List(items) => V::List(items.into_iter().map(untupled).collect()),
        V::Dict(d) => V::Dict(d.into_iter().map(|(k, v)| (k, untupled(v))).collect()),
        v => v,
    }
}

fn python3() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("SKIPPED: python3 not found on PATH; the interop test did not run");
    }
    found
}

/// A python3 child running one of our scripts in `tests/peers/`.
struct Peer {
    pid: i32,
    lines: Receiver<String>,
    exit: Receiver<(i32, String)>,
    done: bool,
}

impl Peer {
    fn spawn(script: &str, args: &[&str]) -> Peer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
        let mut child = Command::new("python3")
            .arg(dir.join(script))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let pid = child.id() as i32;
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (line_tx, lines) = channel();
        let (exit_tx, exit) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
            let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
            let _ = exit_tx.send((code, err));
        });
        Peer {
            pid,
            lines,
            exit,
            done: false,
        }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(PEER_TIMEOUT)
            .expect("python3 peer wrote no line in time")
    }

    /// The peer's exit code and its last stdout line.
    fn finish(mut self) -> (i32, String) {
        let (code, err) = self
            .exit
            .recv_timeout(PEER_TIMEOUT)
            .expect("python3 peer did not exit in time");
        self.done = true;
        let last = self.lines.try_iter().last().unwrap_or_default();
        if code != 0 && code != 3 {
            panic!("python3 peer exited {code}: {last}\n{err}");
        }
        (code, last)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if !self.done {
            // SAFETY: kill(2) on the pid of the child we spawned (not yet reaped: its
            // waiting thread has not reported an exit).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("procshare-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// The address as the peers' `parse_address` reads it.
fn arg(address: &Address) -> String {
    match address {
        Address::Unix(p) => p.display().to_string(),
        Address::Tcp(a) => format!("tcp:{a}"),
        Address::Abstract(_) => unreachable!(),
    }
}

fn parse_ready(line: &str) -> Address {
    let addr = line.strip_prefix("READY ").expect("READY line");
    match addr.strip_prefix("tcp:") {
        Some(tcp) => Address::Tcp(tcp.parse().unwrap()),
        None => Address::Unix(addr.into()),
    }
}

fn tcp_any() -> Address {
    Address::Tcp("127.0.0.1:0".parse().unwrap())
}

/// Accept one client, never waiting longer than [`PEER_TIMEOUT`].
fn accept(listener: &Listener) -> procshare_connection::Result<Connection> {
    let ready = wait(&[listener], Some(PEER_TIMEOUT))?;
    assert!(!ready.is_empty(), "no python3 client connected in time");
    listener.accept()
}

/// Python sent first: receive, check, answer.
fn rust_second(conn: &Connection) {
    let t = Some(PEER_TIMEOUT);
    assert!(conn.poll(t).unwrap());
    assert_eq!(conn.recv_bytes().unwrap(), b"bytes from python");
    assert!(conn.poll(t).unwrap());
    let pickled = conn.recv_bytes().unwrap();
    // Through the codec trait: serde's data model has no tuples, so they arrive as lists…
    let via_codec: V = Pickle.decode(&pickled).unwrap();
    assert_eq!(via_codec, untupled(from_python()));
    // …and serde-pickle's own Value reader keeps them.
    assert_eq!(
        serde_pickle::value_from_slice(&pickled, serde_pickle::DeOptions::new()).unwrap(),
        from_python()
    );
    conn.send_bytes(b"bytes from rust").unwrap();
    conn.send_with(&Pickle, &from_rust()).unwrap();
}

/// Rust sends first, then receives python's answer.
fn rust_first(conn: &Connection) {
    conn.send_bytes(b"bytes from rust").unwrap();
    conn.send_with(&Pickle, &from_rust()).unwrap();
    assert_eq!(
        conn.recv_bytes_timeout(PEER_TIMEOUT).unwrap(),
        b"bytes from python"
    );
    let obj = conn.recv_bytes_timeout(PEER_TIMEOUT).unwrap();
    assert_eq!(
        serde_pickle::value_from_slice(&obj, serde_pickle::DeOptions::new()).unwrap(),
        from_python()
    );
}

fn listener_addresses(name: &str) -> [Address; 2] {
    [Address::Unix(socket_path(name)), tcp_any()]
}

#[test]
fn python_client_talks_to_a_procshare_listener() {
    if !python3() {
        return;
    }
    for address in listener_addresses("pyclient") {
        let listener = Listener::bind(address, Some(KEY.as_bytes())).unwrap();
        let peer = Peer::spawn("client.py", &[&arg(listener.address()), KEY]);
        let conn = accept(&listener).unwrap();
        rust_second(&conn);
        assert_eq!(peer.finish(), (0, "OK".into()));
        // Without a key on either side.
        let open = Listener::bind(tcp_any(), None).unwrap();
        let peer = Peer::spawn("client.py", &[&arg(open.address()), "-"]);
        rust_second(&accept(&open).unwrap());
        assert_eq!(peer.finish(), (0, "OK".into()));
    }
}

#[test]
fn python_client_with_a_bad_key_fails_on_both_sides() {
    if !python3() {
        return;
    }
    for address in listener_addresses("pybadclient") {
        let listener = Listener::bind(address, Some(KEY.as_bytes())).unwrap();
        let peer = Peer::spawn("client.py", &[&arg(listener.address()), "wrong"]);
        let err = accept(&listener).unwrap_err();
        assert!(matches!(err, Error::AuthenticationFailed(_)), "{err:?}");
        let (code, line) = peer.finish();
        assert_eq!(code, 3, "{line}");
        assert!(line.starts_with("AUTHFAIL"), "{line}");
        // The listener serves the next (good) client.
        let peer = Peer::spawn("client.py", &[&arg(listener.address()), KEY]);
        rust_second(&accept(&listener).unwrap());
        assert_eq!(peer.finish(), (0, "OK".into()));
    }
}

#[test]
fn procshare_client_talks_to_a_python_listener() {
    if !python3() {
        return;
    }
    for address in [
        arg(&Address::Unix(socket_path("pylistener"))),
        "tcp:127.0.0.1:0".into(),
    ] {
        let peer = Peer::spawn("listener.py", &[&address, KEY]);
        let address = parse_ready(&peer.line());
        let conn = Client::new(address)
            .auth(Auth::key(KEY.as_bytes()))
            .connect()
            .unwrap();
        rust_first(&conn);
        assert_eq!(peer.finish(), (0, "OK".into()));
    }
}

#[test]
fn procshare_client_with_a_bad_key_fails_on_both_sides() {
    if !python3() {
        return;
    }
    for address in [
        arg(&Address::Unix(socket_path("pybadlistener"))),
        "tcp:127.0.0.1:0".into(),
    ] {
        let peer = Peer::spawn("listener.py", &[&address, KEY]);
        let address = parse_ready(&peer.line());
        let err = procshare_connection::connect(address, Some(b"wrong")).unwrap_err();
        assert!(matches!(err, Error::AuthenticationFailed(_)), "{err:?}");
        let (code, line) = peer.finish();
        assert_eq!(code, 3, "{line}");
        assert!(line.starts_with("AUTHFAIL"), "{line}");
    }
}

#[test]
fn sha256_form_against_a_scripted_cpython_3_12_peer() {
    if !python3() {
        return;
    }
    for policy in [DigestPolicy::Compatible, DigestPolicy::ModernOnly] {
        // The scripted 3.12 client against our listener.
        let listener =
            Listener::bind_with(tcp_any(), Auth::key(KEY.as_bytes()).policy(policy)).unwrap();
        let peer = Peer::spawn("modern.py", &["client", &arg(listener.address()), KEY]);
        rust_second(&accept(&listener).unwrap());
        assert_eq!(peer.finish(), (0, "OK".into()), "{policy:?}");

        // Our client against the scripted 3.12 server.
        let path = socket_path("modern");
        let peer = Peer::spawn("modern.py", &["server", &arg(&Address::Unix(path)), KEY]);
        let address = parse_ready(&peer.line());
        let conn = Client::new(address)
            .auth(Auth::key(KEY.as_bytes()).policy(policy))
            .connect()
            .unwrap();
        rust_first(&conn);
        assert_eq!(peer.finish(), (0, "OK".into()), "{policy:?}");
    }

    // A wrong key in the sha256 form fails on both sides too.
    let listener = Listener::bind(tcp_any(), Some(KEY.as_bytes())).unwrap();
    let peer = Peer::spawn("modern.py", &["client", &arg(listener.address()), "wrong"]);
    assert!(matches!(
        accept(&listener),
        Err(Error::AuthenticationFailed(_))
    ));
    assert_eq!(peer.finish().0, 3);
}

#[test]
fn modern_only_refuses_the_legacy_python_3_11_handshake() {
    if !python3() {
        return;
    }
    // Our ModernOnly listener: python 3.11 answers the {sha256} challenge with raw MD5.
    let listener = Listener::bind_with(
        tcp_any(),
        Auth::key(KEY.as_bytes()).policy(DigestPolicy::ModernOnly),
    )
    .unwrap();
    let peer = Peer::spawn("client.py", &[&arg(listener.address()), KEY]);
    let err = accept(&listener).unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed(_)), "{err:?}");
    assert_eq!(peer.finish().0, 3);

    // Our ModernOnly client: python 3.11 sends a 20-byte legacy challenge.
    let peer = Peer::spawn("listener.py", &["tcp:127.0.0.1:0", KEY]);
    let address = parse_ready(&peer.line());
    let err = Client::new(address)
        .auth(Auth::key(KEY.as_bytes()).policy(DigestPolicy::ModernOnly))
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed(_)), "{err:?}");
    // The python listener sees the client hang up during its accept.
    let (code, line) = peer.finish();
    assert_eq!(code, 3, "{line}");
}
