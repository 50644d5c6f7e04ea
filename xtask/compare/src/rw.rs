//! The reader-writer workloads: one shared `[u64; 8]` that every process reads and
//! writes in a fixed mix, on the same data behind different strategies.
//!
//! * `rw_read90`: nine reads, then one write, over and over (90 % reads);
//! * `rw_write`: writes only.
//!
//! A write adds 1 to all eight words under the strategy's write (or only) lock; a read
//! copies the eight words under its read lock and checks that they are equal (a torn read
//! panics the process, which fails the cell). Rows: `value<futex>` (`Value<_, FutexMutex>`:
//! reads exclude each other too, the baseline), `rwvalue<rw-writer-preferring>`
//! (`RwValue`: readers share) and, on the read-mostly workload, `seqlock` (`SeqLock`:
//! readers never write shared memory). Every process counts its operations; its writes
//! are a known share of them (op `i` is a write when `i % N == N - 1`), so the lost
//! writes are exact: `Σ writes − words[0]`.

use crate::runner::{Ctx, Run};
use procshare::strategy::{FutexMutex, WriterPreferringRwLock};
use procshare::{RwValue, SeqLock, Value};

/// Words of the shared value.
const WORDS: usize = 8;
type Words = [u64; WORDS];

/// One way to keep the shared words.
pub trait Shape: Sized + 'static {
    /// The row's name.
    const NAME: &'static str;
    /// Shared words at 0 (in the parent, before forking).
    fn create() -> Result<Self, String>;
    /// A consistent copy of the words.
    fn read(&self) -> Words;
    /// Add 1 to every word, as one update.
    fn write(&self);
}

/// `Value<[u64; 8], FutexMutex>`: a mutex for reads and writes alike.
pub struct FutexValue(Value<Words, FutexMutex>);

impl Shape for FutexValue {
    const NAME: &'static str = "value<futex>";
    fn create() -> Result<Self, String> {
        Value::new([0; WORDS])
            .map(FutexValue)
            .map_err(|e| e.to_string())
    }
    fn read(&self) -> Words {
        *self.0.lock().expect("Value::lock")
    }
    fn write(&self) {
        self.0
            .lock()
            .expect("Value::lock")
            .iter_mut()
            .for_each(|x| *x += 1);
    }
}

/// `RwValue<[u64; 8], WriterPreferringRwLock>`.
pub struct RwWords(RwValue<Words, WriterPreferringRwLock>);

impl Shape for RwWords {
    const NAME: &'static str = "rwvalue<rw-writer-preferring>";
    fn create() -> Result<Self, String> {
        RwValue::new([0; WORDS])
            .map(RwWords)
            .map_err(|e| e.to_string())
    }
    fn read(&self) -> Words {
        *self.0.read().expect("RwValue::read")
    }
    fn write(&self) {
        self.0
            .write()
            .expect("RwValue::write")
            .iter_mut()
            .for_each(|x| *x += 1);
    }
}

/// `SeqLock<[u64; 8]>`: optimistic readers, writers behind its mutex.
pub struct SeqWords(SeqLock<Words>);

impl Shape for SeqWords {
    const NAME: &'static str = "seqlock";
    fn create() -> Result<Self, String> {
        SeqLock::new([0; WORDS])
            .map(SeqWords)
            .map_err(|e| e.to_string())
    }
    fn read(&self) -> Words {
        self.0.read().expect("SeqLock::read")
    }
    fn write(&self) {
        self.0
            .update(|mut w| {
                w.iter_mut().for_each(|x| *x += 1);
                w
            })
            .expect("SeqLock::update");
    }
}

/// The mix: of every `N` operations, the last is a write.
pub struct Mix<S: Shape, const N: u64>(S);

impl<S: Shape, const N: u64> Mix<S, N> {
    /// Prepare the cell (for [`crate::cases`]).
    pub fn prepare(_procs: usize) -> Result<Box<dyn Run>, String> {
        Ok(Box::new(Mix::<S, N>(S::create()?)))
    }

    /// How many of `ops` operations were writes.
    fn writes(ops: u64) -> u64 {
        ops / N
    }
}

impl<S: Shape, const N: u64> Run for Mix<S, N> {
    fn body(&self, ctx: &Ctx<'_>) -> u64 {
        let mut n = 0u64;
        while ctx.running() {
            if n % N == N - 1 {
                self.0.write();
            } else {
                let w = self.0.read();
                assert!(w.iter().all(|&x| x == w[0]), "torn read {w:?}");
            }
            n += 1;
        }
        n
    }
    fn lost(&self, ops: &[u64]) -> Option<u64> {
        let writes: u64 = ops.iter().map(|&n| Self::writes(n)).sum();
        Some(writes.saturating_sub(self.0.read()[0]))
    }
}

/// The read-mostly mix (90 % reads).
pub type ReadMostly<S> = Mix<S, 10>;
/// The write-only mix.
pub type WriteOnly<S> = Mix<S, 1>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::sample;
    use std::time::Duration;

    #[test]
    fn every_row_loses_no_write_and_counts_them_exactly() {
        let prepares: [(crate::locks::Prepare, u64); 5] = [
            (ReadMostly::<FutexValue>::prepare, 10),
            (ReadMostly::<RwWords>::prepare, 10),
            (ReadMostly::<SeqWords>::prepare, 10),
            (WriteOnly::<FutexValue>::prepare, 1),
            (WriteOnly::<RwWords>::prepare, 1),
        ];
        for (prepare, n) in prepares {
            let run = prepare(2).unwrap();
            let got = sample(run.as_ref(), 2, Duration::from_millis(20), false).unwrap();
            assert!(got.per_process.iter().sum::<u64>() > 0);
            assert_eq!(got.lost, Some(0));
            // Nothing written: every counted write is lost.
            let fresh = prepare(2).unwrap();
            assert_eq!(fresh.lost(&[25, 7]), Some(25 / n + 7 / n));
        }
    }
}
