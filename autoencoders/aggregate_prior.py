"""Closing the VAE's sampling gap: sample codes from its aggregate posterior, not N(0, I).

A VAE is trained so that each q(z | x) is near the prior, but the aggregate posterior

    q(z) = (1/N) sum_n q(z | x_n)

(where the training codes actually lie) never matches N(0, I) exactly: some regions of high
prior density hold no training code, and decoding from them gives blurred, ambiguous digits.
Ex-post density estimation (Ghosh et al., "From Variational to Deterministic Autoencoders",
ICLR 2020; in spirit Dai & Wipf's two-stage VAE, ICLR 2019, which fits a second VAE instead)
fits a density to the training codes after training and samples from that:

    1. codes c_n = mu(x_n) (the posterior means) or z_n ~ q(z | x_n) (samples);
    2. fit a Gaussian mixture to them (scikit-learn ``GaussianMixture``);
    3. decode z ~ mixture.

``prior_log_likelihoods`` measures the gap: the mean log density of held-out codes under
N(0, I) and under the mixture (higher is a better fit of where the codes are).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.mixture import GaussianMixture

from autoencoders.train import predict

__all__ = ["fit_aggregate_posterior", "posterior_codes", "prior_log_likelihoods",
           "sample_aggregate_posterior"]

CODES = ("mean", "sample")


def posterior_codes(model, x: np.ndarray, use: str = "mean", seed: int = 0,
                    batch_size: int = 512) -> np.ndarray:
    """(N, latent_dim) float64 codes of x: the means mu(x_n) ("mean"), or one draw
    z_n = mu + exp(logvar / 2) eps per input ("sample", eps from ``default_rng(seed)``)."""
    if use not in CODES:
        raise ValueError(f"use must be one of {CODES}, got {use!r}")
    mu = predict(model, np.asarray(x, dtype=np.float32), fn=lambda m, b: m.encode(b)[0],
                 batch_size=batch_size).astype(np.float64)
    if use == "mean":
        return mu
    logvar = predict(model, np.asarray(x, dtype=np.float32), fn=lambda m, b: m.encode(b)[1],
                     batch_size=batch_size).astype(np.float64)
    return mu + np.exp(0.5 * logvar) * np.random.default_rng(seed).standard_normal(mu.shape)


def fit_aggregate_posterior(model, x: np.ndarray, components: int = 10, use: str = "mean",
                            seed: int = 0, covariance_type: str = "full") -> GaussianMixture:
    """A ``components``-Gaussian mixture fitted (EM, k-means start) to the codes of x."""
    codes = posterior_codes(model, x, use, seed)
    return GaussianMixture(components, covariance_type=covariance_type,
                           random_state=seed).fit(codes)


def sample_aggregate_posterior(model, mixture: GaussianMixture, n: int,
                               seed: int = 0) -> np.ndarray:
    """n images decoded from codes drawn from the mixture, (n, D) as the decoder gives them,
    in random order (scikit-learn returns its samples sorted by component)."""
    mixture.random_state = seed  # GaussianMixture.sample draws with its random_state
    codes, _ = mixture.sample(n)
    codes = codes[np.random.default_rng(seed).permutation(n)].astype(np.float32)
    return predict(model, codes, fn=lambda m, z: m.decode(z))


def prior_log_likelihoods(codes: np.ndarray, mixture: GaussianMixture) -> dict:
    """Mean log density per code of (N, d) codes under N(0, I) ("standard_normal") and under
    the mixture ("mixture"), nats; their difference is how much better the mixture fits."""
    codes = np.asarray(codes, dtype=np.float64)
    d = codes.shape[1]
    normal = float((-0.5 * (codes**2).sum(axis=1) - 0.5 * d * math.log(2 * math.pi)).mean())
    return {"standard_normal": normal, "mixture": float(mixture.score(codes))}
