//! The Manager across real forked processes: the seeds' examples, atomic counters against
//! a forced lost update, nested proxies, fork, authentication, TCP, custom types, object
//! lifetimes and a client killed mid-request.

mod common;
use common::{eventually, join_ok};
use procshare_connection::{Address, Pipe};
use procshare_manager::{
    expose, DictProxy, Error, Exposed, ListProxy, Manager, RemoteKind, Stopped, MAX_UNAUTHENTICATED,
};
use procshare_shm::{Process, Shared};
use procshare_sync::{Barrier, SyncError};
use std::io::{Read, Write};
use std::time::Duration;

#[test]
fn seed_dict_example_child_and_parent_print_the_same_dict() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    let mut child = Process::spawn_with_output(|out| {
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
    assert_eq!(format!("{d:?}"), "{'a': 10, 'b': 20, 'c': 30}");
}

#[test]
fn seed_list_of_records_appended_by_one_child_printed_by_another() {
    let m = Manager::start().unwrap();
    let records: ListProxy<(String, i64)> = m
        .list_from(vec![("alice".to_string(), 90), ("bob".to_string(), 85)])
        .unwrap();
    let mut writer = Process::spawn(|| records.push(("carol".into(), 77)).unwrap()).unwrap();
    join_ok(&mut writer);
    let mut reader = Process::spawn_with_output(|out| {
        writeln!(out, "{records}").unwrap();
    })
    .unwrap();
    join_ok(&mut reader);
    assert_eq!(
        reader.read_output().unwrap(),
        "[('alice', 90), ('bob', 85), ('carol', 77)]\n"
    );
    assert_eq!(records.len().unwrap(), 3);
    assert_eq!(records.get(2).unwrap(), ("carol".to_string(), 77));
}

#[test]
fn dict_methods_behave_like_pythons_in_insertion_order() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    assert!(d.is_empty().unwrap());
    assert_eq!(d.insert("z".into(), 1).unwrap(), None);
    assert_eq!(d.insert("a".into(), 2).unwrap(), None);
    assert_eq!(
        d.insert("z".into(), 3).unwrap(),
        Some(1),
        "old value returned"
    );
    assert_eq!(
        d.keys().unwrap(),
        vec!["z", "a"],
        "a replaced key keeps its place"
    );
    assert_eq!(d.values().unwrap(), vec![3, 2]);
    assert_eq!(d.get(&"a".into()).unwrap(), Some(2));
    assert_eq!(d.get(&"q".into()).unwrap(), None);
    assert!(d.contains_key(&"z".into()).unwrap());
    assert_eq!(d.get_or_insert("q".into(), 7).unwrap(), 7);
    assert_eq!(
        d.get_or_insert("q".into(), 8).unwrap(),
        7,
        "setdefault keeps the first"
    );
    d.update([("b".to_string(), 4), ("z".to_string(), 5)])
        .unwrap();
    assert_eq!(d.to_string(), "{'z': 5, 'a': 2, 'q': 7, 'b': 4}");
    assert_eq!(d.remove(&"a".into()).unwrap(), Some(2));
    assert_eq!(d.remove(&"a".into()).unwrap(), None);
    assert_eq!(
        d.items().unwrap(),
        vec![
            ("z".to_string(), 5),
            ("q".to_string(), 7),
            ("b".to_string(), 4)
        ]
    );
    assert_eq!(d.len().unwrap(), 3);
    d.clear().unwrap();
    assert_eq!(d.to_string(), "{}");
}

#[test]
fn list_namespace_and_value_methods() {
    let m = Manager::start().unwrap();
    let l = m.list::<i64>().unwrap();
    l.extend([1, 2, 3]).unwrap();
    l.insert(0, 0).unwrap();
    l.set(3, 30).unwrap();
    assert_eq!(l.remove(1).unwrap(), 1);
    assert_eq!(l.pop().unwrap(), Some(30));
    assert_eq!(l.to_vec().unwrap(), vec![0, 2]);
    assert_eq!(l.to_string(), "[0, 2]");
    let e = l.get(5).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteKind::IndexError), "{e}");
    l.clear().unwrap();
    assert_eq!(l.pop().unwrap(), None);

    let ns = m.namespace().unwrap();
    ns.set("y", &"text").unwrap();
    ns.set("x", &1.5f64).unwrap();
    assert_eq!(ns.get::<f64>("x").unwrap(), 1.5);
    assert_eq!(ns.to_string(), "Namespace(x=1.5, y='text')");
    assert_eq!(ns.names().unwrap(), vec!["y", "x"]);
    ns.del("y").unwrap();
    let e = ns.get::<String>("y").unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteKind::KeyError), "{e}");

    let v = m.value(10i64).unwrap();
    assert_eq!(v.fetch_add(5).unwrap(), 10);
    assert_eq!(v.compare_and_swap(15, 20).unwrap(), 15, "swapped");
    assert_eq!(
        v.compare_and_swap(15, 99).unwrap(),
        20,
        "not swapped: current value"
    );
    assert_eq!(v.get().unwrap(), 20);
    v.set(i64::MAX).unwrap();
    assert_eq!(
        v.fetch_add(1).unwrap_err().remote_kind(),
        Some(RemoteKind::Overflow)
    );
    assert_eq!(
        v.get().unwrap(),
        i64::MAX,
        "a failed fetch_add changes nothing"
    );
    let s = m.value("text".to_string()).unwrap();
    let e = s.fetch_add("x".into()).unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteKind::TypeMismatch), "{e}");
    assert_eq!(s.to_string(), "'text'");
}

/// A manager over each transport: the local fast path (the default) and the socket.
fn both_transports() -> [Manager; 2] {
    let fast = Manager::start().unwrap();
    let socket = Manager::builder().fast_path(false).start().unwrap();
    assert_eq!(
        fast.transport().unwrap(),
        procshare_manager::TransportKind::SharedMemory
    );
    assert_eq!(
        socket.transport().unwrap(),
        procshare_manager::TransportKind::Socket
    );
    [fast, socket]
}

#[test]
fn fetch_add_from_four_processes_is_exact() {
    for m in both_transports() {
        fetch_add_from_four_processes(&m);
    }
}

fn fetch_add_from_four_processes(m: &Manager) {
    let counter = m.value(0i64).unwrap();
    let mut kids: Vec<Process> = (0..4)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..10_000 {
                    counter.fetch_add(1).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    kids.iter_mut().for_each(join_ok);
    assert_eq!(counter.get().unwrap(), 40_000);
}

/// `set(get() + 1)` is two requests: when both processes read before either writes (a
/// barrier forces it), one update is lost. `fetch_add` under the same schedule is not.
#[test]
fn get_then_set_loses_an_update_under_a_forced_interleaving_fetch_add_does_not() {
    let m = Manager::start().unwrap();
    let racy = m.value(0i64).unwrap();
    let atomic = m.value(0i64).unwrap();
    let between = Shared::new(Barrier::new(2).unwrap()).unwrap();
    let mut kids: Vec<Process> = (0..2)
        .map(|_| {
            Process::spawn(|| {
                let seen = racy.get().unwrap();
                // Both reads are done before either write.
                between.wait().unwrap();
                racy.set(seen + 1).unwrap();
                atomic.fetch_add(1).unwrap();
            })
            .unwrap()
        })
        .collect();
    kids.iter_mut().for_each(join_ok);
    assert_eq!(racy.get().unwrap(), 1, "one of the two increments is lost");
    assert_eq!(atomic.get().unwrap(), 2);
}

#[test]
fn nested_proxies_stay_proxies_and_updates_through_them_are_kept() {
    let m = Manager::start().unwrap();
    let outer = m.dict::<String, DictProxy<String, i64>>().unwrap();
    let inner = m.dict::<String, i64>().unwrap();
    outer.insert("supplies".into(), inner.clone()).unwrap();
    let inner_id = inner.id();
    drop(inner);
    let mut child = Process::spawn(|| {
        let supplies = outer.get(&"supplies".into()).unwrap().unwrap();
        supplies.insert("blankets".into(), 5).unwrap();
    })
    .unwrap();
    join_ok(&mut child);
    let supplies = outer.get(&"supplies".into()).unwrap().unwrap();
    assert_eq!(supplies.id(), inner_id, "the same object came back");
    assert_eq!(supplies.get(&"blankets".into()).unwrap(), Some(5));
    assert_eq!(
        outer.to_string(),
        format!("{{'supplies': <DictProxy object, typeid 'dict', id {inner_id}>}}")
    );
    // A list of proxies too.
    let boxes = m.list::<ListProxy<i64>>().unwrap();
    boxes.push(m.list_from(vec![1]).unwrap()).unwrap();
    boxes.get(0).unwrap().push(2).unwrap();
    assert_eq!(boxes.get(0).unwrap().to_vec().unwrap(), vec![1, 2]);
}

/// Parent and child hammer the same proxy at once; each checks every reply it gets. A
/// proxy sharing its parent's socket across fork (CPython #101320) would read the other
/// process's replies.
#[test]
fn a_proxy_used_after_fork_has_its_own_connection() {
    for m in both_transports() {
        a_proxy_used_after_fork(&m);
    }
}

fn a_proxy_used_after_fork(m: &Manager) {
    let d = m.dict::<String, i64>().unwrap();
    d.insert("warm".into(), 0).unwrap(); // The parent's connection exists before fork.
    let start = Shared::new(Barrier::new(2).unwrap()).unwrap();
    let work = |tag: &str| {
        start.wait().unwrap();
        for i in 0..2000i64 {
            let k = format!("{tag}{i}");
            assert_eq!(d.insert(k.clone(), i).unwrap(), None);
            assert_eq!(d.get(&k).unwrap(), Some(i));
        }
    };
    let mut child = Process::spawn(|| work("child")).unwrap();
    work("parent");
    join_ok(&mut child);
    assert_eq!(d.len().unwrap(), 4001);
}

#[test]
fn a_wrong_authkey_is_refused() {
    let m = Manager::start().unwrap();
    let e = Manager::connect(m.address().clone(), b"not the key").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Connection(procshare_connection::Error::AuthenticationFailed(_))
        ),
        "{e:?}"
    );
    let right = Manager::connect(m.address().clone(), m.authkey()).unwrap();
    assert_eq!(right.live_objects().unwrap(), 0);
}

#[test]
fn the_socket_is_in_a_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let m = Manager::start().unwrap();
    let Address::Unix(path) = m.address() else {
        panic!("a Unix address")
    };
    let mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(m.authkey().len(), 32);
}

/// The child is forked before the server exists; all it gets is the address, the key and
/// an object's id, through a pipe.
#[test]
fn a_tcp_manager_is_used_by_a_process_that_knows_only_address_and_key() {
    let (rx, tx) = Pipe::simplex().unwrap();
    let mut child = Process::spawn(|| {
        let (address, key, id): (String, Vec<u8>, u64) = rx.recv().unwrap();
        let m = Manager::connect(Address::parse(&address), &key).unwrap();
        let shared: DictProxy<String, i64> = m.attach(id).unwrap();
        shared.insert("from the child".into(), 1).unwrap();
        let mine = m.dict::<String, i64>().unwrap();
        mine.insert("private".into(), 2).unwrap();
        assert_eq!(mine.to_string(), "{'private': 2}");
        let unknown = m.attach::<DictProxy<String, i64>>(987_654).unwrap_err();
        assert_eq!(unknown.remote_kind(), Some(RemoteKind::UnknownObject));
    })
    .unwrap();
    let key = b"a shared secret".to_vec();
    let server = Manager::serve_loopback(&key).unwrap();
    let Address::Tcp(addr) = server.address() else {
        panic!("TCP")
    };
    assert!(addr.ip().is_loopback());
    let m = server.manager().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    tx.send(&(addr.to_string(), key.clone(), d.id())).unwrap();
    join_ok(&mut child);
    assert_eq!(d.to_string(), "{'from the child': 1}");
    // The child's own dict is freed; the shared one lives on.
    eventually("the child's objects are freed", || {
        server.live_objects() == 1
    });
    server.shutdown();
    assert!(m.live_objects().is_err(), "the server is gone");
}

struct Counter {
    n: i64,
}

impl Counter {
    fn add(&mut self, k: i64) -> Result<i64, String> {
        self.n += k;
        Ok(self.n)
    }
    fn get(&mut self) -> Result<i64, String> {
        Ok(self.n)
    }
    fn fail(&mut self, why: String) -> Result<(), String> {
        Err(format!("refused: {why}"))
    }
    #[allow(
        dead_code,
        reason = "it exists but is not exposed: the test calls it by name"
    )]
    fn secret(&mut self) -> Result<i64, String> {
        Ok(42)
    }
}

expose! {
    Counter as "Counter" {
        new(start: i64) => Counter { n: start };
        fn add(k: i64) -> i64;
        fn get() -> i64;
        fn fail(why: String) -> ();
    }
}

/// A hand-written `Exposed` whose `call` answers a method it leaves out of `EXPOSED`:
/// only the server's own check stands between a caller and `unlisted` (with `expose!`
/// the hidden method has no arm at all, so that test alone could not tell).
struct Leaky;

impl Exposed for Leaky {
    const TYPEID: &'static str = "Leaky";
    const EXPOSED: &'static [&'static str] = &["listed"];
    fn create(_: procshare_manager::wire::Value) -> Result<Self, String> {
        Ok(Leaky)
    }
    fn call(
        &mut self,
        method: &str,
        _: procshare_manager::wire::Value,
    ) -> Result<procshare_manager::wire::Value, procshare_manager::CallError> {
        match method {
            "listed" | "unlisted" => Ok(procshare_manager::wire::Value::I64(1)),
            _ => Err(procshare_manager::CallError::NoSuchMethod),
        }
    }
}

#[test]
fn a_method_left_out_of_exposed_is_refused_even_if_the_type_answers_it() {
    let m = Manager::builder().register::<Leaky>().start().unwrap();
    let l = m.create::<Leaky>(()).unwrap();
    assert_eq!(l.call::<_, i64>("listed", ()).unwrap(), 1);
    let hidden = l.call::<_, i64>("unlisted", ()).unwrap_err();
    assert_eq!(
        hidden.remote_kind(),
        Some(RemoteKind::NotExposed),
        "{hidden}"
    );
}

#[test]
fn a_custom_type_exposes_only_its_listed_methods() {
    assert_eq!(Counter::EXPOSED, &["add", "get", "fail"]);
    let m = Manager::builder().register::<Counter>().start().unwrap();
    let c = m.create::<Counter>((5,)).unwrap();
    let mut child = Process::spawn(|| {
        assert_eq!(c.call::<_, i64>("add", (10,)).unwrap(), 15);
    })
    .unwrap();
    join_ok(&mut child);
    assert_eq!(c.call::<_, i64>("get", ()).unwrap(), 15);
    let hidden = c.call::<_, i64>("secret", ()).unwrap_err();
    assert_eq!(
        hidden.remote_kind(),
        Some(RemoteKind::NotExposed),
        "{hidden}"
    );
    let failed = c.call::<_, ()>("fail", ("no",)).unwrap_err();
    match &failed {
        Error::Remote(r) => {
            assert_eq!(r.kind, RemoteKind::Method);
            assert_eq!(r.message, "refused: no");
        }
        other => panic!("{other:?}"),
    }
    let mistyped = c.call::<_, i64>("add", ("ten",)).unwrap_err();
    assert_eq!(
        mistyped.remote_kind(),
        Some(RemoteKind::TypeMismatch),
        "{mistyped}"
    );
    let arity = c.call::<_, i64>("add", (1, 2)).unwrap_err();
    assert_eq!(
        arity.remote_kind(),
        Some(RemoteKind::TypeMismatch),
        "{arity}"
    );
    let unknown = m.create_named("Nope", ()).unwrap_err();
    assert_eq!(unknown.remote_kind(), Some(RemoteKind::UnknownType));
    assert_eq!(
        c.call::<_, i64>("get", ()).unwrap(),
        15,
        "failed calls changed nothing"
    );
}

#[test]
fn objects_are_freed_when_the_last_proxy_anywhere_is_dropped() {
    let m = Manager::start().unwrap();
    {
        let d = m.dict::<String, ListProxy<i64>>().unwrap();
        let l = m.list::<i64>().unwrap();
        d.insert("l".into(), l.clone()).unwrap();
        let v = m.value(0i64).unwrap();
        let lock = m.lock().unwrap();
        let copy = d.clone();
        assert_eq!(m.live_objects().unwrap(), 4);
        drop(l);
        assert_eq!(
            m.live_objects().unwrap(),
            4,
            "the dict still holds the list"
        );
        // A child uses (and so references) the dict and the value, then exits.
        let mut child = Process::spawn(|| {
            d.get(&"l".into()).unwrap().unwrap().push(1).unwrap();
            v.fetch_add(1).unwrap();
            lock.acquire().unwrap();
            lock.release().unwrap();
        })
        .unwrap();
        join_ok(&mut child);
        drop(copy);
        assert_eq!(m.live_objects().unwrap(), 4, "a clone shares its reference");
        drop((v, lock));
        // The child's references go with its session, on the server's own time.
        eventually("the value and the lock are freed", || {
            m.live_objects().unwrap() == 2
        });
        // `d` drops here; the nested list goes with it.
    }
    eventually("every object is freed", || m.live_objects().unwrap() == 0);
}

/// Three clients keep working while a fourth is SIGKILLed with half a request sent and
/// an RLock held: the half request is never applied, the RLock is released for it, its
/// references are dropped, and every count is exact.
#[test]
fn a_client_killed_mid_request_leaves_every_object_consistent() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, i64>().unwrap();
    let counter = m.value(0i64).unwrap();
    let rlock = m.rlock().unwrap();
    let (ready_rx, ready_tx) = Pipe::simplex().unwrap();
    let mut victim = Process::spawn(|| {
        let mine = m.list::<i64>().unwrap(); // a reference only this process holds
        mine.push(1).unwrap();
        rlock.acquire().unwrap();
        counter.fetch_add(1000).unwrap();
        // Half of an insert, by hand, on a connection of its own.
        let conn = procshare_connection::Client::new(m.address().clone())
            .auth(procshare_connection::Auth::key(m.authkey()))
            .connect()
            .unwrap();
        let hello =
            procshare_manager::wire::encode_request(&procshare_manager::wire::Request::Hello {
                session: 7,
            });
        conn.send_bytes(&hello).unwrap();
        conn.recv_bytes().unwrap();
        let insert =
            procshare_manager::wire::encode_request(&procshare_manager::wire::Request::Call {
                id: d.id(),
                method: "insert".into(),
                args: procshare_manager::wire::pickle(&("victim", 1)).unwrap(),
            });
        let frame = procshare_connection::frame::encode(&insert);
        let fd = conn.into_fd().unwrap();
        let mut stream = std::os::unix::net::UnixStream::from(fd);
        stream.write_all(&frame[..frame.len() / 2]).unwrap();
        ready_tx.send_bytes(b"half sent").unwrap();
        loop {
            // SAFETY: pause(2) just waits for the SIGKILL.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    assert_eq!(ready_rx.recv_bytes().unwrap(), b"half sent");
    assert_eq!(
        m.live_objects().unwrap(),
        4,
        "dict, value, rlock, the victim's list"
    );
    let start = Shared::new(Barrier::new(4).unwrap()).unwrap();
    let mut workers: Vec<Process> = (0..3)
        .map(|w| {
            let (d, counter, start) = (&d, &counter, &start);
            Process::spawn(move || {
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
    assert_eq!(
        d.get(&"victim".into()).unwrap(),
        None,
        "the half request was not applied"
    );
    // The dead client's RLock is released for it; its list is freed.
    assert!(rlock.acquire_timeout(Duration::from_secs(20)).unwrap());
    rlock.release().unwrap();
    eventually("the victim's list is freed", || {
        m.live_objects().unwrap() == 3
    });
}

#[test]
fn sync_proxies_fail_like_the_local_objects() {
    let m = Manager::start().unwrap();
    let lock = m.lock().unwrap();
    assert!(matches!(
        lock.release(),
        Err(Error::Sync(SyncError::NotLocked))
    ));
    lock.acquire().unwrap();
    assert!(lock.is_locked().unwrap());
    assert!(!lock.try_acquire().unwrap());
    // Ownerless: another process may release it.
    let mut child = Process::spawn(|| lock.release().unwrap()).unwrap();
    join_ok(&mut child);
    assert!(!lock.is_locked().unwrap());

    let rlock = m.rlock().unwrap();
    rlock.acquire().unwrap();
    rlock.acquire().unwrap();
    let other_thread = std::thread::scope(|s| s.spawn(|| rlock.release()).join().unwrap());
    assert!(
        matches!(other_thread, Err(Error::Sync(SyncError::NotOwner))),
        "{other_thread:?}"
    );
    rlock.release().unwrap();
    rlock.release().unwrap();
    assert!(matches!(
        rlock.release(),
        Err(Error::Sync(SyncError::NotOwner | SyncError::NotLocked))
    ));

    let sem = m.bounded_semaphore(1).unwrap();
    sem.acquire().unwrap();
    assert!(!sem.try_acquire().unwrap());
    assert!(!sem.acquire_timeout(Duration::from_millis(1)).unwrap());
    sem.release().unwrap();
    assert!(matches!(
        sem.release(),
        Err(Error::Sync(SyncError::ReleasedTooManyTimes { bound: 1 }))
    ));
    assert_eq!(sem.value().unwrap(), 1);

    let b = m.barrier(3).unwrap();
    let mut kids: Vec<Process> = (0..2)
        .map(|_| Process::spawn(|| assert!(b.wait().unwrap() < 3)).unwrap())
        .collect();
    assert!(b.wait().unwrap() < 3);
    kids.iter_mut().for_each(join_ok);
    assert_eq!(b.parties().unwrap(), 3);
    b.abort().unwrap();
    assert!(matches!(
        b.wait(),
        Err(Error::Sync(SyncError::BrokenBarrier))
    ));
    assert!(m.barrier(0).is_err());
}

#[test]
fn event_and_condition_work_across_processes() {
    let m = Manager::start().unwrap();
    let ev = m.event().unwrap();
    let back = m.event().unwrap();
    let mut child = Process::spawn(|| {
        assert!(ev.wait(None).unwrap());
        back.set().unwrap();
    })
    .unwrap();
    assert!(!ev.wait(Some(Duration::from_millis(1))).unwrap());
    ev.set().unwrap();
    assert!(back.wait(None).unwrap());
    join_ok(&mut child);
    ev.clear().unwrap();
    assert!(!ev.is_set().unwrap());

    let cond = m.condition().unwrap();
    let flag = m.value(false).unwrap();
    let mut waiter = Process::spawn(|| {
        cond.acquire().unwrap();
        while !flag.get().unwrap() {
            cond.wait(None).unwrap();
        }
        cond.release().unwrap();
    })
    .unwrap();
    cond.acquire().unwrap();
    flag.set(true).unwrap();
    cond.notify_all().unwrap();
    cond.release().unwrap();
    join_ok(&mut waiter);
    assert!(
        matches!(cond.wait(Some(Duration::ZERO)), Err(Error::Sync(_))),
        "wait needs the lock"
    );
}

/// One connection stalls before its handshake, another stops in the middle of a request:
/// the server still serves everyone else (a thread per connection).
#[test]
fn stalled_clients_do_not_block_others() {
    let m = Manager::start().unwrap();
    let Address::Unix(path) = m.address().clone() else {
        panic!("Unix")
    };
    let _silent = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let half = procshare_connection::Client::new(m.address().clone())
        .auth(procshare_connection::Auth::key(m.authkey()))
        .connect()
        .unwrap();
    let mut half = std::os::unix::net::UnixStream::from(half.into_fd().unwrap());
    half.write_all(&[0, 0, 0, 100, 1, 2]).unwrap();
    let d = m.dict::<i64, i64>().unwrap();
    for i in 0..10 {
        d.insert(i, i).unwrap();
    }
    assert_eq!(d.len().unwrap(), 10);
}

#[test]
fn shutdown_stops_the_server_and_removes_its_directory() {
    let mut m = Manager::start().unwrap();
    let d = m.dict::<i64, i64>().unwrap();
    let pid = m.server_pid().unwrap();
    let Address::Unix(path) = m.address().clone() else {
        panic!("Unix")
    };
    assert_eq!(m.shutdown().unwrap(), Stopped::Asked);
    assert_eq!(m.shutdown().unwrap(), Stopped::Nothing, "only once");
    assert!(!path.parent().unwrap().exists());
    assert_eq!(
        // SAFETY: kill with signal 0 only checks for existence.
        unsafe { libc::kill(pid as i32, 0) },
        -1,
        "the server is reaped"
    );
    assert!(d.len().is_err());
}

#[test]
fn dropping_the_manager_stops_the_server_as_shutdown_does() {
    let m = Manager::start().unwrap();
    let d = m.dict::<i64, i64>().unwrap();
    let pid = m.server_pid().unwrap();
    let Address::Unix(path) = m.address().clone() else {
        panic!("Unix")
    };
    drop(m);
    assert!(!path.parent().unwrap().exists(), "its directory is removed");
    assert_eq!(
        // SAFETY: kill with signal 0 only checks for existence.
        unsafe { libc::kill(pid as i32, 0) },
        -1,
        "the server is reaped"
    );
    assert!(d.len().is_err());
}

/// A server that does not answer (stopped with SIGSTOP) is killed after the grace
/// periods.
#[test]
fn shutdown_escalates_to_sigkill() {
    let mut m = Manager::start().unwrap();
    let pid = m.server_pid().unwrap();
    // SAFETY: stops our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGSTOP) }, 0);
    // SIGTERM stays pending on a stopped process: only SIGKILL ends it.
    assert_eq!(m.shutdown().unwrap(), Stopped::Killed);
    assert_eq!(
        // SAFETY: as above.
        unsafe { libc::kill(pid as i32, 0) },
        -1,
        "the server is reaped"
    );
}

/// At most `MAX_UNAUTHENTICATED` connections are in their handshake at once: one more is
/// closed before the server writes a byte, an authenticated client keeps working, and
/// `shutdown`, whose own request cannot get in, ends the server with SIGTERM.
#[test]
fn a_flood_of_silent_connections_is_capped_and_shutdown_still_ends_the_server() {
    let mut m = Manager::start().unwrap();
    let pid = m.server_pid().unwrap();
    let d = m.dict::<i64, i64>().unwrap();
    d.insert(1, 1).unwrap(); // this thread's connection is through its handshake
    let Address::Unix(path) = m.address().clone() else {
        panic!("Unix")
    };
    let silent: Vec<_> = (0..MAX_UNAUTHENTICATED)
        .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
        .collect();
    // Every one of them is served: the server writes its challenge first.
    let mut first = silent[0].try_clone().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(first.read(&mut byte).unwrap(), 1, "a challenge");
    // One more is closed unread (end of stream, no challenge).
    let mut over = std::os::unix::net::UnixStream::connect(&path).unwrap();
    over.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(over.read(&mut byte).unwrap(), 0, "closed before any byte");
    d.insert(2, 2).unwrap();
    assert_eq!(d.len().unwrap(), 2);
    assert_eq!(m.shutdown().unwrap(), Stopped::Terminated);
    assert_eq!(
        // SAFETY: kill with signal 0 only checks for existence.
        unsafe { libc::kill(pid as i32, 0) },
        -1,
        "the server is reaped"
    );
    drop(silent);
}

#[test]
fn a_child_dropping_a_moved_manager_does_not_stop_the_server() {
    let m = Manager::start().unwrap();
    let v = m.value(1i64).unwrap();
    let address = m.address().clone();
    let key = m.authkey().to_vec();
    let slot = std::cell::RefCell::new(Some(m));
    // The child drops its copy of the manager; the parent's stays in `slot`.
    let mut child = Process::spawn(|| drop(slot.borrow_mut().take())).unwrap();
    join_ok(&mut child);
    let again = Manager::connect(address, &key).unwrap();
    assert_eq!(again.live_objects().unwrap(), 1);
    assert_eq!(v.get().unwrap(), 1);
}

/// Is `pid` gone (no such process, or a zombie nobody reaped yet)?
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn the_server_stops_when_the_process_that_started_it_is_killed() {
    let (rx, tx) = Pipe::simplex().unwrap();
    let mut starter = Process::spawn(|| {
        let m = Manager::start().unwrap();
        tx.send(&m.server_pid().unwrap()).unwrap();
        loop {
            // SAFETY: pause(2) just waits for the SIGKILL.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    let server: u32 = rx.recv().unwrap();
    assert!(!gone(server));
    starter.kill().unwrap();
    assert_eq!(starter.join().unwrap(), -libc::SIGKILL);
    eventually("the orphaned server exits", || gone(server));
}

#[test]
fn queue_proxies_carry_items_between_processes_with_the_local_errors() {
    use procshare_queue::QueueError;
    let m = Manager::start().unwrap();
    let q = m.queue::<(u32, String)>(0).unwrap();
    let mut producer = Process::spawn(|| {
        for i in 0..100 {
            q.put((i, format!("item {i}"))).unwrap();
        }
    })
    .unwrap();
    let mut consumer = Process::spawn_with_output(|out| {
        let mut sum = 0;
        for _ in 0..100 {
            let (i, text) = q.get().unwrap();
            assert_eq!(text, format!("item {i}"));
            sum += i;
        }
        writeln!(out, "{sum}").unwrap();
    })
    .unwrap();
    join_ok(&mut producer);
    join_ok(&mut consumer);
    assert_eq!(consumer.read_output().unwrap(), "4950\n");
    assert!(q.is_empty().unwrap());
    assert!(matches!(q.try_get(), Err(Error::Queue(QueueError::Empty))));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(1)),
        Err(Error::Queue(QueueError::Empty))
    ));
    let one = m.queue::<i64>(1).unwrap();
    one.put(1).unwrap();
    assert!(one.is_full().unwrap());
    assert!(matches!(
        one.try_put(2),
        Err(Error::Queue(QueueError::Full))
    ));
    assert!(matches!(
        one.put_timeout(2, Duration::from_millis(1)),
        Err(Error::Queue(QueueError::Full))
    ));
    assert_eq!(one.qsize().unwrap(), 1);
}

#[test]
fn a_joinable_queue_proxy_joins_when_every_task_is_done() {
    use procshare_queue::QueueError;
    let m = Manager::start().unwrap();
    let q = m.joinable_queue::<u32>(0).unwrap();
    for i in 0..10 {
        q.put(i).unwrap();
    }
    assert_eq!(q.unfinished_tasks().unwrap(), 10);
    assert!(!q.join_timeout(Duration::from_millis(1)).unwrap());
    let mut worker = Process::spawn(|| {
        for _ in 0..10 {
            q.get().unwrap();
            q.task_done().unwrap();
        }
    })
    .unwrap();
    q.join().unwrap();
    join_ok(&mut worker);
    assert_eq!(q.unfinished_tasks().unwrap(), 0);
    assert!(matches!(
        q.task_done(),
        Err(Error::Queue(QueueError::TaskDone))
    ));
    // A plain queue has no task_done.
    let plain = m.queue::<u32>(0).unwrap();
    let as_joinable: procshare_manager::JoinableQueueProxy<u32> = m.attach(plain.id()).unwrap();
    let e = as_joinable.task_done().unwrap_err();
    assert_eq!(e.remote_kind(), Some(RemoteKind::NotExposed), "{e}");
}

#[test]
fn a_proxy_sent_through_a_managed_queue_stays_alive_until_taken() {
    let m = Manager::start().unwrap();
    let q = m.queue::<DictProxy<String, i64>>(0).unwrap();
    let d = m.dict::<String, i64>().unwrap();
    q.put(d.clone()).unwrap();
    drop(d);
    assert_eq!(m.live_objects().unwrap(), 2, "the queue holds the dict");
    let mut child = Process::spawn(|| {
        let d = q.get().unwrap();
        d.insert("via the queue".into(), 1).unwrap();
        q.put(d).unwrap();
    })
    .unwrap();
    join_ok(&mut child);
    let d = q.get().unwrap();
    assert_eq!(d.to_string(), "{'via the queue': 1}");
    q.put(d).unwrap();
    drop(q); // the queue is freed, and the dict it held with it
    eventually("the queue and the dict are freed", || {
        m.live_objects().unwrap() == 0
    });
}
