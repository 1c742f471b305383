//! `avsl eval-maps`: score any model's maps with the authors' exact protocol
//! (`avsl_eval::maps_eval`), then the figures and the headline table. The evaluation
//! flags it shares with `avsl eval` are here too.

use std::path::PathBuf;

use anyhow::Result;
use avsl_data::testset::{TestSet, TestSetPaths};
use avsl_eval::maps_eval::{MapsOptions, evaluate_maps};
use avsl_eval::scoring::ScoringOptions;
use avsl_metrics::MapKind;
use avsl_metrics::scoring::{Protocol, Scored};
use clap::{Args, ValueEnum};

use crate::dataset_args::{DatasetArgs, parse_testset};
use crate::eval_figures::show;
use crate::progress::Console;

#[derive(Clone, Copy, ValueEnum)]
pub enum MapKindArg {
    /// Raw similarity maps S, scored as (S + 1/τ)/(2/τ).
    Logits,
    /// Maps already in score units, used as they are.
    Scores,
}

/// The evaluation flags shared with `avsl eval`.
#[derive(Args, Clone)]
pub struct ProtocolArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// vggss, vggss_plus_silent, flickr, flickr_plus_silent, vggss_heard, vggss_unheard;
    /// is3 (or interactive), s4, ms3, vposs, vpoms: the SSL-align authors' per-pair sets,
    /// scored as their test script does (docs/source-sets.md).
    #[arg(long)]
    pub testset: String,
    /// Another list of non-sounding rows in place of <set>_test_plus_silent.csv.
    #[arg(long)]
    pub plus_silent_csv: Option<PathBuf>,
    /// Weight of the audio-visual score in the av_obj blend (default 0.9 in SLAVC's
    /// protocol, 0.4 in EZ-VSL's).
    #[arg(long)]
    pub alpha: Option<f64>,
    #[arg(long, default_value_t = 0.03)]
    pub tau: f64,
    /// Keep the top half of each min-max normalised map.
    #[arg(long, conflicts_with = "pred_thr")]
    pub relative_prediction: bool,
    /// Keep pixels whose score is at least this value (SLAVC's default: 0.5, what the
    /// authors' published test command uses).
    #[arg(long)]
    pub pred_thr: Option<f64>,
    /// Test protocol: slavc (bicubic, absolute scores) or ezvsl (bilinear, min-max
    /// normalised maps, median threshold). Default: the model's own.
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
    /// Folder for the results.
    #[arg(long)]
    pub output: PathBuf,
    /// Write into a non-empty folder that avsl did not create.
    #[arg(long)]
    pub force: bool,
}

impl ProtocolArgs {
    pub fn testset(&self) -> Result<TestSet> {
        parse_testset(&self.testset)
    }

    pub fn paths(&self) -> TestSetPaths {
        self.dataset.paths(self.plus_silent_csv.clone())
    }

    /// The scoring flags as library options.
    pub fn scoring(&self) -> ScoringOptions {
        ScoringOptions {
            protocol: self.protocol.map(|p| match p {
                ProtocolArg::Slavc => Protocol::Slavc,
                ProtocolArg::Ezvsl => Protocol::Ezvsl,
            }),
            alpha: self.alpha,
            tau: self.tau,
            relative_prediction: self.relative_prediction,
            pred_thr: self.pred_thr,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ProtocolArg {
    Slavc,
    Ezvsl,
}

#[derive(Args)]
pub struct EvalMapsArgs {
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Folder with index.csv (`video,audio,map`) and the float32 .npy maps it names.
    #[arg(long)]
    pub maps: PathBuf,
    #[arg(long, value_enum, default_value = "logits")]
    pub map_kind: MapKindArg,
    /// Folder with index.csv (`video,map`): one raw object-saliency map per frame.
    #[arg(long)]
    pub object_maps: Option<PathBuf>,
    /// Accept index paths outside the maps folder (absolute or with `..`).
    #[arg(long)]
    pub allow_outside_paths: bool,
}

/// The flags as library options.
pub fn options(args: &EvalMapsArgs) -> Result<MapsOptions> {
    let p = &args.protocol;
    Ok(MapsOptions {
        testset: p.testset()?,
        paths: p.paths(),
        scoring: p.scoring(),
        maps: args.maps.clone(),
        map_kind: match args.map_kind {
            MapKindArg::Logits => MapKind::Logits,
            MapKindArg::Scores => MapKind::Scores,
        },
        object_maps: args.object_maps.clone(),
        allow_outside_paths: args.allow_outside_paths,
        output: p.output.clone(),
        force: p.force,
    })
}

pub fn run(args: EvalMapsArgs) -> Result<Scored> {
    let options = options(&args)?;
    let evaluated = evaluate_maps(&options, &Console::default())?;
    show(&options.output, &evaluated)?;
    Ok(evaluated.scored)
}
