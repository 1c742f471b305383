//! Running a test list through the model: every distinct frame and clip once (decoding
//! in parallel with the forward passes), then each listed pair's map from the embeddings,
//! and retrieval scores. Used by `avsl eval` and by validation during training.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

pub use avsl_data::error::BadFile;
use avsl_data::error::DataError;
use avsl_data::prefetch::for_each_batch;
use avsl_data::preprocess::TestPipeline;
use avsl_data::spectrogram::Spectrogram;
use avsl_metrics::retrieval::{Alignment, alignment_and_magnitude, recall_at_k, transpose};
use avsl_metrics::scoring::Map;
use burn::tensor::{Device, Tensor, TensorData};

use avsl_model::embedding::{AudioEmbedding, audio_vector, image_vector, pair_map};
use avsl_model::encoders::Encoders;
use avsl_model::ogl::ObjectSaliency;

/// Distinct files in first-use order, and each sample's index into them.
pub struct Distinct {
    pub files: Vec<PathBuf>,
    pub of_sample: Vec<usize>,
}

/// The distinct frames and clips of a list of `(frame, clip)` pairs.
pub fn distinct_pairs(pairs: &[(PathBuf, PathBuf)]) -> (Distinct, Distinct) {
    (distinct(pairs.iter().map(|p| p.0.clone())), distinct(pairs.iter().map(|p| p.1.clone())))
}

pub fn distinct(paths: impl Iterator<Item = PathBuf>) -> Distinct {
    let mut index: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut files = Vec::new();
    let of_sample = paths
        .map(|p| {
            *index.entry(p.clone()).or_insert_with(|| {
                files.push(p);
                files.len() - 1
            })
        })
        .collect();
    Distinct { files, of_sample }
}

/// What to do with a frame or clip that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBadFile {
    /// Stop with the file's error (the default: every number has its full N).
    Stop,
    /// Leave out every sample that uses the file, and report it (`--skip-bad`).
    Skip,
}

/// A test list's frames and clips, and what the forward passes made of them: each
/// sample's map S, each frame's mean image embedding and each clip's embedding (for
/// retrieval), and the object maps. A frame's full embedding (heads × d × 7 × 7) lives
/// only until the maps of the samples that show it are computed, so memory grows with
/// the list by a few kilobytes per sample, not by the embeddings. With
/// [`OnBadFile::Skip`], a sample whose frame or clip could not be read has no map
/// (see [`Embedded::readable`]); `bad` lists the files.
pub struct Embedded {
    pub frames: Distinct,
    pub clips: Distinct,
    pub maps: Vec<Option<Map>>,
    pub image_vectors: Vec<Option<Vec<f32>>>,
    /// Each frame's alignment projection (SSL-align only).
    pub image_projected: Vec<Option<Vec<f32>>>,
    pub objects: Option<Vec<Option<Map>>>,
    pub audio: Vec<Option<AudioEmbedding>>,
    pub bad: Vec<BadFile>,
}

impl Embedded {
    /// True when sample `i`'s frame and clip were both read.
    pub fn readable(&self, i: usize) -> bool {
        self.maps[i].is_some()
    }

    /// The map S of sample `i` (its frame with its clip).
    pub fn pair_map(&self, i: usize) -> &Map {
        self.maps[i].as_ref().expect("a readable sample (see Embedded::readable)")
    }

    /// The object map of sample `i`'s frame, when object maps were computed.
    pub fn object_map(&self, i: usize) -> Option<&Map> {
        self.objects.as_ref().and_then(|o| o[self.frames.of_sample[i]].as_ref())
    }
}

/// `load(i)`, with a failure turned into `None` (recorded in `bad`) when skipping.
fn tolerant<T>(
    on_bad: OnBadFile,
    bad: &Mutex<Vec<BadFile>>,
    loaded: Result<T, DataError>,
) -> Result<Option<T>, DataError> {
    match (loaded, on_bad) {
        (Ok(v), _) => Ok(Some(v)),
        (Err(e), OnBadFile::Stop) => Err(e),
        (Err(e), OnBadFile::Skip) => {
            bad.lock().expect("no panic while holding the list").push(BadFile::from(e));
            Ok(None)
        }
    }
}

/// Puts `computed` (one per `Some` in `loaded`, in order) back at the places of the
/// files that loaded.
fn scatter<L, T>(loaded: &[Option<L>], computed: Vec<T>) -> Vec<Option<T>> {
    let mut computed = computed.into_iter();
    loaded.iter().map(|l| l.as_ref().map(|_| computed.next().expect("one result per loaded file"))).collect()
}

/// Runs every distinct clip, then every distinct frame (see [`distinct_pairs`]) through
/// the encoders (and the object network), `batch` files per forward pass, decoding on
/// `threads` workers through `pipeline`, and keeps each sample's map S (similarities /
/// `tau`); `on_file` is
/// called as files are done. A file that cannot be read stops the pass, or with
/// [`OnBadFile::Skip`] leaves its samples without a map.
#[allow(clippy::too_many_arguments)]
pub fn embed_pairs(
    (frames, clips): (Distinct, Distinct),
    encoders: &Encoders,
    objects: Option<&ObjectSaliency>,
    tau: f64,
    batch: usize,
    threads: usize,
    device: &Device,
    on_file: &dyn Fn(usize),
    on_bad: OnBadFile,
    pipeline: TestPipeline,
) -> Result<Embedded, DataError> {
    let batch = batch.max(1);
    let bad = Mutex::new(Vec::new());
    let mut audio = Vec::with_capacity(clips.files.len());
    for_each_batch(
        clips.files.len(),
        batch,
        threads,
        |i| tolerant(on_bad, &bad, pipeline.spectrogram(&clips.files[i], encoders.config.audio_seconds)),
        |_, loaded: Vec<Option<Spectrogram>>| {
            // Clips of different sample rates have different widths: one pass per width,
            // results put back in list order (batching changes no number).
            let mut out: Vec<Option<AudioEmbedding>> = vec![None; loaded.len()];
            let mut widths: Vec<usize> = loaded.iter().flatten().map(|s| s.frames).collect();
            widths.sort_unstable();
            widths.dedup();
            for width in widths {
                let members: Vec<usize> =
                    (0..loaded.len()).filter(|&k| loaded[k].as_ref().is_some_and(|s| s.frames == width)).collect();
                let values: Vec<f32> =
                    members.iter().flat_map(|&k| loaded[k].as_ref().expect("loaded").values.iter().copied()).collect();
                let bins = values.len() / (members.len() * width);
                let x = Tensor::<4>::from_data(TensorData::new(values, [members.len(), 1, bins, width]), device);
                for (k, e) in members.into_iter().zip(encoders.embed_audio(x)) {
                    out[k] = Some(e);
                }
            }
            audio.extend(out);
            on_file(loaded.len());
            Ok(())
        },
    )?;

    let mut samples_of_frame: Vec<Vec<usize>> = vec![Vec::new(); frames.files.len()];
    for (i, &f) in frames.of_sample.iter().enumerate() {
        samples_of_frame[f].push(i);
    }
    let mut maps: Vec<Option<Map>> = vec![None; frames.of_sample.len()];
    let mut image_vectors = Vec::with_capacity(frames.files.len());
    let mut image_projected = Vec::with_capacity(frames.files.len());
    let mut object_maps = objects.map(|_| Vec::with_capacity(frames.files.len()));
    let side = encoders.config.image_size;
    for_each_batch(
        frames.files.len(),
        batch,
        threads,
        |i| tolerant(on_bad, &bad, pipeline.image(&frames.files[i], side)),
        |indices, loaded: Vec<Option<Vec<f32>>>| {
            let good: Vec<f32> = loaded.iter().flatten().flatten().copied().collect();
            let b = good.len() / (3 * side * side);
            if b == 0 {
                image_vectors.extend(loaded.iter().map(|_| None));
                image_projected.extend(loaded.iter().map(|_| None));
                if let Some(out) = object_maps.as_mut() {
                    out.extend(loaded.iter().map(|_| None));
                }
                on_file(loaded.len());
                return Ok(());
            }
            let x = Tensor::<4>::from_data(TensorData::new(good, [b, 3, side, side]), device);
            let embedded = scatter(&loaded, encoders.embed_images(x.clone()));
            for (&f, image) in indices.iter().zip(&embedded) {
                let Some(image) = image else { continue };
                for &i in &samples_of_frame[f] {
                    if let Some(clip) = &audio[clips.of_sample[i]] {
                        maps[i] = Some(Map { h: image.h, w: image.w, values: pair_map(image, clip, tau) });
                    }
                }
            }
            image_vectors.extend(embedded.iter().map(|e| e.as_ref().map(image_vector)));
            image_projected.extend(embedded.iter().map(|e| e.as_ref().and_then(|e| e.projected.clone())));
            if let (Some(ogl), Some(out)) = (objects, object_maps.as_mut()) {
                let om = ogl.maps(x);
                let [_, h, w] = om.dims();
                let values = om.into_data().try_to_vec::<f32>().expect("float32 object maps");
                let om: Vec<Map> = values.chunks_exact(h * w).map(|v| Map { h, w, values: v.to_vec() }).collect();
                out.extend(scatter(&loaded, om));
            }
            on_file(loaded.len());
            Ok(())
        },
    )?;
    let mut bad = bad.into_inner().expect("no panic while holding the list");
    bad.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Embedded { frames, clips, maps, image_vectors, image_projected, objects: object_maps, audio, bad })
}

/// Which features rank the retrieval candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrievalFeatures {
    /// The mean of the map S over positions (the localisation embeddings; for SSL-align
    /// the trunks' own features, its s_L).
    Maps,
    /// SSL-align's alignment projections (its s_A).
    Projected,
}

impl Embedded {
    /// True when the model gave alignment projections.
    pub fn has_projections(&self) -> bool {
        self.image_projected.iter().flatten().next().is_some()
    }
}

/// Cross-modal measures among the samples `positives` (each with its own frame and clip).
#[derive(Debug, Clone)]
pub struct CrossModal {
    /// Retrieval recall@k, audio→image and image→audio.
    pub a2v: Vec<f64>,
    pub v2a: Vec<f64>,
    pub alignment: Alignment,
}

/// Retrieval recall@k for each of `ks`, and alignment and magnitude, with `features`.
pub fn cross_modal(
    e: &Embedded,
    positives: &[usize],
    ks: &[usize],
    features: RetrievalFeatures,
    device: &Device,
) -> CrossModal {
    let n = positives.len();
    let readable = "a readable sample (see Embedded::readable)";
    let frame = |i: usize| match features {
        RetrievalFeatures::Maps => e.image_vectors[e.frames.of_sample[i]].clone().expect(readable),
        RetrievalFeatures::Projected => e.image_projected[e.frames.of_sample[i]].clone().expect("projections"),
    };
    let clip = |i: usize| {
        let a = e.audio[e.clips.of_sample[i]].as_ref().expect(readable);
        match features {
            RetrievalFeatures::Maps => audio_vector(a),
            RetrievalFeatures::Projected => a.projected.clone().expect("projections"),
        }
    };
    let images: Vec<f32> = positives.iter().flat_map(|&i| frame(i)).collect();
    let audio: Vec<f32> = positives.iter().flat_map(|&i| clip(i)).collect();
    let d = images.len() / n;
    let alignment = alignment_and_magnitude(&images, &audio, n, d);
    let matrix = |values: Vec<f32>| Tensor::<2>::from_data(TensorData::new(values, [n, d]), device);
    let a2v = matrix(audio).matmul(matrix(images).transpose());
    let a2v = a2v.into_data().try_to_vec::<f32>().expect("float32 similarities");
    CrossModal { a2v: recall_at_k(&a2v, n, ks), v2a: recall_at_k(&transpose(&a2v, n), n, ks), alignment }
}
