//! Cross-modal retrieval recall@k from a similarity matrix whose diagonal holds the true
//! pairs ("Aligning Sight and Sound", §4).

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

#[cfg(test)]
mod tests {
    use super::*;

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
