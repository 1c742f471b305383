//! Unreadable files: without --skip-bad the run stops naming the first; with it, every
//! sample that uses a bad file is left out, listed and counted, and nothing else changes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{avsl, json, ok};

/// Cuts a file to its first half (a truncated download).
fn truncate(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

/// The rows of a csv file, without its header.
fn rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().skip(1).map(str::to_string).collect()
}

#[test]
fn eval_skips_every_pair_of_a_bad_file_and_scores_the_rest_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    let s = |name: &str| p(name).to_str().unwrap().to_string();
    ok(&["synth", "--out", &s("data"), "--train", "0", "--test", "8", "--negatives", "4", "--seed", "4"]);
    support::known_model(&p("model.safetensors"));
    let eval = |out: &str, extra: &[&str]| -> Output {
        let (model, data, output) = (s("model.safetensors"), s("data"), s(out));
        let mut args = vec!["eval", "--checkpoint", &model];
        args.extend(["--data", &data, "--testset", "vggss_plus_silent", "--output", &output]);
        args.extend_from_slice(extra);
        avsl(&args)
    };
    assert!(eval("intact", &[]).status.success());

    // This seed's extended list pairs frames 000000 and 000001 with clip 000003: a bad
    // frame and a bad clip that non-sounding pairs use too.
    let list = std::fs::read_to_string(p("data/metadata/vggss_test_plus_silent.csv")).unwrap();
    assert!(list.contains("synth_test_000000,synth_test_000003,"), "{list}");
    let bad_frame = "synth_test_000000";
    let bad_clip = "synth_test_000003";
    truncate(&p(&format!("data/frames/{bad_frame}.jpg")));
    truncate(&p(&format!("data/audio/{bad_clip}.wav")));

    let stopped = eval("stopped", &[]);
    assert!(!stopped.status.success());
    let e = String::from_utf8_lossy(&stopped.stderr);
    assert!(e.contains(bad_frame) || e.contains(bad_clip), "names a bad file: {e}");

    let console = String::from_utf8(eval("skipped", &["--skip-bad"]).stdout).unwrap();
    assert!(console.contains("2 unreadable files"), "{console}");
    // Out: the two positives of those ids, and every non-sounding pair that shows the
    // frame or plays the clip.
    let negatives_out = list
        .lines()
        .skip(1)
        .filter(|r| {
            let f: Vec<&str> = r.split(',').collect();
            f[0] == bad_frame || f[1] == bad_clip
        })
        .count();
    let intact = rows(&p("intact/av/sample_cious.txt"));
    let skipped = rows(&p("skipped/av/sample_cious.txt"));
    assert_eq!(negatives_out, 2);
    assert_eq!(intact.len() - skipped.len(), 2 + negatives_out);
    for row in &skipped {
        assert!(intact.contains(row), "a kept pair scores as before: {row}");
    }
    let m = json(&p("skipped/metrics.json"));
    let info = &m["config"]["skipped"];
    assert_eq!(info["files"], 2);
    assert_eq!(info["pairs_scored"].as_u64().unwrap() as usize, skipped.len());
    assert_eq!(m["av"]["all"]["n"].as_u64().unwrap() as usize, skipped.len());
    assert_eq!(info["pairs_left_out"].as_u64().unwrap() as usize, intact.len() - skipped.len());
    let csv = std::fs::read_to_string(p("skipped/skipped.csv")).unwrap();
    assert!(csv.starts_with("file,problem,pairs_left_out\n"), "{csv}");
    assert!(csv.contains(&format!("{bad_frame}.jpg")) && csv.contains(&format!("{bad_clip}.wav")), "{csv}");
    assert!(csv.contains("truncated"), "says what is wrong: {csv}");

    // A listed id without its frame is not in the set (as in the reference) and the
    // count is said, not hidden.
    std::fs::remove_file(p("data/frames/synth_test_000006.jpg")).unwrap();
    let console = String::from_utf8(eval("missing", &["--skip-bad"]).stdout).unwrap();
    assert!(console.contains("note: 1 ids of vggss_test.csv have no frame or no audio file"), "{console}");
    assert_eq!(json(&p("missing/metrics.json"))["config"]["listed_ids_without_files"], 1);
}

#[test]
fn training_leaves_out_bad_samples_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    let s = |name: &str| p(name).to_str().unwrap().to_string();
    ok(&["synth", "--out", &s("data"), "--train", "8", "--test", "2", "--negatives", "1", "--seed", "6"]);
    let bad = "synth_train_000003";
    truncate(&p(&format!("data/audio/{bad}.wav")));
    let train = |out: &str, extra: &[&str]| -> Output {
        let (data, output) = (s("data"), s(out));
        let mut args =
            vec!["train", "--data", &data, "--output", &output, "--epochs", "2", "--batch-size", "4", "--dim", "8"];
        args.extend(["--width", "8", "--threads", "2"]);
        args.extend_from_slice(extra);
        avsl(&args)
    };
    let stopped = train("stopped", &[]);
    assert!(!stopped.status.success());
    let e = String::from_utf8_lossy(&stopped.stderr);
    assert!(e.contains(&format!("{bad}.wav")), "{e}");

    let out = train("skipped", &["--skip-bad"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let console = String::from_utf8(out.stdout).unwrap();
    assert!(console.contains("1 samples left out"), "{console}");
    assert!(console.contains("1 distinct training samples left out over the run (1 unreadable files"), "{console}");
    let csv = rows(&p("skipped/skipped.csv"));
    assert_eq!(csv.len(), 1, "{csv:?}");
    assert!(csv[0].contains(&format!("{bad}.wav")) && csv[0].ends_with(&format!(",{bad}")), "{csv:?}");
    // Each epoch: one batch of 3 (the bad sample out), one of 4; the log counts it.
    let log: Vec<Value> = std::fs::read_to_string(p("skipped/train_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let skipped_steps = log.iter().filter(|l| l.get("loss").is_some() && l["skipped"] == 1).count();
    assert_eq!(skipped_steps, 2, "one step per epoch without the bad sample");
    let epochs: Vec<&Value> = log.iter().filter(|l| l.get("epoch_end").is_some()).collect();
    assert!(epochs.iter().all(|e| e["skipped_samples"] == 1), "{epochs:?}");
}
