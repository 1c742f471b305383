//! `avsl localize` with a model of known weights (tests/support): the peak and region
//! follow the red source, the decision follows the sound, on frames and on videos made
//! with FFmpeg.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::*;

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let s = Setup { dir: tempfile::tempdir().unwrap() };
        known_model(&s.path("model.safetensors"));
        calibration(&s.path("calibration.json"), 0.6, None);
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }
}

#[test]
fn image_and_audio_peak_on_the_source_and_decide_by_the_sound() {
    let s = Setup::new();
    // 400×240 (not square: each axis scales on its own), the red source on the right.
    let rect = [250, 60, 370, 200];
    std::fs::write(s.path("frame.png"), avsl_data::image_io::encode_png(&frame(400, 240, Some(rect)))).unwrap();
    std::fs::write(s.path("empty.png"), avsl_data::image_io::encode_png(&frame(400, 240, None))).unwrap();
    write_wav(&s.path("loud.wav"), noise(4.0, 16_000, 0.5, |_| true), 16_000);
    write_wav(&s.path("silent.wav"), noise(4.0, 16_000, 0.5, |_| false), 16_000);
    let run = |image: &str, audio: &str, out: &str| -> Value {
        ok(&[
            "localize",
            "--checkpoint",
            &s.s("model.safetensors"),
            "--calibration",
            &s.s("calibration.json"),
            "--image",
            &s.s(image),
            "--audio",
            &s.s(audio),
            "--out",
            &s.s(out),
        ]);
        json(&s.path(out).join("result.json"))
    };
    let heard = run("frame.png", "loud.wav", "heard");
    assert_eq!(heard["decision"], "sounding", "{heard:#}");
    assert_eq!(heard["threshold"]["threshold"], 0.6);
    let (px, py) = (heard["peak"]["x"].as_u64().unwrap() as usize, heard["peak"]["y"].as_u64().unwrap() as usize);
    assert!(px >= rect[0] && px < rect[2] && py >= rect[1] && py < rect[3], "peak ({px}, {py}) on the source");
    let b = &heard["box"];
    let (x0, x1) = (b["xmin"].as_u64().unwrap() as usize, b["xmax"].as_u64().unwrap() as usize);
    assert!(x0 > 200 && x0 < rect[2] && x1 <= 400, "the box is on the source's side: {b}");
    // The map file is the 224×224 float32 map, its maximum at the reported peak.
    let (shape, map) = avsl_data::npy::read_npy_f32(&s.path("heard/heatmap.npy")).unwrap();
    assert_eq!(shape, vec![224, 224]);
    let top = map.iter().enumerate().fold(0, |b, (i, &v)| if v > map[b] { i } else { b });
    // Grid cell u covers frame pixels [u·400/224, (u+1)·400/224): the peak is its centre.
    let centre = |u: usize, side: usize| ((2 * u + 1) * side) / (2 * 224);
    assert_eq!((centre(top % 224, 400), centre(top / 224, 240)), (px, py));
    let overlay = avsl_data::image_io::read_rgb(&s.path("heard/overlay.png")).unwrap();
    assert_eq!((overlay.width, overlay.height), (400, 240), "the overlay has the frame's own size");

    // Silence: the same source, nothing heard. A loud clip with no source in sight.
    let silent = run("frame.png", "silent.wav", "silent");
    assert_eq!(silent["decision"], "not sounding", "{silent:#}");
    let unseen = run("empty.png", "loud.wav", "unseen");
    assert_eq!(unseen["decision"], "not sounding", "{unseen:#}");
    let c = |r: &Value| r["confidence"].as_f64().unwrap();
    assert!(c(&heard) > 0.7 && c(&silent) < 0.5 && c(&unseen) < 0.5, "{} {} {}", c(&heard), c(&silent), c(&unseen));
}

#[test]
fn calibration_is_explicit_carried_or_absent_and_bound_to_its_weights() {
    let s = Setup::new();
    std::fs::write(s.path("frame.png"), avsl_data::image_io::encode_png(&frame(64, 64, Some([0, 0, 32, 32])))).unwrap();
    write_wav(&s.path("loud.wav"), noise(3.0, 16_000, 0.5, |_| true), 16_000);
    write_wav(&s.path("short.wav"), noise(2.0, 16_000, 0.5, |_| true), 16_000);
    let base = |out: &str| -> Vec<String> {
        ["localize", "--checkpoint", &s.s("model.safetensors"), "--image", &s.s("frame.png"), "--out", &s.s(out)]
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    let with = |out: &str, extra: &[&str]| -> Vec<String> {
        let mut v = base(out);
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    // No calibration anywhere: confidence only, said once on the console.
    let console = ok(&strs(&with("none", &["--audio", &s.s("loud.wav")])));
    assert!(console.contains("no calibrated threshold"), "{console}");
    let r = json(&s.path("none/result.json"));
    assert!(r["threshold"].is_null() && r["decision"].is_null() && r["confidence"].as_f64().is_some(), "{r:#}");
    // The same weights in the authors' .pth layout localise identically.
    let weights = avsl_model::checkpoint::read_checkpoint(&s.path("model.safetensors")).unwrap().weights;
    let model = s.path("model.pth");
    std::fs::write(&model, avsl_model::checkpoint::pth_bytes(&model, &weights).unwrap()).unwrap();
    ok(&[
        "localize",
        "--checkpoint",
        &s.s("model.pth"),
        "--image",
        &s.s("frame.png"),
        "--audio",
        &s.s("loud.wav"),
        "--out",
        &s.s("pth"),
    ]);
    let p = json(&s.path("pth/result.json"));
    assert_eq!((&p["confidence"], &p["peak"], &p["box"]), (&r["confidence"], &r["peak"], &r["box"]));
    assert_eq!(p["model"]["encoders"], "momentum");
    // A calibration measured on other weights is refused.
    calibration(&s.path("other.json"), 0.6, Some(&"0".repeat(64)));
    let e = fails(&strs(&with("x", &["--audio", &s.s("loud.wav"), "--calibration", &s.s("other.json")])));
    assert!(e.contains("other.json") && e.contains("measured on other weights"), "{e}");
    // The threshold holds only for the encoders it was measured with.
    let e = fails(&strs(&with(
        "x",
        &["--audio", &s.s("loud.wav"), "--encoders", "online", "--calibration", &s.s("calibration.json")],
    )));
    assert!(e.contains("--encoders differs from the calibration's (momentum)"), "{e}");
    // A clip shorter than the window is tiled to fill it, as evaluation does, and said so.
    let console = ok(&strs(&with("short", &["--audio", &s.s("short.wav")])));
    assert!(
        console.contains("short.wav: 2.00 s, shorter than the 3 s window") && console.contains("tiled"),
        "{console}"
    );
    let short = json(&s.path("short/result.json"));
    assert_eq!(short["audio_window"], serde_json::json!({"clip_seconds": 2.0, "window_seconds": 3.0, "tiled": true}));
    assert_eq!(r["audio_window"]["tiled"], false, "a 3 s clip fills the window");
    assert!(short["confidence"].as_f64().is_some_and(f64::is_finite), "{short:#}");
    // Bad inputs: named.
    std::fs::write(s.path("broken.png"), b"\x89PNG not really").unwrap();
    let e = fails(&[
        "localize",
        "--checkpoint",
        &s.s("model.safetensors"),
        "--image",
        &s.s("broken.png"),
        "--audio",
        &s.s("loud.wav"),
        "--out",
        &s.s("x"),
    ]);
    assert!(e.contains("broken.png"), "{e}");
}
/// The red source's rectangle at time `t` of the moving-source video: 80×70 pixels,
/// sliding from x = 10 to x = 230 during the first 8 s of 12, then still.
fn moving_rect(t: f64) -> [usize; 4] {
    let x0 = 10 + (220.0 * (t / 8.0).min(1.0)) as usize;
    [x0, 60, x0 + 80, 130]
}

#[test]
fn video_map_follows_the_moving_source_and_the_decision_the_sound() {
    if !have_ffmpeg() {
        return;
    }
    let s = Setup::new();
    let fps = 10;
    let frames: Vec<_> = (0..120).map(|i| frame(320, 180, Some(moving_rect(i as f64 / fps as f64)))).collect();
    // Loud for the first 7 s, then silent.
    write_wav(&s.path("sound.wav"), noise(12.0, 22_050, 0.5, |t| t < 7.0), 22_050);
    make_video(&s.path("moving.mp4"), &frames, fps, Some(&s.path("sound.wav")), &MP4);
    let console = ok(&[
        "localize",
        "--checkpoint",
        &s.s("model.safetensors"),
        "--calibration",
        &s.s("calibration.json"),
        "--video",
        &s.s("moving.mp4"),
        "--out",
        &s.s("v"),
    ]);
    assert!(console.contains("19 steps"), "{console}");
    let r = json(&s.path("v/result.json"));
    let steps = r["steps"].as_array().unwrap();
    // 12 s of audio, 3 s windows every 0.5 s: centres 1.5, 2.0, …, 10.5.
    assert_eq!(steps.len(), 19);
    let mut last_x = 0;
    for (k, step) in steps.iter().enumerate() {
        let t = step["time"].as_f64().unwrap();
        assert!((t - (1.5 + 0.5 * k as f64)).abs() < 1e-9);
        assert!((step["frame_time"].as_f64().unwrap() - t).abs() < 0.051, "the frame at the window's centre");
        // Windows reaching into the first 7 s hear the noise; the others hear silence.
        let expected = if t - 1.5 < 7.0 { "sounding" } else { "not sounding" };
        // The first window's frame has the source at the left edge, half outside the
        // sampled cells of this model: its confidence is near the threshold either way.
        if k > 0 {
            assert_eq!(step["decision"], expected, "step {k} at {t} s: {step}");
        }
        // The peak is on the source where the frame was (up to the model's sampling
        // offset: cell j sees pixel 32·j of 224 but is drawn at 223·j/6, ≤ 31/224 of the
        // width), and it moves with it, never back.
        let x = step["peak"]["x"].as_u64().unwrap() as usize;
        let y = step["peak"]["y"].as_u64().unwrap() as usize;
        let [x0, y0, x1, y1] = moving_rect(step["frame_time"].as_f64().unwrap());
        let margin = 320 * 31 / 224;
        assert!(
            x + margin >= x0 && x < x1 + margin && y + 30 >= y0 && y < y1 + 30,
            "step {k}: peak ({x}, {y}) vs {x0}..{x1}"
        );
        assert!(x >= last_x, "step {k}: the peak moved back from {last_x} to {x}");
        last_x = x;
    }
    assert!(last_x > 200, "the peak crossed the frame");
    // The overlay video: both streams, the original's duration.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type:format=duration", "-of", "json"])
        .arg(s.path("v/overlay.mp4"))
        .output()
        .unwrap();
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap();
    let kinds: Vec<&str> =
        probe["streams"].as_array().unwrap().iter().map(|s| s["codec_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["video", "audio"]);
    let duration: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 12.0).abs() < 0.1, "overlay lasts {duration} s");
    for file in ["timeline.png", "result.json"] {
        assert!(s.path("v").join(file).is_file(), "{file}");
    }
    let keys = r["keyframes"].as_array().unwrap();
    assert!((3..=5).contains(&keys.len()), "{keys:?}");
    for k in keys {
        assert!(s.path("v").join(k.as_str().unwrap()).is_file());
    }
}

#[test]
fn videos_without_sound_or_content_are_clear_errors() {
    if !have_ffmpeg() {
        return;
    }
    let s = Setup::new();
    let frames: Vec<_> = (0..40).map(|_| frame(64, 48, None)).collect();
    make_video(&s.path("mute.mp4"), &frames, 10, None, &["-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    write_wav(&s.path("two.wav"), noise(2.0, 16_000, 0.5, |_| true), 16_000);
    make_video(&s.path("short.mp4"), &frames[..20], 10, Some(&s.path("two.wav")), &MP4);
    std::fs::write(s.path("empty.mp4"), b"").unwrap();
    std::fs::write(s.path("junk.mkv"), vec![7u8; 4096]).unwrap();
    let run = |video: &str| {
        fails(&[
            "localize",
            "--checkpoint",
            &s.s("model.safetensors"),
            "--video",
            &s.s(video),
            "--out",
            &s.s("o"),
            "--force",
        ])
    };
    let e = run("mute.mp4");
    assert!(e.contains("mute.mp4") && e.contains("no audio stream"), "{e}");
    let e = run("short.mp4");
    assert!(e.contains("short.mp4") && e.contains("shorter than one 3 s window"), "{e}");
    for bad in ["empty.mp4", "junk.mkv"] {
        let e = run(bad);
        assert!(e.contains(bad) && e.contains("not a readable media file"), "{e}");
    }
    assert!(!s.path("o/overlay.mp4").exists());
}
