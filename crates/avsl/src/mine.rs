//! `avsl mine-neighbours`: SSL-align's mined positives (`avsl_train::mining`) for a
//! training list, written as a neighbour file for `avsl train --neighbours`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use avsl_data::lists::{read_id_list, training_pairs};
use avsl_data::lock::Lock;
use avsl_data::output::move_file_aside;
use avsl_model::device::parse_device;
use avsl_train::mining::{FeatureSource, mine};
use avsl_train::neighbour_file::{NeighbourFile, write_neighbours};
use clap::Args;

use crate::device::model_threads;
use crate::progress::Console;

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
    /// Replace an existing --output: it is renamed to NAME.previous-<UTC time>.safetensors
    /// beside it, never deleted.
    #[arg(long)]
    pub force: bool,
    /// Threads for the model (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value = "cpu", help = crate::device::DEVICE_HELP)]
    pub device: String,
}

pub fn run(args: MineArgs) -> Result<()> {
    let threads = model_threads(args.threads);
    let device = parse_device(&args.device)?;
    let list = args.train_list.clone().unwrap_or_else(|| args.data.join("metadata").join("train.txt"));
    let ids = read_id_list(&list)?;
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
    let console = Console::default();
    let _lock = Lock::file(&args.output, &console)?;
    if args.output.exists() && !args.force {
        bail!(
            "{} exists (a neighbour file takes long to mine): choose another --output, or --force keeps it as \
             {}.previous-<UTC time>.safetensors and writes the new one",
            args.output.display(),
            args.output.file_stem().unwrap_or_default().to_string_lossy()
        );
    }
    let image = FeatureSource::open(&image_path, &device)?;
    let audio = if audio_path == image_path { None } else { Some(FeatureSource::open(&audio_path, &device)?) };
    let audio = audio.as_ref().unwrap_or(&image);
    let start = Instant::now();
    let table = mine(&pairs, &image, audio, args.k, threads, &device, &console)?;
    let seconds = start.elapsed().as_secs_f64();
    let source = format!(
        "image: {} ({}); audio: {} ({})",
        image.describe(),
        image_path.display(),
        audio.describe(),
        audio_path.display()
    );
    // Moved only now: a failed or interrupted mining leaves the earlier file in place.
    if args.output.exists() {
        let aside = move_file_aside(&args.output)?;
        eprintln!("note: kept the earlier neighbour file as {}", aside.display());
    }
    write_neighbours(&args.output, &NeighbourFile { ids, table, source })?;
    println!(
        "{} samples, k = {}: neighbours in {seconds:.1} s on {threads} threads → {}",
        pairs.len(),
        args.k,
        args.output.display()
    );
    Ok(())
}
