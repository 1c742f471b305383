//! The reference audio path up to the spectrogram (docs/method.md §7 items 5–8): down-mix, the
//! centred 3 s window with the decoder's start/length arithmetic, scaling and tiling.

use crate::error::Problem;
use crate::wav::Pcm16;

/// Length of the window the networks see, in seconds (at test time too).
pub const WINDOW_SECONDS: f64 = 3.0;

/// Mono 16-bit samples: stereo is mixed in integers as libswresample does, `(L + R + 1) >> 1`.
/// More than two channels are refused: the reference down-mix is only reproduced for
/// mono and stereo.
pub fn to_mono(pcm: &Pcm16) -> Result<Vec<i16>, Problem> {
    match pcm.channels {
        1 => Ok(pcm.samples.clone()),
        2 => Ok(pcm.samples.chunks_exact(2).map(|lr| ((lr[0] as i32 + lr[1] as i32 + 1) >> 1) as i16).collect()),
        n => Err(Problem(format!(
            "{n} audio channels: only mono and stereo are supported (the reference down-mix is defined for those)"
        ))),
    }
}

/// Which samples `[start, start + len)` of an `n`-sample clip the reference reads for a
/// window of `seconds` centred in the clip.
///
/// The authors seek to `int(ss · 1e6)` microseconds; the demuxer turns that into a sample
/// index rounded half up, then trims frame-accurately with `int((ss − seek/sr) · sr)`.
pub fn centred_window(n: usize, sample_rate: u32, seconds: f64) -> (usize, usize) {
    let sr = sample_rate as f64;
    let duration = n as f64 / sr;
    let ss = (duration / 2.0 - seconds / 2.0).max(0.0);
    let micros = (ss * 1e6).trunc() as u128;
    let seek = ((micros * sample_rate as u128 + 500_000) / 1_000_000) as usize;
    let offset = ((ss - seek as f64 / sr) * sr).trunc() as i64;
    let start = (seek as i64 + offset).clamp(0, n as i64) as usize;
    let take = (seconds.min(duration - ss) * sr).trunc().max(0.0) as usize;
    (start, take.min(n - start))
}

/// The float signal the spectrogram is taken of: the centred window, scaled by 1/32767,
/// clipped to [−1, 1], tiled when shorter than the window and cut to `int(sr · seconds)`.
pub fn model_signal(mono: &[i16], sample_rate: u32, seconds: f64) -> Result<Vec<f64>, Problem> {
    shifted_model_signal(mono, sample_rate, seconds, 0)
}

/// [`model_signal`] with the window moved by `shift` samples (SSL-align's audio
/// augmentation), kept inside the clip; a clip shorter than the window is tiled and the
/// tiled signal rotated by `shift` instead.
pub fn shifted_model_signal(mono: &[i16], sample_rate: u32, seconds: f64, shift: i64) -> Result<Vec<f64>, Problem> {
    if mono.is_empty() {
        return Err(Problem("audio has no samples".into()));
    }
    let (centred, len) = centred_window(mono.len(), sample_rate, seconds);
    let start = (centred as i64 + shift).clamp(0, (mono.len() - len) as i64) as usize;
    if len == 0 {
        return Err(Problem(format!(
            "audio too short: {} samples at {sample_rate} Hz give an empty window",
            mono.len()
        )));
    }
    let window: Vec<f64> = mono[start..start + len].iter().map(|&v| (v as f64 / 32767.0).clamp(-1.0, 1.0)).collect();
    let wanted = sample_rate as f64 * seconds;
    let target = wanted.trunc() as usize;
    if (window.len() as f64) < wanted {
        let copies = (wanted / window.len() as f64).trunc() as usize + 1;
        let mut tiled = Vec::with_capacity(window.len() * copies);
        for _ in 0..copies {
            tiled.extend_from_slice(&window);
        }
        tiled.truncate(target);
        if shift != 0 && !tiled.is_empty() {
            let by = shift.rem_euclid(tiled.len() as i64) as usize;
            tiled.rotate_left(by);
        }
        Ok(tiled)
    } else {
        let mut w = window;
        w.truncate(target);
        Ok(w)
    }
}

/// The signal of the SSL-align authors' test script (docs/method.md §4c): the clip's
/// first `int(min(seconds, d) · sr)` samples (d its duration) scaled and clipped as above, tiled when shorter and
/// cut to that length, then rotated (`np.roll`) by `int(sr · seconds / 2) − int(d/2 · sr)`,
/// d the clip's duration, so that the clip's centre lands in the middle.
pub fn centred_clip_signal(mono: &[i16], sample_rate: u32, seconds: f64) -> Result<Vec<f64>, Problem> {
    if mono.is_empty() {
        return Err(Problem("audio has no samples".into()));
    }
    let sr = sample_rate as f64;
    let target = (sr * seconds).trunc() as usize;
    // The decoder's read length, in float64 as the loader computes it: n − 1 samples for
    // some clips shorter than `seconds` (see `centred_window`).
    let read = ((seconds.min(mono.len() as f64 / sr) * sr).trunc() as usize).min(mono.len());
    if read == 0 {
        return Err(Problem(format!("audio too short: {} samples at {sample_rate} Hz", mono.len())));
    }
    let read = &mono[..read];
    let mut signal: Vec<f64> = read.iter().map(|&v| (v as f64 / 32767.0).clamp(-1.0, 1.0)).collect();
    if signal.len() < target {
        let copies = target / signal.len() + 1;
        signal = signal.repeat(copies);
    }
    signal.truncate(target);
    let centre = (mono.len() as f64 / sr / 2.0 * sr).trunc() as i64;
    let shift = (sr * seconds / 2.0).trunc() as i64 - centre;
    if !signal.is_empty() {
        let by = shift.rem_euclid(signal.len() as i64) as usize;
        signal.rotate_right(by);
    }
    Ok(signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_move_the_window_within_the_clip() {
        let clip: Vec<i16> = (0..10_000).map(|i| (i % 30_000) as i16).collect();
        let at = |shift| shifted_model_signal(&clip, 1000, 3.0, shift).unwrap();
        let first = |s: &[f64]| (s[0] * 32767.0).round() as i64;
        // Centred: samples 3500..6500; moved 700 either way, then stopped at the ends.
        assert_eq!(first(&at(0)), 3500);
        assert_eq!(at(0), model_signal(&clip, 1000, 3.0).unwrap());
        assert_eq!(first(&at(700)), 4200);
        assert_eq!(first(&at(-700)), 2800);
        assert_eq!(first(&at(5000)), 7000);
        assert_eq!(first(&at(-5000)), 0);
        // A 1 s clip is tiled to 3 s; the shift rotates the tiled signal.
        let short: Vec<i16> = (0..1000).collect();
        let tiled = shifted_model_signal(&short, 1000, 3.0, 250).unwrap();
        assert_eq!((tiled.len(), first(&tiled), first(&tiled[750..])), (3000, 250, 0));
    }

    #[test]
    fn start_differs_from_floor_by_decoder_rounding() {
        // 16 kHz, 100001 samples: ss = 1.62503125 s, floor(ss·sr) = 26000, but the decoder
        // seeks to round(1625031 µs · 16 kHz) = 26001 (26000.496 rounds down → 26000) …
        let (start, len) = centred_window(100_001, 16_000, 3.0);
        assert_eq!(len, 48_000);
        assert!(start == 26_000 || start == 26_001);
        // Short clip: whole clip read from 0.
        assert_eq!(centred_window(1000, 16_000, 3.0), (0, 1000));
    }

    #[test]
    fn short_clips_are_tiled_and_cut() {
        let mono: Vec<i16> = (0..7000).map(|i| (i % 100) as i16).collect();
        let s = model_signal(&mono, 16_000, 3.0).unwrap();
        assert_eq!(s.len(), 48_000);
        assert_eq!(s[7000], s[0]);
        assert_eq!(s[47_999], s[47_999 % 7000]);
    }

    #[test]
    fn stereo_mix_and_full_scale() {
        let pcm = Pcm16 { sample_rate: 8000, channels: 2, samples: vec![-32768, -32768, 32767, 32767, 1, 2, -1, -2] };
        assert_eq!(to_mono(&pcm).unwrap(), vec![-32768, 32767, 2, -1]);
        let s = model_signal(&[-32768, 32767], 8000, 3.0).unwrap();
        assert_eq!((s[0], s[1]), (-1.0, 1.0));
    }

    #[test]
    fn whole_clips_are_tiled_and_centred_as_the_ssl_align_script_does() {
        // 2.5 s at 1 kHz, 5 s wanted: tiled (3 copies, cut to 5000), then rolled by
        // 2500 − 1250 = 1250 to the right.
        let short: Vec<i16> = (0..2500).collect();
        let s = centred_clip_signal(&short, 1000, 5.0).unwrap();
        let at = |i: usize| (s[i] * 32767.0).round() as i64;
        assert_eq!(s.len(), 5000);
        assert_eq!((at(1250), at(0), at(3749), at(3750)), (0, 1250, 2499, 0));
        // A 6 s clip: its first 5 s, rolled by 2500 − 3000 = −500 (to the left).
        let long: Vec<i16> = (0..6000).map(|i| (i % 30_000) as i16).collect();
        let s = centred_clip_signal(&long, 1000, 5.0).unwrap();
        assert_eq!(s.len(), 5000);
        assert_eq!(((s[0] * 32767.0).round(), (s[4499] * 32767.0).round(), s[4500]), (500.0, 4999.0, 0.0));
        assert!(centred_clip_signal(&[], 1000, 5.0).is_err());
    }
}
