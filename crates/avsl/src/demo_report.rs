//! The demo's `report.md` (tables, figures, what the numbers mean) and `report.json`
//! (`{"models": {name: metrics.json}}`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use avsl_data::fsutil::write_atomic;
use avsl_data::synth::SynthSummary;
use avsl_model::Architecture;
use avsl_train::config::TrainConfig;
use serde_json::{Value, json};

use crate::demo::Plan;
use crate::evaluation::Scored;

/// One evaluated model or baseline.
pub struct ModelResult {
    pub name: String,
    pub what: String,
    /// Its `metrics.json`.
    pub metrics: Value,
    pub scored: Scored,
}

impl ModelResult {
    /// A metric of the `av` maps over all samples of the extended set (LocAcc and AUC
    /// count the visible ones only).
    pub fn metric(&self, key: &str) -> f64 {
        self.metrics["av"]["all"][key].as_f64().unwrap_or(f64::NAN)
    }
}

/// What the demo did, for the report.
pub struct RunFacts {
    pub quick: bool,
    pub data: PathBuf,
    pub summary: SynthSummary,
    pub plan: Plan,
    /// Generation, SLAVC training, EZ-VSL training, evaluation.
    pub seconds: [f64; 4],
    pub total_s: f64,
}

fn find<'a>(results: &'a [ModelResult], name: &str) -> Option<&'a ModelResult> {
    results.iter().find(|r| r.name == name)
}

/// Steps and epochs of a run, from its log.
fn steps_of(run: &Path) -> u64 {
    std::fs::read_to_string(run.join("train_log.jsonl"))
        .map(|t| t.lines().filter(|l| l.contains("\"loss\"")).count() as u64)
        .unwrap_or(0)
}

fn config_row(name: &str, c: &TrainConfig, steps: u64, seconds: f64) -> String {
    // EZ-VSL has no momentum encoders.
    let momentum = match c.model {
        Architecture::Slavc => c.momentum_image.to_string(),
        Architecture::Ezvsl | Architecture::SslAlign => "–".to_string(),
    };
    format!(
        "| {name} | {} | {} | {} | {} | {} | {momentum} | {} | {} | {steps} | {seconds:.0} s |\n",
        c.width, c.dim, c.batch_size, c.lr, c.epochs, c.dropout_image, c.tau,
    )
}

/// The goals of the demo: SLAVC above the centre prior and the untrained model.
fn goals(results: &[ModelResult]) -> Option<(f64, f64)> {
    let slavc = find(results, "slavc")?;
    let best_baseline = |key: &str| {
        ["center_prior", "untrained"].iter().filter_map(|n| find(results, n)).map(|r| r.metric(key)).fold(0.0, f64::max)
    };
    Some((slavc.metric("LocAcc@50") - best_baseline("LocAcc@50"), slavc.metric("AP@50") - best_baseline("AP@50")))
}

pub fn write_report(out: &Path, facts: &RunFacts, results: &[ModelResult]) -> Result<()> {
    let models: serde_json::Map<String, Value> = results.iter().map(|r| (r.name.clone(), r.metrics.clone())).collect();
    let (loc_gain, ap_gain) = goals(results).unwrap_or((f64::NAN, f64::NAN));
    let report_json = json!({
        "models": models,
        "demo": {
            "quick": facts.quick,
            "seconds": {"generate": facts.seconds[0], "train_slavc": facts.seconds[1],
                        "train_ezvsl": facts.seconds[2], "evaluate": facts.seconds[3], "total": facts.total_s},
            "train_config": {"slavc": facts.plan.slavc, "ezvsl": facts.plan.ezvsl},
            "slavc_minus_best_baseline": {"LocAcc@50": loc_gain, "AP@50": ap_gain},
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
         sounding object is not in the frame.\n",
        facts.data.display(),
        facts.seconds[0]
    )?;
    writeln!(md, "| split | pairs |\n|---|---|")?;
    writeln!(md, "| train | {} |", s.train)?;
    writeln!(md, "| test, sounding object visible | {} |", s.test)?;
    writeln!(md, "| test, non-sounding: mismatched audio | {} |", s.mismatched_negatives)?;
    writeln!(md, "| test, non-sounding: source not in the frame | {} |\n", s.hidden_source_negatives)?;

    writeln!(md, "## Training\n")?;
    writeln!(
        md,
        "Both models train from random weights (no ImageNet file in a demo) with the loss, visual dropout, \
         momentum encoders and augmentation of the paper, on a smaller configuration so that they learn in \
         minutes on a CPU: ResNet-18 trunks of width 16 (16-32-64-128 channels instead of 64-128-256-512), \
         projection width d = 64 instead of 512, learning rate 1e-3 instead of 1e-4 and momentum 0.99 instead \
         of 0.999 (the published values need far more steps), batch 32 instead of 128. The configuration files \
         are in `configs/`; `avsl train --config configs/slavc.toml --data {} --output …` repeats a run.\n",
        facts.data.display()
    )?;
    writeln!(md, "| model | width | d | batch | lr | epochs | momentum | visual dropout | τ | steps | time |")?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let runs = out.join("runs");
    md.push_str(&config_row("SLAVC", &facts.plan.slavc, steps_of(&runs.join("slavc")), facts.seconds[1]));
    md.push_str(&config_row("EZ-VSL", &facts.plan.ezvsl, steps_of(&runs.join("ezvsl")), facts.seconds[2]));
    writeln!(
        md,
        "\nThe paper's recipe: width 64, d = 512, batch 128, lr 1e-4, 20 epochs, momentum 0.999, dropout 0.9.\n\n\
         ![training curves](figures/training_loss.png)\n\n\
         Validation after every epoch on the extended test set with the exact evaluator (curves only: the \
         models evaluated below are the last epoch's, not the best one's, so the test set picks nothing):\n\n\
         ![validation](figures/training_validation.png)\n"
    )?;

    writeln!(md, "## Results on the extended test set\n")?;
    writeln!(
        md,
        "All five are scored by the same evaluator and the same rule (SLAVC's protocol; the predicted region is \
         the top half of each map, so maps of any range compare fairly). AP and max-F1 count a pair as a true \
         positive when the model is confident and its region overlaps the annotated object (cIoU ≥ 0.5), so \
         non-sounding pairs must get low confidence; LocAcc and AUC look only at the pairs whose sounding \
         object is visible.\n"
    )?;
    writeln!(md, "| model | AP@50 | max-F1@50 | LocAcc@50 | AUC | mean cIoU | what it is |")?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for r in results {
        writeln!(
            md,
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            r.name,
            r.metric("AP@50"),
            r.metric("maxF1@50"),
            r.metric("LocAcc@50"),
            r.metric("AUC"),
            r.metric("mean_cIoU"),
            r.what
        )?;
    }
    if facts.quick {
        writeln!(
            md,
            "\n`--quick` trains for 40 steps per model, too few to leave chance on this benchmark (SLAVC needs about \
             120 steps to start and 250 to localise well): it shows the pipeline, not the method. Run `avsl demo` \
             without `--quick` (about 9 minutes on 2 cores) for the real comparison."
        )?;
    }
    let verdict = |gain: f64, goal: f64| if gain >= goal { "reached" } else { "not reached" };
    writeln!(
        md,
        "\nSLAVC minus the better of `center_prior` and `untrained`: LocAcc@50 {loc_gain:+.3} (goal ≥ +0.15: {}), \
         AP@50 {ap_gain:+.3} (goal ≥ +0.10: {}).\n",
        verdict(loc_gain, 0.15),
        verdict(ap_gain, 0.10)
    )?;
    if let (Some(a), Some(b)) = (find(results, "slavc"), find(results, "ezvsl")) {
        let (winner, loser) = if a.metric("AP@50") >= b.metric("AP@50") { (a, b) } else { (b, a) };
        let gap = winner.metric("AP@50") - loser.metric("AP@50");
        let reading = if gap < 0.05 {
            "One run each on one seed: a gap of a few points is within run-to-run noise."
        } else {
            "One run each on one seed, each for the steps of the training table: the validation curves \
             show where each one was still going when it stopped."
        };
        writeln!(
            md,
            "SLAVC vs EZ-VSL: {} has the higher AP@50 here ({:.3} vs {:.3}); LocAcc@50 {:.3} vs {:.3}. {reading}\n",
            winner.name,
            winner.metric("AP@50"),
            loser.metric("AP@50"),
            winner.metric("LocAcc@50"),
            loser.metric("LocAcc@50"),
        )?;
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
