//! CSV, TSV and whitespace-separated text: one row per sample, one column per lead, an
//! optional header and an optional leading time column.
//!
//! The file is read once; the rows after the first line are cut into chunks at line
//! boundaries and parsed in parallel, each cell by [`crate::float::parse_f32`]. Line numbers
//! are only counted when an error needs one.

use std::path::Path;

use rayon::prelude::*;

use crate::error::{Column, InputError};
use crate::float::{parse_f32, parse_f32_prefix, parse_f64, parse_f64_prefix};
use crate::{Lead, ReadOptions};

/// How the cells of a row are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sep {
    /// One byte: `,`, `;` or tab; empty cells are missing samples.
    Byte(u8),
    /// Runs of spaces (and tabs); no empty cells.
    Spaces,
}

/// Header names of a time column (compared ignoring ASCII case) and their unit in seconds.
const TIME_NAMES: [(&str, f64); 5] = [
    ("time", 1.0),
    ("time_s", 1.0),
    ("t", 1.0),
    ("seconds", 1.0),
    ("time_ms", 1e-3),
];

/// The smallest chunk parsed on its own thread.
const MIN_CHUNK: usize = 1 << 18;

/// A chunk's rows, column by column.
struct Piece {
    leads: Vec<Vec<f32>>,
    time: Vec<f64>,
}

/// A problem in a chunk: the byte offset of its line's start (in the chunk, then in the
/// data), the 0-based column, and what is wrong.
struct CellError {
    at: usize,
    column: Option<usize>,
    message: String,
}

/// Reads the leads of a CSV file.
pub(crate) fn read(path: &Path, opts: &ReadOptions) -> Result<Vec<Lead>, InputError> {
    let bytes = std::fs::read(path).map_err(|e| InputError::io(path, e))?;
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);

    // The first non-blank line: a header, or the first row.
    let (mut pos, mut line_no) = (0usize, 1usize);
    let (first, after_first) = loop {
        if pos >= text.len() {
            return Err(InputError::invalid(
                path,
                "empty file: no header and no rows",
            ));
        }
        let end = find_newline(text, pos);
        let line = &text[pos..end];
        if !is_blank(line) {
            break (line, (end + 1).min(text.len()));
        }
        pos = end + 1;
        line_no += 1;
    };
    let sep = detect_sep(first);
    let fields = split_fields(first, sep);
    let header = fields
        .iter()
        .any(|f| !f.is_empty() && parse_f64(f).is_none());
    let ncols = fields.len();
    let names: Vec<String> = if header {
        fields
            .iter()
            .enumerate()
            .map(|(i, f)| match String::from_utf8_lossy(f).trim() {
                "" => i.to_string(),
                s => s.to_owned(),
            })
            .collect()
    } else {
        (0..ncols).map(|i| i.to_string()).collect()
    };
    let time_scale = |name: &str| {
        TIME_NAMES
            .iter()
            .find(|(t, _)| name.eq_ignore_ascii_case(t))
            .map(|&(_, s)| s)
    };
    let time = if header { time_scale(&names[0]) } else { None };
    if header && let Some(j) = (1..ncols).find(|&j| time_scale(&names[j]).is_some()) {
        return Err(InputError::Csv {
            path: path.to_path_buf(),
            line: line_no,
            column: Some(Column {
                index: j + 1,
                name: names[j].clone(),
            }),
            message: "a time column must be the first column".into(),
        });
    }
    let has_time = time.is_some();
    if ncols == usize::from(has_time) {
        return Err(InputError::Csv {
            path: path.to_path_buf(),
            line: line_no,
            column: None,
            message: "no lead columns".into(),
        });
    }
    if let Some(fs) = opts.fs
        && !(fs.is_finite() && fs > 0.0)
    {
        return Err(InputError::invalid(
            path,
            format!("sampling rate {fs} Hz: it must be a positive number"),
        ));
    }
    if !has_time && opts.fs.is_none() {
        return Err(InputError::invalid(
            path,
            "no time column: give the sampling rate (--fs)",
        ));
    }

    let (data_start, data_line) = if header {
        (after_first, line_no + 1)
    } else {
        (pos, line_no)
    };
    let data = &text[data_start..];
    let bounds = chunk_bounds(data);
    let pieces: Vec<Result<Piece, CellError>> = (0..bounds.len() - 1)
        .into_par_iter()
        .map(|c| {
            parse_chunk(&data[bounds[c]..bounds[c + 1]], sep, ncols, has_time).map_err(|mut e| {
                e.at += bounds[c];
                e
            })
        })
        .collect();
    let mut parts = Vec::with_capacity(pieces.len());
    for p in pieces {
        match p {
            Ok(p) => parts.push(p),
            Err(e) => {
                return Err(InputError::Csv {
                    path: path.to_path_buf(),
                    line: data_line + count_newlines(&data[..e.at]),
                    column: e.column.map(|j| Column {
                        index: j + 1,
                        name: names[j].clone(),
                    }),
                    message: e.message,
                });
            }
        }
    }
    let rows: usize = parts.iter().map(|p| p.leads[0].len()).sum();
    if rows == 0 {
        return Err(InputError::invalid(
            path,
            format!("no rows after the header (line {line_no})"),
        ));
    }

    let fs = match time {
        Some(scale) => {
            let t = concat(parts.iter().map(|p| p.time.as_slice()), rows);
            let row_error = |row: usize, message: String| InputError::Csv {
                path: path.to_path_buf(),
                line: line_of_row(data, data_line, row),
                column: Some(Column {
                    index: 1,
                    name: names[0].clone(),
                }),
                message,
            };
            rate_from_times(&t, scale, opts.fs, row_error)?
        }
        None => opts.fs.unwrap_or(f64::NAN),
    };
    let lead_names = &names[usize::from(has_time)..];
    let mut columns: Vec<Vec<&[f32]>> = vec![Vec::with_capacity(parts.len()); lead_names.len()];
    for p in &parts {
        for (c, l) in columns.iter_mut().zip(&p.leads) {
            c.push(l);
        }
    }
    Ok(lead_names
        .par_iter()
        .zip(columns)
        .map(|(name, pieces)| Lead {
            name: name.clone(),
            unit: String::new(),
            fs,
            samples: concat(pieces.into_iter(), rows),
        })
        .collect())
}

/// The sampling rate of the time stamps `t` (in units of `scale` seconds): strictly
/// increasing, every step within 1% of the median step; the rate is the number of steps over
/// the time they span (snapped to an integer within 1e-6 of one), checked against `given`.
fn rate_from_times(
    t: &[f64],
    scale: f64,
    given: Option<f64>,
    row_error: impl Fn(usize, String) -> InputError,
) -> Result<f64, InputError> {
    if t.len() < 2 {
        return given.ok_or_else(|| {
            row_error(
                0,
                "one row: the time column cannot give the sampling rate (give it with --fs)".into(),
            )
        });
    }
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for w in t.windows(2) {
        let step = w[1] - w[0];
        lo = lo.min(step);
        hi = hi.max(step);
    }
    if lo <= 0.0 {
        let i = t.windows(2).position(|w| w[1] <= w[0]).unwrap_or(0);
        return Err(row_error(
            i + 1,
            format!(
                "time {} does not increase (the row before has {})",
                t[i + 1],
                t[i]
            ),
        ));
    }
    // Steps within 1% of the smallest are within 1% of the median: no median needed.
    if hi > 1.01 * lo {
        let mut steps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mid = steps.len() / 2;
        let median = *steps.select_nth_unstable_by(mid, f64::total_cmp).1;
        if let Some(i) = t
            .windows(2)
            .position(|w| (w[1] - w[0] - median).abs() > 0.01 * median)
        {
            return Err(row_error(
                i + 1,
                format!(
                    "time step {} differs from the median step {median} by more than 1%: the \
                     rows are not evenly spaced (or the times are rounded too coarsely)",
                    t[i + 1] - t[i]
                ),
            ));
        }
    }
    let span = (t[t.len() - 1] - t[0]) * scale;
    let mut fs = (t.len() - 1) as f64 / span;
    if (fs - fs.round()).abs() <= 1e-6 * fs {
        fs = fs.round();
    }
    if !(fs.is_finite() && fs > 0.0) {
        return Err(row_error(
            0,
            format!("the time column gives a sampling rate of {fs} Hz"),
        ));
    }
    if let Some(g) = given
        && (g - fs).abs() > 0.01 * fs
    {
        return Err(row_error(
            0,
            format!("the time column gives {fs} Hz, but the sampling rate given is {g} Hz"),
        ));
    }
    Ok(fs)
}

/// Parses the rows of one chunk (whole lines).
fn parse_chunk(s: &[u8], sep: Sep, ncols: usize, has_time: bool) -> Result<Piece, CellError> {
    let nleads = ncols - usize::from(has_time);
    let guess = s.len() / (ncols * 8 + 1) + 1;
    let mut leads: Vec<Vec<f32>> = (0..nleads).map(|_| Vec::with_capacity(guess)).collect();
    let mut time = Vec::with_capacity(if has_time { guess } else { 0 });
    let n = s.len();
    let mut i = 0;
    while i < n {
        let line_start = i;
        let mut j = i;
        while j < n && (s[j] == b' ' || s[j] == b'\r') {
            j += 1;
        }
        if j == n {
            break;
        }
        if s[j] == b'\n' {
            i = j + 1;
            continue;
        }
        let wrong_count = |i: usize| {
            let end = find_newline(s, i);
            let got = split_fields(&s[line_start..end], sep).len();
            CellError {
                at: line_start,
                column: None,
                message: format!("{got} fields, expected {ncols} (as on the first line)"),
            }
        };
        for c in 0..ncols {
            // The common case: a plain decimal right up to its separator or the line's end.
            if let Sep::Byte(d) = sep {
                let last = c + 1 == ncols;
                let after = |e: usize| match s.get(e) {
                    Some(&b) if b == d && !last => Some(e + 1),
                    None if last => Some(e),
                    Some(b'\n') if last => Some(e + 1),
                    Some(b'\r') if last && matches!(s.get(e + 1), None | Some(b'\n')) => {
                        Some(e + 2)
                    }
                    _ => None,
                };
                if has_time && c == 0 {
                    if let Some((t, e)) = parse_f64_prefix(s, i)
                        && let Some(next) = after(e)
                    {
                        time.push(t);
                        i = next;
                        continue;
                    }
                } else if let Some((v, e)) = parse_f32_prefix(s, i)
                    && let Some(next) = after(e)
                {
                    leads[c - usize::from(has_time)].push(v);
                    i = next;
                    continue;
                }
            }
            let (start, end) = match sep {
                Sep::Byte(d) => {
                    let mut e = i;
                    while e < n && s[e] != d && s[e] != b'\n' {
                        e += 1;
                    }
                    (i, e)
                }
                Sep::Spaces => {
                    let mut b = i;
                    while b < n && matches!(s[b], b' ' | b'\t' | b'\r') {
                        b += 1;
                    }
                    let mut e = b;
                    while e < n && !matches!(s[e], b' ' | b'\t' | b'\r' | b'\n') {
                        e += 1;
                    }
                    (b, e)
                }
            };
            let mut next = end;
            if sep == Sep::Spaces {
                while next < n && matches!(s[next], b' ' | b'\t' | b'\r') {
                    next += 1;
                }
            }
            let at_eol = next == n || s[next] == b'\n';
            if (c + 1 < ncols) == at_eol || (sep == Sep::Spaces && start == end) {
                return Err(wrong_count(i));
            }
            let cell = trim_cell(&s[start..end]);
            let bad = |message: String| CellError {
                at: line_start,
                column: Some(c),
                message,
            };
            if has_time && c == 0 {
                match parse_f64(cell) {
                    Some(t) if t.is_finite() => time.push(t),
                    Some(t) if t.is_nan() => return Err(bad("missing time".into())),
                    None if cell.is_empty() => return Err(bad("missing time".into())),
                    Some(_) => {
                        return Err(bad(format!(
                            "`{}` is not a finite time",
                            String::from_utf8_lossy(cell)
                        )));
                    }
                    None => return Err(bad(not_a_number(cell))),
                }
            } else {
                let v = if cell.is_empty() {
                    f32::NAN
                } else {
                    match parse_f32(cell) {
                        Some(v) if !v.is_infinite() => v,
                        Some(_) => {
                            return Err(bad(format!(
                                "`{}` is not a finite 32-bit number",
                                String::from_utf8_lossy(cell)
                            )));
                        }
                        None => return Err(bad(not_a_number(cell))),
                    }
                };
                leads[c - usize::from(has_time)].push(v);
            }
            // Past the separator or the newline; a space-separated field starts at `next`.
            i = if sep == Sep::Spaces && !at_eol {
                next
            } else {
                next + 1
            };
        }
    }
    Ok(Piece { leads, time })
}

fn not_a_number(cell: &[u8]) -> String {
    let text = String::from_utf8_lossy(cell);
    if cell.contains(&b',') {
        format!("`{text}` is not a number (decimal commas are not read: use a point)")
    } else {
        format!("`{text}` is not a number")
    }
}

/// Chunk boundaries of `s` at line starts: about four chunks per thread, none smaller than
/// [`MIN_CHUNK`] (one chunk for small files).
fn chunk_bounds(s: &[u8]) -> Vec<usize> {
    let want = (rayon::current_num_threads() * 4).max(1);
    let n = (s.len() / MIN_CHUNK).clamp(1, want);
    let mut bounds = vec![0];
    for k in 1..n {
        let p = (k * s.len() / n).max(bounds[bounds.len() - 1]);
        let p = (find_newline(s, p) + 1).min(s.len());
        if p > bounds[bounds.len() - 1] && p < s.len() {
            bounds.push(p);
        }
    }
    bounds.push(s.len());
    bounds
}

/// The cell separator of a file, from its first line: tab, then `;`, then `,`, then spaces.
fn detect_sep(line: &[u8]) -> Sep {
    if line.contains(&b'\t') {
        Sep::Byte(b'\t')
    } else if line.contains(&b';') {
        Sep::Byte(b';')
    } else if line.contains(&b',') {
        Sep::Byte(b',')
    } else if trim_cell(line).contains(&b' ') {
        Sep::Spaces
    } else {
        Sep::Byte(b',')
    }
}

/// The trimmed cells of one line.
fn split_fields(line: &[u8], sep: Sep) -> Vec<&[u8]> {
    match sep {
        Sep::Byte(d) => line.split(|&b| b == d).map(trim_cell).collect(),
        Sep::Spaces => line
            .split(|&b| matches!(b, b' ' | b'\t' | b'\r'))
            .filter(|f| !f.is_empty())
            .map(trim_cell)
            .collect(),
    }
}

/// A cell without surrounding spaces, carriage return and double quotes.
#[inline]
fn trim_cell(mut c: &[u8]) -> &[u8] {
    while let [b' ' | b'\r' | b'\t', rest @ ..] = c {
        c = rest;
    }
    while let [rest @ .., b' ' | b'\r' | b'\t'] = c {
        c = rest;
    }
    if let [b'"', inner @ .., b'"'] = c {
        c = inner;
    }
    c
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == b' ' || b == b'\r')
}

/// The index of the first `\n` at or after `from`, or `s.len()`.
fn find_newline(s: &[u8], from: usize) -> usize {
    s.get(from..)
        .and_then(|t| t.iter().position(|&b| b == b'\n'))
        .map_or(s.len(), |k| from + k)
}

fn count_newlines(s: &[u8]) -> usize {
    s.iter().filter(|&&b| b == b'\n').count()
}

/// The 1-based line of data row `row` (blank lines are no rows); `first_line` is the line
/// `data` starts on.
fn line_of_row(data: &[u8], first_line: usize, row: usize) -> usize {
    let (mut pos, mut line, mut seen) = (0, first_line, 0);
    while pos < data.len() {
        let end = find_newline(data, pos);
        if !is_blank(&data[pos..end]) {
            if seen == row {
                return line;
            }
            seen += 1;
        }
        pos = end + 1;
        line += 1;
    }
    line
}

/// The slices joined into one vector of `len` values.
fn concat<'a, T: Copy + 'a>(parts: impl Iterator<Item = &'a [T]>, len: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_detected_from_the_first_line() {
        assert_eq!(detect_sep(b"a\tb,c"), Sep::Byte(b'\t'));
        assert_eq!(detect_sep(b"a;b,c"), Sep::Byte(b';'));
        assert_eq!(detect_sep(b"a,b"), Sep::Byte(b','));
        assert_eq!(detect_sep(b" a  b "), Sep::Spaces);
        assert_eq!(detect_sep(b" a "), Sep::Byte(b','));
    }

    #[test]
    fn chunks_start_on_lines_and_cover_everything() {
        let text: Vec<u8> = (0..200_000)
            .flat_map(|i| format!("{i},{}\n", i * 2).into_bytes())
            .collect();
        let b = chunk_bounds(&text);
        assert!(b.len() > 2, "{b:?}");
        assert_eq!((b[0], b[b.len() - 1]), (0, text.len()));
        for w in b.windows(2) {
            assert!(w[0] < w[1]);
            assert!(w[0] == 0 || text[w[0] - 1] == b'\n');
        }
        assert_eq!(chunk_bounds(b"1\n2\n"), vec![0, 4]);
        assert_eq!(chunk_bounds(b""), vec![0, 0]);
    }

    #[test]
    fn cells_are_trimmed_of_spaces_and_quotes() {
        assert_eq!(trim_cell(b" \"1.5\" \r"), b"1.5");
        assert_eq!(trim_cell(b"\""), b"\"");
        assert_eq!(trim_cell(b""), b"");
    }

    #[test]
    fn rows_are_found_past_blank_lines() {
        let data = b"1\n\n2\n  \n3\n";
        assert_eq!(line_of_row(data, 5, 0), 5);
        assert_eq!(line_of_row(data, 5, 1), 7);
        assert_eq!(line_of_row(data, 5, 2), 9);
    }
}
