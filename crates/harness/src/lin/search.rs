//! The search: Wing & Gong's backtracking over the call/return entry list, with Lowe's
//! memoisation, extended to indeterminate operations.
//!
//! # Algorithm
//!
//! This follows porcupine's `checkSingle` (Athalye, after Wing & Gong 1993 and Lowe 2017):
//!
//! * Every operation contributes a *call entry* and, if it completed, a *return entry*;
//!   entries are sorted by time (at equal times calls come first, so an operation that
//!   returns at `t` and one called at `t` count as concurrent) in a doubly linked list.
//! * Walking the list from the head, any call entry met before the first return entry is
//!   an operation that may be linearized next (every remaining operation that returned
//!   before it was called is already linearized). The search tries it on the model; if the
//!   model accepts, the operation is *lifted* out of the list (both entries, in O(1),
//!   dancing-links style) and pushed on the path with the state before it, and the walk
//!   restarts at the head. Meeting a return entry means that operation cannot be put off
//!   any longer: once the node's other moves are tried, backtrack (pop, *unlift*, go on
//!   with the parent's next move).
//! * Lowe's memoisation: a configuration is the set of linearized operations (a bitset)
//!   and the model state. One already explored (or on the current path) is never explored
//!   again.
//!
//! # Indeterminate operations
//!
//! As in knossos, an operation without a return may take effect at any point after its
//! call, or never. It has a call entry and no return entry, so it never forces a
//! backtrack, and the search succeeds as soon as every *completed* operation is
//! linearized. Its output being unknown, [`Model::step_unknown`] may offer several next
//! states, each a separate move.
//!
//! Indeterminate operations multiply the configurations (which of them were applied, in
//! what order), so the search treats them specially. All of it rests on one fact: from a
//! configuration `(C, I, s)` (completed operations `C` and indeterminate operations `I`
//! linearized, state `s`) every move of `(C, I ∪ J, s)` is also possible, with the same
//! `C` afterwards, because an indeterminate operation is never required and leaving it
//! unapplied only keeps options open. So:
//!
//! * **Subsumption.** The cache keeps, per `(C, s)`, the minimal sets `I` recorded, and
//!   skips a configuration whose `I` contains one of them. As in reachability checking
//!   with inclusion abstraction, every configuration reachable from a skipped one is then
//!   covered by one reachable from a recorded one, with the same `C`, so a linearization
//!   exists iff the search finds one, provided every recorded configuration is explored
//!   (it is: each is pushed, at once or by its parent, below).
//! * **Completed moves first.** A node first tries the completed operations that may come
//!   next, then the indeterminate ones, so configurations with fewer applied
//!   indeterminate operations tend to be recorded first and subsume the others.
//! * **Siblings recorded together.** When a node turns to its indeterminate moves, it
//!   records all of its indeterminate children `(C, I ∪ {j}, s_j)` in the cache before
//!   exploring the first. Below child `a`, applying `b` gives `(C, I ∪ {a, b}, s')`,
//!   skipped if it equals sibling `b`'s state (a blind write, say): without this, the
//!   search would try every subset of a set of pending writes.
//! * A successor equal to the current state is skipped (applying the operation changes
//!   nothing but its own availability).
//! * **Their calls in a list of their own.** A pending operation never forces a
//!   backtrack, and once called its call entry would precede every later return entry: in
//!   the one list, every node's walk over its completed moves would step over each pending
//!   call again. So the indeterminate calls live in a second list in the same time order,
//!   and a node's indeterminate moves are the calls in it up to the time of the first
//!   return entry left, exactly the ones the merged walk would meet.
//! * **Symmetry.** Two indeterminate operations with the same call (name, key and input:
//!   the same *class*) that may both come next are interchangeable from then on: neither
//!   has a return to respect, and both may take effect at any later point. A
//!   linearization applying the second while the first is unapplied becomes one applying
//!   the first by swapping their roles. So a node tries only the first of each class.
//!   Configurations reached this way still cover the skipped ones for the subsumption
//!   argument (applying the class's first member instead of another gives a subset of
//!   the other's indeterminate set, with the same state). Jepsen histories with many
//!   timed-out writes of a few values gain the most.
//!
//! Without indeterminate operations the `I` sets are empty and the cache is exactly
//! Lowe's. The module's tests compare the search with a brute-force enumeration of
//! linearizations on thousands of random small histories of every model.
//!
//! # Budget
//!
//! Each loop iteration is one *step*. A [`Budget`] bounds the steps and the wall-clock
//! time (read every 1024 steps); when it runs out the search answers
//! [`SearchResult::Exhausted`], never a verdict it has not proved.

use super::model::Model;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// An operation ready for the search: times and model-parsed call/output.
#[derive(Debug)]
pub(super) struct Prepared<M: Model> {
    /// Position in the history being checked.
    pub(super) index: usize,
    /// Indeterminate operations of one class have the same call (name, key, input) and
    /// are interchangeable once called; a completed operation has a class of its own
    /// (see [`Weakened::classes`] for the minimiser's). Numbered densely from 0 over the
    /// history.
    pub(super) class: u32,
    pub(super) call: u64,
    /// `None`: indeterminate.
    pub(super) ret: Option<u64>,
    pub(super) parsed: M::Call,
    /// `Some` iff `ret` is.
    pub(super) output: Option<M::Output>,
}

/// The minimiser's weakening: completed operations searched as indeterminate.
pub(super) struct Weakened<'a> {
    /// `dropped[i]`: search operation `i` as indeterminate even if it completed.
    pub(super) dropped: &'a [bool],
    /// Every operation's class by its call alone, completed or not, dense from 0 (the
    /// prepared classes keep completed operations apart).
    pub(super) classes: &'a [u32],
}

/// Which limit stopped a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The step budget ran out.
    Steps,
    /// The time budget ran out.
    Timeout,
}

/// The outcome of one search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SearchResult {
    Linearizable,
    Illegal,
    Exhausted(Exhausted),
}

/// Steps and time a search may use; shared by consecutive searches.
#[derive(Debug, Clone)]
pub(super) struct Budget {
    deadline: Option<Instant>,
    max_steps: u64,
    /// Steps used so far.
    pub(super) steps: u64,
    /// Parallel checking: `(first, me)` stops this search (read every 1024 steps, like
    /// the deadline) once `first` holds a partition index below `me`, i.e. once an
    /// earlier partition has no linearization (or ran out of budget), which makes this
    /// partition's verdict irrelevant.
    cancel: Option<(Arc<AtomicUsize>, usize)>,
    /// Set when `cancel` stopped the search (which then answers `Exhausted(Steps)`).
    pub(super) cancelled: bool,
}

impl Budget {
    pub(super) fn new(deadline: Option<Instant>, max_steps: Option<u64>) -> Self {
        Budget {
            deadline,
            max_steps: max_steps.unwrap_or(u64::MAX),
            steps: 0,
            cancel: None,
            cancelled: false,
        }
    }

    /// The same budget, cancelled once `first` drops below `me` (see the field).
    pub(super) fn cancelled_by(mut self, first: Arc<AtomicUsize>, me: usize) -> Self {
        self.cancel = Some((first, me));
        self
    }

    /// A budget for one sub-search: the same deadline and at most `cap` of the steps
    /// left. Charge it back with [`charge`](Self::charge).
    pub(super) fn slice(&self, cap: u64) -> Budget {
        Budget {
            deadline: self.deadline,
            max_steps: cap.min(self.max_steps - self.steps),
            steps: 0,
            cancel: self.cancel.clone(),
            cancelled: false,
        }
    }

    /// Counts the steps a [`slice`](Self::slice) used.
    pub(super) fn charge(&mut self, slice: &Budget) {
        self.steps += slice.steps;
    }

    /// Takes one step; `Err` when the budget is spent.
    fn tick(&mut self) -> Result<(), Exhausted> {
        if self.steps >= self.max_steps {
            return Err(Exhausted::Steps);
        }
        self.steps += 1;
        if self.steps % 1024 == 0 {
            if let Some(deadline) = self.deadline {
                if Instant::now() >= deadline {
                    return Err(Exhausted::Timeout);
                }
            }
            if let Some((first, me)) = &self.cancel {
                if first.load(Ordering::Relaxed) < *me {
                    self.cancelled = true;
                    return Err(Exhausted::Steps);
                }
            }
        }
        Ok(())
    }
}

/// A fixed-size bitset; up to 256 bits inline, so that the cache's keys of the usual
/// partition sizes cost no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bits {
    Small([u64; 4]),
    Large(Box<[u64]>),
}

impl Bits {
    fn new(n: usize) -> Self {
        let words = n.div_ceil(64);
        if words <= 4 {
            Bits::Small([0; 4])
        } else {
            Bits::Large(vec![0; words].into_boxed_slice())
        }
    }
    fn words(&self) -> &[u64] {
        match self {
            Bits::Small(w) => w,
            Bits::Large(w) => w,
        }
    }
    fn words_mut(&mut self) -> &mut [u64] {
        match self {
            Bits::Small(w) => w,
            Bits::Large(w) => w,
        }
    }
    fn set(&mut self, i: usize) {
        self.words_mut()[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.words_mut()[i / 64] &= !(1 << (i % 64));
    }
    fn is_empty(&self) -> bool {
        self.words().iter().all(|&w| w == 0)
    }
    #[inline]
    fn is_subset_of(&self, other: &Bits) -> bool {
        if let (Bits::Small(a), Bits::Small(b)) = (self, other) {
            // Branch-free for the usual size: the cache's subsumption scan calls this in
            // a loop.
            return (a[0] & !b[0]) | (a[1] & !b[1]) | (a[2] & !b[2]) | (a[3] & !b[3]) == 0;
        }
        self.words()
            .iter()
            .zip(other.words().iter())
            .all(|(a, b)| a & !b == 0)
    }
}

impl Hash for Bits {
    /// Word by word: the derived hash of a `[u64]` feeds the hasher bytes, which
    /// [`FxHasher`] would re-assemble into words chunk by chunk.
    fn hash<H: Hasher>(&self, h: &mut H) {
        for &w in self.words() {
            h.write_u64(w);
        }
    }
}

/// FxHash (rustc's hasher): the cache hashes bitsets and small states, not attacker input.
#[derive(Default)]
pub(super) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u8(&mut self, b: u8) {
        self.write_u64(u64::from(b));
    }
    fn write_u32(&mut self, w: u32) {
        self.write_u64(u64::from(w));
    }
    fn write_usize(&mut self, w: usize) {
        self.write_u64(w as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The hasher builder of the search's tables (and of `prepare`'s classes).
pub(super) type FxBuild = BuildHasherDefault<FxHasher>;

/// The indeterminate sets recorded for one `(completed, state)`: the minimal ones.
enum Recorded {
    /// The empty set: covers every configuration with this `(completed, state)`. The
    /// usual case (no indeterminate operation applied), stored without an allocation.
    Empty,
    /// Non-empty minimal sets.
    Sets(Vec<Bits>),
}

/// Lowe's cache with subsumption on the indeterminate part (see the module docs).
///
/// A [`hashbrown::HashTable`] rather than a map: a probe hashes the borrowed
/// `(completed, state)` once and clones it only when it is new (most probes of a search
/// that backtracks find a configuration already seen).
struct Cache<S> {
    table: hashbrown::HashTable<(Bits, S, Recorded)>,
}

/// The cache's hash of a configuration's `(completed, state)`.
fn config_hash<S: Hash>(completed: &Bits, state: &S) -> u64 {
    let mut h = FxHasher::default();
    completed.hash(&mut h);
    state.hash(&mut h);
    h.finish()
}

impl<S: Clone + Eq + Hash> Cache<S> {
    /// A cache with room for `capacity` configurations before it first grows.
    fn with_capacity(capacity: usize) -> Self {
        Cache {
            table: hashbrown::HashTable::with_capacity(capacity),
        }
    }

    /// Records configuration `(completed, indet, state)`; false if it is covered by one
    /// recorded before (same `completed` and `state`, a subset of `indet`).
    fn insert(&mut self, completed: &Bits, indet: &Bits, state: &S) -> bool {
        use hashbrown::hash_table::Entry;
        let hash = config_hash(completed, state);
        let entry = self.table.entry(
            hash,
            |(c, s, _)| c == completed && s == state,
            |(c, s, _)| config_hash(c, s),
        );
        match entry {
            Entry::Vacant(v) => {
                let recorded = if indet.is_empty() {
                    Recorded::Empty
                } else {
                    Recorded::Sets(vec![indet.clone()])
                };
                v.insert((completed.clone(), state.clone(), recorded));
                true
            }
            Entry::Occupied(mut o) => {
                let recorded = &mut o.get_mut().2;
                match recorded {
                    Recorded::Empty => false,
                    Recorded::Sets(seen) => {
                        if seen.iter().any(|old| old.is_subset_of(indet)) {
                            return false;
                        }
                        if indet.is_empty() {
                            *recorded = Recorded::Empty;
                        } else {
                            seen.retain(|old| !indet.is_subset_of(old));
                            seen.push(indet.clone());
                        }
                        true
                    }
                }
            }
        }
    }
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

/// The entry lists: node 0 is the head of the completed operations' entries, node
/// `1 + 2i` the call of operation `i`, node `2 + 2i` its return (unused for an
/// indeterminate operation), and the last node the head of the indeterminate operations'
/// calls, kept in a list of their own (in the same time order). An indeterminate
/// operation never forces a backtrack, and once called it would sit before every later
/// return entry: in one list, every node's walk over the completed moves would step over
/// each pending call again (20 pending writes make most of a Jepsen history's steps).
struct Entries {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Head of the indeterminate calls' list.
    indet_head: usize,
    /// Each entry's time (the head nodes' unused).
    time: Vec<u64>,
}

fn call_node(op: usize) -> usize {
    1 + 2 * op
}
fn ret_node(op: usize) -> usize {
    2 + 2 * op
}
fn is_call(node: usize) -> bool {
    node % 2 == 1
}
fn op_of(node: usize) -> usize {
    (node - 1) / 2
}

/// Every entry as `(time, node)`, in time order with calls before returns at equal
/// times (and by operation after that, for a deterministic order).
fn sorted_events(times: &[(u64, Option<u64>)]) -> Vec<(u64, usize)> {
    let n = times.len();
    let max_time = times
        .iter()
        .map(|&(call, ret)| ret.unwrap_or(call))
        .max()
        .unwrap_or(0);
    if max_time < 1 << 32 && n < 1 << 31 {
        // The usual case: (time, is_return, op) packed in one word, so the sort compares
        // integers instead of tuples (it was a twentieth of a small history's check).
        let mut keys: Vec<u64> = Vec::with_capacity(2 * n);
        for (i, &(call, ret)) in times.iter().enumerate() {
            keys.push(call << 32 | i as u64);
            if let Some(ret) = ret {
                keys.push(ret << 32 | 1 << 31 | i as u64);
            }
        }
        keys.sort_unstable();
        return keys
            .into_iter()
            .map(|k| {
                let op = (k & ((1 << 31) - 1)) as usize;
                let node = if k & (1 << 31) != 0 {
                    ret_node(op)
                } else {
                    call_node(op)
                };
                (k >> 32, node)
            })
            .collect();
    }
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, &(call, ret)) in times.iter().enumerate() {
        events.push((call, false, i));
        if let Some(ret) = ret {
            events.push((ret, true, i));
        }
    }
    events.sort_unstable();
    events
        .into_iter()
        .map(|(t, is_ret, op)| (t, if is_ret { ret_node(op) } else { call_node(op) }))
        .collect()
}

impl Entries {
    /// Links the entries in time order; `times[i]` is `(call, Some(ret))` for a completed
    /// operation, `(call, None)` for an indeterminate one (whose call goes to the second
    /// list).
    fn new(times: &[(u64, Option<u64>)]) -> Self {
        let events = sorted_events(times);
        let size = 2 + 2 * times.len();
        let indet_head = size - 1;
        let mut entries = Entries {
            next: vec![NIL; size],
            prev: vec![NIL; size],
            indet_head,
            time: vec![0; size],
        };
        let (mut last, mut last_indet) = (HEAD, indet_head);
        for (t, node) in events {
            let op = op_of(node);
            entries.time[node] = t;
            let tail = if times[op].1.is_none() {
                &mut last_indet
            } else {
                &mut last
            };
            entries.next[*tail] = node;
            entries.prev[node] = *tail;
            *tail = node;
        }
        entries
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    /// Re-inserts an unlinked node; its own links still point at its old neighbours.
    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NIL {
            self.prev[n] = node;
        }
    }

    fn lift(&mut self, op: usize, completed: bool) {
        self.unlink(call_node(op));
        if completed {
            self.unlink(ret_node(op));
        }
    }

    /// Undoes [`lift`](Self::lift); lifts and unlifts happen in stack order.
    fn unlift(&mut self, op: usize, completed: bool) {
        if completed {
            self.relink(ret_node(op));
        }
        self.relink(call_node(op));
    }
}

/// One configuration on the search path, and how far its moves have been tried.
struct Node<S> {
    /// The operation applied to reach this node and the state before it (`None` at the
    /// root).
    applied: Option<(usize, S)>,
    moves: Moves,
}

enum Moves {
    /// Trying completed operations: the next entry to look at.
    Completed(usize),
    /// Trying indeterminate operations: the children not yet explored, already recorded
    /// in the cache, are the entries of [`Search::children`] from `base` on (the top of
    /// that stack while this node is the top of the path).
    Indeterminate { base: usize },
}

/// The search's mutable state, apart from the path.
struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [&'a Prepared<M>],
    /// The classes to use instead of the prepared ones (a weakened search).
    classes: Option<&'a [u32]>,
    indet: Vec<bool>,
    /// Each operation's bit, in `done_completed` or in `done_indet`.
    slot: Vec<usize>,
    entries: Entries,
    done_completed: Bits,
    done_indet: Bits,
    cache: Cache<M::State>,
    state: M::State,
    remaining: usize,
    /// The unexplored indeterminate children of every node on the path, each node's in
    /// one run (in reverse order of exploration), the top node's on top: one buffer for
    /// the whole search instead of a vector per node.
    children: Vec<(usize, M::State)>,
    /// `class_seen[c] == stamp`: class `c` was met in the current
    /// [`indeterminate_children`](Self::indeterminate_children) walk.
    class_seen: Vec<u32>,
    stamp: u32,
}

impl<M: Model> Search<'_, M> {
    /// Applies `op`, leaving state `next`; returns the new node.
    fn apply(&mut self, op: usize, next: M::State) -> Node<M::State> {
        let completed = !self.indet[op];
        self.entries.lift(op, completed);
        if completed {
            self.done_completed.set(self.slot[op]);
            self.remaining -= 1;
        } else {
            self.done_indet.set(self.slot[op]);
        }
        let before = std::mem::replace(&mut self.state, next);
        Node {
            applied: Some((op, before)),
            moves: Moves::Completed(self.entries.next[HEAD]),
        }
    }

    /// Undoes [`apply`](Self::apply).
    fn undo(&mut self, op: usize, before: M::State) {
        let completed = !self.indet[op];
        self.entries.unlift(op, completed);
        if completed {
            self.done_completed.clear(self.slot[op]);
            self.remaining += 1;
        } else {
            self.done_indet.clear(self.slot[op]);
        }
        self.state = before;
    }

    /// If completed operation `op` may come next, records the configuration after it and
    /// returns the state after it; `None` if the model refuses it or it was covered.
    fn try_completed(&mut self, op: usize) -> Option<M::State> {
        let output = self.ops[op].output.as_ref()?;
        let next = self.model.step(&self.state, &self.ops[op].parsed, output)?;
        let bit = self.slot[op];
        self.done_completed.set(bit);
        let fresh = self
            .cache
            .insert(&self.done_completed, &self.done_indet, &next);
        self.done_completed.clear(bit);
        fresh.then_some(next)
    }

    /// The not yet linearized completed operation that returns first.
    fn first_returning(&self) -> Option<usize> {
        let mut node = self.entries.next[HEAD];
        while node != NIL {
            if !is_call(node) {
                return Some(op_of(node));
            }
            node = self.entries.next[node];
        }
        None
    }

    /// Pushes every indeterminate operation that may come next, with each state it may
    /// leave, on [`children`](Self::children) (the first to explore on top); all recorded
    /// in the cache at once (see the module docs).
    fn push_indeterminate_children(&mut self) {
        let base = self.children.len();
        // A fresh stamp marks no class as seen (on wrap-around, clear the marks).
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.class_seen.iter_mut().for_each(|c| *c = 0);
            self.stamp = 1;
        }
        // Callable: called before the first return entry left (or at its time: calls
        // come first at equal times), as in one merged list.
        let limit = match self.first_returning() {
            Some(op) => self.entries.time[ret_node(op)],
            None => u64::MAX,
        };
        let mut node = self.entries.next[self.entries.indet_head];
        while node != NIL && self.entries.time[node] <= limit {
            let op = op_of(node);
            node = self.entries.next[node];
            if !self.indet[op] {
                continue;
            }
            // Symmetry: of the callable indeterminate operations with the same call,
            // only the first is tried (see the module docs).
            let class = match self.classes {
                Some(classes) => classes[op],
                None => self.ops[op].class,
            } as usize;
            if self.class_seen[class] == self.stamp {
                continue;
            }
            self.class_seen[class] = self.stamp;
            let bit = self.slot[op];
            self.done_indet.set(bit);
            let (state, cache, children) = (&self.state, &mut self.cache, &mut self.children);
            let (done_completed, done_indet) = (&self.done_completed, &self.done_indet);
            self.model
                .each_unknown_step(state, &self.ops[op].parsed, &mut |next| {
                    if next != *state && cache.insert(done_completed, done_indet, &next) {
                        children.push((op, next));
                    }
                });
            self.done_indet.clear(bit);
        }
        // Explored from the top of the stack: the first found first.
        self.children[base..].reverse();
    }
}

/// The deepest point a search reached: the longest sequence of operations it could
/// linearize (most completed operations), and the completed operation that then had to
/// come next and could not (the earliest-returning one left), if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Deepest {
    /// Positions in `ops`, in linearization order (indeterminate ones included).
    pub(super) order: Vec<usize>,
    /// Completed operations among `order`.
    pub(super) completed: usize,
    /// The operation the search could not place after `order`.
    pub(super) blocked: Option<usize>,
}

/// Is `ops` linearizable? `weaken` (if given) treats some completed operations as
/// indeterminate (used by the minimiser).
pub(super) fn search<M: Model>(
    model: &M,
    ops: &[&Prepared<M>],
    weaken: Option<&Weakened<'_>>,
    budget: &mut Budget,
) -> SearchResult {
    search_recording(model, ops, weaken, budget, None)
}

/// [`search`], also recording the [`Deepest`] point reached in `deepest` if given.
pub(super) fn search_recording<M: Model>(
    model: &M,
    ops: &[&Prepared<M>],
    weaken: Option<&Weakened<'_>>,
    budget: &mut Budget,
    mut deepest: Option<&mut Deepest>,
) -> SearchResult {
    let n = ops.len();
    let indet: Vec<bool> = (0..n)
        .map(|i| ops[i].ret.is_none() || weaken.is_some_and(|w| w.dropped[i]))
        .collect();
    let mut slot = vec![0; n];
    let (mut n_completed, mut n_indet) = (0, 0);
    for i in 0..n {
        let counter = if indet[i] {
            &mut n_indet
        } else {
            &mut n_completed
        };
        slot[i] = *counter;
        *counter += 1;
    }
    let times: Vec<(u64, Option<u64>)> = (0..n)
        .map(|i| (ops[i].call, if indet[i] { None } else { ops[i].ret }))
        .collect();
    let entries = Entries::new(&times);
    // One past the largest class (numbered densely over the partition, or over the whole
    // history).
    let classes_end = match weaken {
        Some(w) => w.classes.iter().max(),
        None => ops.iter().map(|o| &o.class).max(),
    }
    .map_or(0, |&c| c as usize + 1);
    let mut s = Search {
        model,
        ops,
        indet,
        slot,
        done_completed: Bits::new(n_completed),
        done_indet: Bits::new(n_indet),
        // A search records a few configurations per operation at least: room for them
        // up front spares the table's first rehashes.
        cache: Cache::with_capacity(4 * n),
        state: model.init(),
        remaining: n_completed,
        entries,
        children: Vec::new(),
        classes: weaken.map(|w| w.classes),
        class_seen: vec![0; classes_end],
        stamp: 0,
    };
    let mut path: Vec<Node<M::State>> = vec![Node {
        applied: None,
        moves: Moves::Completed(s.entries.next[HEAD]),
    }];
    if let Some(d) = deepest.as_deref_mut() {
        *d = Deepest {
            order: Vec::new(),
            completed: 0,
            blocked: s.first_returning(),
        };
    }

    loop {
        if s.remaining == 0 {
            return SearchResult::Linearizable;
        }
        if let Err(why) = budget.tick() {
            return SearchResult::Exhausted(why);
        }
        let Some(top) = path.last_mut() else {
            return SearchResult::Illegal;
        };
        let child = match &mut top.moves {
            Moves::Completed(cursor) if *cursor != NIL && is_call(*cursor) => {
                let op = op_of(*cursor);
                *cursor = s.entries.next[*cursor];
                if s.indet[op] {
                    continue;
                }
                s.try_completed(op).map(|next| (op, next))
            }
            Moves::Completed(_) => {
                // A return entry (or the end): no other completed operation may come
                // next. Then the indeterminate ones.
                let base = s.children.len();
                s.push_indeterminate_children();
                top.moves = Moves::Indeterminate { base };
                continue;
            }
            Moves::Indeterminate { base } if s.children.len() > *base => s.children.pop(),
            Moves::Indeterminate { .. } => {
                // Every move tried: backtrack.
                if let Some(Node {
                    applied: Some((op, before)),
                    ..
                }) = path.pop()
                {
                    s.undo(op, before);
                }
                continue;
            }
        };
        if let Some((op, next)) = child {
            let node = s.apply(op, next);
            path.push(node);
            if let Some(d) = deepest.as_deref_mut() {
                let done = n_completed - s.remaining;
                if done > d.completed || d.order.is_empty() {
                    d.completed = done;
                    d.order = path
                        .iter()
                        .filter_map(|n| n.applied.as_ref().map(|a| a.0))
                        .collect();
                    d.blocked = s.first_returning();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Checker, Counter, FifoQueue, History, Model, Operation, Register};
    use serde_json::{json, Value};

    /// An operation, its parsed call and (if completed) its parsed output.
    type Parsed<'a, M> = (
        &'a Operation,
        <M as Model>::Call,
        Option<<M as Model>::Output>,
    );

    /// The definition, by brute force: try every order of every subset of the
    /// indeterminate operations with all the completed ones, respecting real time.
    fn brute_force<M: Model>(model: &M, h: &History) -> bool {
        let ops: Vec<Parsed<'_, M>> = h
            .ops()
            .iter()
            .map(|op| {
                let call = model.parse_call(&op.op, None, &op.input).unwrap();
                let out = op
                    .output_value()
                    .map(|o| model.parse_output(&call, o).unwrap());
                (op, call, out)
            })
            .collect();
        fn go<M: Model>(
            model: &M,
            ops: &[Parsed<'_, M>],
            done: &mut Vec<bool>,
            state: &M::State,
        ) -> bool {
            let pending = |i: usize, done: &Vec<bool>| !done[i] && ops[i].0.ret.is_some();
            if (0..ops.len()).all(|i| !pending(i, done)) {
                return true;
            }
            for i in 0..ops.len() {
                if done[i] {
                    continue;
                }
                // `i` may go next unless a remaining completed operation returned before
                // it was called.
                let blocked = (0..ops.len()).any(|j| {
                    j != i && pending(j, done) && ops[j].0.ret.is_some_and(|r| r < ops[i].0.call)
                });
                if blocked {
                    continue;
                }
                let nexts = match &ops[i].2 {
                    Some(out) => model.step(state, &ops[i].1, out).into_iter().collect(),
                    None => model.step_unknown(state, &ops[i].1),
                };
                for next in nexts {
                    done[i] = true;
                    let ok = go(model, ops, done, &next);
                    done[i] = false;
                    if ok {
                        return true;
                    }
                }
            }
            false
        }
        go(model, &ops, &mut vec![false; ops.len()], &model.init())
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % n
        }
    }

    /// Random small histories, with operations from `gen` (name, input, output).
    fn random_history(
        rng: &mut Rng,
        gen: &dyn Fn(&mut Rng) -> (&'static str, Value, Value),
    ) -> History {
        let n = 1 + rng.below(7);
        (0..n)
            .map(|c| {
                let (op, input, output) = gen(rng);
                let call = rng.below(12);
                if rng.below(4) == 0 {
                    Operation::indeterminate(c as u32, op, input, call)
                } else {
                    Operation::completed(c as u32, op, input, call, call + rng.below(5), output)
                }
            })
            .collect()
    }

    fn agree<M: Model>(model: &M, gen: &dyn Fn(&mut Rng) -> (&'static str, Value, Value)) {
        let mut rng = Rng(42);
        let (mut legal, mut illegal) = (0, 0);
        for round in 0..4000 {
            let h = random_history(&mut rng, gen);
            let expected = brute_force(model, &h);
            let outcome = Checker::new().check(model, &h).unwrap();
            assert_eq!(outcome.is_ok(), expected, "round {round}:\n{}", h.to_json());
            if expected {
                legal += 1;
                continue;
            }
            illegal += 1;
            // The witness is illegal by itself ...
            let v = outcome.violation().unwrap();
            assert!(v.minimized);
            assert!(!brute_force(model, &v.minimal), "round {round}");
            // ... and with the dropped operations weakened, so is the whole history.
            let weakened: History = h
                .ops()
                .iter()
                .map(|op| {
                    if v.minimal.ops().contains(op) {
                        op.clone()
                    } else {
                        Operation::indeterminate(
                            op.client,
                            op.op.clone(),
                            op.input.clone(),
                            op.call,
                        )
                    }
                })
                .collect();
            assert!(!brute_force(model, &weakened), "round {round}");
        }
        assert!(
            legal > 500 && illegal > 500,
            "{legal} legal, {illegal} illegal"
        );
    }

    /// Times too large to pack into the sort's one-word keys take the tuple sort, with
    /// the same verdicts (and the same witnesses, shifted).
    #[test]
    fn large_times_take_the_tuple_sort() {
        let mut rng = Rng(7);
        let shift = |o: &Operation| Operation {
            call: o.call + (1 << 40),
            ret: o.ret.map(|r| r + (1 << 40)),
            ..o.clone()
        };
        let mut illegal = 0;
        for round in 0..500 {
            let h = random_history(&mut rng, &|rng| match rng.below(2) {
                0 => ("read", Value::Null, json!(rng.below(3))),
                _ => ("write", json!(rng.below(3)), Value::Null),
            });
            let shifted: History = h.ops().iter().map(shift).collect();
            let small = Checker::new().check(&Register::default(), &h).unwrap();
            let large = Checker::new()
                .check(&Register::default(), &shifted)
                .unwrap();
            assert_eq!(small.is_ok(), large.is_ok(), "round {round}");
            if let (Some(a), Some(b)) = (small.violation(), large.violation()) {
                illegal += 1;
                let a: Vec<Operation> = a.minimal.ops().iter().map(shift).collect();
                assert_eq!(a, b.minimal.ops(), "round {round}");
            }
        }
        assert!(illegal > 50, "{illegal}");
    }

    #[test]
    fn register_agrees_with_brute_force() {
        agree(&Register::default(), &|rng| match rng.below(3) {
            0 => ("read", Value::Null, json!(rng.below(3))),
            1 => ("write", json!(rng.below(3)), Value::Null),
            _ => (
                "cas",
                json!([rng.below(3), rng.below(3)]),
                json!(rng.below(2) == 0),
            ),
        });
    }

    #[test]
    fn queue_agrees_with_brute_force() {
        agree(&FifoQueue, &|rng| match rng.below(2) {
            0 => ("enqueue", json!(rng.below(3)), Value::Null),
            _ => {
                let v = rng.below(4);
                (
                    "dequeue",
                    Value::Null,
                    if v == 3 { Value::Null } else { json!(v) },
                )
            }
        });
    }

    #[test]
    fn counter_agrees_with_brute_force() {
        agree(&Counter::default(), &|rng| match rng.below(3) {
            0 => ("add", json!(rng.below(2)), Value::Null),
            1 => ("get", Value::Null, json!(rng.below(3))),
            _ => ("fetch_add", json!(1), json!(rng.below(3))),
        });
    }
}
