//! `avsl eval`: a checkpoint on a test set, end to end (`avsl_eval::checkpoint_eval`),
//! then the figures and the headline table.

use std::path::PathBuf;

use anyhow::Result;
use avsl_data::preprocess::TestPipeline;
use avsl_eval::checkpoint_eval::{EvalOptions, evaluate_checkpoint};
use avsl_eval::negative_audio::NegativeKind;
use avsl_metrics::scoring::Scored;
use avsl_model::device::parse_device;
use avsl_model::{Architecture, EncoderSet};
use clap::{Args, ValueEnum};

use crate::device::model_threads;
use crate::eval_figures::show;
use crate::eval_maps::ProtocolArgs;
use crate::progress::Console;

#[derive(Clone, Copy, ValueEnum)]
pub enum ModelArg {
    Slavc,
    Ezvsl,
    SslAlign,
}

impl From<ModelArg> for Architecture {
    fn from(m: ModelArg) -> Architecture {
        match m {
            ModelArg::Slavc => Architecture::Slavc,
            ModelArg::Ezvsl => Architecture::Ezvsl,
            ModelArg::SslAlign => Architecture::SslAlign,
        }
    }
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// The authors' .pth ({'model': {'module.<key>': …}}) or an avsl .safetensors checkpoint.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// torchvision ResNet-18 state dict (resnet18-*.pth) for object guidance: adds the obj
    /// and av_obj variants.
    #[arg(long)]
    pub object_weights: Option<PathBuf>,
    /// Score with SLAVC's momentum encoders (the published setting; the authors' test
    /// command scores the online ones).
    #[arg(long)]
    pub use_mom_eval: bool,
    /// The architecture the checkpoint must be (default: read from the checkpoint).
    #[arg(long, value_enum)]
    pub model: Option<ModelArg>,
    /// Frames or clips per forward pass (results do not depend on it).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Worker threads for decoding and for the model (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value = "cpu", help = crate::device::DEVICE_HELP)]
    pub device: String,
    /// Also write the 7×7 maps (maps/, object_maps/) in the eval-maps input format.
    #[arg(long)]
    pub save_maps: bool,
    /// Leave out every pair whose frame or clip cannot be read (reported on the console,
    /// in skipped.csv and in metrics.json) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
    /// How frames and clips become inputs: slavc (SLAVC's test loader, the default for
    /// VGG-SS and Flickr) or ssl-align (the SSL-align authors' test script: the default for
    /// is3, s4, ms3, vposs and vpoms; docs/source-sets.md).
    #[arg(long, value_enum)]
    pub pipeline: Option<PipelineArg>,
    /// Add each positive frame paired with these sounds as non-sounding pairs and report
    /// AP, max-F1 and the fraction under the decision threshold per kind: silence,
    /// white_noise, pink_noise, mismatched, or all (docs/negative-audio.md).
    #[arg(long, value_delimiter = ',')]
    pub negative_audio: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PipelineArg {
    Slavc,
    SslAlign,
}

impl PipelineArg {
    /// The pipeline; the SSL-align script reads `clip_seconds` of every clip.
    pub fn pipeline(self, clip_seconds: f64) -> TestPipeline {
        match self {
            PipelineArg::Slavc => TestPipeline::Slavc,
            PipelineArg::SslAlign => TestPipeline::SslAlign { clip_seconds },
        }
    }
}

/// Seconds of each clip the SSL-align script reads on VGG-SS and Flickr (its `dur`).
const SCRIPT_CLIP_SECONDS: f64 = 10.0;

/// The flags as library options.
pub fn options(args: &EvalArgs) -> Result<EvalOptions> {
    let p = &args.protocol;
    Ok(EvalOptions {
        testset: p.testset()?,
        paths: p.paths(),
        scoring: p.scoring(),
        checkpoint: args.checkpoint.clone(),
        expected: args.model.map(Architecture::from),
        encoders: if args.use_mom_eval { EncoderSet::Momentum } else { EncoderSet::Online },
        object_weights: args.object_weights.clone(),
        batch_size: args.batch_size,
        threads: model_threads(args.threads),
        device: parse_device(&args.device)?,
        save_maps: args.save_maps,
        skip_bad: args.skip_bad,
        pipeline: args.pipeline.map_or(TestPipeline::Slavc, |p| p.pipeline(SCRIPT_CLIP_SECONDS)),
        negative_audio: negative_kinds(&args.negative_audio)?,
        output: p.output.clone(),
        force: p.force,
    })
}

/// `--negative-audio` names, `all` for every kind.
fn negative_kinds(names: &[String]) -> Result<Vec<NegativeKind>> {
    let mut kinds = Vec::new();
    for name in names {
        let more: Vec<NegativeKind> = match (name.as_str(), NegativeKind::parse(name)) {
            ("all", _) => NegativeKind::ALL.to_vec(),
            (_, Some(kind)) => vec![kind],
            _ => {
                let all: Vec<&str> = NegativeKind::ALL.iter().map(|k| k.name()).collect();
                anyhow::bail!("unknown --negative-audio {name:?} (one of: {}, all)", all.join(", "))
            }
        };
        for kind in more {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    Ok(kinds)
}

pub fn run(args: EvalArgs) -> Result<Scored> {
    let options = options(&args)?;
    let evaluated = evaluate_checkpoint(&options, &Console::default())?;
    show(&options.output, &evaluated)?;
    Ok(evaluated.scored)
}
