//! Output folders: created on demand, and never a folder full of someone else's files.

use std::path::{Path, PathBuf};

use crate::embedded_lists::ListSource;
use crate::error::{DataError, Result};
use crate::lock::{FOLDER_LOCK, Lock, utc_now};
use crate::report::Report;
use crate::testset::TestSetPaths;

/// Prepares `dir` for writing and locks it for this process ([`Lock::folder`]: another
/// process writing it is an error). An existing non-empty folder is only reused when it
/// holds `marker` (a file avsl writes there), so a mistyped path cannot mix our files
/// into, or overwrite, a user's data.
pub fn prepare_output_dir(dir: &Path, marker: &str, force: bool, report: &dyn Report) -> Result<Lock> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(DataError::invalid(dir, "output path exists and is not a folder"));
        }
        // Checked before the lock file is made, so that a refused folder is left as it was.
        let mut entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
        let non_empty = entries.any(|e| e.is_ok_and(|e| e.file_name() != FOLDER_LOCK));
        if non_empty && !force && !dir.join(marker).exists() {
            return Err(DataError::invalid(
                dir,
                format!(
                    "folder is not empty and was not written by avsl (no {marker}); choose another output folder or \
                     pass --force"
                ),
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    Lock::folder(dir, report)
}

/// Moves the entries `names` of `dir` that exist into a new folder
/// `dir/previous-<UTC time>/` (never deleting anything) and returns it; `None` when none
/// exists.
pub fn move_aside(dir: &Path, names: &[&str]) -> Result<Option<PathBuf>> {
    let present: Vec<&&str> = names.iter().filter(|n| dir.join(n).exists()).collect();
    if present.is_empty() {
        return Ok(None);
    }
    let aside = unused(dir.join(format!("previous-{}", compact_utc_now())));
    std::fs::create_dir(&aside).map_err(|e| DataError::io(&aside, e))?;
    for name in present {
        let (from, to) = (dir.join(name), aside.join(name));
        std::fs::rename(&from, &to).map_err(|e| DataError::io(&from, e))?;
    }
    Ok(Some(aside))
}

/// Renames file `path` to `<stem>.previous-<UTC time>.<extension>` beside it (a file
/// written anew keeps the one it replaces) and returns the new name.
pub fn move_file_aside(path: &Path) -> Result<PathBuf> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let aside = unused(path.with_file_name(format!("{stem}.previous-{}{ext}", compact_utc_now())));
    std::fs::rename(path, &aside).map_err(|e| DataError::io(path, e))?;
    Ok(aside)
}

/// `2026-12-06T21:04:05Z` as `20261206T210405Z`: a file name on every system.
fn compact_utc_now() -> String {
    utc_now().replace(['-', ':'], "")
}

/// `path`, or `path-2`, `path-3`, … when taken (two moves within a second).
fn unused(path: PathBuf) -> PathBuf {
    let mut candidate = path.clone();
    let mut k = 2;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{}-{k}", path.display()));
        k += 1;
    }
    candidate
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Quiet;

    #[test]
    fn a_folder_of_someone_elses_files_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("thesis.tex"), "mine").unwrap();
        let err = prepare_output_dir(dir.path(), "metrics.json", false, &Quiet).unwrap_err().to_string();
        assert!(err.contains("was not written by avsl (no metrics.json)"), "{err}");
        assert!(!dir.path().join(FOLDER_LOCK).exists(), "no lock file left in a refused folder");
        // Our own folder (its marker there) is reused, locked while in use.
        std::fs::write(dir.path().join("metrics.json"), "{}").unwrap();
        let _lock = prepare_output_dir(dir.path(), "metrics.json", false, &Quiet).unwrap();
        assert!(prepare_output_dir(dir.path(), "metrics.json", false, &Quiet).is_err(), "a second writer");
    }

    #[test]
    fn moving_aside_keeps_every_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.txt", "b.bin"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let aside = move_aside(dir.path(), &["a.txt", "b.bin", "absent"]).unwrap().unwrap();
        let name = aside.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("previous-") && name.ends_with('Z') && !name.contains(':'), "{name}");
        assert_eq!(std::fs::read_to_string(aside.join("b.bin")).unwrap(), "b.bin");
        assert!(!dir.path().join("a.txt").exists());
        assert!(move_aside(dir.path(), &["a.txt"]).unwrap().is_none(), "nothing to move");
        let file = dir.path().join("nn.safetensors");
        std::fs::write(&file, "table").unwrap();
        let kept = move_file_aside(&file).unwrap();
        let kept_name = kept.file_name().unwrap().to_string_lossy().into_owned();
        assert!(kept_name.starts_with("nn.previous-") && kept_name.ends_with("Z.safetensors"), "{kept_name}");
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "table");
    }
}
