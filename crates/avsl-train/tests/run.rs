//! The epoch loop as a library (`avsl_train::run::train`), on a generated dataset: a run
//! stopped after one epoch and resumed writes the same log and the same checkpoint as an
//! uninterrupted one; an unreadable frame stops a run naming the file, or, with
//! `skip_bad`, is left out, listed and counted.

use std::path::{Path, PathBuf};

use avsl_data::report::Quiet;
use avsl_data::synth::{SynthConfig, generate};
use avsl_model::Architecture;
use avsl_model::checkpoint::read_checkpoint;
use avsl_train::config::TrainConfig;
use avsl_train::run::{LATEST, SKIPPED, Start, TrainOptions, train};
use avsl_train::run_log::{LogLine, RunLog};
use burn::tensor::Device;

fn dataset(dir: &Path, seed: u64) -> PathBuf {
    let data = dir.join("data");
    let config = SynthConfig { seed, train: 8, test: 0, negatives: 0, ..SynthConfig::default() };
    generate(&data, &config, &|| {}).unwrap();
    data
}

fn config(epochs: u64) -> TrainConfig {
    TrainConfig { epochs, batch_size: 4, dim: 16, width: 8, seed: 3, ..TrainConfig::published(Architecture::Slavc) }
}

fn options(data: &Path, output: PathBuf, start: Start) -> TrainOptions {
    TrainOptions {
        data: data.to_path_buf(),
        train_list: data.join("metadata").join("train.txt"),
        start,
        devices: vec![Device::flex()],
        threads: 2,
        output,
        checkpoint_every: 0,
        validation: None,
        skip_bad: false,
        frame_cache: None,
        neighbours: None,
        supervised: None,
        force: false,
        stop: None,
        class_list: None,
    }
}

/// Every line but the timings (seconds differ between runs).
fn untimed(run: &Path) -> Vec<LogLine> {
    RunLog::in_run(run)
        .read()
        .unwrap()
        .into_iter()
        .map(|line| match line {
            LogLine::Step(s) => LogLine::Step(avsl_train::run_log::StepLine { seconds: 0.0, ..s }),
            LogLine::Epoch(e) => {
                LogLine::Epoch(avsl_train::run_log::EpochLine { rss_mb: None, peak_rss_mb: None, ..e })
            }
            other => other,
        })
        .collect()
}

#[test]
fn a_resumed_run_repeats_the_uninterrupted_one_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 9);
    let (straight, split) = (dir.path().join("straight"), dir.path().join("split"));
    let fresh = |epochs| Start::Fresh { config: config(epochs), image_weights: None };
    train(&options(&data, straight.clone(), fresh(2)), &Quiet).unwrap();
    train(&options(&data, split.clone(), fresh(1)), &Quiet).unwrap();
    train(&options(&data, split.clone(), Start::Resume { epochs: Some(2) }), &Quiet).unwrap();

    let lines = untimed(&straight);
    assert_eq!(lines.iter().filter(|l| matches!(l, LogLine::Step(_))).count(), 4, "2 epochs of 2 steps");
    assert_eq!(lines, untimed(&split));
    let (x, y) = (read_checkpoint(&straight.join(LATEST)).unwrap(), read_checkpoint(&split.join(LATEST)).unwrap());
    assert_eq!(x.metadata, y.metadata);
    assert_eq!(x.weights.len(), y.weights.len());
    for (name, t) in x.weights.iter().chain(x.training.iter()) {
        assert_eq!(y.weights.get(name).or_else(|| y.training.get(name)), Some(t), "{name}");
    }
}

#[test]
fn an_unreadable_frame_stops_the_run_or_is_left_out_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 5);
    let ids = std::fs::read_to_string(data.join("metadata").join("train.txt")).unwrap();
    let bad_id = ids.lines().next().unwrap().to_string();
    let bad = data.join("frames").join(format!("{bad_id}.jpg"));
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let fresh = || Start::Fresh { config: config(1), image_weights: None };

    let error = train(&options(&data, dir.path().join("stopped"), fresh()), &Quiet).unwrap_err().to_string();
    assert!(error.contains(&format!("{bad_id}.jpg")), "{error}");

    let run = dir.path().join("skipped");
    train(&TrainOptions { skip_bad: true, ..options(&data, run.clone(), fresh()) }, &Quiet).unwrap();
    let lines = RunLog::in_run(&run).read().unwrap();
    let left_out: usize = lines.iter().filter_map(|l| if let LogLine::Step(s) = l { s.skipped } else { None }).sum();
    assert_eq!(left_out, 1, "the sample of the bad frame, in the step that drew it");
    let epoch = lines.iter().find_map(|l| if let LogLine::Epoch(e) = l { Some(e.clone()) } else { None }).unwrap();
    assert_eq!(epoch.skipped_samples, Some(1));
    let skipped = std::fs::read_to_string(run.join(SKIPPED)).unwrap();
    let rows: Vec<&str> = skipped.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{skipped}");
    assert!(rows[0].contains(&format!("{bad_id}.jpg")) && rows[0].ends_with(&bad_id), "{skipped}");
}

#[test]
fn a_fresh_run_refuses_a_folder_holding_a_run_and_force_moves_that_run_aside() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 7);
    let run = dir.path().join("run");
    let fresh = || Start::Fresh { config: config(1), image_weights: None };
    train(&options(&data, run.clone(), fresh()), &Quiet).unwrap();
    let first = std::fs::read(run.join(LATEST)).unwrap();

    let error = train(&options(&data, run.clone(), fresh()), &Quiet).unwrap_err().to_string();
    let expected = format!("{}: holds a run (2 steps logged, latest.safetensors saved 20", run.display());
    assert!(error.starts_with(&expected), "{error}");
    assert!(error.contains("--resume continues it; --force starts a new one after moving this one to"), "{error}");
    assert_eq!(std::fs::read(run.join(LATEST)).unwrap(), first, "a refused run leaves the folder as it was");

    train(&TrainOptions { force: true, ..options(&data, run.clone(), fresh()) }, &Quiet).unwrap();
    let aside: Vec<PathBuf> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("previous-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(aside[0].join(LATEST)).unwrap(), first, "the earlier checkpoint, moved whole");
    let steps =
        |run: &Path| RunLog::in_run(run).read().unwrap().iter().filter(|l| matches!(l, LogLine::Step(_))).count();
    assert_eq!((steps(&run), steps(&aside[0])), (2, 2), "each run keeps its own log");

    // A run that saved no checkpoint (a first save that failed) has nothing to resume: its
    // log is moved aside without --force.
    std::fs::remove_file(run.join(LATEST)).unwrap();
    train(&options(&data, run.clone(), fresh()), &Quiet).unwrap();
    let aside = std::fs::read_dir(&run)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("previous-"));
    assert_eq!(aside.count(), 2);
}

/// Says nothing, and at the first phase (the first epoch, after the run folder's
/// temporary files of killed runs are cleared) makes this process's next
/// `latest.safetensors` write go to a full disk.
struct FullDiskAtFirstEpoch {
    run: PathBuf,
    done: std::sync::atomic::AtomicBool,
}

impl avsl_data::report::Report for FullDiskAtFirstEpoch {
    fn line(&self, _: &str) {}
    fn note(&self, _: &str) {}
    fn phase(&self, _: &str, _: usize, _: usize) {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let tmp = self.run.join(format!(".{LATEST}.tmp-{}", std::process::id()));
            std::os::unix::fs::symlink("/dev/full", tmp).unwrap();
        }
    }
    fn advance(&self, _: usize, _: Option<&str>) {}
    fn phase_end(&self) {}
}

#[test]
fn a_save_that_fails_names_the_file_once_and_leaves_the_previous_checkpoint_whole() {
    assert!(Path::new("/dev/full").exists(), "the test writes to /dev/full (Linux)");
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 11);
    let run = dir.path().join("run");
    train(&options(&data, run.clone(), Start::Fresh { config: config(1), image_weights: None }), &Quiet).unwrap();
    let before = std::fs::read(run.join(LATEST)).unwrap();

    let full = FullDiskAtFirstEpoch { run: run.clone(), done: Default::default() };
    let resume = || options(&data, run.clone(), Start::Resume { epochs: Some(2) });
    let error = train(&resume(), &full).unwrap_err();
    assert!(matches!(error, avsl_train::TrainError::NotSaved { .. }), "{error}");
    let message = error.to_string();
    let latest = run.join(LATEST).display().to_string();
    assert_eq!(message.matches(&latest).count(), 1, "{message}");
    assert!(message.starts_with(&format!("{latest}: No space left on device")), "{message}");
    assert!(message.contains(&format!("free space on the disk that holds {}", run.display())), "{message}");
    assert!(
        message
            .ends_with("the previous latest.safetensors is whole, and --resume continues from it once this is fixed")
    );
    assert_eq!(std::fs::read(run.join(LATEST)).unwrap(), before);
    read_checkpoint(&run.join(LATEST)).unwrap();
    let left: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Once there is room again, the run resumes to the end.
    train(&resume(), &Quiet).unwrap();
    assert_eq!(read_checkpoint(&run.join(LATEST)).unwrap().metadata["step"], "4");
}

#[test]
fn a_model_trained_on_small_inputs_is_validated_and_cached_at_its_size() {
    use avsl_data::testset::{TestSet, TestSetPaths, build_test_list};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let synth = SynthConfig { seed: 4, train: 8, test: 4, negatives: 2, ..SynthConfig::default() };
    generate(&data, &synth, &|| {}).unwrap();
    let samples = build_test_list(&TestSetPaths::new(&data), TestSet::VggssPlusSilent).unwrap();
    let validation = avsl_train::validate::Validation {
        name: "vggss_plus_silent".into(),
        samples,
        format: avsl_metrics::BoxFormat::Vggss,
    };
    // The demo's input: 112×112 frames through an image trunk without its stem max-pool.
    let small = TrainConfig { image_size: 112, audio_seconds: 1.0, image_stem_pool: false, ..config(1) };
    let (run, cache) = (dir.path().join("run"), dir.path().join("cache"));
    let opts = |start, output| TrainOptions {
        validation: Some(clone_validation(&validation)),
        frame_cache: Some(cache.clone()),
        ..options(&data, output, start)
    };
    train(&opts(Start::Fresh { config: small, image_weights: None }, run.clone()), &Quiet).unwrap();
    // The checkpoint says what it was fed, so evaluation and the localiser feed it the same.
    let checkpoint = read_checkpoint(&run.join(LATEST)).unwrap();
    let model = checkpoint.config.expect("our checkpoints carry their configuration");
    assert_eq!((model.image_size, model.audio_seconds, model.image_stem_pool), (112, 1.0, false));
    let epoch = RunLog::in_run(&run)
        .read()
        .unwrap()
        .into_iter()
        .find_map(|l| if let LogLine::Epoch(e) = l { e.validation } else { None })
        .expect("validated");
    assert_eq!(epoch.metrics["all"]["n"], 6, "scored on 224×224 maps like any model");
    // A frame cache made for 112×112 inputs cannot feed a 224×224 run.
    let error = train(&opts(Start::Fresh { config: config(1), image_weights: None }, dir.path().join("big")), &Quiet)
        .unwrap_err()
        .to_string();
    assert!(error.contains("it holds frames for 112×112 inputs, this run's are 224×224"), "{error}");
}

fn clone_validation(v: &avsl_train::validate::Validation) -> avsl_train::validate::Validation {
    avsl_train::validate::Validation { name: v.name.clone(), samples: v.samples.clone(), format: v.format }
}

#[test]
fn distinct_class_batches_read_the_class_list_that_synth_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 11);
    let classes = std::fs::read_to_string(data.join(avsl_data::synth::TRAIN_CLASSES)).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for line in classes.lines().skip(1) {
        *counts.entry(line.split_once(',').unwrap().1.to_string()).or_insert(0) += 1;
    }
    assert_eq!(counts.values().sum::<usize>(), 8, "{classes}");
    // Batches of four take one sample from each of the four fullest classes at a time, so
    // the run has as many steps as that draws, not 8 / 4.
    let expected = avsl_data::class_batches::distinct_class_batches(
        &(0..8).collect::<Vec<_>>(),
        &{
            let ids: Vec<String> =
                std::fs::read_to_string(data.join("metadata/train.txt")).unwrap().lines().map(str::to_string).collect();
            avsl_data::class_batches::read_class_list(&data.join(avsl_data::synth::TRAIN_CLASSES), &ids).unwrap()
        },
        4,
    )
    .len();
    let balanced = TrainConfig { distinct_class_batches: true, ..config(1) };
    let run = dir.path().join("balanced");
    train(&options(&data, run.clone(), Start::Fresh { config: balanced.clone(), image_weights: None }), &Quiet)
        .unwrap();
    let steps = RunLog::in_run(&run).read().unwrap().iter().filter(|l| matches!(l, LogLine::Step(_))).count();
    assert_eq!(steps, expected);
    assert_ne!(expected, 8 / 4, "this dataset must tell the two batchings apart: {counts:?}");

    // A class list for a run that does not balance its batches is a mistake, said so.
    let list = data.join(avsl_data::synth::TRAIN_CLASSES);
    let plain = TrainOptions {
        class_list: Some(list.clone()),
        ..options(&data, dir.path().join("plain"), Start::Fresh { config: config(1), image_weights: None })
    };
    let error = train(&plain, &Quiet).unwrap_err().to_string();
    assert!(error.contains("only read with distinct_class_batches = true"), "{error}");
    // Batches larger than the number of classes cannot all be distinct: said, naming the list.
    let wide = TrainConfig { batch_size: 8, distinct_class_batches: true, ..config(1) };
    let too_wide = options(&data, dir.path().join("wide"), Start::Fresh { config: wide, image_weights: None });
    let error = train(&too_wide, &Quiet).unwrap_err().to_string();
    let expected =
        format!("{}: {} classes among the training ids, too few for batches of 8", list.display(), counts.len());
    assert!(error.contains(&expected), "{error}");
    // A list that lacks a training id names the file and the id.
    std::fs::write(&list, "id,class\nsomeone_else,red box\n").unwrap();
    let broken = options(&data, dir.path().join("broken"), Start::Fresh { config: balanced, image_weights: None });
    let error = train(&broken, &Quiet).unwrap_err().to_string();
    assert!(
        error.contains("train_classes.csv") && error.contains("no class for training id synth_train_000000"),
        "{error}"
    );
}
