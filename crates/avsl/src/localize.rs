//! `avsl localize`: where in the picture is the sound coming from, and is anything visible
//! making it? One frame and a clip (`--image`, `--audio`), or a whole video
//! (`--video`, see `localize_video`). Maps, confidence and region are computed exactly as
//! `avsl eval` computes them, so a threshold calibrated by `avsl eval` (or carried by a
//! checkpoint `avsl train` wrote) means the same thing here.

use std::path::{Path, PathBuf};

use crate::progress::Console;
use anyhow::{Result, anyhow, bail};
use avsl_data::fsutil::write_atomic;
use avsl_data::image_io::{encode_png, read_rgb};
use avsl_data::npy::encode_npy_f32;
use avsl_model::EncoderSet;
use avsl_model::device::parse_device;
use clap::{Args, ValueEnum};
use serde_json::json;

use crate::device::model_threads;
use crate::localize_video::SlidingWindow;
use avsl_eval::localizer::{GRID, Localizer, LocalizerOptions, RESULT, located_json};

use crate::localize_overlay::overlay_layer;
use avsl_data::output::prepare_output_dir;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub enum EncodersArg {
    Online,
    Momentum,
}

impl From<EncodersArg> for EncoderSet {
    fn from(e: EncodersArg) -> EncoderSet {
        match e {
            EncodersArg::Online => EncoderSet::Online,
            EncodersArg::Momentum => EncoderSet::Momentum,
        }
    }
}

#[derive(Args)]
pub struct LocalizeArgs {
    /// The authors' .pth or an avsl .safetensors checkpoint.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// torchvision ResNet-18 state dict: blends in object guidance (the av_obj map).
    #[arg(long)]
    pub object_weights: Option<PathBuf>,
    /// Weight of the audio-visual map in the av_obj blend (default: the calibration's,
    /// else 0.9 for SLAVC, 0.4 for EZ-VSL).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// calibration.json from `avsl eval` on an extended test set (default: the one the
    /// checkpoint carries, if any).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Encoder set to run (default: the calibration's; else SLAVC's momentum encoders).
    #[arg(long, value_enum)]
    pub encoders: Option<EncodersArg>,
    /// A frame (JPEG or PNG); needs --audio.
    #[arg(long, requires = "audio", conflicts_with = "video", required_unless_present = "video")]
    pub image: Option<PathBuf>,
    /// A WAV clip heard with --image (its centred window, as in evaluation: 3 s for the
    /// published models, what the checkpoint was trained on otherwise).
    #[arg(long, requires = "image")]
    pub audio: Option<PathBuf>,
    /// A video (anything FFmpeg reads, with an audio stream).
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// Seconds of audio per step of a video (default: the window the model was trained
    /// on, 3 s for the published models).
    #[arg(long)]
    pub window: Option<f64>,
    /// Seconds between steps of a video.
    #[arg(long, default_value_t = 0.5)]
    pub step: f64,
    /// τ of an authors' .pth (our checkpoints store theirs).
    #[arg(long, default_value_t = 0.03)]
    pub tau: f64,
    /// Region = the top half of the min-max normalised map.
    #[arg(long, conflicts_with = "pred_thr")]
    pub relative_prediction: bool,
    /// Region = pixels scoring at least this.
    #[arg(long)]
    pub pred_thr: Option<f64>,
    /// Folder for the results.
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty folder that avsl did not create.
    #[arg(long)]
    pub force: bool,
    /// Threads for the model (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value = "cpu", help = crate::device::DEVICE_HELP)]
    pub device: String,
}

fn run_image(args: &LocalizeArgs, localizer: &Localizer, image: &Path, audio: &Path) -> Result<()> {
    let frame = read_rgb(image)?;
    let heard = localizer.hear(audio)?;
    if heard.tiled() {
        println!(
            "{}: {:.2} s, shorter than the {} s window the model listens to: tiled to fill it, as evaluation does",
            audio.display(),
            heard.clip_seconds,
            heard.window_seconds
        );
    }
    let located = localizer.locate(&frame, &heard.spectrogram);
    write_atomic(&args.out.join("heatmap.npy"), &encode_npy_f32(&[GRID, GRID], &located.map))?;
    let overlay = overlay_layer(localizer, &located, frame.width, frame.height).apply(&frame);
    write_atomic(&args.out.join("overlay.png"), &encode_png(&overlay))?;
    let mut result = located_json(localizer, &located, frame.width, frame.height);
    result["image"] = json!(image);
    result["audio"] = json!(audio);
    result["audio_window"] = heard.to_json();
    result["width"] = json!(frame.width);
    result["height"] = json!(frame.height);
    result["threshold"] = localizer.decision_json();
    result["model"] = localizer.model_json();
    result["heatmap"] = json!("heatmap.npy: the 224x224 float32 map the region is thresholded from");
    write_atomic(&args.out.join(RESULT), serde_json::to_string_pretty(&result)?.as_bytes())?;
    let decision = localizer.decide(located.confidence).unwrap_or("undecided");
    println!(
        "{decision}: confidence {:.4}{}, peak at ({}, {}) px",
        located.confidence,
        localizer.decision.as_ref().map(|d| format!(" (threshold {:.4})", d.threshold.threshold)).unwrap_or_default(),
        result["peak"]["x"],
        result["peak"]["y"]
    );
    Ok(())
}

/// What `localize` is asked to look at, checked before the model loads (so that a
/// missing file or FFmpeg is said at once).
enum Input<'a> {
    Video(avsl_data::video::Ffmpeg, &'a Path),
    Pair(&'a Path, &'a Path),
}

fn input(args: &LocalizeArgs) -> Result<Input<'_>> {
    if let Some(video) = &args.video {
        let ff = avsl_data::video::Ffmpeg::locate().map_err(|e| anyhow!("avsl localize --video needs FFmpeg: {e}"))?;
        if !video.is_file() {
            bail!("{}: no such video file", video.display());
        }
        anyhow::ensure!(args.window.is_none_or(|w| w > 0.0) && args.step > 0.0, "--window and --step must be positive");
        return Ok(Input::Video(ff, video));
    }
    let (Some(image), Some(audio)) = (&args.image, &args.audio) else {
        bail!("give --image and --audio, or --video");
    };
    for (p, what) in [(image, "image"), (audio, "audio")] {
        if !p.is_file() {
            bail!("{}: no such {what} file", p.display());
        }
    }
    Ok(Input::Pair(image, audio))
}

pub fn run(args: LocalizeArgs) -> Result<()> {
    let input = input(&args)?;
    let _lock = prepare_output_dir(&args.out, RESULT, args.force, &Console::default())?;
    model_threads(args.threads);
    let localizer = Localizer::new(&LocalizerOptions {
        checkpoint: args.checkpoint.clone(),
        object_weights: args.object_weights.clone(),
        alpha: args.alpha,
        calibration: args.calibration.clone(),
        encoders: args.encoders.map(EncoderSet::from),
        tau: args.tau,
        relative_prediction: args.relative_prediction,
        pred_thr: args.pred_thr,
        device: parse_device(&args.device)?,
    })?;
    if let Some(why) = &localizer.undecided {
        println!("{why}");
    }
    match input {
        Input::Video(ff, video) => {
            let seconds = args.window.unwrap_or(localizer.audio_seconds());
            let window = SlidingWindow { window: seconds, step: args.step, out: args.out.clone() };
            crate::localize_video::run(&window, &localizer, &ff, video)
        }
        Input::Pair(image, audio) => {
            run_image(&args, &localizer, image, audio)?;
            println!("results: {}", args.out.display());
            Ok(())
        }
    }
}
