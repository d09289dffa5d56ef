//! The incremental solver: one streamed pass that accumulates the mean and the scatter matrix
//! in f64, merging batch statistics with the update of Chan, Golub & LeVeque (1979), then an
//! eigendecomposition of the covariance. See the [crate documentation](crate#the-incremental-solver).

use faer::{Accum, Mat, MatRef};
use latent_core::{Error, Result, RowSource};
use ndarray::ArrayView2;

use crate::fit::{Spectrum, check_count, check_data_shape, from_covariance, non_finite};
use crate::linalg::syrk_lower;
use crate::model::Pca;
use crate::params::{Components, MAX_INCREMENTAL_DIM, PcaValidParams};

/// Running mean and scatter matrix `M = Σ (x − x̄)(x − x̄)ᵀ` (lower triangle) of the rows
/// seen so far. Memory: `d² + O(d)` f64, whatever the number of rows.
pub(crate) struct Scatter {
    n: usize,
    mean: Vec<f64>,
    m2: Mat<f64>,
}

impl Scatter {
    /// An empty accumulator for rows of `d` features.
    ///
    /// # Errors
    /// [`Error::Empty`] for `d = 0`; [`Error::InvalidParam`] for `d` above
    /// [`MAX_INCREMENTAL_DIM`].
    pub fn new(d: usize) -> Result<Self> {
        if d == 0 {
            return Err(Error::Empty("pca input: rows of 0 features".into()));
        }
        if d > MAX_INCREMENTAL_DIM {
            let gib = (d as f64).powi(2) * 8.0 / f64::from(1u32 << 30);
            return Err(Error::param(
                "solver",
                format!(
                    "the incremental solver keeps a d × d f64 scatter matrix ({gib:.1} GiB for \
                     d = {d}); it supports at most {MAX_INCREMENTAL_DIM} features — use the \
                     randomized solver"
                ),
            ));
        }
        Ok(Self {
            n: 0,
            mean: vec![0.0; d],
            m2: Mat::zeros(d, d),
        })
    }

    /// Rows accumulated so far.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Merge a batch: with `δ = x̄_b − x̄_a`,
    /// `M = M_a + M_b + δδᵀ · n_a n_b / n` and `x̄ = x̄_a + δ · n_b / n`, where the batch's own
    /// scatter `M_b` is computed around the batch mean (no cancellation).
    ///
    /// # Errors
    /// [`Error::Shape`] for a batch of the wrong width; [`Error::NonFinite`] naming the first
    /// NaN or infinite value (its row counted from the start of the stream).
    pub fn push<E: Copy + Into<f64>>(&mut self, batch: ArrayView2<'_, E>) -> Result<()> {
        let d = self.mean.len();
        if batch.ncols() != d {
            return Err(Error::shape(
                "pca input batch",
                format!("{d} columns"),
                format!("{} columns", batch.ncols()),
            ));
        }
        let nb = batch.nrows();
        if nb == 0 {
            return Ok(());
        }
        let mut bmean = vec![0.0f64; d];
        for (r, row) in batch.outer_iter().enumerate() {
            for (c, (m, &v)) in bmean.iter_mut().zip(row).enumerate() {
                let v: f64 = v.into();
                if !v.is_finite() {
                    return Err(non_finite(self.n + r, c, v));
                }
                *m += v;
            }
        }
        bmean.iter_mut().for_each(|m| *m /= nb as f64);
        let mut centered = Vec::with_capacity(nb * d);
        for row in batch.outer_iter() {
            centered.extend(row.iter().zip(&bmean).map(|(&v, &m)| v.into() - m));
        }
        let xb = MatRef::from_row_major_slice(&centered, nb, d);
        syrk_lower(&mut self.m2, Accum::Add, xb.transpose(), 1.0);

        let na = self.n;
        let n = na + nb;
        if na == 0 {
            self.mean = bmean;
        } else {
            let delta: Vec<f64> = bmean.iter().zip(&self.mean).map(|(b, a)| b - a).collect();
            let w = (na as f64) * (nb as f64) / n as f64;
            for (j, &dj) in delta.iter().enumerate() {
                let dj = w * dj;
                for (i, &di) in delta.iter().enumerate().skip(j) {
                    self.m2[(i, j)] += di * dj;
                }
            }
            let f = nb as f64 / n as f64;
            self.mean
                .iter_mut()
                .zip(&delta)
                .for_each(|(m, dl)| *m += dl * f);
        }
        self.n = n;
        Ok(())
    }

    /// The covariance `M / (n − 1)` and its eigendecomposition.
    ///
    /// # Errors
    /// Fewer than 2 rows; more components than `min(n, d)`; a non-converging eigensolver.
    pub fn finish(mut self, components: Components) -> Result<Spectrum> {
        let (n, d) = (self.n, self.mean.len());
        check_data_shape(n, d)?;
        check_count(components, n, d)?;
        let inv_dof = 1.0 / (n - 1) as f64;
        for j in 0..d {
            for i in j..d {
                self.m2[(i, j)] *= inv_dof;
            }
        }
        let total = (0..d).map(|i| self.m2[(i, i)]).sum::<f64>();
        from_covariance(self.m2.as_ref(), self.mean, total, n, components)
    }
}

impl PcaValidParams {
    /// Fit by streaming rows from `src` in one pass, in memory independent of the number of
    /// rows (`d²` f64 for the scatter matrix plus one batch): the incremental solver,
    /// whatever [`PcaValidParams::solver`] says (it is the only solver that can stream).
    /// The result is the exact PCA of all the rows.
    ///
    /// Batches of [`PcaValidParams::batch_size_for`] rows are requested; `progress` is called
    /// after each with the number of rows read so far.
    ///
    /// # Errors
    /// The source's read errors; [`Error::Shape`] for a batch of the wrong width;
    /// [`Error::NonFinite`]; fewer than 2 rows; more than [`MAX_INCREMENTAL_DIM`] features;
    /// more components than `min(n, d)`.
    pub fn fit_stream(
        &self,
        src: &mut dyn RowSource,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Pca> {
        let d = src.dim();
        let mut acc = Scatter::new(d)?;
        let batch = self.batch_size_for(d, self.count_hint());
        while let Some(rows) = src.next_batch(batch)? {
            acc.push(rows.view())?;
            progress(acc.rows());
        }
        acc.finish(self.components())?.into_pca(self.whiten())
    }
}
