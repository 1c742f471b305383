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
//!
//! Segmentation masks come in a second list of the same form (their
//! `metadata/synthetic3240_seg.json`), whose `gt_box` names a mask image in
//! `DATA/gt_masks` instead of holding a box (its `offset` field is read and ignored).

use std::path::{Path, PathBuf};

use avsl_metrics::PixelBox;
use serde::Deserialize;

use crate::error::{DataError, Result};

/// The list's file name in the metadata folder: ours (`avsl synth --interactive`), else
/// the authors'.
pub const LIST_NAMES: [&str; 2] = ["is3.json", "synthetic3240_bbox.json"];
const FRAME_FOLDERS: [&str; 3] = ["images", "visual_frames", "frames"];
const AUDIO_FOLDERS: [&str; 2] = ["audio_wav", "audio"];

/// The mask list's file name in the metadata folder: ours, else the authors'.
pub const MASK_LIST_NAMES: [&str; 2] = ["is3_seg.json", "synthetic3240_seg.json"];
const MASK_FOLDERS: [&str; 1] = ["gt_masks"];

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // image and audio must be there, only the mask's file name is used
struct MaskEntry {
    image: String,
    audio: String,
    gt_box: String,
    #[serde(default)]
    offset: Option<serde_json::Value>,
}

/// Each pair's mask file by pair name, when `metadata` holds a mask list
/// ([`MASK_LIST_NAMES`]); then every pair of `pairs` must have its mask, and every mask
/// file must exist. `None` without a mask list.
pub fn read_masks(
    metadata: &Path,
    data: &Path,
    pairs: &[SourcePair],
) -> Result<Option<(PathBuf, std::collections::HashMap<String, PathBuf>)>> {
    let Some(list) = MASK_LIST_NAMES.iter().map(|n| metadata.join(n)).find(|p| p.is_file()) else {
        return Ok(None);
    };
    let listed = parse_mask_list(&crate::error::read_file(&list)?, &list)?;
    let folder = first_folder(data, &MASK_FOLDERS)?;
    let mut masks = std::collections::HashMap::new();
    for (i, (name, file)) in listed.into_iter().enumerate() {
        let mask = folder.join(file);
        if !mask.is_file() {
            return Err(DataError::invalid(&list, format!("entry {i}: {} does not exist", mask.display())));
        }
        masks.insert(name, mask);
    }
    if let Some(pair) = pairs.iter().find(|p| !masks.contains_key(&p.name)) {
        return Err(DataError::invalid(&list, format!("no mask for the pair {:?} of the box list", pair.name)));
    }
    Ok(Some((list, masks)))
}

/// A mask list's entries as (pair name, mask file name); `list` names it in errors.
pub fn parse_mask_list(bytes: &[u8], list: &Path) -> Result<Vec<(String, String)>> {
    let entries: Vec<MaskEntry> = serde_json::from_slice(bytes).map_err(|e| {
        DataError::invalid(
            list,
            format!("not a mask list ({e}); expected a JSON array of {{\"image\", \"audio\", \"gt_box\": mask path}}"),
        )
    })?;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let image = file_name(list, i, "image", &e.image)?;
            let mask = file_name(list, i, "gt_box", &e.gt_box)?;
            Ok((stem(&image), mask))
        })
        .collect()
}

/// A mask on the 224×224 frame: pixels of luminance ≥ 128 (so JPEG-compressed masks
/// binarise cleanly), resized by nearest neighbour (source pixel `⌊dst · in / out⌋`).
pub fn load_mask(path: &Path) -> Result<Vec<bool>> {
    let img = crate::image_io::read_rgb(path)?;
    let size = crate::transform::INPUT_SIZE;
    let pick = |dst: usize, src: usize| dst * src / size;
    Ok((0..size * size)
        .map(|i| {
            let (x, y) = (pick(i % size, img.width), pick(i / size, img.height));
            let p = &img.data[(y * img.width + x) * 3..][..3];
            0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64 >= 128.0
        })
        .collect())
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

/// One entry of a multi-source list, before its files are looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedPair {
    /// The frame's file stem.
    pub name: String,
    pub image: String,
    pub audio: String,
    pub gt_box: PixelBox,
}

/// A multi-source list's entries, checked (file names, unique pairs, finite boxes);
/// `list` names it in errors.
pub fn parse_source_list(bytes: &[u8], list: &Path) -> Result<Vec<ListedPair>> {
    let entries: Vec<Entry> = serde_json::from_slice(bytes).map_err(|e| {
        DataError::invalid(
            list,
            format!("not a multi-source list ({e}); expected a JSON array of {{\"image\", \"audio\", \"gt_box\"}}"),
        )
    })?;
    if entries.is_empty() {
        return Err(DataError::invalid(list, "the list is empty"));
    }
    let mut names = std::collections::HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let image = file_name(list, i, "image", &e.image)?;
            let audio = file_name(list, i, "audio", &e.audio)?;
            let name = stem(&image);
            if !names.insert(name.clone()) {
                return Err(DataError::invalid(list, format!("entry {i}: the pair {name:?} is listed twice")));
            }
            if e.gt_box.iter().any(|v| !v.is_finite()) {
                return Err(DataError::invalid(list, format!("entry {i}: gt_box {:?} is not four numbers", e.gt_box)));
            }
            let [xmin, ymin, xmax, ymax] = e.gt_box.map(|v| v.trunc() as i64);
            Ok(ListedPair { name, image, audio, gt_box: PixelBox { xmin, ymin, xmax, ymax } })
        })
        .collect()
}

fn stem(file: &str) -> String {
    Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Reads the list and resolves every pair's files under `data`; a missing file or a
/// malformed entry is an error naming the list and the entry.
pub fn read_source_pairs(list: &Path, data: &Path) -> Result<Vec<SourcePair>> {
    let listed = parse_source_list(&crate::error::read_file(list)?, list)?;
    let (frames, audio) = (first_folder(data, &FRAME_FOLDERS)?, first_folder(data, &AUDIO_FOLDERS)?);
    listed
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let pair = SourcePair {
                name: l.name,
                frame: frames.join(&l.image),
                audio: audio.join(&l.audio),
                gt_box: l.gt_box,
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
    fn reads_the_authors_mask_list_and_binarises_masks() {
        let tmp = tempfile::tempdir().unwrap();
        layout(tmp.path(), "images");
        let pairs = read_source_pairs(&find_list(&tmp.path().join("metadata")).unwrap(), tmp.path()).unwrap();
        let metadata = tmp.path().join("metadata");
        assert_eq!(read_masks(&metadata, tmp.path(), &pairs).unwrap(), None, "no mask list, no masks");
        std::fs::create_dir_all(tmp.path().join("gt_masks")).unwrap();
        // A 448×448 mask: the left half white (with JPEG-like noise), the rest dark grey.
        let mut mask = crate::image_io::RgbImage::new(448, 448);
        for (i, px) in mask.data.chunks_exact_mut(3).enumerate() {
            px.fill(if i % 448 < 224 { 250 - (i % 3) as u8 } else { 20 + (i % 5) as u8 });
        }
        for name in ["cello_dog_7_cello", "cello_dog_7_dog"] {
            let path = tmp.path().join(format!("gt_masks/{name}.png"));
            std::fs::write(path, crate::image_io::encode_png(&mask)).unwrap();
        }
        let entry = |name: &str| {
            format!(
                r#"{{"image": "/x/visual_frames/{name}.jpg", "audio": "/x/audio_wav/{name}.wav", "gt_box": "/x/gt_masks/{name}.png", "offset": 1}}"#
            )
        };
        let list = metadata.join("synthetic3240_seg.json");
        std::fs::write(&list, format!("[{}, {}]", entry("cello_dog_7_cello"), entry("cello_dog_7_dog"))).unwrap();
        let (found, masks) = read_masks(&metadata, tmp.path(), &pairs).unwrap().unwrap();
        assert_eq!(found, list);
        let bits = load_mask(&masks["cello_dog_7_dog"]).unwrap();
        assert_eq!(bits.len(), 224 * 224);
        assert!(bits.iter().enumerate().all(|(i, &b)| b == (i % 224 < 112)), "left half of the 224×224 frame");
        // A pair of the box list without a mask is an error naming the list.
        std::fs::write(&list, format!("[{}]", entry("cello_dog_7_cello"))).unwrap();
        let err = read_masks(&metadata, tmp.path(), &pairs).unwrap_err().to_string();
        assert!(err.contains("synthetic3240_seg.json") && err.contains("cello_dog_7_dog"), "{err}");
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
