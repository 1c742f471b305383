//! A model ready to localise frame/sound pairs as `avsl eval` scores them (the same
//! scoring code), with a calibrated "sounding / not sounding" decision; and how a
//! localisation is reported in result.json.

use std::path::{Path, PathBuf};

use avsl_data::audio::{model_signal, to_mono};
use avsl_data::image_io::RgbImage;
use avsl_data::spectrogram::{Spectrogram, log_spectrogram};
use avsl_data::transform::{INPUT_SIZE, test_resize, to_normalized_chw};
use avsl_data::wav::read_wav;
use avsl_metrics::calibration::{Calibration, Threshold};
use avsl_metrics::scoring::{Map, ScoringConfig, localize};
use avsl_metrics::{MapKind, Prediction};
use avsl_model::checkpoint::{CALIBRATION_KEY, Checkpoint, read_checkpoint};
use avsl_model::embedding::pair_map;
use avsl_model::ogl::ObjectSaliency;
use avsl_model::{EncoderSet, Encoders};
use burn::tensor::{Device, Tensor, TensorData};
use serde_json::{Value, json};

use crate::error::EvalError;
use crate::scoring::protocol_of;
use avsl_data::fingerprint::sha256_file;

pub const GRID: usize = INPUT_SIZE;
pub const RESULT: &str = "result.json";

/// What a [`Localizer`] runs and how it decides.
pub struct LocalizerOptions {
    /// The authors' .pth or an avsl .safetensors checkpoint.
    pub checkpoint: PathBuf,
    /// torchvision's ResNet-18: blends in object guidance (the av_obj map).
    pub object_weights: Option<PathBuf>,
    /// Weight of the audio-visual map in the av_obj blend (default: the calibration's,
    /// else the protocol's).
    pub alpha: Option<f64>,
    /// calibration.json from `avsl eval` (default: the one the checkpoint carries).
    pub calibration: Option<PathBuf>,
    /// Encoder set (default: the calibration's; else the architecture's evaluated set).
    pub encoders: Option<EncoderSet>,
    /// τ of an authors' .pth (our checkpoints store theirs).
    pub tau: f64,
    /// Region = the top half of the min-max normalised map.
    pub relative_prediction: bool,
    /// Region = pixels scoring at least this.
    pub pred_thr: Option<f64>,
    pub device: Device,
}

/// The decision rule: a calibrated threshold, where it came from.
pub struct Decision {
    pub threshold: Threshold,
    pub from: String,
}

/// A model ready to localise pairs, with the scoring of its calibration.
pub struct Localizer {
    encoders: Encoders,
    objects: Option<ObjectSaliency>,
    pub scoring: ScoringConfig,
    pub variant: &'static str,
    pub decision: Option<Decision>,
    /// Why there is no decision, when there is none.
    pub undecided: Option<String>,
    device: Device,
    checkpoint: PathBuf,
    object_weights: Option<PathBuf>,
}

/// What the model hears of one clip.
pub struct Heard {
    pub spectrogram: Spectrogram,
    /// The clip's length.
    pub clip_seconds: f64,
    /// The window the model listens to; a shorter clip is tiled to fill it.
    pub window_seconds: f64,
}

impl Heard {
    pub fn tiled(&self) -> bool {
        self.clip_seconds < self.window_seconds
    }

    /// As result.json reports it (`audio_window`).
    pub fn to_json(&self) -> Value {
        json!({"clip_seconds": self.clip_seconds, "window_seconds": self.window_seconds, "tiled": self.tiled()})
    }
}

/// One localisation, in the model's 224×224 grid.
pub struct Located {
    pub map: Vec<f32>,
    pub confidence: f32,
    pub region: Vec<bool>,
    /// The connected part of the region that holds the peak: "the predicted region"
    /// outlined on overlays and boxed in result.json.
    pub peak_region: Vec<bool>,
    /// Column and row of the map's maximum (the first one in row-major order).
    pub peak: (usize, usize),
    /// The bounding box `[x0, y0, x1, y1)` of `peak_region`; `None` when the peak is
    /// outside the region (a fixed threshold above it).
    pub region_box: Option<[usize; 4]>,
}

fn read_calibration(path: &Path) -> Result<Calibration, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| EvalError::invalid(path, format!("not a calibration.json written by avsl eval: {e}")))
}

/// The explicit calibration (checked against the checkpoint's bytes) or the one the
/// checkpoint carries.
fn find_calibration(
    options: &LocalizerOptions,
    checkpoint: &Checkpoint,
) -> Result<Option<(Calibration, String)>, EvalError> {
    if let Some(path) = &options.calibration {
        let c = read_calibration(path)?;
        if let Some(expected) = &c.checkpoint_sha256 {
            let actual = sha256_file(&options.checkpoint)?;
            if &actual != expected {
                return Err(EvalError::invalid(
                    path,
                    format!(
                        "measured on other weights ({}, SHA-256 {expected}) than {} (SHA-256 {actual}); a threshold \
                         belongs to the weights it was measured on",
                        c.checkpoint.as_deref().unwrap_or("?"),
                        options.checkpoint.display()
                    ),
                ));
            }
        }
        return Ok(Some((c, path.display().to_string())));
    }
    match checkpoint.metadata.get(CALIBRATION_KEY) {
        Some(json) => {
            let c: Calibration = serde_json::from_str(json).map_err(|e| {
                EvalError::invalid(&options.checkpoint, format!("its calibration metadata is not readable: {e}"))
            })?;
            let from = format!("{} ({})", options.checkpoint.display(), c.source);
            Ok(Some((c, from)))
        }
        None => Ok(None),
    }
}

impl Localizer {
    pub fn new(options: &LocalizerOptions) -> Result<Localizer, EvalError> {
        let device = options.device.clone();
        let checkpoint = read_checkpoint(&options.checkpoint)?;
        let config = checkpoint.config(options.tau, None)?;
        let calibration = find_calibration(options, &checkpoint)?;
        let calibrated_set = match &calibration {
            Some((c, from)) => Some(EncoderSet::parse(&c.encoders).ok_or_else(|| {
                EvalError::Options(format!("{from}: unknown encoder set {:?} in the calibration", c.encoders))
            })?),
            None => None,
        };
        let set = match (options.encoders, calibrated_set) {
            (Some(asked), Some(calibrated)) if asked != calibrated => {
                return Err(EvalError::Options(format!(
                    "--encoders differs from the calibration's ({}): its threshold holds only for the encoders it \
                     was measured with",
                    calibrated.name()
                )));
            }
            (Some(set), _) | (None, Some(set)) => set,
            (None, None) => config.architecture.evaluated_set(),
        };
        let variant = if options.object_weights.is_some() { "av_obj" } else { "av" };
        let protocol = match &calibration {
            Some((c, from)) => c
                .protocol()
                .ok_or_else(|| EvalError::Options(format!("{from}: unknown protocol in the calibration")))?,
            None => protocol_of(config.architecture),
        };
        let calibrated_alpha = calibration.as_ref().and_then(|(c, _)| c.alpha());
        let alpha = match (options.alpha, calibrated_alpha) {
            (Some(a), Some(c)) if variant == "av_obj" && (a - c).abs() > 1e-12 => {
                return Err(EvalError::Options(format!(
                    "--alpha {a}: the calibration was measured with alpha {c}, and the av_obj confidence depends on it"
                )));
            }
            (Some(a), _) => a,
            (None, Some(c)) => c,
            (None, None) => protocol.default_alpha(),
        };
        let prediction = match (options.relative_prediction, options.pred_thr) {
            (true, _) => Prediction::Relative { size: 0.5 },
            (false, Some(t)) => Prediction::Fixed { threshold: t },
            (false, None) => {
                calibration.as_ref().and_then(|(c, _)| c.prediction()).unwrap_or(protocol.default_prediction())
            }
        };
        let scoring = ScoringConfig { alpha, tau: config.tau, map_kind: MapKind::Logits, prediction, protocol };
        let (decision, undecided) = match calibration {
            None => (
                None,
                Some(
                    "no calibrated threshold (the checkpoint carries none and no --calibration was given): confidence \
                     only. avsl eval on an extended test set (e.g. --testset vggss_plus_silent) writes \
                     calibration.json"
                        .to_string(),
                ),
            ),
            Some((c, from)) => match c.variants.get(variant) {
                Some(t) => (Some(Decision { threshold: *t, from }), None),
                None => (
                    None,
                    Some(format!(
                        "{from} has no threshold for the {variant} map (it was measured without object weights)"
                    )),
                ),
            },
        };
        let objects = options.object_weights.as_deref().map(|path| ObjectSaliency::open(path, &device)).transpose()?;
        let encoders = checkpoint.into_encoders(config, set, &device)?;
        Ok(Localizer {
            encoders,
            objects,
            scoring,
            variant,
            decision,
            undecided,
            device,
            checkpoint: options.checkpoint.clone(),
            object_weights: options.object_weights.clone(),
        })
    }

    /// Seconds of sound the model hears (the window it was trained on).
    pub fn audio_seconds(&self) -> f64 {
        self.encoders.config.audio_seconds
    }

    /// What the model hears of a WAV clip: its centred window of
    /// [`Localizer::audio_seconds`], a shorter clip tiled to fill it as evaluation does.
    pub fn hear(&self, audio: &Path) -> Result<Heard, EvalError> {
        let (pcm, _) = read_wav(audio)?;
        let mono = to_mono(&pcm).map_err(|p| EvalError::invalid(audio, p))?;
        self.hear_samples(&mono, pcm.sample_rate).map_err(|problem| EvalError::invalid(audio, problem))
    }

    /// [`Localizer::hear`] for a clip's mono 16-bit samples (what a WAV file holds, after
    /// the reference down-mix); the problem, if any, without a file name.
    pub fn hear_samples(&self, mono: &[i16], sample_rate: u32) -> Result<Heard, String> {
        let window = self.audio_seconds();
        let signal = model_signal(mono, sample_rate, window).map_err(|p| p.to_string())?;
        let spectrogram = log_spectrogram(&signal, sample_rate);
        if spectrogram.frames == 0 {
            return Err(format!("{sample_rate} Hz is too low a sample rate for a 512-point spectrogram of {window} s"));
        }
        Ok(Heard { spectrogram, clip_seconds: mono.len() as f64 / sample_rate as f64, window_seconds: window })
    }

    /// Where the sound of `spectrogram` is in `frame`.
    pub fn locate(&self, frame: &RgbImage, spectrogram: &Spectrogram) -> Located {
        let side = self.encoders.config.image_size;
        let input = to_normalized_chw(&test_resize(frame, side));
        let x = Tensor::<4>::from_data(TensorData::new(input, [1, 3, side, side]), &self.device);
        let image = self.encoders.embed_images(x.clone()).remove(0);
        let bins = spectrogram.values.len() / spectrogram.frames;
        let s = Tensor::<4>::from_data(
            TensorData::new(spectrogram.values.clone(), [1, 1, bins, spectrogram.frames]),
            &self.device,
        );
        let audio = self.encoders.embed_audio(s).remove(0);
        let av = Map { h: image.h, w: image.w, values: pair_map(&image, &audio, self.scoring.tau) };
        let obj = self.objects.as_ref().map(|o| {
            let m = o.maps(x);
            let [_, h, w] = m.dims();
            Map { h, w, values: m.into_data().try_to_vec::<f32>().expect("float32 object maps") }
        });
        let mut variants = localize(&av, obj.as_ref(), &self.scoring);
        let chosen = variants.iter().position(|v| v.variant == self.variant).expect("variant computed");
        let v = variants.swap_remove(chosen);
        let peak = argmax(&v.map);
        let (peak_region, region_box) = component(&v.region, peak);
        Located { map: v.map, confidence: v.confidence, region: v.region, peak_region, peak, region_box }
    }

    /// "sounding" / "not sounding", or `None` without a calibrated threshold.
    pub fn decide(&self, confidence: f32) -> Option<&'static str> {
        self.decision
            .as_ref()
            .map(|d| if f64::from(confidence) >= d.threshold.threshold { "sounding" } else { "not sounding" })
    }

    /// The threshold and its provenance for result.json.
    pub fn decision_json(&self) -> Value {
        match &self.decision {
            Some(d) => json!({"threshold": d.threshold.threshold, "precision": d.threshold.precision,
                              "recall": d.threshold.recall, "f1": d.threshold.f1, "iou": d.threshold.iou,
                              "from": d.from, "rule": "sounding when confidence >= threshold (max-F1 on the calibration set)"}),
            None => Value::Null,
        }
    }

    pub fn model_json(&self) -> Value {
        json!({
            "checkpoint": self.checkpoint,
            "architecture": self.encoders.config.architecture.name(),
            "encoders": self.encoders.set.name(),
            "object_weights": self.object_weights,
            "variant": self.variant,
            "scoring": self.scoring.to_json(),
        })
    }

    /// The one-line label drawn on overlays.
    pub fn label(&self, located: &Located) -> String {
        match (&self.decision, self.decide(located.confidence)) {
            (Some(d), Some(decision)) => {
                format!("{decision}  (confidence {:.3}, threshold {:.3})", located.confidence, d.threshold.threshold)
            }
            _ => format!("confidence {:.3} (no calibrated threshold)", located.confidence),
        }
    }
}

/// Index of the largest value (the first among equals; NaN never wins) as (column, row).
fn argmax(map: &[f32]) -> (usize, usize) {
    let mut best = 0;
    for (i, &v) in map.iter().enumerate() {
        if v > map[best] || map[best].is_nan() {
            best = i;
        }
    }
    (best % GRID, best / GRID)
}

/// The 4-connected part of `region` holding `seed` (empty when the seed is outside the
/// region), and its bounding box `[x0, y0, x1, y1)`.
fn component(region: &[bool], seed: (usize, usize)) -> (Vec<bool>, Option<[usize; 4]>) {
    let at = |x: usize, y: usize| y * GRID + x;
    let mut part = vec![false; region.len()];
    if !region[at(seed.0, seed.1)] {
        return (part, None);
    }
    let mut stack = vec![seed];
    part[at(seed.0, seed.1)] = true;
    let mut b = [seed.0, seed.1, seed.0 + 1, seed.1 + 1];
    while let Some((x, y)) = stack.pop() {
        b = [b[0].min(x), b[1].min(y), b[2].max(x + 1), b[3].max(y + 1)];
        let neighbours = [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)];
        for (nx, ny) in neighbours {
            if nx < GRID && ny < GRID && region[at(nx, ny)] && !part[at(nx, ny)] {
                part[at(nx, ny)] = true;
                stack.push((nx, ny));
            }
        }
    }
    (part, Some(b))
}

/// The peak and box of a localisation in a `width`×`height` frame's pixels (the test
/// transform resizes the whole frame to 224×224, so each axis scales on its own).
pub fn in_frame(l: &Located, width: usize, height: usize) -> ((usize, usize), Option<[usize; 4]>) {
    let (sx, sy) = (width as f64 / GRID as f64, height as f64 / GRID as f64);
    let px = (((l.peak.0 as f64 + 0.5) * sx) as usize).min(width - 1);
    let py = (((l.peak.1 as f64 + 0.5) * sy) as usize).min(height - 1);
    let b = l.region_box.map(|[x0, y0, x1, y1]| {
        [
            (x0 as f64 * sx).floor() as usize,
            (y0 as f64 * sy).floor() as usize,
            ((x1 as f64 * sx).ceil() as usize).min(width),
            ((y1 as f64 * sy).ceil() as usize).min(height),
        ]
    });
    ((px, py), b)
}

/// One localisation as result.json reports it (original pixels; box corners exclusive).
pub fn located_json(localizer: &Localizer, l: &Located, width: usize, height: usize) -> Value {
    let ((px, py), b) = in_frame(l, width, height);
    json!({
        "confidence": l.confidence,
        "decision": localizer.decide(l.confidence),
        "peak": {"x": px, "y": py},
        "box": b.map(|[x0, y0, x1, y1]| json!({"xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1})),
        "region_fraction": l.region.iter().filter(|&&r| r).count() as f64 / l.region.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_box_is_the_peak_component_and_maps_to_frame_pixels() {
        let mut region = vec![false; GRID * GRID];
        for y in 10..20 {
            for x in 30..60 {
                region[y * GRID + x] = true;
            }
        }
        region[100 * GRID + 100] = true; // another component
        let (part, b) = component(&region, (40, 15));
        assert_eq!(b, Some([30, 10, 60, 20]));
        assert_eq!(part.iter().filter(|&&p| p).count(), 300, "the other component is not part of it");
        assert_eq!(component(&region, (0, 0)).1, None);
        let mut map = vec![0.0f32; GRID * GRID];
        map[15 * GRID + 40] = 1.0;
        assert_eq!(argmax(&map), (40, 15));
        let l = Located { map, confidence: 0.0, region, peak_region: part, peak: (40, 15), region_box: b };
        // 448×112: x scales by 2, y by 0.5.
        let ((px, py), b) = in_frame(&l, 448, 112);
        assert_eq!((px, py), (81, 7));
        assert_eq!(b, Some([60, 5, 120, 10]));
    }
}
