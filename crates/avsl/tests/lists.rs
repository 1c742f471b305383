//! A dataset folder with frames and audio only (no `metadata/`): `avsl eval` scores it with
//! the SLAVC authors' lists built into avsl and says so in `metrics.json`; `avsl check`
//! counts the official ids the folder lacks and writes them all to a file.

mod support;

use std::path::Path;

use support::{avsl, json, ok};

/// The first three ids of the built-in `vggss_test.csv`.
const IDS: [&str; 3] = ["zpWuikVorYg_000032", "gEvCUcZ6w88_000030", "JIemsK_0lXc_000364"];

/// A generated dataset whose three test scenes are renamed to real VGG-SS ids, with its
/// metadata folder removed.
fn official_ids_only(root: &Path) {
    let data = root.to_str().unwrap();
    ok(&["synth", "--out", data, "--train", "0", "--test", "3", "--negatives", "0", "--seed", "2"]);
    for (k, id) in IDS.iter().enumerate() {
        for (folder, ext) in [("frames", "jpg"), ("audio", "wav")] {
            let from = root.join(folder).join(format!("synth_test_{k:06}.{ext}"));
            std::fs::rename(from, root.join(folder).join(format!("{id}.{ext}"))).unwrap();
        }
    }
    std::fs::remove_dir_all(root.join("metadata")).unwrap();
}

#[test]
fn eval_and_check_use_the_built_in_lists_without_a_metadata_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    official_ids_only(&root);
    let model = dir.path().join("model.safetensors");
    support::known_model(&model);
    let (data, out) = (root.to_str().unwrap(), dir.path().join("eval"));
    let console = ok(&[
        "eval",
        "--checkpoint",
        model.to_str().unwrap(),
        "--data",
        data,
        "--testset",
        "vggss",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(console.contains("lists: the SLAVC authors' published lists built into avsl"), "{console}");
    assert!(console.contains("5155 ids of vggss_test.csv have no frame or no audio file"), "{console}");
    let config = &json(&out.join("metrics.json"))["config"];
    assert_eq!(config["samples"], 3, "the three present ids, with their boxes from the built-in vggss.json");
    let lists = &config["lists"];
    assert!(lists["source"].as_str().unwrap().starts_with("embedded"), "{lists}");
    // `sha256sum crates/avsl-data/lists/vggss_test.csv crates/avsl-data/lists/vggss.json`
    assert_eq!(lists["sha256"]["vggss_test.csv"], "971081929d45caf21a148a6ca968822d96e8316331d0cc0bafb1783acb4d2c35");
    assert_eq!(lists["sha256"]["vggss.json"], "ae300b4a259267e6fe839970d495862edd70bfe3da63d925bcdb34054ed3b15e");

    let missing = dir.path().join("missing.txt");
    let o = avsl(&["check", "--data", data, "--testset", "vggss", "--missing-ids", missing.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "missing files are problems: {stdout}");
    assert!(stdout.contains("5155 of the 5158 ids of vggss have no frame or no audio file"), "{stdout}");
    let listed: Vec<String> = std::fs::read_to_string(&missing).unwrap().lines().map(str::to_string).collect();
    assert_eq!(listed.len(), 5155);
    assert!(IDS.iter().all(|id| !listed.iter().any(|l| l == id)), "present ids are not missing");
    // A metadata folder takes precedence: the set's own lists, not the built-in ones.
    std::fs::create_dir(root.join("metadata")).unwrap();
    std::fs::write(root.join("metadata/vggss_test.csv"), format!("{}\n", IDS[0])).unwrap();
    let boxes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../avsl-data/lists/vggss.json");
    std::fs::copy(boxes, root.join("metadata/vggss.json")).unwrap();
    let o = avsl(&["check", "--data", data, "--testset", "vggss", "--missing-ids", missing.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("lists: {}", root.join("metadata").display())), "{stdout}");
    assert!(stdout.contains("all 1 ids of vggss have their frame and audio"), "{stdout}");
}

/// The README's extended-set example, on a folder without `metadata/`: every id the
/// built-in `vggss_test.csv` and `vggss_test_plus_silent.csv` name has a (placeholder)
/// frame and clip, every pair one constant map; `eval-maps` builds the authors' list of
/// 5158 positives and 5158 non-sounding pairs from the built-in files.
#[test]
fn the_extended_set_is_built_from_the_built_in_lists() {
    let dir = tempfile::tempdir().unwrap();
    let (root, maps) = (dir.path().join("data"), dir.path().join("maps"));
    let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../avsl-data/lists");
    let positives: Vec<String> =
        std::fs::read_to_string(lists.join("vggss_test.csv")).unwrap().lines().map(str::to_string).collect();
    let silent = std::fs::read_to_string(lists.join("vggss_test_plus_silent.csv")).unwrap();
    let negatives: Vec<(String, String)> = silent
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    for folder in ["frames", "audio"] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
    }
    let mut index = String::from("video,audio,map\n");
    for (video, audio) in positives.iter().map(|id| (id, id)).chain(negatives.iter().map(|(v, a)| (v, a))) {
        std::fs::write(root.join("frames").join(format!("{video}.jpg")), b"").unwrap();
        std::fs::write(root.join("audio").join(format!("{audio}.wav")), b"").unwrap();
        index.push_str(&format!("{video},{audio},map.npy\n"));
    }
    std::fs::create_dir_all(&maps).unwrap();
    std::fs::write(maps.join("index.csv"), index).unwrap();
    std::fs::write(maps.join("map.npy"), avsl_data::npy::encode_npy_f32(&[7, 7], &[0.5; 49])).unwrap();
    let out = dir.path().join("scores");
    let console = ok(&[
        "eval-maps",
        "--maps",
        maps.to_str().unwrap(),
        "--data",
        root.to_str().unwrap(),
        "--testset",
        "vggss_plus_silent",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(console.contains("built into avsl"), "{console}");
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["config"]["samples"], 10316);
    assert_eq!(metrics["config"]["positives"], 5158);
    let hashes = &metrics["config"]["lists"]["sha256"];
    assert_eq!(hashes.as_object().unwrap().len(), 3, "{hashes}");
    // `sha256sum crates/avsl-data/lists/vggss_test_plus_silent.csv`
    assert_eq!(hashes["vggss_test_plus_silent.csv"], SILENT_SHA256);
}

const SILENT_SHA256: &str = "905a009428e16d1108e5af112d8e682dbe1702a2ed897b3d56753ff587018e4e";
