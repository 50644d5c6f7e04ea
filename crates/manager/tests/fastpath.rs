//! The local fast path across real forked processes: proof that it is taken, the seeds'
//! behaviours and exact counters over it, fork giving a child rings of its own, a client
//! SIGKILLed mid-request, a server killed under a waiting client, the fast path turned
//! off, and hostile ring clients.

mod common;
use common::{eventually, join_ok};
use procshare_connection::Pipe;
use procshare_manager::fastpath::{RawRingClient, LAST, MORE, REGION_LEN};
use procshare_manager::wire::{self, Reply, Request};
use procshare_manager::{DictProxy, ListProxy, Manager, RemoteKind, TransportKind};
use procshare_shm::{Process, Region, Shared};
use procshare_sync::Barrier;
use std::io::Write;
use std::time::Duration;

fn on_rings(m: &Manager) {
    assert_eq!(m.transport().unwrap(), TransportKind::SharedMemory);
}

#[test]
fn the_fast_path_is_taken_by_default_and_the_server_counts_its_requests() {
    let m = Manager::start().unwrap();
    on_rings(&m);
    let d = m.dict::<String, i64>().unwrap();
    let before = m.ring_requests().unwrap();
    for i in 0..100 {
        d.insert(format!("k{i}"), i).unwrap();
    }
    // 100 inserts and this query itself, at least: all through the rings.
    assert!(m.ring_requests().unwrap() >= before + 101);
    let mark = m.ring_requests().unwrap();
    let mut child = Process::spawn(|| {
        on_rings(&m);
        for i in 0..50 {
            assert_eq!(d.get(&format!("k{i}")).unwrap(), Some(i));
        }
    })
    .unwrap();
    join_ok(&mut child);
    assert!(
        m.ring_requests().unwrap() > mark + 50,
        "50 gets and this query"
    );

    // A client with the fast path off: the counter does not move for its requests.
    let off = Manager::builder()
        .fast_path(false)
        .connect(m.address().clone(), m.authkey())
        .unwrap();
    assert_eq!(off.transport().unwrap(), TransportKind::Socket);
    let d_off: DictProxy<String, i64> = off.attach(d.id()).unwrap();
    let still = off.ring_requests().unwrap();
    for i in 0..100 {
        assert_eq!(d_off.get(&format!("k{i}")).unwrap(), Some(i));
    }
    assert_eq!(off.ring_requests().unwrap(), still);
}

#[test]
fn the_seed_examples_behave_over_the_fast_path() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    let mut child = Process::spawn_with_output(|out| {
        on_rings(&m);
        d.insert("a".into(), 10).unwrap();
        d.insert("b".into(), 20).unwrap();
        d.insert("c".into(), 30).unwrap();
        writeln!(out, "{d}").unwrap();
    })
    .unwrap();
    join_ok(&mut child);
    assert_eq!(
        child.read_output().unwrap(),
        "{'a': 10, 'b': 20, 'c': 30}\n"
    );
    assert_eq!(d.to_string(), "{'a': 10, 'b': 20, 'c': 30}");

    let records: ListProxy<(String, i64)> = m
        .list_from(vec![("alice".to_string(), 90), ("bob".to_string(), 85)])
        .unwrap();
    let mut writer = Process::spawn(|| {
        on_rings(&m);
        records.push(("carol".into(), 77)).unwrap();
    })
    .unwrap();
    join_ok(&mut writer);
    let mut reader = Process::spawn_with_output(|out| {
        on_rings(&m);
        writeln!(out, "{records}").unwrap();
    })
    .unwrap();
    join_ok(&mut reader);
    assert_eq!(
        reader.read_output().unwrap(),
        "[('alice', 90), ('bob', 85), ('carol', 77)]\n"
    );
    on_rings(&m);
}

#[test]
fn large_requests_and_replies_cross_the_rings_in_chunks() {
    let m = Manager::start().unwrap();
    on_rings(&m);
    let l = m.list::<String>().unwrap();
    // Each push is ~100 KiB: several ring chunks one way; `to_vec` is ~1 MiB back.
    let big: String = "x".repeat(100 * 1024);
    for _ in 0..10 {
        l.push(big.clone()).unwrap();
    }
    let all = l.to_vec().unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.iter().all(|s| *s == big));
    let before = m.ring_requests().unwrap();
    assert_eq!(l.len().unwrap(), 10);
    assert!(m.ring_requests().unwrap() > before);
}

#[test]
fn fetch_add_from_four_processes_over_the_fast_path_is_exact() {
    let m = Manager::start().unwrap();
    let counter = m.value(0i64).unwrap();
    let before = m.ring_requests().unwrap();
    let mut kids: Vec<Process> = (0..4)
        .map(|_| {
            Process::spawn(|| {
                on_rings(&m);
                for _ in 0..10_000 {
                    counter.fetch_add(1).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    kids.iter_mut().for_each(join_ok);
    assert_eq!(counter.get().unwrap(), 40_000);
    assert!(m.ring_requests().unwrap() >= before + 40_000);
}

/// Parent and child use the same proxy at once after fork, each asking for its own key
/// and checking every answer: had the child reused its parent's rings, replies would
/// cross.
#[test]
fn a_forked_child_gets_rings_of_its_own() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    d.insert("parent".into(), 1).unwrap(); // the parent's rings exist before fork
    d.insert("child".into(), 2).unwrap();
    on_rings(&m);
    let start = Shared::new(Barrier::new(2).unwrap()).unwrap();
    let work = |key: &str, want: i64| {
        on_rings(&m);
        start.wait().unwrap();
        for _ in 0..3000 {
            assert_eq!(d.get(&key.to_string()).unwrap(), Some(want));
        }
    };
    let mut child = Process::spawn(|| work("child", 2)).unwrap();
    work("parent", 1);
    join_ok(&mut child);
    // And the parent's rings still work after the child (and its copy of them) is gone.
    assert_eq!(d.len().unwrap(), 2);
}

/// Three fast-path clients keep working while a fourth is SIGKILLed holding an RLock,
/// with the first chunk of a request in its ring and the last never sent: the half
/// request is never applied, the RLock is released for it, its references are dropped.
#[test]
fn a_fast_path_client_killed_mid_request_leaves_every_object_consistent() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    let counter = m.value(0i64).unwrap();
    let rlock = m.rlock().unwrap();
    let (ready_rx, ready_tx) = Pipe::simplex().unwrap();
    let mut victim = Process::spawn(|| {
        on_rings(&m);
        let mine = m.list::<i64>().unwrap(); // a reference only this process holds
        mine.push(1).unwrap();
        rlock.acquire().unwrap();
        counter.fetch_add(1000).unwrap();
        // An insert on rings of its own, whole in its first chunk but tagged "more
        // follows", and the last chunk never sent: a server that applied a message
        // before its last chunk would apply it.
        let raw = RawRingClient::connect(m.address(), m.authkey(), 7).unwrap();
        let mut insert = wire::encode_request(&Request::Call {
            id: d.id(),
            method: "insert".into(),
            args: wire::pickle(&("victim", 1)).unwrap(),
        });
        insert.push(MORE);
        raw.put_raw(&insert).unwrap();
        ready_tx.send_bytes(b"half sent").unwrap();
        loop {
            // SAFETY: pause(2) just waits for the SIGKILL.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    assert_eq!(ready_rx.recv_bytes().unwrap(), b"half sent");
    assert_eq!(m.live_objects().unwrap(), 4, "dict, value, rlock, the list");
    let start = Shared::new(Barrier::new(4).unwrap()).unwrap();
    let mut workers: Vec<Process> = (0..3)
        .map(|w| {
            let (m, d, counter, start) = (&m, &d, &counter, &start);
            Process::spawn(move || {
                on_rings(m);
                start.wait().unwrap();
                for i in 0..500 {
                    counter.fetch_add(1).unwrap();
                    d.insert(format!("w{w}-{i}"), i).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    start.wait().unwrap();
    victim.kill().unwrap();
    assert_eq!(victim.join().unwrap(), -libc::SIGKILL);
    workers.iter_mut().for_each(join_ok);
    assert_eq!(counter.get().unwrap(), 1000 + 3 * 500);
    assert_eq!(d.len().unwrap(), 3 * 500);
    assert_eq!(d.get(&"victim".into()).unwrap(), None, "never applied");
    assert!(rlock.acquire_timeout(Duration::from_secs(20)).unwrap());
    rlock.release().unwrap();
    eventually("the victim's list is freed", || {
        m.live_objects().unwrap() == 3
    });
}

/// A client blocked on the server (a lock another process holds) when the server is
/// SIGKILLed gets an error instead of waiting forever.
#[test]
fn a_client_waiting_on_the_rings_does_not_hang_when_the_server_dies() {
    let m = Manager::start().unwrap();
    let lock = m.lock().unwrap();
    assert!(lock.try_acquire().unwrap());
    let (ready_rx, ready_tx) = Pipe::simplex().unwrap();
    let mut waiter = Process::spawn(|| {
        on_rings(&m);
        // Take this process's reference now (over the socket), so that the acquire
        // below is one request on the rings and nothing else.
        assert!(lock.is_locked().unwrap());
        ready_tx.send_bytes(b"waiting").unwrap();
        // Blocks on the server until the server dies: then an error, not a hang.
        assert!(lock.acquire().is_err());
    })
    .unwrap();
    assert_eq!(ready_rx.recv_bytes().unwrap(), b"waiting");
    let server = m.server_pid().unwrap();
    // SAFETY: SIGKILL to the manager's server process, which this test started.
    assert_eq!(unsafe { libc::kill(server as i32, libc::SIGKILL) }, 0);
    let code = waiter.join_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(code, Some(0), "the waiting client returned with an error");
}

/// A thread that ends (its process lives on) closes its fast-path connection: its
/// server thread notices and gives back the RLock the thread held.
#[test]
fn a_thread_that_ends_releases_what_its_fast_path_connection_held() {
    let m = Manager::start().unwrap();
    let rlock = m.rlock().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            on_rings(&m);
            rlock.acquire().unwrap();
        });
    });
    // Held by the ended thread's connection until the server notices it closed.
    assert!(rlock.acquire_timeout(Duration::from_secs(20)).unwrap());
    rlock.release().unwrap();
}

#[test]
fn with_the_fast_path_off_everything_goes_over_the_socket() {
    let m = Manager::builder().fast_path(false).start().unwrap();
    assert_eq!(m.transport().unwrap(), TransportKind::Socket);
    let d = m.dict::<String, i64>().unwrap();
    let counter = m.value(0i64).unwrap();
    let mut kids: Vec<Process> = (0..2)
        .map(|c| {
            let (m, d, counter) = (&m, &d, &counter);
            Process::spawn(move || {
                assert_eq!(m.transport().unwrap(), TransportKind::Socket);
                for i in 0..500 {
                    counter.fetch_add(1).unwrap();
                    d.insert(format!("{c}-{i}"), i).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    kids.iter_mut().for_each(join_ok);
    assert_eq!(counter.get().unwrap(), 1000);
    assert_eq!(d.len().unwrap(), 1000);
    assert_eq!(m.ring_requests().unwrap(), 0);
}

fn err_kind(r: Reply) -> RemoteKind {
    match r {
        Reply::Err(e) => e.kind,
        Reply::Ok(v) => panic!("expected an error, got {:?}", wire::unpickle_value(&v)),
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

/// Garbage in the request ring: undecodable envelopes, a missing or unknown chunk tag,
/// a message over the server's limit (sent in chunks) — each a typed error reply, the
/// same rings keep serving, other clients are served meanwhile, memory stays bounded. A
/// ring message larger than the ring is refused by the ring itself.
#[test]
fn a_hostile_ring_client_gets_typed_errors_and_the_server_keeps_serving() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    let raw = RawRingClient::connect(m.address(), m.authkey(), 99).unwrap();
    let before = server_rss_kib(&m);

    let mut junk = vec![0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3];
    junk.push(LAST);
    raw.put_raw(&junk).unwrap();
    assert_eq!(err_kind(raw.recv_reply().unwrap()), RemoteKind::BadRequest);
    raw.put_raw(&[]).unwrap(); // no tag at all
    assert_eq!(err_kind(raw.recv_reply().unwrap()), RemoteKind::BadRequest);
    raw.put_raw(&[1, 2, 3, 7]).unwrap(); // tag 7
    assert_eq!(err_kind(raw.recv_reply().unwrap()), RemoteKind::BadRequest);
    assert!(
        raw.put_raw(&vec![0u8; raw.max_ring_message() + 1]).is_err(),
        "the ring refuses a message larger than itself"
    );
    for _ in 0..3 {
        // 17 MiB in chunks: over the 16 MiB request limit, read and dropped whole.
        raw.send_message(&vec![0u8; 17 << 20]).unwrap();
        assert_eq!(err_kind(raw.recv_reply().unwrap()), RemoteKind::TooLarge);
    }
    // Other clients are served meanwhile, and the hostile rings still work.
    d.insert("fine".into(), 1).unwrap();
    on_rings(&m);
    raw.send_request(&Request::LiveObjects).unwrap();
    match raw.recv_reply().unwrap() {
        Reply::Ok(v) => assert_eq!(wire::unpickle_value(&v).unwrap(), wire::Value::I64(1)),
        Reply::Err(e) => panic!("{e}"),
    }
    for i in 0..2000u32 {
        let mut junk = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        junk.extend(i.to_le_bytes().repeat(50));
        junk.push(LAST);
        raw.put_raw(&junk).unwrap();
        assert_eq!(err_kind(raw.recv_reply().unwrap()), RemoteKind::BadRequest);
    }
    let after = server_rss_kib(&m);
    assert!(
        after < before + 32 * 1024,
        "server RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(d.get(&"fine".into()).unwrap(), Some(1));
}

/// A hand-over of something that is not a proper region — an unsealed memory file, one
/// of the wrong size, a sealed one without the magic, a pipe — is a typed refusal, and
/// the server keeps serving.
#[test]
fn a_bad_region_is_refused_before_the_server_trusts_it() {
    let m = Manager::start().unwrap();
    let hand = |f: &std::fs::File| {
        let r = RawRingClient::hand_over(m.address(), m.authkey(), 5, f).unwrap();
        match r {
            Reply::Err(e) => {
                assert_eq!(e.kind, RemoteKind::BadRequest);
                e.message
            }
            Reply::Ok(_) => panic!("a bad region was accepted"),
        }
    };
    let unsealed = Region::new(REGION_LEN).unwrap();
    assert!(hand(unsealed.file()).contains("sealed"));
    let small = Region::new_sealed(4096).unwrap();
    assert!(hand(small.file()).contains("size"));
    let blank = Region::new_sealed(REGION_LEN).unwrap();
    assert!(hand(blank.file()).contains("magic"));
    let (r, _w) = nix_pipe();
    assert!(hand(&r).contains("memory file"));
    let d = m.dict::<String, i64>().unwrap();
    d.insert("still".into(), 1).unwrap();
    on_rings(&m);
}

fn nix_pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    use std::os::fd::FromRawFd;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
}
