//! What can stop training, each naming the file or the option at fault.

use std::path::Path;

use avsl_data::error::DataError;
use avsl_model::checkpoint::CheckpointError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file that cannot be read or holds something it should not (named).
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The options contradict each other or what the data allows.
    #[error("{0}")]
    Options(String),
    #[error("the loss is {loss} at step {step}: stopping (lower the learning rate?)")]
    NonFiniteLoss { loss: f64, step: u64 },
    /// Stopped on request after a finished step, its checkpoint saved.
    #[error("interrupted after step {step}: saved {checkpoint}; --resume continues the run")]
    Interrupted { step: u64, checkpoint: std::path::PathBuf },
}

impl TrainError {
    pub fn io(path: &Path, source: std::io::Error) -> TrainError {
        DataError::io(path, source).into()
    }

    /// A file holds something it should not.
    pub fn invalid(path: &Path, problem: impl Into<String>) -> TrainError {
        DataError::invalid(path, problem).into()
    }
}
