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
        stop: None,
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
