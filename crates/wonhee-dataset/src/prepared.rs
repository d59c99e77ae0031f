//! A prepared dataset in memory: the beat-window index and what [`crate::write_dataset`]
//! stores.

use wonhee_schema::{PrepareConfig, Side, Summary};

use crate::rhythm::RrIntervals;

/// The beat-window index: one row per kept beat, in record then time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BeatTable {
    /// Index of the beat's record in [`Prepared::records`].
    pub record: Vec<u16>,
    /// Window centre, in samples at the target rate.
    pub centre: Vec<i64>,
    /// Beat's annotation sample at the record's own rate.
    pub sample: Vec<i64>,
    /// Annotation code (see `wonhee_wfdb::code_symbol`).
    pub code: Vec<u8>,
    /// Class index.
    pub label: Vec<u8>,
    /// Split side.
    pub side: Vec<Side>,
    /// RR intervals around the beat (from all beats of its record).
    pub rr: Vec<RrIntervals>,
}

impl BeatTable {
    /// An empty table with room for `n` beats.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            record: Vec::with_capacity(n),
            centre: Vec::with_capacity(n),
            sample: Vec::with_capacity(n),
            code: Vec::with_capacity(n),
            label: Vec::with_capacity(n),
            side: Vec::with_capacity(n),
            rr: Vec::with_capacity(n),
        }
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.centre.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.centre.is_empty()
    }
}

/// A prepared dataset in memory (what [`crate::write_dataset`] stores).
pub struct Prepared {
    /// Configuration used.
    pub config: PrepareConfig,
    /// Record names, aligned with `signals`.
    pub records: Vec<String>,
    /// Per-record z-scored, resampled lead (f32 at the target rate).
    pub signals: Vec<Vec<f32>>,
    /// Per-record second lead, processed the same way (empty unless prepared with
    /// `second_lead`).
    pub signals2: Vec<Vec<f32>>,
    /// Beat windows.
    pub beats: BeatTable,
    /// Counts, splits, scaler, overlap, checksums.
    pub summary: Summary,
}
