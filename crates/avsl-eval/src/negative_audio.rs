//! Negative-audio tests (docs/negative-audio.md): every positive frame of a test list
//! paired with a sound that comes from nothing in it — silence, white noise, pink noise,
//! another clip of the list — so that a localiser which follows the picture and ignores
//! the sound shows itself (SLAVC's extended sets with mismatched clips; AVSBench-Robust,
//! Li et al. 2025, arXiv 2502.00358, with silence, noise and off-screen sounds).

use std::collections::HashSet;
use std::path::Path;

use avsl_data::fsutil::create_dir_all;
use avsl_data::testset::TestSample;
use avsl_data::wav::{Pcm16, write_wav_i16};
use avsl_metrics::evaluate::{ap_exact, ap_official, max_f1_exact, max_f1_point};
use avsl_metrics::score::SampleResult;
use serde_json::{Value, json};

use crate::error::EvalError;

/// A kind of sound that should localise nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NegativeKind {
    /// All-zero samples.
    Silence,
    /// Gaussian-like white noise at −20 dBFS RMS.
    WhiteNoise,
    /// Pink (1/f) noise at −20 dBFS RMS.
    PinkNoise,
    /// Another positive's clip (its frame shows something else).
    Mismatched,
}

impl NegativeKind {
    pub const ALL: [NegativeKind; 4] =
        [NegativeKind::Silence, NegativeKind::WhiteNoise, NegativeKind::PinkNoise, NegativeKind::Mismatched];

    pub fn name(self) -> &'static str {
        match self {
            NegativeKind::Silence => "silence",
            NegativeKind::WhiteNoise => "white_noise",
            NegativeKind::PinkNoise => "pink_noise",
            NegativeKind::Mismatched => "mismatched",
        }
    }

    pub fn parse(name: &str) -> Option<NegativeKind> {
        NegativeKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Generated clips: 10 s at 16 kHz, the length and rate of a VGG-Sound clip.
const RATE: u32 = 16_000;
const SECONDS: usize = 10;
/// RMS of the noises, −20 dBFS.
const NOISE_RMS: f64 = 32767.0 * 0.1;

/// xorshift64*: a fixed, seedable source (the clips are the same on every machine).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Sum of 12 uniforms − 6: near-Gaussian, unit variance.
    fn gaussian(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

/// The samples of a generated clip of `kind` (not `Mismatched`), seeded by `seed`.
pub fn generated_clip(kind: NegativeKind, seed: u64) -> Vec<i16> {
    let n = RATE as usize * SECONDS;
    let mut noise = Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let values: Vec<f64> = match kind {
        NegativeKind::Silence | NegativeKind::Mismatched => vec![0.0; n],
        NegativeKind::WhiteNoise => (0..n).map(|_| noise.gaussian()).collect(),
        NegativeKind::PinkNoise => {
            // Paul Kellet's filter of white noise, −3 dB an octave: at 16 kHz, power ×
            // frequency is flat within 0.05 dB from 31 Hz to 7.9 kHz (scipy's Welch, 60 s).
            let mut b = [0.0f64; 7];
            (0..n)
                .map(|_| {
                    let w = noise.gaussian();
                    b[0] = 0.99886 * b[0] + w * 0.0555179;
                    b[1] = 0.99332 * b[1] + w * 0.0750759;
                    b[2] = 0.96900 * b[2] + w * 0.1538520;
                    b[3] = 0.86650 * b[3] + w * 0.3104856;
                    b[4] = 0.55000 * b[4] + w * 0.5329522;
                    b[5] = -0.7616 * b[5] - w * 0.0168980;
                    let pink = b[..6].iter().sum::<f64>() + b[6] + w * 0.5362;
                    b[6] = w * 0.115926;
                    pink
                })
                .collect()
        }
    };
    let rms = (values.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    let gain = if rms > 0.0 { NOISE_RMS / rms } else { 0.0 };
    values.iter().map(|v| (v * gain).round().clamp(-32768.0, 32767.0) as i16).collect()
}

/// The derived negatives of `positives` for each of `kinds`, generated clips written under
/// `dir/<kind>/<id>.wav`: each positive's frame with that sound, no boxes. A mismatched
/// negative takes the clip of the positive half the list away (another video). Returns
/// the samples and, for each, its kind.
pub fn derive(
    positives: &[TestSample],
    kinds: &[NegativeKind],
    dir: &Path,
) -> Result<Vec<(NegativeKind, TestSample)>, EvalError> {
    let positives: Vec<&TestSample> = positives.iter().filter(|s| s.has_boxes()).collect();
    let n = positives.len();
    let mut out = Vec::new();
    for &kind in kinds {
        for (i, p) in positives.iter().enumerate() {
            let (audio_id, audio) = if kind == NegativeKind::Mismatched {
                if n < 2 {
                    return Err(EvalError::Options("mismatched clips need at least two positives".into()));
                }
                let other = positives[(i + n / 2) % n];
                (other.audio_id.clone(), other.audio.clone())
            } else {
                let folder = dir.join(kind.name());
                create_dir_all(&folder)?;
                let path = folder.join(format!("{}.wav", p.video_id));
                let pcm = Pcm16 { channels: 1, sample_rate: RATE, samples: generated_clip(kind, i as u64 + 1) };
                write_wav_i16(&path, &pcm)?;
                (format!("{}/{}", kind.name(), p.video_id), path)
            };
            out.push((
                kind,
                TestSample {
                    name: p.name.clone(),
                    video_id: p.video_id.clone(),
                    audio_id,
                    frame: p.frame.clone(),
                    audio,
                    boxes: Vec::new(),
                },
            ));
        }
    }
    Ok(out)
}

/// Per kind: AP and max-F1 at IoU 0.5 over the positives and that kind's negatives, and
/// the fraction of its negatives whose confidence is under `threshold` (the decision
/// threshold: a negative under it is correctly called "not sounding").
pub fn report(results: &[SampleResult], derived: &[(NegativeKind, (String, String))], threshold: f64) -> Value {
    let positives: Vec<&SampleResult> = results.iter().filter(|r| r.bb > 0).collect();
    let mut out = serde_json::Map::new();
    let kinds: Vec<NegativeKind> =
        NegativeKind::ALL.into_iter().filter(|k| derived.iter().any(|d| d.0 == *k)).collect();
    for kind in kinds {
        let keys: HashSet<(&str, &str)> =
            derived.iter().filter(|d| d.0 == kind).map(|(_, (v, a))| (v.as_str(), a.as_str())).collect();
        let negatives: Vec<&SampleResult> =
            results.iter().filter(|r| r.bb == 0 && keys.contains(&(r.video.as_str(), r.audio.as_str()))).collect();
        let rows: Vec<&SampleResult> = positives.iter().chain(&negatives).copied().collect();
        let under = negatives.iter().filter(|r| (r.conf as f64) < threshold).count();
        let best = max_f1_point(&rows, 0.5);
        out.insert(
            kind.name().into(),
            json!({
                "negatives": negatives.len(),
                "AP@50": ap_official(&rows, 0.5),
                "AP_exact@50": ap_exact(&rows, 0.5),
                "maxF1_exact@50": max_f1_exact(&rows, 0.5),
                "maxF1_threshold": best.map(|p| p.threshold),
                "under_threshold": under as f64 / negatives.len().max(1) as f64,
                "mean_confidence": negatives.iter().map(|r| r.conf as f64).sum::<f64>() / negatives.len().max(1) as f64,
            }),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_clips_are_fixed_and_at_their_level() {
        let rms = |v: &[i16]| (v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        let white = generated_clip(NegativeKind::WhiteNoise, 3);
        assert_eq!(white.len(), 160_000);
        assert_eq!(white, generated_clip(NegativeKind::WhiteNoise, 3), "seeded");
        assert_ne!(white, generated_clip(NegativeKind::WhiteNoise, 4));
        assert!((rms(&white) - NOISE_RMS).abs() < 2.0, "{}", rms(&white));
        assert!(generated_clip(NegativeKind::Silence, 1).iter().all(|&v| v == 0));
        // Pink noise: more power below 500 Hz than white noise of the same RMS (a crude
        // spectral check: the mean absolute first difference is much smaller).
        let pink = generated_clip(NegativeKind::PinkNoise, 3);
        assert!((rms(&pink) - NOISE_RMS).abs() < 2.0);
        let roughness =
            |v: &[i16]| v.windows(2).map(|w| (w[1] as f64 - w[0] as f64).abs()).sum::<f64>() / v.len() as f64;
        assert!(roughness(&pink) < 0.5 * roughness(&white), "{} vs {}", roughness(&pink), roughness(&white));
    }

    fn row(video: &str, audio: &str, bb: usize, conf: f32, ciou: f64) -> SampleResult {
        SampleResult {
            name: video.into(),
            video: video.into(),
            audio: audio.into(),
            bb,
            area: 1.0,
            ciou,
            conf,
            adaptive_ciou: ciou,
        }
    }

    #[test]
    fn each_kind_is_scored_with_the_positives_only() {
        let results = vec![
            row("a", "a", 1, 0.9, 0.8),
            row("b", "b", 1, 0.8, 0.7),
            row("a", "silence/a", 0, 0.1, 0.0),
            row("b", "silence/b", 0, 0.2, 0.0),
            row("a", "b", 0, 0.95, 0.0),
            row("b", "a", 0, 0.5, 0.0),
        ];
        let derived: Vec<(NegativeKind, (String, String))> = [
            (NegativeKind::Silence, "a", "silence/a"),
            (NegativeKind::Silence, "b", "silence/b"),
            (NegativeKind::Mismatched, "a", "b"),
            (NegativeKind::Mismatched, "b", "a"),
        ]
        .iter()
        .map(|(k, v, a)| (*k, (v.to_string(), a.to_string())))
        .collect();
        let r = report(&results, &derived, 0.6);
        // Silence ranks below both positives: perfect separation.
        assert_eq!(r["silence"]["AP_exact@50"], 1.0);
        assert_eq!(r["silence"]["under_threshold"], 1.0);
        // One mismatched clip scores above every positive.
        assert!(r["mismatched"]["AP_exact@50"].as_f64().unwrap() < 1.0);
        assert_eq!(r["mismatched"]["under_threshold"], 0.5);
        assert_eq!(r["mismatched"]["negatives"], 2);
        assert!(r.get("white_noise").is_none());
    }
}
