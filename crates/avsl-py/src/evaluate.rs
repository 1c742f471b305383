//! `avsl.evaluate`: `avsl eval-maps` from Python. Maps given as arrays are written as a
//! map folder first, so every map goes through the same reading, checks and scoring as
//! the command line's; the result is its metrics.json.

use std::path::{Path, PathBuf};

use avsl_data::report::Quiet;
use avsl_data::source_sets::SourceSet;
use avsl_data::testset::{TestSet, TestSetPaths};
use avsl_eval::map_folder::{FRAME_KEYS, MapFolderWriter, PAIR_KEYS};
use avsl_eval::maps_eval::{MapsOptions, evaluate_maps};
use avsl_eval::multi_source::{SourceSetOptions, evaluate_source_maps};
use avsl_eval::scoring::ScoringOptions;
use avsl_metrics::MapKind;
use avsl_metrics::scoring::{Map, Protocol};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors;

/// One map from Python: its keys (video and audio id, or the video id alone), float32
/// bytes, rows, columns.
type KeyedMap<'py> = (Vec<String>, Bound<'py, PyBytes>, usize, usize);

/// Scores maps with the authors' protocol; returns metrics.json's text. `maps` is a map
/// folder, or `map_list` the maps themselves (likewise `object_maps` / `object_list`).
#[pyfunction]
#[pyo3(signature = (
    *, data, testset, maps = None, map_list = None, map_kind = "logits", metadata = None, gt = None,
    object_maps = None, object_list = None, relative_prediction = false, pred_thr = None, alpha = None,
    tau = 0.03, plus_silent_csv = None, protocol = None, allow_outside_paths = false
))]
#[allow(clippy::too_many_arguments)] // the CLI's flags, one keyword each
pub fn evaluate(
    py: Python<'_>,
    data: PathBuf,
    testset: &str,
    maps: Option<PathBuf>,
    map_list: Option<Vec<KeyedMap<'_>>>,
    map_kind: &str,
    metadata: Option<PathBuf>,
    gt: Option<PathBuf>,
    object_maps: Option<PathBuf>,
    object_list: Option<Vec<KeyedMap<'_>>>,
    relative_prediction: bool,
    pred_thr: Option<f64>,
    alpha: Option<f64>,
    tau: f64,
    plus_silent_csv: Option<PathBuf>,
    protocol: Option<&str>,
    allow_outside_paths: bool,
) -> PyResult<String> {
    let scratch = tempfile::tempdir().map_err(|e| errors::value(format!("a temporary folder: {e}")))?;
    let maps = folder_of(maps, map_list, &scratch.path().join("maps"), PAIR_KEYS, "maps")?
        .ok_or_else(|| errors::value("give maps (a map folder, or a dict of arrays)"))?;
    let object_maps =
        folder_of(object_maps, object_list, &scratch.path().join("object_maps"), FRAME_KEYS, "object maps")?;
    let paths = TestSetPaths::with(&data, metadata.as_deref(), gt.as_deref(), plus_silent_csv);
    let output = scratch.path().join("results");
    if let Some(set) = SourceSet::parse(testset) {
        if object_maps.is_some() {
            return Err(errors::value(format!("testset {testset} scores the av maps only (no object maps)")));
        }
        let set = SourceSetOptions { set, paths, output: output.clone(), force: false };
        py.detach(|| evaluate_source_maps(&set, &maps, allow_outside_paths, &Quiet)).map_err(errors::eval)?;
    } else {
        let options = MapsOptions {
            testset: parse_testset(testset)?,
            paths,
            scoring: ScoringOptions { protocol: parse_protocol(protocol)?, alpha, tau, relative_prediction, pred_thr },
            maps,
            map_kind: parse_map_kind(map_kind)?,
            object_maps,
            allow_outside_paths,
            output: output.clone(),
            force: false,
        };
        py.detach(|| evaluate_maps(&options, &Quiet)).map_err(errors::eval)?;
    }
    let metrics = output.join("metrics.json");
    std::fs::read_to_string(&metrics).map_err(|e| errors::value(format!("{}: {e}", metrics.display())))
}

/// The folder to read maps from: the one given, or `list` written into `dir`.
fn folder_of(
    folder: Option<PathBuf>,
    list: Option<Vec<KeyedMap<'_>>>,
    dir: &Path,
    keys: &[&str],
    what: &str,
) -> PyResult<Option<PathBuf>> {
    let list = match (folder, list) {
        (Some(_), Some(_)) => return Err(errors::value(format!("give the {what} as a folder or as arrays, not both"))),
        (Some(folder), None) => return Ok(Some(folder)),
        (None, None) => return Ok(None),
        (None, Some(list)) => list,
    };
    let mut writer = MapFolderWriter::new(dir, keys).map_err(errors::eval)?;
    for (k, (key, bytes, h, w)) in list.iter().enumerate() {
        let values = f32_values(bytes.as_bytes(), *h, *w).ok_or_else(|| {
            errors::value(format!("{what} {key:?}: {} bytes are not a {h}x{w} float32 map", bytes.as_bytes().len()))
        })?;
        let key: Vec<&str> = key.iter().map(String::as_str).collect();
        if key.len() != keys.len() {
            return Err(errors::value(format!(
                "{what}: a key needs {} parts ({}), got {key:?}",
                keys.len(),
                keys.join(", ")
            )));
        }
        writer.add(&key, &format!("{k}.npy"), &Map { h: *h, w: *w, values }).map_err(errors::eval)?;
    }
    writer.finish().map_err(errors::eval)?;
    Ok(Some(dir.to_path_buf()))
}

fn f32_values(bytes: &[u8], h: usize, w: usize) -> Option<Vec<f32>> {
    (bytes.len() == h * w * 4)
        .then(|| bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

fn parse_testset(name: &str) -> PyResult<TestSet> {
    TestSet::parse(name).ok_or_else(|| errors::value(TestSet::unknown(name)))
}

fn parse_map_kind(name: &str) -> PyResult<MapKind> {
    match name {
        "logits" => Ok(MapKind::Logits),
        "scores" => Ok(MapKind::Scores),
        other => Err(errors::value(format!("map_kind {other:?}: expected \"logits\" or \"scores\""))),
    }
}

fn parse_protocol(name: Option<&str>) -> PyResult<Option<Protocol>> {
    match name {
        None => Ok(None),
        Some("slavc") => Ok(Some(Protocol::Slavc)),
        Some("ezvsl") => Ok(Some(Protocol::Ezvsl)),
        Some(other) => Err(errors::value(format!("protocol {other:?}: expected \"slavc\" or \"ezvsl\""))),
    }
}
