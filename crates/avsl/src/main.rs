//! `avsl`: audio-visual sound source localisation from the command line.

mod bench;
mod check;
mod colormap;
mod convert;
mod dataset_args;
mod demo;
mod demo_figures;
mod demo_plan;
mod demo_report;
mod device;
mod eval;
mod eval_figures;
mod eval_maps;
mod inspect;
mod interactive_eval;
mod localize;
mod localize_overlay;
mod localize_video;
mod mine;
mod overlay;
mod plots;
mod prepare;
mod progress;
mod retrieve;
mod signals;
mod synth;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "avsl", version, about = "Audio-visual sound source localisation (SLAVC, EZ-VSL, SSL-align)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// End to end on the generated synthetic benchmark, with a report.
    Demo(demo::DemoArgs),
    /// Write a synthetic audio-visual dataset in the VGG-SS layout.
    Synth(synth::SynthArgs),
    /// Turn a folder of videos into a dataset: middle frames, 16 kHz mono audio, an id list.
    Prepare(prepare::PrepareArgs),
    /// Decode every file a test set or training list uses and report every problem.
    Check(check::CheckArgs),
    /// Write what the model sees for an audio file (and an image): spectrogram, resized frame.
    Inspect(inspect::InspectArgs),
    /// Train SLAVC, EZ-VSL or SSL-align with the published recipe.
    Train(train::TrainArgs),
    /// SSL-align's mined positives: the k nearest training samples of each, per modality.
    MineNeighbours(mine::MineArgs),
    /// Evaluate a checkpoint (the authors' .pth or ours) on a test set, end to end.
    Eval(eval::EvalArgs),
    /// Score any model's maps with the authors' exact evaluation protocol.
    EvalMaps(eval_maps::EvalMapsArgs),
    /// Where is the sound in a frame or a video, and is anything visible making it?
    Localize(localize::LocalizeArgs),
    /// Compositional image retrieval: rank a dataset's frames by an image and a sound together.
    Retrieve(retrieve::RetrieveArgs),
    /// Convert a checkpoint between the authors' .pth and avsl's .safetensors.
    Convert(convert::ConvertArgs),
    /// Measure throughput: loader, eval-maps scoring, eval forward, training step, localize.
    Bench(bench::BenchArgs),
}

/// glibc hands freed blocks above its mmap threshold back to the kernel and maps (and
/// zeroes) fresh pages for the next ones, so the loader's per-sample buffers (hundreds of
/// KB each: frames, normalised images, audio, spectrograms) page-fault on every sample.
/// Kept in the heap instead: `avsl bench loader` with a frame cache, one thread, went
/// from 573 to 1031–1286 samples/s (decoding from JPEG: 190 → 246); peak memory unchanged
/// in `bench forward train` (1086 vs 1090 MB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory_in_the_heap() {
    // SAFETY: mallopt only sets allocator thresholds; it runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory_in_the_heap() {}

fn main() -> ExitCode {
    keep_freed_memory_in_the_heap();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Bench(args) => bench::run(args),
        Command::EvalMaps(args) if interactive_eval::per_pair_set(&args.protocol).is_some() => {
            interactive_eval::run_maps(args).map(drop)
        }
        Command::EvalMaps(args) => eval_maps::run(args).map(drop),
        Command::Eval(args) if interactive_eval::per_pair_set(&args.protocol).is_some() => {
            interactive_eval::run_checkpoint(args).map(drop)
        }
        Command::Eval(args) => eval::run(args).map(drop),
        Command::Train(args) => train::run(args),
        Command::MineNeighbours(args) => mine::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Check(args) => check::run(args),
        Command::Prepare(args) => prepare::run(args),
        Command::Localize(args) => localize::run(args),
        Command::Retrieve(args) => retrieve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
