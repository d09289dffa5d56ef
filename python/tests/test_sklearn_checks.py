"""scikit-learn's own estimator checks (`parametrize_with_checks`) for PCA, and for AE, VAE
and LinearAE with tiny settings.

Every check passes: EXPECTED_FAILURES is empty. (A check listed there with its reason would
be run and reported as xfail.) scikit-learn itself skips `check_array_api_input` unless
SCIPY_ARRAY_API=1 is set: the estimators take NumPy arrays, not other array-API namespaces."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

import latent

TINY = dict(latent_dim=2, hidden=(8,), epochs=2, batch_size=16)

ESTIMATORS = [
    latent.PCA(),
    latent.PCA(n_components=2, solver="randomized"),
    latent.LinearAE(latent_dim=2, epochs=2, batch_size=16),
    latent.AE(**TINY),
    latent.VAE(**TINY),
]

# estimator class name → {check name: why it is expected to fail}; none are
EXPECTED_FAILURES: dict = {}


def expected_failures(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
