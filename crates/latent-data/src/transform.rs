//! Preprocessing: scaling and binarization, fitted on a dataset and recorded in a run's
//! configuration (hence `serde`), so the same transform is applied to new data and inverted
//! for display.

use latent_core::{Dataset, ImageShape, RowSource, ValueRange, seed};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::util::{core_err, invalid};

/// A fitted affine scaling of the features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Scaling {
    /// Values unchanged.
    None,
    /// `(x − min) / (max − min)`, mapping `[min, max]` to `[0, 1]`.
    Unit {
        /// Maps to 0.
        min: f32,
        /// Maps to 1.
        max: f32,
    },
    /// `(x − mean) / std` per feature.
    Standardize {
        /// Per-feature means.
        mean: Vec<f32>,
        /// Per-feature standard deviations (with `n − 1`; a constant feature gets 1).
        std: Vec<f32>,
    },
}

/// Turning values in `[0, 1]` into 0/1, after scaling.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Binarize {
    /// Values unchanged.
    #[default]
    None,
    /// 1 where the value is greater than `at`, else 0.
    Threshold {
        /// The threshold.
        at: f32,
    },
    /// One static, seeded draw: 1 with probability equal to the value (clamped to `[0, 1]`).
    /// Row `i` always gets the same draw for the same seed, whether the rows come all at once
    /// or in batches ([`Preprocess::apply_rows_at`]).
    Bernoulli {
        /// The seed of the draw.
        seed: u64,
    },
}

/// Which scaling [`Preprocess::fit`] should fit.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaleChoice {
    /// Unit scaling from the dataset's known range (8-bit pixels, the digits); otherwise
    /// per-feature standardization for data that are not images (CSV, `N×D` arrays), and
    /// none for images of unknown range (float image arrays) or when a binarization is asked
    /// for (it reads the values as they are). See [`auto_scaling`].
    #[default]
    Auto,
    /// No scaling.
    None,
    /// Unit scaling from the known range, or from the observed minimum and maximum.
    Unit,
    /// Per-feature standardization (mean 0, standard deviation 1).
    Standardize,
}

/// A fitted preprocessing: scaling, then binarization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// The scaling, applied first.
    pub scaling: Scaling,
    /// The binarization, applied to the scaled values.
    pub binarize: Binarize,
}

/// What [`ScaleChoice::Auto`] does with data of this kind when that needs no statistics of
/// the data: unit scaling from a known `range`; no scaling for images of unknown range, or
/// when `binarize` asks for a binarization. `None` means per-feature standardization (whose
/// statistics come from the data: [`Preprocess::fit`], or [`standardize_rows`] for a stream).
pub fn auto_scaling(
    range: Option<ValueRange>,
    image: Option<ImageShape>,
    binarize: Binarize,
) -> Option<Scaling> {
    match range {
        Some(r) => Some(Scaling::Unit {
            min: r.min,
            max: r.max,
        }),
        None if image.is_some() || binarize != Binarize::None => Some(Scaling::None),
        None => None,
    }
}

/// A feature (0-based) and its observed minimum and maximum.
type FeatureRange = (usize, f32, f32);

/// How far apart the features' ranges are: `(ratio, widest, narrowest)`, the ratio of the
/// widest feature's span (max − min) to the narrowest non-constant one's, with the two
/// features, from each feature's observed minimum `lo` and maximum `hi`. `None` when fewer
/// than two features vary.
fn range_spread(lo: &[f32], hi: &[f32]) -> Option<(f64, FeatureRange, FeatureRange)> {
    let spans: Vec<(usize, f64)> = lo
        .iter()
        .zip(hi)
        .map(|(&l, &h)| f64::from(h) - f64::from(l))
        .enumerate()
        .filter(|(_, s)| *s > 0.0)
        .collect();
    if spans.len() < 2 {
        return None;
    }
    let cmp = |a: &&(usize, f64), b: &&(usize, f64)| a.1.total_cmp(&b.1);
    let &(w, ws) = spans.iter().max_by(cmp)?;
    let &(n, ns) = spans.iter().min_by(cmp)?;
    Some((ws / ns, (w, lo[w], hi[w]), (n, lo[n], hi[n])))
}

/// Each column's smallest and largest value (`+∞` and `−∞` for no rows; a NaN is never
/// taken).
pub fn column_extent(x: ArrayView2<'_, f32>) -> (Vec<f32>, Vec<f32>) {
    let (lo, hi, _) = extent_checked(x);
    (lo, hi)
}

/// [`column_extent`] and whether every value is finite, in one pass that vectorises: `v · 0` is 0 for a finite `v`
/// and NaN for a NaN or an infinity, so a column's sum of them is 0 exactly when the column
/// is finite.
pub(crate) fn extent_checked(x: ArrayView2<'_, f32>) -> (Vec<f32>, Vec<f32>, bool) {
    let d = x.ncols();
    let mut lo = vec![f32::INFINITY; d];
    let mut hi = vec![f32::NEG_INFINITY; d];
    if d == 0 {
        return (lo, hi, true);
    }
    let mut poison = vec![0.0f32; d];
    let mut take = |row: &[f32]| {
        for (((l, h), p), &v) in lo
            .iter_mut()
            .zip(hi.iter_mut())
            .zip(poison.iter_mut())
            .zip(row)
        {
            *l = if v < *l { v } else { *l };
            *h = if v > *h { v } else { *h };
            *p += v * 0.0;
        }
    };
    match x.as_slice() {
        // rows as slices: the loop vectorises
        Some(all) => all.chunks_exact(d).for_each(&mut take),
        None => {
            let mut row = vec![0.0f32; d];
            for r in x.outer_iter() {
                row.iter_mut().zip(r).for_each(|(o, &v)| *o = v);
                take(&row);
            }
        }
    }
    let finite = poison.iter().all(|&p| p == 0.0);
    (lo, hi, finite)
}

/// The rows a [`Preprocess`] is fitted to, as far as fitting needs them: what is known of
/// the data, and statistics of its rows. [`Preprocess::fit`] takes them from a
/// [`Dataset`] in memory; a data-parallel job (the `latent` crate's `parallel` module) sums
/// them over the ranks, each holding a share of the rows, so that both take the same
/// decisions and refusals in one place, [`Preprocess::fit_rows`].
pub trait FitRows {
    /// The data's name, for messages.
    fn name(&self) -> &str;
    /// The values' known range (from the format), if any.
    fn known_range(&self) -> Option<ValueRange>;
    /// The image shape, for image data.
    fn image_shape(&self) -> Option<ImageShape>;
    /// Each feature's smallest and largest value over all the rows (`+∞`/`−∞` without rows).
    ///
    /// # Errors
    /// A failing exchange between ranks.
    fn column_extent(&self) -> latent_core::Result<(Vec<f32>, Vec<f32>)>;
    /// Per-feature mean and standard deviation over all the rows, accumulated in `f64`
    /// (dividing by `n − 1`; a constant feature, or a single row, gets 1: [`sd_or_one`]).
    ///
    /// # Errors
    /// A failing exchange between ranks.
    fn standardize(&self) -> latent_core::Result<Scaling>;
    /// The smallest and largest of all the rows' values after `pre` (`None` without rows).
    ///
    /// # Errors
    /// `pre`'s own refusals; a failing exchange between ranks.
    fn extent_after(&self, pre: &Preprocess) -> Result<Option<(f32, f32)>>;
}

impl FitRows for Dataset {
    fn name(&self) -> &str {
        Dataset::name(self)
    }

    fn known_range(&self) -> Option<ValueRange> {
        self.range()
    }

    fn image_shape(&self) -> Option<ImageShape> {
        Dataset::image_shape(self)
    }

    fn column_extent(&self) -> latent_core::Result<(Vec<f32>, Vec<f32>)> {
        Ok(column_extent(self.x()))
    }

    fn standardize(&self) -> latent_core::Result<Scaling> {
        Ok(standardize(self.x()))
    }

    fn extent_after(&self, pre: &Preprocess) -> Result<Option<(f32, f32)>> {
        Ok(if pre.is_identity() {
            observed_range(self.x())
        } else {
            observed_range(pre.apply_rows(self.x())?.view())
        })
    }
}

/// Features whose ranges differ by more than this factor are worth a note when they are left
/// unscaled.
const SPREAD_NOTE: f64 = 100.0;

pub(crate) fn observed_range(x: ArrayView2<'_, f32>) -> Option<(f32, f32)> {
    x.iter().fold(None, |acc, &v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

impl Preprocess {
    /// The identity transform.
    pub fn identity() -> Self {
        Preprocess {
            scaling: Scaling::None,
            binarize: Binarize::None,
        }
    }

    /// Whether this is the identity transform.
    pub fn is_identity(&self) -> bool {
        matches!(self.scaling, Scaling::None) && self.binarize == Binarize::None
    }

    /// Fit the scaling to `data` and check that the binarization applies.
    ///
    /// With [`ScaleChoice::None`] on data that are not images, features whose ranges differ
    /// by more than 100× are announced through [`crate::notes`] (the widest would dominate
    /// the fit).
    ///
    /// # Errors
    /// [`DataError::Invalid`](crate::DataError::Invalid) when unit scaling has an empty range
    /// (all values equal), when a threshold is not finite, or when a binarization is asked for
    /// but the scaled values are not all in `[0, 1]`.
    pub fn fit(data: &Dataset, scale: ScaleChoice, binarize: Binarize) -> Result<Preprocess> {
        Preprocess::fit_rows(data, scale, binarize)
    }

    /// [`Preprocess::fit`] to rows described by their statistics ([`FitRows`]): those of a
    /// [`Dataset`], or of a data-parallel job's rows summed over its ranks.
    ///
    /// # Errors
    /// As [`Preprocess::fit`]; a failing exchange between ranks, naming the data.
    pub fn fit_rows(
        data: &dyn FitRows,
        scale: ScaleChoice,
        binarize: Binarize,
    ) -> Result<Preprocess> {
        let name = data.name();
        let core = |e| core_err(std::path::Path::new(name), e);
        let known = data.known_range();
        let scaling = match scale {
            ScaleChoice::None => {
                if data.image_shape().is_none() {
                    let (lo, hi) = data.column_extent().map_err(core)?;
                    if let Some((ratio, (w, wl, wh), (n, nl, nh))) = range_spread(&lo, &hi)
                        && ratio > SPREAD_NOTE
                    {
                        crate::notes::emit(&format!(
                            "{name}: the features' ranges differ by {ratio:.0}× (feature {w}: \
                             {wl}..{wh}, feature {n}: {nl}..{nh}, counted from 0) and --scale \
                             none leaves them so: the widest features dominate the fit and its \
                             error (--scale auto standardizes each feature)"
                        ));
                    }
                }
                Scaling::None
            }
            ScaleChoice::Auto => match auto_scaling(known, data.image_shape(), binarize) {
                Some(s) => s,
                None => data.standardize().map_err(core)?,
            },
            ScaleChoice::Unit => {
                let (min, max) = match known {
                    Some(r) => (r.min, r.max),
                    None => data
                        .extent_after(&Preprocess::identity())?
                        .unwrap_or((0.0, 0.0)),
                };
                Scaling::Unit { min, max }
            }
            ScaleChoice::Standardize => data.standardize().map_err(core)?,
        };
        if let Scaling::Unit { min, max } = scaling
            && max.partial_cmp(&min) != Some(std::cmp::Ordering::Greater)
        {
            return Err(invalid(
                "unit scaling",
                format!(
                    "{name}: the range {min}..{max} is empty, so it cannot be mapped to [0, 1]"
                ),
            ));
        }
        let pre = Preprocess { scaling, binarize };
        match binarize {
            Binarize::None => {}
            Binarize::Threshold { at } if !at.is_finite() => {
                return Err(invalid("binarize threshold", format!("{at} is not finite")));
            }
            Binarize::Threshold { .. } | Binarize::Bernoulli { .. } => {
                let scaled = Preprocess {
                    scaling: pre.scaling.clone(),
                    binarize: Binarize::None,
                };
                if let Some((lo, hi)) = data.extent_after(&scaled)?
                    && (lo < -1e-6 || hi > 1.0 + 1e-6)
                {
                    return Err(invalid(
                        "binarize",
                        format!(
                            "{name}: needs values in [0, 1] after scaling, but they span \
                             {lo}..{hi} (use unit scaling)"
                        ),
                    ));
                }
            }
        }
        Ok(pre)
    }

    fn check_dim(&self, d: usize) -> Result<()> {
        if let Scaling::Standardize { mean, std } = &self.scaling
            && (mean.len() != d || std.len() != d)
        {
            return Err(invalid(
                "standardization",
                format!(
                    "the stored statistics are for {} features, the data has {d}",
                    mean.len()
                ),
            ));
        }
        Ok(())
    }

    /// Scale, then binarize, `x` in place; row 0 of `x` is row `first_row` of the data.
    /// The caller has checked the width ([`Preprocess::check_dim`]). Blocks of rows on
    /// rayon's pool: every value depends on its own row alone (a row's binarization draws
    /// from that row's stream), so the result is the same on any number of threads.
    fn transform_in_place(&self, x: ArrayViewMut2<'_, f32>, first_row: usize) {
        in_row_blocks(x, |start, rows| {
            self.transform_rows(rows, first_row + start)
        });
    }

    /// [`Preprocess::transform_in_place`] on one block of rows, on the calling thread.
    fn transform_rows(&self, mut x: ArrayViewMut2<'_, f32>, first_row: usize) {
        match &self.scaling {
            Scaling::None => {}
            // (a width above 1e37 would make 1/width subnormal in f32)
            Scaling::Unit { min, max } if (max - min) <= 1e37 => {
                let (min, inv) = (*min, 1.0 / (max - min));
                x.mapv_inplace(|v| (v - min) * inv);
            }
            Scaling::Unit { min, max } => {
                // a width beyond f32's range (values near ±3.4e38): mapped in f64
                let (min, inv) = (f64::from(*min), 1.0 / (f64::from(*max) - f64::from(*min)));
                x.mapv_inplace(|v| ((f64::from(v) - min) * inv) as f32);
            }
            Scaling::Standardize { mean, std } => {
                for mut row in x.outer_iter_mut() {
                    for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
                        *v = (*v - m) / s;
                    }
                }
            }
        }
        match self.binarize {
            Binarize::None => {}
            Binarize::Threshold { at } => x.mapv_inplace(|v| if v > at { 1.0 } else { 0.0 }),
            Binarize::Bernoulli { seed } => {
                for (i, mut row) in x.outer_iter_mut().enumerate() {
                    let mut rng = seed::rng(seed);
                    rng.set_stream((first_row + i) as u64);
                    for v in row.iter_mut() {
                        *v = bernoulli(*v, &mut rng);
                    }
                }
            }
        }
    }

    /// Transform a dataset; labels and image shape are kept. The range becomes `[0, 1]` after
    /// unit scaling or binarization, unknown after standardization, and stays the data's own
    /// when nothing is done.
    ///
    /// # Errors
    /// [`DataError::Invalid`](crate::DataError::Invalid) when the data's width differs from
    /// the stored statistics; [`DataError::Core`](crate::DataError::Core) when a value becomes
    /// non-finite.
    pub fn apply(&self, data: Dataset) -> Result<Dataset> {
        if *self == Preprocess::identity() {
            return Ok(data);
        }
        self.check_dim(data.dim())?;
        let range = self.output_range();
        let name = data.name().to_string();
        // in place: a 60,000-image data set is not held twice
        data.update_rows(range, |x| self.transform_in_place(x, 0))
            .map_err(|e| core_err(std::path::Path::new(&name), e))
    }

    /// [`Preprocess::apply`] on bare rows (the first row being row 0 of the data).
    ///
    /// # Errors
    /// As [`Preprocess::apply`], for the width check.
    pub fn apply_rows(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.apply_rows_at(x, 0)
    }

    /// [`Preprocess::apply_rows`] on a batch whose first row is row `first_row` of the data,
    /// so a static Bernoulli binarization of streamed batches equals that of the whole data.
    ///
    /// # Errors
    /// As [`Preprocess::apply_rows`].
    pub fn apply_rows_at(&self, x: ArrayView2<'_, f32>, first_row: usize) -> Result<Array2<f32>> {
        self.check_dim(x.ncols())?;
        // copied and transformed a block at a time, in one pass while the block is in cache
        let mut out = Array2::<f32>::zeros(x.raw_dim());
        in_row_blocks(out.view_mut(), |start, mut rows| {
            let n = rows.nrows();
            rows.assign(&x.slice(ndarray::s![start..start + n, ..]));
            self.transform_rows(rows, first_row + start);
        });
        Ok(out)
    }

    /// Map transformed values back to data units: unit scaling `x · (max − min) + min`,
    /// standardization `x · std + mean`; binarization is not inverted (identity).
    ///
    /// Rows whose width differs from standardization statistics are returned unchanged (use
    /// [`Preprocess::apply_rows`] first to check widths).
    pub fn invert(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        match &self.scaling {
            Scaling::None => x.to_owned(),
            Scaling::Unit { min, max } if (max - min) <= 1e37 => {
                let (min, span) = (*min, max - min);
                x.mapv(|v| v * span + min)
            }
            Scaling::Unit { min, max } => {
                let (min, span) = (f64::from(*min), f64::from(*max) - f64::from(*min));
                x.mapv(|v| (f64::from(v) * span + min) as f32)
            }
            Scaling::Standardize { mean, std } => {
                let mut out = x.to_owned();
                if mean.len() == x.ncols() && std.len() == x.ncols() {
                    for mut row in out.outer_iter_mut() {
                        for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
                            *v = *v * s + m;
                        }
                    }
                }
                out
            }
        }
    }

    /// The range of transformed values when it is known: `[0, 1]` after unit scaling or
    /// binarization, `None` otherwise (standardized values are unbounded; without any
    /// transform the data's own range applies).
    pub fn output_range(&self) -> Option<ValueRange> {
        match (&self.scaling, self.binarize) {
            (_, Binarize::Threshold { .. } | Binarize::Bernoulli { .. }) => Some(ValueRange::UNIT),
            (Scaling::Unit { .. }, Binarize::None) => Some(ValueRange::UNIT),
            _ => None,
        }
    }
}

/// Per-feature mean and standard deviation (dividing by `n − 1`; a constant feature, or a
/// single row, gets 1), accumulated in `f64`.
pub(crate) fn standardize(x: ArrayView2<'_, f32>) -> Scaling {
    let n = x.nrows();
    let xf = x.mapv(f64::from);
    let mean: Array1<f64> = xf
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    let mut ss = Array1::<f64>::zeros(x.ncols());
    for row in xf.outer_iter() {
        for ((s, v), m) in ss.iter_mut().zip(row).zip(&mean) {
            *s += (v - m) * (v - m);
        }
    }
    Scaling::Standardize {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std: ss.iter().map(|&s| sd_or_one(s, n)).collect(),
    }
}

/// [`ScaleChoice::Standardize`]'s statistics from a stream of rows, one batch in memory at a
/// time: the same figures as from the rows held at once (to f64 rounding; batches merged by
/// Chan et al.'s pairwise update).
///
/// # Errors
/// The stream's own errors; [`latent_core::Error::Empty`] for a stream without rows.
pub fn standardize_rows(src: &mut dyn RowSource, batch: usize) -> latent_core::Result<Scaling> {
    let d = src.dim();
    let mut n = 0usize;
    let mut mean = vec![0.0f64; d];
    let mut m2 = vec![0.0f64; d];
    while let Some(x) = src.next_batch(batch.max(1))? {
        let k = x.nrows();
        if k == 0 {
            continue;
        }
        let xf = x.mapv(f64::from);
        let bm: Array1<f64> = xf.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
        let mut bs = vec![0.0f64; d];
        for row in xf.outer_iter() {
            for ((s, v), m) in bs.iter_mut().zip(row).zip(&bm) {
                *s += (v - m) * (v - m);
            }
        }
        let (na, nb) = (n as f64, k as f64);
        let total = na + nb;
        for j in 0..d {
            let delta = bm[j] - mean[j];
            mean[j] += delta * nb / total;
            m2[j] += bs[j] + delta * delta * na * nb / total;
        }
        n += k;
    }
    if n == 0 {
        return Err(latent_core::Error::Empty(
            "standardization: the stream holds no rows".into(),
        ));
    }
    Ok(Scaling::Standardize {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std: m2.iter().map(|&s| sd_or_one(s, n)).collect(),
    })
}

/// The standard deviation from a sum of squared deviations over `n` rows (dividing by
/// `n − 1`), or 1 for a constant feature or a single row: what standardization divides by.
pub fn sd_or_one(ss: f64, n: usize) -> f32 {
    let sd = if n > 1 {
        (ss / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    if sd > 0.0 && sd.is_finite() {
        sd as f32
    } else {
        1.0
    }
}

fn bernoulli(p: f32, rng: &mut impl Rng) -> f32 {
    let u: f32 = rng.random();
    if u < p.clamp(0.0, 1.0) { 1.0 } else { 0.0 }
}

/// A fresh Bernoulli draw of every value (1 with probability equal to the value clamped to
/// `[0, 1]`): dynamic binarization, a new draw for every batch during training.
pub fn dynamic_binarize(x: ArrayView2<'_, f32>, rng: &mut impl Rng) -> Array2<f32> {
    x.mapv(|v| bernoulli(v, rng))
}

/// Rows per block of [`in_row_blocks`].
const ROW_BLOCK: usize = 256;

/// `f(first, block)` on every block of [`ROW_BLOCK`] rows of `x` (`first`: the block's first
/// row), the blocks on rayon's pool when there are several.
fn in_row_blocks(mut x: ArrayViewMut2<'_, f32>, f: impl Fn(usize, ArrayViewMut2<'_, f32>) + Sync) {
    use rayon::prelude::*;
    if x.nrows() <= ROW_BLOCK {
        f(0, x);
        return;
    }
    let blocks: Vec<_> = x.axis_chunks_iter_mut(Axis(0), ROW_BLOCK).collect();
    blocks
        .into_par_iter()
        .enumerate()
        .for_each(|(i, block)| f(i * ROW_BLOCK, block));
}
