//! `avsl prepare` on videos made with FFmpeg: every container the issue names, the bad
//! cases each with its reason, ids that are safe and unique, files in the authors' layout.

mod support;

use std::path::Path;
use std::process::Command;

use avsl_data::image_io::{RgbImage, read_rgb};
use avsl_data::wav::read_wav;
use serde_json::Value;
use support::*;

fn solid(rgb: [u8; 3]) -> RgbImage {
    let mut img = RgbImage::new(96, 64);
    for px in img.data.chunks_exact_mut(3) {
        px.copy_from_slice(&rgb);
    }
    img
}

/// 4 s at 10 fps: red, then green around the middle (frames 15–24), then blue.
fn clip() -> Vec<RgbImage> {
    (0..40)
        .map(|i| {
            solid(if i < 15 {
                [255, 0, 0]
            } else if i < 25 {
                [0, 255, 0]
            } else {
                [0, 0, 255]
            })
        })
        .collect()
}

#[test]
fn videos_become_frames_audio_and_a_list_and_bad_ones_are_reported() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("videos");
    std::fs::create_dir_all(videos.join("sub folder")).unwrap();
    let wav = dir.path().join("tone.wav");
    // Stereo 44.1 kHz noise: prepare must mix down and resample.
    let mono = noise(4.0, 44_100, 0.3, |_| true);
    let stereo: Vec<i16> = mono.iter().flat_map(|&v| [v, v / 2]).collect();
    avsl_data::wav::write_wav_i16(&wav, &avsl_data::wav::Pcm16 { channels: 2, sample_rate: 44_100, samples: stereo })
        .unwrap();
    let frames = clip();
    let v = |name: &str| videos.join(name);
    make_video(&v("a b.mp4"), &frames, 10, Some(&wav), &MP4);
    make_video(&v("a_b.mov"), &frames, 10, Some(&wav), &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]);
    make_video(&v("sub folder/clip.mkv"), &frames, 10, Some(&wav), &["-c:v", "libx264", "-c:a", "flac"]);
    make_video(&v("web.WEBM"), &frames, 10, Some(&wav), &["-c:v", "libvpx", "-c:a", "libvorbis"]);
    make_video(&v("old.avi"), &frames, 10, Some(&wav), &["-c:v", "mpeg4", "-c:a", "pcm_s16le"]);
    make_video(&v("mute.mp4"), &frames, 10, None, &["-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    make_video(&v("short.mp4"), &frames[..10], 10, Some(&wav), &[&MP4[..], &["-t", "1"]].concat());
    std::fs::write(v("empty.mp4"), b"").unwrap();
    std::fs::write(v("junk.mkv"), vec![42u8; 10_000]).unwrap();
    std::fs::write(v("notes.txt"), b"not a video").unwrap();
    let out = dir.path().join("data");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let console = ok(&["prepare", "--videos", &s(&videos), "--out", &s(&out), "--threads", "2"]);
    assert!(console.contains("9 videos: 5 prepared, 0 kept from an earlier run, 4 skipped"), "{console}");

    let ids = std::fs::read_to_string(out.join("metadata/prepared.txt")).unwrap();
    assert_eq!(ids.lines().collect::<Vec<_>>(), ["a_b", "a_b-2", "old", "sub_folder__clip", "web"]);
    for id in ids.lines() {
        let (pcm, _) = read_wav(&out.join(format!("audio/{id}.wav"))).unwrap();
        assert_eq!((pcm.channels, pcm.sample_rate), (1, 16_000), "{id}");
        let seconds = pcm.samples.len() as f64 / 16_000.0;
        assert!((seconds - 4.0).abs() < 0.1, "{id}: {seconds} s");
        let rms = (pcm.samples.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / pcm.samples.len() as f64).sqrt();
        assert!(rms > 0.05 * 32767.0, "{id}: the sound is there (rms {rms})");
        // The middle frame (2 s of 4) is the green one.
        let img = read_rgb(&out.join(format!("frames/{id}.jpg"))).unwrap();
        assert_eq!((img.width, img.height), (96, 64));
        let centre = &img.data[(32 * 96 + 48) * 3..][..3];
        assert!(centre[1] > 200 && centre[0] < 60 && centre[2] < 60, "{id}: middle frame {centre:?}");
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("prepare_report.json")).unwrap()).unwrap();
    let reason = |video: &str| -> String {
        report["skipped"].as_array().unwrap().iter().find(|s| s["video"] == video).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(reason("empty.mp4"), "zero bytes");
    assert_eq!(reason("mute.mp4"), "no audio stream");
    assert!(reason("short.mp4").starts_with("too short: 1.0"), "{}", reason("short.mp4"));
    assert!(reason("junk.mkv").starts_with("undecodable"), "{}", reason("junk.mkv"));
    assert_eq!(report["renamed"][0]["video"], "a_b.mov");
    assert_eq!(report["renamed"][0]["id"], "a_b-2");

    // Our own checker accepts the result as a training set.
    ok(&["check", "--data", &s(&out), "--train-list", &s(&out.join("metadata/prepared.txt"))]);

    // Again: nothing rewritten unless asked.
    let before = std::fs::metadata(out.join("audio/old.wav")).unwrap().modified().unwrap();
    let console = ok(&["prepare", "--videos", &s(&videos), "--out", &s(&out)]);
    assert!(console.contains("0 prepared, 5 kept"), "{console}");
    assert_eq!(std::fs::metadata(out.join("audio/old.wav")).unwrap().modified().unwrap(), before);
    assert_eq!(std::fs::read_to_string(out.join("metadata/prepared.txt")).unwrap(), ids);
    std::fs::remove_file(out.join("frames/web.jpg")).unwrap();
    let console = ok(&["prepare", "--videos", &s(&videos), "--out", &s(&out)]);
    assert!(console.contains("audio/web exists but its frames file does not"), "{console}");
    let console = ok(&["prepare", "--videos", &s(&videos), "--out", &s(&out), "--overwrite"]);
    assert!(console.contains("5 prepared, 0 kept"), "{console}");
}

#[test]
fn prepare_without_videos_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_avsl"))
        .args(["prepare", "--videos"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(e.contains("no videos (mp4, mkv, webm, avi, mov)") || e.contains("needs FFmpeg"), "{e}");
}

#[test]
fn ctrl_c_finishes_the_videos_in_hand_and_the_same_command_prepares_the_rest() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    let wav = dir.path().join("tone.wav");
    write_wav(&wav, noise(4.0, 16_000, 0.3, |_| true), 16_000);
    let first = videos.join("v00.mp4");
    make_video(&first, &clip(), 10, Some(&wav), &MP4);
    for k in 1..16 {
        std::fs::copy(&first, videos.join(format!("v{k:02}.mp4"))).unwrap();
    }
    let out = dir.path().join("data");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let args = ["prepare", "--videos", &s(&videos), "--out", &s(&out), "--threads", "1"];
    let child = Command::new(env!("CARGO_BIN_EXE_avsl"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // SIGINT once the first video is done: the one in hand finishes, no other begins.
    let first_wav = out.join("audio/v00.wav");
    while !first_wav.exists() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // SAFETY: kill(2) on our own child, not yet waited for, so its pid is live.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "{err}");
    assert!(err.contains("videos not begun; what was prepared is kept"), "{err}");
    let listed: Vec<String> =
        std::fs::read_to_string(out.join("metadata/prepared.txt")).unwrap().lines().map(String::from).collect();
    assert!(!listed.is_empty() && listed.len() < 16, "{listed:?}");
    // Every video is whole (frame and audio) or not begun.
    for k in 0..16 {
        let id = format!("v{k:02}");
        let (frame, audio) = (out.join(format!("frames/{id}.jpg")), out.join(format!("audio/{id}.wav")));
        assert_eq!(frame.exists(), audio.exists(), "{id}");
        assert_eq!(frame.exists(), listed.contains(&id), "{id}");
    }
    let report = json(&out.join("prepare_report.json"));
    assert_eq!(report["not_started"].as_u64().unwrap() as usize, 16 - listed.len());
    let console = ok(&args);
    let expected =
        format!("16 videos: {} prepared, {} kept from an earlier run, 0 skipped", 16 - listed.len(), listed.len());
    assert!(console.contains(&expected), "{console}");
}

/// `--segments`: VGG-Sound's list cuts the 10 s from each row's start out of `<ytid>.*`,
/// names the sample `<ytid>_<start:06d>`, takes the segment's middle frame, and reports the
/// listed ids with no video.
#[test]
fn segments_of_full_downloads_become_the_authors_samples() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    // 16 s at 5 fps: red until 4 s, green 4–7.6 s, blue after (the whole video's middle,
    // 8 s, is blue). Loud only from 2 s to 12 s.
    let frames: Vec<RgbImage> = (0..80)
        .map(|i| {
            solid(if i < 20 {
                [255, 0, 0]
            } else if i < 38 {
                [0, 255, 0]
            } else {
                [0, 0, 255]
            })
        })
        .collect();
    let wav = dir.path().join("sound.wav");
    let samples = noise(16.0, 16_000, 0.5, |t| (2.0..12.0).contains(&t));
    avsl_data::wav::write_wav_i16(&wav, &avsl_data::wav::Pcm16 { channels: 1, sample_rate: 16_000, samples }).unwrap();
    make_video(&videos.join("dl_Abc-123.mp4"), &frames, 5, Some(&wav), &MP4);
    let csv = dir.path().join("vggsound.csv");
    std::fs::write(
        &csv,
        "dl_Abc-123,2,dog barking,train\ngone_video1,30,\"cat, purring\",test\ndl_Abc-123,20,late,test\n",
    )
    .unwrap();
    let out = dir.path().join("data");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let console = ok(&["prepare", "--videos", &p(&videos), "--out", &p(&out), "--segments", &p(&csv)]);
    assert!(console.contains("1 listed segments have no video") && console.contains("gone_video1_000030"), "{console}");
    // The segment 2–12 s: its middle frame (7 s) is green; its audio 10 s, loud throughout.
    let frame = read_rgb(&out.join("frames/dl_Abc-123_000002.jpg")).unwrap();
    let px = &frame.data[(32 * frame.width + 48) * 3..][..3];
    assert!(px[1] > 200 && px[0] < 60 && px[2] < 60, "green expected, got {px:?}");
    let (pcm, _) = read_wav(&out.join("audio/dl_Abc-123_000002.wav")).unwrap();
    assert!((pcm.samples.len() as i64 - 160_000).abs() <= 400, "{} samples", pcm.samples.len());
    let quiet = pcm.samples.iter().filter(|v| v.unsigned_abs() < 100).count();
    assert!(quiet < 4000, "the segment is the loud part: {quiet} near-silent samples");
    // Lists: every prepared sample, and each split's.
    let read = |f: &str| std::fs::read_to_string(out.join("metadata").join(f)).unwrap();
    assert_eq!(read("prepared.txt"), "dl_Abc-123_000002\n");
    assert_eq!(read("segments_train.txt"), "dl_Abc-123_000002\n");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("prepare_report.json")).unwrap()).unwrap();
    assert_eq!(report["listed_without_video"], serde_json::json!(["gone_video1_000030"]));
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["id"], "dl_Abc-123_000020");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("the segment starts at 20 s"), "{skipped:?}");
    // A malformed list is refused before anything is written, naming the line.
    std::fs::write(&csv, "dl_Abc-123,two,x,train\n").unwrap();
    let err = fails(&["prepare", "--videos", &p(&videos), "--out", &p(&dir.path().join("d2")), "--segments", &p(&csv)]);
    assert!(err.contains("vggsound.csv") && err.contains("line 1"), "{err}");
}
