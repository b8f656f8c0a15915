//! Statistics of a group of samples ([`Stats`]) and the normalized
//! efficiency of a mechanism against its baseline ([`efficiency`]).

/// Count, median, minimum and maximum of a group of values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Number of values.
    pub n: usize,
    /// The middle value; for an even count, the mean of the two middle
    /// values.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// The statistics of `values`, or `None` if there are none.
    ///
    /// Values are ordered by [`f64::total_cmp`]; they should be finite (as
    /// validated samples are). The median always lies in `[min, max]`.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let n = sorted.len();
        let hi = *sorted.get(n / 2)?;
        let median = if n % 2 == 1 {
            hi
        } else {
            let lo = *sorted.get(n / 2 - 1)?;
            mean2(lo, hi)
        };
        Some(Self {
            n,
            median,
            min,
            max,
        })
    }
}

/// The mean of `lo <= hi`, without overflow, and never outside
/// `[lo, hi]` whatever the rounding.
fn mean2(lo: f64, hi: f64) -> f64 {
    let sum = lo + hi;
    let mean = if sum.is_finite() {
        sum / 2.0
    } else {
        lo / 2.0 + hi / 2.0
    };
    if mean < lo {
        lo
    } else if mean > hi {
        hi
    } else {
        mean
    }
}

/// The normalized efficiency, in percent, of a mechanism whose median is
/// `median` against a baseline whose median is `baseline`: 100 is "as good
/// as the baseline", more is better.
///
/// That is `median / baseline` when higher values are better and
/// `baseline / median` when lower values are better (latencies). Equal
/// medians give exactly 100 (also when both are 0); a zero divisor, a
/// non-finite input or a non-finite result gives `None`.
pub fn efficiency(median: f64, baseline: f64, higher_is_better: bool) -> Option<f64> {
    if !median.is_finite() || !baseline.is_finite() {
        return None;
    }
    if median == baseline {
        return Some(100.0);
    }
    let (num, den) = if higher_is_better {
        (median, baseline)
    } else {
        (baseline, median)
    };
    if den == 0.0 {
        return None;
    }
    // `num * 100 / den` is exact more often than `num / den * 100`
    // (950 / 1000 gives 95, not 95.00000000000001), but may overflow.
    let pct = num * 100.0 / den;
    let pct = if pct.is_finite() {
        pct
    } else {
        num / den * 100.0
    };
    pct.is_finite().then_some(pct)
}

/// The node count of a param of a per-node scenario
/// ([`crate::Baselines::per_node`]): the decimal number before `_nodes`
/// at the start of the param (`3_nodes`, `4_nodes/zipf`), 1 to 1000;
/// `None` for any other param.
pub fn node_count(param: &str) -> Option<u32> {
    let digits = param.split_once("_nodes")?.0;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| (1..=1000).contains(n))
}

/// Socket Cloning's *normalized efficiency* of a cluster of `nodes`
/// nodes, in percent: the cluster's median through a mechanism over
/// `nodes` times one plain node's median (`baseline`) on the same
/// workload, as [`efficiency`] orients it (100 = the cluster does as well
/// as `nodes` independent plain servers).
pub fn per_node_efficiency(
    median: f64,
    baseline: f64,
    nodes: u32,
    higher_is_better: bool,
) -> Option<f64> {
    efficiency(median, baseline * f64::from(nodes), higher_is_better)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stats(values: &[f64]) -> Stats {
        Stats::of(values).unwrap()
    }

    #[test]
    fn empty() {
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn single_sample() {
        assert_eq!(
            stats(&[7.5]),
            Stats {
                n: 1,
                median: 7.5,
                min: 7.5,
                max: 7.5
            }
        );
    }

    #[test]
    fn odd_count() {
        assert_eq!(
            stats(&[5.0, 1.0, 9.0, 3.0, 4.0]),
            Stats {
                n: 5,
                median: 4.0,
                min: 1.0,
                max: 9.0
            }
        );
    }

    #[test]
    fn even_count_takes_the_mean_of_the_middle_two() {
        assert_eq!(
            stats(&[10.0, 1.0, 4.0, 3.0]),
            Stats {
                n: 4,
                median: 3.5,
                min: 1.0,
                max: 10.0
            }
        );
        assert_eq!(stats(&[2.0, 1.0]).median, 1.5);
        assert_eq!(stats(&[2.0, 2.0]).median, 2.0);
    }

    #[test]
    fn no_overflow_at_the_extremes() {
        let s = stats(&[f64::MAX, f64::MAX]);
        assert_eq!(s.median, f64::MAX);
        let tiny = f64::from_bits(1); // smallest subnormal
        assert_eq!(stats(&[tiny, tiny]).median, tiny);
        assert_eq!(stats(&[0.0, tiny]).median, 0.0);
    }

    #[test]
    fn node_counts() {
        assert_eq!(node_count("3_nodes"), Some(3));
        assert_eq!(node_count("12_nodes/zipf"), Some(12));
        assert_eq!(node_count("1_nodes"), Some(1));
        assert_eq!(node_count("0_nodes"), None);
        assert_eq!(node_count("1001_nodes"), None);
        assert_eq!(node_count("_nodes"), None);
        assert_eq!(node_count("x3_nodes"), None);
        assert_eq!(node_count("-3_nodes"), None);
        assert_eq!(node_count("3 nodes"), None);
        assert_eq!(node_count("zipf"), None);
    }

    #[test]
    fn per_node_efficiency_math() {
        // 3 nodes at 300 req/s against one plain node at 100: 100 %.
        assert_eq!(per_node_efficiency(300.0, 100.0, 3, true), Some(100.0));
        // 2 nodes at 150 against 100 each: 75 %.
        assert_eq!(per_node_efficiency(150.0, 100.0, 2, true), Some(75.0));
        // Super-linear (the cluster caches the set, one node does not).
        assert_eq!(per_node_efficiency(500.0, 100.0, 4, true), Some(125.0));
        // One node: the plain efficiency.
        assert_eq!(
            per_node_efficiency(42.0, 84.0, 1, true),
            efficiency(42.0, 84.0, true)
        );
        assert_eq!(per_node_efficiency(1.0, 0.0, 3, true), None);
        assert_eq!(per_node_efficiency(f64::NAN, 1.0, 3, true), None);
    }

    #[test]
    fn efficiency_math() {
        assert_eq!(efficiency(50.0, 100.0, true), Some(50.0));
        assert_eq!(efficiency(150.0, 100.0, true), Some(150.0));
        // Lower is better: half the latency is twice as good.
        assert_eq!(efficiency(5.0, 10.0, false), Some(200.0));
        assert_eq!(efficiency(20.0, 10.0, false), Some(50.0));
        assert_eq!(efficiency(3.0, 3.0, true), Some(100.0));
        assert_eq!(efficiency(0.0, 0.0, true), Some(100.0));
        assert_eq!(efficiency(0.0, 0.0, false), Some(100.0));
        assert_eq!(efficiency(1.0, 0.0, true), None);
        assert_eq!(efficiency(0.0, 1.0, true), Some(0.0));
        assert_eq!(efficiency(0.0, 1.0, false), None);
        assert_eq!(efficiency(f64::NAN, 1.0, true), None);
        assert_eq!(efficiency(f64::MAX, f64::MIN_POSITIVE, true), None);
    }

    proptest! {
        #[test]
        fn median_lies_within_min_and_max(
            values in prop::collection::vec(prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL
                | prop::num::f64::ZERO, 1..40)
        ) {
            let s = stats(&values);
            prop_assert_eq!(s.n, values.len());
            prop_assert!(s.min <= s.median && s.median <= s.max, "{:?}", s);
            prop_assert!(values.iter().all(|&v| s.min <= v && v <= s.max));
            prop_assert!(values.contains(&s.min) && values.contains(&s.max));
        }

        #[test]
        fn baseline_against_itself_is_100_percent(
            v in 0.0..f64::MAX, higher in any::<bool>()
        ) {
            prop_assert_eq!(efficiency(v, v, higher), Some(100.0));
        }

        #[test]
        fn n_plain_nodes_are_100_percent(
            b in 0.0..1e12, n in 1u32..=1000, higher in any::<bool>()
        ) {
            prop_assert_eq!(per_node_efficiency(b * f64::from(n), b, n, higher), Some(100.0));
        }

        #[test]
        fn per_node_is_efficiency_over_n(b in 1e-3..1e9, m in 0.0..1e9, n in 1u32..=1000) {
            let whole = per_node_efficiency(m, b, n, true).unwrap();
            let per = efficiency(m / f64::from(n), b, true).unwrap();
            prop_assert!((whole - per).abs() <= 1e-9 * per.max(1.0), "{} {}", whole, per);
        }

        #[test]
        fn efficiency_is_never_negative_or_infinite(
            a in 0.0..f64::MAX, b in 0.0..f64::MAX, higher in any::<bool>()
        ) {
            if let Some(e) = efficiency(a, b, higher) {
                prop_assert!(e.is_finite() && e >= 0.0);
            }
        }
    }
}
