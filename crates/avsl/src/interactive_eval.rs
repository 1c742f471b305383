//! `--testset is3` for `avsl eval-maps` and `avsl eval`: multi-source (interactive)
//! localisation scored as the SSL-align authors' test script does. Each (frame, source)
//! pair's map is upsampled to 224×224 (bilinear, align_corners=True, the script's choice
//! for every method), min-max normalised and thresholded at its median (cIoU) and at its
//! ground-truth area (adaptive cIoU); an image counts for IIoU only when every one of its
//! sources is localised with that source's own sound.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Result, bail};
use avsl_data::fsutil::write_atomic;
use avsl_data::is3::{SourcePair, find_list, load_mask, read_masks, read_source_pairs};
use avsl_metrics::interactive::{InteractiveMetrics, MaskScores, ScoredPair, image_of_pair, score_mask, score_pair};
use avsl_metrics::scoring::Map;
use avsl_metrics::segmentation::f_levels;
use avsl_metrics::{BoxFormat, GtMap, MAP_SIZE};
use avsl_model::checkpoint::read_checkpoint;
use avsl_model::test_pass::{OnBadFile, distinct_pairs, embed_pairs};
use avsl_model::{Architecture, EncoderSet};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::dataset_args::DatasetArgs;
use avsl_model::device::parse_device;

use crate::device::model_threads;
use crate::eval::{EvalArgs, write_map_folder};
use crate::eval_maps::{EvalMapsArgs, load_map, read_index};
use crate::output::prepare_output_dir;
use crate::progress;

/// The name `--testset` takes for a multi-source set.
pub const TESTSET: &str = "is3";

/// `--testset` names a multi-source set: `is3`, or its generic name `interactive`.
pub fn is_multi_source(testset: &str) -> bool {
    testset == TESTSET || testset == "interactive"
}

const MASK_SCORING: &str = "AVSBench's mask_iou of the median and of the adaptive prediction (B = mask pixels), and \
                            Eval_Fmeasure (beta^2 0.3, 255 levels) of the min-max map without a sigmoid; masks: \
                            luminance >= 128, nearest-neighbour to 224x224";

const SCORING: &str = "SSL-align test script: bilinear (align_corners) to 224x224, min-max normalised, prediction \
                       strictly above the median; adaptive: strictly above the value at rank n - B, B = ground-truth \
                       pixels";

/// The set's list, pairs, and masks when it has a mask list.
struct SourceSet {
    list: PathBuf,
    pairs: Vec<SourcePair>,
    masks: Option<(PathBuf, HashMap<String, PathBuf>)>,
}

fn source_set(dataset: &DatasetArgs) -> Result<SourceSet> {
    let metadata = dataset.paths(None).metadata;
    let list = find_list(&metadata)?;
    let pairs = read_source_pairs(&list, &dataset.data)?;
    let masks = read_masks(&metadata, &dataset.data, &pairs)?;
    Ok(SourceSet { list, pairs, masks })
}

/// Scores every pair from its map (and its mask, if the set has masks), writes
/// `metrics.json` and `pairs.csv` into `output` and prints the table.
fn score_and_report(
    set: &SourceSet,
    map_of: &(dyn Fn(usize) -> Result<Map> + Sync),
    output: &std::path::Path,
    mut config: Value,
) -> Result<InteractiveMetrics> {
    let pairs = &set.pairs;
    let masks = set.masks.as_ref().map(|(_, m)| m);
    let levels = f_levels();
    let bar = progress::bar(pairs.len(), "pairs");
    let scored: Vec<ScoredPair> = (0..pairs.len())
        .into_par_iter()
        .map(|i| -> Result<ScoredPair> {
            let map = map_of(i)?;
            let grid = if (map.h, map.w) == (MAP_SIZE, MAP_SIZE) {
                map.values
            } else {
                avsl_metrics::upsample::bilinear(&map.values, map.h, map.w, MAP_SIZE, MAP_SIZE, true)
            };
            let gt = GtMap::from_boxes(&[pairs[i].gt_box], BoxFormat::Vggss);
            let name = &pairs[i].name;
            let mask = masks.map(|m| -> Result<MaskScores> { Ok(score_mask(&grid, &load_mask(&m[name])?, &levels)) });
            bar.inc(1);
            Ok(ScoredPair {
                name: name.clone(),
                image: image_of_pair(name).to_string(),
                scores: score_pair(&grid, &gt),
                mask: mask.transpose()?,
            })
        })
        .collect::<Result<_>>()?;
    bar.finish_and_clear();
    let metrics = InteractiveMetrics::of(&scored);
    let mut csv = String::from("name,image,ciou,adaptive_ciou");
    csv.push_str(if masks.is_some() { ",mask_iou,adaptive_mask_iou\n" } else { "\n" });
    for s in &scored {
        write!(csv, "{},{},{},{}", s.name, s.image, s.scores.ciou, s.scores.adaptive_ciou)?;
        match &s.mask {
            Some(m) => writeln!(csv, ",{},{}", m.iou, m.adaptive_iou)?,
            None => writeln!(csv)?,
        }
    }
    if let Some((list, _)) = &set.masks {
        config["masks"] = json!(list);
        config["mask_scoring"] = json!(MASK_SCORING);
    }
    write_atomic(&output.join("pairs.csv"), csv.as_bytes())?;
    let report = json!({ "av": { "all": metrics.to_json() }, "config": config });
    write_atomic(&output.join("metrics.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!("{} pairs of {} images scored", metrics.pairs, metrics.images);
    println!("{:<10} {:>8} {:>8} {:>8} {:>8}", "", "cIoU@50", "AUC", "IIoU@50", "IAUC");
    let row = |name: &str, v: [f64; 4]| println!("{name:<10} {:>8.4} {:>8.4} {:>8.4} {:>8.4}", v[0], v[1], v[2], v[3]);
    row("median", [metrics.ciou50, metrics.auc, metrics.iiou50, metrics.iauc]);
    row("adaptive", [metrics.adaptive_ciou50, metrics.adaptive_auc, metrics.adaptive_iiou50, metrics.adaptive_iauc]);
    if let Some([miou, adaptive_miou, f]) = metrics.segmentation {
        println!("masks: mIoU {miou:.4}, adaptive mIoU {adaptive_miou:.4}, F-score {f:.4}");
    }
    println!("results: {}", output.display());
    Ok(metrics)
}

/// `avsl eval-maps --testset is3`: maps from any model, one per pair.
pub fn run_maps(args: EvalMapsArgs) -> Result<InteractiveMetrics> {
    let p = &args.protocol;
    p.dataset.refuse_as_output(&p.output, &[args.maps.as_path()])?;
    let set = source_set(&p.dataset)?;
    let (list, pairs) = (&set.list, &set.pairs);
    let maps = read_index(&args.maps, &["video", "audio"], args.allow_outside_paths)?;
    for pair in pairs {
        maps.path(&[&pair.name, &pair.name])?;
    }
    prepare_output_dir(&p.output, "metrics.json", p.force)?;
    let map_of = |i: usize| -> Result<Map> {
        let (path, line) = maps.path(&[&pairs[i].name, &pairs[i].name])?;
        load_map(path, &maps.index_file, *line)
    };
    let config =
        json!({ "testset": TESTSET, "list": list, "pairs": pairs.len(), "maps": args.maps, "scoring": SCORING });
    score_and_report(&set, &map_of, &p.output, config)
}

/// `avsl eval --testset is3`: a checkpoint's own maps of every pair (the av map S).
pub fn run_checkpoint(args: EvalArgs) -> Result<InteractiveMetrics> {
    let p = &args.protocol;
    if args.object_weights.is_some() || args.skip_bad {
        bail!("--testset is3 scores the av maps only (no --object-weights or --skip-bad yet)");
    }
    p.dataset.refuse_as_output(&p.output, &[])?;
    let threads = model_threads(args.threads);
    let device = parse_device(&args.device)?;
    let sources = source_set(&p.dataset)?;
    let (list, pairs) = (&sources.list, &sources.pairs);
    prepare_output_dir(&p.output, "metrics.json", p.force)?;
    let checkpoint = read_checkpoint(&args.checkpoint)?;
    let model_config = checkpoint.config(p.tau, args.model.map(Architecture::from))?;
    let set = if args.use_mom_eval { EncoderSet::Momentum } else { EncoderSet::Online };
    let encoders = checkpoint.into_encoders(model_config, set, &device)?;
    println!(
        "{} (d = {}) from {}: the {} on {} pairs of {}",
        model_config.architecture.name(),
        model_config.dim,
        args.checkpoint.display(),
        set.describe(),
        pairs.len(),
        list.display()
    );
    let files: Vec<(PathBuf, PathBuf)> = pairs.iter().map(|s| (s.frame.clone(), s.audio.clone())).collect();
    let (frames, clips) = distinct_pairs(&files);
    let bar = progress::bar(frames.files.len() + clips.files.len(), "files");
    let on_file = |n: usize| bar.inc(n as u64);
    let embedded = embed_pairs(
        (frames, clips),
        &encoders,
        None,
        model_config.tau,
        args.batch_size,
        threads,
        &device,
        &on_file,
        OnBadFile::Stop,
    )?;
    bar.finish_and_clear();
    let map_of = |i: usize| -> Result<Map> { Ok(embedded.pair_map(i).clone()) };
    let config = json!({
        "testset": TESTSET,
        "list": list,
        "pairs": pairs.len(),
        "checkpoint": args.checkpoint,
        "model": model_config.architecture.name(),
        "encoders": set.name(),
        "scoring": SCORING,
    });
    let metrics = score_and_report(&sources, &map_of, &p.output, config)?;
    if args.save_maps {
        // Keyed by pair name in both columns, as `eval-maps --testset is3` reads them.
        let maps = pairs.iter().enumerate().map(|(i, s)| (i, [s.name.as_str(), s.name.as_str()], embedded.pair_map(i)));
        write_map_folder(&p.output.join("maps"), maps)?;
    }
    Ok(metrics)
}
