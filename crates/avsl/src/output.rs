//! Output folders: created on demand, and never a folder full of someone else's files.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Prepares `dir` for writing. An existing non-empty folder is only reused when it holds
/// `marker` (a file avsl writes there), so a mistyped path cannot mix our files into, or
/// overwrite, a user's data.
pub fn prepare_output_dir(dir: &Path, marker: &str, force: bool) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            bail!("{}: output path exists and is not a folder", dir.display());
        }
        let non_empty =
            std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?.next().is_some();
        if non_empty && !force && !dir.join(marker).exists() {
            bail!(
                "{}: folder is not empty and was not written by avsl (no {marker}); choose another --out or pass --force",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create folder", dir.display()))
}
