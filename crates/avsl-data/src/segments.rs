//! VGG-Sound's segment list (the official `vggsound.csv`: `ytid, start_seconds, label,
//! split`, no header) for `avsl prepare --segments`: which 10-second piece of each
//! downloaded video is a sample, and the sample's name in the authors' lists,
//! `<ytid>_<start:06d>` (`-0BIyqJj9ZU_000030`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// Length of a VGG-Sound segment.
pub const SEGMENT_SECONDS: f64 = 10.0;

/// One row of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub ytid: String,
    /// Start of the segment in the video, whole seconds.
    pub start: u64,
    pub label: String,
    pub split: String,
}

impl Segment {
    /// The sample's name in the authors' lists.
    pub fn id(&self) -> String {
        format!("{}_{:06}", self.ytid, self.start)
    }
}

/// Reads the list; a malformed row is an error naming the file and the line.
pub fn read_segments(path: &Path) -> Result<Vec<Segment>> {
    parse_segments(&crate::error::read_file(path)?, path)
}

pub fn parse_segments(bytes: &[u8], path: &Path) -> Result<Vec<Segment>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 1;
        let row = row.map_err(|e| DataError::invalid(path, format!("line {line}: {e}")))?;
        if row.len() != 4 {
            return Err(DataError::invalid(
                path,
                format!("line {line}: {} fields; expected ytid, start_seconds, label, split", row.len()),
            ));
        }
        let ytid = row[0].trim().to_string();
        if ytid.is_empty() || ytid.contains(['/', '\\']) {
            return Err(DataError::invalid(path, format!("line {line}: {ytid:?} is not a YouTube id")));
        }
        let start = row[1].trim().parse::<u64>().map_err(|_| {
            DataError::invalid(path, format!("line {line}: start_seconds {:?} is not a whole number", &row[1]))
        })?;
        let segment = Segment { ytid, start, label: row[2].trim().to_string(), split: row[3].trim().to_string() };
        if let Some(first) = seen.insert(segment.id(), line) {
            return Err(DataError::invalid(
                path,
                format!("line {line}: {} is listed again (line {first})", segment.id()),
            ));
        }
        out.push(segment);
    }
    if out.is_empty() {
        return Err(DataError::invalid(path, "no segments listed"));
    }
    Ok(out)
}

/// Each segment with its video: the first (by relative path) of `videos` whose file stem
/// is the segment's ytid; the segments with none come back apart.
pub fn match_videos<'a>(
    segments: &'a [Segment],
    videos: &[(PathBuf, String)],
) -> (Vec<(&'a Segment, PathBuf, String)>, Vec<&'a Segment>) {
    let mut by_stem: HashMap<String, (PathBuf, String)> = HashMap::new();
    for (path, relative) in videos {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        by_stem.entry(stem).or_insert_with(|| (path.clone(), relative.clone()));
    }
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for s in segments {
        match by_stem.get(&s.ytid) {
            Some((path, relative)) => found.push((s, path.clone(), relative.clone())),
            None => missing.push(s),
        }
    }
    (found, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_the_official_list_and_their_ids() {
        let csv = b"---g-f_I2yQ,1,people marching,test\n-0BIyqJj9ZU,30,\"wind chime, ringing\",train\n";
        let s = parse_segments(csv, Path::new("vggsound.csv")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].id(), s[1].id()), ("---g-f_I2yQ_000001".to_string(), "-0BIyqJj9ZU_000030".to_string()));
        assert_eq!((s[1].label.as_str(), s[1].split.as_str()), ("wind chime, ringing", "train"));
    }

    #[test]
    fn bad_rows_name_the_file_and_line() {
        for (csv, says) in [
            (&b"abc,1,x\n"[..], "line 1: 3 fields"),
            (b"abc,1,x,train\nabc,1.5,x,train\n", "line 2: start_seconds \"1.5\""),
            (b"abc,1,x,train\nabc,1,y,test\n", "line 2: abc_000001 is listed again (line 1)"),
            (b"../x,1,x,train\n", "not a YouTube id"),
            (b"", "no segments"),
        ] {
            let err = parse_segments(csv, Path::new("vggsound.csv")).unwrap_err().to_string();
            assert!(err.contains("vggsound.csv") && err.contains(says), "{err}");
        }
    }

    #[test]
    fn segments_find_their_video_by_stem() {
        let csv = b"abc,0,x,train\nabc,20,x,train\nnope,5,y,test\n";
        let segments = parse_segments(csv, Path::new("l.csv")).unwrap();
        let videos: Vec<(PathBuf, String)> =
            ["a/abc.mkv", "b/abc.mp4", "zzz.mp4"].iter().map(|r| (PathBuf::from(r), r.to_string())).collect();
        let (found, missing) = match_videos(&segments, &videos);
        assert_eq!(found.iter().map(|f| f.2.as_str()).collect::<Vec<_>>(), ["a/abc.mkv", "a/abc.mkv"]);
        assert_eq!(missing.iter().map(|m| m.id()).collect::<Vec<_>>(), ["nope_000005"]);
    }
}
