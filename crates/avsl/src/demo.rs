//! `avsl demo`: the whole story on generated data. So far: generate the synthetic
//! benchmark, load its extended test set exactly as the evaluation will, and write a
//! report with a few inspected samples (frame with its box, spectrogram).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use avsl_data::fsutil::write_atomic;
use avsl_data::image_io::{encode_png, read_rgb};
use avsl_data::loader::{Loader, LoaderConfig, PairFiles};
use avsl_data::synth::SynthConfig;
use avsl_data::testset::{TestSample, TestSet, TestSetPaths, build_test_list};
use avsl_data::transform::test_resize;
use clap::Args;

use crate::colormap::draw_rect;
use crate::inspect::inspect_pair;
use crate::output::prepare_output_dir;
use crate::synth::generate_with_progress;

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the generated data and the report.
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    /// A smaller benchmark, for a first look in seconds.
    #[arg(long)]
    pub quick: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write into a non-empty folder that avsl did not create.
    #[arg(long)]
    pub force: bool,
}

/// Picks the samples to show: two positives, a mismatched pair, a hidden-source scene.
fn showcase(samples: &[TestSample]) -> Vec<(&'static str, &TestSample)> {
    let mut out = Vec::new();
    for (label, pick) in [
        ("positive", samples.iter().find(|s| s.has_boxes())),
        ("positive", samples.iter().filter(|s| s.has_boxes()).nth(1)),
        ("negative: mismatched audio", samples.iter().find(|s| !s.has_boxes() && s.video_id != s.audio_id)),
        ("negative: source not visible", samples.iter().find(|s| !s.has_boxes() && s.video_id == s.audio_id)),
    ] {
        if let Some(s) = pick {
            out.push((label, s));
        }
    }
    out
}

fn write_showcase(out: &Path, label: &str, k: usize, sample: &TestSample, report: &mut String) -> Result<()> {
    let dir = out.join(format!("samples/{k}_{}", sample.name));
    std::fs::create_dir_all(&dir)?;
    let info = inspect_pair(&sample.audio, Some(&sample.frame), &dir)?;
    let mut frame = test_resize(&read_rgb(&sample.frame)?);
    for b in &sample.boxes {
        let clamp = |v: i64| v.clamp(0, 224) as usize;
        draw_rect(&mut frame, [clamp(b.xmin), clamp(b.ymin), clamp(b.xmax), clamp(b.ymax)], [0, 255, 0], 2);
    }
    write_atomic(&dir.join("frame_with_box.png"), &encode_png(&frame))?;
    let a = &info["audio"];
    let rel = dir.strip_prefix(out).unwrap_or(&dir).display().to_string();
    writeln!(
        report,
        "### {label}: frame `{}`, audio `{}`\n\n{} Hz, {} channel(s), {:.2} s{}; spectrogram {}×{}.\n\n\
         ![frame]({rel}/frame_with_box.png) ![spectrogram]({rel}/spectrogram.png)\n",
        sample.video_id,
        sample.audio_id,
        a["sample_rate"],
        a["channels"],
        a["seconds"].as_f64().unwrap_or(0.0),
        if a["tiled"].as_bool().unwrap_or(false) { " (shorter than 3 s: tiled)" } else { "" },
        a["spectrogram_shape"][0],
        a["spectrogram_shape"][1],
    )?;
    Ok(())
}

pub fn run(args: DemoArgs) -> Result<()> {
    prepare_output_dir(&args.out, "report.md", args.force)?;
    let config = if args.quick {
        SynthConfig { seed: args.seed, train: 200, test: 60, negatives: 30, ..SynthConfig::default() }
    } else {
        SynthConfig { seed: args.seed, ..SynthConfig::default() }
    };
    let data = args.out.join("data");
    let start = Instant::now();
    println!("1/3 generating the synthetic benchmark in {}", data.display());
    let summary = generate_with_progress(&data, &config)?;
    let generate_s = start.elapsed().as_secs_f64();

    println!("2/3 loading the extended test set as the evaluation does");
    let test = build_test_list(&TestSetPaths::new(&data), TestSet::VggssPlusSilent)?;
    let pairs: Vec<PairFiles> =
        test.iter().map(|s| PairFiles { frame: s.frame.clone(), audio: s.audio.clone() }).collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let loader = Loader::new(pairs, LoaderConfig { batch_size: 32, threads, ..LoaderConfig::default() })?;
    let load_start = Instant::now();
    let mut widths = std::collections::BTreeMap::<usize, usize>::new();
    for batch in loader.epoch(0) {
        for spec in batch?.spectrograms {
            *widths.entry(spec.frames).or_default() += 1;
        }
    }
    let load_s = load_start.elapsed().as_secs_f64();

    println!("3/3 writing the report");
    let mut report = String::new();
    writeln!(report, "# avsl demo\n")?;
    writeln!(
        report,
        "A synthetic audio-visual benchmark in the VGG-SS layout (`{}`), generated with seed {} in {generate_s:.1} s. \
         Each scene has two or three objects of distinct classes (shape × colour) in separate halves or thirds of the \
         frame; one of them makes the sound, whose timbre is fixed by its class. Training a model on it and scoring it \
         with the exact evaluator come with the next releases.\n",
        data.display(),
        config.seed
    )?;
    writeln!(report, "| split | pairs |\n|---|---|")?;
    writeln!(report, "| train (`metadata/train.txt`) | {} |", summary.train)?;
    writeln!(report, "| test, sounding (`metadata/vggss_test.csv`) | {} |", summary.test)?;
    writeln!(report, "| test, non-sounding: mismatched audio | {} |", summary.mismatched_negatives)?;
    writeln!(report, "| test, non-sounding: source not visible | {} |\n", summary.hidden_source_negatives)?;
    writeln!(
        report,
        "The extended test list (`vggss_plus_silent`) has {} pairs; all were decoded and preprocessed exactly as the \
         evaluation will ({load_s:.2} s, {:.0} pairs/s on {threads} threads). Spectrogram widths by sample rate: {}.\n",
        test.len(),
        test.len() as f64 / load_s,
        widths.iter().map(|(w, n)| format!("{n} × {w} frames")).collect::<Vec<_>>().join(", ")
    )?;
    writeln!(report, "## What the model sees\n\nGreen: the annotated sound source (none for non-sounding pairs).\n")?;
    for (k, (label, sample)) in showcase(&test).into_iter().enumerate() {
        write_showcase(&args.out, label, k, sample, &mut report)?;
    }
    write_atomic(&args.out.join("report.md"), report.as_bytes())?;
    println!(
        "done in {:.1} s: {} train / {} test / {} non-sounding pairs; report: {}",
        start.elapsed().as_secs_f64(),
        summary.train,
        summary.test,
        summary.mismatched_negatives + summary.hidden_source_negatives,
        args.out.join("report.md").display()
    );
    Ok(())
}
