//! Which settings of a fit apply to it: a setting the fit would ignore is refused, never
//! silently dropped (an epoch count given to PCA, a β given to an autoencoder).
//!
//! [`inapplicable`] lists, by their `latent fit` flag, the settings a [`FitSpec`] does not use
//! given its family, architecture, solver and likelihood. A front end that knows which flags
//! the user gave refuses those ([`refusal`]); [`check`] refuses a spec whose inapplicable
//! settings differ from their defaults (what a library caller can be told).

use latent_core::Family;
use latent_nn::{Arch, Engine};
use latent_pca::Solver;

use crate::fit::{FitSpec, LikelihoodChoice, NetSettings, PcaSettings, TrainSettings};
use crate::{Error, Result};

/// The training settings of the neural families.
const TRAINING: [&str; 13] = [
    "--epochs",
    "--lr",
    "--adam-beta1",
    "--adam-beta2",
    "--adam-eps",
    "--weight-decay",
    "--lr-schedule",
    "--val-fraction",
    "--early-stopping",
    "--dynamic-binarize",
    "--device",
    "--engine",
    "--checkpoint-every",
];
/// The network settings of the neural families.
const NETWORK: [&str; 4] = ["--hidden", "--arch", "--conv-channels", "--activation"];
/// The VAE's own settings.
const VAE: [&str; 6] = [
    "--posterior",
    "--likelihood",
    "--sigma",
    "--shared-sigma",
    "--beta",
    "--kl-warmup",
];
/// PCA's settings.
const PCA: [&str; 5] = [
    "--solver",
    "--whiten",
    "--precision",
    "--power-iters",
    "--oversamples",
];

/// A `latent fit` flag whose setting a fit does not use, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inapplicable {
    /// The flag, e.g. `--epochs`.
    pub flag: &'static str,
    /// What it is for instead, e.g. "for the VAE: --model vae".
    pub why: &'static str,
}

/// The `latent fit` flags whose settings `spec` does not use, each with the reason.
pub fn inapplicable(spec: &FitSpec) -> Vec<Inapplicable> {
    let mut out = Vec::new();
    let mut add = |flags: &[&'static str], why: &'static str| {
        out.extend(flags.iter().map(|&flag| Inapplicable { flag, why }));
    };
    match spec.family {
        Family::Pca => {
            add(
                &TRAINING,
                "for the neural models' training: --model linear-ae, ae, vae",
            );
            add(
                &NETWORK,
                "for the neural models' networks: --model linear-ae, ae, vae",
            );
            add(&VAE, "for the VAE: --model vae");
            if spec.pca.solver != Solver::Incremental {
                add(
                    &["--batch-size"],
                    "for --solver incremental, whose read batch it is (the other solvers take all rows at once)",
                );
            }
            if spec.pca.solver != Solver::Randomized {
                add(
                    &["--power-iters", "--oversamples"],
                    "for --solver randomized",
                );
            }
        }
        family => {
            add(&PCA, "for PCA: --model pca");
            if family != Family::Vae {
                add(
                    &VAE,
                    "for the VAE, --model vae: an autoencoder's loss is the squared error",
                );
            }
            if family == Family::LinearAe {
                add(
                    &NETWORK,
                    "for the deep models' hidden layers: the linear autoencoder has none",
                );
            } else if spec.net.arch != Arch::Conv {
                add(&["--conv-channels"], "for --arch conv");
            }
            if family == Family::Vae {
                if spec.net.likelihood != Some(LikelihoodChoice::Gaussian) {
                    add(&["--sigma"], "for --likelihood gaussian (its fixed σ)");
                }
                if matches!(
                    spec.net.likelihood,
                    Some(LikelihoodChoice::Bernoulli | LikelihoodChoice::Gaussian)
                ) {
                    add(&["--shared-sigma"], "for --likelihood gaussian-learned");
                }
            }
        }
    }
    out
}

/// Whether the setting of `flag` in `spec` differs from its default (`false` for a flag
/// that is not a setting of [`FitSpec`]).
fn differs(spec: &FitSpec, flag: &str) -> bool {
    let (t, td) = (&spec.train, TrainSettings::default());
    let (n, nd) = (&spec.net, NetSettings::default());
    let (p, pd) = (&spec.pca, PcaSettings::default());
    match flag {
        "--epochs" => t.epochs.is_some(),
        "--lr" => t.lr != td.lr,
        "--adam-beta1" => t.adam_beta1 != td.adam_beta1,
        "--adam-beta2" => t.adam_beta2 != td.adam_beta2,
        "--adam-eps" => t.adam_eps != td.adam_eps,
        "--weight-decay" => t.weight_decay != td.weight_decay,
        "--lr-schedule" => t.schedule != td.schedule,
        "--val-fraction" => t.val_fraction != td.val_fraction,
        "--early-stopping" => t.early_stopping.is_some(),
        "--dynamic-binarize" => t.dynamic_binarize,
        "--device" => spec.device != "cpu",
        "--engine" => spec.engine != Engine::Auto,
        "--hidden" => n.hidden != nd.hidden,
        "--arch" => n.arch != nd.arch,
        "--conv-channels" => n.conv_channels != nd.conv_channels,
        "--activation" => n.activation != nd.activation,
        "--posterior" => n.posterior != nd.posterior,
        "--likelihood" => n.likelihood.is_some(),
        "--sigma" => n.sigma != nd.sigma,
        "--shared-sigma" => n.shared_sigma,
        "--beta" => t.beta != td.beta,
        "--kl-warmup" => t.kl_warmup != td.kl_warmup,
        "--solver" => p.solver != pd.solver,
        "--whiten" => p.whiten,
        "--precision" => p.precision != pd.precision,
        "--power-iters" => p.power_iters.is_some(),
        "--oversamples" => p.oversamples != pd.oversamples,
        "--batch-size" => spec.batch_size.is_some(),
        _ => false,
    }
}

/// The error refusing `flags` for a fit of `family`: each flag named, grouped by what it is
/// for.
pub fn refusal(family: Family, flags: &[Inapplicable]) -> Error {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for f in flags {
        match groups.iter_mut().find(|(why, _)| *why == f.why) {
            Some((_, names)) => names.push(f.flag),
            None => groups.push((f.why, vec![f.flag])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(why, names)| format!("{} ({why})", names.join(", ")))
        .collect();
    let them = if flags.len() == 1 { "it" } else { "them" };
    Error::invalid(format!(
        "--model {0} does not use {1}: a fit of --model {0} would ignore {them} (drop {them})",
        family.name(),
        parts.join("; "),
    ))
}

/// Refuse `spec` when a setting it does not use differs from its default.
///
/// # Errors
/// [`Error::Invalid`] naming each such setting by its flag and why it does not apply.
pub fn check(spec: &FitSpec) -> Result<()> {
    let ignored: Vec<Inapplicable> = inapplicable(spec)
        .into_iter()
        .filter(|i| differs(spec, i.flag))
        .collect();
    if ignored.is_empty() {
        Ok(())
    } else {
        Err(refusal(spec.family, &ignored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataSource;
    use crate::fit::LatentDim;

    fn spec(family: Family) -> FitSpec {
        FitSpec::new(family, DataSource::new("digits"), LatentDim::Count(2))
    }

    #[test]
    fn defaults_apply_and_ignored_settings_are_refused_by_flag() {
        for family in [Family::Pca, Family::LinearAe, Family::Ae, Family::Vae] {
            assert!(check(&spec(family)).is_ok(), "{family:?}");
        }
        let mut pca = spec(Family::Pca);
        pca.train.epochs = Some(5);
        pca.train.lr = 0.01;
        let err = check(&pca).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains("--model pca")
                && err.contains("--epochs, --lr (for the neural models' training"),
            "{err}"
        );
        let mut ae = spec(Family::Ae);
        ae.train.beta = 4.0;
        ae.net.posterior = latent_nn::PosteriorKind::Full;
        let err = check(&ae).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("--posterior, --beta (for the VAE"), "{err}");
        let mut linear = spec(Family::LinearAe);
        linear.net.hidden = vec![32];
        assert!(check(&linear).is_err());
        // settings of the family, its solver and its likelihood apply
        let mut vae = spec(Family::Vae);
        vae.train.beta = 4.0;
        vae.net.likelihood = Some(LikelihoodChoice::Gaussian);
        vae.net.sigma = 0.5;
        assert!(check(&vae).is_ok());
        vae.net.likelihood = None;
        assert!(
            check(&vae).is_err(),
            "--sigma without --likelihood gaussian"
        );
        let mut inc = spec(Family::Pca);
        inc.pca.solver = Solver::Incremental;
        inc.batch_size = Some(100);
        assert!(check(&inc).is_ok());
        inc.pca.solver = Solver::Exact;
        assert!(check(&inc).is_err(), "--batch-size with the exact solver");
    }
}
