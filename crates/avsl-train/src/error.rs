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
    /// A checkpoint could not be written; the file it would have replaced is untouched.
    #[error("{error}: the checkpoint was not saved; {}", kept(path, *previous))]
    NotSaved { path: std::path::PathBuf, previous: bool, error: DataError },
    /// Stopped on request after a finished step, its checkpoint saved.
    #[error("interrupted after step {step}: saved {checkpoint}; --resume continues the run")]
    Interrupted { step: u64, checkpoint: std::path::PathBuf },
}

fn kept(path: &Path, previous: bool) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if previous {
        format!("the previous {name} is whole, and --resume continues from it once this is fixed")
    } else {
        "fix this and run again".to_string()
    }
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
