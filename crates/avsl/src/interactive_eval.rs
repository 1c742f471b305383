//! `--testset is3 | s4 | ms3 | vposs | vpoms` for `avsl eval-maps` and `avsl eval`: the
//! SSL-align authors' per-pair sets, scored as their test script does
//! (`avsl_eval::multi_source`).

use anyhow::{Result, bail};
use avsl_data::source_sets::SourceSet;
use avsl_eval::multi_source::{
    SourceModel, SourceSetOptions, evaluate_source_checkpoint, evaluate_source_maps, script_pipeline,
};
use avsl_metrics::interactive::InteractiveMetrics;
use avsl_model::device::parse_device;
use avsl_model::{Architecture, EncoderSet};

use crate::device::model_threads;
use crate::eval::EvalArgs;
use crate::eval_maps::{EvalMapsArgs, ProtocolArgs};
use crate::progress::Console;

/// The per-pair set `--testset` names, if it names one.
pub fn per_pair_set(p: &ProtocolArgs) -> Option<SourceSet> {
    SourceSet::parse(&p.testset)
}

fn source_set(p: &ProtocolArgs) -> Result<SourceSetOptions> {
    let set = per_pair_set(p).ok_or_else(|| anyhow::anyhow!("--testset {:?} is not a per-pair set", p.testset))?;
    Ok(SourceSetOptions { set, paths: p.dataset.paths(None), output: p.output.clone(), force: p.force })
}

/// `avsl eval-maps --testset is3 …`: maps from any model, one per pair.
pub fn run_maps(args: EvalMapsArgs) -> Result<InteractiveMetrics> {
    let set = source_set(&args.protocol)?;
    let metrics = evaluate_source_maps(&set, &args.maps, args.allow_outside_paths, &Console::default())?;
    println!("results: {}", set.output.display());
    Ok(metrics)
}

/// `avsl eval --testset is3 …`: a checkpoint's own maps of every pair (the av map S),
/// through the authors' script pipeline unless `--pipeline` says otherwise.
pub fn run_checkpoint(args: EvalArgs) -> Result<InteractiveMetrics> {
    let set = source_set(&args.protocol)?;
    if args.object_weights.is_some() || args.skip_bad || !args.negative_audio.is_empty() {
        bail!(
            "--testset {} scores the av maps only (no --object-weights, --skip-bad or --negative-audio yet)",
            set.set.name()
        );
    }
    let model = SourceModel {
        checkpoint: args.checkpoint.clone(),
        expected: args.model.map(Architecture::from),
        encoders: if args.use_mom_eval { EncoderSet::Momentum } else { EncoderSet::Online },
        tau: args.protocol.tau,
        batch_size: args.batch_size,
        threads: model_threads(args.threads),
        device: parse_device(&args.device)?,
        save_maps: args.save_maps,
        pipeline: args.pipeline.map_or(script_pipeline(set.set), |p| p.pipeline(set.set.clip_seconds())),
    };
    let metrics = evaluate_source_checkpoint(&set, &model, &Console::default())?;
    println!("results: {}", set.output.display());
    Ok(metrics)
}
