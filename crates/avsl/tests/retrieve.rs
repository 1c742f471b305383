//! `avsl retrieve`: a query image ranks first by itself (λ = 1); a sweep writes one full,
//! sorted ranking per λ and a contact sheet with a row each; bad input is refused.

mod support;

use avsl_data::image_io::read_rgb;
use support::{fails, json, ok};

#[test]
fn retrieve_ranks_every_frame_for_each_lambda() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = support::test_set_and_known_model(tmp.path(), 6);
    let d = data.to_str().unwrap();
    let mut frames: Vec<_> = std::fs::read_dir(data.join("frames")).unwrap().map(|e| e.unwrap().path()).collect();
    frames.sort();
    let query = &frames[2];
    let id = query.file_stem().unwrap().to_str().unwrap();
    let sound = data.join("audio").join(format!("{id}.wav"));
    let out = tmp.path().join("out");
    let (m, q, a, o) =
        (model.to_str().unwrap(), query.to_str().unwrap(), sound.to_str().unwrap(), out.to_str().unwrap());
    let base = ["retrieve", "--checkpoint", m, "--data", d, "--image", q, "--audio", a];
    let console =
        ok(&[&base[..], &["--lambda", "1", "0.5", "0", "--top", "4", "--output", o, "--threads", "2"]].concat());
    assert!(console.contains("lambda 1:"), "{console}");
    let r = json(&out.join("ranking.json"));
    let rankings = r["rankings"].as_array().unwrap();
    assert_eq!(rankings.len(), 3);
    for ranking in rankings {
        let ranked = ranking["ranked"].as_array().unwrap();
        assert_eq!(ranked.len(), frames.len(), "every frame ranked");
        let cos: Vec<f64> = ranked.iter().map(|h| h["cosine"].as_f64().unwrap()).collect();
        assert!(cos.windows(2).all(|w| w[0] >= w[1]), "best first: {cos:?}");
    }
    // By the image alone, the query frame is its own nearest frame.
    let first = &rankings[0]["ranked"][0];
    assert_eq!((rankings[0]["lambda"].as_f64(), first["id"].as_str()), (Some(1.0), Some(id)));
    assert!((first["cosine"].as_f64().unwrap() - 1.0).abs() < 1e-5, "{first}");
    let sheet = read_rgb(&out.join("contact_sheet.png")).unwrap();
    assert_eq!((sheet.width, sheet.height), (5 * 160, 3 * 160), "query + 4 frames, a row per lambda");
    // Refusals name the problem.
    let err = fails(&[&base[..], &["--lambda", "1.5", "--output", o, "--force"]].concat());
    assert!(err.contains("[0, 1]"), "{err}");
    let missing = tmp.path().join("nope.jpg");
    let bad = ["retrieve", "--checkpoint", m, "--data", d, "--image", missing.to_str().unwrap(), "--audio", a];
    let err = fails(&[&bad[..], &["--lambda", "1", "--output", o, "--force"]].concat());
    assert!(err.contains("nope.jpg"), "{err}");
}
