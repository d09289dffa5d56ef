//! Small linear-algebra helpers on faer: the scalar types of the fits, eigen/QR/SVD wrappers
//! that turn faer's errors into ours, and principal angles between subspaces.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use latent_core::{Error, Result};
use ndarray::ArrayView2;

use crate::shard::Group;

/// The arithmetic types of the exact and randomized fits: `f32` and `f64`.
pub(crate) trait Scalar: faer::traits::RealField + Copy + Send + Sync + 'static {
    /// Whether this is f64: the fits' Rayleigh–Ritz step in f64 (`fit::rayleigh_ritz`) is
    /// for f32 fits only.
    const IS_F64: bool;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    /// `alpha · a aᵀ` into the lower triangle of the f64 matrix `dst` (`Accum::Replace` or
    /// `Add`): in f64 a [`syrk_lower`] straight into `dst`; in f32 a [`syrk_lower`] into
    /// `scratch` (resized to `dst`'s shape), whose lower triangle is then scaled and added
    /// in f64 — the product keeps f32 speed, the sum over blocks of rows f64 accuracy.
    fn syrk_lower_into_f64(
        dst: &mut Mat<f64>,
        accum: Accum,
        a: MatRef<'_, Self>,
        alpha: f64,
        scratch: &mut Mat<Self>,
    );
}

impl Scalar for f32 {
    const IS_F64: bool = false;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn syrk_lower_into_f64(
        dst: &mut Mat<f64>,
        accum: Accum,
        a: MatRef<'_, f32>,
        alpha: f64,
        scratch: &mut Mat<f32>,
    ) {
        let d = dst.nrows();
        if scratch.nrows() != d || scratch.ncols() != d {
            *scratch = Mat::zeros(d, d);
        }
        syrk_lower(scratch, Accum::Replace, a, 1.0);
        for j in 0..d {
            for i in j..d {
                let v = alpha * f64::from(scratch[(i, j)]);
                dst[(i, j)] = match accum {
                    Accum::Replace => v,
                    Accum::Add => dst[(i, j)] + v,
                };
            }
        }
    }
}

impl Scalar for f64 {
    const IS_F64: bool = true;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn syrk_lower_into_f64(
        dst: &mut Mat<f64>,
        accum: Accum,
        a: MatRef<'_, f64>,
        alpha: f64,
        _scratch: &mut Mat<f64>,
    ) {
        syrk_lower(dst, accum, a, alpha);
    }
}

/// Parallelism of the big products: all of rayon's threads.
pub(crate) fn par() -> Par {
    Par::rayon(0)
}

/// A numerical failure (an iterative decomposition that did not converge). latent-core has
/// no variant for it, so it travels as a source error with a message.
pub(crate) fn numerical(what: &str) -> Error {
    Error::Source(format!("pca: {what} did not converge").into())
}

/// `alpha · a aᵀ` into the lower triangle of `dst` (`Accum::Replace` or `Add`); the upper
/// triangle is not touched. Computing one triangle halves the cost of the product.
pub(crate) fn syrk_lower<T: Scalar>(dst: &mut Mat<T>, accum: Accum, a: MatRef<'_, T>, alpha: T) {
    triangular::matmul(
        dst.as_mut(),
        BlockStructure::TriangularLower,
        accum,
        a,
        BlockStructure::Rectangular,
        a.transpose(),
        BlockStructure::Rectangular,
        alpha,
        par(),
    );
}

/// `a · b` into a new matrix.
pub(crate) fn mul<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> Mat<T> {
    let mut out = Mat::<T>::zeros(a.nrows(), b.ncols());
    matmul(out.as_mut(), Accum::Replace, a, b, T::from_f64(1.0), par());
    out
}

/// The eigendecomposition of a symmetric matrix given by its lower triangle: eigenvalues in
/// descending order (f64) and the eigenvectors as the columns of a matrix in the same order.
pub(crate) fn eigh_desc<T: Scalar>(a: MatRef<'_, T>) -> Result<(Vec<f64>, Mat<T>)> {
    let evd = a
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| numerical("symmetric eigendecomposition"))?;
    let n = a.nrows();
    let s = evd.S().column_vector();
    let u = evd.U();
    let values = (0..n).rev().map(|i| s[i].to_f64()).collect();
    let vectors = Mat::from_fn(n, n, |i, j| u[(i, n - 1 - j)]);
    Ok((values, vectors))
}

/// The first `min(rows, cols)` columns of `Q` in a QR decomposition of `a`: an orthonormal
/// basis of its column space (completed arbitrarily where `a` is rank-deficient).
pub(crate) fn thin_q<T: Scalar>(a: MatRef<'_, T>) -> Mat<T> {
    a.qr().compute_thin_Q()
}

/// Orthonormalises the columns of tall matrices in place — the normalisation step of the
/// randomized solver's power iterations — by Cholesky QR in f64 (`AᵀA = RᵀR`,
/// `Q = A R⁻¹`), twice (CholeskyQR2: a pass loses about `ε₆₄ · cond(A)²` of orthogonality;
/// the second pass, accepted only on an almost orthonormal matrix, restores it to working
/// precision). When `A` is too ill-conditioned for that (an estimated `cond(A)` beyond 10⁶,
/// rank-deficient, or a first pass that leaves it far from orthonormal) it uses Householder
/// QR ([`thin_q`]). On a 60,000 × 60 matrix it takes about a third of Householder QR's
/// time: products at gemm speed instead of a sequence of reflections. Holds its f64 scratch
/// from call to call.
///
/// The rows of the matrix may be shared between the ranks of a job ([`Group`]): each pass
/// sums the ranks' `l × l` Gram matrices, rank 0 factors the sum and sends the factor, and
/// each rank solves for its rows. The Householder fallback is then TSQR ([`tsqr`]).
#[derive(Default)]
pub(crate) struct Orthonormalizer {
    scratch: Vec<f64>,
}

impl Orthonormalizer {
    /// Replaces the columns of `a` (this rank's `n × l` rows of a matrix with at least `l`
    /// rows in all) by (this rank's rows of) an orthonormal basis of their span. Every rank
    /// of `g` takes part; with one rank nothing is exchanged.
    ///
    /// # Errors
    /// A transport failure.
    pub(crate) fn apply<T: Scalar>(&mut self, mut a: MatMut<'_, T>, g: &Group<'_>) -> Result<()> {
        let (n, l) = (a.nrows(), a.ncols());
        self.scratch.clear();
        self.scratch.resize(n * l, 0.0);
        let mut y = MatMut::from_column_major_slice_mut(&mut self.scratch, n, l);
        for j in 0..l {
            for i in 0..n {
                y[(i, j)] = a[(i, j)].to_f64();
            }
        }
        // CholeskyQR2: the second pass, on an almost orthonormal matrix (its pivots must be
        // within a factor of 2 of each other), restores the orthogonality the first lost
        for min_ratio in [1e-6, 0.5] {
            if !cholesky_qr_pass(y.as_mut(), min_ratio, g)? {
                return tsqr(a, g);
            }
        }
        for j in 0..l {
            for i in 0..n {
                a[(i, j)] = T::from_f64(y[(i, j)]);
            }
        }
        Ok(())
    }
}

/// One pass of Cholesky QR in place: `y ← y R⁻¹` with `yᵀy = RᵀR` (the Gram matrix summed
/// over the ranks of `g`, factored by rank 0). `false` (and `y` unusable) on every rank when
/// `y` is too ill-conditioned for it: the Cholesky factor's smallest pivot below `min_ratio`
/// times its largest (an estimate of `1 / cond(y)`), or not finite.
fn cholesky_qr_pass(mut y: MatMut<'_, f64>, min_ratio: f64, g: &Group<'_>) -> Result<bool> {
    let l = y.ncols();
    let mut gram = Mat::<f64>::zeros(l, l);
    matmul(
        gram.as_mut(),
        Accum::Replace,
        y.as_ref().transpose(),
        y.as_ref(),
        1.0,
        par(),
    );
    g.sum_mat(gram.as_mut())?;
    let factor = g.on_root(|| {
        let Ok(factor) = gram.llt(Side::Lower) else {
            return Ok(None);
        };
        // cond(y) = cond(L); the ratio of L's extreme pivots bounds it from below
        let d = factor.L().diagonal().column_vector();
        let (lo, hi) = (0..l).fold((f64::INFINITY, 0.0f64), |(lo, hi), i| {
            (lo.min(d[i]), hi.max(d[i]))
        });
        let finite = (0..l).all(|i| d[i].is_finite());
        let well_conditioned = finite && lo > hi * min_ratio;
        Ok(well_conditioned.then(|| factor.L().to_owned()))
    })?;
    let Some(factor) = factor else {
        return Ok(false);
    };
    // Qᵀ = L⁻¹ yᵀ
    solve_lower_triangular_in_place(factor.as_ref(), y.as_mut().transpose_mut(), par());
    Ok(true)
}

/// Householder QR of a matrix whose rows are shared between the ranks of `g`, in place (`a`:
/// this rank's rows; `Q` replaces them): TSQR with one level. Each rank factors its rows,
/// `Aᵣ = Qᵣ Rᵣ`; the `Rᵣ` (at most `l × l` each) are stacked in rank order (summed into a
/// zero matrix) and rank 0 factors the stack, `[R₀; R₁; …] = Q̃ R`, and sends `Q̃`; each rank's
/// rows of `Q` are `Qᵣ Q̃ᵣ`, with `Q̃ᵣ` its block of `Q̃`. With one rank, [`thin_q`].
///
/// # Errors
/// A transport failure.
pub(crate) fn tsqr<T: Scalar>(mut a: MatMut<'_, T>, g: &Group<'_>) -> Result<()> {
    if g.size() == 1 {
        let q = thin_q(a.as_ref());
        a.copy_from(q.as_ref());
        return Ok(());
    }
    let (rows, l) = (a.nrows(), a.ncols());
    let heights: Vec<usize> = g.counts().iter().map(|&c| c.min(l)).collect();
    let start: usize = heights[..g.rank()].iter().sum();
    let h = heights[g.rank()];
    let mut stacked = Mat::<f64>::zeros(heights.iter().sum(), l);
    let mut local_q = Mat::<T>::zeros(rows, h);
    if rows > 0 {
        let qr = a.as_ref().qr();
        local_q = qr.compute_thin_Q();
        let r = qr.thin_R();
        for j in 0..l {
            for i in 0..h.min(j + 1) {
                stacked[(start + i, j)] = r[(i, j)].to_f64();
            }
        }
    }
    g.sum_mat(stacked.as_mut())?;
    let q_stack = g.on_root(|| Ok(thin_q(stacked.as_ref())))?;
    if rows > 0 {
        let block = Mat::<T>::from_fn(h, l, |i, j| T::from_f64(q_stack[(start + i, j)]));
        matmul(
            a.as_mut(),
            Accum::Replace,
            local_q.as_ref(),
            block.as_ref(),
            T::from_f64(1.0),
            par(),
        );
    }
    Ok(())
}

/// Flip each row of the row-major `k × d` matrix so that its largest-magnitude entry (the
/// first, on ties) is positive: a deterministic sign for eigenvectors.
pub(crate) fn fix_signs(rows: &mut ndarray::Array2<f64>) {
    for mut row in rows.outer_iter_mut() {
        let mut best = 0.0f64;
        let mut sign = 1.0f64;
        for &v in row.iter() {
            if v.abs() > best {
                best = v.abs();
                sign = v.signum();
            }
        }
        if sign < 0.0 {
            row.mapv_inplace(|v| -v);
        }
    }
}

/// The principal angles (radians, ascending) between the subspaces spanned by the rows of
/// `a` (`k₁ × d`) and of `b` (`k₂ × d`); there are `min(k₁, k₂)` of them.
///
/// The rows need not be orthonormal: each set is orthonormalised first (QR, in f64; a
/// rank-deficient set is completed arbitrarily, so give sets of independent rows). An
/// angle is computed from its cosine (singular values of `Q₁ᵀQ₂`) when it is large and from
/// its sine (singular values of `Q₂ − Q₁Q₁ᵀQ₂`) when it is small, so that small angles are
/// accurate to about `1e-15` rather than `sqrt(1e-16)` (Knyazev & Argentati 2002).
///
/// # Errors
/// [`Error::Shape`] when `a` and `b` have different numbers of columns.
pub fn principal_angles(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Result<Vec<f64>> {
    if a.ncols() != b.ncols() {
        return Err(Error::shape(
            "principal angles",
            format!("two row sets of the same width ({} columns)", a.ncols()),
            format!("{} columns", b.ncols()),
        ));
    }
    // Columns of the basis matrices are the rows of the inputs; the smaller set is `s`.
    let (small, large) = if a.nrows() <= b.nrows() {
        (a, b)
    } else {
        (b, a)
    };
    if small.nrows() == 0 || a.ncols() == 0 {
        return Ok(Vec::new());
    }
    let basis = |x: ArrayView2<'_, f32>| {
        let m = Mat::<f64>::from_fn(x.ncols(), x.nrows(), |i, j| f64::from(x[[j, i]]));
        thin_q(m.as_ref())
    };
    let qs = basis(small);
    let ql = basis(large);
    let ks = qs.ncols();
    let proj = mul(ql.transpose(), qs.as_ref()); // kl × ks
    let cos = proj
        .as_ref()
        .singular_values()
        .map_err(|_| numerical("principal-angle SVD"))?;
    let mut resid = qs.clone();
    matmul(
        resid.as_mut(),
        Accum::Add,
        ql.as_ref(),
        proj.as_ref(),
        -1.0,
        par(),
    );
    let sin = resid
        .as_ref()
        .singular_values()
        .map_err(|_| numerical("principal-angle SVD"))?;
    // cos is descending (angles ascending); sin is descending (angles descending).
    Ok((0..ks)
        .map(|i| {
            let c = cos.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            let s = sin.get(ks - 1 - i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            if c * c >= 0.5 { s.asin() } else { c.acos() }
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn angles_between_known_subspaces() {
        let e1e2 = array![[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0]];
        let angles = principal_angles(e1e2.view(), e1e2.view()).unwrap();
        assert!(angles.iter().all(|&t| t.abs() < 1e-7), "{angles:?}");
        let t = 0.3f32;
        let rotated = array![[1.0f32, 0.0, 0.0], [0.0, t.cos(), t.sin()]];
        let angles = principal_angles(e1e2.view(), rotated.view()).unwrap();
        assert!(
            angles[0].abs() < 1e-7 && (angles[1] - 0.3).abs() < 1e-6,
            "{angles:?}"
        );
        let tiny = 1e-5f32;
        let rotated = array![[1.0f32, 0.0, 0.0], [0.0, tiny.cos(), tiny.sin()]];
        let angles = principal_angles(e1e2.view(), rotated.view()).unwrap();
        assert!((angles[1] - 1e-5).abs() < 1e-9, "{angles:?}");
        let e3 = array![[0.0f32, 0.0, 2.0]];
        let angles = principal_angles(e1e2.view(), e3.view()).unwrap();
        assert_eq!(angles.len(), 1);
        assert!((angles[0] - std::f64::consts::FRAC_PI_2).abs() < 1e-7);
        assert!(principal_angles(e1e2.view(), array![[1.0f32, 0.0]].view()).is_err());
    }

    /// `max |QᵀQ − I|` and `max |Q Qᵀ A − A| / max |A|`: how orthonormal `q` is and how far
    /// `a`'s columns lie from its span.
    fn orth_errors<T: Scalar>(q: MatRef<'_, T>, a: MatRef<'_, T>) -> (f64, f64) {
        let qtq = mul(q.transpose(), q);
        let mut ortho = 0.0f64;
        for i in 0..q.ncols() {
            for j in 0..q.ncols() {
                let want = if i == j { 1.0 } else { 0.0 };
                ortho = ortho.max((qtq[(i, j)].to_f64() - want).abs());
            }
        }
        let back = mul(q, mul(q.transpose(), a).as_ref());
        let (mut off, mut scale) = (0.0f64, 0.0f64);
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                off = off.max((back[(i, j)].to_f64() - a[(i, j)].to_f64()).abs());
                scale = scale.max(a[(i, j)].to_f64().abs());
            }
        }
        (ortho, off / scale)
    }

    /// A `n × l` matrix with singular values spread from 1 to `1/cond` (and a rank-`rank`
    /// one when `rank < l`).
    fn tall<T: Scalar>(n: usize, l: usize, cond: f64, rank: usize) -> Mat<T> {
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = latent_core::seed::rng(3);
        let g = Mat::<f64>::from_fn(n, l, |_, _| StandardNormal.sample(&mut rng));
        let u = g.qr().compute_thin_Q();
        let h = Mat::<f64>::from_fn(l, l, |_, _| StandardNormal.sample(&mut rng));
        let v = h.qr().compute_thin_Q();
        let s = Mat::<f64>::from_fn(l, l, |i, j| {
            if i != j || i >= rank {
                0.0
            } else {
                cond.powf(-(i as f64) / (l - 1) as f64)
            }
        });
        let a = mul(mul(u.as_ref(), s.as_ref()).as_ref(), v.transpose());
        Mat::from_fn(n, l, |i, j| T::from_f64(a[(i, j)]))
    }

    #[test]
    fn orthonormalizer_gives_an_orthonormal_basis_of_the_span() {
        let mut orth = Orthonormalizer::default();
        // well conditioned (Cholesky QR), f32 and f64
        let a = tall::<f32>(3000, 40, 1e3, 40);
        let mut q = a.clone();
        orth.apply(q.as_mut(), &Group::local(0, 0)).unwrap();
        let (ortho, off) = orth_errors(q.as_ref(), a.as_ref());
        assert!(ortho < 2e-5 && off < 2e-5, "f32: {ortho:e} {off:e}");
        let a = tall::<f64>(3000, 40, 1e5, 40);
        let mut q = a.clone();
        orth.apply(q.as_mut(), &Group::local(0, 0)).unwrap();
        let (ortho, off) = orth_errors(q.as_ref(), a.as_ref());
        assert!(ortho < 1e-12 && off < 1e-12, "f64: {ortho:e} {off:e}");
        // too ill-conditioned for one Cholesky pass, and rank-deficient: Householder
        for (cond, rank) in [(1e9, 40), (1e2, 25)] {
            let a = tall::<f64>(2000, 40, cond, rank);
            let mut q = a.clone();
            orth.apply(q.as_mut(), &Group::local(0, 0)).unwrap();
            let (ortho, off) = orth_errors(q.as_ref(), a.as_ref());
            assert!(
                ortho < 1e-12 && off < 1e-12,
                "cond {cond:e}, rank {rank}: {ortho:e} {off:e}"
            );
        }
    }

    #[test]
    fn orthonormalizer_over_ranks_matches_one_process() {
        use latent_core::{Collective, LocalGroup};
        // the rows of a tall matrix shared by three ranks (one with fewer rows than columns,
        // one with none): CholeskyQR2 on the summed Gram matrix, and TSQR where the matrix is
        // too ill-conditioned or rank-deficient
        for (cond, rank) in [(1e3, 40), (1e9, 40), (1e2, 25)] {
            let a = tall::<f64>(2000, 40, cond, rank);
            let bounds = [0, 1500, 1500, 1530, 2000];
            let pieces: Vec<Mat<f64>> = std::thread::scope(|scope| {
                let jobs: Vec<_> = LocalGroup::new(4)
                    .into_iter()
                    .map(|comm| {
                        let a = &a;
                        scope.spawn(move || {
                            let r = comm.rank();
                            let rows = bounds[r + 1] - bounds[r];
                            let g = Group::new(&comm, rows, 40).unwrap();
                            let mut q = a.as_ref().subrows(bounds[r], rows).to_owned();
                            Orthonormalizer::default().apply(q.as_mut(), &g).unwrap();
                            q
                        })
                    })
                    .collect();
                jobs.into_iter().map(|j| j.join().unwrap()).collect()
            });
            let q = Mat::<f64>::from_fn(2000, 40, |i, j| {
                let r = (0..4).find(|&r| i < bounds[r + 1]).unwrap();
                pieces[r][(i - bounds[r], j)]
            });
            let (ortho, off) = orth_errors(q.as_ref(), a.as_ref());
            assert!(
                ortho < 1e-12 && off < 1e-12,
                "cond {cond:e}, rank {rank}: {ortho:e} {off:e}"
            );
        }
    }

    #[test]
    fn signs_make_the_largest_entry_positive() {
        let mut m = array![[0.1, -0.9, 0.3], [0.5, 0.2, -0.1]];
        fix_signs(&mut m);
        assert_eq!(m, array![[-0.1, 0.9, -0.3], [0.5, 0.2, -0.1]]);
    }
}
