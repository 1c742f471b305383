//! `avsl train`: the flags into [`avsl_train::run::TrainOptions`] (the published recipe,
//! docs/method.md §3–4b, with a TOML configuration and flags over it), then the run; the
//! loss and validation curves are drawn from the run's log after every epoch.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use avsl_data::report::Report;
use avsl_data::testset::build_test_list;
use avsl_model::Architecture;
use avsl_model::device::parse_devices;
use avsl_train::TrainError;
use avsl_train::config::TrainConfig;
use avsl_train::run::{Start, SupervisedList, TrainOptions, train};
use avsl_train::run_log::{Curves, RunLog};
use avsl_train::validate::Validation;
use clap::Args;

use crate::dataset_args::{DatasetArgs, parse_testset};
use crate::device::model_threads;
use crate::eval::ModelArg;
use crate::plots::{Series, line_plot_in, padded_range};
use crate::progress::Console;
use crate::signals::StopOnSignals;

#[derive(Args)]
pub struct TrainArgs {
    /// Dataset root with frames/ and audio/.
    #[arg(long)]
    pub data: PathBuf,
    /// TOML file with any of the configuration keys (docs/commands.md); flags override it.
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
    /// Where the model trains: `cpu`; `wgpu`, `wgpu:N` (N-th discrete GPU) or `wgpu:cpu` (a
    /// software Vulkan adapter) through Vulkan, Metal or DX12; `cuda[:N]` in a build with the
    /// `cuda` feature (docs/gpu.md). Several, separated by commas, train data-parallel
    /// (`cuda:0,cuda:1`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Run folder: config.json, train_log.jsonl, latest.safetensors, best.safetensors.
    #[arg(long)]
    pub output: PathBuf,
    /// Continue the run in --output from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Start over in a folder that holds a run (the earlier run is moved to
    /// OUTPUT/previous-<UTC time>/, never deleted), rebuild a --frame-cache that holds
    /// other frames (moved aside likewise), or write into a non-empty folder avsl did not
    /// create.
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
    /// Form every batch from samples of distinct classes (configuration key
    /// distinct_class_batches): no same-class pair, a false negative for the contrastive
    /// losses. Needs batch size ≤ the number of classes.
    #[arg(long)]
    pub distinct_classes: bool,
    /// Each training id's class for --distinct-classes, `id,class` per line (default
    /// DATA/metadata/train_classes.csv, which `avsl synth` writes).
    #[arg(long)]
    pub class_list: Option<PathBuf>,
}

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
    config.distinct_class_batches |= args.distinct_classes;
    config.check().map_err(|e| anyhow::anyhow!("{e} (from --config and the flags)"))?;
    if args.image_weights.is_some() && config.width != avsl_model::arch::RESNET18_WIDTH {
        bail!("--image-weights holds a ResNet-18 of width 64; this run's trunks have width {}", config.width);
    }
    Ok(config)
}

/// A validation list by test-set name in a dataset's folders.
pub fn validation_set(name: &str, dataset: &DatasetArgs) -> Result<Validation> {
    let set = parse_testset(name)?;
    let samples = build_test_list(&dataset.paths(None), set)?;
    if samples.is_empty() {
        bail!("the {name} validation list has no sample with both files under {}", dataset.data.display());
    }
    Ok(Validation { name: name.to_string(), samples, format: set.box_format() })
}

/// The flags as library options, after refusing output folders that would write into the
/// dataset.
pub fn options(args: TrainArgs) -> Result<TrainOptions> {
    let dataset = DatasetArgs { data: args.data.clone(), metadata: None, gt: None };
    let start = if args.resume {
        Start::Resume { epochs: args.epochs }
    } else {
        dataset.refuse_as_output(&args.output, &[])?;
        Start::Fresh { config: resolve_config(&args)?, image_weights: args.image_weights.clone() }
    };
    if let Some(dir) = &args.frame_cache {
        dataset.refuse_as_output(dir, &[&args.output])?;
    }
    let val_dataset = DatasetArgs {
        data: args.val_data.clone().unwrap_or_else(|| args.data.clone()),
        metadata: args.val_metadata.clone(),
        gt: args.val_gt.clone(),
    };
    Ok(TrainOptions {
        train_list: args.train_list.clone().unwrap_or_else(|| args.data.join("metadata").join("train.txt")),
        start,
        devices: parse_devices(&args.device)?,
        threads: model_threads(args.threads),
        checkpoint_every: args.checkpoint_every,
        validation: match &args.val_testset {
            Some(name) => Some(validation_set(name, &val_dataset)?),
            None => None,
        },
        skip_bad: args.skip_bad,
        supervised: args.sup_list.map(|list| SupervisedList { list, annotations: args.sup_annotations }),
        frame_cache: args.frame_cache,
        neighbours: args.neighbours,
        class_list: args.class_list,
        force: args.force,
        stop: None,
        output: args.output,
        data: args.data,
    })
}

pub fn run(args: TrainArgs) -> Result<()> {
    let mut options = options(args)?;
    let signals = StopOnSignals::register()?;
    options.stop = Some(signals.flag());
    match train(&options, &Curving(Console::default())) {
        Err(e @ TrainError::Interrupted { .. }) => {
            eprintln!("{e}");
            signals.exit()
        }
        result => result?,
    }
    println!("run folder: {}", options.output.display());
    Ok(())
}

/// The console's report, with the run's curves redrawn after every epoch.
pub struct Curving(pub Console);

impl Report for Curving {
    fn line(&self, text: &str) {
        self.0.line(text)
    }
    fn note(&self, text: &str) {
        self.0.note(text)
    }
    fn phase(&self, label: &str, total: usize, done: usize) {
        self.0.phase(label, total, done)
    }
    fn advance(&self, items: usize, status: Option<&str>) {
        self.0.advance(items, status)
    }
    fn phase_end(&self) {
        self.0.phase_end()
    }
    fn epoch_written(&self, run: &Path) {
        if let Err(e) = draw_curves(run) {
            self.0.note(&format!("warning: {}: the training curves could not be drawn: {e:#}", run.display()));
        }
    }
}

/// `loss.png` (step losses and epoch means) and, with validation, `validation.png`
/// (AP@50, max-F1@50, LocAcc@50, AUC per epoch), from the log.
pub fn draw_curves(run: &Path) -> Result<()> {
    let curves = Curves::of(&RunLog::in_run(run).read()?);
    let points = |v: &[(u64, f64)]| v.iter().map(|&(x, y)| (x as f64, y)).collect::<Vec<_>>();
    let steps = points(&curves.losses);
    let x = padded_range(steps.iter().map(|p| p.0));
    let y = padded_range(steps.iter().map(|p| p.1));
    let series = vec![
        Series { label: "loss per step".into(), points: steps, dashed: false },
        Series { label: "mean loss per epoch".into(), points: points(&curves.epoch_means), dashed: true },
    ];
    line_plot_in(&run.join("loss.png"), "Training loss", "step", "loss", &series, x, y)?;
    let Some((_, first)) = curves.validations.first() else { return Ok(()) };
    let series: Vec<Series> = ["AP@50", "maxF1@50", "LocAcc@50", "AUC"]
        .iter()
        .map(|key| Series { label: key.to_string(), points: points(&curves.validation_metric(key)), dashed: false })
        .collect();
    let last = curves.validations.iter().map(|(epoch, _)| *epoch as f64).fold(1.0, f64::max);
    line_plot_in(
        &run.join("validation.png"),
        &format!("Validation on {} (exact evaluator)", first.testset),
        "epoch",
        "metric",
        &series,
        (0.5, last + 0.5),
        (0.0, 1.02),
    )
}
