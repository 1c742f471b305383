//! Shared by the video tests: a model with known weights, and videos made with FFmpeg
//! from generated frames and sounds.

#![allow(dead_code)] // each test file uses a part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use avsl_data::image_io::RgbImage;
use avsl_data::wav::{Pcm16, write_wav_i16};
use avsl_model::checkpoint::safetensors_bytes;
use avsl_model::{Architecture, ModelConfig, NamedTensor, Weights};

/// Runs the avsl binary.
pub fn avsl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avsl")).args(args).output().unwrap()
}

/// Runs avsl, which must succeed; its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = avsl(args);
    assert!(out.status.success(), "avsl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs avsl, which must fail; its stderr.
pub fn fails(args: &[&str]) -> String {
    let out = avsl(args);
    assert!(!out.status.success(), "avsl {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// True when FFmpeg is there. Without it the video tests fail, unless
/// `AVSL_TESTS_WITHOUT_FFMPEG=1` says to skip them (CI installs FFmpeg).
pub fn have_ffmpeg() -> bool {
    let ok = ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p).arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    });
    if !ok {
        assert!(
            std::env::var("AVSL_TESTS_WITHOUT_FFMPEG").is_ok_and(|v| v == "1"),
            "ffmpeg/ffprobe not found: install FFmpeg (apt install ffmpeg), or set AVSL_TESTS_WITHOUT_FFMPEG=1 to skip"
        );
        eprintln!("skipped: no FFmpeg (AVSL_TESTS_WITHOUT_FFMPEG=1)");
    }
    ok
}

pub const GREY: [u8; 3] = [128, 128, 128];
pub const RED: [u8; 3] = [255, 0, 0];

/// A grey frame with a red rectangle `[x0, y0, x1, y1)` (none when `rect` is None).
pub fn frame(width: usize, height: usize, rect: Option<[usize; 4]>) -> RgbImage {
    let mut img = RgbImage::new(width, height);
    for (i, px) in img.data.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i % width, i / width);
        let inside = rect.is_some_and(|[x0, y0, x1, y1]| x >= x0 && x < x1 && y >= y0 && y < y1);
        px.copy_from_slice(if inside { &RED } else { &GREY });
    }
    img
}

/// Deterministic white noise at amplitude `level` (of full scale) where `loud(t)`, zero
/// elsewhere.
pub fn noise(seconds: f64, sample_rate: u32, level: f64, loud: impl Fn(f64) -> bool) -> Vec<i16> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..(seconds * sample_rate as f64) as usize)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            if loud(i as f64 / sample_rate as f64) { (u * level * 32767.0) as i16 } else { 0 }
        })
        .collect()
}

pub fn write_wav(path: &Path, samples: Vec<i16>, sample_rate: u32) {
    write_wav_i16(path, &Pcm16 { channels: 1, sample_rate, samples }).unwrap();
}

/// Encodes `frames` (RGB, `fps`) with an optional sound into `out` with FFmpeg; `codec`
/// are the output options (codecs and container).
pub fn make_video(out: &Path, frames: &[RgbImage], fps: u32, sound: Option<&Path>, codec: &[&str]) {
    let (w, h) = (frames[0].width, frames[0].height);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{w}x{h}")]).args([
        "-r",
        &fps.to_string(),
        "-i",
        "-",
    ]);
    if let Some(s) = sound {
        cmd.arg("-i").arg(s).args(["-map", "0:v", "-map", "1:a"]);
    }
    cmd.args(codec).arg(out).stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for f in frames {
            stdin.write_all(&f.data).unwrap();
        }
    }
    assert!(child.wait().unwrap().success(), "ffmpeg could not make {}", out.display());
}

/// Codec options: H.264 + AAC in MP4.
pub const MP4: [&str; 8] = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mp4"];

/// A synthetic VGG-SS-layout set of `test_pairs` visible test pairs (no training or
/// non-sounding ones) in `root/data`, and [`known_model`] in `root/model.safetensors`:
/// their paths.
pub fn test_set_and_known_model(root: &Path, test_pairs: usize) -> (PathBuf, PathBuf) {
    let data = root.join("data");
    let test = test_pairs.to_string();
    ok(&["synth", "--out", data.to_str().unwrap(), "--train", "0", "--test", &test, "--negatives", "0"]);
    let model = root.join("model.safetensors");
    known_model(&model);
    (data, model)
}

/// A SLAVC checkpoint (width 8, d 4) whose weights are set by hand so that its map is
/// known: the image trunk passes "redness" (R − (G + B)/2 of the normalised input, less 1)
/// through identity blocks, the audio trunk passes loudness (log power + 1), so that
/// S ≈ +1/τ on red cells while the audio is loud, ≈ 0 elsewhere, and ≈ −1/τ on other
/// cells in silence. Cell (i, j) of the 7×7 map samples input pixel (32·i, 32·j) of the
/// 224×224 grid (three stride-2 subsamplings of the stem's stride 2 and the max-pool's).
pub fn known_model(path: &Path) {
    let config = ModelConfig { dim: 4, tau: 0.03, width: 8, ..ModelConfig::published(Architecture::Slavc) };
    let mut weights = Weights::default();
    for (name, shape) in config.expected_shapes() {
        let n: usize = shape.iter().product();
        let mut values = vec![0.0f32; n];
        let short = name.strip_prefix("momentum_").unwrap_or(&name);
        let is_bn = short.contains(".bn") || short.contains("downsample.1");
        if short.ends_with("running_var") || (is_bn && short.ends_with(".weight")) {
            values.fill(1.0);
        }
        if short.ends_with("downsample.0.weight") {
            // 1×1 identity on the first in-channels: the stride-2 shortcut subsamples.
            let (out_c, in_c) = (shape[0], shape[1]);
            for c in 0..out_c.min(in_c) {
                values[c * in_c + c] = 1.0;
            }
        }
        let centre = |c_out: usize, c_in: usize, in_c: usize| ((c_out * in_c + c_in) * 7 + 3) * 7 + 3;
        match short {
            "imgnet.conv1.weight" => {
                values[centre(0, 0, 3)] = 1.0;
                values[centre(0, 1, 3)] = -0.5;
                values[centre(0, 2, 3)] = -0.5;
            }
            "audnet.conv1.weight" => values[centre(0, 0, 1)] = 1.0,
            // Channel 0 shifted (redness − 1; log power + 1), channel 1 the constant 1.
            "imgnet.bn1.bias" => (values[0], values[1]) = (-1.0, 1.0),
            "audnet.bn1.bias" => (values[0], values[1]) = (1.0, 1.0),
            _ => {}
        }
        let features = 8 * 8;
        if short.starts_with("img_proj") && short.ends_with(".weight") {
            values[0] = 10.0; // dim 0 ← 10 · redness
            values[features + 1] = -1.0; // dim 1 ← −1
        }
        if short.starts_with("aud_proj") && short.ends_with(".weight") {
            values[0] = 20.0; // dim 0 ← 20 · loudness
            values[features + 1] = 1.0; // dim 1 ← 1
        }
        weights.insert(name.clone(), NamedTensor { shape, values });
    }
    std::fs::write(path, safetensors_bytes(path, &weights, &config, &Default::default()).unwrap()).unwrap();
}

/// A calibration file with a hand-set threshold (not tied to a checkpoint's bytes
/// unless `sha256` is given).
pub fn calibration(path: &Path, threshold: f64, sha256: Option<&str>) {
    let mut c = serde_json::json!({
        "source": "test", "testset": "hand-set", "n": 0, "encoders": "momentum",
        "scoring": {"protocol": "slavc", "alpha": 0.9, "tau": 0.03, "map_kind": "logits",
                    "prediction": {"rule": "relative", "size": 0.5}},
        "variants": {"av": {"threshold": threshold, "precision": 1.0, "recall": 1.0, "f1": 1.0, "iou": 0.5}}
    });
    if let Some(s) = sha256 {
        c["checkpoint_sha256"] = serde_json::json!(s);
    }
    std::fs::write(path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
}
