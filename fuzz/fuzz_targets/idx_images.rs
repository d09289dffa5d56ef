//! `latent_data::idx::parse_images` on arbitrary bytes, plus `load_bytes` (which also takes
//! gzip) and the file reader `read_images` / the streaming `IdxRowSource`.
#![no_main]

use std::io::Write;
use std::path::Path;

use latent_core::RowSource;
use latent_data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz-images-idx3-ubyte");
    if let Ok(img) = idx::parse_images(name, data) {
        assert_eq!(img.pixels.len(), img.n * img.height * img.width);
        assert_eq!(data.len(), 16 + img.pixels.len());
    }
    if let Ok(ds) = idx::load_bytes("fuzz", data, None) {
        assert!(ds.n() > 0 && ds.dim() > 0);
    }
    // The same bytes as a file: the reader and the streaming source (raw or gzip).
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if f.write_all(data).and_then(|()| f.flush()).is_err() {
        return;
    }
    let _ = idx::read_images(f.path());
    if let Ok(mut src) = idx::IdxRowSource::open(f.path()) {
        let dim = src.dim();
        let mut rows = 0;
        while let Ok(Some(b)) = src.next_batch(7) {
            assert!(b.nrows() >= 1 && b.nrows() <= 7 && b.ncols() == dim);
            rows += b.nrows();
            assert!(rows <= src.n());
        }
    }
});
