//! What can stop an evaluation, each naming the file or the option at fault.

use std::path::Path;

use avsl_data::error::DataError;
use avsl_model::checkpoint::CheckpointError;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file that cannot be read or holds something it should not (named).
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The options contradict each other or what the data allows.
    #[error("{0}")]
    Options(String),
}

impl EvalError {
    pub fn io(path: &Path, source: std::io::Error) -> EvalError {
        DataError::io(path, source).into()
    }

    /// A file holds something it should not.
    pub fn invalid(path: &Path, problem: impl Into<String>) -> EvalError {
        DataError::invalid(path, problem).into()
    }

    /// A row of a list or index file is wrong.
    pub fn record(path: &Path, line: u64, problem: impl Into<String>) -> EvalError {
        DataError::record(path, line, problem).into()
    }
}
