//! Running a test list through the model: every distinct frame and clip once (decoding
//! in parallel with the forward passes), then each listed pair's map from the embeddings,
//! and retrieval scores. Used by `avsl eval` and by validation during training.

use std::collections::BTreeMap;
use std::path::PathBuf;

use avsl_data::error::DataError;
use avsl_data::prefetch::for_each_batch;
use avsl_data::preprocess::{load_spectrogram, load_test_image};
use avsl_data::spectrogram::Spectrogram;
use avsl_data::transform::INPUT_SIZE;
use avsl_metrics::retrieval::{recall_at_k, transpose};
use avsl_metrics::scoring::Map;
use burn::tensor::{Device, Tensor, TensorData};

use crate::embedding::{AudioEmbedding, ImageEmbedding, audio_vector, image_vector, pair_map};
use crate::encoders::Encoders;
use crate::ogl::ObjectSaliency;

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

/// A test list's frames and clips, and what the forward passes made of them.
pub struct Embedded {
    pub frames: Distinct,
    pub clips: Distinct,
    pub images: Vec<ImageEmbedding>,
    pub objects: Option<Vec<Map>>,
    pub audio: Vec<AudioEmbedding>,
}

impl Embedded {
    /// The map S of sample `i` (its frame with its clip).
    pub fn pair_map(&self, i: usize, tau: f64) -> Map {
        let image = &self.images[self.frames.of_sample[i]];
        Map { h: image.h, w: image.w, values: pair_map(image, &self.audio[self.clips.of_sample[i]], tau) }
    }

    /// The object map of sample `i`'s frame, when object maps were computed.
    pub fn object_map(&self, i: usize) -> Option<&Map> {
        self.objects.as_ref().map(|o| &o[self.frames.of_sample[i]])
    }
}

/// Runs every distinct frame and clip (see [`distinct_pairs`]) through the encoders (and
/// the object network), `batch` files per forward pass, decoding on `threads` workers;
/// `on_file` is called as files are done.
pub fn embed_pairs(
    (frames, clips): (Distinct, Distinct),
    encoders: &Encoders,
    objects: Option<&ObjectSaliency>,
    batch: usize,
    threads: usize,
    device: &Device,
    on_file: &dyn Fn(usize),
) -> Result<Embedded, DataError> {
    let batch = batch.max(1);
    let mut images = Vec::with_capacity(frames.files.len());
    let mut object_maps = objects.map(|_| Vec::with_capacity(frames.files.len()));
    for_each_batch(
        frames.files.len(),
        batch,
        threads,
        |i| load_test_image(&frames.files[i]),
        |_, loaded: Vec<Vec<f32>>| {
            let b = loaded.len();
            let x = Tensor::<4>::from_data(TensorData::new(loaded.concat(), [b, 3, INPUT_SIZE, INPUT_SIZE]), device);
            images.extend(encoders.embed_images(x.clone()));
            if let (Some(ogl), Some(out)) = (objects, object_maps.as_mut()) {
                let maps = ogl.maps(x);
                let [_, h, w] = maps.dims();
                let values = maps.into_data().try_to_vec::<f32>().expect("float32 object maps");
                out.extend(values.chunks_exact(h * w).map(|v| Map { h, w, values: v.to_vec() }));
            }
            on_file(b);
            Ok(())
        },
    )?;
    let mut audio = Vec::with_capacity(clips.files.len());
    for_each_batch(
        clips.files.len(),
        batch,
        threads,
        |i| load_spectrogram(&clips.files[i]),
        |_, loaded: Vec<Spectrogram>| {
            // Clips of different sample rates have different widths: one pass per width,
            // results put back in list order (batching changes no number).
            let mut out: Vec<Option<AudioEmbedding>> = vec![None; loaded.len()];
            let mut widths: Vec<usize> = loaded.iter().map(|s| s.frames).collect();
            widths.sort_unstable();
            widths.dedup();
            for width in widths {
                let members: Vec<usize> = (0..loaded.len()).filter(|&k| loaded[k].frames == width).collect();
                let values: Vec<f32> = members.iter().flat_map(|&k| loaded[k].values.iter().copied()).collect();
                let bins = values.len() / (members.len() * width);
                let x = Tensor::<4>::from_data(TensorData::new(values, [members.len(), 1, bins, width]), device);
                for (k, e) in members.into_iter().zip(encoders.embed_audio(x)) {
                    out[k] = Some(e);
                }
            }
            audio.extend(out.into_iter().map(|e| e.expect("every clip embedded")));
            on_file(loaded.len());
            Ok(())
        },
    )?;
    Ok(Embedded { frames, clips, images, objects: object_maps, audio })
}

/// Cross-modal retrieval recall@k among the samples `positives` (each with its own frame
/// and clip), scored by the mean of the map S over positions: (audio→image, image→audio).
pub fn retrieval_recall(e: &Embedded, positives: &[usize], ks: &[usize], device: &Device) -> (Vec<f64>, Vec<f64>) {
    let n = positives.len();
    let rows = |vectors: Vec<Vec<f32>>| {
        let d = vectors[0].len();
        Tensor::<2>::from_data(TensorData::new(vectors.concat(), [n, d]), device)
    };
    let images = rows(positives.iter().map(|&i| image_vector(&e.images[e.frames.of_sample[i]])).collect());
    let audio = rows(positives.iter().map(|&i| audio_vector(&e.audio[e.clips.of_sample[i]])).collect());
    let a2v = audio.matmul(images.transpose()).into_data().try_to_vec::<f32>().expect("float32 similarities");
    (recall_at_k(&a2v, n, ks), recall_at_k(&transpose(&a2v, n), n, ks))
}
