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

/// Ascending float32 sort (LSD radix sort on order-preserving bit keys, 3 passes of 11
/// bits with all histograms counted in one read: maps are sorted three times per sample,
/// so this is the hot path of evaluation). Positive NaNs sort last, as in `np.sort`;
/// −0.0 sorts before 0.0, which numpy leaves unspecified.
pub fn sort_f32(values: &mut [f32]) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    let mut keys: Vec<u32> = Vec::with_capacity(values.len());
    let mut counts = vec![[0usize; BUCKETS]; 3];
    for &v in values.iter() {
        let b = v.to_bits();
        let k = if b & 0x8000_0000 != 0 { !b } else { b | 0x8000_0000 };
        for (pass, c) in counts.iter_mut().enumerate() {
            c[((k >> (pass as u32 * BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
        keys.push(k);
    }
    let mut buffer = vec![0u32; keys.len()];
    for (pass, c) in counts.iter_mut().enumerate() {
        let shift = pass as u32 * BITS;
        let mut total = 0;
        for slot in c.iter_mut() {
            let n = *slot;
            *slot = total;
            total += n;
        }
        for &k in &keys {
            let bucket = ((k >> shift) as usize) & (BUCKETS - 1);
            buffer[c[bucket]] = k;
            c[bucket] += 1;
        }
        std::mem::swap(&mut keys, &mut buffer);
    }
    for (v, k) in values.iter_mut().zip(keys) {
        let b = if k & 0x8000_0000 != 0 { k & 0x7FFF_FFFF } else { !k };
        *v = f32::from_bits(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_orders_like_comparisons() {
        let mut v: Vec<f32> = (0..5000).map(|i| ((i * 7919 % 1013) as f32 - 500.0) * 0.37).collect();
        v.extend([f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e-40, -1e-40, f32::NAN]);
        let mut expected = v.clone();
        expected.sort_by(f32::total_cmp);
        sort_f32(&mut v);
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            expected.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

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
