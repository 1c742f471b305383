//! The SSL-align authors' per-pair test sets (`--testset is3 | s4 | ms3 | vposs | vpoms`),
//! scored as their test script scores them (docs/source-sets.md). Each (frame, source)
//! pair's map is upsampled to 224×224 (bilinear, align_corners=True, the script's choice
//! for every method), min-max normalised and thresholded at its median (cIoU) and at its
//! ground-truth area (adaptive cIoU); where images have several sources, an image counts
//! for IIoU only when every one of its sources is localised with that source's own sound.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use avsl_data::embedded_lists::ListSource;
use avsl_data::fsutil::write_atomic;
use avsl_data::output::{prepare_output_dir, refuse_dataset_folders};
use avsl_data::preprocess::TestPipeline;
use avsl_data::report::Report;
use avsl_data::source_sets::{SourcePair, SourceSet, find_list, load_mask, read_masks, read_source_pairs};
use avsl_data::testset::TestSetPaths;
use avsl_metrics::interactive::{InteractiveMetrics, MaskScores, ScoredPair, image_of_pair, score_mask, score_pair};
use avsl_metrics::scoring::Map;
use avsl_metrics::segmentation::f_levels;
use avsl_metrics::{BoxFormat, GtMap, MAP_SIZE};
use avsl_model::checkpoint::open_encoders;
use avsl_model::{Architecture, EncoderSet};
use burn::tensor::Device;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::error::EvalError;
use crate::map_folder::{MapFolderWriter, MapIndex, PAIR_KEYS};
use crate::test_pass::{OnBadFile, distinct_pairs, embed_pairs};

/// Which per-pair set, where it is (`data` with its `metadata/` list), and where its
/// scores go.
pub struct SourceSetOptions {
    pub set: SourceSet,
    pub paths: TestSetPaths,
    /// The results folder.
    pub output: PathBuf,
    /// Write into a non-empty folder that avsl did not create.
    pub force: bool,
}

/// Scores a map folder's map of every pair (keyed by the pair's name in both columns).
pub fn evaluate_source_maps(
    set: &SourceSetOptions,
    maps: &Path,
    allow_outside_paths: bool,
    report: &dyn Report,
) -> Result<InteractiveMetrics, EvalError> {
    refuse_dataset_folders(&set.output, &set.paths, &[maps])?;
    let sources = source_set(set.set, &set.paths)?;
    let (list, pairs) = (&sources.list, &sources.pairs);
    let index = MapIndex::read(maps, PAIR_KEYS, allow_outside_paths)?;
    for pair in pairs {
        index.path(&[&pair.name, &pair.name])?;
    }
    let _lock = prepare_output_dir(&set.output, "metrics.json", set.force, report)?;
    let map_of = |i: usize| index.load(&[&pairs[i].name, &pairs[i].name]);
    let config =
        json!({ "testset": set.set.name(), "list": list, "pairs": pairs.len(), "maps": maps, "scoring": SCORING });
    score_and_report(&sources, &map_of, &set.output, config, report)
}

/// How a checkpoint runs on a multi-source set.
pub struct SourceModel {
    pub checkpoint: PathBuf,
    pub expected: Option<Architecture>,
    pub encoders: EncoderSet,
    /// τ of an authors' .pth (our checkpoints store theirs).
    pub tau: f64,
    pub batch_size: usize,
    pub threads: usize,
    pub device: Device,
    /// Also write the maps as a map folder (`maps/`).
    pub save_maps: bool,
    /// How frames and clips become inputs (the authors' script's own: [`script_pipeline`]).
    pub pipeline: TestPipeline,
}

/// The input pipeline the SSL-align authors' test script feeds every model on `set`.
pub fn script_pipeline(set: SourceSet) -> TestPipeline {
    TestPipeline::SslAlign { clip_seconds: set.clip_seconds() }
}

/// A checkpoint's own maps of every pair (the av map S), scored.
pub fn evaluate_source_checkpoint(
    set: &SourceSetOptions,
    model: &SourceModel,
    report: &dyn Report,
) -> Result<InteractiveMetrics, EvalError> {
    refuse_dataset_folders(&set.output, &set.paths, &[])?;
    let sources = source_set(set.set, &set.paths)?;
    let (list, pairs) = (&sources.list, &sources.pairs);
    let _lock = prepare_output_dir(&set.output, "metrics.json", set.force, report)?;
    let encoders = open_encoders(&model.checkpoint, model.tau, model.expected, Some(model.encoders), &model.device)?;
    let model_config = encoders.config;
    report.line(&format!(
        "{} (d = {}) from {}: the {} on {} pairs of {}",
        model_config.architecture.name(),
        model_config.dim,
        model.checkpoint.display(),
        model.encoders.describe(),
        pairs.len(),
        list.display()
    ));
    report.line(&format!("inputs: {}", model.pipeline.describe()));
    let files: Vec<(PathBuf, PathBuf)> = pairs.iter().map(|s| (s.frame.clone(), s.audio.clone())).collect();
    let (frames, clips) = distinct_pairs(&files);
    report.phase("files", frames.files.len() + clips.files.len(), 0);
    let on_file = |n: usize| report.advance(n, None);
    let embedded = embed_pairs(
        (frames, clips),
        &encoders,
        None,
        model_config.tau,
        model.batch_size,
        model.threads,
        &model.device,
        &on_file,
        OnBadFile::Stop,
        model.pipeline,
    )?;
    report.phase_end();
    let map_of = |i: usize| -> Result<Map, EvalError> { Ok(embedded.pair_map(i).clone()) };
    let config = json!({
        "testset": set.set.name(),
        "list": list,
        "pairs": pairs.len(),
        "checkpoint": model.checkpoint,
        "model": model_config.architecture.name(),
        "encoders": model.encoders.name(),
        "scoring": SCORING,
        "pipeline": model.pipeline.describe(),
    });
    let metrics = score_and_report(&sources, &map_of, &set.output, config, report)?;
    if model.save_maps {
        // Keyed by pair name in both columns, as `eval-maps` reads them for these sets.
        let mut maps = MapFolderWriter::new(&set.output.join("maps"), PAIR_KEYS)?;
        for (i, s) in pairs.iter().enumerate() {
            maps.add(&[&s.name, &s.name], &format!("{i:06}.npy"), embedded.pair_map(i))?;
        }
        maps.finish()?;
    }
    Ok(metrics)
}

const MASK_SCORING: &str = "AVSBench's mask_iou of the median and of the adaptive prediction (B = mask pixels), and \
                            Eval_Fmeasure (beta^2 0.3, 255 levels) of the min-max map without a sigmoid; masks: \
                            luminance >= 128, nearest-neighbour to 224x224";

const SCORING: &str = "SSL-align test script: bilinear (align_corners) to 224x224, min-max normalised, prediction \
                       strictly above the median; adaptive: strictly above the value at rank n - B, B = ground-truth \
                       pixels";

/// The set's list, pairs, and masks when it has a mask list.
struct Pairs {
    list: PathBuf,
    pairs: Vec<SourcePair>,
    masks: Option<(PathBuf, HashMap<String, PathBuf>)>,
}

fn source_set(set: SourceSet, paths: &TestSetPaths) -> Result<Pairs, EvalError> {
    // Per-pair lists are not built in: they live in the set's metadata folder.
    let metadata = match &paths.lists {
        ListSource::Folder(dir) => dir.clone(),
        ListSource::Embedded => paths.data.join("metadata"),
    };
    let list = find_list(set, &metadata)?;
    let pairs = read_source_pairs(set, &list, &paths.data)?;
    let masks = read_masks(set, &metadata, &paths.data, &pairs)?;
    Ok(Pairs { list, pairs, masks })
}

/// True when some image of the list has pairs with different sounds: only then are
/// IIoU and IAUC about several sources (S4 and MS3 group the frames of one clip).
fn several_sources(pairs: &[SourcePair]) -> bool {
    let mut sounds: HashMap<&str, HashSet<&Path>> = HashMap::new();
    for p in pairs {
        sounds.entry(image_of_pair(&p.name)).or_default().insert(&p.audio);
    }
    sounds.values().any(|s| s.len() > 1)
}

/// Scores every pair from its map (and its mask, if the set has masks), writes
/// `metrics.json` and `pairs.csv` into `output` and prints the table.
fn score_and_report(
    set: &Pairs,
    map_of: &(dyn Fn(usize) -> Result<Map, EvalError> + Sync),
    output: &Path,
    mut config: Value,
    report: &dyn Report,
) -> Result<InteractiveMetrics, EvalError> {
    let pairs = &set.pairs;
    let masks = set.masks.as_ref().map(|(_, m)| m);
    let levels = f_levels();
    report.phase("pairs", pairs.len(), 0);
    let scored: Vec<ScoredPair> = (0..pairs.len())
        .into_par_iter()
        .map(|i| -> Result<ScoredPair, EvalError> {
            let map = map_of(i)?;
            let grid = if (map.h, map.w) == (MAP_SIZE, MAP_SIZE) {
                map.values
            } else {
                avsl_metrics::upsample::bilinear(&map.values, map.h, map.w, MAP_SIZE, MAP_SIZE, true)
            };
            let gt = GtMap::from_boxes(&[pairs[i].gt_box], BoxFormat::Vggss);
            let name = &pairs[i].name;
            let mask = masks
                .map(|m| -> Result<MaskScores, EvalError> { Ok(score_mask(&grid, &load_mask(&m[name])?, &levels)) });
            report.advance(1, None);
            Ok(ScoredPair {
                name: name.clone(),
                image: image_of_pair(name).to_string(),
                scores: score_pair(&grid, &gt),
                mask: mask.transpose()?,
            })
        })
        .collect::<Result<_, _>>()?;
    report.phase_end();
    let metrics = InteractiveMetrics::of(&scored);
    let interactive = several_sources(pairs);
    let empty_boxes = pairs.iter().filter(|p| GtMap::from_boxes(&[p.gt_box], BoxFormat::Vggss).area() == 0.0).count();
    let mut csv = String::from("name,image,ciou,adaptive_ciou");
    csv.push_str(if masks.is_some() { ",mask_iou,adaptive_mask_iou\n" } else { "\n" });
    for s in &scored {
        write!(csv, "{},{},{},{}", s.name, s.image, s.scores.ciou, s.scores.adaptive_ciou).expect("to a string");
        match &s.mask {
            Some(m) => writeln!(csv, ",{},{}", m.iou, m.adaptive_iou),
            None => writeln!(csv),
        }
        .expect("to a string");
    }
    if let Some((list, _)) = &set.masks {
        config["masks"] = json!(list);
        config["mask_scoring"] = json!(MASK_SCORING);
    }
    config["empty_boxes"] = json!(empty_boxes);
    write_atomic(&output.join("pairs.csv"), csv.as_bytes())?;
    let mut all = metrics.to_json();
    if !interactive {
        for key in ["IIoU@50", "IAUC", "adaptive_IIoU@50", "adaptive_IAUC"] {
            all.as_object_mut().expect("an object").remove(key);
        }
    }
    let results = json!({ "av": { "all": all }, "config": config });
    let json = serde_json::to_string_pretty(&results).expect("metrics serialise");
    write_atomic(&output.join("metrics.json"), json.as_bytes())?;
    report.line(&format!("{} pairs of {} images scored", metrics.pairs, metrics.images));
    if empty_boxes > 0 {
        report.line(&format!(
            "{empty_boxes} pairs have an empty box (nothing sounds): scored as the script scores them, cIoU 0"
        ));
    }
    let columns = if interactive { 4 } else { 2 };
    let header =
        ["cIoU@50", "AUC", "IIoU@50", "IAUC"][..columns].iter().fold(String::new(), |h, c| h + &format!(" {c:>8}"));
    report.line(&format!("{:<10}{header}", ""));
    let row =
        |name: &str, v: [f64; 4]| v[..columns].iter().fold(format!("{name:<10}"), |r, x| r + &format!(" {x:>8.4}"));
    report.line(&row("median", [metrics.ciou50, metrics.auc, metrics.iiou50, metrics.iauc]));
    let adaptive = [metrics.adaptive_ciou50, metrics.adaptive_auc, metrics.adaptive_iiou50, metrics.adaptive_iauc];
    report.line(&row("adaptive", adaptive));
    if let Some([miou, adaptive_miou, f]) = metrics.segmentation {
        report.line(&format!("masks: mIoU {miou:.4}, adaptive mIoU {adaptive_miou:.4}, F-score {f:.4}"));
    }
    Ok(metrics)
}
