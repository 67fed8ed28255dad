//! Sample preparation before the comparison: NaN handling and IQR outlier removal (Kayenta's
//! `Transforms.removeNaNs` / `replaceNaNs` / `removeOutliers` with its `IQRDetector`).

use serde::{Deserialize, Serialize};

use super::config::{NanStrategy, OutlierConfig, OutlierStrategy};

/// What preparation did to one sample, and its summary statistics afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSummary {
    /// Values received.
    pub received: usize,
    /// NaN values removed or replaced by 0.
    pub nan: usize,
    /// Values removed as outliers.
    pub outliers_removed: usize,
    /// Values compared.
    pub count: usize,
    /// Mean of the compared values (`None` when there are none).
    pub mean: Option<f64>,
    /// Median of the compared values.
    pub median: Option<f64>,
    /// Smallest compared value.
    pub min: Option<f64>,
    /// Largest compared value.
    pub max: Option<f64>,
}

/// A prepared sample: sorted ascending, NaN-free.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) values: Vec<f64>,
    pub(crate) summary: SampleSummary,
}

/// Applies the NaN strategy, then outlier removal, and sorts. Infinite values are left in place
/// (the caller reports them).
pub(crate) fn prepare(raw: &[f64], nan: NanStrategy, outliers: OutlierConfig) -> Prepared {
    let nan_count = raw.iter().filter(|v| v.is_nan()).count();
    let mut values: Vec<f64> = match nan {
        NanStrategy::Remove => raw.iter().copied().filter(|v| !v.is_nan()).collect(),
        NanStrategy::Replace => raw
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { v })
            .collect(),
    };
    values.sort_unstable_by(f64::total_cmp);
    let before = values.len();
    if outliers.strategy == OutlierStrategy::Remove && !values.is_empty() {
        let (lower, upper) = iqr_fences(&values, outliers.factor);
        values.retain(|&v| !(v > upper || v < lower));
    }
    let summary = SampleSummary {
        received: raw.len(),
        nan: nan_count,
        outliers_removed: before - values.len(),
        count: values.len(),
        mean: mean(&values),
        median: (!values.is_empty()).then(|| percentile_r7(&values, 50.0)),
        min: values.first().copied(),
        max: values.last().copied(),
    };
    Prepared { values, summary }
}

/// Arithmetic mean with one correction pass (as Apache Commons Math's `Mean`, which Kayenta uses,
/// and R's `mean`), `None` for an empty slice.
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let first = values.iter().sum::<f64>() / n;
    let correction = values.iter().map(|v| v - first).sum::<f64>();
    Some(first + correction / n)
}

/// Kayenta's `IQRDetector(factor, reduceSensitivity = true)` fences: values strictly outside
/// `[min(P1, Q1 - f·IQR), max(P99, Q3 + f·IQR)]` are outliers. `sorted` must be non-empty.
pub(crate) fn iqr_fences(sorted: &[f64], factor: f64) -> (f64, f64) {
    let p25 = percentile_r7(sorted, 25.0);
    let p75 = percentile_r7(sorted, 75.0);
    let iqr = p75 - p25;
    let lower_iqr = p25 - factor * iqr;
    let upper_iqr = p75 + factor * iqr;
    let p01 = percentile_r7(sorted, 1.0);
    let p99 = percentile_r7(sorted, 99.0);
    (p01.min(lower_iqr), p99.max(upper_iqr))
}

/// Percentile `p` (0–100) of a non-empty ascending slice by Hyndman & Fan's definition 7 (R's
/// default `quantile(type = 7)`, Apache Commons Math `EstimationType.R_7`).
pub(crate) fn percentile_r7(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = (n - 1) as f64 * p / 100.0;
    let lo = h.floor();
    let i = lo as usize;
    if i + 1 >= n {
        return sorted[n - 1];
    }
    sorted[i] + (h - lo) * (sorted[i + 1] - sorted[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r7_percentiles_match_r_quantile_type_7() {
        // R: quantile(c(1, 2, 3, 4, 10), c(.01, .25, .5, .75, .99), type = 7)
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(percentile_r7(&v, 1.0), 1.04);
        assert_eq!(percentile_r7(&v, 25.0), 2.0);
        assert_eq!(percentile_r7(&v, 50.0), 3.0);
        assert_eq!(percentile_r7(&v, 75.0), 4.0);
        assert!((percentile_r7(&v, 99.0) - 9.76).abs() < 1e-12);
        assert_eq!(percentile_r7(&[7.0], 30.0), 7.0);
    }

    #[test]
    fn nan_values_are_removed_or_replaced_by_zero() {
        let raw = [1.0, f64::NAN, 3.0];
        let removed = prepare(&raw, NanStrategy::Remove, OutlierConfig::default());
        assert_eq!(removed.values, vec![1.0, 3.0]);
        assert_eq!(removed.summary.nan, 1);
        let replaced = prepare(&raw, NanStrategy::Replace, OutlierConfig::default());
        assert_eq!(replaced.values, vec![0.0, 1.0, 3.0]);
    }

    #[test]
    fn iqr_outlier_removal_drops_values_beyond_the_fences_only() {
        let mut raw: Vec<f64> = (1..=100).map(f64::from).collect();
        raw.push(1000.0);
        let cfg = OutlierConfig {
            strategy: OutlierStrategy::Remove,
            factor: 3.0,
        };
        let p = prepare(&raw, NanStrategy::Remove, cfg);
        assert_eq!(p.summary.outliers_removed, 1);
        assert_eq!(p.values.last(), Some(&100.0));
        // With the default (keep) nothing is removed.
        let kept = prepare(&raw, NanStrategy::Remove, OutlierConfig::default());
        assert_eq!(kept.values.len(), 101);
    }
}
