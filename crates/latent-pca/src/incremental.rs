//! The incremental solver: one streamed pass that accumulates the mean and the scatter matrix
//! in f64, merging batch statistics with the update of Chan, Golub & LeVeque (1979), then an
//! eigendecomposition of the covariance. See the [crate documentation](crate#the-incremental-solver).

use faer::{Accum, Mat, MatRef};
use latent_core::{Collective, Error, Result, RowSource, Single};
use ndarray::ArrayView2;

use crate::fit::{
    Spectrum, check_count, check_data_shape, first_non_finite, from_covariance, non_finite,
};
use crate::linalg::syrk_lower;
use crate::model::Pca;
use crate::params::{Components, MAX_INCREMENTAL_DIM, PcaValidParams};
use crate::shard::{Failure, Group, agree};

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
        if let Some((r, c, v)) = first_non_finite(batch) {
            return Err(non_finite(self.n + r, c, v));
        }
        let nb = batch.nrows();
        if nb == 0 {
            return Ok(());
        }
        let mut bmean = vec![0.0f64; d];
        for row in batch.outer_iter() {
            for (m, &v) in bmean.iter_mut().zip(row) {
                *m += v.into();
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

    /// The accumulators of every rank of `g` (this rank's is `self`) merged, on rank 0 (the
    /// others' result is not to be used): the scatter matrices summed (an exchange of the
    /// lower triangle), then the ranks' means merged in rank order as [`Scatter::push`]
    /// merges a batch, adding `δδᵀ · n_a n_b / n` for each. With one rank, `self`.
    ///
    /// # Errors
    /// A transport failure.
    fn merge(mut self, g: &Group<'_>) -> Result<Self> {
        if g.size() == 1 {
            return Ok(self);
        }
        let d = self.mean.len();
        // every rank's mean, exactly: each in its own slot of a zero vector, summed
        let mut means = vec![0.0f64; g.size() * d];
        means[g.rank() * d..(g.rank() + 1) * d].copy_from_slice(&self.mean);
        g.comm().sum_f64(&mut means)?;
        g.sum_lower(&mut self.m2, &mut [])?;
        if !g.comm().is_root() {
            return Ok(self);
        }
        let (mut n_a, mut mean) = (0usize, vec![0.0f64; d]);
        for (&n_b, mean_b) in g.counts().iter().zip(means.chunks_exact(d)) {
            if n_b == 0 {
                continue;
            }
            if n_a == 0 {
                (n_a, mean) = (n_b, mean_b.to_vec());
                continue;
            }
            let n = n_a + n_b;
            let delta: Vec<f64> = mean_b.iter().zip(&mean).map(|(b, a)| b - a).collect();
            let w = (n_a as f64) * (n_b as f64) / n as f64;
            for (j, &dj) in delta.iter().enumerate() {
                let dj = w * dj;
                for (i, &di) in delta.iter().enumerate().skip(j) {
                    self.m2[(i, j)] += di * dj;
                }
            }
            let f = n_b as f64 / n as f64;
            mean.iter_mut().zip(&delta).for_each(|(m, dl)| *m += dl * f);
            n_a = n;
        }
        self.n = n_a;
        self.mean = mean;
        Ok(self)
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
        self.fit_stream_sharded(src, &Single, progress)
    }

    /// [`PcaValidParams::fit_stream`] over the rows the ranks of `comm` stream together:
    /// `src` gives this rank's rows (any share, possibly none; the same width on every
    /// rank). Every rank returns the same model, bit for bit: the exact PCA of all the rows
    /// stacked in rank order, to rounding (the ranks' batches start at their own first rows,
    /// and their sums are added in another order). With [`Single`] it is
    /// [`PcaValidParams::fit_stream`].
    ///
    /// Each rank accumulates its rows' mean and scatter matrix in one pass, as one process
    /// does. Then the ranks' scatter matrices are summed (one exchange of `d (d + 1) / 2`
    /// f64), their means merged in rank order with the pairwise update that merges batches,
    /// and rank 0 eigendecomposes the covariance and sends the result. `progress` counts
    /// this rank's rows.
    ///
    /// A rank that fails (a read error, a NaN) stops reading and, after the others have read
    /// their rows, every rank returns the first failing rank's error (a non-finite value's
    /// row counted over the stacked rows).
    ///
    /// # Errors
    /// As [`PcaValidParams::fit_stream`], on every rank; [`Error::Shape`] when the ranks'
    /// widths differ; [`Error::Collective`] when the transport fails.
    pub fn fit_stream_sharded(
        &self,
        src: &mut dyn RowSource,
        comm: &dyn Collective,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Pca> {
        let d = src.dim();
        Group::new(comm, 0, d)?; // the same width on every rank
        let mut acc = Scatter::new(d)?;
        let batch = self.batch_size_for(d, self.count_hint());
        let mut failure = None;
        loop {
            let rows = match src.next_batch(batch) {
                Ok(Some(rows)) => rows,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(Failure::Other(e));
                    break;
                }
            };
            if let Some((r, col, value)) = first_non_finite(rows.view()) {
                let row = acc.rows() + r;
                failure = Some(Failure::NonFinite { row, col, value });
                break;
            }
            if let Err(e) = acc.push(rows.view()) {
                failure = Some(Failure::Other(e));
                break;
            }
            progress(acc.rows());
        }
        agree(comm, acc.rows(), failure)?;
        let g = Group::new(comm, acc.rows(), d)?;
        check_data_shape(g.n(), d)?;
        check_count(self.components(), g.n(), d)?;
        let acc = acc.merge(&g)?;
        g.on_root(|| acc.finish(self.components()))?
            .into_pca(self.whiten())
    }
}
