//! Cross-modal retrieval recall@k from a similarity matrix whose diagonal holds the true
//! pairs, and the alignment and magnitude of paired embeddings ("Aligning Sight and
//! Sound", §4.4–4.5).

/// Recall@k for each k: the fraction of queries (rows) whose true match (the diagonal)
/// ranks within the top k. Rank = how many candidates score strictly higher, so ties are
/// resolved in the query's favour.
pub fn recall_at_k(similarity: &[f32], n: usize, ks: &[usize]) -> Vec<f64> {
    assert_eq!(similarity.len(), n * n, "similarity matrix must be n × n");
    let ranks: Vec<usize> = (0..n)
        .map(|i| {
            let row = &similarity[i * n..(i + 1) * n];
            row.iter().filter(|&&s| s > row[i]).count()
        })
        .collect();
    ks.iter().map(|&k| ranks.iter().filter(|&&r| r < k).count() as f64 / n as f64).collect()
}

/// The transpose of a row-major n × n matrix (image→audio from audio→image).
pub fn transpose(m: &[f32], n: usize) -> Vec<f32> {
    (0..n * n).map(|i| m[(i % n) * n + i / n]).collect()
}

/// The cross-modal alignment analysis of "Aligning Sight and Sound" (§4.5, Table VI) on
/// `n` paired rows of `d` values: every row scaled to unit length, `alignment` the mean
/// cosine of the true pairs (CyCLIP's, their ref. [29]), `magnitude` the length of the
/// modality gap, ‖mean of the image rows − mean of the audio rows‖ (Zhang et al., their
/// ref. [75]). Lower magnitude and higher alignment: the modalities share one space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    pub alignment: f64,
    pub magnitude: f64,
}

pub fn alignment_and_magnitude(images: &[f32], audio: &[f32], n: usize, d: usize) -> Alignment {
    assert!(n > 0 && images.len() == n * d && audio.len() == n * d, "n × d rows of each modality");
    let unit = |row: &[f32]| {
        let norm = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt().max(1e-12);
        row.iter().map(|&v| v as f64 / norm).collect::<Vec<f64>>()
    };
    let mut gap = vec![0.0f64; d];
    let mut cosine = 0.0;
    for (v, a) in images.chunks_exact(d).zip(audio.chunks_exact(d)) {
        let (v, a) = (unit(v), unit(a));
        cosine += v.iter().zip(&a).map(|(x, y)| x * y).sum::<f64>();
        for ((g, x), y) in gap.iter_mut().zip(&v).zip(&a) {
            *g += (x - y) / n as f64;
        }
    }
    Alignment { alignment: cosine / n as f64, magnitude: gap.iter().map(|g| g * g).sum::<f64>().sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_and_magnitude_of_hand_made_embeddings() {
        // Identical pairs (scaled differently): aligned, no gap.
        let v = [1.0, 2.0, -3.0, 0.5];
        let a = [2.0, 4.0, -6.0, 1.0];
        assert_eq!(alignment_and_magnitude(&v, &a, 2, 2), Alignment { alignment: 1.0, magnitude: 0.0 });
        // Images all along x, audio all along y: orthogonal pairs, a gap of √2.
        let v = [3.0, 0.0, 1.0, 0.0];
        let a = [0.0, 2.0, 0.0, 5.0];
        let m = alignment_and_magnitude(&v, &a, 2, 2);
        assert_eq!(m.alignment, 0.0);
        assert!((m.magnitude - 2f64.sqrt()).abs() < 1e-12);
        // Pairs aligned but the two samples opposite: the centroids cancel, cosine 1.
        let v = [1.0, 0.0, -1.0, 0.0];
        let m = alignment_and_magnitude(&v, &v, 2, 2);
        assert_eq!((m.alignment, m.magnitude), (1.0, 0.0));
        // One pair at 60°, one at 90°: mean cosine 1/4.
        let v = [1.0, 0.0, 1.0, 0.0];
        let a = [0.5, 3f32.sqrt() / 2.0, 0.0, 1.0];
        assert!((alignment_and_magnitude(&v, &a, 2, 2).alignment - 0.25).abs() < 1e-7);
    }

    #[test]
    fn identity_and_hand_made_ranks() {
        let eye: Vec<f32> = (0..9).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        assert_eq!(recall_at_k(&eye, 3, &[1, 5]), vec![1.0, 1.0]);
        // Row 0's match ranks 3rd, row 1's 1st, row 2's 2nd.
        let m = [0.1, 0.5, 0.9, 0.0, 0.8, 0.2, 0.3, 0.7, 0.6];
        assert_eq!(recall_at_k(&m, 3, &[1, 2, 3]), vec![1.0 / 3.0, 2.0 / 3.0, 1.0]);
        assert_eq!(transpose(&m, 3)[1], m[3]);
    }
}
