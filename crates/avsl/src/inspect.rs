//! `avsl inspect`: what the model sees for an audio file and a frame.

use std::path::{Path, PathBuf};

use crate::progress::Console;
use anyhow::Result;
use avsl_data::audio::{WINDOW_SECONDS, centred_window, to_mono};
use avsl_data::fsutil::write_atomic;
use avsl_data::image_io::{encode_png, read_rgb};
use avsl_data::npy::write_npy_f32;
use avsl_data::preprocess::load_spectrogram;
use avsl_data::spectrogram::BINS;
use avsl_data::transform::{INPUT_SIZE, test_resize, to_normalized_chw};
use avsl_data::wav::read_wav;
use clap::Args;

use crate::colormap::render_map;
use avsl_data::output::prepare_output_dir;

#[derive(Args)]
pub struct InspectArgs {
    /// A WAV file.
    #[arg(long)]
    pub audio: PathBuf,
    /// A JPEG or PNG frame.
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Folder for spectrogram.npy/png, image_224.png, image_tensor.npy, inspect.json.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub force: bool,
}

/// Writes the model's view of one pair into `out`; returns the JSON summary.
pub fn inspect_pair(audio: &Path, image: Option<&Path>, out: &Path) -> Result<serde_json::Value> {
    let (pcm, encoding) = read_wav(audio)?;
    let mono = to_mono(&pcm).map_err(|p| anyhow::anyhow!("{}: {p}", audio.display()))?;
    let (start, len) = centred_window(mono.len(), pcm.sample_rate, WINDOW_SECONDS);
    let spec = load_spectrogram(audio, WINDOW_SECONDS)?;
    write_npy_f32(&out.join("spectrogram.npy"), &[BINS, spec.frames], &spec.values)?;
    let picture = render_map(&spec.values, BINS, spec.frames, 2, true);
    write_atomic(&out.join("spectrogram.png"), &encode_png(&picture))?;
    let mut summary = serde_json::json!({
        "audio": {
            "file": audio,
            "sample_rate": pcm.sample_rate,
            "channels": pcm.channels,
            "bits_per_sample": encoding.bits_per_sample,
            "float": encoding.float,
            "frames": pcm.frames(),
            "seconds": pcm.frames() as f64 / pcm.sample_rate as f64,
            "window_start_sample": start,
            "window_samples": len,
            "tiled": (len as f64) < pcm.sample_rate as f64 * WINDOW_SECONDS,
            "spectrogram_shape": [BINS, spec.frames],
        }
    });
    if let Some(image) = image {
        let original = read_rgb(image)?;
        let resized = test_resize(&original, INPUT_SIZE);
        write_atomic(&out.join("image_224.png"), &encode_png(&resized))?;
        write_npy_f32(&out.join("image_tensor.npy"), &[3, 224, 224], &to_normalized_chw(&resized))?;
        summary["image"] = serde_json::json!({
            "file": image,
            "width": original.width,
            "height": original.height,
            "tensor_shape": [3, 224, 224],
        });
    }
    write_atomic(&out.join("inspect.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(summary)
}

pub fn run(args: InspectArgs) -> Result<()> {
    let _lock = prepare_output_dir(&args.out, "inspect.json", args.force, &Console::default())?;
    let s = inspect_pair(&args.audio, args.image.as_deref(), &args.out)?;
    let a = &s["audio"];
    println!(
        "{}: {} Hz, {} ch, {:.2} s -> spectrogram {}x{} (window from sample {}, {} samples{})",
        args.audio.display(),
        a["sample_rate"],
        a["channels"],
        a["seconds"].as_f64().unwrap_or(0.0),
        BINS,
        a["spectrogram_shape"][1],
        a["window_start_sample"],
        a["window_samples"],
        if a["tiled"].as_bool().unwrap_or(false) { ", tiled to 3 s" } else { "" }
    );
    if let Some(img) = s.get("image") {
        println!("{}: {}x{} -> 224x224", args.image.as_ref().unwrap().display(), img["width"], img["height"]);
    }
    println!("wrote {}", args.out.display());
    Ok(())
}
