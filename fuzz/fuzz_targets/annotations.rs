//! Annotation parser: any bytes either parse or give an error; parsed annotations encode and
//! decode back to themselves.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wonhee_wfdb::Annotations;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.atr");
    if let Ok(a) = Annotations::parse(data, p) {
        // Times beyond 32-bit steps and over-long aux cannot be re-encoded; everything else must round-trip.
        if let Ok(bytes) = Annotations::encode(&a.annotations, p) {
            let back = Annotations::parse(&bytes, p).expect("re-encoded annotations parse");
            assert_eq!(back.annotations, a.annotations);
        }
    }
});
