use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{Error, Result, seed};

/// The layout of one row when the rows are images: `height × width × channels`, stored
/// row-major with the channel last (HWC), as NumPy and the PNG format store them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Rows of pixels.
    pub height: usize,
    /// Pixels per row.
    pub width: usize,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
}

impl ImageShape {
    /// A grayscale shape.
    pub fn gray(height: usize, width: usize) -> Self {
        Self {
            height,
            width,
            channels: 1,
        }
    }

    /// That rows of `dim` values of the data `name` can be images of this shape: `dim`
    /// values per image, 1 or 3 channels.
    ///
    /// # Errors
    /// [`Error::Shape`] naming the data otherwise.
    pub fn check_width(&self, name: &str, dim: usize) -> Result<()> {
        if self.numel() != Some(dim) || !matches!(self.channels, 1 | 3) {
            return Err(Error::shape(
                format!("{name}: image shape"),
                format!("{dim} values per row, 1 or 3 channels"),
                self,
            ));
        }
        Ok(())
    }

    /// Values per image (`height · width · channels`), or `None` on overflow.
    pub fn numel(&self) -> Option<usize> {
        self.height
            .checked_mul(self.width)?
            .checked_mul(self.channels)
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}×{}", self.height, self.width, self.channels)
    }
}

/// The closed interval the feature values live in, when it is known from the source
/// (0..255 for 8-bit pixels, 0..16 for the UCI digits, 0..1 after scaling).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValueRange {
    /// Smallest possible value.
    pub min: f32,
    /// Largest possible value.
    pub max: f32,
}

impl ValueRange {
    /// The unit interval `[0, 1]`.
    pub const UNIT: ValueRange = ValueRange { min: 0.0, max: 1.0 };
}

/// Rows of `f32` features, with optional integer labels and an optional image layout.
///
/// Invariants (checked by every constructor): at least one row and one column, every value
/// finite, one label per row, and `image.numel() == dim()` when an image shape is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    name: String,
    x: Array2<f32>,
    labels: Option<Vec<u32>>,
    class_names: Option<Vec<String>>,
    image: Option<ImageShape>,
    range: Option<ValueRange>,
    feature_names: Option<Vec<String>>,
}

impl Dataset {
    /// A dataset from rows. `name` says where the data came from (a path or a dataset name)
    /// and is used in error messages.
    ///
    /// # Errors
    /// [`Error::Empty`] without rows or columns; [`Error::NonFinite`] naming the first NaN or
    /// infinite value's row and column.
    pub fn new(name: impl Into<String>, x: Array2<f32>) -> Result<Self> {
        let name = name.into();
        Self::check_rows(&name, x.view())?;
        Ok(Self {
            name,
            x,
            labels: None,
            class_names: None,
            image: None,
            range: None,
            feature_names: None,
        })
    }

    /// The checks [`Dataset::new`] makes of its rows, for rows held elsewhere (a front end's
    /// array lent to a fit): at least one row and one column, every value finite.
    ///
    /// # Errors
    /// As [`Dataset::new`], with the same messages.
    pub fn check_rows(name: &str, x: ArrayView2<'_, f32>) -> Result<()> {
        if x.nrows() == 0 || x.ncols() == 0 {
            return Err(Error::Empty(format!(
                "{name}: {} rows × {} columns",
                x.nrows(),
                x.ncols()
            )));
        }
        if let Some((row, col)) = first_non_finite(x) {
            return Err(Error::NonFinite(format!(
                "{name}: row {row}, column {col} is {}",
                x[[row, col]]
            )));
        }
        Ok(())
    }

    /// Attach one label per row.
    ///
    /// # Errors
    /// [`Error::Shape`] when the number of labels differs from the number of rows.
    pub fn with_labels(mut self, labels: Vec<u32>) -> Result<Self> {
        if labels.len() != self.n() {
            return Err(Error::shape(
                format!("{}: labels", self.name),
                format!("{} labels (one per row)", self.n()),
                labels.len(),
            ));
        }
        self.labels = Some(labels);
        Ok(self)
    }

    /// Attach names for the label values (`class_names[label]`).
    ///
    /// # Errors
    /// [`Error::Shape`] when a label has no name.
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self> {
        if let Some(labels) = &self.labels
            && let Some(&bad) = labels.iter().find(|&&l| l as usize >= names.len())
        {
            return Err(Error::shape(
                format!("{}: class names", self.name),
                format!("a name for label {bad}"),
                format!("{} names", names.len()),
            ));
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// Replace the labels and their names together (a labels file given for data that had
    /// labels of its own): `names`, when given, must name every label (`names[label]`);
    /// `None` drops the names the data had.
    ///
    /// # Errors
    /// [`Error::Shape`] when the number of labels differs from the number of rows, or a label
    /// has no name.
    pub fn with_classes(mut self, labels: Vec<u32>, names: Option<Vec<String>>) -> Result<Self> {
        self.class_names = None;
        let out = self.with_labels(labels)?;
        match names {
            Some(names) => out.with_class_names(names),
            None => Ok(out),
        }
    }

    /// Declare that each row is an image of this shape.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shape's size differs from the number of columns.
    pub fn with_image_shape(mut self, shape: ImageShape) -> Result<Self> {
        shape.check_width(&self.name, self.dim())?;
        self.image = Some(shape);
        Ok(self)
    }

    /// Name the features (the columns, in order: a CSV file's header without its label
    /// column). Kept by every transform and selection of rows.
    ///
    /// # Errors
    /// [`Error::Shape`] when the number of names differs from the number of columns.
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.dim() {
            return Err(Error::shape(
                format!("{}: feature names", self.name),
                format!("{} names (one per column)", self.dim()),
                names.len(),
            ));
        }
        self.feature_names = Some(names);
        Ok(self)
    }

    /// Declare the interval the values live in (used for scaling and display).
    pub fn with_range(mut self, range: Option<ValueRange>) -> Self {
        self.range = range;
        self
    }

    /// Replace the rows by transformed ones of the same shape (transforms keep labels and
    /// image layout). The new values are checked for finiteness.
    ///
    /// # Errors
    /// [`Error::Shape`] on a shape change; [`Error::NonFinite`] as in [`Dataset::new`].
    pub fn map_rows(self, x: Array2<f32>, range: Option<ValueRange>) -> Result<Self> {
        if x.dim() != self.x.dim() {
            return Err(Error::shape(
                format!("{}: transformed rows", self.name),
                format!("{:?}", self.x.dim()),
                format!("{:?}", x.dim()),
            ));
        }
        let mut out = Dataset::new(self.name, x)?;
        out.labels = self.labels;
        out.class_names = self.class_names;
        out.image = self.image;
        out.range = range;
        out.feature_names = self.feature_names;
        Ok(out)
    }

    /// Transform the rows in place (no second copy of the data set), keeping labels and image
    /// layout; the new values are checked for finiteness.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the first NaN or infinite value the transform produced.
    pub fn update_rows(
        mut self,
        range: Option<ValueRange>,
        f: impl FnOnce(ArrayViewMut2<'_, f32>),
    ) -> Result<Self> {
        f(self.x.view_mut());
        if let Some((i, j)) = first_non_finite(self.x.view()) {
            return Err(Error::NonFinite(format!(
                "{}: row {i}, column {j} is {} after transforming",
                self.name,
                self.x[[i, j]]
            )));
        }
        self.range = range;
        Ok(self)
    }

    /// Where the data came from.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Number of rows (examples).
    pub fn n(&self) -> usize {
        self.x.nrows()
    }
    /// Number of features per row.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }
    /// The rows, `n × dim`.
    pub fn x(&self) -> ArrayView2<'_, f32> {
        self.x.view()
    }
    /// The labels, one per row, if any.
    pub fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref()
    }
    /// Names of the label values, if known.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }
    /// The image layout of a row, if the rows are images.
    pub fn image_shape(&self) -> Option<ImageShape> {
        self.image
    }
    /// The interval the values live in, if known.
    pub fn range(&self) -> Option<ValueRange> {
        self.range
    }
    /// The names of the features (columns), when the source named them (a CSV header).
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }
    /// Consume the dataset, returning its rows.
    pub fn into_x(self) -> Array2<f32> {
        self.x
    }

    /// The rows at `indices` (in that order), with their labels.
    ///
    /// # Errors
    /// [`Error::Shape`] when an index is out of range; [`Error::Empty`] for no indices.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n()) {
            return Err(Error::shape(
                format!("{}: row index", self.name),
                format!("< {}", self.n()),
                bad,
            ));
        }
        let x = self.x.select(Axis(0), indices);
        let mut out = Dataset::new(self.name.clone(), x)?;
        out.labels = self
            .labels
            .as_ref()
            .map(|l| indices.iter().map(|&i| l[i]).collect());
        out.class_names = self.class_names.clone();
        out.image = self.image;
        out.range = self.range;
        out.feature_names = self.feature_names.clone();
        Ok(out)
    }

    /// The first `n` rows (all of them when `n ≥ self.n()`).
    ///
    /// # Errors
    /// [`Error::Empty`] for `n = 0`.
    pub fn head(&self, n: usize) -> Result<Self> {
        let idx: Vec<usize> = (0..n.min(self.n())).collect();
        self.select(&idx)
    }

    /// A seeded random split into `(train, validation)`, with `round(fraction · n)` rows in
    /// the validation part. The same seed gives the same split.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `0 < fraction < 1` and both parts are non-empty.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        let (train, val) = self.split_indices(fraction, seed)?;
        Ok((self.select(&train)?, self.select(&val)?))
    }

    /// [`Dataset::split`] of a dataset that is not needed afterwards: the same two parts,
    /// but (for rows in standard layout) the training part reuses this dataset's storage:
    /// its rows are permuted in place and the buffer keeps its capacity, so the memory is
    /// the data plus the validation part rather than twice the data. Rows in another
    /// layout are copied, as by [`Dataset::split`].
    ///
    /// # Errors
    /// As [`Dataset::split`].
    pub fn into_split(mut self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        let (train, val) = self.split_indices(fraction, seed)?;
        let val_part = self.select(&val)?;
        if !self.x.is_standard_layout() {
            return Ok((self.select(&train)?, val_part));
        }
        // row j of the result is row order[j] of the data: the training rows first
        let order: Vec<usize> = train.iter().chain(&val).copied().collect();
        let (n, d) = (self.n(), self.dim());
        let x = std::mem::take(&mut self.x);
        let (mut values, offset) = x.into_raw_vec_and_offset();
        // standard layout: the n·d values are contiguous from the offset
        values.drain(..offset.unwrap_or(0));
        values.truncate(n * d);
        gather_in_place(&mut values, d, &order);
        values.truncate(train.len() * d);
        self.x = Array2::from_shape_vec((train.len(), d), values)
            .map_err(|e| Error::shape(format!("{}: rows", self.name), "n × d", e))?;
        if let Some(labels) = self.labels.as_mut() {
            gather_in_place(labels, 1, &order);
            labels.truncate(train.len());
        }
        Ok((self, val_part))
    }

    /// The shuffled row indices of [`Dataset::split`]: `(train, validation)`.
    fn split_indices(&self, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
        Self::split_rows(self.n(), fraction, seed)
    }

    /// The row indices [`Dataset::split`] gives a dataset of `n` rows: `(train,
    /// validation)`, each in the order the parts hold them (for the ranks of a job, which
    /// hold only some of the rows).
    ///
    /// # Errors
    /// As [`Dataset::split`].
    pub fn split_rows(n: usize, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::param(
                "validation fraction",
                format!("must be in (0, 1), got {fraction}"),
            ));
        }
        let n_val = (fraction * n as f64).round() as usize;
        if n_val == 0 || n_val >= n {
            return Err(Error::param(
                "validation fraction",
                format!("{fraction} of {n} rows leaves an empty train or validation part"),
            ));
        }
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut seed::rng(seed));
        let train = idx.split_off(n_val);
        Ok((train, idx))
    }
}

/// Permutes the rows of `data` (rows of `width` values) in place so that row `j` becomes
/// the old row `order[j]`; `order` is a permutation of the row indices. Follows each cycle
/// once, holding one row aside.
fn gather_in_place<T: Copy + Default>(data: &mut [T], width: usize, order: &[usize]) {
    let mut done = vec![false; order.len()];
    let mut held = vec![T::default(); width];
    for start in 0..order.len() {
        if done[start] || order[start] == start {
            continue;
        }
        held.copy_from_slice(&data[start * width..(start + 1) * width]);
        let mut j = start;
        loop {
            done[j] = true;
            let from = order[j];
            if from == start {
                data[j * width..(j + 1) * width].copy_from_slice(&held);
                break;
            }
            data.copy_within(from * width..(from + 1) * width, j * width);
            j = from;
        }
    }
}

/// The position of the first NaN or infinite value, scanning row by row.
pub(crate) fn first_non_finite(x: ArrayView2<'_, f32>) -> Option<(usize, usize)> {
    // the common case, all finite, in a loop without an early exit (it vectorises); the
    // search below runs only when there is something to find
    if let Some(values) = x.as_slice_memory_order() {
        let all_finite = values
            .chunks(4096)
            .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite()));
        if all_finite {
            return None;
        }
    }
    for (r, row) in x.outer_iter().enumerate() {
        if let Some(c) = row.iter().position(|v| !v.is_finite()) {
            return Some((r, c));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn rejects_empty_and_non_finite() {
        let empty = Array2::<f32>::zeros((0, 3));
        assert!(matches!(Dataset::new("e", empty), Err(Error::Empty(_))));
        let bad = array![[1.0, 2.0], [3.0, f32::NAN]];
        let err = Dataset::new("bad.csv", bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.csv") && err.contains("row 1, column 1"),
            "{err}"
        );
    }

    #[test]
    fn first_non_finite_finds_the_first_in_row_order() {
        use ndarray::ShapeBuilder;
        let mut x = Array2::<f32>::zeros((3000, 7));
        assert_eq!(first_non_finite(x.view()), None);
        x[[2500, 3]] = f32::INFINITY;
        x[[2900, 1]] = f32::NAN;
        assert_eq!(first_non_finite(x.view()), Some((2500, 3)));
        // column-major storage, a strided view
        let mut f = Array2::<f32>::zeros((3000, 7).f());
        f.assign(&x);
        assert_eq!(first_non_finite(f.view()), Some((2500, 3)));
        assert_eq!(
            first_non_finite(x.slice(ndarray::s![..;2, ..])),
            Some((1250, 3))
        );
        assert_eq!(first_non_finite(x.slice(ndarray::s![..2000, ..])), None);
    }

    #[test]
    fn labels_and_shape_must_match() {
        let d = Dataset::new("d", Array2::zeros((2, 4))).unwrap();
        assert!(d.clone().with_labels(vec![1]).is_err());
        assert!(d.clone().with_image_shape(ImageShape::gray(2, 3)).is_err());
        assert!(d.with_image_shape(ImageShape::gray(2, 2)).is_ok());
    }

    #[test]
    fn feature_names_follow_the_columns_through_selections_and_splits() {
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let x = Array2::from_shape_fn((10, 2), |(i, j)| (i * 2 + j) as f32);
        let d = Dataset::new("d", x).unwrap();
        assert!(d.clone().with_feature_names(vec!["a".into()]).is_err());
        let d = d.with_feature_names(names.clone()).unwrap();
        assert_eq!(d.feature_names(), Some(&names[..]));
        let (t, v) = d.split(0.3, 1).unwrap();
        assert_eq!(t.feature_names(), Some(&names[..]));
        assert_eq!(v.feature_names(), Some(&names[..]));
        let (t, _) = d.clone().into_split(0.3, 1).unwrap();
        assert_eq!(t.feature_names(), Some(&names[..]));
        let m = d.clone().map_rows(Array2::zeros((10, 2)), None).unwrap();
        assert_eq!(m.feature_names(), Some(&names[..]));
        let u = d.head(3).unwrap().update_rows(None, |_| {}).unwrap();
        assert_eq!(u.feature_names(), Some(&names[..]));
    }

    #[test]
    fn with_classes_replaces_labels_and_names_together() {
        let d = Dataset::new("d", Array2::zeros((3, 2)))
            .unwrap()
            .with_labels(vec![0, 1, 2])
            .unwrap()
            .with_class_names(vec!["a".into(), "b".into(), "c".into()])
            .unwrap();
        let plain = d.clone().with_classes(vec![5, 0, 5], None).unwrap();
        assert_eq!(plain.labels(), Some(&[5, 0, 5][..]));
        assert_eq!(plain.class_names(), None);
        let named = d
            .clone()
            .with_classes(vec![1, 0, 1], Some(vec!["x".into(), "y".into()]))
            .unwrap();
        assert_eq!(named.class_names().map(<[String]>::len), Some(2));
        assert!(d.clone().with_classes(vec![0, 1], None).is_err());
        assert!(
            d.with_classes(vec![0, 1, 2], Some(vec!["x".into()]))
                .is_err()
        );
    }

    #[test]
    fn split_is_seeded_and_partitions_rows() {
        let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f32);
        let d = Dataset::new("d", x)
            .unwrap()
            .with_labels((0..10).collect())
            .unwrap();
        let (t1, v1) = d.split(0.3, 7).unwrap();
        let (t2, v2) = d.split(0.3, 7).unwrap();
        assert_eq!((t1.n(), v1.n()), (7, 3));
        assert_eq!(v1, v2);
        assert_eq!(t1, t2);
        let mut all: Vec<u32> = t1
            .labels()
            .unwrap()
            .iter()
            .chain(v1.labels().unwrap())
            .copied()
            .collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        // labels follow their rows
        for (row, &l) in v1.x().outer_iter().zip(v1.labels().unwrap()) {
            assert_eq!(row[0], l as f32);
        }
        let (_, v3) = d.split(0.3, 8).unwrap();
        assert_ne!(v1, v3);
        assert!(d.split(0.0, 1).is_err() && d.split(0.01, 1).is_err());
    }

    #[test]
    fn into_split_equals_split() {
        use ndarray::ShapeBuilder;
        // rows of 3 distinct values, labels that differ from the row index
        let x = Array2::from_shape_fn((101, 3), |(i, j)| (i * 3 + j) as f32);
        let d = Dataset::new("d", x)
            .unwrap()
            .with_labels((0..101).map(|i| (i * 7 % 101) as u32).collect())
            .unwrap();
        for (fraction, seed) in [(0.1, 1), (0.5, 2), (0.9, 3), (0.01, 4)] {
            let expected = d.split(fraction, seed).unwrap();
            assert_eq!(d.clone().into_split(fraction, seed).unwrap(), expected);
        }
        assert!(d.clone().into_split(0.0, 1).is_err());
        // column-major rows: the copying path
        let mut f = Array2::zeros((101, 3).f());
        f.assign(&d.x());
        let t = Dataset::new("t", f).unwrap();
        assert_eq!(
            t.clone().into_split(0.2, 5).unwrap(),
            t.split(0.2, 5).unwrap()
        );
    }

    #[test]
    fn gather_in_place_applies_the_permutation() {
        let order = [3, 0, 4, 1, 2, 5];
        let mut data: Vec<u32> = (0..12).collect();
        gather_in_place(&mut data, 2, &order);
        let expected: Vec<u32> = order
            .iter()
            .flat_map(|&r| [2 * r as u32, 2 * r as u32 + 1])
            .collect();
        assert_eq!(data, expected);
    }
}
