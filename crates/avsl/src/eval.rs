//! `avsl eval`: a checkpoint on a test set, end to end. The model turns each frame and
//! each clip into embeddings once (decoding runs in parallel with the forward passes),
//! every listed pair gets its 7×7 map from them, and the maps go through the same scoring
//! code as `eval-maps`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use avsl_data::fsutil::{create_dir_all, write_atomic};
use avsl_data::npy::encode_npy_f32;
use avsl_data::testset::{TestSample, build_test_list_counted};
use avsl_metrics::MapKind;
use avsl_metrics::calibration::Calibration;
use avsl_metrics::scoring::ScoringConfig;
use avsl_model::checkpoint::{read_checkpoint, read_torchvision_resnet18};
use avsl_model::ogl::ObjectSaliency;
use avsl_model::test_pass::{Embedded, OnBadFile, RetrievalFeatures, cross_modal, distinct_pairs, embed_pairs};
use avsl_model::{Architecture, EncoderSet};
use burn::tensor::Device;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use avsl_model::device::parse_device;

use crate::device::model_threads;
use crate::eval_maps::{ProtocolArgs, describe_scoring};
use crate::evaluation::{Map, Scored, headline, score_all, write_figures, write_results};
use crate::output::prepare_output_dir;
use crate::progress;

#[derive(Clone, Copy, ValueEnum)]
pub enum ModelArg {
    Slavc,
    Ezvsl,
    SslAlign,
}

impl From<ModelArg> for Architecture {
    fn from(m: ModelArg) -> Architecture {
        match m {
            ModelArg::Slavc => Architecture::Slavc,
            ModelArg::Ezvsl => Architecture::Ezvsl,
            ModelArg::SslAlign => Architecture::SslAlign,
        }
    }
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// The authors' .pth ({'model': {'module.<key>': …}}) or an avsl .safetensors checkpoint.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// torchvision ResNet-18 state dict (resnet18-*.pth) for object guidance: adds the obj
    /// and av_obj variants.
    #[arg(long)]
    pub object_weights: Option<PathBuf>,
    /// Score with SLAVC's momentum encoders (the published setting; the authors' test
    /// command scores the online ones).
    #[arg(long)]
    pub use_mom_eval: bool,
    /// The architecture the checkpoint must be (default: read from the checkpoint).
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Frames or clips per forward pass (results do not depend on it).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Worker threads for decoding and for the model (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Compute device: cpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Also write the 7×7 maps (maps/, object_maps/) in the eval-maps input format.
    #[arg(long)]
    pub save_maps: bool,
    /// Leave out every pair whose frame or clip cannot be read (reported on the console,
    /// in skipped.csv and in metrics.json) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
}

/// Reports the files left out and the pairs that used them: console, `skipped.csv`.
fn report_skipped(dir: &Path, samples: &[TestSample], embedded: &Embedded, kept: &[usize]) -> Result<Value> {
    let mut csv = String::from("file,problem,pairs_left_out\n");
    for b in &embedded.bad {
        let uses = samples.iter().filter(|s| s.frame == b.path || s.audio == b.path).count();
        csv.push_str(&csv_row(&[&b.path.display().to_string(), &b.problem, &uses.to_string()]));
        println!("skipped {}: {} ({uses} pairs)", b.path.display(), b.problem);
    }
    write_atomic(&dir.join("skipped.csv"), csv.as_bytes())?;
    let left_out = samples.len() - kept.len();
    if !embedded.bad.is_empty() {
        println!(
            "--skip-bad: {} unreadable files, {left_out} of {} pairs left out; every figure is over the {} others",
            embedded.bad.len(),
            samples.len(),
            kept.len()
        );
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
    args: &EvalArgs,
    set: EncoderSet,
    testset: &str,
    scoring: &ScoringConfig,
) -> Result<Option<Calibration>> {
    let Some(mut c) = Calibration::from_scored(scored, "avsl eval", testset, set.name(), scoring.to_json()) else {
        return Ok(None);
    };
    c.checkpoint = Some(args.checkpoint.display().to_string());
    c.checkpoint_sha256 = Some(crate::fingerprint::sha256_file(&args.checkpoint)?);
    Ok(Some(c))
}

/// `dir` as `eval-maps` reads it: one `.npy` per (video, audio) key, named by its position
/// `i`, and `index.csv`. A key listed twice keeps its first map.
pub(crate) fn write_map_folder<'a>(
    dir: &Path,
    maps: impl Iterator<Item = (usize, [&'a str; 2], &'a Map)>,
) -> Result<()> {
    create_dir_all(dir)?;
    let mut index = String::from("video,audio,map\n");
    let mut seen = std::collections::BTreeSet::new();
    for (i, [video, audio], map) in maps {
        if !seen.insert((video, audio)) {
            continue;
        }
        let file = format!("{i:06}.npy");
        write_atomic(&dir.join(&file), &encode_npy_f32(&[map.h, map.w], &map.values))?;
        index.push_str(&csv_row(&[video, audio, &file]));
    }
    write_atomic(&dir.join("index.csv"), index.as_bytes())?;
    Ok(())
}

fn save_maps(dir: &Path, samples: &[TestSample], kept: &[usize], e: &Embedded) -> Result<()> {
    let av = kept.iter().map(|&i| (i, [samples[i].video_id.as_str(), samples[i].audio_id.as_str()], e.pair_map(i)));
    write_map_folder(&dir.join("maps"), av)?;
    if e.objects.is_some() {
        let obj_dir = dir.join("object_maps");
        create_dir_all(&obj_dir)?;
        let mut index = String::from("video,map\n");
        let mut done = std::collections::BTreeSet::new();
        for &i in kept {
            let s = &samples[i];
            if done.insert(s.video_id.clone()) {
                let m = e.object_map(i).expect("object maps computed");
                let file = format!("{:06}.npy", e.frames.of_sample[i]);
                write_atomic(&obj_dir.join(&file), &encode_npy_f32(&[m.h, m.w], &m.values))?;
                index.push_str(&csv_row(&[&s.video_id, &file]));
            }
        }
        write_atomic(&obj_dir.join("index.csv"), index.as_bytes())?;
    }
    Ok(())
}

fn csv_row(fields: &[&str]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).expect("writing to memory");
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("utf-8 fields")
}

pub fn run(args: EvalArgs) -> Result<Scored> {
    let start = Instant::now();
    let p = &args.protocol;
    p.dataset.refuse_as_output(&p.output, &[])?;
    let threads = model_threads(args.threads);
    let device = parse_device(&args.device)?;
    let testset = p.testset()?;
    let (samples, without_files) = build_test_list_counted(&p.paths(), testset)?;
    if samples.is_empty() {
        bail!(
            "the {} test list has no sample with both a frame and an audio file under {}",
            testset.name(),
            p.dataset.data.display()
        );
    }
    prepare_output_dir(&p.output, "metrics.json", p.force)?;
    if without_files > 0 {
        println!(
            "note: {without_files} ids of {} have no frame or no audio file under {} and are not in the set (the \
             authors' evaluation leaves them out too)",
            testset.list_file(),
            p.dataset.data.display()
        );
    }

    let checkpoint = read_checkpoint(&args.checkpoint)?;
    let expected = args.model.map(Architecture::from);
    let model_config = checkpoint.config(p.tau, expected)?;
    let set = if args.use_mom_eval { EncoderSet::Momentum } else { EncoderSet::Online };
    let encoders = checkpoint.into_encoders(model_config, set, &device)?;
    let mut scoring = p.scoring(MapKind::Logits, model_config.architecture.protocol());
    scoring.tau = model_config.tau;
    println!(
        "{} (d = {}, tau = {}) from {}: scoring the {}{}",
        model_config.architecture.name(),
        model_config.dim,
        model_config.tau,
        args.checkpoint.display(),
        set.describe(),
        match (model_config.architecture, set) {
            (Architecture::Slavc, EncoderSet::Online) =>
                " (as the authors' published test command does; --use-mom-eval scores the momentum encoders)",
            _ => "",
        }
    );
    let objects = match &args.object_weights {
        Some(path) => {
            let mut w = read_torchvision_resnet18(path)?;
            Some(ObjectSaliency::load(&mut w, &device).expect("a checked ResNet-18 state dict"))
        }
        None => None,
    };
    println!("{}", describe_scoring(&scoring));
    let pairs: Vec<(PathBuf, PathBuf)> = samples.iter().map(|s| (s.frame.clone(), s.audio.clone())).collect();
    let (frames, clips) = distinct_pairs(&pairs);
    println!(
        "{}: {} pairs ({} with boxes) from {} frames and {} clips",
        testset.name(),
        samples.len(),
        samples.iter().filter(|s| s.has_boxes()).count(),
        frames.files.len(),
        clips.files.len()
    );
    let loaded = Instant::now();
    let bar = progress::bar(frames.files.len() + clips.files.len(), "files");
    let on_file = |n: usize| bar.inc(n as u64);
    let on_bad = if args.skip_bad { OnBadFile::Skip } else { OnBadFile::Stop };
    let embedded = embed_pairs(
        (frames, clips),
        &encoders,
        objects.as_ref(),
        model_config.tau,
        args.batch_size,
        threads,
        &device,
        &on_file,
        on_bad,
    )?;
    bar.finish_and_clear();
    let kept: Vec<usize> = (0..samples.len()).filter(|&i| embedded.readable(i)).collect();
    let skipped = if args.skip_bad { Some(report_skipped(&p.output, &samples, &embedded, &kept)?) } else { None };
    if kept.is_empty() {
        bail!("--skip-bad: no pair of the {} list could be read", testset.name());
    }
    let scored_samples: Vec<TestSample> = kept.iter().map(|&i| samples[i].clone()).collect();
    let forward_s = loaded.elapsed().as_secs_f64();

    let tau = model_config.tau;
    let av = |k: usize| -> Result<Map> { Ok(embedded.pair_map(kept[k]).clone()) };
    let obj = |k: usize| -> Result<Map> { Ok(embedded.object_map(kept[k]).expect("object maps computed").clone()) };
    let bar = progress::bar(kept.len(), "pairs");
    let scored = score_all(
        &scored_samples,
        testset.box_format(),
        &scoring,
        &av,
        embedded.objects.as_ref().map(|_| &obj as &(dyn Fn(usize) -> Result<Map> + Sync)),
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    let note = if objects.is_none() {
        "no --object-weights: only the av variant was computed"
    } else {
        "variants av, obj and av_obj computed"
    };
    let extra = json!({
        "retrieval": retrieval(&samples, &kept, &embedded, &device),
        "config": {
            "testset": testset.name(),
            "samples": scored_samples.len(),
            "positives": scored_samples.iter().filter(|s| s.has_boxes()).count(),
            "skipped": skipped,
            "listed_ids_without_files": without_files,
            "checkpoint": args.checkpoint,
            "model": {"architecture": model_config.architecture.name(), "dim": model_config.dim, "tau": tau},
            "encoders": set.name(),
            "object_weights": args.object_weights,
            "scoring": scoring.to_json(),
            "note": note,
        }
    });
    let all = write_results(&p.output, &scored, extra)?;
    write_figures(&p.output, &scored)?;
    if let Some(c) = calibration(&scored, &args, set, testset.name(), &scoring)? {
        write_atomic(&p.output.join("calibration.json"), serde_json::to_string_pretty(&c)?.as_bytes())?;
    }
    if args.save_maps {
        save_maps(&p.output, &samples, &kept, &embedded)?;
    }
    println!(
        "{} pairs scored in {:.1} s ({:.1} s decoding and forward passes); {note}",
        kept.len(),
        start.elapsed().as_secs_f64(),
        forward_s
    );
    print!("{}", headline(&all));
    println!("results: {}", p.output.display());
    Ok(scored)
}
