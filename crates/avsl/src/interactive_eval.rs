//! `--testset is3` for `avsl eval-maps` and `avsl eval`: multi-source (interactive)
//! localisation, scored as the SSL-align authors do (`avsl_eval::multi_source`).

use anyhow::{Result, bail};
use avsl_eval::multi_source::{SourceModel, SourceSetOptions, evaluate_source_checkpoint, evaluate_source_maps};
use avsl_metrics::interactive::InteractiveMetrics;
use avsl_model::device::parse_device;
use avsl_model::{Architecture, EncoderSet};

use crate::device::model_threads;
use crate::eval::EvalArgs;
use crate::eval_maps::{EvalMapsArgs, ProtocolArgs};
use crate::progress::Console;

fn source_set(p: &ProtocolArgs) -> SourceSetOptions {
    SourceSetOptions { paths: p.dataset.paths(None), output: p.output.clone(), force: p.force }
}

/// `avsl eval-maps --testset is3`: maps from any model, one per pair.
pub fn run_maps(args: EvalMapsArgs) -> Result<InteractiveMetrics> {
    let set = source_set(&args.protocol);
    let metrics = evaluate_source_maps(&set, &args.maps, args.allow_outside_paths, &Console::default())?;
    println!("results: {}", set.output.display());
    Ok(metrics)
}

/// `avsl eval --testset is3`: a checkpoint's own maps of every pair (the av map S).
pub fn run_checkpoint(args: EvalArgs) -> Result<InteractiveMetrics> {
    if args.object_weights.is_some() || args.skip_bad {
        bail!("--testset is3 scores the av maps only (no --object-weights or --skip-bad yet)");
    }
    let set = source_set(&args.protocol);
    let model = SourceModel {
        checkpoint: args.checkpoint.clone(),
        expected: args.model.map(Architecture::from),
        encoders: if args.use_mom_eval { EncoderSet::Momentum } else { EncoderSet::Online },
        tau: args.protocol.tau,
        batch_size: args.batch_size,
        threads: model_threads(args.threads),
        device: parse_device(&args.device)?,
        save_maps: args.save_maps,
    };
    let metrics = evaluate_source_checkpoint(&set, &model, &Console::default())?;
    println!("results: {}", set.output.display());
    Ok(metrics)
}
