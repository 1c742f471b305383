//! File → network input, the whole reference path for one sample.

use std::path::Path;

use rand::Rng;

use crate::audio::{WINDOW_SECONDS, model_signal, to_mono};
use crate::error::{DataError, Result};
use crate::frame_cache::{CachedResize, FrameCache};
use crate::image_io::{RgbImage, read_rgb};
use crate::spectrogram::{Spectrogram, log_spectrogram};
use crate::transform::{Crop, random_crop_flip, test_resize, to_normalized_chw, train_augment_with_crop};
use crate::wav::read_wav;

/// The log-spectrogram the audio network sees for a WAV file (3 s centred window).
pub fn load_spectrogram(path: &Path) -> Result<Spectrogram> {
    let (pcm, _) = read_wav(path)?;
    let mono = to_mono(&pcm).map_err(|p| DataError::invalid(path, p))?;
    let signal = model_signal(&mono, pcm.sample_rate, WINDOW_SECONDS).map_err(|p| DataError::invalid(path, p))?;
    let spec = log_spectrogram(&signal, pcm.sample_rate);
    if spec.frames == 0 {
        return Err(DataError::invalid(
            path,
            format!("{} Hz is too low a sample rate for a 512-point spectrogram of 3 s", pcm.sample_rate),
        ));
    }
    Ok(spec)
}

/// The 224×224 8-bit frame the test pipeline feeds (before normalisation).
pub fn load_test_frame(path: &Path) -> Result<RgbImage> {
    Ok(test_resize(&read_rgb(path)?))
}

/// The normalised CHW float32 test input of a frame.
pub fn load_test_image(path: &Path) -> Result<Vec<f32>> {
    Ok(to_normalized_chw(&load_test_frame(path)?))
}

/// The normalised CHW float32 training input of a frame (random resize-crop and flip),
/// with the crop it drew.
pub fn load_train_image(path: &Path, rng: &mut impl Rng) -> Result<(Vec<f32>, Crop)> {
    let (image, crop) = train_augment_with_crop(&read_rgb(path)?, rng);
    Ok((to_normalized_chw(&image), crop))
}

/// [`load_test_image`] from a cache of test-resized frames.
pub fn load_cached_test_image(cache: &FrameCache, path: &Path) -> Result<Vec<f32>> {
    debug_assert_eq!(cache.resize(), CachedResize::Test);
    Ok(to_normalized_chw(&cache.read(path)?))
}

/// [`load_train_image`] from a cache of training-resized frames: the same pixels and the
/// same random draws.
pub fn load_cached_train_image(cache: &FrameCache, path: &Path, rng: &mut impl Rng) -> Result<(Vec<f32>, Crop)> {
    debug_assert_eq!(cache.resize(), CachedResize::Train);
    let (image, crop) = random_crop_flip(&cache.read(path)?, rng);
    Ok((to_normalized_chw(&image), crop))
}
