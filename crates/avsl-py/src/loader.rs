//! `avsl.Loader`: the training loader (`avsl train`'s) as an iterable of numpy batches,
//! decoding on its own threads while Python runs the step.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use avsl_data::lists::{read_id_list, training_pairs};
use avsl_data::loader::{self, BatchIter, LoaderConfig};
use avsl_data::spectrogram::BINS;
use avsl_data::transform::InputShape;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use crate::errors;
use crate::inputs::f32_bytes;

/// The pairs of a training list, batched as `avsl train` batches them: shuffled and
/// augmented per (seed, epoch), the same batches for the same seed whatever the threads.
#[pyclass(frozen)]
pub struct Loader {
    inner: loader::Loader,
    ids: Vec<String>,
    image_size: usize,
    next_epoch: AtomicU64,
}

#[pymethods]
impl Loader {
    #[new]
    #[pyo3(signature = (
        data, *, train_list = None, batch_size = 128, threads = 4, seed = 0, shuffle = true, augment = true,
        drop_last = true, image_size = 224, audio_seconds = 3.0, skip_bad = false, prefetch = 2
    ))]
    #[allow(clippy::too_many_arguments)] // the CLI's flags, one keyword each
    fn new(
        data: PathBuf,
        train_list: Option<PathBuf>,
        batch_size: usize,
        threads: usize,
        seed: u64,
        shuffle: bool,
        augment: bool,
        drop_last: bool,
        image_size: usize,
        audio_seconds: f64,
        skip_bad: bool,
        prefetch: usize,
    ) -> PyResult<Loader> {
        if batch_size == 0 || threads == 0 || image_size == 0 || !audio_seconds.is_finite() || audio_seconds <= 0.0 {
            return Err(errors::value("batch_size, threads, image_size and audio_seconds must be positive"));
        }
        let list = train_list.unwrap_or_else(|| data.join("metadata").join("train.txt"));
        let ids = read_id_list(&list).map_err(errors::data)?;
        let pairs = training_pairs(&data, &ids, &list).map_err(errors::data)?;
        let config = LoaderConfig {
            batch_size,
            threads,
            prefetch: prefetch.max(1),
            seed,
            shuffle,
            augment,
            drop_last,
            skip_bad,
            frame_cache: None,
            align_views: None,
            input: InputShape { image_size, audio_seconds },
            classes: None,
        };
        let inner = loader::Loader::new(pairs, config).map_err(errors::data)?;
        Ok(Loader { inner, ids, image_size, next_epoch: AtomicU64::new(0) })
    }

    /// Samples in the list.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Batches in one epoch.
    #[getter]
    fn batches_per_epoch(&self) -> usize {
        self.inner.batches_per_epoch()
    }

    /// The batches of epoch `epoch` (0-based).
    fn epoch(slf: Bound<'_, Self>, epoch: u64) -> Epoch {
        let batches = slf.get().inner.epoch(epoch);
        Epoch { loader: slf.unbind(), batches: Mutex::new(batches) }
    }

    /// The next epoch's batches: iterating the loader again goes on to the next epoch.
    fn next_epoch(slf: Bound<'_, Self>) -> Epoch {
        let epoch = slf.get().next_epoch.fetch_add(1, Ordering::Relaxed);
        Loader::epoch(slf, epoch)
    }
}

/// One epoch's batches, as they are decoded.
#[pyclass(frozen)]
pub struct Epoch {
    loader: Py<Loader>,
    batches: Mutex<BatchIter>,
}

/// One batch for Python: images' bytes and shape, spectrograms' bytes and shape, ids,
/// the files left out as (path, problem).
type PyBatch<'py> = (
    Bound<'py, PyByteArray>,
    (usize, usize, usize, usize),
    Bound<'py, PyByteArray>,
    (usize, usize, usize, usize),
    Vec<String>,
    Vec<(String, String)>,
);

#[pymethods]
impl Epoch {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<PyBatch<'py>> {
        let next = py.detach(|| self.batches.lock().unwrap_or_else(|e| e.into_inner()).next());
        let batch = match next {
            None => return Err(PyStopIteration::new_err(())),
            Some(batch) => batch.map_err(errors::data)?,
        };
        let loader = self.loader.get();
        let n = batch.views * batch.len();
        let frames = batch.spectrograms.first().map_or(0, |s| s.frames);
        if batch.spectrograms.iter().any(|s| s.frames != frames) {
            return Err(errors::value("a batch mixes audio sample rates (spectrograms of different widths)"));
        }
        let spectrograms: Vec<f32> = batch.spectrograms.iter().flat_map(|s| s.values.iter().copied()).collect();
        let ids = batch.indices.iter().map(|&i| loader.ids[i].clone()).collect();
        let skipped =
            batch.skipped.iter().map(|(_, bad)| (bad.path.display().to_string(), bad.problem.clone())).collect();
        let side = loader.image_size;
        Ok((
            f32_bytes(py, &batch.images),
            (n, 3, side, side),
            f32_bytes(py, &spectrograms),
            (n, 1, BINS, frames),
            ids,
            skipped,
        ))
    }
}
