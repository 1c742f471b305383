//! `avsl eval-maps --testset is3` on a multi-source set in the IS3 layout: a model that
//! follows each sound to its own object passes IIoU; one that shows the same object for
//! every sound of a frame fails it, though half its pairs are right.

mod support;

use std::path::Path;

use avsl_data::npy::write_npy_f32;
use support::{fails, json, ok};

/// Left and right halves of a 224×224 frame: the two sources of every scene.
const LEFT: [f64; 4] = [0.0, 0.0, 112.0, 224.0];
const RIGHT: [f64; 4] = [112.0, 0.0, 224.0, 224.0];

fn dataset(dir: &Path, scenes: usize) {
    for folder in ["images", "audio_wav", "metadata"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
    }
    let mut entries = Vec::new();
    for s in 0..scenes {
        for (source, b) in [("drum", LEFT), ("flute", RIGHT)] {
            let name = format!("drum_flute_{s}_{source}");
            std::fs::write(dir.join(format!("images/{name}.jpg")), b"frame").unwrap();
            std::fs::write(dir.join(format!("audio_wav/{name}.wav")), b"sound").unwrap();
            entries.push(serde_json::json!({
                "image": format!("/their/disk/visual_frames/{name}.jpg"),
                "audio": format!("/their/disk/audio_wav/{name}.wav"),
                "gt_box": b,
            }));
        }
    }
    std::fs::write(dir.join("metadata/synthetic3240_bbox.json"), serde_json::to_string(&entries).unwrap()).unwrap();
}

/// A 7×7 map bright on the left or the right three columns.
fn half_map(left: bool) -> Vec<f32> {
    (0..49).map(|i| if (i % 7 < 3) == left && i % 7 != 3 { 1.0 } else { -1.0 }).collect()
}

/// Maps for every pair: `follows` picks each source's own side; otherwise always the left.
fn maps(dir: &Path, scenes: usize, follows: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let mut index = String::from("video,audio,map\n");
    for s in 0..scenes {
        for (source, left) in [("drum", true), ("flute", false)] {
            let name = format!("drum_flute_{s}_{source}");
            write_npy_f32(&dir.join(format!("{name}.npy")), &[7, 7], &half_map(if follows { left } else { true }))
                .unwrap();
            index.push_str(&format!("{name},{name},{name}.npy\n"));
        }
    }
    std::fs::write(dir.join("index.csv"), index).unwrap();
}

#[test]
fn iiou_separates_following_the_sound_from_showing_one_object() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    dataset(&tmp.path().join("is3"), 3);
    maps(&tmp.path().join("follows"), 3, true);
    maps(&tmp.path().join("dominant"), 3, false);
    let run = |maps: &str, out: &str| {
        let console =
            ok(&["eval-maps", "--data", &p("is3"), "--testset", "is3", "--maps", &p(maps), "--output", &p(out)]);
        assert!(console.contains("6 pairs of 3 images"), "{console}");
        json(&tmp.path().join(out).join("metrics.json"))["av"]["all"].clone()
    };
    let follows = run("follows", "out_follows");
    let dominant = run("dominant", "out_dominant");
    assert_eq!(follows["pairs"], 6);
    assert_eq!(follows["images"], 3);
    assert_eq!(follows["cIoU@50"], 1.0);
    assert_eq!(follows["IIoU@50"], 1.0);
    assert_eq!(dominant["cIoU@50"], 0.5, "the drum pairs are right");
    assert_eq!(dominant["IIoU@50"], 0.0, "no frame has both sources found");
    assert!(dominant["IAUC"].as_f64().unwrap() < follows["IAUC"].as_f64().unwrap());
    let rows = std::fs::read_to_string(tmp.path().join("out_dominant/pairs.csv")).unwrap();
    assert!(rows.starts_with("name,image,ciou,adaptive_ciou\n"));
    assert!(rows.contains("drum_flute_0_flute,drum_flute_0,0,"), "{rows}");
    // A pair without a map is an error naming the index and the pair.
    let index = tmp.path().join("follows/index.csv");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(
        &index,
        text.lines().filter(|l| !l.starts_with("drum_flute_1_flute")).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let err =
        fails(&["eval-maps", "--data", &p("is3"), "--testset", "is3", "--maps", &p("follows"), "--output", &p("o3")]);
    assert!(err.contains("index.csv") && err.contains("drum_flute_1_flute"), "{err}");
}
