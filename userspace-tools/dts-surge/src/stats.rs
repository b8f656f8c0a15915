// SPDX-License-Identifier: GPL-2.0
//! Small statistics used by the run report and by the tests of the models:
//! percentiles, the median and the Hill estimator of a Pareto tail index.

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending) by the
/// nearest-rank method; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of `v` (sorts it); NaN when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The Hill (maximum-likelihood) estimate of the tail index α of the values
/// of `v` at least `k`, taken as Pareto(k, α): m / Σ ln(x / k).
pub fn hill(v: &[f64], k: f64) -> f64 {
    let (m, s) = v
        .iter()
        .filter(|&&x| x >= k)
        .fold((0usize, 0.0), |(m, s), &x| (m + 1, s + (x / k).ln()));
    m as f64 / s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 90.0), Some(90.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn median_even_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn hill_of_exact_quantiles() {
        // Quantiles of Pareto(1, 2): x_i = (1 − u_i)^(−1/2).
        let n = 10_000;
        let v: Vec<f64> = (0..n)
            .map(|i| (1.0 - (i as f64 + 0.5) / n as f64).powf(-0.5))
            .collect();
        assert!((hill(&v, 1.0) - 2.0).abs() < 0.02);
    }
}
