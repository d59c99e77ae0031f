//! Exact, panic-free reading and writing of PhysioNet WFDB records.
//!
//! ```no_run
//! use wonhee_wfdb::{Annotations, Record};
//!
//! # fn main() -> Result<(), wonhee_wfdb::WfdbError> {
//! let record = Record::open("../shared/data/mitdb/100")?;
//! let mlii = record.header().signal_index("MLII").unwrap_or(0);
//! let signals = record.read_selected(&[mlii])?;
//! let mv: Vec<f32> = signals.physical_f32(0); // (d - baseline) / gain, NaN where invalid
//! let atr = Annotations::open("../shared/data/mitdb/100", "atr")?;
//! println!("{} samples, {} annotations", mv.len(), atr.len());
//! # Ok(()) }
//! ```
//!
//! What it covers:
//! - headers ([`Header`]): record line, signal lines, comments, LF or CRLF; multi-segment
//!   records are reported as unsupported;
//! - signal formats 8, 16, 24, 32, 61, 80, 160, 212, 310 and 311 ([`Format`]), read from one
//!   whole-file read per signal file, decoded without per-sample allocation; the invalid-sample
//!   marker becomes NaN in physical units; [`Record::view`] reads all but format 8 (first
//!   differences, not random access) by position;
//! - MIT annotation files ([`Annotations`]) with every pseudo-annotation (SKIP, NUM, SUB, CHN,
//!   AUX) folded as wfdb-python's `rdann` does; aux notes lose their trailing NUL;
//! - writers for records in formats 8, 16, 80, 212, 310 and 311 and for annotation files
//!   ([`write`]), atomic.
//!
//! Every error ([`WfdbError`]) names the file and the line or byte offset. No input makes this
//! crate panic or allocate more than the files' own size: a header's claimed length is checked
//! against the signal file before anything is allocated, and a signal file name that would
//! leave the record's folder is refused.
//!
//! Why not the `wfdb` crate: version 0.1.6 parses headers and format-212 samples exactly (this
//! crate's tests use it as an independent oracle on all 48 MIT-BIH records), but it has no
//! annotation reader and no writer, reads about ten times slower than wfdb-python (one
//! allocation per frame, one seek per sample in its single-signal reader), returns short data
//! from a truncated signal file without an error, and aborts the process when a header claims a
//! huge length (it reserves the memory up front).

mod annotation;
mod error;
mod format;
mod header;
mod record;
mod view;
pub mod write;

pub use annotation::{Annotation, Annotations, CustomLabel, MAX_CODE, code_symbol, symbol_code};
pub use error::{Result, WfdbError};
pub use header::{DEFAULT_FS, DEFAULT_GAIN, Format, Header, SignalSpec};
pub use record::{ReadBuffers, Record, Signals, split_record_path};
pub use view::SignalView;
