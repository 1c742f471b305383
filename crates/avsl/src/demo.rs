//! `avsl demo`: the three methods on generated data, through the same commands a user
//! runs. Generate the synthetic benchmark, train SLAVC, EZ-VSL and SSL-align on it (`avsl
//! train`), evaluate them and three baselines on its extended and its multi-source
//! (interactive) test sets (`avsl eval`, `avsl eval-maps`), and write `report.md`,
//! `report.json` and the figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use avsl_data::fsutil::{create_dir_all, write_atomic};
use avsl_data::lists::{read_id_list, training_pairs};
use avsl_data::output::prepare_output_dir;
use avsl_data::preprocess::TestPipeline;
use avsl_data::source_sets::{SourcePair, SourceSet, find_list, read_source_pairs};
use avsl_data::synth::SynthSummary;
use avsl_data::testset::{TestSample, TestSet, TestSetPaths, build_test_list};
use avsl_eval::checkpoint_eval::{EvalOptions, evaluate_checkpoint};
use avsl_eval::map_folder::{MapFolderWriter, PAIR_KEYS};
use avsl_eval::maps_eval::{MapsOptions, evaluate_maps};
use avsl_eval::multi_source::{
    SourceModel, SourceSetOptions, evaluate_source_checkpoint, evaluate_source_maps, script_pipeline,
};
use avsl_eval::scoring::ScoringOptions;
use avsl_metrics::MapKind;
use avsl_metrics::gt::MAP_SIZE;
use avsl_metrics::scoring::{Map, Protocol, Scored};
use avsl_model::checkpoint::safetensors_bytes;
use avsl_model::{Architecture, EncoderSet, ModelConfig};
use avsl_train::config::TrainConfig;
use avsl_train::init::initial_weights;
use avsl_train::mining::{FeatureSource, mine};
use avsl_train::neighbour_file::{NeighbourFile, write_neighbours};
use avsl_train::run::{Start, TrainOptions};
use burn::tensor::Device;
use clap::Args;
use serde_json::Value;

use crate::dataset_args::DatasetArgs;
use crate::demo_figures::{interactive_grid, overlay_grid, pr_curves, training_curves};
use crate::demo_plan::Plan;
use crate::demo_report::{ModelResult, RunFacts, Seconds, write_report};
use crate::device::model_threads;
use crate::eval_figures::show;
use crate::progress::Console;
use crate::synth::generate_with_progress;
use crate::train::Curving;

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the generated data, the runs and the report.
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    /// A smaller benchmark and one epoch per model: the whole pipeline in about a minute.
    #[arg(long)]
    pub quick: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for decoding and the model (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write into a non-empty folder that avsl did not create.
    #[arg(long)]
    pub force: bool,
}

const TESTSET: &str = "vggss_plus_silent";

/// The checkpoint each run is evaluated with: its epoch with the best validation score.
const BEST: &str = "best.safetensors";

fn train(
    data: &Path,
    validation: &Path,
    out: &Path,
    config: &TrainConfig,
    neighbours: Option<PathBuf>,
    threads: Option<usize>,
) -> Result<PathBuf> {
    let name = config.model.name();
    let config_file = out.join("configs").join(format!("{name}.toml"));
    create_dir_all(config_file.parent().expect("a parent folder"))?;
    write_atomic(&config_file, toml::to_string(config)?.as_bytes())?;
    let run = out.join("runs").join(name);
    // The configuration as a user's --config file would give it.
    let config = TrainConfig::from_toml(&std::fs::read_to_string(&config_file)?, None)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config_file.display()))?;
    let validation = DatasetArgs { data: validation.to_path_buf(), metadata: None, gt: None };
    let options = TrainOptions {
        data: data.to_path_buf(),
        train_list: data.join("metadata").join("train.txt"),
        start: Start::Fresh { config, image_weights: None },
        devices: vec![Device::flex()],
        threads: model_threads(threads),
        output: run.clone(),
        checkpoint_every: 0,
        validation: Some(crate::train::validation_set(TESTSET, &validation)?),
        skip_bad: false,
        // Every model trains on the same frames: decoded and resized once.
        frame_cache: Some(out.join("frame_cache")),
        neighbours,
        class_list: None,
        supervised: None,
        // A demo run again in its folder starts over; the earlier runs are moved aside.
        force: true,
        stop: None,
    };
    avsl_train::run::train(&options, &Curving(Console::default()))?;
    Ok(run)
}

/// The demo's scoring: one rule for every model, maps of any range (the top half of each
/// map), SLAVC's protocol.
fn scoring() -> ScoringOptions {
    ScoringOptions {
        protocol: Some(Protocol::Slavc),
        alpha: None,
        tau: 0.03,
        relative_prediction: true,
        pred_thr: None,
    }
}

/// `avsl eval` of a checkpoint (SLAVC scored by its momentum encoders, the published
/// setting), its maps kept for the figures.
fn evaluate(
    data: &Path,
    checkpoint: PathBuf,
    output: PathBuf,
    model: Architecture,
    threads: Option<usize>,
) -> Result<Scored> {
    let options = EvalOptions {
        testset: TestSet::parse(TESTSET).expect("a test set name"),
        paths: TestSetPaths::new(data),
        scoring: scoring(),
        checkpoint,
        expected: None,
        encoders: if model == Architecture::Slavc { EncoderSet::Momentum } else { EncoderSet::Online },
        object_weights: None,
        batch_size: 16,
        threads: model_threads(threads),
        device: Device::flex(),
        save_maps: true,
        skip_bad: false,
        pipeline: TestPipeline::Slavc,
        negative_audio: Vec::new(),
        output,
        force: true,
    };
    let evaluated = evaluate_checkpoint(&options, &Console::default())?;
    show(&options.output, &evaluated)?;
    Ok(evaluated.scored)
}

fn source_set(data: &Path, output: PathBuf) -> SourceSetOptions {
    SourceSetOptions { set: SourceSet::Is3, paths: TestSetPaths::new(data), output, force: true }
}

/// `avsl eval --testset is3` of a checkpoint, its maps kept for the figure.
fn evaluate_interactive(data: &Path, checkpoint: PathBuf, output: PathBuf, model: Architecture) -> Result<()> {
    let model = SourceModel {
        checkpoint,
        expected: None,
        encoders: if model == Architecture::Slavc { EncoderSet::Momentum } else { EncoderSet::Online },
        tau: 0.03,
        batch_size: 16,
        threads: model_threads(None),
        device: Device::flex(),
        save_maps: true,
        pipeline: script_pipeline(SourceSet::Is3),
    };
    evaluate_source_checkpoint(&source_set(data, output), &model, &Console::default())?;
    Ok(())
}

/// A fixed map (the baselines') for every pair of the multi-source set, scored by
/// `avsl eval-maps --testset is3`.
fn evaluate_interactive_fixed_map(
    data: &Path,
    pairs: &[SourcePair],
    out: &Path,
    name: &str,
    grid: &[f32],
) -> Result<()> {
    let maps = out.join("baselines").join(format!("{name}_is3"));
    write_fixed_maps(&maps, pairs.iter().map(|p| [p.name.as_str(), p.name.as_str()]), grid)?;
    let set = source_set(data, out.join("eval_is3").join(name));
    evaluate_source_maps(&set, &maps, false, &Console::default())?;
    Ok(())
}

/// A baseline's maps folder: one constant 224×224 map for every key.
fn write_fixed_maps<'a>(dir: &Path, keys: impl Iterator<Item = [&'a str; 2]>, grid: &[f32]) -> Result<()> {
    let mut maps = MapFolderWriter::new(dir, PAIR_KEYS)?;
    maps.write_shared("map.npy", &Map { h: MAP_SIZE, w: MAP_SIZE, values: grid.to_vec() })?;
    for key in keys {
        maps.add_shared(&key, "map.npy");
    }
    maps.finish()?;
    Ok(())
}

/// The baselines' maps on the 224×224 grid: `value(x, y)` at pixel centres.
fn fixed_grid(value: impl Fn(f64, f64) -> f32) -> Vec<f32> {
    let at = |i: usize| (i as f64 + 0.5) / MAP_SIZE as f64;
    (0..MAP_SIZE * MAP_SIZE).map(|i| value(at(i % MAP_SIZE), at(i / MAP_SIZE))).collect()
}

/// A map for every test pair from `value(x, y)` on the 224×224 grid, scored as is.
fn evaluate_fixed_map(
    data: &Path,
    samples: &[TestSample],
    out: &Path,
    name: &str,
    value: impl Fn(f64, f64) -> f32,
) -> Result<Scored> {
    let maps = out.join("baselines").join(name);
    write_fixed_maps(&maps, samples.iter().map(|s| [s.video_id.as_str(), s.audio_id.as_str()]), &fixed_grid(value))?;
    let options = MapsOptions {
        testset: TestSet::parse(TESTSET).expect("a test set name"),
        paths: TestSetPaths::new(data),
        scoring: scoring(),
        maps,
        map_kind: MapKind::Scores,
        object_maps: None,
        allow_outside_paths: false,
        output: out.join("eval").join(name),
        force: true,
    };
    let evaluated = evaluate_maps(&options, &Console::default())?;
    show(&options.output, &evaluated)?;
    Ok(evaluated.scored)
}

/// SSL-align's positives, mined with SLAVC's trained encoders: the paper mines with
/// pretrained encoders, and none ships with a demo (mining with SSL-align's own initial
/// trunks gives near-random neighbours; docs/synthetic.md).
fn neighbours_from(data: &Path, out: &Path, checkpoint: &Path, k: usize, threads: Option<usize>) -> Result<PathBuf> {
    let list = data.join("metadata").join("train.txt");
    let ids = read_id_list(&list)?;
    let pairs = training_pairs(data, &ids, &list)?;
    let device = Device::flex();
    let encoders = FeatureSource::open(checkpoint, &device)?;
    let table = mine(&pairs, &encoders, &encoders, k, model_threads(threads), &device, &Console::default())?;
    let path = out.join("runs").join("neighbours.safetensors");
    let source = format!("SLAVC's trained encoders ({})", checkpoint.display());
    write_neighbours(&path, &NeighbourFile { ids, table, source })?;
    Ok(path)
}

fn untrained_checkpoint(out: &Path, config: &TrainConfig) -> Result<PathBuf> {
    let model: ModelConfig = config.model_config();
    let weights = initial_weights(&model, None, config.seed);
    let path = out.join("runs").join("untrained.safetensors");
    create_dir_all(path.parent().expect("a parent folder"))?;
    write_atomic(&path, &safetensors_bytes(&path, &weights, &model, &BTreeMap::new())?)?;
    Ok(path)
}

fn read_metrics(dir: &Path) -> Result<Value> {
    let path = dir.join("metrics.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

pub fn run(args: DemoArgs) -> Result<()> {
    let _lock = prepare_output_dir(&args.out, "report.md", args.force, &Console::default())?;
    let plan = Plan::new(args.quick, args.seed);
    let out = &args.out;
    let data = out.join("data");
    let start = Instant::now();
    let stage = |k: usize, what: &str| println!("\n[{k}/8 at {:.0} s] {what}", start.elapsed().as_secs_f64());

    stage(1, "generating the synthetic benchmark");
    let summary: SynthSummary = generate_with_progress(&data, &plan.synth)?;
    let validation = out.join("validation");
    generate_with_progress(&validation, &plan.validation)?;
    let generate_s = start.elapsed().as_secs_f64();
    let test = build_test_list(&TestSetPaths::new(&data), TestSet::VggssPlusSilent)?;
    let interactive = read_source_pairs(SourceSet::Is3, &find_list(SourceSet::Is3, &data.join("metadata"))?, &data)?;

    let mut runs: Vec<(Architecture, PathBuf)> = Vec::new();
    let mut train_s = Vec::new();
    for (k, (config, label)) in
        [(&plan.slavc, "SLAVC"), (&plan.ezvsl, "EZ-VSL"), (&plan.ssl_align, "SSL-align")].into_iter().enumerate()
    {
        stage(k + 2, &format!("training {label}"));
        let t = Instant::now();
        let neighbours = match config.model {
            Architecture::SslAlign => {
                let slavc = runs.iter().find(|(m, _)| *m == Architecture::Slavc).expect("SLAVC trains first");
                let checkpoint = slavc.1.join(BEST);
                Some(neighbours_from(&data, out, &checkpoint, config.neighbours_k, args.threads)?)
            }
            _ => None,
        };
        runs.push((config.model, train(&data, &validation, out, config, neighbours, args.threads)?));
        train_s.push(t.elapsed().as_secs_f64());
    }

    stage(5, "evaluating the models and the baselines on the extended test set");
    let t = Instant::now();
    let eval_dir = out.join("eval");
    let mut results: Vec<ModelResult> = Vec::new();
    let mut add = |name: &str, what: &str, scored: Scored| -> Result<()> {
        let metrics = read_metrics(&eval_dir.join(name))?;
        results.push(ModelResult {
            name: name.to_string(),
            what: what.to_string(),
            metrics,
            scored,
            interactive: None,
        });
        Ok(())
    };
    for (model, run) in &runs {
        let name = model_key(*model);
        let scored = evaluate(&data, run.join(BEST), eval_dir.join(name), *model, args.threads)?;
        add(name, describe(*model), scored)?;
    }
    let untrained = untrained_checkpoint(out, &plan.slavc)?;
    let scored = evaluate(&data, untrained.clone(), eval_dir.join("untrained"), Architecture::Slavc, args.threads)?;
    add("untrained", "SLAVC with its initial random weights", scored)?;
    // σ = a quarter of the frame: its top half is the central disc of half the frame.
    let gaussian = |x: f64, y: f64| (-((x - 0.5).powi(2) + (y - 0.5).powi(2)) / (2.0 * 0.25f64.powi(2))).exp() as f32;
    let scored = evaluate_fixed_map(&data, &test, out, "center_prior", gaussian)?;
    add("center_prior", "a centred Gaussian map (σ = 1/4 of the frame)", scored)?;
    let scored = evaluate_fixed_map(&data, &test, out, "whole_image", |_, _| 1.0)?;
    add("whole_image", "a constant map: the whole frame", scored)?;
    let eval_s = t.elapsed().as_secs_f64();

    stage(6, "evaluating them on the multi-source (interactive) test set");
    let t = Instant::now();
    let is3_dir = out.join("eval_is3");
    for (model, run) in &runs {
        evaluate_interactive(&data, run.join(BEST), is3_dir.join(model_key(*model)), *model)?;
    }
    evaluate_interactive(&data, untrained, is3_dir.join("untrained"), Architecture::Slavc)?;
    evaluate_interactive_fixed_map(&data, &interactive, out, "center_prior", &fixed_grid(gaussian))?;
    evaluate_interactive_fixed_map(&data, &interactive, out, "whole_image", &fixed_grid(|_, _| 1.0))?;
    for r in results.iter_mut() {
        r.interactive = Some(read_metrics(&is3_dir.join(&r.name))?);
    }
    let interactive_s = t.elapsed().as_secs_f64();

    stage(7, "drawing the figures");
    let figures = out.join("figures");
    create_dir_all(&figures)?;
    let labelled: Vec<(&str, &PathBuf)> = runs.iter().map(|(m, run)| (describe_short(*m), run)).collect();
    training_curves(&figures, &labelled)?;
    pr_curves(&figures.join("pr_curves.png"), &results)?;
    let maps_of = |name: &str| match name {
        "center_prior" | "whole_image" => out.join("baselines").join(name),
        _ => eval_dir.join(name).join("maps"),
    };
    let shown = ["slavc", "ezvsl", "ssl_align", "untrained", "center_prior"];
    let rows: Vec<_> =
        shown.iter().filter_map(|n| results.iter().find(|r| r.name == *n)).map(|r| (r, maps_of(&r.name))).collect();
    overlay_grid(&figures.join("heatmaps.png"), &test, &rows)?;
    let is3_rows: Vec<_> =
        ["slavc", "ezvsl", "ssl_align", "untrained"].iter().map(|n| (n.to_string(), is3_dir.join(n))).collect();
    interactive_grid(&figures.join("interactive.png"), &interactive, &is3_rows)?;

    stage(8, "writing the report");
    let facts = RunFacts {
        quick: args.quick,
        data: data.clone(),
        summary,
        plan,
        seconds: Seconds { generate: generate_s, train: train_s, evaluate: eval_s, interactive: interactive_s },
        total_s: start.elapsed().as_secs_f64(),
    };
    write_report(out, &facts, &results)?;
    println!(
        "\ndone in {:.0} s: {} and {}",
        start.elapsed().as_secs_f64(),
        out.join("report.md").display(),
        out.join("report.json").display()
    );
    Ok(())
}

/// The name of a trained model's results (`eval/<key>`).
pub fn model_key(model: Architecture) -> &'static str {
    match model {
        Architecture::Slavc => "slavc",
        Architecture::Ezvsl => "ezvsl",
        Architecture::SslAlign => "ssl_align",
    }
}

fn describe(model: Architecture) -> &'static str {
    match model {
        Architecture::Slavc => "SLAVC, trained (momentum encoders)",
        Architecture::Ezvsl => "EZ-VSL, trained",
        Architecture::SslAlign => "SSL-align, trained",
    }
}

fn describe_short(model: Architecture) -> &'static str {
    match model {
        Architecture::Slavc => "SLAVC",
        Architecture::Ezvsl => "EZ-VSL",
        Architecture::SslAlign => "SSL-align",
    }
}
