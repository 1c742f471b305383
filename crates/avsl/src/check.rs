//! `avsl check`: every problem of a dataset, named (`avsl_data::check`), one line each.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, bail};
use avsl_data::check::{CheckList, CheckOptions, check};
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
