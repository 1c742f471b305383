//! Where a dataset lives: the flags every command that reads one shares.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use avsl_data::testset::{TestSet, TestSetPaths};
use clap::Args;

#[derive(Args, Clone)]
pub struct DatasetArgs {
    /// Dataset root with frames/ and audio/.
    #[arg(long)]
    pub data: PathBuf,
    /// Folder with the csv lists and vggss.json (default DATA/metadata when it exists, else
    /// the SLAVC authors' published lists built into avsl).
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Flickr XML annotation folder (default DATA/Annotations).
    #[arg(long)]
    pub gt: Option<PathBuf>,
}

impl DatasetArgs {
    /// The folders, with the defaults filled in.
    pub fn paths(&self, plus_silent_csv: Option<PathBuf>) -> TestSetPaths {
        TestSetPaths::with(&self.data, self.metadata.as_deref(), self.gt.as_deref(), plus_silent_csv)
    }

    /// Refuses `out` when it is the dataset folder or inside one of its input folders
    /// (frames/, audio/, metadata, annotations, and the command's own `more`).
    pub fn refuse_as_output(&self, out: &std::path::Path, more: &[&std::path::Path]) -> Result<()> {
        Ok(avsl_data::output::refuse_dataset_folders(out, &self.paths(None), more)?)
    }
}

/// A `--testset` name, or an error listing the valid ones.
pub fn parse_testset(name: &str) -> Result<TestSet> {
    TestSet::parse(name).ok_or_else(|| anyhow!("--testset: {}", TestSet::unknown(name)))
}
