//! avsl's errors as Python exceptions: a file the OS refused is an `OSError`, anything
//! wrong with a file's content or an option a `ValueError`; each message names the file.

use avsl_data::error::DataError;
use avsl_eval::error::EvalError;
use pyo3::PyErr;
use pyo3::exceptions::{PyOSError, PyValueError};

pub fn data(e: DataError) -> PyErr {
    match e {
        DataError::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

pub fn eval(e: EvalError) -> PyErr {
    match e {
        EvalError::Data(e) => data(e),
        other => PyValueError::new_err(other.to_string()),
    }
}

pub fn value(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}
