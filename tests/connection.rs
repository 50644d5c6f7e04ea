//! CPython's documented `Pipe`/`Connection` behaviours, as Rust tests of the same
//! observable result, across real forked processes (the python3 interop tests are in
//! `crates/connection/tests/python.rs`).

use procshare::connection::{self, Error};
use procshare::{Connection, Pipe, Process};
use std::collections::BTreeMap;
use std::time::Duration;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const NOW: Option<Duration> = Some(Duration::ZERO);
/// Bound for "does not arrive": long enough that a message that was sent is there.
const SHORT: Duration = Duration::from_millis(100);

fn join_ok(mut p: Process) {
    assert_eq!(p.join().expect("join"), 0, "child {} failed", p.pid());
}

#[test]
fn send_bytes_whole_at_offset_and_range_like_cpython() {
    let (a, b) = Pipe::duplex().unwrap();
    a.send_bytes(ALPHABET).unwrap();
    a.send_bytes_range(ALPHABET, 5, None).unwrap();
    a.send_bytes_range(ALPHABET, 7, Some(8)).unwrap();
    a.send_bytes_range(ALPHABET, 26, None).unwrap(); // offset == len: an empty message
    assert_eq!(b.recv_bytes().unwrap(), ALPHABET);
    assert_eq!(b.recv_bytes().unwrap(), &ALPHABET[5..]);
    assert_eq!(b.recv_bytes().unwrap(), b"hijklmno");
    assert_eq!(b.recv_bytes().unwrap(), b"");

    for (offset, size) in [
        (27, None),
        (0, Some(27)),
        (5, Some(22)),
        (26, Some(1)),
        (1, Some(usize::MAX)),
        (usize::MAX, None),
    ] {
        let err = a.send_bytes_range(ALPHABET, offset, size).unwrap_err();
        assert!(
            matches!(err, Error::OutOfRange { len: 26, .. }),
            "{offset} {size:?}: {err:?}"
        );
    }
    // Nothing of the refused ranges was written.
    assert!(!b.poll(NOW).unwrap());
}

#[test]
fn recv_bytes_into_too_short_carries_the_message_and_leaves_the_buffer() {
    let (a, b) = Pipe::duplex().unwrap();
    a.send_bytes(b"abcdefgh").unwrap();
    let mut buf = [0xaa_u8; 4];
    match b.recv_bytes_into(&mut buf) {
        Err(Error::BufferTooShort { message }) => assert_eq!(message, b"abcdefgh"),
        other => panic!("expected BufferTooShort, got {other:?}"),
    }
    assert_eq!(buf, [0xaa; 4]);
    a.send_bytes(b"xy").unwrap();
    assert_eq!(b.recv_bytes_into(&mut buf).unwrap(), 2);
    assert_eq!(&buf, b"xy\xaa\xaa");
}

#[test]
fn poll_false_then_true_twice_after_an_empty_message() {
    let (a, b) = Pipe::duplex().unwrap();
    assert!(!b.poll(NOW).unwrap());
    a.send_bytes(b"").unwrap();
    assert!(b.poll(NOW).unwrap());
    assert!(b.poll(NOW).unwrap(), "poll must not consume the message");
    assert_eq!(b.recv_bytes().unwrap(), b"");
    assert!(!b.poll(NOW).unwrap());
}

#[test]
fn a_childs_eight_messages_arrive_exactly_in_order() {
    let sent: [&[u8]; 8] = [b"hello", b"", b"a", b"b", b"", b"bye", b"", b"lop"];
    let (reader, mut writer) = Pipe::simplex().unwrap();
    let child = Process::spawn(|| {
        for m in sent {
            writer.send_bytes(m).unwrap();
        }
    })
    .unwrap();
    writer.close();
    for m in sent {
        assert_eq!(reader.recv_bytes().unwrap(), m);
    }
    join_ok(child);
    assert!(matches!(reader.recv_bytes(), Err(Error::Eof)));
}

#[test]
fn three_messages_arrive_as_three() {
    let (a, b) = Pipe::duplex().unwrap();
    for m in [&b"a"[..], b"b", b"cd"] {
        a.send_bytes(m).unwrap();
    }
    assert_eq!(b.recv_bytes().unwrap(), b"a");
    assert_eq!(b.recv_bytes().unwrap(), b"b");
    assert_eq!(b.recv_bytes().unwrap(), b"cd");
    assert!(!b.poll(NOW).unwrap());
}

#[test]
fn eof_only_after_the_last_copy_of_the_peer_end_is_closed() {
    let (reader, mut writer) = Pipe::simplex().unwrap();
    let (go_reader, go_writer) = Pipe::simplex().unwrap();
    let first = Process::spawn(|| writer.send_bytes(b"first").unwrap()).unwrap();
    let second = Process::spawn(|| {
        go_reader.recv_bytes().unwrap();
        writer.send_bytes(b"second").unwrap();
    })
    .unwrap();
    writer.close();
    assert_eq!(reader.recv_bytes().unwrap(), b"first");
    join_ok(first);
    // The second child still holds a copy of the write end: no EOF, just nothing yet.
    assert!(matches!(
        reader.recv_bytes_timeout(SHORT),
        Err(Error::Timeout)
    ));
    go_writer.send_bytes(b"go").unwrap();
    assert_eq!(reader.recv_bytes().unwrap(), b"second");
    join_ok(second);
    assert!(matches!(reader.recv_bytes(), Err(Error::Eof)));
    assert!(
        matches!(reader.recv_bytes(), Err(Error::Eof)),
        "EOF is sticky"
    );
}

#[test]
fn a_64_mib_message_round_trips_between_processes() {
    const LEN: usize = 64 << 20;
    let message: Vec<u8> = (0..LEN).map(|i| (i ^ (i >> 13)) as u8).collect();
    let (parent, child_end) = Pipe::duplex().unwrap();
    let child = Process::spawn(|| {
        let m = child_end.recv_bytes().unwrap();
        child_end.send_bytes(&m).unwrap();
    })
    .unwrap();
    parent.send_bytes(&message).unwrap();
    let back = parent.recv_bytes().unwrap();
    assert_eq!(back.len(), LEN);
    assert!(back == message, "the echoed 64 MiB differ");
    join_ok(child);
}

#[test]
fn wait_on_four_children_returns_every_message_exactly_once() {
    let mut readers = Vec::new();
    let mut children = Vec::new();
    for c in 0..4 {
        let (r, mut w) = Pipe::simplex().unwrap();
        children.push(
            Process::spawn(|| {
                for m in 0..10 {
                    w.send_bytes(format!("child {c} message {m}").as_bytes())
                        .unwrap();
                }
            })
            .unwrap(),
        );
        w.close();
        readers.push(r);
    }
    let mut got: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut open: Vec<&Connection> = readers.iter().collect();
    while !open.is_empty() {
        let ready = connection::wait(&open, Some(Duration::from_secs(20))).unwrap();
        assert!(!ready.is_empty(), "wait timed out with {} open", open.len());
        for conn in ready {
            match conn.recv_bytes() {
                Ok(m) => *got.entry(m).or_default() += 1,
                Err(Error::Eof) => open.retain(|c| !std::ptr::eq(*c, conn)),
                Err(e) => panic!("{e}"),
            }
        }
    }
    for child in children {
        join_ok(child);
    }
    let expected: BTreeMap<Vec<u8>, usize> = (0..4)
        .flat_map(|c| (0..10).map(move |m| (format!("child {c} message {m}").into_bytes(), 1)))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn typed_values_cross_processes_with_both_codecs() {
    let (parent, child_end) = Pipe::duplex().unwrap();
    let child = Process::spawn(|| {
        let v: (u32, String, Vec<i64>) = child_end.recv().unwrap();
        child_end.send(&(v.0 + 1, v.1.to_uppercase(), v.2)).unwrap();
        let p: BTreeMap<String, Option<f64>> = child_end.recv_with(&connection::Pickle).unwrap();
        child_end.send_with(&connection::Pickle, &p).unwrap();
    })
    .unwrap();
    parent
        .send(&(41u32, "abc".to_string(), vec![-1i64, 2]))
        .unwrap();
    assert_eq!(
        parent.recv::<(u32, String, Vec<i64>)>().unwrap(),
        (42, "ABC".to_string(), vec![-1, 2])
    );
    let dict: BTreeMap<String, Option<f64>> =
        [("x".to_string(), Some(1.5)), ("none".to_string(), None)].into();
    parent.send_with(&connection::Pickle, &dict).unwrap();
    assert_eq!(
        parent
            .recv_with::<_, BTreeMap<String, Option<f64>>>(&connection::Pickle)
            .unwrap(),
        dict
    );
    join_ok(child);
}

#[test]
fn wrong_direction_and_use_after_close_are_errors() {
    let (mut reader, writer) = Pipe::simplex().unwrap();
    assert!(reader.readable() && !reader.writable());
    assert!(writer.writable() && !writer.readable());
    assert!(matches!(
        reader.send_bytes(b"x"),
        Err(Error::WrongDirection(_))
    ));
    assert!(matches!(writer.recv_bytes(), Err(Error::WrongDirection(_))));
    assert!(matches!(writer.poll(NOW), Err(Error::WrongDirection(_))));
    reader.close();
    assert!(reader.closed());
    assert!(matches!(reader.recv_bytes(), Err(Error::Closed)));
    assert!(matches!(reader.poll(NOW), Err(Error::Closed)));
    // The only read end is gone: the writer sees a broken pipe, not a signal.
    assert!(matches!(writer.send_bytes(b"x"), Err(Error::Io(_))));
}

#[test]
fn a_child_writing_half_a_frame_leaves_the_reader_with_truncated() {
    let (reader, mut writer) = Pipe::simplex().unwrap();
    let child = Process::spawn(|| {
        // A frame prefix claiming 100 bytes, then only 3 of them, then the child exits.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&writer);
        let bytes = [0u8, 0, 0, 100, b'a', b'b', b'c'];
        // SAFETY: writes from a live buffer to an fd this process owns.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n, bytes.len() as isize);
    })
    .unwrap();
    writer.close();
    join_ok(child);
    assert!(matches!(
        reader.recv_bytes(),
        Err(Error::Truncated {
            expected: 100,
            got: 3
        })
    ));
}

/// Is a byte readable in the kernel's buffer of `fd` right now (no read)?
fn kernel_readable(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(n >= 0, "poll failed");
    n == 1
}

#[test]
fn read_ahead_cuts_several_frames_from_one_read_and_poll_and_wait_see_them() {
    use std::os::fd::AsRawFd;
    let (a, mut b) = Pipe::duplex().unwrap();
    b.set_read_ahead(true).unwrap();
    assert!(b.read_ahead());
    for m in [&b"a"[..], b"b", b"", b"cd"] {
        a.send_bytes(m).unwrap();
    }
    assert_eq!(b.recv_bytes().unwrap(), b"a");
    // The first receive read every byte the peer had sent: the kernel has none left,
    // yet the end is ready, for `poll` and for `wait`.
    assert!(!kernel_readable(b.as_raw_fd()), "no read-ahead happened");
    assert!(b.poll(NOW).unwrap());
    assert_eq!(connection::wait(&[&b], NOW).unwrap().len(), 1);
    // Turning read-ahead off now would drop the buffered bytes: refused.
    assert!(b.set_read_ahead(false).is_err());
    assert_eq!(b.recv_bytes().unwrap(), b"b");
    assert_eq!(b.recv_bytes().unwrap(), b"");
    assert_eq!(b.recv_bytes().unwrap(), b"cd");
    assert!(!b.poll(NOW).unwrap());
    b.set_read_ahead(false).unwrap();
    drop(a);
    assert!(matches!(b.recv_bytes(), Err(Error::Eof)));
}

#[test]
fn read_ahead_keeps_large_and_small_frames_whole_across_processes() {
    let (a, mut b) = Pipe::duplex().unwrap();
    b.set_read_ahead(true).unwrap();
    let sizes = [1usize, 70_000, 3, 0, 1 << 20, 65_535, 65_536, 17];
    let child = Process::spawn(move || {
        for (i, &n) in sizes.iter().enumerate() {
            let m: Vec<u8> = (0..n).map(|j| (i * 31 + j) as u8).collect();
            a.send_bytes(&m).unwrap();
        }
    })
    .unwrap();
    for (i, &n) in sizes.iter().enumerate() {
        let m = b.recv_bytes().unwrap();
        assert_eq!(m.len(), n, "message {i}");
        assert!(m.iter().enumerate().all(|(j, &x)| x == (i * 31 + j) as u8));
    }
    join_ok(child);
}

#[test]
fn a_forked_copy_of_a_read_ahead_end_refuses_the_parents_buffered_bytes() {
    let (a, mut b) = Pipe::duplex().unwrap();
    b.set_read_ahead(true).unwrap();
    for m in [&b"one"[..], b"two", b"three"] {
        a.send_bytes(m).unwrap();
    }
    assert_eq!(b.recv_bytes().unwrap(), b"one");
    let child = Process::spawn(|| {
        // The parent read "two" and "three" ahead: delivering them here too would
        // duplicate them.
        match b.recv_bytes() {
            Err(Error::ReadAheadInherited { .. }) => {}
            other => panic!("expected ReadAheadInherited, got {other:?}"),
        }
        assert!(matches!(b.poll(NOW), Err(Error::ReadAheadInherited { .. })));
    })
    .unwrap();
    join_ok(child);
    // Nothing was lost in the parent.
    assert_eq!(b.recv_bytes().unwrap(), b"two");
    assert_eq!(b.recv_bytes().unwrap(), b"three");
}
