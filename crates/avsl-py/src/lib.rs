//! `avsl._avsl`: the compiled half of the `avsl` Python package. Every function calls the
//! library code the command line runs, so its results are the CLI's figure for figure;
//! arrays cross as float32 bytes and a shape, which `python/avsl/__init__.py` turns into
//! numpy arrays (no numpy C API here, so one wheel serves every numpy).

mod errors;
mod evaluate;
mod inputs;
mod loader;
mod localize;

use pyo3::prelude::*;

#[pymodule]
fn _avsl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(inputs::spectrogram, m)?)?;
    m.add_function(wrap_pyfunction!(inputs::frame, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate::evaluate, m)?)?;
    m.add_class::<localize::Localizer>()?;
    m.add_class::<loader::Loader>()?;
    m.add_class::<loader::Epoch>()?;
    Ok(())
}
