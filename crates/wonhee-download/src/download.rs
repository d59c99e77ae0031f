//! Resumable, checksum-verified download of a PhysioNet release.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rayon::prelude::*;

use crate::sums::{Entry, SUMS_FILE, parse_sums, sha256_bytes, sha256_file, to_hex};
use crate::{Error, Result};

/// Largest checksum list accepted (MIT-BIH's is about 12 KB).
const MAX_SUMS_BYTES: u64 = 16 << 20;
/// Read block while streaming a file to disk.
const CHUNK: usize = 64 << 10;

/// Overall progress of a [`download`], reported after every block received.
///
/// Feeds an `indicatif` bar directly: `bar.set_length(p.bytes_total); bar.set_position(p.bytes_done)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the listed files on disk so far (files already present count in full).
    pub bytes_done: u64,
    /// Total bytes of all listed files. A checksum list has no sizes, so this is exact once
    /// every file's size is known (from the server's `Content-Length`, or on disk) and, until
    /// then, the known sizes plus the mean known size for each file not yet started.
    pub bytes_total: u64,
    /// Files present and verified.
    pub files_done: usize,
    /// Files in the list.
    pub files_total: usize,
}

/// Callback for [`Progress`] (see [`DownloadOptions::on_progress`]).
pub type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// Settings of [`download`]; `DownloadOptions::default()` suits PhysioNet.
pub struct DownloadOptions {
    /// Tries per file (at least 1): a dropped connection, a timeout, HTTP 408/429/5xx or a
    /// checksum mismatch costs one try. Default 6.
    pub attempts: u32,
    /// Wait before the second try; doubled for each further try up to `max_backoff`.
    /// Default 1 s.
    pub backoff: Duration,
    /// Longest wait between tries. Default 30 s.
    pub max_backoff: Duration,
    /// Connect timeout, and longest silence while receiving. Default 30 s.
    pub timeout: Duration,
    /// Files fetched at the same time (at least 1). Default 4.
    pub jobs: usize,
    /// Names of the checksum list on the server, tried in order until one exists.
    /// Default `["SHA256SUMS.txt", "SHA256SUMS"]` (PhysioNet publishes the first).
    pub sums_names: Vec<String>,
    /// If set, the SHA-256 (hex) the downloaded checksum list must have.
    pub sums_sha256: Option<String>,
    /// Called with the overall [`Progress`]; set it with [`DownloadOptions::on_progress`].
    pub progress: Option<Box<ProgressFn>>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            attempts: 6,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            jobs: 4,
            sums_names: vec!["SHA256SUMS.txt".into(), SUMS_FILE.into()],
            sums_sha256: None,
            progress: None,
        }
    }
}

impl DownloadOptions {
    /// Calls `f` with the overall [`Progress`] as bytes arrive (from several threads, one call
    /// at a time).
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Wait before try number `attempt` (2, 3, ...).
    fn wait_before(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(20);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("timeout", &self.timeout)
            .field("jobs", &self.jobs)
            .field("sums_names", &self.sums_names)
            .field("sums_sha256", &self.sums_sha256)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What a [`download`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    /// URL of the checksum list used.
    pub sums_url: String,
    /// Files in the list.
    pub files: usize,
    /// Files fetched (now present and verified).
    pub fetched: usize,
    /// Files already present with the right checksum, left alone.
    pub skipped: usize,
    /// Bytes received over the network for the files, all tries included.
    pub bytes_received: u64,
}

/// Downloads every file of the checksum list at `base_url` into `dest` (created if needed).
///
/// The list is fetched first (under the first of `opts.sums_names` the server has). Each
/// listed file already in `dest` with the right SHA-256 is skipped; every other one is
/// streamed into `<name>.part`, resumed with an HTTP `Range` request when a `.part` is left
/// from an earlier run (restarted when the server ignores the range), checked against its
/// SHA-256 and only then renamed over `<name>`. A dropped connection or HTTP 408/429/5xx is
/// retried with backoff and resumes; a file with the wrong checksum is deleted and fetched
/// again; after `opts.attempts` tries the download fails with [`Error::GaveUp`] naming the
/// file. Other HTTP errors (404, 403, ...) fail at once with [`Error::Http`].
///
/// Only when every file is in place is the list written to `dest/SHA256SUMS` (atomically),
/// so a folder with that file is a complete download and [`verify`](crate::verify) checks it.
/// After a failure, running `download` again fetches only what is still missing.
pub fn download(base_url: &str, dest: &Path, opts: &DownloadOptions) -> Result<DownloadReport> {
    let base = normalise_base(base_url)?;
    fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    let agent = agent(opts);

    let (sums_url, sums_bytes) = fetch_sums(&agent, &base, opts)?;
    if let Some(pin) = &opts.sums_sha256 {
        let actual = to_hex(&sha256_bytes(&sums_bytes));
        if !actual.eq_ignore_ascii_case(pin.trim()) {
            return Err(Error::SumsPin {
                url: sums_url,
                expected: pin.clone(),
                actual,
            });
        }
    }
    let entries = parse_sums(&sums_bytes, &sums_url)?;

    // Files already in place (hashed in parallel); the rest is to fetch.
    let present: Vec<Option<u64>> = entries.par_iter().map(|e| present_len(dest, e)).collect();
    let tracker = Tracker::new(&present, opts.progress.as_deref());
    let todo: Vec<usize> = (0..entries.len())
        .filter(|&i| present[i].is_none())
        .collect();
    let skipped = entries.len() - todo.len();
    tracing::info!(
        url = %sums_url,
        dest = %dest.display(),
        files = entries.len(),
        skipped,
        to_fetch = todo.len(),
        "download"
    );
    tracker.emit();

    let received = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let errors = Mutex::new(Vec::new());
    let jobs = opts.jobs.max(1).min(todo.len());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let job = Job {
                        agent: &agent,
                        url: join_url(&base, &entries[i].name),
                        entry: &entries[i],
                        index: i,
                        dest,
                        opts,
                        tracker: &tracker,
                        received: &received,
                    };
                    if let Err(e) = job.run() {
                        tracing::error!("{e}");
                        failed.store(true, Ordering::Relaxed);
                        errors
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(e);
                    }
                }
            });
        }
    });
    if let Some(e) = errors
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .next()
    {
        return Err(e);
    }

    wonhee_fs::write_atomic(&dest.join(SUMS_FILE), &sums_bytes)?;
    let report = DownloadReport {
        sums_url,
        files: entries.len(),
        fetched: todo.len(),
        skipped,
        bytes_received: received.into_inner(),
    };
    tracing::info!(?report, "download complete");
    Ok(report)
}

/// Base URL with exactly one trailing `/`.
fn normalise_base(url: &str) -> Result<String> {
    let u = url.trim();
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(Error::BadUrl { url: url.into() });
    }
    Ok(format!("{}/", u.trim_end_matches('/')))
}

/// `base` + `name` with every byte outside `A-Za-z0-9-._~/` percent-encoded.
fn join_url(base: &str, name: &str) -> String {
    let mut url = String::with_capacity(base.len() + name.len());
    url.push_str(base);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

fn agent(opts: &DownloadOptions) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(opts.timeout))
        .timeout_per_read(Some(opts.timeout))
        .user_agent(concat!("wonhee-rs/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::new_with_config(config)
}

/// Why one try failed.
enum Failure {
    /// Retrying will not help.
    Fatal(Error),
    /// Worth another try.
    Retry(String),
}

/// Runs `f` (given the try number) until it succeeds, fails fatally or `opts.attempts` tries
/// are spent.
fn with_retries<T>(
    opts: &DownloadOptions,
    name: &str,
    url: &str,
    mut f: impl FnMut(u32) -> Result<T, Failure>,
) -> Result<T> {
    let attempts = opts.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            let wait = opts.wait_before(attempt);
            tracing::warn!(file = name, attempt, ?wait, "retrying after: {last}");
            std::thread::sleep(wait);
        }
        match f(attempt) {
            Ok(v) => return Ok(v),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(why)) => last = why,
        }
    }
    Err(Error::GaveUp {
        name: name.into(),
        url: url.into(),
        attempts,
        last,
    })
}

/// HTTP statuses worth retrying.
fn transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The checksum list: the first of `opts.sums_names` the server has.
fn fetch_sums(
    agent: &ureq::Agent,
    base: &str,
    opts: &DownloadOptions,
) -> Result<(String, Vec<u8>)> {
    for name in &opts.sums_names {
        let url = join_url(base, name);
        let got = with_retries(opts, name, &url, |_| {
            let resp = agent
                .get(&url)
                .call()
                .map_err(|e| Failure::Retry(e.to_string()))?;
            match resp.status().as_u16() {
                200 => resp
                    .into_body()
                    .into_with_config()
                    .limit(MAX_SUMS_BYTES)
                    .read_to_vec()
                    .map(Some)
                    .map_err(|e| Failure::Retry(e.to_string())),
                404 | 410 => Ok(None),
                s if transient(s) => Err(Failure::Retry(format!("HTTP {s}"))),
                s => Err(Failure::Fatal(Error::Http {
                    url: url.clone(),
                    status: s,
                })),
            }
        })?;
        if let Some(bytes) = got {
            return Ok((url, bytes));
        }
        tracing::debug!(url = %url, "no checksum list under this name");
    }
    Err(Error::NoRemoteSums {
        base: base.into(),
        tried: opts.sums_names.join(", "),
    })
}

/// Length of `entry`'s file in `dest` when it is there with the right checksum.
fn present_len(dest: &Path, entry: &Entry) -> Option<u64> {
    let path = entry.path_in(dest);
    match sha256_file(&path) {
        Ok((hash, len)) if hash == entry.sha256 => {
            // A `.part` beside a complete file is a leftover.
            let _ = fs::remove_file(part_path(&path));
            Some(len)
        }
        Ok(_) => {
            tracing::warn!(file = %path.display(), "differs from its checksum; fetching it again");
            None
        }
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(file = %path.display(), "unreadable ({e}); fetching it again");
            None
        }
    }
}

fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// One file to fetch.
struct Job<'a> {
    agent: &'a ureq::Agent,
    url: String,
    entry: &'a Entry,
    index: usize,
    dest: &'a Path,
    opts: &'a DownloadOptions,
    tracker: &'a Tracker<'a>,
    received: &'a AtomicU64,
}

impl Job<'_> {
    /// Fetches, verifies and renames the file into place.
    fn run(&self) -> Result<()> {
        let path = self.entry.path_in(self.dest);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let part = part_path(&path);
        let len = with_retries(self.opts, &self.entry.name, &self.url, |_| {
            self.fetch_part(&part)?;
            let (hash, len) =
                sha256_file(&part).map_err(|e| Failure::Fatal(Error::io(&part, e)))?;
            if hash == self.entry.sha256 {
                return Ok(len);
            }
            fs::remove_file(&part).map_err(|e| Failure::Fatal(Error::io(&part, e)))?;
            self.tracker.restart(self.index);
            Err(Failure::Retry(format!(
                "checksum mismatch (expected {}, got {}); deleted it",
                self.entry.hex(),
                to_hex(&hash)
            )))
        })?;
        fs::rename(&part, &path).map_err(|e| Error::io(&path, e))?;
        self.tracker.finish(self.index, len);
        tracing::info!(file = %self.entry.name, bytes = len, "fetched and verified");
        Ok(())
    }

    /// One try: appends the rest of the file to `part` (or rewrites it from the start).
    fn fetch_part(&self, part: &Path) -> Result<(), Failure> {
        let fatal_io = |e| Failure::Fatal(Error::io(part, e));
        let offset = match fs::metadata(part) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => 0,
            Err(e) => return Err(fatal_io(e)),
        };
        let mut req = self.agent.get(&self.url);
        if offset > 0 {
            req = req.header("Range", format!("bytes={offset}-"));
        }
        let resp = req.call().map_err(|e| Failure::Retry(e.to_string()))?;
        let status = resp.status().as_u16();
        let (start, size) = match status {
            200 => {
                if offset > 0 {
                    tracing::debug!(file = %self.entry.name, "server ignored the range; starting over");
                }
                (0, resp.body().content_length())
            }
            206 if offset > 0 => {
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                match range {
                    Some((first, total)) if first == offset => {
                        tracing::debug!(file = %self.entry.name, offset, "resuming");
                        (offset, total)
                    }
                    _ => {
                        fs::remove_file(part).map_err(fatal_io)?;
                        self.tracker.restart(self.index);
                        return Err(Failure::Retry(format!(
                            "asked for bytes from {offset}, got Content-Range {:?}; starting over",
                            resp.headers().get("content-range")
                        )));
                    }
                }
            }
            // The `.part` already holds the whole file (or more): the checksum decides.
            416 if offset > 0 => return Ok(()),
            s if transient(s) => return Err(Failure::Retry(format!("HTTP {s}"))),
            s => {
                return Err(Failure::Fatal(Error::Http {
                    url: self.url.clone(),
                    status: s,
                }));
            }
        };
        let mut file = if start == 0 {
            File::create(part)
        } else {
            OpenOptions::new().append(true).open(part)
        }
        .map_err(fatal_io)?;
        self.tracker.begin(self.index, start, size);
        let mut reader = resp.into_body().into_reader();
        let mut buf = vec![0u8; CHUNK];
        let mut have = start;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Failure::Retry(format!(
                        "connection lost after {have} bytes: {e}"
                    )));
                }
            };
            file.write_all(&buf[..n]).map_err(fatal_io)?;
            have += n as u64;
            self.received.fetch_add(n as u64, Ordering::Relaxed);
            self.tracker.add(self.index, n as u64);
        }
        file.sync_all().map_err(fatal_io)?;
        match size {
            Some(size) if have != size => Err(Failure::Retry(format!(
                "body ended after {have} of {size} bytes"
            ))),
            _ => Ok(()),
        }
    }
}

/// `bytes FIRST-LAST/TOTAL` to `(FIRST, Some(TOTAL))` (`None` for `*`).
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, _) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((first.trim().parse().ok()?, total))
}

/// Per-file byte counts behind [`Progress`].
struct Tracker<'a> {
    state: Mutex<TrackState>,
    callback: Option<&'a ProgressFn>,
}

struct TrackState {
    /// Bytes on disk per file.
    done: Vec<u64>,
    /// Size per file, once known.
    size: Vec<Option<u64>>,
    /// Files in place.
    files_done: usize,
}

impl<'a> Tracker<'a> {
    fn new(present: &[Option<u64>], callback: Option<&'a ProgressFn>) -> Self {
        Tracker {
            state: Mutex::new(TrackState {
                done: present.iter().map(|p| p.unwrap_or(0)).collect(),
                size: present.to_vec(),
                files_done: present.iter().flatten().count(),
            }),
            callback,
        }
    }

    fn update(&self, f: impl FnOnce(&mut TrackState)) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s);
        if let Some(cb) = self.callback {
            cb(s.progress());
        }
    }

    fn emit(&self) {
        self.update(|_| {});
    }

    fn begin(&self, i: usize, start: u64, size: Option<u64>) {
        self.update(|s| {
            s.done[i] = start;
            if size.is_some() {
                s.size[i] = size;
            }
        });
    }

    fn add(&self, i: usize, n: u64) {
        self.update(|s| s.done[i] += n);
    }

    fn restart(&self, i: usize) {
        self.update(|s| s.done[i] = 0);
    }

    fn finish(&self, i: usize, len: u64) {
        self.update(|s| {
            s.done[i] = len;
            s.size[i] = Some(len);
            s.files_done += 1;
        });
    }
}

impl TrackState {
    fn progress(&self) -> Progress {
        let bytes_done: u64 = self.done.iter().sum();
        let (known, n_known) = self
            .size
            .iter()
            .flatten()
            .fold((0u64, 0u64), |(s, n), &len| (s + len, n + 1));
        let n_unknown = self.size.len() as u64 - n_known;
        let guess = known
            .checked_div(n_known)
            .map_or(0, |mean| n_unknown * mean);
        Progress {
            bytes_done,
            bytes_total: (known + guess).max(bytes_done),
            files_done: self.files_done,
            files_total: self.size.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_joined_and_encoded() {
        let base = normalise_base("http://h:1/files/mitdb/1.0.0").unwrap();
        assert_eq!(base, "http://h:1/files/mitdb/1.0.0/");
        assert_eq!(normalise_base("https://h//").unwrap(), "https://h/");
        assert_eq!(
            join_url(&base, "x_mitdb/x 1.atr"),
            format!("{base}x_mitdb/x%201.atr")
        );
        assert_eq!(join_url(&base, "a%b"), format!("{base}a%25b"));
        let err = normalise_base("ftp://h/").unwrap_err().to_string();
        assert_eq!(err, "ftp://h/: not an http:// or https:// URL");
    }

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("bytes */200"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let o = DownloadOptions {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            ..Default::default()
        };
        let waits: Vec<_> = (2..=6).map(|a| o.wait_before(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn progress_estimates_unknown_sizes_from_known_ones() {
        let t = Tracker::new(&[Some(100), None, None, None], None);
        let p = t.state.lock().unwrap().progress();
        assert_eq!(
            p,
            Progress {
                bytes_done: 100,
                bytes_total: 400,
                files_done: 1,
                files_total: 4
            }
        );
        t.begin(1, 0, Some(300));
        t.add(1, 50);
        let p = t.state.lock().unwrap().progress();
        // Known: 100 + 300; two unknown at the mean 200.
        assert_eq!((p.bytes_done, p.bytes_total), (150, 800));
        t.restart(1);
        t.finish(1, 300);
        let p = t.state.lock().unwrap().progress();
        assert_eq!((p.bytes_done, p.files_done), (400, 2));
        let empty = Tracker::new(&[None, None], None);
        let p = empty.state.lock().unwrap().progress();
        assert_eq!((p.bytes_done, p.bytes_total), (0, 0));
    }
}
