//! A small HTTP/1.1 file server on 127.0.0.1 for testing downloads (feature `test-server`).
//!
//! It serves a folder (`GET` only, one request per connection), honours `Range: bytes=N-`
//! (switchable), counts requests and body bytes per file, and can be told to misbehave for a
//! given file: send corrupted bytes, drop the connection part-way through the body, or answer
//! with an HTTP error status.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// A way to misbehave when serving a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Send the body with one byte changed (same length, so only a checksum can tell).
    Corrupt,
    /// Send the headers and this many body bytes, then close the connection.
    DropAfter(u64),
    /// Answer with this HTTP status and no file.
    Status(u16),
}

/// Requests and bytes served for one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Requests for the file.
    pub requests: usize,
    /// Body bytes sent (counted just before sending them).
    pub bytes_sent: u64,
    /// The `Range` start of each request (`None`: whole file asked for).
    pub range_starts: Vec<Option<u64>>,
}

#[derive(Default)]
struct State {
    /// Per file: faults to apply, in order, with how many times each is left (`None`: always).
    faults: HashMap<String, Vec<(Fault, Option<usize>)>>,
    stats: HashMap<String, FileStats>,
}

struct Shared {
    root: PathBuf,
    ranges: AtomicBool,
    stop: AtomicBool,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running test server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves the files under `root` on a free port of 127.0.0.1.
    pub fn serve(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            root: root.into(),
            ranges: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let s = Arc::clone(&s);
                    std::thread::spawn(move || handle(&s, stream));
                }
            }
        });
        Ok(TestServer {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// Base URL, with a trailing `/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Whether `Range` requests are honoured (default) or answered with the whole file.
    pub fn set_ranges(&self, honour: bool) {
        self.shared.ranges.store(honour, Ordering::SeqCst);
    }

    /// Misbehaves `times` times (`None`: every time) when `name` is requested. Several faults
    /// for one file apply in the order given.
    pub fn fault(&self, name: &str, fault: Fault, times: Option<usize>) {
        self.shared
            .state()
            .faults
            .entry(name.to_string())
            .or_default()
            .push((fault, times));
    }

    /// Requests and bytes served so far for `name`.
    pub fn stats(&self, name: &str) -> FileStats {
        self.shared
            .state()
            .stats
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Body bytes served so far, all files together.
    pub fn total_bytes_sent(&self) -> u64 {
        self.shared
            .state()
            .stats
            .values()
            .map(|s| s.bytes_sent)
            .sum()
    }

    /// Requests so far, all files together.
    pub fn total_requests(&self) -> usize {
        self.shared.state().stats.values().map(|s| s.requests).sum()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one request and closes the connection.
fn handle(shared: &Shared, stream: TcpStream) {
    let _ = serve_one(shared, stream);
}

fn serve_one(shared: &Shared, mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range_start = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("range")
        {
            range_start = v
                .trim()
                .strip_prefix("bytes=")
                .and_then(|r| r.split_once('-'))
                .and_then(|(a, _)| a.trim().parse::<u64>().ok());
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" {
        return respond(&mut stream, 405, &[], b"");
    }
    let Some(name) = decode_path(target) else {
        return respond(&mut stream, 400, &[], b"");
    };

    let fault = {
        let mut st = shared.state();
        let stats = st.stats.entry(name.clone()).or_default();
        stats.requests += 1;
        stats.range_starts.push(range_start);
        take_fault(st.faults.get_mut(&name))
    };
    if let Some(Fault::Status(code)) = fault {
        return respond(&mut stream, code, &[], b"");
    }
    let path = name.split('/').fold(shared.root.clone(), |p, c| p.join(c));
    let Ok(data) = std::fs::read(&path) else {
        return respond(&mut stream, 404, &[], b"");
    };
    let len = data.len() as u64;
    let honour = shared.ranges.load(Ordering::SeqCst);
    let (status, start, mut headers) = match range_start {
        Some(s) if honour && s >= len => {
            return respond(
                &mut stream,
                416,
                &[format!("Content-Range: bytes */{len}")],
                b"",
            );
        }
        Some(s) if honour => (
            206,
            s,
            vec![format!("Content-Range: bytes {s}-{}/{len}", len - 1)],
        ),
        _ => (200, 0, Vec::new()),
    };
    headers.push("Accept-Ranges: bytes".into());
    let mut body = data[start as usize..].to_vec();
    let mut send = body.len();
    match fault {
        Some(Fault::Corrupt) => {
            let mid = body.len() / 2;
            if let Some(b) = body.get_mut(mid) {
                *b ^= 0x5a;
            }
        }
        Some(Fault::DropAfter(n)) => send = send.min(n as usize),
        _ => {}
    }
    // Counted before sending: once the last byte is out the client may already be asking
    // for the statistics.
    shared.state().stats.entry(name).or_default().bytes_sent += send as u64;
    write_head(&mut stream, status, &headers, body.len())?;
    stream.write_all(&body[..send])?;
    let _ = stream.flush();
    stream.shutdown(Shutdown::Both)
}

/// The next fault for a file, using it up.
fn take_fault(list: Option<&mut Vec<(Fault, Option<usize>)>>) -> Option<Fault> {
    let list = list?;
    let (fault, left) = list.first_mut()?;
    let fault = *fault;
    if let Some(n) = left {
        *n -= 1;
        if *n == 0 {
            list.remove(0);
        }
    }
    Some(fault)
}

/// `/a/b%20c` to `a/b c`; `None` for anything that leaves the served folder.
fn decode_path(target: &str) -> Option<String> {
    let raw = target.split('?').next()?.strip_prefix('/')?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let name = String::from_utf8(out).ok()?;
    Path::new(&name)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(name)
}

fn write_head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[String],
    content_length: usize,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {content_length}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[String],
    body: &[u8],
) -> std::io::Result<()> {
    write_head(stream, status, headers, body.len())?;
    stream.write_all(body)?;
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}
