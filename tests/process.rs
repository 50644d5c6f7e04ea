//! `Process`: exit codes with CPython's convention, join with timeout, liveness,
//! terminate/kill and output capture, all under the multi-threaded libtest harness.

mod common;

use common::first_line;
use procshare::process::exit;
use procshare::{Error, Process};
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn normal_return_is_exit_code_0() {
    let mut p = Process::spawn(|| {}).unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(p.exitcode(), Some(0));
}

#[test]
fn panic_is_exit_code_1() {
    let mut p = Process::spawn(|| panic!("boom")).unwrap();
    assert_eq!(p.join().unwrap(), 1);
}

#[test]
fn explicit_exit_is_its_code_and_unwinds() {
    let mut p = Process::spawn_with_output(|out| {
        struct Finally<'a>(&'a mut procshare::process::ChildOutput);
        impl Drop for Finally<'_> {
            fn drop(&mut self) {
                self.0.write_all(b"finally ran\n").unwrap();
            }
        }
        let _f = Finally(out);
        exit(7);
    })
    .unwrap();
    assert_eq!(p.join().unwrap(), 7);
    assert_eq!(p.read_output().unwrap(), "finally ran\n");
}

#[test]
fn killed_by_signal_is_minus_the_signal() {
    let mut p = Process::spawn(|| loop {
        // SAFETY: pause() just waits for a signal.
        unsafe { libc::pause() };
    })
    .unwrap();
    assert!(p.is_alive());
    p.kill().unwrap();
    assert_eq!(p.join().unwrap(), -libc::SIGKILL);
    assert!(!p.is_alive());

    let mut p = Process::spawn(|| loop {
        // SAFETY: as above.
        unsafe { libc::pause() };
    })
    .unwrap();
    p.terminate().unwrap();
    assert_eq!(p.join().unwrap(), -libc::SIGTERM);
}

#[test]
fn signalling_a_joined_process_is_an_error() {
    let mut p = Process::spawn(|| {}).unwrap();
    p.join().unwrap();
    assert!(matches!(p.kill(), Err(Error::AlreadyJoined { .. })));
}

#[test]
fn join_timeout_waits_at_least_the_timeout_for_a_running_child() {
    let mut p = Process::spawn(|| loop {
        // SAFETY: as above.
        unsafe { libc::pause() };
    })
    .unwrap();
    let t0 = Instant::now();
    assert_eq!(p.join_timeout(Duration::from_millis(100)).unwrap(), None);
    assert!(t0.elapsed() >= Duration::from_millis(100));
    p.kill().unwrap();
    assert_eq!(
        p.join_timeout(Duration::from_secs(30)).unwrap(),
        Some(-libc::SIGKILL)
    );
}

#[test]
fn output_is_captured_through_a_pipe() {
    let mut p = Process::spawn_with_output(|out| {
        for i in 0..3 {
            writeln!(out, "line {i}").unwrap();
        }
    })
    .unwrap();
    let text = p.read_output().unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(text, "line 0\nline 1\nline 2\n");
}

#[test]
fn output_can_be_read_while_the_child_runs() {
    let mut p = Process::spawn_with_output(|out| {
        writeln!(out, "ready").unwrap();
        loop {
            // SAFETY: as above.
            unsafe { libc::pause() };
        }
    })
    .unwrap();
    assert_eq!(first_line(&mut p), "ready\n");
    assert!(p.is_alive());
    p.kill().unwrap();
    assert_eq!(p.join().unwrap(), -libc::SIGKILL);
}

#[test]
fn a_child_works_on_a_copy_of_the_parents_memory() {
    let mut plain = vec![1, 2, 3];
    let mut p = Process::spawn(|| {
        plain.push(4);
        if plain.len() != 4 {
            exit(2);
        }
    })
    .unwrap();
    assert_eq!(p.join().unwrap(), 0);
    plain.push(5);
    assert_eq!(
        plain,
        [1, 2, 3, 5],
        "the child's private writes are not shared"
    );
}

#[test]
fn many_children_from_many_threads() {
    // Forking from several threads at once (as libtest does) must stay correct.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for i in 0..10 {
                    let mut p = Process::spawn(|| exit(i)).unwrap();
                    assert_eq!(p.join().unwrap(), i);
                }
            });
        }
    });
}

#[test]
fn dropping_an_unjoined_process_kills_it() {
    let p = Process::spawn(|| loop {
        // SAFETY: as above.
        unsafe { libc::pause() };
    })
    .unwrap();
    let pid = p.pid() as libc::pid_t;
    drop(p);
    // SAFETY: signal 0 only checks existence; the child has been reaped by drop.
    let r = unsafe { libc::kill(pid, 0) };
    assert_eq!(r, -1, "the child should be gone");
}

#[test]
fn a_handle_moved_into_another_child_never_signals_its_sibling() {
    let sibling = Process::spawn(|| loop {
        // SAFETY: pause() only waits for a signal.
        unsafe { libc::pause() };
    })
    .unwrap();
    let pid = sibling.pid() as libc::pid_t;
    // The handle travels into another child, which tries to use it and then drops it.
    let mut mover = Process::spawn(move || {
        let mut s = sibling;
        assert!(matches!(s.kill(), Err(Error::NotCreator { .. })));
        assert!(matches!(s.terminate(), Err(Error::NotCreator { .. })));
        assert!(matches!(s.join(), Err(Error::NotCreator { .. })));
        drop(s); // before the fix: SIGKILL to the sibling
    })
    .unwrap();
    assert_eq!(mover.join().unwrap(), 0);
    // The sibling still runs. (The parent's handle went into the closure; reap by pid.)
    let mut status = 0;
    // SAFETY: waitpid on our own child with WNOHANG writes only `status`.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    assert_eq!(
        r, 0,
        "the sibling ended (status {status:#x}): it was signalled"
    );
    // SAFETY: kill/waitpid on our own, unreaped child.
    unsafe {
        assert_eq!(libc::kill(pid, libc::SIGKILL), 0);
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
    }
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
}

#[test]
fn signalling_a_child_that_already_exited_is_no_error() {
    let mut p = Process::spawn_with_output(|out| {
        out.write_all(b"bye\n").unwrap();
    })
    .unwrap();
    // Wait for its exit without reaping it: its output pipe reaches end of file.
    assert_eq!(p.read_output().unwrap(), "bye\n");
    let t0 = Instant::now();
    while std::fs::read_to_string(format!("/proc/{}/stat", p.pid()))
        .is_ok_and(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the child never exited"
        );
        std::thread::yield_now();
    }
    p.terminate().unwrap();
    p.kill().unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert!(matches!(p.kill(), Err(Error::AlreadyJoined { .. })));
}
