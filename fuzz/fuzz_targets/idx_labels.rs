//! `latent_data::idx::parse_labels` on arbitrary bytes, plus the file reader `read_labels`.
#![no_main]

use std::io::Write;
use std::path::Path;

use latent_data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(labels) = idx::parse_labels(Path::new("fuzz-labels-idx1-ubyte"), data) {
        assert_eq!(data.len(), 8 + labels.len());
    }
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if f.write_all(data).and_then(|()| f.flush()).is_err() {
        return;
    }
    let _ = idx::read_labels(f.path());
});
