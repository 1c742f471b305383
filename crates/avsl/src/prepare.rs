//! `avsl prepare`: a folder of the user's videos → a dataset in the authors' layout
//! (`avsl_data::prepare`), with a summary on the console.

use std::path::PathBuf;

use anyhow::Result;
use avsl_data::prepare::{PrepareOptions, prepare};
use clap::Args;

use crate::device::thread_count;
use crate::progress::Console;
use crate::signals::StopOnSignals;

#[derive(Args)]
pub struct PrepareArgs {
    /// Folder of videos (mp4, mkv, webm, avi, mov), searched with its subfolders.
    #[arg(long)]
    pub videos: PathBuf,
    /// Dataset root to write: frames/, audio/, metadata/prepared.txt, prepare_report.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Videos decoded at the same time (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Videos shorter than this many seconds (container or audio) are skipped; the model
    /// listens to 3 s windows, so shorter audio would be repeated to fill one.
    #[arg(long, default_value_t = 3.0)]
    pub min_seconds: f64,
    /// Prepare again videos whose frame or audio file already exists (replacing them).
    #[arg(long)]
    pub overwrite: bool,
    /// VGG-Sound's segment list (the official vggsound.csv: ytid, start_seconds, label,
    /// split): each row becomes the sample `<ytid>_<start:06d>` from the 10 s at `start` of
    /// the video `<ytid>.*`; the ids of each split go to metadata/segments_<split>.txt.
    #[arg(long)]
    pub segments: Option<PathBuf>,
}

pub fn run(args: PrepareArgs) -> Result<()> {
    let threads = thread_count(args.threads);
    let signals = StopOnSignals::register()?;
    let options = PrepareOptions {
        videos: args.videos,
        out: args.out,
        threads,
        min_seconds: args.min_seconds,
        overwrite: args.overwrite,
        stop: Some(signals.flag()),
        segments: args.segments,
    };
    let done = prepare(&options, &Console::default())?;
    println!(
        "{} videos: {} prepared, {} kept from an earlier run, {} skipped ({:.1} s, {threads} threads)",
        done.found,
        done.prepared,
        done.kept,
        done.skipped.len(),
        done.seconds
    );
    for (video, reason) in &done.skipped {
        println!("  skipped {video}: {reason}");
    }
    for (video, id, why) in &done.renamed {
        println!("  {video} → id {id} ({why})");
    }
    if !done.missing.is_empty() {
        let shown: Vec<&str> = done.missing.iter().take(5).map(String::as_str).collect();
        let more = if done.missing.len() > 5 { ", …" } else { "" };
        println!(
            "{} listed segments have no video in {} ({}{more}; all in the report)",
            done.missing.len(),
            options.videos.display(),
            shown.join(", ")
        );
    }
    println!(
        "ids: {} (a training list: avsl train --data {} --train-list {})",
        done.list.display(),
        options.out.display(),
        done.list.display()
    );
    println!("report: {}", done.report.display());
    if done.not_started > 0 {
        eprintln!(
            "interrupted: {} videos not begun; what was prepared is kept, and the same command prepares the rest",
            done.not_started
        );
        signals.exit()
    }
    Ok(())
}
