//! Multi-segment records: a fuzzed master header, layout header and two segments (headers and
//! signal files) never make the reader panic, and what it reads is consistent.
//!
//! The input is split at 0xFF bytes into the files `m.hea` (the master header), `l.hea` (a
//! layout header), `a.hea`, `a.dat`, `b.hea` and `b.dat`; a missing part leaves its file out.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wonhee_wfdb::{Header, Record};

const FILES: [&str; 6] = ["m.hea", "l.hea", "a.hea", "a.dat", "b.hea", "b.dat"];

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xFF);
    let dir = std::env::temp_dir().join(format!("wonhee-fuzz-multiseg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    for name in FILES {
        let path = dir.join(name);
        match parts.next() {
            Some(bytes) => {
                let _ = std::fs::write(&path, bytes);
            }
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let master = std::fs::read(dir.join("m.hea")).unwrap_or_default();
    if let Ok(h) = Header::parse(&master, Path::new("m.hea")) {
        // A parsed header renders and parses back to itself.
        let again = Header::parse(h.to_text().as_bytes(), Path::new("m.hea"));
        if let Ok(again) = again {
            assert_eq!(again.segments, h.segments);
            assert_eq!(again.n_sig(), h.n_sig());
            assert_eq!(again.total_len(), h.total_len());
        }
        // The same header without opening its segments first.
        let _ = Record::from_header(h, &dir).read_segmented();
    }
    let Ok(rec) = Record::open(dir.join("m")) else {
        return;
    };
    if let Ok(s) = rec.read_segmented() {
        let mut frames = 0;
        for (_, r) in s.segments() {
            assert_eq!(r.start, frames);
            frames = r.end;
        }
        assert_eq!(frames, s.n_frames());
        for i in 0..s.n_signals() {
            assert_eq!(s.physical_f64(i).len(), s.len_of(i));
            assert_eq!(s.digital(i).len(), s.len_of(i));
        }
        if let Ok(sig) = rec.read_signals() {
            assert!(s.is_uniform());
            for i in 0..sig.n_signals() {
                assert_eq!(sig.digital(i), s.digital(i));
            }
        }
    }
});
