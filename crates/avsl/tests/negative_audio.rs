//! `avsl eval --negative-audio`: each positive frame with silence, noise and another
//! clip, reported per kind. The hand-set model hears loudness, not what sounds: silence
//! is told apart from the positives, loud noise is not — the test shows both.

mod support;

use support::{fails, json, ok};

#[test]
fn negative_audio_reports_each_kind_against_the_positives() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = support::test_set_and_known_model(tmp.path(), 12);
    let d = data.to_str().unwrap();
    let out = tmp.path().join("out");
    let (m, o) = (model.to_str().unwrap(), out.to_str().unwrap());
    let args = ["eval", "--checkpoint", m, "--data", d, "--testset", "vggss", "--output", o, "--threads", "2"];
    let console = ok(&[&args[..], &["--negative-audio", "all", "--use-mom-eval"]].concat());
    assert!(console.contains("negative audio: 48 pairs added"), "{console}");
    let r = json(&out.join("metrics.json"));
    let neg = &r["negative_audio"];
    for kind in ["silence", "white_noise", "pink_noise", "mismatched"] {
        assert_eq!(neg[kind]["negatives"], 12, "{kind}: {neg}");
        for key in ["AP@50", "AP_exact@50", "maxF1_exact@50", "under_threshold"] {
            let v = neg[kind][key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{kind} {key} = {v}");
        }
    }
    assert!(out.join("negative_audio/silence").read_dir().unwrap().count() == 12);
    assert!(neg["threshold"]["source"].as_str().unwrap().starts_with("this evaluation"), "{neg}");
    println!("{neg:#}");
    // Loudness is all this model hears: silence scores below the sounds, white noise as a sound.
    let conf = |k: &str| neg[k]["mean_confidence"].as_f64().unwrap();
    assert!(conf("silence") < conf("white_noise"), "{neg}");
    assert!(neg["silence"]["under_threshold"].as_f64() >= neg["white_noise"]["under_threshold"].as_f64(), "{neg}");
    // The whole set (positives and every derived negative) is scored as an extended set.
    assert_eq!(r["av"]["all"]["n"], 60);
    let err = fails(&[&args[..], &["--negative-audio", "thunder", "--force"]].concat());
    assert!(err.contains("thunder") && err.contains("silence"), "{err}");
}
