//! What the ranks of a sharded fit exchange ([`crate::PcaValidParams::fit_sharded`]): the
//! rows each holds, sums of partial results, the results of rank 0's decompositions as bytes,
//! and agreement on errors. With one rank ([`Single`]) every operation here is the identity
//! and costs nothing, so the one-process fits run the same code.
//!
//! Rules the solvers follow, so that a job neither hangs nor drifts apart:
//! - every rank calls the same operations in the same order with buffers of the same length
//!   (their lengths depend only on global quantities: `n`, `d`, `k`, the settings);
//! - an error that only some ranks can see (a NaN in their rows, a failed read) is not
//!   returned at once: the ranks first [`agree`], and then all return the error of the first
//!   failing rank (in rank order, which is row order);
//! - an error that depends on global quantities only (too few rows, too many components) is
//!   raised by every rank after the sum that gives those quantities;
//! - a decomposition (eigen, SVD, QR, Cholesky) whose result more than one rank uses runs on
//!   rank 0 and is broadcast ([`Group::on_root`]): every rank then holds the same bits, and
//!   a decomposition's failure travels with its result.

use faer::{Mat, MatMut};
use latent_core::{Collective, Error, Result, Single};
use ndarray::{Array2, ArrayView2};

use crate::fit::{Spectrum, non_finite};
use crate::linalg::Scalar;

/// The ranks of a fit, the rows each holds and the width of a row.
pub(crate) struct Group<'a> {
    comm: &'a dyn Collective,
    counts: Vec<usize>,
    d: usize,
}

impl<'a> Group<'a> {
    /// Every rank's number of rows (`rows` here) and width (`d` here), in one sum. Refuses,
    /// on every rank, widths that differ between ranks.
    ///
    /// # Errors
    /// [`Error::Shape`] for widths that differ; a transport failure.
    pub fn new(comm: &'a dyn Collective, rows: usize, d: usize) -> Result<Self> {
        let (size, rank) = (comm.size(), comm.rank());
        if size == 1 {
            return Ok(Group {
                comm,
                counts: vec![rows],
                d,
            });
        }
        let mut v = vec![0.0f64; 2 * size];
        v[rank] = rows as f64;
        v[size + rank] = d as f64;
        comm.sum_f64(&mut v)?;
        let widths = &v[size..];
        if let Some(r) = widths.iter().position(|&w| w != widths[0]) {
            return Err(Error::shape(
                "pca input",
                format!(
                    "rows of the same width on every rank ({} columns on rank 0)",
                    widths[0]
                ),
                format!("{} columns on rank {r}", widths[r]),
            ));
        }
        Ok(Group {
            comm,
            counts: v[..size].iter().map(|&c| c as usize).collect(),
            d,
        })
    }

    /// One process holding `rows` rows of width `d`.
    pub fn local(rows: usize, d: usize) -> Group<'static> {
        Group {
            comm: &Single,
            counts: vec![rows],
            d,
        }
    }

    /// The transport.
    pub fn comm(&self) -> &dyn Collective {
        self.comm
    }
    /// The rows of all the ranks together.
    pub fn n(&self) -> usize {
        self.counts.iter().sum()
    }
    /// The width of a row.
    pub fn d(&self) -> usize {
        self.d
    }
    /// The rows of each rank, in rank order.
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }
    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.counts.len()
    }
    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }
    /// The index, among the rows of all the ranks stacked in rank order, of this rank's first
    /// row.
    pub fn offset(&self) -> usize {
        self.counts[..self.rank()].iter().sum()
    }

    /// The element-wise sum over the ranks, in place (in f64 whatever `T`: an f32 value
    /// converts to f64 and back exactly).
    ///
    /// # Errors
    /// A transport failure.
    pub fn sum<T: Scalar>(&self, values: &mut [T]) -> Result<()> {
        if self.size() == 1 {
            return Ok(());
        }
        let mut wide: Vec<f64> = values.iter().map(|v| v.to_f64()).collect();
        self.comm.sum_f64(&mut wide)?;
        values
            .iter_mut()
            .zip(wide)
            .for_each(|(v, w)| *v = T::from_f64(w));
        Ok(())
    }

    /// The element-wise sum of a matrix over the ranks, in place (in f64).
    ///
    /// # Errors
    /// A transport failure.
    pub fn sum_mat<T: Scalar>(&self, mut m: MatMut<'_, T>) -> Result<()> {
        if self.size() == 1 {
            return Ok(());
        }
        let (r, c) = (m.nrows(), m.ncols());
        let mut wide: Vec<f64> = Vec::with_capacity(r * c);
        for j in 0..c {
            for i in 0..r {
                wide.push(m[(i, j)].to_f64());
            }
        }
        self.comm.sum_f64(&mut wide)?;
        for j in 0..c {
            for i in 0..r {
                m[(i, j)] = T::from_f64(wide[j * r + i]);
            }
        }
        Ok(())
    }

    /// The sum over the ranks of the lower triangle of the square `m` (the upper triangle is
    /// left as it is) and of `extra`, in one exchange of `d (d + 1) / 2 + extra.len()` values.
    ///
    /// # Errors
    /// A transport failure.
    pub fn sum_lower(&self, m: &mut Mat<f64>, extra: &mut [f64]) -> Result<()> {
        if self.size() == 1 {
            return Ok(());
        }
        let d = m.nrows();
        let mut packed = Vec::with_capacity(d * (d + 1) / 2 + extra.len());
        for j in 0..d {
            for i in j..d {
                packed.push(m[(i, j)]);
            }
        }
        packed.extend_from_slice(extra);
        self.comm.sum_f64(&mut packed)?;
        let mut it = packed.into_iter();
        for j in 0..d {
            for i in j..d {
                m[(i, j)] = it.next().unwrap_or_default();
            }
        }
        extra.iter_mut().zip(it).for_each(|(e, v)| *e = v);
        Ok(())
    }

    /// Rank 0 runs `f` (which must not communicate) and every rank returns its result, sent as
    /// bytes: the same bits on every rank, an error included (rank 0 returns its own error,
    /// the others the same kind with the same message, [`decode_error`]).
    ///
    /// # Errors
    /// `f`'s error; a transport failure; a malformed message.
    pub fn on_root<R: Wire>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        if self.size() == 1 {
            return f();
        }
        if self.comm.is_root() {
            let result = f();
            let mut bytes = Vec::new();
            match &result {
                Ok(r) => {
                    bytes.push(0);
                    r.to_wire(&mut bytes);
                }
                Err(e) => {
                    bytes.push(1);
                    bytes.extend(encode_error(e));
                }
            }
            self.comm.broadcast(&mut bytes)?;
            result
        } else {
            let mut bytes = Vec::new();
            self.comm.broadcast(&mut bytes)?;
            match bytes.split_first() {
                Some((0, rest)) => R::from_wire(&mut Reader::new(rest)),
                Some((1, rest)) => Err(decode_error(rest)),
                _ => Err(malformed()),
            }
        }
    }

    /// `a` as rank 0 leaves it after `f` (which must not communicate), on every rank.
    ///
    /// # Errors
    /// As [`Group::on_root`].
    pub fn root_mat<T: Scalar>(
        &self,
        mut a: MatMut<'_, T>,
        f: impl FnOnce(MatMut<'_, T>) -> Result<()>,
    ) -> Result<()> {
        if self.size() == 1 {
            return f(a);
        }
        let root = self.comm.is_root();
        let m = self.on_root(|| {
            f(a.as_mut())?;
            Ok(Mat::<f64>::from_fn(a.nrows(), a.ncols(), |i, j| {
                a[(i, j)].to_f64()
            }))
        })?;
        if !root {
            if m.nrows() != a.nrows() || m.ncols() != a.ncols() {
                return Err(malformed());
            }
            for j in 0..a.ncols() {
                for i in 0..a.nrows() {
                    a[(i, j)] = T::from_f64(m[(i, j)]);
                }
            }
        }
        Ok(())
    }

    /// The rows of every rank stacked in rank order, `n × d` in f64, on every rank (each
    /// rank's rows placed in a zero matrix and the matrices summed: exact, but for the sign
    /// of a zero).
    ///
    /// # Errors
    /// A transport failure.
    pub fn gather_rows<E: Copy + Into<f64>>(&self, x: ArrayView2<'_, E>) -> Result<Array2<f64>> {
        let (n, d) = (self.n(), self.d);
        let mut all = vec![0.0f64; n * d];
        let start = self.offset() * d;
        for (row, out) in x.outer_iter().zip(all[start..].chunks_exact_mut(d.max(1))) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o = v.into();
            }
        }
        if self.size() > 1 {
            self.comm.sum_f64(&mut all)?;
        }
        Array2::from_shape_vec((n, d), all).map_err(|e| Error::shape("pca input", n * d, e))
    }
}

/// Why a rank cannot go on, before the ranks [`agree`].
pub(crate) enum Failure {
    /// A NaN or infinite value at this rank's row `row` (counted from its first row).
    NonFinite { row: usize, col: usize, value: f64 },
    /// Any other error (a failed read, a batch of the wrong width).
    Other(Error),
}

/// Values per rank in [`agree`]'s exchange: failed, kind, rows, row, column, value, message
/// length.
const RECORD: usize = 7;

/// Agreement on local failures: `Ok` on every rank when no rank failed; otherwise every rank
/// returns the error of the first failing rank (in rank order: the first in the rows stacked
/// in rank order). A [`Failure::NonFinite`] becomes the same [`Error::NonFinite`] on every
/// rank, its row counted over the stacked rows (`rows`: the rows this rank holds, or read
/// before it failed); an [`Failure::Other`] is the failing rank's own error there and the same
/// kind with the same message elsewhere ([`decode_error`]). One exchange of `7 · size` values,
/// a second for a message.
///
/// # Errors
/// The agreed error; a transport failure.
pub(crate) fn agree(comm: &dyn Collective, rows: usize, failure: Option<Failure>) -> Result<()> {
    let (size, rank) = (comm.size(), comm.rank());
    if size == 1 {
        return match failure {
            None => Ok(()),
            Some(Failure::NonFinite { row, col, value }) => Err(non_finite(row, col, value)),
            Some(Failure::Other(e)) => Err(e),
        };
    }
    let encoded = match &failure {
        Some(Failure::Other(e)) => encode_error(e),
        _ => Vec::new(),
    };
    let mut records = vec![0.0f64; size * RECORD];
    {
        let r = &mut records[rank * RECORD..(rank + 1) * RECORD];
        r[2] = rows as f64;
        match &failure {
            None => {}
            Some(Failure::NonFinite { row, col, value }) => {
                r[0] = 1.0;
                r[3] = *row as f64;
                r[4] = *col as f64;
                r[5] = *value;
            }
            Some(Failure::Other(_)) => {
                r[0] = 1.0;
                r[1] = 1.0;
                r[6] = encoded.len() as f64;
            }
        }
    }
    comm.sum_f64(&mut records)?;
    let Some(first) = (0..size).find(|&r| records[r * RECORD] != 0.0) else {
        return Ok(());
    };
    let f = &records[first * RECORD..(first + 1) * RECORD];
    if f[1] == 0.0 {
        let offset: usize = (0..first).map(|r| records[r * RECORD + 2] as usize).sum();
        return Err(non_finite(offset + f[3] as usize, f[4] as usize, f[5]));
    }
    let mut message = vec![0.0f64; f[6] as usize];
    if rank == first {
        message
            .iter_mut()
            .zip(&encoded)
            .for_each(|(m, &b)| *m = f64::from(b));
    }
    comm.sum_f64(&mut message)?;
    match failure {
        Some(Failure::Other(e)) if rank == first => Err(e),
        _ => {
            let bytes: Vec<u8> = message.iter().map(|&b| b as u8).collect();
            Err(decode_error(&bytes))
        }
    }
}

fn malformed() -> Error {
    Error::Collective("a malformed message from another rank of the pca fit".into())
}

/// An error as bytes: its kind and its message (the fields of the kinds that carry only text;
/// any other kind as its message, decoded as [`Error::Source`]).
fn encode_error(e: &Error) -> Vec<u8> {
    let mut w = Vec::new();
    let texts: (u8, Vec<&str>) = match e {
        Error::Shape {
            what,
            expected,
            got,
        } => (1, vec![what.as_str(), expected.as_str(), got.as_str()]),
        Error::InvalidParam { name, reason } => (2, vec![name.as_str(), reason.as_str()]),
        Error::Empty(s) => (3, vec![s.as_str()]),
        Error::Degenerate(s) => (4, vec![s.as_str()]),
        Error::NonFinite(s) => (5, vec![s.as_str()]),
        Error::Collective(s) => (6, vec![s.as_str()]),
        _ => (0, Vec::new()),
    };
    w.push(texts.0);
    if texts.0 == 0 {
        put_str(&mut w, &e.to_string());
    }
    for t in texts.1 {
        put_str(&mut w, t);
    }
    w
}

/// The error [`encode_error`] wrote.
fn decode_error(bytes: &[u8]) -> Error {
    let Some((&kind, rest)) = bytes.split_first() else {
        return malformed();
    };
    let mut r = Reader::new(rest);
    let decoded = (|| -> Result<Error> {
        Ok(match kind {
            0 => Error::Source(r.string()?.into()),
            1 => Error::shape(r.string()?, r.string()?, r.string()?),
            2 => Error::param(r.string()?, r.string()?),
            3 => Error::Empty(r.string()?),
            4 => Error::Degenerate(r.string()?),
            5 => Error::NonFinite(r.string()?),
            6 => Error::Collective(r.string()?),
            _ => return Err(malformed()),
        })
    })();
    decoded.unwrap_or_else(|e| e)
}

/// A value sent from rank 0 to the others as bytes ([`Group::on_root`]).
pub(crate) trait Wire: Sized {
    /// Append the value to `w`.
    fn to_wire(&self, w: &mut Vec<u8>);
    /// Read back what [`Wire::put`] wrote.
    fn from_wire(r: &mut Reader<'_>) -> Result<Self>;
}

/// Reads what [`Wire::put`] wrote.
pub(crate) struct Reader<'b> {
    bytes: &'b [u8],
}

impl<'b> Reader<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        Reader { bytes }
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self.bytes.split_at_checked(N).ok_or_else(malformed)?;
        self.bytes = rest;
        head.try_into().map_err(|_| malformed())
    }
    /// A byte: the tag of an enum's variant.
    pub fn tag(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    /// A `usize` written by [`put_usize`].
    pub fn usize(&mut self) -> Result<usize> {
        usize::try_from(u64::from_le_bytes(self.take()?)).map_err(|_| malformed())
    }
    /// An `f64` written by [`put_f64`].
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    /// `n` values written by [`put_f64`], refusing a count beyond what is left.
    pub fn f64s(&mut self, n: usize) -> Result<Vec<f64>> {
        if n > self.bytes.len() / 8 {
            return Err(malformed());
        }
        (0..n).map(|_| self.f64()).collect()
    }
    fn string(&mut self) -> Result<String> {
        let len = self.usize()?;
        let (head, rest) = self.bytes.split_at_checked(len).ok_or_else(malformed)?;
        self.bytes = rest;
        String::from_utf8(head.to_vec()).map_err(|_| malformed())
    }
}

/// Append a `usize` (8 bytes, little-endian).
pub(crate) fn put_usize(w: &mut Vec<u8>, v: usize) {
    w.extend((v as u64).to_le_bytes());
}

/// Append an `f64` (8 bytes, little-endian: exact).
pub(crate) fn put_f64(w: &mut Vec<u8>, v: f64) {
    w.extend(v.to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_usize(w, s.len());
    w.extend(s.as_bytes());
}

impl Wire for Mat<f64> {
    fn to_wire(&self, w: &mut Vec<u8>) {
        put_usize(w, self.nrows());
        put_usize(w, self.ncols());
        for j in 0..self.ncols() {
            for i in 0..self.nrows() {
                put_f64(w, self[(i, j)]);
            }
        }
    }
    fn from_wire(r: &mut Reader<'_>) -> Result<Self> {
        let (rows, cols) = (r.usize()?, r.usize()?);
        let values = r.f64s(rows.checked_mul(cols).ok_or_else(malformed)?)?;
        Ok(Mat::from_fn(rows, cols, |i, j| values[j * rows + i]))
    }
}

impl<W: Wire> Wire for Option<W> {
    fn to_wire(&self, w: &mut Vec<u8>) {
        match self {
            None => w.push(0),
            Some(v) => {
                w.push(1);
                v.to_wire(w);
            }
        }
    }
    fn from_wire(r: &mut Reader<'_>) -> Result<Self> {
        match r.tag()? {
            0 => Ok(None),
            1 => W::from_wire(r).map(Some),
            _ => Err(malformed()),
        }
    }
}

impl Wire for Spectrum {
    fn to_wire(&self, w: &mut Vec<u8>) {
        let (k, d) = self.components.dim();
        put_usize(w, k);
        put_usize(w, d);
        put_usize(w, self.n_samples);
        put_f64(w, self.total_variance);
        put_f64(w, self.noise_variance);
        self.mean.iter().for_each(|&v| put_f64(w, v));
        self.explained_variance.iter().for_each(|&v| put_f64(w, v));
        self.components.iter().for_each(|&v| put_f64(w, v));
    }
    fn from_wire(r: &mut Reader<'_>) -> Result<Self> {
        let (k, d, n_samples) = (r.usize()?, r.usize()?, r.usize()?);
        let (total_variance, noise_variance) = (r.f64()?, r.f64()?);
        let mean = r.f64s(d)?;
        let explained_variance = r.f64s(k)?;
        let values = r.f64s(k.checked_mul(d).ok_or_else(malformed)?)?;
        let components = Array2::from_shape_vec((k, d), values).map_err(|_| malformed())?;
        Ok(Spectrum {
            mean,
            components,
            explained_variance,
            total_variance,
            noise_variance,
            n_samples,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use latent_core::LocalGroup;

    #[test]
    fn errors_travel_with_their_kind_and_message() {
        for e in [
            Error::shape("a", "b", "c"),
            Error::param("p", "why"),
            Error::Empty("e".into()),
            Error::Degenerate("g".into()),
            Error::NonFinite("n".into()),
            Error::Collective("c".into()),
            Error::Source("s".into()),
        ] {
            let back = decode_error(&encode_error(&e));
            assert_eq!(back.to_string(), e.to_string());
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&e),
                "{e}"
            );
        }
        assert!(matches!(decode_error(&[9]), Error::Collective(_)));
        assert!(matches!(decode_error(&[1, 200]), Error::Collective(_)));
    }

    #[test]
    fn spectra_and_matrices_round_trip() {
        let s = Spectrum {
            mean: vec![1.0, -0.0, f64::MIN_POSITIVE],
            components: ndarray::array![[0.6, 0.8, 0.0]],
            explained_variance: vec![3.5],
            total_variance: 4.0,
            noise_variance: 0.25,
            n_samples: 9,
        };
        let mut w = Vec::new();
        Some(s).to_wire(&mut w);
        let back = Option::<Spectrum>::from_wire(&mut Reader::new(&w))
            .unwrap()
            .unwrap();
        assert_eq!(back.components, ndarray::array![[0.6, 0.8, 0.0]]);
        assert_eq!(back.mean[1].to_bits(), (-0.0f64).to_bits());
        assert_eq!(
            (back.n_samples, back.total_variance, back.noise_variance),
            (9, 4.0, 0.25)
        );
        let m = Mat::<f64>::from_fn(2, 3, |i, j| (i * 3 + j) as f64);
        let mut w = Vec::new();
        m.to_wire(&mut w);
        assert_eq!(
            <Mat<f64> as Wire>::from_wire(&mut Reader::new(&w)).unwrap(),
            m
        );
        assert!(<Mat<f64> as Wire>::from_wire(&mut Reader::new(&w[..w.len() - 1])).is_err());
    }

    #[test]
    fn ranks_agree_on_the_first_failure() {
        // rank 1 has a NaN at its row 2, rank 2 a failed read: every rank reports rank 1's
        // NaN, its row counted over the stacked rows (rank 0 holds 5)
        let outcomes: Vec<String> = std::thread::scope(|scope| {
            let jobs: Vec<_> = LocalGroup::new(3)
                .into_iter()
                .map(|g| {
                    scope.spawn(move || {
                        let failure = match g.rank() {
                            0 => None,
                            1 => Some(Failure::NonFinite {
                                row: 2,
                                col: 4,
                                value: f64::NAN,
                            }),
                            _ => Some(Failure::Other(Error::Source("read failed".into()))),
                        };
                        agree(&g, [5, 3, 1][g.rank()], failure)
                            .unwrap_err()
                            .to_string()
                    })
                })
                .collect();
            jobs.into_iter().map(|j| j.join().unwrap()).collect()
        });
        for o in &outcomes {
            assert_eq!(o, "non-finite value: pca input: row 7, column 4 is NaN");
        }
        let outcomes: Vec<String> = std::thread::scope(|scope| {
            let jobs: Vec<_> = LocalGroup::new(2)
                .into_iter()
                .map(|g| {
                    scope.spawn(move || {
                        let failure = (g.rank() == 1)
                            .then(|| Failure::Other(Error::param("batch", "too wide")));
                        agree(&g, 4, failure).unwrap_err().to_string()
                    })
                })
                .collect();
            jobs.into_iter().map(|j| j.join().unwrap()).collect()
        });
        assert_eq!(outcomes[0], outcomes[1]);
        assert!(outcomes[0].contains("too wide"), "{}", outcomes[0]);
    }
}
