//! # latent-pca
//!
//! Principal component analysis as an encoder/decoder pair: the encoder projects centered
//! data onto the `k` principal axes, `z = (x − μ) Vᵀ`, and the decoder is its transpose,
//! `x̂ = z V + μ`. Among all rank-`k` linear pairs this one minimises the squared
//! reconstruction error, which is why PCA is the baseline every autoencoder in latent is
//! compared with.
//!
//! ```
//! use latent_core::{Fit, ParamGuard, Reduction};
//! use latent_pca::{Components, PcaParams};
//! use ndarray::Array2;
//!
//! let x = Array2::from_shape_fn((100, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f32);
//! let pca = PcaParams::new(Components::Count(2)).check()?.fit(&x.view())?;
//! let z = pca.encode(x.view())?; // 100 × 2
//! let x_hat = pca.decode(z.view())?; // 100 × 5, the projection onto the principal plane
//! assert_eq!((z.dim(), x_hat.dim()), ((100, 2), (100, 5)));
//! # Ok::<(), latent_core::Error>(())
//! ```
//!
//! Conventions follow scikit-learn: variances use `n − 1` degrees of freedom, the
//! explained-variance ratio is over the total variance (the covariance trace), whitening
//! divides codes by `sqrt(explained_variance)`, and `noise_variance` is the mean variance of
//! the discarded directions. The sign of each axis is fixed: its largest-magnitude entry is
//! positive.
//!
//! ## Solvers
//! - [`Solver::Exact`]: centered data `Xc`; when `n ≥ d` the covariance `XcᵀXc / (n − 1)`
//!   (only its lower triangle is computed, halving the product that dominates the fit) and a
//!   symmetric eigendecomposition; when `n < d` the `n × n` Gram matrix `Xc Xcᵀ` instead,
//!   with axes `Xcᵀ u` orthonormalised by a thin QR (always in f64, see below).
//! - [`Solver::Randomized`]: Halko, Martinsson & Tropp (2011) — a seeded Gaussian test
//!   matrix, power iterations re-orthonormalised by QR at each step, and the thin SVD of the
//!   small projected matrix. Approximate; the same seed gives the same result.
//! - [`Solver::Incremental`]: see below.
//!
//! The exact and randomized fits run in f32 or f64 ([`Precision`]); the mean, the centering
//! and the total variance are always computed in f64. All products use faer with rayon.
//!
//! ## 8-bit data: an exact covariance in integers
//! Images are 8-bit. When every value is one of the 256 levels of a byte — the levels
//! themselves (`0.0 … 255.0`) or scaled to `[0, 1]` (the f32 or f64 nearest `q/255`, by a
//! division or by a multiplication by `1/255`) — and the host has AVX-512 VNNI (Intel since
//! Ice Lake, AMD since Zen 4) or AVX2 (every x86-64 host of the last decade), the exact
//! solver with `n ≥ d` forms the Gram matrix `G = QᵀQ` and the column sums `S` of the levels
//! `Q` in integer arithmetic (byte dot products, four multiply-adds per lane and instruction;
//! on AVX2 16-bit ones, two per lane), and the covariance
//! `(n·G − S Sᵀ) / (n (n − 1))` times the squared scale from them: each entry an exact
//! integer rounded once to f64. In either precision it is then as exact as an f64 fit (no
//! Rayleigh–Ritz step is needed) and faster than the f32 one, with no centring pass, and the
//! same bits on any host with a kernel and any number of threads (integer sums are exact).
//! It fits the levels the values stand for: a scaled value differs from `q/255` by its own
//! f32 rounding (at most `2⁻²⁴` relative), so the variances can differ from an f64 fit of
//! the f32 values by up to `2⁻²³` relative. Other data, or a host without the kernel, takes the floating-point path
//! (the levels are checked on a sample of rows first, then on every value as it is packed).
//!
//! On such data the randomized solver runs its range finder on that exact covariance `C`
//! rather than on the rows (`Y = C Ω`, `q` times `Y = C · orth(Y)`, then `eig(Qᵀ C Q)`, in
//! f64): the same subspace, `span(C^(q+1) Ω)`, with the same `Ω`, oversampling and
//! iterations, where forming `C` costs less than the `2 (q + 1)` products with the rows
//! (`d ≤ 12 (q + 1) l`).
//!
//! ## f32 on badly scaled data
//! In f32 the products over the data run in f32, and what would lose accuracy on badly
//! scaled data (columns whose variances span many orders of magnitude, like raw UCI wine:
//! proline's `≈ 10⁵` against `10⁻²`) runs in f64, so that the explained variances and their
//! ratios, the reconstruction error and the axes (of well-separated eigenvalues) agree with
//! an f64 fit's to about `10⁻⁶` relative or better (tested within `10⁻⁴`):
//! - the exact solver (`n ≥ d`) adds each block's f32 product `XcᵀXc` to an **f64**
//!   covariance and eigendecomposes it in **f64** (an f32 eigendecomposition's error, about
//!   `10⁻⁷` of the largest eigenvalue, swamps the small directions);
//! - the reconstruction error, `total − Σ kept`, is then a small difference of large numbers
//!   (wine: `≈ 17` of `≈ 99,000`), which amplifies the `≈ 10⁻⁷` relative error of an f32
//!   explained variance. Both solvers, when the variance left out is below 1 % of the
//!   total, end with a **Rayleigh–Ritz** step in f64 (above it, the f32 figures are already
//!   within `10⁻⁵` of f64's):
//!   the data, centred in f64, projected on the axes found (randomized: on all `k +
//!   oversamples` directions), the small projected covariance eigendecomposed. It costs one
//!   more pass over the data, `n · d · k` multiply-adds in f64 (randomized: `k +
//!   oversamples` for `k`);
//! - the exact solver with `n < d` (the Gram matrix) runs **in f64** whatever the precision:
//!   each entry of an f32 Gram matrix is rounded relative to its largest terms (those of the
//!   widest column), which moves the small directions themselves, not only their variances
//!   (the Rayleigh–Ritz step corrects the latter only).
//!
//! The model stores its explained variances in f32: derive the reconstruction error from
//! [`Pca::residual_variance`] (f64), not from the total minus their sum.
//!
//! ## The incremental solver
//! [`PcaValidParams::fit_stream`] reads a [`latent_core::RowSource`] once, batch by batch,
//! accumulating in f64 the mean and the scatter matrix `Σ (x − x̄)(x − x̄)ᵀ`; batches are
//! merged with the pairwise update of Chan, Golub & LeVeque (1979), each batch's scatter
//! being taken around its own mean, so there is no catastrophic cancellation. An
//! eigendecomposition of the covariance then gives the **exact** PCA: it agrees with the
//! exact solver to rounding, and its result does not depend on the batch size or order.
//!
//! This is not scikit-learn's `IncrementalPCA`, which follows Ross et al. (2008): a
//! sequential truncated SVD of the previous `k` components stacked with each new batch,
//! `O((k + b) d)` memory, and an approximation that depends on the batch size. Here the
//! memory is `O(d²)` (plus one batch), still independent of the number of rows — which is
//! what streaming needs — and the answer is exact, in one pass. `d²` f64 is 4.7 MiB for
//! 784 features and 512 MiB for 8192; beyond [`MAX_INCREMENTAL_DIM`] features the solver
//! refuses, and the randomized solver is the one to use.

//!
//! ## Sharded fits
//! [`PcaValidParams::fit_sharded`] (and [`PcaValidParams::fit_stream_sharded`] for streamed
//! rows) fit the rows that the ranks of a job hold together, each rank passing its own share
//! (any share, possibly none) and a [`latent_core::Collective`] (MPI in `latent-mpi`,
//! [`latent_core::LocalGroup`] for threads). Every rank gets the same model, bit for bit: the
//! one a single process fits on all the rows stacked in rank order, to the rounding of sums
//! added in another order. Each solver is written once, for a job: the one-process fit is a
//! job of one rank ([`latent_core::Single`]), whose exchanges do nothing.
//!
//! What crosses between ranks is `O(d²)` at most (a covariance or scatter matrix; the
//! randomized solver's `d × (k + oversamples)` products), never the rows — except with the
//! exact solver when there are fewer rows than features in all (`n < d`): it gathers those
//! (`n · d < d²` values) and rank 0 runs the Gram path. Decompositions run on rank 0 and
//! their results are broadcast; an error that depends on the data is raised on every rank
//! alike, so that no rank is left waiting in an exchange.
//!
//! ```
//! use latent_core::{Collective, LocalGroup, ParamGuard};
//! use latent_pca::{Components, PcaParams};
//! use ndarray::{Array2, s};
//!
//! let x = Array2::from_shape_fn((100, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f32);
//! let params = PcaParams::new(Components::Count(2)).check()?;
//! let models = std::thread::scope(|scope| {
//!     let ranks: Vec<_> = LocalGroup::new(3)
//!         .into_iter()
//!         .map(|comm| {
//!             let (x, params) = (&x, &params);
//!             scope.spawn(move || params.fit_sharded(x.slice(s![comm.share(100), ..]), &comm))
//!         })
//!         .collect();
//!     ranks.into_iter().map(|r| r.join().expect("a rank panicked")).collect::<Vec<_>>()
//! });
//! for model in models {
//!     assert_eq!(model?.components().dim(), (2, 5));
//! }
//! # Ok::<(), latent_core::Error>(())
//! ```

mod fit;
mod gram8;
mod incremental;
mod linalg;
mod model;
mod params;
mod shard;

pub use linalg::principal_angles;
pub use model::{Pca, PcaParts};
pub use params::{Components, MAX_INCREMENTAL_DIM, PcaParams, PcaValidParams, Precision, Solver};
