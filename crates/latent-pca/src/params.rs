//! Hyper-parameters of PCA: [`PcaParams`] (what the user sets) and [`PcaValidParams`] (the
//! same settings, checked).

use latent_core::{Error, ParamGuard, Result};
use serde::{Deserialize, Serialize};

/// The largest number of features the incremental solver accepts: it keeps a `d × d` f64
/// scatter matrix (2 GiB at `d = 16384`).
pub const MAX_INCREMENTAL_DIM: usize = 16_384;

/// How many principal components to keep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Components {
    /// Exactly this many (at least 1, at most `min(n_samples, n_features)`).
    Count(usize),
    /// The smallest `k` whose cumulative explained-variance ratio exceeds this fraction, chosen
    /// as scikit-learn does (`searchsorted(cumsum, f, side="right") + 1`). The fraction must lie
    /// in `(0, 1)`. It needs the whole spectrum, so only the exact and the incremental solvers
    /// (which both compute it) accept it.
    Fraction(f64),
}

/// The algorithm that finds the principal subspace.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// Covariance (`n ≥ d`) or Gram (`n < d`) matrix and a symmetric eigendecomposition.
    #[default]
    Exact,
    /// Randomized range finder with power iterations (Halko, Martinsson & Tropp 2011):
    /// approximate, seeded, cheap when `k ≪ min(n, d)`.
    Randomized,
    /// One streamed pass accumulating the mean and scatter matrix in f64 (memory `O(d²)`,
    /// independent of the number of rows), then an eigendecomposition: the exact result.
    /// See the [crate documentation](crate#the-incremental-solver).
    Incremental,
}

/// Arithmetic precision of the exact and randomized fits (the incremental accumulator is
/// always f64). The fitted model stores f32 either way.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Single precision for the products over the data: half the memory (except the exact
    /// solver's `n < d` path, which copies the data in f64) and about twice the speed. The steps where f32 would drift on badly scaled data run in f64 (the
    /// covariance's sum and eigendecomposition, a final Rayleigh–Ritz step; the exact
    /// solver's `n < d` path entirely), so that the figures agree with an f64 fit's: see
    /// the [crate documentation](crate#f32-on-badly-scaled-data).
    #[default]
    F32,
    /// Double precision.
    F64,
}

/// Checked PCA settings; the only way to obtain one is [`ParamGuard::check`] on
/// [`PcaParams`], so holding one proves the settings are valid. Fitting is implemented on
/// this type ([`latent_core::Fit`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PcaValidParams {
    components: Components,
    solver: Solver,
    whiten: bool,
    seed: u64,
    oversamples: usize,
    power_iters: Option<usize>,
    batch_size: Option<usize>,
    precision: Precision,
}

impl PcaValidParams {
    /// How many components to keep.
    pub fn components(&self) -> Components {
        self.components
    }
    /// The solver.
    pub fn solver(&self) -> Solver {
        self.solver
    }
    /// Whether codes are scaled to unit variance.
    pub fn whiten(&self) -> bool {
        self.whiten
    }
    /// The seed of the randomized solver's test matrix.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Extra random directions of the randomized solver.
    pub fn oversamples(&self) -> usize {
        self.oversamples
    }
    /// Power iterations of the randomized solver (`None`: automatic).
    pub fn power_iters(&self) -> Option<usize> {
        self.power_iters
    }
    /// Rows per batch of the incremental solver (`None`: automatic).
    pub fn batch_size(&self) -> Option<usize> {
        self.batch_size
    }
    /// Arithmetic precision of the exact and randomized fits.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Power iterations for a `k`-component fit of an `n × d` matrix: the setting, or
    /// scikit-learn's rule (7 when `k < 0.1 · min(n, d)`, else 4).
    pub fn power_iters_for(&self, k: usize, n: usize, d: usize) -> usize {
        self.power_iters.unwrap_or({
            if (k as f64) < 0.1 * n.min(d) as f64 {
                7
            } else {
                4
            }
        })
    }

    /// Rows per batch of the incremental solver for `d` features and `k` components: the
    /// setting, or `5 · d` as scikit-learn (capped so that a batch holds at most 2²³ values,
    /// 64 MiB in f64), and at least `k`.
    pub fn batch_size_for(&self, d: usize, k: usize) -> usize {
        self.batch_size
            .unwrap_or_else(|| (5 * d).min((1 << 23) / d.max(1)).max(k))
            .max(1)
    }

    fn validate(&self) -> Result<()> {
        match self.components {
            Components::Count(0) => {
                return Err(Error::param("components", "must keep at least 1 component"));
            }
            Components::Count(k)
                if self.solver == Solver::Incremental && k > MAX_INCREMENTAL_DIM =>
            {
                return Err(Error::param(
                    "components",
                    format!(
                        "{k} components need at least {k} features, but the incremental solver \
                         supports at most {MAX_INCREMENTAL_DIM} (its d × d scatter matrix)"
                    ),
                ));
            }
            Components::Count(_) => {}
            Components::Fraction(f) => {
                if !(f > 0.0 && f < 1.0) {
                    return Err(Error::param(
                        "components",
                        format!("a fraction of explained variance must be in (0, 1), got {f}"),
                    ));
                }
                if self.solver == Solver::Randomized {
                    return Err(Error::param(
                        "components",
                        "a fraction of explained variance needs the whole spectrum: use the exact \
                         or incremental solver, or give a number of components",
                    ));
                }
            }
        }
        if self.batch_size == Some(0) {
            return Err(Error::param("batch-size", "must be at least 1 row"));
        }
        Ok(())
    }
}

/// PCA settings, built with [`PcaParams::new`] and the builder methods, then validated with
/// [`ParamGuard::check`]:
///
/// ```
/// use latent_core::ParamGuard;
/// use latent_pca::{Components, PcaParams, Solver};
/// let params = PcaParams::new(Components::Count(10)).solver(Solver::Randomized).seed(7);
/// assert!(params.check().is_ok());
/// assert!(PcaParams::new(Components::Count(0)).check().is_err());
/// ```
///
/// Serialized (for a run's `config.json`) with kebab-case field names; deserializing gives
/// unchecked settings.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "RawParams")]
pub struct PcaParams(PcaValidParams);

impl Serialize for PcaParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// The serialized form of the settings (missing optional fields take their defaults).
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawParams {
    components: Components,
    #[serde(default)]
    solver: Solver,
    #[serde(default)]
    whiten: bool,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_oversamples")]
    oversamples: usize,
    #[serde(default)]
    power_iters: Option<usize>,
    #[serde(default)]
    batch_size: Option<usize>,
    #[serde(default)]
    precision: Precision,
}

fn default_oversamples() -> usize {
    PcaParams::DEFAULT_OVERSAMPLES
}

impl From<RawParams> for PcaParams {
    fn from(r: RawParams) -> Self {
        PcaParams(PcaValidParams {
            components: r.components,
            solver: r.solver,
            whiten: r.whiten,
            seed: r.seed,
            oversamples: r.oversamples,
            power_iters: r.power_iters,
            batch_size: r.batch_size,
            precision: r.precision,
        })
    }
}

impl PcaParams {
    /// The default number of extra random directions of the randomized solver.
    pub const DEFAULT_OVERSAMPLES: usize = 10;

    /// Settings keeping `components`, with the defaults: exact solver, no whitening, seed 0,
    /// 10 oversamples, automatic power iterations and batch size, f32 arithmetic.
    pub fn new(components: Components) -> Self {
        PcaParams(PcaValidParams {
            components,
            solver: Solver::default(),
            whiten: false,
            seed: 0,
            oversamples: Self::DEFAULT_OVERSAMPLES,
            power_iters: None,
            batch_size: None,
            precision: Precision::default(),
        })
    }

    /// How many components to keep.
    pub fn components(mut self, components: Components) -> Self {
        self.0.components = components;
        self
    }
    /// The solver.
    pub fn solver(mut self, solver: Solver) -> Self {
        self.0.solver = solver;
        self
    }
    /// Scale the codes to unit variance (divide by `sqrt(explained_variance)`).
    pub fn whiten(mut self, whiten: bool) -> Self {
        self.0.whiten = whiten;
        self
    }
    /// The seed of the randomized solver's Gaussian test matrix.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    /// Extra random directions of the randomized solver (default 10).
    pub fn oversamples(mut self, oversamples: usize) -> Self {
        self.0.oversamples = oversamples;
        self
    }
    /// Power iterations of the randomized solver; `None` picks scikit-learn's rule.
    pub fn power_iters(mut self, power_iters: Option<usize>) -> Self {
        self.0.power_iters = power_iters;
        self
    }
    /// Rows per batch of the incremental solver; `None` picks `5 · d` (see
    /// [`PcaValidParams::batch_size_for`]).
    pub fn batch_size(mut self, batch_size: Option<usize>) -> Self {
        self.0.batch_size = batch_size;
        self
    }
    /// Arithmetic precision of the exact and randomized fits.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.0.precision = precision;
        self
    }
}

impl ParamGuard for PcaParams {
    type Checked = PcaValidParams;
    type Error = Error;

    fn check_ref(&self) -> Result<&PcaValidParams> {
        self.0.validate()?;
        Ok(&self.0)
    }

    fn check(self) -> Result<PcaValidParams> {
        self.0.validate()?;
        Ok(self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn invalid(p: PcaParams, needle: &str) {
        let err = p.clone().check_ref().map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
        assert!(p.check().is_err());
    }

    #[test]
    fn check_rejects_each_invalid_setting() {
        invalid(PcaParams::new(Components::Count(0)), "at least 1");
        for f in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            invalid(PcaParams::new(Components::Fraction(f)), "(0, 1)");
        }
        invalid(
            PcaParams::new(Components::Fraction(0.9)).solver(Solver::Randomized),
            "whole spectrum",
        );
        invalid(
            PcaParams::new(Components::Count(2)).batch_size(Some(0)),
            "batch-size",
        );
        invalid(
            PcaParams::new(Components::Count(MAX_INCREMENTAL_DIM + 1)).solver(Solver::Incremental),
            "incremental",
        );
    }

    #[test]
    fn check_accepts_valid_settings() {
        for solver in [Solver::Exact, Solver::Randomized, Solver::Incremental] {
            let p = PcaParams::new(Components::Count(3))
                .solver(solver)
                .whiten(true);
            assert_eq!(p.check().unwrap().solver(), solver);
        }
        assert!(PcaParams::new(Components::Fraction(0.95)).check().is_ok());
        let inc = PcaParams::new(Components::Fraction(0.5)).solver(Solver::Incremental);
        assert!(inc.check().is_ok());
    }

    #[test]
    fn automatic_settings_follow_scikit_learn() {
        let p = PcaParams::new(Components::Count(5)).check().unwrap();
        assert_eq!(p.power_iters_for(5, 1000, 100), 7);
        assert_eq!(p.power_iters_for(10, 1000, 100), 4);
        assert_eq!(p.batch_size_for(784, 50), 5 * 784);
        assert_eq!(p.batch_size_for(4, 50), 50);
        assert_eq!(p.batch_size_for(16_384, 5), 512);
    }

    #[test]
    fn serde_round_trip_and_defaults() {
        let p = PcaParams::new(Components::Fraction(0.9))
            .solver(Solver::Incremental)
            .power_iters(Some(3))
            .precision(Precision::F64);
        let json = serde_json::to_string(&p).unwrap();
        assert!(
            json.contains("\"power-iters\":3") && json.contains("\"fraction\":0.9"),
            "{json}"
        );
        let back: PcaParams = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let minimal: PcaParams = serde_json::from_str(r#"{"components":{"count":4}}"#).unwrap();
        assert_eq!(minimal, PcaParams::new(Components::Count(4)));
        assert!(
            serde_json::from_str::<PcaParams>(r#"{"components":{"count":4},"whitten":true}"#)
                .is_err()
        );
        // Deserialized settings are unchecked until `check`.
        let bad: PcaParams = serde_json::from_str(r#"{"components":{"count":0}}"#).unwrap();
        assert!(bad.check().is_err());
    }
}
