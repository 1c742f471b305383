//! Output folders: created on demand, and never a folder full of someone else's files.

use std::path::{Path, PathBuf};

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

/// `path` made absolute and free of `.`/`..`/links as far as it exists (the rest
/// appended), so that two spellings of one folder compare equal.
fn resolved(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.as_os_str().is_empty() && std::fs::canonicalize(&existing).is_err() {
        match existing.file_name() {
            Some(name) => rest.push(name.to_os_string()),
            None => break,
        }
        existing.pop();
    }
    let mut out = std::fs::canonicalize(if existing.as_os_str().is_empty() { Path::new(".") } else { &existing })
        .unwrap_or_else(|_| path.to_path_buf());
    out.extend(rest.iter().rev());
    out
}

/// Refuses an output folder that is one of the run's input folders, or lies inside one
/// (frames/, audio/, metadata/, annotations, maps), where writing could replace a user's
/// file. `data_root` may contain the output folder (data/eval-out is fine), not be it.
pub fn refuse_input_folders(out: &Path, data_root: &Path, folders: &[&Path]) -> Result<()> {
    let target = resolved(out);
    if target == resolved(data_root) {
        bail!("{}: --output is the dataset folder itself; choose a folder of its own", out.display());
    }
    for folder in folders {
        let input = resolved(folder);
        if target.starts_with(&input) {
            bail!(
                "{}: --output is inside the input folder {}; choose a folder elsewhere, so that no input can be \
                 overwritten",
                out.display(),
                folder.display()
            );
        }
    }
    Ok(())
}
