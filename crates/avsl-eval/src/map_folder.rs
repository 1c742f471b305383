//! The map folder: the input of `avsl eval-maps` and what `avsl eval --save-maps` writes, so
//! that any model in any framework can be scored by the same code. `index.csv` has a header
//! of key columns and `map` (`video,audio,map` for pair maps, `video,map` for object maps),
//! one row per key, naming a float32 `.npy` map relative to the folder. This module is the
//! format's one reader ([`MapIndex`]) and one writer ([`MapFolderWriter`]).

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use avsl_data::fsutil::{create_dir_all, write_atomic};
use avsl_data::npy::{encode_npy_f32, read_npy_f32};
use avsl_metrics::scoring::Map;

use crate::error::EvalError;

pub const INDEX: &str = "index.csv";
/// The key columns of pair maps and of object maps.
pub const PAIR_KEYS: &[&str] = &["video", "audio"];
pub const FRAME_KEYS: &[&str] = &["video"];

/// A map folder's index: key → map file, with the index line for error messages.
pub struct MapIndex {
    pub index_file: PathBuf,
    entries: HashMap<Vec<String>, (PathBuf, u64)>,
}

impl MapIndex {
    /// Reads `dir/index.csv` with these key columns. Paths that leave the folder (absolute
    /// or with `..`) are refused unless `allow_outside`.
    pub fn read(dir: &Path, keys: &[&str], allow_outside: bool) -> Result<MapIndex, EvalError> {
        let index_file = dir.join(INDEX);
        let bytes = std::fs::read(&index_file).map_err(|e| EvalError::invalid(&index_file, e.to_string()))?;
        // Spreadsheet tools like to start csv files with a UTF-8 byte-order mark.
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| EvalError::invalid(&index_file, format!("malformed csv header: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut wanted: Vec<&str> = keys.to_vec();
        wanted.push("map");
        if header != wanted {
            let problem = format!("header is {:?}, expected {}", header.join(","), wanted.join(","));
            return Err(EvalError::invalid(&index_file, problem));
        }
        let mut entries = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| EvalError::invalid(&index_file, format!("malformed csv: {e}")))?;
            let line = record.position().map_or(0, |p| p.line());
            let key: Vec<String> = record.iter().take(keys.len()).map(str::to_string).collect();
            let rel = Path::new(&record[keys.len()]);
            let escapes = rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir));
            if escapes && !allow_outside {
                let problem =
                    format!("map path {rel:?} leaves the maps folder (pass --allow-outside-paths to accept it)");
                return Err(EvalError::record(&index_file, line, problem));
            }
            if entries.insert(key.clone(), (dir.join(rel), line)).is_some() {
                return Err(EvalError::record(&index_file, line, format!("duplicate row for {}", key.join(","))));
            }
        }
        Ok(MapIndex { index_file, entries })
    }

    /// The file of `key` and its index line.
    pub fn path(&self, key: &[&str]) -> Result<&(PathBuf, u64), EvalError> {
        let key: Vec<String> = key.iter().map(|s| s.to_string()).collect();
        self.entries.get(&key).ok_or_else(|| {
            EvalError::invalid(&self.index_file, format!("no map for {} (needed by the test list)", key.join(",")))
        })
    }

    /// The map of `key`, checked (see [`load_map`]).
    pub fn load(&self, key: &[&str]) -> Result<Map, EvalError> {
        let (path, line) = self.path(key)?;
        load_map(path, &self.index_file, *line)
    }

    /// Every key with its map file.
    pub fn entries(&self) -> impl Iterator<Item = (&[String], &Path)> {
        self.entries.iter().map(|(key, (path, _))| (key.as_slice(), path.as_path()))
    }
}

/// Loads one map and checks it: float32, two dimensions (leading dimensions of size 1,
/// as a saved `[1, 1, h, w]` tensor has, are accepted), finite values. `index_file` and
/// `line` say where it was listed.
pub fn load_map(path: &Path, index_file: &Path, line: u64) -> Result<Map, EvalError> {
    let listed =
        |problem: String| EvalError::invalid(path, format!("{problem} (row {line} of {})", index_file.display()));
    let (shape, values) = read_npy_f32(path).map_err(|e| listed(format!("map unreadable: {e}")))?;
    let squeezed: &[usize] = match shape.len().checked_sub(2) {
        Some(lead) if shape[..lead].iter().all(|&d| d == 1) => &shape[lead..],
        _ => &shape,
    };
    let (h, w) = match squeezed {
        [h, w] if *h > 0 && *w > 0 => (*h, *w),
        other => return Err(listed(format!("shape {other:?}, expected [7, 7], [h, w] or [224, 224]"))),
    };
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        return Err(listed(format!("value {} at position {k} is not finite", values[k])));
    }
    Ok(Map { h, w, values })
}

/// Writes a map folder: maps as they come, rows in the order added, `index.csv` (csv
/// quoting) by [`MapFolderWriter::finish`]. A key added twice keeps its first map.
pub struct MapFolderWriter {
    dir: PathBuf,
    index: csv::Writer<Vec<u8>>,
    seen: BTreeSet<Vec<String>>,
}

impl MapFolderWriter {
    pub fn new(dir: &Path, keys: &[&str]) -> Result<MapFolderWriter, EvalError> {
        create_dir_all(dir)?;
        let mut index = csv::Writer::from_writer(Vec::new());
        let mut header = keys.to_vec();
        header.push("map");
        index.write_record(&header).expect("writing to memory");
        Ok(MapFolderWriter { dir: dir.to_path_buf(), index, seen: BTreeSet::new() })
    }

    /// `map` as `<file>` in the folder, listed under `key`.
    pub fn add(&mut self, key: &[&str], file: &str, map: &Map) -> Result<(), EvalError> {
        if self.is_new(key) {
            write_atomic(&self.dir.join(file), &encode_npy_f32(&[map.h, map.w], &map.values))?;
            self.row(key, file);
        }
        Ok(())
    }

    /// A map file written once (with [`MapFolderWriter::write_shared`]) listed under `key`.
    pub fn add_shared(&mut self, key: &[&str], file: &str) {
        if self.is_new(key) {
            self.row(key, file);
        }
    }

    /// One map file that several keys share (a baseline's constant map).
    pub fn write_shared(&self, file: &str, map: &Map) -> Result<(), EvalError> {
        write_atomic(&self.dir.join(file), &encode_npy_f32(&[map.h, map.w], &map.values))?;
        Ok(())
    }

    pub fn finish(self) -> Result<(), EvalError> {
        let bytes = self.index.into_inner().expect("writing to memory");
        write_atomic(&self.dir.join(INDEX), &bytes)?;
        Ok(())
    }

    fn is_new(&mut self, key: &[&str]) -> bool {
        self.seen.insert(key.iter().map(|s| s.to_string()).collect())
    }

    fn row(&mut self, key: &[&str], file: &str) {
        let mut fields = key.to_vec();
        fields.push(file);
        self.index.write_record(&fields).expect("writing to memory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: f32) -> Map {
        Map { h: 2, w: 2, values: vec![v; 4] }
    }

    #[test]
    fn what_the_writer_writes_the_reader_reads_with_quoted_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = MapFolderWriter::new(dir.path(), PAIR_KEYS).unwrap();
        w.add(&["a,b", "x"], "000000.npy", &map(1.0)).unwrap();
        w.add(&["a,b", "x"], "000001.npy", &map(2.0)).unwrap(); // the first map stays
        w.write_shared("shared.npy", &map(3.0)).unwrap();
        w.add_shared(&["c", "d\"e"], "shared.npy");
        w.finish().unwrap();
        let index = MapIndex::read(dir.path(), PAIR_KEYS, false).unwrap();
        assert_eq!(index.load(&["a,b", "x"]).unwrap().values, map(1.0).values);
        assert_eq!(index.load(&["c", "d\"e"]).unwrap().values, map(3.0).values);
        assert_eq!(index.entries().count(), 2);
        assert!(!dir.path().join("000001.npy").exists());
    }

    #[test]
    fn bad_indexes_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join(INDEX), text).unwrap();
        write("video,map\nv,m.npy\n");
        let e = MapIndex::read(dir.path(), PAIR_KEYS, false).err().unwrap().to_string();
        assert!(e.contains("index.csv") && e.contains("expected video,audio,map"), "{e}");
        write("video,audio,map\nv,a,../m.npy\n");
        let e = MapIndex::read(dir.path(), PAIR_KEYS, false).err().unwrap().to_string();
        assert!(e.contains("index.csv:2") && e.contains("leaves the maps folder"), "{e}");
        assert!(MapIndex::read(dir.path(), PAIR_KEYS, true).is_ok());
        write("video,audio,map\nv,a,m.npy\nv,a,n.npy\n");
        let e = MapIndex::read(dir.path(), PAIR_KEYS, false).err().unwrap().to_string();
        assert!(e.contains("duplicate row for v,a"), "{e}");
        write("video,audio,map\nv,a,m.npy\n");
        std::fs::write(dir.path().join("m.npy"), encode_npy_f32(&[2], &[f32::NAN, 0.0])).unwrap();
        let index = MapIndex::read(dir.path(), PAIR_KEYS, false).unwrap();
        let e = index.load(&["v", "a"]).err().unwrap().to_string();
        assert!(e.contains("m.npy") && e.contains("row 2"), "{e}");
        let e = index.load(&["w", "a"]).err().unwrap().to_string();
        assert!(e.contains("no map for w,a"), "{e}");
    }
}
