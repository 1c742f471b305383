//! Entry points that push arbitrary bytes through each parser and what consumes its
//! output, ignoring errors: the fuzz targets (`fuzz/`) call these, and the test suite
//! replays every saved fuzz input through them. Only a panic, a hang or a runaway
//! allocation is a failure.

use std::path::Path;

use crate::audio::{WINDOW_SECONDS, model_signal, to_mono};
use crate::spectrogram::log_spectrogram;

const NAME: &str = "<fuzz input>";

/// WAV decoding, down-mix, the 3 s window and the spectrogram.
pub fn wav(bytes: &[u8]) {
    if let Ok((pcm, _)) = crate::wav::decode_wav(bytes)
        && let Ok(mono) = to_mono(&pcm)
        && pcm.sample_rate <= 384_000
        && let Ok(signal) = model_signal(&mono, pcm.sample_rate, WINDOW_SECONDS)
    {
        log_spectrogram(&signal, pcm.sample_rate);
    }
}

/// JPEG/PNG decoding and the test resize.
pub fn image(bytes: &[u8]) {
    if let Ok(img) = crate::image_io::decode_rgb(bytes) {
        crate::transform::test_resize(&img, crate::transform::INPUT_SIZE);
    }
}

/// A Flickr-SoundNet annotation and its ground-truth map.
pub fn flickr_xml(bytes: &[u8]) {
    if let Ok(boxes) = crate::annotations::parse_flickr_xml(bytes, Path::new(NAME)) {
        avsl_metrics::GtMap::from_boxes(&boxes, avsl_metrics::BoxFormat::Flickr);
    }
}

/// `vggss.json` and the ground-truth maps of its entries.
pub fn vggss_json(bytes: &[u8]) {
    if let Ok(table) = crate::annotations::parse_vggss_json(bytes, Path::new(NAME)) {
        for boxes in table.values().take(4) {
            avsl_metrics::GtMap::from_boxes(boxes, avsl_metrics::BoxFormat::Vggss);
        }
    }
}

/// The csv lists (positives and non-sounding pairs).
pub fn csv_lists(bytes: &[u8]) {
    let _ = crate::lists::parse_test_ids(bytes, Path::new(NAME));
    let _ = crate::lists::parse_plus_silent(bytes, Path::new(NAME));
}

/// float32 `.npy` maps.
pub fn npy(bytes: &[u8]) {
    let _ = crate::npy::decode_npy_f32(bytes, Path::new(NAME));
}

/// The per-pair lists of every set (SSL-align's box and mask lists) and the ground-truth
/// maps of their boxes.
pub fn source_lists(bytes: &[u8]) {
    use crate::source_sets::{SourceSet, parse_mask_list, parse_source_list};
    for set in SourceSet::ALL {
        if let Ok(pairs) = parse_source_list(set, bytes, Path::new(NAME)) {
            for pair in pairs.iter().take(4) {
                avsl_metrics::GtMap::from_boxes(&[pair.gt_box], avsl_metrics::BoxFormat::Vggss);
            }
        }
        let _ = parse_mask_list(set, bytes, Path::new(NAME));
    }
}
