//! CPU placement for the round-trip benches: pin the calling thread, or every thread of
//! another process, to a set of CPUs, so a baseline and the case compared with it run
//! with the same placement.
//!
//! Why: a wake-up on the waker's own CPU costs a context switch, one on the other CPU an
//! inter-processor interrupt and a wake from idle, several times more on this kind of VM.
//! Unpinned, the scheduler decides per process, so a fresh echoing child and a long-lived
//! server can land differently and a ratio between them measures that luck. A forked
//! child inherits the mask of the thread that forked it, and a new thread its creator's.
#![allow(dead_code, reason = "each bench uses a different subset")]

/// The CPUs this thread may run on now, in increasing order.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most size_of::<cpu_set_t>() bytes into `set`.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the size of the set CPU_ISSET reads.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pin thread `tid` (0: the calling thread) to `cpus`; false if the kernel refused.
pub(crate) fn pin_thread(tid: i32, cpus: &[usize]) -> bool {
    // SAFETY: as in `allowed_cpus`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET ignores nothing: callers pass CPUs from `allowed_cpus`, all
        // below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: sched_setaffinity reads size_of::<cpu_set_t>() bytes of a live set.
    unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) == 0 }
}

/// Pin every thread of process `pid` to `cpus` (its threads as `/proc/PID/task` lists
/// them; one it creates later inherits its pinned creator's mask). False if there is no
/// such process or a thread refused.
pub(crate) fn pin_process(pid: u32, cpus: &[usize]) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let mut all = true;
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().parse::<i32>();
        all &= tid.is_ok_and(|tid| pin_thread(tid, cpus));
    }
    all
}
