//! Vector-register hygiene after foreign SIMD kernels.
//!
//! faer's matrix-product kernels are AVX-512 (or AVX2) code that returns with the upper
//! halves of the vector registers still holding data. Code compiled for the baseline x86-64
//! target (SSE: most of Rust's scalar float code, and glibc's `expf` called from it) then
//! runs in the processor's "dirty upper state", where, on the Intel Xeon hosts measured, every
//! switch between SSE and VEX code costs hundreds of cycles: the reparameterisation of a
//! batch of 128 × 20 codes took 370 µs after a product and 10 µs after
//! [`clear_upper_state`] (bench/README.md, "The dirty upper state"). Call it on the thread
//! that ran such a kernel, before returning to ordinary code.

/// Zeroes the upper halves of the vector registers (`vzeroupper`) when the processor has
/// AVX; nothing elsewhere. The caller must hold no vector values across it, which ordinary
/// code between two function calls does not.
#[inline]
pub fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        #[allow(unsafe_code)]
        // SAFETY: the instruction exists (AVX, detected above); the compiler knows it as
        // clobbering the registers' upper halves and keeps no value in them across it.
        unsafe {
            std::arch::x86_64::_mm256_zeroupper();
        }
    }
}
