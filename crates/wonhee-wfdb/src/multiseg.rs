//! Multi-segment records read as one record, as wfdb-python's `rdrecord` reads them.
//!
//! A multi-segment header lists segments, each an ordinary record in the same folder, or `~`
//! (a null segment: no stored samples). In a fixed layout every segment holds the record's
//! signals in the same order. In a variable layout the first segment (length 0) is a layout
//! header whose signal lines (null files `~`) name every signal of the record; each later
//! segment holds some of them, in any order, matched by description (the first signal of the
//! segment with that description). Samples of null segments, and of signals a segment lacks,
//! are invalid: NaN in physical units, and in digital units the invalid value of the signal's
//! format.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Result, WfdbError};
use crate::header::{Header, Layout, Segment, SignalSpec, check_file_name};
use crate::record::{ReadBuffers, Record, Signals};

/// Samples of a multi-segment record's stretches read from no file (null segments, signals a
/// segment lacks) may not exceed this many, or [`FILLER_FACTOR`] times the samples read from
/// files where that is more: a header cannot make the reader allocate without bound.
pub(crate) const FILLER_MIN: u64 = 1 << 24;
/// See [`FILLER_MIN`].
pub(crate) const FILLER_FACTOR: u64 = 64;

/// Samples of selected signals of a multi-segment record, each segment keeping its own
/// header line: its digital samples are concatenated as stored, and converted to physical
/// units with the gain and baseline of the segment they come from (as wfdb-python's
/// `rdrecord(physical=True)` does).
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentedSignals {
    /// Digital samples of the whole record; the specs are the reference of each signal
    /// (see [`SegmentedSignals::specs`]).
    signals: Signals,
    pieces: Vec<Piece>,
    header_path: PathBuf,
}

/// One data segment of the read.
#[derive(Clone, Debug, PartialEq)]
struct Piece {
    name: String,
    /// First frame and number of frames.
    start: usize,
    len: usize,
    /// Per held signal, its header line in the segment; `None` where the segment is null or
    /// lacks the signal.
    specs: Vec<Option<SignalSpec>>,
}

impl SegmentedSignals {
    /// Number of signals held.
    pub fn n_signals(&self) -> usize {
        self.signals.n_signals()
    }

    /// Number of frames of the whole record.
    pub fn n_frames(&self) -> usize {
        self.signals.n_frames()
    }

    /// Frame frequency (Hz).
    pub fn fs(&self) -> f64 {
        self.signals.fs()
    }

    /// Samples of held signal `i` (frames times its samples per frame).
    pub fn len_of(&self, i: usize) -> usize {
        self.signals.len_of(i)
    }

    /// The reference header line of each held signal: in a variable layout that of the first
    /// segment holding the signal (the layout header's where none does), in a fixed layout
    /// that of the first non-null segment, as wfdb-python picks them. Its format gives the
    /// digital value of invalid stretches.
    pub fn specs(&self) -> &[SignalSpec] {
        self.signals.specs()
    }

    /// Digital samples of held signal `i`, every segment as stored (wfdb-python's
    /// `rdrecord(physical=False)` in a fixed layout); null segments and segments lacking the
    /// signal hold the invalid value of [`SegmentedSignals::specs`]`[i]`'s format.
    pub fn digital(&self, i: usize) -> &[i32] {
        self.signals.digital(i)
    }

    /// All digital channels.
    pub fn into_digital(self) -> Vec<Vec<i32>> {
        self.signals.into_digital()
    }

    /// The data segments (the layout segment left out): name (`~` for null ones) and frames.
    pub fn segments(&self) -> impl Iterator<Item = (&str, Range<usize>)> + '_ {
        self.pieces
            .iter()
            .map(|p| (p.name.as_str(), p.start..p.start + p.len))
    }

    /// Header line of held signal `i` in data segment `seg`; `None` where that segment is
    /// null or lacks the signal.
    pub fn segment_spec(&self, seg: usize, i: usize) -> Option<&SignalSpec> {
        self.pieces.get(seg)?.specs.get(i)?.as_ref()
    }

    /// Physical values of held signal `i`, each segment converted with its own gain and
    /// baseline; NaN for invalid samples, null segments and segments lacking the signal.
    pub fn physical_f64(&self, i: usize) -> Vec<f64> {
        let d = self.signals.digital(i);
        let spf = self.signals.specs()[i].samples_per_frame as usize;
        let mut out = Vec::with_capacity(d.len());
        for p in &self.pieces {
            let stretch = d
                .get(p.start * spf..(p.start + p.len) * spf)
                .unwrap_or_default();
            match &p.specs[i] {
                Some(s) => out.extend(stretch.iter().map(|&v| s.to_physical(v))),
                None => out.extend(std::iter::repeat_n(f64::NAN, stretch.len())),
            }
        }
        out
    }

    /// Physical values as f32 (computed in f64, then rounded once).
    pub fn physical_f32(&self, i: usize) -> Vec<f32> {
        self.physical_f64(i).into_iter().map(|v| v as f32).collect()
    }

    /// Every signal at the frame rate (the mean of each frame, truncated), as
    /// [`Signals::smooth_frames`] and wfdb-python's `smooth_frames=True` read (frames never
    /// straddle segments).
    pub fn smooth_frames(mut self) -> Self {
        self.signals = self.signals.smooth_frames();
        for p in &mut self.pieces {
            for s in p.specs.iter_mut().flatten() {
                s.samples_per_frame = 1;
            }
        }
        self
    }

    /// Whether every segment stores each held signal with the format, gain, baseline and units
    /// of its reference ([`SegmentedSignals::specs`]), so that one conversion fits all.
    pub fn is_uniform(&self) -> bool {
        self.first_mismatch().is_none()
    }

    fn first_mismatch(&self) -> Option<(usize, &Piece, &SignalSpec)> {
        let refs = self.signals.specs();
        for p in &self.pieces {
            for (i, (s, r)) in p.specs.iter().zip(refs).enumerate() {
                if let Some(s) = s
                    && (s.format != r.format
                        || s.gain != r.gain
                        || s.baseline != r.baseline
                        || s.units != r.units)
                {
                    return Some((i, p, s));
                }
            }
        }
        None
    }

    /// The samples as [`Signals`] with one header line per signal, when the read
    /// [`is uniform`](SegmentedSignals::is_uniform); otherwise [`WfdbError::Unsupported`]
    /// naming the signal and segment (wfdb-python likewise refuses the digital read of such a
    /// variable-layout record).
    pub fn into_signals(self) -> Result<Signals> {
        if let Some((i, p, s)) = self.first_mismatch() {
            let r = &self.signals.specs()[i];
            return Err(WfdbError::unsupported(
                &self.header_path,
                format!(
                    "signal {i} ({}) is stored in segment {} with format {}, gain {}, baseline {}, units {} and elsewhere with {}, {}, {}, {}: read it with read_segmented, which converts each segment with its own",
                    r.description,
                    p.name,
                    s.format.code(),
                    s.gain,
                    s.baseline,
                    s.units,
                    r.format.code(),
                    r.gain,
                    r.baseline,
                    r.units
                ),
            ));
        }
        Ok(self.signals)
    }
}

impl Record {
    /// Reads every signal of a multi-segment record, keeping each segment's header line (an
    /// ordinary record reads as one segment).
    pub fn read_segmented(&self) -> Result<SegmentedSignals> {
        let all: Vec<usize> = (0..self.n_signals_checked()?).collect();
        self.read_segmented_selected(&all)
    }

    /// Reads the signals with the given indices, in the given order, keeping each segment's
    /// header line (an ordinary record reads as one segment).
    pub fn read_segmented_selected(&self, selected: &[usize]) -> Result<SegmentedSignals> {
        if self.is_multi_segment() {
            return read(self, selected, &mut |_, _| {});
        }
        let signals = self.read_selected(selected)?;
        let specs = signals.specs().iter().cloned().map(Some).collect();
        Ok(SegmentedSignals {
            pieces: vec![Piece {
                name: self.name().to_owned(),
                start: 0,
                len: signals.n_frames(),
                specs,
            }],
            signals,
            header_path: self.header_path().to_path_buf(),
        })
    }
}

/// Opens segment `seg` of `rec`: an ordinary record in the same folder.
fn open_segment(rec: &Record, seg: &Segment) -> Result<Record> {
    check_file_name(&seg.name).map_err(|m| {
        WfdbError::invalid(rec.header_path(), format!("segment `{}`: {m}", seg.name))
    })?;
    let s = Record::open_in(rec.dir().to_path_buf(), &seg.name)?;
    if s.is_multi_segment() {
        return Err(WfdbError::invalid(
            s.header_path(),
            format!(
                "segment {} of {} is itself a multi-segment record",
                seg.name,
                rec.name()
            ),
        ));
    }
    Ok(s)
}

/// Opens the layout header of a variable-layout record (its signal files are `~`).
fn open_layout(rec: &Record, seg: &Segment) -> Result<Header> {
    check_file_name(&seg.name).map_err(|m| {
        WfdbError::invalid(rec.header_path(), format!("segment `{}`: {m}", seg.name))
    })?;
    let path = rec.dir().join(format!("{}.hea", seg.name));
    let text = std::fs::read(&path).map_err(|e| WfdbError::io(&path, e))?;
    let h = Header::parse_with(&text, &path, true)?;
    if h.is_multi_segment() {
        return Err(WfdbError::invalid(
            &path,
            "a layout header cannot be a multi-segment header",
        ));
    }
    Ok(h)
}

/// The signal list of multi-segment record `rec`: its layout header's (variable layout) or its
/// first non-null segment's (fixed layout), checked against the master's signal count.
pub(crate) fn signal_list(rec: &Record) -> Result<Vec<SignalSpec>> {
    let h = rec.header();
    let (list, path) = match h.layout() {
        None => return Ok(h.signals.clone()),
        Some(Layout::Variable) => {
            let lay = &h.segments[0];
            let path = rec.dir().join(format!("{}.hea", lay.name));
            (open_layout(rec, lay)?.signals, path)
        }
        Some(Layout::Fixed) => {
            let Some(seg) = h.segments.iter().find(|s| !s.is_null()) else {
                return Err(WfdbError::invalid(
                    rec.header_path(),
                    "every segment is null (`~`): no segment describes the signals",
                ));
            };
            let s = open_segment(rec, seg)?;
            let path = s.header_path().to_path_buf();
            (s.header().signals.clone(), path)
        }
    };
    if list.len() != h.n_sig() {
        return Err(WfdbError::invalid(
            path,
            format!(
                "has {} signals, the multi-segment header {} announces {}",
                list.len(),
                rec.header_path().display(),
                h.n_sig()
            ),
        ));
    }
    Ok(list)
}

/// One data segment once read: per held signal, its spec there and its samples.
/// One segment's selected signals: each the segment's spec and samples, or `None` where the
/// segment lacks it (or is null).
type SegmentSignals = Vec<Option<(SignalSpec, Vec<i32>)>>;

struct ReadSegment {
    name: String,
    len: usize,
    sigs: SegmentSignals,
}

/// Reads the `selected` signals of multi-segment record `rec` as one record.
pub(crate) fn read(
    rec: &Record,
    selected: &[usize],
    on_file: &mut dyn FnMut(&Path, &[u8]),
) -> Result<SegmentedSignals> {
    let h = rec.header();
    let hp = rec.header_path();
    check_selection(hp, selected, h.n_sig())?;
    let layout = h.layout().unwrap_or(Layout::Fixed);
    let list = signal_list(rec)?;
    let data = match layout {
        Layout::Fixed => &h.segments[..],
        Layout::Variable => h.segments.get(1..).unwrap_or_default(),
    };
    let too_long = || WfdbError::invalid(hp, "record too long for this platform");

    let mut buf = ReadBuffers::default();
    let mut read_segs = Vec::with_capacity(data.len().min(1 << 16));
    // Samples read from files, and frames of the whole record.
    let mut backed: u64 = 0;
    let mut total: u64 = 0;
    for seg in data {
        total = total.checked_add(seg.len).ok_or_else(too_long)?;
        let len = usize::try_from(seg.len).map_err(|_| too_long())?;
        let sigs = if seg.is_null() {
            vec![None; selected.len()]
        } else {
            let sel = Selection {
                rec,
                layout,
                list: &list,
                selected,
            };
            read_segment(&sel, seg, &mut buf, on_file)?
        };
        backed = sigs
            .iter()
            .flatten()
            .fold(backed, |b, (_, v)| b.saturating_add(v.len() as u64));
        read_segs.push(ReadSegment {
            name: seg.name.clone(),
            len,
            sigs,
        });
    }
    join(rec, layout, &list, selected, read_segs, total, backed)
}

/// Refuses a selection that names a signal twice or one the record lacks.
fn check_selection(hp: &Path, selected: &[usize], n_sig: usize) -> Result<()> {
    for (slot, &i) in selected.iter().enumerate() {
        if selected[..slot].contains(&i) {
            return Err(WfdbError::invalid(hp, format!("signal {i} selected twice")));
        }
        if i >= n_sig {
            return Err(WfdbError::invalid(
                hp,
                format!("signal {i} does not exist (the record has {n_sig})"),
            ));
        }
    }
    Ok(())
}

/// What every segment's read shares: the record, its layout, its full signal list and the
/// selected signals.
struct Selection<'a> {
    rec: &'a Record,
    layout: Layout,
    list: &'a [SignalSpec],
    selected: &'a [usize],
}

/// The selected signals of one (non-null) segment: for each, the segment's spec (with the
/// record's description) and samples, or `None` where the segment lacks it.
fn read_segment(
    sel: &Selection<'_>,
    seg: &Segment,
    buf: &mut ReadBuffers,
    on_file: &mut dyn FnMut(&Path, &[u8]),
) -> Result<SegmentSignals> {
    let (rec, layout, list, selected) = (sel.rec, sel.layout, sel.list, sel.selected);
    let h = rec.header();
    let s = open_segment(rec, seg)?;
    let sp = s.header_path();
    let sh = s.header();
    if sh.fs != h.fs {
        return Err(WfdbError::invalid(
            sp,
            format!(
                "sampling frequency {} differs from the multi-segment record's {}",
                sh.fs, h.fs
            ),
        ));
    }
    let n_sig = h.n_sig();
    if layout == Layout::Fixed && sh.n_sig() != n_sig {
        return Err(WfdbError::invalid(
            sp,
            format!(
                "has {} signals; every segment of the fixed-layout record {} has {n_sig}",
                sh.n_sig(),
                rec.name()
            ),
        ));
    }
    // The segment's signal for each selected one, and the distinct ones to read.
    let mut in_seg: Vec<Option<usize>> = Vec::with_capacity(selected.len());
    let mut to_read: Vec<usize> = Vec::new();
    for &i in selected {
        let j = match layout {
            Layout::Fixed => Some(i),
            Layout::Variable => sh.signal_index(&list[i].description),
        };
        if let Some(j) = j {
            let (have, want) = (sh.signals[j].samples_per_frame, list[i].samples_per_frame);
            if have != want {
                return Err(WfdbError::invalid(
                    sp,
                    format!(
                        "signal {j} ({}) has {have} samples per frame, {want} in {}",
                        list[i].description,
                        if layout == Layout::Variable {
                            "the layout header"
                        } else {
                            "the record's first segment"
                        }
                    ),
                ));
            }
            if !to_read.contains(&j) {
                to_read.push(j);
            }
        }
        in_seg.push(j);
    }
    let mut sigs = vec![None; selected.len()];
    if to_read.is_empty() {
        // Not read (as wfdb-python skips it); its length is still checked where given.
        if let Some(n) = sh.sig_len
            && n != seg.len
        {
            return Err(length_mismatch(sp, n, seg, rec));
        }
        return Ok(sigs);
    }
    let n = s.read_selected_into(&to_read, buf, on_file)?;
    if n as u64 != seg.len {
        return Err(length_mismatch(sp, n as u64, seg, rec));
    }
    for (slot, j) in in_seg.iter().enumerate() {
        if let Some(j) = *j {
            let pos = to_read.iter().position(|&k| k == j).unwrap_or(0);
            let samples = buf.digital.get(pos).cloned().unwrap_or_default();
            let mut spec = sh.signals[j].clone();
            spec.description
                .clone_from(&list[selected[slot]].description);
            sigs[slot] = Some((spec, samples));
        }
    }
    Ok(sigs)
}

/// Joins the read segments into one record of `total` frames, invalid samples filling null
/// segments and missing signals; `backed` samples came from files, which bounds the filler.
fn join(
    rec: &Record,
    layout: Layout,
    list: &[SignalSpec],
    selected: &[usize],
    read_segs: Vec<ReadSegment>,
    total: u64,
    backed: u64,
) -> Result<SegmentedSignals> {
    let hp = rec.header_path();
    let too_long = || WfdbError::invalid(hp, "record too long for this platform");
    // The reference spec of each selected signal.
    let specs: Vec<SignalSpec> = selected
        .iter()
        .enumerate()
        .map(|(slot, &i)| match layout {
            Layout::Fixed => list[i].clone(),
            Layout::Variable => read_segs
                .iter()
                .find_map(|r| r.sigs[slot].as_ref().map(|(s, _)| s.clone()))
                .unwrap_or_else(|| list[i].clone()),
        })
        .collect();

    // What the result holds, and how much of it no file backs, before allocating it.
    let per_frame = specs
        .iter()
        .try_fold(0u64, |a, s| a.checked_add(u64::from(s.samples_per_frame)))
        .ok_or_else(too_long)?;
    let out = total.checked_mul(per_frame).ok_or_else(too_long)?;
    let filler = out.saturating_sub(backed);
    let allowed = backed.saturating_mul(FILLER_FACTOR).max(FILLER_MIN);
    if filler > allowed {
        return Err(WfdbError::invalid(
            hp,
            format!(
                "null segments and missing signals would need {filler} invalid samples besides the {backed} read; at most {allowed} are filled in (a limit against headers that claim huge empty stretches)"
            ),
        ));
    }
    let total = usize::try_from(total).map_err(|_| too_long())?;
    usize::try_from(out).map_err(|_| too_long())?;

    let mut digital = Vec::with_capacity(specs.len());
    for (slot, r) in specs.iter().enumerate() {
        let spf = r.samples_per_frame as usize;
        let invalid = r.format.invalid_value();
        let mut v = Vec::with_capacity(total * spf);
        for seg in &read_segs {
            match &seg.sigs[slot] {
                Some((_, samples)) => v.extend_from_slice(samples),
                None => v.extend(std::iter::repeat_n(invalid, seg.len * spf)),
            }
        }
        digital.push(v);
    }
    let mut pieces = Vec::with_capacity(read_segs.len());
    let mut start = 0;
    for seg in read_segs {
        pieces.push(Piece {
            name: seg.name,
            start,
            len: seg.len,
            specs: seg.sigs.into_iter().map(|s| s.map(|(s, _)| s)).collect(),
        });
        start += seg.len;
    }
    Ok(SegmentedSignals {
        signals: Signals {
            specs,
            fs: rec.header().fs,
            n_samples: total,
            digital,
        },
        pieces,
        header_path: hp.to_path_buf(),
    })
}

fn length_mismatch(seg_header: &Path, n: u64, seg: &Segment, rec: &Record) -> WfdbError {
    WfdbError::invalid(
        seg_header,
        format!(
            "holds {n} frames; the multi-segment header {} gives segment {} {} frames",
            rec.header_path().display(),
            seg.name,
            seg.len
        ),
    )
}
