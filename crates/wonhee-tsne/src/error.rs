//! The error type of this crate.

/// What can go wrong fitting an embedding or scoring one.
#[derive(Debug, thiserror::Error)]
pub enum TsneError {
    /// The data slice does not hold `n * dim` values, or another slice does not match `n`.
    #[error("shape: {0}")]
    Shape(String),
    /// Too few points for the perplexity (or for the metric's `k`).
    #[error(
        "{n} points are too few for perplexity {perplexity}: need at least {need} \
         (3 * perplexity neighbours + 1); lower the perplexity"
    )]
    TooFewPoints {
        /// Number of points given.
        n: usize,
        /// The perplexity asked for.
        perplexity: f64,
        /// The least number of points that perplexity needs.
        need: usize,
    },
    /// A NaN or infinite value in the input.
    #[error("non-finite value {value} at point {point}, feature {feature}")]
    NonFinite {
        /// Row (point) index.
        point: usize,
        /// Column (feature) index.
        feature: usize,
        /// The value found.
        value: f64,
    },
    /// A parameter outside its valid range.
    #[error("invalid parameter: {0}")]
    Param(String),
}

/// `Result` with [`TsneError`].
pub type Result<T, E = TsneError> = std::result::Result<T, E>;
