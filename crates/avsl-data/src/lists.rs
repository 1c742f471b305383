//! The authors' list files: test csv lists, extended ("plus silent") lists, training id
//! lists (docs/method.md §7 items 1 and 3).

use std::path::Path;

use crate::error::{DataError, Result, read_file};
use crate::loader::PairFiles;

fn csv_records(bytes: &[u8], path: &Path) -> Result<Vec<(u64, csv::StringRecord)>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            DataError::record(path, line, format!("malformed csv: {e}"))
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        // A blank line is an empty record (Python's csv gives []): nothing to read there.
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        rows.push((line, record));
    }
    Ok(rows)
}

/// The first column of every row of `<set>_test.csv` (csv quoting rules; CRLF and extra
/// columns such as Flickr's `id,number` occur).
pub fn read_test_ids(path: &Path) -> Result<Vec<String>> {
    parse_test_ids(&read_file(path)?, path)
}

/// [`read_test_ids`] on bytes already read (`path` names them in errors).
pub fn parse_test_ids(bytes: &[u8], path: &Path) -> Result<Vec<String>> {
    Ok(csv_records(bytes, path)?.into_iter().map(|(_, r)| r[0].to_string()).collect())
}

/// A non-sounding pair of an extended test set: the frame of `video`, the audio of `audio`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentPair {
    pub video: String,
    pub audio: String,
}

/// The rows of `<set>_test_plus_silent.csv` whose label is `non-sounding` (the header row
/// and rows with other labels are not pairs).
pub fn read_plus_silent(path: &Path) -> Result<Vec<SilentPair>> {
    parse_plus_silent(&read_file(path)?, path)
}

/// [`read_plus_silent`] on bytes already read (`path` names them in errors).
pub fn parse_plus_silent(bytes: &[u8], path: &Path) -> Result<Vec<SilentPair>> {
    let mut pairs = Vec::new();
    for (line, r) in csv_records(bytes, path)? {
        if r.len() < 3 {
            return Err(DataError::record(
                path,
                line,
                format!("expected 3 columns video,audio,label, found {}", r.len()),
            ));
        }
        if &r[2] == "non-sounding" {
            pairs.push(SilentPair { video: r[0].to_string(), audio: r[1].to_string() });
        }
    }
    Ok(pairs)
}

/// A training id list (`vggss_10k.txt`, `flickr_sup_train.txt`): one id a line, kept
/// exactly as written (like Python's `splitlines()`); blank lines are skipped.
pub fn read_id_list(path: &Path) -> Result<Vec<String>> {
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| DataError::invalid(path, "id list is not UTF-8 text"))?;
    Ok(text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// The training pairs of an id list in the authors' layout (`frames/<id>.jpg`,
/// `audio/<id>.wav` under `data`): every listed id must have both files. `list` names the
/// list in errors.
pub fn training_pairs(data: &Path, ids: &[String], list: &Path) -> Result<Vec<PairFiles>> {
    if ids.is_empty() {
        return Err(DataError::invalid(list, "the training list is empty"));
    }
    let pairs: Vec<PairFiles> = ids
        .iter()
        .map(|id| PairFiles {
            frame: data.join("frames").join(format!("{id}.jpg")),
            audio: data.join("audio").join(format!("{id}.wav")),
        })
        .collect();
    let missing: Vec<String> = pairs
        .iter()
        .flat_map(|p| [&p.frame, &p.audio])
        .filter(|f| !f.is_file())
        .map(|f| f.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DataError::invalid(
            list,
            format!(
                "{} of the files it lists are missing, e.g. {} (avsl check names them all)",
                missing.len(),
                missing[..missing.len().min(3)].join(", ")
            ),
        ));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_quotes_and_extra_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a_1,202\r\n\"b,2\",0\r\n\r\nc\r\n").unwrap();
        assert_eq!(read_test_ids(&p).unwrap(), vec!["a_1", "b,2", "c"]);
        let p = dir.path().join("s.csv");
        std::fs::write(&p, "video,audio,label\r\nx,y,non-sounding\r\nz,z,sounding\r\n").unwrap();
        assert_eq!(read_plus_silent(&p).unwrap(), vec![SilentPair { video: "x".into(), audio: "y".into() }]);
        std::fs::write(&p, "video,audio,label\nx,y\n").unwrap();
        assert!(read_plus_silent(&p).unwrap_err().to_string().contains("s.csv:2"));
    }
}
