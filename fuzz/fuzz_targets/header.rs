//! Header parser: any bytes either parse or give an error; parsed headers re-render and
//! re-parse to the same value.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wonhee_wfdb::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::parse(data, Path::new("fuzz.hea")) {
        let text = h.to_text();
        if let Ok(again) = Header::parse(text.as_bytes(), Path::new("fuzz.hea")) {
            assert_eq!(again.signals.len(), h.signals.len());
            assert_eq!(again.sig_len, h.sig_len);
        }
    }
});
