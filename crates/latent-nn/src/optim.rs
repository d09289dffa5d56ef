//! Adam over named parameters, with PyTorch's update rule and defaults.
//!
//! Training goes `loss.backward()` → [`named_grads`] (gradients as named host-independent
//! tensors: the seam where a data-parallel all-reduce plugs in) → [`Adam::step`]. The state
//! (step count, first and second moments by parameter name) is saved with every checkpoint,
//! so a resumed run continues exactly.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor, TensorData};

use crate::params::{HostTensors, to_host};
use crate::{NnError, Result};

/// Gradients by parameter name, flattened to 1-D.
pub type NamedGrads = BTreeMap<String, Tensor<1>>;

struct GradCollect<'a> {
    path: Vec<String>,
    grads: &'a Gradients,
    out: NamedGrads,
}

impl ModuleVisitor for GradCollect<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = param.val().grad(self.grads) {
            let n = g.dims().iter().product::<usize>();
            self.out.insert(self.path.join("."), g.reshape([n]));
        }
    }
}

/// The gradient of every parameter of `module` that has one.
pub fn named_grads<M: Module>(module: &M, grads: &Gradients) -> NamedGrads {
    let mut c = GradCollect {
        path: Vec::new(),
        grads,
        out: BTreeMap::new(),
    };
    module.visit(&mut c);
    c.out
}

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamSettings {
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε, added to √v̂ (PyTorch: 1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient (PyTorch Adam's `weight_decay`).
    pub weight_decay: f64,
}

/// Adam (Kingma & Ba) with bias correction, as `torch.optim.Adam`.
#[derive(Debug, Clone)]
pub struct Adam {
    settings: AdamSettings,
    step: u64,
    m: BTreeMap<String, Tensor<1>>,
    v: BTreeMap<String, Tensor<1>>,
}

struct Update<'a> {
    path: Vec<String>,
    grads: &'a mut NamedGrads,
    adam: &'a mut Adam,
    lr: f64,
}

impl ModuleMapper for Update<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        let Some(g) = self.grads.remove(&name) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let n = dims.iter().product::<usize>();
        let p = tensor.inner().reshape([n]);
        let s = self.adam.settings;
        let g = if s.weight_decay > 0.0 {
            g + p.clone() * s.weight_decay
        } else {
            g
        };
        let m = match self.adam.m.remove(&name) {
            Some(m) => m * s.beta1 + g.clone() * (1.0 - s.beta1),
            None => g.clone() * (1.0 - s.beta1),
        };
        let v = match self.adam.v.remove(&name) {
            Some(v) => v * s.beta2 + g.square() * (1.0 - s.beta2),
            None => g.square() * (1.0 - s.beta2),
        };
        let t = self.adam.step as i32;
        let c1 = 1.0 - s.beta1.powi(t);
        let c2 = 1.0 - s.beta2.powi(t);
        // p ← p − lr · (m / c1) / (√(v / c2) + ε)
        let denom = (v.clone() * (1.0 / c2)).sqrt() + s.eps;
        let p = p - (m.clone() * (self.lr / c1)) / denom;
        self.adam.m.insert(name.clone(), m);
        self.adam.v.insert(name, v);
        let updated = Tensor::<D>::from_inner(p.reshape(dims)).require_grad();
        Param::from_mapped_value(id, updated, mapper)
    }
}

impl Adam {
    /// A fresh optimizer.
    pub fn new(settings: AdamSettings) -> Self {
        Adam {
            settings,
            step: 0,
            m: BTreeMap::new(),
            v: BTreeMap::new(),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update of every parameter that has a gradient in `grads`.
    pub fn step<M: Module>(&mut self, module: M, mut grads: NamedGrads, lr: f64) -> M {
        self.step += 1;
        let mut u = Update {
            path: Vec::new(),
            grads: &mut grads,
            adam: self,
            lr,
        };
        module.map(&mut u)
    }

    /// The moments as host tensors (`m.NAME`, `v.NAME`) and the step count, for checkpoints.
    ///
    /// # Errors
    /// [`NnError::Backend`] when a tensor cannot be read.
    pub fn state(&self) -> Result<(u64, HostTensors)> {
        let mut out = BTreeMap::new();
        for (prefix, map) in [("m", &self.m), ("v", &self.v)] {
            for (name, t) in map {
                out.insert(format!("{prefix}.{name}"), to_host(t.clone())?);
            }
        }
        Ok((self.step, out))
    }

    /// Restore the state saved by [`Adam::state`] onto `device`.
    ///
    /// # Errors
    /// [`NnError::Checkpoint`] naming `source` for a tensor name that is not `m.*` / `v.*`.
    pub fn restore(
        settings: AdamSettings,
        step: u64,
        state: &HostTensors,
        device: &burn::tensor::Device,
        source: &std::path::Path,
    ) -> Result<Self> {
        let mut adam = Adam::new(settings);
        adam.step = step;
        for (key, a) in state {
            let values: Vec<f32> = a.iter().copied().collect();
            let n = values.len();
            let t = Tensor::<1>::from_data(TensorData::new(values, [n]), device);
            if let Some(name) = key.strip_prefix("m.") {
                adam.m.insert(name.to_string(), t);
            } else if let Some(name) = key.strip_prefix("v.") {
                adam.v.insert(name.to_string(), t);
            } else {
                return Err(NnError::Checkpoint {
                    path: source.to_path_buf(),
                    reason: format!("unexpected optimizer tensor `{key}`"),
                });
            }
        }
        Ok(adam)
    }
}
