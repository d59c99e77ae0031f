//! Writing records (formats 8, 16, 80, 212, 310 and 311) and annotation files, atomically.
//!
//! Used to make test fixtures and synthetic records; every file is written with
//! [`wonhee_fs::write_atomic`] (a temporary file in the destination folder, renamed into place),
//! so a failed write leaves nothing behind.

use std::path::{Path, PathBuf};

use wonhee_fs::write_atomic;

use crate::annotation::{Annotation, Annotations};
use crate::error::{Result, WfdbError};
use crate::format;
use crate::header::{Format, Header, SignalSpec};
use crate::record::split_record_path;

/// One signal to write: its header line (file name and format are set by the writer) and its
/// digital samples.
#[derive(Clone, Debug)]
pub struct SignalData {
    /// Gain, baseline, units, ADC fields and description; `file_name`, `format`, `init_value`
    /// and `checksum` are filled in by [`write_record`].
    pub spec: SignalSpec,
    /// Digital samples.
    pub samples: Vec<i32>,
}

/// Writes `<dir>/<name>.dat` (all signals interleaved in one file) and `<dir>/<name>.hea`.
///
/// Formats 8, 16, 80, 212, 310 and 311 are written. Returns the header path. Samples outside
/// the format's range, and in format 8 differences between consecutive samples outside
/// -128..=127, are an error, not clipped. Each signal's initial value is its first sample.
pub fn write_record(
    dir: &Path,
    name: &str,
    fs: f64,
    format: Format,
    signals: &[SignalData],
    comments: &[String],
) -> Result<PathBuf> {
    let hea_path = dir.join(format!("{name}.hea"));
    if !matches!(
        format,
        Format::F8 | Format::F16 | Format::F80 | Format::F212 | Format::F310 | Format::F311
    ) {
        return Err(WfdbError::unsupported(
            &hea_path,
            format!("writing format {}", format.code()),
        ));
    }
    if name.is_empty() || name.contains(['/', '\\', '\0', ' ']) {
        return Err(WfdbError::invalid(
            &hea_path,
            format!("bad record name `{name}`"),
        ));
    }
    if !(fs.is_finite() && fs > 0.0) {
        return Err(WfdbError::invalid(
            &hea_path,
            format!("sampling frequency {fs} is not positive"),
        ));
    }
    let n = signals.first().map_or(0, |s| s.samples.len());
    let (lo, hi) = format.digital_range();
    for (i, s) in signals.iter().enumerate() {
        if s.samples.len() != n {
            return Err(WfdbError::invalid(
                &hea_path,
                format!(
                    "signal {i} has {} samples, signal 0 has {n}",
                    s.samples.len()
                ),
            ));
        }
        if let Some(pos) = s.samples.iter().position(|v| !(lo..=hi).contains(v)) {
            return Err(WfdbError::invalid(
                &hea_path,
                format!(
                    "signal {i} sample {pos} = {} is outside format {} range {lo}..={hi}",
                    s.samples[pos],
                    format.code()
                ),
            ));
        }
        if format == Format::F8 {
            let step = |w: &[i32]| i64::from(w[1]) - i64::from(w[0]);
            if let Some(pos) = s
                .samples
                .windows(2)
                .position(|w| !(-128..=127).contains(&step(w)))
            {
                return Err(WfdbError::invalid(
                    &hea_path,
                    format!(
                        "signal {i} sample {}: difference {} from the previous sample is outside format 8 range -128..=127",
                        pos + 1,
                        step(&s.samples[pos..pos + 2])
                    ),
                ));
            }
        }
        if s.spec.description.contains(['\n', '\r']) || s.spec.units.contains(char::is_whitespace) {
            return Err(WfdbError::invalid(
                &hea_path,
                format!("signal {i}: description or units not writable"),
            ));
        }
    }
    if comments.iter().any(|c| c.contains(['\n', '\r'])) {
        return Err(WfdbError::invalid(
            &hea_path,
            "comments must be single lines",
        ));
    }
    let dat_name = format!("{name}.dat");
    let header = Header {
        name: name.to_owned(),
        fs,
        counter_freq: None,
        base_counter: None,
        sig_len: Some(n as u64),
        base_time: None,
        base_date: None,
        signals: signals
            .iter()
            .map(|s| {
                let mut spec = s.spec.clone();
                spec.file_name = dat_name.clone();
                spec.format = format;
                spec.samples_per_frame = 1;
                spec.skew = 0;
                spec.byte_offset = 0;
                spec.init_value = s.samples.first().copied().unwrap_or(spec.adc_zero);
                spec.checksum = Some(
                    s.samples
                        .iter()
                        .fold(0u16, |a, &v| a.wrapping_add(v as u16)) as i16,
                );
                spec
            })
            .collect(),
        comments: comments.to_vec(),
        segments: Vec::new(),
        segment_n_sig: 0,
    };
    let refs: Vec<&[i32]> = signals.iter().map(|s| s.samples.as_slice()).collect();
    let mut bytes = Vec::new();
    format::encode(format, &refs, &mut bytes);
    // Signal file first: a header never points at a missing or partial signal file.
    write_atomic(&dir.join(&dat_name), &bytes)?;
    write_atomic(&hea_path, header.to_text().as_bytes())?;
    Ok(hea_path)
}

/// Writes `<record>.<annotator>` in MIT format. `record` is a record path without extension.
pub fn write_annotations(
    record: &Path,
    annotator: &str,
    annotations: &[Annotation],
) -> Result<PathBuf> {
    let (dir, name) = split_record_path(record)?;
    let path = dir.join(format!("{name}.{annotator}"));
    if annotator.is_empty() || annotator.contains(['/', '\\', '\0']) {
        return Err(WfdbError::invalid(
            &path,
            format!("bad annotator name `{annotator}`"),
        ));
    }
    let bytes = Annotations::encode(annotations, &path)?;
    write_atomic(&path, &bytes)?;
    Ok(path)
}
