//! `avsl mine-neighbours` and SSL-align's self-mining: one feature vector per training
//! sample and modality (the image trunk's map averaged over positions, the audio trunk's
//! global max, both on the test pipeline's inputs), then the top-k cosine neighbours of
//! every sample among the others ("Aligning Sight and Sound", §3).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use avsl_data::loader::{NeighbourTable, PairFiles};
use avsl_data::npy::read_npy_f32;
use avsl_data::preprocess::{load_spectrogram, load_test_image};
use avsl_data::transform::INPUT_SIZE;
use avsl_model::Encoders;
use avsl_model::arch::{RESNET18_WIDTH, TrunkSpec};
use avsl_model::checkpoint::{read_checkpoint, read_torchvision_resnet18};
use avsl_model::kernels::Kernels;
use avsl_model::neighbour_file::{NeighbourFile, write_neighbours};
use avsl_model::neighbours::top_k_cosine;
use avsl_model::resnet::ResNet18;
use avsl_model::{ModelConfig, Weights};
use burn::tensor::{Device, Tensor, TensorData};
use clap::Args;
use rayon::prelude::*;

use crate::device::{model_threads, parse_device};
use crate::progress;
use crate::train::training_pairs;

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
    pub fn open(path: &Path, device: &Device) -> Result<FeatureSource> {
        if path.extension().is_some_and(|e| e == "npy") {
            return Ok(FeatureSource::Npy(path.to_path_buf()));
        }
        let checkpoint = read_checkpoint(path)?;
        if let Ok(config) = checkpoint.config(0.03, None) {
            let set = config.architecture.evaluated_set();
            return Ok(FeatureSource::Model(Box::new(checkpoint.into_encoders(config, set, device)?)));
        }
        let mut weights = read_torchvision_resnet18(path).with_context(|| {
            format!("{}: neither a checkpoint of a model avsl knows nor torchvision's ResNet-18", path.display())
        })?;
        weights.remove("fc.weight");
        weights.remove("fc.bias");
        let spec = TrunkSpec::resnet18("", 3, RESNET18_WIDTH);
        let trunk = ResNet18::load(&mut weights, &spec, Kernels::for_device(device), device)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(FeatureSource::Torchvision(Box::new(trunk)))
    }

    /// The trunks of weights held in memory (a model being trained).
    pub fn of_weights(mut weights: Weights, config: ModelConfig, device: &Device) -> FeatureSource {
        let set = config.architecture.evaluated_set();
        let encoders = Encoders::load(&mut weights, config, set, device).expect("a trainer holds every tensor");
        FeatureSource::Model(Box::new(encoders))
    }

    fn describe(&self) -> &'static str {
        match self {
            FeatureSource::Model(_) => "model trunks",
            FeatureSource::Torchvision(_) => "torchvision ResNet-18",
            FeatureSource::Npy(_) => "features file",
        }
    }
}

/// Files per forward pass while mining.
const BATCH: usize = 16;

fn npy_features(path: &Path, n: usize) -> Result<(Vec<f32>, usize)> {
    let (shape, values) = read_npy_f32(path)?;
    match shape.as_slice() {
        &[rows, d] if rows == n && d > 0 => Ok((values, d)),
        other => {
            bail!("{}: features of shape {other:?}; expected [{n}, d], one row per sample of the list", path.display())
        }
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
) -> Result<(Vec<f32>, usize)> {
    let n = pairs.len();
    if let FeatureSource::Npy(path) = source {
        return npy_features(path, n);
    }
    if !image && matches!(source, FeatureSource::Torchvision(_)) {
        bail!("torchvision's ResNet-18 is an image encoder: give the audio features another source");
    }
    let bar = progress::bar(n, if image { "image feats" } else { "audio feats" });
    let mut out = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let rows = if image {
            let loaded: Vec<Vec<f32>> = pool.install(|| {
                chunk.par_iter().map(|&i| load_test_image(&pairs[i].frame)).collect::<avsl_data::Result<_>>()
            })?;
            let x = TensorData::new(loaded.concat(), [chunk.len(), 3, INPUT_SIZE, INPUT_SIZE]);
            let x = Tensor::<4>::from_data(x, device);
            match source {
                FeatureSource::Model(e) => mean_over_positions(e.image_trunk(x)),
                FeatureSource::Torchvision(t) => mean_over_positions(t.forward(x)),
                FeatureSource::Npy(_) => unreachable!("handled above"),
            }
        } else {
            let FeatureSource::Model(encoders) = source else { unreachable!("checked above") };
            let loaded = pool.install(|| {
                chunk.par_iter().map(|&i| load_spectrogram(&pairs[i].audio)).collect::<avsl_data::Result<Vec<_>>>()
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
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
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
) -> Result<NeighbourTable> {
    if k >= pairs.len() {
        bail!("k = {k} neighbours need more than {k} samples; the list has {}", pairs.len());
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let mut tables = Vec::with_capacity(2);
    for (is_image, source) in [(true, image), (false, audio)] {
        let (values, d) = features(source, is_image, pairs, &pool, device)?;
        let bar = progress::bar(pairs.len(), if is_image { "image top-k" } else { "audio top-k" });
        tables.push(top_k_cosine(&values, pairs.len(), d, k, &|rows| bar.inc(rows as u64)).indices);
        bar.finish_and_clear();
    }
    let audio_table = tables.pop().expect("two tables");
    let image_table = tables.pop().expect("two tables");
    Ok(NeighbourTable { k, image: image_table, audio: audio_table })
}

#[derive(Args)]
pub struct MineArgs {
    /// Dataset root with frames/ and audio/.
    #[arg(long)]
    pub data: PathBuf,
    /// Training ids, one per line (default DATA/metadata/train.txt).
    #[arg(long)]
    pub train_list: Option<PathBuf>,
    /// Features of both modalities: a checkpoint (its trunks), torchvision's ResNet-18
    /// weights (images only) or a .npy of [n, d] features in list order.
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// Image features, instead of --features.
    #[arg(long)]
    pub image_features: Option<PathBuf>,
    /// Audio features, instead of --features.
    #[arg(long)]
    pub audio_features: Option<PathBuf>,
    /// Neighbours per sample (1000 in the paper).
    #[arg(long, default_value_t = 1000)]
    pub k: usize,
    /// The neighbour file to write (read by `avsl train --neighbours`).
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the model runs: `cpu`, or `cuda[:N]` in a build with the `cuda` feature.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

pub fn run(args: MineArgs) -> Result<()> {
    let threads = model_threads(args.threads);
    let device = parse_device(&args.device)?;
    let list = args.train_list.clone().unwrap_or_else(|| args.data.join("metadata").join("train.txt"));
    let ids = avsl_data::lists::read_id_list(&list)?;
    let pairs = training_pairs(&args.data, &ids, &list)?;
    let pick = |own: &Option<PathBuf>, what: &str| {
        own.clone()
            .or_else(|| args.features.clone())
            .with_context(|| format!("no {what} features: give --features or --{what}-features"))
    };
    let (image_path, audio_path) = (pick(&args.image_features, "image")?, pick(&args.audio_features, "audio")?);
    if [&image_path, &audio_path].contains(&&args.output) {
        bail!("{}: --output would overwrite a features file", args.output.display());
    }
    let image = FeatureSource::open(&image_path, &device)?;
    let audio = if audio_path == image_path { None } else { Some(FeatureSource::open(&audio_path, &device)?) };
    let audio = audio.as_ref().unwrap_or(&image);
    let start = Instant::now();
    let table = mine(&pairs, &image, audio, args.k, threads, &device)?;
    let seconds = start.elapsed().as_secs_f64();
    let source = format!(
        "image: {} ({}); audio: {} ({})",
        image.describe(),
        image_path.display(),
        audio.describe(),
        audio_path.display()
    );
    write_neighbours(&args.output, &NeighbourFile { ids, table, source })?;
    println!(
        "{} samples, k = {}: neighbours in {seconds:.1} s on {threads} threads → {}",
        pairs.len(),
        args.k,
        args.output.display()
    );
    Ok(())
}
