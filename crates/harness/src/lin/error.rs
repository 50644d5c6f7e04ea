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
