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

#[test]
fn synth_writes_a_multi_source_set_that_eval_maps_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let console = ok(&[
        "synth",
        "--out",
        data.to_str().unwrap(),
        "--train",
        "0",
        "--test",
        "0",
        "--negatives",
        "0",
        "--interactive",
        "3",
    ]);
    assert!(console.contains("3 multi-source scenes"), "{console}");
    let list =
        avsl_data::source_sets::find_list(avsl_data::source_sets::SourceSet::Is3, &data.join("metadata")).unwrap();
    assert!(list.ends_with("is3.json"));
    let pairs =
        avsl_data::source_sets::read_source_pairs(avsl_data::source_sets::SourceSet::Is3, &list, &data).unwrap();
    assert_eq!(pairs.len(), 6);
    let maps = tmp.path().join("oracle");
    std::fs::create_dir_all(&maps).unwrap();
    let mut index = String::from("video,audio,map\n");
    for (k, pair) in pairs.iter().enumerate() {
        let image = avsl_metrics::interactive::image_of_pair(&pair.name);
        assert_eq!(image, pairs[k - k % 2].name.rsplit_once('_').unwrap().0, "two sources per scene");
        // One frame, two clips: the JPEG is the same file content, the sounds differ.
        if k % 2 == 1 {
            let other = &pairs[k - 1];
            assert_eq!(std::fs::read(&pair.frame).unwrap(), std::fs::read(&other.frame).unwrap());
            assert_ne!(std::fs::read(&pair.audio).unwrap(), std::fs::read(&other.audio).unwrap());
            assert_ne!(pair.gt_box, other.gt_box);
        }
        // The source's object is drawn inside its box: the box centre has its colour.
        let frame = avsl_data::image_io::read_rgb(&pair.frame).unwrap();
        let b = pair.gt_box;
        let (cx, cy) = ((b.xmin + b.xmax) as f64 / 448.0, (b.ymin + b.ymax) as f64 / 448.0);
        let at = ((cy * frame.height as f64) as usize * frame.width + (cx * frame.width as f64) as usize) * 3;
        let px = &frame.data[at..at + 3];
        let (red, blue) = (px[0] as i32 - px[2] as i32 > 60, px[2] as i32 - px[0] as i32 > 60);
        assert!(red == pair.name.contains("red") && blue == pair.name.contains("blue"), "{}: {px:?}", pair.name);
        // An oracle map: 1 on the box, 0 elsewhere, at 224×224.
        let values: Vec<f32> = (0..224 * 224)
            .map(|i| {
                let (y, x) = ((i / 224) as i64, (i % 224) as i64);
                if (b.ymin..b.ymax).contains(&y) && (b.xmin..b.xmax).contains(&x) { 1.0 } else { 0.0 }
            })
            .collect();
        write_npy_f32(&maps.join(format!("{}.npy", pair.name)), &[224, 224], &values).unwrap();
        index.push_str(&format!("{0},{0},{0}.npy\n", pair.name));
    }
    std::fs::write(maps.join("index.csv"), index).unwrap();
    let out = tmp.path().join("scored");
    ok(&[
        "eval-maps",
        "--data",
        data.to_str().unwrap(),
        "--testset",
        "is3",
        "--maps",
        maps.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    let m = json(&out.join("metrics.json"))["av"]["all"].clone();
    assert_eq!((m["pairs"].as_u64(), m["images"].as_u64()), (Some(6), Some(3)));
    // A box covers less than half the frame (at most 0.48 × 0.92 of it), so the median
    // threshold of an oracle map keeps exactly the box: every source found.
    assert_eq!((m["cIoU@50"].as_f64(), m["IIoU@50"].as_f64()), (Some(1.0), Some(1.0)), "{m}");
    // The adaptive threshold is strict at the box's own level: nothing lies above it.
    assert_eq!(m["adaptive_cIoU@50"].as_f64(), Some(0.0), "{m}");
    // The masks (is3_seg.json, the authors' mask list form): each object's own pixels, inside
    // its box. The box oracle covers the mask and a little more (disc corners).
    let (_, masks) = avsl_data::source_sets::read_masks(
        avsl_data::source_sets::SourceSet::Is3,
        &data.join("metadata"),
        &data,
        &pairs,
    )
    .unwrap()
    .unwrap();
    let miou = m["mIoU"].as_f64().unwrap();
    assert!(miou > 0.7 && miou <= 1.0, "{m}");
    // A mask oracle: the mask itself as the map finds every mask exactly.
    let mask_maps = tmp.path().join("mask_oracle");
    std::fs::create_dir_all(&mask_maps).unwrap();
    for pair in &pairs {
        let mask = avsl_data::source_sets::load_mask(&masks[&pair.name]).unwrap();
        let b = pair.gt_box;
        let inside = |i: usize| {
            let (y, x) = ((i / 224) as i64, (i % 224) as i64);
            (b.ymin - 1..=b.ymax + 1).contains(&y) && (b.xmin - 1..=b.xmax + 1).contains(&x)
        };
        assert!(mask.iter().enumerate().all(|(i, &on)| !on || inside(i)), "{}: mask outside its box", pair.name);
        assert!(mask.iter().filter(|&&on| on).count() > 500, "{}", pair.name);
        let values: Vec<f32> = mask.iter().map(|&on| on as u8 as f32).collect();
        write_npy_f32(&mask_maps.join(format!("{}.npy", pair.name)), &[224, 224], &values).unwrap();
    }
    std::fs::copy(maps.join("index.csv"), mask_maps.join("index.csv")).unwrap();
    let out = tmp.path().join("scored_masks");
    let (d, mm, o) = (data.to_str().unwrap(), mask_maps.to_str().unwrap(), out.to_str().unwrap());
    ok(&["eval-maps", "--data", d, "--testset", "interactive", "--maps", mm, "--output", o]);
    let m = json(&out.join("metrics.json"))["av"]["all"].clone();
    assert!(
        (m["mIoU"].as_f64().unwrap() - 1.0).abs() < 1e-6 && (m["F-score"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{m}"
    );
    let rows = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    assert!(rows.starts_with("name,image,ciou,adaptive_ciou,mask_iou,adaptive_mask_iou\n"), "{rows}");
}

#[test]
fn eval_scores_a_checkpoint_on_a_multi_source_set() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    ok(&["synth", "--out", d, "--train", "0", "--test", "0", "--negatives", "0", "--interactive", "2"]);
    let model = tmp.path().join("model.safetensors");
    support::known_model(&model);
    let eval = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["eval", "--checkpoint", model.to_str().unwrap(), "--data", d, "--testset", "is3"];
        args.extend(["--output", out.to_str().unwrap(), "--threads", "2"]);
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect()
    };
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let out = tmp.path().join("out");
    let console = ok(&strs(&eval(&out, &["--save-maps"])));
    assert!(console.contains("4 pairs of 2 images scored"), "{console}");
    let m = json(&out.join("metrics.json"));
    // The saved maps, scored by eval-maps, give the same metrics.
    let again = tmp.path().join("again");
    let maps = out.join("maps");
    ok(&[
        "eval-maps",
        "--maps",
        maps.to_str().unwrap(),
        "--data",
        d,
        "--testset",
        "is3",
        "--output",
        again.to_str().unwrap(),
    ]);
    assert_eq!(json(&again.join("metrics.json"))["av"], m["av"]);
    assert_eq!(m["config"]["encoders"], "online");
    let rows = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    assert_eq!(rows.lines().count(), 5, "{rows}");
    for key in ["cIoU@50", "IIoU@50", "IAUC", "adaptive_IAUC"] {
        let v = m["av"]["all"][key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    // What the script does not cover yet is refused, not ignored.
    let err = fails(&strs(&eval(&tmp.path().join("o2"), &["--skip-bad"])));
    assert!(err.contains("av maps only"), "{err}");
}

/// MS3's layout and naming, with a silent frame (empty box): found by the path below the
/// root, five frames of a clip group into one "image", so no IIoU; the empty box scores 0.
#[test]
fn eval_maps_reads_the_released_ms3_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, maps) = (tmp.path().join("ms3_data"), tmp.path().join("maps"));
    std::fs::create_dir_all(data.join("metadata")).unwrap();
    std::fs::create_dir_all(&maps).unwrap();
    let mut entries = Vec::new();
    let mut index = String::from("video,audio,map\n");
    for (clip, id) in ["abc_1", "xyz_0"].iter().enumerate() {
        let audio = format!("audio_wav/test/{id}.wav");
        std::fs::create_dir_all(data.join(format!("visual_frames/{id}"))).unwrap();
        std::fs::create_dir_all(data.join("audio_wav/test")).unwrap();
        std::fs::write(data.join(&audio), b"sound").unwrap();
        for k in 1..=5 {
            let frame = format!("visual_frames/{id}/{id}.mp4_{k}.png");
            std::fs::write(data.join(&frame), b"frame").unwrap();
            let silent = clip == 1 && k == 3;
            entries.push(serde_json::json!({
                "image": format!("/mnt/x/Multi-sources/ms3_data/{frame}"),
                "audio": format!("/mnt/x/Multi-sources/ms3_data/{audio}"),
                "gt_box": if silent { [0.0; 4] } else { LEFT },
            }));
            let name = format!("{id}/{id}.mp4_{k}");
            let file = format!("{clip}_{k}.npy");
            write_npy_f32(&maps.join(&file), &[7, 7], &half_map(true)).unwrap();
            index.push_str(&format!("{name},{name},{file}\n"));
        }
    }
    std::fs::write(data.join("metadata/ms3_box.json"), serde_json::to_string(&entries).unwrap()).unwrap();
    std::fs::write(maps.join("index.csv"), index).unwrap();
    let out = tmp.path().join("out");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let console =
        ok(&["eval-maps", "--data", &p(&data), "--testset", "ms3", "--maps", &p(&maps), "--output", &p(&out)]);
    assert!(console.contains("10 pairs of 2 images scored"), "{console}");
    assert!(console.contains("1 pairs have an empty box"), "{console}");
    let m = json(&out.join("metrics.json"));
    assert_eq!(m["config"]["testset"], "ms3");
    assert_eq!(m["config"]["empty_boxes"], 1);
    assert_eq!(m["av"]["all"]["cIoU@50"], 0.9);
    assert!(m["av"]["all"].get("IIoU@50").is_none(), "one sound per clip: no IIoU");
    let rows = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    assert!(rows.contains("xyz_0/xyz_0.mp4_3,xyz_0.mp4,0,"), "{rows}");
}

/// The same scenes as IS3 and in VPO-MS's layout: the same pairs and images, the same
/// scores; these sets default to the SSL-align script's inputs, `--pipeline` changes it.
#[test]
fn eval_on_a_vpo_layout_matches_is3_and_records_its_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let is3 = tmp.path().join("is3");
    ok(&[
        "synth",
        "--out",
        is3.to_str().unwrap(),
        "--train",
        "0",
        "--test",
        "0",
        "--negatives",
        "0",
        "--interactive",
        "2",
    ]);
    let vpo = tmp.path().join("COCO_AV_MS");
    for folder in ["visual_frames", "audio_wav", "metadata"] {
        std::fs::create_dir_all(vpo.join(folder)).unwrap();
    }
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(is3.join("metadata/is3.json")).unwrap()).unwrap();
    let file = |path: &serde_json::Value| Path::new(path.as_str().unwrap()).file_name().unwrap().to_owned();
    let moved: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            let (image, audio) = (file(&e["image"]), file(&e["audio"]));
            std::fs::copy(is3.join("images").join(&image), vpo.join("visual_frames").join(&image)).unwrap();
            std::fs::copy(is3.join("audio_wav").join(&audio), vpo.join("audio_wav").join(&audio)).unwrap();
            serde_json::json!({
                "image": format!("/mnt/y/SSL_COCO/COCO_AV_MS/visual_frames/{}", image.to_str().unwrap()),
                "audio": format!("/mnt/y/SSL_COCO/COCO_AV_MS/audio_wav/{}", audio.to_str().unwrap()),
                "gt_box": e["gt_box"],
            })
        })
        .collect();
    std::fs::write(vpo.join("metadata/vpo_ms_bbox.json"), serde_json::to_string(&moved).unwrap()).unwrap();
    // The masks too, in VPO's `gray_masks/`.
    std::fs::create_dir_all(vpo.join("gray_masks")).unwrap();
    let seg: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(is3.join("metadata/is3_seg.json")).unwrap()).unwrap();
    let seg: Vec<serde_json::Value> = seg
        .iter()
        .zip(&moved)
        .map(|(e, m)| {
            let mask = file(&e["gt_box"]);
            std::fs::copy(is3.join("gt_masks").join(&mask), vpo.join("gray_masks").join(&mask)).unwrap();
            let path = format!("/mnt/y/SSL_COCO/COCO_AV_MS/gray_masks/{}", mask.to_str().unwrap());
            serde_json::json!({ "image": m["image"], "audio": m["audio"], "gt_box": path, "offset": 1 })
        })
        .collect();
    std::fs::write(vpo.join("metadata/vpo_ms_seg.json"), serde_json::to_string(&seg).unwrap()).unwrap();
    let model = tmp.path().join("model.safetensors");
    support::known_model(&model);
    let eval = |data: &Path, set: &str, out: &str, extra: &[&str]| {
        let (m, d, o) = (model.to_str().unwrap(), data.to_str().unwrap(), tmp.path().join(out));
        let mut args = vec!["eval", "--checkpoint", m, "--data", d, "--testset", set, "--threads", "2"];
        args.extend(["--output", o.to_str().unwrap()]);
        args.extend_from_slice(extra);
        (ok(&args), json(&o.join("metrics.json")))
    };
    let (console, vpo_metrics) = eval(&vpo, "vpoms", "vpo", &[]);
    assert!(console.contains("inputs: ssl-align"), "{console}");
    let (_, is3_metrics) = eval(&is3, "is3", "is3_out", &[]);
    assert_eq!(vpo_metrics["av"], is3_metrics["av"]);
    assert!(vpo_metrics["av"]["all"]["mIoU"].is_f64(), "masks from gray_masks/");
    assert!(vpo_metrics["av"]["all"]["IIoU@50"].is_f64(), "several sources an image: IIoU");
    assert!(vpo_metrics["config"]["pipeline"].as_str().unwrap().starts_with("ssl-align: "));
    let (console, slavc) = eval(&vpo, "vpoms", "slavc", &["--pipeline", "slavc"]);
    assert!(console.contains("inputs: slavc"), "{console}");
    assert!(slavc["config"]["pipeline"].as_str().unwrap().starts_with("slavc: "));
}
