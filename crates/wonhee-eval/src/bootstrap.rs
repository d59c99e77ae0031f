//! Seeded, thread-count-independent percentile bootstrap over units (windows or groups).
//!
//! Every statistic in this crate is a function of *sums over units* (confusion counts, sums of
//! squared errors, ...). A resample is therefore a vector of multiplicities, one per unit, and
//! its statistics are computed from the weighted sums: no window is ever re-scanned.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{EvalError, Result};

/// Bootstrap settings: `resamples` resamples (0 = no intervals), RNG `seed`, two-sided `level`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Number of resamples; 0 turns intervals off (`lo`/`hi` are `null`).
    pub resamples: usize,
    /// Seed of the resampling streams.
    pub seed: u64,
    /// Coverage of the percentile interval, in (0, 1).
    pub level: f64,
}

impl Default for Bootstrap {
    /// 1000 resamples, seed 0, 95% intervals.
    fn default() -> Self {
        Self {
            resamples: 1000,
            seed: 0,
            level: 0.95,
        }
    }
}

impl Bootstrap {
    /// `resamples` resamples with the given seed, 95% intervals.
    pub fn new(resamples: usize, seed: u64) -> Self {
        Self {
            resamples,
            seed,
            level: 0.95,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(EvalError::InvalidParameter(format!(
                "bootstrap level must be in (0, 1), got {}",
                self.level
            )));
        }
        Ok(())
    }
}

/// What a bootstrap resample draws with replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Single windows (beats), independently.
    Window,
    /// Whole groups (e.g. records): a cluster bootstrap.
    Group,
}

/// How the intervals of a report section were obtained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapInfo {
    /// Resampling unit.
    pub unit: Unit,
    /// Number of resamples (0 = no intervals).
    pub resamples: usize,
    /// Seed.
    pub seed: u64,
    /// Interval coverage.
    pub level: f64,
    /// Number of units in the sample (windows or distinct groups).
    pub n_units: u64,
}

/// A point estimate with its bootstrap interval; `None` where undefined or not computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Estimate on the full sample; `None` when undefined (zero denominator).
    pub value: Option<f64>,
    /// Lower interval bound; `None` without resamples or when no resample defines the statistic.
    pub lo: Option<f64>,
    /// Upper interval bound; same rules as `lo`.
    pub hi: Option<f64>,
}

impl Estimate {
    pub(crate) fn new(value: Option<f64>, interval: Option<(f64, f64)>) -> Self {
        Self {
            value,
            lo: interval.map(|i| i.0),
            hi: interval.map(|i| i.1),
        }
    }
}

/// Units as rows of `dim` sums; `weights[i]` = how many times unit `i` occurs in the sample
/// (`None` = once each). Window bootstraps with few distinct rows (confusion cells) pass weights
/// so a resample costs O(rows) binomial draws instead of O(windows) uniform ones.
pub(crate) struct Units<'a> {
    pub rows: &'a [f64],
    pub dim: usize,
    pub weights: Option<&'a [u64]>,
}

impl Units<'_> {
    fn len(&self) -> usize {
        self.rows.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Sum of all rows, weighted: the full-sample statistics' input.
    pub fn total(&self) -> Vec<f64> {
        let mut acc = vec![0.0; self.dim];
        for i in 0..self.len() {
            let w = self.weights.map_or(1.0, |w| w[i] as f64);
            add_scaled(&mut acc, &self.rows[i * self.dim..(i + 1) * self.dim], w);
        }
        acc
    }

    /// The weighted sums of one resample drawn from `rng`.
    fn resample(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let mut acc = vec![0.0; self.dim];
        let n = self.len();
        match self.weights {
            None => {
                for _ in 0..n {
                    let i = rng.random_range(0..n);
                    add_scaled(&mut acc, &self.rows[i * self.dim..(i + 1) * self.dim], 1.0);
                }
            }
            Some(w) => {
                // Multinomial(n_sample, w / n_sample) as a chain of conditional binomials.
                let mut left_draws: u64 = w.iter().sum();
                let mut left_weight = left_draws;
                for (i, &wi) in w.iter().enumerate() {
                    if left_draws == 0 {
                        break;
                    }
                    if wi == 0 {
                        continue;
                    }
                    let x = if wi >= left_weight {
                        left_draws
                    } else {
                        let p = wi as f64 / left_weight as f64;
                        Binomial::new(left_draws, p).map_or(0, |b| b.sample(rng))
                    };
                    left_draws -= x;
                    left_weight -= wi;
                    if x > 0 {
                        add_scaled(
                            &mut acc,
                            &self.rows[i * self.dim..(i + 1) * self.dim],
                            x as f64,
                        );
                    }
                }
            }
        }
        acc
    }
}

fn add_scaled(acc: &mut [f64], row: &[f64], w: f64) {
    for (a, r) in acc.iter_mut().zip(row) {
        *a += w * r;
    }
}

/// Percentile intervals of the `n_stats` statistics that `stat` computes from summed rows.
/// Undefined values (`None`, non-finite) of a resample are left out of that statistic's
/// interval; a statistic that no resample defines gets `None`.
pub(crate) fn intervals<F>(
    boot: &Bootstrap,
    units: &Units<'_>,
    n_stats: usize,
    stat: F,
) -> Vec<Option<(f64, f64)>>
where
    F: Fn(&[f64]) -> Vec<Option<f64>> + Sync,
{
    if boot.resamples == 0 || units.len() == 0 || n_stats == 0 {
        return vec![None; n_stats];
    }
    let draws: Vec<Vec<Option<f64>>> = (0..boot.resamples)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(boot.seed);
            rng.set_stream(b as u64);
            stat(&units.resample(&mut rng))
        })
        .collect();
    let alpha = 1.0 - boot.level;
    (0..n_stats)
        .map(|s| {
            let mut v: Vec<f64> = draws
                .iter()
                .filter_map(|d| d.get(s).copied().flatten())
                .filter(|x| x.is_finite())
                .collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            Some((quantile(&v, alpha / 2.0), quantile(&v, 1.0 - alpha / 2.0)))
        })
        .collect()
}

/// Quantile of sorted data with linear interpolation between order statistics (numpy's
/// default, Hyndman-Fan type 7).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Dense indices `0..n_groups` for arbitrary group ids, in increasing id order.
pub(crate) fn dense_groups(groups: &[u32]) -> (Vec<usize>, usize) {
    let mut ids: Vec<u32> = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let dense = groups
        .iter()
        .map(|g| ids.binary_search(g).unwrap_or(0))
        .collect();
    (dense, ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-15);
        // np.quantile([1,2,3,4], 0.025) = 1.075
        assert!((quantile(&v, 0.025) - 1.075).abs() < 1e-12);
    }

    #[test]
    fn weighted_resample_keeps_the_sample_size() {
        let rows = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let w = [5u64, 0, 995];
        let units = Units {
            rows: &rows,
            dim: 3,
            weights: Some(&w),
        };
        for b in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            rng.set_stream(b);
            let s = units.resample(&mut rng);
            assert_eq!(s.iter().sum::<f64>(), 1000.0);
            assert_eq!(s[1], 0.0, "a unit of weight 0 is never drawn");
        }
    }

    #[test]
    fn weighted_and_unweighted_resampling_agree_in_distribution() {
        // 1 unit with weight 3 and 1 with weight 1, versus 4 unweighted units: mean share of
        // the first must be 0.75 in both.
        let rows_w = [1.0, 0.0, 0.0, 1.0];
        let w = [3u64, 1];
        let uw = Units {
            rows: &rows_w,
            dim: 2,
            weights: Some(&w),
        };
        let rows_u = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let uu = Units {
            rows: &rows_u,
            dim: 2,
            weights: None,
        };
        let (mut a, mut b) = (0.0, 0.0);
        let n = 4000;
        for s in 0..n {
            let mut r = ChaCha8Rng::seed_from_u64(11);
            r.set_stream(s);
            a += uw.resample(&mut r)[0];
            b += uu.resample(&mut r)[0];
        }
        let (a, b) = (a / n as f64 / 4.0, b / n as f64 / 4.0);
        assert!((a - 0.75).abs() < 0.01, "{a}");
        assert!((b - 0.75).abs() < 0.01, "{b}");
    }

    #[test]
    fn bad_level_is_rejected() {
        let b = Bootstrap {
            level: 1.0,
            ..Bootstrap::default()
        };
        assert!(b.validate().is_err());
        assert!(Bootstrap::default().validate().is_ok());
    }
}
