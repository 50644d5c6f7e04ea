//! The control block: the words through which the controller and its actor processes
//! hand the single "right to run" back and forth.
//!
//! It lives in one shared [`Region`] created by the controller before the actors are
//! forked, so every actor reaches it at the same address. Only one process runs scenario
//! code at a time: an actor runs from the moment the controller sets its `go` word until
//! it parks again (at a schedule point, in a futex wait, or at the end of its steps).
//!
//! | `state`     | set by      | meaning                                                   |
//! |-------------|-------------|-----------------------------------------------------------|
//! | `RUNNING`   | actor       | running scenario code; the controller waits               |
//! | `AT_POINT`  | actor/ctrl  | parked before the operation in `point`                    |
//! | `BLOCKED`   | actor       | parked in a futex wait on `wait_addr`; runs when `woken`, |
//! |             |             | or when its timeout is chosen to expire                   |
//! | `FINISHED`  | actor       | its steps are done (or it panicked: `panicked` is set)    |
//! | `DEAD`      | controller  | killed by a crash-injection choice                        |

use procshare_shm::Region;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Most actors a scenario may have.
pub const MAX_ACTORS: usize = 8;
/// Most history events one case may record.
pub const MAX_EVENTS: usize = 4096;
/// Bytes kept of an actor's panic message.
pub(crate) const MESSAGE_LEN: usize = 256;
/// Bytes kept of the janitor's property-failure message (witness tables can be long).
pub(crate) const JANITOR_MESSAGE_LEN: usize = 8192;

/// Janitor commands (in `Janitor::go`).
pub(crate) const JANITOR_RESET: u32 = 1;
pub(crate) const JANITOR_CHECK: u32 = 2;
pub(crate) const JANITOR_QUIT: u32 = 3;
/// Janitor results (in `Janitor::result`).
pub(crate) const JANITOR_BUSY: u32 = 1;
pub(crate) const JANITOR_OK: u32 = 2;
/// The property failed (the message says why).
pub(crate) const JANITOR_FAILED: u32 = 3;
/// `reset` itself panicked.
pub(crate) const JANITOR_RESET_FAILED: u32 = 4;

/// The janitor's words: the process that resets the state and checks the property, so
/// that the controller itself never touches a lock an actor may have left held.
#[repr(C)]
pub(crate) struct Janitor {
    pub(crate) go: AtomicU32,
    pub(crate) go_sleeping: AtomicU32,
    pub(crate) result: AtomicU32,
    pub(crate) result_sleeping: AtomicU32,
    /// Bit k: actor k was killed in the case being checked.
    pub(crate) killed: AtomicU32,
    pub(crate) message: [AtomicU32; JANITOR_MESSAGE_LEN / 4],
}

pub(crate) const RUNNING: u32 = 1;
pub(crate) const AT_POINT: u32 = 2;
pub(crate) const BLOCKED: u32 = 3;
pub(crate) const FINISHED: u32 = 4;
pub(crate) const DEAD: u32 = 5;

/// Commands in an actor's `go` word.
pub(crate) const GO_RUN: u32 = 1;
pub(crate) const GO_EXPIRE: u32 = 2;
pub(crate) const GO_QUIT: u32 = 3;
/// Resume a blocked actor whose liveness slice passed (its own deadline has not).
pub(crate) const GO_LIVENESS: u32 = 4;

/// Most futex wakes with a choice one actor may make between two schedule points (more
/// are handed out lowest actor first).
pub(crate) const WAKE_REQS: usize = 4;

/// Pseudo-point of an actor waiting to start its steps.
pub(crate) const POINT_START: u32 = 100;

/// One actor's words.
#[repr(C)]
pub(crate) struct Slot {
    pub(crate) state: AtomicU32,
    pub(crate) point: AtomicU32,
    pub(crate) go: AtomicU32,
    /// Set while the actor sleeps in the kernel on `go` (so the controller wakes it).
    pub(crate) go_sleeping: AtomicU32,
    pub(crate) wait_addr: AtomicU64,
    /// The value the actor's futex wait expects (what it sleeps on).
    pub(crate) wait_value: AtomicU32,
    pub(crate) wait_kind: AtomicU32,
    pub(crate) woken: AtomicU32,
    /// The virtual timer the actor asks about at a `Timer` point.
    pub(crate) timer: AtomicU32,
    /// The virtual timer the controller let expire in this case (0: none).
    pub(crate) fired_timer: AtomicU32,
    /// Futex wakes this actor made that the controller has yet to hand out, oldest
    /// first: `left << 32 | candidates` (a bit per actor blocked on the word when the
    /// wake was made).
    pub(crate) wake_reqs: [AtomicU64; WAKE_REQS],
    pub(crate) wake_reqs_len: AtomicU32,
    pub(crate) panicked: AtomicU32,
    pub(crate) message: [AtomicU32; MESSAGE_LEN / 4],
}

/// One recorded history event (see `Recorder`).
#[repr(C)]
pub(crate) struct RawEvent {
    pub(crate) client: AtomicU32,
    /// 0 = invoke, 1 = return.
    pub(crate) kind: AtomicU32,
    pub(crate) op: AtomicU32,
    pub(crate) key: AtomicU32,
    pub(crate) value: AtomicU64,
    pub(crate) clock: AtomicU64,
    pub(crate) id: AtomicU32,
}

/// The whole block.
#[repr(C)]
pub(crate) struct Control {
    /// Bumped by every actor that parks; the controller sleeps on it.
    pub(crate) parked: AtomicU32,
    /// Set while the controller sleeps in the kernel on `parked`.
    pub(crate) controller_sleeping: AtomicU32,
    /// Logical clock for histories: every event takes the next tick.
    pub(crate) clock: AtomicU64,
    pub(crate) events: AtomicU32,
    pub(crate) next_op: AtomicU32,
    /// Actors killed so far in this case: liveness checks are due once it is non-zero.
    pub(crate) kills: AtomicU32,
    pub(crate) slots: [Slot; MAX_ACTORS],
    pub(crate) janitor: Janitor,
    pub(crate) history: [RawEvent; MAX_EVENTS],
}

/// The shared mapping holding a [`Control`].
pub(crate) struct ControlBlock {
    region: Region,
}

impl ControlBlock {
    pub(crate) fn new() -> Result<Self, procshare_shm::Error> {
        // A fresh memfd mapping is zero-filled, which is a valid Control (all atomics 0).
        let region = Region::new(std::mem::size_of::<Control>())?;
        Ok(ControlBlock { region })
    }

    pub(crate) fn get(&self) -> &'static Control {
        // SAFETY: the region is at least size_of::<Control>() bytes, page-aligned, and
        // zero-filled, which is a valid value for a struct of atomics; it is only accessed
        // through those atomics. 'static: the block is leaked into actors (which never
        // return) and kept alive by the controller for as long as it uses the reference.
        unsafe { &*self.region.base().cast::<Control>() }
    }
}

impl Control {
    pub(crate) fn reset_case(&self, actors: usize) {
        self.clock.store(0, Ordering::Relaxed);
        self.events.store(0, Ordering::Relaxed);
        self.next_op.store(0, Ordering::Relaxed);
        self.kills.store(0, Ordering::Relaxed);
        for slot in &self.slots[..actors] {
            slot.point.store(POINT_START, Ordering::Relaxed);
            slot.wait_addr.store(0, Ordering::Relaxed);
            slot.woken.store(0, Ordering::Relaxed);
            slot.timer.store(0, Ordering::Relaxed);
            slot.fired_timer.store(0, Ordering::Relaxed);
            slot.wake_reqs_len.store(0, Ordering::Relaxed);
            slot.panicked.store(0, Ordering::Relaxed);
            slot.state.store(AT_POINT, Ordering::Release);
        }
    }

    pub(crate) fn message(&self, actor: usize) -> String {
        read_text(&self.slots[actor].message)
    }

    pub(crate) fn set_message(&self, actor: usize, text: &str) {
        write_text(&self.slots[actor].message, text);
    }
}

/// A NUL-terminated text stored in words of shared memory.
pub(crate) fn read_text(words: &[AtomicU32]) -> String {
    let mut bytes = Vec::with_capacity(words.len() * 4);
    for w in words {
        bytes.extend_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
    }
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Store `text` (truncated to fit, NUL-terminated) in `words`.
pub(crate) fn write_text(words: &[AtomicU32], text: &str) {
    let mut bytes = vec![0u8; words.len() * 4];
    let n = text.len().min(bytes.len() - 1);
    bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
    for (w, chunk) in words.iter().zip(bytes.chunks_exact(4)) {
        w.store(
            u32::from_ne_bytes(chunk.try_into().expect("4 bytes")),
            Ordering::Relaxed,
        );
    }
}

/// Signal `word` after changing it: wake the sleeper only if it announced itself in
/// `sleeping`. The fence pairs with the one in [`sleep_on`]: either the sleeper sees the
/// new value before it sleeps, or we see its flag (a Dekker handshake).
pub(crate) fn signal(word: &AtomicU32, sleeping: &AtomicU32) {
    std::sync::atomic::fence(Ordering::SeqCst);
    if sleeping.load(Ordering::Relaxed) != 0 {
        procshare_sync::os::raw_futex_wake(word, u32::MAX);
    }
}

/// Sleep while `word` holds `seen` (or until `timeout`), announcing it in `sleeping`.
pub(crate) fn sleep_on(
    word: &AtomicU32,
    seen: u32,
    sleeping: &AtomicU32,
    timeout: Option<std::time::Duration>,
) -> procshare_sync::loom::Wake {
    sleeping.store(1, Ordering::Relaxed);
    std::sync::atomic::fence(Ordering::SeqCst);
    let r = if word.load(Ordering::Relaxed) == seen {
        procshare_sync::os::raw_futex_wait(word, seen, timeout)
    } else {
        procshare_sync::loom::Wake::Changed
    };
    sleeping.store(0, Ordering::Relaxed);
    r
}
