//! A checkpoint on a test list, end to end (`avsl eval`): the model turns each frame and
//! each clip into embeddings once (decoding runs beside the forward passes), every listed
//! pair gets its 7×7 map from them, and the maps go through the same scoring code as a
//! map folder ([`crate::maps_eval`]). Writes the result files, the calibration of the
//! decision threshold, `skipped.csv` and, when asked, the maps.

use std::path::{Path, PathBuf};
use std::time::Instant;

use avsl_data::fsutil::write_atomic;
use avsl_data::output::{prepare_output_dir, refuse_dataset_folders};
use avsl_data::preprocess::TestPipeline;
use avsl_data::report::Report;
use avsl_data::testset::{TestSample, TestSet, TestSetPaths, build_test_list_counted};
use avsl_metrics::MapKind;
use avsl_metrics::calibration::Calibration;
use avsl_metrics::evaluate::max_f1_point;
use avsl_metrics::score::SampleResult;
use avsl_metrics::scoring::{Map, Scored, ScoringConfig};
use avsl_model::checkpoint::{CALIBRATION_KEY, open_encoders, read_checkpoint};
use avsl_model::ogl::ObjectSaliency;
use avsl_model::{Architecture, EncoderSet};
use burn::tensor::Device;
use serde_json::{Value, json};

use crate::error::EvalError;
use crate::map_folder::{FRAME_KEYS, MapFolderWriter, PAIR_KEYS};
use crate::negative_audio::{self, NegativeKind};
use crate::results::{VariantMetrics, score_all, write_results};
use crate::scoring::{ScoringOptions, describe, protocol_of};
use crate::test_pass::{Embedded, OnBadFile, RetrievalFeatures, cross_modal, distinct_pairs, embed_pairs};
use avsl_data::fingerprint::sha256_file;

/// What `avsl eval` evaluates, and how.
pub struct EvalOptions {
    pub testset: TestSet,
    pub paths: TestSetPaths,
    pub scoring: ScoringOptions,
    /// The authors' .pth or an avsl .safetensors checkpoint.
    pub checkpoint: PathBuf,
    /// The architecture the checkpoint must be (default: whatever it is).
    pub expected: Option<Architecture>,
    /// Online or momentum encoders.
    pub encoders: EncoderSet,
    /// torchvision's ResNet-18 for object guidance (adds the obj and av_obj variants).
    pub object_weights: Option<PathBuf>,
    /// Frames or clips per forward pass (results do not depend on it).
    pub batch_size: usize,
    /// Decoding threads.
    pub threads: usize,
    pub device: Device,
    /// Also write the 7×7 maps (`maps/`, `object_maps/`) as a map folder.
    pub save_maps: bool,
    /// Leave out every pair whose frame or clip cannot be read instead of stopping.
    pub skip_bad: bool,
    /// How frames and clips become inputs (SLAVC's test loader by default).
    pub pipeline: TestPipeline,
    /// Derived negative-audio pairs to add and report per kind (docs/negative-audio.md).
    pub negative_audio: Vec<NegativeKind>,
    /// The results folder.
    pub output: PathBuf,
    /// Write into a non-empty folder that avsl did not create.
    pub force: bool,
}

/// What an evaluation scored, and its metrics (also in `metrics.json`).
pub struct Evaluated {
    pub scored: Scored,
    pub metrics: VariantMetrics,
}

/// Evaluates a checkpoint on a test list and writes every result file into
/// `options.output`; returns the scored samples and their metrics.
pub fn evaluate_checkpoint(options: &EvalOptions, report: &dyn Report) -> Result<Evaluated, EvalError> {
    let start = Instant::now();
    let (output, testset, device) = (&options.output, options.testset, &options.device);
    refuse_dataset_folders(output, &options.paths, &[])?;
    let (mut samples, without_files) = build_test_list_counted(&options.paths, testset)?;
    if samples.is_empty() {
        return Err(EvalError::Options(format!(
            "the {} test list has no sample with both a frame and an audio file under {}",
            testset.name(),
            options.paths.data.display()
        )));
    }
    let _lock = prepare_output_dir(output, "metrics.json", options.force, report)?;
    report.line(&options.paths.lists.line());
    let derived = negative_audio::derive(&samples, &options.negative_audio, &output.join("negative_audio"))?;
    let derived_keys: Vec<(NegativeKind, (String, String))> =
        derived.iter().map(|(k, s)| (*k, (s.video_id.clone(), s.audio_id.clone()))).collect();
    if !derived.is_empty() {
        let kinds: Vec<&str> = options.negative_audio.iter().map(|k| k.name()).collect();
        report.line(&format!(
            "negative audio: {} pairs added, each positive frame with {} (generated clips in {})",
            derived.len(),
            kinds.join(", "),
            output.join("negative_audio").display()
        ));
    }
    samples.extend(derived.into_iter().map(|(_, s)| s));
    if without_files > 0 {
        report.line(&format!(
            "note: {without_files} ids of {} have no frame or no audio file under {} and are not in the set (the \
             authors' evaluation leaves them out too)",
            testset.list_file(),
            options.paths.data.display()
        ));
    }

    let set = options.encoders;
    let encoders = open_encoders(&options.checkpoint, options.scoring.tau, options.expected, Some(set), device)?;
    let model_config = encoders.config;
    let mut scoring = options.scoring.config(MapKind::Logits, protocol_of(model_config.architecture));
    scoring.tau = model_config.tau;
    report.line(&format!(
        "{} (d = {}, tau = {}) from {}: scoring the {}{}",
        model_config.architecture.name(),
        model_config.dim,
        model_config.tau,
        options.checkpoint.display(),
        set.describe(),
        match (model_config.architecture, set) {
            (Architecture::Slavc, EncoderSet::Online) =>
                " (as the authors' published test command does; --use-mom-eval scores the momentum encoders)",
            _ => "",
        }
    ));
    let objects = options.object_weights.as_deref().map(|path| ObjectSaliency::open(path, device)).transpose()?;
    report.line(&describe(&scoring));
    report.line(&format!("inputs: {}", options.pipeline.describe()));
    let pairs: Vec<(PathBuf, PathBuf)> = samples.iter().map(|s| (s.frame.clone(), s.audio.clone())).collect();
    let (frames, clips) = distinct_pairs(&pairs);
    report.line(&format!(
        "{}: {} pairs ({} with boxes) from {} frames and {} clips",
        testset.name(),
        samples.len(),
        samples.iter().filter(|s| s.has_boxes()).count(),
        frames.files.len(),
        clips.files.len()
    ));
    let loaded = Instant::now();
    report.phase("files", frames.files.len() + clips.files.len(), 0);
    let on_file = |n: usize| report.advance(n, None);
    let on_bad = if options.skip_bad { OnBadFile::Skip } else { OnBadFile::Stop };
    let embedded = embed_pairs(
        (frames, clips),
        &encoders,
        objects.as_ref(),
        model_config.tau,
        options.batch_size,
        options.threads,
        device,
        &on_file,
        on_bad,
        options.pipeline,
    )?;
    report.phase_end();
    let kept: Vec<usize> = (0..samples.len()).filter(|&i| embedded.readable(i)).collect();
    let skipped =
        if options.skip_bad { Some(report_skipped(output, &samples, &embedded, &kept, report)?) } else { None };
    if kept.is_empty() {
        return Err(EvalError::Options(format!("--skip-bad: no pair of the {} list could be read", testset.name())));
    }
    let scored_samples: Vec<TestSample> = kept.iter().map(|&i| samples[i].clone()).collect();
    let forward_s = loaded.elapsed().as_secs_f64();

    let tau = model_config.tau;
    let av = |k: usize| -> Result<Map, EvalError> { Ok(embedded.pair_map(kept[k]).clone()) };
    let obj = |k: usize| -> Result<Map, EvalError> {
        Ok(embedded.object_map(kept[k]).expect("object maps computed").clone())
    };
    report.phase("pairs", kept.len(), 0);
    let scored = score_all(
        &scored_samples,
        testset.box_format(),
        &scoring,
        &av,
        embedded.objects.as_ref().map(|_| &obj as &(dyn Fn(usize) -> Result<Map, EvalError> + Sync)),
        &|| report.advance(1, None),
    )?;
    report.phase_end();
    let note = if objects.is_none() {
        "no --object-weights: only the av variant was computed"
    } else {
        "variants av, obj and av_obj computed"
    };
    let extra = json!({
        "retrieval": retrieval(&samples, &kept, &embedded, device),
        "config": {
            "testset": testset.name(),
            "lists": options.paths.describe_lists(testset),
            "samples": scored_samples.len(),
            "positives": scored_samples.iter().filter(|s| s.has_boxes()).count(),
            "skipped": skipped,
            "listed_ids_without_files": without_files,
            "checkpoint": options.checkpoint,
            "model": {"architecture": model_config.architecture.name(), "dim": model_config.dim, "tau": tau},
            "encoders": set.name(),
            "object_weights": options.object_weights,
            "scoring": scoring.to_json(),
            "pipeline": options.pipeline.describe(),
            "note": note,
        }
    });
    let mut extra = extra;
    if !derived_keys.is_empty() {
        let (threshold, source) = decision_threshold(&options.checkpoint, &scored, &derived_keys)?;
        let mut by_kind = negative_audio::report(&scored.variants["av"], &derived_keys, threshold);
        for (kind, m) in by_kind.as_object().expect("an object") {
            report.line(&format!(
                "negative audio, {kind:<11}: AP@50 {:.4}, max-F1@50 {:.4}, {:.1}% of {} under the threshold {threshold:.4}",
                m["AP_exact@50"].as_f64().unwrap_or(f64::NAN),
                m["maxF1_exact@50"].as_f64().unwrap_or(f64::NAN),
                100.0 * m["under_threshold"].as_f64().unwrap_or(f64::NAN),
                m["negatives"]
            ));
        }
        by_kind["threshold"] = json!({"value": threshold, "source": source});
        extra["negative_audio"] = by_kind;
    }
    let metrics = write_results(output, &scored, extra)?;
    if let Some(c) = calibration(&scored, &options.checkpoint, set, testset.name(), &scoring)? {
        let json = serde_json::to_string_pretty(&c).expect("calibrations serialise");
        write_atomic(&output.join("calibration.json"), json.as_bytes())?;
    }
    if options.save_maps {
        save_maps(output, &samples, &kept, &embedded)?;
    }
    report.line(&format!(
        "{} pairs scored in {:.1} s ({:.1} s decoding and forward passes); {note}",
        kept.len(),
        start.elapsed().as_secs_f64(),
        forward_s
    ));
    Ok(Evaluated { scored, metrics })
}

/// The "sounding / not sounding" threshold of the av variant: the one the checkpoint
/// carries (training's validation) when it has one, as `avsl localize` uses it; otherwise
/// the max-F1 threshold of this evaluation's positives with every derived negative.
fn decision_threshold(
    checkpoint: &Path,
    scored: &Scored,
    derived: &[(NegativeKind, (String, String))],
) -> Result<(f64, String), EvalError> {
    let stored = read_checkpoint(checkpoint)?
        .metadata
        .get(CALIBRATION_KEY)
        .and_then(|c| serde_json::from_str::<Calibration>(c).ok())
        .and_then(|c| c.variants.get("av").map(|t| (t.threshold, c.source.clone())));
    if let Some((threshold, source)) = stored {
        return Ok((threshold, format!("the checkpoint's calibration ({source})")));
    }
    let keys: std::collections::HashSet<(&str, &str)> =
        derived.iter().map(|(_, (v, a))| (v.as_str(), a.as_str())).collect();
    let rows: Vec<&SampleResult> = scored.variants["av"]
        .iter()
        .filter(|r| r.bb > 0 || keys.contains(&(r.video.as_str(), r.audio.as_str())))
        .collect();
    let point = max_f1_point(&rows, 0.5).ok_or_else(|| EvalError::Options("no sample scored".into()))?;
    Ok((point.threshold as f64, "this evaluation: max-F1 over the positives and every derived negative".into()))
}

/// Reports the files left out and the pairs that used them: console, `skipped.csv`.
fn report_skipped(
    dir: &Path,
    samples: &[TestSample],
    embedded: &Embedded,
    kept: &[usize],
    report: &dyn Report,
) -> Result<Value, EvalError> {
    let mut csv = String::from("file,problem,pairs_left_out\n");
    for b in &embedded.bad {
        let uses = samples.iter().filter(|s| s.frame == b.path || s.audio == b.path).count();
        csv.push_str(&csv_row(&[&b.path.display().to_string(), &b.problem, &uses.to_string()]));
        report.line(&format!("skipped {}: {} ({uses} pairs)", b.path.display(), b.problem));
    }
    write_atomic(&dir.join("skipped.csv"), csv.as_bytes())?;
    let left_out = samples.len() - kept.len();
    if !embedded.bad.is_empty() {
        report.line(&format!(
            "--skip-bad: {} unreadable files, {left_out} of {} pairs left out; every figure is over the {} others",
            embedded.bad.len(),
            samples.len(),
            kept.len()
        ));
    }
    Ok(
        json!({"files": embedded.bad.len(), "pairs_left_out": left_out, "pairs_scored": kept.len(), "list": "skipped.csv"}),
    )
}

/// Cross-modal retrieval, alignment and magnitude over the samples with boxes.
fn retrieval(samples: &[TestSample], kept: &[usize], embedded: &Embedded, device: &Device) -> Value {
    let positives: Vec<usize> = kept.iter().copied().filter(|&i| samples[i].has_boxes()).collect();
    if positives.is_empty() {
        return Value::Null;
    }
    let ks = [1, 5, 10];
    let mut out = serde_json::Map::new();
    out.insert("n".into(), json!(positives.len()));
    out.insert("score".into(), json!("mean over positions of the map S (audio and image embeddings of the model)"));
    let mut add = |prefix: &str, features: RetrievalFeatures| {
        let c = cross_modal(embedded, &positives, &ks, features, device);
        for (k, (a, v)) in ks.iter().zip(c.a2v.iter().zip(&c.v2a)) {
            out.insert(format!("{prefix}a2v_R@{k}"), json!(a));
            out.insert(format!("{prefix}v2a_R@{k}"), json!(v));
        }
        // "Aligning Sight and Sound" Table VI (measured there on training samples).
        out.insert(format!("{prefix}alignment"), json!(c.alignment.alignment));
        out.insert(format!("{prefix}magnitude"), json!(c.alignment.magnitude));
    };
    add("", RetrievalFeatures::Maps);
    if embedded.has_projections() {
        add("projected_", RetrievalFeatures::Projected);
        out.insert("projected_score".into(), json!("cosine of the alignment projections p_v(avg v), p_a(a) (s_A)"));
    }
    Value::Object(out)
}

/// The decision threshold at max-F1 (IoU 0.5) of every variant, for `localize`, tied to
/// the checkpoint's bytes.
fn calibration(
    scored: &Scored,
    checkpoint: &Path,
    set: EncoderSet,
    testset: &str,
    scoring: &ScoringConfig,
) -> Result<Option<Calibration>, EvalError> {
    let Some(mut c) = Calibration::from_scored(scored, "avsl eval", testset, set.name(), scoring.to_json()) else {
        return Ok(None);
    };
    c.checkpoint = Some(checkpoint.display().to_string());
    c.checkpoint_sha256 = Some(sha256_file(checkpoint)?);
    Ok(Some(c))
}

/// The 7×7 maps as `eval-maps` reads them: `maps/` (one per (video, audio) key, named by
/// its position) and, with object guidance, `object_maps/` (one per frame).
fn save_maps(dir: &Path, samples: &[TestSample], kept: &[usize], e: &Embedded) -> Result<(), EvalError> {
    let mut maps = MapFolderWriter::new(&dir.join("maps"), PAIR_KEYS)?;
    for &i in kept {
        let s = &samples[i];
        maps.add(&[&s.video_id, &s.audio_id], &format!("{i:06}.npy"), e.pair_map(i))?;
    }
    maps.finish()?;
    if e.objects.is_some() {
        let mut objects = MapFolderWriter::new(&dir.join("object_maps"), FRAME_KEYS)?;
        for &i in kept {
            let map = e.object_map(i).expect("object maps computed");
            objects.add(&[&samples[i].video_id], &format!("{:06}.npy", e.frames.of_sample[i]), map)?;
        }
        objects.finish()?;
    }
    Ok(())
}

/// One csv line.
fn csv_row(fields: &[&str]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).expect("writing to memory");
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("utf-8 fields")
}
