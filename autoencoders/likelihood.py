"""The test log-likelihood of a VAE, estimated by importance sampling, as the literature reports it.

The ELBO is only a lower bound on log p(x); papers report (Burda et al. 2016, Table 1) the
importance-weighted estimate with k = 5000 samples from the encoder's q(z | x):

    log p(x) ~ log p_k(x) = log (1/k) sum_{i=1..k} w_i,   w_i = p(x | z_i) p(z_i) / q(z_i | x),

z_i ~ q(z | x) independently. The mean of the w_i is an unbiased estimate of p(x) (since
E_q[p(x, z) / q(z | x)] = integral of p(x, z) dz); its log is biased low (Jensen), by about
Var(w) / (2 k p(x)^2), and so E[log p_k(x)] = L_k, the IWAE bound, rises to log p(x) as k grows.

Standard error. ``log_likelihood`` reports, for each input, the delta-method standard error
of log p_k(x) as an estimate of log of the mean weight:

    se = sqrt(s_w^2 / k) / mean(w) = sqrt((mean(w^2) / mean(w)^2 - 1) * k / (k - 1) / k),

with s_w^2 the unbiased sample variance of the k weights, computed from log-sum-exps of
log w and 2 log w (never from the weights themselves, which under- or overflow). It is the
Monte Carlo error of one estimate (what repeating it with new samples would scatter by) and
it does not include the bias, which is about -se^2 / 2; both shrink as 1/sqrt(k) and 1/k. It
is itself estimated from the same k weights, so it is trustworthy only when k is large enough
for the weights' spread to be seen: with few samples (or a q(z | x) much narrower than the
posterior) the rare large weights are missed, and estimate and SE are both too low. The
test-set mean's Monte Carlo SE is sqrt(sum_n se_n^2) / N (independent samples per input);
separately, ``data_se`` is the spread over inputs, std_n(log p_k(x_n)) / sqrt(N): the
uncertainty from the finite test set, which is usually the larger of the two.

Computation: on the model's device, without a graph, ``batch_size`` inputs at a time and
``k_batch`` of their k samples at a time (the decoder sees batch_size * k_batch codes per pass),
accumulating the two log-sum-exps over the chunks with logaddexp. The noise for input n is
drawn on the host from ``numpy.random.default_rng([seed, n])`` (n its index in x), in order, so
the estimate depends on (seed, n, k) only: not on batch_size, k_batch or the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from autoencoders.models.vae import iwae_bound, log_importance_weights

__all__ = ["LogLikelihood", "log_likelihood"]


@dataclass
class LogLikelihood:
    """The result of ``log_likelihood``; nats, per input unless said otherwise.

    per_example: (N,) log p_k(x_n), the importance-weighted estimates.
    se:          (N,) their delta-method Monte Carlo standard errors (module docstring).
    k:           samples per input.
    """

    per_example: np.ndarray
    se: np.ndarray
    k: int

    @property
    def mean(self) -> float:
        """The test-set log-likelihood, mean_n log p_k(x_n) (the number papers report)."""
        return float(self.per_example.mean())

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of ``mean``: sqrt(sum_n se_n^2) / N."""
        return float(np.sqrt((self.se**2).sum()) / len(self.se))

    @property
    def data_se(self) -> float:
        """Standard error of ``mean`` from the finite set of inputs: std_n / sqrt(N)."""
        n = len(self.per_example)
        return float(self.per_example.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan

    def summary(self) -> dict:
        return {"log_likelihood": self.mean, "mc_se": self.mc_se, "data_se": self.data_se,
                "k": self.k, "n": len(self.per_example)}


def _noise(generators: list[np.random.Generator], k: int, d: int, dtype) -> np.ndarray:
    """(k, B, d) standard normals: column b drawn from generators[b], continuing its stream."""
    return np.stack([g.standard_normal((k, d)) for g in generators], axis=1).astype(dtype)


def log_likelihood(model, x: np.ndarray, k: int = 5000, batch_size: int = 100,
                   k_batch: int | None = None, seed: int = 0, likelihood: str = "bernoulli",
                   sigma: float = 1.0, labels: np.ndarray | None = None) -> LogLikelihood:
    """Importance-weighted estimates of log p(x_n) with k samples each (module docstring).

    model:      a ``VariationalAutoencoder`` (or a ``CVAE`` with ``labels``: then log p(x | y)).
    x:          (N, ...) inputs as the model takes them (binary pixels for "bernoulli").
    k:          importance samples per input (5000 in the literature).
    batch_size: inputs per pass; k_batch: samples per pass (default: as many as keep
                batch_size * k_batch <= 16384 codes in one decoder pass).
    seed:       the noise's seed (input n uses default_rng([seed, n])).
    Returns a ``LogLikelihood``: per-input estimates and standard errors, in float64.
    """
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    k_batch = max(1, 16384 // batch_size) if k_batch is None else int(k_batch)
    if k_batch < 1:
        raise ValueError(f"k_batch must be at least 1, got {k_batch}")
    weight = next(iter(model.parameters()))
    device, dtype = weight.device, weight.dtype
    x = np.asarray(x)
    was_training = model.training
    model.eval()
    estimates, errors = [], []
    try:
        with mg.no_grad():
            for start in range(0, len(x), batch_size):
                batch = mg.tensor(x[start:start + batch_size], dtype=dtype, device=device)
                condition = (None if labels is None else
                             mg.tensor(np.asarray(labels[start:start + batch_size]),
                                       device=device))
                generators = [np.random.default_rng([seed, n])
                              for n in range(start, start + len(batch))]
                lse = lse2 = None  # log sum_i w_i and log sum_i w_i^2 so far, (B,)
                done = 0
                while done < k:
                    m = min(k_batch, k - done)
                    eps = mg.tensor(_noise(generators, m, model.latent_dim, dtype),
                                    device=device)
                    log_w = log_importance_weights(model, batch, m, eps, likelihood, sigma,
                                                   condition)
                    part = iwae_bound(log_w) + math.log(m)  # log sum over this chunk
                    part2 = iwae_bound(2 * log_w) + math.log(m)
                    lse = part if lse is None else mg.logaddexp(lse, part)
                    lse2 = part2 if lse2 is None else mg.logaddexp(lse2, part2)
                    done += m
                log_mean = lse.numpy().astype(np.float64) - math.log(k)
                log_mean_sq = lse2.numpy().astype(np.float64) - math.log(k)
                estimates.append(log_mean)
                # mean(w^2) / mean(w)^2 - 1 = the weights' relative variance (1/k form); >= 0
                # up to rounding.
                relative = np.maximum(np.exp(log_mean_sq - 2 * log_mean) - 1, 0)
                errors.append(np.sqrt(relative / (k - 1)) if k > 1
                              else np.full(len(log_mean), np.nan))
    finally:
        model.train(was_training)
    return LogLikelihood(np.concatenate(estimates), np.concatenate(errors), k)
