//! The model's inputs for one file, as `avsl inspect` writes them.

use std::path::PathBuf;

use avsl_data::preprocess::{load_spectrogram, load_test_image};
use avsl_data::spectrogram::BINS;
use avsl_data::transform::INPUT_SIZE;
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use crate::errors;

/// float32 values (native byte order) in a bytearray, which `numpy.frombuffer` turns into
/// a writable array without another copy.
pub fn f32_bytes<'py>(py: Python<'py>, values: &[f32]) -> Bound<'py, PyByteArray> {
    PyByteArray::new(py, bytemuck::cast_slice(values))
}

/// The log-spectrogram of a WAV file's centred window (`inspect`'s spectrogram.npy):
/// its bytes and shape `(257, T)`.
#[pyfunction]
#[pyo3(signature = (path, seconds = 3.0))]
pub fn spectrogram(py: Python<'_>, path: PathBuf, seconds: f64) -> PyResult<(Bound<'_, PyByteArray>, (usize, usize))> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(errors::value(format!("seconds must be positive, not {seconds}")));
    }
    let spec = py.detach(|| load_spectrogram(&path, seconds)).map_err(errors::data)?;
    Ok((f32_bytes(py, &spec.values), (BINS, spec.frames)))
}

/// A frame as the test pipeline feeds it (`inspect`'s image_tensor.npy): bicubic 224×224,
/// ImageNet-normalised, CHW; its bytes and shape `(3, 224, 224)`.
#[pyfunction]
pub fn frame(py: Python<'_>, path: PathBuf) -> PyResult<(Bound<'_, PyByteArray>, (usize, usize, usize))> {
    let values = py.detach(|| load_test_image(&path, INPUT_SIZE)).map_err(errors::data)?;
    Ok((f32_bytes(py, &values), (3, INPUT_SIZE, INPUT_SIZE)))
}
