//! The authentication handshake of CPython's `multiprocessing.connection`
//! (`deliver_challenge` / `answer_challenge`), byte for byte, in both digest forms.
//!
//! Each side proves it knows the authkey by returning an HMAC of a random challenge; the
//! serving side challenges first, then the client challenges the server (mutual
//! authentication). Every message is one [`frame`](crate::frame); every read is capped at
//! [`HANDSHAKE_MAX`] (256) bytes, and a longer claim is [`Error::HandshakeTooLong`]
//! before anything of it is read.
//!
//! # The two forms
//!
//! | form                 | challenge `M` (after `#CHALLENGE#`) | response `R`                         |
//! |----------------------|-------------------------------------|--------------------------------------|
//! | legacy (CPython ≤ 3.11) | 20 random bytes                  | raw HMAC-MD5(key, `M`), 16 bytes     |
//! | modern (CPython ≥ 3.12) | `{sha256}` + 40 random bytes     | `{sha256}` + HMAC-SHA256(key, `M`) — `M` includes its `{sha256}` prefix |
//!
//! The form is detected from what the peer sends, as CPython 3.12's
//! `_get_digest_name_and_payload` does: a message of exactly 20 (challenge) or 16
//! (response) bytes is legacy; anything else must start with `{name}` for a known digest
//! (`md5`, `sha256`, `sha384` here; CPython's `sha3_*` are refused as unsupported). A
//! legacy 3.11 client answers a modern challenge with raw HMAC-MD5 over the whole `M`,
//! which a [`DigestPolicy::Compatible`] server accepts (so does CPython 3.12); a
//! [`DigestPolicy::ModernOnly`] side refuses every MD5 response and every legacy
//! challenge, so no peer can downgrade it. MACs are checked with `hmac`'s constant-time
//! `verify_slice`.
//!
//! # States
//!
//! Serving side: [`deliver_challenge`] then [`answer_challenge`]; client side: the reverse.
//!
//! | step | challenger ([`deliver_challenge`])              | answerer ([`answer_challenge`])                  |
//! |------|-------------------------------------------------|--------------------------------------------------|
//! | 1    | send `#CHALLENGE#` + `M`                        |                                                  |
//! | 2    |                                                 | recv ≤ 256; no `#CHALLENGE#` prefix, `M` under 20 bytes, or a form the policy refuses → fail (nothing sent) |
//! | 3    |                                                 | send `R` = response(key, `M`)                   |
//! | 4    | recv ≤ 256 → `R`; verify: ok → send `#WELCOME#`, done; else send `#FAILURE#`, fail |        |
//! | 5    |                                                 | recv ≤ 256: `#WELCOME#` → done; anything else → fail |
//!
//! A failure is [`Error::AuthenticationFailed`] (or `HandshakeTooLong`, `Eof`,
//! `Truncated`, `Timeout`, `Io` when the peer misbehaves at the transport level) and the
//! connection is dropped by the caller: no application byte is ever sent to a peer that
//! has not passed both directions.
//!
//! Tested by the proptests below (any key and policy pair; random responses and
//! challenges never pass and never panic), by `tests/listener.rs` (hostile peers, 10 MB
//! handshakes), and against python3 in `tests/python.rs` (legacy, with the real 3.11
//! `multiprocessing.connection`; modern, with `tests/peers/modern.py` playing 3.12).

use crate::connection::Connection;
use crate::error::{Error, Result};
use hmac::{Hmac, Mac};
use std::time::Instant;

/// The prefix of a challenge message.
pub const CHALLENGE: &[u8] = b"#CHALLENGE#";
/// The reply to a correct response.
pub const WELCOME: &[u8] = b"#WELCOME#";
/// The reply to a wrong response.
pub const FAILURE: &[u8] = b"#FAILURE#";
/// The longest handshake message accepted (CPython's `recv_bytes(256)`).
pub const HANDSHAKE_MAX: u64 = 256;
/// Random bytes in a legacy challenge (CPython ≤ 3.11's `MESSAGE_LENGTH`).
pub const LEGACY_CHALLENGE_LEN: usize = 20;
/// Random bytes in a modern challenge (CPython 3.12's `MESSAGE_LENGTH`).
pub const MODERN_CHALLENGE_LEN: usize = 40;
/// Length of a raw HMAC-MD5 response.
const MD5_LEN: usize = 16;
/// Longest digest name CPython allows (`sha3_384`).
const MAX_DIGEST_NAME: usize = 8;

/// Which forms of the handshake a side accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestPolicy {
    /// CPython 3.12's behaviour: challenge in the modern `{sha256}` form; accept modern
    /// responses and a legacy raw HMAC-MD5; answer a legacy challenge with HMAC-MD5.
    /// Talks to CPython 3.11 and 3.12 alike.
    #[default]
    Compatible,
    /// Only the modern form: a legacy challenge is not answered and an MD5 response (raw
    /// or `{md5}`) is refused, so a peer cannot downgrade this side.
    ModernOnly,
    /// CPython ≤ 3.11's behaviour: 20-byte challenges, raw HMAC-MD5 responses only
    /// (answers any challenge with HMAC-MD5 over all of it, as 3.11 does).
    LegacyOnly,
}

/// A digest the handshake can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// HMAC-MD5 (the legacy form, or `{md5}`).
    Md5,
    /// HMAC-SHA256 (`{sha256}`, CPython 3.12's default).
    Sha256,
    /// HMAC-SHA384 (`{sha384}`).
    Sha384,
}

impl Digest {
    fn name(self) -> &'static [u8] {
        match self {
            Digest::Md5 => b"md5",
            Digest::Sha256 => b"sha256",
            Digest::Sha384 => b"sha384",
        }
    }

    fn mac(self, key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
            let mut mac = <M as Mac>::new_from_slice(key).map_err(|e| auth(e.to_string()))?;
            mac.update(message);
            Ok(mac.finalize().into_bytes().to_vec())
        }
        match self {
            Digest::Md5 => run::<Hmac<md5::Md5>>(key, message),
            Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, message),
            Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, message),
        }
    }

    /// Constant-time check of `tag` (length included) against HMAC(key, message).
    fn verify(self, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
            let Ok(mut mac) = <M as Mac>::new_from_slice(key) else {
                return false;
            };
            mac.update(message);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Digest::Md5 => run::<Hmac<md5::Md5>>(key, message, tag),
            Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, message, tag),
            Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, message, tag),
        }
    }
}

fn auth(why: impl Into<String>) -> Error {
    Error::AuthenticationFailed(why.into())
}

/// CPython 3.12's `_get_digest_name_and_payload`: `None` for the legacy form (a message of
/// exactly 16 or 20 bytes), else the `{name}` digest and what follows it.
pub fn parse_digest(message: &[u8]) -> Result<(Option<Digest>, &[u8])> {
    if message.len() == LEGACY_CHALLENGE_LEN || message.len() == MD5_LEN {
        return Ok((None, message));
    }
    if message.first() == Some(&b'{') {
        let window = &message[1..message.len().min(MAX_DIGEST_NAME + 2)];
        if let Some(close) = window.iter().position(|&b| b == b'}') {
            let name = &window[..close];
            let rest = &message[close + 2..];
            let digest = match name {
                b"md5" => Some(Digest::Md5),
                b"sha256" => Some(Digest::Sha256),
                b"sha384" => Some(Digest::Sha384),
                b"sha3_256" | b"sha3_384" => {
                    return Err(auth(format!(
                        "digest {} is not supported",
                        String::from_utf8_lossy(name)
                    )))
                }
                _ => None,
            };
            if let Some(d) = digest {
                return Ok((Some(d), rest));
            }
        }
    }
    Err(auth(
        "unsupported message length, missing digest prefix, or unsupported digest",
    ))
}

/// A fresh challenge `M` (what follows `#CHALLENGE#`) in the policy's form.
pub fn new_challenge(policy: DigestPolicy) -> Result<Vec<u8>> {
    let (prefix, n): (&[u8], usize) = match policy {
        DigestPolicy::LegacyOnly => (b"", LEGACY_CHALLENGE_LEN),
        DigestPolicy::Compatible | DigestPolicy::ModernOnly => (b"{sha256}", MODERN_CHALLENGE_LEN),
    };
    let mut random = vec![0u8; n];
    getrandom::fill(&mut random).map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
    let mut m = prefix.to_vec();
    m.extend_from_slice(&random);
    Ok(m)
}

/// CPython 3.12's `_create_response`: the answer to challenge `message` (without its
/// `#CHALLENGE#`), or a refusal when the policy does not accept the challenge's form.
pub fn create_response(key: &[u8], message: &[u8], policy: DigestPolicy) -> Result<Vec<u8>> {
    if message.len() < LEGACY_CHALLENGE_LEN {
        return Err(auth(format!(
            "challenge too short: {} bytes",
            message.len()
        )));
    }
    if policy == DigestPolicy::LegacyOnly {
        return Digest::Md5.mac(key, message);
    }
    match parse_digest(message)?.0 {
        None if policy == DigestPolicy::ModernOnly => Err(auth(
            "legacy HMAC-MD5 challenge refused (modern form required)",
        )),
        None => Digest::Md5.mac(key, message),
        Some(Digest::Md5) if policy == DigestPolicy::ModernOnly => {
            Err(auth("md5 challenge refused (modern form required)"))
        }
        Some(d) => {
            let mut out = Vec::with_capacity(2 + d.name().len() + 48);
            out.push(b'{');
            out.extend_from_slice(d.name());
            out.push(b'}');
            out.extend_from_slice(&d.mac(key, message)?);
            Ok(out)
        }
    }
}

/// CPython 3.12's `_verify_challenge`: does `response` prove knowledge of `key` for our
/// challenge `message`, in a form the policy accepts?
pub fn verify_response(
    key: &[u8],
    message: &[u8],
    response: &[u8],
    policy: DigestPolicy,
) -> Result<()> {
    let (digest, mac) = parse_digest(response)?;
    let digest = match (digest, policy) {
        (None, DigestPolicy::ModernOnly) | (Some(Digest::Md5), DigestPolicy::ModernOnly) => {
            return Err(auth("md5 response refused (modern form required)"))
        }
        (Some(_), DigestPolicy::LegacyOnly) => {
            return Err(auth("prefixed response refused (legacy form only)"))
        }
        (None, _) => Digest::Md5,
        (Some(d), _) => d,
    };
    if digest.verify(key, message, mac) {
        Ok(())
    } else {
        Err(auth("digest received was wrong"))
    }
}

/// Receive one handshake message: at most [`HANDSHAKE_MAX`] bytes, by `deadline`.
fn recv(conn: &Connection, deadline: Option<Instant>) -> Result<Vec<u8>> {
    conn.recv_frame(HANDSHAKE_MAX, deadline)
        .map_err(|e| match e {
            Error::TooLarge { len, .. } => Error::HandshakeTooLong { len },
            e => e,
        })
}

/// The challenger's side (CPython's `deliver_challenge`): steps 1 and 4.
pub fn deliver_challenge(
    conn: &Connection,
    key: &[u8],
    policy: DigestPolicy,
    deadline: Option<Instant>,
) -> Result<()> {
    let message = new_challenge(policy)?;
    let mut challenge = CHALLENGE.to_vec();
    challenge.extend_from_slice(&message);
    conn.send_bytes(&challenge)?;
    let response = recv(conn, deadline)?;
    match verify_response(key, &message, &response, policy) {
        Ok(()) => conn.send_bytes(WELCOME),
        Err(e) => {
            // Best effort: the peer may already be gone; the refusal is what matters.
            let _ = conn.send_bytes(FAILURE);
            Err(e)
        }
    }
}

/// The answerer's side (CPython's `answer_challenge`): steps 2, 3 and 5.
pub fn answer_challenge(
    conn: &Connection,
    key: &[u8],
    policy: DigestPolicy,
    deadline: Option<Instant>,
) -> Result<()> {
    let message = recv(conn, deadline)?;
    let Some(message) = message.strip_prefix(CHALLENGE) else {
        return Err(auth("protocol error: expected a challenge"));
    };
    let response = create_response(key, message, policy)?;
    conn.send_bytes(&response)?;
    let verdict = recv(conn, deadline)?;
    if verdict == WELCOME {
        Ok(())
    } else {
        Err(auth("digest sent was rejected"))
    }
}

/// The serving side of a connection: challenge the client, then answer its challenge.
pub fn serve(
    conn: &Connection,
    key: &[u8],
    policy: DigestPolicy,
    deadline: Option<Instant>,
) -> Result<()> {
    deliver_challenge(conn, key, policy, deadline)?;
    answer_challenge(conn, key, policy, deadline)
}

/// The client side of a connection: answer the server's challenge, then challenge it.
pub fn client(
    conn: &Connection,
    key: &[u8],
    policy: DigestPolicy,
    deadline: Option<Instant>,
) -> Result<()> {
    answer_challenge(conn, key, policy, deadline)?;
    deliver_challenge(conn, key, policy, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICIES: [DigestPolicy; 3] = [
        DigestPolicy::Compatible,
        DigestPolicy::ModernOnly,
        DigestPolicy::LegacyOnly,
    ];

    /// Would a challenger with policy `s` and an answerer with policy `c` agree on a form?
    fn compatible(s: DigestPolicy, c: DigestPolicy) -> bool {
        use DigestPolicy::*;
        !matches!((s, c), (ModernOnly, LegacyOnly) | (LegacyOnly, ModernOnly))
    }

    #[test]
    fn modern_challenge_and_response_bytes() {
        let m = new_challenge(DigestPolicy::Compatible).unwrap();
        assert_eq!(m.len(), 8 + MODERN_CHALLENGE_LEN);
        assert!(m.starts_with(b"{sha256}"));
        let r = create_response(b"key", &m, DigestPolicy::Compatible).unwrap();
        assert!(r.starts_with(b"{sha256}"));
        // The MAC covers the whole message, prefix included.
        assert_eq!(&r[8..], &Digest::Sha256.mac(b"key", &m).unwrap()[..]);
        assert_eq!(r.len(), 8 + 32);
    }

    #[test]
    fn legacy_challenge_gets_raw_md5_and_modern_only_refuses_it() {
        let m = new_challenge(DigestPolicy::LegacyOnly).unwrap();
        assert_eq!(m.len(), LEGACY_CHALLENGE_LEN);
        let r = create_response(b"key", &m, DigestPolicy::Compatible).unwrap();
        assert_eq!(r, Digest::Md5.mac(b"key", &m).unwrap());
        assert_eq!(r.len(), MD5_LEN);
        assert!(create_response(b"key", &m, DigestPolicy::ModernOnly).is_err());
    }

    #[test]
    fn downgrade_to_md5_is_refused_by_modern_only() {
        let m = new_challenge(DigestPolicy::ModernOnly).unwrap();
        // What CPython 3.11 answers to a modern challenge: raw HMAC-MD5 over all of it.
        let legacy = Digest::Md5.mac(b"k", &m).unwrap();
        assert!(verify_response(b"k", &m, &legacy, DigestPolicy::Compatible).is_ok());
        assert!(verify_response(b"k", &m, &legacy, DigestPolicy::ModernOnly).is_err());
        let mut prefixed = b"{md5}".to_vec();
        prefixed.extend_from_slice(&legacy);
        assert!(verify_response(b"k", &m, &prefixed, DigestPolicy::ModernOnly).is_err());
    }

    #[test]
    fn sha3_is_refused_as_unsupported() {
        let mut m = b"{sha3_256}".to_vec();
        m.extend_from_slice(&[1; 40]);
        assert!(matches!(
            create_response(b"k", &m, DigestPolicy::Compatible),
            Err(Error::AuthenticationFailed(_))
        ));
    }

    proptest! {
        #[test]
        fn same_key_passes_different_key_fails(
            key in proptest::collection::vec(any::<u8>(), 0..80),
            other in proptest::collection::vec(any::<u8>(), 0..80),
            s in 0usize..3, c in 0usize..3,
        ) {
            let (s, c) = (POLICIES[s], POLICIES[c]);
            let m = new_challenge(s).unwrap();
            match create_response(&key, &m, c) {
                Ok(r) => {
                    prop_assert_eq!(verify_response(&key, &m, &r, s).is_ok(), compatible(s, c));
                    if other != key {
                        let bad = create_response(&other, &m, c).unwrap();
                        prop_assert!(verify_response(&key, &m, &bad, s).is_err());
                    }
                }
                Err(_) => prop_assert!(!compatible(s, c)),
            }
        }

        #[test]
        fn random_responses_never_pass(
            response in proptest::collection::vec(any::<u8>(), 0..300),
            s in 0usize..3,
        ) {
            let m = new_challenge(POLICIES[s]).unwrap();
            prop_assert!(verify_response(b"secret", &m, &response, POLICIES[s]).is_err());
        }

        #[test]
        fn random_challenges_never_panic(
            challenge in proptest::collection::vec(any::<u8>(), 0..300),
            s in 0usize..3,
        ) {
            match create_response(b"secret", &challenge, POLICIES[s]) {
                Ok(r) => prop_assert!(!r.is_empty() && r.len() <= 8 + 48),
                Err(e) => prop_assert!(matches!(e, Error::AuthenticationFailed(_))),
            }
        }
    }
}
