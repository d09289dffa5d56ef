//! Headers that claim enormous sizes are refused without allocating for them: this test binary
//! counts the largest single allocation made while malformed files are read. (It holds one
//! test so that no other test allocates at the same time.)
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unsafe_code)] // a counting global allocator needs `unsafe impl GlobalAlloc`

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use latent_core::RowSource;
use latent_data::{DataError, idx, npy};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

/// Run `f`, returning the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, Ordering::SeqCst);
    let out = f();
    (out, LARGEST.load(Ordering::SeqCst))
}

const MIB: usize = 1 << 20;

type Reader = Box<dyn Fn(&Path) -> Result<(), DataError>>;

#[test]
fn huge_claims_allocate_nothing_large() {
    let cases: Vec<(&str, Reader)> = vec![
        (
            "huge-images-idx3-ubyte",
            Box::new(|p| idx::read_images(p).map(drop)),
        ),
        (
            "claims-10m-images-idx3-ubyte",
            Box::new(|p| idx::read_images(p).map(drop)),
        ),
        (
            "claims-10m-images-idx3-ubyte.gz",
            Box::new(|p| idx::read_images(p).map(drop)),
        ),
        (
            "claims-4g-labels-idx1-ubyte.gz",
            Box::new(|p| idx::read_labels(p).map(drop)),
        ),
        ("huge-shape.npy", Box::new(|p| npy::read(p).map(drop))),
        ("claims-1g.npy", Box::new(|p| npy::read(p).map(drop))),
        (
            "claims-1g.npy",
            Box::new(|p| npy::NpyRowSource::open(p).map(drop)),
        ),
    ];
    for (name, read) in &cases {
        let path = corpus(name);
        let (result, largest) = largest_allocation(|| read(&path));
        assert!(result.is_err(), "{name} was accepted");
        assert!(largest < MIB, "{name}: allocated {largest} bytes at once");
    }
    // the same from memory
    for name in ["huge-images-idx3-ubyte", "claims-10m-images-idx3-ubyte"] {
        let bytes = std::fs::read(corpus(name)).unwrap();
        let (r, largest) = largest_allocation(|| idx::parse_images(Path::new(name), &bytes));
        assert!(r.is_err() && largest < MIB, "{name}: {largest}");
    }
    let gz = std::fs::read(corpus("claims-10m-images-idx3-ubyte.gz")).unwrap();
    let (r, largest) = largest_allocation(|| idx::load_bytes("gz", &gz, None));
    assert!(r.is_err() && largest < MIB, "load_bytes: {largest}");
    for name in ["huge-shape.npy", "claims-1g.npy"] {
        let bytes = std::fs::read(corpus(name)).unwrap();
        let (r, largest) = largest_allocation(|| npy::parse(Path::new(name), &bytes));
        assert!(r.is_err() && largest < MIB, "{name}: {largest}");
    }
    // Streaming a compressed file whose size cannot be checked up front: a batch is bounded
    // (64 MiB), whatever the caller asks for and whatever the header claims.
    let (src, largest) =
        largest_allocation(|| idx::IdxRowSource::open(&corpus("claims-10m-images-idx3-ubyte.gz")));
    assert!(largest < MIB, "stream open: {largest}");
    let mut src = src.unwrap();
    let (r, largest) = largest_allocation(|| src.next_batch(usize::MAX));
    assert!(r.is_err());
    assert!(largest <= 65 * MIB, "stream batch: {largest}");
}
