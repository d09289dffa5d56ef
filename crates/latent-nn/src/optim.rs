//! Adam over named parameters, with PyTorch's update rule and defaults.
//!
//! Training goes `loss.backward()` → [`named_grads`] (gradients as named host-independent
//! tensors: the seam where a data-parallel all-reduce plugs in) → [`Adam::step`]. The state
//! (step count, first and second moments by parameter name) is saved with every checkpoint,
//! so a resumed run continues exactly.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor, TensorData};

use ndarray::{ArrayD, IxDyn};

use crate::params::HostTensors;
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
///
/// The moments live on the host, and each parameter is updated in one fused pass
/// ([`adam_update`]) instead of a dozen tensor operations that each allocate and sweep the
/// whole parameter: on the CPU backend that was a large share of a training step.
#[derive(Debug, Clone)]
pub struct Adam {
    settings: AdamSettings,
    step: u64,
    m: BTreeMap<String, Vec<f32>>,
    v: BTreeMap<String, Vec<f32>>,
}

/// The scalars of one Adam step, rounded to f32 once, as a tensor backend multiplies an f32
/// tensor by an f64 scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamScalars {
    /// β₁.
    pub beta1: f32,
    /// 1 − β₁.
    pub one_minus_beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// 1 − β₂.
    pub one_minus_beta2: f32,
    /// 1 / (1 − β₂ᵗ).
    pub inv_c2: f32,
    /// lr / (1 − β₁ᵗ).
    pub step_size: f32,
    /// ε.
    pub eps: f32,
    /// The L2 penalty (0: none).
    pub weight_decay: f32,
    /// A first moment below this in magnitude is stored as zero:
    /// `256 · f32::MIN_POSITIVE / min(step_size, 1)`, so that neither the moment's decay nor
    /// its update (`m · step_size`, divided by `√v̂ + ε`) is subnormal (see [`adam_update`]).
    pub m_floor: f32,
}

impl AdamScalars {
    /// The scalars of step `t` (1-based) with learning rate `lr`.
    pub fn new(s: &AdamSettings, t: u64, lr: f64) -> Self {
        let t = i32::try_from(t).unwrap_or(i32::MAX);
        let c1 = 1.0 - s.beta1.powi(t);
        let c2 = 1.0 - s.beta2.powi(t);
        AdamScalars {
            beta1: s.beta1 as f32,
            one_minus_beta1: (1.0 - s.beta1) as f32,
            beta2: s.beta2 as f32,
            one_minus_beta2: (1.0 - s.beta2) as f32,
            inv_c2: (1.0 / c2) as f32,
            step_size: (lr / c1) as f32,
            eps: s.eps as f32,
            weight_decay: s.weight_decay as f32,
            m_floor: (256.0 * f64::from(f32::MIN_POSITIVE) / (lr / c1).min(1.0)) as f32,
        }
    }
}

/// One Adam update of `p` with gradient `g`, in place, in one pass: the operations (and their
/// f32 rounding) of the tensor formulation
/// `g ← g + wd·p; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − (m·lr/c₁) / (√(v/c₂) + ε)`,
/// except that a moment that would be subnormal, or a first moment whose update would be,
/// is zero (see `flush` inside).
/// `first` is the first step of this parameter (no moments yet: `m = (1−β₁)g`, exactly).
///
/// # Panics
/// Never: the slices are walked together and the shortest bounds the loop; callers pass
/// equal lengths.
pub fn adam_update(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    k: &AdamScalars,
    first: bool,
) {
    // A moment that would be subnormal is stored as zero, and so is a first moment so small
    // that its update would be: arithmetic on subnormals takes x86's slow microcode path,
    // about a hundred cycles per element. A moment whose gradient is zero (a dead ReLU's
    // weights) decays by β₁ each step: without the flush it would stick at the smallest
    // subnormal (1.4e-45 · 0.9 rounds back to it) — measured on the reference VAE: by its
    // second epoch nearly half of the first layer's m was stuck there, and the epoch took
    // 1.5× as long — and on its way there its update `m · step_size` turns subnormal some
    // 60 steps before m does (the second epoch of the reference VAE, where the first layer's
    // units die, took 10–25 % longer than the next). Neither can move its parameter: the
    // update of a first moment below `m_floor` is below 256 · 1.2e-38 / ε (3e-28 at
    // ε = 1e-8), under half an ulp of any weight of magnitude over 1e-20.
    #[inline(always)]
    fn flush(x: f32, floor: f32) -> f32 {
        if x.abs() < floor { 0.0 } else { x }
    }
    // One loop per case, without branches inside, so that each vectorises.
    #[inline(always)]
    fn run(
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        k: &AdamScalars,
        first: bool,
        decay: bool,
    ) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = if decay { g + *p * k.weight_decay } else { g };
            if first {
                *m = flush(g * k.one_minus_beta1, k.m_floor);
                *v = flush((g * g) * k.one_minus_beta2, f32::MIN_POSITIVE);
            } else {
                *m = flush(*m * k.beta1 + g * k.one_minus_beta1, k.m_floor);
                *v = flush(
                    *v * k.beta2 + (g * g) * k.one_minus_beta2,
                    f32::MIN_POSITIVE,
                );
            }
            let denom = (*v * k.inv_c2).sqrt() + k.eps;
            *p -= (*m * k.step_size) / denom;
        }
    }
    // Compiled for the CPU's best instruction set (AVX2 where present) through pulp's
    // dispatch: square roots and divisions are correctly rounded in every width, so the bits
    // do not change. (A struct, not a closure: a closure's body is not reliably inlined into
    // the dispatched function, and then runs without the wider instructions.)
    struct Update<'a> {
        p: &'a mut [f32],
        g: &'a [f32],
        m: &'a mut [f32],
        v: &'a mut [f32],
        k: &'a AdamScalars,
        first: bool,
    }
    impl pulp::WithSimd for Update<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            let Update {
                p,
                g,
                m,
                v,
                k,
                first,
            } = self;
            match (first, k.weight_decay > 0.0) {
                (false, false) => run(p, g, m, v, k, false, false),
                (false, true) => run(p, g, m, v, k, false, true),
                (true, false) => run(p, g, m, v, k, true, false),
                (true, true) => run(p, g, m, v, k, true, true),
            }
        }
    }
    pulp::Arch::new().dispatch(Update {
        p,
        g,
        m,
        v,
        k,
        first,
    });
}

fn host_vec<const D: usize>(t: Tensor<D>) -> std::result::Result<Vec<f32>, String> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}

struct Update<'a> {
    path: Vec<String>,
    grads: &'a mut NamedGrads,
    adam: &'a mut Adam,
    scalars: AdamScalars,
    error: Option<NnError>,
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
        let inner = tensor.inner();
        let device = inner.device();
        let (mut p, g) = match (host_vec(inner.clone()), host_vec(g)) {
            (Ok(p), Ok(g)) if p.len() == g.len() => (p, g),
            (p, g) => {
                self.error = Some(NnError::Backend(format!(
                    "{name}: cannot read the parameter or its gradient ({} vs {} values)",
                    p.map_or(0, |v| v.len()),
                    g.map_or(0, |v| v.len())
                )));
                return Param::from_mapped_value(
                    id,
                    Tensor::from_inner(inner).require_grad(),
                    mapper,
                );
            }
        };
        self.adam.update_one(&name, &mut p, &g, &self.scalars);
        let updated = Tensor::<D>::from_data(TensorData::new(p, dims), &device);
        Param::from_mapped_value(id, Tensor::from_inner(updated).require_grad(), mapper)
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
    ///
    /// # Errors
    /// [`NnError::Backend`] when a parameter or gradient cannot be read from the device.
    pub fn step<M: Module>(&mut self, module: M, mut grads: NamedGrads, lr: f64) -> Result<M> {
        self.step += 1;
        let scalars = AdamScalars::new(&self.settings, self.step, lr);
        let mut u = Update {
            path: Vec::new(),
            grads: &mut grads,
            adam: self,
            scalars,
            error: None,
        };
        let module = module.map(&mut u);
        match u.error {
            Some(e) => Err(e),
            None => Ok(module),
        }
    }

    /// One update of host parameters: `(name, values, gradient)` for every parameter (the
    /// fused CPU path, [`crate::fused`]). The same update, and state, as [`Adam::step`].
    pub fn step_host<'a>(
        &mut self,
        params: impl Iterator<Item = (&'a str, &'a mut [f32], &'a [f32])>,
        lr: f64,
    ) {
        self.step += 1;
        let scalars = AdamScalars::new(&self.settings, self.step, lr);
        let params: Vec<_> = params.collect();
        // one job on rayon's pool for every parameter, the workers awake throughout (see
        // `FusedNet::train_step`)
        crate::awake::awake(|| {
            for (name, p, g) in params {
                self.update_one(name, p, g, &scalars);
            }
        });
    }

    /// Update parameter `name` in place, creating its moments on its first step. Large
    /// parameters are updated in fixed chunks on rayon's pool (element-wise: the same bits
    /// for any number of threads).
    fn update_one(&mut self, name: &str, p: &mut [f32], g: &[f32], k: &AdamScalars) {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 15;
        let n = p.len();
        let first = !self.m.contains_key(name);
        if first {
            self.m.insert(name.to_string(), vec![0.0; n]);
            self.v.insert(name.to_string(), vec![0.0; n]);
        }
        let (Some(m), Some(v)) = (self.m.get_mut(name), self.v.get_mut(name)) else {
            return;
        };
        if n < 2 * CHUNK {
            adam_update(p, g, m, v, k, first);
        } else {
            p.par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .for_each(|(((p, g), m), v)| adam_update(p, g, m, v, k, first));
        }
    }

    /// The moments as host tensors (`m.NAME`, `v.NAME`) and the step count, for checkpoints.
    ///
    /// # Errors
    /// [`NnError::Backend`] when a tensor cannot be read.
    pub fn state(&self) -> Result<(u64, HostTensors)> {
        let mut out = BTreeMap::new();
        for (prefix, map) in [("m", &self.m), ("v", &self.v)] {
            for (name, t) in map {
                let a = ArrayD::from_shape_vec(IxDyn(&[t.len()]), t.clone())
                    .map_err(|e| NnError::Backend(e.to_string()))?;
                out.insert(format!("{prefix}.{name}"), a);
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
        let _ = device; // the moments live on the host
        for (key, a) in state {
            let values: Vec<f32> = a.iter().copied().collect();
            if let Some(name) = key.strip_prefix("m.") {
                adam.m.insert(name.to_string(), values);
            } else if let Some(name) = key.strip_prefix("v.") {
                adam.v.insert(name.to_string(), values);
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// The fused host update gives the same bits as the tensor formulation it replaced, step
    /// after step, with and without weight decay.
    #[test]
    fn fused_update_equals_the_tensor_formulation_bit_for_bit() {
        let device = crate::cpu_device();
        let mut rng = latent_core::seed::rng(7);
        let n = 1000;
        for wd in [0.0, 0.01] {
            let s = AdamSettings {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: wd,
            };
            let mut p: Vec<f32> = (0..n).map(|_| rng.random::<f32>() - 0.5).collect();
            let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
            let t1 = |x: &[f32]| Tensor::<1>::from_data(TensorData::new(x.to_vec(), [n]), &device);
            let mut tp = t1(&p);
            let (mut tm, mut tv): (Option<Tensor<1>>, Option<Tensor<1>>) = (None, None);
            for step in 1..=5u64 {
                let g: Vec<f32> = (0..n).map(|_| (rng.random::<f32>() - 0.5) * 1e-2).collect();
                let lr = 1e-3 * step as f64;
                adam_update(
                    &mut p,
                    &g,
                    &mut m,
                    &mut v,
                    &AdamScalars::new(&s, step, lr),
                    step == 1,
                );
                // the tensor formulation (as burn computes `tensor * f64`)
                let mut tg = t1(&g);
                if wd > 0.0 {
                    tg = tg + tp.clone() * wd;
                }
                let nm = match tm.take() {
                    Some(m) => m * s.beta1 + tg.clone() * (1.0 - s.beta1),
                    None => tg.clone() * (1.0 - s.beta1),
                };
                let nv = match tv.take() {
                    Some(v) => v * s.beta2 + tg.clone().square() * (1.0 - s.beta2),
                    None => tg.square() * (1.0 - s.beta2),
                };
                let t = step as i32;
                let (c1, c2) = (1.0 - s.beta1.powi(t), 1.0 - s.beta2.powi(t));
                let denom = (nv.clone() * (1.0 / c2)).sqrt() + s.eps;
                tp = tp - (nm.clone() * (lr / c1)) / denom;
                tm = Some(nm);
                tv = Some(nv);
                let want = host_vec(tp.clone()).unwrap();
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&p), bits(&want), "step {step}, weight decay {wd}");
                assert_eq!(bits(&m), bits(&host_vec(tm.clone().unwrap()).unwrap()));
                assert_eq!(bits(&v), bits(&host_vec(tv.clone().unwrap()).unwrap()));
            }
        }
    }
    /// A parameter whose gradient stops (a dead unit): its first moment decays to the
    /// subnormal range, where the update stores zero instead; the parameter takes the same
    /// values as without the flush, step after step.
    #[test]
    fn subnormal_moments_are_zero_and_change_no_parameter() {
        let s = AdamSettings {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        let n = 64;
        let mut p: Vec<f32> = (0..n).map(|i| (i as f32 - 31.5) * 1e-2).collect();
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        let (mut rp, mut rm, mut rv) = (p.clone(), m.clone(), v.clone());
        let mut stuck = 0;
        for step in 1..=1500u64 {
            // a gradient for 10 steps, then none
            let g: Vec<f32> = (0..n)
                .map(|i| {
                    if step <= 10 {
                        (i as f32 + 1.0) * 1e-3
                    } else {
                        0.0
                    }
                })
                .collect();
            let k = AdamScalars::new(&s, step, 1e-3);
            adam_update(&mut p, &g, &mut m, &mut v, &k, step == 1);
            // the formula without the flush
            for i in 0..n {
                rm[i] = rm[i] * k.beta1 + g[i] * k.one_minus_beta1;
                rv[i] = rv[i] * k.beta2 + (g[i] * g[i]) * k.one_minus_beta2;
                let denom = (rv[i] * k.inv_c2).sqrt() + k.eps;
                rp[i] -= (rm[i] * k.step_size) / denom;
            }
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&p), bits(&rp), "step {step}");
            assert!(m.iter().chain(&v).all(|x| *x == 0.0 || x.is_normal()));
            // nor is a kept first moment's update
            assert!(m.iter().all(|x| *x == 0.0 || (x * k.step_size).is_normal()));
            stuck = rm.iter().filter(|x| x.is_subnormal()).count();
        }
        // without the flush, every moment is stuck at a subnormal value
        assert_eq!(stuck, n);
        assert!(m.iter().all(|x| *x == 0.0));
    }
}
