//! A folder of the user's videos → a dataset in the authors' layout (`frames/<id>.jpg`,
//! the middle frame; `audio/<id>.wav`, 16 kHz mono 16-bit PCM), an id list usable for
//! training, and a report of every video left out and why (`avsl prepare`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde_json::json;

use crate::error::{BadFile, DataError, Result};
use crate::fsutil::{create_dir_all, write_atomic};
use crate::image_io::encode_jpeg;
use crate::lock::Lock;
use crate::report::Report;
use crate::segments::{SEGMENT_SECONDS, Segment, match_videos, read_segments};
use crate::video::{Ffmpeg, VIDEO_EXTENSIONS};
use crate::wav::{Pcm16, write_wav_i16};

/// The sample rate of the prepared audio (the authors' VGG-Sound files are 16 kHz).
pub const PREPARED_SAMPLE_RATE: u32 = 16_000;
/// JPEG quality of the prepared frames.
const FRAME_QUALITY: u8 = 95;
/// The id list written under `DATA/metadata/`.
pub const PREPARED_LIST: &str = "prepared.txt";
pub const REPORT: &str = "prepare_report.json";

/// A video found under the videos folder and the dataset id it gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub path: PathBuf,
    /// The path relative to the videos folder, as shown in reports.
    pub relative: String,
    pub id: String,
    /// With `--segments`: where the sample's 10 s start in the video (else the whole video).
    pub segment_start: Option<f64>,
}

enum Outcome {
    Prepared {
        duration: f64,
    },
    /// Both files were there from an earlier run and were left alone.
    Kept,
    Skipped(String),
    /// Not begun: the preparation was asked to stop.
    NotStarted,
}

/// Every video file under `dir` (extensions matched without case), sorted by relative
/// path. Symbolic links to folders are not followed (no cycles).
pub fn find_videos(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| DataError::io(&folder, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| DataError::io(&folder, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| DataError::io(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let is_video = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if is_video && path.is_file() {
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                out.push((path, relative));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// The id of a video from its relative path: the path without its extension, folders
/// joined by `__`, every character other than ASCII letters, digits, `-`, `_` and `.`
/// replaced by `_`, and no leading `.` (so `clips/my cat.mp4` → `clips__my_cat`).
pub fn base_id(relative: &str) -> String {
    let without_ext = match relative.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() && !stem.ends_with('/') => stem,
        _ => relative,
    };
    let joined = without_ext.split('/').filter(|c| !c.is_empty()).collect::<Vec<_>>().join("__");
    let mut id: String =
        joined.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if id.starts_with('.') {
        id.replace_range(0..1, "_");
    }
    if id.is_empty() { "video".into() } else { id }
}

/// Ids for videos in sorted order: each its [`base_id`], and a clash (two paths that
/// clean up to the same id, or `a.mp4` beside `a.mkv`) gets `-2`, `-3`, … in that order.
pub fn assign_ids(videos: Vec<(PathBuf, String)>) -> Vec<Source> {
    let mut taken = BTreeSet::new();
    videos
        .into_iter()
        .map(|(path, relative)| {
            let base = base_id(&relative);
            let mut id = base.clone();
            let mut k = 2;
            while !taken.insert(id.clone()) {
                id = format!("{base}-{k}");
                k += 1;
            }
            Source { path, relative, id, segment_start: None }
        })
        .collect()
}

fn prepare_one(ff: &Ffmpeg, s: &Source, out: &Path, min_seconds: f64, overwrite: bool) -> Outcome {
    let frame_path = out.join("frames").join(format!("{}.jpg", s.id));
    let audio_path = out.join("audio").join(format!("{}.wav", s.id));
    if !overwrite {
        match (frame_path.exists(), audio_path.exists()) {
            (true, true) => return Outcome::Kept,
            (false, false) => {}
            (frame, _) => {
                let (there, missing) = if frame { ("frames", "audio") } else { ("audio", "frames") };
                return Outcome::Skipped(format!(
                    "{there}/{} exists but its {missing} file does not: --overwrite prepares it again",
                    s.id
                ));
            }
        }
    }
    match std::fs::metadata(&s.path) {
        Ok(m) if m.len() == 0 => return Outcome::Skipped("zero bytes".into()),
        Ok(_) => {}
        Err(e) => return Outcome::Skipped(format!("unreadable: {e}")),
    }
    let probe = match ff.probe(&s.path) {
        Ok(p) => p,
        Err(e) => return Outcome::Skipped(format!("undecodable: {}", BadFile::from(e).problem)),
    };
    if probe.video.is_none() {
        return Outcome::Skipped("no video stream".into());
    }
    if probe.audio.is_none() {
        return Outcome::Skipped("no audio stream".into());
    }
    if probe.duration < min_seconds {
        return Outcome::Skipped(format!("too short: {:.2} s (< {min_seconds} s, --min-seconds)", probe.duration));
    }
    // The whole video, or its segment (cut short where the video ends).
    let (start, end) = match s.segment_start {
        None => (0.0, probe.duration),
        Some(start) if start >= probe.duration => {
            return Outcome::Skipped(format!(
                "the video is {:.2} s long; the segment starts at {start} s",
                probe.duration
            ));
        }
        Some(start) => (start, (start + SEGMENT_SECONDS).min(probe.duration)),
    };
    let frame = match ff.frame_at(&s.path, (start + end) / 2.0, 1) {
        Ok(f) => f,
        Err(e) => return Outcome::Skipped(format!("undecodable video: {}", BadFile::from(e).problem)),
    };
    let window = s.segment_start.map(|start| (start, SEGMENT_SECONDS));
    let samples = match ff.audio_mono_window(&s.path, PREPARED_SAMPLE_RATE, 1, window) {
        Ok(a) => a,
        Err(e) => return Outcome::Skipped(format!("undecodable audio: {}", BadFile::from(e).problem)),
    };
    let audio_seconds = samples.len() as f64 / PREPARED_SAMPLE_RATE as f64;
    if audio_seconds < min_seconds {
        return Outcome::Skipped(format!(
            "too short: {audio_seconds:.2} s of audio (< {min_seconds} s, --min-seconds)"
        ));
    }
    let pcm = Pcm16 { channels: 1, sample_rate: PREPARED_SAMPLE_RATE, samples };
    if let Err(e) =
        write_atomic(&frame_path, &encode_jpeg(&frame, FRAME_QUALITY)).and_then(|()| write_wav_i16(&audio_path, &pcm))
    {
        return Outcome::Skipped(format!("cannot write: {e}"));
    }
    Outcome::Prepared { duration: probe.duration }
}

/// What `avsl prepare` turns into a dataset.
pub struct PrepareOptions {
    /// Folder of videos, searched with its subfolders.
    pub videos: PathBuf,
    /// Dataset root to write: `frames/`, `audio/`, `metadata/prepared.txt`, the report.
    pub out: PathBuf,
    /// Videos decoded at the same time.
    pub threads: usize,
    /// Videos shorter than this many seconds (container or audio) are skipped.
    pub min_seconds: f64,
    /// Prepare again videos whose frame or audio file already exists (replacing them).
    pub overwrite: bool,
    /// Set (by a signal handler, say) to stop: the videos in hand are finished, no new one
    /// is begun, and the list and report describe what was done (a run again keeps it).
    pub stop: Option<Arc<AtomicBool>>,
    /// VGG-Sound's segment list (`vggsound.csv`): one sample per row, `<ytid>_<start:06d>`,
    /// the 10 s from `start` of the video `<ytid>.*`, instead of one per video.
    pub segments: Option<PathBuf>,
}

/// What a preparation did (also in the report file).
pub struct Prepared {
    pub found: usize,
    pub prepared: usize,
    pub kept: usize,
    /// (relative video path, why)
    pub skipped: Vec<(String, String)>,
    /// (relative video path, id, why)
    pub renamed: Vec<(String, String, String)>,
    /// The id list written (`metadata/prepared.txt`).
    pub list: PathBuf,
    pub report: PathBuf,
    pub seconds: f64,
    /// Videos not begun because `stop` was set (0 when it ran to the end).
    pub not_started: usize,
    /// With `--segments`: the listed samples whose video is not in the folder.
    pub missing: Vec<String>,
}

/// The samples of a segment list, each with its video, and the ids without a video.
fn segment_sources(list: &Path, videos: Vec<(PathBuf, String)>) -> Result<(Vec<Source>, Vec<String>, Vec<Segment>)> {
    let segments = read_segments(list)?;
    let (found, missing) = match_videos(&segments, &videos);
    let sources = found
        .into_iter()
        .map(|(segment, path, relative)| Source {
            path,
            relative,
            id: segment.id(),
            segment_start: Some(segment.start as f64),
        })
        .collect();
    let missing = missing.iter().map(|s| s.id()).collect();
    Ok((sources, missing, segments))
}

/// Every video under `options.videos` → its middle frame and its audio in the authors'
/// layout under `options.out`, an id list and a report of every video left out and why.
pub fn prepare(options: &PrepareOptions, report: &dyn Report) -> Result<Prepared> {
    let ff =
        Ffmpeg::locate().map_err(|e| DataError::invalid(&options.videos, format!("avsl prepare needs FFmpeg: {e}")))?;
    if !options.videos.is_dir() {
        return Err(DataError::invalid(&options.videos, "--videos is not a folder"));
    }
    if options.min_seconds.is_nan() || options.min_seconds < 0.0 {
        return Err(DataError::invalid(&options.videos, "--min-seconds must be at least 0"));
    }
    let videos = find_videos(&options.videos)?;
    if videos.is_empty() {
        return Err(DataError::invalid(
            &options.videos,
            format!("no videos ({}) in this folder or its subfolders", VIDEO_EXTENSIONS.join(", ")),
        ));
    }
    let (sources, missing, segments) = match &options.segments {
        Some(list) => segment_sources(list, videos)?,
        None => (assign_ids(videos), Vec::new(), Vec::new()),
    };
    for sub in ["frames", "audio", "metadata"] {
        create_dir_all(&options.out.join(sub))?;
    }
    let _lock = Lock::folder(&options.out, report)?;
    let stopped = || options.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| DataError::invalid(&options.videos, format!("{} threads: {e}", options.threads)))?;
    report.phase("videos", sources.len(), 0);
    let start = std::time::Instant::now();
    let outcomes: Vec<Outcome> = pool.install(|| {
        sources
            .par_iter()
            .map(|s| {
                if stopped() {
                    return Outcome::NotStarted;
                }
                let o = prepare_one(&ff, s, &options.out, options.min_seconds, options.overwrite);
                report.advance(1, None);
                o
            })
            .collect()
    });
    report.phase_end();

    let mut ids = String::new();
    let (mut prepared, mut kept) = (Vec::new(), Vec::new());
    let (mut skipped, mut renamed) = (Vec::new(), Vec::new());
    let (mut skipped_json, mut renamed_json) = (Vec::new(), Vec::new());
    let mut not_started = 0;
    for (s, o) in sources.iter().zip(&outcomes) {
        let base = base_id(&s.relative);
        if s.segment_start.is_none() && s.id != base {
            let why = format!("{base} was taken");
            renamed_json.push(json!({"video": s.relative, "id": s.id, "why": why}));
            renamed.push((s.relative.clone(), s.id.clone(), why));
        }
        match o {
            Outcome::Prepared { duration } => {
                ids.push_str(&format!("{}\n", s.id));
                prepared.push(json!({"video": s.relative, "id": s.id, "duration": duration}));
            }
            Outcome::Kept => {
                ids.push_str(&format!("{}\n", s.id));
                kept.push(json!({"video": s.relative, "id": s.id}));
            }
            Outcome::Skipped(why) => {
                skipped_json.push(json!({"video": s.relative, "id": s.id, "reason": why}));
                skipped.push((s.relative.clone(), why.clone()));
            }
            Outcome::NotStarted => not_started += 1,
        }
    }
    let list = options.out.join("metadata").join(PREPARED_LIST);
    write_atomic(&list, ids.as_bytes())?;
    // Per split of the segment list: the prepared samples of each, for training and test lists.
    let done: std::collections::HashSet<&str> = ids.lines().collect();
    let mut splits: std::collections::BTreeMap<&str, String> = std::collections::BTreeMap::new();
    for segment in segments.iter().filter(|s| done.contains(s.id().as_str())) {
        splits.entry(segment.split.as_str()).or_default().push_str(&format!("{}\n", segment.id()));
    }
    for (split, ids) in &splits {
        let safe: String = split.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        write_atomic(&options.out.join("metadata").join(format!("segments_{safe}.txt")), ids.as_bytes())?;
    }
    let summary = json!({
        "videos": options.videos,
        "found": sources.len(),
        "prepared": prepared,
        "kept": kept,
        "skipped": skipped_json,
        "renamed": renamed_json,
        "list": list,
        "audio": {"sample_rate": PREPARED_SAMPLE_RATE, "channels": 1, "format": "16-bit PCM WAV", "content": if options.segments.is_some() { "the segment's 10 s of the first audio stream" } else { "the whole first audio stream" }},
        "frame": {"at": "half the duration (of the segment, with --segments)", "format": "JPEG", "quality": FRAME_QUALITY},
        "min_seconds": options.min_seconds,
        "not_started": not_started,
        "segments": options.segments,
        "listed_without_video": missing,
    });
    let report_file = options.out.join(REPORT);
    write_atomic(&report_file, serde_json::to_string_pretty(&summary).expect("reports serialise").as_bytes())?;
    Ok(Prepared {
        found: sources.len(),
        prepared: prepared.len(),
        kept: kept.len(),
        skipped,
        renamed,
        list,
        report: report_file,
        seconds: start.elapsed().as_secs_f64(),
        not_started,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_safe_file_names_and_unique() {
        assert_eq!(base_id("-0BIyqJj9ZU_000030.mp4"), "-0BIyqJj9ZU_000030");
        assert_eq!(base_id("clips/my cat (1).MOV"), "clips__my_cat__1_");
        assert_eq!(base_id(".hidden.mp4"), "_hidden");
        assert_eq!(base_id("a/b/ünï.webm"), "a__b___n_");
        let videos = ["a b.mp4", "a_b.mkv", "a_b.mp4", "x/y.avi", "x__y.mov"]
            .iter()
            .map(|r| (PathBuf::from(r), r.to_string()))
            .collect();
        let ids: Vec<String> = assign_ids(videos).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["a_b", "a_b-2", "a_b-3", "x__y", "x__y-2"]);
    }
}
