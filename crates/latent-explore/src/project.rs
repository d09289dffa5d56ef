//! Two coordinates per code, for a scatter plot of the latent space.

use std::fmt;

use latent_core::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2};
use rand::Rng;

/// How [`project_2d`] turned the codes into plot coordinates; `Display` is a phrase for a plot
/// title, [`Projection::axis_labels`] names the axes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Projection {
    /// `K = 2`: the codes themselves, `(z₀, z₁)`.
    Identity,
    /// `K > 2`: the coordinates of the centered codes on their own top two principal axes
    /// (a PCA of the codes, not of the data).
    PrincipalAxes {
        /// `K`.
        latent_dim: usize,
        /// The fraction of the codes' total variance along each of the two axes.
        explained: [f32; 2],
    },
    /// `K = 1`: `x` is the code, `y` a uniform jitter in `[−1, 1]` that carries no information
    /// (seeded, so the same codes always give the same picture).
    Jitter,
}

impl Projection {
    /// The `(x, y)` axis labels.
    pub fn axis_labels(&self) -> (&'static str, &'static str) {
        match self {
            Projection::Identity => ("z₀", "z₁"),
            Projection::PrincipalAxes { .. } => ("principal axis 1", "principal axis 2"),
            Projection::Jitter => ("z₀", "random jitter (no meaning)"),
        }
    }
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Projection::Identity => f.write_str("2-D latent codes"),
            Projection::PrincipalAxes {
                latent_dim,
                explained,
            } => write!(
                f,
                "{latent_dim}-D codes projected on their 2 principal axes ({:.1} % + {:.1} % \
                 of their variance)",
                100.0 * explained[0],
                100.0 * explained[1]
            ),
            Projection::Jitter => f.write_str("1-D latent codes (vertical jitter for visibility)"),
        }
    }
}

/// The seed of the jitter of [`Projection::Jitter`].
const JITTER_SEED: u64 = 0x6a17;

/// Plot coordinates (`n × 2`) for codes (`n × K`), and how they were obtained: the codes for
/// `K = 2`; for `K > 2`, their coordinates on the top two principal axes of the codes (from
/// an eigendecomposition of their covariance, signs fixed so each axis's largest entry is
/// positive); for `K = 1`, the code against a seeded uniform jitter.
///
/// # Errors
/// [`Error::Empty`] for no code or `K = 0`; [`Error::NonFinite`] naming a NaN or infinite code;
/// for `K > 2`, fewer than 2 codes or an eigendecomposition that does not converge.
pub fn project_2d(codes: ArrayView2<'_, f32>) -> Result<(Array2<f32>, Projection)> {
    let (n, k) = codes.dim();
    if n == 0 || k == 0 {
        return Err(Error::Empty(format!("no codes to project ({n} × {k})")));
    }
    if let Some(((i, j), v)) = codes.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite(format!("code [{i}, {j}] is {v}")));
    }
    match k {
        1 => {
            let mut rng = latent_core::seed::rng(JITTER_SEED);
            let points = Array2::from_shape_fn((n, 2), |(i, j)| {
                if j == 0 {
                    codes[[i, 0]]
                } else {
                    rng.random_range(-1.0f32..=1.0)
                }
            });
            Ok((points, Projection::Jitter))
        }
        2 => Ok((codes.to_owned(), Projection::Identity)),
        _ => {
            let PrincipalAxes {
                mean,
                axes: cols,
                shares,
            } = principal_axes(codes)?;
            let explained = [shares[0] as f32, shares[1] as f32];
            let points = Array2::from_shape_fn((n, 2), |(i, j)| {
                (0..k)
                    .map(|c| (f64::from(codes[[i, c]]) - mean[c]) * cols[j][c])
                    .sum::<f64>() as f32
            });
            Ok((
                points,
                Projection::PrincipalAxes {
                    latent_dim: k,
                    explained,
                },
            ))
        }
    }
}

/// The codes' mean and their top two principal axes (from an eigendecomposition of their
/// covariance, in f64; signs fixed so each axis's largest entry is positive), with the share
/// of the codes' total variance along each. `K > 2` codes, already checked finite.
///
/// # Errors
/// Fewer than 2 codes; an eigendecomposition that does not converge.
struct PrincipalAxes {
    mean: Vec<f64>,
    axes: Vec<Vec<f64>>,
    shares: [f64; 2],
}

fn principal_axes(codes: ArrayView2<'_, f32>) -> Result<PrincipalAxes> {
    let (n, k) = codes.dim();
    if n < 2 {
        return Err(Error::Empty(format!(
            "{n} code: at least 2 are needed to find their principal axes"
        )));
    }
    let (mean, cov) = crate::regularity::moments(codes);
    let (values, vectors) = crate::regularity::eigh(&cov)?;
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    let mut axes = Vec::with_capacity(2);
    let mut shares = [0.0f64; 2];
    for (slot, col) in [k - 1, k - 2].into_iter().enumerate() {
        let mut v: Vec<f64> = (0..k).map(|i| vectors[(i, col)]).collect();
        let big = v
            .iter()
            .copied()
            .fold(0.0f64, |b, x| if x.abs() > b.abs() { x } else { b });
        if big < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        shares[slot] = if total > 0.0 {
            values[col].max(0.0) / total
        } else {
            0.0
        };
        axes.push(v);
    }
    Ok(PrincipalAxes { mean, axes, shares })
}

/// A 2-D map of a latent space that can be read both ways: codes to map coordinates
/// ([`MapAxes::project`]) and a map position back to a code ([`MapAxes::lift`]) — what an
/// interactive explorer needs to decode "the point under the cursor".
///
/// The map is affine: `map = ((z − o) · a₀ / s₀, (z − o) · a₁ / s₁)` with `o` the codes' mean,
/// `a₀, a₁` two unit directions of the latent space and `s₀, s₁` the codes' standard
/// deviations along them, so map coordinates are in **σ units** of the code cloud (the maps of
/// two models are comparable). The directions are the codes' top two principal axes (as in
/// [`project_2d`]) for `K > 2`, the two coordinates for `K = 2`, two chosen coordinates with
/// [`MapAxes::fit_dims`]; for `K = 1` the map's `y` carries nothing (a lifted point ignores
/// it; projected codes get `y = 0`). [`MapAxes::lift`] puts the coordinates off the map at
/// the mean: `z = o + x s₀ a₀ + y s₁ a₁`, and `project(lift(x, y)) = (x, y)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapAxes {
    origin: Vec<f64>,
    axes: Vec<Vec<f64>>,
    scales: Vec<f64>,
    labels: [String; 2],
    title: String,
}

impl MapAxes {
    /// The map of `codes` (`n × K`): principal axes for `K > 2`, the coordinates for `K ≤ 2`.
    ///
    /// # Errors
    /// As [`project_2d`]: no code, a non-finite code, fewer than 2 codes for `K > 2`.
    pub fn fit(codes: ArrayView2<'_, f32>) -> Result<Self> {
        let k = codes.ncols();
        if k > 2 {
            check_codes(codes)?;
            let PrincipalAxes { mean, axes, shares } = principal_axes(codes)?;
            let scales = spreads(codes, &mean, &axes);
            Ok(Self {
                origin: mean,
                axes,
                scales,
                labels: [
                    "principal axis 1 of the codes (σ)".to_string(),
                    "principal axis 2 of the codes (σ)".to_string(),
                ],
                title: format!(
                    "{k}-D codes on their 2 principal axes ({:.1} % + {:.1} % of their variance)",
                    100.0 * shares[0],
                    100.0 * shares[1]
                ),
            })
        } else {
            Self::fit_dims(codes, 0, if k == 2 { 1 } else { 0 })
        }
    }

    /// The map of `codes` on two chosen coordinates `x` and `y` (`x = y` for `K = 1`).
    ///
    /// # Errors
    /// No code, a non-finite code, a coordinate `≥ K`, `x = y` when `K > 1`.
    pub fn fit_dims(codes: ArrayView2<'_, f32>, x: usize, y: usize) -> Result<Self> {
        check_codes(codes)?;
        let k = codes.ncols();
        if x >= k || y >= k {
            return Err(Error::param(
                "dims",
                format!(
                    "the map's coordinates are z{x} and z{y}, but the codes have {k} (z0…z{})",
                    k - 1
                ),
            ));
        }
        if x == y && k > 1 {
            return Err(Error::param(
                "dims",
                format!("the map needs two different coordinates, got z{x} twice"),
            ));
        }
        let (mean, _) = crate::regularity::moments(codes);
        let unit = |c: usize| (0..k).map(|i| if i == c { 1.0 } else { 0.0 }).collect();
        let axes: Vec<Vec<f64>> = if k == 1 {
            vec![unit(0)]
        } else {
            vec![unit(x), unit(y)]
        };
        let scales = spreads(codes, &mean, &axes);
        let labels = if k == 1 {
            ["z0 (σ)".to_string(), "nothing (a 1-D latent)".to_string()]
        } else {
            [format!("z{x} (σ)"), format!("z{y} (σ)")]
        };
        let title = if k == 1 {
            "1-D codes".to_string()
        } else if k == 2 {
            format!("2-D codes: z{x} across, z{y} up")
        } else {
            format!("{k}-D codes: coordinates z{x} and z{y}, the others at their mean")
        };
        Ok(Self {
            origin: mean,
            axes,
            scales,
            labels,
            title,
        })
    }

    /// `K`.
    pub fn latent_dim(&self) -> usize {
        self.origin.len()
    }

    /// The origin `o` (`K`), the unit directions (one for `K = 1`, else two, `K` each) and the
    /// standard deviations along them: `map_j = (z − o) · a_j / s_j`.
    pub fn parts(&self) -> (&[f64], &[Vec<f64>], &[f64]) {
        (&self.origin, &self.axes, &self.scales)
    }

    /// The `(x, y)` axis labels.
    pub fn labels(&self) -> (&str, &str) {
        (&self.labels[0], &self.labels[1])
    }

    /// What the map shows, for a title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Map coordinates (`n × 2`) of codes (`n × K`).
    ///
    /// # Errors
    /// [`Error::Shape`] for codes of another width.
    pub fn project(&self, codes: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let k = self.latent_dim();
        if codes.ncols() != k {
            return Err(Error::shape(
                "codes",
                format!("{k} columns"),
                format!("{} columns", codes.ncols()),
            ));
        }
        Ok(Array2::from_shape_fn((codes.nrows(), 2), |(i, j)| {
            match (self.axes.get(j), self.scales.get(j)) {
                (Some(axis), Some(&s)) => {
                    let along: f64 = (0..k)
                        .map(|c| (f64::from(codes[[i, c]]) - self.origin[c]) * axis[c])
                        .sum();
                    (along / s) as f32
                }
                _ => 0.0,
            }
        }))
    }

    /// The code at map position `(x, y)`: the mean, moved `x` σ along the first axis and `y`
    /// σ along the second.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a non-finite coordinate.
    pub fn lift(&self, x: f64, y: f64) -> Result<Array1<f32>> {
        if !(x.is_finite() && y.is_finite()) {
            return Err(Error::NonFinite(format!("map position ({x}, {y})")));
        }
        let mut z = self.origin.clone();
        for ((axis, &s), t) in self.axes.iter().zip(&self.scales).zip([x, y]) {
            for (zc, a) in z.iter_mut().zip(axis) {
                *zc += t * s * a;
            }
        }
        Ok(z.into_iter().map(|v| v as f32).collect())
    }
}

/// The standard deviation of the centred codes along each axis (1 where they do not vary, so
/// that the map stays finite).
fn spreads(codes: ArrayView2<'_, f32>, mean: &[f64], axes: &[Vec<f64>]) -> Vec<f64> {
    let n = codes.nrows();
    axes.iter()
        .map(|axis| {
            let ss: f64 = codes
                .outer_iter()
                .map(|row| {
                    let t: f64 = row
                        .iter()
                        .zip(mean)
                        .zip(axis)
                        .map(|((&v, m), a)| (f64::from(v) - m) * a)
                        .sum();
                    t * t
                })
                .sum();
            let sd = if n > 1 {
                (ss / (n - 1) as f64).sqrt()
            } else {
                0.0
            };
            if sd > 0.0 && sd.is_finite() { sd } else { 1.0 }
        })
        .collect()
}

fn check_codes(codes: ArrayView2<'_, f32>) -> Result<()> {
    let (n, k) = codes.dim();
    if n == 0 || k == 0 {
        return Err(Error::Empty(format!("no codes to map ({n} × {k})")));
    }
    if let Some(((i, j), v)) = codes.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite(format!("code [{i}, {j}] is {v}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(k: usize) -> Array2<f32> {
        Array2::from_shape_fn((40, k), |(i, j)| {
            ((i * 7 + j * 13) % 11) as f32 * (j + 1) as f32 - 3.0
        })
    }

    #[test]
    fn lift_inverts_project_and_units_are_sigma() -> Result<()> {
        for k in [1usize, 2, 3, 6] {
            let z = codes(k);
            let map = MapAxes::fit(z.view())?;
            let p = map.project(z.view())?;
            // σ units: each used axis has unit sample sd and zero mean
            let used = if k == 1 { 1 } else { 2 };
            for j in 0..used {
                let col = p.column(j);
                let m = col.iter().map(|&v| f64::from(v)).sum::<f64>() / 40.0;
                let var = col.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / 39.0;
                assert!(m.abs() < 1e-5, "k={k} axis {j} mean {m}");
                assert!((var - 1.0).abs() < 1e-4, "k={k} axis {j} var {var}");
            }
            for (x, y) in [(0.5, -1.25), (2.0, 0.0), (-3.0, 1.5)] {
                let code = map.lift(x, y)?;
                let back = map.project(code.view().insert_axis(ndarray::Axis(0)))?;
                assert!((f64::from(back[[0, 0]]) - x).abs() < 1e-5, "k={k}");
                let want_y = if k == 1 { 0.0 } else { y };
                assert!((f64::from(back[[0, 1]]) - want_y).abs() < 1e-5, "k={k}");
            }
        }
        Ok(())
    }

    #[test]
    fn principal_map_agrees_with_project_2d() -> Result<()> {
        let z = codes(5);
        let (points, _) = project_2d(z.view())?;
        let map = MapAxes::fit(z.view())?;
        let p = map.project(z.view())?;
        // the same axes, in σ units: a positive per-axis scale apart
        for j in 0..2 {
            let ratio = f64::from(points[[3, j]]) / f64::from(p[[3, j]]);
            assert!(ratio > 0.0);
            for i in 0..40 {
                let want = f64::from(p[[i, j]]) * ratio;
                assert!((f64::from(points[[i, j]]) - want).abs() < 1e-3 * (1.0 + want.abs()));
            }
        }
        Ok(())
    }

    #[test]
    fn chosen_dims_keep_the_others_at_the_mean() -> Result<()> {
        let z = codes(4);
        let map = MapAxes::fit_dims(z.view(), 3, 1)?;
        let code = map.lift(1.0, -2.0)?;
        let mean0 = z.column(0).iter().map(|&v| f64::from(v)).sum::<f64>() / 40.0;
        assert!((f64::from(code[0]) - mean0).abs() < 1e-5);
        assert!(MapAxes::fit_dims(z.view(), 4, 1).is_err());
        assert!(MapAxes::fit_dims(z.view(), 2, 2).is_err());
        assert!(map.lift(f64::NAN, 0.0).is_err());
        assert!(map.project(codes(3).view()).is_err());
        Ok(())
    }
}
