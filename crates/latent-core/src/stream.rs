//! Streaming rows in batches, for algorithms whose memory must not grow with the number of
//! rows (incremental PCA). Readers of sequential formats (IDX, NPY) implement [`RowSource`]
//! over a file; [`ArrayRows`] serves an array already in memory.

use ndarray::{Array2, ArrayView2, s};

use crate::Result;

/// A one-pass source of rows, read in batches.
pub trait RowSource {
    /// Features per row.
    fn dim(&self) -> usize;

    /// The total number of rows, when known in advance.
    fn len_hint(&self) -> Option<usize>;

    /// The interval the values live in, when the format says (8-bit pixels: 0..255).
    fn range(&self) -> Option<crate::ValueRange> {
        None
    }

    /// The image layout of a row, when the format says.
    fn image_shape(&self) -> Option<crate::ImageShape> {
        None
    }

    /// The next batch of at most `max_rows` rows (at least one), or `None` at the end.
    ///
    /// # Errors
    /// A read or parse failure of the underlying source, naming it ([`crate::Error::Source`]).
    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Array2<f32>>>;
}

/// [`RowSource`] over an in-memory array.
#[derive(Debug)]
pub struct ArrayRows<'a> {
    x: ArrayView2<'a, f32>,
    pos: usize,
}

impl<'a> ArrayRows<'a> {
    /// Serve the rows of `x`, top to bottom.
    pub fn new(x: ArrayView2<'a, f32>) -> Self {
        Self { x, pos: 0 }
    }
}

impl RowSource for ArrayRows<'_> {
    fn dim(&self) -> usize {
        self.x.ncols()
    }
    fn len_hint(&self) -> Option<usize> {
        Some(self.x.nrows())
    }
    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Array2<f32>>> {
        if self.pos >= self.x.nrows() {
            return Ok(None);
        }
        let end = (self.pos + max_rows.max(1)).min(self.x.nrows());
        let batch = self.x.slice(s![self.pos..end, ..]).to_owned();
        self.pos = end;
        Ok(Some(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_every_row_once() {
        let x = Array2::from_shape_fn((7, 2), |(i, j)| (i * 2 + j) as f32);
        let mut src = ArrayRows::new(x.view());
        let mut seen = Vec::new();
        while let Some(b) = src.next_batch(3).unwrap() {
            assert!(b.nrows() <= 3 && b.nrows() > 0);
            seen.extend(b.iter().copied());
        }
        assert_eq!(seen, x.iter().copied().collect::<Vec<_>>());
    }
}
