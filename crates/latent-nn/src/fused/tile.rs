//! Dense products on AVX-512 that skip the zeros of their left operand: register tiles.
//!
//! `c (m × n) += a (m × k) · b (k × n)` on the calling thread, `c` and `b` row-major, `a`
//! row-major too ([`Weight::add_product`]: inference) or the transpose of a row-major matrix
//! ([`Weight::add_transposed_product`]: the encoder's weight gradients `inputᵀ · δ`). For
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
//!
//! A weight gradient `inputᵀ · δ` also skips `δ`'s columns that are zero in every row (the
//! units a ReLU layer left off for the whole batch: half of the reference VAE's encoder units
//! are off for every image): [`LiveColumns`] packs the others side by side before the
//! product and spreads the result back after it, zeros in the skipped columns.

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

/// Whether this CPU runs the tiles: an x86-64 with AVX-512F (every `Weight` and
/// `LiveColumns` mask exists only where it does; the unsafe blocks rely on it).
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether [`Weight::add_transposed_product`] takes a left operand with rows of `lda`
/// values: its gathers address 16 rows with 32-bit offsets.
pub(super) fn transposable(lda: usize) -> bool {
    lda <= i32::MAX as usize / 16
}

/// Whether every value of `b` is finite: a weight that is not gets no tile product.
pub(super) fn all_finite(b: &[f32]) -> bool {
    b.iter().all(|v| v.is_finite())
}

/// A right operand `b` (`k × n`, row-major) checked for the tile products.
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
        if !finite || !n.is_multiple_of(16) || b.len() != k * n || !has_avx512() {
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
            let lhs = avx512::Lhs::Rows(a.as_ptr());
            avx512::product(c.as_mut_ptr(), lhs, self.b.as_ptr(), m, k, n, n);
        }
    }

    /// `c (m × n) += aᵀ · b` on the calling thread, where `aᵀ` (`m × k`) is columns
    /// `col..col + m` of `a`, `k` rows of `lda` values (a weight gradient's block of rows:
    /// `inputᵀ · δ` for some of the input's features).
    ///
    /// # Panics
    /// When `a` does not hold those columns or `c` `m × n` values (a caller's bug).
    pub(super) fn add_transposed_product(&self, c: &mut [f32], a: &[f32], lda: usize, col: usize) {
        let (k, n) = (self.k, self.n);
        let m = c.len().checked_div(n).unwrap_or(0);
        assert!(
            transposable(lda)
                && c.len() == m * n
                && col + m <= lda
                && (k == 0 || a.len() >= (k - 1) * lda + col + m),
            "transposed tile product: columns {col}..{} of {k} rows of {lda} and {m} rows of \
             {n} expected, got {} and {} values",
            col + m,
            a.len(),
            c.len()
        );
        if m == 0 || k == 0 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: a `Weight` exists only where AVX-512F was detected (`new`); the columns
        // of `a` and the lengths were checked above and in `new`.
        unsafe {
            let lhs = avx512::Lhs::Columns(a.as_ptr().add(col), lda);
            avx512::product(c.as_mut_ptr(), lhs, self.b.as_ptr(), m, k, n, n);
        }
    }
}

/// The columns of a `rows × n` matrix (`n` a multiple of 16) that are nonzero in some row
/// (or NaN), as one bit mask per 16 columns: [`LiveColumns::pack`] lays them side by side,
/// [`LiveColumns::unpack`] spreads a matrix of packed columns back, zeros in the others.
#[derive(Debug, Default)]
pub(super) struct LiveColumns {
    masks: Vec<u16>,
    live: usize,
}

impl LiveColumns {
    /// The live columns of `d` (`n` wide), when this CPU has AVX-512F and `n` is a
    /// multiple of 16; `false` (and nothing found) otherwise.
    pub(super) fn find(&mut self, d: &[f32], n: usize) -> bool {
        if n == 0 || !n.is_multiple_of(16) || !has_avx512() {
            return false;
        }
        self.masks.clear();
        self.masks.resize(n / 16, 0);
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: AVX-512F detected above (`has_avx512`); `masks` holds one mask per 16
        // columns.
        unsafe {
            avx512::live_masks(d, n, &mut self.masks);
        }
        self.live = self.masks.iter().map(|m| m.count_ones() as usize).sum();
        true
    }

    /// The width of a packed matrix: the live columns, rounded up to a multiple of 16
    /// (zero columns at the end).
    pub(super) fn packed_width(&self) -> usize {
        self.live.div_ceil(16) * 16
    }

    /// `d`'s live columns side by side into `out` (`rows ×` [`LiveColumns::packed_width`],
    /// zeros after the live ones), which is resized to hold them and 16 values more.
    pub(super) fn pack(&self, d: &[f32], out: &mut Vec<f32>) {
        let (n, np) = (16 * self.masks.len(), self.packed_width());
        let rows = d.len().checked_div(n).unwrap_or(0);
        out.resize(rows * np + 16, 0.0);
        if np == 0 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: masks exist only where AVX-512F was detected (`find`); `out` holds
        // `rows × np` values and 16 more for the last row's whole-vector stores.
        unsafe {
            avx512::pack(d, n, &self.masks, out, np);
        }
    }

    /// The packed matrix `packed` (`rows ×` [`LiveColumns::packed_width`]) spread back
    /// into `out` (`rows × n`): its live columns, and zeros in the others.
    ///
    /// # Panics
    /// When `packed` does not hold `out`'s rows (a caller's bug).
    pub(super) fn unpack(&self, packed: &[f32], out: &mut [f32]) {
        let (n, np) = (16 * self.masks.len(), self.packed_width());
        let rows = out.len().checked_div(n).unwrap_or(0);
        assert!(
            packed.len() == rows * np,
            "unpack: {rows} rows of {np} expected, got {} values",
            packed.len()
        );
        if np == 0 {
            out.fill(0.0);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        // SAFETY: masks exist only where AVX-512F was detected (`find`); the lengths were
        // checked above.
        unsafe {
            avx512::unpack(packed, np, &self.masks, out, n);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::arch::x86_64::{
        __m512, __mmask16, _CMP_NEQ_UQ, _MM_HINT_T0, _mm_prefetch, _mm512_add_epi32,
        _mm512_cmp_ps_mask, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_i32gather_ps,
        _mm512_maskz_compress_epi32, _mm512_maskz_compress_ps, _mm512_maskz_expandloadu_ps,
        _mm512_maskz_loadu_ps, _mm512_mullo_epi32, _mm512_set1_epi32, _mm512_set1_ps,
        _mm512_setr_epi32, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_storeu_si512,
    };

    use super::{KC, panel_vectors};

    /// Where the left operand's rows are: row-major (`m × k`, rows `k` apart), or the
    /// transpose of a row-major matrix (`k` rows `ld` apart, its first `m` columns).
    #[derive(Clone, Copy)]
    pub(super) enum Lhs {
        Rows(*const f32),
        Columns(*const f32, usize),
    }

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

    /// The depths `p < kc` where any of the `rows` rows of `a` is nonzero (or NaN): their
    /// indices into `idx`, the rows' values into `av`; returns how many. The rows lie
    /// `lda` values apart, or (`COLUMNS`) are columns of a row-major matrix whose rows
    /// (the depths) lie `lda` apart.
    ///
    /// # Safety
    /// AVX-512F; `a` holds `rows ≤ 4` rows of `kc ≤ KC` values at stride `lda`, or with
    /// `COLUMNS` `kc` rows at stride `lda` of at least `rows` values, `16 · lda` within an
    /// `i32` ([`super::transposable`]).
    #[target_feature(enable = "avx512f")]
    unsafe fn gather<const COLUMNS: bool>(
        a: *const f32,
        lda: usize,
        rows: usize,
        kc: usize,
        av: &mut Values,
        idx: &mut [u32; KC],
    ) -> usize {
        // SAFETY: the loads and gathers are masked to the depths `p..kc` of rows (or
        // columns) `r < rows`; each store writes 16 lanes at `q`, and `q ≤ p ≤ KC − 16` (p a
        // multiple of 16 below `kc ≤ KC`), so they stay inside row `r`'s `KC` slots and
        // inside `idx`.
        unsafe {
            let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let offsets = _mm512_mullo_epi32(iota, _mm512_set1_epi32(lda as i32));
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
                    *vr = if COLUMNS {
                        _mm512_mask_i32gather_ps::<4>(zero, live, offsets, a.add(p * lda + r))
                    } else {
                        _mm512_maskz_loadu_ps(live, a.add(r * lda + p))
                    };
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
    /// block of depths of `b` (from `block`, `n` columns of rows `ld` values apart, as
    /// `c`'s).
    ///
    /// # Safety
    /// As [`tile`], for `n` columns of `c` and the block's rows.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows4(
        av: &Values,
        idx: &[u32],
        block: *const f32,
        n: usize,
        ld: usize,
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
                    6 => tile::<6>(av, idx, bp, cp, ld, rows),
                    5 => tile::<5>(av, idx, bp, cp, ld, rows),
                    4 => tile::<4>(av, idx, bp, cp, ld, rows),
                    3 => tile::<3>(av, idx, bp, cp, ld, rows),
                    2 => tile::<2>(av, idx, bp, cp, ld, rows),
                    _ => tile::<1>(av, idx, bp, cp, ld, rows),
                }
                j0 += width;
            }
        }
    }

    /// `c += a · b` (see [`super::Weight`]) for `n` columns of `c` and `b`, whose rows are
    /// `ld` values apart.
    ///
    /// # Safety
    /// AVX-512F; `n` a multiple of 16, `n ≤ ld`; `c` and `b` point to `m` and `k` rows of
    /// `n` values `ld` apart, `c`'s written by no one else meanwhile; `a` points to an
    /// `m × k` operand as its [`Lhs`] says (a transposed one with [`super::transposable`]
    /// rows).
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn product(
        c: *mut f32,
        a: Lhs,
        b: *const f32,
        m: usize,
        k: usize,
        n: usize,
        ld: usize,
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
                // of `c`; the depths' rows of `b` from `p0 · ld`.
                unsafe {
                    let q = match a {
                        Lhs::Rows(a) => {
                            // the next group's rows at these depths, from memory while this
                            // one runs
                            for i in r + 4..(r + 8).min(m) {
                                for off in (0..kc).step_by(16) {
                                    _mm_prefetch::<_MM_HINT_T0>(a.add(i * k + p0 + off).cast());
                                }
                            }
                            gather::<false>(a.add(r * k + p0), k, rows, kc, &mut av, &mut idx)
                        }
                        Lhs::Columns(a, ld) => {
                            gather::<true>(a.add(p0 * ld + r), ld, rows, kc, &mut av, &mut idx)
                        }
                    };
                    let block = b.add(p0 * ld);
                    rows4(&av, &idx[..q], block, n, ld, c.add(r * ld), rows);
                }
                r += rows;
            }
            p0 += kc;
        }
    }

    /// For each 16 columns of `d` (rows of `n` values), the bits of those nonzero (or NaN)
    /// in some row, or-ed into `masks`.
    ///
    /// # Safety
    /// AVX-512F; `n` a multiple of 16; `masks` holds `n / 16` masks.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn live_masks(d: &[f32], n: usize, masks: &mut [u16]) {
        let zero = _mm512_setzero_ps();
        for row in d.chunks_exact(n) {
            for (mask, v) in masks.iter_mut().zip(row.chunks_exact(16)) {
                // SAFETY: 16 values of the row
                let v = unsafe { _mm512_loadu_ps(v.as_ptr()) };
                *mask |= _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, zero);
            }
        }
    }

    /// Each row of `d` (`n` values) with only the columns of `masks`, side by side, into
    /// a row of `np` values of `out`, zeros after them.
    ///
    /// # Safety
    /// AVX-512F; `n` a multiple of 16; `masks` holds `n / 16` masks whose bits number at
    /// most `np`; `out` holds `np` values per row of `d` and 16 more.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pack(d: &[f32], n: usize, masks: &[u16], out: &mut [f32], np: usize) {
        for (i, row) in d.chunks_exact(n).enumerate() {
            let mut q = i * np;
            for (&mask, v) in masks.iter().zip(row.chunks_exact(16)) {
                // SAFETY: 16 values of the row; the store writes 16 values from `q`, which
                // stays below `(i + 1) · np` (at most `np` bits), so inside `out`'s slack;
                // the zeros it writes past the row's live values are the row's padding or
                // the next row's, written over after.
                unsafe {
                    let packed = _mm512_maskz_compress_ps(mask, _mm512_loadu_ps(v.as_ptr()));
                    _mm512_storeu_ps(out.as_mut_ptr().add(q), packed);
                }
                q += mask.count_ones() as usize;
            }
        }
    }

    /// Each row of `packed` (`np` values) spread into a row of `out` (`n` values): the
    /// columns of `masks` take the row's values in order, the others zeros.
    ///
    /// # Safety
    /// AVX-512F; `n` a multiple of 16; `masks` holds `n / 16` masks whose bits number at
    /// most `np`; `packed` holds `np` values per row of `out`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn unpack(
        packed: &[f32],
        np: usize,
        masks: &[u16],
        out: &mut [f32],
        n: usize,
    ) {
        for (row, from) in out.chunks_exact_mut(n).zip(packed.chunks_exact(np)) {
            let mut q = 0;
            for (&mask, v) in masks.iter().zip(row.chunks_exact_mut(16)) {
                // SAFETY: the expanding load reads the mask's `count_ones` values from `q`,
                // inside the row (at most `np` bits in all); the store writes the row's 16
                // values.
                unsafe {
                    let spread = _mm512_maskz_expandloadu_ps(mask, from.as_ptr().add(q));
                    _mm512_storeu_ps(v.as_mut_ptr(), spread);
                }
                q += mask.count_ones() as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform values in `[-0.5, 0.5)`, reproducible.
    fn values(seed: u32) -> impl FnMut() -> f32 {
        let mut seed = seed;
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as f32 / u32::MAX as f32 - 0.5
        }
    }

    /// `len` values in rows of `width`: zeros in every feature `f % every == at`, and
    /// scattered zeros and negative zeros elsewhere.
    fn sparse(
        len: usize,
        width: usize,
        (every, at): (usize, usize),
        next: &mut impl FnMut() -> f32,
    ) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = next();
                if (i % width) % every == at || v.abs() < 0.15 {
                    0.0
                } else if v.abs() < 0.2 {
                    -0.0
                } else {
                    v
                }
            })
            .collect()
    }

    /// `got` is `c0 + Σ terms` to within float rounding over `terms.len()` terms.
    fn assert_near(got: f32, c0: f32, terms: &[f64], what: &str) {
        let exact = f64::from(c0) + terms.iter().sum::<f64>();
        let scale = f64::from(c0).abs() + terms.iter().map(|t| t.abs()).sum::<f64>();
        let got = f64::from(got);
        assert!(
            (got - exact).abs() <= 1e-6 * scale * (terms.len() as f64).sqrt() + 1e-30,
            "{what}: {got} vs {exact}"
        );
    }

    /// Against a double-precision product, for widths of one to six vectors and their
    /// mixes, row counts off the tiles, depths off the panels and off 16, inputs with zeros
    /// (rows, columns, scattered) and negative zeros; a row alone gives the same bits as in
    /// its block; a non-finite weight or an odd width gets no tile product.
    #[test]
    fn tiled_product_matches_a_double_precision_one() {
        let mut next = values(12345);
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
            let a = sparse(m * k, k, (7, 3), &mut next);
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
                    let terms: Vec<f64> = (0..k)
                        .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                        .collect();
                    let at = format!("{m}x{k}x{n} at ({i}, {j})");
                    assert_near(c[i * n + j], c0[i * n + j], &terms, &at);
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

    /// The transposed product against a double-precision one, on blocks of columns of
    /// the left operand as the weight gradients cut them (same bits whatever the cut), and
    /// the live columns packed and spread back exactly.
    #[test]
    fn transposed_product_and_live_columns() {
        let mut next = values(777);
        for &(k, m, n) in &[
            (1, 1, 16),
            (128, 784, 400),
            (37, 45, 48),
            (70, 9, 16),
            (64, 130, 96),
        ] {
            // `a`: k rows of m features
            let a = sparse(k * m, m, (5, 1), &mut next);
            // `d`: k rows of n, some columns zero in every row, one NaN in a live column
            let mut d: Vec<f32> = (0..k * n)
                .map(|i| if (i % n) % 3 == 0 { 0.0 } else { next() })
                .collect();
            let mut live = LiveColumns::default();
            if !live.find(&d, n) {
                return; // no AVX-512 here
            }
            assert_eq!(live.packed_width(), (n - n.div_ceil(3)).div_ceil(16) * 16);
            let mut packed = Vec::new();
            live.pack(&d, &mut packed);
            let np = live.packed_width();
            let mut back = vec![f32::NAN; k * n];
            live.unpack(&packed[..k * np], &mut back);
            assert_eq!(
                back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                d.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{k}x{n}: packed and spread back"
            );
            let w = Weight::new(&packed[..k * np], k, np, true).expect("AVX-512");
            let mut whole = vec![0.0f32; m * np];
            w.add_transposed_product(&mut whole, &a, m, 0);
            let mut grad = vec![f32::NAN; m * n];
            live.unpack(&whole, &mut grad);
            for i in 0..m {
                for j in 0..n {
                    let terms: Vec<f64> = (0..k)
                        .map(|p| f64::from(a[p * m + i]) * f64::from(d[p * n + j]))
                        .collect();
                    assert_near(
                        grad[i * n + j],
                        0.0,
                        &terms,
                        &format!("{k}x{m}x{n} at ({i}, {j})"),
                    );
                }
            }
            // blocks of 4, 8 and 12 features, and a block at an odd column
            for block in [4, 8, 12, 3] {
                let mut cut = vec![0.0f32; m * np];
                for (b, c) in cut.chunks_mut(block * np).enumerate() {
                    w.add_transposed_product(c, &a, m, b * block);
                }
                assert!(
                    cut.iter()
                        .zip(&whole)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{k}x{m}x{n}: blocks of {block}"
                );
            }
            // a NaN keeps its column live, and reaches the gradient through a nonzero input
            let j = (0..n).find(|j| j % 3 == 0).unwrap_or(0);
            let p = (0..k).find(|&p| a[p * m..(p + 1) * m].iter().any(|&v| v != 0.0));
            if let Some(p) = p {
                d[p * n + j] = f32::NAN;
                assert!(live.find(&d, n));
                live.pack(&d, &mut packed);
                let np = live.packed_width();
                let w = Weight::new(&packed[..k * np], k, np, true).expect("AVX-512");
                let mut whole = vec![0.0f32; m * np];
                w.add_transposed_product(&mut whole, &a, m, 0);
                live.unpack(&whole, &mut grad);
                let i = (0..m).find(|&i| a[p * m + i] != 0.0).unwrap_or(0);
                assert!(grad[i * n + j].is_nan(), "{k}x{m}x{n}: NaN at ({i}, {j})");
            }
        }
        // nothing live: nothing to pack, zeros spread
        let mut live = LiveColumns::default();
        if live.find(&[0.0; 32], 16) {
            assert_eq!(live.packed_width(), 0);
            let mut out = vec![1.0; 32];
            live.unpack(&[], &mut out);
            assert!(out.iter().all(|&v| v == 0.0));
        }
    }
}
