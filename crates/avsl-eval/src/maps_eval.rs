//! Any model's maps, from a map folder, scored with the authors' exact protocol
//! (`avsl eval-maps`): every pair of the test list must have its map before anything is
//! computed; the result files are those of [`crate::results`].

use std::path::PathBuf;
use std::time::Instant;

use avsl_data::output::{prepare_output_dir, refuse_dataset_folders};
use avsl_data::report::Report;
use avsl_data::testset::{TestSet, TestSetPaths, build_test_list};
use avsl_metrics::MapKind;
use avsl_metrics::scoring::{Map, Protocol};
use serde_json::json;

use crate::checkpoint_eval::Evaluated;
use crate::error::EvalError;
use crate::map_folder::{FRAME_KEYS, MapIndex, PAIR_KEYS};
use crate::results::{score_all, write_results};
use crate::scoring::{ScoringOptions, describe};

/// What `avsl eval-maps` scores, and how.
pub struct MapsOptions {
    pub testset: TestSet,
    pub paths: TestSetPaths,
    /// Unset options take SLAVC's protocol's defaults.
    pub scoring: ScoringOptions,
    /// The map folder of the pairs (`index.csv`: `video,audio,map`).
    pub maps: PathBuf,
    pub map_kind: MapKind,
    /// A map folder of object-saliency maps, one per frame (`index.csv`: `video,map`).
    pub object_maps: Option<PathBuf>,
    /// Accept index paths outside the map folders (absolute or with `..`).
    pub allow_outside_paths: bool,
    /// The results folder.
    pub output: PathBuf,
    /// Write into a non-empty folder that avsl did not create.
    pub force: bool,
}

/// Scores the maps of every pair of the list and writes the result files.
pub fn evaluate_maps(options: &MapsOptions, report: &dyn Report) -> Result<Evaluated, EvalError> {
    let output = &options.output;
    let mut map_folders = vec![options.maps.as_path()];
    map_folders.extend(options.object_maps.as_deref());
    refuse_dataset_folders(output, &options.paths, &map_folders)?;
    let testset = options.testset;
    let samples = build_test_list(&options.paths, testset)?;
    let allow = options.allow_outside_paths;
    let maps = MapIndex::read(&options.maps, PAIR_KEYS, allow)?;
    let objects = options.object_maps.as_ref().map(|d| MapIndex::read(d, FRAME_KEYS, allow)).transpose()?;
    // Every pair must have its map before anything is computed.
    for s in &samples {
        maps.path(&[&s.video_id, &s.audio_id])?;
        if let Some(o) = &objects {
            o.path(&[&s.video_id])?;
        }
    }
    let _lock = prepare_output_dir(output, "metrics.json", options.force, report)?;
    report.line(&options.paths.lists.line());
    let config = options.scoring.config(options.map_kind, Protocol::Slavc);
    report.line(&describe(&config));
    let av = |i: usize| maps.load(&[&samples[i].video_id, &samples[i].audio_id]);
    let obj = |i: usize| objects.as_ref().expect("only called with object maps").load(&[&samples[i].video_id]);
    report.phase("pairs", samples.len(), 0);
    let start = Instant::now();
    let scored = score_all(
        &samples,
        testset.box_format(),
        &config,
        &av,
        objects.as_ref().map(|_| &obj as &(dyn Fn(usize) -> Result<Map, EvalError> + Sync)),
        &|| report.advance(1, None),
    )?;
    report.phase_end();
    let note = if objects.is_none() {
        "no --object-maps: only the av variant was computed"
    } else {
        "variants av, obj and av_obj computed"
    };
    let extra = json!({
        "config": {
            "testset": testset.name(),
            "lists": options.paths.describe_lists(testset),
            "samples": samples.len(),
            "positives": samples.iter().filter(|s| s.has_boxes()).count(),
            "scoring": config.to_json(),
            "maps": options.maps,
            "object_maps": options.object_maps,
            "note": note,
        }
    });
    let metrics = write_results(output, &scored, extra)?;
    report.line(&format!(
        "{} pairs ({} with boxes) of {} scored in {:.2} s; {note}",
        samples.len(),
        samples.iter().filter(|s| s.has_boxes()).count(),
        testset.name(),
        start.elapsed().as_secs_f64()
    ));
    Ok(Evaluated { scored, metrics })
}
