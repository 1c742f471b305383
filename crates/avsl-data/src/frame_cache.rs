//! Frames decoded and resized once: the 8-bit RGB images the loader would otherwise make
//! from every JPEG on every epoch (decoding and resizing are most of a sample's cost).
//!
//! A cache is a folder with `frames.bin` (the images' raw RGB bytes, one after another)
//! and `index.json` (per frame: its path, where its bytes are, its size, and the source
//! file's length and modification time). Two kinds exist, one per pipeline: `train` holds
//! `Resize(246)` (the random crop and flip still happen per epoch, from the cached pixels,
//! so augmentation is unchanged) and `test` holds the 224×224 test resize. The bytes are
//! exactly what the uncached path computes, so results do not depend on the cache.
//!
//! A source frame that changed after the cache was built (length or modification time)
//! is an error naming it, never a silently stale image. A frame that could not be decoded
//! when the cache was built keeps its error, so `--skip-bad` reports it as before.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::image_io::{RgbImage, read_rgb};
use crate::transform::{INPUT_SIZE, resize_shorter_side, test_resize, train_resize};

const INDEX: &str = "index.json";
const FRAMES: &str = "frames.bin";
/// The files of a cache in its folder.
pub const CACHE_FILES: [&str; 2] = [INDEX, FRAMES];
const VERSION: u32 = 1;

/// Which pipeline's resize the cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CachedResize {
    /// Shorter side 246 (training: the random crop is taken from it).
    Train,
    /// 224×224 (evaluation).
    Test,
}

impl CachedResize {
    pub fn name(self) -> &'static str {
        match self {
            CachedResize::Train => "train",
            CachedResize::Test => "test",
        }
    }

    /// The resize itself, on a decoded frame, for network inputs of side `size`.
    pub fn apply(self, img: &RgbImage, size: usize) -> RgbImage {
        match self {
            CachedResize::Train => resize_shorter_side(img, train_resize(size)),
            CachedResize::Test => test_resize(img, size),
        }
    }
}

/// Length and modification time of a source file: what tells a stale entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    len: u64,
    mtime_ns: u128,
}

impl Stamp {
    fn of(path: &Path) -> Result<Stamp> {
        let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
        let mtime = meta.modified().map_err(|e| DataError::io(path, e))?;
        let mtime_ns = mtime.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Ok(Stamp { len: meta.len(), mtime_ns })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    frame: PathBuf,
    source: Stamp,
    offset: u64,
    width: usize,
    height: usize,
    /// Why the frame could not be read when the cache was built.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Index {
    avsl_frame_cache: u32,
    resize: CachedResize,
    /// The network input side the frames were resized for (caches written before it was
    /// recorded hold the published 224).
    #[serde(default = "published_size")]
    size: usize,
    entries: Vec<Entry>,
}

fn published_size() -> usize {
    INPUT_SIZE
}

impl std::fmt::Debug for FrameCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (dir, resize, n) = (self.dir.display(), self.resize.name(), self.entries.len());
        write!(f, "FrameCache({dir}, {resize} at {}, {n} frames)", self.size)
    }
}

pub struct FrameCache {
    dir: PathBuf,
    resize: CachedResize,
    size: usize,
    frames: File,
    entries: Vec<Entry>,
    by_frame: HashMap<PathBuf, usize>,
}

/// Removes the `frames.bin` of builds that were killed (the caller writes the folder
/// under its lock, so no other build is in progress).
fn remove_partial_builds(dir: &Path) -> Result<()> {
    let prefix = format!(".{FRAMES}.partial-");
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)) {
            std::fs::remove_file(&path).map_err(|e| DataError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Paths are compared in absolute form, so `--data d` and `--data ./d` find the same entries.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

impl FrameCache {
    /// Opens the cache in `dir` (an error if there is none or it is damaged).
    pub fn open(dir: &Path) -> Result<FrameCache> {
        let index_path = dir.join(INDEX);
        let text = std::fs::read_to_string(&index_path).map_err(|e| DataError::io(&index_path, e))?;
        let index: Index = serde_json::from_str(&text)
            .map_err(|e| DataError::invalid(&index_path, format!("not a frame cache index: {e}")))?;
        if index.avsl_frame_cache != VERSION {
            return Err(DataError::invalid(
                &index_path,
                format!("frame cache version {} (this avsl reads {VERSION}); rebuild it", index.avsl_frame_cache),
            ));
        }
        let frames_path = dir.join(FRAMES);
        let frames = File::open(&frames_path).map_err(|e| DataError::io(&frames_path, e))?;
        let size = frames.metadata().map_err(|e| DataError::io(&frames_path, e))?.len();
        if let Some(e) = index.entries.iter().find(|e| e.offset + (e.width * e.height * 3) as u64 > size) {
            return Err(DataError::invalid(
                &frames_path,
                format!("shorter ({size} bytes) than its index says ({}); rebuild the cache", e.frame.display()),
            ));
        }
        let by_frame = index.entries.iter().enumerate().map(|(i, e)| (e.frame.clone(), i)).collect();
        let (resize, size, entries) = (index.resize, index.size, index.entries);
        Ok(FrameCache { dir: dir.to_path_buf(), resize, size, frames, entries, by_frame })
    }

    /// Decodes and resizes `frames` (in parallel on the current rayon pool) into a new
    /// cache in `dir`, replacing any cache there; the caller holds the folder's
    /// [`crate::lock::Lock`]. `on_frame` is called once per frame.
    pub fn build(
        dir: &Path,
        frames: &[PathBuf],
        resize: CachedResize,
        size: usize,
        on_frame: &(dyn Fn() + Sync),
    ) -> Result<FrameCache> {
        crate::fsutil::create_dir_all(dir)?;
        let (index_path, frames_path) = (dir.join(INDEX), dir.join(FRAMES));
        // An index must never describe another frames.bin: it goes first, comes back last.
        if index_path.exists() {
            std::fs::remove_file(&index_path).map_err(|e| DataError::io(&index_path, e))?;
        }
        remove_partial_builds(dir)?;
        let partial = dir.join(format!(".{FRAMES}.partial-{}", std::process::id()));
        let written = Self::write_frames(&partial, frames, resize, size, on_frame);
        let entries = match written {
            Ok(entries) => entries,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, &frames_path).map_err(|e| DataError::io(&frames_path, e))?;
        let index = Index { avsl_frame_cache: VERSION, resize, size, entries };
        let json = serde_json::to_vec(&index).map_err(|e| DataError::invalid(&index_path, e.to_string()))?;
        crate::fsutil::write_atomic(&index_path, &json)?;
        FrameCache::open(dir)
    }

    fn write_frames(
        path: &Path,
        frames: &[PathBuf],
        resize: CachedResize,
        size: usize,
        on_frame: &(dyn Fn() + Sync),
    ) -> Result<Vec<Entry>> {
        let file = File::create(path).map_err(|e| DataError::io(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut entries = Vec::with_capacity(frames.len());
        let mut offset = 0u64;
        // Chunks bound the memory held: decoded in parallel, written in list order.
        for chunk in frames.chunks(256) {
            let done: Vec<Result<(Entry, Vec<u8>)>> = chunk
                .par_iter()
                .map(|frame| {
                    let source = Stamp::of(frame)?;
                    let result = read_rgb(frame).map(|img| resize.apply(&img, size));
                    on_frame();
                    let entry = |width, height, error| Entry {
                        frame: absolute(frame),
                        source,
                        offset: 0,
                        width,
                        height,
                        error,
                    };
                    Ok(match result {
                        Ok(img) => (entry(img.width, img.height, None), img.data),
                        Err(e) => (entry(0, 0, Some(crate::error::BadFile::from(e).problem)), Vec::new()),
                    })
                })
                .collect();
            for item in done {
                let (mut entry, bytes) = item?;
                entry.offset = offset;
                out.write_all(&bytes).map_err(|e| DataError::io(path, e))?;
                offset += bytes.len() as u64;
                entries.push(entry);
            }
        }
        let file = out.into_inner().map_err(|e| DataError::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| DataError::io(path, e))?;
        Ok(entries)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn resize(&self) -> CachedResize {
        self.resize
    }

    /// The network input side its frames were resized for.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The frames of `wanted` that the cache does not hold, in their order.
    pub fn missing<'a>(&self, wanted: impl IntoIterator<Item = &'a PathBuf>) -> Vec<&'a PathBuf> {
        wanted.into_iter().filter(|f| !self.by_frame.contains_key(&absolute(f))).collect()
    }

    /// The frames of `wanted` held in the cache whose source file changed (or went) since
    /// the cache was built, in their order.
    pub fn changed<'a>(&self, wanted: impl IntoIterator<Item = &'a PathBuf>) -> Vec<&'a PathBuf> {
        wanted
            .into_iter()
            .filter(|f| {
                let entry = self.by_frame.get(&absolute(f)).map(|&i| &self.entries[i]);
                entry.is_some_and(|e| Stamp::of(f).ok().as_ref() != Some(&e.source))
            })
            .collect()
    }

    /// The cached image of `frame`, after checking that the source is still the file the
    /// cache was built from.
    pub fn read(&self, frame: &Path) -> Result<RgbImage> {
        let cache_problem =
            |problem: String| DataError::invalid(frame, format!("{problem} (frame cache {})", self.dir.display()));
        let &i = self
            .by_frame
            .get(&absolute(frame))
            .ok_or_else(|| cache_problem("not in the frame cache; rebuild it for this list".into()))?;
        let entry = &self.entries[i];
        if Stamp::of(frame)? != entry.source {
            return Err(cache_problem(
                "changed since the frame cache was built (length or modification time differ); rebuild it".into(),
            ));
        }
        if let Some(problem) = &entry.error {
            return Err(DataError::invalid(frame, problem.clone()));
        }
        let mut img =
            RgbImage { width: entry.width, height: entry.height, data: vec![0; entry.width * entry.height * 3] };
        read_exact_at(&self.frames, &mut img.data, entry.offset)
            .map_err(|e| DataError::io(&self.dir.join(FRAMES), e))?;
        Ok(img)
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_io::encode_jpeg;

    fn frame(dir: &Path, name: &str, w: usize, h: usize, seed: u8) -> PathBuf {
        let mut img = RgbImage::new(w, h);
        img.data.iter_mut().enumerate().for_each(|(i, v)| *v = ((i * 31) as u8).wrapping_add(seed) % 200);
        let path = dir.join(name);
        std::fs::write(&path, encode_jpeg(&img, 90)).unwrap();
        path
    }

    #[test]
    fn cached_pixels_are_the_uncached_pipeline_s() {
        let tmp = tempfile::tempdir().unwrap();
        let frames = vec![frame(tmp.path(), "a.jpg", 320, 180, 0), frame(tmp.path(), "b.jpg", 200, 260, 9)];
        for resize in [CachedResize::Train, CachedResize::Test] {
            let cache =
                FrameCache::build(&tmp.path().join(resize.name()), &frames, resize, INPUT_SIZE, &|| {}).unwrap();
            let reopened = FrameCache::open(cache.dir()).unwrap();
            assert_eq!(reopened.resize(), resize);
            for f in &frames {
                assert_eq!(reopened.read(f).unwrap(), resize.apply(&read_rgb(f).unwrap(), INPUT_SIZE));
            }
        }
    }

    #[test]
    fn stale_missing_and_undecodable_frames_are_errors_naming_the_frame() {
        let tmp = tempfile::tempdir().unwrap();
        let good = frame(tmp.path(), "good.jpg", 64, 48, 1);
        let bad = tmp.path().join("bad.jpg");
        std::fs::write(&bad, b"not a jpeg").unwrap();
        let cache = FrameCache::build(
            &tmp.path().join("c"),
            &[good.clone(), bad.clone()],
            CachedResize::Test,
            INPUT_SIZE,
            &|| {},
        )
        .unwrap();
        let other = tmp.path().join("other.jpg");
        assert_eq!(cache.missing([&good, &other]), vec![&other]);
        let err = cache.read(&other).unwrap_err().to_string();
        assert!(err.contains("other.jpg") && err.contains("not in the frame cache"), "{err}");
        let err = cache.read(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.jpg") && !err.contains("frame cache"), "{err}");
        frame(tmp.path(), "good.jpg", 64, 40, 2);
        let err = cache.read(&good).unwrap_err().to_string();
        assert!(err.contains("good.jpg") && err.contains("changed since"), "{err}");
    }

    #[test]
    fn a_truncated_frames_file_is_refused_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let f = frame(tmp.path(), "a.jpg", 64, 48, 1);
        let dir = tmp.path().join("c");
        FrameCache::build(&dir, &[f], CachedResize::Test, INPUT_SIZE, &|| {}).unwrap();
        let bin = dir.join(FRAMES);
        let bytes = std::fs::read(&bin).unwrap();
        std::fs::write(&bin, &bytes[..bytes.len() - 1]).unwrap();
        let err = FrameCache::open(&dir).err().unwrap().to_string();
        assert!(err.contains("frames.bin") && err.contains("rebuild"), "{err}");
    }
}
