//! Codecs: how [`Connection::send`](crate::Connection::send_with) turns a value into the
//! bytes of one message, and back.
//!
//! * [`Postcard`]: compact, for Rust peers (the default of `send`/`recv`).
//! * [`Pickle`]: Python's pickle (protocol 3 written, protocols 0–5 read, via
//!   `serde-pickle`), so plain data — ints, floats, strings, bytes (`serde_bytes`), lists
//!   (`Vec`), tuples, dicts (maps), `None` (`Option`/`()`) — crosses to and from a python3
//!   peer's `Connection.send`/`recv`. `serde_pickle::Value` receives any such data.
//!
//! Decoding never panics on bad input: it is [`Error::Codec`]. A pickle passes
//! [`pickle_guard`](crate::pickle_guard) first, so a hostile one can neither nest deep
//! enough to overflow the decoder's stack nor expand through memo references. Tested by the unit tests
//! below and, against a real python3, by `tests/python.rs`.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Turns values into message bytes and back.
pub trait Codec {
    /// Encode `value` as one message.
    fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>>;
    /// Decode one message.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T>;
}

/// The compact serde codec for Rust peers ([postcard](https://docs.rs/postcard)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Postcard;

impl Codec for Postcard {
    fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>> {
        postcard::to_allocvec(value).map_err(|e| Error::Codec(e.to_string()))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        postcard::from_bytes(bytes).map_err(|e| Error::Codec(e.to_string()))
    }
}

/// Python's pickle, for python3 peers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pickle;

impl Codec for Pickle {
    fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>> {
        serde_pickle::to_vec(value, serde_pickle::SerOptions::new())
            .map_err(|e| Error::Codec(e.to_string()))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        crate::plain_pickle::from_slice(bytes).map_err(|e| Error::Codec(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn postcard_round_trip_and_garbage() {
        let v = (1u32, "two".to_string(), vec![3.0f64]);
        let bytes = Postcard.encode(&v).unwrap();
        assert_eq!(
            Postcard.decode::<(u32, String, Vec<f64>)>(&bytes).unwrap(),
            v
        );
        assert!(matches!(
            Postcard.decode::<(u32, String)>(&[0xff; 3]),
            Err(Error::Codec(_))
        ));
    }

    #[test]
    fn pickle_round_trip_and_garbage() {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), Some(1i64));
        m.insert("n".to_string(), None);
        let bytes = Pickle.encode(&m).unwrap();
        assert_eq!(
            Pickle
                .decode::<BTreeMap<String, Option<i64>>>(&bytes)
                .unwrap(),
            m
        );
        assert!(matches!(
            Pickle.decode::<i64>(b"not a pickle"),
            Err(Error::Codec(_))
        ));
    }

    /// Without the guard, this decode overflows the test thread's stack and aborts the
    /// test binary.
    #[test]
    fn a_pickle_nested_too_deep_is_a_codec_error() {
        let mut deep = vec![0x80, 3];
        deep.extend(std::iter::repeat_n(b']', 100_001));
        deep.extend(std::iter::repeat_n(b'a', 100_000));
        deep.push(b'.');
        match Pickle.decode::<serde_pickle::Value>(&deep) {
            Err(Error::Codec(msg)) => assert!(msg.contains("deeper than"), "{msg}"),
            other => panic!("expected a codec error, got {other:?}"),
        }
    }
}
