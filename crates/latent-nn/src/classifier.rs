//! A small MLP classifier that latent trains itself, to measure generated images: its
//! penultimate-layer activations are the feature space of the Fréchet distance (the
//! "Fréchet LeNet distance" idea, with an MLP: no conv kernel is fast on burn's CPU backend),
//! and its softmax confidence on decoded samples says how class-like they look.
//!
//! Trained with cross-entropy and Adam on the labelled training split; seeded, so the same
//! data and seed give the same classifier.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;

use crate::model::linear;
use crate::optim::{Adam, AdamSettings, named_grads};
use crate::train::{batch_tensor, to_array2};
use crate::{NnError, Result};

/// Settings of [`Classifier::train`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierConfig {
    /// Hidden layer widths; the last one is the feature space (default `[512, 128]`).
    pub hidden: Vec<usize>,
    /// Passes over the training rows (default 5).
    pub epochs: usize,
    /// Rows per step (default 128).
    pub batch_size: usize,
    /// Adam's learning rate (default 1e-3).
    pub lr: f64,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            hidden: vec![512, 128],
            epochs: 5,
            batch_size: 128,
            lr: 1e-3,
            seed: 0,
        }
    }
}

#[derive(Module, Debug)]
struct ClassifierNet {
    hidden: Vec<Linear>,
    out: Linear,
}

impl ClassifierNet {
    /// Penultimate activations `[B, H]` and logits `[B, C]`.
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let mut h = x;
        for l in &self.hidden {
            h = relu(l.forward(h));
        }
        let logits = self.out.forward(h.clone());
        (h, logits)
    }
}

/// A trained classifier: features, class probabilities, accuracy.
#[derive(Debug)]
pub struct Classifier {
    net: ClassifierNet,
    device: Device,
    input_dim: usize,
    classes: usize,
}

impl Classifier {
    /// Train on rows `x` with `labels` (each `< classes`).
    ///
    /// # Errors
    /// [`NnError::InvalidParam`] for empty data, a label count that differs from the rows, a
    /// label out of range, fewer than two classes or zero sizes; [`NnError::Diverged`] when
    /// the loss stops being finite.
    pub fn train(
        x: ArrayView2<'_, f32>,
        labels: &[u32],
        classes: usize,
        cfg: &ClassifierConfig,
        device: &Device,
    ) -> Result<Self> {
        let (n, d) = x.dim();
        if n == 0 || d == 0 {
            return Err(NnError::param("classifier", "no training rows"));
        }
        if labels.len() != n {
            return Err(NnError::param(
                "classifier",
                format!("{} labels for {n} rows", labels.len()),
            ));
        }
        if classes < 2 {
            return Err(NnError::param("classifier", "needs at least two classes"));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(NnError::param(
                "classifier",
                format!("label {bad} is not below the class count {classes}"),
            ));
        }
        if cfg.epochs == 0 || cfg.batch_size == 0 || cfg.hidden.contains(&0) || cfg.lr <= 0.0 {
            return Err(NnError::param(
                "classifier",
                "epochs, batch size, widths and learning rate must be positive",
            ));
        }
        let ad = device.clone().autodiff();
        let mut rng = latent_core::seed::rng(latent_core::seed::derive(cfg.seed, "classifier"));
        let mut width = d;
        let mut hidden = Vec::new();
        for &h in &cfg.hidden {
            hidden.push(linear(width, h, &mut rng, &ad));
            width = h;
        }
        let out = linear(width, classes, &mut rng, &ad);
        let mut net = ClassifierNet { hidden, out };
        let mut adam = Adam::new(AdamSettings {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        });
        let mut order: Vec<usize> = (0..n).collect();
        for epoch in 0..cfg.epochs {
            order.shuffle(&mut rng);
            for (step, rows) in order.chunks(cfg.batch_size).enumerate() {
                let xb = batch_tensor(x, rows, None, &ad);
                let mut onehot = vec![0.0f32; rows.len() * classes];
                for (r, &i) in rows.iter().enumerate() {
                    onehot[r * classes + labels[i] as usize] = 1.0;
                }
                let t = Tensor::<2>::from_data(TensorData::new(onehot, [rows.len(), classes]), &ad);
                let (_, logits) = net.forward(xb);
                let loss = (log_softmax(logits, 1) * t).sum().neg() / rows.len() as f64;
                let value = crate::params::to_host(loss.clone())?
                    .iter()
                    .next()
                    .map_or(f64::NAN, |&v| f64::from(v));
                if !value.is_finite() {
                    return Err(NnError::Diverged {
                        epoch: epoch + 1,
                        step: step + 1,
                        what: "classifier cross-entropy".into(),
                        hint: String::new(),
                    });
                }
                let grads = loss.backward();
                let named = named_grads(&net, &grads);
                net = adam.step(net, named, cfg.lr)?;
            }
        }
        let device = device.clone().without_autodiff();
        Ok(Classifier {
            net: net.valid().to_device(&device),
            device,
            input_dim: d,
            classes,
        })
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Width of the feature space ([`Classifier::features`]).
    pub fn feature_dim(&self) -> usize {
        self.net
            .hidden
            .last()
            .map_or(self.input_dim, |l| l.weight.dims()[1])
    }

    fn check(&self, x: ArrayView2<'_, f32>) -> Result<()> {
        if x.ncols() == self.input_dim {
            Ok(())
        } else {
            Err(NnError::param(
                "classifier",
                format!(
                    "rows have {} features, the classifier was trained on {}",
                    x.ncols(),
                    self.input_dim
                ),
            ))
        }
    }

    fn batched(
        &self,
        x: ArrayView2<'_, f32>,
        pick: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
        width: usize,
    ) -> Result<Array2<f32>> {
        self.check(x)?;
        let n = x.nrows();
        let mut out = Array2::zeros((n, width));
        let rows: Vec<usize> = (0..n).collect();
        for (c, chunk) in rows.chunks(1024).enumerate() {
            let (h, logits) = self.net.forward(batch_tensor(x, chunk, None, &self.device));
            let a = to_array2(pick(h, logits))?;
            out.slice_mut(ndarray::s![c * 1024..c * 1024 + chunk.len(), ..])
                .assign(&a);
        }
        Ok(out)
    }

    /// Penultimate-layer activations `[N, H]`: the feature space of the Fréchet distance.
    ///
    /// # Errors
    /// A column count that differs from training; backend failures.
    pub fn features(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.batched(x, |h, _| h, self.feature_dim())
    }

    /// Class probabilities `[N, C]` (softmax of the logits).
    ///
    /// # Errors
    /// As [`Classifier::features`].
    pub fn probabilities(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.batched(x, |_, logits| softmax(logits, 1), self.classes)
    }

    /// The fraction of rows whose most probable class is their label.
    ///
    /// # Errors
    /// As [`Classifier::features`], and a label count that differs from the rows.
    pub fn accuracy(&self, x: ArrayView2<'_, f32>, labels: &[u32]) -> Result<f64> {
        if labels.len() != x.nrows() {
            return Err(NnError::param(
                "classifier",
                format!("{} labels for {} rows", labels.len(), x.nrows()),
            ));
        }
        let p = self.probabilities(x)?;
        let right = p
            .rows()
            .into_iter()
            .zip(labels)
            .filter(|(row, l)| argmax(row.iter().copied()) == **l as usize)
            .count();
        Ok(right as f64 / labels.len().max(1) as f64)
    }
}

fn argmax(v: impl Iterator<Item = f32>) -> usize {
    v.enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Three well-separated Gaussian blobs in 5-D.
    fn blobs(n: usize, seed: u64) -> (Array2<f32>, Vec<u32>) {
        let mut rng = latent_core::seed::rng(seed);
        let mut x = Array2::zeros((n, 5));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % 3;
            for j in 0..5 {
                let centre = if j == c { 3.0 } else { 0.0 };
                x[[i, j]] = centre + rng.random::<f32>() - 0.5;
            }
            y.push(c as u32);
        }
        (x, y)
    }

    #[test]
    fn learns_separable_classes_and_reports_shapes() {
        let (x, y) = blobs(300, 1);
        let cfg = ClassifierConfig {
            hidden: vec![16, 8],
            epochs: 20,
            batch_size: 32,
            lr: 1e-2,
            seed: 3,
        };
        let c = Classifier::train(x.view(), &y, 3, &cfg, &crate::cpu_device()).unwrap();
        let (xt, yt) = blobs(90, 2);
        assert!(c.accuracy(xt.view(), &yt).unwrap() > 0.95);
        assert_eq!(c.features(xt.view()).unwrap().dim(), (90, 8));
        let p = c.probabilities(xt.view()).unwrap();
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5);
        }
        // an untrained-looking input (wrong width) is an error, not a panic
        assert!(c.features(Array2::zeros((2, 4)).view()).is_err());
        // same seed, same classifier
        let c2 = Classifier::train(x.view(), &y, 3, &cfg, &crate::cpu_device()).unwrap();
        assert_eq!(
            c.features(xt.view()).unwrap(),
            c2.features(xt.view()).unwrap()
        );
    }

    #[test]
    fn bad_labels_are_errors() {
        let (x, mut y) = blobs(30, 1);
        let dev = crate::cpu_device();
        let cfg = ClassifierConfig::default();
        assert!(Classifier::train(x.view(), &y[..10], 3, &cfg, &dev).is_err());
        assert!(Classifier::train(x.view(), &y, 1, &cfg, &dev).is_err());
        y[4] = 7;
        assert!(Classifier::train(x.view(), &y, 3, &cfg, &dev).is_err());
    }
}
