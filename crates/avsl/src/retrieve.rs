//! `avsl retrieve`: compositional image retrieval (`avsl_eval::compose`), then the
//! contact sheet — one row per λ: the query frame, then the best frames with their cosine.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use avsl_data::fsutil::write_atomic;
use avsl_data::image_io::{encode_png, read_rgb};
use avsl_data::transform::test_resize;
use avsl_eval::compose::{Ranking, RetrieveOptions, retrieve};
use avsl_model::EncoderSet;
use avsl_model::device::parse_device;
use clap::Args;

use crate::demo_figures::blit;
use crate::device::model_threads;
use crate::eval::PipelineArg;
use crate::overlay::draw_texts;
use crate::progress::Console;

#[derive(Args)]
pub struct RetrieveArgs {
    /// The authors' .pth or an avsl .safetensors checkpoint (any of the three models).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Dataset root: every image in its frames/ is ranked.
    #[arg(long)]
    pub data: PathBuf,
    /// The query frame.
    #[arg(long)]
    pub image: PathBuf,
    /// The query sound (WAV).
    #[arg(long)]
    pub audio: PathBuf,
    /// Weight of the image in the query (1: the image alone, 0: the sound alone); give it
    /// several times for a sweep.
    #[arg(long = "lambda", required = true, num_args = 1..)]
    pub lambdas: Vec<f64>,
    /// Frames shown per λ on the contact sheet (ranking.json holds all).
    #[arg(long, default_value_t = 8)]
    pub top: usize,
    /// Score SLAVC's momentum encoders.
    #[arg(long)]
    pub use_mom_eval: bool,
    /// τ of an authors' .pth (our checkpoints store theirs).
    #[arg(long, default_value_t = 0.03)]
    pub tau: f64,
    /// How frames and clips become inputs (default slavc).
    #[arg(long, value_enum)]
    pub pipeline: Option<PipelineArg>,
    /// Frames or clips per forward pass (results do not depend on it).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Worker threads for decoding and for the model (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value = "cpu", help = crate::device::DEVICE_HELP)]
    pub device: String,
    /// Folder for ranking.json and contact_sheet.png.
    #[arg(long)]
    pub output: PathBuf,
    /// Write into a non-empty folder that avsl did not create.
    #[arg(long)]
    pub force: bool,
}

/// Side of a contact-sheet tile.
const TILE: usize = 160;

pub fn run(args: RetrieveArgs) -> Result<()> {
    if args.top == 0 {
        return Err(anyhow!("--top must be at least 1"));
    }
    let options = RetrieveOptions {
        checkpoint: args.checkpoint,
        encoders: if args.use_mom_eval { EncoderSet::Momentum } else { EncoderSet::Online },
        tau: args.tau,
        data: args.data,
        image: args.image,
        audio: args.audio,
        lambdas: args.lambdas,
        batch_size: args.batch_size,
        threads: model_threads(args.threads),
        device: parse_device(&args.device)?,
        pipeline: args.pipeline.map_or(avsl_data::preprocess::TestPipeline::Slavc, |p| p.pipeline(10.0)),
        output: args.output,
        force: args.force,
    };
    let rankings = retrieve(&options, &Console::default())?;
    for r in &rankings {
        let best: Vec<String> = r.hits.iter().take(3).map(|h| format!("{} ({:.3})", h.id, h.cosine)).collect();
        println!("lambda {}: {}", r.lambda, best.join(", "));
    }
    let sheet = options.output.join("contact_sheet.png");
    contact_sheet(&sheet, &options.image, &rankings, args.top)?;
    println!("results: {} (ranking.json, contact_sheet.png)", options.output.display());
    Ok(())
}

/// One row per ranking: the query frame, then its `top` best frames.
fn contact_sheet(path: &Path, query: &Path, rankings: &[Ranking], top: usize) -> Result<()> {
    let columns = 1 + top.min(rankings.iter().map(|r| r.hits.len()).max().unwrap_or(0));
    let mut canvas = avsl_data::image_io::RgbImage::new(columns * TILE, rankings.len() * TILE);
    canvas.data.fill(255);
    let query_tile = test_resize(&read_rgb(query)?, TILE);
    let mut texts = Vec::new();
    for (row, r) in rankings.iter().enumerate() {
        let y = row * TILE;
        blit(&mut canvas, &query_tile, 0, y);
        texts.push((format!("query, λ = {}", r.lambda), 4, y + 4));
        for (k, hit) in r.hits.iter().take(columns - 1).enumerate() {
            let x = (k + 1) * TILE;
            blit(&mut canvas, &test_resize(&read_rgb(&hit.frame)?, TILE), x, y);
            texts.push((format!("{} {:.3}", k + 1, hit.cosine), x + 4, y + TILE - 20));
        }
    }
    draw_texts(&mut canvas, &texts, 14).map_err(|e| anyhow!("{}: cannot draw labels: {e}", path.display()))?;
    write_atomic(path, &encode_png(&canvas))?;
    Ok(())
}
