// SPDX-License-Identifier: GPL-2.0
//! Temporal locality: SURGE's stack-distance model.
//!
//! SURGE orders a reference stream so that the *stack distances* of its
//! references (how many distinct other files were referenced since the last
//! reference to the same file, plus one) follow a lognormal distribution,
//! while every file keeps the number of references its Zipf popularity
//! gives it. The generator here does this epoch by epoch, so that a stream
//! can run for as long as a benchmark lasts:
//!
//! 1. An epoch of `epoch` references is planned: `epoch` Zipf draws give
//!    each file its number of references in the epoch (popularity rank r has
//!    probability ∝ r^-α; the manifest maps ranks to files).
//! 2. The files with references left form an LRU stack, first in a random
//!    order.
//! 3. Each reference draws a distance d = ⌈X⌉ with X lognormal(μ, σ)
//!    (redrawn while d exceeds the stack's depth, at most 64 times, then the
//!    bottom of the stack is taken), takes the file at depth d (d = 1 is the
//!    file referenced last), moves it to the top and decrements its
//!    references left; a file with none left leaves the stack.
//! 4. When the stack is empty the next epoch starts.
//!
//! Popularity is therefore exact per epoch and the order concentrates the
//! re-references of each file in time: a file just referenced is likely to
//! be referenced again soon, more than in an independent Zipf stream.

use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

use crate::dist::Zipf;
use crate::seed::{self, SurgeRng};
use crate::{Error, Result};

/// Parameters of the stack-distance model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalityParams {
    /// μ of ln(stack distance).
    pub stack_mu: f64,
    /// σ of ln(stack distance).
    pub stack_sigma: f64,
    /// References planned per epoch; 0 means ten times the number of files.
    pub epoch: u64,
}

impl Default for LocalityParams {
    fn default() -> Self {
        LocalityParams {
            stack_mu: 1.5,
            stack_sigma: 0.8,
            epoch: 0,
        }
    }
}

impl LocalityParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<()> {
        if !self.stack_mu.is_finite() {
            return Err(Error::param(
                "stack-mu",
                format!("{} is not finite", self.stack_mu),
            ));
        }
        if !(self.stack_sigma.is_finite() && self.stack_sigma > 0.0) {
            return Err(Error::param(
                "stack-sigma",
                format!("{} is not a positive number", self.stack_sigma),
            ));
        }
        Ok(())
    }

    /// The epoch length for `files` files.
    pub fn epoch_len(&self, files: usize) -> u64 {
        if self.epoch == 0 {
            10 * files as u64
        } else {
            self.epoch
        }
    }
}

/// Redraws of a stack distance deeper than the stack before the bottom of
/// the stack is taken.
const DEPTH_REDRAWS: u32 = 64;

/// An endless reference stream with Zipf popularity and lognormal stack
/// distances. File indices are positions in the manifest.
#[derive(Clone, Debug)]
pub struct StackStream {
    zipf: Zipf,
    /// rank_to_file[r - 1]: the file of popularity rank r.
    rank_to_file: Vec<usize>,
    distance: LogNormal<f64>,
    epoch: u64,
    /// The LRU stack, *top last*: (file, references left in the epoch).
    stack: Vec<(usize, u64)>,
}

impl StackStream {
    /// A stream over the files of `rank_to_file` (a permutation of the file
    /// indices, by popularity rank) with Zipf exponent `alpha`.
    pub fn new(
        rank_to_file: Vec<usize>,
        alpha: f64,
        params: LocalityParams,
    ) -> Result<StackStream> {
        params.validate()?;
        let zipf = Zipf::new(rank_to_file.len(), alpha)?;
        Ok(StackStream {
            epoch: params.epoch_len(rank_to_file.len()).max(1),
            zipf,
            rank_to_file,
            distance: LogNormal::new(params.stack_mu, params.stack_sigma)
                .map_err(|e| Error::param("stack-sigma", e.to_string()))?,
            stack: Vec::new(),
        })
    }

    fn plan_epoch(&mut self, rng: &mut SurgeRng) {
        let mut counts = vec![0u64; self.rank_to_file.len()];
        for _ in 0..self.epoch {
            counts[self.rank_to_file[self.zipf.sample(rng) - 1]] += 1;
        }
        self.stack = counts
            .into_iter()
            .enumerate()
            .filter(|&(_, c)| c > 0)
            .collect();
        seed::shuffle(rng, &mut self.stack);
    }

    /// A stack distance (1-based depth) no deeper than the stack.
    fn depth(&self, rng: &mut SurgeRng) -> usize {
        let len = self.stack.len();
        for _ in 0..DEPTH_REDRAWS {
            let d = self.distance.sample(rng).ceil().max(1.0);
            if d <= len as f64 {
                return d as usize;
            }
        }
        len
    }

    /// The next reference: a file index.
    pub fn next_file(&mut self, rng: &mut SurgeRng) -> usize {
        if self.stack.is_empty() {
            self.plan_epoch(rng);
        }
        let d = self.depth(rng);
        let i = self.stack.len() - d;
        self.stack[i..].rotate_left(1);
        let top = self.stack.last_mut().expect("the stack is not empty");
        let file = top.0;
        top.1 -= 1;
        if top.1 == 0 {
            self.stack.pop();
        }
        file
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn stream(n: usize, seed: u64, len: usize, params: LocalityParams) -> Vec<usize> {
        // A non-trivial rank → file mapping.
        let map: Vec<usize> = (0..n).map(|r| (r * 7 + 3) % n).collect();
        let mut s = StackStream::new(map, 1.0, params).unwrap();
        let mut r = rng(seed, "test", 0);
        (0..len).map(|_| s.next_file(&mut r)).collect()
    }

    /// Fraction of references to a file among the previous `w` references.
    fn rereference_rate(v: &[usize], w: usize) -> f64 {
        let mut window: VecDeque<usize> = VecDeque::new();
        let mut hits = 0;
        for &f in v {
            if window.contains(&f) {
                hits += 1;
            }
            window.push_back(f);
            if window.len() > w {
                window.pop_front();
            }
        }
        hits as f64 / v.len() as f64
    }

    #[test]
    fn popularity_is_exact_per_epoch() {
        let n = 200;
        let p = LocalityParams::default();
        let v = stream(n, 1, 2000 * 10, p);
        // Ten epochs of 2000: the counts are Zipf draws, rank 1 (file 3) on top.
        let mut c = vec![0u64; n];
        for &f in &v {
            c[f] += 1;
        }
        let top = (0..n).max_by_key(|&f| c[f]).unwrap();
        assert_eq!(top, 3);
        let z = Zipf::new(n, 1.0).unwrap();
        let e1 = z.prob(1) * v.len() as f64;
        assert!(
            (c[3] as f64 / e1 - 1.0).abs() < 0.1,
            "rank 1 {} expected {e1}",
            c[3]
        );
        let r2 = (7 + 3) % n;
        let ratio = c[3] as f64 / c[r2] as f64;
        assert!((ratio - 2.0).abs() < 0.3, "rank 1 / rank 2 = {ratio}");
    }

    #[test]
    fn locality_beats_independent_zipf() {
        let n = 500;
        let len = 50_000;
        let v = stream(n, 2, len, LocalityParams::default());
        // The same references in an independent order: same popularity.
        let mut shuffled = v.clone();
        seed::shuffle(&mut rng(3, "test", 0), &mut shuffled);
        // And an independent Zipf stream with the same law.
        let z = Zipf::new(n, 1.0).unwrap();
        let mut r = rng(4, "test", 0);
        let indep: Vec<usize> = (0..len).map(|_| z.sample(&mut r)).collect();
        for w in [1, 4, 16] {
            let a = rereference_rate(&v, w);
            let b = rereference_rate(&shuffled, w);
            let c = rereference_rate(&indep, w);
            assert!(a > 1.5 * b, "window {w}: stack {a}, shuffled {b}");
            assert!(a > 1.5 * c, "window {w}: stack {a}, independent {c}");
        }
    }

    #[test]
    fn stack_distances_follow_the_lognormal() {
        // Measured LRU stack distances of the stream against D = ⌈X⌉: the
        // measured stack also holds files with no references left in the
        // epoch, which can only lengthen distances, so compare the median
        // (⌈e^1.5⌉ = 5) with some slack above.
        let n = 1000;
        let v = stream(n, 5, 30_000, LocalityParams::default());
        let mut lru: Vec<usize> = Vec::new();
        let mut d = Vec::new();
        for &f in &v {
            if let Some(pos) = lru.iter().rposition(|&x| x == f) {
                d.push((lru.len() - pos) as f64);
                lru.remove(pos);
            }
            lru.push(f);
        }
        let m = crate::stats::median(&mut d);
        assert!((4.0..=6.0).contains(&m), "median stack distance {m}");
    }

    #[test]
    fn one_file() {
        let mut s = StackStream::new(vec![0], 1.0, LocalityParams::default()).unwrap();
        let mut r = rng(1, "test", 0);
        for _ in 0..100 {
            assert_eq!(s.next_file(&mut r), 0);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn deterministic_and_in_range(seed: u64, n in 1usize..300, epoch in 0u64..2000) {
            let p = LocalityParams { epoch, ..LocalityParams::default() };
            let a = stream(n, seed, 1000, p);
            prop_assert_eq!(&a, &stream(n, seed, 1000, p));
            prop_assert!(a.iter().all(|&f| f < n));
        }
    }
}
