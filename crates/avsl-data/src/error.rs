//! Errors of the data layer. Every variant names the file it is about.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but its content is not what it should be.
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    /// A line or record of a list/annotation file is malformed.
    #[error("{path}:{line}: {problem}")]
    Record { path: PathBuf, line: u64, problem: String },
}

impl DataError {
    pub fn io(path: &Path, source: std::io::Error) -> DataError {
        DataError::Io { path: path.to_path_buf(), source }
    }

    pub fn invalid(path: &Path, problem: impl Into<String>) -> DataError {
        DataError::Invalid { path: path.to_path_buf(), problem: problem.into() }
    }

    pub fn record(path: &Path, line: u64, problem: impl Into<String>) -> DataError {
        DataError::Record { path: path.to_path_buf(), line, problem: problem.into() }
    }
}

pub type Result<T> = std::result::Result<T, DataError>;

/// What is wrong with some bytes (a WAV, an image, a signal), in one line without a file
/// name: the decoders work on bytes, and their caller, which knows the file, names it
/// ([`DataError::invalid`] takes a `Problem`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Problem(pub String);

impl From<String> for Problem {
    fn from(text: String) -> Problem {
        Problem(text)
    }
}

impl std::ops::Deref for Problem {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Problem> for String {
    fn from(problem: Problem) -> String {
        problem.0
    }
}

/// A file that could not be read, and why (what `--skip-bad` reports).
#[derive(Debug, Clone, PartialEq)]
pub struct BadFile {
    pub path: PathBuf,
    pub problem: String,
}

impl From<DataError> for BadFile {
    fn from(e: DataError) -> BadFile {
        match e {
            DataError::Invalid { path, problem } => BadFile { path, problem },
            DataError::Io { path, source } => BadFile { path, problem: source.to_string() },
            DataError::Record { path, line, problem } => BadFile { path, problem: format!("line {line}: {problem}") },
        }
    }
}

/// Reads a whole file, naming it on failure (missing, unreadable, a folder).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}
