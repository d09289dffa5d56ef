//! `latent_data::npy::parse` on arbitrary bytes, plus the file readers (`read`,
//! `read_matrix`) and the streaming `NpyRowSource`.
#![no_main]

use std::io::Write;
use std::path::Path;

use latent_core::RowSource;
use latent_data::npy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = npy::parse(Path::new("fuzz.npy"), data);
    if let Ok(ds) = &parsed {
        assert!(ds.n() > 0 && ds.dim() > 0);
        assert!(ds.x().iter().all(|v| v.is_finite()));
        if let Some(s) = ds.image_shape() {
            assert_eq!(s.numel(), Some(ds.dim()));
        }
    }
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if f.write_all(data).and_then(|()| f.flush()).is_err() {
        return;
    }
    // The file reader agrees with the in-memory parser.
    let read = npy::read(f.path());
    assert_eq!(
        parsed.is_ok(),
        read.is_ok(),
        "parse: {parsed:?}\nread: {read:?}"
    );
    let _ = npy::read_matrix(f.path());
    if let Ok(mut src) = npy::NpyRowSource::open(f.path()) {
        let dim = src.dim();
        let mut rows = 0;
        while let Ok(Some(b)) = src.next_batch(5) {
            assert!(b.nrows() >= 1 && b.nrows() <= 5 && b.ncols() == dim);
            rows += b.nrows();
            assert!(rows <= src.n());
        }
    }
});
