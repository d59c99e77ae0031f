//! Signal decoding: a fuzzed header line set plus fuzzed signal bytes never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wonhee_wfdb::{Header, Record};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0xFF).unwrap_or(data.len());
    let (hea, dat) = data.split_at(split);
    let Ok(h) = Header::parse(hea, std::path::Path::new("f.hea")) else { return };
    if h.signals.iter().any(|s| s.file_name != "f.dat") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("wonhee-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("f.dat"), dat.get(1..).unwrap_or(&[]));
    let rec = Record::from_header(h, &dir);
    if let Ok(s) = rec.read_signals() {
        for i in 0..s.n_signals() {
            assert_eq!(s.digital(i).len(), s.n_samples());
        }
    }
});
