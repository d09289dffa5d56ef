//! Rows a front end lends to a fit without a copy: a NumPy array from the Python package.
//!
//! A [`Dataset`] owns its rows; copying a 60,000 × 784 array into one costs more than a
//! quarter of an exact PCA fit of it. [`LentRows`] borrows them instead, with what a fit
//! needs to know of them, checked as [`Dataset::new`] checks (the same errors), and each
//! column's extent found in the same single pass as the check, for [`FitRows`].

use latent_core::{Dataset, ImageShape, ValueRange};
use ndarray::ArrayView2;

use crate::Result;
use crate::transform::{FitRows, Preprocess, Scaling, extent_checked, observed_range, standardize};

/// Rows held elsewhere, borrowed for a fit: finite, at least one row and one column.
#[derive(Debug, Clone)]
pub struct LentRows<'a> {
    name: String,
    x: ArrayView2<'a, f32>,
    range: Option<ValueRange>,
    image: Option<ImageShape>,
    lo: Vec<f32>,
    hi: Vec<f32>,
}

impl<'a> LentRows<'a> {
    /// The rows of `x`, named `name` in messages, in one pass over them.
    ///
    /// # Errors
    /// As [`Dataset::new`]: [`latent_core::Error::Empty`] without rows or columns,
    /// [`latent_core::Error::NonFinite`] naming the first NaN or infinite value.
    pub fn new(name: impl Into<String>, x: ArrayView2<'a, f32>) -> latent_core::Result<Self> {
        let name = name.into();
        if x.is_empty() {
            Dataset::check_rows(&name, x)?;
        }
        let (lo, hi, finite) = extent_checked(x);
        if !finite {
            // the slow search, only to name the first non-finite value
            Dataset::check_rows(&name, x)?;
        }
        Ok(LentRows {
            name,
            x,
            range: None,
            image: None,
            lo,
            hi,
        })
    }

    /// Declare the values' known range (8-bit data: 0–255), as [`Dataset::with_range`].
    #[must_use]
    pub fn with_range(mut self, range: Option<ValueRange>) -> Self {
        self.range = range;
        self
    }

    /// Declare the rows images of `shape`, as [`Dataset::with_image_shape`].
    ///
    /// # Errors
    /// [`latent_core::Error::Shape`] when the shape does not fit the width.
    pub fn with_image_shape(mut self, shape: ImageShape) -> latent_core::Result<Self> {
        shape.check_width(&self.name, self.x.ncols())?;
        self.image = Some(shape);
        Ok(self)
    }

    /// Where the rows came from, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rows.
    pub fn x(&self) -> ArrayView2<'a, f32> {
        self.x
    }

    /// The number of rows.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }

    /// The number of values per row.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }

    /// The values' known range, if declared.
    pub fn range(&self) -> Option<ValueRange> {
        self.range
    }

    /// The image layout of the rows, if declared.
    pub fn image_shape(&self) -> Option<ImageShape> {
        self.image
    }

    /// The smallest and largest value of all the rows (known from the check's pass).
    pub fn extent(&self) -> ValueRange {
        ValueRange {
            min: self.lo.iter().fold(f32::INFINITY, |m, &v| m.min(v)),
            max: self.hi.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)),
        }
    }

    /// A [`Dataset`] of a copy of the rows, with the same range and image layout.
    ///
    /// # Errors
    /// None in practice: the rows were checked when lent.
    pub fn to_dataset(&self) -> latent_core::Result<Dataset> {
        let data = Dataset::new(self.name.clone(), self.x.to_owned())?.with_range(self.range);
        match self.image {
            Some(shape) => data.with_image_shape(shape),
            None => Ok(data),
        }
    }
}

impl FitRows for LentRows<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn known_range(&self) -> Option<ValueRange> {
        self.range
    }

    fn image_shape(&self) -> Option<ImageShape> {
        self.image
    }

    fn column_extent(&self) -> latent_core::Result<(Vec<f32>, Vec<f32>)> {
        Ok((self.lo.clone(), self.hi.clone()))
    }

    fn standardize(&self) -> latent_core::Result<Scaling> {
        Ok(standardize(self.x))
    }

    fn extent_after(&self, pre: &Preprocess) -> Result<Option<(f32, f32)>> {
        Ok(if pre.is_identity() {
            let r = self.extent();
            Some((r.min, r.max))
        } else {
            observed_range(pre.apply_rows(self.x)?.view())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ndarray::{Array2, ShapeBuilder, array};

    #[test]
    fn the_extent_and_the_check_in_one_pass() {
        let x = array![[1.0f32, -2.0, 0.5], [3.0, 4.0, -0.5], [0.0, 0.0, 0.0]];
        let (lo, hi, finite) = extent_checked(x.view());
        assert_eq!(lo, vec![0.0, -2.0, -0.5]);
        assert_eq!(hi, vec![3.0, 4.0, 0.5]);
        assert!(finite);
        // the same on a column-major array (rows copied out one at a time)
        let mut f = Array2::<f32>::zeros((3, 3).f());
        f.assign(&x);
        let (flo, fhi, ffinite) = extent_checked(f.view());
        assert_eq!((flo, fhi, ffinite), (lo, hi, true));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut y = x.clone();
            y[[1, 2]] = bad;
            assert!(!extent_checked(y.view()).2, "{bad}");
        }
        // large finite values do not overflow the check
        assert!(extent_checked(array![[f32::MAX, -f32::MAX]].view()).2);
    }

    #[test]
    fn lent_rows_are_checked_as_a_data_set_is() {
        let mut x = Array2::<f32>::zeros((40, 5));
        x[[30, 2]] = f32::NAN;
        x[[35, 1]] = f32::INFINITY;
        let lent = LentRows::new("X", x.view()).unwrap_err().to_string();
        let owned = Dataset::new("X", x.clone()).unwrap_err().to_string();
        assert_eq!(lent, owned);
        assert!(lent.contains("row 30, column 2 is NaN"), "{lent}");
        let empty = Array2::<f32>::zeros((0, 5));
        assert_eq!(
            LentRows::new("X", empty.view()).unwrap_err().to_string(),
            Dataset::new("X", empty.clone()).unwrap_err().to_string()
        );
        let ok = Array2::<f32>::from_shape_fn((4, 6), |(i, j)| (i * 6 + j) as f32);
        let lent = LentRows::new("X", ok.view()).unwrap();
        assert_eq!(
            lent.extent(),
            ValueRange {
                min: 0.0,
                max: 23.0
            }
        );
        assert!(
            lent.clone()
                .with_image_shape(ImageShape::gray(2, 2))
                .is_err()
        );
        let shaped = lent.with_image_shape(ImageShape::gray(2, 3)).unwrap();
        let data = shaped.to_dataset().unwrap();
        assert_eq!(data.x(), ok.view());
        assert_eq!(data.image_shape(), Some(ImageShape::gray(2, 3)));
    }
}
