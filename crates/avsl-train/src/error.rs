//! What can stop training, each naming the file or the option at fault.

use std::path::{Path, PathBuf};

use avsl_data::error::DataError;
use avsl_model::checkpoint::CheckpointError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
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
    /// A file of the run or of its inputs holds something it should not.
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    /// The options contradict each other or what the data allows.
    #[error("{0}")]
    Options(String),
    #[error("the loss is {loss} at step {step}: stopping (lower the learning rate?)")]
    NonFiniteLoss { loss: f64, step: u64 },
}

impl TrainError {
    pub fn io(path: &Path, source: std::io::Error) -> TrainError {
        TrainError::Io { path: path.to_path_buf(), source }
    }

    pub fn invalid(path: &Path, problem: impl Into<String>) -> TrainError {
        TrainError::Invalid { path: path.to_path_buf(), problem: problem.into() }
    }
}
