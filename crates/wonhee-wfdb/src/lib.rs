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
//!   headers' segment lines ([`Header::segments`], [`Header::layout`]);
//! - multi-segment records read as one record, as wfdb-python's `rdrecord` reads them
//!   (checked sample for sample on the fixtures in `fixtures/wfdb/multiseg`): fixed layouts
//!   concatenated; variable layouts (a layout header naming every signal, then segments
//!   holding some of them in any order) matched by signal description; null segments (`~`)
//!   and signals a segment lacks read as the invalid value (NaN). [`Record::read_segmented`]
//!   keeps each segment's own header line ([`SegmentedSignals`]: digital samples as stored,
//!   physical values with each segment's gain and baseline); [`Record::read_signals`] and
//!   [`Record::read_selected`] return them as [`Signals`] when the segments agree on each
//!   signal's format, gain, baseline and units, and refuse them otherwise (wfdb-python refuses
//!   the digital read of such a variable-layout record; of a fixed-layout one it returns the
//!   stored values with the first segment's gain). Beyond wfdb-python 4.3.1, which fails on
//!   them, null segments of fixed layouts are read too. Each segment's length is checked
//!   against the master header and its files, and segments and layouts that disagree on
//!   samples per frame, sampling frequency or signal count are refused, naming the file;
//! - signal formats 8, 16, 24, 32, 61, 80, 160, 212, 310 and 311 ([`Format`]), read from one
//!   whole-file read per signal file, decoded without per-sample allocation; the invalid-sample
//!   marker becomes NaN in physical units;
//! - the FLAC-compressed formats 508, 516 and 524 ([`Format::FLAC`]; read only), as
//!   wfdb-python 4.3.1 reads them (checked sample for sample on the `flac*` fixtures): a signal
//!   file is one FLAC stream whose channels are the file's signals in order (as many channels
//!   as signals, at most 8), of samples of at most 8, 16 or 24 bits (a narrower stream is read
//!   as it is: an 8-bit stream in format 524 is fine, a 16-bit one in format 508 an error);
//!   all signals of the file have the same samples per frame, the stream holding each
//!   signal's samples at its own rate; the byte offset field counts samples per channel to
//!   skip at the stream's start; the invalid values are -128, -32768 and -8388608. Skew is
//!   refused ([`WfdbError::Unsupported`]; wfdb-python 4.3.1 fails on it). A header without a
//!   length takes it from the stream's STREAMINFO total (less the offset, over the samples
//!   per frame), else from the samples the stream holds; wfdb-python divides by zero there.
//!   A corrupt stream is [`WfdbError::Flac`] (with the sample where decoding stopped), a stream
//!   cut short or shorter than the header's length [`WfdbError::Truncated`]. Decoded with
//!   [`claxon`](https://docs.rs/claxon) 0.4: pure Rust, no dependencies (a few seconds to
//!   build), Apache-2.0, decodes 8-, 16- and 24-bit streams of 1 to 8 channels, fuzzed and
//!   checked against libFLAC by its author; stable since 2020 rather than actively developed,
//!   which suits a finished format. symphonia (with only its `flac` feature) is maintained more
//!   actively but is MPL-2.0, not a permissive licence, and builds several crates;
//! - the `format[xspf][:skew][+offset]` field whole, read as wfdb-python's `rdrecord` reads
//!   it (checked sample for sample against it on the fixtures in `fixtures/wfdb`): a signal
//!   with several samples per frame is held at its own rate ([`Signals::fs_of`]), or at the
//!   frame rate after [`Signals::smooth_frames`] (`smooth_frames=True`: the mean of each
//!   frame, truncated); a skewed signal (`:skew`) is read from the later frames: its sample
//!   `m` is stored in frame `m / spf + skew`, so its last `skew * spf` samples lie past the
//!   file's end (the header's length). Of those, the last `skew` (samples, not frames) are the
//!   invalid value; the others, which only a signal with several samples per frame has, hold
//!   zero bytes decoded in the format (0; -128 in format 80, -32768 in format 160), as
//!   wfdb-python reads them. Format 8 with skew, on which wfdb-python 4.3.1 raises a
//!   `TypeError`, is read the same way: zero differences past the end (the last stored value
//!   repeated), the last `skew` samples `i32::MIN`. Byte offsets are read with both;
//! - [`Record::view`] reads by position every file in all formats but 8 (first differences,
//!   not random access) and the FLAC formats (compressed) whose signals have one sample per
//!   frame and no skew, and refuses the others as [`WfdbError::Unsupported`], naming the file,
//!   and multi-segment records;
//! - checksums are verified over each signal's stored samples (a mismatch is a
//!   `tracing::warn!`, the samples are returned as stored); initial values are used by format
//!   8 only, as in wfdb-python;
//! - MIT annotation files ([`Annotations`]) with every pseudo-annotation (SKIP, NUM, SUB, CHN,
//!   AUX) folded as wfdb-python's `rdann` does; aux notes lose their trailing NUL;
//! - writers for records in formats 8, 16, 80, 212, 310 and 311 and for annotation files
//!   ([`write`](mod@write)), atomic.
//!
//! Every error ([`WfdbError`]) names the file and the line or byte offset. No input makes this
//! crate panic or allocate more than a small multiple of the files' own size: a header's
//! claimed length and samples per frame are checked against the signal file before anything
//! is allocated, a skew however large costs at most one record length of padding, and a
//! signal file or segment name that would leave the record's folder is refused. Stretches of a
//! multi-segment record that no file backs (null segments, missing signals) are filled in up to
//! 2^24 samples or 64 times the samples read from files, whichever is more; a header claiming
//! more is an error. A FLAC file is decoded frame by frame into vectors that grow with what the
//! stream yields (never sized from a claim), up to 2^24 samples or 1024 per byte of the file,
//! whichever is more (FLAC compresses constant stretches to a few bytes per frame).
//!
//! Why not the `wfdb` crate: version 0.1.6 parses headers and format-212 samples exactly (this
//! crate's tests use it as an independent oracle on all 48 MIT-BIH records), but it has no
//! annotation reader and no writer, reads about ten times slower than wfdb-python (one
//! allocation per frame, one seek per sample in its single-signal reader), returns short data
//! from a truncated signal file without an error, and aborts the process when a header claims a
//! huge length (it reserves the memory up front).

mod annotation;
mod error;
mod flac;
mod format;
mod header;
mod multiseg;
mod record;
mod view;
pub mod write;

pub use annotation::{Annotation, Annotations, CustomLabel, MAX_CODE, code_symbol, symbol_code};
pub use error::{Result, WfdbError};
pub use header::{DEFAULT_FS, DEFAULT_GAIN, Format, Header, Layout, Segment, SignalSpec};
pub use multiseg::SegmentedSignals;
pub use record::{ReadBuffers, Record, Signals, split_record_path};
pub use view::SignalView;
