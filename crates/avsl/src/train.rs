//! `avsl train`: the published recipe (METHOD §3–4) on a dataset in the authors' layout,
//! with a resolved configuration saved in the run folder, one JSON line per step and per
//! epoch, atomic checkpoints, and `--resume` that continues the same trajectory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use avsl_data::annotations::{read_flickr_folder, read_vggss_json};
use avsl_data::frame_cache::{CachedResize, FrameCache};
use avsl_data::fsutil::write_atomic;
use avsl_data::lists::read_id_list;
use avsl_data::loader::{AlignViews, Loader, LoaderConfig, NeighbourTable, PairFiles};
use avsl_data::testset::build_test_list;
use avsl_data::transform::INPUT_SIZE;
use avsl_metrics::BoxFormat;
use avsl_metrics::report::variant_json;
use avsl_model::Architecture;
use avsl_model::checkpoint::read_torchvision_resnet18;
use avsl_model::host_conv::Activation;
use avsl_model::neighbour_file::{NeighbourFile, read_neighbours, write_neighbours};
use avsl_model::test_pass::OnBadFile;
use avsl_model::trainable::Batch;
use avsl_train::config::TrainConfig;
use avsl_train::init::initial_weights;
use avsl_train::semi::SupervisedBoxes;
use avsl_train::state_file::{Progress, load_on_devices, save};
use avsl_train::trainer::Trainer;
use avsl_train::validate::{Validation, criterion_value, validate};
use burn::tensor::Device;
use clap::Args;
use serde_json::json;

use crate::dataset_args::{DatasetArgs, parse_testset};
use crate::device::{model_threads, parse_devices};
use crate::eval::ModelArg;
use crate::mine::{FeatureSource, mine};
use crate::output::prepare_output_dir;
use crate::plots::{Series, line_plot_in, padded_range};
use crate::progress;

#[derive(Args)]
pub struct TrainArgs {
    /// Dataset root with frames/ and audio/.
    #[arg(long)]
    pub data: PathBuf,
    /// TOML file with any of the configuration keys (see README); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Training ids, one per line (default DATA/metadata/train.txt).
    #[arg(long)]
    pub train_list: Option<PathBuf>,
    #[arg(long)]
    pub epochs: Option<u64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Width of the projection heads (512 in the papers).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Base channel width of the ResNet-18 trunks (64 = torchvision's ResNet-18).
    #[arg(long)]
    pub width: Option<usize>,
    /// torchvision's ImageNet ResNet-18 (resnet18-*.pth) for the image encoder.
    #[arg(long)]
    pub image_weights: Option<PathBuf>,
    /// Training ids whose boxes supervise their maps too (semi-supervised variant,
    /// supplement eq. 9); they must also be in the training list.
    #[arg(long)]
    pub sup_list: Option<PathBuf>,
    /// Boxes of the --sup-list ids: a VGG-SS json file or a Flickr annotation folder
    /// (default DATA/metadata/vggss.json, else DATA/Annotations).
    #[arg(long)]
    pub sup_annotations: Option<PathBuf>,
    /// Threads for decoding and for the model (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the model trains: `cpu`, `cuda[:N]` (a build with the `cuda` feature), or
    /// several devices separated by commas for data-parallel training (`cuda:0,cuda:1`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Run folder: config.json, train_log.jsonl, latest.safetensors, best.safetensors.
    #[arg(long)]
    pub output: PathBuf,
    /// Continue the run in --output from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Write into a non-empty folder that avsl did not create.
    #[arg(long)]
    pub force: bool,
    /// Also save latest.safetensors every N steps (0: only at the end of each epoch), so
    /// that a killed run loses at most N steps.
    #[arg(long, default_value_t = 200)]
    pub checkpoint_every: u64,
    /// Validate after every epoch on this test set (vggss_plus_silent, flickr, …) with the
    /// exact evaluator; the best epoch is kept as best.safetensors.
    #[arg(long)]
    pub val_testset: Option<String>,
    /// Dataset root of the validation set (default --data).
    #[arg(long)]
    pub val_data: Option<PathBuf>,
    /// Metadata folder of the validation set (default VAL_DATA/metadata).
    #[arg(long)]
    pub val_metadata: Option<PathBuf>,
    /// Flickr annotation folder of the validation set (default VAL_DATA/Annotations).
    #[arg(long)]
    pub val_gt: Option<PathBuf>,
    /// Leave out every sample whose frame or audio cannot be read (listed in skipped.csv,
    /// counted in the log) instead of stopping at the first; validation likewise.
    #[arg(long)]
    pub skip_bad: bool,
    /// Decode and resize every training frame once into this folder (built on first use,
    /// rebuilt when the list changes) and train from it: the same pixels, no JPEG decoding
    /// per epoch. Needs width·246·3 bytes per frame (~320 KB for 16:9).
    #[arg(long)]
    pub frame_cache: Option<PathBuf>,
    /// SSL-align's mined positives, from `avsl mine-neighbours` over this training list.
    /// Without it the model mines its own: before the first epoch and every `mine_every`
    /// epochs (configuration key), with the trunks being trained.
    #[arg(long)]
    pub neighbours: Option<PathBuf>,
}

const SKIPPED: &str = "skipped.csv";

/// Every sample left out by --skip-bad in this run folder: (file, problem) → sample ids.
#[derive(Default)]
struct SkippedSamples {
    rows: BTreeMap<(PathBuf, String), BTreeSet<String>>,
}

impl SkippedSamples {
    /// What an earlier part of the run (before --resume) recorded.
    fn load(run: &Path) -> Result<SkippedSamples> {
        let mut out = SkippedSamples::default();
        let path = run.join(SKIPPED);
        if !path.is_file() {
            return Ok(out);
        }
        let mut reader = csv::Reader::from_path(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        for row in reader.records() {
            let row = row.with_context(|| format!("{}: not a skipped-samples list", path.display()))?;
            let field = |k: usize| row.get(k).unwrap_or("").to_string();
            out.rows.entry((PathBuf::from(field(0)), field(1))).or_default().insert(field(2));
        }
        Ok(out)
    }

    fn add(&mut self, file: &Path, problem: &str, id: &str) {
        self.rows.entry((file.to_path_buf(), problem.to_string())).or_default().insert(id.to_string());
    }

    fn write(&self, run: &Path) -> Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["file", "problem", "sample"])?;
        for ((file, problem), ids) in &self.rows {
            for id in ids {
                w.write_record([file.display().to_string().as_str(), problem, id])?;
            }
        }
        write_atomic(&run.join(SKIPPED), &w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        Ok(())
    }

    fn samples(&self) -> usize {
        self.rows.values().flatten().collect::<BTreeSet<_>>().len()
    }
}

const LATEST: &str = "latest.safetensors";
/// The neighbours SSL-align mined with its own trunks most recently (read on --resume).
const MINED: &str = "neighbours.safetensors";
const BEST: &str = "best.safetensors";
const LOG: &str = "train_log.jsonl";

fn resolve_config(args: &TrainArgs) -> Result<TrainConfig> {
    let model = args.model.map(Architecture::from);
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
            TrainConfig::from_toml(&text, model)
                .map_err(|e| anyhow::anyhow!("{}: not a valid training configuration: {e}", path.display()))?
        }
        None => TrainConfig::published(model.unwrap_or(Architecture::Slavc)),
    };
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.lr = args.lr.unwrap_or(config.lr);
    config.seed = args.seed.unwrap_or(config.seed);
    config.dim = args.dim.unwrap_or(config.dim);
    config.width = args.width.unwrap_or(config.width);
    config.check().map_err(|e| anyhow::anyhow!("{e} (from --config and the flags)"))?;
    if args.image_weights.is_some() && config.width != avsl_model::arch::RESNET18_WIDTH {
        bail!("--image-weights holds a ResNet-18 of width 64; this run's trunks have width {}", config.width);
    }
    Ok(config)
}

/// The boxes of the `--sup-list` ids, which must all be training ids.
fn supervised_boxes(args: &TrainArgs, train_ids: &[String]) -> Result<Option<SupervisedBoxes>> {
    let Some(list) = &args.sup_list else { return Ok(None) };
    let ids = read_id_list(list)?;
    let training: std::collections::HashSet<&str> = train_ids.iter().map(String::as_str).collect();
    if let Some(stray) = ids.iter().find(|id| !training.contains(id.as_str())) {
        bail!("{}: {stray} is not in the training list (supervised ids must be training ids)", list.display());
    }
    let json = args.data.join("metadata").join("vggss.json");
    let source = args
        .sup_annotations
        .clone()
        .unwrap_or_else(|| if json.is_file() { json } else { args.data.join("Annotations") });
    let (table, format) = if source.is_dir() {
        (read_flickr_folder(&source)?, BoxFormat::Flickr)
    } else {
        (read_vggss_json(&source)?, BoxFormat::Vggss)
    };
    Ok(Some(SupervisedBoxes::new(&ids, &table, format, list)?))
}

/// The training pairs: every listed id must have its frame and its audio.
pub(crate) fn training_pairs(data: &Path, ids: &[String], list: &Path) -> Result<Vec<PairFiles>> {
    if ids.is_empty() {
        bail!("{}: the training list is empty", list.display());
    }
    let pairs: Vec<PairFiles> = ids
        .iter()
        .map(|id| PairFiles {
            frame: data.join("frames").join(format!("{id}.jpg")),
            audio: data.join("audio").join(format!("{id}.wav")),
        })
        .collect();
    let missing: Vec<String> = pairs
        .iter()
        .flat_map(|p| [&p.frame, &p.audio])
        .filter(|f| !f.is_file())
        .map(|f| f.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} of the files {} lists are missing, e.g. {} (avsl check names them all)",
            missing.len(),
            list.display(),
            missing[..missing.len().min(3)].join(", ")
        );
    }
    Ok(pairs)
}

/// Keeps the log lines of steps up to `step` (a resumed run repeats the ones after its
/// checkpoint).
fn truncate_log(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                .is_some_and(|s| s <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, kept.as_bytes())?;
    Ok(())
}

fn validation_set(args: &TrainArgs) -> Result<Option<Validation>> {
    let Some(name) = &args.val_testset else { return Ok(None) };
    let set = parse_testset(name)?;
    let dataset = DatasetArgs {
        data: args.val_data.clone().unwrap_or_else(|| args.data.clone()),
        metadata: args.val_metadata.clone(),
        gt: args.val_gt.clone(),
    };
    let samples = build_test_list(&dataset.paths(None), set)?;
    if samples.is_empty() {
        bail!("the {name} validation list has no sample with both files under {}", dataset.data.display());
    }
    Ok(Some(Validation { name: name.clone(), samples, format: set.box_format() }))
}

/// `loss.png` (step losses and epoch means) and, with validation, `validation.png`
/// (AP@50, max-F1@50, LocAcc@50, AUC per epoch), from the log.
fn draw_curves(run: &Path) -> Result<()> {
    let text = std::fs::read_to_string(run.join(LOG))?;
    let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let steps: Vec<(f64, f64)> =
        lines.iter().filter_map(|v| Some((v.get("step")?.as_f64()?, v.get("loss")?.as_f64()?))).collect();
    let means: Vec<(f64, f64)> =
        lines.iter().filter_map(|v| Some((v.get("step")?.as_f64()?, v.get("mean_loss")?.as_f64()?))).collect();
    let x = padded_range(steps.iter().map(|p| p.0));
    let y = padded_range(steps.iter().map(|p| p.1));
    let series = vec![
        Series { label: "loss per step".into(), points: steps, dashed: false },
        Series { label: "mean loss per epoch".into(), points: means, dashed: true },
    ];
    line_plot_in(&run.join("loss.png"), "Training loss", "step", "loss", &series, x, y)?;
    let epochs: Vec<&serde_json::Value> = lines.iter().filter(|v| v.get("validation").is_some()).collect();
    if epochs.is_empty() {
        return Ok(());
    }
    let testset = epochs[0]["validation"]["testset"].as_str().unwrap_or("validation").to_string();
    let series: Vec<Series> = ["AP@50", "maxF1@50", "LocAcc@50", "AUC"]
        .iter()
        .map(|key| Series {
            label: key.to_string(),
            points: epochs
                .iter()
                .filter_map(|v| Some((v["epoch_end"].as_f64()?, v["validation"]["metrics"]["all"][key].as_f64()?)))
                .collect(),
            dashed: false,
        })
        .collect();
    let last = epochs.iter().filter_map(|v| v["epoch_end"].as_f64()).fold(1.0, f64::max);
    line_plot_in(
        &run.join("validation.png"),
        &format!("Validation on {testset} (exact evaluator)"),
        "epoch",
        "metric",
        &series,
        (0.5, last + 0.5),
        (0.0, 1.02),
    )
}

/// A run started without --resume in the folder of an earlier run replaces it: its log
/// (which would otherwise be appended to and mixed into this run's epoch means), its
/// checkpoints (an old best.safetensors would outlive a run without validation) and curves.
fn start_over(run: &Path) -> Result<()> {
    let mut removed = Vec::new();
    for name in [LOG, LATEST, BEST, MINED, "loss.png", "validation.png"] {
        let path = run.join(name);
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("{}: cannot remove", path.display()))?;
            removed.push(name);
        }
    }
    if !removed.is_empty() {
        eprintln!(
            "note: {} held an earlier run; starting over (removed {}). --resume continues a run instead.",
            run.display(),
            removed.join(", ")
        );
    }
    Ok(())
}

/// Removes the temporary files of atomic writes that a killed run left in its folder
/// (`.<name>.tmp-<pid>`; a finished write renames its file, so these are never complete).
fn remove_stale_temporaries(run: &Path) -> Result<()> {
    for entry in std::fs::read_dir(run).with_context(|| format!("{}: cannot list", run.display()))? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') && name.contains(".tmp-") {
            std::fs::remove_file(&path).with_context(|| format!("{}: cannot remove", path.display()))?;
        }
    }
    Ok(())
}

/// Mean loss of an epoch's steps, from the log (a resumed epoch's steps are partly in an
/// earlier process).
fn epoch_mean_loss(log: &Path, epoch: u64) -> Result<f64> {
    let text = std::fs::read_to_string(log)?;
    let losses: Vec<f64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("epoch").and_then(|e| e.as_u64()) == Some(epoch))
        .filter_map(|v| v.get("loss")?.as_f64())
        .collect();
    Ok(losses.iter().sum::<f64>() / losses.len() as f64)
}

fn append(path: &Path, line: serde_json::Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(f, "{line}")?;
    Ok(())
}

pub fn run(args: TrainArgs) -> Result<()> {
    let devices: Vec<Device> = parse_devices(&args.device)?.into_iter().map(Device::autodiff).collect();
    let (mut trainer, progress) = if args.resume {
        let latest = args.output.join(LATEST);
        if !latest.is_file() {
            bail!("{}: nothing to resume (no {LATEST})", args.output.display());
        }
        let (mut trainer, progress) = load_on_devices(&latest, &devices)?;
        trainer.config.epochs = args.epochs.unwrap_or(trainer.config.epochs);
        truncate_log(&args.output.join(LOG), trainer.step)?;
        remove_stale_temporaries(&args.output)?;
        println!(
            "resuming {} at epoch {}, batch {} (step {})",
            latest.display(),
            progress.epoch,
            progress.batch,
            trainer.step
        );
        (trainer, progress)
    } else {
        DatasetArgs { data: args.data.clone(), metadata: None, gt: None }.refuse_as_output(&args.output, &[])?;
        prepare_output_dir(&args.output, "config.json", args.force)?;
        start_over(&args.output)?;
        let config = resolve_config(&args)?;
        let imagenet = args.image_weights.as_deref().map(read_torchvision_resnet18).transpose()?;
        if imagenet.is_none() {
            eprintln!(
                "warning: no --image-weights: the image encoder starts from random weights, not ImageNet (the \
                 published recipe uses torchvision's resnet18 ImageNet weights)"
            );
        }
        let weights = initial_weights(&config.model_config(), imagenet.as_ref(), config.seed);
        let trainer =
            Trainer::on_devices(&weights, config, &devices).map_err(|e| anyhow!("--device {}: {e}", args.device))?;
        (trainer, Progress { epoch: 0, batch: 0, best: None })
    };
    let config = trainer.config.clone();
    write_atomic(&args.output.join("config.json"), serde_json::to_string_pretty(&config)?.as_bytes())?;
    let list = args.train_list.clone().unwrap_or_else(|| args.data.join("metadata").join("train.txt"));
    let ids = read_id_list(&list)?;
    let pairs = training_pairs(&args.data, &ids, &list)?;
    let sup = supervised_boxes(&args, &ids)?;
    if let Some(s) = &sup {
        println!("semi-supervised: {} of the training ids have boxes that supervise their maps", s.len());
    }
    let threads = model_threads(args.threads);
    let frame_cache =
        args.frame_cache.as_deref().map(|dir| training_frame_cache(&args, dir, &pairs, threads)).transpose()?;
    let log = args.output.join(LOG);
    let align = config.model == Architecture::SslAlign;
    if align && args.sup_list.is_some() {
        bail!("--sup-list: the semi-supervised loss supervises SLAVC's and EZ-VSL's map heads; SSL-align has none");
    }
    if !align && args.neighbours.is_some() {
        bail!("--neighbours: mined positives are SSL-align's (--model ssl-align)");
    }
    let given_neighbours = match &args.neighbours {
        Some(path) => Some(Arc::new(read_neighbours(path)?.for_list(&ids, path)?)),
        None => None,
    };
    // Self-mining happens at the start of every mine_every-th epoch; a run resumed
    // anywhere else reads what the uninterrupted run mined last.
    let mines_at = |epoch: u64, batch: u64| {
        align && given_neighbours.is_none() && epoch.is_multiple_of(config.mine_every) && batch == 0
    };
    let align_views = if !align {
        None
    } else {
        let neighbours = match &given_neighbours {
            Some(table) => Arc::clone(table),
            None if mines_at(progress.epoch, progress.batch) => {
                self_mine(&trainer, &pairs, &ids, &args.output, progress.epoch, threads, &log)?
            }
            None => {
                let path = args.output.join(MINED);
                Arc::new(read_neighbours(&path)?.for_list(&ids, &path)?)
            }
        };
        Some(AlignViews { neighbours, audio_shift: config.audio_shift })
    };
    let mut loader = Loader::new(
        pairs.clone(),
        LoaderConfig {
            batch_size: config.batch_size,
            threads,
            prefetch: 2,
            seed: config.seed,
            shuffle: true,
            augment: true,
            drop_last: true,
            skip_bad: args.skip_bad,
            frame_cache,
            align_views,
        },
    )?;
    let per_epoch = loader.len() / config.batch_size;
    if per_epoch == 0 {
        bail!("{} training pairs: fewer than one batch of {}", loader.len(), config.batch_size);
    }
    println!(
        "training {} (d = {}) on {} pairs: {} epochs of {per_epoch} steps, batch {}, lr {}",
        config.model.name(),
        config.dim,
        loader.len(),
        config.epochs,
        config.batch_size,
        config.lr
    );
    let validation = validation_set(&args)?;
    // The image features' grid, which the supervised maps are averaged onto.
    let grid = config.model_config().trunk("imgnet.", 3).feature_grid(INPUT_SIZE, INPUT_SIZE);
    let mut best = progress.best;
    let mut skipped = SkippedSamples::load(&args.output)?;
    for epoch in progress.epoch..config.epochs {
        let skip = if epoch == progress.epoch { progress.batch as usize } else { 0 };
        if epoch != progress.epoch && mines_at(epoch, 0) {
            loader.set_neighbours(self_mine(&trainer, &pairs, &ids, &args.output, epoch, threads, &log)?)?;
        }
        let bar = progress::bar(per_epoch, &format!("epoch {}", epoch + 1));
        bar.set_position(skip as u64);
        let mut left_out = 0;
        for (k, batch) in loader.epoch(epoch).enumerate().skip(skip) {
            let batch = batch?;
            for (i, bad) in &batch.skipped {
                skipped.add(&bad.path, &bad.problem, &ids[*i]);
            }
            left_out += batch.skipped.len();
            if batch.is_empty() {
                // Every sample of this batch was unreadable: no step, and the log says so.
                append(
                    &log,
                    json!({"step": trainer.step, "epoch": epoch + 1, "batch": k + 1,
                                    "skipped": batch.skipped.len(), "no_step": "every sample unreadable"}),
                )?;
                bar.inc(1);
                continue;
            }
            let start = Instant::now();
            // Every view of every sample: 3·B for SSL-align.
            let n = batch.views * batch.len();
            let width = batch.spectrograms[0].frames;
            if batch.spectrograms.iter().any(|s| s.frames != width) {
                bail!("a batch mixes audio sample rates (spectrograms of different widths); resample the dataset");
            }
            let images = Activation { n, c: 3, h: INPUT_SIZE, w: INPUT_SIZE, data: batch.images };
            let spec: Vec<f32> = batch.spectrograms.iter().flat_map(|s| s.values.iter().copied()).collect();
            let bins = spec.len() / (n * width);
            let spectrograms = Activation { n, c: 1, h: bins, w: width, data: spec };
            let batch_ids: Vec<&str> = batch.indices.iter().map(|&i| ids[i].as_str()).collect();
            let supervision = sup.as_ref().and_then(|s| s.supervision(&batch_ids, &batch.crops, grid));
            let step_loss = trainer.train_step(Batch { images, spectrograms }, supervision.as_ref());
            let loss = step_loss.total;
            if !loss.is_finite() {
                bail!("the loss is {loss} at step {}: stopping (lower --lr?)", trainer.step);
            }
            let mut line = json!({"step": trainer.step, "epoch": epoch + 1, "batch": k + 1, "loss": loss,
                                  "seconds": start.elapsed().as_secs_f64()});
            if let Some(semi) = step_loss.semi {
                line["semi_loss"] = json!(semi);
            }
            if !batch.skipped.is_empty() {
                line["skipped"] = json!(batch.skipped.len());
            }
            append(&log, line)?;
            if args.checkpoint_every > 0 && trainer.step % args.checkpoint_every == 0 && k + 1 < per_epoch {
                save(&args.output.join(LATEST), &trainer, Progress { epoch, batch: k as u64 + 1, best }, None)?;
            }
            bar.set_message(format!("loss {loss:.4}"));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let mean = epoch_mean_loss(&log, epoch + 1)?;
        let mut line = json!({"step": trainer.step, "epoch_end": epoch + 1, "mean_loss": mean});
        // Memory per epoch, so that a reader can see it stays flat.
        if let (Some(now), Some(peak)) = (crate::memory::rss_mb(), crate::memory::peak_rss_mb()) {
            line["rss_mb"] = json!(now.round());
            line["peak_rss_mb"] = json!(peak.round());
        }
        let mut message = format!("epoch {}: mean loss {mean:.4} ({per_epoch} steps)", epoch + 1);
        if args.skip_bad {
            skipped.write(&args.output)?;
            line["skipped_samples"] = json!(left_out);
            if left_out > 0 {
                message.push_str(&format!(", {left_out} samples left out (unreadable files: {SKIPPED})"));
            }
        }
        let mut improved = false;
        let mut calibration = None;
        if let Some(v) = &validation {
            let on_bad = if args.skip_bad { OnBadFile::Skip } else { OnBadFile::Stop };
            let validated = validate(&trainer, v, 16, threads, on_bad)?;
            for b in &validated.bad {
                println!("validation skipped {}: {}", b.path.display(), b.problem);
            }
            let metrics = validated.metrics;
            let validated_left_out = validated.pairs_left_out;
            calibration = validated.calibration.map(|mut c| {
                c.source = format!("validation after epoch {}", epoch + 1);
                c
            });
            let criterion = v.criterion();
            let value = criterion_value(&metrics, criterion);
            improved = best.is_none_or(|b| value > b);
            if improved {
                best = Some(value);
            }
            line["validation"] = json!({"testset": v.name, "criterion": criterion, "metrics": variant_json(&metrics)});
            if args.skip_bad {
                line["validation"]["pairs_left_out"] = json!(validated_left_out);
            }
            message.push_str(&format!(", {} {criterion} {value:.4}{}", v.name, if improved { " (best)" } else { "" }));
        }
        // The log line first: a run killed before the checkpoint below resumes from an
        // earlier one, and the resume drops log lines after that checkpoint's step.
        append(&log, line)?;
        let progress = Progress { epoch: epoch + 1, batch: 0, best };
        save(&args.output.join(LATEST), &trainer, progress, calibration.as_ref())?;
        if improved {
            save(&args.output.join(BEST), &trainer, progress, calibration.as_ref())?;
        }
        draw_curves(&args.output)?;
        println!("{message}");
    }
    if args.skip_bad {
        println!(
            "--skip-bad: {} distinct training samples left out over the run ({} unreadable files; {})",
            skipped.samples(),
            skipped.rows.keys().map(|(f, _)| f).collect::<BTreeSet<_>>().len(),
            args.output.join(SKIPPED).display()
        );
    }
    println!("run folder: {}", args.output.display());
    Ok(())
}

/// SSL-align's neighbours mined with the trunks being trained (inference mode, test-time
/// inputs), saved in the run folder and logged.
fn self_mine(
    trainer: &Trainer,
    pairs: &[PairFiles],
    ids: &[String],
    run: &Path,
    epoch: u64,
    threads: usize,
    log: &Path,
) -> Result<Arc<NeighbourTable>> {
    let start = Instant::now();
    let device = trainer.inference_device();
    let source = FeatureSource::of_weights(trainer.weights(), trainer.config.model_config(), &device);
    let table = mine(pairs, &source, &source, trainer.config.neighbours_k, threads, &device)?;
    let file = NeighbourFile {
        ids: ids.to_vec(),
        table,
        source: format!("the model being trained, before epoch {}", epoch + 1),
    };
    write_neighbours(&run.join(MINED), &file)?;
    let seconds = start.elapsed().as_secs_f64();
    append(log, json!({"step": trainer.step, "mined_neighbours_before_epoch": epoch + 1, "seconds": seconds}))?;
    println!("mined {} neighbours per sample with the model being trained ({seconds:.1} s)", file.table.k);
    Ok(Arc::new(file.table))
}

/// The cache of `--frame-cache DIR` for this training list: opened when it holds every
/// frame for the training pipeline, built (with a progress bar) otherwise.
fn training_frame_cache(args: &TrainArgs, dir: &Path, pairs: &[PairFiles], threads: usize) -> Result<Arc<FrameCache>> {
    DatasetArgs { data: args.data.clone(), metadata: None, gt: None }.refuse_as_output(dir, &[&args.output])?;
    let frames: Vec<PathBuf> = pairs.iter().map(|p| p.frame.clone()).collect();
    let reason = match FrameCache::open(dir) {
        Ok(cache) if cache.resize() != CachedResize::Train => format!("it holds {} frames", cache.resize().name()),
        Ok(cache) => match cache.missing(&frames).len() {
            0 => {
                println!("frame cache {}: {} frames", dir.display(), cache.len());
                return Ok(Arc::new(cache));
            }
            n => format!("{n} of the {} training frames are not in it", frames.len()),
        },
        Err(_) if !dir.join("index.json").exists() => "new".to_string(),
        Err(e) => format!("{e}"),
    };
    println!("building the frame cache {} ({reason})", dir.display());
    let bar = progress::bar(frames.len(), "caching");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let cache = pool.install(|| FrameCache::build(dir, &frames, CachedResize::Train, &|| bar.inc(1)))?;
    bar.finish_and_clear();
    Ok(Arc::new(cache))
}
