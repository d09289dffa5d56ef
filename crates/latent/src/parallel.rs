//! A fit as one rank of a data-parallel job ([`latent_core::Collective`]): the rows this rank
//! reads, and the preprocessing fitted from statistics of every rank's rows.
//!
//! Rank `r` of `N` reads the `r`-th contiguous share of the file's rows (IDX and NPY files
//! are read from that row's offset; other kinds are small and read whole, then cut:
//! [`latent_data::source::DataSpec::load_rows`]). A hold-out and the validation split are
//! the same seeded selections a single process makes, computed from the row count alone, so
//! each rank knows which of its rows are which, and the global index of each. The statistics
//! of the scaling (means and deviations, ranges) are sums over the ranks; every decision that
//! depends on the data (the likelihood, a refusal) is taken from them, the same on every
//! rank.

use latent_core::{Collective, Dataset, ImageShape, ValueRange};
use latent_data::source::DataSpec;
use latent_data::transform::{
    Binarize, FitRows, Preprocess, ScaleChoice, Scaling, column_extent, sd_or_one,
};
use ndarray::{Array2, Axis};

use crate::data::DataSource;
use crate::{Error, Result};

/// This rank's rows of the data a fit reads (after the hold-out), raw.
#[derive(Debug)]
pub struct Share {
    /// The data set's description (name, image shape, range, classes, feature names): its
    /// first row as read by this rank.
    pub meta: Dataset,
    /// This rank's rows.
    pub x: Array2<f32>,
    /// Their indices in the data, ascending.
    pub rows: Vec<usize>,
    /// The data's rows, all ranks together.
    pub n: usize,
}

pub(crate) fn comm(e: latent_core::Error) -> Error {
    e.into()
}

/// This rank's share of `source`'s rows.
///
/// # Errors
/// Reading errors naming the file; fewer rows than ranks; a hold-out that leaves a part
/// empty (the same refusal as [`DataSource::load`]).
pub fn load_share(source: &DataSource, comm: &dyn Collective) -> Result<Share> {
    let spec = DataSpec::parse(&source.data)?;
    let opts = source.load_options();
    let n_file = spec.row_count(&opts)?;
    if n_file < comm.size() {
        return Err(Error::invalid(format!(
            "{}: {n_file} rows for a job of {} ranks: every rank needs at least one row",
            source.data,
            comm.size()
        )));
    }
    let range = comm.share(n_file);
    let read = spec.load_rows(&opts, range.clone())?;
    let meta = read.head(1)?;
    let Some(percent) = source.holdout else {
        return Ok(Share {
            meta,
            x: read.into_x(),
            rows: range.collect(),
            n: n_file,
        });
    };
    if spec.has_own_splits() {
        return Err(crate::data::own_splits(&source.data));
    }
    let (train, test) = Dataset::split_rows(
        n_file,
        f64::from(percent) / 100.0,
        latent_core::seed::derive(source.holdout_seed, "holdout"),
    )
    .map_err(|e| crate::data::holdout_error(percent, &source.data, n_file, e))?;
    let chosen = match source.split {
        Some(latent_data::source::Split::Test) => test,
        _ => train,
    };
    let rows: Vec<usize> = (0..chosen.len())
        .filter(|&i| range.contains(&chosen[i]))
        .collect();
    let local: Vec<usize> = rows.iter().map(|&i| chosen[i] - range.start).collect();
    Ok(Share {
        meta,
        x: read.x().select(Axis(0), &local),
        rows,
        n: chosen.len(),
    })
}

/// The smallest and largest of `x`'s values over every rank (`None` when no rank has any).
fn observed(x: &Array2<f32>, comm: &dyn Collective) -> latent_core::Result<Option<(f32, f32)>> {
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(f64::from(v)), h.max(f64::from(v)))
        });
    let mut m = [-lo, hi];
    comm.max_f64(&mut m)?;
    Ok((m[1] >= -m[0]).then_some((-m[0] as f32, m[1] as f32)))
}

/// A job's rows for fitting a preprocessing: this rank's share, statistics summed over the
/// ranks.
struct JobRows<'a> {
    share: &'a Share,
    comm: &'a dyn Collective,
}

impl FitRows for JobRows<'_> {
    fn name(&self) -> &str {
        self.share.meta.name()
    }

    fn known_range(&self) -> Option<ValueRange> {
        self.share.meta.range()
    }

    fn image_shape(&self) -> Option<ImageShape> {
        self.share.meta.image_shape()
    }

    fn column_extent(&self) -> latent_core::Result<(Vec<f32>, Vec<f32>)> {
        let (lo, hi) = column_extent(self.share.x.view());
        // one exchange: the maximum of −lo and of hi
        let d = lo.len();
        let mut m: Vec<f64> = lo.iter().map(|&v| -f64::from(v)).collect();
        m.extend(hi.iter().map(|&v| f64::from(v)));
        self.comm.max_f64(&mut m)?;
        Ok((
            m[..d].iter().map(|&v| -v as f32).collect(),
            m[d..].iter().map(|&v| v as f32).collect(),
        ))
    }

    /// As one process computes them: f64 sums, deviations from the global mean, `n − 1`.
    fn standardize(&self) -> latent_core::Result<Scaling> {
        let x = &self.share.x;
        let d = x.ncols();
        let mut sums = vec![0.0f64; d];
        for row in x.outer_iter() {
            for (s, &v) in sums.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        self.comm.sum_f64(&mut sums)?;
        let n = self.share.n.max(1) as f64;
        let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
        let mut ss = vec![0.0f64; d];
        for row in x.outer_iter() {
            for ((s, &v), m) in ss.iter_mut().zip(row).zip(&mean) {
                let dv = f64::from(v) - m;
                *s += dv * dv;
            }
        }
        self.comm.sum_f64(&mut ss)?;
        Ok(Scaling::Standardize {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: ss.iter().map(|&s| sd_or_one(s, self.share.n)).collect(),
        })
    }

    fn extent_after(&self, pre: &Preprocess) -> latent_data::Result<Option<(f32, f32)>> {
        let core = |e| latent_data::DataError::Core {
            path: self.name().into(),
            source: e,
        };
        if pre.is_identity() {
            observed(&self.share.x, self.comm).map_err(core)
        } else {
            let scaled = pre.apply_rows(self.share.x.view())?;
            observed(&scaled, self.comm).map_err(core)
        }
    }
}

/// [`Preprocess::fit`] over every rank's rows: the same scaling, notes and refusals
/// ([`Preprocess::fit_rows`]), from statistics summed over the ranks.
///
/// # Errors
/// As [`Preprocess::fit`], on every rank alike.
pub fn fit_preprocess(
    share: &Share,
    scale: ScaleChoice,
    binarize: Binarize,
    comm: &dyn Collective,
) -> Result<Preprocess> {
    Ok(Preprocess::fit_rows(
        &JobRows { share, comm },
        scale,
        binarize,
    )?)
}

/// This rank's rows preprocessed by `pre` (a static Bernoulli binarization draws for each row
/// by its index in the data, as one process does).
///
/// # Errors
/// As [`Preprocess::apply_rows`].
pub fn apply(share: &Share, pre: &Preprocess) -> Result<Array2<f32>> {
    if !matches!(pre.binarize, Binarize::Bernoulli { .. }) {
        return Ok(pre.apply_rows(share.x.view())?);
    }
    let mut out = Array2::zeros(share.x.raw_dim());
    for ((src, mut dst), &i) in share
        .x
        .outer_iter()
        .zip(out.outer_iter_mut())
        .zip(&share.rows)
    {
        let row = pre.apply_rows_at(src.insert_axis(Axis(0)), i)?;
        dst.assign(&row.row(0));
    }
    Ok(out)
}

/// The values' extent for display over every rank (the known range, else the observed one).
///
/// # Errors
/// A failed exchange.
pub fn display_range(share: &Share, comm: &dyn Collective) -> Result<ValueRange> {
    Ok(match share.meta.range() {
        Some(r) => r,
        None => {
            let (min, max) = observed(&share.x, comm)
                .map_err(self::comm)?
                .unwrap_or((f32::INFINITY, f32::NEG_INFINITY));
            ValueRange { min, max }
        }
    })
}

/// Whether every rank's `x` lies in `[0, 1]`.
///
/// # Errors
/// A failed exchange.
pub fn in_unit_interval(x: &Array2<f32>, comm: &dyn Collective) -> Result<bool> {
    comm.all(x.iter().all(|&v| (0.0..=1.0).contains(&v)))
        .map_err(self::comm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_core::LocalGroup;

    /// Shares of 1, 2 and 3 ranks, with and without a hold-out: together they are the rows one
    /// process loads, and the preprocessing fitted over them is the one it fits.
    #[test]
    fn shares_are_the_rows_one_process_loads() {
        for holdout in [None, Some(20u8)] {
            for scale in [ScaleChoice::Standardize, ScaleChoice::Unit] {
                let mut source = DataSource::new("digits");
                source.holdout = holdout;
                source.holdout_seed = 4;
                let whole = source.load().unwrap_or_else(|e| panic!("{e}"));
                let pre = Preprocess::fit(&whole, scale, Binarize::None)
                    .unwrap_or_else(|e| panic!("{e}"));
                for size in 1..=3 {
                    let results: Vec<(Share, Preprocess)> = std::thread::scope(|s| {
                        let jobs: Vec<_> = LocalGroup::new(size)
                            .into_iter()
                            .map(|g| {
                                let source = &source;
                                s.spawn(move || {
                                    let share =
                                        load_share(source, &g).unwrap_or_else(|e| panic!("{e}"));
                                    let p = fit_preprocess(&share, scale, Binarize::None, &g)
                                        .unwrap_or_else(|e| panic!("{e}"));
                                    (share, p)
                                })
                            })
                            .collect();
                        jobs.into_iter()
                            .map(|j| j.join().unwrap_or_else(|_| panic!("a rank panicked")))
                            .collect()
                    });
                    let mut seen = vec![false; whole.n()];
                    for (share, p) in &results {
                        assert_eq!(share.n, whole.n());
                        for (row, &i) in share.x.outer_iter().zip(&share.rows) {
                            assert_eq!(row, whole.x().row(i));
                            assert!(!seen[i]);
                            seen[i] = true;
                        }
                        match (&p.scaling, &pre.scaling) {
                            (
                                Scaling::Standardize { mean, std },
                                Scaling::Standardize { mean: m, std: s },
                            ) => {
                                for (a, b) in mean.iter().zip(m).chain(std.iter().zip(s)) {
                                    assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0));
                                }
                            }
                            (a, b) => assert_eq!(a, b),
                        }
                    }
                    assert!(seen.iter().all(|&s| s), "{size} ranks miss rows");
                }
            }
        }
    }
}
