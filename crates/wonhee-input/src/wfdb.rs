//! WFDB records through `wonhee-wfdb`.

use std::path::Path;

use rayon::prelude::*;
use wonhee_wfdb::Record;

use crate::Lead;
use crate::error::InputError;

/// Reads every signal of the record at `path` (`dir/100`, `dir/100.hea` or `dir/100.dat`) in
/// physical units, each at its own rate (a signal with several samples per frame is at the
/// frame rate times that number); an empty signal description becomes the signal's 0-based
/// index.
pub(crate) fn read(path: &Path) -> Result<Vec<Lead>, InputError> {
    let record_path = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dat"))
    {
        path.with_extension("")
    } else {
        path.to_path_buf()
    };
    let record = Record::open(&record_path)?;
    let signals = record.read_signals()?;
    Ok(signals
        .specs()
        .par_iter()
        .enumerate()
        .map(|(i, spec)| Lead {
            name: if spec.description.is_empty() {
                i.to_string()
            } else {
                spec.description.clone()
            },
            unit: spec.units.clone(),
            fs: signals.fs_of(i),
            samples: signals.physical_f32(i),
        })
        .collect())
}
