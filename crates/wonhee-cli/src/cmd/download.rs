//! `wonhee download [--url URL] [--out data/mitdb] [--retries N]` and `wonhee verify [DIR]`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use wonhee_download::{DEFAULT_DIR, DownloadOptions, PHYSIONET_MITDB, locate_mitdb};

/// Arguments of `wonhee download`.
#[derive(clap::Args)]
pub struct Args {
    /// Base URL of the release: a folder holding SHA256SUMS.txt (or SHA256SUMS) and the files
    /// it lists.
    #[arg(long, default_value = PHYSIONET_MITDB)]
    url: String,
    /// Folder to download into (created if needed; files already there and intact are kept).
    #[arg(long, default_value = DEFAULT_DIR)]
    out: PathBuf,
    /// Further tries per file after the first: a dropped connection, a timeout, HTTP 5xx or a
    /// wrong checksum each cost one.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// Seconds to wait before the first retry; doubled for each further one (at most 30 s).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    backoff: f64,
    /// Files fetched at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    jobs: u16,
    /// Fail unless the downloaded checksum list has this SHA-256 (hex).
    #[arg(long, value_name = "HEX")]
    sums_sha256: Option<String>,
}

/// Downloads, showing a byte progress bar, and prints what was done.
pub fn run(a: Args) -> Result<()> {
    let backoff = Duration::try_from_secs_f64(a.backoff)
        .with_context(|| format!("--backoff {}: not a number of seconds", a.backoff))?;
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("download");
    let b = bar.clone();
    let opts = DownloadOptions {
        attempts: a.retries.saturating_add(1),
        backoff,
        jobs: usize::from(a.jobs),
        sums_sha256: a.sums_sha256,
        ..Default::default()
    }
    .on_progress(move |p| {
        b.set_length(p.bytes_total);
        b.set_position(p.bytes_done);
    });
    let result = wonhee_download::download(&a.url, &a.out, &opts);
    bar.finish_and_clear();
    let r = result?;
    println!(
        "{}: {} files verified ({} fetched, {} already present; {} bytes received)",
        a.out.display(),
        r.files,
        r.fetched,
        r.skipped,
        r.bytes_received
    );
    Ok(())
}

/// Arguments of `wonhee verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Folder with a SHA256SUMS (or SHA256SUMS.txt). Default: the MIT-BIH folder found as the
    /// pipeline finds it ($WONHEE_MITDB, data/mitdb, ../shared/data/mitdb).
    dir: Option<PathBuf>,
}

/// Checks every listed file; prints the count, or each problem (and fails).
pub fn run_verify(a: VerifyArgs) -> Result<()> {
    let dir = match a.dir {
        Some(d) => d,
        None => {
            let cwd = std::env::current_dir().context("current directory")?;
            let Some((dir, source)) = locate_mitdb(None, &cwd) else {
                bail!(
                    "no MIT-BIH folder found ($WONHEE_MITDB, data/mitdb, ../shared/data/mitdb); \
                     run `wonhee download` or name the folder"
                );
            };
            eprintln!("verifying {} (from {source})", dir.display());
            dir
        }
    };
    let report = wonhee_download::check(&dir)?;
    if report.is_ok() {
        println!(
            "{}: {} files verified ({} bytes)",
            dir.display(),
            report.files,
            report.bytes
        );
        return Ok(());
    }
    for p in &report.problems {
        println!("{}: {p}", dir.display());
    }
    bail!(
        "{}: {} of {} files failed verification",
        dir.display(),
        report.problems.len(),
        report.files
    )
}
