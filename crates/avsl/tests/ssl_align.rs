//! SSL-align through the CLI: training with self-mined neighbours resumes to the same
//! trajectory, mined neighbours come from a checkpoint or features file and feed training,
//! and the checkpoint is scored by `avsl eval` on the standard and interactive sets.

mod support;

use std::path::Path;

use avsl_train::neighbour_file::read_neighbours;
use support::{fails, json, ok as avsl};

fn log(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("train_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn losses(run: &Path) -> Vec<(u64, f64)> {
    log(run).iter().filter_map(|v| Some((v["step"].as_u64()?, v.get("loss")?.as_f64()?))).collect()
}

#[test]
fn self_mined_training_resumes_to_the_same_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    avsl(&["synth", "--out", &p("data"), "--train", "12", "--test", "2", "--negatives", "0", "--seed", "5"]);
    // Mining before epochs 1 and 3: the split run resumes before epoch 2, where it must read
    // the neighbours mined before epoch 1, and mines again before epoch 3 itself.
    std::fs::write(p("c.toml"), "model = \"ssl-align\"\nneighbours_k = 3\nmine_every = 2\nwidth = 8\ndim = 16\n")
        .unwrap();
    let common = ["train", "--data", &p("data"), "--config", &p("c.toml"), "--batch-size", "4", "--seed", "2"];
    let train = |out: &str, extra: &[&str]| {
        let mut args = common.to_vec();
        args.extend(["--threads", "2", "--output", out]);
        args.extend_from_slice(extra);
        avsl(&args)
    };
    let (straight, split) = (p("straight"), p("split"));
    train(&straight, &["--epochs", "3"]);
    train(&split, &["--epochs", "1"]);
    let console = train(&split, &["--resume", "--epochs", "3"]);
    assert_eq!(console.matches("mined 3 neighbours").count(), 1, "{console}");
    let (a, b) = (losses(Path::new(&straight)), losses(Path::new(&split)));
    assert_eq!(a.len(), 9);
    assert_eq!(a, b, "step losses of the resumed run");
    let mined: Vec<u64> =
        log(Path::new(&straight)).iter().filter_map(|v| v.get("mined_neighbours_before_epoch")?.as_u64()).collect();
    assert_eq!(mined, [1, 3]);
    let file = read_neighbours(&Path::new(&straight).join("neighbours.safetensors")).unwrap();
    assert_eq!((file.ids.len(), file.table.k), (12, 3));
    assert!(file.source.contains("before epoch 3"), "{}", file.source);
}

#[test]
fn mined_neighbours_feed_training_and_the_checkpoint_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let data = p("data");
    avsl(&["synth", "--out", &data, "--train", "8", "--test", "4", "--negatives", "2", "--interactive", "2"]);
    // Features from a file: rows 0–3 and 4–7 point two ways, so each sample's nearest
    // neighbours are the other three of its group.
    let features: Vec<f32> =
        (0..8).flat_map(|i| if i < 4 { [1.0, 0.1 * i as f32] } else { [0.1 * i as f32, 1.0] }).collect();
    avsl_data::npy::write_npy_f32(Path::new(&p("f.npy")), &[8, 2], &features).unwrap();
    avsl(&[
        "mine-neighbours",
        "--data",
        &data,
        "--features",
        &p("f.npy"),
        "--k",
        "3",
        "--output",
        &p("nb.safetensors"),
    ]);
    let file = read_neighbours(Path::new(&p("nb.safetensors"))).unwrap();
    for i in 0..8usize {
        let group = |j: usize| j / 4;
        let row = &file.table.image[i * 3..][..3];
        assert!(row.iter().all(|&j| group(j as usize) == group(i) && j as usize != i), "row {i}: {row:?}");
    }
    let console = avsl(&[
        "train",
        "--data",
        &data,
        "--model",
        "ssl-align",
        "--neighbours",
        &p("nb.safetensors"),
        "--batch-size",
        "4",
        "--width",
        "8",
        "--dim",
        "16",
        "--epochs",
        "1",
        "--output",
        &p("run"),
    ]);
    assert!(!console.contains("mined"), "a given neighbour file is used as it is: {console}");
    let checkpoint = p("run/latest.safetensors");
    // The trained trunks are a feature source too.
    avsl(&[
        "mine-neighbours",
        "--data",
        &data,
        "--features",
        &checkpoint,
        "--k",
        "2",
        "--output",
        &p("own.safetensors"),
    ]);
    assert_eq!(read_neighbours(Path::new(&p("own.safetensors"))).unwrap().table.k, 2);
    // An existing neighbour file is kept: refused, or (--force) renamed beside the new one.
    let again =
        ["mine-neighbours", "--data", &data, "--features", &checkpoint, "--k", "1", "--output", &p("own.safetensors")];
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avsl")).args(again).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("own.safetensors exists"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avsl")).args(again).arg("--force").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("kept the earlier neighbour file as"), "{err}");
    assert_eq!(read_neighbours(Path::new(&p("own.safetensors"))).unwrap().table.k, 1);
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("own.previous-") && n.ends_with(".safetensors"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(read_neighbours(&dir.path().join(&kept[0])).unwrap().table.k, 2);
    for testset in ["vggss_plus_silent", "is3"] {
        let out = p(&format!("eval_{testset}"));
        avsl(&["eval", "--checkpoint", &checkpoint, "--data", &data, "--testset", testset, "--output", &out]);
        let metrics = json(&Path::new(&out).join("metrics.json"));
        assert!(metrics["av"]["all"].is_object(), "{testset}: {metrics}");
        if testset == "vggss_plus_silent" {
            // Retrieval and the alignment analysis, with the maps' features and with the
            // alignment projections.
            let r = &metrics["retrieval"];
            for prefix in ["", "projected_"] {
                let alignment = r[format!("{prefix}alignment")].as_f64().unwrap();
                let magnitude = r[format!("{prefix}magnitude")].as_f64().unwrap();
                assert!((-1.0..=1.0).contains(&alignment) && (0.0..=2.0).contains(&magnitude), "{r}");
                assert!(
                    r[format!("{prefix}a2v_R@10")].as_f64().unwrap() >= r[format!("{prefix}a2v_R@1")].as_f64().unwrap()
                );
            }
        }
    }
    // A neighbour file of another list is refused, naming the file.
    avsl(&["synth", "--out", &p("other"), "--train", "6", "--test", "2", "--negatives", "0", "--seed", "8"]);
    let other = p("other");
    let nb = p("nb.safetensors");
    let refused = p("refused");
    let stderr = fails(&["train", "--data", &other, "--model", "ssl-align", "--neighbours", &nb, "--output", &refused]);
    assert!(stderr.contains("nb.safetensors") && stderr.contains("mine again"), "{stderr}");
    // Neighbours are SSL-align's.
    let stderr = fails(&["train", "--data", &data, "--neighbours", &nb, "--output", &p("slavc")]);
    assert!(stderr.contains("--model ssl-align"), "{stderr}");
}
