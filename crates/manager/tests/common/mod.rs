//! Helpers shared by the manager's integration tests.

use procshare_shm::Process;
use std::time::{Duration, Instant};

/// Join `p` and require a clean exit.
pub(crate) fn join_ok(p: &mut Process) {
    assert_eq!(p.join().unwrap(), 0, "child {} failed", p.pid());
}

/// Wait until `f()` holds: the server notices closed connections and releases their
/// references on its own threads, and there is no event a test could wait on. Fails
/// after 20 s; the assertion is the condition, not the time.
pub(crate) fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
