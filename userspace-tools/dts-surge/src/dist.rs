// SPDX-License-Identifier: GPL-2.0
//! The distributions of the SURGE models (Barford & Crovella, SIGMETRICS
//! 1998, Table 2), with the paper's parameters as defaults:
//!
//! | model | distribution | parameters |
//! |---|---|---|
//! | file size, body | lognormal | μ = 9.357, σ = 1.318 (of ln bytes) |
//! | file size, tail | Pareto | α = 1.1, k = 133 000 bytes |
//! | popularity | Zipf | α = 1.0 (P(rank r) ∝ r^-α) |
//! | files per ON period | Pareto | α = 2.43, k = 1 |
//! | active OFF | Weibull | shape 1.46, scale 0.382 s |
//! | inactive OFF (think) | Pareto | α = 1.5, k = 1 s |
//!
//! The temporal-locality model (lognormal stack distances) is in
//! [`crate::locality`].

use rand::RngExt;
use rand_distr::{Distribution, LogNormal, Pareto, Weibull};
use serde::{Deserialize, Serialize};

use crate::seed::SurgeRng;
use crate::{Error, Result};

/// Parameters of the hybrid file-size model: a lognormal body below the
/// cutoff `tail_k` and a Pareto tail above it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeParams {
    /// μ of the body, the mean of ln(size in bytes).
    pub body_mu: f64,
    /// σ of the body, the standard deviation of ln(size in bytes).
    pub body_sigma: f64,
    /// Fraction of the files drawn from the body (the rest from the tail).
    pub body_fraction: f64,
    /// α of the Pareto tail.
    pub tail_alpha: f64,
    /// k of the Pareto tail, in bytes: its smallest value and the cutoff
    /// between body and tail.
    pub tail_k: f64,
    /// Smallest file size in bytes (smaller draws are raised to it).
    pub min_size: u64,
    /// Largest file size in bytes (larger draws are cut to it).
    pub max_size: u64,
}

impl Default for SizeParams {
    fn default() -> Self {
        SizeParams {
            body_mu: 9.357,
            body_sigma: 1.318,
            body_fraction: 0.93,
            tail_alpha: 1.1,
            tail_k: 133_000.0,
            min_size: 64,
            max_size: 8 << 20,
        }
    }
}

fn positive(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::param(name, format!("{v} is not a positive number")))
    }
}

fn finite(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::param(name, format!("{v} is not a finite number")))
    }
}

impl SizeParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<()> {
        finite("body-mu", self.body_mu)?;
        positive("body-sigma", self.body_sigma)?;
        if !(0.0..=1.0).contains(&self.body_fraction) {
            return Err(Error::param(
                "body-fraction",
                format!("{} is not in [0, 1]", self.body_fraction),
            ));
        }
        positive("tail-alpha", self.tail_alpha)?;
        positive("tail-k", self.tail_k)?;
        if self.max_size < self.min_size {
            return Err(Error::param(
                "max-size",
                format!("{} is below --min-size {}", self.max_size, self.min_size),
            ));
        }
        Ok(())
    }
}

/// Largest number of redraws of the body above the cutoff before the cutoff
/// itself is taken (only reached with parameters that put almost all of the
/// lognormal above `tail_k`).
const BODY_REDRAWS: u32 = 1000;

/// The hybrid file-size distribution.
#[derive(Clone, Debug)]
pub struct SizeDist {
    params: SizeParams,
    body: LogNormal<f64>,
    tail: Pareto<f64>,
}

impl SizeDist {
    /// The distribution of `params` (validated).
    pub fn new(params: SizeParams) -> Result<SizeDist> {
        params.validate()?;
        Ok(SizeDist {
            params,
            body: LogNormal::new(params.body_mu, params.body_sigma)
                .map_err(|e| Error::param("body-sigma", e.to_string()))?,
            tail: Pareto::new(params.tail_k, params.tail_alpha)
                .map_err(|e| Error::param("tail-alpha", e.to_string()))?,
        })
    }

    /// One draw from the untruncated lognormal body (for tests and
    /// inspection).
    pub fn sample_body(&self, rng: &mut SurgeRng) -> f64 {
        self.body.sample(rng)
    }

    /// One draw from the Pareto tail (for tests and inspection).
    pub fn sample_tail(&self, rng: &mut SurgeRng) -> f64 {
        self.tail.sample(rng)
    }

    /// One file size in bytes: with probability `body_fraction` the body
    /// conditioned on being at most `tail_k`, otherwise the tail (at least
    /// `tail_k`); then rounded and clamped to `[min_size, max_size]`.
    pub fn sample(&self, rng: &mut SurgeRng) -> u64 {
        let u: f64 = rng.random();
        let x = if u < self.params.body_fraction {
            let mut x = self.params.tail_k;
            for _ in 0..BODY_REDRAWS {
                let b = self.body.sample(rng);
                if b <= self.params.tail_k {
                    x = b;
                    break;
                }
            }
            x
        } else {
            self.tail.sample(rng)
        };
        // `as` saturates: an infinite or huge draw becomes u64::MAX.
        (x.round() as u64).clamp(self.params.min_size, self.params.max_size)
    }
}

/// Zipf's law over ranks 1..=n: P(r) = r^-α / Σ_i i^-α.
#[derive(Clone, Debug)]
pub struct Zipf {
    /// cdf[r - 1] = P(rank ≤ r); the last entry is exactly 1.
    cdf: Vec<f64>,
}

impl Zipf {
    /// Zipf over `n ≥ 1` ranks with exponent `alpha ≥ 0` (0 is uniform).
    pub fn new(n: usize, alpha: f64) -> Result<Zipf> {
        if n == 0 {
            return Err(Error::param("count", "the file set is empty"));
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(Error::param(
                "zipf-alpha",
                format!("{alpha} is not a number ≥ 0"),
            ));
        }
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for r in 1..=n {
            sum += (r as f64).powf(-alpha);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        cdf[n - 1] = 1.0;
        Ok(Zipf { cdf })
    }

    /// Number of ranks.
    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    /// Always false (a Zipf has at least one rank).
    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }

    /// P(rank = r), for 1 ≤ r ≤ n.
    pub fn prob(&self, r: usize) -> f64 {
        let hi = self.cdf[r - 1];
        if r == 1 {
            hi
        } else {
            hi - self.cdf[r - 2]
        }
    }

    /// One rank, 1-based (inversion of the CDF by binary search).
    pub fn sample(&self, rng: &mut SurgeRng) -> usize {
        let u: f64 = rng.random();
        let i = self.cdf.partition_point(|&c| c <= u);
        i.min(self.cdf.len() - 1) + 1
    }
}

/// Parameters of a user's ON/OFF process.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionParams {
    /// α of the Pareto number of files per ON period (a page: its base file
    /// and its embedded references).
    pub embedded_alpha: f64,
    /// k of the Pareto number of files per ON period.
    pub embedded_k: f64,
    /// Shape of the Weibull active OFF time (between the files of a page).
    pub active_off_shape: f64,
    /// Scale of the Weibull active OFF time, in seconds.
    pub active_off_scale: f64,
    /// α of the Pareto inactive OFF (think) time (after a page).
    pub think_alpha: f64,
    /// k of the Pareto inactive OFF time, in seconds.
    pub think_k: f64,
    /// Factor applied to every OFF time (compresses time when below 1).
    pub think_scale: f64,
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams {
            embedded_alpha: 2.43,
            embedded_k: 1.0,
            active_off_shape: 1.46,
            active_off_scale: 0.382,
            think_alpha: 1.5,
            think_k: 1.0,
            think_scale: 1.0,
        }
    }
}

impl SessionParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<()> {
        positive("embedded-alpha", self.embedded_alpha)?;
        positive("embedded-k", self.embedded_k)?;
        positive("active-off-shape", self.active_off_shape)?;
        positive("active-off-scale", self.active_off_scale)?;
        positive("think-alpha", self.think_alpha)?;
        positive("think-k", self.think_k)?;
        if !(self.think_scale.is_finite() && self.think_scale >= 0.0) {
            return Err(Error::param(
                "think-scale",
                format!("{} is not a number ≥ 0", self.think_scale),
            ));
        }
        Ok(())
    }
}

/// Most files in one ON period (a draw above it is cut to it; with the
/// default α = 2.43 a draw above 1000 has probability 5e-8).
pub const MAX_PAGE_FILES: u32 = 1000;

/// Longest OFF time in seconds before `think_scale` (a Pareto draw above it
/// is cut to it: one day).
pub const MAX_OFF_S: f64 = 86_400.0;

/// The distributions of a user's ON/OFF process.
#[derive(Clone, Debug)]
pub struct Session {
    embedded: Pareto<f64>,
    active: Weibull<f64>,
    think: Pareto<f64>,
    scale: f64,
}

impl Session {
    /// The process of `params` (validated).
    pub fn new(params: SessionParams) -> Result<Session> {
        params.validate()?;
        let e = |name: &'static str| {
            move |err: rand_distr::ParetoError| Error::param(name, err.to_string())
        };
        Ok(Session {
            embedded: Pareto::new(params.embedded_k, params.embedded_alpha)
                .map_err(e("embedded-alpha"))?,
            active: Weibull::new(params.active_off_scale, params.active_off_shape)
                .map_err(|err| Error::param("active-off-shape", err.to_string()))?,
            think: Pareto::new(params.think_k, params.think_alpha).map_err(e("think-alpha"))?,
            scale: params.think_scale,
        })
    }

    /// Number of files in one ON period: ⌊Pareto(k, α)⌋, at least 1 and at
    /// most [`MAX_PAGE_FILES`].
    pub fn page_files(&self, rng: &mut SurgeRng) -> u32 {
        let x = self.embedded.sample(rng).floor();
        (x.min(f64::from(MAX_PAGE_FILES)) as u32).max(1)
    }

    /// One active OFF time in seconds, before `think_scale`.
    pub fn active_off_raw(&self, rng: &mut SurgeRng) -> f64 {
        self.active.sample(rng).min(MAX_OFF_S)
    }

    /// One inactive OFF time in seconds, before `think_scale`.
    pub fn think_raw(&self, rng: &mut SurgeRng) -> f64 {
        self.think.sample(rng).min(MAX_OFF_S)
    }

    /// One active OFF time in seconds, times `think_scale`.
    pub fn active_off(&self, rng: &mut SurgeRng) -> f64 {
        self.active_off_raw(rng) * self.scale
    }

    /// One inactive OFF time in seconds, times `think_scale`.
    pub fn think(&self, rng: &mut SurgeRng) -> f64 {
        self.think_raw(rng) * self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;
    use crate::stats::{hill, median};
    use proptest::prelude::*;

    fn sizes(params: SizeParams, n: usize, seed: u64) -> Vec<u64> {
        let d = SizeDist::new(params).unwrap();
        let mut r = rng(seed, "test", 0);
        (0..n).map(|_| d.sample(&mut r)).collect()
    }

    #[test]
    fn body_median_is_exp_mu() {
        let d = SizeDist::new(SizeParams::default()).unwrap();
        let mut r = rng(1, "test", 0);
        let mut v: Vec<f64> = (0..20_000).map(|_| d.sample_body(&mut r)).collect();
        let m = median(&mut v);
        let expect = 9.357f64.exp();
        assert!(
            (m / expect - 1.0).abs() < 0.05,
            "median {m}, exp(mu) {expect}"
        );
        // σ of ln x.
        let logs: Vec<f64> = v.iter().map(|x| x.ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
        assert!((mean - 9.357).abs() < 0.05, "mean of ln {mean}");
        assert!((sd - 1.318).abs() < 0.05, "sd of ln {sd}");
    }

    #[test]
    fn hybrid_body_fraction_and_tail_index() {
        let p = SizeParams {
            max_size: u64::MAX,
            ..SizeParams::default()
        };
        let v = sizes(p, 100_000, 2);
        let k = p.tail_k;
        let tail: Vec<f64> = v.iter().map(|&s| s as f64).filter(|&s| s > k).collect();
        let frac = tail.len() as f64 / v.len() as f64;
        assert!((frac - 0.07).abs() < 0.005, "tail fraction {frac}");
        let a = hill(&tail, k);
        assert!((a - 1.1).abs() < 0.08, "Hill estimate {a}");
        // Below the cutoff: about body_fraction · P(body ≤ median).
        let below_exp_mu = v.iter().filter(|&&s| (s as f64) < 9.357f64.exp()).count();
        let f = below_exp_mu as f64 / v.len() as f64;
        // 0.93 · Φ(0) / Φ((ln k − μ)/σ) = 0.93 · 0.5 / 0.968.
        assert!((f - 0.480).abs() < 0.01, "fraction below exp(mu) {f}");
    }

    #[test]
    fn tail_log_log_slope() {
        // The CCDF of the tail on log-log axes is a line of slope −α.
        let d = SizeDist::new(SizeParams::default()).unwrap();
        let mut r = rng(3, "test", 0);
        let mut v: Vec<f64> = (0..50_000).map(|_| d.sample_tail(&mut r)).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let pts: Vec<(f64, f64)> = [0.5, 0.8, 0.9, 0.95, 0.99]
            .iter()
            .map(|&q| {
                let x = v[(q * n) as usize];
                (x.ln(), (1.0 - q).ln())
            })
            .collect();
        let (mx, my) = pts.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
        let (mx, my) = (mx / pts.len() as f64, my / pts.len() as f64);
        let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
            / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
        assert!((slope + 1.1).abs() < 0.1, "slope {slope}");
    }

    #[test]
    fn zipf_rank_frequencies() {
        for alpha in [0.8, 1.0, 1.2] {
            let z = Zipf::new(100, alpha).unwrap();
            let mut r = rng(4, "test", 0);
            let mut c = vec![0u64; 101];
            let n = 400_000;
            for _ in 0..n {
                c[z.sample(&mut r)] += 1;
            }
            let top = *c.iter().max().unwrap();
            assert_eq!(c[1], top, "rank 1 is the most frequent");
            for rank in [2, 3, 5, 10] {
                let ratio = c[1] as f64 / c[rank] as f64;
                let expect = (rank as f64).powf(alpha);
                assert!(
                    (ratio / expect - 1.0).abs() < 0.08,
                    "alpha {alpha} rank {rank}: ratio {ratio}, expected {expect}"
                );
            }
            assert!((c[1] as f64 / n as f64 - z.prob(1)).abs() < 0.005);
        }
    }

    #[test]
    fn zipf_probabilities_sum_to_one() {
        let z = Zipf::new(1000, 1.0).unwrap();
        let s: f64 = (1..=1000).map(|r| z.prob(r)).sum();
        assert!((s - 1.0).abs() < 1e-9);
        assert!(Zipf::new(0, 1.0).is_err());
        assert!(Zipf::new(3, -1.0).is_err());
        assert!(Zipf::new(3, f64::NAN).is_err());
    }

    #[test]
    fn page_files_distribution() {
        let s = Session::new(SessionParams::default()).unwrap();
        let mut r = rng(5, "test", 0);
        let n = 100_000;
        let v: Vec<u32> = (0..n).map(|_| s.page_files(&mut r)).collect();
        assert!(v.iter().all(|&x| x >= 1));
        // P(⌊X⌋ ≥ m) = m^-α.
        for m in [2u32, 3, 5] {
            let p = v.iter().filter(|&&x| x >= m).count() as f64 / n as f64;
            let expect = f64::from(m).powf(-2.43);
            assert!(
                (p - expect).abs() < 0.01,
                "P(>= {m}) = {p}, expected {expect}"
            );
        }
    }

    #[test]
    fn off_time_distributions() {
        let s = Session::new(SessionParams::default()).unwrap();
        let mut r = rng(6, "test", 0);
        let n = 100_000;
        // Weibull: P(X > x) = exp(−(x/λ)^k); median λ (ln 2)^(1/k).
        let mut a: Vec<f64> = (0..n).map(|_| s.active_off_raw(&mut r)).collect();
        let m = median(&mut a);
        let expect = 0.382 * 2f64.ln().powf(1.0 / 1.46);
        assert!(
            (m / expect - 1.0).abs() < 0.03,
            "active OFF median {m}, expected {expect}"
        );
        let p1 = a.iter().filter(|&&x| x > 0.5).count() as f64 / n as f64;
        let e1 = (-(0.5f64 / 0.382).powf(1.46)).exp();
        assert!(
            (p1 - e1).abs() < 0.01,
            "P(active > 0.5) {p1}, expected {e1}"
        );
        // Pareto think time: all ≥ k, Hill estimate near α, median k 2^(1/α).
        let mut t: Vec<f64> = (0..n).map(|_| s.think_raw(&mut r)).collect();
        assert!(t.iter().all(|&x| x >= 1.0));
        let h = hill(&t, 1.0);
        assert!((h - 1.5).abs() < 0.05, "think Hill estimate {h}");
        let m = median(&mut t);
        assert!(
            (m / 2f64.powf(1.0 / 1.5) - 1.0).abs() < 0.03,
            "think median {m}"
        );
    }

    #[test]
    fn think_scale_multiplies() {
        let p = SessionParams {
            think_scale: 0.01,
            ..SessionParams::default()
        };
        let s1 = Session::new(SessionParams::default()).unwrap();
        let s2 = Session::new(p).unwrap();
        let (mut r1, mut r2) = (rng(7, "t", 0), rng(7, "t", 0));
        for _ in 0..100 {
            let (a, b) = (s1.think(&mut r1), s2.think(&mut r2));
            assert!((a * 0.01 - b).abs() <= 1e-12 * a);
            let (a, b) = (s1.active_off(&mut r1), s2.active_off(&mut r2));
            assert!((a * 0.01 - b).abs() <= 1e-12 * a);
        }
    }

    #[test]
    fn invalid_params_are_refused() {
        let bad = [
            SizeParams {
                body_sigma: 0.0,
                ..SizeParams::default()
            },
            SizeParams {
                body_fraction: 1.5,
                ..SizeParams::default()
            },
            SizeParams {
                tail_alpha: -1.0,
                ..SizeParams::default()
            },
            SizeParams {
                min_size: 10,
                max_size: 5,
                ..SizeParams::default()
            },
            SizeParams {
                body_mu: f64::INFINITY,
                ..SizeParams::default()
            },
        ];
        for p in bad {
            let e = SizeDist::new(p).unwrap_err();
            assert!(e.is_usage(), "{e}");
        }
        let e = Session::new(SessionParams {
            think_scale: -1.0,
            ..SessionParams::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("think-scale"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sizes_honor_caps(seed: u64, min in 0u64..100_000, span in 0u64..10_000_000) {
            let p = SizeParams { min_size: min, max_size: min + span, ..SizeParams::default() };
            for s in sizes(p, 500, seed) {
                prop_assert!(s >= p.min_size && s <= p.max_size);
            }
        }

        #[test]
        fn sizes_are_deterministic(seed: u64) {
            prop_assert_eq!(sizes(SizeParams::default(), 50, seed), sizes(SizeParams::default(), 50, seed));
        }

        #[test]
        fn zipf_sample_in_range(seed: u64, n in 1usize..500, alpha in 0.0f64..3.0) {
            let z = Zipf::new(n, alpha).unwrap();
            let mut r = rng(seed, "test", 0);
            for _ in 0..100 {
                let k = z.sample(&mut r);
                prop_assert!((1..=n).contains(&k));
            }
        }
    }
}
