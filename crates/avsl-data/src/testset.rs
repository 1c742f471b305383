//! The test sample list of the reference (docs/method.md §7 items 1–3): positives from the csv
//! list intersected with the files present, sorted; boxes from the annotations; extended
//! sets append their non-sounding pairs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use avsl_metrics::{BoxFormat, PixelBox};

use crate::annotations::{BoxTable, parse_vggss_json, read_flickr_folder};
use crate::embedded_lists::{ListSource, list_source};
use crate::error::{DataError, Result};
use crate::lists::{parse_plus_silent, parse_test_ids};

/// The test sets of the authors' evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestSet {
    Vggss,
    VggssPlusSilent,
    Flickr,
    FlickrPlusSilent,
    VggssHeard,
    VggssUnheard,
}

impl TestSet {
    pub const ALL: [TestSet; 6] = [
        TestSet::Vggss,
        TestSet::VggssPlusSilent,
        TestSet::Flickr,
        TestSet::FlickrPlusSilent,
        TestSet::VggssHeard,
        TestSet::VggssUnheard,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TestSet::Vggss => "vggss",
            TestSet::VggssPlusSilent => "vggss_plus_silent",
            TestSet::Flickr => "flickr",
            TestSet::FlickrPlusSilent => "flickr_plus_silent",
            TestSet::VggssHeard => "vggss_heard",
            TestSet::VggssUnheard => "vggss_unheard",
        }
    }

    pub fn parse(name: &str) -> Option<TestSet> {
        TestSet::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The error for a name that is no test set: every name a test set can take, these and
    /// the per-pair sets (`crate::source_sets`).
    pub fn unknown(name: &str) -> String {
        let names: Vec<&str> = TestSet::ALL
            .iter()
            .map(|t| t.name())
            .chain(crate::source_sets::SourceSet::ALL.iter().map(|s| s.name()))
            .collect();
        format!("unknown testset {name:?} (one of: {})", names.join(", "))
    }

    pub fn box_format(self) -> BoxFormat {
        match self {
            TestSet::Flickr | TestSet::FlickrPlusSilent => BoxFormat::Flickr,
            _ => BoxFormat::Vggss,
        }
    }

    /// The positives list in the metadata folder.
    pub fn list_file(self) -> &'static str {
        match self {
            TestSet::Vggss | TestSet::VggssPlusSilent => "vggss_test.csv",
            TestSet::Flickr | TestSet::FlickrPlusSilent => "flickr_test.csv",
            TestSet::VggssHeard => "vggss_heard_test.csv",
            TestSet::VggssUnheard => "vggss_unheard_test.csv",
        }
    }

    /// The non-sounding list of an extended set.
    /// Every list file the set reads from the metadata (or the built-in lists): the
    /// test ids, the VGG-SS boxes, the non-sounding pairs.
    pub fn list_files(self) -> Vec<&'static str> {
        let boxes = (self.box_format() == BoxFormat::Vggss).then_some("vggss.json");
        [Some(self.list_file()), boxes, self.plus_silent_file()].into_iter().flatten().collect()
    }

    pub fn plus_silent_file(self) -> Option<&'static str> {
        match self {
            TestSet::VggssPlusSilent => Some("vggss_test_plus_silent.csv"),
            TestSet::FlickrPlusSilent => Some("flickr_test_plus_silent.csv"),
            _ => None,
        }
    }
}

/// Where a test set's files are.
#[derive(Debug, Clone)]
pub struct TestSetPaths {
    pub data: PathBuf,
    /// The list files and VGG-SS boxes: a metadata folder or the built-in lists.
    pub lists: ListSource,
    /// Flickr XML folder (default `DATA/Annotations`).
    pub gt: PathBuf,
    /// Replaces the default `<set>_test_plus_silent.csv`.
    pub plus_silent_csv: Option<PathBuf>,
}

impl TestSetPaths {
    /// Which lists a set was built from, for `metrics.json`: the folder, or the built-in
    /// files with their SHA-256; a replaced non-sounding list by its path.
    pub fn describe_lists(&self, set: TestSet) -> serde_json::Value {
        let mut files = set.list_files();
        if self.plus_silent_csv.is_some() {
            files.retain(|f| Some(*f) != set.plus_silent_file());
        }
        let mut out = self.lists.describe(&files);
        if let Some(csv) = &self.plus_silent_csv {
            out["plus_silent_csv"] = serde_json::json!(csv);
        }
        out
    }

    /// The folders with their defaults: the lists from `metadata` (else `DATA/metadata`
    /// when it exists, else the built-in lists), the Flickr XML from `gt` (else
    /// `DATA/Annotations`); `plus_silent_csv` replaces the set's non-sounding list.
    pub fn with(
        data: &Path,
        metadata: Option<&Path>,
        gt: Option<&Path>,
        plus_silent_csv: Option<PathBuf>,
    ) -> TestSetPaths {
        TestSetPaths {
            data: data.to_path_buf(),
            lists: list_source(data, metadata),
            gt: gt.map_or_else(|| data.join("Annotations"), Path::to_path_buf),
            plus_silent_csv,
        }
    }

    /// The dataset's own `metadata/` folder when it has one, else the built-in lists.
    pub fn new(data: &Path) -> TestSetPaths {
        TestSetPaths {
            data: data.to_path_buf(),
            lists: list_source(data, None),
            gt: data.join("Annotations"),
            plus_silent_csv: None,
        }
    }
}

/// One frame/audio pair to evaluate. Results are keyed by `(name, has_boxes)`: a mismatched
/// negative carries the name of the positive whose frame it uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSample {
    pub name: String,
    pub video_id: String,
    pub audio_id: String,
    pub frame: PathBuf,
    pub audio: PathBuf,
    pub boxes: Vec<PixelBox>,
}

impl TestSample {
    pub fn has_boxes(&self) -> bool {
        !self.boxes.is_empty()
    }

    /// What the scorer needs of this sample.
    pub fn labelled(&self) -> avsl_metrics::scoring::Labelled<'_> {
        avsl_metrics::scoring::Labelled {
            name: &self.name,
            video: &self.video_id,
            audio: &self.audio_id,
            boxes: &self.boxes,
        }
    }
}

/// File stems present in a folder, cut at the first `suffix` as the reference does
/// (`name.split('.wav')[0]`).
fn stems(dir: &Path, suffix: &str) -> Result<BTreeSet<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut out = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.insert(name.split(suffix).next().unwrap_or("").to_string());
    }
    Ok(out)
}

/// Builds the sample list in the reference order (sorted positives, then negatives in
/// file order; the authors shuffle afterwards, which changes no metric).
pub fn build_test_list(paths: &TestSetPaths, set: TestSet) -> Result<Vec<TestSample>> {
    Ok(build_test_list_counted(paths, set)?.0)
}

/// [`build_test_list`], and how many distinct ids of the list have no frame or no audio
/// file: the reference's set is the list's ids that have both, so those are not in it.
pub fn build_test_list_counted(paths: &TestSetPaths, set: TestSet) -> Result<(Vec<TestSample>, usize)> {
    let frames_dir = paths.data.join("frames");
    let audio_dir = paths.data.join("audio");
    let (list, list_path) = paths.lists.read(set.list_file())?;
    let wanted: BTreeSet<String> = parse_test_ids(&list, &list_path)?.into_iter().collect();
    let present: BTreeSet<String> =
        stems(&audio_dir, ".wav")?.intersection(&stems(&frames_dir, ".jpg")?).cloned().collect();
    let positives: Vec<String> = wanted.intersection(&present).cloned().collect();
    let without_files = wanted.len() - positives.len();

    let (boxes, boxes_source): (BoxTable, PathBuf) = match set.box_format() {
        BoxFormat::Vggss => {
            let (json, p) = paths.lists.read("vggss.json")?;
            (parse_vggss_json(&json, &p)?, p)
        }
        BoxFormat::Flickr => (read_flickr_folder(&paths.gt)?, paths.gt.clone()),
    };

    let mut samples = Vec::with_capacity(positives.len());
    for id in positives {
        let b = boxes.get(&id).ok_or_else(|| {
            DataError::invalid(
                &boxes_source,
                format!("no annotation for test id {id:?} (listed in {})", list_path.display()),
            )
        })?;
        samples.push(TestSample {
            frame: frames_dir.join(format!("{id}.jpg")),
            audio: audio_dir.join(format!("{id}.wav")),
            name: id.clone(),
            video_id: id.clone(),
            audio_id: id,
            boxes: b.clone(),
        });
    }

    if let Some(default_csv) = set.plus_silent_file() {
        let (csv, csv_path) = match &paths.plus_silent_csv {
            Some(path) => (std::borrow::Cow::Owned(crate::error::read_file(path)?), path.clone()),
            None => paths.lists.read(default_csv)?,
        };
        for pair in parse_plus_silent(&csv, &csv_path)? {
            let frame = frames_dir.join(format!("{}.jpg", pair.video));
            let audio = audio_dir.join(format!("{}.wav", pair.audio));
            // The reference would silently replace a missing pair by a random sample.
            for p in [&frame, &audio] {
                if !p.is_file() {
                    return Err(DataError::invalid(
                        p,
                        format!(
                            "missing file of non-sounding pair ({}, {}) listed in {}",
                            pair.video,
                            pair.audio,
                            csv_path.display()
                        ),
                    ));
                }
            }
            samples.push(TestSample {
                name: pair.video.clone(),
                video_id: pair.video,
                audio_id: pair.audio,
                frame,
                audio,
                boxes: Vec::new(),
            });
        }
    }
    Ok((samples, without_files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_lists_every_set_and_paths_take_their_defaults() {
        let message = TestSet::unknown("vgss");
        assert!(message.contains("\"vgss\"") && message.contains("vggss_plus_silent") && message.contains("ms3"));
        let p = TestSetPaths::with(Path::new("/d"), None, None, None);
        assert_eq!(p.gt, Path::new("/d/Annotations"));
        let p = TestSetPaths::with(Path::new("/d"), None, Some(Path::new("/x")), None);
        assert_eq!(p.gt, Path::new("/x"));
    }
}
