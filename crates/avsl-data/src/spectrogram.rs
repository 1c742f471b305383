//! scipy's `signal.spectrogram(x, fs, nperseg=512, noverlap=274)` with its defaults, then
//! `ln(P + 1e-7) / 12` as float32 (docs/method.md §7 items 9–10).

use std::sync::{Arc, OnceLock};

use avsl_metrics::numeric::pairwise_sum;
use realfft::{RealFftPlanner, RealToComplex};

pub const NPERSEG: usize = 512;
pub const NOVERLAP: usize = 274;
pub const HOP: usize = NPERSEG - NOVERLAP;
/// One-sided frequency bins of a 512-point FFT.
pub const BINS: usize = NPERSEG / 2 + 1;

/// A log-spectrogram as the audio network receives it: `[BINS, frames]`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    pub frames: usize,
    pub values: Vec<f32>,
}

/// scipy's default window: Tukey(α = 0.25), periodic (`sym=False`, i.e. the first 512
/// points of the symmetric 513-point window).
pub fn tukey_window() -> &'static [f64] {
    static WINDOW: OnceLock<Vec<f64>> = OnceLock::new();
    WINDOW.get_or_init(|| {
        let alpha = 0.25f64;
        let m = NPERSEG + 1;
        let denom = (m - 1) as f64;
        let width = (alpha * denom / 2.0).floor() as usize;
        (0..NPERSEG)
            .map(|n| {
                let nf = n as f64;
                if n <= width {
                    0.5 * (1.0 + (std::f64::consts::PI * (-1.0 + 2.0 * nf / alpha / denom)).cos())
                } else if n < m - width - 1 {
                    1.0
                } else {
                    0.5 * (1.0 + (std::f64::consts::PI * (-2.0 / alpha + 1.0 + 2.0 * nf / alpha / denom)).cos())
                }
            })
            .collect()
    })
}

fn fft() -> Arc<dyn RealToComplex<f64>> {
    static FFT: OnceLock<Arc<dyn RealToComplex<f64>>> = OnceLock::new();
    FFT.get_or_init(|| RealFftPlanner::<f64>::new().plan_fft_forward(NPERSEG)).clone()
}

/// Number of frames scipy produces for `n` samples.
pub fn frame_count(n: usize) -> usize {
    if n < NPERSEG { 0 } else { (n - NOVERLAP) / HOP }
}

/// The one-sided PSD `[BINS, frames]` in float64, exactly scipy's `spectrogram` defaults:
/// per-segment mean removal, window, `|X|² / (fs · Σw²)`, bins 1..255 doubled.
pub fn power_spectrogram(x: &[f64], sample_rate: u32) -> (usize, Vec<f64>) {
    let window = tukey_window();
    let frames = frame_count(x.len());
    let scale = 1.0 / (sample_rate as f64 * window.iter().map(|w| w * w).sum::<f64>());
    let fft = fft();
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut out = vec![0.0f64; BINS * frames];
    for t in 0..frames {
        let segment = &x[t * HOP..t * HOP + NPERSEG];
        let mean = pairwise_sum(segment) / NPERSEG as f64;
        for ((dst, &s), &w) in input.iter_mut().zip(segment).zip(window) {
            *dst = (s - mean) * w;
        }
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).expect("buffer sizes come from the plan");
        for (f, c) in spectrum.iter().enumerate() {
            let doubled = if f == 0 || f == BINS - 1 { 1.0 } else { 2.0 };
            out[f * frames + t] = c.norm_sqr() * scale * doubled;
        }
    }
    (frames, out)
}

/// The network input: `ln(P + 1e-7) / 12` in float64, then float32.
pub fn log_spectrogram(x: &[f64], sample_rate: u32) -> Spectrogram {
    let (frames, power) = power_spectrogram(x, sample_rate);
    let values = power.iter().map(|&p| ((p + 1e-7).ln() / 12.0) as f32).collect();
    Spectrogram { frames, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_match_scipy() {
        assert_eq!(frame_count(48_000), 200);
        assert_eq!(frame_count(66_150), 276);
        assert_eq!(frame_count(132_300), 554);
    }

    #[test]
    fn window_is_periodic_tukey() {
        let w = tukey_window();
        assert_eq!(w[0], 0.0);
        assert_eq!(w[64], 1.0);
        assert_eq!(w[256], 1.0);
        // Periodic: w[k] = w[512 − k] for the symmetric 513-point window.
        assert!((w[1] - w[511]).abs() < 1e-15);
    }

    #[test]
    fn pure_tone_peaks_at_its_bin() {
        let sr = 16_000u32;
        let x: Vec<f64> =
            (0..48_000).map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / sr as f64).sin()).collect();
        let (frames, p) = power_spectrogram(&x, sr);
        let col: Vec<f64> = (0..BINS).map(|f| p[f * frames + 10]).collect();
        let peak = col.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(peak, 32); // 1000 Hz / (16000 / 512)
    }
}
