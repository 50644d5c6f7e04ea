//! Typed errors of the checker: malformed histories and operations a model does not know.
//!
//! Nothing in [`lin`](super) panics on bad input: a JSON document that does not follow the
//! format, a return before its call, or an operation the model cannot interpret all come
//! back as a [`LinError`].

use serde_json::Value;

/// Why a history could not be imported or checked.
#[derive(Debug, thiserror::Error)]
pub enum LinError {
    /// The text is not JSON, or not an array of operation objects of the documented shape
    /// (missing or unknown field, wrong type, negative time, ...).
    #[error("malformed history JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An operation returns before it is called.
    #[error("operation {index}: return time {ret} is before call time {call}")]
    ReturnBeforeCall {
        /// Position of the operation in the history.
        index: usize,
        /// Its call time.
        call: u64,
        /// Its return time.
        ret: u64,
    },
    /// An indeterminate operation (no return, or `"unknown": true`) carries an output.
    #[error("operation {index}: an operation of unknown outcome (no return, or unknown) has output {output}")]
    OutputWithoutReturn {
        /// Position of the operation in the history.
        index: usize,
        /// The output it should not have.
        output: Value,
    },
    /// A history in one of the imported text formats (Jepsen log, EDN) is malformed.
    #[error("{format} history, line {line}: {error}")]
    Syntax {
        /// The format being read (`"Jepsen log"`, `"EDN"`).
        format: &'static str,
        /// 1-based line of the offending text.
        line: usize,
        /// What is wrong.
        #[source]
        error: SyntaxError,
    },
    /// The model rejected an operation (unknown name, input or output of the wrong shape).
    #[error("operation {index} (client {client}): {source}")]
    Operation {
        /// Position of the operation in the history.
        index: usize,
        /// Its client.
        client: u32,
        /// What the model objected to.
        #[source]
        source: OpError,
    },
}

/// Why a [`Model`](super::Model) cannot interpret one operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The model has no operation of this name.
    #[error("unknown operation `{op}` for model {model}")]
    UnknownOp {
        /// The model's name.
        model: &'static str,
        /// The operation name found.
        op: String,
    },
    /// The input does not have the shape the operation needs.
    #[error("`{op}` needs input {expected}, found {found}")]
    BadInput {
        /// The operation name.
        op: String,
        /// What was expected, in words.
        expected: &'static str,
        /// What was found.
        found: Value,
    },
    /// The output does not have the shape the operation returns.
    #[error("`{op}` returns {expected}, found {found}")]
    BadOutput {
        /// The operation name.
        op: String,
        /// What was expected, in words.
        expected: &'static str,
        /// What was found.
        found: Value,
    },
    /// The model needs a key (an object name) and the operation has none.
    #[error("`{op}` needs a key")]
    MissingKey {
        /// The operation name.
        op: String,
    },
}

impl OpError {
    /// Shorthand for [`OpError::UnknownOp`].
    pub fn unknown(model: &'static str, op: &str) -> Self {
        OpError::UnknownOp {
            model,
            op: op.to_owned(),
        }
    }

    /// Shorthand for [`OpError::BadInput`].
    pub fn bad_input(op: &str, expected: &'static str, found: &Value) -> Self {
        OpError::BadInput {
            op: op.to_owned(),
            expected,
            found: found.clone(),
        }
    }

    /// Shorthand for [`OpError::BadOutput`].
    pub fn bad_output(op: &str, expected: &'static str, found: &Value) -> Self {
        OpError::BadOutput {
            op: op.to_owned(),
            expected,
            found: found.clone(),
        }
    }
}

/// What is wrong in an imported history (see [`LinError::Syntax`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// The text ended inside a form (an open string, vector or map).
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A character that cannot start or continue the form being read.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A token that is not a valid number, keyword or symbol.
    #[error("bad token `{0}`")]
    BadToken(String),
    /// A string escape that EDN does not have.
    #[error("bad string escape `\\{0}`")]
    BadEscape(char),
    /// A map with an odd number of forms.
    #[error("map with a key and no value")]
    OddMap,
    /// A history entry that is not a map.
    #[error("expected an operation map, found {0}")]
    NotAMap(String),
    /// A required field is missing.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field has the wrong type.
    #[error("field {field} must be {expected}, found {found}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What it must be, in words.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A `:type` other than `:invoke`, `:ok`, `:fail`, `:info`.
    #[error("unknown operation type `{0}` (expected :invoke, :ok, :fail or :info)")]
    UnknownType(String),
    /// A process invoked an operation while its previous one was still pending.
    #[error("process {0} invokes while its previous operation is pending")]
    DoubleInvoke(u32),
    /// A completion (`:ok`, `:fail`, `:info`) with no pending invocation.
    #[error("process {0} completes an operation it did not invoke")]
    NoInvoke(u32),
    /// A completion names another operation than its invocation.
    #[error("process {process} invoked `{invoked}` but completes `{completed}`")]
    Mismatch {
        /// The process.
        process: u32,
        /// The invoked operation.
        invoked: String,
        /// The completed one.
        completed: String,
    },
    /// A line that is not a Jepsen log line (`LEVEL logger - process type f value`).
    #[error("not a Jepsen log line: {0:?}")]
    NotALogLine(String),
    /// The text holds no operation at all.
    #[error("no operations found")]
    Empty,
}
