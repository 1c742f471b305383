//! `train_log.jsonl`, the run's log: one JSON object per line, of four kinds — a step, a
//! batch with no step (every sample unreadable), the end of an epoch, and SSL-align's
//! self-mining. This module is its one writer and its one reader.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TrainError;

pub const LOG: &str = "train_log.jsonl";

/// One optimisation step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepLine {
    pub step: u64,
    /// 1-based.
    pub epoch: u64,
    /// 1-based, within the epoch.
    pub batch: u64,
    pub loss: f64,
    pub seconds: f64,
    /// The semi-supervised term, included in `loss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semi_loss: Option<f64>,
    /// Samples of this batch left out by `skip_bad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<usize>,
}

/// A batch whose every sample was unreadable: no step was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoStepLine {
    pub step: u64,
    pub epoch: u64,
    pub batch: u64,
    pub skipped: usize,
    pub no_step: String,
}

/// The end of an epoch, with its validation when the run validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochLine {
    pub step: u64,
    /// 1-based.
    pub epoch_end: u64,
    pub mean_loss: f64,
    /// Resident memory now and at its peak (MiB), so a reader can see it stays flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_mb: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mb: Option<f64>,
    /// Samples left out by `skip_bad` this epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_samples: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationLine>,
}

/// A validation after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationLine {
    pub testset: String,
    /// The metric that picks the best epoch.
    pub criterion: String,
    /// `metrics.json`'s object of one variant: subset → metric → value.
    pub metrics: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs_left_out: Option<usize>,
}

/// SSL-align's neighbours mined with the model being trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinedLine {
    pub step: u64,
    pub mined_neighbours_before_epoch: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogLine {
    Step(StepLine),
    NoStep(NoStepLine),
    Epoch(EpochLine),
    Mined(MinedLine),
}

impl LogLine {
    /// The optimiser steps taken when the line was written.
    pub fn step(&self) -> u64 {
        match self {
            LogLine::Step(l) => l.step,
            LogLine::NoStep(l) => l.step,
            LogLine::Epoch(l) => l.step,
            LogLine::Mined(l) => l.step,
        }
    }
}

/// A run folder's log.
pub struct RunLog {
    path: PathBuf,
}

impl RunLog {
    pub fn in_run(run: &Path) -> RunLog {
        RunLog { path: run.join(LOG) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, line: &LogLine) -> Result<(), TrainError> {
        let text = serde_json::to_string(line).expect("log lines serialise");
        let io = |e| TrainError::io(&self.path, e);
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        writeln!(f, "{text}").map_err(io)
    }

    /// Every line; none when the run has no log yet.
    pub fn read(&self) -> Result<Vec<LogLine>, TrainError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TrainError::io(&self.path, e)),
        };
        text.lines()
            .enumerate()
            .map(|(k, line)| {
                serde_json::from_str(line).map_err(|e| {
                    TrainError::invalid(&self.path, format!("line {}: not a log line of avsl train: {e}", k + 1))
                })
            })
            .collect()
    }

    /// Keeps the lines of steps up to `step` (a resumed run repeats the ones after its
    /// checkpoint).
    pub fn truncate(&self, step: u64) -> Result<(), TrainError> {
        let kept: String = self
            .read()?
            .iter()
            .filter(|line| line.step() <= step)
            .map(|line| format!("{}\n", serde_json::to_string(line).expect("log lines serialise")))
            .collect();
        avsl_data::fsutil::write_atomic(&self.path, kept.as_bytes())?;
        Ok(())
    }

    /// The mean loss of an epoch's steps (1-based; a resumed epoch's steps are partly in an
    /// earlier process).
    pub fn epoch_mean_loss(&self, epoch: u64) -> Result<f64, TrainError> {
        let losses: Vec<f64> = self
            .read()?
            .into_iter()
            .filter_map(|line| match line {
                LogLine::Step(s) if s.epoch == epoch => Some(s.loss),
                _ => None,
            })
            .collect();
        Ok(losses.iter().sum::<f64>() / losses.len() as f64)
    }
}

/// What the log says: every step's loss, every epoch's mean and validation.
#[derive(Debug, Default)]
pub struct Curves {
    /// (step, loss)
    pub losses: Vec<(u64, f64)>,
    /// (step, mean loss) at each epoch's end.
    pub epoch_means: Vec<(u64, f64)>,
    /// (epoch, validation) of each validated epoch.
    pub validations: Vec<(u64, ValidationLine)>,
}

impl Curves {
    pub fn of(lines: &[LogLine]) -> Curves {
        let mut curves = Curves::default();
        for line in lines {
            match line {
                LogLine::Step(s) => curves.losses.push((s.step, s.loss)),
                LogLine::Epoch(e) => {
                    curves.epoch_means.push((e.step, e.mean_loss));
                    if let Some(v) = &e.validation {
                        curves.validations.push((e.epoch_end, v.clone()));
                    }
                }
                LogLine::NoStep(_) | LogLine::Mined(_) => {}
            }
        }
        curves
    }

    /// One metric of the `all` subset per validated epoch.
    pub fn validation_metric(&self, key: &str) -> Vec<(u64, f64)> {
        self.validations.iter().filter_map(|(epoch, v)| Some((*epoch, v.metrics["all"][key].as_f64()?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_line_reads_back_as_itself() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::in_run(dir.path());
        let lines = vec![
            LogLine::Mined(MinedLine { step: 0, mined_neighbours_before_epoch: 1, seconds: 1.5 }),
            LogLine::Step(StepLine {
                step: 1,
                epoch: 1,
                batch: 1,
                loss: 2.5,
                seconds: 0.25,
                semi_loss: Some(0.5),
                skipped: None,
            }),
            LogLine::NoStep(NoStepLine {
                step: 1,
                epoch: 1,
                batch: 2,
                skipped: 8,
                no_step: "every sample unreadable".into(),
            }),
            LogLine::Step(StepLine {
                step: 2,
                epoch: 1,
                batch: 3,
                loss: 1.5,
                seconds: 0.25,
                semi_loss: None,
                skipped: Some(1),
            }),
            LogLine::Epoch(EpochLine {
                step: 2,
                epoch_end: 1,
                mean_loss: 2.0,
                rss_mb: Some(445.0),
                peak_rss_mb: Some(512.0),
                skipped_samples: Some(9),
                validation: Some(ValidationLine {
                    testset: "vggss".into(),
                    criterion: "AP@50".into(),
                    metrics: serde_json::json!({"all": {"AP@50": 0.25}}),
                    pairs_left_out: None,
                }),
            }),
        ];
        for line in &lines {
            log.append(line).unwrap();
        }
        assert_eq!(log.read().unwrap(), lines);
        assert_eq!(log.epoch_mean_loss(1).unwrap(), 2.0);
        let curves = Curves::of(&lines);
        assert_eq!(curves.losses, vec![(1, 2.5), (2, 1.5)]);
        assert_eq!(curves.validation_metric("AP@50"), vec![(1, 0.25)]);
        log.truncate(1).unwrap();
        assert_eq!(log.read().unwrap(), lines[..3].to_vec());
    }

    #[test]
    fn a_line_of_another_shape_is_an_error_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::in_run(dir.path());
        std::fs::write(log.path(), "{\"step\": 1, \"loss\": 2.0}\n").unwrap();
        let message = log.read().unwrap_err().to_string();
        assert!(message.contains("train_log.jsonl") && message.contains("line 1"), "{message}");
    }
}
