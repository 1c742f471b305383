//! The demo's figures: training curves of the models, the precision–recall curves of
//! every model, a grid of heatmaps over test frames, and the multi-source scenes with
//! each of their sounds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use avsl_data::fsutil::write_atomic;
use avsl_data::image_io::{RgbImage, encode_png, read_rgb};
use avsl_data::source_sets::SourcePair;
use avsl_data::testset::TestSample;
use avsl_data::transform::{INPUT_SIZE, test_resize};
use avsl_metrics::SampleResult;
use avsl_metrics::interactive::image_of_pair;
use avsl_metrics::score::to_grid;

use avsl_eval::map_folder::{MapIndex, PAIR_KEYS};
use avsl_eval::results::pr_points;
use avsl_train::run_log::{Curves, RunLog};

use crate::colormap::{draw_rect, viridis};
use crate::demo_report::ModelResult;
use crate::overlay::draw_texts;
use crate::plots::{Series, line_plot, line_plot_in, padded_range};

/// Mean of each window of `k` consecutive points (readable curves from noisy steps).
fn smoothed(points: &[(f64, f64)], k: usize) -> Vec<(f64, f64)> {
    points
        .windows(k.min(points.len()).max(1))
        .map(|w| (w[w.len() - 1].0, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64))
        .collect()
}

/// `training_loss.png` (loss per step, smoothed over 10 steps) and
/// `training_validation.png` (AP@50 and LocAcc@50 after every epoch) of the runs.
pub fn training_curves(dir: &Path, runs: &[(&str, &PathBuf)]) -> Result<()> {
    let (mut losses, mut validation) = (Vec::new(), Vec::new());
    for (label, run) in runs {
        let curves = Curves::of(&RunLog::in_run(run).read()?);
        let steps: Vec<(f64, f64)> = curves.losses.iter().map(|&(step, loss)| (step as f64, loss)).collect();
        losses.push(Series {
            label: format!("{label} (mean of 10 steps)"),
            points: smoothed(&steps, 10),
            dashed: false,
        });
        for (key, dashed) in [("AP@50", false), ("LocAcc@50", true)] {
            let points = curves.validation_metric(key).into_iter().map(|(epoch, v)| (epoch as f64, v)).collect();
            validation.push(Series { label: format!("{label} {key}"), points, dashed });
        }
    }
    let x = padded_range(losses.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let y = padded_range(losses.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    line_plot_in(&dir.join("training_loss.png"), "Training loss", "step", "loss", &losses, x, y)?;
    let last = validation.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(1.0, f64::max);
    line_plot_in(
        &dir.join("training_validation.png"),
        "Validation after each epoch (extended test set)",
        "epoch",
        "metric",
        &validation,
        (0.5, last + 0.5),
        (0.0, 1.02),
    )
}

/// The exact precision–recall curve (IoU 0.5) of every model on one plot.
pub fn pr_curves(path: &Path, results: &[ModelResult]) -> Result<()> {
    let series: Vec<Series> = results
        .iter()
        .map(|r| {
            let rows: Vec<&SampleResult> = r.scored.variants["av"].iter().collect();
            let points = pr_points(&rows, 0.5);
            Series { label: format!("{} (AP@50 {:.3})", r.name, r.metric("AP@50")), points, dashed: false }
        })
        .collect();
    line_plot(path, "Precision-recall at cIoU 0.5, extended test set", "recall", "precision", &series)
}

/// The test pairs to show: four positives, two mismatched pairs, two hidden sources.
fn showcase(samples: &[TestSample]) -> Vec<&TestSample> {
    let positives = samples.iter().filter(|s| s.has_boxes()).take(4);
    let mismatched = samples.iter().filter(|s| !s.has_boxes() && s.video_id != s.audio_id).take(2);
    let hidden = samples.iter().filter(|s| !s.has_boxes() && s.video_id == s.audio_id).take(2);
    positives.chain(mismatched).chain(hidden).collect()
}

const TILE: usize = 224;
const LABEL_W: usize = 150;
const HEADER_H: usize = 28;

/// The frame with its map blended in (min–max scaled for display).
fn overlay(frame: &RgbImage, map: &[f32]) -> RgbImage {
    let (lo, hi) = map.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut out = frame.clone();
    for (px, &v) in out.data.chunks_exact_mut(3).zip(map) {
        let colour = viridis((v - lo) / span);
        for c in 0..3 {
            px[c] = (0.45 * px[c] as f32 + 0.55 * colour[c] as f32).round() as u8;
        }
    }
    out
}

pub fn blit(canvas: &mut RgbImage, tile: &RgbImage, x0: usize, y0: usize) {
    for y in 0..tile.height {
        let src = &tile.data[y * tile.width * 3..][..tile.width * 3];
        let at = ((y0 + y) * canvas.width + x0) * 3;
        canvas.data[at..at + tile.width * 3].copy_from_slice(src);
    }
}

/// A grid: one column per showcased pair, the frame with its boxes on top, then each
/// model's map over the frame with the pair's confidence (and cIoU for positives).
pub fn overlay_grid(path: &Path, samples: &[TestSample], rows: &[(&ModelResult, PathBuf)]) -> Result<()> {
    let shown = showcase(samples);
    let (width, height) = (LABEL_W + shown.len() * TILE, HEADER_H + (rows.len() + 1) * TILE);
    let mut canvas = RgbImage::new(width, height);
    canvas.data.fill(255);
    let mut texts: Vec<(String, usize, usize)> = Vec::new();
    let indices: Vec<MapIndex> =
        rows.iter().map(|(_, dir)| MapIndex::read(dir, PAIR_KEYS, false)).collect::<Result<_, _>>()?;
    for (col, sample) in shown.iter().enumerate() {
        let x0 = LABEL_W + col * TILE;
        let mut frame = test_resize(&read_rgb(&sample.frame)?, INPUT_SIZE);
        let kind = if sample.has_boxes() {
            "sounding"
        } else if sample.video_id != sample.audio_id {
            "other clip's audio"
        } else {
            "source not in frame"
        };
        texts.push((kind.to_string(), x0 + 6, 6));
        let mut boxed = frame.clone();
        for b in &sample.boxes {
            let clamp = |v: i64| v.clamp(0, TILE as i64) as usize;
            draw_rect(&mut boxed, [clamp(b.xmin), clamp(b.ymin), clamp(b.xmax), clamp(b.ymax)], [0, 230, 0], 3);
        }
        blit(&mut canvas, &boxed, x0, HEADER_H);
        for (r, ((result, _), index)) in rows.iter().zip(&indices).enumerate() {
            let m = index
                .load(&[&sample.video_id, &sample.audio_id])
                .with_context(|| format!("the maps of {}", result.name))?;
            let map = to_grid(&m.values, m.h, m.w, false);
            frame = test_resize(&read_rgb(&sample.frame)?, INPUT_SIZE);
            let y0 = HEADER_H + (r + 1) * TILE;
            blit(&mut canvas, &overlay(&frame, &map), x0, y0);
            let row =
                result.scored.variants["av"].iter().find(|s| s.video == sample.video_id && s.audio == sample.audio_id);
            if let Some(s) = row {
                let ciou = if s.bb > 0 { format!("  cIoU {:.2}", s.ciou) } else { String::new() };
                texts.push((format!("conf {:.3}{ciou}", s.conf), x0 + 6, y0 + TILE - 22));
            }
        }
    }
    texts.push(("frame + source".into(), 8, HEADER_H + TILE / 2));
    for (r, (result, _)) in rows.iter().enumerate() {
        texts.push((result.name.clone(), 8, HEADER_H + (r + 1) * TILE + TILE / 2));
    }
    draw_texts(&mut canvas, &texts, 17).map_err(|e| anyhow!("{}: cannot draw labels: {e}", path.display()))?;
    write_atomic(path, &encode_png(&canvas))?;
    Ok(())
}

/// The first two scenes of the multi-source set, each frame once per sound (columns): the
/// frame with that sound's object boxed, then each model's map for that sound (`rows`:
/// name and its `eval --testset is3 --save-maps` folder) with the pair's cIoU.
pub fn interactive_grid(path: &Path, pairs: &[SourcePair], rows: &[(String, PathBuf)]) -> Result<()> {
    let mut scenes: Vec<&str> = pairs.iter().map(|p| image_of_pair(&p.name)).collect();
    scenes.dedup();
    let shown: Vec<&SourcePair> =
        pairs.iter().filter(|p| scenes.iter().take(2).any(|s| *s == image_of_pair(&p.name))).collect();
    let (width, height) = (LABEL_W + shown.len() * TILE, HEADER_H + (rows.len() + 1) * TILE);
    let mut canvas = RgbImage::new(width, height);
    canvas.data.fill(255);
    let mut texts: Vec<(String, usize, usize)> = Vec::new();
    let indices: Vec<MapIndex> =
        rows.iter().map(|(_, dir)| MapIndex::read(&dir.join("maps"), PAIR_KEYS, false)).collect::<Result<_, _>>()?;
    let cious: Vec<HashMap<String, f64>> = rows.iter().map(|(_, dir)| pair_cious(dir)).collect::<Result<_>>()?;
    for (col, pair) in shown.iter().enumerate() {
        let x0 = LABEL_W + col * TILE;
        let frame = test_resize(&read_rgb(&pair.frame)?, INPUT_SIZE);
        let sound = pair.name.rsplit('_').next().unwrap_or("");
        texts.push((format!("sound: {sound}"), x0 + 6, 6));
        let mut boxed = frame.clone();
        let b = pair.gt_box;
        let clamp = |v: i64| v.clamp(0, TILE as i64) as usize;
        draw_rect(&mut boxed, [clamp(b.xmin), clamp(b.ymin), clamp(b.xmax), clamp(b.ymax)], [0, 230, 0], 3);
        blit(&mut canvas, &boxed, x0, HEADER_H);
        for (r, ((name, _), (index, ciou))) in rows.iter().zip(indices.iter().zip(&cious)).enumerate() {
            let m = index.load(&[&pair.name, &pair.name]).with_context(|| format!("the maps of {name}"))?;
            let map = to_grid(&m.values, m.h, m.w, false);
            let y0 = HEADER_H + (r + 1) * TILE;
            blit(&mut canvas, &overlay(&frame, &map), x0, y0);
            if let Some(c) = ciou.get(&pair.name) {
                texts.push((format!("cIoU {c:.2}"), x0 + 6, y0 + TILE - 22));
            }
        }
    }
    texts.push(("frame + source".into(), 8, HEADER_H + TILE / 2));
    for (r, (name, _)) in rows.iter().enumerate() {
        texts.push((name.clone(), 8, HEADER_H + (r + 1) * TILE + TILE / 2));
    }
    draw_texts(&mut canvas, &texts, 17).map_err(|e| anyhow!("{}: cannot draw labels: {e}", path.display()))?;
    write_atomic(path, &encode_png(&canvas))?;
    Ok(())
}

/// cIoU of every pair from an interactive evaluation's `pairs.csv`.
fn pair_cious(dir: &Path) -> Result<HashMap<String, f64>> {
    let path = dir.join("pairs.csv");
    let mut reader = csv::Reader::from_path(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = HashMap::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("{}: not a pairs table", path.display()))?;
        out.insert(
            row[0].to_string(),
            row[2].parse().with_context(|| format!("{}: cIoU {}", path.display(), &row[2]))?,
        );
    }
    Ok(out)
}
