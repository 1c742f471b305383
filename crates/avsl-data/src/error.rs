//! Errors of the data layer. Every variant names the file it is about.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The OS refused a read or write (named once, with what to do where there is a
    /// remedy: a full disk).
    #[error("{path}: {error}{}", remedy(error, path))]
    Io { path: PathBuf, error: std::io::Error },
    /// Another process holds the lock on what this one would write ([`crate::lock`]).
    #[error("{message}")]
    InUse { path: PathBuf, message: String },
    /// The file exists but its content is not what it should be.
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    /// A line or record of a list/annotation file is malformed.
    #[error("{path}:{line}: {problem}")]
    Record { path: PathBuf, line: u64, problem: String },
}

/// What to do about an I/O error, where something can be done.
fn remedy(error: &std::io::Error, path: &Path) -> String {
    use std::io::ErrorKind;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            format!(" (free space on the disk that holds {})", folder.display())
        }
        _ => String::new(),
    }
}

impl DataError {
    pub fn io(path: &Path, source: std::io::Error) -> DataError {
        DataError::Io { path: path.to_path_buf(), error: source }
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
            DataError::Io { path, error } => BadFile { path, problem: error.to_string() },
            DataError::InUse { path, message } => BadFile { path, problem: message },
            DataError::Record { path, line, problem } => BadFile { path, problem: format!("line {line}: {problem}") },
        }
    }
}

/// Reads a whole file, naming it on failure (missing, unreadable, a folder).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}
