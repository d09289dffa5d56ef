//! The `latent` binary: see `latent --help`.

use std::alloc::{GlobalAlloc, Layout};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: training allocates and frees tensors of the
/// same few sizes thousands of times per epoch, and glibc's malloc returns the large ones to
/// the kernel only to page-fault them back in (measured in bench/README.md). An allocation
/// the system refuses ends the process with exit code 2 and a message instead of an abort
/// (latent checks what inputs and flags will cost before allocating, see
/// `latent_core::memory`; this is for what the estimates miss).
struct Allocator;

#[global_allocator]
static GLOBAL: Allocator = Allocator;

#[allow(unsafe_code)] // a global allocator is an `unsafe impl`
// SAFETY: every call is forwarded unchanged to mimalloc; a null result never returns.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is mimalloc's.
        checked(unsafe { mimalloc::MiMalloc.alloc(layout) }, layout.size())
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        checked(
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) },
            layout.size(),
        )
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        checked(
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
            new_size,
        )
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}

fn checked(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        out_of_memory(size);
    }
    ptr
}

/// Say that `size` bytes could not be allocated and exit with code 2, allocating nothing.
/// Should the exit itself fail to allocate (an exit handler), the process aborts.
#[cold]
fn out_of_memory(size: usize) -> ! {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    static EXITING: AtomicBool = AtomicBool::new(false);
    if EXITING.swap(true, Ordering::SeqCst) {
        std::process::abort();
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = size;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"error: out of memory: the system refused an allocation of ");
    let _ = err.write_all(&digits[at..]);
    let _ = err.write_all(
        b" bytes (lower the data size or the request, or set --max-memory below the memory \
          available so that latent refuses it before starting)\n",
    );
    std::process::exit(2)
}

fn main() -> ExitCode {
    latent_cli::run_main(std::env::args_os())
}
