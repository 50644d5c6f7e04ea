//! Listener and Client between threads of this process: both socket families, good and
//! bad keys, digest policies, stale socket files, hostile peers (oversized, truncated,
//! random and stalled handshakes), `wait` over a mix of kinds, and hostile frames on a
//! plain connection.

use procshare_connection::frame::{encode, Header};
use procshare_connection::handshake::{CHALLENGE, FAILURE};
use procshare_connection::{
    remove_stale_socket, wait, Address, Auth, Client, Connection, DigestPolicy, Error, Listener,
    Pipe, Waitable,
};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

const KEY: &[u8] = b"the shared secret";

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("procshare-conn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn tcp_any() -> Address {
    Address::Tcp("127.0.0.1:0".parse::<SocketAddr>().unwrap())
}

/// Accept one client while `client` runs in a thread; both results.
fn exchange<T: Send + 'static>(
    listener: &Listener,
    client: impl FnOnce(Address) -> T + Send + 'static,
) -> (procshare_connection::Result<Connection>, T) {
    let address = listener.address().clone();
    let t = thread::spawn(move || client(address));
    let accepted = listener.accept();
    (accepted, t.join().unwrap())
}

fn echo_round(listener: &Listener, key: Option<&'static [u8]>) {
    let address = listener.address().clone();
    let client = thread::spawn(move || {
        let conn = procshare_connection::connect(address, key).unwrap();
        conn.send_bytes(b"ping").unwrap();
        conn.recv_bytes().unwrap()
    });
    let server = listener.accept().unwrap();
    assert_eq!(server.recv_bytes().unwrap(), b"ping");
    server.send_bytes(b"pong").unwrap();
    assert_eq!(client.join().unwrap(), b"pong");
}

#[test]
fn unix_path_abstract_and_tcp_with_a_key() {
    let path = socket_path("keyed");
    let unix = Listener::bind(path.as_path(), Some(KEY)).unwrap();
    echo_round(&unix, Some(KEY));
    drop(unix);
    assert!(!path.exists(), "the listener unlinks its socket file");

    let name = format!("procshare-test-{}", std::process::id());
    let abs = Listener::bind(Address::Abstract(name.into_bytes()), Some(KEY)).unwrap();
    echo_round(&abs, Some(KEY));

    let tcp = Listener::bind(tcp_any(), Some(KEY)).unwrap();
    assert!(matches!(tcp.address(), Address::Tcp(a) if a.port() != 0));
    echo_round(&tcp, Some(KEY));

    let open = Listener::bind(tcp_any(), None).unwrap();
    echo_round(&open, None);
}

#[test]
fn a_bad_key_fails_on_both_sides_and_the_listener_keeps_serving() {
    for address in [Address::Unix(socket_path("badkey")), tcp_any()] {
        let listener = Listener::bind(address, Some(KEY)).unwrap();
        let (server, client) = exchange(&listener, |addr| {
            procshare_connection::connect(addr, Some(b"wrong key")).map(|_| ())
        });
        assert!(
            matches!(server, Err(Error::AuthenticationFailed(_))),
            "{server:?}"
        );
        assert!(
            matches!(client, Err(Error::AuthenticationFailed(_))),
            "{client:?}"
        );
        echo_round(&listener, Some(KEY));
    }
}

#[test]
fn digest_policies_refuse_downgrades() {
    let cases = [
        (DigestPolicy::Compatible, DigestPolicy::LegacyOnly, true),
        (DigestPolicy::LegacyOnly, DigestPolicy::Compatible, true),
        (DigestPolicy::ModernOnly, DigestPolicy::Compatible, true),
        (DigestPolicy::ModernOnly, DigestPolicy::LegacyOnly, false),
        (DigestPolicy::LegacyOnly, DigestPolicy::ModernOnly, false),
    ];
    for (server_policy, client_policy, ok) in cases {
        let listener =
            Listener::bind_with(tcp_any(), Auth::key(KEY).policy(server_policy)).unwrap();
        let (server, client) = exchange(&listener, move |addr| {
            Client::new(addr)
                .auth(Auth::key(KEY).policy(client_policy))
                .connect()
                .map(|_| ())
        });
        assert_eq!(
            server.is_ok(),
            ok,
            "{server_policy:?}/{client_policy:?}: {server:?}"
        );
        assert_eq!(
            client.is_ok(),
            ok,
            "{server_policy:?}/{client_policy:?}: {client:?}"
        );
        if !ok {
            assert!(matches!(
                server,
                Err(Error::AuthenticationFailed(_)) | Err(Error::Eof)
            ));
            assert!(matches!(
                client,
                Err(Error::AuthenticationFailed(_)) | Err(Error::Eof)
            ));
        }
    }
}

#[test]
fn stale_socket_file_is_reported_and_removed_only_when_nobody_listens() {
    let path = socket_path("stale");
    // A "crashed" listener: std's UnixListener leaves its file behind when dropped.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let err = Listener::bind(path.as_path(), None).unwrap_err();
    assert!(
        matches!(&err, Error::AddrInUse { address } if address.contains("stale")),
        "{err:?}"
    );
    assert!(remove_stale_socket(&path).unwrap());
    let live = Listener::bind(path.as_path(), None).unwrap();
    // Somebody listens now: the helper refuses and leaves the file.
    assert!(matches!(
        remove_stale_socket(&path),
        Err(Error::AddrInUse { .. })
    ));
    assert!(path.exists());
    drop(live);
    assert!(
        !remove_stale_socket(&path).unwrap(),
        "nothing left to remove"
    );
    // A regular file is never removed.
    std::fs::write(&path, b"not a socket").unwrap();
    assert!(matches!(remove_stale_socket(&path), Err(Error::Io(_))));
    assert!(path.exists());
    std::fs::remove_file(&path).unwrap();
}

/// Connect raw, read the server's challenge frame, then run `attack` on the stream.
fn raw_peer(addr: &Address, attack: impl FnOnce(&mut UnixStream)) -> Vec<u8> {
    let Address::Unix(path) = addr else {
        unreachable!()
    };
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let mut challenge = vec![0; u32::from_be_bytes(prefix) as usize];
    s.read_exact(&mut challenge).unwrap();
    assert!(challenge.starts_with(CHALLENGE));
    attack(&mut s);
    // Everything the server sends afterwards, up to its close.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    rest
}

#[test]
fn hostile_handshakes_are_typed_errors_and_the_listener_keeps_serving() {
    let path = socket_path("hostile");
    let mut auth = Auth::key(KEY);
    auth.timeout = Some(Duration::from_millis(300));
    let listener = Listener::bind_with(path.as_path(), auth).unwrap();

    // A response claiming 10 MB (and sending them): refused from the prefix alone.
    let (server, _) = exchange(&listener, |addr| {
        raw_peer(&addr, |s| {
            s.write_all(Header::for_len(10_000_000).as_bytes()).unwrap();
            let _ = s.write_all(&vec![b'x'; 10_000_000]);
        })
    });
    assert!(
        matches!(server, Err(Error::HandshakeTooLong { len: 10_000_000 })),
        "{server:?}"
    );

    // A response claiming 2^62 bytes.
    let (server, _) = exchange(&listener, |addr| {
        raw_peer(&addr, |s| {
            s.write_all(Header::extended(1 << 62).as_bytes()).unwrap()
        })
    });
    assert!(
        matches!(server, Err(Error::HandshakeTooLong { .. })),
        "{server:?}"
    );

    // Random bytes as the response: refused, and the peer gets FAILURE and nothing else.
    let (server, rest) = exchange(&listener, |addr| {
        raw_peer(&addr, |s| s.write_all(&encode(&[0x5a; 40])).unwrap())
    });
    assert!(
        matches!(server, Err(Error::AuthenticationFailed(_))),
        "{server:?}"
    );
    assert_eq!(
        rest,
        encode(FAILURE),
        "an unauthenticated peer got more than FAILURE"
    );

    // Half a frame, then the peer hangs up.
    let (server, _) = exchange(&listener, |addr| {
        raw_peer(&addr, |s| {
            s.write_all(&[0, 0, 0, 16, 1, 2]).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
        })
    });
    assert!(matches!(server, Err(Error::Truncated { .. })), "{server:?}");

    // A peer that connects and never answers: the handshake timeout drops it.
    let (server, _) = exchange(&listener, |addr| {
        let Address::Unix(p) = addr else {
            unreachable!()
        };
        let mut s = UnixStream::connect(p).unwrap();
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all); // until the server gives up and closes
    });
    assert!(matches!(server, Err(Error::Timeout)), "{server:?}");

    // And a good client is still served.
    echo_round(&listener, Some(KEY));
}

#[test]
fn wait_watches_a_mix_of_listener_pipe_and_socket() {
    let listener = Listener::bind(tcp_any(), None).unwrap();
    let (pipe_r, pipe_w) = Pipe::simplex().unwrap();
    let (sock_a, sock_b) = Pipe::duplex().unwrap();
    let all: [&dyn Waitable; 3] = [&listener, &pipe_r, &sock_b];
    assert!(wait(&all, Some(Duration::ZERO)).unwrap().is_empty());

    let _client = procshare_connection::connect(listener.address().clone(), None).unwrap();
    pipe_w.send_bytes(b"p").unwrap();
    let ready = procshare_connection::wait_indices(&all, Some(Duration::from_secs(20))).unwrap();
    assert_eq!(ready, vec![0, 1]);
    sock_a.send_bytes(b"").unwrap();
    assert_eq!(
        procshare_connection::wait_indices(&all, Some(Duration::from_secs(20))).unwrap(),
        vec![0, 1, 2]
    );
    assert_eq!(pipe_r.recv_bytes().unwrap(), b"p");
    assert_eq!(sock_b.recv_bytes().unwrap(), b"");
    listener.accept().unwrap();
    assert!(wait(&all, Some(Duration::ZERO)).unwrap().is_empty());
}

#[test]
fn hostile_frames_on_a_connection_are_typed_errors() {
    // 2^62 claimed: TooLarge at once, then the receiving side is closed.
    let (raw, end) = UnixStream::pair().unwrap();
    let conn = Connection::from_socket(end.into());
    (&raw)
        .write_all(Header::extended(1 << 62).as_bytes())
        .unwrap();
    assert!(matches!(conn.recv_bytes(), Err(Error::TooLarge { len, .. }) if len == 1 << 62));
    assert!(matches!(conn.recv_bytes(), Err(Error::Closed)));

    // A limit set per connection, and recv_bytes_max below it.
    let (raw, end) = UnixStream::pair().unwrap();
    let mut conn = Connection::from_socket(end.into());
    conn.set_max_message(10);
    (&raw).write_all(&encode(&[1; 11])).unwrap();
    assert!(matches!(
        conn.recv_bytes(),
        Err(Error::TooLarge { len: 11, max: 10 })
    ));
    let (raw, end) = UnixStream::pair().unwrap();
    let conn = Connection::from_socket(end.into());
    (&raw).write_all(&encode(&[1; 5])).unwrap();
    assert!(matches!(
        conn.recv_bytes_max(4),
        Err(Error::TooLarge { len: 5, max: 4 })
    ));

    // Random bytes, then the writer hangs up: messages, then a typed error; never a hang.
    let (raw, end) = UnixStream::pair().unwrap();
    let mut conn = Connection::from_socket(end.into());
    conn.set_max_message(1 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let junk: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let writer = thread::spawn(move || {
        let _ = (&raw).write_all(&junk);
    });
    let end = loop {
        match conn.recv_bytes() {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    writer.join().unwrap();
    assert!(end.is_framing() || matches!(end, Error::Eof), "{end:?}");
}

#[test]
fn a_timed_out_receive_keeps_its_partial_frame() {
    let (raw, end) = UnixStream::pair().unwrap();
    let conn = Connection::from_socket(end.into());
    let frame = encode(b"0123456789");
    (&raw).write_all(&frame[..7]).unwrap();
    assert!(matches!(
        conn.recv_bytes_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    assert!(conn.poll(Some(Duration::ZERO)).is_ok());
    (&raw).write_all(&frame[7..]).unwrap();
    (&raw).write_all(&encode(b"next")).unwrap();
    assert_eq!(conn.recv_bytes().unwrap(), b"0123456789");
    assert_eq!(conn.recv_bytes().unwrap(), b"next");
    drop(raw);
    assert!(matches!(conn.recv_bytes(), Err(Error::Eof)));
}
