//! Paths between two codes, decoded: what lies between two examples in the latent space.

use std::collections::BTreeMap;

use latent_core::{Error, Reduction, Result};
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

/// How to go from one code to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Interpolation {
    /// The straight line `(1 − t) a + t b`.
    #[default]
    Lerp,
    /// Spherical linear interpolation (Shoemake 1985; White 2016, "Sampling generative
    /// networks") on the codes as vectors: with `Ω` the angle between `a` and `b`,
    /// `sin((1 − t) Ω)/sin Ω · a + sin(t Ω)/sin Ω · b`. It keeps the norm when `‖a‖ = ‖b‖`,
    /// which for a high-dimensional Gaussian prior keeps the path where the prior's mass is (a
    /// straight line between two typical codes passes close to the origin, where codes are
    /// atypical). Falls back to the straight line when `sin Ω` is ~0 (parallel or opposite
    /// codes) or a code is zero.
    Slerp,
}

impl Interpolation {
    /// The lower-case name (`"lerp"`, `"slerp"`).
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Lerp => "lerp",
            Interpolation::Slerp => "slerp",
        }
    }
}

/// Below this `sin Ω`, slerp falls back to lerp.
const SLERP_MIN_SIN: f64 = 1e-6;

/// `steps` codes on the path from `a` to `b`, at `t = i / (steps − 1)`, as the rows of a
/// `steps × K` array. The first row is `a` and the last is `b`, bitwise; the arithmetic is in
/// f64.
///
/// # Errors
/// [`Error::InvalidParam`] for `steps < 2`; [`Error::Shape`] when `a` and `b` differ in length.
pub fn interpolate_codes(
    a: ArrayView1<'_, f32>,
    b: ArrayView1<'_, f32>,
    steps: usize,
    path: Interpolation,
) -> Result<Array2<f32>> {
    if steps < 2 {
        return Err(Error::param(
            "steps",
            format!("an interpolation needs at least 2 steps (its endpoints), got {steps}"),
        ));
    }
    if a.len() != b.len() {
        return Err(Error::shape(
            "interpolation endpoints",
            format!("two codes of the same length ({})", a.len()),
            format!("lengths {} and {}", a.len(), b.len()),
        ));
    }
    let a64: Vec<f64> = a.iter().map(|&v| f64::from(v)).collect();
    let b64: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
    // Weights (wa(t), wb(t)) of the two endpoints.
    let weights: Box<dyn Fn(f64) -> (f64, f64)> = match path {
        Interpolation::Slerp => {
            let dot: f64 = a64.iter().zip(&b64).map(|(x, y)| x * y).sum();
            let na = a64.iter().map(|x| x * x).sum::<f64>().sqrt();
            let nb = b64.iter().map(|x| x * x).sum::<f64>().sqrt();
            let cos = if na > 0.0 && nb > 0.0 {
                (dot / (na * nb)).clamp(-1.0, 1.0)
            } else {
                1.0
            };
            let omega = cos.acos();
            let so = omega.sin();
            if so < SLERP_MIN_SIN {
                Box::new(|t| (1.0 - t, t))
            } else {
                Box::new(move |t| (((1.0 - t) * omega).sin() / so, (t * omega).sin() / so))
            }
        }
        Interpolation::Lerp => Box::new(|t| (1.0 - t, t)),
    };
    let k = a.len();
    let mut out = Array2::zeros((steps, k));
    for (i, mut row) in out.outer_iter_mut().enumerate() {
        if i == 0 {
            row.assign(&a);
        } else if i == steps - 1 {
            row.assign(&b);
        } else {
            let (wa, wb) = weights(i as f64 / (steps - 1) as f64);
            for ((o, &x), &y) in row.iter_mut().zip(&a64).zip(&b64) {
                *o = (wa * x + wb * y) as f32;
            }
        }
    }
    Ok(out)
}

/// Decoded interpolations between pairs of rows of `x`: for each `(i, j)` in `pairs`, the
/// `steps × D` decodings of [`interpolate_codes`] between the deterministic codes
/// `encode(x_i)` and `encode(x_j)` (the posterior means for a probabilistic model). The first
/// and last rows of each strip are therefore `decode(encode(x_i))` and `decode(encode(x_j))`,
/// the reconstructions — not the originals.
///
/// The referenced rows are encoded in one batch, and each strip is decoded as one batch.
///
/// # Errors
/// [`Error::InvalidParam`] for no pair, an index out of range or `steps < 2`; the model's
/// encode and decode errors.
pub fn interpolate(
    model: &dyn Reduction,
    x: ArrayView2<'_, f32>,
    pairs: &[(usize, usize)],
    steps: usize,
    path: Interpolation,
) -> Result<Vec<Array2<f32>>> {
    if pairs.is_empty() {
        return Err(Error::param(
            "pairs",
            "no pair of rows to interpolate between",
        ));
    }
    if steps < 2 {
        return Err(Error::param(
            "steps",
            format!("an interpolation needs at least 2 steps (its endpoints), got {steps}"),
        ));
    }
    // Encode each referenced row once; `slot[i]` is row i's position in the batch.
    let mut slot = BTreeMap::new();
    for &(i, j) in pairs {
        for r in [i, j] {
            if r >= x.nrows() {
                return Err(Error::param(
                    "pairs",
                    format!("row {r} is out of range (the data has {} rows)", x.nrows()),
                ));
            }
            let next = slot.len();
            slot.entry(r).or_insert(next);
        }
    }
    let mut rows = vec![0usize; slot.len()];
    for (&r, &s) in &slot {
        rows[s] = r;
    }
    let codes = model.encode(x.select(Axis(0), &rows).view())?;
    pairs
        .iter()
        .map(|(i, j)| {
            let za = codes.row(slot[i]);
            let zb = codes.row(slot[j]);
            let z = interpolate_codes(za, zb, steps, path)?;
            model.decode(z.view())
        })
        .collect()
}
