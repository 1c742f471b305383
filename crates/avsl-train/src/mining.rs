//! SSL-align's mined positives ("Aligning Sight and Sound", §3): one feature vector per
//! training sample and modality (the image trunk's map averaged over positions, the audio
//! trunk's global max, both on the test pipeline's inputs), then the top-k cosine
//! neighbours of every sample among the others. `avsl mine-neighbours` and self-mining
//! during training both run [`mine`].

use std::path::{Path, PathBuf};

use avsl_data::loader::{NeighbourTable, PairFiles};
use avsl_data::npy::read_npy_f32;
use avsl_data::preprocess::{load_spectrogram, load_test_image};
use avsl_data::transform::InputShape;
use avsl_model::Encoders;
use avsl_model::checkpoint::{CheckpointError, read_checkpoint};
use avsl_model::ogl::torchvision_trunk;
use avsl_model::resnet::ResNet18;
use avsl_model::{ModelConfig, Weights};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::error::TrainError;
use crate::neighbours::top_k_cosine;
use avsl_data::report::Report;

/// Where one modality's features come from.
pub enum FeatureSource {
    /// A checkpoint's trunks (ours or the authors', any architecture).
    Model(Box<Encoders>),
    /// torchvision's ImageNet ResNet-18 (an image encoder).
    Torchvision(Box<ResNet18>),
    /// Precomputed features `[n, d]`, one row per sample in list order.
    Npy(PathBuf),
}

impl FeatureSource {
    /// Reads `path`: `.npy` features, else a checkpoint avsl knows, else torchvision's
    /// ResNet-18 weights.
    pub fn open(path: &Path, device: &Device) -> Result<FeatureSource, TrainError> {
        if path.extension().is_some_and(|e| e == "npy") {
            return Ok(FeatureSource::Npy(path.to_path_buf()));
        }
        let checkpoint = read_checkpoint(path)?;
        // A checkpoint of a model avsl knows (its heads name the architecture), else
        // torchvision's ResNet-18.
        if checkpoint.config(0.03, None).is_ok() {
            return Ok(FeatureSource::Model(Box::new(checkpoint.encoders(0.03, None, None, device)?)));
        }
        let trunk = torchvision_trunk(path, device).map_err(|e| {
            CheckpointError::new(
                path,
                format!("neither a checkpoint of a model avsl knows nor torchvision's ResNet-18 ({})", e.problem),
            )
        })?;
        Ok(FeatureSource::Torchvision(Box::new(trunk)))
    }

    /// The trunks of weights held in memory (a model being trained).
    pub fn of_weights(mut weights: Weights, config: ModelConfig, device: &Device) -> FeatureSource {
        let set = config.architecture.evaluated_set();
        let encoders = Encoders::load(&mut weights, config, set, device).expect("a trainer holds every tensor");
        FeatureSource::Model(Box::new(encoders))
    }

    pub fn describe(&self) -> &'static str {
        match self {
            FeatureSource::Model(_) => "model trunks",
            FeatureSource::Torchvision(_) => "torchvision ResNet-18",
            FeatureSource::Npy(_) => "features file",
        }
    }
}

/// Files per forward pass while mining.
const BATCH: usize = 16;

fn npy_features(path: &Path, n: usize) -> Result<(Vec<f32>, usize), TrainError> {
    let (shape, values) = read_npy_f32(path)?;
    match shape.as_slice() {
        &[rows, d] if rows == n && d > 0 => Ok((values, d)),
        other => Err(TrainError::invalid(
            path,
            format!("features of shape {other:?}; expected [{n}, d], one row per sample of the list"),
        )),
    }
}

/// Rows of `[B, C, h, w]` features averaged over positions → `[B·C]`.
fn mean_over_positions(t: Tensor<4>) -> Vec<f32> {
    let [b, c, _, _] = t.dims();
    t.mean_dim(3).mean_dim(2).reshape([b, c]).into_data().try_to_vec::<f32>().expect("float32 features")
}

/// One feature row per sample: `(values [n, d], d)`.
fn features(
    source: &FeatureSource,
    image: bool,
    pairs: &[PairFiles],
    pool: &rayon::ThreadPool,
    device: &Device,
    report: &dyn Report,
) -> Result<(Vec<f32>, usize), TrainError> {
    let n = pairs.len();
    if let FeatureSource::Npy(path) = source {
        return npy_features(path, n);
    }
    if !image && matches!(source, FeatureSource::Torchvision(_)) {
        return Err(TrainError::Options(
            "torchvision's ResNet-18 is an image encoder: give the audio features another source".into(),
        ));
    }
    report.phase(if image { "image feats" } else { "audio feats" }, n, 0);
    // A model is fed what it was trained on; torchvision's trunk the published 224.
    let input = match source {
        FeatureSource::Model(e) => {
            InputShape { image_size: e.config.image_size, audio_seconds: e.config.audio_seconds }
        }
        _ => InputShape::PUBLISHED,
    };
    let side = input.image_size;
    let mut out = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let rows = if image {
            let loaded: Vec<Vec<f32>> = pool.install(|| {
                chunk.par_iter().map(|&i| load_test_image(&pairs[i].frame, side)).collect::<avsl_data::Result<_>>()
            })?;
            let x = TensorData::new(loaded.concat(), [chunk.len(), 3, side, side]);
            let x = Tensor::<4>::from_data(x, device);
            match source {
                FeatureSource::Model(e) => mean_over_positions(e.image_trunk(x)),
                FeatureSource::Torchvision(t) => mean_over_positions(t.forward(x)),
                FeatureSource::Npy(_) => unreachable!("handled above"),
            }
        } else {
            let FeatureSource::Model(encoders) = source else { unreachable!("checked above") };
            let loaded = pool.install(|| {
                let seconds = input.audio_seconds;
                chunk
                    .par_iter()
                    .map(|&i| load_spectrogram(&pairs[i].audio, seconds))
                    .collect::<avsl_data::Result<Vec<_>>>()
            })?;
            // Clips of other sample rates have other widths: one pass per width, rows put
            // back in list order.
            let mut rows = vec![Vec::new(); loaded.len()];
            let mut widths: Vec<usize> = loaded.iter().map(|s| s.frames).collect();
            widths.sort_unstable();
            widths.dedup();
            for width in widths {
                let members: Vec<usize> = (0..loaded.len()).filter(|&k| loaded[k].frames == width).collect();
                let values: Vec<f32> = members.iter().flat_map(|&k| loaded[k].values.iter().copied()).collect();
                let bins = values.len() / (members.len() * width);
                let x = Tensor::<4>::from_data(TensorData::new(values, [members.len(), 1, bins, width]), device);
                let features = encoders.audio_trunk(x).into_data().try_to_vec::<f32>().expect("float32 features");
                let d = features.len() / members.len();
                for (k, row) in members.into_iter().zip(features.chunks_exact(d)) {
                    rows[k] = row.to_vec();
                }
            }
            rows.concat()
        };
        out.extend(rows);
        report.advance(chunk.len(), None);
    }
    report.phase_end();
    let d = out.len() / n;
    Ok((out, d))
}

/// The k nearest other samples of every sample by image and by audio features.
pub fn mine(
    pairs: &[PairFiles],
    image: &FeatureSource,
    audio: &FeatureSource,
    k: usize,
    threads: usize,
    device: &Device,
    report: &dyn Report,
) -> Result<NeighbourTable, TrainError> {
    if k >= pairs.len() {
        return Err(TrainError::Options(format!(
            "k = {k} neighbours need more than {k} samples; the list has {}",
            pairs.len()
        )));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| TrainError::Options(format!("{threads} threads: {e}")))?;
    let mut tables = Vec::with_capacity(2);
    for (is_image, source) in [(true, image), (false, audio)] {
        let (values, d) = features(source, is_image, pairs, &pool, device, report)?;
        report.phase(if is_image { "image top-k" } else { "audio top-k" }, pairs.len(), 0);
        tables.push(top_k_cosine(&values, pairs.len(), d, k, &|rows| report.advance(rows, None)).indices);
        report.phase_end();
    }
    let audio_table = tables.pop().expect("two tables");
    let image_table = tables.pop().expect("two tables");
    Ok(NeighbourTable { k, image: image_table, audio: audio_table })
}
