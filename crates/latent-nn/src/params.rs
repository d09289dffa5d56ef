//! Parameters by name: the bridge between a burn module and named tensors (weights files,
//! optimizer state, and the gradient seam where a data-parallel all-reduce plugs in).
//!
//! Names are the module's field path joined by dots (`encoder.0.weight`, `mean.bias`,
//! `log_sigma`). burn stores a linear layer's weight as `[d_in, d_out]`, the transpose of
//! PyTorch's `[out, in]`.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use ndarray::{ArrayD, IxDyn};

use crate::{NnError, Result};

/// Host copies of named f32 tensors.
pub type HostTensors = BTreeMap<String, ArrayD<f32>>;

/// Copy a tensor to the host.
///
/// # Errors
/// [`NnError::Backend`] when the data cannot be read as f32.
pub fn to_host<const D: usize>(t: Tensor<D>) -> Result<ArrayD<f32>> {
    let shape = t.dims().to_vec();
    let data = t.into_data_as::<f32>();
    let values = data
        .as_slice::<f32>()
        .map_err(|e| NnError::Backend(format!("{e:?}")))?
        .to_vec();
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| NnError::Backend(e.to_string()))
}

struct Collect {
    path: Vec<String>,
    out: HostTensors,
    error: Option<NnError>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        match to_host(param.val()) {
            Ok(a) => {
                self.out.insert(self.path.join("."), a);
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// Every float parameter of `module`, by name.
///
/// # Errors
/// [`NnError::Backend`] when a tensor cannot be read.
pub fn named_params<M: Module>(module: &M) -> Result<HostTensors> {
    let mut c = Collect {
        path: Vec::new(),
        out: BTreeMap::new(),
        error: None,
    };
    module.visit(&mut c);
    match c.error {
        Some(e) => Err(e),
        None => Ok(c.out),
    }
}

struct Assign<'a> {
    path: Vec<String>,
    values: &'a HostTensors,
    used: usize,
    error: Option<String>,
}

impl ModuleMapper for Assign<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        let Some(value) = self.values.get(&name) else {
            self.error
                .get_or_insert(format!("tensor `{name}` is missing"));
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        if value.shape() != dims.as_slice() {
            self.error.get_or_insert(format!(
                "tensor `{name}` has shape {:?}, the model expects {:?}",
                value.shape(),
                dims
            ));
            return Param::from_mapped_value(id, tensor, mapper);
        }
        self.used += 1;
        let device = tensor.device();
        let require_grad = tensor.is_require_grad();
        let data = TensorData::new(value.iter().copied().collect::<Vec<f32>>(), dims);
        let mut t = Tensor::<D>::from_data(data, &device);
        if require_grad {
            t = t.require_grad();
        }
        Param::from_mapped_value(id, t, mapper)
    }
}

/// Replace every float parameter of `module` by the tensor of the same name.
///
/// # Errors
/// [`NnError::Checkpoint`] (naming `source`) when a tensor is missing, has the wrong shape,
/// holds a value that is not finite, or when `values` holds tensors the module does not
/// have.
pub fn load_params<M: Module>(
    module: M,
    values: &HostTensors,
    source: &std::path::Path,
) -> Result<M> {
    // A NaN or infinite weight is a corrupt file (training stops at the first non-finite
    // loss or parameter and keeps only the last good checkpoint): refused here, for
    // inference and for a resumed run alike — a ReLU maps a NaN to zero, so the codes would
    // be finite and wrong.
    if let Some((name, _)) = values
        .iter()
        .find(|(_, a)| a.iter().any(|v| !v.is_finite()))
    {
        return Err(NnError::Checkpoint {
            path: source.to_path_buf(),
            reason: format!("parameter `{name}` holds a non-finite value (NaN or infinity)"),
        });
    }
    let mut a = Assign {
        path: Vec::new(),
        values,
        used: 0,
        error: None,
    };
    let module = module.map(&mut a);
    if let Some(reason) = a.error {
        return Err(NnError::Checkpoint {
            path: source.to_path_buf(),
            reason,
        });
    }
    if a.used != values.len() {
        return Err(NnError::Checkpoint {
            path: source.to_path_buf(),
            reason: format!("holds {} tensors, the model has {}", values.len(), a.used),
        });
    }
    Ok(module)
}
