//! Nearest neighbours by cosine similarity over a feature matrix: SSL-align's mined
//! positives ("Aligning Sight and Sound", §3: the top-k most similar other samples of the
//! training set, per modality). Rows are compared a block at a time (one matrix product of
//! the block against every row), so memory stays at block × N similarities.

use rayon::prelude::*;

use avsl_kernels::matmul::{Threads, matmul};

/// Rows per matrix product: 256 × 144k float32 similarities is 147 MB.
const BLOCK: usize = 256;

/// For every row, the `k` other rows most similar to it, most similar first (ties: the
/// lower index first), and their cosine similarities. Row-major `[n, k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    pub indices: Vec<u32>,
    pub similarities: Vec<f32>,
}

/// Rows scaled to unit length (`F.normalize`: divided by max(‖x‖, 1e-12)); the norm is
/// summed in float64.
fn unit_rows(features: &[f32], d: usize) -> Vec<f32> {
    let mut out = features.to_vec();
    out.par_chunks_mut(d).for_each(|row| {
        let norm = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v = (*v as f64 / norm) as f32);
    });
    out
}

/// The `k` nearest other rows of every row of `features` (`[n, d]`, row-major) by cosine
/// similarity. `on_rows(m)` is told each time `m` more rows are done. `k` must be below `n`.
pub fn top_k_cosine(features: &[f32], n: usize, d: usize, k: usize, on_rows: &(dyn Fn(usize) + Sync)) -> Neighbours {
    assert_eq!(features.len(), n * d, "features must be n × d");
    assert!(k < n, "k = {k} neighbours need more than {n} rows");
    let unit = unit_rows(features, d);
    let mut indices = vec![0u32; n * k];
    let mut similarities = vec![0f32; n * k];
    let mut block_sims = Vec::new();
    for first in (0..n).step_by(BLOCK) {
        let rows = BLOCK.min(n - first);
        block_sims.resize(rows * n, 0.0);
        matmul(
            &mut block_sims,
            &unit[first * d..][..rows * d],
            false,
            &unit,
            true,
            [rows, n, d],
            false,
            Threads::Rayon,
        );
        indices[first * k..][..rows * k]
            .par_chunks_mut(k)
            .zip(similarities[first * k..][..rows * k].par_chunks_mut(k))
            .zip(block_sims.par_chunks(n))
            .enumerate()
            .for_each(|(r, ((idx, sim), row))| {
                let me = first + r;
                let mut candidates: Vec<u32> = (0..n as u32).filter(|&j| j as usize != me).collect();
                let order = |a: &u32, b: &u32| row[*b as usize].total_cmp(&row[*a as usize]).then(a.cmp(b));
                candidates.select_nth_unstable_by(k - 1, order);
                candidates[..k].sort_unstable_by(order);
                for (slot, &j) in candidates[..k].iter().enumerate() {
                    idx[slot] = j;
                    sim[slot] = row[j as usize];
                }
            });
        on_rows(rows);
    }
    Neighbours { k, indices, similarities }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(n: usize, d: usize, seed: u64) -> Vec<f32> {
        (0..n * d)
            .map(|i| {
                let x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;
                ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_over_several_blocks() {
        // 600 rows: three blocks, the last one partial.
        let (n, d, k) = (600, 12, 7);
        let f = features(n, d, 3);
        let got = top_k_cosine(&f, n, d, k, &|_| {});
        let norm = |i: usize| f[i * d..][..d].iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        let cos = |i: usize, j: usize| {
            f[i * d..][..d].iter().zip(&f[j * d..][..d]).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>()
                / (norm(i) * norm(j))
        };
        for i in 0..n {
            let mut all: Vec<(usize, f64)> = (0..n).filter(|&j| j != i).map(|j| (j, cos(i, j))).collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            // Float32 products can swap two neighbours whose cosines differ by less than
            // their rounding: each slot must hold a row with the s-th largest cosine.
            for (s, &(_, expected)) in all.iter().take(k).enumerate() {
                let j = got.indices[i * k + s] as usize;
                assert!((cos(i, j) - expected).abs() < 1e-6, "row {i}, neighbour {s}: {j} vs {expected}");
                assert!((got.similarities[i * k + s] as f64 - expected).abs() < 1e-6);
            }
            let mut distinct = got.indices[i * k..][..k].to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), k);
            assert!(!got.indices[i * k..][..k].contains(&(i as u32)), "a row is not its own neighbour");
        }
    }

    #[test]
    fn ties_go_to_the_lower_index_and_duplicates_find_each_other() {
        // Rows 0, 2 and 4 are the same vector; 1 and 3 another.
        let f = vec![1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 0.5, 0.0];
        let got = top_k_cosine(&f, 5, 2, 2, &|_| {});
        assert_eq!(&got.indices[0..2], &[2, 4]);
        assert_eq!(&got.indices[2..4], &[3, 0]);
        assert_eq!(&got.indices[8..10], &[0, 2]);
        assert_eq!(got.similarities[0], 1.0);
    }
}
