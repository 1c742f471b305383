//! `avsl eval` end to end against the reference pipeline (`tools/make_eval_fixtures.py`:
//! Pillow, scipy, PyTorch + torchvision, the authors' evaluator re-written from docs/method.md),
//! on a dataset `avsl synth` writes and a checkpoint in the authors' layout with the
//! fixtures' formula weights.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use avsl_model::Weights;
use avsl_model::checkpoint::pth_bytes;
use avsl_model::formula::formula_weights_for;
use serde_json::Value;

/// Weights in the authors' `.pth` layout.
fn write_pth(path: &Path, weights: &Weights) {
    std::fs::write(path, pth_bytes(path, weights).unwrap()).unwrap();
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn weights(file: &str) -> Weights {
    formula_weights_for(&json(&fixtures().join("model").join(file))["tensors"])
}

fn avsl(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_avsl")).args(args).output().unwrap();
    assert!(out.status.success(), "avsl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// sample_cious.txt rows keyed by (name, bb): a negative shares its name with a positive.
fn sample_rows(path: &Path) -> BTreeMap<(String, String), (f64, f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let value = |i: usize| f[i].parse::<f64>().unwrap();
        assert!(rows.insert((f[0].to_string(), f[2].to_string()), (value(1), value(3), value(4))).is_none());
    }
    rows
}

fn metric_lines(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| l.split_once(": ").unwrap()).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

struct Setup {
    tmp: tempfile::TempDir,
    case: Value,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let case = json(&fixtures().join("eval/case.json"));
        let mut args: Vec<String> =
            ["synth", "--out", tmp.path().join("data").to_str().unwrap()].map(str::to_string).to_vec();
        args.extend(case["synth"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()));
        avsl(&args.iter().map(String::as_str).collect::<Vec<_>>());
        write_pth(&tmp.path().join("slavc.pth"), &weights("slavc_tensors.json"));
        write_pth(&tmp.path().join("resnet18.pth"), &weights("ogl_tensors.json"));
        Setup { tmp, case }
    }

    fn path(&self, name: &str) -> String {
        self.tmp.path().join(name).to_str().unwrap().to_string()
    }

    fn eval(&self, out: &str, extra: &[&str]) -> std::process::Output {
        self.eval_checkpoint("slavc.pth", out, extra)
    }

    /// `avsl eval` of a checkpoint in the temporary folder, with object guidance.
    fn eval_checkpoint(&self, checkpoint: &str, out: &str, extra: &[&str]) -> std::process::Output {
        let (checkpoint, objects, data, out) =
            (self.path(checkpoint), self.path("resnet18.pth"), self.path("data"), self.path(out));
        let mut args = vec![
            "eval",
            "--checkpoint",
            &checkpoint,
            "--object-weights",
            &objects,
            "--data",
            &data,
            "--testset",
            "vggss_plus_silent",
            "--output",
            &out,
            "--batch-size",
            "3",
        ];
        args.extend_from_slice(extra);
        avsl(&args)
    }
}

#[test]
fn eval_reproduces_the_reference_pipeline() {
    let s = Setup::new();
    for (case, spec) in s.case["cases"].as_object().unwrap() {
        let mut flags = vec![];
        if spec["encoders"] == "momentum" {
            flags.push("--use-mom-eval".to_string());
        }
        match spec["rule"][0].as_str().unwrap() {
            "relative" => flags.push("--relative-prediction".to_string()),
            _ => flags.extend(["--pred-thr".to_string(), spec["rule"][1].to_string()]),
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let console = String::from_utf8(s.eval(case, &flags).stdout).unwrap();
        let encoders = spec["encoders"].as_str().unwrap();
        assert!(console.contains(&format!("scoring the {encoders} encoders")), "{console}");
        compare(&fixtures().join("eval").join(case), &s.tmp.path().join(case), s.case["samples"].as_u64().unwrap());
    }
}

#[test]
fn ezvsl_checkpoints_are_scored_with_ezvsl_protocol() {
    let s = Setup::new();
    write_pth(&s.tmp.path().join("ezvsl.pth"), &weights("ezvsl_tensors.json"));
    let out = s.path("ez");
    let console = String::from_utf8(s.eval_checkpoint("ezvsl.pth", "ez", &[]).stdout).unwrap();
    assert!(console.contains("EZ-VSL protocol") && console.contains("alpha 0.4"), "{console}");
    compare(&fixtures().join("eval/ezvsl"), Path::new(&out), s.case["samples"].as_u64().unwrap());
    // EZ-VSL's own headline: "AP50(cIoU)" (our LocAcc@50), Avg-cIoU, AUC, over positives.
    let metrics = json(&Path::new(&out).join("metrics.json"));
    for variant in ["av", "obj", "av_obj"] {
        let rows = sample_rows(&fixtures().join("eval/ezvsl").join(variant).join("sample_cious.txt"));
        let visible: Vec<f64> = rows.iter().filter(|((_, bb), _)| bb != "0").map(|(_, r)| r.1).collect();
        let mean = visible.iter().sum::<f64>() / visible.len() as f64;
        let ours = metrics[variant]["visible"]["mean_cIoU"].as_f64().unwrap();
        assert!((ours - mean).abs() < 1e-4, "{variant}: mean cIoU {ours} vs the reference's {mean}");
    }
}

/// Every variant's sample_cious.txt and metrics.txt against the reference's.
fn compare(expected: &Path, ours: &Path, samples: u64) {
    for variant in ["av", "obj", "av_obj"] {
        let (expected, ours) = (expected.join(variant), ours.join(variant));
        let (want, got) =
            (sample_rows(&expected.join("sample_cious.txt")), sample_rows(&ours.join("sample_cious.txt")));
        let label = ours.display();
        assert_eq!(want.len(), samples as usize);
        assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>(), "{label}");
        let mut inexact = 0;
        for (key, (area, ciou, conf)) in &want {
            let (g_area, g_ciou, g_conf) = got[key];
            assert_eq!(*area, g_area, "{label} {key:?} area");
            // Maps agree with PyTorch to ~1e-5 logits (object maps ~2e-7): confidences to
            // float32 rounding.
            assert!((conf - g_conf).abs() <= 1e-6, "{label} {key:?} conf {conf} vs {g_conf}");
            // The thresholded pixels are the same, except that a pixel within ~1e-7 of a
            // median threshold may fall on the other side (EZ-VSL's min-max normalised
            // maps), by a pixel or two. How many samples that hits depends on the
            // convolution's float32 rounding: 1 of 16 in momentum_relative/av_obj with
            // im2col kernels, 2 of 16 (synth_test_000004 and _000006, |ΔcIoU| ≈ 3e-5 each)
            // with the Winograd kernels of the 3×3 layers; the metrics stay identical.
            if ciou.to_bits() != g_ciou.to_bits() && !(ciou.is_nan() && g_ciou.is_nan()) {
                inexact += 1;
                assert!((ciou - g_ciou).abs() < 1e-4, "{label} {key:?} cIoU {ciou} vs {g_ciou}");
            }
        }
        assert!(inexact <= 2, "{label}: {inexact} cIoUs differ");
        assert_eq!(metric_lines(&expected.join("metrics.txt")), metric_lines(&ours.join("metrics.txt")), "{label}");
    }
}

#[test]
fn saved_maps_rescored_by_eval_maps_give_the_same_results_and_extras_are_written() {
    let s = Setup::new();
    s.eval("run", &["--use-mom-eval", "--relative-prediction", "--save-maps"]);
    let run = s.tmp.path().join("run");
    let rescored = s.path("rescored");
    let (data, maps, objects) =
        (s.path("data"), run.join("maps").display().to_string(), run.join("object_maps").display().to_string());
    avsl(&[
        "eval-maps",
        "--maps",
        &maps,
        "--object-maps",
        &objects,
        "--data",
        &data,
        "--testset",
        "vggss_plus_silent",
        "--relative-prediction",
        "--output",
        &rescored,
    ]);
    for variant in ["av", "obj", "av_obj"] {
        for file in ["sample_cious.txt", "metrics.txt", "samples.csv"] {
            let a = std::fs::read_to_string(run.join(variant).join(file)).unwrap();
            let b = std::fs::read_to_string(Path::new(&rescored).join(variant).join(file)).unwrap();
            assert_eq!(a, b, "{variant}/{file}");
        }
    }
    let metrics = json(&run.join("metrics.json"));
    assert_eq!(metrics["config"]["encoders"], "momentum");
    let retrieval = &metrics["retrieval"];
    assert_eq!(retrieval["n"], 8);
    for key in ["a2v_R@1", "a2v_R@5", "a2v_R@10", "v2a_R@1", "v2a_R@5", "v2a_R@10"] {
        let r = retrieval[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&r), "{key} = {r}");
    }
    assert_eq!(retrieval["a2v_R@10"], 1.0, "8 candidates: every match is in the top 10");
    let calibration = json(&run.join("calibration.json"));
    for variant in ["av", "obj", "av_obj"] {
        let v = &calibration["variants"][variant];
        let f1 = v["f1"].as_f64().unwrap();
        let best = metrics[variant]["all"]["maxF1_exact@50"].as_f64().unwrap();
        assert!((f1 - best).abs() < 1e-12, "{variant}: calibrated F1 {f1} is the exact max-F1 {best}");
    }
}

#[test]
fn wrong_checkpoints_and_devices_are_clear_errors() {
    let s = Setup::new();
    let fail = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_avsl")).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    };
    let (data, out) = (s.path("data"), s.path("out"));
    let objects = s.path("resnet18.pth");
    let base = ["eval", "--data", &data, "--testset", "vggss_plus_silent", "--output", &out];
    let with = |checkpoint: &str, extra: &[&str]| -> String {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--checkpoint", checkpoint]);
        args.extend_from_slice(extra);
        fail(&args)
    };
    let e = with(&objects, &[]);
    assert!(e.contains("resnet18.pth") && e.contains("not a checkpoint of a model avsl knows"), "{e}");
    let slavc = s.path("slavc.pth");
    let e = with(&slavc, &["--model", "ezvsl"]);
    assert!(e.contains("slavc checkpoint, not ezvsl"), "{e}");
    let e = with(&slavc, &["--device", "cuda"]);
    assert!(e.contains("--device cuda"), "{e}");
    let e = with(&slavc, &["--object-weights", &slavc]);
    assert!(e.contains("slavc.pth") && e.contains("not a torchvision ResNet-18"), "{e}");
    std::fs::write(s.tmp.path().join("data/audio/synth_silent_000001.wav"), b"RIFF").unwrap();
    let e = with(&slavc, &[]);
    assert!(e.contains("synth_silent_000001.wav"), "{e}");
}
