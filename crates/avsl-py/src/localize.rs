//! `avsl.Localizer`: `avsl localize --image --audio` from Python, with the model loaded
//! once.

use std::path::PathBuf;

use avsl_data::audio::to_mono;
use avsl_data::image_io::{RgbImage, read_rgb};
use avsl_data::wav::Pcm16;
use avsl_eval::localizer::{self, LocalizerOptions};
use avsl_model::EncoderSet;
use avsl_model::device::parse_device;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use crate::errors;
use crate::inputs::f32_bytes;

/// A checkpoint ready to localise frame/sound pairs, with its calibrated decision.
#[pyclass(frozen)]
pub struct Localizer {
    inner: localizer::Localizer,
}

#[pymethods]
impl Localizer {
    #[new]
    #[pyo3(signature = (
        checkpoint, *, object_weights = None, alpha = None, calibration = None, encoders = None, tau = 0.03,
        relative_prediction = false, pred_thr = None, device = "cpu"
    ))]
    #[allow(clippy::too_many_arguments)] // the CLI's flags, one keyword each
    fn new(
        py: Python<'_>,
        checkpoint: PathBuf,
        object_weights: Option<PathBuf>,
        alpha: Option<f64>,
        calibration: Option<PathBuf>,
        encoders: Option<&str>,
        tau: f64,
        relative_prediction: bool,
        pred_thr: Option<f64>,
        device: &str,
    ) -> PyResult<Localizer> {
        let encoders = match encoders {
            None => None,
            Some("online") => Some(EncoderSet::Online),
            Some("momentum") => Some(EncoderSet::Momentum),
            Some(other) => {
                return Err(errors::value(format!("encoders {other:?}: expected \"online\" or \"momentum\"")));
            }
        };
        let options = LocalizerOptions {
            checkpoint,
            object_weights,
            alpha,
            calibration,
            encoders,
            tau,
            relative_prediction,
            pred_thr,
            device: parse_device(device).map_err(|e| errors::value(e.to_string()))?,
        };
        let inner = py.detach(|| localizer::Localizer::new(&options)).map_err(errors::eval)?;
        Ok(Localizer { inner })
    }

    /// Seconds of sound the model hears.
    #[getter]
    fn audio_seconds(&self) -> f64 {
        self.inner.audio_seconds()
    }

    /// Why the model has no sounding/not-sounding decision (no calibration), or None.
    #[getter]
    fn undecided(&self) -> Option<String> {
        self.inner.undecided.clone()
    }

    /// Localises one pair. `frame` is an image file, or `frame_rgb` its pixels (bytes of
    /// a height×width×3 uint8 array); `audio` a WAV file, or `audio_pcm` its samples
    /// (bytes of int16 samples, interleaved when stereo; channels; sample rate). Returns
    /// result.json's text (original pixels, box corners exclusive) and the 224×224 float32
    /// map's bytes.
    #[pyo3(signature = (audio = None, audio_pcm = None, frame = None, frame_rgb = None))]
    fn locate<'py>(
        &self,
        py: Python<'py>,
        audio: Option<PathBuf>,
        audio_pcm: Option<(Bound<'py, PyBytes>, u16, u32)>,
        frame: Option<PathBuf>,
        frame_rgb: Option<(Bound<'py, PyBytes>, usize, usize)>,
    ) -> PyResult<(String, Bound<'py, PyByteArray>)> {
        let pixels = match (frame, frame_rgb) {
            (Some(path), None) => py.detach(|| read_rgb(&path)).map_err(errors::data)?,
            (None, Some((bytes, height, width))) => {
                let data = bytes.as_bytes().to_vec();
                if data.len() != width * height * 3 || width == 0 || height == 0 {
                    return Err(errors::value(format!(
                        "frame: {} bytes are not a {height}x{width}x3 uint8 image",
                        data.len()
                    )));
                }
                RgbImage { width, height, data }
            }
            _ => return Err(errors::value("give the frame as a file or as an array, once")),
        };
        let inner = &self.inner;
        let heard = match (audio, audio_pcm) {
            (Some(path), None) => py.detach(|| inner.hear(&path)).map_err(errors::eval)?,
            (None, Some((bytes, channels, sample_rate))) => {
                let samples: Vec<i16> =
                    bytes.as_bytes().chunks_exact(2).map(|b| i16::from_ne_bytes([b[0], b[1]])).collect();
                let pcm = Pcm16 { sample_rate, channels, samples };
                let mono = to_mono(&pcm).map_err(|p| errors::value(format!("audio: {p}")))?;
                inner.hear_samples(&mono, sample_rate).map_err(|p| errors::value(format!("audio: {p}")))?
            }
            _ => return Err(errors::value("give the audio as a file or as samples, once")),
        };
        let located = py.detach(|| inner.locate(&pixels, &heard.spectrogram));
        let mut result = localizer::located_json(inner, &located, pixels.width, pixels.height);
        result["width"] = pixels.width.into();
        result["height"] = pixels.height.into();
        result["audio_window"] = heard.to_json();
        result["threshold"] = inner.decision_json();
        result["model"] = inner.model_json();
        Ok((result.to_string(), f32_bytes(py, &located.map)))
    }
}
