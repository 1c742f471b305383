//! `avsl eval-maps --testset is3`: multi-source (interactive) localisation scored as the
//! SSL-align authors' test script does. Each (frame, source) pair's map is upsampled to
//! 224×224 (bilinear, align_corners=True, the script's choice for every method),
//! min-max normalised and thresholded at its median (cIoU) and at its ground-truth area
//! (adaptive cIoU); an image counts for IIoU only when every one of its sources is
//! localised with that source's own sound.

use std::fmt::Write as _;

use anyhow::Result;
use avsl_data::fsutil::write_atomic;
use avsl_data::is3::{find_list, read_source_pairs};
use avsl_metrics::interactive::{InteractiveMetrics, ScoredPair, image_of_pair, score_pair};
use avsl_metrics::{BoxFormat, GtMap, MAP_SIZE};
use rayon::prelude::*;
use serde_json::json;

use crate::eval_maps::{EvalMapsArgs, load_map, read_index};
use crate::output::prepare_output_dir;
use crate::progress;

/// The name `--testset` takes for a multi-source set.
pub const TESTSET: &str = "is3";

pub fn run_maps(args: EvalMapsArgs) -> Result<InteractiveMetrics> {
    let p = &args.protocol;
    p.dataset.refuse_as_output(&p.output, &[args.maps.as_path()])?;
    let metadata = p.dataset.metadata.clone().unwrap_or_else(|| p.dataset.data.join("metadata"));
    let list = find_list(&metadata)?;
    let pairs = read_source_pairs(&list, &p.dataset.data)?;
    let maps = read_index(&args.maps, &["video", "audio"], args.allow_outside_paths)?;
    for pair in &pairs {
        maps.path(&[&pair.name, &pair.name])?;
    }
    prepare_output_dir(&p.output, "metrics.json", p.force)?;
    let bar = progress::bar(pairs.len(), "pairs");
    let scored: Vec<ScoredPair> = pairs
        .par_iter()
        .map(|pair| -> Result<ScoredPair> {
            let (path, line) = maps.path(&[&pair.name, &pair.name])?;
            let map = load_map(path, &maps.index_file, *line)?;
            let grid = if (map.h, map.w) == (MAP_SIZE, MAP_SIZE) {
                map.values
            } else {
                avsl_metrics::upsample::bilinear(&map.values, map.h, map.w, MAP_SIZE, MAP_SIZE, true)
            };
            let gt = GtMap::from_boxes(&[pair.gt_box], BoxFormat::Vggss);
            bar.inc(1);
            Ok(ScoredPair {
                name: pair.name.clone(),
                image: image_of_pair(&pair.name).to_string(),
                scores: score_pair(&grid, &gt),
            })
        })
        .collect::<Result<_>>()?;
    bar.finish_and_clear();
    let metrics = InteractiveMetrics::of(&scored);
    let mut csv = String::from("name,image,ciou,adaptive_ciou\n");
    for s in &scored {
        writeln!(csv, "{},{},{},{}", s.name, s.image, s.scores.ciou, s.scores.adaptive_ciou)?;
    }
    write_atomic(&p.output.join("pairs.csv"), csv.as_bytes())?;
    let report = json!({
        "av": { "all": metrics.to_json() },
        "config": {
            "testset": TESTSET,
            "list": list,
            "pairs": pairs.len(),
            "maps": args.maps,
            "scoring": "SSL-align test script: bilinear (align_corners) to 224x224, min-max normalised, \
                        prediction strictly above the median; adaptive: strictly above the value at rank n - B, \
                        B = ground-truth pixels",
        }
    });
    write_atomic(&p.output.join("metrics.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!("{} pairs of {} images ({}) scored", metrics.pairs, metrics.images, list.display());
    println!("{:<10} {:>8} {:>8} {:>8} {:>8}", "", "cIoU@50", "AUC", "IIoU@50", "IAUC");
    let row = |name: &str, v: [f64; 4]| println!("{name:<10} {:>8.4} {:>8.4} {:>8.4} {:>8.4}", v[0], v[1], v[2], v[3]);
    row("median", [metrics.ciou50, metrics.auc, metrics.iiou50, metrics.iauc]);
    row("adaptive", [metrics.adaptive_ciou50, metrics.adaptive_auc, metrics.adaptive_iiou50, metrics.adaptive_iauc]);
    println!("results: {}", p.output.display());
    Ok(metrics)
}
