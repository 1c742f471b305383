//! The file `avsl mine-neighbours` writes and `avsl train --neighbours` reads: for every
//! training sample (by id) the positions of its k nearest neighbours by image and by audio
//! features. A safetensors file: `image` and `audio`, uint32 `[n, k]` (row i belongs to
//! `ids[i]`, entries index the same `ids`), metadata `format`, `ids` (a JSON array) and
//! `source` (how the features were made). 144k samples at k = 1000 take 1.15 GB.

use std::collections::HashMap;
use std::path::Path;

use avsl_data::loader::NeighbourTable;
use safetensors::{Dtype, SafeTensors};

use avsl_model::checkpoint::CheckpointError;

const FORMAT: &str = "avsl-neighbours-1";

#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourFile {
    pub ids: Vec<String>,
    pub table: NeighbourTable,
    /// How the features were made (a checkpoint, torchvision weights, a .npy file, …).
    pub source: String,
}

fn error(path: &Path, problem: impl Into<String>) -> CheckpointError {
    CheckpointError::new(path, problem)
}

fn bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `file` atomically.
pub fn write_neighbours(path: &Path, file: &NeighbourFile) -> Result<(), CheckpointError> {
    let (n, k) = (file.ids.len(), file.table.k);
    let (image, audio) = (bytes(&file.table.image), bytes(&file.table.audio));
    fn view<'a>(
        data: &'a [u8],
        shape: Vec<usize>,
        path: &Path,
    ) -> Result<safetensors::tensor::TensorView<'a>, CheckpointError> {
        safetensors::tensor::TensorView::new(Dtype::U32, shape, data).map_err(|e| error(path, format!("{e:?}")))
    }
    let ids = serde_json::to_string(&file.ids).map_err(|e| error(path, e.to_string()))?;
    let metadata: HashMap<String, String> = [
        ("format".to_string(), FORMAT.to_string()),
        ("ids".to_string(), ids),
        ("source".to_string(), file.source.clone()),
    ]
    .into_iter()
    .collect();
    let out = safetensors::serialize(
        [("image", view(&image, vec![n, k], path)?), ("audio", view(&audio, vec![n, k], path)?)],
        Some(metadata),
    )
    .map_err(|e| error(path, format!("{e:?}")))?;
    avsl_data::fsutil::write_atomic(path, &out).map_err(|e| error(path, e.to_string()))
}

/// Reads and checks a neighbour file: both tables `[n, k]` for its n ids, every entry a
/// row of the file other than its own.
pub fn read_neighbours(path: &Path) -> Result<NeighbourFile, CheckpointError> {
    let raw = std::fs::read(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
    let invalid = |e: safetensors::SafeTensorError| error(path, format!("not a neighbour file: {e:?}"));
    let (_, header) = SafeTensors::read_metadata(&raw).map_err(invalid)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    if metadata.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(error(path, format!("not a neighbour file (no format = {FORMAT}; made by avsl mine-neighbours?)")));
    }
    let ids: Vec<String> = serde_json::from_str(metadata.get("ids").map(String::as_str).unwrap_or(""))
        .map_err(|e| error(path, format!("metadata ids is not a list of ids: {e}")))?;
    let tensors = SafeTensors::deserialize(&raw).map_err(invalid)?;
    let n = ids.len();
    let table = |name: &str| -> Result<(usize, Vec<u32>), CheckpointError> {
        let t = tensors.tensor(name).map_err(|_| error(path, format!("no {name} table")))?;
        match (t.dtype(), t.shape()) {
            (Dtype::U32, &[rows, k]) if rows == n && k > 0 => {
                Ok((k, t.data().chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
            }
            (dtype, shape) => Err(error(path, format!("{name} is {dtype:?} {shape:?}, expected U32 [{n}, k]"))),
        }
    };
    let (k, image) = table("image")?;
    let (k_audio, audio) = table("audio")?;
    if k != k_audio {
        return Err(error(path, format!("image and audio tables have k = {k} and {k_audio}")));
    }
    for (name, values) in [("image", &image), ("audio", &audio)] {
        if let Some(pos) = values.iter().enumerate().position(|(p, &j)| j as usize >= n || j as usize == p / k) {
            return Err(error(
                path,
                format!("{name} row {} holds {}: not another of the {n} samples", pos / k, values[pos]),
            ));
        }
    }
    let source = metadata.get("source").cloned().unwrap_or_default();
    Ok(NeighbourFile { ids, table: NeighbourTable { k, image, audio }, source })
}

impl NeighbourFile {
    /// The table re-indexed to `ids` (the training list, any order): the file must hold
    /// exactly these ids, since neighbours drawn from outside the list could not be loaded.
    pub fn for_list(&self, ids: &[String], path: &Path) -> Result<NeighbourTable, CheckpointError> {
        let row_of: HashMap<&str, usize> = self.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        let missing: Vec<&str> = ids.iter().map(String::as_str).filter(|id| !row_of.contains_key(id)).collect();
        if !missing.is_empty() || ids.len() != self.ids.len() {
            return Err(error(
                path,
                format!(
                    "mined over {} samples, but the training list has {} ({} of them not in the file{}); mine again \
                     over this list",
                    self.ids.len(),
                    ids.len(),
                    missing.len(),
                    missing.first().map(|id| format!(", e.g. {id}")).unwrap_or_default()
                ),
            ));
        }
        let position: HashMap<usize, u32> =
            ids.iter().enumerate().map(|(p, id)| (row_of[id.as_str()], p as u32)).collect();
        let k = self.table.k;
        let remap = |values: &[u32]| -> Vec<u32> {
            ids.iter()
                .flat_map(|id| values[row_of[id.as_str()] * k..][..k].iter().map(|j| position[&(*j as usize)]))
                .collect()
        };
        Ok(NeighbourTable { k, image: remap(&self.table.image), audio: remap(&self.table.audio) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NeighbourFile {
        NeighbourFile {
            ids: ["a", "b", "c"].map(String::from).to_vec(),
            table: NeighbourTable { k: 2, image: vec![1, 2, 0, 2, 1, 0], audio: vec![2, 1, 2, 0, 0, 1] },
            source: "test".into(),
        }
    }

    #[test]
    fn round_trip_and_reindexing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.safetensors");
        write_neighbours(&path, &sample()).unwrap();
        let back = read_neighbours(&path).unwrap();
        assert_eq!(back, sample());
        // The list in another order (c, a, b): c's image neighbours b, a become 2, 1.
        let ids = ["c", "a", "b"].map(String::from);
        let t = back.for_list(&ids, &path).unwrap();
        assert_eq!(t.image, vec![2, 1, 2, 0, 1, 0]);
        assert_eq!(t.audio, vec![1, 2, 0, 2, 0, 1]);
        let e = back.for_list(&["a", "b", "x"].map(String::from), &path).unwrap_err().to_string();
        assert!(e.contains("1 of them not in the file, e.g. x"), "{e}");
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.safetensors");
        let mut own = sample();
        own.table.image[0] = 0; // row 0 names itself
        write_neighbours(&path, &own).unwrap();
        let e = read_neighbours(&path).unwrap_err().to_string();
        assert!(e.contains("image row 0 holds 0") && e.contains("n.safetensors"), "{e}");
        std::fs::write(&path, b"nonsense").unwrap();
        assert!(read_neighbours(&path).unwrap_err().to_string().contains("not a neighbour file"));
    }
}
