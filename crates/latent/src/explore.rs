//! The interactive explorer's application logic (`latent explore`), front-end free: one or two
//! fitted runs and the rows of a data set, their codes and 2-D maps, and every question the
//! page asks — decode a point (a data row's code, a map position lifted back to a code, or a
//! code), a path or a four-corner grid between points, samples from the prior (or the Gaussian
//! fitted to the codes), the data rows nearest a decoding. The HTTP server (`latent-serve`) is
//! glue over [`Session`]; every size a request may ask for is bounded here ([`Limits`]).
//!
//! Decoded rows are in the data's units (the run's preprocessing inverted), exactly what
//! `latent decode` writes for the same codes.

use std::path::{Path, PathBuf};

use latent_core::{Dataset, ImageShape, ValueRange};
use latent_explore::{Interpolation, MapAxes};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::seq::index;
use rayon::prelude::*;

use crate::data::DataSource;
use crate::run::{Model, RunConfig};
use crate::sampler::LatentSource;
use crate::{Error, Result};

/// The most data rows the explorer maps by default.
pub const DEFAULT_POINTS: usize = 10_000;
/// The most sliders (latent coordinates) the page shows.
pub const MAX_SLIDERS: usize = 64;

/// What an explorer session opens.
#[derive(Debug, Clone)]
pub struct ExploreSpec {
    /// One or two run directories (two: side by side, on the same data).
    pub runs: Vec<PathBuf>,
    /// The data whose rows are mapped and searched for neighbours.
    pub data: DataSource,
    /// The most rows to map: a seeded random choice of this many when the data has more.
    pub points: usize,
    /// The seed of that choice.
    pub seed: u64,
    /// Map two chosen latent coordinates instead of the codes' principal axes (`K > 2`).
    pub dims: Option<(usize, usize)>,
}

/// The sizes one request may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Points decoded by one request.
    pub batch: usize,
    /// Cells a side of a four-corner grid.
    pub grid: usize,
    /// Steps of an interpolation.
    pub steps: usize,
    /// Nearest neighbours of one decoding.
    pub neighbours: usize,
    /// Samples drawn by one request.
    pub samples: usize,
    /// Data rows returned by one request.
    pub rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            batch: 1024,
            grid: 16,
            steps: 64,
            neighbours: 32,
            samples: 64,
            rows: 256,
        }
    }
}

/// A point of a run's latent space, as the page names it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Point {
    /// The (deterministic) code of mapped data row `i`.
    Row(usize),
    /// A map position, lifted back to a code ([`MapAxes::lift`]).
    Map([f64; 2]),
    /// A code of the run itself.
    Code(Vec<f32>),
}

/// The mapped data rows.
#[derive(Debug)]
pub struct Rows {
    /// Where they came from (the data's name).
    pub name: String,
    /// Rows in the file.
    pub total: usize,
    /// The mapped rows' numbers in the file (ascending).
    pub index: Vec<usize>,
    /// The mapped rows, in the data's units.
    pub x: Array2<f32>,
    /// Their labels.
    pub labels: Option<Vec<u32>>,
    /// The labels' names.
    pub class_names: Option<Vec<String>>,
    /// The image layout of a row, for image data.
    pub image_shape: Option<ImageShape>,
    /// The features' names (the data's column names, or `x0 …`).
    pub features: Vec<String>,
    /// Values drawn black and white.
    pub display_range: ValueRange,
    /// Mean of each feature over the mapped rows.
    pub feature_mean: Vec<f32>,
    /// Standard deviation of each feature over the mapped rows (1 where constant).
    pub feature_sd: Vec<f32>,
    /// For tables, the rows as distances are measured: each feature divided by its standard
    /// deviation (images are measured in `x` itself).
    standardized: Option<Array2<f32>>,
}

/// One run of a session: the model, its codes of the mapped rows and its map.
#[derive(Debug)]
pub struct ExploredRun {
    /// The run directory's name.
    pub name: String,
    /// The run's recorded configuration.
    pub config: RunConfig,
    /// The fitted model.
    pub model: Model,
    /// Codes of the mapped rows (`n × K`; posterior means for a VAE).
    pub codes: Array2<f32>,
    /// The 2-D map of the codes.
    pub map: MapAxes,
    /// Map coordinates of the mapped rows (`n × 2`).
    pub points: Array2<f32>,
    /// Mean of each latent coordinate over the mapped rows.
    pub code_mean: Vec<f32>,
    /// Standard deviation of each latent coordinate (1 where constant).
    pub code_sd: Vec<f32>,
    /// Where samples come from.
    pub source: LatentSource,
}

impl ExploredRun {
    /// What sampling draws from, in words.
    pub fn sampler(&self) -> &'static str {
        match self.source {
            LatentSource::Prior => "the prior N(0, I)",
            LatentSource::Fitted(_) => "a Gaussian fitted to the codes of the mapped rows",
        }
    }

    /// `K`.
    pub fn latent_dim(&self) -> usize {
        self.codes.ncols()
    }
}

/// Codes, their decodings (data units) and where they lie on the run's map.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// `m × K`.
    pub codes: Array2<f32>,
    /// `m × D`, in the data's units.
    pub rows: Array2<f32>,
    /// `m × 2` map coordinates.
    pub map: Array2<f32>,
}

/// A data row near a decoding.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Neighbour {
    /// The mapped row (an index into [`Rows::x`]).
    pub row: usize,
    /// Euclidean distance in the data's units (image data) or in feature standard deviations
    /// (tables, whose features have units of their own).
    pub distance: f64,
}

/// An open explorer: the mapped rows and the runs. Every method is `&self` (shareable across
/// threads) and checks what it is asked against [`Limits`].
#[derive(Debug)]
pub struct Session {
    /// The mapped data rows.
    pub data: Rows,
    /// The runs, in the order given.
    pub runs: Vec<ExploredRun>,
    /// The request sizes allowed.
    pub limits: Limits,
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

fn mean_sd(x: ArrayView2<'_, f32>) -> (Vec<f32>, Vec<f32>) {
    let n = x.nrows();
    x.axis_iter(Axis(1))
        .map(|c| {
            let m = c.iter().map(|&v| f64::from(v)).sum::<f64>() / n.max(1) as f64;
            let var = c.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>()
                / (n.saturating_sub(1)).max(1) as f64;
            let sd = var.sqrt();
            (
                m as f32,
                if sd > 0.0 && sd.is_finite() {
                    sd as f32
                } else {
                    1.0
                },
            )
        })
        .unzip()
}

impl Session {
    /// Open `spec`: load the runs, read the data for each (with its own preprocessing), pick
    /// the mapped rows, encode them and fit each run's map.
    ///
    /// # Errors
    /// No run or more than two; a run that cannot be loaded; data the runs cannot read, or that
    /// two runs read as different rows; `points = 0`; the models' errors.
    pub fn open(spec: &ExploreSpec) -> Result<Self> {
        if spec.runs.is_empty() || spec.runs.len() > 2 {
            return Err(Error::invalid(format!(
                "the explorer shows one run or two side by side, got {}",
                spec.runs.len()
            )));
        }
        if spec.points == 0 {
            return Err(Error::invalid("--points must be at least 1"));
        }
        let mut runs = Vec::with_capacity(spec.runs.len());
        let mut rows: Option<Rows> = None;
        for dir in &spec.runs {
            let (config, model) = crate::run::load(dir)?;
            // the rows in the data's own units (shown, searched), then as this run's model
            // takes them
            let units: Dataset = config.load_data_units(&spec.data)?;
            let shown = match &rows {
                None => {
                    let index = if units.n() > spec.points {
                        let mut rng = latent_core::seed::rng(spec.seed);
                        let mut picked = index::sample(&mut rng, units.n(), spec.points).into_vec();
                        picked.sort_unstable();
                        picked
                    } else {
                        (0..units.n()).collect()
                    };
                    let picked = units.select(&index)?;
                    let x = picked.x().to_owned();
                    let (feature_mean, feature_sd) = mean_sd(x.view());
                    let image_shape = config.data.image_shape;
                    let standardized = image_shape.is_none().then(|| {
                        let mut s = x.clone();
                        for mut row in s.outer_iter_mut() {
                            for (v, sd) in row.iter_mut().zip(&feature_sd) {
                                *v /= sd;
                            }
                        }
                        s
                    });
                    rows = Some(Rows {
                        name: units.name().to_string(),
                        total: units.n(),
                        index,
                        labels: picked.labels().map(<[u32]>::to_vec),
                        class_names: picked
                            .class_names()
                            .map(<[String]>::to_vec)
                            .or_else(|| config.data.class_names.clone()),
                        image_shape,
                        features: crate::rows::column_names(&config),
                        display_range: config.display_range,
                        feature_mean,
                        feature_sd,
                        x,
                        standardized,
                    });
                    picked
                }
                Some(r) => {
                    if units.n() != r.total || units.dim() != r.x.ncols() {
                        return Err(Error::invalid(format!(
                            "{}: reads {} as {} rows of {} features, but {} read it as {} rows \
                             of {}: the runs must be fitted on data of the same shape",
                            dir.display(),
                            units.name(),
                            units.n(),
                            units.dim(),
                            spec.runs[0].display(),
                            r.total,
                            r.x.ncols()
                        )));
                    }
                    units.select(&r.index)?
                }
            };
            let shown = config.preprocess.apply(shown)?;
            let codes = model.reduction().encode(shown.x())?;
            let map = match spec.dims {
                Some((x, y)) if codes.ncols() > 1 => MapAxes::fit_dims(codes.view(), x, y)?,
                _ => MapAxes::fit(codes.view())?,
            };
            let points = map.project(codes.view())?;
            let (code_mean, code_sd) = mean_sd(codes.view());
            let source = LatentSource::for_model(&model, || Ok(codes.clone()))?;
            runs.push(ExploredRun {
                name: dir_name(dir),
                config,
                model,
                codes,
                map,
                points,
                code_mean,
                code_sd,
                source,
            });
        }
        let data = rows.ok_or_else(|| Error::Internal("no run was opened".into()))?;
        Ok(Self {
            data,
            runs,
            limits: Limits::default(),
        })
    }

    /// Run `r`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an index out of range.
    pub fn run(&self, r: usize) -> Result<&ExploredRun> {
        self.runs.get(r).ok_or_else(|| {
            Error::invalid(format!(
                "run {r} does not exist (the session has {})",
                self.runs.len()
            ))
        })
    }

    fn check_count(what: &str, n: usize, max: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::invalid(format!("{what}: at least 1 is needed")));
        }
        if n > max {
            return Err(Error::invalid(format!("{what}: {n} asked, at most {max}")));
        }
        Ok(())
    }

    /// The code of `point` in run `r`.
    ///
    /// # Errors
    /// A row out of range, a code of another width or not finite, a non-finite map position.
    pub fn resolve(&self, r: usize, point: &Point) -> Result<Array1<f32>> {
        let run = self.run(r)?;
        match point {
            Point::Row(i) => {
                if *i >= run.codes.nrows() {
                    return Err(Error::invalid(format!(
                        "row {i} is not mapped (rows 0…{})",
                        run.codes.nrows() - 1
                    )));
                }
                Ok(run.codes.row(*i).to_owned())
            }
            Point::Map([x, y]) => Ok(run.map.lift(*x, *y)?),
            Point::Code(z) => {
                if z.len() != run.latent_dim() {
                    return Err(Error::invalid(format!(
                        "a code of {} has {} coordinates, not {}",
                        run.name,
                        run.latent_dim(),
                        z.len()
                    )));
                }
                if let Some((j, v)) = z.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(Error::invalid(format!("code coordinate {j} is {v}")));
                }
                Ok(Array1::from(z.clone()))
            }
        }
    }

    /// Decode `codes` (`m × K`) of run `r`: the rows in the data's units and where the codes
    /// lie on the map.
    ///
    /// # Errors
    /// More codes than [`Limits::batch`]; codes of another width; the model's errors.
    pub fn decode_codes(&self, r: usize, codes: Array2<f32>) -> Result<Decoded> {
        let run = self.run(r)?;
        Self::check_count("codes to decode", codes.nrows(), self.limits.batch)?;
        if codes.ncols() != run.latent_dim() {
            return Err(Error::invalid(format!(
                "codes have {} columns, but the latent dimension of {} is {}",
                codes.ncols(),
                run.name,
                run.latent_dim()
            )));
        }
        let raw = run.model.reduction().decode(codes.view())?;
        let rows = run.config.preprocess.invert(raw.view());
        let map = run.map.project(codes.view())?;
        Ok(Decoded { codes, rows, map })
    }

    /// Decode `points` of run `r`.
    ///
    /// # Errors
    /// As [`resolve`](Self::resolve) and [`decode_codes`](Self::decode_codes).
    pub fn decode(&self, r: usize, points: &[Point]) -> Result<Decoded> {
        Self::check_count("points to decode", points.len(), self.limits.batch)?;
        let k = self.run(r)?.latent_dim();
        let mut codes = Array2::zeros((points.len(), k));
        for (mut row, p) in codes.outer_iter_mut().zip(points) {
            row.assign(&self.resolve(r, p)?);
        }
        self.decode_codes(r, codes)
    }

    /// `steps` decoded points on the path from `a` to `b` (lerp or slerp) in run `r`.
    ///
    /// # Errors
    /// `steps` outside `2 ..=` [`Limits::steps`]; as [`decode`](Self::decode).
    pub fn interpolate(
        &self,
        r: usize,
        a: &Point,
        b: &Point,
        steps: usize,
        path: Interpolation,
    ) -> Result<Decoded> {
        Self::check_count("interpolation steps", steps, self.limits.steps)?;
        let (za, zb) = (self.resolve(r, a)?, self.resolve(r, b)?);
        let codes = latent_explore::interpolate_codes(za.view(), zb.view(), steps, path)?;
        self.decode_codes(r, codes)
    }

    /// A `size × size` grid (row-major) between four corner points — top-left, top-right,
    /// bottom-left, bottom-right — bilinear in the codes (MusicVAE's palettes): cell `(i, j)`
    /// at `u = i/(size−1)`, `t = j/(size−1)` is `(1−u)((1−t)A + tB) + u((1−t)C + tD)`; the
    /// corners are the four codes exactly.
    ///
    /// # Errors
    /// `size` outside `2 ..=` [`Limits::grid`]; as [`decode`](Self::decode).
    pub fn grid(&self, r: usize, corners: &[Point; 4], size: usize) -> Result<Decoded> {
        Self::check_count("grid size", size, self.limits.grid)?;
        if size < 2 {
            return Err(Error::invalid("grid size: at least 2 (its corners)"));
        }
        let z: Vec<Array1<f64>> = corners
            .iter()
            .map(|p| Ok(self.resolve(r, p)?.mapv(f64::from)))
            .collect::<Result<_>>()?;
        let k = z[0].len();
        let last = (size - 1) as f64;
        let mut codes = Array2::zeros((size * size, k));
        for i in 0..size {
            for j in 0..size {
                let cell = i * size + j;
                // exact at the corners: a weight of 1 keeps a code, a weight of 0 drops it
                let (u, t) = (i as f64 / last, j as f64 / last);
                let v = (&z[0] * (1.0 - t) + &z[1] * t) * (1.0 - u)
                    + (&z[2] * (1.0 - t) + &z[3] * t) * u;
                codes.row_mut(cell).assign(&v.mapv(|x| x as f32));
            }
        }
        self.decode_codes(r, codes)
    }

    /// `n` points drawn from run `r`'s prior (a VAE) or the Gaussian fitted to its codes, the
    /// standard deviation scaled by `temperature`, from `seed`.
    ///
    /// # Errors
    /// `n` outside `1 ..=` [`Limits::samples`]; a negative or non-finite temperature; the
    /// model's errors.
    pub fn sample(&self, r: usize, n: usize, temperature: f32, seed: u64) -> Result<Decoded> {
        Self::check_count("samples", n, self.limits.samples)?;
        let run = self.run(r)?;
        let mut rng = latent_core::seed::rng(seed);
        let s = run.source.sample(&run.model, n, temperature, &mut rng)?;
        let rows = run.config.preprocess.invert(s.decoded.view());
        let map = run.map.project(s.codes.view())?;
        Ok(Decoded {
            codes: s.codes,
            rows,
            map,
        })
    }

    /// The `k` mapped rows nearest `row` (data units), nearest first.
    ///
    /// # Errors
    /// `k` above [`Limits::neighbours`]; a row of another width.
    pub fn neighbours(&self, row: ArrayView1<'_, f32>, k: usize) -> Result<Vec<Neighbour>> {
        if k > self.limits.neighbours {
            return Err(Error::invalid(format!(
                "neighbours: {k} asked, at most {}",
                self.limits.neighbours
            )));
        }
        let d = &self.data;
        if row.len() != d.x.ncols() {
            return Err(Error::invalid(format!(
                "a row of {} features, the data have {}",
                row.len(),
                d.x.ncols()
            )));
        }
        let mut query: Vec<f32> = if d.image_shape.is_some() {
            row.to_vec()
        } else {
            row.iter()
                .zip(&d.feature_sd)
                .map(|(v, sd)| v / sd)
                .collect()
        };
        // a decoded pixel can be subnormal (a sigmoid far out in its tail): as zero, it
        // moves a squared distance by under 1e-35, and keeps the scan off the slow path
        for v in &mut query {
            if v.is_subnormal() {
                *v = 0.0;
            }
        }
        // blocks of rows on every core: the 10,000 mapped rows of 784 features (31 MB) take
        // ~1 ms on two; the rows are owned arrays in standard layout (made with `to_owned`),
        // so contiguous
        let rows = d.standardized.as_ref().unwrap_or(&d.x);
        let search = rows
            .as_slice()
            .ok_or_else(|| Error::Internal("the mapped rows are not contiguous".into()))?;
        let dim = rows.ncols();
        let mut distance = vec![0.0f64; rows.nrows()];
        if dim > 0 {
            const BLOCK: usize = 64;
            distance
                .par_chunks_mut(BLOCK)
                .zip(search.par_chunks(BLOCK * dim))
                .for_each(|(out, block)| squared_distances(block, &query, out));
        }
        let mut all: Vec<Neighbour> = distance
            .into_iter()
            .enumerate()
            .map(|(row, d2)| Neighbour {
                row,
                distance: d2.sqrt(),
            })
            .collect();
        let k = k.min(all.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        let by = |a: &Neighbour, b: &Neighbour| {
            a.distance.total_cmp(&b.distance).then(a.row.cmp(&b.row))
        };
        all.select_nth_unstable_by(k - 1, by);
        all.truncate(k);
        all.sort_by(by);
        Ok(all)
    }

    /// What the page is told first (`api/session`): the data (name, rows, labels, image
    /// shape, features, display range), each run's map and code statistics, the limits.
    pub fn describe(&self) -> serde_json::Value {
        let s = self;
        use serde_json::json;
        let d = &s.data;
        let runs: Vec<serde_json::Value> = s
            .runs
            .iter()
            .map(|r| {
                let (xl, yl) = r.map.labels();
                json!({
                    "name": r.name,
                    "method": r.model.reduction().method(),
                    "latent_dim": r.latent_dim(),
                    "sampler": r.sampler(),
                    "map": {
                        "x": r.points.column(0).to_vec(),
                        "y": r.points.column(1).to_vec(),
                        "x_label": xl,
                        "y_label": yl,
                        "title": r.map.title(),
                    },
                    "code_mean": r.code_mean,
                    "code_sd": r.code_sd,
                    "sliders": r.latent_dim().min(MAX_SLIDERS),
                })
            })
            .collect();
        json!({
            "data": {
                "name": d.name,
                "rows": d.x.nrows(),
                "total": d.total,
                "kind": if d.image_shape.is_some() { "image" } else { "table" },
                "shape": d.image_shape.map(|sh| [sh.height, sh.width, sh.channels]),
                "features": d.features,
                "range": [d.display_range.min, d.display_range.max],
                "labels": d.labels,
                "classes": d.class_names,
                "feature_mean": d.feature_mean,
                "feature_sd": d.feature_sd,
            },
            "runs": runs,
            "limits": s.limits,
        })
    }

    /// Mapped rows `ids` in the data's units.
    ///
    /// # Errors
    /// More than [`Limits::rows`] ids; an id out of range.
    pub fn rows(&self, ids: &[usize]) -> Result<Array2<f32>> {
        if ids.len() > self.limits.rows {
            return Err(Error::invalid(format!(
                "rows: {} asked, at most {}",
                ids.len(),
                self.limits.rows
            )));
        }
        let n = self.data.x.nrows();
        let mut out = Array2::zeros((ids.len(), self.data.x.ncols()));
        for (mut o, &i) in out.outer_iter_mut().zip(ids) {
            if i >= n {
                return Err(Error::invalid(format!(
                    "row {i} is not mapped (rows 0…{})",
                    n - 1
                )));
            }
            o.assign(&self.data.x.slice(s![i, ..]));
        }
        Ok(out)
    }
}

/// `‖x − q‖²` of each row `x` of `rows` (rows of `q.len()` values) into `out`: sixteen f32
/// lanes, each a chain of fused multiply-adds (the same bits on every host), summed in f64;
/// compiled for the host's best instruction set. A difference under 2⁻⁶³ in magnitude counts
/// as zero: its square would be subnormal, the CPU's slow path (together they change a
/// squared distance of 784 features by under 1e-35).
fn squared_distances(rows: &[f32], q: &[f32], out: &mut [f64]) {
    // A struct, not a closure, crosses pulp's dispatch: a closure's body is not reliably
    // inlined into the dispatched function, and then runs without the wider instructions.
    struct K<'a> {
        rows: &'a [f32],
        q: &'a [f32],
        out: &'a mut [f64],
    }
    impl pulp::WithSimd for K<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            const LANES: usize = 16;
            const TINY: f32 = 1.0842022e-19; // 2⁻⁶³
            let K { rows, q, out } = self;
            for (x, out) in rows.chunks_exact(q.len()).zip(out) {
                let mut acc = [0.0f32; LANES];
                let (xc, qc) = (x.chunks_exact(LANES), q.chunks_exact(LANES));
                let (xr, qr) = (xc.remainder(), qc.remainder());
                for (a, b) in xc.zip(qc) {
                    for l in 0..LANES {
                        let d = a[l] - b[l];
                        let d = if d.abs() < TINY { 0.0 } else { d };
                        acc[l] = d.mul_add(d, acc[l]);
                    }
                }
                let tail: f64 = xr
                    .iter()
                    .zip(qr)
                    .map(|(&a, &b)| f64::from(a - b) * f64::from(a - b))
                    .sum();
                *out = acc.iter().map(|&v| f64::from(v)).sum::<f64>() + tail;
            }
        }
    }
    pulp::Arch::new().dispatch(K { rows, q, out });
}

/// Little-endian bytes of `values` in standard base64 (how the exported page carries arrays).
fn base64_f32(values: impl Iterator<Item = f32>) -> String {
    let bytes: Vec<u8> = values.flat_map(f32::to_le_bytes).collect();
    latent_report::html::base64(&bytes)
}

impl Session {
    /// Everything the page needs to run without a server (`latent explore --export`): the
    /// session's description, the mapped rows, each run's codes, map, decoder (its dense
    /// layers, activation and output, and the inversion of the run's preprocessing) and the
    /// distribution samples come from. Arrays are base64 of little-endian `f32` (the rows
    /// `u8` when every value is an integer in 0…255, as in image files).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a run whose decoder the page's JavaScript cannot compute (a
    /// convolutional decoder: transposed convolutions), naming it.
    pub fn bundle(&self) -> Result<serde_json::Value> {
        use serde_json::json;
        let d = &self.data;
        let bytes =
            d.x.iter()
                .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0);
        let rows = if bytes {
            json!({"dtype": "u8", "data": latent_report::html::base64(&d.x.iter().map(|&v| v as u8).collect::<Vec<u8>>())})
        } else {
            json!({"dtype": "f32", "data": base64_f32(d.x.iter().copied())})
        };
        let runs = self
            .runs
            .iter()
            .map(|r| {
                let (origin, axes, scales) = r.map.parts();
                let sampler = match &r.source {
                    LatentSource::Prior => json!({"kind": "prior"}),
                    LatentSource::Fitted(g) => json!({
                        "kind": "gaussian",
                        "mean": g.mean().to_vec(),
                        "chol": g.chol().outer_iter().map(|row| row.to_vec()).collect::<Vec<_>>(),
                    }),
                };
                Ok(json!({
                    "codes": base64_f32(r.codes.iter().copied()),
                    "map": {"origin": origin, "axes": axes, "scales": scales},
                    "decoder": decoder(r)?,
                    "sampler": sampler,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(json!({
            "format": "latent-explore-bundle",
            "version": 1,
            "session": self.describe(),
            "rows": rows,
            "neighbour_units": if d.image_shape.is_some() { "data" } else { "sd" },
            "runs": runs,
        }))
    }
}

/// A run's decoder as dense layers `h ← act(h · W + b)` (no activation after the last), the
/// output function and the inversion of the preprocessing.
fn decoder(r: &ExploredRun) -> Result<serde_json::Value> {
    use latent_data::transform::Scaling;
    use serde_json::json;
    let layer = |w: ArrayView2<'_, f32>, b: ArrayView1<'_, f32>| {
        json!({
            "rows": w.nrows(),
            "cols": w.ncols(),
            "w": base64_f32(w.iter().copied()),
            "b": base64_f32(b.iter().copied()),
        })
    };
    let (layers, activation, output) = match &r.model {
        Model::Pca(_) => {
            // PCA decodes linearly, x̂ = z · W + b: read W and b off the decoder itself
            let k = r.latent_dim();
            let mut z = Array2::zeros((k + 1, k));
            for i in 0..k {
                z[[i + 1, i]] = 1.0;
            }
            let x = r.model.reduction().decode(z.view())?;
            let b = x.row(0).to_owned();
            let w = Array2::from_shape_fn((k, x.ncols()), |(i, j)| x[[i + 1, j]] - b[j]);
            (vec![layer(w.view(), b.view())], "identity", "identity")
        }
        Model::Nn(m) => {
            let config = m.config();
            if config.arch != latent_nn::Arch::Mlp {
                return Err(Error::invalid(format!(
                    "{}: a convolutional decoder cannot be exported (the page's JavaScript \
                     computes dense layers only, not transposed convolutions); explore it with \
                     the server (`latent explore` without --export)",
                    r.name
                )));
            }
            let params = m.params()?;
            let mut layers = Vec::new();
            for i in 0.. {
                let (Some(w), Some(b)) = (
                    params.get(&format!("decoder.{i}.weight")),
                    params.get(&format!("decoder.{i}.bias")),
                ) else {
                    break;
                };
                let w = w
                    .view()
                    .into_dimensionality::<ndarray::Ix2>()
                    .map_err(|e| Error::Internal(format!("decoder.{i}.weight: {e}")))?;
                let b = b
                    .view()
                    .into_dimensionality::<ndarray::Ix1>()
                    .map_err(|e| Error::Internal(format!("decoder.{i}.bias: {e}")))?;
                layers.push(layer(w, b));
            }
            if layers.is_empty() {
                return Err(Error::Internal(format!("{}: no decoder layers", r.name)));
            }
            let activation = match config.activation {
                latent_nn::Activation::Relu => "relu",
                latent_nn::Activation::Tanh => "tanh",
                latent_nn::Activation::Silu => "silu",
                latent_nn::Activation::LeakyRelu => "leaky_relu",
            };
            let output = match (config.kind, config.likelihood) {
                (latent_nn::ModelKind::Vae, latent_nn::Likelihood::Bernoulli) => "sigmoid",
                _ => "identity",
            };
            (layers, activation, output)
        }
    };
    let invert = match &r.config.preprocess.scaling {
        Scaling::None => json!({"kind": "none"}),
        Scaling::Unit { min, max } => json!({"kind": "unit", "min": min, "max": max}),
        Scaling::Standardize { mean, std } => {
            json!({"kind": "standardize", "mean": mean, "std": std})
        }
    };
    Ok(json!({
        "layers": layers,
        "activation": activation,
        "output": output,
        "invert": invert,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// The search's distances against a double-precision sum, for widths that are and are
    /// not multiples of the sixteen lanes; an identical row is at exactly zero.
    #[test]
    fn squared_distances_match_a_double_precision_sum() {
        let mut rng = latent_core::seed::rng(3);
        for dim in [1, 15, 16, 37, 784] {
            let n = 70;
            let rows: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
            let q: Vec<f32> = (0..dim).map(|_| rng.random::<f32>()).collect();
            let mut out = vec![f64::NAN; n];
            squared_distances(&rows, &q, &mut out);
            for (i, got) in out.iter().enumerate() {
                let want: f64 = rows[i * dim..(i + 1) * dim]
                    .iter()
                    .zip(&q)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                assert!(
                    (got - want).abs() <= 1e-5 * want.max(1e-30),
                    "dim {dim}, row {i}: {got} vs {want}"
                );
            }
            let mut same = [f64::NAN];
            squared_distances(&rows[..dim], &rows[..dim], &mut same);
            assert_eq!(same[0], 0.0);
        }
    }

    #[test]
    fn point_syntax() -> std::result::Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::from_str::<Point>(r#"{"row": 3}"#)?,
            Point::Row(3)
        );
        assert_eq!(
            serde_json::from_str::<Point>(r#"{"map": [0.5, -1]}"#)?,
            Point::Map([0.5, -1.0])
        );
        assert_eq!(
            serde_json::from_str::<Point>(r#"{"code": [1, 2]}"#)?,
            Point::Code(vec![1.0, 2.0])
        );
        assert!(serde_json::from_str::<Point>(r#"{"file": "/etc/passwd"}"#).is_err());
        assert!(serde_json::from_str::<Point>(r#"{"row": -1}"#).is_err());
        Ok(())
    }
}
