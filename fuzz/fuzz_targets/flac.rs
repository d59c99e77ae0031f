//! FLAC-compressed signal files (formats 508, 516, 524): a fuzzed header plus a fuzzed FLAC
//! stream never make the reader panic or allocate without bound, and what it reads is
//! consistent with the header.
//!
//! The input's first byte picks the format and the signal count; the rest is the signal file.
//! Seeds worth adding to the corpus: `fixtures/wfdb/flac*.dat` with a leading byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wonhee_wfdb::{Header, Record};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, dat)) = data.split_first() else {
        return;
    };
    let format = [508, 516, 524][usize::from(pick % 3)];
    let n_sig = usize::from(pick / 3 % 4) + 1;
    // With and without a length (then it comes from the stream), with and without an offset.
    let len = if pick & 0x40 != 0 { " 203" } else { "" };
    let offset = if pick & 0x80 != 0 { "+5" } else { "" };
    let mut hea = format!("f {n_sig} 250{len}\n");
    for i in 0..n_sig {
        hea.push_str(&format!("f.dat {format}{offset} 200/mV 0 0 0 0 0 s{i}\n"));
    }
    let Ok(h) = Header::parse(hea.as_bytes(), std::path::Path::new("f.hea")) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("wonhee-fuzz-flac-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("f.dat"), dat);
    let rec = Record::from_header(h, &dir);
    let _ = rec.samples_per_signal();
    if let Ok(s) = rec.read_signals() {
        assert_eq!(s.n_signals(), n_sig);
        for i in 0..n_sig {
            assert_eq!(s.digital(i).len(), s.n_samples());
            let (lo, hi) = s.specs()[i].format.digital_range();
            assert!(s.digital(i).iter().all(|&d| (lo..=hi).contains(&d)));
        }
        if let Ok(one) = rec.read_selected(&[n_sig - 1]) {
            assert_eq!(one.digital(0), s.digital(n_sig - 1));
        }
    }
});
