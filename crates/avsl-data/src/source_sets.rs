//! The SSL-align authors' per-pair test sets (their `test.py --testset is3 | s4 | ms3 |
//! vposs | vpoms`): a JSON list of `{"image": path, "audio": path, "gt_box": [xmin, ymin,
//! xmax, ymax]}`, one entry per (frame, sound) pair, the box in pixels of the 224×224
//! frame, truncated to integers as their loader does (docs/method.md §4c,
//! docs/source-sets.md). A frame with several sounding objects is listed once per object.
//!
//! The paths in the lists point into the authors' disks. IS3 (and `avsl synth
//! --interactive`) pairs are found by file name: frames in `DATA/images`, else
//! `DATA/visual_frames`, else `DATA/frames`; sounds in `DATA/audio_wav`, else `DATA/audio`.
//! The released AVSBench and VPO sets are found by the part of each path below the
//! dataset's root, from its `visual_frames/`, `audio_wav/`, `gt_masks/` or `gray_masks/`
//! component on (`…/s4_data/visual_frames/test/helicopter/x/x_1.png` is
//! `DATA/visual_frames/test/helicopter/x/x_1.png`).
//!
//! Segmentation masks come in a second list of the same form (`*_seg.json`) whose
//! `gt_box` names a mask image instead of holding a box (its `offset` is read and ignored).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use avsl_metrics::PixelBox;
use serde::Deserialize;

use crate::error::{DataError, Result};

/// A test set of per-pair lists, by the authors' `--testset` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceSet {
    /// IS3, their synthetic interactive set (or `avsl synth --interactive`).
    Is3,
    /// AVSBench single-source (S4) test split.
    S4,
    /// AVSBench multi-source (MS3) test split.
    Ms3,
    /// VPO single-source (COCO_AV).
    VpoSs,
    /// VPO multi-source (COCO_AV_MS).
    VpoMs,
}

impl SourceSet {
    pub const ALL: [SourceSet; 5] = [SourceSet::Is3, SourceSet::S4, SourceSet::Ms3, SourceSet::VpoSs, SourceSet::VpoMs];

    pub fn name(self) -> &'static str {
        match self {
            SourceSet::Is3 => "is3",
            SourceSet::S4 => "s4",
            SourceSet::Ms3 => "ms3",
            SourceSet::VpoSs => "vposs",
            SourceSet::VpoMs => "vpoms",
        }
    }

    /// The authors' name, or `interactive` for IS3.
    pub fn parse(name: &str) -> Option<SourceSet> {
        if name == "interactive" {
            return Some(SourceSet::Is3);
        }
        SourceSet::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The box list's file names in the metadata folder, the first found is read: ours
    /// (`avsl synth --interactive`), else the authors'.
    pub fn list_names(self) -> &'static [&'static str] {
        match self {
            SourceSet::Is3 => &["is3.json", "synthetic3240_bbox.json"],
            SourceSet::S4 => &["s4_box.json"],
            SourceSet::Ms3 => &["ms3_box.json"],
            SourceSet::VpoSs => &["vpo_ss_bbox.json"],
            SourceSet::VpoMs => &["vpo_ms_bbox.json"],
        }
    }

    /// The mask list's file names, likewise.
    pub fn mask_list_names(self) -> &'static [&'static str] {
        match self {
            SourceSet::Is3 => &["is3_seg.json", "synthetic3240_seg.json"],
            SourceSet::S4 => &["s4_seg.json"],
            SourceSet::Ms3 => &["ms3_seg.json"],
            SourceSet::VpoSs => &["vpo_ss_seg.json"],
            SourceSet::VpoMs => &["vpo_ms_seg.json"],
        }
    }

    /// Seconds of sound the authors' test pipeline reads from each clip: 5 for AVSBench's
    /// 5-second clips, 10 otherwise.
    pub fn clip_seconds(self) -> f64 {
        match self {
            SourceSet::S4 | SourceSet::Ms3 => 5.0,
            SourceSet::Is3 | SourceSet::VpoSs | SourceSet::VpoMs => 10.0,
        }
    }

    /// A pair's name from its frame's path, as the authors' loader names it: the file
    /// stem (IS3, VPO), `<category>/<id>/<id>_<k>` (S4), and for MS3 the key their box
    /// table uses, `<id>/<id>.mp4_<k>` (their lookup key `file.split('.')[0]` would be
    /// `<id>/<id>` for all five frames of a video and match no box; docs/source-sets.md).
    fn pair_name(self, image: &str) -> String {
        let parts: Vec<&str> = image.split(['/', '\\']).collect();
        let tail = |n: usize| parts[parts.len().saturating_sub(n)..].join("/");
        let without_extension = |s: String| match s.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => stem.to_string(),
            _ => s,
        };
        match self {
            SourceSet::Is3 => stem(parts.last().copied().unwrap_or_default()),
            SourceSet::VpoSs | SourceSet::VpoMs => {
                parts.last().copied().unwrap_or_default().split('.').next().unwrap_or_default().to_string()
            }
            SourceSet::S4 => without_extension(tail(3)),
            SourceSet::Ms3 => without_extension(tail(2)),
        }
    }

    /// IS3 pairs are found by file name, the released sets by their path below the root.
    fn by_file_name(self) -> bool {
        self == SourceSet::Is3
    }
}

const FRAME_FOLDERS: [&str; 3] = ["images", "visual_frames", "frames"];
const AUDIO_FOLDERS: [&str; 2] = ["audio_wav", "audio"];
const MASK_FOLDERS: [&str; 1] = ["gt_masks"];
/// The released sets' top folders: a listed path is read from the first of these on.
const ROOT_FOLDERS: [&str; 4] = ["visual_frames", "audio_wav", "gt_masks", "gray_masks"];

/// One (frame, source) pair of a per-pair set.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcePair {
    /// The pair's name (see [`SourceSet`]): unique in the list.
    pub name: String,
    pub frame: PathBuf,
    pub audio: PathBuf,
    /// The source's box on the 224×224 frame (`[0, 0, 0, 0]` where nothing sounds).
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
#[allow(dead_code)] // image and audio must be there, only the mask's path is used
struct MaskEntry {
    image: String,
    audio: String,
    gt_box: String,
    #[serde(default)]
    offset: Option<serde_json::Value>,
}

/// Each pair's mask file by pair name, when `metadata` holds the set's mask list; then
/// every pair of `pairs` must have its mask, and every mask file must exist. `None`
/// without a mask list.
pub fn read_masks(
    set: SourceSet,
    metadata: &Path,
    data: &Path,
    pairs: &[SourcePair],
) -> Result<Option<(PathBuf, HashMap<String, PathBuf>)>> {
    let Some(list) = set.mask_list_names().iter().map(|n| metadata.join(n)).find(|p| p.is_file()) else {
        return Ok(None);
    };
    let listed = parse_mask_list(set, &crate::error::read_file(&list)?, &list)?;
    let mut masks = HashMap::new();
    for (i, (name, file)) in listed.into_iter().enumerate() {
        let mask = if set.by_file_name() { first_folder(data, &MASK_FOLDERS)?.join(file) } else { data.join(file) };
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

/// A mask list's entries as (pair name, mask path: a file name for IS3, the path below
/// the root otherwise); `list` names it in errors.
pub fn parse_mask_list(set: SourceSet, bytes: &[u8], list: &Path) -> Result<Vec<(String, String)>> {
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
            let image = listed_path(set, list, i, "image", &e.image)?;
            let mask = listed_path(set, list, i, "gt_box", &e.gt_box)?;
            Ok((set.pair_name(&image), mask))
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

/// The set's box list in `metadata` (the first of [`SourceSet::list_names`] found).
pub fn find_list(set: SourceSet, metadata: &Path) -> Result<PathBuf> {
    let names = set.list_names();
    names.iter().map(|n| metadata.join(n)).find(|p| p.is_file()).ok_or_else(|| {
        DataError::invalid(metadata, format!("no {} list here (looked for {})", set.name(), names.join(", ")))
    })
}

fn first_folder(data: &Path, names: &[&str]) -> Result<PathBuf> {
    names.iter().map(|n| data.join(n)).find(|p| p.is_dir()).ok_or_else(|| {
        DataError::invalid(data, format!("no folder of the multi-source set here (looked for {})", names.join(", ")))
    })
}

/// A listed path as this set finds it: the file name (IS3), or the part from the first
/// of [`ROOT_FOLDERS`] on.
fn listed_path(set: SourceSet, list: &Path, i: usize, field: &str, path: &str) -> Result<String> {
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    let name = parts.last().copied().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." {
        return Err(DataError::invalid(list, format!("entry {i}: {field} {path:?} names no file")));
    }
    if set.by_file_name() {
        return Ok(name.to_string());
    }
    let Some(root) = parts.iter().position(|p| ROOT_FOLDERS.contains(p)) else {
        return Err(DataError::invalid(
            list,
            format!("entry {i}: {field} {path:?} has none of the release's folders ({})", ROOT_FOLDERS.join(", ")),
        ));
    };
    if parts[root..].iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(DataError::invalid(list, format!("entry {i}: {field} {path:?} is not a plain path")));
    }
    Ok(parts[root..].join("/"))
}

/// One entry of a per-pair list, before its files are looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedPair {
    /// The pair's name (see [`SourceSet`]).
    pub name: String,
    /// The frame's and the sound's file name (IS3) or path below the root.
    pub image: String,
    pub audio: String,
    pub gt_box: PixelBox,
}

/// A per-pair list's entries, checked (paths, unique pairs, finite boxes); `list` names it
/// in errors.
pub fn parse_source_list(set: SourceSet, bytes: &[u8], list: &Path) -> Result<Vec<ListedPair>> {
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
            let image = listed_path(set, list, i, "image", &e.image)?;
            let audio = listed_path(set, list, i, "audio", &e.audio)?;
            let name = set.pair_name(&image);
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
pub fn read_source_pairs(set: SourceSet, list: &Path, data: &Path) -> Result<Vec<SourcePair>> {
    let listed = parse_source_list(set, &crate::error::read_file(list)?, list)?;
    let (frames, audio) = if set.by_file_name() {
        (first_folder(data, &FRAME_FOLDERS)?, first_folder(data, &AUDIO_FOLDERS)?)
    } else {
        (data.to_path_buf(), data.to_path_buf())
    };
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
        let list = find_list(SourceSet::Is3, &tmp.path().join("metadata")).unwrap();
        let pairs = read_source_pairs(SourceSet::Is3, &list, tmp.path()).unwrap();
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
        let pairs = read_source_pairs(
            SourceSet::Is3,
            &find_list(SourceSet::Is3, &tmp.path().join("metadata")).unwrap(),
            tmp.path(),
        )
        .unwrap();
        let metadata = tmp.path().join("metadata");
        assert_eq!(read_masks(SourceSet::Is3, &metadata, tmp.path(), &pairs).unwrap(), None, "no mask list, no masks");
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
        let (found, masks) = read_masks(SourceSet::Is3, &metadata, tmp.path(), &pairs).unwrap().unwrap();
        assert_eq!(found, list);
        let bits = load_mask(&masks["cello_dog_7_dog"]).unwrap();
        assert_eq!(bits.len(), 224 * 224);
        assert!(bits.iter().enumerate().all(|(i, &b)| b == (i % 224 < 112)), "left half of the 224×224 frame");
        // A pair of the box list without a mask is an error naming the list.
        std::fs::write(&list, format!("[{}]", entry("cello_dog_7_cello"))).unwrap();
        let err = read_masks(SourceSet::Is3, &metadata, tmp.path(), &pairs).unwrap_err().to_string();
        assert!(err.contains("synthetic3240_seg.json") && err.contains("cello_dog_7_dog"), "{err}");
    }

    #[test]
    fn missing_files_and_bad_entries_name_the_list_and_entry() {
        let tmp = tempfile::tempdir().unwrap();
        layout(tmp.path(), "visual_frames");
        std::fs::remove_file(tmp.path().join("audio_wav/cello_dog_7_dog.wav")).unwrap();
        let list = tmp.path().join("metadata/synthetic3240_bbox.json");
        let err = read_source_pairs(SourceSet::Is3, &list, tmp.path()).unwrap_err().to_string();
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
            let err = read_source_pairs(SourceSet::Is3, &list, tmp.path()).unwrap_err().to_string();
            assert!(err.contains("synthetic3240_bbox.json") && err.contains(says), "{bad}: {err}");
        }
    }

    /// Entries as the released lists hold them (first entries of s4_box.json, ms3_box.json,
    /// vpo_ms_bbox.json and ms3_seg.json, paths of the authors' disks).
    const S4: &str = r#"[{"image": "/mnt/a/Single-source/s4_data/visual_frames/test/helicopter/0d9u2CymIxc/0d9u2CymIxc_1.png",
  "audio": "/mnt/a/Single-source/s4_data/audio_wav/test/helicopter/0d9u2CymIxc.wav", "gt_box": [21.0, 72.0, 196.0, 140.0]}]"#;
    const MS3: &str = r#"[{"image": "/mnt/a/Multi-sources/ms3_data/visual_frames/rq5RDUm2Hnk_1/rq5RDUm2Hnk_1.mp4_1.png",
  "audio": "/mnt/a/Multi-sources/ms3_data/audio_wav/test/rq5RDUm2Hnk_1.wav", "gt_box": [0.0, 0.0, 0.0, 0.0]}]"#;
    const MS3_SEG: &str = r#"[{"image": "/mnt/a/Multi-sources/ms3_data/visual_frames/rq5RDUm2Hnk_1/rq5RDUm2Hnk_1.mp4_1.png",
  "audio": "/mnt/a/Multi-sources/ms3_data/audio_wav/test/rq5RDUm2Hnk_1.wav",
  "gt_box": "/mnt/a/Multi-sources/ms3_data/gt_masks/test/rq5RDUm2Hnk_1/rq5RDUm2Hnk_1_1.png", "offset": 1}]"#;
    const VPO: &str = r#"[{"image": "/mnt/b/SSL_COCO/COCO_AV_MS/visual_frames/000000489267_157452.jpg",
  "audio": "/mnt/b/SSL_COCO/COCO_AV_MS/audio_wav/000000489267_157452.wav", "gt_box": [111.9, 106.0, 126.0, 114.0]}]"#;

    fn touch(root: &Path, relative: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn released_lists_are_read_by_their_path_below_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for (set, list, frame, audio, name) in [
            (
                SourceSet::S4,
                S4,
                "visual_frames/test/helicopter/0d9u2CymIxc/0d9u2CymIxc_1.png",
                "audio_wav/test/helicopter/0d9u2CymIxc.wav",
                "helicopter/0d9u2CymIxc/0d9u2CymIxc_1",
            ),
            (
                SourceSet::Ms3,
                MS3,
                "visual_frames/rq5RDUm2Hnk_1/rq5RDUm2Hnk_1.mp4_1.png",
                "audio_wav/test/rq5RDUm2Hnk_1.wav",
                "rq5RDUm2Hnk_1/rq5RDUm2Hnk_1.mp4_1",
            ),
            (
                SourceSet::VpoMs,
                VPO,
                "visual_frames/000000489267_157452.jpg",
                "audio_wav/000000489267_157452.wav",
                "000000489267_157452",
            ),
        ] {
            let path = root.join(format!("{}.json", set.name()));
            std::fs::write(&path, list).unwrap();
            let err = read_source_pairs(set, &path, root).unwrap_err().to_string();
            assert!(err.contains("entry 0") && err.contains(frame) && err.contains("does not exist"), "{err}");
            touch(root, frame);
            touch(root, audio);
            let pairs = read_source_pairs(set, &path, root).unwrap();
            assert_eq!(pairs[0].name, name);
            assert_eq!((pairs[0].frame.clone(), pairs[0].audio.clone()), (root.join(frame), root.join(audio)));
        }
        // MS3's empty box stays empty; VPO's float box is truncated.
        let ms3 = parse_source_list(SourceSet::Ms3, MS3.as_bytes(), Path::new("ms3_box.json")).unwrap();
        assert_eq!(ms3[0].gt_box, PixelBox { xmin: 0, ymin: 0, xmax: 0, ymax: 0 });
        let vpo = parse_source_list(SourceSet::VpoMs, VPO.as_bytes(), Path::new("vpo_ms_bbox.json")).unwrap();
        assert_eq!(vpo[0].gt_box, PixelBox { xmin: 111, ymin: 106, xmax: 126, ymax: 114 });
        // MS3's masks are named `<id>_<k>.png`, not like the frames: matched by the frame.
        let masks = parse_mask_list(SourceSet::Ms3, MS3_SEG.as_bytes(), Path::new("ms3_seg.json")).unwrap();
        assert_eq!(
            masks,
            vec![(
                "rq5RDUm2Hnk_1/rq5RDUm2Hnk_1.mp4_1".to_string(),
                "gt_masks/test/rq5RDUm2Hnk_1/rq5RDUm2Hnk_1_1.png".to_string()
            )]
        );
    }

    #[test]
    fn released_paths_without_the_release_folders_are_refused() {
        let list = Path::new("s4_box.json");
        for (image, says) in [
            ("/mnt/a/s4_data/frames/x/x_1.png", "none of the release's folders"),
            ("/mnt/a/s4_data/visual_frames/../x_1.png", "not a plain path"),
        ] {
            let json = format!(r#"[{{"image": "{image}", "audio": "/a/audio_wav/x.wav", "gt_box": [1, 2, 3, 4]}}]"#);
            let err = parse_source_list(SourceSet::S4, json.as_bytes(), list).unwrap_err().to_string();
            assert!(err.contains("s4_box.json") && err.contains("entry 0") && err.contains(says), "{err}");
        }
    }

    #[test]
    fn set_names_lists_and_clip_lengths() {
        for set in SourceSet::ALL {
            assert_eq!(SourceSet::parse(set.name()), Some(set));
        }
        assert_eq!(SourceSet::parse("interactive"), Some(SourceSet::Is3));
        assert_eq!(SourceSet::parse("vggss"), None);
        assert_eq!((SourceSet::S4.clip_seconds(), SourceSet::VpoSs.clip_seconds()), (5.0, 10.0));
        assert_eq!(SourceSet::VpoSs.list_names(), ["vpo_ss_bbox.json"]);
        assert_eq!(SourceSet::Ms3.mask_list_names(), ["ms3_seg.json"]);
    }
}
