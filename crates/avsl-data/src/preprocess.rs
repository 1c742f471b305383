//! File → network input, the whole reference path for one sample.

use std::path::Path;

use crate::audio::{centred_clip_signal, shifted_model_signal, to_mono};
use crate::error::{DataError, Result};
use crate::frame_cache::{CachedResize, FrameCache};
use crate::image_io::{RgbImage, read_rgb};
use crate::spectrogram::{Spectrogram, frame_count, log_spectrogram};
use crate::transform::{IMAGENET_MEAN, IMAGENET_STD, test_resize, to_normalized_chw};
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

/// How a test frame and clip become network inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestPipeline {
    /// SLAVC's and EZ-VSL's test loader (docs/method.md §1): Pillow's bicubic on the 8-bit
    /// frame, the clip's centred window of the model's seconds.
    Slavc,
    /// The SSL-align authors' test script (docs/method.md §4c): the frame as floats
    /// through torch's antialiased bicubic, the first `clip_seconds` of the clip tiled and
    /// centred, its spectrogram's centre columns.
    SslAlign { clip_seconds: f64 },
}

/// Sample rate at which the SSL-align script's crop of 200 columns is 3 s: a model of
/// another window gets the columns of that window at this rate.
const CROP_REFERENCE_RATE: f64 = 16_000.0;

impl TestPipeline {
    /// Its name in `metrics.json` and on the console.
    pub fn describe(self) -> String {
        match self {
            TestPipeline::Slavc => "slavc: Pillow bicubic 8-bit frame, centred audio window".into(),
            TestPipeline::SslAlign { clip_seconds } => format!(
                "ssl-align: float antialiased bicubic frame, first {clip_seconds} s of the clip tiled and centred, \
                 centre columns of its spectrogram"
            ),
        }
    }

    /// The normalised CHW float32 input of a frame, `size`×`size`.
    pub fn image(self, path: &Path, size: usize) -> Result<Vec<f32>> {
        match self {
            TestPipeline::Slavc => load_test_image(path, size),
            TestPipeline::SslAlign { .. } => load_float_resized_image(path, size),
        }
    }

    /// The spectrogram of a clip for a model whose window is `seconds`.
    pub fn spectrogram(self, path: &Path, seconds: f64) -> Result<Spectrogram> {
        match self {
            TestPipeline::Slavc => load_spectrogram(path, seconds),
            TestPipeline::SslAlign { clip_seconds } => {
                let columns = frame_count((CROP_REFERENCE_RATE * seconds).round() as usize);
                load_centre_columns(path, clip_seconds, columns)
            }
        }
    }
}

/// `ToTensor()`, torchvision's tensor `Resize((size, size), BICUBIC)` (antialiased,
/// skipped when the frame already has that size), `Normalize(ImageNet)`, all in float32.
pub fn load_float_resized_image(path: &Path, size: usize) -> Result<Vec<f32>> {
    let img = read_rgb(path)?;
    let plane = img.width * img.height;
    let mut chw = vec![0.0f32; 3 * plane];
    for (i, px) in img.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            chw[c * plane + i] = px[c] as f32 / 255.0;
        }
    }
    let mut out = crate::float_resize::resize_bicubic_antialiased(&chw, 3, (img.height, img.width), (size, size));
    for (c, values) in out.chunks_exact_mut(size * size).enumerate() {
        for v in values {
            *v = (*v - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        }
    }
    Ok(out)
}

/// The SSL-align script's spectrogram: of the whole clip's first `clip_seconds`, tiled and
/// centred (`crate::audio::centred_clip_signal`), then `CenterCrop` to its `columns`
/// middle frames (left edge `round((frames − columns) / 2)`, halves to even).
pub fn load_centre_columns(path: &Path, clip_seconds: f64, columns: usize) -> Result<Spectrogram> {
    let (pcm, _) = read_wav(path)?;
    let mono = to_mono(&pcm).map_err(|p| DataError::invalid(path, p))?;
    let signal = centred_clip_signal(&mono, pcm.sample_rate, clip_seconds).map_err(|p| DataError::invalid(path, p))?;
    let full = log_spectrogram(&signal, pcm.sample_rate);
    if full.frames < columns || columns == 0 {
        return Err(DataError::invalid(
            path,
            format!(
                "{} s at {} Hz give {} spectrogram frames, fewer than the {columns} the crop takes",
                clip_seconds, pcm.sample_rate, full.frames
            ),
        ));
    }
    let left = round_half_even((full.frames - columns) as f64 / 2.0);
    let values =
        full.values.chunks_exact(full.frames).flat_map(|row| row[left..left + columns].iter().copied()).collect();
    Ok(Spectrogram { frames: columns, values })
}

/// Python's `round` of a non-negative half-integer or integer.
fn round_half_even(x: f64) -> usize {
    let floor = x.floor();
    let r = if x - floor == 0.5 { if floor % 2.0 == 0.0 { floor } else { floor + 1.0 } } else { x.round() };
    r as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_round_halves_to_even_as_python() {
        assert_eq!([0.0, 0.5, 1.5, 2.5, 235.5, 67.5, 3.0].map(round_half_even), [0, 0, 2, 2, 236, 68, 3]);
    }
}
