//! `avsl check`: every problem of a dataset, named (`avsl_data::check`), one line each.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, bail};
use avsl_data::check::{CheckList, CheckOptions, OfficialIds, check};
use avsl_data::fsutil::write_atomic;
use clap::Args;

use crate::dataset_args::{DatasetArgs, parse_testset};
use crate::progress::Console;

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Check the files of this test set (vggss, vggss_plus_silent, flickr, …).
    #[arg(long, conflicts_with = "train_list", required_unless_present = "train_list")]
    pub testset: Option<String>,
    /// Check the files of this training id list.
    #[arg(long)]
    pub train_list: Option<PathBuf>,
    /// Where to write the official ids that have no frame or no audio file (with
    /// --testset; default `<testset>_missing_ids.txt` in the current folder).
    #[arg(long)]
    pub missing_ids: Option<PathBuf>,
    /// Decoding threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: CheckArgs) -> Result<()> {
    let list = match (&args.testset, &args.train_list) {
        (Some(name), _) => CheckList::TestSet(parse_testset(name)?),
        (None, Some(list)) => CheckList::TrainList(list.clone()),
        (None, None) => bail!("give --testset NAME or --train-list FILE"),
    };
    let options =
        CheckOptions { paths: args.dataset.paths(None), list, threads: crate::device::thread_count(args.threads) };
    let checked = check(&options, &Console::default())?;
    if let Some(lists) = &checked.lists {
        println!("{}", lists.line());
    }
    if let (Some(official), Some(name)) = (&checked.official, &args.testset) {
        report_missing_ids(official, name, args.missing_ids.clone())?;
    }
    for p in &checked.problems {
        println!("{}: {}", p.file.display(), p.what);
    }
    let bad_files: BTreeSet<&PathBuf> = checked.problems.iter().map(|p| &p.file).collect();
    println!(
        "checked {} frames and {} audio files: {} problem(s) in {} file(s)",
        checked.frames,
        checked.audio,
        checked.problems.len(),
        bad_files.len()
    );
    if checked.problems.is_empty() { Ok(()) } else { bail!("{} problem(s) found", checked.problems.len()) }
}

/// How many of a test set's ids are incomplete, the first few, and a file with all of them.
fn report_missing_ids(official: &OfficialIds, testset: &str, file: Option<PathBuf>) -> Result<()> {
    if official.missing.is_empty() {
        println!("all {} ids of {testset} have their frame and audio", official.listed);
        return Ok(());
    }
    let file = file.unwrap_or_else(|| PathBuf::from(format!("{testset}_missing_ids.txt")));
    let text: String = official.missing.iter().map(|id| format!("{id}\n")).collect();
    write_atomic(&file, text.as_bytes())?;
    let first: Vec<&str> = official.missing.iter().take(5).map(String::as_str).collect();
    println!(
        "{} of the {} ids of {testset} have no frame or no audio file (an incomplete download?): {}{}; all of \
         them in {}",
        official.missing.len(),
        official.listed,
        first.join(", "),
        if official.missing.len() > first.len() { ", …" } else { "" },
        file.display()
    );
    Ok(())
}
