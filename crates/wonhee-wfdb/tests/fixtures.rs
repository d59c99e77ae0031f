//! Every record of `fixtures/wfdb` (written with wfdb-python 4.3.1: all formats, samples per
//! frame, skew, byte offsets) read here and compared sample by sample with the values
//! wfdb-python's `rdrecord` read from it (see `fixtures/wfdb/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use wonhee_wfdb::{Record, WfdbError};

mod common;

fn dir() -> PathBuf {
    common::fixture_dir("")
}

fn names() -> Vec<String> {
    common::record_names(&dir())
}

/// One line per signal of `NAME.WHAT.txt`, parsed.
fn expected<T: std::str::FromStr>(name: &str, what: &str) -> Option<Vec<Vec<T>>>
where
    T::Err: std::fmt::Debug,
{
    common::expected_values(&dir(), name, what)
}

fn assert_same(name: &str, what: &str, got: &[i32], want: &[i64]) {
    assert_eq!(got.len(), want.len(), "{name} {what}: length");
    for (m, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(i64::from(*g), *w, "{name} {what}: sample {m}");
    }
}

/// All fixtures are there: every format, samples per frame (formats 8, 16, 24, 32, 160, 212,
/// 310, 516), skew with and without (16, 80, 212, 311), byte offsets, and the FLAC formats
/// (508, 516, 524; a sample offset in 524).
#[test]
fn the_fixture_set_is_complete() {
    let names = names();
    for n in [
        "f8",
        "f16",
        "f24",
        "f32",
        "f61",
        "f80",
        "f160",
        "f212",
        "f310",
        "f311",
        "spf16",
        "spf212",
        "spf310",
        "spf8",
        "spf160",
        "spf24",
        "spf32",
        "skew16",
        "skew212",
        "skewspf16",
        "skewspf212",
        "skewspf80",
        "skewspf311",
        "off16",
        "off212",
        "flac508",
        "flac516",
        "flac524",
        "flacspf",
        "flacoff",
    ] {
        assert!(names.iter().any(|x| x == n), "{n}");
    }
}

/// Each signal at its own rate equals wfdb-python's `smooth_frames=False` read, and the
/// smoothed signals its `smooth_frames=True` read.
#[test]
fn digital_values_equal_wfdb_python() {
    for name in names() {
        let rec = Record::open(dir().join(&name)).unwrap();
        let want: Vec<Vec<i64>> = expected(&name, "expanded").unwrap();
        let sig = rec.read_signals().unwrap();
        let n = rec.header().sig_len.unwrap() as usize;
        assert_eq!(sig.n_frames(), n, "{name}");
        assert_eq!(sig.n_signals(), want.len(), "{name}");
        for (i, w) in want.iter().enumerate() {
            let spf = rec.header().signals[i].samples_per_frame;
            assert_eq!(sig.len_of(i), n * spf as usize, "{name} signal {i}");
            assert_eq!(sig.fs_of(i), rec.header().fs * f64::from(spf));
            assert_same(&name, &format!("signal {i}"), sig.digital(i), w);
        }
        // One signal at a time, and in reverse order, reads the same.
        for (i, w) in want.iter().enumerate() {
            let one = rec.read_selected(&[i]).unwrap();
            assert_same(&name, &format!("signal {i} alone"), one.digital(0), w);
        }
        let rev: Vec<usize> = (0..want.len()).rev().collect();
        let r = rec.read_selected(&rev).unwrap();
        for (slot, &i) in rev.iter().enumerate() {
            assert_same(
                &name,
                &format!("signal {i} reversed"),
                r.digital(slot),
                &want[i],
            );
        }

        let smooth_want: Vec<Vec<i64>> = expected(&name, "smooth").unwrap();
        let smooth = sig.smooth_frames();
        assert!(smooth.is_frame_rate());
        for (i, w) in smooth_want.iter().enumerate() {
            assert_eq!(smooth.fs_of(i), rec.header().fs);
            assert_same(&name, &format!("smoothed signal {i}"), smooth.digital(i), w);
        }
    }
}

/// Physical values (f64, and f32 rounded once) equal wfdb-python's, NaN where it has NaN.
#[test]
fn physical_values_equal_wfdb_python() {
    let mut seen = 0;
    for name in names() {
        let Some(want) = expected::<f64>(&name, "physical") else {
            continue;
        };
        seen += 1;
        let sig = Record::open(dir().join(&name))
            .unwrap()
            .read_signals()
            .unwrap();
        for (i, w) in want.iter().enumerate() {
            let (p64, p32) = (sig.physical_f64(i), sig.physical_f32(i));
            assert_eq!(p64.len(), w.len(), "{name} signal {i}");
            for (m, ((&a, &b), &e)) in p64.iter().zip(&p32).zip(w).enumerate() {
                if e.is_nan() {
                    assert!(a.is_nan() && b.is_nan(), "{name} signal {i} sample {m}");
                } else {
                    // The fixtures hold 9 significant digits.
                    assert!((a - e).abs() <= 1e-8 * e.abs().max(1.0), "{name} {i} {m}");
                    // f32: within its own rounding of the value.
                    let tol = f64::from(f32::EPSILON) * e.abs();
                    assert!(
                        (f64::from(b) - e).abs() <= tol,
                        "{name} signal {i} sample {m}"
                    );
                }
            }
        }
    }
    assert!(seen >= 5);
}

/// The views refuse files with frames or skew, naming the file, and read the others as the
/// whole read does.
#[test]
fn views_read_plain_files_and_refuse_frames_and_skew() {
    for name in names() {
        let rec = Record::open(dir().join(&name)).unwrap();
        let whole = rec.read_signals().unwrap();
        for (i, spec) in rec.header().signals.iter().enumerate() {
            let plain = rec
                .header()
                .signals
                .iter()
                .all(|s| s.samples_per_frame == 1 && s.skew == 0);
            match rec.view(i) {
                Ok(view) => {
                    assert!(plain, "{name}");
                    let mut got = vec![0f32; view.len()];
                    view.physical_into(0, &mut got).unwrap();
                    let want = whole.physical_f32(i);
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.to_bits(), w.to_bits(), "{name} signal {i}");
                    }
                }
                Err(e @ WfdbError::Unsupported { .. }) => {
                    let e = e.to_string();
                    assert!(
                        !plain || spec.format.code() == 8 || spec.format.is_flac(),
                        "{name}: {e}"
                    );
                    if spec.format.is_flac() {
                        assert!(e.contains(&spec.file_name), "{e}");
                    }
                    assert!(e.contains(&format!("{name}.hea")), "{e}");
                    if !plain {
                        assert!(e.contains(&spec.file_name), "{e}");
                    }
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }
}

/// Copies fixture `name` into a temporary folder with its header changed by `edit`.
fn edited(name: &str, edit: impl Fn(&str) -> String) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = dir();
    std::fs::copy(
        src.join(format!("{name}.dat")),
        tmp.path().join(format!("{name}.dat")),
    )
    .unwrap();
    let hea = std::fs::read_to_string(src.join(format!("{name}.hea"))).unwrap();
    let path = tmp.path().join(format!("{name}.hea"));
    std::fs::write(&path, edit(&hea)).unwrap();
    (tmp, path)
}

/// A header claiming more samples per frame, or more frames, than the file holds is an error
/// naming the file and the byte where data runs out, before anything is allocated; a huge
/// skew reads as invalid samples, allocating no more than the file's size.
#[test]
fn huge_claims_are_refused_or_bounded() {
    let (_t, hea) = edited("spf16", |h| h.replacen("16x3:0", "16x4000000000:0", 1));
    let err = Record::open(&hea)
        .unwrap()
        .read_signals()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spf16.dat") && err.contains("truncated"),
        "{err}"
    );

    let (_t, hea) = edited("spf16", |h| {
        h.replacen("spf16 3 250 203", "spf16 3 250 204", 1)
    });
    let err = Record::open(&hea)
        .unwrap()
        .read_signals()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spf16.dat") && err.contains("byte 2436"),
        "{err}"
    );

    // Without a length, such a file holds no whole frame: nothing is read or allocated.
    let (_t, hea) = edited("spf16", |h| {
        h.replacen("16x3:0", "16x4000000000:7", 1)
            .replacen("spf16 3 250 203", "spf16 3 250", 1)
    });
    let sig = Record::open(&hea).unwrap().read_signals().unwrap();
    assert_eq!((sig.n_frames(), sig.len_of(2)), (0, 0));

    let (_t, hea) = edited("skew16", |h| h.replacen("16x1:3", "16x1:4294967295", 1));
    let rec = Record::open(&hea).unwrap();
    let sig = rec.read_signals().unwrap();
    assert!(sig.digital(1).iter().all(|&d| d == -32768));
    let plain: Vec<Vec<i64>> = expected("skew16", "expanded").unwrap();
    assert_same("skew16", "signal 0", sig.digital(0), &plain[0]);
}

/// Without a signal length in the header, the frames are counted from the file's size with
/// all samples of a frame (as wfdb-python infers them).
#[test]
fn the_length_of_a_record_with_frames_is_inferred() {
    let (_t, hea) = edited("spf212", |h| {
        h.replacen("spf212 2 250 203", "spf212 2 250", 1)
    });
    let rec = Record::open(&hea).unwrap();
    assert_eq!(rec.samples_per_signal().unwrap(), Some(203));
    let sig = rec.read_signals().unwrap();
    let want: Vec<Vec<i64>> = expected("spf212", "expanded").unwrap();
    assert_same("spf212", "signal 0", sig.digital(0), &want[0]);
    assert_same("spf212", "signal 1", sig.digital(1), &want[1]);
}

/// Different skews in one file (wfdb-python 4.3.1 fails there: "could not broadcast"): each
/// signal is read from its own later frames, its last `skew` samples invalid.
#[test]
fn different_skews_in_one_file() {
    let (_t, hea) = edited("skew16", |h| {
        h.replacen(
            "skew16.dat 16x1:0 200.0(5)",
            "skew16.dat 16x1:1 200.0(5)",
            1,
        )
    });
    let sig = Record::open(&hea).unwrap().read_signals().unwrap();
    let plain: Vec<Vec<i64>> = expected("skew16", "expanded").unwrap();
    // Signal 0 as stored is what skew 0 gave; with skew 1 it moves one sample earlier.
    let mut want: Vec<i64> = plain[0][1..].to_vec();
    want.push(-32768);
    assert_same("skew16", "signal 0", sig.digital(0), &want);
    assert_same("skew16", "signal 1", sig.digital(1), &plain[1]);
    assert_same("skew16", "signal 2", sig.digital(2), &plain[2]);
}

/// The WARN events of the reads run inside [`warnings`], each as its fields
/// (`name=value` joined by spaces).
#[derive(Default)]
struct Warnings(std::sync::Mutex<Vec<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = String::new();
            event.record(&mut Fields(&mut text));
            self.0.lock().unwrap().push(text);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs `f` on this thread with a subscriber collecting its warnings; returns them.
fn warnings(f: impl FnOnce()) -> Vec<String> {
    let sub = std::sync::Arc::new(Warnings::default());
    tracing::subscriber::with_default(sub.clone(), f);
    sub.0.lock().unwrap().clone()
}

/// Copies fixture `name` with the checksum of signal `i` changed (by one).
fn with_bad_checksum(name: &str, i: usize) -> (tempfile::TempDir, PathBuf) {
    edited(name, |h| {
        let mut lines: Vec<String> = h.lines().map(str::to_owned).collect();
        let line = &mut lines[1 + i];
        let mut fields: Vec<String> = line.split(' ').map(str::to_owned).collect();
        // file format gain(baseline)/units adc_res adc_zero init_value checksum block_size name
        let sum: i64 = fields[6].parse().unwrap();
        fields[6] = (if sum == 32767 { -32768 } else { sum + 1 }).to_string();
        *line = fields.join(" ");
        lines.join("\n") + "\n"
    })
}

/// Checksums are verified on every path (one sample per frame, several, skew, offsets): no
/// fixture warns, and a fixture copied with one signal's checksum changed warns once, naming
/// the file and the signal, its samples still read as stored.
#[test]
fn checksums_are_verified() {
    let got = warnings(|| {
        for name in names() {
            let rec = Record::open(dir().join(&name)).unwrap();
            rec.read_signals().unwrap();
            for i in 0..rec.header().signals.len() {
                rec.read_selected(&[i]).unwrap();
            }
        }
    });
    assert!(got.is_empty(), "{got:?}");

    for (name, i) in [
        ("f16", 0),
        ("spf16", 2),
        ("skewspf212", 1),
        ("off212", 1),
        ("flac516", 1),
        ("flacoff", 0),
    ] {
        let (_t, hea) = with_bad_checksum(name, i);
        let rec = Record::open(&hea).unwrap();
        let mut sig = None;
        let got = warnings(|| sig = Some(rec.read_signals().unwrap()));
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        assert!(
            got[0].contains(&format!("{name}.dat"))
                && got[0].contains(&format!("signal={i} "))
                && got[0].contains("checksum mismatch"),
            "{name}: {got:?}"
        );
        let want: Vec<Vec<i64>> = expected(name, "expanded").unwrap();
        assert_same(name, "signal", sig.unwrap().digital(i), &want[i]);
        // Signals whose checksum holds read without a warning.
        let others: Vec<usize> = (0..want.len()).filter(|&j| j != i).collect();
        let got = warnings(|| {
            rec.read_selected(&others).unwrap();
        });
        assert!(got.is_empty(), "{name}: {got:?}");
    }
}

/// Copies FLAC fixture `name` with its signal file changed by `edit` (header as it is).
fn with_flac_file(name: &str, edit: impl Fn(&mut Vec<u8>)) -> (tempfile::TempDir, PathBuf) {
    let (t, hea) = edited(name, str::to_owned);
    let dat = t.path().join(format!("{name}.dat"));
    let mut bytes = std::fs::read(&dat).unwrap();
    edit(&mut bytes);
    std::fs::write(&dat, bytes).unwrap();
    (t, hea)
}

fn read_err(hea: &Path) -> WfdbError {
    Record::open(hea).unwrap().read_signals().unwrap_err()
}

/// FLAC files: a stream cut short, a corrupted frame, something not FLAC at all, a header whose
/// signal count, format, length, samples per frame, skew or offset disagree with the stream:
/// each an error naming the file (and, where the decoder stops, the sample).
#[test]
fn flac_errors_name_the_file() {
    let dat = |name: &str| format!("{name}.dat");

    // Cut in the middle of the audio frames.
    let (_t, hea) = with_flac_file("flac516", |b| b.truncate(b.len() / 2 + 100));
    let e = read_err(&hea);
    assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains(&dat("flac516")), "{e}");
    // Cut right after the metadata.
    let (_t, hea) = with_flac_file("flac516", |b| b.truncate(20));
    let e = read_err(&hea);
    assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");

    // The frame's CRC-16 footer changed (the fixtures are one FLAC frame each: sample 0).
    let (_t, hea) = with_flac_file("flac524", |b| {
        let at = b.len() - 1;
        b[at] ^= 0x5A;
    });
    let e = read_err(&hea);
    let msg = e.to_string();
    assert!(matches!(e, WfdbError::Flac { sample: 0, .. }), "{msg}");
    assert!(
        msg.contains(&dat("flac524")) && msg.contains("at sample 0") && msg.contains("CRC"),
        "{msg}"
    );
    // A byte inside the audio (after the metadata's 86 bytes) changed: an error (the frame's
    // CRC covers it), never a panic or wrong samples.
    let len = std::fs::metadata(dir().join(dat("flac516"))).unwrap().len() as usize;
    for at in (86..len).step_by(13) {
        let (_t, hea) = with_flac_file("flac516", |b| b[at] ^= 0x24);
        let msg = read_err(&hea).to_string();
        assert!(msg.contains(&dat("flac516")), "{msg}");
    }

    // Not a FLAC stream.
    let (_t, hea) = with_flac_file("flac516", |b| b[..4].copy_from_slice(b"RIFF"));
    let msg = read_err(&hea).to_string();
    assert!(
        msg.contains(&dat("flac516")) && msg.contains("not a FLAC"),
        "{msg}"
    );
    // A metadata block claiming more bytes than the file has.
    let (_t, hea) = with_flac_file("flac516", |b| b[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]));
    let e = read_err(&hea);
    assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");

    // The header names 2 signals in a file of 3 channels.
    let (_t, hea) = edited("flac516", |h| {
        let mut lines: Vec<&str> = h.lines().collect();
        lines.pop();
        lines[0] = "flac516 2 250 203";
        lines.join("\n") + "\n"
    });
    let msg = read_err(&hea).to_string();
    assert!(
        msg.contains(&dat("flac516")) && msg.contains("3 channel(s)") && msg.contains("2 signal"),
        "{msg}"
    );

    // 16-bit samples do not fit format 508; 8-bit ones fit 516 and 524 and read the same.
    let (_t, hea) = edited("flac516", |h| h.replace("516x1", "508x1"));
    let msg = read_err(&hea).to_string();
    assert!(
        msg.contains(&dat("flac516")) && msg.contains("16-bit"),
        "{msg}"
    );
    let want: Vec<Vec<i64>> = expected("flac508", "expanded").unwrap();
    for fmt in ["516", "524"] {
        let (_t, hea) = edited("flac508", |h| h.replace("508x1", &format!("{fmt}x1")));
        let sig = Record::open(&hea).unwrap().read_signals().unwrap();
        for (i, w) in want.iter().enumerate() {
            assert_same("flac508", fmt, sig.digital(i), w);
        }
    }

    // A length past the stream's end.
    let (_t, hea) = edited("flac516", |h| {
        h.replacen("flac516 3 250 203", "flac516 3 250 204", 1)
    });
    let e = read_err(&hea);
    assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&dat("flac516")) && msg.contains("after 203 samples"),
        "{msg}"
    );
    // A huge one is refused before anything is decoded or allocated.
    let (_t, hea) = edited("flac516", |h| {
        h.replacen("flac516 3 250 203", "flac516 3 250 999999999999", 1)
    });
    let msg = read_err(&hea).to_string();
    assert!(
        msg.contains(&dat("flac516")) && msg.contains("at most"),
        "{msg}"
    );
    // An offset past the stream's end.
    let (_t, hea) = edited("flacoff", |h| h.replace("524x1:0+5", "524x1:0+6"));
    let e = read_err(&hea);
    assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");

    // Skew is refused (wfdb-python fails on it too), and so are different samples per frame.
    let (_t, hea) = edited("flac516", |h| h.replacen("516x1:0", "516x1:2", 1));
    let e = read_err(&hea);
    assert!(matches!(e, WfdbError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains(&dat("flac516")), "{e}");
    let (_t, hea) = edited("flacspf", |h| h.replacen("516x2:0", "516x1:0", 1));
    let msg = read_err(&hea).to_string();
    assert!(
        msg.contains(&dat("flacspf")) && msg.contains("samples per frame"),
        "{msg}"
    );
}

/// Without a length in the header, a FLAC file's frames are the stream's STREAMINFO total
/// (less the offset) over the samples per frame (wfdb-python 4.3.1 divides by zero there).
#[test]
fn the_length_of_a_flac_record_comes_from_its_stream() {
    for (name, line) in [
        ("flac508", "flac508 3 250 203"),
        ("flacspf", "flacspf 2 250 203"),
        ("flacoff", "flacoff 2 250 203"),
    ] {
        let (_t, hea) = edited(name, |h| h.replacen(line, &line[..line.len() - 4], 1));
        let rec = Record::open(&hea).unwrap();
        assert_eq!(rec.header().sig_len, None);
        assert_eq!(rec.samples_per_signal().unwrap(), Some(203), "{name}");
        let sig = rec.read_signals().unwrap();
        assert_eq!(sig.n_frames(), 203, "{name}");
        let want: Vec<Vec<i64>> = expected(name, "expanded").unwrap();
        for (i, w) in want.iter().enumerate() {
            assert_same(name, "no length", sig.digital(i), w);
        }
    }
}

/// The FLAC fixtures hold what they are meant to: the range's ends and the invalid value (NaN
/// in physical units) of each format, and negative values.
#[test]
fn flac_fixtures_reach_the_range_ends_and_the_invalid_value() {
    for (name, lo, hi) in [
        ("flac508", -128, 127),
        ("flac516", -32768, 32767),
        ("flac524", -(1 << 23), (1 << 23) - 1),
    ] {
        let sig = Record::open(dir().join(name))
            .unwrap()
            .read_signals()
            .unwrap();
        for i in 0..sig.n_signals() {
            let d = sig.digital(i);
            assert!(
                d.contains(&lo) && d.contains(&hi) && d.contains(&(lo + 1)),
                "{name}"
            );
            assert!(d.iter().any(|&v| v < 0 && v > lo), "{name}");
            let p = sig.physical_f64(i);
            for (&v, &x) in d.iter().zip(&p) {
                assert_eq!(v == lo, x.is_nan(), "{name} signal {i}");
            }
        }
    }
}

/// The fixtures in the formats our writer writes (one format per file, one sample per frame, no
/// skew or offset) are what our writer makes of the same samples, byte for byte: the committed
/// files could have been made by it, and its output is what wfdb-python reads.
#[test]
fn our_writer_makes_the_same_signal_files() {
    use wonhee_wfdb::write::{SignalData, write_record};
    let tmp = tempfile::tempdir().unwrap();
    for name in ["f8", "f16", "f80", "f212", "f310", "f311"] {
        let rec = Record::open(dir().join(name)).unwrap();
        let h = rec.header();
        let signals = rec.read_signals().unwrap();
        let data: Vec<SignalData> = h
            .signals
            .iter()
            .enumerate()
            .map(|(i, spec)| SignalData {
                spec: spec.clone(),
                samples: signals.digital(i).to_vec(),
            })
            .collect();
        let hea = write_record(tmp.path(), name, h.fs, h.signals[0].format, &data, &[]).unwrap();
        let ours = std::fs::read(hea.with_extension("dat")).unwrap();
        let theirs = std::fs::read(dir().join(format!("{name}.dat"))).unwrap();
        assert_eq!(ours, theirs, "{name}.dat differs from our writer's");
        let back = Record::open(&hea).unwrap();
        for (a, b) in back.header().signals.iter().zip(&h.signals) {
            assert_eq!(
                (a.init_value, a.checksum),
                (b.init_value, b.checksum),
                "{name}"
            );
        }
    }
}
