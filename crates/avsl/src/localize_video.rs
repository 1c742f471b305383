//! `avsl localize --video`: a sliding window over time. Step k hears the window centred at
//! c_k = window/2 + k·step and sees the frame shown at c_k; its map is drawn over every
//! frame nearer to c_k than to any other centre.
//!
//! Three stages overlap: a decoder thread (FFmpeg → frames), the model on this thread,
//! and a compositor thread (frames + overlays → an encoding FFmpeg that also copies the
//! original audio in). The frame queue holds a little more than window/2 + step seconds
//! of video, enough for the frames that wait for their step's map.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use avsl_data::audio::model_signal;
use avsl_data::fsutil::{create_dir_all, write_atomic};
use avsl_data::image_io::{RgbImage, encode_png};
use avsl_data::spectrogram::{Spectrogram, log_spectrogram};
use avsl_data::video::{Ffmpeg, VideoWriter};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use serde_json::{Value, json};

use avsl_eval::localizer::{Localizer, RESULT, located_json};

use crate::localize_overlay::overlay_layer;
use crate::overlay::OverlayLayer;
use crate::plots::timeline_plot;
use crate::progress;

/// Sample rate the audio is decoded at (that of `avsl prepare`'s files).
const SAMPLE_RATE: u32 = 16_000;
/// Frame rate used when the container does not give a usable one.
const FALLBACK_FPS: f64 = 25.0;

/// Centres of the windows that fit in `seconds` of audio.
pub fn step_centres(seconds: f64, window: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut k = 0usize;
    loop {
        let c = window / 2.0 + k as f64 * step;
        if c + window / 2.0 > seconds + 1e-9 {
            return out;
        }
        out.push(c);
        k += 1;
    }
}

/// The step whose centre is nearest to time `t`.
fn step_of(t: f64, centres: &[f64], step: f64) -> usize {
    let k = ((t - centres[0]) / step).round();
    k.clamp(0.0, (centres.len() - 1) as f64) as usize
}

/// The log-spectrogram of the window centred at `centre`.
fn window_spectrogram(audio: &[i16], centre: f64, window: f64, video: &Path) -> Result<Spectrogram> {
    let sr = SAMPLE_RATE as f64;
    let start = (((centre - window / 2.0) * sr).round().max(0.0) as usize).min(audio.len());
    let end = (start + (window * sr).round() as usize).min(audio.len());
    let signal =
        model_signal(&audio[start..end], SAMPLE_RATE, window).map_err(|p| anyhow!("{}: {p}", video.display()))?;
    Ok(log_spectrogram(&signal, SAMPLE_RATE))
}

/// The overlays of the steps chosen as key frames: the first, middle and last step, and
/// the most and least confident ones.
struct KeyFrames {
    fixed: Vec<usize>,
    kept: BTreeMap<usize, RgbImage>,
    most: Option<(f32, usize)>,
    least: Option<(f32, usize)>,
}

impl KeyFrames {
    fn new(steps: usize) -> KeyFrames {
        let mut fixed = vec![0, steps / 2, steps - 1];
        fixed.dedup();
        KeyFrames { fixed, kept: BTreeMap::new(), most: None, least: None }
    }

    fn offer(&mut self, k: usize, confidence: f32, overlay: impl FnOnce() -> RgbImage) {
        let most = self.most.is_none_or(|(c, _)| confidence > c);
        let least = self.least.is_none_or(|(c, _)| confidence < c);
        if !(most || least || self.fixed.contains(&k)) {
            return;
        }
        let dropped: Vec<usize> = [most.then_some(self.most), least.then_some(self.least)]
            .into_iter()
            .flatten()
            .flatten()
            .map(|(_, j)| j)
            .collect();
        if most {
            self.most = Some((confidence, k));
        }
        if least {
            self.least = Some((confidence, k));
        }
        self.kept.insert(k, overlay());
        for j in dropped {
            let still =
                self.fixed.contains(&j) || self.most.is_some_and(|m| m.1 == j) || self.least.is_some_and(|l| l.1 == j);
            if !still {
                self.kept.remove(&j);
            }
        }
    }
}

/// Decodes frames in order, hands the frame of each step to the model, every frame to
/// the compositor; at the end, steps past the last frame get the last frame.
fn decode(
    ff: &Ffmpeg,
    video: &Path,
    fps: f64,
    step_frames: &[usize],
    to_model: Sender<(usize, RgbImage)>,
    to_compositor: Sender<(usize, RgbImage)>,
) -> Result<usize> {
    let mut reader = ff.frames(video, fps)?;
    let mut next_step = 0;
    let mut last: Option<RgbImage> = None;
    let mut i = 0;
    while let Some(frame) = reader.next_frame()? {
        while next_step < step_frames.len() && step_frames[next_step] == i {
            if to_model.send((next_step, frame.clone())).is_err() {
                return Ok(i);
            }
            next_step += 1;
        }
        if to_compositor.send((i, frame.clone())).is_err() {
            return Ok(i);
        }
        last = Some(frame);
        i += 1;
    }
    let Some(last) = last else { bail!("{}: the video stream has no frames", video.display()) };
    while next_step < step_frames.len() {
        if to_model.send((next_step, last.clone())).is_err() {
            break;
        }
        next_step += 1;
    }
    Ok(i)
}

/// When the steps are and how frames map to them.
struct Timing<'a> {
    centres: &'a [f64],
    step: f64,
    fps: f64,
}

/// Draws each frame's step overlay and feeds the encoder (writing `encoded`, with the
/// sound of `video`); returns the frames written.
fn composite(
    ff: &Ffmpeg,
    encoded: &Path,
    video: &Path,
    timing: &Timing,
    frames: Receiver<(usize, RgbImage)>,
    layers: Receiver<(usize, Arc<OverlayLayer>)>,
) -> Result<usize> {
    let mut writer: Option<VideoWriter> = None;
    let mut ready: BTreeMap<usize, Arc<OverlayLayer>> = BTreeMap::new();
    let mut written = 0;
    for (i, frame) in frames {
        let k = step_of(i as f64 / timing.fps, timing.centres, timing.step);
        while !ready.contains_key(&k) {
            match layers.recv() {
                Ok((j, layer)) => {
                    ready.insert(j, layer);
                }
                Err(_) => return Ok(written), // the model stopped: its error is reported
            }
        }
        ready.retain(|&j, _| j >= k);
        if writer.is_none() {
            writer = Some(ff.writer(encoded, frame.width, frame.height, timing.fps, video)?);
        }
        writer.as_mut().expect("created above").write_frame(&ready[&k].apply(&frame))?;
        written += 1;
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(written)
}

/// The steps of a video run and where its results go.
pub struct SlidingWindow {
    /// Seconds of audio per step.
    pub window: f64,
    /// Seconds between steps.
    pub step: f64,
    pub out: PathBuf,
}

pub fn run(args: &SlidingWindow, localizer: &Localizer, ff: &Ffmpeg, video: &Path) -> Result<()> {
    let start = Instant::now();
    let probe = ff.probe(video)?;
    let Some(stream) = probe.video else { bail!("{}: no video stream", video.display()) };
    if probe.audio.is_none() {
        bail!("{}: no audio stream: there is no sound to localise", video.display());
    }
    let audio = ff.audio_mono(video, SAMPLE_RATE, 0)?;
    let seconds = audio.len() as f64 / SAMPLE_RATE as f64;
    if seconds < args.window {
        bail!("{}: {seconds:.2} s of audio, shorter than one {} s window (--window)", video.display(), args.window);
    }
    let centres = step_centres(seconds, args.window, args.step);
    let fps = if stream.fps > 0.0 && stream.fps <= 240.0 { stream.fps } else { FALLBACK_FPS };
    let step_frames: Vec<usize> = centres.iter().map(|c| (c * fps).round() as usize).collect();
    let queue = ((args.window / 2.0 + args.step) * fps).ceil() as usize + 8;
    let encoded = args.out.join(format!(".overlay.mp4.tmp-{}", std::process::id()));
    let keys_dir = args.out.join("keyframes");
    create_dir_all(&keys_dir)?;

    let (to_model, model_in) = unbounded::<(usize, RgbImage)>();
    let (to_compositor, compositor_in) = bounded::<(usize, RgbImage)>(queue);
    let (to_layers, layers_in) = unbounded::<(usize, Arc<OverlayLayer>)>();
    let bar = progress::bar(centres.len(), "steps");
    let mut steps: Vec<Value> = Vec::with_capacity(centres.len());
    let mut keys = KeyFrames::new(centres.len());
    let mut size = (stream.width, stream.height);
    let (decoded, composited, model) = std::thread::scope(|scope| {
        let decoder = scope.spawn(|| decode(ff, video, fps, &step_frames, to_model, to_compositor));
        let timing = Timing { centres: &centres, step: args.step, fps };
        let encoded = &encoded;
        let compositor = scope.spawn(move || composite(ff, encoded, video, &timing, compositor_in, layers_in));
        let model = (|| -> Result<()> {
            for (k, frame) in model_in {
                let spectrogram = window_spectrogram(&audio, centres[k], args.window, video)?;
                let located = localizer.locate(&frame, &spectrogram);
                let layer = Arc::new(overlay_layer(localizer, &located, frame.width, frame.height));
                size = (frame.width, frame.height);
                let mut row = located_json(localizer, &located, frame.width, frame.height);
                row["index"] = json!(k);
                row["time"] = json!(centres[k]);
                row["frame_time"] = json!(step_frames[k] as f64 / fps);
                steps.push(row);
                keys.offer(k, located.confidence, || layer.apply(&frame));
                if to_layers.send((k, layer)).is_err() {
                    break;
                }
                bar.inc(1);
            }
            Ok(())
        })();
        drop(to_layers);
        (decoder.join(), compositor.join(), model)
    });
    bar.finish_and_clear();
    // The first failure in pipeline order is the cause; later ones are its echoes. On any
    // failure the half-written video goes.
    let outcome = (|| -> Result<(usize, usize)> {
        let frames = decoded.map_err(|_| anyhow!("the decoder thread panicked"))??;
        model?;
        let written = composited.map_err(|_| anyhow!("the compositor thread panicked"))??;
        if steps.len() != centres.len() {
            bail!("{}: {} of {} steps localised", video.display(), steps.len(), centres.len());
        }
        Ok((frames, written))
    })();
    let (frames, written) = outcome.inspect_err(|_| {
        let _ = std::fs::remove_file(&encoded);
    })?;
    let overlay = args.out.join("overlay.mp4");
    std::fs::rename(&encoded, &overlay).map_err(|e| anyhow!("{}: {e}", overlay.display()))?;

    let mut key_files = Vec::new();
    for (k, img) in &keys.kept {
        let name = format!("step{k:04}_{:08.3}s.png", centres[*k]);
        write_atomic(&keys_dir.join(&name), &encode_png(img))?;
        key_files.push(format!("keyframes/{name}"));
    }
    let confidences: Vec<(f64, f64)> = steps
        .iter()
        .map(|s| (s["time"].as_f64().unwrap_or(0.0), s["confidence"].as_f64().unwrap_or(f64::NAN)))
        .collect();
    let sounding: Vec<bool> = steps.iter().map(|s| s["decision"] == "sounding").collect();
    let threshold = localizer.decision.as_ref().map(|d| d.threshold.threshold);
    timeline_plot(&args.out.join("timeline.png"), &confidences, threshold, &sounding, args.step)?;
    let elapsed = start.elapsed().as_secs_f64();
    let result = json!({
        "video": video,
        "duration": probe.duration,
        "audio_seconds": seconds,
        "fps": fps,
        "width": size.0,
        "height": size.1,
        "frames": frames,
        "frames_written": written,
        "window": args.window,
        "step": args.step,
        "threshold": localizer.decision_json(),
        "model": localizer.model_json(),
        "steps": steps,
        "overlay": "overlay.mp4",
        "timeline": "timeline.png",
        "keyframes": key_files,
        "seconds": elapsed,
    });
    write_atomic(&args.out.join(RESULT), serde_json::to_string_pretty(&result)?.as_bytes())?;
    let sounding_steps = sounding.iter().filter(|&&s| s).count();
    println!(
        "{}: {} steps of {} s every {} s over {seconds:.1} s of audio, {frames} frames, in {elapsed:.1} s{}",
        video.display(),
        centres.len(),
        args.window,
        args.step,
        match threshold {
            Some(t) => format!("; sounding in {sounding_steps} steps (threshold {t:.4})"),
            None => String::new(),
        }
    );
    println!("results: {} (overlay.mp4, timeline.png, result.json, keyframes/)", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fit_the_audio_and_frames_go_to_the_nearest_step() {
        let c = step_centres(5.0, 3.0, 0.5);
        assert_eq!(c, vec![1.5, 2.0, 2.5, 3.0, 3.5]);
        assert_eq!(step_centres(2.9, 3.0, 0.5), Vec::<f64>::new());
        assert_eq!(step_of(0.0, &c, 0.5), 0);
        assert_eq!(step_of(1.74, &c, 0.5), 0);
        assert_eq!(step_of(1.76, &c, 0.5), 1);
        assert_eq!(step_of(4.9, &c, 0.5), 4);
    }

    #[test]
    fn key_frames_keep_fixed_and_extreme_steps_only() {
        let mut keys = KeyFrames::new(10);
        let confidences = [0.5, 0.4, 0.9, 0.6, 0.3, 0.5, 0.95, 0.2, 0.5, 0.5];
        for (k, &c) in confidences.iter().enumerate() {
            keys.offer(k, c, || RgbImage::new(1, 1));
        }
        let kept: Vec<usize> = keys.kept.keys().copied().collect();
        assert_eq!(kept, vec![0, 5, 6, 7, 9]);
    }
}
