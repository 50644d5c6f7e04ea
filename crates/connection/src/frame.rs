//! The wire format of CPython's `multiprocessing.connection` on POSIX: one length-prefixed
//! frame per message. The [`Connection`](crate::Connection), the handshake and (later) the
//! Manager all parse frames here and nowhere else.
//!
//! ```text
//! len ≤ 0x7fff_ffff:   [ len: u32 big-endian ][ len bytes ]
//! len > 0x7fff_ffff:   [ 0xffff_ffff ][ len: u64 big-endian ][ len bytes ]
//! ```
//!
//! This mirrors CPython 3.11's `Connection._send_bytes` / `_recv_bytes`: the 4-byte prefix
//! is read as a signed `!i`; `-1` announces the 8-byte `!Q` extension, which CPython writes
//! only for messages over `0x7fffffff` bytes (and so do we, see [`Header::for_len`]); the
//! reader accepts the extension for any length. A 4-byte prefix between `0x8000_0000` and
//! `0xffff_fffe` (a negative `!i` other than `-1`) is written by no correct sender and is
//! reported as [`Error::BadLength`].
//!
//! # What the reader guarantees
//!
//! * It reads exactly the frame's bytes, never past it, so a stream end shared by several
//!   processes stays on a frame boundary for the next reader.
//! * It never allocates the claimed length: a claim over the limit is [`Error::TooLarge`]
//!   before any allocation, and a claim within the limit grows the buffer as bytes actually
//!   arrive (first [`FIRST_CHUNK`], then doubling), so memory stays within twice what the
//!   peer really sent.
//! * A read that times out or would block keeps its partial frame: the next call resumes
//!   it. The state machine, per [`FrameReader`]:
//!
//! | state            | on bytes                                  | on end of file            |
//! |------------------|-------------------------------------------|---------------------------|
//! | `Header{have<4}` | append; at 4: `-1` → `Header{<12}`, `≥2³¹` → `BadLength`, else check limit → `Body` | `have == 0`: `Eof`; else `Truncated` |
//! | `Header{have<12}`| append; at 12: check limit → `Body`       | `Truncated`               |
//! | `Body{have<len}` | append (growing the buffer); at `len`: the message, → `Header{0}` | `Truncated` |
//! | `Broken`         | (a framing error happened) every read is `Closed` | `Closed`          |
//!
//! Tested by the unit tests and proptests below (round trips through random chunkings,
//! random bytes, 2⁶² claims, truncations) and end to end by `tests/connection.rs`.

use crate::error::{Error, Result};
use std::io::{self, Read};

/// The largest length written with the plain 4-byte prefix (CPython: `0x7fffffff`).
pub const SHORT_MAX: u64 = 0x7fff_ffff;

/// The 4-byte prefix announcing the 8-byte extension (`struct.pack("!i", -1)`).
pub const EXTENDED_MARKER: [u8; 4] = [0xff; 4];

/// The receive limit of a new connection: 1 GiB (configurable per connection).
pub const DEFAULT_MAX_MESSAGE: u64 = 1 << 30;

/// The first allocation for a message body; later growth doubles what has arrived.
pub const FIRST_CHUNK: usize = 64 * 1024;

/// A frame's length prefix, ready to write before the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    bytes: [u8; 12],
    len: u8,
}

impl Header {
    /// The prefix CPython writes for a message of `len` bytes: 4 bytes up to
    /// [`SHORT_MAX`], the 12-byte extension above.
    pub fn for_len(len: u64) -> Header {
        if len > SHORT_MAX {
            Header::extended(len)
        } else {
            let mut bytes = [0; 12];
            bytes[..4].copy_from_slice(&(len as u32).to_be_bytes());
            Header { bytes, len: 4 }
        }
    }

    /// The 12-byte extended prefix for any length (valid on the wire for every length;
    /// used by tests to exercise the reader's extension path with small messages).
    pub fn extended(len: u64) -> Header {
        let mut bytes = [0; 12];
        bytes[..4].copy_from_slice(&EXTENDED_MARKER);
        bytes[4..].copy_from_slice(&len.to_be_bytes());
        Header { bytes, len: 12 }
    }

    /// The prefix's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// One whole frame (prefix and body) in a fresh buffer.
pub fn encode(message: &[u8]) -> Vec<u8> {
    let header = Header::for_len(message.len() as u64);
    let mut out = Vec::with_capacity(header.as_bytes().len() + message.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(message);
    out
}

/// Where a [`FrameReader`] is inside the current frame (see the module's state table).
#[derive(Debug)]
enum State {
    Header {
        buf: [u8; 12],
        have: usize,
    },
    Body {
        len: usize,
        have: usize,
        buf: Vec<u8>,
    },
    Broken,
}

/// An incremental frame reader: reads one frame at a time from any [`Read`], keeping a
/// partial frame across calls that time out.
#[derive(Debug)]
pub struct FrameReader {
    state: State,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader::new()
    }
}

impl FrameReader {
    /// A reader on a frame boundary.
    pub fn new() -> FrameReader {
        FrameReader {
            state: State::Header {
                buf: [0; 12],
                have: 0,
            },
        }
    }

    /// True on a frame boundary (no byte of the next frame consumed yet).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Header { have: 0, .. })
    }

    /// True after a framing error: the stream is unusable.
    pub fn is_broken(&self) -> bool {
        matches!(self.state, State::Broken)
    }

    /// Bytes of the current body buffer already allocated (for tests of the memory bound).
    pub fn allocated(&self) -> usize {
        match &self.state {
            State::Body { buf, .. } => buf.capacity(),
            _ => 0,
        }
    }

    /// Read the next whole frame from `src`, refusing bodies longer than `max`.
    ///
    /// `src` reporting [`io::ErrorKind::WouldBlock`] or [`io::ErrorKind::TimedOut`]
    /// returns [`Error::Timeout`] and keeps the partial frame; a framing error
    /// (`Truncated`, `TooLarge`, `BadLength`) moves the reader to `Broken`, where every
    /// later call returns [`Error::Closed`].
    pub fn read_frame<R: Read + ?Sized>(&mut self, src: &mut R, max: u64) -> Result<Vec<u8>> {
        let result = self.step(src, max);
        if let Err(e) = &result {
            if e.is_framing() {
                self.state = State::Broken;
            }
        }
        result
    }

    fn step<R: Read + ?Sized>(&mut self, src: &mut R, max: u64) -> Result<Vec<u8>> {
        loop {
            match &mut self.state {
                State::Broken => return Err(Error::Closed),
                State::Header { buf, have } => {
                    let need = if *have < 4 || buf[..4] != EXTENDED_MARKER {
                        4
                    } else {
                        12
                    };
                    if *have < need {
                        let n = read_some(src, &mut buf[*have..need])?;
                        if n == 0 {
                            return Err(if *have == 0 {
                                Error::Eof
                            } else {
                                Error::Truncated {
                                    expected: need as u64,
                                    got: *have as u64,
                                }
                            });
                        }
                        *have += n;
                        continue;
                    }
                    let len = if need == 4 {
                        // Not the marker (`need` would be 12): a plain `!i` prefix.
                        let raw = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        if u64::from(raw) > SHORT_MAX {
                            return Err(Error::BadLength { raw });
                        }
                        u64::from(raw)
                    } else {
                        let mut b = [0; 8];
                        b.copy_from_slice(&buf[4..12]);
                        u64::from_be_bytes(b)
                    };
                    if len > max {
                        return Err(Error::TooLarge { len, max });
                    }
                    let Ok(len) = usize::try_from(len) else {
                        return Err(Error::TooLarge {
                            len,
                            max: usize::MAX as u64,
                        });
                    };
                    if len == 0 {
                        *have = 0;
                        return Ok(Vec::new());
                    }
                    self.state = State::Body {
                        len,
                        have: 0,
                        buf: Vec::new(),
                    };
                }
                State::Body { len, have, buf } => {
                    if *have == buf.len() {
                        // Grow as bytes arrive: never the claimed length at once.
                        let target = (*len).min(buf.len().saturating_mul(2).max(FIRST_CHUNK));
                        buf.resize(target, 0);
                    }
                    let n = read_some(src, &mut buf[*have..])?;
                    if n == 0 {
                        return Err(Error::Truncated {
                            expected: *len as u64,
                            got: *have as u64,
                        });
                    }
                    *have += n;
                    if *have == *len {
                        let message = std::mem::take(buf);
                        self.state = State::Header {
                            buf: [0; 12],
                            have: 0,
                        };
                        return Ok(message);
                    }
                }
            }
        }
    }
}

/// One read, retried on `Interrupted`; `WouldBlock`/`TimedOut` become [`Error::Timeout`].
fn read_some<R: Read + ?Sized>(src: &mut R, buf: &mut [u8]) -> Result<usize> {
    loop {
        match src.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return Err(Error::Timeout)
            }
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

/// Decode every frame of `bytes` (a pure helper for tests and fuzzing): the messages read,
/// and the error that ended the stream (`Eof` when it ended on a frame boundary).
pub fn decode_all(bytes: &[u8], max: u64) -> (Vec<Vec<u8>>, Error) {
    let mut reader = FrameReader::new();
    let mut src = bytes;
    let mut out = Vec::new();
    loop {
        match reader.read_frame(&mut src, max) {
            Ok(m) => out.push(m),
            Err(e) => return (out, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A source that hands out its bytes in the given chunk sizes (cycled), then EOF.
    struct Chunked<'a> {
        bytes: &'a [u8],
        sizes: Vec<usize>,
        i: usize,
        /// Return `WouldBlock` before every chunk (tests resumption after timeouts).
        stall: bool,
        stalled: bool,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.stall && !self.stalled {
                self.stalled = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.stalled = false;
            let size = self.sizes[self.i % self.sizes.len()].max(1);
            self.i += 1;
            let n = size.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn header_forms() {
        assert_eq!(Header::for_len(0).as_bytes(), &[0, 0, 0, 0]);
        assert_eq!(Header::for_len(26).as_bytes(), &[0, 0, 0, 26]);
        assert_eq!(
            Header::for_len(SHORT_MAX).as_bytes(),
            &[0x7f, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            Header::for_len(SHORT_MAX + 1).as_bytes(),
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn extended_prefix_is_read_for_small_messages_too() {
        let mut wire = Header::extended(3).as_bytes().to_vec();
        wire.extend_from_slice(b"abc");
        wire.extend_from_slice(&encode(b""));
        let (msgs, end) = decode_all(&wire, DEFAULT_MAX_MESSAGE);
        assert_eq!(msgs, vec![b"abc".to_vec(), Vec::new()]);
        assert!(matches!(end, Error::Eof), "{end:?}");
    }

    #[test]
    fn claim_of_2_pow_62_is_too_large_without_allocating() {
        let wire = Header::extended(1 << 62).as_bytes().to_vec();
        let mut reader = FrameReader::new();
        let err = reader
            .read_frame(&mut &wire[..], DEFAULT_MAX_MESSAGE)
            .unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { len, .. } if len == 1 << 62),
            "{err:?}"
        );
        assert!(reader.is_broken());
        assert!(matches!(
            reader.read_frame(&mut &wire[..], DEFAULT_MAX_MESSAGE),
            Err(Error::Closed)
        ));
    }

    #[test]
    fn claim_within_limit_grows_only_with_arriving_bytes() {
        let mut wire = Header::for_len(1 << 30).as_bytes().to_vec();
        wire.extend_from_slice(&[7; 10]);
        let mut src = Chunked {
            bytes: &wire,
            sizes: vec![4096],
            i: 0,
            stall: true,
            stalled: false,
        };
        let mut reader = FrameReader::new();
        // Each call stalls once (a timeout), then makes progress: the partial frame stays.
        let mut timeouts = 0;
        let err = loop {
            match reader.read_frame(&mut src, DEFAULT_MAX_MESSAGE) {
                Err(Error::Timeout) => {
                    timeouts += 1;
                    assert!(reader.allocated() <= FIRST_CHUNK, "{}", reader.allocated());
                }
                other => break other.unwrap_err(),
            }
        };
        assert!(timeouts >= 2);
        assert!(
            matches!(err, Error::Truncated { expected, got: 10 } if expected == 1 << 30),
            "{err:?}"
        );
    }

    #[test]
    fn negative_prefix_other_than_minus_one_is_bad_length() {
        let (msgs, end) = decode_all(&[0x80, 0, 0, 0, 1, 2, 3], DEFAULT_MAX_MESSAGE);
        assert!(msgs.is_empty());
        assert!(
            matches!(end, Error::BadLength { raw: 0x8000_0000 }),
            "{end:?}"
        );
    }

    #[test]
    fn truncated_header_and_body() {
        let (_, end) = decode_all(&[0, 0], 100);
        assert!(matches!(
            end,
            Error::Truncated {
                expected: 4,
                got: 2
            }
        ));
        let (_, end) = decode_all(&[0xff, 0xff, 0xff, 0xff, 0], 100);
        assert!(matches!(
            end,
            Error::Truncated {
                expected: 12,
                got: 5
            }
        ));
        let (_, end) = decode_all(&[0, 0, 0, 5, b'a'], 100);
        assert!(matches!(
            end,
            Error::Truncated {
                expected: 5,
                got: 1
            }
        ));
    }

    proptest! {
        #[test]
        fn round_trip_through_any_chunking(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            sizes in proptest::collection::vec(1usize..64, 1..8),
            extended in any::<bool>(),
            stall in any::<bool>(),
        ) {
            let mut wire = Vec::new();
            for m in &msgs {
                let h = if extended { Header::extended(m.len() as u64) } else { Header::for_len(m.len() as u64) };
                wire.extend_from_slice(h.as_bytes());
                wire.extend_from_slice(m);
            }
            let mut src = Chunked { bytes: &wire, sizes, i: 0, stall, stalled: false };
            let mut reader = FrameReader::new();
            let mut got = Vec::new();
            let end = loop {
                match reader.read_frame(&mut src, 1 << 20) {
                    Ok(m) => got.push(m),
                    Err(Error::Timeout) => continue,
                    Err(e) => break e,
                }
            };
            prop_assert!(matches!(end, Error::Eof), "{:?}", end);
            prop_assert_eq!(got, msgs);
        }

        #[test]
        fn random_bytes_give_messages_or_a_typed_error(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            max in 0u64..4096,
        ) {
            let (msgs, end) = decode_all(&bytes, max);
            let total: usize = msgs.iter().map(Vec::len).sum();
            prop_assert!(total <= bytes.len());
            prop_assert!(msgs.iter().all(|m| m.len() as u64 <= max));
            prop_assert!(
                matches!(end, Error::Eof | Error::Truncated { .. } | Error::TooLarge { .. } | Error::BadLength { .. }),
                "{:?}", end
            );
        }
    }
}
