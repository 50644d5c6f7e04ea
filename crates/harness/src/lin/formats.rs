//! The history formats the checker reads, and telling them apart.
//!
//! | [`Format`]   | what                                                      | reader              |
//! |--------------|-----------------------------------------------------------|---------------------|
//! | `Json`       | the checker's own format ([module docs](super#json-format)) | [`History::from_json`] |
//! | `JepsenLog`  | Jepsen etcd register logs (porcupine's `test_data/jepsen`, `test_data/etcd`) | [`History::from_jepsen_log`] |
//! | `Edn`        | Jepsen/knossos EDN histories, porcupine's kv logs (`test_data/kv`) | [`History::from_edn`] |
//!
//! [`Format::detect`] guesses the format from the first characters of the text: a JSON
//! history is an array of objects with string keys (`[{"`), an EDN one a map or a vector
//! of maps with keyword keys (`{:`, `[{:`), and a Jepsen log starts with a log level.

use super::error::LinError;
use super::history::History;
use super::{edn, jepsen_log};
use std::fmt;
use std::str::FromStr;

/// A history format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The checker's JSON format.
    Json,
    /// Jepsen's etcd register log, as porcupine's test data.
    JepsenLog,
    /// Jepsen/knossos EDN operation maps (also porcupine's kv logs).
    Edn,
}

impl Format {
    /// Every format, for listings.
    pub const ALL: [Format; 3] = [Format::Json, Format::JepsenLog, Format::Edn];

    /// The format's name on the command line: `json`, `jepsen`, `edn`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::JepsenLog => "jepsen",
            Format::Edn => "edn",
        }
    }

    /// Guesses the format of `text` from its first characters (see the module docs).
    /// Never fails: an unrecognisable text is given to the reader most likely to explain
    /// what is wrong with it.
    ///
    /// ```
    /// use procshare_harness::lin::Format;
    ///
    /// assert_eq!(Format::detect(r#"[{"client": 0, "call": 0, "op": "read"}]"#), Format::Json);
    /// assert_eq!(Format::detect("{:process 0, :type :invoke, :f :read}"), Format::Edn);
    /// assert_eq!(Format::detect("[{:process 0, :type :invoke, :f :read}]"), Format::Edn);
    /// assert_eq!(Format::detect("INFO  jepsen.util - 0\t:invoke\t:read\tnil"), Format::JepsenLog);
    /// ```
    pub fn detect(text: &str) -> Format {
        let mut rest = text.trim_start();
        let mut next = || {
            let c = rest.chars().next();
            if let Some(c) = c {
                rest = rest[c.len_utf8()..].trim_start();
            }
            c
        };
        match next() {
            Some('{' | ';' | '(') => Format::Edn,
            Some('[') => match next() {
                Some('{') => match next() {
                    Some(':') => Format::Edn,
                    _ => Format::Json,
                },
                Some('(' | '[') => Format::Edn,
                _ => Format::Json,
            },
            Some(c) if c.is_ascii_alphabetic() => Format::JepsenLog,
            _ => Format::Json,
        }
    }

    /// Reads `text` in this format.
    pub fn parse(self, text: &str) -> Result<History, LinError> {
        match self {
            Format::Json => History::from_json(text),
            Format::JepsenLog => History::from_jepsen_log(text),
            Format::Edn => History::from_edn(text),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown history format `{0}` (expected json, jepsen or edn)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

impl History {
    /// Reads a Jepsen etcd register log (porcupine's `test_data/jepsen` format); see the
    /// `jepsen_log` module's docs for how each event reads. Check the result with
    /// [`Register::new(Value::Null)`](super::Register): the register starts absent.
    ///
    /// ```
    /// use procshare_harness::lin::{check, History, Register};
    /// use serde_json::Value;
    ///
    /// let log = "INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
    ///            INFO  jepsen.util - 0\t:ok\t:write\t1\n\
    ///            INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
    ///            INFO  jepsen.util - 1\t:ok\t:read\tnil\n";
    /// let history = History::from_jepsen_log(log).unwrap();
    /// assert!(check(&Register::new(Value::Null), &history).unwrap().is_illegal());
    /// ```
    pub fn from_jepsen_log(text: &str) -> Result<History, LinError> {
        jepsen_log::parse(text)
    }

    /// Reads a Jepsen/knossos EDN history or a porcupine kv log; see the `edn` module's
    /// docs for the fields and how `:ok`, `:fail` and `:info` read.
    ///
    /// ```
    /// use procshare_harness::lin::{check, History, KeyValue};
    ///
    /// let edn = r#"
    /// {:process 0, :type :invoke, :f :append, :key "k", :value "a"}
    /// {:process 0, :type :ok, :f :append, :key "k", :value "a"}
    /// {:process 1, :type :invoke, :f :get, :key "k", :value nil}
    /// {:process 1, :type :ok, :f :get, :key "k", :value ""}
    /// "#;
    /// let history = History::from_edn(edn).unwrap();
    /// assert!(check(&KeyValue, &history).unwrap().is_illegal()); // a stale read
    /// ```
    pub fn from_edn(text: &str) -> Result<History, LinError> {
        edn::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert!("yaml".parse::<Format>().is_err());
    }

    #[test]
    fn detection() {
        assert_eq!(Format::detect(""), Format::Json);
        assert_eq!(Format::detect("  []"), Format::Json);
        assert_eq!(Format::detect("[\n  {}]"), Format::Json);
        assert_eq!(Format::detect("[ { :process 1}]"), Format::Edn);
        assert_eq!(Format::detect("; comment\n{:process 1}"), Format::Edn);
        assert_eq!(Format::detect("WARN x - y"), Format::JepsenLog);
    }
}
