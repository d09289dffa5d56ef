//! The exact and randomized solvers (generic over the arithmetic type), each written once for
//! rows shared between the ranks of a job ([`Group`]; one process is a group of one), and the
//! [`Fit`] implementations.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use latent_core::{ArrayRows, Collective, Dataset, Error, Fit, Result, Single, seed};
use ndarray::{Array2, ArrayView2, Axis, Slice};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::gram8::{self, Grid, Level};
use crate::incremental::Scatter;
use crate::linalg::{
    Orthonormalizer, Scalar, eigh_desc, fix_signs, mul, numerical, syrk_lower, thin_q,
};
use crate::model::{Pca, PcaParts};
use crate::params::{Components, PcaValidParams, Precision, Solver};
use crate::shard::{Failure, Group, Reader, Wire, agree, put_usize};

/// The result of a solver before it becomes a [`Pca`]: everything in f64.
pub(crate) struct Spectrum {
    pub mean: Vec<f64>,
    /// `k × d`, orthonormal rows, any sign.
    pub components: Array2<f64>,
    pub explained_variance: Vec<f64>,
    pub total_variance: f64,
    pub noise_variance: f64,
    pub n_samples: usize,
}

impl Spectrum {
    /// Fix the signs, derive the ratios and singular values, convert to f32.
    pub fn into_pca(self, whiten: bool) -> Result<Pca> {
        let Spectrum {
            mean,
            mut components,
            explained_variance,
            total_variance,
            noise_variance,
            n_samples,
        } = self;
        fix_signs(&mut components);
        let dof = n_samples.saturating_sub(1) as f64;
        let ratio = |e: f64| {
            if total_variance > 0.0 {
                e / total_variance
            } else {
                0.0
            }
        };
        Pca::from_parts(PcaParts {
            mean: mean.iter().map(|&v| v as f32).collect(),
            components: components.mapv(|v| v as f32),
            explained_variance: explained_variance.iter().map(|&e| e as f32).collect(),
            explained_variance_ratio: explained_variance
                .iter()
                .map(|&e| ratio(e) as f32)
                .collect(),
            singular_values: explained_variance
                .iter()
                .map(|&e| (e * dof).sqrt() as f32)
                .collect(),
            total_variance,
            noise_variance,
            n_samples,
            whiten,
        })
    }
}

/// What rank 0 decides after a solver's decomposition: the result, or a Rayleigh–Ritz step
/// ([`rayleigh_ritz`]) over the span of `axes` (`d × m`, `m ≥ k`) that every rank takes
/// part in.
enum Stage {
    Done(Spectrum),
    Refine { axes: Mat<f64>, k: usize },
}

impl Wire for Stage {
    fn to_wire(&self, w: &mut Vec<u8>) {
        match self {
            Stage::Done(s) => {
                w.push(0);
                s.to_wire(w);
            }
            Stage::Refine { axes, k } => {
                w.push(1);
                put_usize(w, *k);
                axes.to_wire(w);
            }
        }
    }
    fn from_wire(r: &mut Reader<'_>) -> Result<Self> {
        if r.tag()? == 0 {
            return Ok(Stage::Done(Spectrum::from_wire(r)?));
        }
        let k = r.usize()?;
        Ok(Stage::Refine {
            axes: <Mat<f64> as Wire>::from_wire(r)?,
            k,
        })
    }
}

/// Check that `n × d` data can be fitted at all: at least 2 rows and 1 column.
pub(crate) fn check_data_shape(n: usize, d: usize) -> Result<()> {
    if n == 0 || d == 0 {
        return Err(Error::Empty(format!("pca input: {n} rows × {d} columns")));
    }
    if n < 2 {
        return Err(Error::shape(
            "pca input",
            "at least 2 rows (the covariance has n − 1 degrees of freedom)",
            format!("{n} row"),
        ));
    }
    Ok(())
}

/// The error for a row with a NaN or infinite value.
pub(crate) fn non_finite(row: usize, col: usize, v: f64) -> Error {
    Error::NonFinite(format!("pca input: row {row}, column {col} is {v}"))
}

/// A requested count must not exceed `min(n, d)`.
pub(crate) fn check_count(components: Components, n: usize, d: usize) -> Result<()> {
    if let Components::Count(k) = components
        && k > n.min(d)
    {
        return Err(Error::param(
            "components",
            format!(
                "{k} components requested, but data of {n} rows × {d} columns has at most \
                 min(n, d) = {}",
                n.min(d)
            ),
        ));
    }
    Ok(())
}

/// The number of components to keep, given the eigenvalues (descending, at least
/// `min(n, d)` of them) and the total variance.
pub(crate) fn choose_k(
    components: Components,
    eigenvalues: &[f64],
    total: f64,
    n: usize,
    d: usize,
) -> Result<usize> {
    check_count(components, n, d)?;
    let m = n.min(d).min(eigenvalues.len());
    match components {
        Components::Count(k) => Ok(k),
        Components::Fraction(f) => {
            // scikit-learn: searchsorted(cumsum(ratio), f, side="right") + 1.
            let mut cum = 0.0f64;
            let mut below = 0;
            for &e in &eigenvalues[..m] {
                cum += e / total;
                if cum <= f {
                    below += 1;
                } else {
                    break;
                }
            }
            Ok((below + 1).min(m.max(1)))
        }
    }
}

/// scikit-learn's `noise_variance_` from the whole spectrum: the mean of the eigenvalues
/// `k..min(n, d)`, 0 when none is left.
pub(crate) fn tail_mean(eigenvalues: &[f64], k: usize, n: usize, d: usize) -> f64 {
    let m = n.min(d).min(eigenvalues.len());
    if k >= m {
        return 0.0;
    }
    eigenvalues[k..m].iter().sum::<f64>() / (m - k) as f64
}

/// Eigenvalues (clamped at 0) and the chosen leading eigenvectors of a covariance matrix
/// given by its lower triangle.
pub(crate) fn from_covariance<T: Scalar>(
    cov: MatRef<'_, T>,
    mean: Vec<f64>,
    total: f64,
    n: usize,
    components: Components,
) -> Result<Spectrum> {
    let d = cov.nrows();
    let (mut values, vectors) = eigh_desc(cov)?;
    values.iter_mut().for_each(|v| *v = v.max(0.0));
    let k = choose_k(components, &values, total, n, d)?;
    Ok(Spectrum {
        mean,
        components: Array2::from_shape_fn((k, d), |(j, i)| vectors[(i, j)].to_f64()),
        noise_variance: tail_mean(&values, k, n, d),
        explained_variance: values[..k].to_vec(),
        total_variance: total,
        n_samples: n,
    })
}

/// Centered data in the fit's arithmetic type, row-major, with the f64 mean and total
/// variance: this rank's rows (`n` of them), centred at the mean of every rank's.
pub(crate) struct Centered<T> {
    n: usize,
    d: usize,
    data: Vec<T>,
    mean: Vec<f64>,
    total: f64,
}

impl<T: Scalar> Centered<T> {
    /// The rows of `x` (one process).
    fn new<E: Copy + Into<f64> + Sync>(x: ArrayView2<'_, E>) -> Result<Self> {
        let (n, d) = x.dim();
        check_data_shape(n, d)?;
        Self::sharded(x, &Group::local(n, d))
    }

    /// Two passes: the mean in f64 over the rows of every rank of `g` (checking finiteness),
    /// then this rank's centered values, computed in f64 and rounded once to `T`, and the
    /// total variance from them (summed over the ranks).
    fn sharded<E: Copy + Into<f64> + Sync>(x: ArrayView2<'_, E>, g: &Group<'_>) -> Result<Self> {
        let (n, d) = x.dim();
        let mean = global_means(x, g)?;
        // zeroed lazily by the OS: the page faults happen in the parallel pass below
        let mut data = vec![T::from_f64(0.0); n * d];
        let mut sumsq = centre_rows(x, &mean, &mut data);
        g.sum(&mut sumsq)?;
        let total = sumsq.iter().sum::<f64>() / (g.n() - 1) as f64;
        Ok(Self {
            n,
            d,
            data,
            mean,
            total,
        })
    }

    fn view(&self) -> MatRef<'_, T> {
        MatRef::from_row_major_slice(&self.data, self.n, self.d)
    }
}

/// Rows centred at a time by [`exact_blocked`].
const COVARIANCE_BLOCK: usize = 8192;

/// Exact PCA when `n ≥ d`: the covariance accumulated block by block. Each block of
/// [`COVARIANCE_BLOCK`] rows is centred (in f64, rounded once to `T`, as [`Centered::new`])
/// into one reused buffer and its `XcᵀXc` added to the lower triangle: the same centred values
/// as a centred copy of the whole data, without allocating it (on this project's VM a fresh
/// 188 MB array costs hundreds of milliseconds of page faults).
///
/// Each block's product runs in `T`; the covariance itself is an f64 matrix (an f32 block
/// product is added to it in f64) and is eigendecomposed in f64: `d × d` is small next to
/// the `n × d` data, and an f32 eigendecomposition's absolute error, about `10⁻⁷` times the
/// largest eigenvalue, swamps the small directions of badly scaled data (the f32 block
/// products' errors are relative to each pair of columns' own scales, which they leave
/// intact). In f32, when the variance left out is below [`REFINE_BELOW`] of the total, the
/// kept axes then go through [`rayleigh_ritz`].
///
/// Sharded: the mean is global ([`global_means`]); each rank adds its blocks' products to its
/// own f64 covariance, the ranks' lower triangles (and sums of squares) are summed, and rank
/// 0 eigendecomposes the sum.
fn exact_blocked<T: Scalar, E: Level>(
    x: ArrayView2<'_, E>,
    g: &Group<'_>,
    components: Components,
) -> Result<Spectrum> {
    if let Some(spectrum) = exact_8bit(x, g, components)? {
        return Ok(spectrum);
    }
    let (rows, d) = x.dim();
    let n = g.n();
    let mean = global_means(x, g)?;
    let inv_dof = 1.0 / (n - 1) as f64;
    let mut cov = Mat::<f64>::zeros(d, d);
    let mut scratch = Mat::<T>::zeros(0, 0);
    let mut sumsq = vec![0.0f64; d];
    let mut buf: Vec<T> = vec![T::from_f64(0.0); COVARIANCE_BLOCK.min(rows) * d];
    for (b, block) in x.axis_chunks_iter(Axis(0), COVARIANCE_BLOCK).enumerate() {
        let rows = block.nrows();
        let block_sumsq = centre_rows(block, &mean, &mut buf[..rows * d]);
        sumsq
            .iter_mut()
            .zip(&block_sumsq)
            .for_each(|(s, b)| *s += b);
        let xb = MatRef::from_row_major_slice(&buf[..rows * d], rows, d);
        let accum = if b == 0 { Accum::Replace } else { Accum::Add };
        T::syrk_lower_into_f64(&mut cov, accum, xb.transpose(), inv_dof, &mut scratch);
    }
    g.sum_lower(&mut cov, &mut sumsq)?;
    let total = sumsq.iter().sum::<f64>() / (n - 1) as f64;
    let stage = g.on_root(|| {
        let spectrum = from_covariance(cov.as_ref(), mean.clone(), total, n, components)?;
        let k = spectrum.components.nrows();
        if T::IS_F64 || !cancels(total, &spectrum.explained_variance, n.min(d)) {
            return Ok(Stage::Done(spectrum));
        }
        let axes = Mat::<f64>::from_fn(d, k, |i, j| spectrum.components[[j, i]]);
        Ok(Stage::Refine { axes, k })
    })?;
    match stage {
        Stage::Done(spectrum) => Ok(spectrum),
        Stage::Refine { axes, k } => rayleigh_ritz(x, g, axes.as_ref(), k, mean, total),
    }
}

/// Exact PCA of 8-bit data (images), when every value of every rank is one of 256 levels on
/// the same grid and this host has the integer kernel ([`gram8`]): the covariance is
/// `(n·G − S Sᵀ) / (n (n − 1))` times the squared scale, from the exact integer Gram matrix
/// `G` and column sums `S` of the levels, each entry an exact integer rounded once to f64 —
/// as exact as an f64 fit and faster than the f32 one, with no centring pass, and the same
/// bits on any host and number of threads. `None`: fit in floating point.
///
/// Sharded: the ranks agree on the grid from a sample of their rows, then on whether every
/// value was on it; `G` and `S` are summed over the ranks in f64 (exact: integers below
/// 2⁵³), and rank 0 eigendecomposes.
fn exact_8bit<E: Level>(
    x: ArrayView2<'_, E>,
    g: &Group<'_>,
    components: Components,
) -> Result<Option<Spectrum>> {
    let Some(Covariance8 { cov, mean, total }) = covariance_8bit(x, g)? else {
        return Ok(None);
    };
    let n = g.n();
    g.on_root(|| from_covariance(cov.as_ref(), mean, total, n, components))
        .map(Some)
}

/// The covariance of 8-bit data from its exact integer Gram matrix ([`exact_8bit`]).
struct Covariance8 {
    /// `d × d`, the lower triangle filled.
    cov: Mat<f64>,
    mean: Vec<f64>,
    total: f64,
}

/// [`exact_8bit`]'s covariance, on every rank, or `None` where it does not apply.
fn covariance_8bit<E: Level>(x: ArrayView2<'_, E>, g: &Group<'_>) -> Result<Option<Covariance8>> {
    let d = x.ncols();
    // the integers summed over the ranks stay exact in f64 up to this many rows (the same
    // answer on every rank: `n` is the job's)
    if g.n() > gram8::MAX_ROWS {
        return Ok(None);
    }
    // both grids' sample votes and whether this host has the kernel, summed over the ranks
    let [int, over] = gram8::levels(x);
    let mut votes = [
        f64::from(u8::from(int)),
        f64::from(u8::from(over)),
        f64::from(u8::from(gram8::available())),
    ];
    g.sum(&mut votes)?;
    let all = g.size() as f64;
    if votes[2] != all {
        return Ok(None);
    }
    let grid = if votes[0] == all {
        Grid::Integers
    } else if votes[1] == all {
        Grid::Over255
    } else {
        return Ok(None);
    };
    let local = gram8::gram(x, grid);
    let mut ok = [f64::from(u8::from(local.is_some()))];
    g.sum(&mut ok)?;
    let Some(gram8::Gram8 { mut gram, mut sums }) = local.filter(|_| ok[0] == all) else {
        return Ok(None);
    };
    // the integers as f64 (exact), summed over the ranks
    g.sum_lower(&mut gram, &mut sums)?;
    let n = g.n();
    let nn = n as i128;
    let int = |v: f64| v as i128;
    let factor = grid.scale() * grid.scale() / (n as f64 * (n - 1) as f64);
    let cov = Mat::<f64>::from_fn(d, d, |i, j| {
        if j <= i {
            (nn * int(gram[(i, j)]) - int(sums[i]) * int(sums[j])) as f64 * factor
        } else {
            0.0
        }
    });
    let trace: i128 = (0..d)
        .map(|j| nn * int(gram[(j, j)]) - int(sums[j]) * int(sums[j]))
        .sum();
    let total = trace as f64 * factor;
    let mean = sums.iter().map(|&s| s * grid.scale() / n as f64).collect();
    Ok(Some(Covariance8 { cov, mean, total }))
}

/// The randomized solver on 8-bit data ([`exact_8bit`]'s grids, `n ≥ d`): the range finder
/// and its power iterations run on the exact covariance `C` instead of the rows — `Y = C Ω`,
/// then `q` times `Y = C · orth(Y)`, then the Rayleigh–Ritz step `eig(Qᵀ C Q)` with
/// `Q = orth(Y)`, all in f64 on a `d × d` matrix. The subspace is the one the solver finds
/// from the rows (`span(Xcᵀ (Xc Xcᵀ)^q Xc Ω) = span(C^(q+1) Ω)`), with the same `Ω` (seed),
/// oversampling and iterations, and its explained variances are exact Rayleigh quotients of
/// `C`. It is taken where forming `C` costs less than the `2 (q + 1)` products with the
/// rows: `n · d² / 2` byte multiply-adds (about three times f32's rate on the VNNI kernel)
/// against `2 (q + 1) · n · d · l` in floating point, i.e. for `d ≤ 12 (q + 1) l`. Also no
/// centred copy of the data. The AVX2 kernel runs at about half the VNNI kernel's rate, so
/// there the break-even is nearer `6 (q + 1) l`; the rule stays one constant so that every
/// rank of a job, whatever its kernel, takes the same route (on Fashion-MNIST, d = 784
/// against 5,760 for k = 50: the covariance route is 4.6× faster than the rows with the AVX2
/// kernel too). `None`: the solver runs on the rows.
fn randomized_8bit<E: Level>(
    x: ArrayView2<'_, E>,
    g: &Group<'_>,
    k: usize,
    params: &PcaValidParams,
) -> Result<Option<Spectrum>> {
    let (n, d) = (g.n(), g.d());
    let m = n.min(d);
    let l = k.saturating_add(params.oversamples()).min(m);
    let iters = params.power_iters_for(k, n, d);
    if n < d || d > 12 * (iters + 1) * l {
        return Ok(None);
    }
    let Some(Covariance8 { cov, mean, total }) = covariance_8bit(x, g)? else {
        return Ok(None);
    };
    g.on_root(|| {
        let c = Mat::<f64>::from_fn(d, d, |i, j| if j <= i { cov[(i, j)] } else { cov[(j, i)] });
        // the same Ω as the solver on the rows draws
        let omega = sketch::<f64>(params.seed(), d, l);
        let mut y = mul(c.as_ref(), omega.as_ref());
        for _ in 0..iters {
            let q = thin_q(y.as_ref());
            y = mul(c.as_ref(), q.as_ref());
        }
        let q = thin_q(y.as_ref()); // d × l
        let h = mul(q.transpose(), mul(c.as_ref(), q.as_ref()).as_ref()); // l × l
        ritz_spectrum(q.as_ref(), h.as_ref(), k, (mean, total, n))
    })
    .map(Some)
}

/// The randomized solver's test matrix `Ω` (`d × l`), standard normal draws from `seed`,
/// column by column, rounded once to `T`: the same draws for both of its routes.
fn sketch<T: Scalar>(seed: u64, d: usize, l: usize) -> Mat<T> {
    let mut rng = seed::rng(seed);
    let mut omega = Mat::<T>::zeros(d, l);
    for j in 0..l {
        for i in 0..d {
            let g: f64 = StandardNormal.sample(&mut rng);
            omega[(i, j)] = T::from_f64(g);
        }
    }
    omega
}

/// The Rayleigh–Ritz step's end: with `h = Vᵀ C V` (`m × m`) the covariance projected on the
/// orthonormal basis `V` (`d × m`), its `k` largest eigenvalues become the explained
/// variances and the matching columns of `V W` the axes; the noise variance is
/// `(total − Σ kept) / (min(n, d) − k)`.
fn ritz_spectrum(
    basis: MatRef<'_, f64>,
    h: MatRef<'_, f64>,
    k: usize,
    (mean, total, n): (Vec<f64>, f64, usize),
) -> Result<Spectrum> {
    let d = basis.nrows();
    let (mut values, w) = eigh_desc(h)?;
    values.truncate(k);
    values.iter_mut().for_each(|v| *v = v.max(0.0));
    let axes = mul(basis, w.as_ref().subcols(0, k)); // d × k
    let rank = n.min(d);
    let noise_variance = if k < rank {
        ((total - values.iter().sum::<f64>()) / (rank - k) as f64).max(0.0)
    } else {
        0.0
    };
    Ok(Spectrum {
        components: Array2::from_shape_fn((k, d), |(j, i)| axes[(i, j)]),
        explained_variance: values,
        noise_variance,
        mean,
        total_variance: total,
        n_samples: n,
    })
}

/// The fraction of the total variance below which the variance left out by an exact f32 fit
/// is refined by [`rayleigh_ritz`]: there, the explained variances' f32 error (about `10⁻⁷`
/// of the total) becomes more than `10⁻⁵` of the reconstruction error.
const REFINE_BELOW: f64 = 0.01;

/// Whether the variance left out, `total − Σ kept`, is a small difference of large numbers:
/// below [`REFINE_BELOW`] of the total, with some left (`k < rank`; at `k = rank` it is 0 by
/// definition).
fn cancels(total: f64, kept: &[f64], rank: usize) -> bool {
    kept.len() < rank && total - kept.iter().sum::<f64>() < REFINE_BELOW * total
}

/// Rows per task of the parallel passes over the data: fixed, so that the order of the sums
/// (and so their bits) does not depend on the number of threads.
const ROWS_PER_TASK: usize = 1024;

/// Rows `t·ROWS_PER_TASK ..` of `x`, at most [`ROWS_PER_TASK`] of them.
fn row_block<E>(x: ArrayView2<'_, E>, t: usize) -> ArrayView2<'_, E> {
    let start = t * ROWS_PER_TASK;
    let end = (start + ROWS_PER_TASK).min(x.nrows());
    x.slice_axis_move(Axis(0), Slice::from(start..end))
}

/// `out` (row-major, `x`'s shape) `= x − mean`, computed in f64 and rounded once to `T`;
/// returns the per-column sums of the squared centred values. In parallel over fixed
/// blocks of [`ROWS_PER_TASK`] rows, the partial sums added in block order.
fn centre_rows<T: Scalar, E: Copy + Into<f64> + Sync>(
    x: ArrayView2<'_, E>,
    mean: &[f64],
    out: &mut [T],
) -> Vec<f64> {
    let d = x.ncols();
    let partial: Vec<Vec<f64>> = out
        .par_chunks_mut(ROWS_PER_TASK * d)
        .enumerate()
        .map(|(t, out)| {
            let rows = row_block(x, t);
            let mut sumsq = vec![0.0f64; d];
            for (row, out) in rows.outer_iter().zip(out.chunks_exact_mut(d)) {
                // a plain map over the columns (no push, no branch): it vectorises
                for (((s, &m), &v), o) in sumsq.iter_mut().zip(mean).zip(row).zip(out) {
                    let c = v.into() - m;
                    *s += c * c;
                    *o = T::from_f64(c);
                }
            }
            sumsq
        })
        .collect();
    let mut sumsq = vec![0.0f64; d];
    for p in &partial {
        sumsq.iter_mut().zip(p).for_each(|(s, b)| *s += b);
    }
    sumsq
}

/// Column sums in f64, in parallel over fixed blocks of [`ROWS_PER_TASK`] rows, the
/// partial sums added in block order. The sums run without a test per value (so the loop
/// vectorises): a NaN or infinity makes its column's sum non-finite.
fn column_sums<E: Copy + Into<f64> + Sync>(x: ArrayView2<'_, E>) -> Vec<f64> {
    let (n, d) = x.dim();
    let mut total = vec![0.0f64; d];
    let partial: Vec<Vec<f64>> = (0..n.div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .map(|t| {
            let rows = row_block(x, t);
            let mut sums = vec![0.0f64; d];
            for row in rows.outer_iter() {
                for (s, &v) in sums.iter_mut().zip(row) {
                    *s += v.into();
                }
            }
            sums
        })
        .collect();
    for sums in &partial {
        total.iter_mut().zip(sums).for_each(|(m, s)| *m += s);
    }
    total
}

/// The first NaN or infinite value of `x` in row-major order: row, column, value.
pub(crate) fn first_non_finite<E: Copy + Into<f64>>(
    x: ArrayView2<'_, E>,
) -> Option<(usize, usize, f64)> {
    for (r, row) in x.outer_iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let v: f64 = v.into();
            if !v.is_finite() {
                return Some((r, c, v));
            }
        }
    }
    None
}

/// Column means in f64 over the rows of every rank of `g` (this rank's are `x`), refusing
/// non-finite values on every rank: the first one of the rows stacked in rank order, named
/// by row and column, then finite values whose sum overflows f64.
///
/// Each rank's sums ([`column_sums`]) are summed over the ranks and divided by `n`; only a
/// rank whose sums are not finite searches its rows for the value.
fn global_means<E: Copy + Into<f64> + Sync>(
    x: ArrayView2<'_, E>,
    g: &Group<'_>,
) -> Result<Vec<f64>> {
    let mut mean = column_sums(x);
    let failure = if mean.iter().any(|m| !m.is_finite()) {
        first_non_finite(x).map(|(row, col, value)| Failure::NonFinite { row, col, value })
    } else {
        None
    };
    agree(g.comm(), x.nrows(), failure)?;
    g.sum(&mut mean)?;
    // finite values whose sum overflows f64 (beyond 10³⁰⁸): refuse as well
    if let Some(c) = mean.iter().position(|m| !m.is_finite()) {
        return Err(Error::NonFinite(format!(
            "pca input: the values of column {c} sum beyond f64's range"
        )));
    }
    let n = g.n() as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    Ok(mean)
}

/// Exact PCA through the `n × n` Gram matrix, for `n < d` (with `n ≥ d`, [`exact_blocked`]).
fn exact<T: Scalar>(c: Centered<T>, components: Components) -> Result<Spectrum> {
    let (n, d) = (c.n, c.d);
    let x = c.view();
    let inv_dof = T::from_f64(1.0 / (n - 1) as f64);
    // Xc Xcᵀ/(n−1) = U Λ Uᵀ  ⇒  the principal axes are Xcᵀ u_j / ‖Xcᵀ u_j‖. A thin QR of
    // Xcᵀ U_k normalises them and keeps them orthonormal to working precision, even for
    // (near-)zero eigenvalues (the data's rank is at most n − 1 after centering).
    let mut gram = Mat::<T>::zeros(n, n);
    syrk_lower(&mut gram, Accum::Replace, x, inv_dof);
    let (mut values, u) = eigh_desc(gram.as_ref())?;
    values.iter_mut().for_each(|v| *v = v.max(0.0));
    let k = choose_k(components, &values, c.total, n, d)?;
    let axes = thin_q(mul(x.transpose(), u.as_ref().subcols(0, k)).as_ref()); // d × k
    Ok(Spectrum {
        components: Array2::from_shape_fn((k, d), |(j, i)| axes[(i, j)].to_f64()),
        noise_variance: tail_mean(&values, k, n, d),
        explained_variance: values[..k].to_vec(),
        mean: c.mean,
        total_variance: c.total,
        n_samples: n,
    })
}

/// Randomized PCA (Halko, Martinsson & Tropp 2011, algorithms 4.4 and 5.1): a Gaussian test
/// matrix `Ω` (`d × l`, `l = k + oversamples` clipped to `min(n, d)`), `Q = orth(Xc Ω)`,
/// `q` power iterations `Q = orth(Xc orth(Xcᵀ Q))`, then the thin SVD of `B = Qᵀ Xc`.
///
/// In f32, when the variance left out is a small difference of large numbers ([`cancels`]),
/// the SVD's `l` right singular vectors (a basis of the row space of `B`) go through
/// [`rayleigh_ritz`] with the data `x` (the variances of the data projected on that span,
/// in f64: those of `B = QᵀXc` plus the part of `Xc` outside `Q`'s span, a second-order
/// difference once the range finder has converged).
/// Elsewhere the f32 figures are within `10⁻⁵` of f64's and the extra pass is skipped.
///
/// Sharded (`c` and `x` are this rank's rows, centred at the global mean): every rank draws
/// the same `Ω`; the tall matrices (`Xc Ω`, `Xc Z`, `Q`) are this rank's rows of them,
/// orthonormalised together ([`Orthonormalizer::apply`]: their `l × l` Gram matrix summed);
/// the small products (`Z = XcᵀQ`, `B = QᵀXc`) are summed over the ranks; rank 0
/// orthonormalises `Z` and takes the SVD of `B`, and sends them.
fn randomized<T: Scalar, E: Copy + Into<f64> + Sync>(
    c: Centered<T>,
    x: ArrayView2<'_, E>,
    g: &Group<'_>,
    k: usize,
    params: &PcaValidParams,
) -> Result<Spectrum> {
    let (n, d) = (g.n(), c.d);
    let m = n.min(d);
    let l = k.saturating_add(params.oversamples()).min(m);
    let iters = params.power_iters_for(k, n, d);
    let xc = c.view();
    let omega = sketch::<T>(params.seed(), d, l);
    // Q (n × l) and Z (d × l) live in two buffers for the whole loop: no fresh allocation
    // (on this project's VM, page faults of a fresh 29 MB array cost as much as a product).
    // The tall products run in fixed row blocks (`x_times`, `xt_times`): faster than faer's
    // own parallel split on this shape, and far less hurt by a busy core.
    let mut orth = Orthonormalizer::default();
    let mut q = Mat::<T>::zeros(c.n, l);
    let mut z = omega;
    let mut partial = Vec::new();
    let replicated = Group::local(d, l);
    x_times(xc, z.as_ref(), q.as_mut());
    orth.apply(q.as_mut(), g)?;
    for _ in 0..iters {
        xt_times(xc, q.as_ref(), z.as_mut(), &mut partial);
        g.sum_mat(z.as_mut())?;
        g.root_mat(z.as_mut(), |z| orth.apply(z, &replicated))?;
        x_times(xc, z.as_ref(), q.as_mut());
        orth.apply(q.as_mut(), g)?;
    }
    let mut b = mul(q.transpose(), xc); // l × d
    g.sum_mat(b.as_mut())?;
    let (total, mean) = (c.total, &c.mean);
    let stage = g.on_root(|| {
        let svd = b
            .thin_svd()
            .map_err(|_| numerical("randomized PCA's SVD"))?;
        let s = svd.S().column_vector();
        let v = svd.V(); // d × l
        let dof = (n - 1) as f64;
        let explained_variance: Vec<f64> = (0..k).map(|j| s[j].to_f64().powi(2) / dof).collect();
        if !T::IS_F64 && cancels(total, &explained_variance, m) {
            let axes = Mat::<f64>::from_fn(d, v.ncols(), |i, j| v[(i, j)].to_f64());
            return Ok(Stage::Refine { axes, k });
        }
        let noise_variance = if k < m {
            ((total - explained_variance.iter().sum::<f64>()) / (m - k) as f64).max(0.0)
        } else {
            0.0
        };
        Ok(Stage::Done(Spectrum {
            components: Array2::from_shape_fn((k, d), |(j, i)| v[(i, j)].to_f64()),
            explained_variance,
            noise_variance,
            mean: mean.clone(),
            total_variance: total,
            n_samples: n,
        }))
    })?;
    match stage {
        Stage::Done(spectrum) => Ok(spectrum),
        Stage::Refine { axes, k } => rayleigh_ritz(x, g, axes.as_ref(), k, c.mean, c.total),
    }
}

/// Rows centred at a time by [`rayleigh_ritz`] (within each task of [`ROWS_PER_TASK`] rows).
const RITZ_ROWS: usize = 256;

/// Tasks of [`rayleigh_ritz`] run in parallel at a time: each gives an `m × m` f64 matrix
/// (`m ≤ d`), so this bounds the memory they take (16 · 4.9 MB at `m = 784`).
const RITZ_GROUP: usize = 16;

/// The f32 fits' last step, in f64: a Rayleigh–Ritz projection of the data onto the span of
/// the `m ≥ k` directions found in f32 (the columns of `axes`, `d × m`). With `V` an
/// orthonormal basis of that span (QR in f64) and `Xc` the rows of `x` centred at `mean`
/// in f64, the `m × m` matrix `G = (Xc V)ᵀ (Xc V) / (n − 1)` is eigendecomposed,
/// `G = W Λ Wᵀ`: the `k` largest of `Λ` become the explained variances and the matching
/// columns of `V W` the axes, and the noise variance is `(total − Σ kept) / (min(n, d) − k)`.
///
/// Why: an explained variance from an f32 product is off by about `10⁻⁷` of itself, and on
/// badly scaled data the reconstruction error is the small difference between the total
/// variance and the largest explained ones (raw wine: `≈ 17` left of `≈ 99,000`, so
/// `10⁻⁷ · 10⁵ = 0.01` is a 1e-3 relative error of it; and rounding the explained variances
/// to f32, as the model stores them, needs them right to well within f32's `6 · 10⁻⁸`). In
/// f64 the explained variances of the f32 subspace are exact to f64 rounding, and the
/// subspace's own f32 error changes them only to second order. The cost is one more pass
/// over the data, `n · d · m` multiply-adds in f64: small next to the randomized fit's
/// `(2q + 2) · n · d · m` in f32, which always ends with it; next to the exact fit's
/// `n · d² / 2`, small only for `k ≪ d / 4`, so the exact solver runs it only where the
/// cancellation calls for it ([`cancels`]).
///
/// In parallel over fixed blocks of [`ROWS_PER_TASK`] rows, the partial `G` added in block
/// order: the same bits on any number of threads.
///
/// Sharded (`x` is this rank's rows, `axes` the same on every rank): rank 0 computes `V` and
/// sends it, each rank computes the `G` of its rows, the ranks' `G` are summed, and rank 0
/// eigendecomposes the sum.
fn rayleigh_ritz<E: Copy + Into<f64> + Sync>(
    x: ArrayView2<'_, E>,
    g: &Group<'_>,
    axes: MatRef<'_, f64>,
    k: usize,
    mean: Vec<f64>,
    total: f64,
) -> Result<Spectrum> {
    let (rows, d) = x.dim();
    let n = g.n();
    let v = g.on_root(|| Ok(thin_q(axes)))?; // d × m, orthonormal to f64 rounding
    let m = v.ncols();
    // G of the rows of task `t`, its chunks of RITZ_ROWS rows added in order
    let task_gram = |t: usize| {
        let rows = row_block(x, t);
        let chunk_rows = RITZ_ROWS.min(rows.nrows());
        let mut g = Mat::<f64>::zeros(m, m);
        let mut centred = vec![0.0f64; chunk_rows * d];
        let mut y = Mat::<f64>::zeros(chunk_rows, m);
        for (b, chunk) in rows.axis_chunks_iter(Axis(0), RITZ_ROWS).enumerate() {
            let r = chunk.nrows();
            for (row, out) in chunk.outer_iter().zip(centred.chunks_exact_mut(d)) {
                for ((o, &value), &mu) in out.iter_mut().zip(row).zip(&mean) {
                    *o = value.into() - mu;
                }
            }
            let c = MatRef::from_row_major_slice(&centred[..r * d], r, d);
            let yb = y.as_mut().subrows_mut(0, r);
            matmul(yb, Accum::Replace, c, v.as_ref(), 1.0, Par::Seq);
            let accum = if b == 0 { Accum::Replace } else { Accum::Add };
            let yb = y.as_ref().subrows(0, r);
            matmul(g.as_mut(), accum, yb.transpose(), yb, 1.0, Par::Seq);
        }
        g
    };
    // tasks in parallel, RITZ_GROUP at a time (at most RITZ_GROUP partial m × m matrices
    // held), their partial G added in task order
    let tasks = rows.div_ceil(ROWS_PER_TASK);
    let mut gram = Mat::<f64>::zeros(m, m);
    for first in (0..tasks).step_by(RITZ_GROUP) {
        let partial: Vec<Mat<f64>> = (first..(first + RITZ_GROUP).min(tasks))
            .into_par_iter()
            .map(&task_gram)
            .collect();
        for p in &partial {
            gram += p;
        }
    }
    g.sum_mat(gram.as_mut())?;
    g.on_root(|| {
        let inv_dof = 1.0 / (n - 1) as f64;
        let gram = Mat::<f64>::from_fn(m, m, |i, j| gram[(i, j)] * inv_dof);
        ritz_spectrum(v.as_ref(), gram.as_ref(), k, (mean, total, n))
    })
}

/// Rows per task of the randomized solver's tall products.
const PRODUCT_ROWS: usize = 2048;

/// `out (n × l) = x (n × d) · z (d × l)`: fixed blocks of [`PRODUCT_ROWS`] rows on rayon's
/// pool, each a sequential product (each output row is one block's: the same bits on any
/// number of threads).
fn x_times<T: Scalar>(x: MatRef<'_, T>, z: MatRef<'_, T>, out: MatMut<'_, T>) {
    if x.nrows() == 0 {
        return;
    }
    out.par_row_chunks_mut(PRODUCT_ROWS)
        .enumerate()
        .for_each(|(b, view)| {
            let rows = x.subrows(b * PRODUCT_ROWS, view.nrows());
            matmul(view, Accum::Replace, rows, z, T::from_f64(1.0), Par::Seq);
        });
}

/// `out (d × l) = xᵀ (d × n) · q (n × l)`: one partial product per fixed block of
/// [`PRODUCT_ROWS`] rows on rayon's pool, added in block order (the same bits on any number
/// of threads). `partial` holds the partial products from call to call. No rows: zeros.
fn xt_times<T: Scalar>(
    x: MatRef<'_, T>,
    q: MatRef<'_, T>,
    mut out: MatMut<'_, T>,
    partial: &mut Vec<Mat<T>>,
) {
    let (d, l) = (x.ncols(), q.ncols());
    let blocks = x.nrows().div_ceil(PRODUCT_ROWS);
    if blocks == 0 {
        out.fill(T::from_f64(0.0));
        return;
    }
    partial.resize_with(blocks, || Mat::zeros(d, l));
    partial.par_iter_mut().enumerate().for_each(|(b, p)| {
        let start = b * PRODUCT_ROWS;
        let rows = PRODUCT_ROWS.min(x.nrows() - start);
        matmul(
            p.as_mut(),
            Accum::Replace,
            x.subrows(start, rows).transpose(),
            q.subrows(start, rows),
            T::from_f64(1.0),
            Par::Seq,
        );
    });
    out.copy_from(partial[0].as_ref());
    for p in &partial[1..] {
        out += p.as_ref();
    }
}

impl PcaValidParams {
    /// PCA of the rows that the ranks of `comm` hold together: `x` is this rank's rows, any
    /// share of them, possibly none (`0 × d`; every rank gives the same `d`). Every rank
    /// returns the same model, bit for bit: the one [`Fit::fit`] gives on all the rows stacked
    /// in rank order, to floating-point summation rounding (the ranks' partial sums are added
    /// in another order). With [`Single`] it is [`Fit::fit`] itself (the one-process fit runs
    /// this code).
    ///
    /// Every rank must call it with the same settings. What is exchanged, per solver:
    /// - [`Solver::Exact`]: the column sums (the global mean), then, with `n ≥ d`, each
    ///   rank's `d × d` f64 covariance of its centred rows (lower triangle, summed); rank 0
    ///   eigendecomposes the sum and sends the result. With `n < d` (the Gram path) the rows
    ///   are few: they are gathered (`n · d < d²` values) and rank 0 runs the one-process fit.
    ///   In f32, the Rayleigh–Ritz step ([crate docs](crate#f32-on-badly-scaled-data)) sums
    ///   each rank's small projected covariance.
    /// - [`Solver::Incremental`]: each rank streams its rows into its own f64 scatter matrix
    ///   ([`PcaValidParams::fit_stream_sharded`]); the scatter matrices are summed, the ranks'
    ///   means merged as batches are (Chan, Golub & LeVeque), and rank 0 eigendecomposes.
    /// - [`Solver::Randomized`]: the same seeded test matrix on every rank; the tall products
    ///   (`Xc Ω`, `Xc Z`) on each rank's rows, orthonormalised together by CholeskyQR2 on the
    ///   summed `l × l` Gram matrix (TSQR where that is too ill-conditioned); the small ones
    ///   (`XcᵀQ`, `QᵀXc`) summed; rank 0 orthonormalises `Z`, takes the final SVD and sends
    ///   them. The same seed gives the same model on any number of ranks, to rounding.
    ///
    /// Data-dependent errors are raised on every rank alike (none returns while the others
    /// wait): no rows, or fewer than 2, across the ranks; more components than `min(n, d)`;
    /// the first non-finite value of the stacked rows (its row counted over them); widths
    /// that differ between ranks.
    ///
    /// # Errors
    /// As [`Fit::fit`], on every rank; [`Error::Shape`] when the ranks' widths differ;
    /// [`Error::Collective`] when the transport fails.
    pub fn fit_sharded(&self, x: ArrayView2<'_, f32>, comm: &dyn Collective) -> Result<Pca> {
        if self.solver() == Solver::Incremental {
            let g = Group::new(comm, x.nrows(), x.ncols())?;
            check_data_shape(g.n(), g.d())?;
            check_count(self.components(), g.n(), g.d())?;
            return self.fit_stream_sharded(&mut ArrayRows::new(x), comm, &mut |_| {});
        }
        self.fit_dense(x, comm)
    }

    /// Exact or randomized fit of in-memory rows, in the configured precision.
    fn fit_dense<E: Level>(&self, x: ArrayView2<'_, E>, comm: &dyn Collective) -> Result<Pca> {
        let spectrum = match self.precision() {
            Precision::F32 => self.solve::<f32, E>(x, comm)?,
            Precision::F64 => self.solve::<f64, E>(x, comm)?,
        };
        spectrum.into_pca(self.whiten())
    }

    fn solve<T: Scalar, E: Level>(
        &self,
        x: ArrayView2<'_, E>,
        comm: &dyn Collective,
    ) -> Result<Spectrum> {
        let g = Group::new(comm, x.nrows(), x.ncols())?;
        let (n, d) = (g.n(), g.d());
        check_data_shape(n, d)?;
        check_count(self.components(), n, d)?;
        if self.solver() != Solver::Randomized {
            if n >= d {
                return exact_blocked::<T, E>(x, &g, self.components());
            }
            // The Gram path runs in f64 whatever the precision: an f32 Gram matrix's
            // rounding errors are relative to each entry's largest terms (the largest
            // column's), not to the small directions of badly scaled data, which they swamp.
            // The incremental solver's result is the exact one.
            if g.size() == 1 {
                return exact(Centered::<f64>::new(x)?, self.components());
            }
            // Sharded: fewer rows than features, so the stacked rows (n · d < d² values)
            // are gathered and rank 0 fits them as one process.
            let all = g.gather_rows(x)?;
            return g.on_root(|| exact(Centered::<f64>::new(all.view())?, self.components()));
        }
        match self.components() {
            Components::Count(k) => match randomized_8bit(x, &g, k, self)? {
                Some(spectrum) => Ok(spectrum),
                None => randomized(Centered::<T>::sharded(x, &g)?, x, &g, k, self),
            },
            Components::Fraction(_) => Err(Error::param(
                "components",
                "a fraction of explained variance needs the exact or incremental solver",
            )),
        }
    }

    /// The incremental solver over the rows of an in-memory array, batch by batch.
    fn fit_chunks<E: Copy + Into<f64>>(&self, x: ArrayView2<'_, E>) -> Result<Pca> {
        let (n, d) = x.dim();
        check_data_shape(n, d)?;
        check_count(self.components(), n, d)?;
        let mut acc = Scatter::new(d)?;
        for batch in x.axis_chunks_iter(Axis(0), self.batch_size_for(d, self.count_hint())) {
            acc.push(batch)?;
        }
        acc.finish(self.components())?.into_pca(self.whiten())
    }

    pub(crate) fn count_hint(&self) -> usize {
        match self.components() {
            Components::Count(k) => k,
            Components::Fraction(_) => 1,
        }
    }
}

impl Fit<ArrayView2<'_, f32>> for PcaValidParams {
    type Fitted = Pca;
    type Error = Error;

    /// Fit to the rows of `x` (`n × d`). The incremental solver streams them through
    /// [`PcaValidParams::fit_stream`].
    ///
    /// # Errors
    /// [`Error::Empty`] / [`Error::Shape`] for fewer than 2 rows or no column;
    /// [`Error::NonFinite`] naming the first NaN or infinite value; [`Error::InvalidParam`]
    /// when more components are requested than `min(n, d)`, or for more than
    /// [`crate::MAX_INCREMENTAL_DIM`] features with the incremental solver.
    fn fit(&self, x: &ArrayView2<'_, f32>) -> Result<Pca> {
        self.fit_sharded(x.view(), &Single)
    }
}

impl Fit<ArrayView2<'_, f64>> for PcaValidParams {
    type Fitted = Pca;
    type Error = Error;

    /// As the f32 version; f64 input keeps its precision in the mean and centering.
    ///
    /// # Errors
    /// As the f32 version.
    fn fit(&self, x: &ArrayView2<'_, f64>) -> Result<Pca> {
        if self.solver() == Solver::Incremental {
            return self.fit_chunks(x.view());
        }
        self.fit_dense(x.view(), &Single)
    }
}

impl Fit<Dataset> for PcaValidParams {
    type Fitted = Pca;
    type Error = Error;

    /// Fit to the dataset's rows (labels are ignored).
    ///
    /// # Errors
    /// As for an array.
    fn fit(&self, data: &Dataset) -> Result<Pca> {
        self.fit(&data.x())
    }
}
