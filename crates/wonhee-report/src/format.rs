//! How the report writes numbers: percentages, significant digits, bootstrap intervals.

use wonhee_eval::Estimate;

/// Percentage with 2 decimals.
pub fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// `94.80% (94.10–95.30)`, `–` when undefined.
pub fn pct_ci(e: &Estimate) -> String {
    match (e.value, e.lo, e.hi) {
        (None, ..) => "–".into(),
        (Some(v), Some(lo), Some(hi)) => {
            format!("{} ({:.2}–{:.2})", pct(v), 100.0 * lo, 100.0 * hi)
        }
        (Some(v), ..) => pct(v),
    }
}

/// A number with 4 significant digits (fixed notation).
pub fn sig4(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = (3 - mag).clamp(0, 8) as usize;
    format!("{x:.decimals$}")
}

/// `0.1234 (0.1200–0.1300)`, `–` when undefined.
pub fn num_ci(e: &Estimate) -> String {
    match (e.value, e.lo, e.hi) {
        (None, ..) => "–".into(),
        (Some(v), Some(lo), Some(hi)) => format!("{} ({}–{})", sig4(v), sig4(lo), sig4(hi)),
        (Some(v), ..) => sig4(v),
    }
}

/// `f(v)`, or `–` when there is no value.
pub(crate) fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".to_string(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(sig4(0.123456), "0.1235");
        assert_eq!(pct(0.948), "94.80%");
        let e = Estimate {
            value: Some(0.5),
            lo: Some(0.25),
            hi: Some(0.75),
        };
        assert_eq!(pct_ci(&e), "50.00% (25.00–75.00)");
        assert_eq!(num_ci(&e), "0.5000 (0.2500–0.7500)");
    }
}
