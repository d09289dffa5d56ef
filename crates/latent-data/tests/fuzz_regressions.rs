//! Inputs found by the cargo-fuzz targets (fuzz/ at the root of the repository) that crashed
//! a reader, kept under `tests/corpus/fuzz-regressions/`: each must now fail with an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use latent_core::RowSource;
use latent_data::{DataError, idx};

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/fuzz-regressions")
        .join(name)
}

/// A 33-byte gzip file whose IDX header declares one image of 131072 × 131072 pixels
/// (16 GiB, the most latent accepts) and holds no pixels. `IdxRowSource::next_batch` used
/// to size its buffer from the header before reading, so the first batch allocated 16 GiB
/// and aborted (out of memory); the buffer now grows with the data actually decompressed.
#[test]
fn gzip_idx_stream_claiming_a_16_gib_image_is_truncated_not_allocated() {
    let p = path("idx-gz-16g-image-idx3-ubyte.gz");
    let mut src = idx::IdxRowSource::open(&p).expect("the header itself is valid");
    assert_eq!(src.n(), 1);
    let err = src.next_batch(64).unwrap_err().to_string();
    assert!(
        err.contains("idx-gz-16g-image") && err.contains("truncated"),
        "{err}"
    );
    // The whole-file reader (already bounded) agrees.
    let err = idx::read_images(&p).unwrap_err();
    assert!(matches!(err, DataError::Format { .. }), "{err:?}");
}
