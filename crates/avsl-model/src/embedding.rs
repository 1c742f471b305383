//! Embeddings on the host, one per file: an image's or a clip's embedding is computed
//! once and paired with every partner the test list asks for (extended test sets pair
//! each frame with several clips), so a pair's map costs a dot product, not a forward pass.

use burn::tensor::Tensor;

use crate::encoders::Encoders;
use crate::weights::host_values;

/// One image: per head, the normalised embedding `[d, h·w]` (channel-major), and
/// SSL-align's normalised alignment projection.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEmbedding {
    pub h: usize,
    pub w: usize,
    pub heads: Vec<Vec<f32>>,
    pub projected: Option<Vec<f32>>,
}

/// One clip: per head, the normalised embedding `[d]`, and SSL-align's normalised
/// alignment projection.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioEmbedding {
    pub heads: Vec<Vec<f32>>,
    pub projected: Option<Vec<f32>>,
}

/// Rows of a `[B, d]` tensor.
fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, d] = t.dims();
    t.into_data().try_to_vec::<f32>().expect("float32 embeddings").chunks_exact(d).map(<[f32]>::to_vec).collect()
}

impl Encoders {
    /// `[B, 3, 224, 224]` → one [`ImageEmbedding`] per image.
    pub fn embed_images(&self, images: Tensor<4>) -> Vec<ImageEmbedding> {
        let [b, _, _, _] = images.dims();
        let outputs = self.image_outputs(images);
        let [_, d, h, w] = outputs.heads[0].dims();
        let values: Vec<Vec<f32>> = outputs.heads.into_iter().map(host_values).collect();
        let mut projected = outputs.projected.map(rows).map(Vec::into_iter);
        (0..b)
            .map(|i| ImageEmbedding {
                h,
                w,
                heads: values.iter().map(|v| v[i * d * h * w..(i + 1) * d * h * w].to_vec()).collect(),
                projected: projected.as_mut().and_then(Iterator::next),
            })
            .collect()
    }

    /// `[B, 1, 257, T]` → one [`AudioEmbedding`] per clip.
    pub fn embed_audio(&self, spectrograms: Tensor<4>) -> Vec<AudioEmbedding> {
        let [b, _, _, _] = spectrograms.dims();
        let outputs = self.audio_outputs(spectrograms);
        let [_, d] = outputs.heads[0].dims();
        let values: Vec<Vec<f32>> =
            outputs.heads.into_iter().map(|t| t.into_data().try_to_vec::<f32>().expect("float32 embeddings")).collect();
        let mut projected = outputs.projected.map(rows).map(Vec::into_iter);
        (0..b)
            .map(|i| AudioEmbedding {
                heads: values.iter().map(|v| v[i * d..(i + 1) * d].to_vec()).collect(),
                projected: projected.as_mut().and_then(Iterator::next),
            })
            .collect()
    }
}

/// The map S `[h·w]` of an image with a clip: mean over heads of ⟨v(p), a⟩/τ (float32, as
/// the reference computes it).
pub fn pair_map(image: &ImageEmbedding, audio: &AudioEmbedding, tau: f64) -> Vec<f32> {
    let p = image.h * image.w;
    let mut out = vec![0.0f32; p];
    for (v, a) in image.heads.iter().zip(&audio.heads) {
        let mut s = vec![0.0f32; p];
        for (row, &ac) in v.chunks_exact(p).zip(a) {
            for (sq, &vq) in s.iter_mut().zip(row) {
                *sq += vq * ac;
            }
        }
        for (o, sq) in out.iter_mut().zip(s) {
            *o += sq / tau as f32;
        }
    }
    if image.heads.len() > 1 {
        let heads = image.heads.len() as f32;
        out.iter_mut().for_each(|o| *o /= heads);
    }
    out
}

/// The image's mean embedding over positions, heads concatenated: its dot product with
/// [`audio_vector`] is (heads · τ) times the mean of S over positions, the pair's
/// retrieval score (a monotone transform, so rankings are the same).
pub fn image_vector(image: &ImageEmbedding) -> Vec<f32> {
    let p = (image.h * image.w) as f32;
    image
        .heads
        .iter()
        .flat_map(|v| v.chunks_exact(image.h * image.w).map(move |row| row.iter().sum::<f32>() / p))
        .collect()
}

/// The clip's embedding, heads concatenated.
pub fn audio_vector(audio: &AudioEmbedding) -> Vec<f32> {
    audio.heads.concat()
}
