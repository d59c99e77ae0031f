//! EDF and EDF+ (continuous) files (<https://www.edfplus.info/specs/edf.html>): a reader, and
//! a writer for tests, fixtures and benches.
//!
//! Layout: a 256-byte header, then 256 bytes per signal (each field stored for all signals in
//! turn: labels, transducers, physical dimensions, physical minima and maxima, digital minima
//! and maxima, prefiltering, samples per data record, reserved), then the data records, each
//! holding every signal's block of little-endian 16-bit samples in turn.

use std::path::Path;

use rayon::prelude::*;

use crate::Lead;
use crate::error::InputError;

/// Bytes of the fixed header, and of each signal's part of the header.
const BLOCK: usize = 256;

/// The label of an EDF+ annotation signal, which holds no samples of a lead.
const ANNOTATIONS: &str = "EDF Annotations";

/// Digital range the writer uses.
const DMIN: i32 = -32768;
const DMAX: i32 = 32767;

/// A header field: name, offset, length.
type Field = (&'static str, usize, usize);

/// The fixed header's fields.
const VERSION: Field = ("version", 0, 8);
const HEADER_BYTES: Field = ("number of bytes in header", 184, 8);
const RESERVED: Field = ("reserved", 192, 44);
const RECORDS: Field = ("number of data records", 236, 8);
const DURATION: Field = ("duration of a data record", 244, 8);
const SIGNALS: Field = ("number of signals", 252, 4);

/// The per-signal fields: name, offset of the field's block (in units of the number of
/// signals, after the fixed header), length.
const LABEL: Field = ("label", 0, 16);
const DIMENSION: Field = ("physical dimension", 96, 8);
const PMIN: Field = ("physical minimum", 104, 8);
const PMAX: Field = ("physical maximum", 112, 8);
const DMIN_F: Field = ("digital minimum", 120, 8);
const DMAX_F: Field = ("digital maximum", 128, 8);
const SAMPLES: Field = ("number of samples in each data record", 216, 8);

/// One signal's header fields.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SignalHeader {
    pub(crate) label: String,
    pub(crate) unit: String,
    pub(crate) pmin: f64,
    pub(crate) pmax: f64,
    pub(crate) dmin: i32,
    pub(crate) dmax: i32,
    /// Samples per data record.
    pub(crate) spr: usize,
    /// An EDF+ annotation signal.
    pub(crate) annotations: bool,
}

/// The header of an EDF file, checked against the file's length.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EdfHeader {
    pub(crate) header_bytes: usize,
    pub(crate) records: usize,
    pub(crate) duration: f64,
    pub(crate) signals: Vec<SignalHeader>,
}

impl EdfHeader {
    /// Bytes per data record.
    fn record_bytes(&self) -> usize {
        2 * self.signals.iter().map(|s| s.spr).sum::<usize>()
    }
}

/// Reads the leads of an EDF file (annotation signals left out).
pub(crate) fn read(path: &Path) -> Result<Vec<Lead>, InputError> {
    let bytes = std::fs::read(path).map_err(|e| InputError::io(path, e))?;
    let h = parse_header(path, &bytes)?;
    let rb = h.record_bytes();
    let data = &bytes[h.header_bytes..h.header_bytes + h.records * rb];
    let mut offset = 0;
    let mut leads = Vec::with_capacity(h.signals.len());
    for s in &h.signals {
        let at = offset;
        offset += 2 * s.spr;
        if s.annotations {
            continue;
        }
        leads.push(Lead {
            name: s.label.clone(),
            unit: s.unit.clone(),
            fs: s.spr as f64 / h.duration,
            samples: decode(data, rb, at, s),
        });
    }
    Ok(leads)
}

/// The physical values of signal `s`, whose block starts `at` bytes into each `rb`-byte data
/// record: `(d - dmin) * scale + pmin` with `scale = (pmax - pmin) / (dmax - dmin)`, in `f64`,
/// rounded once to `f32`.
fn decode(data: &[u8], rb: usize, at: usize, s: &SignalHeader) -> Vec<f32> {
    let records = data.len() / rb;
    let mut out = vec![0f32; records * s.spr];
    let scale = (s.pmax - s.pmin) / (f64::from(s.dmax) - f64::from(s.dmin));
    let (dmin, pmin) = (f64::from(s.dmin), s.pmin);
    // Records per task: at least 64k samples.
    let per = (65_536 / s.spr).max(1);
    out.par_chunks_mut(per * s.spr)
        .enumerate()
        .for_each(|(k, chunk)| {
            for (r, o) in chunk.chunks_exact_mut(s.spr).enumerate() {
                let start = (k * per + r) * rb + at;
                let block = &data[start..start + 2 * s.spr];
                for (o, b) in o.iter_mut().zip(block.chunks_exact(2)) {
                    let d = f64::from(i16::from_le_bytes([b[0], b[1]]));
                    *o = ((d - dmin) * scale + pmin) as f32;
                }
            }
        });
    out
}

/// Where a fixed-header field is, for errors.
fn fixed_place(field: Field) -> String {
    let (name, at, len) = field;
    format!("header field `{name}` (bytes {at}..{})", at + len)
}

/// The bytes of a fixed-header field.
fn fixed(bytes: &[u8], field: Field) -> &[u8] {
    &bytes[field.1..field.1 + field.2]
}

/// A field's text: bytes as Latin-1 (EDF asks for ASCII; other bytes are kept, not refused),
/// without the spaces (and NULs) around it.
fn text(field: &[u8]) -> String {
    field
        .iter()
        .map(|&b| char::from(b))
        .collect::<String>()
        .trim_matches([' ', '\0'])
        .to_owned()
}

/// A numeric field: printable ASCII, a number after trimming.
fn number<T: std::str::FromStr>(
    path: &Path,
    field: &[u8],
    place: impl Fn() -> String,
    what: &str,
) -> Result<T, InputError> {
    if let Some(b) = field
        .iter()
        .find(|&&b| !(b == b' ' || b.is_ascii_graphic()))
    {
        return Err(InputError::edf(
            path,
            place(),
            format!("byte {b:#04x} is not printable ASCII"),
        ));
    }
    let s = std::str::from_utf8(field)
        .unwrap_or_default()
        .trim_matches(' ');
    s.parse()
        .map_err(|_| InputError::edf(path, place(), format!("`{s}` is not {what}")))
}

/// Parses and checks the header of `bytes`, and the data length against it.
pub(crate) fn parse_header(path: &Path, bytes: &[u8]) -> Result<EdfHeader, InputError> {
    if bytes.len() < BLOCK {
        return Err(InputError::edf(
            path,
            "header",
            format!(
                "the file has {} bytes; an EDF header has at least 256",
                bytes.len()
            ),
        ));
    }
    if bytes[0] == 0xff {
        return Err(InputError::unsupported(path, "BDF (24-bit) files"));
    }
    let version = fixed(bytes, VERSION);
    if version[0] != b'0' || version[1..].iter().any(|&b| b != b' ') {
        return Err(InputError::edf(
            path,
            fixed_place(VERSION),
            format!("`{}` is not `0` (not an EDF file?)", text(version)),
        ));
    }
    let ns: usize = number(
        path,
        fixed(bytes, SIGNALS),
        || fixed_place(SIGNALS),
        "a count",
    )?;
    if ns == 0 {
        return Err(InputError::edf(path, fixed_place(SIGNALS), "no signals"));
    }
    let header_bytes: usize = number(
        path,
        fixed(bytes, HEADER_BYTES),
        || fixed_place(HEADER_BYTES),
        "a count",
    )?;
    if header_bytes != BLOCK * (ns + 1) {
        return Err(InputError::edf(
            path,
            fixed_place(HEADER_BYTES),
            format!(
                "{header_bytes} bytes, but {ns} signals make a header of {}",
                BLOCK * (ns + 1)
            ),
        ));
    }
    if bytes.len() < header_bytes {
        return Err(InputError::edf(
            path,
            fixed_place(SIGNALS),
            format!(
                "{ns} signals need a {header_bytes}-byte header, but the file has {} bytes",
                bytes.len()
            ),
        ));
    }
    let reserved = text(fixed(bytes, RESERVED));
    if reserved.starts_with("EDF+D") {
        return Err(InputError::unsupported(
            path,
            "EDF+D (discontinuous) recordings",
        ));
    }
    let duration: f64 = number(
        path,
        fixed(bytes, DURATION),
        || fixed_place(DURATION),
        "a number of seconds",
    )?;
    if !(duration.is_finite() && duration > 0.0) {
        return Err(InputError::edf(
            path,
            fixed_place(DURATION),
            format!("{duration} s: a data record must last more than 0 s"),
        ));
    }
    let records: i64 = number(
        path,
        fixed(bytes, RECORDS),
        || fixed_place(RECORDS),
        "an integer",
    )?;

    let signals = (0..ns)
        .map(|i| signal_header(path, bytes, ns, i))
        .collect::<Result<Vec<_>, _>>()?;
    if signals.iter().all(|s| s.annotations) {
        return Err(InputError::edf(
            path,
            fixed_place(SIGNALS),
            "no signals besides EDF Annotations",
        ));
    }
    let samples = signals
        .iter()
        .try_fold(0usize, |a, s| a.checked_add(s.spr))
        .filter(|&n| n <= usize::MAX / 2);
    let Some(samples) = samples else {
        return Err(InputError::edf(
            path,
            fixed_place(SIGNALS),
            "the samples per data record add up to more than memory holds",
        ));
    };
    let rb = 2 * samples;
    let data = bytes.len() - header_bytes;
    let records = match records {
        -1 => {
            if !data.is_multiple_of(rb) {
                return Err(truncated(
                    path,
                    data / rb + 1,
                    None,
                    header_bytes,
                    rb,
                    bytes,
                ));
            }
            data / rb
        }
        n if n < 0 => {
            return Err(InputError::edf(
                path,
                fixed_place(RECORDS),
                format!("{n}: only -1 (unknown) may be negative"),
            ));
        }
        n => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            match n.checked_mul(rb) {
                Some(need) if need <= data => {
                    if need < data {
                        tracing::warn!(
                            file = %path.display(),
                            extra_bytes = data - need,
                            "EDF file longer than its {n} data records: the extra bytes are ignored"
                        );
                    }
                    n
                }
                _ => {
                    return Err(truncated(
                        path,
                        data / rb + 1,
                        Some(n),
                        header_bytes,
                        rb,
                        bytes,
                    ));
                }
            }
        }
    };
    if records == 0 {
        return Err(InputError::edf(
            path,
            fixed_place(RECORDS),
            "no data records",
        ));
    }
    Ok(EdfHeader {
        header_bytes,
        records,
        duration,
        signals,
    })
}

/// The fields of signal `i` (0-based) of the `ns` signals of the EDF header in `bytes`,
/// checked; errors name the field and its bytes.
fn signal_header(
    path: &Path,
    bytes: &[u8],
    ns: usize,
    i: usize,
) -> Result<SignalHeader, InputError> {
    let raw = |f: Field| {
        let at = BLOCK + ns * f.1 + i * f.2;
        (&bytes[at..at + f.2], at)
    };
    let label = text(raw(LABEL).0);
    let place = |f: Field| {
        let at = raw(f).1;
        format!(
            "signal {} of {ns} (`{label}`) field `{}` (bytes {at}..{})",
            i + 1,
            f.0,
            at + f.2
        )
    };
    let num_f = |f| number::<f64>(path, raw(f).0, || place(f), "a number");
    let num_i = |f| number::<i64>(path, raw(f).0, || place(f), "an integer");
    let annotations = label == ANNOTATIONS;
    let spr = num_i(SAMPLES)?;
    if spr < 1 {
        return Err(InputError::edf(
            path,
            place(SAMPLES),
            format!("{spr}: a signal needs at least one sample per data record"),
        ));
    }
    let spr = usize::try_from(spr).unwrap_or(usize::MAX);
    let mut s = SignalHeader {
        label: label.clone(),
        unit: text(raw(DIMENSION).0),
        pmin: 0.0,
        pmax: 1.0,
        dmin: DMIN,
        dmax: DMAX,
        spr,
        annotations,
    };
    if !annotations {
        let (pmin, pmax) = (num_f(PMIN)?, num_f(PMAX)?);
        for (v, f) in [(pmin, PMIN), (pmax, PMAX)] {
            if !v.is_finite() {
                return Err(InputError::edf(
                    path,
                    place(f),
                    format!("{v} is not a finite number"),
                ));
            }
        }
        if pmax == pmin {
            return Err(InputError::edf(
                path,
                place(PMAX),
                format!("equals the physical minimum ({pmin})"),
            ));
        }
        let (dmin, dmax) = (num_i(DMIN_F)?, num_i(DMAX_F)?);
        for (v, f) in [(dmin, DMIN_F), (dmax, DMAX_F)] {
            if !(i64::from(DMIN)..=i64::from(DMAX)).contains(&v) {
                return Err(InputError::edf(
                    path,
                    place(f),
                    format!("{v} is outside the 16-bit range -32768..=32767"),
                ));
            }
        }
        if dmax <= dmin {
            return Err(InputError::edf(
                path,
                place(DMAX_F),
                format!("{dmax} is not above the digital minimum ({dmin})"),
            ));
        }
        (s.pmin, s.pmax) = (pmin, pmax);
        (s.dmin, s.dmax) = (dmin as i32, dmax as i32);
    }
    Ok(s)
}

/// The error for data record `k` (1-based) cut short by the end of the file.
fn truncated(
    path: &Path,
    k: usize,
    of: Option<usize>,
    header: usize,
    rb: usize,
    bytes: &[u8],
) -> InputError {
    let at = header + (k - 1) * rb;
    let of = of.map(|n| format!(" of {n}")).unwrap_or_default();
    InputError::edf(
        path,
        format!("data record {k}{of} (byte {at})"),
        format!(
            "truncated: a data record has {rb} bytes, but the file ends at byte {}",
            bytes.len()
        ),
    )
}

/// Writes `leads` as an EDF file at `path`, atomically.
///
/// Data records last 1 s when every rate is an integer, else the fewest whole seconds (up to
/// 1000) that hold a whole number of samples of every lead. Each lead is mapped linearly from
/// its own minimum..maximum (widened to 8-character decimals) onto the digital range
/// -32768..=32767, so a value read back is within one digital step, `(max - min) / 65535`, of
/// the value written. A lead that does not fill its last data record is padded with its last
/// sample (EDF has no shorter record), so it reads back longer by less than one record. Leads
/// must be as long as each other in data records, have finite samples, names of at most 16
/// and units of at most 8 printable ASCII characters.
pub fn write_edf(path: &Path, leads: &[Lead]) -> Result<(), InputError> {
    let bad = |m: String| InputError::invalid(path, m);
    if leads.is_empty() || leads.len() > 9999 {
        return Err(bad(format!("{} leads: EDF holds 1 to 9999", leads.len())));
    }
    for (i, l) in leads.iter().enumerate() {
        if !(l.fs.is_finite() && l.fs > 0.0) {
            return Err(bad(format!("lead {i} (`{}`): rate {} Hz", l.name, l.fs)));
        }
        if l.samples.is_empty() {
            return Err(bad(format!("lead {i} (`{}`) has no samples", l.name)));
        }
        if let Some(k) = l.samples.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "lead {i} (`{}`) sample {k} is {}: EDF stores only finite values",
                l.name, l.samples[k]
            )));
        }
        for (what, s, max) in [("name", &l.name, 16), ("unit", &l.unit, 8)] {
            if s.len() > max || s.bytes().any(|b| !(b == b' ' || b.is_ascii_graphic())) {
                return Err(bad(format!(
                    "lead {i} {what} `{s}`: EDF takes at most {max} printable ASCII characters"
                )));
            }
        }
    }
    let Some(duration) = (1..=1000u32).find(|&d| {
        leads.iter().all(|l| {
            let x = l.fs * f64::from(d);
            (x - x.round()).abs() <= 1e-9 * x.max(1.0) && x.round() <= 99_999_999.0
        })
    }) else {
        return Err(bad(
            "no data record duration of 1 to 1000 s holds a whole number of samples of every \
             lead"
                .into(),
        ));
    };
    let spr: Vec<usize> = leads
        .iter()
        .map(|l| (l.fs * f64::from(duration)).round() as usize)
        .collect();
    let records = leads[0].samples.len().div_ceil(spr[0]);
    for (i, (l, &n)) in leads.iter().zip(&spr).enumerate() {
        let r = l.samples.len().div_ceil(n);
        if r != records {
            return Err(bad(format!(
                "lead {i} (`{}`) fills {r} data records of {duration} s, lead 0 fills {records}",
                l.name
            )));
        }
        if r * n != l.samples.len() {
            tracing::debug!(
                file = %path.display(),
                lead = i,
                padding = r * n - l.samples.len(),
                "last data record padded with the lead's last sample"
            );
        }
    }
    if records > 99_999_999 {
        return Err(bad(format!(
            "{records} data records: EDF holds at most 99999999"
        )));
    }
    let ranges: Vec<(String, String, f64, f64)> = leads
        .iter()
        .enumerate()
        .map(|(i, l)| {
            physical_range(l).ok_or_else(|| {
                bad(format!(
                    "lead {i} (`{}`): values too large for EDF's 8-character physical range",
                    l.name
                ))
            })
        })
        .collect::<Result<_, _>>()?;

    let ns = leads.len();
    let mut out = Vec::with_capacity(BLOCK * (ns + 1) + records * 2 * spr.iter().sum::<usize>());
    let mut field = |s: &str, len: usize| {
        let b = s.as_bytes();
        out.extend_from_slice(&b[..b.len().min(len)]);
        out.resize(out.len() + len.saturating_sub(b.len()), b' ');
    };
    field("0", 8);
    field("X", 80);
    field("X", 80);
    field("01.01.85", 8);
    field("00.00.00", 8);
    field(&(BLOCK * (ns + 1)).to_string(), 8);
    field("", 44);
    field(&records.to_string(), 8);
    field(&duration.to_string(), 8);
    field(&ns.to_string(), 4);
    for l in leads {
        field(&l.name, 16);
    }
    for _ in leads {
        field("", 80);
    }
    for l in leads {
        field(&l.unit, 8);
    }
    for r in &ranges {
        field(&r.0, 8);
    }
    for r in &ranges {
        field(&r.1, 8);
    }
    for _ in leads {
        field(&DMIN.to_string(), 8);
    }
    for _ in leads {
        field(&DMAX.to_string(), 8);
    }
    for _ in leads {
        field("", 80);
    }
    for &n in &spr {
        field(&n.to_string(), 8);
    }
    for _ in leads {
        field("", 32);
    }
    let digital: Vec<Vec<i16>> = leads
        .par_iter()
        .zip(&ranges)
        .map(|(l, &(_, _, pmin, pmax))| {
            let k = f64::from(DMAX - DMIN) / (pmax - pmin);
            l.samples
                .iter()
                .map(|&x| {
                    let d = ((f64::from(x) - pmin) * k + f64::from(DMIN)).round();
                    d.clamp(f64::from(DMIN), f64::from(DMAX)) as i16
                })
                .collect()
        })
        .collect();
    for r in 0..records {
        for (d, &n) in digital.iter().zip(&spr) {
            let last = d[d.len() - 1];
            for t in r * n..(r + 1) * n {
                out.extend_from_slice(&d.get(t).copied().unwrap_or(last).to_le_bytes());
            }
        }
    }
    wonhee_fs::write_atomic(path, &out)?;
    Ok(())
}

/// A lead's physical minimum and maximum as EDF fields (at most 8 characters, the minimum
/// rounded down and the maximum up) and their values; `None` when they do not fit.
fn physical_range(l: &Lead) -> Option<(String, String, f64, f64)> {
    let (lo, hi) = l
        .samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(f64::from(x)), b.max(f64::from(x)))
        });
    let lo_s = edf_number(lo, false)?;
    let lo_v: f64 = lo_s.parse().ok()?;
    let mut hi_s = edf_number(hi, true)?;
    let mut hi_v: f64 = hi_s.parse().ok()?;
    if hi_v <= lo_v {
        hi_s = edf_number(lo_v + 1.0, true)?;
        hi_v = hi_s.parse().ok()?;
    }
    Some((lo_s, hi_s, lo_v, hi_v))
}

/// `x` as a decimal of at most 8 characters with as many fractional digits as fit, rounded
/// down (or `up`), so that the value written is `<= x` (or `>= x`).
fn edf_number(x: f64, up: bool) -> Option<String> {
    for dec in (0..=7i32).rev() {
        let p = 10f64.powi(dec);
        let r = if up { (x * p).ceil() } else { (x * p).floor() };
        for nudge in [0.0, 1.0] {
            let r = if up { r + nudge } else { r - nudge } + 0.0;
            let s = format!("{:.*}", dec as usize, r / p);
            if s.len() > 8 {
                break;
            }
            let v: f64 = s.parse().ok()?;
            if (up && v >= x) || (!up && v <= x) {
                return Some(s);
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fit_eight_characters_on_the_safe_side() {
        for (x, up, want) in [
            (1.0, true, "1.000000"),
            (-3.123456789, false, "-3.12346"),
            (-3.123456789, true, "-3.12345"),
            (12345.678, true, "12345.68"),
            (-0.0, false, "0.000000"),
            (99_999_999.0, true, "99999999"),
            (1e-9, true, "0.000001"),
            (1e-9, false, "0.000000"),
        ] {
            assert_eq!(edf_number(x, up).as_deref(), Some(want), "{x} {up}");
        }
        assert_eq!(edf_number(1e9, true), None);
        assert_eq!(edf_number(-1e8, false), None);
    }

    #[test]
    fn a_constant_lead_gets_a_range() {
        let l = Lead {
            name: "a".into(),
            unit: "mV".into(),
            fs: 1.0,
            samples: vec![0.5; 4],
        };
        let (lo, hi, a, b) = physical_range(&l).unwrap();
        assert!(a <= 0.5 && b > a, "{lo} {hi}");
    }
}
