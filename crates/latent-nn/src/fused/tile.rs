//! Inference's dense products on AVX-512: register tiles that skip the zeros of the input.
//!
//! `c (m × n) += a (m × k) · b (k × n)`, every operand row-major, on the calling thread. For
//! every four rows of `a` and every [`KC`] depths, the depths where any of the four is
//! nonzero are gathered first (compress instructions, 16 at a time; the next four rows are
//! prefetched meanwhile), and each `4 × 80` or `4 × 96` tile of `c` is held in 20 or 24
//! vector registers while those depths' values are broadcast against the rows of `b`'s
//! panel, read in place (a 64 × 96 panel, 24 KiB, stays in the first-level cache; laying
//! the panels out contiguously first was no faster). Image rows are half zeros
//! (Fashion-MNIST: 50 % of the pixels; 21 % of the depths are zero in all four rows of a
//! group) and so are a ReLU layer's outputs: a skipped term is an exact zero, `0 · w` added
//! to a sum, which leaves it unchanged. Each element of `c` is its own initial value plus
//! the terms `a[i][p]·b[p][j]` with `a[i][p] ≠ 0` in the order `p = 0, 1, …` (fused
//! multiply-adds), whatever the rows around it: the same bits for any cut of the rows, so
//! for any number of threads, and for a row computed alone or among others.
//!
//! A weight that is not finite would make a skipped term NaN rather than zero: such a
//! weight gets no tile product ([`Weight::new`] of a weight that is not [`all_finite`]
//! gives `None`) and the caller's product (faer) spreads the NaN as before. Hosts without
//! AVX-512F and widths that are not a multiple of 16 take the caller's product too.
//! Measured in bench/README.md ("Encoding on register tiles that skip zeros").

/// Depths per block: a 64 × 96 panel of `b` (24 KiB) stays in the first-level cache. A
/// multiple of 16, which the gathering relies on.
const KC: usize = 64;
/// The vectors of 16 columns in a panel, for a width of `nv` vectors: six (a 4 × 96 tile
/// in 24 registers) or five, whichever leaves no narrow panel at the end — a one-vector
/// tile runs at about half the rate (400 columns: five panels of 80; 784: nine of 80 and one
/// of 64).
fn panel_vectors(nv: usize) -> usize {
    let (six, five) = (nv % 6, nv % 5);
    if six == 0 || (five != 0 && six >= five) {
        6
    } else {
        5
    }
}

/// Whether every value of `b` is finite: a weight that is not gets no tile product.
pub(super) fn all_finite(b: &[f32]) -> bool {
    b.iter().all(|v| v.is_finite())
}

/// A weight `b` (`k × n`, row-major) checked for [`Weight::add_product`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Weight<'a> {
    b: &'a [f32],
    k: usize,
    n: usize,
}

impl<'a> Weight<'a> {
    /// `b`, when this CPU has AVX-512F, `n` is a multiple of 16 and `finite` (the caller's
    /// [`all_finite`] of `b`, which may be kept while `b` does not change); `None` otherwise
    /// (the caller runs another product).
    pub(super) fn new(b: &'a [f32], k: usize, n: usize, finite: bool) -> Option<Self> {
        if !finite || !cfg!(target_arch = "x86_64") || !n.is_multiple_of(16) || b.len() != k * n {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return None;
        }
        Some(Weight { b, k, n })
    }

    /// `c (m × n) += a (m × k) · b` on the calling thread.
    ///
    /// # Panics
    /// When `a` does not hold `m × k` values or `c` `m × n` (a caller's bug).
    pub(super) fn add_product(&self, c: &mut [f32], a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        assert!(
            a.len() == m * k && c.len() == m * n,
            "tile product: {m} rows of {k} and of {n} expected, got {} and {}",
            a.len(),
            c.len()
        );
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: a `Weight` exists only where AVX-512F was detected (`new`), and the
        // lengths were checked above and in `new`.
        unsafe {
            avx512::product(c, a, self.b, m, k, n);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::arch::x86_64::{
        __m512, __mmask16, _CMP_NEQ_UQ, _MM_HINT_T0, _mm_prefetch, _mm512_add_epi32,
        _mm512_cmp_ps_mask, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_compress_epi32,
        _mm512_maskz_compress_ps, _mm512_maskz_loadu_ps, _mm512_set1_epi32, _mm512_set1_ps,
        _mm512_setr_epi32, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_storeu_si512,
    };

    use super::{KC, panel_vectors};

    /// Four rows' values at the gathered depths (row `r` from `r · KC`).
    type Values = [f32; 4 * KC];

    /// A `4 × 16V` tile of `c` (its first `rows` rows are read and written) plus the terms
    /// of the gathered depths: `idx` their rows in `bp`, `av` the four rows' values; the
    /// rows of `c` and of `bp` lie `ld` values apart (the width of both).
    ///
    /// # Safety
    /// AVX-512F; `c` holds `rows` rows of `16V` values at stride `ld`; every index of `idx`
    /// is a row of `bp`; `idx.len() ≤ KC`.
    #[inline(always)]
    unsafe fn tile<const V: usize>(
        av: &Values,
        idx: &[u32],
        bp: *const f32,
        c: *mut f32,
        ld: usize,
        rows: usize,
    ) {
        // SAFETY: offsets inside the regions the caller vouches for; `av` is read at
        // `r · KC + q` with `r < 4` and `q < idx.len() ≤ KC`.
        unsafe {
            let mut acc: [[__m512; V]; 4] = [[_mm512_setzero_ps(); V]; 4];
            for (r, row) in acc.iter_mut().enumerate().take(rows) {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(c.add(r * ld + 16 * j));
                }
            }
            for (q, &p) in idx.iter().enumerate() {
                let w = bp.add(p as usize * ld);
                let mut b: [__m512; V] = [_mm512_setzero_ps(); V];
                for (j, v) in b.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(w.add(16 * j));
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*av.get_unchecked(r * KC + q));
                    for (v, &bj) in row.iter_mut().zip(&b) {
                        *v = _mm512_fmadd_ps(x, bj, *v);
                    }
                }
            }
            for (r, row) in acc.iter().enumerate().take(rows) {
                for (j, v) in row.iter().enumerate() {
                    _mm512_storeu_ps(c.add(r * ld + 16 * j), *v);
                }
            }
        }
    }

    /// The depths `p < kc` where any of the `rows` rows of `a` (stride `lda`) is nonzero
    /// (or NaN): their indices into `idx`, the rows' values into `av`; returns how many.
    ///
    /// # Safety
    /// AVX-512F; `a` holds `rows ≤ 4` rows of `kc ≤ KC` values at stride `lda`.
    #[target_feature(enable = "avx512f")]
    unsafe fn gather(
        a: *const f32,
        lda: usize,
        rows: usize,
        kc: usize,
        av: &mut Values,
        idx: &mut [u32; KC],
    ) -> usize {
        // SAFETY: the loads are masked to `p..kc`; each store writes 16 lanes at `q`, and
        // `q ≤ p ≤ KC − 16` (p a multiple of 16 below `kc ≤ KC`), so they stay inside row
        // `r`'s `KC` slots and inside `idx`.
        unsafe {
            let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let zero = _mm512_setzero_ps();
            let (mut q, mut p) = (0, 0);
            while p < kc {
                let live: __mmask16 = if kc - p >= 16 {
                    u16::MAX
                } else {
                    (1u16 << (kc - p)) - 1
                };
                let mut v = [zero; 4];
                let mut any: __mmask16 = 0;
                for (r, vr) in v.iter_mut().enumerate().take(rows) {
                    *vr = _mm512_maskz_loadu_ps(live, a.add(r * lda + p));
                    any |= _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(*vr, zero);
                }
                for (r, vr) in v.iter().enumerate().take(rows) {
                    let packed = _mm512_maskz_compress_ps(any, *vr);
                    _mm512_storeu_ps(av.as_mut_ptr().add(r * KC + q), packed);
                }
                let at = _mm512_add_epi32(iota, _mm512_set1_epi32(p as i32));
                let packed = _mm512_maskz_compress_epi32(any, at);
                _mm512_storeu_si512(idx.as_mut_ptr().add(q).cast(), packed);
                q += any.count_ones() as usize;
                p += 16;
            }
            q
        }
    }

    /// Four rows (the first `rows` of them) against every panel of 80 or 96 columns of one
    /// block of depths of `b` (from `block`, rows of `n` values).
    ///
    /// # Safety
    /// As [`tile`], for `n` columns of `c` and the block's rows.
    #[target_feature(enable = "avx512f")]
    unsafe fn rows4(
        av: &Values,
        idx: &[u32],
        block: *const f32,
        n: usize,
        c: *mut f32,
        rows: usize,
    ) {
        // SAFETY: the tile's columns `j0..j0 + width` lie inside the rows of `b` and `c`.
        unsafe {
            let nc = 16 * panel_vectors(n / 16);
            let mut j0 = 0;
            while j0 < n {
                let width = nc.min(n - j0);
                let (bp, cp) = (block.add(j0), c.add(j0));
                match width / 16 {
                    6 => tile::<6>(av, idx, bp, cp, n, rows),
                    5 => tile::<5>(av, idx, bp, cp, n, rows),
                    4 => tile::<4>(av, idx, bp, cp, n, rows),
                    3 => tile::<3>(av, idx, bp, cp, n, rows),
                    2 => tile::<2>(av, idx, bp, cp, n, rows),
                    _ => tile::<1>(av, idx, bp, cp, n, rows),
                }
                j0 += width;
            }
        }
    }

    /// `c += a · b` (see [`super::Weight`]).
    ///
    /// # Safety
    /// AVX-512F; `n` a multiple of 16; `c`, `a` and `b` hold `m × n`, `m × k` and `k × n`
    /// values.
    pub(super) unsafe fn product(
        c: &mut [f32],
        a: &[f32],
        b: &[f32],
        m: usize,
        k: usize,
        n: usize,
    ) {
        let mut av: Values = [0.0; 4 * KC];
        let mut idx = [0u32; KC];
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            let mut r = 0;
            while r < m {
                let rows = 4.min(m - r);
                // SAFETY: rows `r..r + rows` of `a` from depth `p0` (`kc` values each) and
                // of `c`; the depths' rows of `b` from `p0 · n`.
                unsafe {
                    // the next group's rows at these depths, from memory while this one runs
                    for i in r + 4..(r + 8).min(m) {
                        for off in (0..kc).step_by(16) {
                            _mm_prefetch::<_MM_HINT_T0>(a.as_ptr().add(i * k + p0 + off).cast());
                        }
                    }
                    let q = gather(a.as_ptr().add(r * k + p0), k, rows, kc, &mut av, &mut idx);
                    let block = b.as_ptr().add(p0 * n);
                    rows4(&av, &idx[..q], block, n, c.as_mut_ptr().add(r * n), rows);
                }
                r += rows;
            }
            p0 += kc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a double-precision product, for widths of one to six vectors and their
    /// mixes, row counts off the tiles, depths off the panels and off 16, inputs with zeros
    /// (rows, columns, scattered) and negative zeros; a row alone gives the same bits as in
    /// its block; a non-finite weight or an odd width gets no tile product.
    #[test]
    fn tiled_product_matches_a_double_precision_one() {
        let mut seed = 12345u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as f32 / u32::MAX as f32 - 0.5
        };
        for &(m, k, n) in &[
            (1, 1, 16),
            (13, 97, 16),
            (8, 64, 32),
            (21, 200, 48),
            (37, 784, 400),
            (64, 191, 80),
            (3, 400, 784),
            (6, 20, 400),
            (9, 130, 112),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| {
                    let v = next();
                    // whole zero columns in places, scattered zeros, some negative zeros
                    if (i % k) % 7 == 3 || v.abs() < 0.15 {
                        0.0
                    } else if v.abs() < 0.2 {
                        -0.0
                    } else {
                        v
                    }
                })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| next()).collect();
            let Some(weight) = Weight::new(&b, k, n, all_finite(&b)) else {
                // no AVX-512 here: the caller's product is what runs
                return;
            };
            let mut c = c0.clone();
            weight.add_product(&mut c, &a, m);
            for i in 0..m {
                for j in 0..n {
                    let terms = (0..k).map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]));
                    let exact = f64::from(c0[i * n + j]) + terms.clone().sum::<f64>();
                    let scale = f64::from(c0[i * n + j]).abs() + terms.map(f64::abs).sum::<f64>();
                    let got = f64::from(c[i * n + j]);
                    assert!(
                        (got - exact).abs() <= 1e-6 * scale * (k as f64).sqrt() + 1e-30,
                        "{m}x{k}x{n} at ({i}, {j}): {got} vs {exact}"
                    );
                }
            }
            for i in [0, m / 2, m - 1] {
                let mut row = c0[i * n..(i + 1) * n].to_vec();
                weight.add_product(&mut row, &a[i * k..(i + 1) * k], 1);
                let block: Vec<u32> = c[i * n..(i + 1) * n].iter().map(|v| v.to_bits()).collect();
                let alone: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
                assert_eq!(block, alone, "{m}x{k}x{n}: row {i}");
            }
        }
        let mut b = vec![0.5f32; 3 * 32];
        assert!(all_finite(&b) && Weight::new(&b, 3, 32, true).is_some());
        b[40] = f32::NAN;
        assert!(!all_finite(&b) && Weight::new(&b, 3, 32, all_finite(&b)).is_none());
        b[40] = f32::NEG_INFINITY;
        assert!(!all_finite(&b));
        assert!(Weight::new(&[0.5; 3 * 20], 3, 20, true).is_none());
    }
}
