//! ANSI/AAMI EC57 beat-by-beat comparison of a test annotation set with a reference, as the
//! WFDB tool `bxb` computes it, and the gross and average statistics over records (`sumstats`).
//!
//! # Matching
//! Beats are walked in time order, one reference and one test beat at a time. Let `T`, `T'` be
//! the current and next reference beat times, `t`, `t'` the current and next test beat times,
//! `w` the match window (150 ms by default, rounded to samples).
//! - If `t < T`: `t` is paired with `T` when `T - t <= w` and either `T - t < |T - t'|` or
//!   `|T' - t'| < |T - t'|` (the next test beat has a better partner); otherwise `t` is an extra
//!   test beat.
//! - If `t >= T`: symmetrically, `T` is paired with `t` when `t - T <= w` and either
//!   `t - T < |t - T'|` or `|t' - T'| < |t - T'|`; otherwise `T` is a missed beat.
//!
//! An extra test beat is counted in row `O` (no reference beat), or `X` when it falls in a
//! reference shutdown interval, and not at all when it falls in a reference ventricular
//! flutter/fibrillation episode. A missed reference beat is counted in column `o`, or `x` when it
//! falls in a test shutdown interval.
//!
//! # What is compared
//! Comparison starts at `start` (EC57: 5 minutes; the first 5 minutes are the algorithm's
//! learning period). The reference walk begins at its first beat at or after `start`. A test
//! beat just before `start` may still pair with that first reference beat; a test beat within
//! `w` after `start` that pairs with nothing (the next test beat is closer to the first
//! reference beat) is dropped uncounted. The walk ends when both streams pass `end` (the record
//! length, when known), or, without an end, when the reference beats run out.
//!
//! Reference and test annotations are filtered as `bxb` filters them: beats (see [`ec57_label`])
//! are kept; everything from a `[` (VF onset) to the next `]` (VF end) is skipped, so beats
//! inside a VF episode are never compared; a `~` noise annotation whose subtype has bits 4 and 5
//! set (`subtype & 0x30 == 0x30`) starts a shutdown interval ended by the next annotation when
//! that is a `~` without both bits; otherwise (AHA convention, one mark mid-interval) the
//! interval runs from `w` after the previous beat (or VF end) to `w` before the next
//! annotation. An unterminated VF episode or shutdown lasts to the end.
//!
//! # Statistics
//! The class matrix has rows `N S V F Q O X` (reference) and columns `n s v f q o x` (test);
//! `XY` is the count in row `X`, column `y`. With `Σ` over the listed rows and columns:
//! - QRS: TP = Σ(N,S,V,F,Q × n,s,v,f,q); FN = Σ(N,S,V,F,Q × o,x); FP = Σ(O,X × n,s,v,f,q);
//!   Se = TP/(TP+FN), +P = TP/(TP+FP).
//! - VEB: TP = Vv; FN = Vn+Vs+Vf+Vq+Vo+Vx; FP = Nv+Sv+Ov+Xv (F or Q called V is not an error);
//!   TN = Σ(N,S,F,Q,O,X × n,s,f,q); Se = TP/(TP+FN), +P = TP/(TP+FP), FPR = FP/(TN+FP).
//! - SVEB: TP = Ss; FN = Sn+Sv+Sf+Sq+So+Sx; FP = Ns+Vs+Fs+Os+Xs (Q called S is not an error);
//!   TN = Σ(N,V,F,Q,O,X × n,v,f,q); Se, +P and FPR as for VEB. `bxb` prints no SVEB FPR; this
//!   one is defined like the VEB FPR. (`sumstats` leaves `Fs` out of its SVEB +P; `bxb`'s
//!   per-record +P, followed here everywhere, counts it.)
//!
//! Statistics are fractions in `[0, 1]`; one whose denominator is zero is `None`.
//!
//! Over records ([`Ec57Summary::new`]): *gross* statistics come from the summed matrices,
//! *average* statistics are the mean of the per-record statistics over the records where each
//! is defined. EC57 leaves the paced records 102, 104, 107 and 217 ([`PACED_RECORDS`]) out of the
//! VEB and SVEB statistics; [`Ec57Summary::new`] does so when asked (QRS statistics always use
//! every record).

use serde::{Deserialize, Serialize};

use crate::{EvalError, Result};

/// The MIT-BIH records with paced beats, which EC57 leaves out of arrhythmia statistics.
pub const PACED_RECORDS: [&str; 4] = ["102", "104", "107", "217"];

/// An AAMI beat class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ec57Class {
    /// Normal and bundle branch block beats (and, by the EC57 table, escape beats).
    N,
    /// Supraventricular ectopic beats.
    S,
    /// Ventricular ectopic beats.
    V,
    /// Fusion of ventricular and normal beats.
    F,
    /// Paced, paced fusion and unclassifiable beats.
    Q,
}

impl Ec57Class {
    /// The five classes in matrix order.
    pub const ALL: [Ec57Class; 5] = [Self::N, Self::S, Self::V, Self::F, Self::Q];

    /// The class letter (`N`, `S`, `V`, `F`, `Q`).
    pub fn letter(self) -> char {
        match self {
            Self::N => 'N',
            Self::S => 'S',
            Self::V => 'V',
            Self::F => 'F',
            Self::Q => 'Q',
        }
    }

    /// The class of a letter `N`, `S`, `V`, `F` or `Q`.
    pub fn from_letter(s: &str) -> Option<Self> {
        match s {
            "N" => Some(Self::N),
            "S" => Some(Self::S),
            "V" => Some(Self::V),
            "F" => Some(Self::F),
            "Q" => Some(Self::Q),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where atrial and nodal escape beats (`e`, `j`) go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SymbolMap {
    /// The EC57 class table (and this project's datasets): escape beats are `N`.
    #[default]
    Ec57,
    /// `bxb`'s own mapping: escape beats are `S`.
    Bxb,
}

/// What one annotation means to the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ec57Label {
    /// A beat of this class.
    Beat(Ec57Class),
    /// Onset of ventricular flutter or fibrillation (`[`).
    VfOn,
    /// End of ventricular flutter or fibrillation (`]`).
    VfOff,
    /// A noise annotation (`~`) with its subtype; bits 4 and 5 both set mark a shutdown.
    Noise(i8),
    /// Any other annotation (rhythm, comment, ...): ignored.
    Other,
}

/// One annotation: sample number and meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec57Annotation {
    /// Sample number (at the record's sampling rate).
    pub sample: i64,
    /// What the annotation is.
    pub label: Ec57Label,
}

impl Ec57Annotation {
    /// A beat of `class` at `sample`.
    pub fn beat(sample: i64, class: Ec57Class) -> Self {
        Self {
            sample,
            label: Ec57Label::Beat(class),
        }
    }
}

/// The AAMI class of a WFDB beat symbol (`None` for a non-beat symbol).
///
/// `N L R B` -> N; `A a J S` -> S; `e j` -> N ([`SymbolMap::Ec57`]) or S ([`SymbolMap::Bxb`]);
/// `V E r` -> V; `F` -> F; `/ f Q ?` -> Q. The class letters are symbols of their own class.
pub fn beat_class(symbol: &str, map: SymbolMap) -> Option<Ec57Class> {
    use Ec57Class::*;
    Some(match symbol {
        "N" | "L" | "R" | "B" => N,
        "A" | "a" | "J" | "S" => S,
        "e" | "j" => match map {
            SymbolMap::Ec57 => N,
            SymbolMap::Bxb => S,
        },
        "V" | "E" | "r" => V,
        "F" => F,
        "/" | "f" | "Q" | "?" => Q,
        _ => return None,
    })
}

/// The meaning of a WFDB annotation symbol with its subtype (see [`beat_class`]).
pub fn ec57_label(symbol: &str, subtype: i8, map: SymbolMap) -> Ec57Label {
    match symbol {
        "[" => Ec57Label::VfOn,
        "]" => Ec57Label::VfOff,
        "~" => Ec57Label::Noise(subtype),
        s => beat_class(s, map).map_or(Ec57Label::Other, Ec57Label::Beat),
    }
}

/// Options of one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ec57Options {
    /// Match window in seconds (EC57: 0.15).
    pub window_s: f64,
    /// Start of the comparison in seconds (EC57: 300; `bxb -f`).
    pub start_s: f64,
    /// Last sample of the comparison (the record length); `None`: the end of the reference
    /// beats (test beats after the last reference beat are then not counted).
    pub end_sample: Option<i64>,
}

impl Default for Ec57Options {
    /// EC57's: 150 ms window, start at 5 minutes, no end.
    fn default() -> Self {
        Self {
            window_s: 0.15,
            start_s: 300.0,
            end_sample: None,
        }
    }
}

/// Row and column labels of [`Ec57Matrix`].
pub const MATRIX_LABELS: [char; 7] = ['N', 'S', 'V', 'F', 'Q', 'O', 'X'];
const O: usize = 5;
const X: usize = 6;

/// The EC57 class matrix: `counts[r][c]`, rows reference `N S V F Q O X`, columns test
/// `n s v f q o x` ([`MATRIX_LABELS`]); `O`/`X` rows are extra test beats, `o`/`x` columns
/// missed reference beats (`X`, `x`: in a shutdown interval of the other annotator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec57Matrix {
    /// Counts by (reference row, test column).
    pub counts: [[u64; 7]; 7],
}

impl Ec57Matrix {
    /// Count at (reference label, test label), labels from [`MATRIX_LABELS`] (case ignored).
    pub fn get(&self, reference: char, test: char) -> u64 {
        let idx = |c: char| {
            MATRIX_LABELS
                .iter()
                .position(|&l| l == c.to_ascii_uppercase())
        };
        match (idx(reference), idx(test)) {
            (Some(r), Some(c)) => self.counts[r][c],
            _ => 0,
        }
    }

    /// The share of matched beats (reference and test both N, S, V, F or Q) whose test class
    /// is the reference's: the classification accuracy over the beats both sides found (not an
    /// EC57 statistic; `None` with no such beat).
    pub fn class_accuracy(&self) -> Option<f64> {
        let (mut same, mut all) = (0u64, 0u64);
        for (r, row) in self.counts.iter().enumerate().take(5) {
            for (c, &n) in row.iter().enumerate().take(5) {
                all += n;
                if r == c {
                    same += n;
                }
            }
        }
        (all > 0).then(|| same as f64 / all as f64)
    }

    /// Adds another matrix.
    pub fn add(&mut self, other: &Ec57Matrix) {
        for (row, orow) in self.counts.iter_mut().zip(&other.counts) {
            for (c, o) in row.iter_mut().zip(orow) {
                *c += o;
            }
        }
    }

    fn sum(&self, rows: &[usize], cols: &[usize]) -> u64 {
        rows.iter()
            .flat_map(|&r| cols.iter().map(move |&c| self.counts[r][c]))
            .sum()
    }

    /// The QRS, VEB and SVEB counts of this matrix (formulas in the module docs).
    pub fn counts(&self) -> Ec57Counts {
        const BEATS: [usize; 5] = [0, 1, 2, 3, 4];
        const N: usize = 0;
        const S: usize = 1;
        const V: usize = 2;
        const F: usize = 3;
        const Q: usize = 4;
        let m = &self.counts;
        Ec57Counts {
            qrs_tp: self.sum(&BEATS, &BEATS),
            qrs_fn: self.sum(&BEATS, &[O, X]),
            qrs_fp: self.sum(&[O, X], &BEATS),
            veb_tp: m[V][V],
            veb_fn: self.sum(&[V], &[N, S, F, Q, O, X]),
            veb_fp: self.sum(&[N, S, O, X], &[V]),
            veb_tn: self.sum(&[N, S, F, Q, O, X], &[N, S, F, Q]),
            sveb_tp: m[S][S],
            sveb_fn: self.sum(&[S], &[N, V, F, Q, O, X]),
            sveb_fp: self.sum(&[N, V, F, O, X], &[S]),
            sveb_tn: self.sum(&[N, V, F, Q, O, X], &[N, V, F, Q]),
        }
    }
}

/// True/false positive/negative counts for QRS detection and the VEB and SVEB classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec57Counts {
    /// Reference beats matched by a test beat.
    pub qrs_tp: u64,
    /// Reference beats with no matching test beat.
    pub qrs_fn: u64,
    /// Test beats with no matching reference beat.
    pub qrs_fp: u64,
    /// `Vv`.
    pub veb_tp: u64,
    /// Reference V beats not called V (missed ones included).
    pub veb_fn: u64,
    /// N, S or extra beats called V.
    pub veb_fp: u64,
    /// Non-V beats (reference or extra) not called V.
    pub veb_tn: u64,
    /// `Ss`.
    pub sveb_tp: u64,
    /// Reference S beats not called S (missed ones included).
    pub sveb_fn: u64,
    /// N, V, F or extra beats called S.
    pub sveb_fp: u64,
    /// Non-S beats (reference or extra) not called S.
    pub sveb_tn: u64,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Ec57Counts {
    /// The statistics of these counts (`None` where the denominator is zero).
    pub fn stats(&self) -> Ec57Stats {
        Ec57Stats {
            qrs_se: ratio(self.qrs_tp, self.qrs_tp + self.qrs_fn),
            qrs_ppv: ratio(self.qrs_tp, self.qrs_tp + self.qrs_fp),
            veb_se: ratio(self.veb_tp, self.veb_tp + self.veb_fn),
            veb_ppv: ratio(self.veb_tp, self.veb_tp + self.veb_fp),
            veb_fpr: ratio(self.veb_fp, self.veb_tn + self.veb_fp),
            sveb_se: ratio(self.sveb_tp, self.sveb_tp + self.sveb_fn),
            sveb_ppv: ratio(self.sveb_tp, self.sveb_tp + self.sveb_fp),
            sveb_fpr: ratio(self.sveb_fp, self.sveb_tn + self.sveb_fp),
        }
    }
}

/// EC57 statistics, as fractions (`None`: undefined, zero denominator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ec57Stats {
    /// QRS sensitivity.
    pub qrs_se: Option<f64>,
    /// QRS positive predictivity.
    pub qrs_ppv: Option<f64>,
    /// VEB sensitivity.
    pub veb_se: Option<f64>,
    /// VEB positive predictivity.
    pub veb_ppv: Option<f64>,
    /// VEB false positive rate.
    pub veb_fpr: Option<f64>,
    /// SVEB sensitivity.
    pub sveb_se: Option<f64>,
    /// SVEB positive predictivity.
    pub sveb_ppv: Option<f64>,
    /// SVEB false positive rate.
    pub sveb_fpr: Option<f64>,
}

/// The comparison of one record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ec57Record {
    /// Record name (e.g. `100`).
    pub record: String,
    /// The class matrix.
    pub matrix: Ec57Matrix,
    /// Counts derived from the matrix.
    pub counts: Ec57Counts,
    /// Statistics derived from the counts.
    pub stats: Ec57Stats,
    /// Match window used, in samples.
    pub window_samples: i64,
    /// First sample compared.
    pub start_sample: i64,
}

/// Sentinel time past every annotation (small enough that differences cannot overflow).
const HUGE: i64 = i64::MAX / 4;

/// One annotator's beats after `bxb`'s filtering, with its VF and shutdown intervals.
struct Stream {
    beats: Vec<(i64, Ec57Class)>,
    vf: Vec<(i64, i64)>,
    shutdown: Vec<(i64, i64)>,
}

impl Stream {
    fn new(what: &str, anns: &[Ec57Annotation], w: i64) -> Result<Self> {
        let mut s = Stream {
            beats: Vec::new(),
            vf: Vec::new(),
            shutdown: Vec::new(),
        };
        let mut prev = i64::MIN;
        for (i, a) in anns.iter().enumerate() {
            if a.sample < 0 {
                return Err(EvalError::InvalidParameter(format!(
                    "{what}[{i}]: negative sample {}",
                    a.sample
                )));
            }
            if a.sample < prev {
                return Err(EvalError::InvalidParameter(format!(
                    "{what}[{i}]: sample {} comes before the previous one ({prev}); \
                     annotations must be in time order",
                    a.sample
                )));
            }
            prev = a.sample;
        }
        let mut last_beat = 0i64;
        let mut last_vf_off = -1i64;
        let mut i = 0;
        while i < anns.len() {
            let a = anns[i];
            i += 1;
            match a.label {
                Ec57Label::Beat(c) => {
                    s.beats.push((a.sample, c));
                    last_beat = a.sample;
                }
                Ec57Label::VfOn => {
                    // Everything up to the VF end is skipped.
                    let end = anns[i..]
                        .iter()
                        .position(|b| b.label == Ec57Label::VfOff)
                        .map(|k| i + k);
                    match end {
                        Some(k) => {
                            s.vf.push((a.sample, anns[k].sample));
                            last_vf_off = anns[k].sample;
                            i = k + 1;
                        }
                        None => {
                            s.vf.push((a.sample, HUGE));
                            i = anns.len();
                        }
                    }
                }
                Ec57Label::Noise(sub) if sub & 0x30 == 0x30 => match anns.get(i) {
                    None => s.shutdown.push((a.sample, HUGE)),
                    Some(next) => match next.label {
                        Ec57Label::Noise(sub2) if sub2 & 0x30 != 0x30 => {
                            s.shutdown.push((a.sample, next.sample));
                            i += 1;
                        }
                        _ => {
                            // One mark mid-interval: `w` after the previous beat (or VF end)
                            // to `w` before the next annotation, which is read normally.
                            let from = last_vf_off.max(last_beat) + w;
                            let to = next.sample - w;
                            s.shutdown.push((from.min(to), to));
                        }
                    },
                },
                _ => {}
            }
        }
        Ok(s)
    }

    fn time(&self, i: usize) -> i64 {
        self.beats.get(i).map_or(HUGE, |b| b.0)
    }

    fn class(&self, i: usize) -> Option<Ec57Class> {
        self.beats.get(i).map(|b| b.1)
    }

    fn in_vf(&self, t: i64) -> bool {
        self.vf.iter().any(|&(a, b)| a <= t && t <= b)
    }

    fn in_shutdown(&self, t: i64) -> bool {
        self.shutdown.iter().any(|&(a, b)| a <= t && t <= b)
    }
}

/// Compares `test` with `reference` beat by beat, as `bxb` does (see the module docs).
///
/// Both slices must be in time order with non-negative samples; `fs` is the sampling rate of
/// both. The match window and start are rounded to the nearest sample.
pub fn compare_beats(
    record: &str,
    reference: &[Ec57Annotation],
    test: &[Ec57Annotation],
    fs: f64,
    options: &Ec57Options,
) -> Result<Ec57Record> {
    if !(fs.is_finite() && fs > 0.0) {
        return Err(EvalError::InvalidParameter(format!(
            "{record}: sampling rate {fs} is not a positive number"
        )));
    }
    if !(options.window_s.is_finite() && options.window_s >= 0.0) {
        return Err(EvalError::InvalidParameter(format!(
            "{record}: match window {} s is not a non-negative number",
            options.window_s
        )));
    }
    if !(options.start_s.is_finite() && options.start_s >= 0.0) {
        return Err(EvalError::InvalidParameter(format!(
            "{record}: start {} s is not a non-negative number",
            options.start_s
        )));
    }
    let w = (options.window_s * fs).round() as i64;
    let start = (options.start_s * fs).round() as i64;
    if let Some(end) = options.end_sample
        && end < start
    {
        return Err(EvalError::InvalidParameter(format!(
            "{record}: end sample {end} is before the start ({start})"
        )));
    }
    let r = Stream::new(&format!("{record}: reference"), reference, w)?;
    let t = Stream::new(&format!("{record}: test"), test, w)?;
    let mut m = Ec57Matrix::default();
    let mut pair = |row: usize, col: usize| m.counts[row][col] += 1;

    let mut ri = r.beats.partition_point(|b| b.0 < start);
    let mut ti = t.beats.partition_point(|b| b.0 < start);
    let ref_t = r.time(ri);
    // A test beat just before the start may pair with the first reference beat.
    let paired_across = ti > 0 && {
        let tp = t.time(ti - 1);
        ref_t - tp <= w && ref_t - tp < (ref_t - t.time(ti)).abs()
    };
    if paired_across {
        if let (Some(a), Some(b)) = (r.class(ri), t.class(ti - 1)) {
            pair(a.index(), b.index());
        }
        ri += 1;
    } else {
        // A test beat right after the start with a better-matched successor is dropped.
        let t0 = t.time(ti);
        if t0 - start <= w && (ref_t - t.time(ti + 1)).abs() < (ref_t - t0).abs() {
            ti += 1;
        }
    }

    let go_on = |rt: i64, tt: i64| match options.end_sample {
        Some(end) => rt <= end || tt <= end,
        None => rt != HUGE,
    };
    while go_on(r.time(ri), t.time(ti)) {
        let (rt, rn, tt, tn) = (r.time(ri), r.time(ri + 1), t.time(ti), t.time(ti + 1));
        if tt < rt {
            if rt - tt <= w && (rt - tt < (rt - tn).abs() || (rn - tn).abs() < (rt - tn).abs()) {
                if let (Some(a), Some(b)) = (r.class(ri), t.class(ti)) {
                    pair(a.index(), b.index());
                }
                ri += 1;
                ti += 1;
            } else {
                if let Some(b) = t.class(ti)
                    && !r.in_vf(tt)
                {
                    pair(if r.in_shutdown(tt) { X } else { O }, b.index());
                }
                ti += 1;
            }
        } else if tt - rt <= w && (tt - rt < (tt - rn).abs() || (tn - rn).abs() < (tt - rn).abs()) {
            if let (Some(a), Some(b)) = (r.class(ri), t.class(ti)) {
                pair(a.index(), b.index());
            }
            ri += 1;
            ti += 1;
        } else {
            if let Some(a) = r.class(ri) {
                pair(a.index(), if t.in_shutdown(rt) { X } else { O });
            }
            ri += 1;
        }
    }
    let counts = m.counts();
    Ok(Ec57Record {
        record: record.to_owned(),
        matrix: m,
        counts,
        stats: counts.stats(),
        window_samples: w,
        start_sample: start,
    })
}

/// Per-record results with gross and average statistics over the records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ec57Summary {
    /// One entry per record, in the order given.
    pub records: Vec<Ec57Record>,
    /// Records left out of the VEB and SVEB statistics (gross and average).
    pub excluded_from_arrhythmia: Vec<String>,
    /// Sum of all records' matrices.
    pub matrix: Ec57Matrix,
    /// Sum of the matrices of the records used for arrhythmia statistics.
    pub arrhythmia_matrix: Ec57Matrix,
    /// Gross counts: QRS from `matrix`, VEB and SVEB from `arrhythmia_matrix`.
    pub gross_counts: Ec57Counts,
    /// Statistics of `gross_counts`.
    pub gross: Ec57Stats,
    /// Mean of each per-record statistic over the records where it is defined (VEB and SVEB
    /// over the records not excluded).
    pub average: Ec57Stats,
}

impl Ec57Summary {
    /// Gross and average statistics of `records`; with `exclude_paced`, the records named in
    /// [`PACED_RECORDS`] are left out of the VEB and SVEB statistics, as EC57 requires for
    /// MIT-BIH.
    pub fn new(records: Vec<Ec57Record>, exclude_paced: bool) -> Self {
        let excluded = |name: &str| exclude_paced && PACED_RECORDS.contains(&name);
        let mut matrix = Ec57Matrix::default();
        let mut arrhythmia_matrix = Ec57Matrix::default();
        for r in &records {
            matrix.add(&r.matrix);
            if !excluded(&r.record) {
                arrhythmia_matrix.add(&r.matrix);
            }
        }
        let (all, arr) = (matrix.counts(), arrhythmia_matrix.counts());
        let gross_counts = Ec57Counts {
            qrs_tp: all.qrs_tp,
            qrs_fn: all.qrs_fn,
            qrs_fp: all.qrs_fp,
            ..arr
        };
        let mean = |pick: fn(&Ec57Stats) -> Option<f64>, arrhythmia: bool| {
            let v: Vec<f64> = records
                .iter()
                .filter(|r| !(arrhythmia && excluded(&r.record)))
                .filter_map(|r| pick(&r.stats))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let average = Ec57Stats {
            qrs_se: mean(|s| s.qrs_se, false),
            qrs_ppv: mean(|s| s.qrs_ppv, false),
            veb_se: mean(|s| s.veb_se, true),
            veb_ppv: mean(|s| s.veb_ppv, true),
            veb_fpr: mean(|s| s.veb_fpr, true),
            sveb_se: mean(|s| s.sveb_se, true),
            sveb_ppv: mean(|s| s.sveb_ppv, true),
            sveb_fpr: mean(|s| s.sveb_fpr, true),
        };
        let excluded_from_arrhythmia = records
            .iter()
            .filter(|r| excluded(&r.record))
            .map(|r| r.record.clone())
            .collect();
        Self {
            records,
            excluded_from_arrhythmia,
            matrix,
            arrhythmia_matrix,
            gross_counts,
            gross: gross_counts.stats(),
            average,
        }
    }
}
