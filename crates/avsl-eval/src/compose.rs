//! Compositional image retrieval ("Aligning Sight and Sound" §4.4, Fig. 7): a query made
//! of an image and a sound, q = λ·v̂ + (1 − λ)·â (unit embeddings), ranks a dataset's frames
//! by cosine to q. λ = 1 retrieves by the image alone, λ = 0 by the sound alone; in
//! between, frames that share the image's scene and the sound's source rise. SSL-align's
//! alignment projections are used when the checkpoint has them, otherwise the
//! localisation embeddings (a frame: its features' mean over positions; a clip: its
//! embedding), the features `eval`'s retrieval recall uses.

use std::path::{Path, PathBuf};

use avsl_data::error::DataError;
use avsl_data::fsutil::write_atomic;
use avsl_data::output::prepare_output_dir;
use avsl_data::preprocess::TestPipeline;
use avsl_data::report::Report;
use avsl_model::EncoderSet;
use avsl_model::checkpoint::open_encoders;
use avsl_model::embedding::audio_vector;
use burn::tensor::Device;
use serde_json::json;

use crate::error::EvalError;
use crate::test_pass::{OnBadFile, distinct_pairs, embed_pairs};

/// Image files `retrieve` ranks, by extension (any case).
const FRAME_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// What to retrieve from and with.
pub struct RetrieveOptions {
    pub checkpoint: PathBuf,
    pub encoders: EncoderSet,
    /// τ of an authors' .pth (ours store it); it scales no cosine, only the checkpoint check.
    pub tau: f64,
    /// Dataset root: its `frames/` are ranked.
    pub data: PathBuf,
    pub image: PathBuf,
    pub audio: PathBuf,
    /// Each λ in [0, 1] gives one ranking.
    pub lambdas: Vec<f64>,
    pub batch_size: usize,
    pub threads: usize,
    pub device: Device,
    pub pipeline: TestPipeline,
    /// Results folder: `ranking.json`.
    pub output: PathBuf,
    pub force: bool,
}

/// One frame of a ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The frame's file stem (the dataset id).
    pub id: String,
    pub frame: PathBuf,
    pub cosine: f32,
}

/// The frames ranked for one λ, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    pub lambda: f64,
    pub hits: Vec<Hit>,
}

/// Every frame under `data/frames/` (image files, sorted by name).
pub fn dataset_frames(data: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let dir = data.join("frames");
    let entries = std::fs::read_dir(&dir).map_err(|e| DataError::io(&dir, e))?;
    let mut frames: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| FRAME_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    frames.sort();
    if frames.is_empty() {
        return Err(DataError::invalid(&dir, format!("no frames ({}) here", FRAME_EXTENSIONS.join(", "))).into());
    }
    Ok(frames)
}

fn unit(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    v.iter().map(|x| if norm > 0.0 { (*x as f64 / norm) as f32 } else { 0.0 }).collect()
}

/// The frames ranked by cosine to λ·v̂ + (1 − λ)·â, for each λ (ties keep file order).
pub fn rank(frames: &[(String, PathBuf, Vec<f32>)], image: &[f32], audio: &[f32], lambda: f64) -> Ranking {
    let (v, a) = (unit(image), unit(audio));
    let query: Vec<f32> =
        v.iter().zip(&a).map(|(v, a)| (lambda * *v as f64 + (1.0 - lambda) * *a as f64) as f32).collect();
    let query = unit(&query);
    let mut hits: Vec<Hit> = frames
        .iter()
        .map(|(id, frame, e)| Hit {
            id: id.clone(),
            frame: frame.clone(),
            cosine: unit(e).iter().zip(&query).map(|(x, q)| x * q).sum(),
        })
        .collect();
    hits.sort_by(|x, y| y.cosine.total_cmp(&x.cosine));
    Ranking { lambda, hits }
}

/// Embeds the query and every dataset frame, ranks the frames for each λ and writes
/// `ranking.json` into `options.output`.
pub fn retrieve(options: &RetrieveOptions, report: &dyn Report) -> Result<Vec<Ranking>, EvalError> {
    if options.lambdas.is_empty() || options.lambdas.iter().any(|l| !(0.0..=1.0).contains(l)) {
        return Err(EvalError::Options(format!("--lambda {:?}: each must be in [0, 1]", options.lambdas)));
    }
    for file in [&options.image, &options.audio] {
        if !file.is_file() {
            return Err(DataError::invalid(file, "no such file").into());
        }
    }
    let frames = dataset_frames(&options.data)?;
    let _lock = prepare_output_dir(&options.output, "ranking.json", options.force, report)?;
    let encoders = open_encoders(&options.checkpoint, options.tau, None, Some(options.encoders), &options.device)?;
    let model = encoders.config.architecture;
    // The query frame first, then the dataset's; every frame with the query sound, which
    // is embedded once.
    let pairs: Vec<(PathBuf, PathBuf)> = std::iter::once(options.image.clone())
        .chain(frames.iter().cloned())
        .map(|f| (f, options.audio.clone()))
        .collect();
    let (distinct_frames, clips) = distinct_pairs(&pairs);
    report.phase("files", distinct_frames.files.len() + clips.files.len(), 0);
    let embedded = embed_pairs(
        (distinct_frames, clips),
        &encoders,
        None,
        encoders.config.tau,
        options.batch_size,
        options.threads,
        &options.device,
        &|n| report.advance(n, None),
        OnBadFile::Stop,
        options.pipeline,
    )?;
    report.phase_end();
    let projected = embedded.has_projections();
    let frame_vector = |sample: usize| -> Vec<f32> {
        let f = embedded.frames.of_sample[sample];
        if projected {
            embedded.image_projected[f].clone().expect("projections of every frame")
        } else {
            embedded.image_vectors[f].clone().expect("every frame read")
        }
    };
    let clip = embedded.audio[0].as_ref().expect("the query sound read");
    let audio = if projected { clip.projected.clone().expect("projections") } else { audio_vector(clip) };
    let image = frame_vector(0);
    let ranked: Vec<(String, PathBuf, Vec<f32>)> = frames
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let id = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            (id, f.clone(), frame_vector(k + 1))
        })
        .collect();
    let rankings: Vec<Ranking> = options.lambdas.iter().map(|&l| rank(&ranked, &image, &audio, l)).collect();
    let features = if projected {
        "SSL-align's alignment projections"
    } else {
        "localisation embeddings (frame: mean over positions; clip: its embedding)"
    };
    report.line(&format!(
        "{} from {}: {} frames of {} ranked for {} value(s) of lambda by {features}",
        model.name(),
        options.checkpoint.display(),
        frames.len(),
        options.data.display(),
        rankings.len()
    ));
    let json = json!({
        "checkpoint": options.checkpoint,
        "model": model.name(),
        "encoders": options.encoders.name(),
        "features": features,
        "query": {"image": options.image, "audio": options.audio},
        "score": "cosine to (lambda * v + (1 - lambda) * a), v and a unit embeddings of the query image and sound",
        "pipeline": options.pipeline.describe(),
        "frames": frames.len(),
        "rankings": rankings.iter().map(|r| json!({
            "lambda": r.lambda,
            "ranked": r.hits.iter().map(|h| json!({"id": h.id, "frame": h.frame, "cosine": h.cosine})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&json).expect("rankings serialise");
    write_atomic(&options.output.join("ranking.json"), text.as_bytes())?;
    Ok(rankings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_moves_the_query_from_the_sound_to_the_image() {
        let frames = vec![
            ("like_image".to_string(), PathBuf::from("a.jpg"), vec![1.0, 0.0, 0.0]),
            ("like_sound".to_string(), PathBuf::from("b.jpg"), vec![0.0, 2.0, 0.0]),
            ("both".to_string(), PathBuf::from("c.jpg"), vec![1.0, 1.0, 0.1]),
        ];
        let (image, audio) = ([3.0, 0.0, 0.0], [0.0, 0.5, 0.0]);
        let order = |l: f64| rank(&frames, &image, &audio, l).hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
        assert_eq!(order(1.0), ["like_image", "both", "like_sound"]);
        assert_eq!(order(0.0), ["like_sound", "both", "like_image"]);
        assert_eq!(order(0.5)[0], "both");
        let r = rank(&frames, &image, &audio, 1.0);
        assert!((r.hits[0].cosine - 1.0).abs() < 1e-6);
    }
}
