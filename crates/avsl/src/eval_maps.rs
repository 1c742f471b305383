//! `avsl eval-maps`: score any model's maps with the authors' exact protocol.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use avsl_data::npy::read_npy_f32;
use avsl_data::testset::{TestSet, TestSetPaths, build_test_list};
use avsl_metrics::{MapKind, Prediction};

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::dataset_args::{DatasetArgs, parse_testset};
use crate::evaluation::{Map, Protocol, Scored, ScoringConfig, headline, score_all, write_figures, write_results};
use crate::output::prepare_output_dir;
use crate::progress;

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
    /// is3 (or interactive): multi-source pairs, scored as the SSL-align authors do.
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

    /// The scoring configuration; `own` is the protocol of the model that made the maps.
    pub fn scoring(&self, map_kind: MapKind, own: Protocol) -> ScoringConfig {
        let protocol = match self.protocol {
            Some(ProtocolArg::Slavc) => Protocol::Slavc,
            Some(ProtocolArg::Ezvsl) => Protocol::Ezvsl,
            None => own,
        };
        let prediction = match (self.relative_prediction, self.pred_thr) {
            (true, _) => Prediction::Relative { size: 0.5 },
            (false, Some(t)) => Prediction::Fixed { threshold: t },
            (false, None) => protocol.default_prediction(),
        };
        let alpha = self.alpha.unwrap_or(protocol.default_alpha());
        ScoringConfig { alpha, tau: self.tau, map_kind, prediction, protocol }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ProtocolArg {
    Slavc,
    Ezvsl,
}

/// One line saying how maps were turned into predictions.
pub fn describe_scoring(c: &ScoringConfig) -> String {
    let rule = match c.prediction {
        Prediction::Relative { .. } => "top half of each min-max normalised map".to_string(),
        Prediction::Fixed { threshold } => format!("score ≥ {threshold}"),
    };
    let protocol = match c.protocol {
        Protocol::Slavc => "SLAVC",
        Protocol::Ezvsl => "EZ-VSL",
    };
    format!("{protocol} protocol, prediction: {rule}, alpha {}, tau {}", c.alpha, c.tau)
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

/// A map index: key columns → map file, with the csv line for error messages.
pub(crate) struct MapIndex {
    pub(crate) index_file: PathBuf,
    entries: HashMap<Vec<String>, (PathBuf, u64)>,
}

pub(crate) fn read_index(dir: &Path, keys: &[&str], allow_outside: bool) -> Result<MapIndex> {
    let index_file = dir.join("index.csv");
    let bytes = std::fs::read(&index_file).with_context(|| format!("{}: cannot read", index_file.display()))?;
    // Spreadsheet tools like to start csv files with a UTF-8 byte-order mark.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text);
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: malformed csv header", index_file.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut wanted: Vec<&str> = keys.to_vec();
    wanted.push("map");
    if header != wanted {
        bail!("{}: header is {:?}, expected {}", index_file.display(), header.join(","), wanted.join(","));
    }
    let mut entries = HashMap::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{}: malformed csv", index_file.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        let key: Vec<String> = record.iter().take(keys.len()).map(str::to_string).collect();
        let rel = Path::new(&record[keys.len()]);
        let escapes = rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir));
        if escapes && !allow_outside {
            bail!(
                "{}:{line}: map path {:?} leaves the maps folder (pass --allow-outside-paths to accept it)",
                index_file.display(),
                rel
            );
        }
        if entries.insert(key.clone(), (dir.join(rel), line)).is_some() {
            bail!("{}:{line}: duplicate row for {}", index_file.display(), key.join(","));
        }
    }
    Ok(MapIndex { index_file, entries })
}

impl MapIndex {
    pub(crate) fn path(&self, key: &[&str]) -> Result<&(PathBuf, u64)> {
        let key: Vec<String> = key.iter().map(|s| s.to_string()).collect();
        self.entries.get(&key).ok_or_else(|| {
            anyhow!("{}: no map for {} (needed by the test list)", self.index_file.display(), key.join(","))
        })
    }
}

/// Loads one map and checks it: float32, two dimensions (leading dimensions of size 1,
/// as a saved `[1, 1, h, w]` tensor has, are accepted), finite values.
pub(crate) fn load_map(path: &Path, index_file: &Path, line: u64) -> Result<Map> {
    let (shape, values) = read_npy_f32(path).with_context(|| format!("map of {}:{line}", index_file.display()))?;
    let squeezed: &[usize] = match shape.len().checked_sub(2) {
        Some(lead) if shape[..lead].iter().all(|&d| d == 1) => &shape[lead..],
        _ => &shape,
    };
    let (h, w) = match squeezed {
        [h, w] if *h > 0 && *w > 0 => (*h, *w),
        other => bail!(
            "{}: shape {other:?}, expected [7, 7], [h, w] or [224, 224] (row {line} of {})",
            path.display(),
            index_file.display()
        ),
    };
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: value {} at position {k} is not finite (row {line} of {})",
            path.display(),
            values[k],
            index_file.display()
        );
    }
    Ok(Map { h, w, values })
}

pub fn run(args: EvalMapsArgs) -> Result<Scored> {
    let p = &args.protocol;
    let mut map_folders = vec![args.maps.as_path()];
    map_folders.extend(args.object_maps.as_deref());
    p.dataset.refuse_as_output(&p.output, &map_folders)?;
    let testset = p.testset()?;
    let samples = build_test_list(&p.paths(), testset)?;
    let maps = read_index(&args.maps, &["video", "audio"], args.allow_outside_paths)?;
    let objects = args.object_maps.as_ref().map(|d| read_index(d, &["video"], args.allow_outside_paths)).transpose()?;
    // Every pair must have its map before anything is computed.
    for s in &samples {
        maps.path(&[&s.video_id, &s.audio_id])?;
        if let Some(o) = &objects {
            o.path(&[&s.video_id])?;
        }
    }
    prepare_output_dir(&p.output, "metrics.json", p.force)?;
    let map_kind = match args.map_kind {
        MapKindArg::Logits => MapKind::Logits,
        MapKindArg::Scores => MapKind::Scores,
    };
    let config = p.scoring(map_kind, Protocol::Slavc);
    println!("{}", describe_scoring(&config));
    let av = |i: usize| -> Result<Map> {
        let (path, line) = maps.path(&[&samples[i].video_id, &samples[i].audio_id])?;
        load_map(path, &maps.index_file, *line)
    };
    let obj = |i: usize| -> Result<Map> {
        let o = objects.as_ref().expect("only called with object maps");
        let (path, line) = o.path(&[&samples[i].video_id])?;
        load_map(path, &o.index_file, *line)
    };
    let bar = progress::bar(samples.len(), "pairs");
    let start = std::time::Instant::now();
    let scored = score_all(
        &samples,
        testset.box_format(),
        &config,
        &av,
        objects.as_ref().map(|_| &obj as &(dyn Fn(usize) -> Result<Map> + Sync)),
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    let note = if objects.is_none() {
        "no --object-maps: only the av variant was computed"
    } else {
        "variants av, obj and av_obj computed"
    };
    let extra = json!({
        "config": {
            "testset": testset.name(),
            "samples": samples.len(),
            "positives": samples.iter().filter(|s| s.has_boxes()).count(),
            "scoring": config.to_json(),
            "maps": args.maps,
            "object_maps": args.object_maps,
            "note": note,
        }
    });
    let all = write_results(&p.output, &scored, extra)?;
    write_figures(&p.output, &scored)?;
    println!(
        "{} pairs ({} with boxes) of {} scored in {:.2} s; {note}",
        samples.len(),
        samples.iter().filter(|s| s.has_boxes()).count(),
        testset.name(),
        start.elapsed().as_secs_f64()
    );
    print!("{}", headline(&all));
    println!("results: {}", p.output.display());
    Ok(scored)
}
