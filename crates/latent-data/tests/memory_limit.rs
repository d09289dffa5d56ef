//! Whole-file reads are bounded by the memory limit (`latent_core::memory`), also for
//! compressed files whose header is honest; a lying header is still called truncated;
//! streaming reads are not bounded by it. One test: the limit is per process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;

use latent_core::RowSource;
use latent_data::{DataError, idx, npy};

fn gz_images(n: u32, present: usize) -> Vec<u8> {
    let mut raw = Vec::new();
    for v in [0x0000_0803u32, n, 28, 28] {
        raw.extend_from_slice(&v.to_be_bytes());
    }
    raw.resize(raw.len() + present * 784, 7);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap()
}

#[test]
fn whole_file_reads_respect_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    latent_core::memory::set_limit(64 << 20);
    // an honest gzip IDX of 100,000 images: a small file, 78 MB of pixels, 392 MB in all
    let honest = dir.path().join("honest-idx3-ubyte.gz");
    std::fs::write(&honest, gz_images(100_000, 100_000)).unwrap();
    assert!(std::fs::metadata(&honest).unwrap().len() < 1 << 20);
    let err = idx::read_images(&honest).unwrap_err();
    assert!(matches!(err, DataError::TooLarge { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("honest-idx3-ubyte.gz") && msg.contains("100000 images of 28×28"),
        "{msg}"
    );
    // a lying one (10 images present) is truncated, as before
    let lying = dir.path().join("lying-idx3-ubyte.gz");
    std::fs::write(&lying, gz_images(100_000, 10)).unwrap();
    let err = idx::read_images(&lying).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    // streaming is not bounded by the limit: it holds one batch at a time
    let mut stream = idx::IdxRowSource::open(&honest).unwrap();
    assert_eq!(stream.next_batch(1000).unwrap().unwrap().nrows(), 1000);

    // an NPY with an honest header on a sparse file
    let x = ndarray::Array2::<f32>::zeros((2, 3));
    let small = dir.path().join("small.npy");
    npy::write_f32(&small, x.view()).unwrap();
    let mut bytes = std::fs::read(&small).unwrap();
    let header_end = bytes.len() - 24;
    // the dictionary after the 10-byte preamble, its padding shortened to keep the length
    let dict = String::from_utf8(bytes[10..header_end].to_vec()).unwrap();
    let dict = dict
        .replace("(2, 3)", "(9000000, 3)")
        .replacen("       \n", " \n", 1);
    assert_eq!(dict.len(), header_end - 10, "{dict}");
    bytes.truncate(10);
    bytes.extend_from_slice(dict.as_bytes());
    let sparse = dir.path().join("sparse.npy");
    std::fs::write(&sparse, &bytes).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&sparse)
        .unwrap()
        .set_len(bytes.len() as u64 + 9_000_000 * 3 * 4)
        .unwrap();
    let err = npy::read(&sparse).unwrap_err();
    assert!(
        matches!(err, DataError::TooLarge { .. }) && err.to_string().contains("(9000000, 3)"),
        "{err:?}"
    );
    let mut stream = npy::NpyRowSource::open(&sparse).unwrap();
    assert_eq!(stream.next_batch(10).unwrap().unwrap().nrows(), 10);

    // under a limit that allows it, the honest file reads
    latent_core::memory::set_limit(1 << 30);
    assert_eq!(idx::read_images(&honest).unwrap().n, 100_000);
}
