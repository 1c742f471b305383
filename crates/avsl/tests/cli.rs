//! The real binary on data the tests generate.

use std::path::Path;
use std::process::{Command, Output};

use avsl_data::testset::{TestSet, TestSetPaths, build_test_list};

fn avsl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avsl")).args(args).output().expect("run avsl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn synth(dir: &Path, seed: &str) {
    let out = avsl(&[
        "synth",
        "--out",
        dir.to_str().unwrap(),
        "--seed",
        seed,
        "--train",
        "40",
        "--test",
        "30",
        "--negatives",
        "12",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn synth_writes_a_vggss_layout_the_evaluation_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    synth(&root, "5");
    let paths = TestSetPaths::new(&root);
    let plain = build_test_list(&paths, TestSet::Vggss).unwrap();
    assert_eq!(plain.len(), 30);
    assert!(plain.iter().all(|s| s.has_boxes()));
    assert!(plain.windows(2).all(|w| w[0].name < w[1].name), "positives sorted by code point");
    let extended = build_test_list(&paths, TestSet::VggssPlusSilent).unwrap();
    let negatives: Vec<_> = extended.iter().filter(|s| !s.has_boxes()).collect();
    assert_eq!(negatives.len(), 12);
    // Mismatched negatives reuse a positive's frame and name: results key on (name, has_boxes).
    let mismatched = negatives.iter().filter(|s| s.video_id != s.audio_id).count();
    assert_eq!(mismatched, 6);
    assert!(negatives.iter().filter(|s| s.video_id != s.audio_id).all(|n| plain.iter().any(|p| p.name == n.name)));
    let train = std::fs::read_to_string(root.join("metadata/train.txt")).unwrap();
    assert_eq!(train.lines().count(), 40);

    // Deterministic: the same seed gives the same bytes, another seed does not.
    let again = dir.path().join("again");
    synth(&again, "5");
    let other = dir.path().join("other");
    synth(&other, "6");
    for f in ["frames/synth_test_000003.jpg", "audio/synth_test_000003.wav", "metadata/vggss_test_plus_silent.csv"] {
        assert_eq!(std::fs::read(root.join(f)).unwrap(), std::fs::read(again.join(f)).unwrap(), "{f}");
    }
    assert_ne!(
        std::fs::read(root.join("frames/synth_test_000003.jpg")).unwrap(),
        std::fs::read(other.join("frames/synth_test_000003.jpg")).unwrap()
    );
}

#[test]
fn inspect_writes_what_the_model_sees() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    synth(&root, "1");
    let out = dir.path().join("inspect");
    let o = avsl(&[
        "inspect",
        "--audio",
        root.join("audio/synth_test_000000.wav").to_str().unwrap(),
        "--image",
        root.join("frames/synth_test_000000.jpg").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, values) = avsl_data::npy::read_npy_f32(&out.join("spectrogram.npy")).unwrap();
    assert_eq!(shape[0], 257);
    assert!([200, 276, 554].contains(&shape[1]));
    let expected = avsl_data::preprocess::load_spectrogram(&root.join("audio/synth_test_000000.wav"), 3.0).unwrap();
    assert_eq!(values, expected.values);
    let (shape, tensor) = avsl_data::npy::read_npy_f32(&out.join("image_tensor.npy")).unwrap();
    assert_eq!(shape, vec![3, 224, 224]);
    let png = avsl_data::image_io::read_rgb(&out.join("image_224.png")).unwrap();
    assert_eq!(tensor, avsl_data::transform::to_normalized_chw(&png));
    assert!(out.join("spectrogram.png").exists());
}

#[test]
fn bad_inputs_are_named_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, b"this is not a wav file at all").unwrap();
    let jpg = dir.path().join("broken.jpg");
    std::fs::write(&jpg, [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F']).unwrap();
    let out = dir.path().join("o");
    let cases: Vec<(Vec<&str>, &Path, &str)> = vec![
        (vec!["--audio", empty.to_str().unwrap()], &empty, "empty file"),
        (vec!["--audio", text.to_str().unwrap()], &text, "not a valid WAV"),
        (vec!["--audio", "/nonexistent/x.wav"], Path::new("/nonexistent/x.wav"), "No such file"),
    ];
    for (args, file, problem) in cases {
        let mut full = vec!["inspect", "--out", out.to_str().unwrap(), "--force"];
        full.extend(args);
        let o = avsl(&full);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(file.to_str().unwrap()) && err.contains(problem), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A truncated JPEG: name and problem.
    synth(&dir.path().join("d"), "2");
    let wav = dir.path().join("d/audio/synth_test_000000.wav");
    let o = avsl(&[
        "inspect",
        "--out",
        out.to_str().unwrap(),
        "--force",
        "--audio",
        wav.to_str().unwrap(),
        "--image",
        jpg.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(
        !o.status.success() && err.contains("broken.jpg") && err.contains("JPEG") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn refuses_to_write_into_a_foreign_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), b"user data").unwrap();
    let o = avsl(&["synth", "--out", dir.path().to_str().unwrap(), "--train", "1", "--test", "1", "--negatives", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not written by avsl"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.path().join("precious.txt")).unwrap(), b"user data");
}

#[test]
fn outputs_never_go_into_input_folders() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    assert!(avsl(&["synth", "--out", d, "--train", "4", "--test", "2", "--negatives", "1"]).status.success());
    let cases: [(&str, &[&str], &str); 4] = [
        ("data/frames/../audio/out", &["eval-maps", "--maps", d], "inside the input folder"),
        ("data/metadata", &["eval-maps", "--maps", d], "inside the input folder"),
        ("data/", &["eval-maps", "--maps", d, "--force"], "is the dataset folder itself"),
        ("data/frames/run", &["train"], "inside the input folder"),
    ];
    for (out, command, expected) in cases {
        let out = dir.path().join(out);
        let mut args = vec![command[0], "--data", d, "--output", out.to_str().unwrap()];
        if command[0] != "train" {
            args.extend(["--testset", "vggss_plus_silent"]);
        }
        args.extend_from_slice(&command[1..]);
        let o = avsl(&args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
    }
    let frames: Vec<_> = std::fs::read_dir(data.join("frames")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(frames.iter().all(|f| f.to_string_lossy().ends_with(".jpg")), "nothing written among the frames");
}

#[test]
fn quick_demo_trains_evaluates_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = avsl(&["demo", "--quick", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let models = report["models"].as_object().unwrap();
    let names: Vec<&str> = models.keys().map(String::as_str).collect();
    assert_eq!(names, ["center_prior", "ezvsl", "slavc", "ssl_align", "untrained", "whole_image"]);
    for (name, m) in models {
        // Each is the metrics.json of its evaluation: 100 positives + 50 negatives.
        let all = &m["av"]["all"];
        assert_eq!(all["n"], 150, "{name}");
        for key in ["AP@50", "maxF1@50", "LocAcc@50", "AUC"] {
            let v = all[key].as_f64().unwrap_or_else(|| panic!("{name} {key}"));
            assert!((0.0..=1.0).contains(&v), "{name} {key} {v}");
        }
    }
    // A constant map predicts the whole frame: its cIoU is the box's share of the frame.
    let whole = &models["whole_image"]["av"]["all"];
    assert!(whole["mean_cIoU"].as_f64().unwrap() > 0.0);
    // Every model and baseline on the multi-source set: 30 scenes × 2 sources.
    let interactive = report["interactive"].as_object().unwrap();
    assert_eq!(interactive.keys().collect::<Vec<_>>(), models.keys().collect::<Vec<_>>());
    for (name, m) in interactive {
        let all = &m["av"]["all"];
        assert_eq!((all["pairs"].as_u64(), all["images"].as_u64()), (Some(60), Some(30)), "{name}");
        let iiou = all["IIoU@50"].as_f64().unwrap();
        assert!(iiou <= all["cIoU@50"].as_f64().unwrap(), "{name}: an image counts only if all its pairs do");
    }
    // Each goal with its measured value: a quick run states them too, reached or not.
    let goals = report["demo"]["goals"].as_array().unwrap();
    assert_eq!(goals.len(), 8);
    for g in goals {
        let (value, threshold) = (g["value"].as_f64().unwrap(), g["threshold"].as_f64().unwrap());
        assert_eq!(g["reached"].as_bool(), Some(value >= threshold), "{g}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| slavc |") && md.contains("| ssl_align |") && md.contains("| center_prior |"), "{md}");
    assert!(md.contains("### Goals") && md.contains("| EZ-VSL | LocAcc@50 |"), "{md}");
    assert!(md.contains("The paper's claim"), "{md}");
    let figures = ["training_loss.png", "training_validation.png", "pr_curves.png", "heatmaps.png", "interactive.png"];
    for figure in figures {
        assert!(md.contains(&format!("figures/{figure}")), "{figure} not in the report");
        let bytes = std::fs::read(out.join("figures").join(figure)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{figure}");
    }
    for run in ["slavc", "ezvsl", "ssl-align"] {
        assert!(out.join("runs").join(run).join("latest.safetensors").is_file());
        assert!(out.join("configs").join(format!("{run}.toml")).is_file());
    }
}

#[test]
fn check_names_every_bad_file_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    synth(&root, "3");
    let data = root.to_str().unwrap();
    let o = avsl(&["check", "--data", data, "--testset", "vggss_plus_silent"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 problem(s)"));

    // An empty WAV, a truncated JPEG, a missing file of a negative pair, a stereo-less
    // garbage WAV, and a duplicate id in the training list.
    std::fs::write(root.join("audio/synth_test_000003.wav"), b"").unwrap();
    let jpg = std::fs::read(root.join("frames/synth_test_000005.jpg")).unwrap();
    std::fs::write(root.join("frames/synth_test_000005.jpg"), &jpg[..jpg.len() / 3]).unwrap();
    std::fs::remove_file(root.join("audio/synth_silent_000001.wav")).unwrap();
    std::fs::write(root.join("audio/synth_test_000007.wav"), b"RIFF....WAVEfmt garbage").unwrap();
    let o = avsl(&["check", "--data", data, "--testset", "vggss_plus_silent", "--threads", "2"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    for (file, problem) in [
        ("audio/synth_test_000003.wav", "empty file"),
        ("frames/synth_test_000005.jpg", "truncated JPEG"),
        ("audio/synth_silent_000001.wav", "missing (non-sounding pair"),
        ("audio/synth_test_000007.wav", "WAV"),
    ] {
        let line = out.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("{file} not reported:\n{out}"));
        assert!(line.contains(problem), "{line}");
    }
    assert!(out.contains("4 problem(s) in 4 file(s)"), "{out}");

    let list = root.join("metadata/train.txt");
    let mut text = std::fs::read_to_string(&list).unwrap();
    text.push_str("synth_train_000002\n");
    std::fs::write(&list, text).unwrap();
    let o = avsl(&["check", "--data", data, "--train-list", list.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success() && out.contains("duplicate id synth_train_000002"), "{out}");
}
