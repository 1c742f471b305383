//! `avsl eval-maps` against golden outputs of an independent numpy/PyTorch implementation
//! of the authors' evaluator (`tools/make_metric_fixtures.py`, written from docs/method.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use avsl_data::npy::{read_npy_f32, write_npy_f32};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/metrics")
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

/// Materialises a fixture case: placeholder data files, per-pair map files and indexes.
struct Case {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
    data: PathBuf,
    maps: PathBuf,
    /// The same pairs' maps in score units (`--map-kind scores`), where the case has them.
    score_maps: PathBuf,
    objects: PathBuf,
    config: serde_json::Value,
}

/// Writes one `.npy` per pair from an `[N, 7, 7]` array, and the index.
fn write_pair_maps(dir: &Path, pairs: &[Vec<String>], maps: &[f32]) {
    std::fs::create_dir_all(dir.join("npy")).unwrap();
    let mut index = String::from("video,audio,map\n");
    for row in pairs {
        let k: usize = row[2].parse().unwrap();
        write_npy_f32(&dir.join(format!("npy/{k}.npy")), &[7, 7], &maps[k * 49..(k + 1) * 49]).unwrap();
        index.push_str(&format!("{},{},npy/{k}.npy\n", row[0], row[1]));
    }
    std::fs::write(dir.join("index.csv"), index).unwrap();
}

fn case(name: &str) -> Case {
    let dir = fixtures().join(name);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (maps_dir, score_maps, objects_dir) =
        (tmp.path().join("maps"), tmp.path().join("scores"), tmp.path().join("objects"));
    for d in [data.join("frames"), data.join("audio"), objects_dir.clone()] {
        std::fs::create_dir_all(d).unwrap();
    }
    let pairs = read_csv(&dir.join("pairs.csv"));
    for row in &pairs {
        std::fs::write(data.join(format!("frames/{}.jpg", row[0])), b"").unwrap();
        std::fs::write(data.join(format!("audio/{}.wav", row[1])), b"").unwrap();
    }
    let (shape, maps) = read_npy_f32(&dir.join("maps.npy")).unwrap();
    assert_eq!(shape[1..], [7, 7]);
    write_pair_maps(&maps_dir, &pairs, &maps);
    if dir.join("scores.npy").exists() {
        write_pair_maps(&score_maps, &pairs, &read_npy_f32(&dir.join("scores.npy")).unwrap().1);
    }
    let (_, objects) = read_npy_f32(&dir.join("objects.npy")).unwrap();
    let mut index = String::from("video,map\n");
    for row in read_csv(&dir.join("frames.csv")) {
        let k: usize = row[1].parse().unwrap();
        write_npy_f32(&objects_dir.join(format!("{k}.npy")), &[7, 7], &objects[k * 49..(k + 1) * 49]).unwrap();
        index.push_str(&format!("{},{k}.npy\n", row[0]));
    }
    std::fs::write(objects_dir.join("index.csv"), index).unwrap();
    let config = serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    Case { dir, _tmp: tmp, data, maps: maps_dir, score_maps, objects: objects_dir, config }
}

fn run_case(c: &Case, rule: &serde_json::Value, out: &Path, with_objects: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_avsl"));
    if rule["map_kind"] == "scores" {
        cmd.args(["eval-maps", "--map-kind", "scores", "--maps"]).arg(&c.score_maps);
    } else {
        cmd.args(["eval-maps", "--maps"]).arg(&c.maps);
    }
    cmd.arg("--data").arg(&c.data).arg("--metadata").arg(c.dir.join("metadata"));
    cmd.arg("--gt").arg(c.dir.join("Annotations"));
    cmd.args(["--testset", c.config["testset"].as_str().unwrap(), "--alpha", "0.9", "--tau", "0.03"]);
    if with_objects {
        cmd.arg("--object-maps").arg(&c.objects);
    }
    if rule["kind"] == "relative" {
        cmd.arg("--relative-prediction");
    } else {
        cmd.args(["--pred-thr", &rule["value"].to_string()]);
    }
    cmd.arg("--output").arg(out);
    cmd.output().unwrap()
}

fn check_case(name: &str) {
    let c = case(name);
    for rule in c.config["rules"].as_array().unwrap() {
        let rule_name = rule["rule"].as_str().unwrap();
        let out = c._tmp.path().join(format!("out_{rule_name}"));
        let o = run_case(&c, rule, &out, true);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for variant in ["av", "obj", "av_obj"] {
            for file in ["metrics.txt", "sample_cious.txt"] {
                let ours = std::fs::read_to_string(out.join(variant).join(file)).unwrap();
                let theirs = std::fs::read_to_string(c.dir.join(rule_name).join(variant).join(file)).unwrap();
                for (k, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
                    assert_eq!(a, b, "{name}/{rule_name}/{variant}/{file} line {}", k + 1);
                }
                assert_eq!(ours.lines().count(), theirs.lines().count(), "{name}/{rule_name}/{variant}/{file}");
            }
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
        for variant in ["av", "obj", "av_obj"] {
            let all = &json[variant]["all"];
            for key in [
                "n",
                "AP@50",
                "AP@75",
                "maxF1@50",
                "maxF1@75",
                "Precision@50",
                "Precision@75",
                "LocAcc@50",
                "LocAcc@75",
                "AUC",
                "AP_exact@50",
                "maxF1_exact@50",
                "adaptive_cIoU",
            ] {
                assert!(all.get(key).is_some(), "metrics.json {variant}.all lacks {key}");
            }
        }
    }
}

#[test]
fn extended_vggss_matches_the_reference_evaluator() {
    check_case("vggss_extended");
}

#[test]
fn plain_vggss_matches_the_reference_evaluator() {
    check_case("vggss_plain");
}

#[test]
fn extended_flickr_matches_the_reference_evaluator() {
    check_case("flickr_extended");
}

#[test]
fn bicubic_upsampling_is_bit_identical_to_pytorch() {
    check_upsampling(avsl_metrics::upsample::bicubic, "upsample");
}

#[test]
fn bilinear_upsampling_is_bit_identical_to_pytorch() {
    check_upsampling(avsl_metrics::upsample::bilinear, "bilinear");
}

/// `(map, h, w, out_h, out_w, align_corners) -> upsampled map`.
type Upsample = fn(&[f32], usize, usize, usize, usize, bool) -> Vec<f32>;

fn check_upsampling(upsample: Upsample, prefix: &str) {
    let dir = fixtures().join("vggss_extended");
    let (_, maps) = read_npy_f32(&dir.join("maps.npy")).unwrap();
    for align in [true, false] {
        let file = format!("{prefix}_align_{align}.npy");
        let (shape, expected) = read_npy_f32(&dir.join(&file)).unwrap();
        assert_eq!(shape, vec![3, 32, 224]);
        for m in 0..3 {
            let up = upsample(&maps[m * 49..(m + 1) * 49], 7, 7, 224, 224, align);
            for (r, y) in (0..224).step_by(7).enumerate() {
                for x in 0..224 {
                    let (a, b) = (up[y * 224 + x], expected[(m * 32 + r) * 224 + x]);
                    assert_eq!(a.to_bits(), b.to_bits(), "align_corners={align} map {m} y {y} x {x}: {a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn without_object_maps_only_av_is_written_and_said() {
    let c = case("vggss_extended");
    let out = c._tmp.path().join("only_av");
    let o = run_case(&c, &c.config["rules"][0], &out, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("only the av variant"));
    assert!(out.join("av/metrics.txt").exists() && !out.join("obj").exists());
    let expected = std::fs::read_to_string(c.dir.join("relative/av/metrics.txt")).unwrap();
    assert_eq!(std::fs::read_to_string(out.join("av/metrics.txt")).unwrap(), expected);
}

#[test]
fn bad_maps_are_named() {
    let c = case("vggss_extended");
    let rule = &c.config["rules"][0];
    // A NaN in one map, a wrong shape in another, a missing row, an escaping path.
    let index = std::fs::read_to_string(c.maps.join("index.csv")).unwrap();
    let first = index.lines().nth(1).unwrap().to_string();
    let file = c.maps.join(first.split(',').nth(2).unwrap());
    let original = read_npy_f32(&file).unwrap().1;
    let mut values = original.clone();
    values[5] = f32::NAN;
    write_npy_f32(&file, &[7, 7], &values).unwrap();
    let o = run_case(&c, rule, &c._tmp.path().join("o1"), false);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains(file.to_str().unwrap()) && err.contains("not finite"), "{err}");

    // Leading singleton dimensions (a saved [1, 1, 7, 7] tensor) and a byte-order mark in
    // the index are accepted: same results as the plain files.
    write_npy_f32(&file, &[7, 7], &original).unwrap();
    let plain = c._tmp.path().join("plain");
    assert!(run_case(&c, rule, &plain, false).status.success());
    write_npy_f32(&file, &[1, 1, 7, 7], &original).unwrap();
    std::fs::write(c.maps.join("index.csv"), format!("\u{feff}{index}")).unwrap();
    let o = run_case(&c, rule, &c._tmp.path().join("singleton"), false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["av/metrics.txt", "av/sample_cious.txt"] {
        assert_eq!(
            std::fs::read(plain.join(f)).unwrap(),
            std::fs::read(c._tmp.path().join("singleton").join(f)).unwrap()
        );
    }
    std::fs::write(c.maps.join("index.csv"), &index).unwrap();

    write_npy_f32(&file, &[49], &[0.0; 49]).unwrap();
    let o = run_case(&c, rule, &c._tmp.path().join("o2"), false);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("shape [49]"), "{err}");

    let without_first: String = index.lines().filter(|l| *l != first).map(|l| format!("{l}\n")).collect();
    std::fs::write(c.maps.join("index.csv"), &without_first).unwrap();
    let o = run_case(&c, rule, &c._tmp.path().join("o3"), false);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("index.csv") && err.contains("no map for"), "{err}");

    std::fs::write(
        c.maps.join("index.csv"),
        format!("{without_first}{},../../etc/passwd\n", first.rsplit_once(',').unwrap().0),
    )
    .unwrap();
    let o = run_case(&c, rule, &c._tmp.path().join("o4"), false);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("leaves the maps folder"), "{err}");

    std::fs::write(c.maps.join("index.csv"), format!("{index}{first}\n")).unwrap();
    let o = run_case(&c, rule, &c._tmp.path().join("o5"), false);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("duplicate row"), "{err}");
}
