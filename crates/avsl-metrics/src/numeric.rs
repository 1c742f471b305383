//! numpy's summation order, so float sums agree with the reference to the last bit.

/// numpy's pairwise summation of a contiguous array (`np.add.reduce`): blocks below 8
/// elements are summed in order, blocks up to 128 with eight interleaved accumulators,
/// larger ones split in halves (rounded to a multiple of 8).
pub fn pairwise_sum<T>(a: &[T]) -> T
where
    T: Copy + std::ops::Add<Output = T> + Default,
{
    let n = a.len();
    if n < 8 {
        // numpy starts this case from -0.0; adding it changes nothing but the sign of an
        // empty or all-(-0.0) sum, which never matters here.
        a.iter().fold(T::default(), |s, &v| s + v)
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk = *rk + a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            res = res + v;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

/// `np.sort` order for floats: ascending, NaN last.
pub fn sort_f32(values: &mut [f32]) {
    values.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or_else(|| a.is_nan().cmp(&b.is_nan())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_matches_exact_sum_on_integers_and_differs_from_naive_on_floats() {
        let ints: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(pairwise_sum(&ints), 499_500.0);
        // 0.1 summed 1000 times: numpy's pairwise result, not the naive one.
        let tenths = vec![0.1f32; 1000];
        let naive: f32 = tenths.iter().sum();
        assert_eq!(pairwise_sum(&tenths), 100.000015f32); // np.add.reduce(np.full(1000, 0.1, np.float32))
        assert_ne!(naive, pairwise_sum(&tenths));
    }
}
