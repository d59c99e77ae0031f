//! `wonhee`: the WonHEE-rs command-line tool.
//!
//! Every command reports bad input as one line naming the file and the problem, exits with a
//! non-zero status, and leaves nothing at `--out` (outputs are written to a temporary file and
//! renamed into place). Logs go to stderr through `tracing` (`RUST_LOG=debug` for more).

mod cmd;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc keeps freed memory for reuse: the per-record buffers of `prepare` and the training
/// tensors would otherwise be page-faulted in afresh each time (glibc returns large blocks to
/// the OS), which costs more than the arithmetic on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (index 15 of `mi_option_t` in mimalloc.h, v2 and v3;
/// `libmimalloc-sys` names its neighbours 14 and 16 but not it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the OS. By default it purges pages that stay
/// free for a while, and a training step, whose tensors are freed and allocated again every
/// step, then page-faults them back in: 70,000-85,000 minor faults in 23 steps at P = 8 (each
/// fault zeroes a page), against about 900 without purging, for the same peak memory
/// (docs/benchmarks.md, "Steady steps").
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return; // the user's own setting (read by mimalloc at start-up)
    }
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table (an atomic store);
    // it has no preconditions, may be called at any time from any thread, and `-1` is the
    // documented value for "no purging at all".
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

/// Gives candle's own thread pool one thread, the calling one, unless the user sets
/// `CANDLE_NUM_THREADS`. candle runs its parallel element-wise ops on that pool and the
/// model's fused kernels and matrix products run on rayon's: with two threads in each on a
/// 2-core machine, candle's worker spins for up to 25,000 rounds after each of its ops while
/// rayon's two threads want both cores. One thread there made P = 8 training steps 10% faster
/// and steadier, used 8% less CPU time, and gave the same bits (docs/benchmarks.md, "Steady
/// steps"; the golden test runs under both settings).
fn one_thread_for_candle_ops() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_some() {
        return; // the user's own setting
    }
    // SAFETY: called first thing in `main`, before any other thread exists (neither the
    // allocator nor anything before this call starts one), so no thread can be reading or
    // writing the environment at the same time.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// WonHEE-rs: multi-task transformer for ECG classification, imputation and forecasting.
#[derive(Parser)]
#[command(name = "wonhee", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Header summary and annotation counts of a record (or of every record in a folder).
    Info(cmd::info::Args),
    /// Export a record's signals as CSV or parquet.
    Export(cmd::export::Args),
    /// Export a record's annotations as CSV or parquet.
    Annotations(cmd::annotations::Args),
    /// Find the QRS complexes of one lead (CSV/parquet table or WFDB annotation file).
    Detect(cmd::detect::Args),
    /// Score test beats against reference annotations beat by beat (ANSI/AAMI EC57, as `bxb`).
    Compare(cmd::compare::Args),
    /// Build the training dataset: beat windows, labels, splits (see `wonhee-dataset`).
    Prepare(cmd::prepare::Args),
    /// Download MIT-BIH 1.0.0 from PhysioNet: resumable, every file checked against SHA256SUMS.
    Download(cmd::download::Args),
    /// Check every file of a folder against its SHA256SUMS.
    Verify(cmd::download::VerifyArgs),
    /// Train the multi-task model on a prepared dataset.
    Train(cmd::train::Args),
    /// Evaluate a trained run on its held-out side -> RUN/metrics.json.
    Eval(cmd::eval::Args),
    /// Pool the classification of several evaluations on disjoint held-out sets (the folds of
    /// a cross-validation) into one report.
    Pool(cmd::pool::Args),
    /// The patient-specific protocol: fine-tune on the first minutes of each held-out record,
    /// score the rest (never an inter-patient figure).
    Adapt(cmd::adapt::Args),
    /// Classify the beats of any ECG (WFDB, CSV, EDF; detected or annotated beats).
    Predict(cmd::predict::Args),
    /// Fill the missing points of a window (CSV column `value`, empty = missing).
    Impute(cmd::impute::ImputeArgs),
    /// Predict the next K points after a window's history.
    Forecast(cmd::impute::ForecastArgs),
    /// Figures and report (report.md, self-contained report.html) from run folders.
    Report(cmd::report::Args),
    /// Parameter count and FLOPs of a model configuration.
    Model(cmd::model::Args),
    /// 2-D Barnes-Hut t-SNE of a feature table or of a prepared dataset's windows (CSV/parquet).
    Tsne(cmd::tsne::Args),
    /// Benchmarks (`wonhee bench train`).
    #[command(subcommand)]
    Bench(cmd::bench::Bench),
}

/// Output into a closed pipe (`wonhee info --json | head`) ends the program quietly with
/// success, as ripgrep does. `println!` reports a closed stdout by panicking; this hook turns
/// that one panic into exit status 0 and leaves every other panic as it was.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    one_thread_for_candle_ops();
    keep_freed_memory();
    quiet_on_closed_stdout();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(a) => cmd::info::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Annotations(a) => cmd::annotations::run(a),
        Command::Detect(a) => cmd::detect::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Pool(a) => cmd::pool::run(a),
        Command::Prepare(a) => cmd::prepare::run(a),
        Command::Download(a) => cmd::download::run(a),
        Command::Verify(a) => cmd::download::run_verify(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Adapt(a) => cmd::adapt::run(a),
        Command::Predict(a) => cmd::predict::run(a),
        Command::Impute(a) => cmd::impute::run_impute(a),
        Command::Forecast(a) => cmd::impute::run_forecast(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Model(a) => cmd::model::run(a),
        Command::Bench(b) => cmd::bench::run(b),
        Command::Tsne(a) => cmd::tsne::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error chain on one line: `outer: inner: root cause`.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    /// mimalloc's option `MI_OPTION_PURGE_DELAY` as it stands now.
    #[allow(unsafe_code)]
    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: `mi_option_get` reads an integer from mimalloc's option table; no
        // preconditions.
        unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }
    }

    /// Index 15 is the option that mimalloc reads from `MIMALLOC_PURGE_DELAY`: this test runs
    /// itself again in a child process with that variable set, and the child checks the value
    /// it finds at the index; `keep_freed_memory` then leaves the user's setting alone.
    #[test]
    fn purge_delay_index_is_the_option_of_mimalloc_purge_delay() {
        if std::env::var_os("WONHEE_PURGE_CHILD").is_some() {
            assert_eq!(purge_delay(), 1234);
            super::keep_freed_memory();
            assert_eq!(purge_delay(), 1234);
            return;
        }
        let exe = std::env::current_exe().unwrap_or_default();
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "tests::purge_delay_index_is_the_option_of_mimalloc_purge_delay",
            ])
            .env("WONHEE_PURGE_CHILD", "1")
            .env("MIMALLOC_PURGE_DELAY", "1234")
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => panic!("running the child test: {e}"),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
    }
}
