//! Multi-source test sets in the layout of the SSL-align authors' IS3 release: one frame
//! with several sounding objects is stored once per object, as `<image>_<object>.jpg`
//! with that object's sound in `<image>_<object>.wav`, and the list (their
//! `metadata/synthetic3240_bbox.json`) is a JSON array of
//! `{"image": path, "audio": path, "gt_box": [xmin, ymin, xmax, ymax]}`, the box in pixels
//! of the 224×224 frame (truncated to integers, as their loader does).
//!
//! The paths in the authors' list point into their own machine, so only the file names
//! are used: frames are looked up in `DATA/images` (the release's folder), else
//! `DATA/visual_frames` (the folder their list names), else `DATA/frames`; sounds in
//! `DATA/audio_wav`, else `DATA/audio`.

use std::path::{Path, PathBuf};

use avsl_metrics::PixelBox;
use serde::Deserialize;

use crate::error::{DataError, Result};

/// The list's file name in the metadata folder: ours (`avsl synth --interactive`), else
/// the authors'.
pub const LIST_NAMES: [&str; 2] = ["is3.json", "synthetic3240_bbox.json"];
const FRAME_FOLDERS: [&str; 3] = ["images", "visual_frames", "frames"];
const AUDIO_FOLDERS: [&str; 2] = ["audio_wav", "audio"];

/// One (frame, source) pair of a multi-source set.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcePair {
    /// The pair's name: the frame's file stem, `<image>_<object>`.
    pub name: String,
    pub frame: PathBuf,
    pub audio: PathBuf,
    /// The source's box on the 224×224 frame.
    pub gt_box: PixelBox,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    image: String,
    audio: String,
    gt_box: [f64; 4],
}

/// The list in `metadata` ([`LIST_NAMES`], first found).
pub fn find_list(metadata: &Path) -> Result<PathBuf> {
    LIST_NAMES.iter().map(|n| metadata.join(n)).find(|p| p.is_file()).ok_or_else(|| {
        DataError::invalid(metadata, format!("no multi-source list here (looked for {})", LIST_NAMES.join(", ")))
    })
}

fn first_folder(data: &Path, names: &[&str]) -> Result<PathBuf> {
    names.iter().map(|n| data.join(n)).find(|p| p.is_dir()).ok_or_else(|| {
        DataError::invalid(data, format!("no folder of the multi-source set here (looked for {})", names.join(", ")))
    })
}

fn file_name(list: &Path, i: usize, field: &str, path: &str) -> Result<String> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." {
        return Err(DataError::invalid(list, format!("entry {i}: {field} {path:?} names no file")));
    }
    Ok(name.to_string())
}

/// Reads the list and resolves every pair's files under `data`; a missing file or a
/// malformed entry is an error naming the list and the entry.
pub fn read_source_pairs(list: &Path, data: &Path) -> Result<Vec<SourcePair>> {
    let text = std::fs::read_to_string(list).map_err(|e| DataError::io(list, e))?;
    let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| {
        DataError::invalid(
            list,
            format!("not a multi-source list ({e}); expected a JSON array of {{\"image\", \"audio\", \"gt_box\"}}"),
        )
    })?;
    if entries.is_empty() {
        return Err(DataError::invalid(list, "the list is empty"));
    }
    let (frames, audio) = (first_folder(data, &FRAME_FOLDERS)?, first_folder(data, &AUDIO_FOLDERS)?);
    let mut names = std::collections::HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let image = file_name(list, i, "image", &e.image)?;
            let sound = file_name(list, i, "audio", &e.audio)?;
            let name = Path::new(&image).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if !names.insert(name.clone()) {
                return Err(DataError::invalid(list, format!("entry {i}: the pair {name:?} is listed twice")));
            }
            if e.gt_box.iter().any(|v| !v.is_finite()) {
                return Err(DataError::invalid(list, format!("entry {i}: gt_box {:?} is not four numbers", e.gt_box)));
            }
            let [xmin, ymin, xmax, ymax] = e.gt_box.map(|v| v.trunc() as i64);
            let pair = SourcePair {
                name,
                frame: frames.join(&image),
                audio: audio.join(&sound),
                gt_box: PixelBox { xmin, ymin, xmax, ymax },
            };
            for file in [&pair.frame, &pair.audio] {
                if !file.is_file() {
                    return Err(DataError::invalid(list, format!("entry {i}: {} does not exist", file.display())));
                }
            }
            Ok(pair)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list in the authors' form: absolute paths from another machine, float boxes.
    const SAMPLE: &str = r#"[
 {"image": "/elsewhere/synthetic/visual_frames/cello_dog_7_cello.jpg",
  "audio": "/elsewhere/synthetic/audio_wav/cello_dog_7_cello.wav", "gt_box": [12.0, 30.0, 101.0, 190.0]},
 {"image": "/elsewhere/synthetic/visual_frames/cello_dog_7_dog.jpg",
  "audio": "/elsewhere/synthetic/audio_wav/cello_dog_7_dog.wav", "gt_box": [120.9, 64.0, 220.5, 200.0]}
]"#;

    fn layout(dir: &Path, frames: &str) {
        for (folder, ext) in [(frames, "jpg"), ("audio_wav", "wav")] {
            std::fs::create_dir_all(dir.join(folder)).unwrap();
            for name in ["cello_dog_7_cello", "cello_dog_7_dog"] {
                std::fs::write(dir.join(folder).join(format!("{name}.{ext}")), b"x").unwrap();
            }
        }
        std::fs::create_dir_all(dir.join("metadata")).unwrap();
        std::fs::write(dir.join("metadata/synthetic3240_bbox.json"), SAMPLE).unwrap();
    }

    #[test]
    fn reads_the_authors_list_by_file_name() {
        let tmp = tempfile::tempdir().unwrap();
        layout(tmp.path(), "images");
        let list = find_list(&tmp.path().join("metadata")).unwrap();
        let pairs = read_source_pairs(&list, tmp.path()).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1].name, "cello_dog_7_dog");
        assert_eq!(pairs[1].frame, tmp.path().join("images/cello_dog_7_dog.jpg"));
        assert_eq!(pairs[1].audio, tmp.path().join("audio_wav/cello_dog_7_dog.wav"));
        assert_eq!(pairs[1].gt_box, PixelBox { xmin: 120, ymin: 64, xmax: 220, ymax: 200 });
    }

    #[test]
    fn missing_files_and_bad_entries_name_the_list_and_entry() {
        let tmp = tempfile::tempdir().unwrap();
        layout(tmp.path(), "visual_frames");
        std::fs::remove_file(tmp.path().join("audio_wav/cello_dog_7_dog.wav")).unwrap();
        let list = tmp.path().join("metadata/synthetic3240_bbox.json");
        let err = read_source_pairs(&list, tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("synthetic3240_bbox.json") && err.contains("entry 1") && err.contains("does not exist"),
            "{err}"
        );
        for (bad, says) in [
            ("[]", "empty"),
            (r#"[{"image": "a.jpg", "audio": "a.wav"}]"#, "gt_box"),
            (r#"[{"image": "a/", "audio": "a.wav", "gt_box": [1, 2, 3, 4]}]"#, "names no file"),
            ("{}", "JSON array"),
        ] {
            std::fs::write(&list, bad).unwrap();
            let err = read_source_pairs(&list, tmp.path()).unwrap_err().to_string();
            assert!(err.contains("synthetic3240_bbox.json") && err.contains(says), "{bad}: {err}");
        }
    }
}
