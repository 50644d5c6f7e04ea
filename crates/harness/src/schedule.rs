//! Schedules: the controller's choices, the strategies that make them (replay, uniform
//! random, PCT), and the replay token that carries a schedule in one string.
//!
//! A schedule is a sequence of indices, one per step, into the list of options the
//! controller offers at that step (runnable actors first, by actor id, then the kill
//! options). Past its end a schedule chooses 0, the lowest runnable actor: so a shorter or
//! lower schedule is a simpler one, which is the direction proptest shrinks in.
//!
//! Token format `ps1.<base64url>`: the payload is the schedule run-length encoded as
//! LEB128 varint pairs (choice, run length). A 100 000-step schedule of two actors that
//! alternate in long runs is a few hundred characters; the format is versioned by its
//! prefix.
//!
//! A token may come from anywhere (a bug report, a CI log), so [`decode_token`] trusts
//! nothing it claims: a schedule longer than [`MAX_TOKEN_STEPS`] or a choice that does
//! not fit a `u32` is an error found before anything is allocated for it, and what it
//! allocates is at most a small multiple of the token's own length plus the schedule it
//! returns.

use std::fmt;

/// What one option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Let the actor run to its next schedule point.
    Run,
    /// Resume a blocked actor that was woken.
    Wake,
    /// Let a blocked actor's timeout expire.
    Expire,
    /// SIGKILL the actor now.
    Kill,
    /// A futex wake that may release fewer sleepers than are waiting releases this one
    /// (the actor is a sleeper; nothing runs).
    Pick,
    /// Let a blocked actor's liveness slice pass (offered once an actor was killed): it
    /// wakes up to check whether its lock's owner still lives; its own deadline, if any,
    /// has not passed.
    Liveness,
}

/// One option offered to a [`Chooser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Choice {
    /// The actor it concerns.
    pub actor: usize,
    /// What happens to it.
    pub action: Action,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}({})", self.action, self.actor)
    }
}

/// Makes the controller's choices.
pub trait Chooser {
    /// Pick one of `options` (never empty) at step `step`; returns its index.
    fn choose(&mut self, step: usize, options: &[Choice]) -> usize;
}

/// Replays a recorded schedule; past its end (or where an index is out of range, e.g.
/// after shrinking) it takes the index modulo the number of options, then 0.
#[derive(Debug, Clone)]
pub struct Replay {
    choices: Vec<u32>,
}

impl Replay {
    /// Replay `choices`.
    pub fn new(choices: Vec<u32>) -> Self {
        Replay { choices }
    }
}

impl Chooser for Replay {
    fn choose(&mut self, step: usize, options: &[Choice]) -> usize {
        self.choices
            .get(step)
            .map_or(0, |&c| c as usize % options.len())
    }
}

/// A small, fast, seedable generator (SplitMix64), so runs are reproducible from a seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

/// Uniformly random choices.
#[derive(Debug, Clone)]
pub struct RandomChooser {
    rng: SplitMix64,
}

impl RandomChooser {
    /// From a seed.
    pub fn new(seed: u64) -> Self {
        RandomChooser {
            rng: SplitMix64::new(seed),
        }
    }
}

impl Chooser for RandomChooser {
    fn choose(&mut self, _step: usize, options: &[Choice]) -> usize {
        self.rng.below(options.len())
    }
}

/// PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010): every actor gets a
/// random distinct priority above `depth`; the highest-priority runnable actor runs; at
/// `depth - 1` random change points (steps in `0..max_steps`) the running actor's
/// priority drops to `depth - i`. Finds a bug of depth `d` with probability at least
/// `1 / (n · k^(d-1))` per run. With [`PctChooser::with_kills`], crash injection is
/// scheduled the same way: at each of `kills` random kill points (steps in
/// `0..max_steps`) the running (highest-priority) actor is killed, if the scenario allows
/// a kill there.
#[derive(Debug, Clone)]
pub struct PctChooser {
    priorities: Vec<u64>,
    change_points: Vec<usize>,
    kill_points: Vec<usize>,
    depth: usize,
}

impl PctChooser {
    /// PCT for `actors` actors, bug depth `depth` (≥ 1), over an expected `max_steps`.
    pub fn new(seed: u64, actors: usize, depth: usize, max_steps: usize) -> Self {
        let mut rng = SplitMix64::new(seed);
        let depth = depth.max(1);
        // Distinct priorities depth+1 ..= depth+actors, randomly permuted.
        let mut priorities: Vec<u64> = (0..actors).map(|i| (depth + 1 + i) as u64).collect();
        for i in (1..priorities.len()).rev() {
            priorities.swap(i, rng.below(i + 1));
        }
        let change_points = (1..depth).map(|_| rng.below(max_steps.max(1))).collect();
        PctChooser {
            priorities,
            change_points,
            kill_points: Vec::new(),
            depth,
        }
    }

    /// Also kill the running actor at `kills` random steps in `0..max_steps` (chosen from
    /// `seed`, independently of the priorities).
    pub fn with_kills(mut self, seed: u64, kills: u32, max_steps: usize) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0x6b69_6c6c);
        // Kills matter early (a holder dies inside its critical section): draw them from
        // the first steps more often than from the tail.
        self.kill_points = (0..kills)
            .map(|_| {
                let bound = rng.below(max_steps.max(1)) + 1;
                rng.below(bound)
            })
            .collect();
        self
    }
}

impl Chooser for PctChooser {
    fn choose(&mut self, step: usize, options: &[Choice]) -> usize {
        let runnable = || {
            options
                .iter()
                .enumerate()
                .filter(|(_, c)| c.action != Action::Kill)
        };
        let best = runnable()
            .max_by_key(|(_, c)| self.priorities.get(c.actor).copied().unwrap_or(0))
            .map_or(0, |(i, _)| i);
        if let Some(k) = self.kill_points.iter().position(|&p| p <= step) {
            let victim = options[best].actor;
            if let Some(i) = options
                .iter()
                .position(|c| c.action == Action::Kill && c.actor == victim)
            {
                self.kill_points.swap_remove(k);
                return i;
            }
        }
        if let Some(k) = self.change_points.iter().position(|&p| p == step) {
            let actor = options[best].actor;
            if let Some(p) = self.priorities.get_mut(actor) {
                *p = (self.depth - 1 - k) as u64;
            }
            return runnable()
                .max_by_key(|(_, c)| self.priorities.get(c.actor).copied().unwrap_or(0))
                .map_or(0, |(i, _)| i);
        }
        best
    }
}

/// Why a replay token could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// It does not start with a known version prefix.
    #[error("not a procshare replay token (expected the prefix `ps1.`)")]
    Version,
    /// The payload is not base64url.
    #[error("invalid character in replay token")]
    Alphabet,
    /// The payload ends in the middle of a number or a pair.
    #[error("truncated replay token")]
    Truncated,
    /// A number in the payload does not fit: a varint longer than 64 bits or a choice
    /// above `u32::MAX`.
    #[error("replay token holds a number out of range")]
    Overflow,
    /// The schedule would be longer than [`MAX_TOKEN_STEPS`] steps.
    #[error("replay token claims more than {MAX_TOKEN_STEPS} steps")]
    TooLong,
}

/// The longest schedule a replay token may carry: ten times the runner's default step
/// limit. [`decode_token`] refuses a token that claims more (a crafted run length cannot
/// make it allocate gigabytes).
pub const MAX_TOKEN_STEPS: usize = 1_000_000;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn varint(out: &mut Vec<u8>, mut x: u64) {
    loop {
        let byte = (x & 0x7f) as u8;
        x >>= 7;
        if x == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Encode a schedule as a replay token.
pub fn encode_token(choices: &[u32]) -> String {
    let mut bytes = Vec::new();
    let mut i = 0;
    while i < choices.len() {
        let c = choices[i];
        let run = choices[i..].iter().take_while(|&&x| x == c).count();
        varint(&mut bytes, u64::from(c));
        varint(&mut bytes, run as u64);
        i += run;
    }
    let mut out = String::from("ps1.");
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (k, &b)| acc | u32::from(b) << (16 - 8 * k));
        for k in 0..=n {
            out.push(B64[(v >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    out
}

/// Decode a replay token into a schedule.
///
/// Bounded: the decoded bytes are at most ¾ of the token's length, the (choice, run)
/// pairs at most half of those, and the schedule is allocated once, at its exact length,
/// after every run length has been read and their sum checked against
/// [`MAX_TOKEN_STEPS`].
pub fn decode_token(token: &str) -> Result<Vec<u32>, TokenError> {
    let payload = token
        .trim()
        .strip_prefix("ps1.")
        .ok_or(TokenError::Version)?;
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut bytes = Vec::with_capacity(payload.len() / 4 * 3 + 2);
    for ch in payload.bytes() {
        let v = B64
            .iter()
            .position(|&b| b == ch)
            .ok_or(TokenError::Alphabet)? as u32;
        bits = bits << 6 | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    let mut it = bytes.iter().copied();
    let mut read = || -> Result<Option<u64>, TokenError> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(b) = it.next() else {
                return if shift == 0 {
                    Ok(None)
                } else {
                    Err(TokenError::Truncated)
                };
            };
            if shift == 63 && b & 0x7f > 1 {
                return Err(TokenError::Overflow); // bits past the 64th
            }
            x |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(Some(x));
            }
        }
        Err(TokenError::Overflow)
    };
    // Every pair takes at least two bytes.
    let mut runs: Vec<(u32, usize)> = Vec::with_capacity(bytes.len() / 2);
    let mut total = 0usize;
    while let Some(c) = read()? {
        let run = read()?.ok_or(TokenError::Truncated)?;
        let c = u32::try_from(c).map_err(|_| TokenError::Overflow)?;
        total = usize::try_from(run)
            .ok()
            .and_then(|run| total.checked_add(run))
            .filter(|&t| t <= MAX_TOKEN_STEPS)
            .ok_or(TokenError::TooLong)?;
        runs.push((c, total));
    }
    let mut choices = Vec::with_capacity(total);
    let mut start = 0;
    for (c, end) in runs {
        choices.extend(std::iter::repeat_n(c, end - start));
        start = end;
    }
    Ok(choices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for s in [vec![], vec![0], vec![1, 0, 0, 1], vec![300, 7, 7, 7, 2]] {
            assert_eq!(decode_token(&encode_token(&s)).unwrap(), s);
        }
    }

    #[test]
    fn a_100_000_step_schedule_round_trips_through_a_short_token() {
        let mut rng = SplitMix64::new(7);
        let mut s = Vec::new();
        while s.len() < 100_000 {
            let c = rng.below(3) as u32;
            let run = 1 + rng.below(2_000);
            s.extend(std::iter::repeat_n(c, run));
        }
        let token = encode_token(&s);
        assert_eq!(decode_token(&token).unwrap(), s);
        assert!(token.len() < 1_000, "token of {} chars", token.len());
    }

    #[test]
    fn bad_tokens_are_typed_errors() {
        assert_eq!(decode_token("xx"), Err(TokenError::Version));
        assert_eq!(decode_token("ps1.*"), Err(TokenError::Alphabet));
        assert_eq!(decode_token("ps1.gA"), Err(TokenError::Truncated));
        // Eleven continuation bytes: a varint longer than 64 bits.
        let mut long = vec![0xffu8; 11];
        long.push(0);
        assert_eq!(
            decode_token(&token_of_bytes(&long)),
            Err(TokenError::Overflow)
        );
        // Choice 2^32: does not fit a u32.
        let mut big = Vec::new();
        varint(&mut big, 1 << 32);
        varint(&mut big, 1);
        assert_eq!(
            decode_token(&token_of_bytes(&big)),
            Err(TokenError::Overflow)
        );
    }

    /// The token whose payload is exactly `bytes` (no run-length encoding applied).
    fn token_of_bytes(bytes: &[u8]) -> String {
        let mut out = String::from("ps1.");
        for chunk in bytes.chunks(3) {
            let v = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (k, &b)| acc | u32::from(b) << (16 - 8 * k));
            for k in 0..=chunk.len() {
                out.push(B64[(v >> (18 - 6 * k) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn a_crafted_run_length_is_refused_before_allocating() {
        // One pair claiming u64::MAX steps of choice 0: a 16-character token that the old
        // decoder would have tried to expand into 2^64 choices.
        let mut hostile = Vec::new();
        varint(&mut hostile, 0);
        varint(&mut hostile, u64::MAX);
        let token = token_of_bytes(&hostile);
        assert!(token.len() < 20, "{token}");
        assert_eq!(decode_token(&token), Err(TokenError::TooLong));
        // Many runs, each allowed alone, whose sum passes the limit.
        let mut sum = Vec::new();
        for _ in 0..3 {
            varint(&mut sum, 1);
            varint(&mut sum, (MAX_TOKEN_STEPS / 2) as u64);
        }
        assert_eq!(
            decode_token(&token_of_bytes(&sum)),
            Err(TokenError::TooLong)
        );
        // Exactly the limit is still a schedule.
        let mut max = Vec::new();
        varint(&mut max, 1);
        varint(&mut max, MAX_TOKEN_STEPS as u64);
        let s = decode_token(&token_of_bytes(&max)).unwrap();
        assert_eq!(s.len(), MAX_TOKEN_STEPS);
        assert!(s.iter().all(|&c| c == 1));
    }

    #[test]
    fn pct_is_deterministic_per_seed() {
        let opts = [
            Choice {
                actor: 0,
                action: Action::Run,
            },
            Choice {
                actor: 1,
                action: Action::Run,
            },
        ];
        let run = |seed| {
            let mut p = PctChooser::new(seed, 2, 3, 20);
            (0..20).map(|i| p.choose(i, &opts)).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
    }
}
