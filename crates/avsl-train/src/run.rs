//! A training run in its folder, epoch by epoch: the resolved configuration
//! (`config.json`), the log (`train_log.jsonl`, [`crate::run_log`]), atomic checkpoints
//! (`latest.safetensors`, and `best.safetensors` when it validates), the samples left out
//! (`skipped.csv`), and resume from the latest checkpoint on the same trajectory.
//!
//! Each epoch: (SSL-align) mine neighbours → for every batch a step (momentum update,
//! dropout and views seeded by step) and its log line → the epoch's line with validation
//! → checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use avsl_data::annotations::{read_flickr_folder, read_vggss_json};
use avsl_data::class_batches::{class_count, read_class_list};
use avsl_data::frame_cache::{CACHE_FILES, CachedResize, FrameCache};
use avsl_data::fsutil::write_atomic;
use avsl_data::lists::{read_id_list, training_pairs};
use avsl_data::loader::{AlignViews, Loader, LoaderConfig, NeighbourTable, PairFiles};
use avsl_data::lock::{Lock, utc};
use avsl_data::output::{move_aside, prepare_output_dir};
use avsl_eval::test_pass::OnBadFile;
use avsl_metrics::BoxFormat;
use avsl_metrics::report::variant_json;
use avsl_model::Architecture;
use avsl_model::checkpoint::read_torchvision_resnet18;
use avsl_model::kernels::Kernels;
use burn::tensor::Device;

use crate::config::{LrSchedule, TrainConfig};
use crate::error::TrainError;
use crate::init::initial_weights;
use crate::mining::{FeatureSource, mine};
use crate::neighbour_file::{NeighbourFile, read_neighbours, write_neighbours};
use crate::run_log::{EpochLine, LogLine, MinedLine, NoStepLine, RunLog, StepLine, ValidationLine};
use crate::semi::SupervisedBoxes;
use crate::state_file::{Progress, load_on_devices, save};
use crate::trainable::Batch;
use crate::trainer::Trainer;
use crate::validate::{Validation, criterion_value, validate};
use avsl_data::report::Report;

pub const LATEST: &str = "latest.safetensors";
pub const BEST: &str = "best.safetensors";
/// The neighbours SSL-align mined with its own trunks most recently (read on resume).
pub const MINED: &str = "neighbours.safetensors";
pub const SKIPPED: &str = "skipped.csv";
pub const CONFIG: &str = "config.json";

/// How a run begins.
pub enum Start {
    /// A new run with this configuration; `image_weights`: torchvision's ImageNet
    /// ResNet-18 for the image trunk (random initialisation without).
    Fresh { config: TrainConfig, image_weights: Option<PathBuf> },
    /// Continue the run in the output folder from its latest checkpoint; `epochs`, when
    /// given, replaces the number of epochs it was started with.
    Resume { epochs: Option<u64> },
}

/// The semi-supervised variant's boxes (supplement eq. 9).
pub struct SupervisedList {
    /// Training ids whose boxes supervise their maps.
    pub list: PathBuf,
    /// A VGG-SS json file or a Flickr annotation folder (default `data/metadata/vggss.json`,
    /// else `data/Annotations`).
    pub annotations: Option<PathBuf>,
}

/// Everything a run needs; the command line's `avsl train` fills it.
pub struct TrainOptions {
    /// Dataset root with `frames/` and `audio/`.
    pub data: PathBuf,
    /// Training ids, one per line.
    pub train_list: PathBuf,
    pub start: Start,
    /// One device, or one per data-parallel replica.
    pub devices: Vec<Device>,
    /// Threads for decoding (the model runs on rayon's global pool).
    pub threads: usize,
    /// The run folder.
    pub output: PathBuf,
    /// Also save `latest.safetensors` every N steps (0: only at epoch ends).
    pub checkpoint_every: u64,
    /// Validation after every epoch; the best epoch is kept as `best.safetensors`.
    pub validation: Option<Validation>,
    /// Leave out unreadable samples (listed in `skipped.csv`, counted in the log) instead
    /// of stopping at the first; validation likewise.
    pub skip_bad: bool,
    /// Decode and resize every training frame once into this folder and train from it.
    pub frame_cache: Option<PathBuf>,
    /// SSL-align's mined positives from `avsl mine-neighbours`; without them SSL-align
    /// mines its own with the trunks being trained.
    pub neighbours: Option<PathBuf>,
    pub supervised: Option<SupervisedList>,
    /// Start over in a folder that holds a run, and rebuild a frame cache that holds other
    /// frames, each after moving what was there to `previous-<UTC time>/` inside it
    /// (nothing is deleted); without it both are refused, naming what is there.
    pub force: bool,
    /// Set (by a signal handler, say) to stop cleanly: the step in hand finishes and is
    /// logged, `latest.safetensors` is saved where the run stands, and [`train`] returns
    /// [`TrainError::Interrupted`]; a resumed run then continues exactly.
    pub stop: Option<Arc<AtomicBool>>,
    /// Each training id's class (`id,class` lines), read when the configuration asks for
    /// batches of distinct classes; `None`: `DATA/metadata/train_classes.csv`.
    pub class_list: Option<PathBuf>,
}

/// Trains until the configured number of epochs, starting or resuming as `options.start`
/// says; what it did is in the run folder.
pub fn train(options: &TrainOptions, report: &dyn Report) -> Result<(), TrainError> {
    let devices: Vec<Device> = options.devices.iter().cloned().map(Device::autodiff).collect();
    let log = RunLog::in_run(&options.output);
    let _lock = claim_run_folder(options, report)?;
    let (mut trainer, progress) = match &options.start {
        Start::Resume { epochs } => {
            let latest = options.output.join(LATEST);
            let (mut trainer, progress) = load_on_devices(&latest, &devices)?;
            trainer.config.epochs = epochs.unwrap_or(trainer.config.epochs);
            log.truncate(trainer.step)?;
            report.line(&format!(
                "resuming {} at epoch {}, batch {} (step {})",
                latest.display(),
                progress.epoch,
                progress.batch,
                trainer.step
            ));
            (trainer, progress)
        }
        Start::Fresh { config, image_weights } => {
            let imagenet = image_weights.as_deref().map(read_torchvision_resnet18).transpose()?;
            if imagenet.is_none() {
                report.note(
                    "warning: no --image-weights: the image encoder starts from random weights, not ImageNet (the \
                     published recipe uses torchvision's resnet18 ImageNet weights)",
                );
            }
            let weights = initial_weights(&config.model_config(), imagenet.as_ref(), config.seed);
            let trainer = Trainer::on_devices(&weights, config.clone(), &devices)?;
            (trainer, Progress { epoch: 0, batch: 0, best: None })
        }
    };
    let config = trainer.config.clone();
    let config_json = serde_json::to_string_pretty(&config).expect("configurations serialise");
    write_atomic(&options.output.join(CONFIG), config_json.as_bytes())?;
    let ids = read_id_list(&options.train_list)?;
    let pairs = training_pairs(&options.data, &ids, &options.train_list)?;
    let align = config.model == Architecture::SslAlign;
    if align && options.supervised.is_some() {
        return Err(TrainError::Options(
            "--sup-list: the semi-supervised loss supervises SLAVC's and EZ-VSL's map heads; SSL-align has none".into(),
        ));
    }
    if !align && options.neighbours.is_some() {
        return Err(TrainError::Options("--neighbours: mined positives are SSL-align's (--model ssl-align)".into()));
    }
    let sup = supervised_boxes(options, &ids)?;
    if let Some(s) = &sup {
        report.line(&format!("semi-supervised: {} of the training ids have boxes that supervise their maps", s.len()));
    }
    let size = config.image_size;
    let frame_cache =
        options.frame_cache.as_deref().map(|dir| training_frame_cache(options, dir, &pairs, size, report));
    let (frame_cache, _cache_lock) = frame_cache.transpose()?.unzip();
    let classes = if config.distinct_class_batches {
        let path = options.class_list.clone().unwrap_or_else(|| options.data.join(avsl_data::synth::TRAIN_CLASSES));
        let classes = read_class_list(&path, &ids)?;
        let count = class_count(&classes);
        if count < config.batch_size {
            return Err(TrainError::Options(format!(
                "{}: {count} classes among the training ids, too few for batches of {} distinct classes",
                path.display(),
                config.batch_size
            )));
        }
        Some(Arc::new(classes))
    } else {
        if let Some(path) = &options.class_list {
            return Err(TrainError::Options(format!(
                "{}: a class list is only read with distinct_class_batches = true",
                path.display()
            )));
        }
        None
    };
    let given_neighbours = match &options.neighbours {
        Some(path) => Some(Arc::new(read_neighbours(path)?.for_list(&ids, path)?)),
        None => None,
    };
    let run = Run { options, report, log, pairs, ids, config };
    // Self-mining happens at the start of every mine_every-th epoch; a run resumed
    // anywhere else reads what the uninterrupted run mined last.
    let self_mines = align && given_neighbours.is_none();
    let mines_at = |epoch: u64, batch: u64| self_mines && epoch.is_multiple_of(run.config.mine_every) && batch == 0;
    let align_views = if !align {
        None
    } else {
        let neighbours = match &given_neighbours {
            Some(table) => Arc::clone(table),
            None if mines_at(progress.epoch, progress.batch) => run.self_mine(&trainer, progress.epoch)?,
            None => {
                let path = options.output.join(MINED);
                Arc::new(read_neighbours(&path)?.for_list(&run.ids, &path)?)
            }
        };
        Some(AlignViews { neighbours, audio_shift: run.config.audio_shift })
    };
    let mut loader = Loader::new(
        run.pairs.clone(),
        LoaderConfig {
            batch_size: run.config.batch_size,
            threads: options.threads,
            prefetch: 2,
            seed: run.config.seed,
            shuffle: true,
            augment: true,
            drop_last: true,
            skip_bad: options.skip_bad,
            frame_cache,
            align_views,
            input: run.config.input(),
            classes,
        },
    )?;
    let per_epoch = loader.batches_per_epoch();
    if per_epoch == 0 {
        return Err(TrainError::Options(format!(
            "{} training pairs: fewer than one batch of {}",
            loader.len(),
            run.config.batch_size
        )));
    }
    report.line(&format!(
        "training {} (d = {}) on {} pairs: {} epochs of {per_epoch} steps, batch {}{}, lr {}{}",
        run.config.model.name(),
        run.config.dim,
        loader.len(),
        run.config.epochs,
        run.config.batch_size,
        if run.config.distinct_class_batches { " of distinct classes" } else { "" },
        run.config.lr,
        schedule_note(&run.config)
    ));
    for device in options.devices.iter().filter(|d| Kernels::for_device(d) == Kernels::Device) {
        report.line(&format!("device: {}", avsl_model::device::describe(device)));
    }
    // The image features' grid, which the supervised maps are averaged onto.
    let side = run.config.image_size;
    let grid = run.config.model_config().trunk("imgnet.", 3).feature_grid(side, side);
    let mut best = progress.best;
    let mut skipped = SkippedSamples::load(&options.output)?;
    let total_steps = run.config.epochs * per_epoch as u64;
    for epoch in progress.epoch..run.config.epochs {
        let skip = if epoch == progress.epoch { progress.batch as usize } else { 0 };
        if epoch != progress.epoch && mines_at(epoch, 0) {
            loader.set_neighbours(run.self_mine(&trainer, epoch)?)?;
        }
        report.phase(&format!("epoch {}", epoch + 1), per_epoch, skip);
        let mut left_out = 0;
        for (k, batch) in loader.epoch(epoch).enumerate().skip(skip) {
            let batch = batch?;
            for (i, bad) in &batch.skipped {
                skipped.add(&bad.path, &bad.problem, &run.ids[*i]);
            }
            left_out += batch.skipped.len();
            let (epoch_1, batch_1) = (epoch + 1, k as u64 + 1);
            if batch.is_empty() {
                let no_step = "every sample unreadable".to_string();
                let line = NoStepLine {
                    step: trainer.step,
                    epoch: epoch_1,
                    batch: batch_1,
                    skipped: batch.skipped.len(),
                    no_step,
                };
                run.log.append(&LogLine::NoStep(line))?;
                report.advance(1, None);
                continue;
            }
            let start = Instant::now();
            let skipped_here = batch.skipped.len();
            let batch_ids: Vec<&str> = batch.indices.iter().map(|&i| run.ids[i].as_str()).collect();
            let supervision = sup.as_ref().and_then(|s| s.supervision(&batch_ids, &batch.crops, grid));
            trainer.set_learning_rate(run.config.lr_at(trainer.step, total_steps));
            let step_loss = trainer.train_step(Batch::from_loader(batch, run.config.image_size)?, supervision.as_ref());
            let loss = step_loss.total;
            if !loss.is_finite() {
                return Err(TrainError::NonFiniteLoss { loss, step: trainer.step });
            }
            run.log.append(&LogLine::Step(StepLine {
                step: trainer.step,
                epoch: epoch_1,
                batch: batch_1,
                loss,
                seconds: start.elapsed().as_secs_f64(),
                semi_loss: step_loss.semi,
                skipped: (skipped_here > 0).then_some(skipped_here),
            }))?;
            if options.stop.as_ref().is_some_and(|stop| stop.load(Ordering::SeqCst)) {
                report.phase_end();
                let latest = options.output.join(LATEST);
                save(&latest, &trainer, Progress { epoch, batch: batch_1, best }, None)?;
                return Err(TrainError::Interrupted { step: trainer.step, checkpoint: latest });
            }
            if options.checkpoint_every > 0 && trainer.step % options.checkpoint_every == 0 && k + 1 < per_epoch {
                save(&options.output.join(LATEST), &trainer, Progress { epoch, batch: batch_1, best }, None)?;
            }
            report.advance(1, Some(&format!("loss {loss:.4}")));
        }
        report.phase_end();
        let mean_loss = run.log.epoch_mean_loss(epoch + 1)?;
        let mut line = EpochLine {
            step: trainer.step,
            epoch_end: epoch + 1,
            mean_loss,
            rss_mb: crate::memory::rss_mb().map(f64::round),
            peak_rss_mb: crate::memory::peak_rss_mb().map(f64::round),
            skipped_samples: None,
            validation: None,
        };
        let mut message = format!("epoch {}: mean loss {mean_loss:.4} ({per_epoch} steps)", epoch + 1);
        if options.skip_bad {
            skipped.write(&options.output)?;
            line.skipped_samples = Some(left_out);
            if left_out > 0 {
                message.push_str(&format!(", {left_out} samples left out (unreadable files: {SKIPPED})"));
            }
        }
        let mut improved = false;
        let mut calibration = None;
        if let Some(v) = &options.validation {
            let on_bad = if options.skip_bad { OnBadFile::Skip } else { OnBadFile::Stop };
            let validated = validate(&trainer, v, 16, options.threads, on_bad)?;
            for b in &validated.bad {
                report.line(&format!("validation skipped {}: {}", b.path.display(), b.problem));
            }
            calibration = validated.calibration.map(|mut c| {
                c.source = format!("validation after epoch {}", epoch + 1);
                c
            });
            let criterion = v.criterion();
            let value = criterion_value(&validated.metrics, criterion);
            improved = best.is_none_or(|b| value > b);
            if improved {
                best = Some(value);
            }
            line.validation = Some(ValidationLine {
                testset: v.name.clone(),
                criterion: criterion.to_string(),
                metrics: variant_json(&validated.metrics),
                pairs_left_out: options.skip_bad.then_some(validated.pairs_left_out),
            });
            message.push_str(&format!(", {} {criterion} {value:.4}{}", v.name, if improved { " (best)" } else { "" }));
        }
        // The log line first: a run killed before the checkpoint below resumes from an
        // earlier one, and the resume drops log lines after that checkpoint's step.
        run.log.append(&LogLine::Epoch(line))?;
        let progress = Progress { epoch: epoch + 1, batch: 0, best };
        save(&options.output.join(LATEST), &trainer, progress, calibration.as_ref())?;
        if improved {
            save(&options.output.join(BEST), &trainer, progress, calibration.as_ref())?;
        }
        report.epoch_written(&options.output);
        report.line(&message);
    }
    if options.skip_bad {
        report.line(&format!(
            "--skip-bad: {} distinct training samples left out over the run ({} unreadable files; {})",
            skipped.samples(),
            skipped.files(),
            options.output.join(SKIPPED).display()
        ));
    }
    Ok(())
}

/// What the steps of a run share.
struct Run<'a> {
    options: &'a TrainOptions,
    report: &'a dyn Report,
    log: RunLog,
    pairs: Vec<PairFiles>,
    ids: Vec<String>,
    config: TrainConfig,
}

impl Run<'_> {
    /// SSL-align's neighbours mined with the trunks being trained (inference mode,
    /// test-time inputs), saved in the run folder and logged.
    fn self_mine(&self, trainer: &Trainer, epoch: u64) -> Result<Arc<NeighbourTable>, TrainError> {
        let start = Instant::now();
        let device = trainer.inference_device();
        let source = FeatureSource::of_weights(trainer.weights(), trainer.config.model_config(), &device);
        let k = trainer.config.neighbours_k;
        let table = mine(&self.pairs, &source, &source, k, self.options.threads, &device, self.report)?;
        let file = NeighbourFile {
            ids: self.ids.clone(),
            table,
            source: format!("the model being trained, before epoch {}", epoch + 1),
        };
        write_neighbours(&self.options.output.join(MINED), &file)?;
        let seconds = start.elapsed().as_secs_f64();
        self.log.append(&LogLine::Mined(MinedLine {
            step: trainer.step,
            mined_neighbours_before_epoch: epoch + 1,
            seconds,
        }))?;
        self.report.line(&format!(
            "mined {} neighbours per sample with the model being trained ({seconds:.1} s)",
            file.table.k
        ));
        Ok(Arc::new(file.table))
    }
}

/// How the learning rate moves, for the run's first line ("" when constant).
fn schedule_note(config: &TrainConfig) -> String {
    let warmup =
        if config.warmup_steps > 0 { format!(", {} warm-up steps", config.warmup_steps) } else { String::new() };
    match config.lr_schedule {
        LrSchedule::Constant => warmup,
        LrSchedule::Cosine => format!(" with cosine decay{warmup}"),
    }
}

/// The boxes of the supervised ids, which must all be training ids.
fn supervised_boxes(options: &TrainOptions, train_ids: &[String]) -> Result<Option<SupervisedBoxes>, TrainError> {
    let Some(supervised) = &options.supervised else { return Ok(None) };
    let ids = read_id_list(&supervised.list)?;
    let training: HashSet<&str> = train_ids.iter().map(String::as_str).collect();
    if let Some(stray) = ids.iter().find(|id| !training.contains(id.as_str())) {
        return Err(TrainError::invalid(
            &supervised.list,
            format!("{stray} is not in the training list (supervised ids must be training ids)"),
        ));
    }
    let json = options.data.join("metadata").join("vggss.json");
    let source = supervised
        .annotations
        .clone()
        .unwrap_or_else(|| if json.is_file() { json } else { options.data.join("Annotations") });
    let (table, format) = if source.is_dir() {
        (read_flickr_folder(&source)?, BoxFormat::Flickr)
    } else {
        (read_vggss_json(&source)?, BoxFormat::Vggss)
    };
    Ok(Some(SupervisedBoxes::new(&ids, &table, format, &supervised.list)?))
}

/// Every file of a run (what `--force` moves aside).
const RUN_FILES: [&str; 8] = [crate::run_log::LOG, LATEST, BEST, MINED, CONFIG, SKIPPED, "loss.png", "validation.png"];

/// The run folder, locked for this process. A resumed run needs a checkpoint there; a
/// fresh one needs the folder free of an earlier run with checkpoints: refused, naming
/// what is there, or (`force`) started over after moving the earlier run aside, never
/// deleting it. An earlier run that saved no checkpoint is moved aside unasked.
fn claim_run_folder(options: &TrainOptions, report: &dyn Report) -> Result<Lock, TrainError> {
    let run = &options.output;
    let lock = match options.start {
        Start::Resume { .. } => {
            if !run.join(LATEST).is_file() {
                return Err(TrainError::invalid(run, format!("nothing to resume (no {LATEST})")));
            }
            Lock::folder(run, report)?
        }
        Start::Fresh { .. } => prepare_output_dir(run, CONFIG, options.force, report)?,
    };
    remove_stale_temporaries(run)?;
    if let Start::Resume { .. } = options.start {
        return Ok(lock);
    }
    let Some(earlier) = earlier_run(run) else {
        // What a run that never took a step leaves holds nothing to keep, and its log and
        // skipped samples would be read as this run's.
        for name in [crate::run_log::LOG, SKIPPED] {
            let path = run.join(name);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
            }
        }
        return Ok(lock);
    };
    // Without a checkpoint there is nothing to resume: the log is kept aside unasked.
    if !options.force && earlier.checkpoints {
        return Err(TrainError::invalid(
            run,
            format!(
                "holds a run ({}). --resume continues it; --force starts a new one after moving this one to \
                 {}/previous-<UTC time>/",
                earlier.what,
                run.display()
            ),
        ));
    }
    let aside = move_aside(run, &RUN_FILES)?.expect("an earlier run has files");
    report.note(&format!("note: moved the earlier run ({}) to {}; starting over", earlier.what, aside.display()));
    Ok(lock)
}

/// An earlier run found in a run folder.
struct EarlierRun {
    /// Steps logged, checkpoints and when they were saved.
    what: String,
    /// Whether it saved anything to resume from or use.
    checkpoints: bool,
}

/// What of an earlier run the folder holds; `None` when it holds no step and no
/// checkpoint.
fn earlier_run(run: &Path) -> Option<EarlierRun> {
    let log = RunLog::in_run(run);
    // An unreadable log still counts: what it held is not known to be nothing.
    let steps = log.read().ok().map(|lines| lines.iter().filter(|l| matches!(l, LogLine::Step(_))).count());
    let mut parts = Vec::new();
    for name in [LATEST, BEST, MINED] {
        if let Ok(meta) = std::fs::metadata(run.join(name)) {
            let when = meta.modified().map_or_else(|_| "at an unknown time".to_string(), utc);
            parts.push(format!("{name} saved {when}"));
        }
    }
    let checkpoints = !parts.is_empty();
    match steps {
        Some(0) if !checkpoints => return None,
        Some(n) => parts.insert(0, format!("{n} steps logged")),
        None => parts.insert(0, format!("{} unreadable", log.path().display())),
    }
    if !checkpoints {
        parts.push("no checkpoint".into());
    }
    Some(EarlierRun { what: parts.join(", "), checkpoints })
}

/// Removes the temporary files of atomic writes that a killed run left in its folder
/// (`.<name>.tmp-<pid>`; a finished write renames its file, so these are never complete).
fn remove_stale_temporaries(run: &Path) -> Result<(), TrainError> {
    for entry in std::fs::read_dir(run).map_err(|e| TrainError::io(run, e))? {
        let path = entry.map_err(|e| TrainError::io(run, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') && name.contains(".tmp-") {
            std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
    }
    Ok(())
}

/// The cache of the frame-cache folder for this training list, and the shared lock that
/// keeps it as it is while the run reads it: opened when it holds every frame for the
/// training pipeline, built when the folder holds no cache, refused when it holds another
/// one (or rebuilt after moving that aside, with `force`).
fn training_frame_cache(
    options: &TrainOptions,
    dir: &Path,
    pairs: &[PairFiles],
    size: usize,
    report: &dyn Report,
) -> Result<(Arc<FrameCache>, Lock), TrainError> {
    let frames: Vec<PathBuf> = pairs.iter().map(|p| p.frame.clone()).collect();
    avsl_data::fsutil::create_dir_all(dir)?;
    let opened = |cache: FrameCache| {
        report.line(&format!("frame cache {}: {} frames", dir.display(), cache.len()));
        Arc::new(cache)
    };
    let lock = Lock::folder_shared(dir, report)?;
    if let Ok(cache) = usable_cache(dir, &frames, size) {
        return Ok((opened(cache), lock));
    }
    let lock = lock.upgrade(report)?;
    // Another process may have built it between the two locks.
    let reason = match usable_cache(dir, &frames, size) {
        Ok(cache) => return Ok((opened(cache), lock.downgrade()?)),
        Err(reason) => reason,
    };
    if dir.join(CACHE_FILES[0]).exists() {
        if !options.force {
            return Err(TrainError::invalid(
                dir,
                format!(
                    "holds a frame cache that cannot serve this run ({reason}); choose another --frame-cache, or \
                     --force rebuilds it after moving this one to {}/previous-<UTC time>/",
                    dir.display()
                ),
            ));
        }
        let aside = move_aside(dir, &CACHE_FILES)?.expect("a cache has files");
        report.note(&format!("note: moved the frame cache ({reason}) to {}; rebuilding it", aside.display()));
    }
    report.line(&format!("building the frame cache {} ({reason})", dir.display()));
    report.phase("caching", frames.len(), 0);
    let threads = options.threads;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| TrainError::Options(format!("{threads} threads: {e}")))?;
    let on_frame = || report.advance(1, None);
    let cache = pool.install(|| FrameCache::build(dir, &frames, CachedResize::Train, size, &on_frame))?;
    report.phase_end();
    Ok((Arc::new(cache), lock.downgrade()?))
}

/// The cache in `dir` when it holds every one of `frames` for the training pipeline;
/// otherwise why not.
fn usable_cache(dir: &Path, frames: &[PathBuf], size: usize) -> Result<FrameCache, String> {
    match FrameCache::open(dir) {
        Ok(cache) if cache.resize() != CachedResize::Train => Err(format!("it holds {} frames", cache.resize().name())),
        Ok(cache) if cache.size() != size => {
            Err(format!("it holds frames for {0}×{0} inputs, this run's are {size}×{size}", cache.size()))
        }
        Ok(cache) => {
            let (missing, changed) = (cache.missing(frames).len(), cache.changed(frames));
            match changed.first() {
                _ if missing > 0 => Err(format!("{missing} of the {} training frames are not in it", frames.len())),
                Some(first) => Err(format!(
                    "{} of its frames changed since the frame cache was built, {} the first",
                    changed.len(),
                    first.display()
                )),
                None => Ok(cache),
            }
        }
        Err(_) if !dir.join(CACHE_FILES[0]).exists() => Err("new".to_string()),
        Err(e) => Err(format!("{e}")),
    }
}

/// Every sample left out by `skip_bad` in a run folder: (file, problem) → sample ids.
#[derive(Default)]
struct SkippedSamples {
    rows: BTreeMap<(PathBuf, String), BTreeSet<String>>,
}

impl SkippedSamples {
    /// What an earlier part of the run (before a resume) recorded.
    fn load(run: &Path) -> Result<SkippedSamples, TrainError> {
        let mut out = SkippedSamples::default();
        let path = run.join(SKIPPED);
        if !path.is_file() {
            return Ok(out);
        }
        let mut reader = csv::Reader::from_path(&path).map_err(|e| TrainError::invalid(&path, e.to_string()))?;
        for row in reader.records() {
            let row = row.map_err(|e| TrainError::invalid(&path, format!("not a skipped-samples list: {e}")))?;
            let field = |k: usize| row.get(k).unwrap_or("").to_string();
            out.rows.entry((PathBuf::from(field(0)), field(1))).or_default().insert(field(2));
        }
        Ok(out)
    }

    fn add(&mut self, file: &Path, problem: &str, id: &str) {
        self.rows.entry((file.to_path_buf(), problem.to_string())).or_default().insert(id.to_string());
    }

    fn write(&self, run: &Path) -> Result<(), TrainError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let path = run.join(SKIPPED);
        let record = |w: &mut csv::Writer<Vec<u8>>, fields: [&str; 3]| {
            w.write_record(fields).map_err(|e| TrainError::invalid(&path, e.to_string()))
        };
        record(&mut w, ["file", "problem", "sample"])?;
        for ((file, problem), ids) in &self.rows {
            for id in ids {
                record(&mut w, [file.display().to_string().as_str(), problem, id])?;
            }
        }
        let bytes = w.into_inner().map_err(|e| TrainError::invalid(&path, e.to_string()))?;
        write_atomic(&path, &bytes)?;
        Ok(())
    }

    fn samples(&self) -> usize {
        self.rows.values().flatten().collect::<BTreeSet<_>>().len()
    }

    fn files(&self) -> usize {
        self.rows.keys().map(|(f, _)| f).collect::<BTreeSet<_>>().len()
    }
}
