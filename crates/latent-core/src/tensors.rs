//! Named f32 tensors in the safetensors format (readable by Python's `safetensors`), and the
//! SHA-256 checksums that run directories record for them.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::Error;

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A set of named f32 tensors, kept sorted by name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tensors(BTreeMap<String, ArrayD<f32>>);

impl Tensors {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tensor `name`, if present.
    pub fn get_any(&self, name: &str) -> Option<&ArrayD<f32>> {
        self.0.get(name)
    }

    /// Names and tensors, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArrayD<f32>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Add (or replace) a tensor.
    pub fn insert(&mut self, name: &str, value: ArrayD<f32>) {
        self.0.insert(name.to_string(), value);
    }

    /// Serialize to safetensors bytes (little-endian f32, C order), with `metadata` in the
    /// header's `__metadata__`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when safetensors rejects the layout (cannot happen for
    /// well-formed arrays).
    pub fn to_bytes(&self, metadata: BTreeMap<String, String>) -> Result<Vec<u8>, Error> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .0
            .iter()
            .map(|(name, a)| {
                let data = a.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name.clone(), a.shape().to_vec(), data)
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, shape, data)| {
                TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (name.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Corrupt {
                path: "<memory>".into(),
                reason: format!("safetensors: {e}"),
            })?;
        safetensors::serialize(
            views,
            // safetensors keeps metadata in a HashMap, whose order varies between runs: only
            // write it when asked, so that identical tensors give identical files.
            (!metadata.is_empty()).then(|| metadata.into_iter().collect()),
        )
        .map_err(|e| Error::Corrupt {
            path: "<memory>".into(),
            reason: format!("safetensors: {e}"),
        })
    }

    /// Parse safetensors bytes read from `path`; every tensor must be f32 and finite.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the file and the cause.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, Error> {
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(format!("{e}")))?;
        let mut out = Tensors::new();
        for (name, view) in st.iter() {
            if view.dtype() != Dtype::F32 {
                return Err(corrupt(format!(
                    "tensor `{name}` is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(corrupt(format!("tensor `{name}` holds NaN or infinity")));
            }
            let a = ArrayD::from_shape_vec(IxDyn(view.shape()), values)
                .map_err(|e| corrupt(format!("tensor `{name}`: {e}")))?;
            out.0.insert(name.to_string(), a);
        }
        Ok(out)
    }

    fn get(&self, path: &Path, name: &str, ndim: usize) -> Result<&ArrayD<f32>, Error> {
        let a = self.0.get(name).ok_or_else(|| Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("tensor `{name}` is missing"),
        })?;
        if a.ndim() != ndim {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "tensor `{name}` has shape {:?}, expected {ndim} axes",
                    a.shape()
                ),
            });
        }
        Ok(a)
    }

    /// The 1-D tensor `name`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when it is missing or not 1-D.
    pub fn vector(&self, path: &Path, name: &str) -> Result<Array1<f32>, Error> {
        let a = self.get(path, name, 1)?;
        Ok(Array1::from_iter(a.iter().copied()))
    }

    /// The 2-D tensor `name`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when it is missing or not 2-D.
    pub fn matrix(&self, path: &Path, name: &str) -> Result<Array2<f32>, Error> {
        let a = self.get(path, name, 2)?;
        let (r, c) = (a.shape()[0], a.shape()[1]);
        Array2::from_shape_vec((r, c), a.iter().copied().collect()).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("tensor `{name}`: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn round_trip_is_exact() {
        let mut t = Tensors::new();
        t.insert("w", array![[1.5f32, -2.0], [3.25, 1e-30]].into_dyn());
        t.insert("b", array![0.1f32, 0.2, 0.3].into_dyn());
        let bytes = t.to_bytes(BTreeMap::new()).unwrap();
        let back = Tensors::from_bytes(Path::new("m.safetensors"), &bytes).unwrap();
        assert_eq!(t, back);
        assert_eq!(
            back.matrix(Path::new("m"), "w").unwrap(),
            array![[1.5f32, -2.0], [3.25, 1e-30]]
        );
        assert!(back.matrix(Path::new("m"), "b").is_err());
        let err = back
            .vector(Path::new("m.safetensors"), "nope")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.safetensors") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_a_corrupt_error() {
        let empty = Tensors::from_bytes(Path::new("x.safetensors"), b"\x02\0\0\0\0\0\0\0{}");
        assert_eq!(empty.unwrap(), Tensors::new());
        for bad in [
            &b""[..],
            b"\xff\xff\xff\xff\xff\xff\xff\x7f",
            b"\x04\0\0\0\0\0\0\0abcd",
        ] {
            let e = Tensors::from_bytes(Path::new("x.safetensors"), bad).unwrap_err();
            assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        }
    }
}
