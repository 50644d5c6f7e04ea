//! The manager workload: every process sets its own key of one managed dict in a loop
//! (`d[f"k{i}"] = n`, as the CPython script does with `Manager().dict()`), each request
//! timed. One operation is one request answered; "lost" counts writes whose value the
//! dict does not hold at the end (each process's last write is its count minus one).
//!
//! Here: procshare's `Manager` over its Unix socket (`manager_socket`, a manager built
//! with `fast_path(false)`) and over its local shared-memory fast path (`manager_local`,
//! the default of `Manager::start`). Each process checks, before the timed part, that
//! its requests take the carrier its row names, so a row never silently measures the
//! other one.

use crate::runner::{Ctx, Run};
use procshare::manager::TransportKind;
use procshare::{DictProxy, Manager};
use std::time::Instant;

/// A manager server forked in the parent and one dict on it.
pub struct ManagerDict {
    dict: DictProxy<String, u64>,
    /// The carrier every process must be on.
    carrier: TransportKind,
    // Declared after the proxy: dropped last, after the proxy has released the dict.
    manager: Manager,
}

impl ManagerDict {
    /// A fresh server and dict, every request over the socket (the `procs` argument is
    /// unused: every process has its key).
    pub fn prepare(_procs: usize) -> Result<Box<dyn Run>, String> {
        Self::with(false)
    }

    /// A fresh server and dict, every request over the local fast path.
    pub fn prepare_local(_procs: usize) -> Result<Box<dyn Run>, String> {
        Self::with(true)
    }

    fn with(fast_path: bool) -> Result<Box<dyn Run>, String> {
        let manager = Manager::builder()
            .fast_path(fast_path)
            .start()
            .map_err(|e| format!("Manager::start: {e}"))?;
        let dict = manager.dict().map_err(|e| format!("dict: {e}"))?;
        let carrier = if fast_path {
            TransportKind::SharedMemory
        } else {
            TransportKind::Socket
        };
        Ok(Box::new(ManagerDict {
            dict,
            carrier,
            manager,
        }))
    }
}

impl Run for ManagerDict {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let key = format!("k{}", ctx.index);
        // Connect (a forked proxy opens its own connection) before the timed part.
        self.dict.contains_key(&key).expect("manager request");
        let carrier = self.manager.transport().expect("manager transport");
        assert_eq!(carrier, self.carrier, "the manager row's carrier");
        ctx.barrier();
        let mut n = 0;
        while ctx.running() {
            let t = Instant::now();
            self.dict.insert(key.clone(), n).expect("manager insert");
            ctx.record(t.elapsed().as_nanos() as u64);
            n += 1;
        }
        n
    }
    fn uses_barrier(&self) -> bool {
        true
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        let mut lost = 0;
        for (i, &n) in ops.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let last = self.dict.get(&format!("k{i}")).ok().flatten();
            lost += match last {
                Some(v) => (n - 1).saturating_sub(v),
                None => n,
            };
        }
        Some(lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::sample;
    use std::time::Duration;

    #[test]
    fn managed_dict_writes_are_all_kept() {
        for prepare in [ManagerDict::prepare, ManagerDict::prepare_local] {
            let run = prepare(2).unwrap();
            let s = sample(run.as_ref(), 2, Duration::from_millis(50), true).unwrap();
            assert!(s.per_process.iter().sum::<u64>() > 0);
            assert_eq!(s.lost, Some(0));
        }
    }
}
