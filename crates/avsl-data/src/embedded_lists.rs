//! The authors' published test lists and VGG-SS boxes, built into avsl (`lists/`, from
//! the SLAVC repository's `metadata/`, Apache-2.0, unchanged), so that a test set can be
//! evaluated on a folder of frames and audio alone. A metadata folder, when given or
//! present, takes precedence ([`ListSource`]); results say which lists were used.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result, read_file};
use crate::fingerprint::sha256_bytes;

/// The embedded files by name.
const FILES: [(&str, &[u8]); 7] = [
    ("vggss.json", include_bytes!("../lists/vggss.json")),
    ("vggss_test.csv", include_bytes!("../lists/vggss_test.csv")),
    ("vggss_test_plus_silent.csv", include_bytes!("../lists/vggss_test_plus_silent.csv")),
    ("vggss_heard_test.csv", include_bytes!("../lists/vggss_heard_test.csv")),
    ("vggss_unheard_test.csv", include_bytes!("../lists/vggss_unheard_test.csv")),
    ("flickr_test.csv", include_bytes!("../lists/flickr_test.csv")),
    ("flickr_test_plus_silent.csv", include_bytes!("../lists/flickr_test_plus_silent.csv")),
];

/// Where a test set's list files come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ListSource {
    /// A metadata folder (`--metadata`, or `DATA/metadata` when it exists).
    Folder(PathBuf),
    /// The published lists built into avsl.
    Embedded,
}

impl ListSource {
    /// The bytes of a list file, and the name errors give it (`embedded:<name>` for a
    /// built-in one).
    pub fn read(&self, name: &str) -> Result<(Cow<'static, [u8]>, PathBuf)> {
        match self {
            ListSource::Folder(dir) => {
                let path = dir.join(name);
                Ok((Cow::Owned(read_file(&path)?), path))
            }
            ListSource::Embedded => {
                let label = PathBuf::from(format!("embedded:{name}"));
                match embedded(name) {
                    Some(bytes) => Ok((Cow::Borrowed(bytes), label)),
                    None => Err(DataError::invalid(&label, "no such list is built into avsl; give --metadata")),
                }
            }
        }
    }

    /// What `metrics.json`'s config says about the lists of `files`.
    pub fn describe(&self, files: &[&str]) -> serde_json::Value {
        match self {
            ListSource::Folder(dir) => serde_json::json!({"source": "folder", "metadata": dir}),
            ListSource::Embedded => {
                let hashes: serde_json::Map<String, serde_json::Value> = files
                    .iter()
                    .filter_map(|f| embedded(f).map(|bytes| (f.to_string(), serde_json::json!(sha256_bytes(bytes)))))
                    .collect();
                serde_json::json!({"source": "embedded (the SLAVC authors' published lists)", "sha256": hashes})
            }
        }
    }

    /// One line for the console.
    pub fn line(&self) -> String {
        match self {
            ListSource::Folder(dir) => format!("lists: {}", dir.display()),
            ListSource::Embedded => {
                "lists: the SLAVC authors' published lists built into avsl (no metadata folder; --metadata \
                 gives another)"
                    .to_string()
            }
        }
    }
}

/// A built-in list by file name.
pub fn embedded(name: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// The list source of a dataset: the given metadata folder, else `data/metadata` when it
/// exists, else the built-in lists.
pub fn list_source(data: &Path, metadata: Option<&Path>) -> ListSource {
    match metadata {
        Some(dir) => ListSource::Folder(dir.to_path_buf()),
        None if data.join("metadata").is_dir() => ListSource::Folder(data.join("metadata")),
        None => ListSource::Embedded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lists_are_the_files_in_lists_and_name_their_hash() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lists");
        for (name, bytes) in FILES {
            assert_eq!(std::fs::read(dir.join(name)).unwrap(), bytes, "{name}");
        }
        let (bytes, label) = ListSource::Embedded.read("vggss_test.csv").unwrap();
        assert_eq!(bytes.len(), std::fs::read(dir.join("vggss_test.csv")).unwrap().len());
        assert_eq!(label, PathBuf::from("embedded:vggss_test.csv"));
        let e = ListSource::Embedded.read("is3.json").unwrap_err().to_string();
        assert!(e.contains("embedded:is3.json") && e.contains("--metadata"), "{e}");
        // `sha256sum lists/flickr_test.csv`
        let d = ListSource::Embedded.describe(&["flickr_test.csv"]);
        assert_eq!(d["sha256"]["flickr_test.csv"], "e5c04bd722fc73a2daafcdafe9e10068d198c5df168300db4e05aa61b4ef71ed");
    }
}
