//! Every problem of a dataset, named, before a long run trips on it (`avsl check`): the
//! lists and annotations a run would use are parsed, then every frame and audio file is
//! decoded fully (in parallel), exactly as training or evaluation would, and each problem
//! is reported with the file it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use avsl_metrics::{BoxFormat, PixelBox};
use rayon::prelude::*;

use crate::annotations::{BoxTable, parse_vggss_json, read_flickr_folder};
use crate::audio::{WINDOW_SECONDS, model_signal, to_mono};
use crate::embedded_lists::ListSource;
use crate::error::{DataError, Result};
use crate::lists::{parse_plus_silent, parse_test_ids, read_id_list};
use crate::report::Report;
use crate::testset::{TestSet, TestSetPaths};
use crate::wav::read_wav;

/// Which files to check.
pub enum CheckList {
    /// A test set's list, annotations and (extended sets) non-sounding pairs.
    TestSet(TestSet),
    /// A training id list.
    TrainList(PathBuf),
}

pub struct CheckOptions {
    pub paths: TestSetPaths,
    pub list: CheckList,
    /// Decoding threads.
    pub threads: usize,
}

/// What a check found.
pub struct Checked {
    pub frames: usize,
    pub audio: usize,
    /// Sorted by file.
    pub problems: Vec<FileProblem>,
    /// A test set's ids, and those of them without a frame or an audio file (sorted): the
    /// incomplete downloads that shrink a set without an error.
    pub official: Option<OfficialIds>,
    /// Where the list files came from.
    pub lists: Option<ListSource>,
}

pub struct OfficialIds {
    pub listed: usize,
    pub missing: Vec<String>,
}

/// Parses the lists, decodes every file, and collects every problem.
pub fn check(options: &CheckOptions, report: &dyn Report) -> Result<Checked> {
    let mut findings = Findings::default();
    let files = match &options.list {
        CheckList::TestSet(set) => testset_files(&options.paths, *set, &mut findings)?,
        CheckList::TrainList(list) => train_files(&options.paths.data, list, &mut findings)?,
    };
    let jobs: Vec<(&PathBuf, &String, bool)> =
        files.frames.iter().map(|(p, l)| (p, l, true)).chain(files.audio.iter().map(|(p, l)| (p, l, false))).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| DataError::invalid(&options.paths.data, format!("{} threads: {e}", options.threads)))?;
    report.phase("files", jobs.len(), 0);
    let found = Mutex::new(Vec::new());
    let absent = Mutex::new(BTreeSet::new());
    pool.install(|| {
        jobs.par_iter().for_each(|(path, listed, is_frame)| {
            let result = if !path.exists() {
                absent.lock().expect("no panics while holding the lock").insert((*path).clone());
                Err(format!("{}: missing ({listed})", path.display()))
            } else if *is_frame {
                crate::image_io::read_rgb(path).map(|_| ()).map_err(|e| e.to_string())
            } else {
                check_audio(path)
            };
            if let Err(message) = result {
                found.lock().expect("no panics while holding the lock").push(((*path).clone(), message));
            }
            report.advance(1, None);
        })
    });
    report.phase_end();
    for (path, message) in found.into_inner().expect("workers finished") {
        let prefix = format!("{}: ", path.display());
        findings.add(&path, message.strip_prefix(&prefix).unwrap_or(&message).to_string());
    }
    // The official ids whose frame or audio the decoding pass found absent.
    let (absent, data) = (absent.into_inner().expect("workers finished"), &options.paths.data);
    let official = files.official.as_ref().map(|ids| OfficialIds {
        listed: ids.len(),
        missing: ids
            .iter()
            .filter(|id| {
                absent.contains(&data.join(format!("frames/{id}.jpg")))
                    || absent.contains(&data.join(format!("audio/{id}.wav")))
            })
            .cloned()
            .collect(),
    });
    let lists = matches!(options.list, CheckList::TestSet(_)).then(|| options.paths.lists.clone());
    Ok(Checked {
        frames: files.frames.len(),
        audio: files.audio.len(),
        problems: findings.problems.into_iter().collect(),
        official,
        lists,
    })
}

/// One problem: the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileProblem {
    pub file: PathBuf,
    pub what: String,
}

/// The problems found so far, sorted by file.
#[derive(Default)]
struct Findings {
    problems: BTreeSet<FileProblem>,
}

impl Findings {
    fn add(&mut self, file: &Path, what: impl Into<String>) {
        self.problems.insert(FileProblem { file: file.to_path_buf(), what: what.into() });
    }
}

/// The frame and audio files a run would read, and where each was listed.
#[derive(Default)]
struct Files {
    frames: BTreeMap<PathBuf, String>,
    audio: BTreeMap<PathBuf, String>,
    /// A test set's listed ids (its positives).
    official: Option<BTreeSet<String>>,
}

fn duplicates(ids: &[String]) -> Vec<&String> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|id| !seen.insert(id.as_str())).collect()
}

fn check_boxes(findings: &mut Findings, source: &Path, id: &str, boxes: &[PixelBox], format: BoxFormat) {
    for b in boxes {
        if b.xmax <= b.xmin || b.ymax <= b.ymin {
            findings
                .add(source, format!("bad box for {id}: {b:?} has no area on the 224 grid (an empty ground truth)"));
        } else if format == BoxFormat::Flickr && (b.xmin < 0 || b.ymin < 0 || b.xmax > 224 || b.ymax > 224) {
            findings.add(source, format!("bad box for {id}: {b:?} lies partly outside the 256 annotation scale"));
        }
    }
}

fn testset_files(paths: &TestSetPaths, set: TestSet, findings: &mut Findings) -> Result<Files> {
    let data = &paths.data;
    let (bytes, list) = paths.lists.read(set.list_file())?;
    let ids = parse_test_ids(&bytes, &list)?;
    for id in duplicates(&ids) {
        findings.add(&list, format!("duplicate id {id}"));
    }
    let (boxes, source): (BoxTable, PathBuf) = match set.box_format() {
        BoxFormat::Vggss => {
            let (json, p) = paths.lists.read("vggss.json")?;
            (parse_vggss_json(&json, &p)?, p)
        }
        BoxFormat::Flickr => (read_flickr_folder(&paths.gt)?, paths.gt.clone()),
    };
    let mut files = Files { official: Some(ids.iter().cloned().collect()), ..Files::default() };
    for id in ids.iter().collect::<BTreeSet<_>>() {
        let listed = format!("listed in {}", list.display());
        match boxes.get(id) {
            None => findings.add(&source, format!("no annotation for test id {id} ({listed})")),
            Some(b) => check_boxes(findings, &source, id, b, set.box_format()),
        }
        files.frames.insert(data.join(format!("frames/{id}.jpg")), listed.clone());
        files.audio.insert(data.join(format!("audio/{id}.wav")), listed);
    }
    if let Some(name) = set.plus_silent_file() {
        let (bytes, csv) = paths.lists.read(name)?;
        for pair in parse_plus_silent(&bytes, &csv)? {
            let listed = format!("non-sounding pair ({}, {}) in {}", pair.video, pair.audio, csv.display());
            files.frames.insert(data.join(format!("frames/{}.jpg", pair.video)), listed.clone());
            files.audio.insert(data.join(format!("audio/{}.wav", pair.audio)), listed);
        }
    }
    Ok(files)
}

fn train_files(data: &Path, list: &Path, findings: &mut Findings) -> Result<Files> {
    let ids = read_id_list(list)?;
    for id in duplicates(&ids) {
        findings.add(list, format!("duplicate id {id}"));
    }
    let mut files = Files::default();
    for id in &ids {
        let listed = format!("listed in {}", list.display());
        files.frames.insert(data.join(format!("frames/{id}.jpg")), listed.clone());
        files.audio.insert(data.join(format!("audio/{id}.wav")), listed);
    }
    Ok(files)
}

/// Decodes one audio file the way the model input is made, including the 3 s window.
fn check_audio(path: &Path) -> std::result::Result<(), String> {
    let (pcm, _) = read_wav(path).map_err(|e| e.to_string())?;
    let mono = to_mono(&pcm).map_err(|p| format!("{}: {p}", path.display()))?;
    model_signal(&mono, pcm.sample_rate, WINDOW_SECONDS).map_err(|p| format!("{}: {p}", path.display()))?;
    Ok(())
}
