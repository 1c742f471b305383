//! `avsl check`: every problem of a dataset, named, before a long run trips on it.
//!
//! Parses the lists and annotations the run would use, then decodes every frame and
//! audio file fully (in parallel), exactly as training or evaluation would, and reports
//! each problem on its own line with the file it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Result, bail};
use avsl_data::annotations::{BoxTable, read_flickr_folder, read_vggss_json};
use avsl_data::audio::{WINDOW_SECONDS, model_signal, to_mono};
use avsl_data::lists::{read_id_list, read_plus_silent, read_test_ids};
use avsl_data::testset::TestSet;
use avsl_data::wav::read_wav;
use avsl_metrics::{BoxFormat, PixelBox};
use clap::Args;
use rayon::prelude::*;

use crate::dataset_args::{DatasetArgs, parse_testset};
use crate::progress;

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Check the files of this test set (vggss, vggss_plus_silent, flickr, …).
    #[arg(long, conflicts_with = "train_list", required_unless_present = "train_list")]
    pub testset: Option<String>,
    /// Check the files of this training id list.
    #[arg(long)]
    pub train_list: Option<PathBuf>,
    /// Decoding threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// One problem: the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Problem {
    file: PathBuf,
    what: String,
}

#[derive(Default)]
struct Report {
    problems: BTreeSet<Problem>,
}

impl Report {
    fn add(&mut self, file: &Path, what: impl Into<String>) {
        self.problems.insert(Problem { file: file.to_path_buf(), what: what.into() });
    }
}

/// The frame and audio files a run would read, and where each was listed.
#[derive(Default)]
struct Files {
    frames: BTreeMap<PathBuf, String>,
    audio: BTreeMap<PathBuf, String>,
}

fn duplicates(ids: &[String]) -> Vec<&String> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|id| !seen.insert(id.as_str())).collect()
}

fn check_boxes(report: &mut Report, source: &Path, id: &str, boxes: &[PixelBox], format: BoxFormat) {
    for b in boxes {
        if b.xmax <= b.xmin || b.ymax <= b.ymin {
            report.add(source, format!("bad box for {id}: {b:?} has no area on the 224 grid (an empty ground truth)"));
        } else if format == BoxFormat::Flickr && (b.xmin < 0 || b.ymin < 0 || b.xmax > 224 || b.ymax > 224) {
            report.add(source, format!("bad box for {id}: {b:?} lies partly outside the 256 annotation scale"));
        }
    }
}

fn testset_files(args: &CheckArgs, set: TestSet, report: &mut Report) -> Result<Files> {
    let paths = args.dataset.paths(None);
    let (metadata, data) = (&paths.metadata, &paths.data);
    let list = metadata.join(set.list_file());
    let ids = read_test_ids(&list)?;
    for id in duplicates(&ids) {
        report.add(&list, format!("duplicate id {id}"));
    }
    let (boxes, source): (BoxTable, PathBuf) = match set.box_format() {
        BoxFormat::Vggss => {
            let p = metadata.join("vggss.json");
            (read_vggss_json(&p)?, p)
        }
        BoxFormat::Flickr => (read_flickr_folder(&paths.gt)?, paths.gt.clone()),
    };
    let mut files = Files::default();
    for id in ids.iter().collect::<BTreeSet<_>>() {
        let listed = format!("listed in {}", list.display());
        match boxes.get(id) {
            None => report.add(&source, format!("no annotation for test id {id} ({listed})")),
            Some(b) => check_boxes(report, &source, id, b, set.box_format()),
        }
        files.frames.insert(data.join(format!("frames/{id}.jpg")), listed.clone());
        files.audio.insert(data.join(format!("audio/{id}.wav")), listed);
    }
    if let Some(name) = set.plus_silent_file() {
        let csv = metadata.join(name);
        for pair in read_plus_silent(&csv)? {
            let listed = format!("non-sounding pair ({}, {}) in {}", pair.video, pair.audio, csv.display());
            files.frames.insert(data.join(format!("frames/{}.jpg", pair.video)), listed.clone());
            files.audio.insert(data.join(format!("audio/{}.wav", pair.audio)), listed);
        }
    }
    Ok(files)
}

fn train_files(args: &CheckArgs, list: &Path, report: &mut Report) -> Result<Files> {
    let ids = read_id_list(list)?;
    for id in duplicates(&ids) {
        report.add(list, format!("duplicate id {id}"));
    }
    let mut files = Files::default();
    for id in &ids {
        let listed = format!("listed in {}", list.display());
        files.frames.insert(args.dataset.data.join(format!("frames/{id}.jpg")), listed.clone());
        files.audio.insert(args.dataset.data.join(format!("audio/{id}.wav")), listed);
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

pub fn run(args: CheckArgs) -> Result<()> {
    let mut report = Report::default();
    let files = match (&args.testset, &args.train_list) {
        (Some(name), _) => testset_files(&args, parse_testset(name)?, &mut report)?,
        (None, Some(list)) => train_files(&args, list, &mut report)?,
        (None, None) => bail!("give --testset NAME or --train-list FILE"),
    };
    let jobs: Vec<(&PathBuf, &String, bool)> =
        files.frames.iter().map(|(p, l)| (p, l, true)).chain(files.audio.iter().map(|(p, l)| (p, l, false))).collect();
    let threads = crate::device::thread_count(args.threads);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let bar = progress::bar(jobs.len(), "files");
    let found = Mutex::new(Vec::new());
    pool.install(|| {
        jobs.par_iter().for_each(|(path, listed, is_frame)| {
            let result = if !path.exists() {
                Err(format!("{}: missing ({listed})", path.display()))
            } else if *is_frame {
                avsl_data::image_io::read_rgb(path).map(|_| ()).map_err(|e| e.to_string())
            } else {
                check_audio(path)
            };
            if let Err(message) = result {
                found.lock().expect("no panics while holding the lock").push(((*path).clone(), message));
            }
            bar.inc(1);
        })
    });
    bar.finish_and_clear();
    for (path, message) in found.into_inner().expect("workers finished") {
        let prefix = format!("{}: ", path.display());
        report.add(&path, message.strip_prefix(&prefix).unwrap_or(&message).to_string());
    }
    for p in &report.problems {
        println!("{}: {}", p.file.display(), p.what);
    }
    let bad_files: BTreeSet<&PathBuf> = report.problems.iter().map(|p| &p.file).collect();
    println!(
        "checked {} frames and {} audio files: {} problem(s) in {} file(s)",
        files.frames.len(),
        files.audio.len(),
        report.problems.len(),
        bad_files.len()
    );
    if report.problems.is_empty() { Ok(()) } else { bail!("{} problem(s) found", report.problems.len()) }
}
