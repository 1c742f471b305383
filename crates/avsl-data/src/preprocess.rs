//! File → network input, the whole reference path for one sample.

use std::path::Path;

use crate::audio::{shifted_model_signal, to_mono};
use crate::error::{DataError, Result};
use crate::frame_cache::{CachedResize, FrameCache};
use crate::image_io::{RgbImage, read_rgb};
use crate::spectrogram::{Spectrogram, log_spectrogram};
use crate::transform::{test_resize, to_normalized_chw};
use crate::wav::read_wav;

/// The log-spectrogram the audio network sees for a WAV file: the centred window of
/// `seconds` (3 in the published recipe).
pub fn load_spectrogram(path: &Path, seconds: f64) -> Result<Spectrogram> {
    let mut spectrograms = load_shifted_spectrograms(path, seconds, &[0.0])?;
    Ok(spectrograms.remove(0))
}

/// The spectrograms of the window moved by each of `shifts_seconds` (SSL-align's
/// augmented audio view; see [`shifted_model_signal`]), from one read of the file.
pub fn load_shifted_spectrograms(path: &Path, seconds: f64, shifts_seconds: &[f64]) -> Result<Vec<Spectrogram>> {
    let (pcm, _) = read_wav(path)?;
    let mono = to_mono(&pcm).map_err(|p| DataError::invalid(path, p))?;
    shifts_seconds
        .iter()
        .map(|&shift_seconds| {
            let shift = (shift_seconds * pcm.sample_rate as f64).round() as i64;
            let signal = shifted_model_signal(&mono, pcm.sample_rate, seconds, shift)
                .map_err(|p| DataError::invalid(path, p))?;
            let spec = log_spectrogram(&signal, pcm.sample_rate);
            if spec.frames == 0 {
                return Err(DataError::invalid(
                    path,
                    format!(
                        "{} Hz is too low a sample rate for a 512-point spectrogram of {seconds} s",
                        pcm.sample_rate
                    ),
                ));
            }
            Ok(spec)
        })
        .collect()
}

/// The `size`×`size` 8-bit frame the test pipeline feeds (before normalisation).
pub fn load_test_frame(path: &Path, size: usize) -> Result<RgbImage> {
    Ok(test_resize(&read_rgb(path)?, size))
}

/// The normalised CHW float32 test input of a frame.
pub fn load_test_image(path: &Path, size: usize) -> Result<Vec<f32>> {
    Ok(to_normalized_chw(&load_test_frame(path, size)?))
}

/// A frame resized as `resize`'s pipeline resizes it for inputs of side `size`
/// (`Resize(246)` for training, 224×224 for test): from `cache` when one is given (it
/// holds exactly these pixels), else decoded and resized.
pub fn resized_frame(path: &Path, resize: CachedResize, size: usize, cache: Option<&FrameCache>) -> Result<RgbImage> {
    match cache {
        Some(cache) => cache.read(path),
        None => Ok(resize.apply(&read_rgb(path)?, size)),
    }
}
