//! `cargo xtask bench <wfdb|signal|prepare|eval|tsne|detect|model|all>`: our code and its
//! Python peer measured side by side in one run, the figures written into a marked section of
//! `docs/benchmarks.md`.
//!
//! Each benchmark owns the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; the
//! rest of the file is left as it is. Without `--python` (or `$WONHEE_PYTHON`) the Python peer
//! is not run and the section says so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cargo;

/// Which benchmark to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Read all 48 records + annotations (criterion vs wfdb-python rdrecord + rdann), and one
    /// synthetic record per signal format (criterion vs rdrecord).
    Wfdb,
    /// `wonhee prepare` on all 48 records vs the same pipeline in numpy/scipy.
    Prepare,
    /// Training-step samples/s of the model, P = 1 and P = 8, vs PyTorch CPU.
    Model,
    /// Resampling and z-scoring one MIT-BIH-sized record (criterion).
    Signal,
    /// Metrics at MIT-BIH scale: bootstrap reports, imputation/forecast accumulation (criterion).
    Eval,
    /// t-SNE of 8,801 class-balanced windows vs openTSNE (quality and time).
    Tsne,
    /// `wonhee detect` on a 24-hour lead (the 48 records' MLII joined) vs NeuroKit2 and XQRS.
    Detect,
    /// `wonhee predict` (detection and the shipped model) on a 30-minute record and on a
    /// 24-hour two-lead recording.
    Predict,
    /// All of the above.
    All,
}

/// Options shared by the benchmarks.
pub struct Options {
    pub root: PathBuf,
    pub data: PathBuf,
    pub python: Option<PathBuf>,
    /// Python with openTSNE and scikit-learn (default: `python`).
    pub tsne_python: Option<PathBuf>,
    /// Only print the section, leave docs/benchmarks.md alone.
    pub dry_run: bool,
    /// Vector kernels of the `model` benchmark.
    pub isa: Isa,
}

/// Which vector kernels `bench model` runs both sides with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Isa {
    /// The machine's widest (AVX-512 where it has it).
    Native,
    /// AVX2 + FMA at most, on both sides: an AVX2-only machine's kernels.
    Avx2,
}

impl Isa {
    /// The docs/benchmarks.md section `bench model` writes with these kernels.
    fn section(self) -> &'static str {
        match self {
            Isa::Native => "model",
            Isa::Avx2 => "model-avx2",
        }
    }
}

/// Environment that holds PyTorch to AVX2 kernels: ATen's vector code, MKL's BLAS and oneDNN.
const TORCH_AVX2_ENV: [(&str, &str); 3] = [
    ("ATEN_CPU_CAPABILITY", "avx2"),
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
];

pub fn run(which: Which, opt: &Options) -> Result<()> {
    if opt.isa == Isa::Avx2 && which != Which::Model {
        bail!("--isa avx2 applies to `cargo xtask bench model` only");
    }
    let list: &[Which] = match which {
        Which::All => &[
            Which::Wfdb,
            Which::Signal,
            Which::Prepare,
            Which::Eval,
            Which::Tsne,
            Which::Detect,
            Which::Predict,
            Which::Model,
        ],
        Which::Wfdb => &[Which::Wfdb],
        Which::Prepare => &[Which::Prepare],
        Which::Model => &[Which::Model],
        Which::Signal => &[Which::Signal],
        Which::Eval => &[Which::Eval],
        Which::Tsne => &[Which::Tsne],
        Which::Detect => &[Which::Detect],
        Which::Predict => &[Which::Predict],
    };
    for &w in list {
        let (name, text) = match w {
            Which::Wfdb => ("wfdb", wfdb(opt)?),
            Which::Prepare => ("prepare", prepare(opt)?),
            Which::Model => (opt.isa.section(), model(opt)?),
            Which::Tsne => ("tsne", tsne(opt)?),
            Which::Detect => ("detect", detect(opt)?),
            Which::Predict => ("predict", predict(opt)?),
            Which::Signal => (
                "signal",
                criterion(
                    opt,
                    "wonhee-signal",
                    "resample",
                    &["record_650k"],
                    "## Signal: resampling one MIT-BIH-sized record (650,000 samples, 360 -> 128 Hz)",
                )?,
            ),
            Which::Eval => (
                "eval",
                criterion(
                    opt,
                    "wonhee-eval",
                    "eval",
                    &[
                        "classification_50k_windows_1000_resamples",
                        "imputation_2000_windows_k370",
                    ],
                    "## Evaluation metrics at MIT-BIH scale",
                )?,
            ),
            Which::All => unreachable!("expanded above"),
        };
        println!("{text}");
        if !opt.dry_run {
            let path = opt.root.join("docs/benchmarks.md");
            write_section(&path, name, &text)?;
            println!("wrote section `{name}` of {}", path.display());
        }
    }
    Ok(())
}

/// One line naming the machine, the time and the load, for every section.
/// The widest vector unit: gemm, pulp and our kernels dispatch on it, and the project's 2-core
/// machines come with AVX-512 or without.
fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return "AVX2, no AVX-512";
        }
    }
    "no AVX2"
}

fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo_field(&info, "model name").unwrap_or("unknown CPU");
    // A virtual machine's model name may be only "AMD EPYC": family and model tell the core
    // generation apart (AMD family 25 = Zen 3/4, 26 = Zen 5), and with it the AVX-512 width.
    let cpu = match (
        cpuinfo_field(&info, "cpu family"),
        cpuinfo_field(&info, "model"),
    ) {
        (Some(f), Some(m)) => format!("{cpu}, family {f} model {m}"),
        _ => cpu.to_owned(),
    };
    let simd = simd_level();
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "Machine: {cpu} ({simd}), {threads} threads; measured {date}, load average {load} at the start."
    )
}

/// The value of the first `key : value` line of `/proc/cpuinfo` text whose key is exactly `key`.
fn cpuinfo_field<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

fn python_peer(opt: &Options, script: &str, args: &[&str]) -> Result<Option<Value>> {
    let Some(py) = &opt.python else {
        println!("Python peer not run: pass --python PATH or set WONHEE_PYTHON");
        return Ok(None);
    };
    let script = opt.root.join("docs/reference-scripts").join(script);
    println!(
        "running {} {} {}",
        py.display(),
        script.display(),
        args.join(" ")
    );
    let out = Command::new(py)
        .arg(&script)
        .args(args)
        .output()
        .with_context(|| format!("starting {}", py.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    Ok(Some(serde_json::from_str(line).with_context(|| {
        format!("{}: output is not JSON: {line}", script.display())
    })?))
}

fn raw_bytes(data: &Path) -> Result<u64> {
    let names = std::fs::read_to_string(data.join("RECORDS"))
        .with_context(|| format!("reading {}", data.join("RECORDS").display()))?;
    let mut total = 0;
    for n in names.split_whitespace() {
        for ext in ["hea", "dat", "atr"] {
            let p = data.join(format!("{n}.{ext}"));
            total += std::fs::metadata(&p)
                .with_context(|| format!("{}", p.display()))?
                .len();
        }
    }
    Ok(total)
}

fn wfdb(opt: &Options) -> Result<String> {
    let target = cargo_bench(opt, "wonhee-wfdb", "read_mitdb", None)?;
    let est = |name: &str| criterion_mean_s(&target, "mitdb", name);
    let (serial, parallel) = (est("read_48_records")?, est("read_48_records_parallel")?);
    let data = opt.data.to_string_lossy();
    let py = python_peer(opt, "bench_wfdb.py", &[&data, "3"])?;
    let mb = raw_bytes(&opt.data)? as f64 / 1e6;
    let mut s = String::new();
    writeln!(
        s,
        "## WFDB reading: all 48 MIT-BIH records, both signals + `atr` annotations\n"
    )?;
    writeln!(s, "{}\n", machine())?;
    writeln!(
        s,
        "```sh\ncargo xtask bench wfdb --python /path/to/venv/bin/python   # peer: docs/reference-scripts/bench_wfdb.py\n```\n"
    )?;
    writeln!(
        s,
        "| reader | time (s) | MB/s of raw files ({mb:.1} MB) | vs wfdb-python |"
    )?;
    writeln!(s, "|---|---|---|---|")?;
    let py_s = py.as_ref().and_then(|v| v["best_s"].as_f64());
    let ratio = |t: f64| py_s.map_or("-".to_owned(), |p| format!("{:.0}x", p / t));
    writeln!(
        s,
        "| wonhee-wfdb, 1 thread (criterion mean) | {serial:.4} | {:.0} | {} |",
        mb / serial,
        ratio(serial)
    )?;
    writeln!(
        s,
        "| wonhee-wfdb, rayon over records | {parallel:.4} | {:.0} | {} |",
        mb / parallel,
        ratio(parallel)
    )?;
    match py_s {
        Some(p) => writeln!(
            s,
            "| wfdb-python rdrecord + rdann (best of 3) | {p:.3} | {:.1} | 1x |",
            mb / p
        )?,
        None => writeln!(s, "| wfdb-python | not run (no --python) | | |")?,
    }
    writeln!(
        s,
        "\nGoal: at least 20x faster than wfdb-python (which is single-threaded); both our figures are shown. The bench binary uses mimalloc, as the `wonhee` binary does."
    )?;
    s.push('\n');
    s.push_str(&wfdb_formats(opt)?);
    Ok(s)
}

/// Every signal format we read, by header number, and whether our writer writes it (the
/// others are written by the Python peer).
const BENCH_FORMATS: [(u16, bool); 13] = [
    (8, true),
    (16, true),
    (24, false),
    (32, false),
    (61, false),
    (80, true),
    (160, false),
    (212, true),
    (310, true),
    (311, true),
    (508, false),
    (516, false),
    (524, false),
];

/// Samples per signal of the per-format records: 30 minutes at 360 Hz, as an MIT-BIH record.
const FORMAT_SAMPLES: usize = 650_000;

/// The two leads of a synthetic 30-minute ECG (xtask's `synth`, 11-bit at 200 adu/mV) brought
/// into `format`'s range: shifted by `format_shift` bits (low bits filled with deterministic
/// dither where it widens them), never the format's invalid value, and for format 8 with every
/// step clipped to -127..=127. Returns the samples and the gain (adu/mV).
fn format_signals(format: wonhee_wfdb::Format, base: &[Vec<i32>; 2]) -> ([Vec<i32>; 2], f64) {
    use rand::{Rng, SeedableRng};
    let k = format_shift(format);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(format.code()));
    let (lo, hi) = format.digital_range();
    let sigs = base.clone().map(|lead| {
        let mut prev: Option<i64> = None;
        lead.iter()
            .map(|&v| {
                let c = i64::from(v) - 1024;
                let mut x = if k >= 0 {
                    let dither = if k > 0 {
                        rng.random_range(0..1i64 << k) - (1i64 << (k - 1))
                    } else {
                        0
                    };
                    (c << k) + dither
                } else {
                    c.div_euclid(1i64 << -k)
                };
                if let Some(p) = prev
                    && format == wonhee_wfdb::Format::F8
                {
                    x = p + (x - p).clamp(-127, 127);
                }
                let x = x.clamp(i64::from(lo) + 1, i64::from(hi));
                prev = Some(x);
                x as i32
            })
            .collect()
    });
    (sigs, 200.0 * 2f64.powi(k))
}

/// Bits the 11-bit synthetic ECG is shifted by for `format` (negative: to the right), so that
/// it uses most of the format's range.
fn format_shift(format: wonhee_wfdb::Format) -> i32 {
    use wonhee_wfdb::Format as F;
    match format {
        F::F80 | F::F508 => -3,
        F::F310 | F::F311 => -1,
        F::F8 | F::F212 => 0,
        F::F16 | F::F61 | F::F160 | F::F516 => 4,
        F::F24 | F::F524 => 12,
        F::F32 => 20,
    }
}

/// [sum, sum of sample * (i % 1021 + 1)] of one signal, as the peer computes them.
fn sample_checks(x: &[i32]) -> [i64; 2] {
    x.iter().enumerate().fold([0, 0], |[s, w], (i, &v)| {
        let v = i64::from(v);
        [s + v, w + v * (i as i64 % 1021 + 1)]
    })
}

/// Reads per record the per-format Python peer times, keeping the best.
const FORMAT_PEER_REPEATS: usize = 20;

/// The per-format table: one synthetic record per format written into a temporary folder
/// (ours where our writer has the format, the others by the Python peer), read whole by our
/// reader (criterion, `benches/read_formats.rs`) and by wfdb-python, whose values are checked
/// against ours before any time is shown.
fn wfdb_formats(opt: &Options) -> Result<String> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let (expected, names, checks) = write_format_records(opt, dir)?;
    let dir_s = dir.to_string_lossy().into_owned();
    let target = cargo_bench(
        opt,
        "wonhee-wfdb",
        "read_formats",
        Some(("WONHEE_WFDB_FORMATS", dir)),
    )?;
    let ours_s = |name: &str| criterion_mean_s(&target, "wfdb_formats", name);
    // Best of 20: one read takes 2-30 ms, and a best of 3 moved by up to 1.7x between runs.
    let py = python_peer(
        opt,
        "bench_wfdb_formats.py",
        &["time", &dir_s, &FORMAT_PEER_REPEATS.to_string()],
    )?;
    if let Some(v) = &py {
        for (name, want) in &checks {
            let got: Vec<[i64; 2]> = v["records"][name]["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| [c[0].as_i64().unwrap_or(0), c[1].as_i64().unwrap_or(0)])
                .collect();
            if &got != want {
                bail!("{name}: wfdb-python reads other values than ours ({got:?} vs {want:?})");
            }
        }
    }

    format_table(dir, &expected, &names, py.as_ref(), &ours_s)
}

/// One benchmark record per format, as generated: name, format code, whether our writer wrote
/// it, and its two signals' samples.
type FormatRecord = (String, u16, bool, [Vec<i32>; 2]);

/// The per-format records written into `dir` (ours by our writer, the others by the peer when
/// there is one), each read back by our reader and checked against what was generated; returns
/// every record in table order, the names of those on disk, and their sample checks.
#[allow(clippy::type_complexity)]
fn write_format_records(
    opt: &Options,
    dir: &Path,
) -> Result<(
    Vec<FormatRecord>,
    Vec<String>,
    std::collections::BTreeMap<String, Vec<[i64; 2]>>,
)> {
    let fs = 360.0;
    let ecg = crate::synth::generate(
        2026,
        fs,
        FORMAT_SAMPLES as f64 / fs,
        &["N", "N", "N", "V", "N", "N", "A", "N", "N", "L"],
    );
    if ecg.leads[0].len() != FORMAT_SAMPLES {
        bail!("synthetic ECG has {} samples", ecg.leads[0].len());
    }
    let mut expected = Vec::new();
    let mut plan = Vec::new();
    for (code, ours) in BENCH_FORMATS {
        let format = wonhee_wfdb::Format::from_code(code).context("format")?;
        let name = format!("f{code}");
        let (sigs, gain) = format_signals(format, &ecg.leads);
        if ours {
            let signals: Vec<wonhee_wfdb::write::SignalData> = sigs
                .iter()
                .zip(["MLII", "V5"])
                .map(|(samples, d)| {
                    let mut spec = wonhee_wfdb::SignalSpec::new("", format, d);
                    spec.gain = gain;
                    wonhee_wfdb::write::SignalData {
                        spec,
                        samples: samples.clone(),
                    }
                })
                .collect();
            wonhee_wfdb::write::write_record(
                dir,
                &name,
                fs,
                format,
                &signals,
                &["synthetic ECG (cargo xtask bench wfdb)".to_owned()],
            )?;
        } else {
            let mut raw = Vec::with_capacity(8 * FORMAT_SAMPLES);
            for v in sigs.iter().flatten() {
                raw.extend_from_slice(&v.to_le_bytes());
            }
            std::fs::write(dir.join(format!("{name}.i32")), raw)?;
            plan.push(serde_json::json!({
                "name": name, "format": code, "fs": fs, "gain": [gain, gain],
                "baseline": [0, 0], "adc_res": [format.default_adc_res(), format.default_adc_res()],
                "sig_name": ["MLII", "V5"],
            }));
        }
        expected.push((name, code, ours, sigs));
    }
    std::fs::write(
        dir.join("plan.json"),
        serde_json::to_string(&serde_json::json!({ "records": plan }))?,
    )?;
    let dir_s = dir.to_string_lossy().into_owned();
    let made: Vec<String> = python_peer(opt, "bench_wfdb_formats.py", &["make", &dir_s])?
        .map(|v| {
            v["made"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // The records on disk, in table order; each read once and checked against what was generated.
    let mut names = Vec::new();
    let mut checks = std::collections::BTreeMap::new();
    for (name, _, ours, sigs) in &expected {
        if !*ours && !made.contains(name) {
            continue;
        }
        let read = wonhee_wfdb::Record::open(dir.join(name))?.read_signals()?;
        for (i, want) in sigs.iter().enumerate() {
            if read.digital(i) != want.as_slice() {
                bail!("{name}: our reader's signal {i} differs from the samples written");
            }
        }
        checks.insert(
            name.clone(),
            sigs.iter().map(|s| sample_checks(s)).collect::<Vec<_>>(),
        );
        names.push(name.clone());
    }
    std::fs::write(dir.join("RECORDS"), names.join("\n") + "\n")?;
    Ok((expected, names, checks))
}

/// The per-format table: ours (`ours_s`, seconds) against the peer's timings `py`.
fn format_table(
    dir: &Path,
    expected: &[FormatRecord],
    names: &[String],
    py: Option<&Value>,
    ours_s: &dyn Fn(&str) -> Result<f64>,
) -> Result<String> {
    let mut s = String::new();
    writeln!(
        s,
        "### Per signal format: one record each, 2 signals x 650,000 samples (30 min at 360 Hz)\n"
    )?;
    writeln!(
        s,
        "A synthetic two-lead ECG (xtask's `synth`, scaled to each format's range) is written once per format into a temporary folder: formats 8, 16, 80, 212, 310 and 311 by `wonhee_wfdb::write::write_record`, the others by the peer (docs/reference-scripts/bench_wfdb_formats.py: `wrsamp` for 24, 32 and FLAC 508/516/524, numpy for 61 and 160). Each is read whole, both signals as digital values: ours `Record::open` + `read_signals`, one thread, criterion mean (benches/read_formats.rs, mimalloc); wfdb-python{} `rdrecord(name, physical=False)`, best of {FORMAT_PEER_REPEATS}, one thread. Before timing, our reader's samples are checked equal to those written and to wfdb-python's (sum and weighted sum per signal).\n",
        py.as_ref()
            .and_then(|v| v["wfdb_version"].as_str())
            .map_or(String::new(), |v| format!(" {v}"))
    )?;
    writeln!(
        s,
        "| format | file MB | ours (ms) | ours MB/s | ours M samples/s | wfdb-python (ms) | ratio | goal (>= 10x) met? |"
    )?;
    writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|")?;
    let mut missed = Vec::new();
    for (name, code, _, _) in expected {
        if !names.contains(name) {
            writeln!(
                s,
                "| {code} | - | not run (needs --python to make) | | | | - | - |"
            )?;
            continue;
        }
        let mb = ["dat", "hea"]
            .iter()
            .map(|e| std::fs::metadata(dir.join(format!("{name}.{e}"))).map(|m| m.len()))
            .sum::<std::io::Result<u64>>()? as f64
            / 1e6;
        let t = ours_s(name)?;
        let py_t = py
            .as_ref()
            .and_then(|v| v["records"][name]["best_s"].as_f64());
        let (py_ms, ratio, goal) = match py_t {
            Some(p) => {
                let r = p / t;
                if r < 10.0 {
                    missed.push(*code);
                }
                (
                    format!("{:.1}", p * 1e3),
                    format!("{r:.1}x"),
                    if r >= 10.0 { "yes" } else { "**no**" }.to_owned(),
                )
            }
            None => (
                "not run (no --python)".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ),
        };
        writeln!(
            s,
            "| {code} | {mb:.2} | {:.2} | {:.0} | {:.0} | {py_ms} | {ratio} | {goal} |",
            t * 1e3,
            mb / t,
            2.0 * FORMAT_SAMPLES as f64 / t / 1e6
        )?;
    }
    let goal = if py.is_none() {
        "not checked (no --python)".to_owned()
    } else if missed.is_empty() {
        "met for every format".to_owned()
    } else {
        format!(
            "missed for format{} {}",
            if missed.len() > 1 { "s" } else { "" },
            missed
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    writeln!(
        s,
        "\nGoal (per format): reading at least 10x wfdb-python, one thread each: {goal}."
    )?;
    if !missed.is_empty() {
        writeln!(
            s,
            "\nwfdb-python reads the byte-aligned formats (16, 24, 32, 61, 80, 160) with numpy alone (the file read into one array, reshaped; no per-sample Python code) and the FLAC formats through libsndfile (libFLAC, C; ours: claxon), so there is little interpreter overhead to win back: for the byte-aligned formats our time is mostly reading the file and writing 2 x 650,000 `i32` samples, for FLAC it is claxon's decoding against libFLAC's."
        )?;
    }
    Ok(s)
}

/// The 48 records joined end to end as one format-16 record in `dir` of `leads` (1 or 2)
/// signals: MLII (lead 0 where a record has none), then the other lead; named `day` (one
/// lead) or `day2`. Returns it and its length per signal.
fn day_record(data: &Path, dir: &Path, leads: usize) -> Result<(PathBuf, usize)> {
    let names = std::fs::read_to_string(data.join("RECORDS"))
        .with_context(|| format!("reading {}", data.join("RECORDS").display()))?;
    let mut samples: Vec<Vec<i32>> = vec![Vec::new(); leads];
    let mut specs: Vec<wonhee_wfdb::SignalSpec> = Vec::new();
    let mut fs = 0.0;
    for name in names.split_whitespace() {
        let rec = wonhee_wfdb::Record::open(data.join(name))?;
        let sigs = &rec.header().signals;
        if sigs.len() < leads {
            bail!(
                "{}: fewer than {leads} signals",
                rec.header_path().display()
            );
        }
        let first = sigs
            .iter()
            .position(|s| s.description == "MLII")
            .unwrap_or(0);
        let order: Vec<usize> = [first, usize::from(first == 0)][..leads].to_vec();
        if specs.is_empty() {
            specs = order.iter().map(|&i| sigs[i].clone()).collect();
            fs = rec.header().fs;
        }
        for (spec, &i) in specs.iter().zip(&order) {
            let this = &sigs[i];
            if this.gain != spec.gain || this.baseline != spec.baseline || rec.header().fs != fs {
                bail!(
                    "{}: gain, baseline or rate differs from the first record's",
                    rec.header_path().display()
                );
            }
        }
        let read = rec.read_selected(&order)?;
        for (k, lead) in samples.iter_mut().enumerate() {
            lead.extend_from_slice(read.digital(k));
        }
    }
    let n = samples.first().map_or(0, Vec::len);
    if n == 0 {
        bail!("{}: no records", data.display());
    }
    let signals: Vec<wonhee_wfdb::write::SignalData> = specs
        .into_iter()
        .zip(samples)
        .zip(["MLII", "V"])
        .map(|((mut spec, samples), name)| {
            spec.description = name.into();
            wonhee_wfdb::write::SignalData { spec, samples }
        })
        .collect();
    let (name, what) = match leads {
        1 => ("day", "MLII"),
        _ => ("day2", "two leads"),
    };
    let hea = wonhee_wfdb::write::write_record(
        dir,
        name,
        fs,
        wonhee_wfdb::Format::F16,
        &signals,
        &[format!(
            "the 48 MIT-BIH records' {what} joined end to end (cargo xtask bench)"
        )],
    )?;
    Ok((hea.with_extension(""), n))
}

/// Wall time (s) and peak RSS (MiB, when GNU time is at /usr/bin/time) of `wonhee ARGS`, and
/// its stderr's last line.
fn timed(wonhee: &Path, args: &[&std::ffi::OsStr]) -> Result<(f64, Option<f64>, String)> {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "rss_kb=%M"]).arg(wonhee);
        c
    } else {
        Command::new(wonhee)
    };
    let t = Instant::now();
    let o = cmd.args(args).output()?;
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        bail!("wonhee failed: {}", err.trim());
    }
    let rss = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("rss_kb="))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    let last = err
        .lines()
        .rfind(|l| !l.starts_with("rss_kb="))
        .unwrap_or("")
        .to_owned();
    Ok((secs, rss, last))
}

/// `wonhee predict` (whole process: model loading, reading, detection, classification,
/// writing) on record 100 and on the 24-hour two-lead recording.
fn predict(opt: &Options) -> Result<String> {
    let wonhee = cargo::build_wonhee(&opt.root, false)?;
    let tmp = tempfile::tempdir()?;
    let (day, n) = day_record(&opt.data, tmp.path(), 2)?;
    let out = tmp.path().join("beats.csv");
    let rec100 = opt.data.join("100");
    let args = |input: &Path| -> Vec<std::ffi::OsString> {
        vec![
            "predict".into(),
            input.into(),
            "--out".into(),
            out.clone().into(),
        ]
    };
    let mut short = Vec::new();
    let mut line100 = String::new();
    for _ in 0..3 {
        let a = args(&rec100);
        let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        let (t, rss, line) = timed(&wonhee, &refs)?;
        short.push((t, rss));
        line100 = line;
    }
    let a = args(&day);
    let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
    let (t_day, rss_day, line_day) = timed(&wonhee, &refs)?;
    let best = short.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let mib = |r: Option<f64>| r.map_or("?".to_owned(), |m| format!("{m:.0} MiB"));
    let mut s = String::new();
    writeln!(
        s,
        "## `wonhee predict` on any ECG: speed (detection and the shipped model)\n"
    )?;
    writeln!(s, "{}\n", machine())?;
    writeln!(s, "```sh\ncargo xtask bench predict\n```\n")?;
    writeln!(
        s,
        "Whole process (loading `models/wonhee-ds1`, reading, detecting, classifying, writing the CSV), one `wonhee predict INPUT --out beats.csv` each. The 24-hour recording is the 48 records' two leads joined end to end ({n} samples per lead at 360 Hz, format 16), written by xtask.\n"
    )?;
    writeln!(
        s,
        "| input | time (s) | peak RSS | beats (classes) | goal |"
    )?;
    writeln!(s, "|---|---:|---:|---|---|")?;
    writeln!(
        s,
        "| record 100 (30 min, 2 leads) | {best:.2} (best of 3) | {} | {} | < 2 s |",
        mib(short[0].1),
        line100.split(" -> ").next().unwrap_or("")
    )?;
    writeln!(
        s,
        "| 24 hours, 2 leads | {t_day:.1} | {} | {} | < 30 s, < 1 GiB |",
        mib(rss_day),
        line_day.split(" -> ").next().unwrap_or("")
    )?;
    Ok(s)
}

/// `wonhee detect` on the 24-hour record, whole process (reading and writing included), with
/// its peak resident memory when GNU time is at /usr/bin/time.
fn detect(opt: &Options) -> Result<String> {
    const ROUNDS: usize = 5;
    let wonhee = cargo::build_wonhee(&opt.root, false)?;
    let tmp = tempfile::tempdir()?;
    let (record, n) = day_record(&opt.data, tmp.path(), 1)?;
    let out = tmp.path().join("day.qrs");
    let (mut times, mut rss_mib) = (Vec::new(), Vec::new());
    let mut beats = String::new();
    for _ in 0..ROUNDS {
        let args = [
            "detect".as_ref(),
            record.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        let (t, rss, last) = timed(&wonhee, &args)?;
        times.push(t);
        rss_mib.extend(rss);
        beats = last.split_whitespace().next().unwrap_or("").to_owned();
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let median = {
        let mut v = times.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let py = python_peer(opt, "bench_detect.py", &[&record.to_string_lossy(), "1800"])?;
    let mut s = String::new();
    writeln!(
        s,
        "## QRS detection: one 24-hour lead (the 48 records' MLII joined, {n} samples at 360 Hz)\n"
    )?;
    writeln!(s, "{}\n", machine())?;
    writeln!(
        s,
        "```sh\ncargo xtask bench detect --python /path/to/venv/bin/python   # peer: docs/reference-scripts/bench_detect.py\n```\n"
    )?;
    writeln!(
        s,
        "The record is written by xtask into a temporary folder (format 16, one signal). Ours: `wonhee detect RECORD --out day.qrs` (Elgendi, the default), the wall time of the whole process (start-up, reading, detection and writing the annotation file), best and median of {ROUNDS}. The peers are timed around the detector call only, on the signal already in memory (`wfdb.rdrecord`); XQRS runs on the first 30 minutes and is scaled per sample to the whole signal.\n"
    )?;
    writeln!(s, "| detector | time (s) | beats | vs ours (best) |")?;
    writeln!(s, "|---|---|---|---|")?;
    let peak = rss_mib
        .iter()
        .copied()
        .reduce(f64::max)
        .map_or(String::new(), |m| format!(", peak RSS {m:.0} MiB"));
    writeln!(
        s,
        "| `wonhee detect` (Elgendi), 2 threads{peak} | {best:.3} (median {median:.3}) | {beats} | 1x |"
    )?;
    match &py {
        Some(v) => {
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            let (nk, xq) = (f("neurokit2_s"), f("xqrs_s_per_sample") * n as f64);
            writeln!(
                s,
                "| NeuroKit2 {} `ecg_peaks` (default method) | {nk:.2} | {} | {:.0}x slower |",
                v["neurokit2_version"].as_str().unwrap_or("?"),
                v["neurokit2_beats"],
                nk / best
            )?;
            writeln!(
                s,
                "| wfdb-python {} `processing.xqrs_detect`: {:.1} s on {} samples, scaled | {xq:.0} | ({} in the excerpt) | {:.0}x slower |",
                v["wfdb_version"].as_str().unwrap_or("?"),
                f("xqrs_s"),
                v["xqrs_samples"],
                v["xqrs_beats"],
                xq / best
            )?;
            writeln!(
                s,
                "\nReading the record with wfdb-python (not counted above): {:.2} s.",
                f("read_s")
            )?;
        }
        None => writeln!(s, "| Python peers | not run (no --python) | | |")?,
    }
    writeln!(
        s,
        "\nGoal (issue 17): under 0.2 s on 2 cores, reading and writing included; at least 50x NeuroKit2 and 500x XQRS."
    )?;
    Ok(s)
}

/// Runs `wonhee prepare --data DATA --out OUT` (paper split).
fn wonhee_prepare(wonhee: &Path, data: &Path, out: &Path) -> Result<()> {
    let status = Command::new(wonhee)
        .arg("prepare")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .status()?;
    if !status.success() {
        bail!("wonhee prepare failed");
    }
    Ok(())
}

fn prepare(opt: &Options) -> Result<String> {
    const ROUNDS: usize = 5;
    let wonhee = cargo::build_wonhee(&opt.root, false)?;
    let tmp = tempfile::tempdir()?;
    // Interleaved rounds (ours, then the peer), so both see the same machine conditions; this
    // shared 2-core machine is noisy, so the best of each is compared and the medians shown.
    let (mut times, mut py_times) = (Vec::new(), Vec::new());
    let mut py_windows = None;
    let py_out = tmp.path().join("python");
    for i in 0..ROUNDS {
        let out = tmp.path().join(format!("prep{i}"));
        let t = Instant::now();
        wonhee_prepare(&wonhee, &opt.data, &out)?;
        times.push(t.elapsed().as_secs_f64());
        if let Some(v) = python_peer(
            opt,
            "bench_prepare.py",
            &[&opt.data.to_string_lossy(), &py_out.to_string_lossy(), "1"],
        )? {
            py_times.extend(v["best_s"].as_f64());
            py_windows = Some(v["windows"].clone());
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(
        tmp.path().join("prep0/summary.json"),
    )?)?;
    let windows = summary["n_windows"].as_u64().unwrap_or(0);
    let mut s = String::new();
    writeln!(
        s,
        "## Data preparation: `wonhee prepare` on all 48 records (paper split)\n"
    )?;
    writeln!(s, "{}\n", machine())?;
    writeln!(
        s,
        "```sh\ncargo xtask bench prepare --python /path/to/venv/bin/python   # peer: docs/reference-scripts/bench_prepare.py\n```\n"
    )?;
    writeln!(
        s,
        "Read, z-score, 360 -> 128 Hz polyphase resampling, {windows} beat windows of 640 points, AAMI labels, 80:20 split, standardization, files written (ours also hashes every input file). {ROUNDS} interleaved rounds; ours is the wall time of the whole process (start-up included), the peer's is timed inside Python (interpreter start and imports excluded).\n"
    )?;
    writeln!(
        s,
        "| pipeline | best (s) | median (s) | windows | vs Python (best / median) |"
    )?;
    writeln!(s, "|---|---|---|---|---|")?;
    let (b, m) = (best(&times), median(&times));
    let ratio = if py_times.is_empty() {
        "-".to_owned()
    } else {
        format!(
            "{:.1}x / {:.1}x",
            best(&py_times) / b,
            median(&py_times) / m
        )
    };
    writeln!(
        s,
        "| `wonhee prepare` (Rust) | {b:.3} | {m:.3} | {windows} | {ratio} |"
    )?;
    match py_windows {
        Some(w) => writeln!(
            s,
            "| wfdb-python + scipy resample_poly + numpy | {:.3} | {:.3} | {w} | 1x |",
            best(&py_times),
            median(&py_times)
        )?,
        None => writeln!(s, "| Python peer | not run (no --python) | | | |")?,
    }
    writeln!(s, "\nGoal: at least 20x faster than the Python pipeline.")?;
    Ok(s)
}

/// The cases of `bench model`: (patch, attention dropout, warm-up steps, timed steps, rounds).
/// The paper's model has attention dropout 0.1; without it PyTorch's fused CPU attention
/// applies. Each round runs ours and then every peer variant; a side's figures are over all
/// its timed steps of all rounds, so a noisy minute on a shared machine weighs on both sides.
const MODEL_CASES: [(usize, f64, usize, usize, usize); 4] = [
    (8, 0.1, 3, 20, 2),
    (1, 0.1, 1, 5, 1),
    (8, 0.0, 3, 20, 2),
    (1, 0.0, 1, 5, 1),
];

/// The `model_bench.py` flags every PyTorch peer variant takes: SDPA attention, `F.rms_norm`,
/// fused AdamW.
const TORCH_FLAGS: [&str; 6] = [
    "--attention",
    "sdpa",
    "--norm",
    "fused",
    "--optimizer",
    "fused",
];

/// The PyTorch peer's variants: name and whether it adds `--compile` to [`TORCH_FLAGS`]. The
/// fastest one (by median step) is the peer of each case.
const TORCH_VARIANTS: [(&str, bool); 2] = [
    ("eager (SDPA, F.rms_norm, fused AdamW)", false),
    ("torch.compile (inductor)", true),
];

/// `bench model`: the trainer's full training step (`wonhee bench train`: three task passes,
/// summed gradients, AdamW) at P = 8 and P = 1, batch 32, against the fastest PyTorch peer of
/// the same step, back to back, by median step time.
fn model(opt: &Options) -> Result<String> {
    let wonhee = match opt.isa {
        Isa::Native => cargo::build_wonhee(&opt.root, false)?,
        Isa::Avx2 => cargo::build_wonhee_avx2(&opt.root)?,
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rows = MODEL_CASES
        .iter()
        .map(|&case| model_case(opt, &wonhee, threads, case))
        .collect::<Result<Vec<_>>>()?;
    if opt.python.is_none() {
        println!("PyTorch peer not run: pass --python PATH or set WONHEE_PYTHON");
    }
    let mut s = String::new();
    let (title, flag) = match opt.isa {
        Isa::Native => ("", ""),
        Isa::Avx2 => (", AVX2 kernels on both sides", " --isa avx2"),
    };
    writeln!(
        s,
        "## Model: one full training step (three task passes, summed gradients, AdamW), batch 32{title}\n"
    )?;
    writeln!(s, "{} Both frameworks use {threads} threads.\n", machine())?;
    writeln!(
        s,
        "```sh\ncargo xtask bench model{flag} --python /path/to/venv/bin/python   # ours: wonhee bench train; peer: docs/reference-scripts/model_bench.py\n```\n"
    )?;
    if opt.isa == Isa::Avx2 {
        writeln!(
            s,
            "How an AVX2-only machine runs the step, measured on this one: ours built with `--no-default-features` (the `gemm` crate's AVX2 + FMA kernels; our own kernels use AVX2 + FMA in every build), PyTorch with {} (checked: ours reports `matmul_isa` `avx2+fma`, PyTorch `get_cpu_capability()` `AVX2`). The caches and clocks stay this machine's. The peer is eager PyTorch only: torch 2.15's `torch.compile` step aborts under `ATEN_CPU_CAPABILITY=avx2` (\"double free or corruption\", every try).\n",
            TORCH_AVX2_ENV
                .iter()
                .map(|(k, v)| format!("`{k}={v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    writeln!(
        s,
        "The paper's model (`configs/paper.toml`: 2,625,927 parameters at P = 1, 2,628,629 at P = 8, the same count in both frameworks, checked) at batch 32; P = 8 is the same model with 8-point tokens. Ours is the step `wonhee train` runs; the peer is the fastest of the PyTorch variants listed, each timed after its warm-up steps (torch.compile's compilation is in the warm-up). P = 8: two rounds (ours, then each peer variant; 20 timed steps each after 3 warm-up steps), figures over all 40 steps of a side; P = 1: one round of 5 steps after 1. Steady: mean step / best step.\n"
    )?;
    writeln!(
        s,
        "| P | attention dropout | ours: median step (s) | steady | peak RSS (GiB) | PyTorch peer | median step (s) | steady | peak RSS (GiB) | ratio (median) |"
    )?;
    writeln!(s, "|---|---|---:|---:|---:|---|---:|---:|---:|---:|")?;
    for r in &rows {
        model_row(&mut s, r)?;
    }
    writeln!(
        s,
        "\nGoal: at least 1.5x the fastest PyTorch peer by median step at P = 8 and at P = 1, with less peak memory; steps steady (mean within 10% of the best). Per-op profile: `cargo run --release -p wonhee-model --example bench_model` ([bench/model.md](bench/model.md))."
    )?;
    Ok(s)
}

/// One case of [`MODEL_CASES`]: its rounds of ours and every peer variant, each side's runs
/// pooled (`{"patch", "attn_dropout", "ours", "torch": [one per variant that ran]}`).
fn model_case(
    opt: &Options,
    wonhee: &Path,
    threads: usize,
    (patch, attn, warmup, steps, rounds): (usize, f64, usize, usize, usize),
) -> Result<Value> {
    // The step settings both sides take with the same flags.
    let shared = [
        "--batch".to_string(),
        "32".into(),
        "--patch".into(),
        patch.to_string(),
        "--attn-dropout".into(),
        attn.to_string(),
        "--steps".into(),
        steps.to_string(),
        "--warmup".into(),
        warmup.to_string(),
    ];
    let script = opt.root.join("docs/reference-scripts/model_bench.py");
    let mut ours_runs = Vec::new();
    let mut peer_runs: Vec<Vec<Value>> = vec![Vec::new(); TORCH_VARIANTS.len()];
    for round in 1..=rounds {
        println!("bench model: P = {patch}, attention dropout {attn}, round {round} ...");
        let mut cmd = Command::new(wonhee);
        cmd.args(["bench", "train", "--config"])
            .arg(opt.root.join("configs/paper.toml"))
            .args(&shared);
        let ours = json_of(&mut cmd, "wonhee bench train")?;
        if opt.isa == Isa::Avx2 {
            expect_field(&ours, "matmul_isa", "avx2+fma", "wonhee bench train")?;
        }
        ours_runs.push(ours);
        let Some(py) = &opt.python else { continue };
        for (runs, (_, compile)) in peer_runs.iter_mut().zip(TORCH_VARIANTS) {
            if compile && opt.isa == Isa::Avx2 {
                // torch 2.15's compiled step aborts ("double free or corruption") under
                // ATEN_CPU_CAPABILITY=avx2; the table says the peer is eager only.
                continue;
            }
            let mut cmd = Command::new(py);
            cmd.arg(&script)
                .args(&shared)
                .args(["--threads", &threads.to_string()])
                .args(["--expect-params", &ours_runs[0]["parameters"].to_string()])
                .args(TORCH_FLAGS);
            if compile {
                cmd.arg("--compile");
            }
            if opt.isa == Isa::Avx2 {
                cmd.envs(TORCH_AVX2_ENV);
            }
            let run = json_of(&mut cmd, "model_bench.py")?;
            if opt.isa == Isa::Avx2 {
                expect_field(&run, "cpu_capability", "AVX2", "model_bench.py")?;
            }
            runs.push(run);
        }
    }
    let peers: Vec<Value> = peer_runs
        .iter()
        .zip(TORCH_VARIANTS)
        .filter(|(runs, _)| !runs.is_empty())
        .map(|(runs, (name, _))| {
            let mut v = pool_runs(runs);
            v["variant"] = name.into();
            v
        })
        .collect();
    Ok(serde_json::json!({
        "patch": patch, "attn_dropout": attn, "ours": pool_runs(&ours_runs), "torch": peers,
    }))
}

/// Fails unless `v[key]` is the string `want` (what `who` reports about its kernels).
fn expect_field(v: &Value, key: &str, want: &str, who: &str) -> Result<()> {
    if v[key] != want {
        bail!("{who} reports {key} {}, not {want}", v[key]);
    }
    Ok(())
}

/// Runs `cmd` and parses the last line of its standard output as JSON.
fn json_of(cmd: &mut Command, what: &str) -> Result<Value> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `wonhee bench train` pretty-prints one object; the peer prints one line.
    let start = text.find('{').context("no JSON in the output")?;
    serde_json::from_str(text[start..].trim()).with_context(|| format!("{what}: output"))
}

/// The step figures of several runs of one side pooled: median, mean and best over all their
/// `step_s_all`, and the largest peak RSS.
fn pool_runs(runs: &[Value]) -> Value {
    let mut steps: Vec<f64> = runs
        .iter()
        .flat_map(|r| r["step_s_all"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_f64())
        .collect();
    steps.sort_by(f64::total_cmp);
    let n = steps.len();
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => Some(steps[n / 2]),
        _ => Some((steps[n / 2 - 1] + steps[n / 2]) / 2.0),
    };
    let mean = (n > 0).then(|| steps.iter().sum::<f64>() / n as f64);
    let rss = runs
        .iter()
        .filter_map(|r| r["peak_rss_bytes"].as_u64())
        .max();
    serde_json::json!({
        "runs": runs.len(),
        "step_s_median": median, "step_s_mean": mean, "step_s_best": steps.first(),
        "peak_rss_bytes": rss,
    })
}

/// One row of the model table: ours against the fastest peer variant (by median step).
fn model_row(s: &mut String, r: &Value) -> std::fmt::Result {
    let o = &r["ours"];
    let steady = |v: &Value| match (v["step_s_mean"].as_f64(), v["step_s_best"].as_f64()) {
        (Some(m), Some(b)) if b > 0.0 => format!("{:.2}", m / b),
        _ => "-".into(),
    };
    let peer = r["torch"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["step_s_median"].is_number())
        .min_by(|a, b| {
            let m = |v: &Value| v["step_s_median"].as_f64().unwrap_or(f64::INFINITY);
            m(a).total_cmp(&m(b))
        });
    let (name, med, st, rss, ratio) = match peer {
        Some(t) => (
            t["variant"].as_str().unwrap_or("?").to_string(),
            fixed(&t["step_s_median"], 3),
            steady(t),
            gib(&t["peak_rss_bytes"]),
            match (t["step_s_median"].as_f64(), o["step_s_median"].as_f64()) {
                (Some(p), Some(q)) if q > 0.0 => format!("{:.2}x", p / q),
                _ => "-".into(),
            },
        ),
        None => (
            "not run".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ),
    };
    writeln!(
        s,
        "| {} | {} | {} | {} | {} | {name} | {med} | {st} | {rss} | {ratio} |",
        r["patch"],
        r["attn_dropout"],
        fixed(&o["step_s_median"], 3),
        steady(o),
        gib(&o["peak_rss_bytes"]),
    )
}

/// A number with `d` decimals, `-` when it is not one.
fn fixed(x: &Value, d: usize) -> String {
    x.as_f64().map_or("-".into(), |x| format!("{x:.d$}"))
}

/// Bytes as GiB with two decimals, `-` when not a number.
fn gib(b: &Value) -> String {
    b.as_f64()
        .map_or("-".into(), |b| format!("{:.2}", b / 1073741824.0))
}

fn tsne(opt: &Options) -> Result<String> {
    let wonhee = cargo::build_wonhee(&opt.root, false)?;
    let tmp = tempfile::tempdir()?;
    let prep = tmp.path().join("prep");
    wonhee_prepare(&wonhee, &opt.data, &prep)?;
    let mut cmd = cargo::cargo();
    cmd.current_dir(&opt.root)
        .args(["run", "--release", "-q", "-p", "wonhee-tsne"])
        .args(["--example", "compare", "--"])
        .arg("--prepared")
        .arg(&prep)
        .args(["--threads", "2", "--out"])
        .arg(tmp.path().join("cmp"));
    match opt.tsne_python.as_ref().or(opt.python.as_ref()) {
        Some(py) => {
            cmd.arg("--python").arg(py);
        }
        None => println!("openTSNE peer not run: pass --tsne-python or --python"),
    }
    let out = cmd.output()?;
    if !out.status.success() {
        bail!(
            "t-SNE compare failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("compare output")?;
    let secs = |x: &Value| {
        x.as_array()
            .and_then(|a| a.iter().filter_map(Value::as_f64).reduce(f64::min))
            .map_or("-".to_owned(), |t| format!("{t:.1}"))
    };
    let num = |x: &Value| x.as_f64().map_or("-".to_owned(), |t| format!("{t:.4}"));
    let mut s = String::new();
    writeln!(
        s,
        "## t-SNE: {} class-balanced MIT-BIH windows, {} features, 2 threads\n",
        v["n"], v["dim"]
    )?;
    writeln!(s, "{}\n", machine())?;
    writeln!(
        s,
        "```sh\ncargo xtask bench tsne --tsne-python /path/to/venv/bin/python   # runs wonhee-tsne's examples/compare.rs; peer: docs/reference-scripts/tsne_opentsne.py\n```\n"
    )?;
    writeln!(
        s,
        "| implementation | time (s) | trustworthiness (k = 5) | 10-NN accuracy |"
    )?;
    writeln!(s, "|---|---|---|---|")?;
    let o = &v["ours"];
    writeln!(
        s,
        "| wonhee-tsne (Barnes-Hut, exact neighbours) | {} | {} | {} |",
        secs(&o["seconds"]),
        num(&o["trustworthiness_5"]),
        num(&o["knn_accuracy_10"])
    )?;
    let p = &v["opentsne"];
    if p.is_object() {
        writeln!(
            s,
            "| openTSNE {} | {} | {} | {} |",
            p["version"].as_str().unwrap_or("?"),
            secs(&p["seconds"]),
            num(&p["trustworthiness_5"]),
            num(&p["knn_accuracy_10"])
        )?;
    } else {
        writeln!(s, "| openTSNE | not run (no --tsne-python) | | |")?;
    }
    writeln!(
        s,
        "\nGoal: trustworthiness and 10-NN accuracy within 0.02 of openTSNE's, and no slower."
    )?;
    Ok(s)
}

/// Runs `cargo bench -p KRATE --bench BENCH` (with `WONHEE_MITDB` set, and `env` when given);
/// returns the target folder, where criterion left its estimates.
fn cargo_bench(
    opt: &Options,
    krate: &str,
    bench: &str,
    env: Option<(&str, &Path)>,
) -> Result<PathBuf> {
    let mut cmd = cargo::cargo();
    cmd.current_dir(&opt.root)
        .env("WONHEE_MITDB", &opt.data)
        .args(["bench", "-p", krate, "--bench", bench, "--", "--noplot"]);
    if let Some((key, value)) = env {
        cmd.env(key, value);
    }
    if !cmd.status()?.success() {
        bail!("cargo bench -p {krate} --bench {bench} failed");
    }
    cargo::target_dir(&opt.root)
}

/// Criterion's mean estimate (seconds) of benchmark `group/name` under `target`.
fn criterion_mean_s(target: &Path, group: &str, name: &str) -> Result<f64> {
    let p = target.join(format!("criterion/{group}/{name}/new/estimates.json"));
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?,
    )?;
    v["mean"]["point_estimate"]
        .as_f64()
        .map(|ns| ns / 1e9)
        .with_context(|| format!("{}: no mean estimate", p.display()))
}

/// Runs a criterion bench and tabulates the mean of every benchmark in the given groups.
fn criterion(
    opt: &Options,
    krate: &str,
    bench: &str,
    groups: &[&str],
    title: &str,
) -> Result<String> {
    let target = cargo_bench(opt, krate, bench, None)?;
    let mut s = String::new();
    writeln!(
        s,
        "{title}
"
    )?;
    writeln!(
        s,
        "{}
",
        machine()
    )?;
    writeln!(
        s,
        "```sh
cargo xtask bench {}   # = cargo bench -p {krate} --bench {bench}
```
",
        krate.trim_start_matches("wonhee-")
    )?;
    writeln!(s, "| benchmark | mean time |")?;
    writeln!(s, "|---|---|")?;
    for g in groups {
        let dir = target.join("criterion").join(g);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .with_context(|| format!("{}: no criterion results", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("new/estimates.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let ns = criterion_mean_s(&target, g, &n)? * 1e9;
            let t = if ns >= 1e9 {
                format!("{:.2} s", ns / 1e9)
            } else if ns >= 1e6 {
                format!("{:.2} ms", ns / 1e6)
            } else {
                format!("{:.1} µs", ns / 1e3)
            };
            writeln!(s, "| `{g}/{n}` | {t} |")?;
        }
    }
    Ok(s)
}

/// Replace (or append) the text between the section's markers, atomically.
pub fn write_section(path: &Path, name: &str, body: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let (open, close) = (
        format!("<!-- bench:{name} -->"),
        format!("<!-- /bench:{name} -->"),
    );
    let block = format!("{open}\n{}\n{close}", body.trim_end());
    let new = match (old.find(&open), old.find(&close)) {
        (Some(a), Some(b)) if b > a => format!("{}{block}{}", &old[..a], &old[b + close.len()..]),
        _ => format!("{}\n\n{block}\n", old.trim_end()),
    };
    wonhee_fs::write_atomic(path, new.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_field_refuses_another_or_a_missing_value() {
        let v = serde_json::json!({"matmul_isa": "avx512"});
        assert!(expect_field(&v, "matmul_isa", "avx512", "x").is_ok());
        let e = expect_field(&v, "matmul_isa", "avx2+fma", "x").unwrap_err();
        assert!(e.to_string().contains("not avx2+fma"), "{e}");
        assert!(expect_field(&v, "cpu_capability", "AVX2", "x").is_err());
    }

    #[test]
    fn cpuinfo_field_matches_whole_keys() {
        let info = "processor\t: 0\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n";
        assert_eq!(cpuinfo_field(info, "model"), Some("2"));
        assert_eq!(cpuinfo_field(info, "model name"), Some("AMD EPYC"));
        assert_eq!(cpuinfo_field(info, "cpu family"), Some("26"));
        assert_eq!(cpuinfo_field(info, "stepping"), None);
    }

    #[test]
    fn pool_runs_takes_the_figures_over_every_step_of_every_run() {
        let v = pool_runs(&[
            serde_json::json!({"step_s_all": [3.0, 1.0], "peak_rss_bytes": 10}),
            serde_json::json!({"step_s_all": [2.0, 6.0, 4.0], "peak_rss_bytes": 30}),
        ]);
        assert_eq!(v["step_s_median"], 3.0);
        assert_eq!(v["step_s_mean"], 3.2);
        assert_eq!(v["step_s_best"], 1.0);
        assert_eq!(v["peak_rss_bytes"], 30);
        assert_eq!(v["runs"], 2);
        let e = pool_runs(&[]);
        assert!(e["step_s_median"].is_null() && e["peak_rss_bytes"].is_null());
    }

    #[test]
    fn model_row_compares_ours_with_the_fastest_peer() -> Result<()> {
        let r = serde_json::json!({
            "patch": 8, "attn_dropout": 0.1,
            "ours": {"step_s_median": 0.5, "step_s_mean": 0.55, "step_s_best": 0.5,
                     "peak_rss_bytes": 1073741824u64},
            "torch": [
                {"variant": "slow", "step_s_median": 1.5, "step_s_mean": 1.5, "step_s_best": 1.5,
                 "peak_rss_bytes": 2147483648u64},
                {"variant": "fast", "step_s_median": 0.8, "step_s_mean": 0.9, "step_s_best": 0.75,
                 "peak_rss_bytes": 2147483648u64},
                {"variant": "broken"}
            ]
        });
        let mut s = String::new();
        model_row(&mut s, &r)?;
        assert_eq!(
            s,
            "| 8 | 0.1 | 0.500 | 1.10 | 1.00 | fast | 0.800 | 1.20 | 2.00 | 1.60x |\n"
        );
        let mut s = String::new();
        model_row(
            &mut s,
            &serde_json::json!({"patch": 1, "attn_dropout": 0.0,
            "ours": {"step_s_median": 2.0}, "torch": []}),
        )?;
        assert_eq!(s, "| 1 | 0.0 | 2.000 | - | - | not run | - | - | - | - |\n");
        Ok(())
    }

    #[test]
    fn format_signals_fit_every_format_and_checks_match_the_peers() {
        let base = [
            vec![0, 1024, 2047, 1024, 900, 1500],
            vec![1024, 1023, 0, 2047, 2047, 1],
        ];
        for (code, _) in BENCH_FORMATS {
            let f = wonhee_wfdb::Format::from_code(code).unwrap_or(wonhee_wfdb::Format::F16);
            assert_eq!(f.code(), code);
            let (sigs, gain) = format_signals(f, &base);
            let (lo, hi) = f.digital_range();
            assert!(gain > 0.0);
            for s in &sigs {
                assert_eq!(s.len(), 6);
                assert!(s.iter().all(|v| (lo + 1..=hi).contains(v)), "{code}: {s:?}");
                if code == 8 {
                    assert!(s.windows(2).all(|w| (w[1] - w[0]).abs() <= 127), "{s:?}");
                }
            }
        }
        // The peer's checks: sum and sum of x * (i % 1021 + 1).
        let x: Vec<i32> = (0..1023).map(|i| i - 500).collect();
        let w: i64 = x
            .iter()
            .enumerate()
            .map(|(i, &v)| i64::from(v) * (i as i64 % 1021 + 1))
            .sum();
        assert_eq!(
            sample_checks(&x),
            [x.iter().map(|&v| i64::from(v)).sum(), w]
        );
        assert_eq!(sample_checks(&[3, -2]), [1, 3 - 4]);
    }

    #[test]
    fn section_is_replaced_in_place_and_appended_when_missing() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("b.md");
        std::fs::write(&p, "# T\n\nintro\n")?;
        write_section(&p, "x", "one")?;
        write_section(&p, "y", "two")?;
        write_section(&p, "x", "three\n")?;
        let s = std::fs::read_to_string(&p)?;
        assert_eq!(
            s,
            "# T\n\nintro\n\n<!-- bench:x -->\nthree\n<!-- /bench:x -->\n\n<!-- bench:y -->\ntwo\n<!-- /bench:y -->\n"
        );
        Ok(())
    }
}
