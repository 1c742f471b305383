//! Output folders: created on demand, and never a folder full of someone else's files.

use std::path::{Path, PathBuf};

use crate::embedded_lists::ListSource;
use crate::error::{DataError, Result};
use crate::testset::TestSetPaths;

/// Prepares `dir` for writing. An existing non-empty folder is only reused when it holds
/// `marker` (a file avsl writes there), so a mistyped path cannot mix our files into, or
/// overwrite, a user's data.
pub fn prepare_output_dir(dir: &Path, marker: &str, force: bool) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(DataError::invalid(dir, "output path exists and is not a folder"));
        }
        let non_empty = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?.next().is_some();
        if non_empty && !force && !dir.join(marker).exists() {
            return Err(DataError::invalid(
                dir,
                format!(
                    "folder is not empty and was not written by avsl (no {marker}); choose another --out or pass --force"
                ),
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))
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
        return Err(DataError::invalid(out, "--output is the dataset folder itself; choose a folder of its own"));
    }
    for folder in folders {
        let input = resolved(folder);
        if target.starts_with(&input) {
            return Err(DataError::invalid(
                out,
                format!(
                    "--output is inside the input folder {}; choose a folder elsewhere, so that no input can be \
                     overwritten",
                    folder.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses `out` when it is the dataset folder or inside one of its input folders
/// (frames/, audio/, metadata, annotations, and the command's own `more`).
pub fn refuse_dataset_folders(out: &Path, paths: &TestSetPaths, more: &[&Path]) -> Result<()> {
    let (frames, audio) = (paths.data.join("frames"), paths.data.join("audio"));
    let mut folders = vec![frames.as_path(), audio.as_path(), paths.gt.as_path()];
    if let ListSource::Folder(metadata) = &paths.lists {
        folders.push(metadata);
    }
    folders.extend_from_slice(more);
    refuse_input_folders(out, &paths.data, &folders)
}
