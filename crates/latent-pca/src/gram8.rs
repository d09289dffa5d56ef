//! The exact Gram matrix of 8-bit data (images): `G = QᵀQ` and the column sums `S` of the
//! integer levels `Q` (`0..=255`) behind the rows, computed in integer arithmetic.
//!
//! Image data is 8-bit. Whether it arrives as the levels themselves (`0.0, 1.0, …, 255.0`)
//! or scaled to `[0, 1]` (a level `q` stored as the f32 or f64 nearest `q / 255`, by a
//! division or a multiplication by `1/255`), every value is one of 256 levels, and the
//! covariance is `(n·G − S Sᵀ) / (n (n − 1))` times the squared scale, exactly, from integers:
//! `n·G_ij − S_i S_j` is an exact integer (in i128), rounded once to f64. No centring pass,
//! no cancellation, the same bits on any host and any thread count — and the products run as
//! AVX-512 VNNI byte dot products, four times the multiply–adds of an f32 FMA per instruction,
//! or on AVX2 as 16-bit multiply–adds (`vpmaddwd`), twice an f32 FMA's.
//!
//! [`levels`] decides on a sample whether data looks 8-bit; [`gram`] then checks every value
//! as it packs it and gives up (`None`) on the first that is not a level, or when this host
//! has no integer kernel (not x86-64, or older than AVX2): the caller fits in floating point
//! as before.
//!
//! Layout: the rows are packed a slab of [`SLAB_ROWS`] at a time (in L2) into panels of
//! [`PANEL`] columns; in a panel, each group of 4 rows (a "quad") is one `u32` per column, its
//! byte `b` the level of row `4t + b`. A VNNI `vpdpbusd` multiplies 4 unsigned bytes by 4
//! signed bytes and adds the 4 products to an i32 lane: the broadcast side (the tile's 8 rows
//! of `G`) is the unsigned levels, the vector side (32 columns of `G`) the levels minus 128
//! (a XOR with `0x80`), and `Σ a (b − 128) + 128 Σ a` restores `G`.
#![allow(unsafe_code)] // the SIMD kernel: runtime-detected target features and vector loads

use faer::Mat;
use ndarray::{ArrayView2, Axis, s};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Rows packed at a time into a slab (a multiple of 4): `SLAB_ROWS × d` bytes, in L2.
const SLAB_ROWS: usize = 1024;
/// Columns per panel, and per tile of the vector side of the kernel.
const PANEL: usize = 32;
/// Rows of `G` per tile (the broadcast side of the kernel).
const MR: usize = 8;
/// Slabs accumulated in i32 before they are added to the i64 totals: each product of a
/// level and a level minus 128 is at most `255 · 128` in magnitude, so a slab adds at most
/// `SLAB_ROWS · 255 · 128` to a lane.
const FLUSH_SLABS: usize = 32;
const _: () = assert!(SLAB_ROWS.is_multiple_of(4) && PANEL.is_multiple_of(MR));
const _: () = assert!((FLUSH_SLABS * SLAB_ROWS * 255 * 128) < i32::MAX as usize);
/// The widest data fitted this way: the per-thread i32 and i64 accumulators take 12 bytes
/// per entry of `G`.
const MAX_DIM: usize = 4096;
/// The most rows (of this process, and of a job): the sums stay exact in f64
/// (`n · 255² < 2⁵³`) when summed over ranks.
pub(crate) const MAX_ROWS: usize = 1 << 36;

/// How a value stands for an 8-bit level `q`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grid {
    /// The level itself: `0.0, 1.0, …, 255.0`.
    Integers,
    /// `q / 255`, rounded to the value's type (by a division or a multiplication by `1/255`;
    /// in f64 also an f32 value widened).
    Over255,
}

impl Grid {
    /// The value of level 1.
    pub(crate) fn scale(self) -> f64 {
        match self {
            Grid::Integers => 1.0,
            Grid::Over255 => 1.0 / 255.0,
        }
    }
}

/// An element type of the data: the level a value stands for on a [`Grid`].
pub(crate) trait Level: Copy + Into<f64> + Sync {
    /// The level `q` nearest `self` on `grid`, and whether `self` is exactly that level's
    /// value (`false` for NaN, infinities and values off the grid). Branch-free, so that
    /// the packing loop vectorises.
    fn level(self, grid: Grid) -> (u8, bool);

    /// The values as f32, when they are (the packing has a SIMD path for f32).
    fn as_f32(values: &[Self]) -> Option<&[f32]> {
        let _ = values;
        None
    }
}

impl Level for f32 {
    #[inline(always)]
    fn level(self, grid: Grid) -> (u8, bool) {
        match grid {
            Grid::Integers => {
                let q = self as u8; // saturating; NaN → 0
                (q, f32::from(q) == self)
            }
            Grid::Over255 => {
                let q = (self * 255.0 + 0.5) as u8;
                let f = f32::from(q);
                (q, (f / 255.0 == self) | (f * (1.0 / 255.0) == self))
            }
        }
    }

    fn as_f32(values: &[f32]) -> Option<&[f32]> {
        Some(values)
    }
}

impl Level for f64 {
    #[inline(always)]
    fn level(self, grid: Grid) -> (u8, bool) {
        match grid {
            Grid::Integers => {
                let q = self as u8;
                (q, f64::from(q) == self)
            }
            Grid::Over255 => {
                let q = (self * 255.0 + 0.5) as u8;
                let (f, h) = (f64::from(q), f32::from(q));
                let ok = (f / 255.0 == self)
                    | (f * (1.0 / 255.0) == self)
                    | (f64::from(h / 255.0) == self)
                    | (f64::from(h * (1.0 / 255.0)) == self);
                (q, ok)
            }
        }
    }
}

/// Rows of the sample that [`levels`] checks.
const SAMPLE_ROWS: usize = 64;

/// The grids on which the first rows of `x` lie: `[Integers, Over255]` (both true for no
/// rows). A cheap test before [`gram`], which checks every value.
pub(crate) fn levels<E: Level>(x: ArrayView2<'_, E>) -> [bool; 2] {
    let sample = x.slice(s![..x.nrows().min(SAMPLE_ROWS), ..]);
    [Grid::Integers, Grid::Over255].map(|g| sample.iter().all(|&v| v.level(g).1))
}

/// The exact integer Gram matrix and column sums of the levels of `x`'s rows, as f64 (exact:
/// integers below 2⁵³ for at most [`MAX_ROWS`] rows), ready to be summed over ranks.
pub(crate) struct Gram8 {
    /// `d × d`: `G_ij = Σ_r q_ri q_rj` for `j ≤ i` (the upper triangle is zero).
    pub gram: Mat<f64>,
    /// `S_j = Σ_r q_rj`.
    pub sums: Vec<f64>,
}

/// The integer kernels this host can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// AVX-512 VNNI (`vpdpbusd` on 512-bit vectors): Intel since Ice Lake, AMD since Zen 4.
    #[cfg(target_arch = "x86_64")]
    Vnni512,
    /// AVX2 (`vpmaddwd` on 256-bit vectors, the bytes widened to 16 bits): every x86-64 host
    /// of the last decade, the AVX2 host class among them.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Plain Rust: the reference the SIMD kernel is tested against; far slower than the f32
    /// product, so never chosen for a fit.
    #[cfg_attr(not(test), allow(dead_code))]
    Scalar,
}

/// The kernel for the fits of this process: the fastest this host has, or the one the
/// environment variable `LATENT_PCA_KERNEL` names (`vnni512`, `avx2`, or `float` for none),
/// where the host has it — for measuring one host class on another (`bench/README.md`).
fn host_kernel() -> Option<Kernel> {
    static CHOICE: std::sync::OnceLock<Option<Kernel>> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| {
        let fastest = fastest_kernel();
        match std::env::var("LATENT_PCA_KERNEL").as_deref() {
            Ok("float") => None,
            #[cfg(target_arch = "x86_64")]
            Ok("avx2") if fastest.is_some() => Some(Kernel::Avx2),
            _ => fastest,
        }
    })
}

/// The fastest integer kernel this host can run.
fn fastest_kernel() -> Option<Kernel> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
    {
        return Some(Kernel::Vnni512);
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        return Some(Kernel::Avx2);
    }
    None
}

/// Whether [`gram`] can run here (a fast integer kernel exists).
pub(crate) fn available() -> bool {
    host_kernel().is_some()
}

/// The Gram matrix and column sums of the levels of `x`'s rows on `grid`: `None` when a value
/// is not a level of `grid` (the caller then fits in floating point), when this host has no
/// integer kernel, or when `x` is wider than [`MAX_DIM`] or longer than [`MAX_ROWS`].
pub(crate) fn gram<E: Level>(x: ArrayView2<'_, E>, grid: Grid) -> Option<Gram8> {
    gram_with(x, grid, host_kernel()?)
}

fn gram_with<E: Level>(x: ArrayView2<'_, E>, grid: Grid, kernel: Kernel) -> Option<Gram8> {
    let (n, d) = x.dim();
    if d == 0 || d > MAX_DIM || n > MAX_ROWS {
        return None;
    }
    let dp = d.div_ceil(PANEL) * PANEL;
    let slabs = n.div_ceil(SLAB_ROWS);
    let off_grid = AtomicBool::new(false);
    // one worker (and one set of accumulators, 12 bytes per entry of `G`) per thread, each
    // over a contiguous run of slabs; the integer sums do not depend on the split
    let workers = rayon::current_num_threads().clamp(1, slabs.max(1));
    let per = slabs.div_ceil(workers);
    let total = (0..workers)
        .into_par_iter()
        .map(|k| {
            let mut w = Worker::new(d, dp);
            for s in k * per..((k + 1) * per).min(slabs) {
                if off_grid.load(Ordering::Relaxed) {
                    break;
                }
                let rows = x.slice_axis(
                    Axis(0),
                    (s * SLAB_ROWS..((s + 1) * SLAB_ROWS).min(n)).into(),
                );
                if w.add(rows, grid, kernel) {
                    off_grid.store(true, Ordering::Relaxed);
                }
            }
            w.finish()
        })
        .reduce_with(|mut a, b| {
            a.add(&b);
            a
        })?;
    if off_grid.load(Ordering::Relaxed) {
        return None;
    }
    Some(total.into_gram(d, dp))
}

/// Per-thread i64 totals: `G' = Σ a (b − 128)` over the tiles' entries (`dp × dp`) and the
/// column sums.
struct Totals {
    gram: Vec<i64>,
    sums: Vec<i64>,
}

impl Totals {
    fn zeros(d: usize, dp: usize) -> Self {
        Self {
            gram: vec![0; dp * dp],
            sums: vec![0; d],
        }
    }

    fn add(&mut self, other: &Totals) {
        self.gram
            .iter_mut()
            .zip(&other.gram)
            .for_each(|(a, b)| *a += b);
        self.sums
            .iter_mut()
            .zip(&other.sums)
            .for_each(|(a, b)| *a += b);
    }

    /// `G = G' + 128 S_i` on and below the diagonal, `d × d`.
    fn into_gram(self, d: usize, dp: usize) -> Gram8 {
        let gram = Mat::from_fn(d, d, |i, j| {
            if j <= i {
                (self.gram[i * dp + j] + 128 * self.sums[i]) as f64
            } else {
                0.0
            }
        });
        Gram8 {
            gram,
            sums: self.sums.iter().map(|&s| s as f64).collect(),
        }
    }
}

/// One thread's state: the slab, the i32 tile accumulators and the i64 totals.
struct Worker {
    dp: usize,
    slab: Vec<u32>,
    /// The AVX2 kernel's copy of the slab with the bytes widened to 16-bit words.
    wide: Vec<u32>,
    slab_sums: Vec<u32>,
    acc: Vec<i32>,
    pending: usize,
    totals: Totals,
}

impl Worker {
    fn new(d: usize, dp: usize) -> Self {
        Self {
            dp,
            slab: vec![0; SLAB_ROWS / 4 * dp],
            wide: Vec::new(),
            slab_sums: vec![0; d],
            acc: vec![0; dp * dp],
            pending: 0,
            totals: Totals::zeros(d, dp),
        }
    }

    /// Packs `rows` and adds their products; `true` when a value is off the grid.
    fn add<E: Level>(&mut self, rows: ArrayView2<'_, E>, grid: Grid, kernel: Kernel) -> bool {
        let quads = rows.nrows().div_ceil(4);
        let slab = &mut self.slab[..quads * self.dp];
        self.slab_sums.fill(0);
        let flat32 = rows.as_slice().and_then(E::as_f32);
        let off = match (kernel, flat32) {
            #[cfg(target_arch = "x86_64")]
            (Kernel::Vnni512, Some(flat)) => {
                // SAFETY: as for the kernel below.
                unsafe { vnni512::pack_f32(flat, rows.ncols(), grid, slab, &mut self.slab_sums) }
            }
            _ => pack(rows, grid, self.dp, slab, &mut self.slab_sums),
        };
        if off {
            return true;
        }
        self.totals
            .sums
            .iter_mut()
            .zip(&self.slab_sums)
            .for_each(|(t, &s)| *t += i64::from(s));
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Vnni512 => {
                // SAFETY: `Vnni512` is chosen only when the CPU reports avx512f, avx512bw and
                // avx512vnni (`host_kernel`).
                unsafe { vnni512::tiles(slab, quads, self.dp, &mut self.acc) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                self.wide.resize(2 * slab.len(), 0);
                widen(slab, &mut self.wide);
                // SAFETY: `Avx2` is chosen only when the CPU reports avx2 (`host_kernel`, and
                // the tests' kernel list).
                unsafe { avx2::tiles(&self.wide, quads, self.dp, &mut self.acc) };
                // `Σ a b` to the other kernels' `Σ a (b − 128)`: minus 128 times row i's sum
                let d = self.slab_sums.len();
                for (i, &s) in self.slab_sums.iter().enumerate() {
                    let row = &mut self.acc[i * self.dp..i * self.dp + d.min(i + 1)];
                    let c = 128 * s as i32;
                    row.iter_mut().for_each(|a| *a = a.wrapping_sub(c));
                }
            }
            Kernel::Scalar => scalar_tiles(slab, quads, self.dp, &mut self.acc),
        }
        self.pending += 1;
        if self.pending == FLUSH_SLABS {
            self.flush();
        }
        false
    }

    fn flush(&mut self) {
        self.totals
            .gram
            .iter_mut()
            .zip(&mut self.acc)
            .for_each(|(t, a)| {
                *t += i64::from(*a);
                *a = 0;
            });
        self.pending = 0;
    }

    fn finish(mut self) -> Totals {
        self.flush();
        self.totals
    }
}

/// Packs `rows` (at most [`SLAB_ROWS`]) into `slab` (`quads × dp` lanes: panel `p`, quad `t`,
/// column `c` at `(p·quads + t)·PANEL + c`; columns past `d` and rows past the last are
/// zero) and adds each column's levels to `sums`. Returns `true` when a value is off the grid.
fn pack<E: Level>(
    rows: ArrayView2<'_, E>,
    grid: Grid,
    dp: usize,
    slab: &mut [u32],
    sums: &mut [u32],
) -> bool {
    let (n, d) = rows.dim();
    let quads = n.div_ceil(4);
    let panels = dp / PANEL;
    let mut off = false;
    // rows as contiguous slices (a copy for a strided view, e.g. Fortran order)
    let owned;
    let flat: &[E] = match rows.as_slice() {
        Some(f) => f,
        None => {
            owned = rows.iter().copied().collect::<Vec<E>>();
            &owned
        }
    };
    for t in 0..quads {
        let present = (n - 4 * t).min(4);
        let row = |b: usize| &flat[(4 * t + b.min(present - 1)) * d..][..d];
        // a missing row of the last quad repeats a present one and is masked to zero
        let mask = [0, 1, 2, 3].map(|b| if b < present { 0xffu32 } else { 0 });
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        for p in 0..panels {
            let c0 = p * PANEL;
            let w = d.saturating_sub(c0).min(PANEL);
            let out = &mut slab[(p * quads + t) * PANEL..][..PANEL];
            let cols = c0..c0 + w;
            for ((((o, s), &a), &b), (&c, &e)) in out[..w]
                .iter_mut()
                .zip(&mut sums[cols.clone()])
                .zip(&r0[cols.clone()])
                .zip(&r1[cols.clone()])
                .zip(r2[cols.clone()].iter().zip(&r3[cols]))
            {
                let (qa, oa) = a.level(grid);
                let (qb, ob) = b.level(grid);
                let (qc, oc) = c.level(grid);
                let (qe, oe) = e.level(grid);
                let lane = (u32::from(qa) & mask[0])
                    | ((u32::from(qb) & mask[1]) << 8)
                    | ((u32::from(qc) & mask[2]) << 16)
                    | ((u32::from(qe) & mask[3]) << 24);
                off |= !(oa & ob & oc & oe);
                *o = lane;
                *s += (lane & 0xff) + ((lane >> 8) & 0xff) + ((lane >> 16) & 0xff) + (lane >> 24);
            }
            out[w..].fill(0);
        }
    }
    off
}

/// The slab's lanes with their bytes widened to 16-bit words, for the AVX2 kernel: quad `t`
/// of a panel becomes `2 · PANEL` lanes, first the bytes 0 and 2 of each column's lane (the
/// low and high word), then the bytes 1 and 3.
#[cfg(target_arch = "x86_64")]
fn widen(slab: &[u32], wide: &mut [u32]) {
    for (lanes, out) in slab
        .chunks_exact(PANEL)
        .zip(wide.chunks_exact_mut(2 * PANEL))
    {
        let (even, odd) = out.split_at_mut(PANEL);
        for ((&l, e), o) in lanes.iter().zip(even).zip(odd) {
            *e = l & 0x00ff_00ff;
            *o = (l >> 8) & 0x00ff_00ff;
        }
    }
}

/// The tiles of [`vnni512::tiles`] in plain Rust, for the tests.
fn scalar_tiles(slab: &[u32], quads: usize, dp: usize, acc: &mut [i32]) {
    let byte = |lane: u32, b: usize| ((lane >> (8 * b)) & 0xff) as i32;
    for i0 in (0..dp).step_by(MR) {
        let (pa, oa) = (i0 / PANEL, i0 % PANEL);
        for pj in 0..=(i0 + MR - 1) / PANEL {
            for t in 0..quads {
                let a = &slab[(pa * quads + t) * PANEL + oa..][..MR];
                let bv = &slab[(pj * quads + t) * PANEL..][..PANEL];
                for (m, &la) in a.iter().enumerate() {
                    for (c, &lb) in bv.iter().enumerate() {
                        let dot: i32 = (0..4).map(|b| byte(la, b) * (byte(lb, b) - 128)).sum();
                        acc[(i0 + m) * dp + pj * PANEL + c] += dot;
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni512 {
    use super::{Grid, MR, PANEL};
    use std::arch::x86_64::*;

    /// [`super::pack`] for contiguous f32 rows (`flat`, `d` columns), 16 columns at a time:
    /// the level `q` of each value, whether the value is exactly `q`'s (on [`Grid::Over255`]:
    /// `q / 255` or `q · (1/255)` rounded to f32), the four rows' levels as the bytes of one
    /// lane, and the column sums.
    ///
    /// # Safety
    /// The CPU must support avx512f, avx512bw and avx512vnni.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn pack_f32(
        flat: &[f32],
        d: usize,
        grid: Grid,
        slab: &mut [u32],
        sums: &mut [u32],
    ) -> bool {
        let n = flat.len() / d;
        let quads = n.div_ceil(4);
        let panels = d.div_ceil(PANEL);
        assert!(slab.len() >= quads * panels * PANEL && sums.len() == d);
        let (scale, half) = match grid {
            Grid::Integers => (1.0, 0.0),
            Grid::Over255 => (255.0, 0.5),
        };
        let (scale, half) = (_mm512_set1_ps(scale), _mm512_set1_ps(half));
        let (lo, hi) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
        let (div, recip) = (_mm512_set1_ps(255.0), _mm512_set1_ps(1.0 / 255.0));
        let mut good: __mmask16 = 0xffff;
        for t in 0..quads {
            let present = (n - 4 * t).min(4);
            for p in 0..panels {
                for half_panel in 0..2 {
                    let c = p * PANEL + 16 * half_panel;
                    let w = d.saturating_sub(c).min(16);
                    let cols: __mmask16 = ((1u32 << w) - 1) as __mmask16;
                    let mut lane = _mm512_setzero_si512();
                    let mut total = _mm512_setzero_si512();
                    // past the last column (w = 0) the lanes stay zero
                    for b in 0..if w > 0 { present } else { 0 } {
                        let at = (4 * t + b) * d + c;
                        let row = &flat[at..at + w];
                        // SAFETY: the mask reads the `w` values of `row` alone.
                        let v = unsafe { _mm512_maskz_loadu_ps(cols, row.as_ptr()) };
                        let q = _mm512_cvttps_epi32(_mm512_fmadd_ps(v, scale, half));
                        let q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
                        let f = _mm512_cvtepi32_ps(q);
                        let ok = match grid {
                            Grid::Integers => _mm512_cmpeq_ps_mask(f, v),
                            Grid::Over255 => {
                                _mm512_cmpeq_ps_mask(_mm512_div_ps(f, div), v)
                                    | _mm512_cmpeq_ps_mask(_mm512_mul_ps(f, recip), v)
                            }
                        };
                        good &= ok;
                        lane = _mm512_or_si512(
                            lane,
                            _mm512_sllv_epi32(q, _mm512_set1_epi32(8 * b as i32)),
                        );
                        total = _mm512_add_epi32(total, q);
                    }
                    let out = &mut slab[(p * quads + t) * PANEL + 16 * half_panel..][..16];
                    // SAFETY: `out` holds 16 u32 = 64 bytes.
                    unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), lane) };
                    if w > 0 {
                        let s = &mut sums[c..c + w];
                        // SAFETY: the mask reads and writes the `w` values of `s` alone.
                        unsafe {
                            let old = _mm512_maskz_loadu_epi32(cols, s.as_ptr().cast());
                            _mm512_mask_storeu_epi32(
                                s.as_mut_ptr().cast(),
                                cols,
                                _mm512_add_epi32(old, total),
                            );
                        }
                    }
                }
            }
        }
        good != 0xffff
    }

    #[inline(always)]
    fn load(s: &[i32]) -> __m512i {
        let s = &s[..16];
        // SAFETY: `s` holds 16 i32 = 64 bytes; the load is unaligned.
        unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
    }

    #[inline(always)]
    fn load_u(s: &[u32]) -> __m512i {
        let s = &s[..16];
        // SAFETY: as `load`.
        unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
    }

    #[inline(always)]
    fn store(s: &mut [i32], v: __m512i) {
        let s = &mut s[..16];
        // SAFETY: `s` holds 16 i32 = 64 bytes; the store is unaligned.
        unsafe { _mm512_storeu_si512(s.as_mut_ptr().cast(), v) }
    }

    /// Adds every tile on or below the diagonal of `G' = Σ a (b − 128)` over the slab's
    /// quads to `acc` (`dp × dp`, row-major): tiles of [`MR`] rows (broadcast, unsigned)
    /// by [`PANEL`] columns (two vectors, signed).
    ///
    /// # Safety
    /// The CPU must support avx512f, avx512bw and avx512vnni.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tiles(slab: &[u32], quads: usize, dp: usize, acc: &mut [i32]) {
        let flip = _mm512_set1_epi32(0x8080_8080_u32 as i32);
        let panel = |p: usize| &slab[p * quads * PANEL..(p + 1) * quads * PANEL];
        for i0 in (0..dp).step_by(MR) {
            let (a_panel, oa) = (panel(i0 / PANEL), i0 % PANEL);
            for pj in 0..=(i0 + MR - 1) / PANEL {
                let b_panel = panel(pj);
                let mut c = [[flip; 2]; MR];
                for (m, row) in c.iter_mut().enumerate() {
                    let at = (i0 + m) * dp + pj * PANEL;
                    row[0] = load(&acc[at..]);
                    row[1] = load(&acc[at + 16..]);
                }
                for (a, b) in a_panel.chunks_exact(PANEL).zip(b_panel.chunks_exact(PANEL)) {
                    let b0 = _mm512_xor_si512(load_u(&b[..16]), flip);
                    let b1 = _mm512_xor_si512(load_u(&b[16..]), flip);
                    let a = &a[oa..oa + MR];
                    for (row, &la) in c.iter_mut().zip(a) {
                        let av = _mm512_set1_epi32(la as i32);
                        row[0] = _mm512_dpbusd_epi32(row[0], av, b0);
                        row[1] = _mm512_dpbusd_epi32(row[1], av, b1);
                    }
                }
                for (m, row) in c.iter().enumerate() {
                    let at = (i0 + m) * dp + pj * PANEL;
                    store(&mut acc[at..], row[0]);
                    store(&mut acc[at + 16..], row[1]);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{MR, PANEL};
    use std::arch::x86_64::*;

    #[inline(always)]
    fn load(s: &[i32]) -> __m256i {
        let s = &s[..8];
        // SAFETY: `s` holds 8 i32 = 32 bytes; the load is unaligned.
        unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
    }

    #[inline(always)]
    fn load_u(s: &[u32]) -> __m256i {
        let s = &s[..8];
        // SAFETY: as `load`.
        unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
    }

    #[inline(always)]
    fn store(s: &mut [i32], v: __m256i) {
        let s = &mut s[..8];
        // SAFETY: `s` holds 8 i32 = 32 bytes; the store is unaligned.
        unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
    }

    /// [`super::vnni512::tiles`]' products `Σ a b` on AVX2, which has no byte dot product:
    /// on the slab [`super::widen`]ed to 16-bit words, two `vpmaddwd` (16-bit products summed
    /// in pairs to i32: exact, `2 · 255²` fits) give a lane's four products, with the
    /// broadcast side read straight from memory. Sub-tiles of 4 rows by 16 columns: eight
    /// accumulators, four vector operands and two broadcasts in the sixteen registers.
    ///
    /// # Safety
    /// The CPU must support avx2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tiles(wide: &[u32], quads: usize, dp: usize, acc: &mut [i32]) {
        let span = 2 * PANEL;
        let panel = |p: usize| &wide[p * quads * span..(p + 1) * quads * span];
        for i0 in (0..dp).step_by(MR) {
            let (a_panel, oa) = (panel(i0 / PANEL), i0 % PANEL);
            for pj in 0..=(i0 + MR - 1) / PANEL {
                let b_panel = panel(pj);
                for r0 in (0..MR).step_by(4) {
                    for h in (0..PANEL).step_by(16) {
                        let mut c = [[_mm256_setzero_si256(); 2]; 4];
                        for (m, row) in c.iter_mut().enumerate() {
                            let at = (i0 + r0 + m) * dp + pj * PANEL + h;
                            row[0] = load(&acc[at..]);
                            row[1] = load(&acc[at + 8..]);
                        }
                        for (a, b) in a_panel.chunks_exact(span).zip(b_panel.chunks_exact(span)) {
                            let (b0e, b1e) = (load_u(&b[h..]), load_u(&b[h + 8..]));
                            let (b0o, b1o) = (load_u(&b[PANEL + h..]), load_u(&b[PANEL + h + 8..]));
                            let at = oa + r0;
                            for (m, row) in c.iter_mut().enumerate() {
                                let ae = _mm256_set1_epi32(a[at + m] as i32);
                                let ao = _mm256_set1_epi32(a[PANEL + at + m] as i32);
                                row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(ae, b0e));
                                row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(ao, b0o));
                                row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(ae, b1e));
                                row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(ao, b1o));
                            }
                        }
                        for (m, row) in c.iter().enumerate() {
                            let at = (i0 + r0 + m) * dp + pj * PANEL + h;
                            store(&mut acc[at..], row[0]);
                            store(&mut acc[at + 8..], row[1]);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn naive(q: &Array2<u8>) -> (Vec<i64>, Vec<i64>) {
        let (n, d) = q.dim();
        let mut g = vec![0i64; d * d];
        let mut s = vec![0i64; d];
        for r in 0..n {
            for i in 0..d {
                s[i] += i64::from(q[[r, i]]);
                for j in 0..=i {
                    g[i * d + j] += i64::from(q[[r, i]]) * i64::from(q[[r, j]]);
                }
            }
        }
        (g, s)
    }

    fn levels_of(n: usize, d: usize, seed: u64) -> Array2<u8> {
        let mut s = seed;
        Array2::from_shape_fn((n, d), |_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // many zeros and many 255s, as images have
            match (s >> 60) % 4 {
                0 => 0,
                1 => 255,
                _ => (s >> 33) as u8,
            }
        })
    }

    #[test]
    fn every_kernel_gives_the_exact_gram_matrix() {
        // rows not a multiple of 4 or of a slab, columns not a multiple of a panel
        for (n, d) in [(1, 1), (7, 5), (SLAB_ROWS * 2 + 3, 45), (300, 70)] {
            let q = levels_of(n, d, (n * 31 + d) as u64);
            let (g, s) = naive(&q);
            let ints = q.mapv(f32::from);
            let scaled = q.mapv(|v| f32::from(v) / 255.0);
            let scaled_mul = q.mapv(|v| f32::from(v) * (1.0 / 255.0));
            let wide = q.mapv(|v| f64::from(v) / 255.0);
            let mut kernels = vec![Kernel::Scalar];
            kernels.extend(host_kernel());
            // a host with VNNI runs the AVX2 kernel too
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") && !kernels.contains(&Kernel::Avx2) {
                kernels.push(Kernel::Avx2);
            }
            for kernel in kernels {
                let check = |got: Option<Gram8>| {
                    let got = got.unwrap_or_else(|| panic!("{kernel:?} {n}×{d}: refused"));
                    // the integers as f64 are exact: compared with ==
                    let sums: Vec<f64> = s.iter().map(|&v| v as f64).collect();
                    assert_eq!(got.sums, sums, "{kernel:?} {n}×{d}");
                    let gram: Vec<f64> = (0..d * d).map(|k| got.gram[(k / d, k % d)]).collect();
                    let want: Vec<f64> = g.iter().map(|&v| v as f64).collect();
                    assert_eq!(gram, want, "{kernel:?} {n}×{d}");
                };
                check(gram_with(ints.view(), Grid::Integers, kernel));
                check(gram_with(scaled.view(), Grid::Over255, kernel));
                check(gram_with(scaled_mul.view(), Grid::Over255, kernel));
                check(gram_with(wide.view(), Grid::Over255, kernel));
                // Fortran order: the same matrix
                let f = ints.t().as_standard_layout().t().to_owned();
                check(gram_with(f.view(), Grid::Integers, kernel));
            }
        }
    }

    #[test]
    fn a_value_off_the_grid_is_refused_anywhere() {
        let q = levels_of(SLAB_ROWS * 3, 20, 9);
        for (r, c, v) in [
            (0, 0, 0.5f32),
            (SLAB_ROWS * 2 + 7, 19, f32::NAN),
            (5, 3, -1.0),
            (100, 4, 256.0),
            (SLAB_ROWS * 3 - 1, 0, f32::INFINITY),
        ] {
            let mut x = q.mapv(f32::from);
            x[[r, c]] = v;
            assert!(
                gram_with(x.view(), Grid::Integers, Kernel::Scalar).is_none(),
                "{v} at {r},{c}"
            );
            let mut y = q.mapv(|v| f32::from(v) / 255.0);
            y[[r, c]] = if v == 0.5 { 0.5 / 255.0 } else { v };
            assert!(
                gram_with(y.view(), Grid::Over255, Kernel::Scalar).is_none(),
                "{v} at {r},{c}"
            );
        }
        // 1e-3 is not k/255 for any k; 0.2 = 51/255 is
        let x = ndarray::arr2(&[[0.2f32, 1.0], [1e-3, 0.0]]);
        assert_eq!(levels(x.view()), [false, false]);
        let x = ndarray::arr2(&[[0.2f32, 1.0], [51.0 / 255.0, 0.0]]);
        assert_eq!(levels(x.view()), [false, true]);
        let x = ndarray::arr2(&[[2.0f32, 1.0], [255.0, 0.0]]);
        assert_eq!(levels(x.view()), [true, false]);
    }
}
