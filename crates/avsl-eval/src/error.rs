//! What can stop an evaluation, each naming the file or the option at fault.

use std::path::{Path, PathBuf};

use avsl_data::error::DataError;
use avsl_model::checkpoint::CheckpointError;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file holds something it should not.
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    /// A row of a list or index file is wrong.
    #[error("{path}:{line}: {problem}")]
    Record { path: PathBuf, line: u64, problem: String },
    /// The options contradict each other or what the data allows.
    #[error("{0}")]
    Options(String),
}

impl EvalError {
    pub fn io(path: &Path, source: std::io::Error) -> EvalError {
        EvalError::Io { path: path.to_path_buf(), source }
    }

    pub fn invalid(path: &Path, problem: impl Into<String>) -> EvalError {
        EvalError::Invalid { path: path.to_path_buf(), problem: problem.into() }
    }

    pub fn record(path: &Path, line: u64, problem: impl Into<String>) -> EvalError {
        EvalError::Record { path: path.to_path_buf(), line, problem: problem.into() }
    }
}
