//! The demo's `report.md` (tables, figures, what the numbers mean) and `report.json`
//! (`{"models": {name: metrics.json}}`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use avsl_data::fsutil::write_atomic;
use avsl_data::synth::SynthSummary;
use avsl_model::Architecture;
use avsl_train::config::TrainConfig;
use avsl_train::run_log::{Curves, RunLog};
use serde_json::{Value, json};

use crate::demo_plan::Plan;
use avsl_metrics::scoring::Scored;

/// One evaluated model or baseline.
pub struct ModelResult {
    pub name: String,
    pub what: String,
    /// Its `metrics.json` on the extended test set.
    pub metrics: Value,
    pub scored: Scored,
    /// Its `metrics.json` on the multi-source set.
    pub interactive: Option<Value>,
}

impl ModelResult {
    /// A metric of the `av` maps over all samples of the extended set (LocAcc and AUC
    /// count the visible ones only).
    pub fn metric(&self, key: &str) -> f64 {
        self.metrics["av"]["all"][key].as_f64().unwrap_or(f64::NAN)
    }

    /// A metric over the pairs whose sounding object is visible: the standard test set.
    pub fn standard(&self, key: &str) -> f64 {
        self.metrics["av"]["visible"][key].as_f64().unwrap_or(f64::NAN)
    }

    /// A retrieval or alignment figure (over the visible pairs); NaN for map baselines.
    pub fn cross_modal(&self, key: &str) -> f64 {
        self.metrics["retrieval"][key].as_f64().unwrap_or(f64::NAN)
    }

    /// A metric on the multi-source set.
    pub fn interactive(&self, key: &str) -> f64 {
        self.interactive.as_ref().and_then(|m| m["av"]["all"][key].as_f64()).unwrap_or(f64::NAN)
    }
}

/// Seconds per stage.
pub struct Seconds {
    pub generate: f64,
    /// Training of SLAVC, EZ-VSL and SSL-align.
    pub train: Vec<f64>,
    pub evaluate: f64,
    pub interactive: f64,
}

/// A markdown table: one row per model, its name then `row`'s cells under `headers`.
fn table(md: &mut String, headers: &[&str], results: &[ModelResult], row: impl Fn(&ModelResult) -> Vec<String>) {
    md.push_str(&format!("| model | {} |\n|---|{}\n", headers.join(" | "), "---|".repeat(headers.len())));
    for r in results {
        md.push_str(&format!("| {} | {} |\n", r.name, row(r).join(" | ")));
    }
}

/// A table cell: 3 decimals, or a dash where a value does not apply.
fn cell(v: f64) -> String {
    if v.is_nan() { "–".into() } else { format!("{v:.3}") }
}

/// What the demo did, for the report.
pub struct RunFacts {
    pub quick: bool,
    pub data: PathBuf,
    pub summary: SynthSummary,
    pub plan: Plan,
    pub seconds: Seconds,
    pub total_s: f64,
}

fn find<'a>(results: &'a [ModelResult], name: &str) -> Option<&'a ModelResult> {
    results.iter().find(|r| r.name == name)
}

/// Steps and epochs of a run, from its log.
fn steps_of(run: &Path) -> Result<u64> {
    Ok(Curves::of(&RunLog::in_run(run).read()?).losses.len() as u64)
}

fn config_row(name: &str, c: &TrainConfig, steps: u64, seconds: f64) -> String {
    let views = if c.model == Architecture::SslAlign { " (×3 views)" } else { "" };
    // EZ-VSL has no momentum encoders.
    let momentum = match c.model {
        Architecture::Slavc => c.momentum_image.to_string(),
        Architecture::Ezvsl | Architecture::SslAlign => "–".to_string(),
    };
    format!(
        "| {name} | {} | {} | {}{views} | {} | {} | {momentum} | {} | {} | {steps} | {seconds:.0} s |\n",
        c.width, c.dim, c.batch_size, c.lr, c.epochs, c.dropout_image, c.tau,
    )
}

/// One thing the demo must show, measured.
struct Goal {
    model: &'static str,
    what: &'static str,
    value: f64,
    threshold: f64,
}

impl Goal {
    fn reached(&self) -> bool {
        self.value >= self.threshold
    }
}

/// The demo's goals: each method localises (LocAcc@50, SLAVC's AP@50 on the extended
/// set, SSL-align's IIoU@50 on the multi-source set) and clearly beats the better of the
/// centre prior and the untrained model.
fn goals(results: &[ModelResult]) -> Vec<Goal> {
    let baseline = ["center_prior", "untrained"]
        .iter()
        .filter_map(|n| find(results, n))
        .map(|r| r.metric("LocAcc@50"))
        .fold(0.0, f64::max);
    let value = |name: &str, metric: &dyn Fn(&ModelResult) -> f64| find(results, name).map_or(f64::NAN, metric);
    let loc = |name: &str| value(name, &|r| r.metric("LocAcc@50"));
    let goal = |model, what, value, threshold| Goal { model, what, value, threshold };
    let mut goals = vec![
        goal("SLAVC", "LocAcc@50", loc("slavc"), 0.70),
        goal("SLAVC", "AP@50 (extended set)", value("slavc", &|r| r.metric("AP@50")), 0.50),
        goal("EZ-VSL", "LocAcc@50", loc("ezvsl"), 0.50),
        goal("SSL-align", "LocAcc@50", loc("ssl_align"), 0.70),
        goal("SSL-align", "IIoU@50 (multi-source set)", value("ssl_align", &|r| r.interactive("IIoU@50")), 0.50),
    ];
    for (model, name) in [("SLAVC", "slavc"), ("EZ-VSL", "ezvsl"), ("SSL-align", "ssl_align")] {
        let what = "LocAcc@50 above the better baseline";
        goals.push(goal(model, what, loc(name) - baseline, 0.30));
    }
    goals
}

/// "Aligning Sight and Sound" claims that alignment improves interactivity and
/// retrieval: SSL-align against the better of SLAVC and EZ-VSL on IIoU@50 and R@1, said
/// as measured.
fn alignment_claim(results: &[ModelResult]) -> Option<String> {
    let ssl = find(results, "ssl_align")?;
    let others: Vec<&ModelResult> = ["slavc", "ezvsl"].iter().filter_map(|n| find(results, n)).collect();
    let best = |value: &dyn Fn(&ModelResult) -> f64| {
        others
            .iter()
            .map(|r| (value(r), r.name.as_str()))
            .fold((f64::NEG_INFINITY, ""), |a, b| if b.0 > a.0 { b } else { a })
    };
    let compare = |what: &str, value: &dyn Fn(&ModelResult) -> f64| {
        let (other, name) = best(value);
        let ours = value(ssl);
        let verdict = if ours > other {
            "higher than"
        } else if ours < other {
            "lower than"
        } else {
            "equal to"
        };
        format!("{what}: SSL-align {ours:.3}, {verdict} the better of the other two ({name}, {other:.3})")
    };
    Some(format!(
        "The paper's claim, that cross-modal alignment improves interactive localisation and retrieval, on this \
         run: {}; {}; {}. One seed and a few minutes of training per model: gaps of a few points are within \
         run-to-run noise.",
        compare("IIoU@50", &|r| r.interactive("IIoU@50")),
        compare("adaptive IIoU@50", &|r| r.interactive("adaptive_IIoU@50")),
        compare("audio→image R@1", &|r| r.cross_modal("a2v_R@1")),
    ))
}

pub fn write_report(out: &Path, facts: &RunFacts, results: &[ModelResult]) -> Result<()> {
    let models: serde_json::Map<String, Value> = results.iter().map(|r| (r.name.clone(), r.metrics.clone())).collect();
    let goals = goals(results);
    let report_json = json!({
        "models": models,
        "interactive": results.iter().map(|r| (r.name.clone(), r.interactive.clone().unwrap_or(Value::Null)))
            .collect::<serde_json::Map<String, Value>>(),
        "demo": {
            "quick": facts.quick,
            "seconds": {"generate": facts.seconds.generate, "train_slavc": facts.seconds.train[0],
                        "train_ezvsl": facts.seconds.train[1], "train_ssl_align": facts.seconds.train[2],
                        "evaluate": facts.seconds.evaluate, "evaluate_interactive": facts.seconds.interactive,
                        "total": facts.total_s},
            "train_config": {"slavc": facts.plan.slavc, "ezvsl": facts.plan.ezvsl, "ssl_align": facts.plan.ssl_align},
            "goals": goals.iter().map(|g| json!({"model": g.model, "metric": g.what, "value": g.value,
                "threshold": g.threshold, "reached": g.reached()})).collect::<Vec<_>>(),
        }
    });
    write_atomic(&out.join("report.json"), serde_json::to_string_pretty(&report_json)?.as_bytes())?;

    let s = &facts.summary;
    let mut md = String::new();
    writeln!(md, "# avsl demo{}\n", if facts.quick { " (--quick)" } else { "" })?;
    writeln!(
        md,
        "Everything below was made by `avsl demo` in {:.0} s on this machine, with the same commands a user runs: \
         `avsl synth`, `avsl train`, `avsl eval`, `avsl eval-maps`. Nothing was downloaded.\n",
        facts.total_s
    )?;
    writeln!(md, "## The benchmark\n")?;
    writeln!(
        md,
        "A synthetic audio-visual dataset in the VGG-SS layout (`{}`, {:.0} s to generate). Each frame shows two \
         objects of different classes (six classes: box, disc or striped box, red or blue) in opposite halves of \
         the frame, so a centre prior cannot find them; one object makes the sound, and its class sets the timbre \
         of the clip (a harmonic tone with class-specific pitch, roll-off and modulation, plus noise). The extended test set adds \
         non-sounding pairs, as SLAVC's does: frames with the audio of a class they do not show, and scenes whose \
         sounding object is not in the frame.{}{}\n",
        facts.data.display(),
        facts.seconds.generate,
        if facts.plan.synth.silent_distractors {
            " In the training scenes the second object is a green shape, a class that never sounds, so the \
             contrastive losses never have to push a frame away from the sound of an object it shows; the test \
             scenes show two sounding classes, so a model must tell them apart by their sound."
        } else {
            ""
        },
        match (facts.plan.synth.small_fraction == 0.0, facts.plan.synth.filled_halves) {
            (true, true) => {
                " Every source fills nearly all of its half of the frame: the predicted region is half of the \
                 frame, so a map that marks exactly the source reaches cIoU ≈ 0.8, and one that misses a sixth of it \
                 still passes 0.5 (docs/synthetic.md)."
            }
            (true, false) => {
                " Every source covers at least about a quarter of the frame: with the predicted region being half \
                 of the frame, smaller sources can never reach cIoU 0.5 (docs/synthetic.md)."
            }
            _ => "",
        }
    )?;
    writeln!(md, "| split | pairs |\n|---|---|")?;
    writeln!(md, "| train | {} |", s.train)?;
    writeln!(md, "| test, sounding object visible | {} |", s.test)?;
    writeln!(md, "| test, non-sounding: mismatched audio | {} |", s.mismatched_negatives)?;
    writeln!(md, "| test, non-sounding: source not in the frame | {} |", s.hidden_source_negatives)?;
    writeln!(md, "| multi-source (interactive) test: scenes × 2 sounding objects | {} × 2 |", s.interactive_scenes)?;
    writeln!(
        md,
        "| validation (held-out scenes, another seed): visible / non-sounding | {} / {} |\n",
        facts.plan.validation.test, facts.plan.validation.negatives
    )?;
    writeln!(
        md,
        "The multi-source set is laid out as the IS3 release of \"Aligning Sight and Sound\": both objects of a \
         scene make a sound, each in its own clip, and the frame is paired with each clip in turn. A model that \
         follows the sound moves its map from one object to the other; one that finds the most salient object \
         shows the same object twice.\n"
    )?;

    writeln!(md, "## Training\n")?;
    writeln!(
        md,
        "The three models train from random weights (no ImageNet file in a demo) with the losses, visual dropout, \
         momentum encoders and augmentations of their papers, on a smaller configuration so that they learn in \
         minutes on a CPU: ResNet-18 trunks of width 16 (16-32-64-128 channels instead of 64-128-256-512), \
         projection width d = 64 instead of 512, {}×{} frames{} and {} s of sound instead of 224×224 and 3 s, \
         learning rate {:e} (EZ-VSL {:e} with τ = {}: docs/synthetic.md §9) instead of 1e-4 (and τ = 0.03) \
         and momentum 0.99 \
         instead of 0.999 (the published values need far more steps), batch {} instead of 128. SSL-align's step runs \
         three views of each sample (itself, its SimCLR augmentation with a shifted audio window, a mined \
         neighbour) through each trunk, about three times the work of an EZ-VSL step, so it trains for fewer \
         steps; its k = {} neighbours are mined with the trained SLAVC's encoders (`runs/neighbours.safetensors`, \
         as `avsl mine-neighbours --features runs/slavc/best.safetensors` does; the paper mines with pretrained \
         encoders, and none ships with a demo). The configuration files are in `configs/`; `avsl train --config \
         configs/slavc.toml --data {} --output …` repeats a run.\n",
        facts.plan.slavc.image_size,
        facts.plan.slavc.image_size,
        if facts.plan.slavc.image_stem_pool {
            ""
        } else {
            " (the image trunk without the max-pool after its stem, so the map is still 7×7)"
        },
        facts.plan.slavc.audio_seconds,
        facts.plan.slavc.lr,
        facts.plan.ezvsl.lr,
        facts.plan.ezvsl.tau,
        facts.plan.slavc.batch_size,
        facts.plan.ssl_align.neighbours_k,
        facts.data.display()
    )?;
    writeln!(md, "| model | width | d | batch | lr | epochs | momentum | visual dropout | τ | steps | time |")?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let runs = out.join("runs");
    md.push_str(&config_row("SLAVC", &facts.plan.slavc, steps_of(&runs.join("slavc"))?, facts.seconds.train[0]));
    md.push_str(&config_row("EZ-VSL", &facts.plan.ezvsl, steps_of(&runs.join("ezvsl"))?, facts.seconds.train[1]));
    let ssl = &facts.plan.ssl_align;
    md.push_str(&config_row("SSL-align", ssl, steps_of(&runs.join("ssl-align"))?, facts.seconds.train[2]));
    writeln!(
        md,
        "\nThe papers' recipes: width 64, d = 512, batch 128, lr 1e-4, 20 epochs, momentum 0.999, dropout 0.9 \
         (SLAVC), τ = 0.03 (SLAVC, EZ-VSL); SSL-align 50 epochs, τ = 0.07, k = 1000 neighbours from pretrained \
         encoders.\n\n\
         ![training curves](figures/training_loss.png)\n\n\
         Validation after every epoch with the exact evaluator on held-out scenes (`validation/`, generated \
         like the test set from another seed); each model below is its epoch with the best validation AP@50 \
         (`best.safetensors`), so the test set chooses nothing:\n\n\
         ![validation](figures/training_validation.png)\n"
    )?;

    writeln!(md, "## Results\n")?;
    writeln!(
        md,
        "All models are scored by the same evaluator and the same rule (SLAVC's protocol; the predicted region \
         is the top half of each map, so maps of any range compare fairly). One run per model on one seed.\n"
    )?;
    writeln!(md, "### Standard test set (the pairs whose sounding object is visible)\n")?;
    writeln!(
        md,
        "LocAcc@50: share of pairs whose predicted region overlaps the object with cIoU ≥ 0.5; adaptive cIoU: \
         the region is the map's top B pixels, B = the object's area (\"Aligning Sight and Sound\"). Retrieval: \
         audio→image recall@1 among the {} test pairs (each scene's own frame among all frames; with 6 classes \
         many frames show the queried sound's object, so instance retrieval stays low on this benchmark; \
         chance is {:.3}); alignment: mean cosine of the true pairs' embeddings (for SSL-align: of its \
         localisation features; `projected_*` in `metrics.json` has its alignment projections).\n",
        facts.summary.test,
        1.0 / facts.summary.test.max(1) as f64
    )?;
    table(
        &mut md,
        &["LocAcc@50", "AUC", "mean cIoU", "adaptive cIoU", "R@1 a→v", "R@10 a→v", "alignment", "magnitude"],
        results,
        |r| {
            let standard = ["LocAcc@50", "AUC", "mean_cIoU", "adaptive_cIoU"].map(|k| cell(r.standard(k)));
            let cross = ["a2v_R@1", "a2v_R@10", "alignment", "magnitude"].map(|k| cell(r.cross_modal(k)));
            standard.into_iter().chain(cross).collect()
        },
    );
    writeln!(md, "\n### Extended test set (with non-sounding pairs)\n")?;
    writeln!(
        md,
        "AP and max-F1 count a pair as a true positive when the model is confident and its region overlaps the \
         annotated object (cIoU ≥ 0.5), so non-sounding pairs must get low confidence.\n"
    )?;
    table(&mut md, &["AP@50", "max-F1@50", "LocAcc@50", "AUC", "what it is"], results, |r| {
        let metrics = ["AP@50", "maxF1@50", "LocAcc@50", "AUC"].map(|k| cell(r.metric(k)));
        metrics.into_iter().chain([r.what.clone()]).collect()
    });
    writeln!(md, "\n### Multi-source (interactive) test set\n")?;
    writeln!(
        md,
        "Scored as the SSL-align authors' test script scores IS3 (bilinear upsampling, min-max, region above the \
         median; adaptive: the top B pixels). cIoU@50 counts (frame, sound) pairs; IIoU@50 counts a frame only \
         when each of its objects is found with its own sound, so a model that shows the same object for both \
         sounds scores at most half its cIoU@50 there. mIoU and F-score compare the maps with the objects' \
         segmentation masks as AVSBench does (IoU of the median prediction; F-measure, β² = 0.3, best of 255 \
         levels).\n"
    )?;
    let interactive =
        ["cIoU@50", "IIoU@50", "adaptive_cIoU@50", "adaptive_IIoU@50", "IAUC", "adaptive_IAUC", "mIoU", "F-score"];
    table(
        &mut md,
        &["cIoU@50", "IIoU@50", "adaptive cIoU@50", "adaptive IIoU@50", "IAUC", "adaptive IAUC", "mIoU", "F-score"],
        results,
        |r| interactive.iter().map(|k| cell(r.interactive(k))).collect(),
    );
    writeln!(
        md,
        "\n![interactive](figures/interactive.png)\n\nEach column is one frame with one of its sounds (the \
         object that makes it boxed in green); each row a model's map for that sound. Two columns per scene: \
         a model that follows the sound moves its bright region between them.\n"
    )?;
    if facts.quick {
        writeln!(
            md,
            "\n`--quick` trains each model for one epoch of {} training scenes ({} steps): it shows the pipeline; \
             SLAVC and EZ-VSL need a few hundred steps to localise well. Run `avsl demo` without `--quick` (about 5 \
             to 8 minutes on 2 cores) for the real comparison.",
            facts.summary.train,
            facts.summary.train / facts.plan.slavc.batch_size
        )?;
    }
    writeln!(
        md,
        "\n### Goals\n\nWhat the demo is meant to show (\"the better baseline\": the higher LocAcc@50 of \
         `center_prior` and `untrained`):\n\n| model | measure | value | goal | |\n|---|---|---|---|---|"
    )?;
    for g in &goals {
        let verdict = if g.reached() { "reached" } else { "not reached" };
        writeln!(md, "| {} | {} | {} | ≥ {:.2} | {verdict} |", g.model, g.what, cell(g.value), g.threshold)?;
    }
    writeln!(md)?;
    if let Some(claim) = alignment_claim(results) {
        writeln!(md, "{claim}\n")?;
    }
    writeln!(
        md,
        "Per model, every metric of every subset (small/medium/large/huge sources, by number of boxes) is in \
         `eval/<model>/metrics.json` and the per-pair figures in `eval/<model>/av/samples.csv`.\n"
    )?;
    writeln!(md, "![precision-recall](figures/pr_curves.png)\n")?;
    writeln!(
        md,
        "## What the models see\n\nColumns: test pairs (positives, then non-sounding pairs); rows: the frame with \
         the annotated source (green), then each model's map over it (bright = where it hears the sound) with \
         its confidence. A good model lights up the sounding object and stays dim on non-sounding pairs.\n\n\
         ![heatmaps](figures/heatmaps.png)\n"
    )?;
    write_atomic(&out.join("report.md"), md.as_bytes())?;
    Ok(())
}
