"""The contractive autoencoder (Rifai, Vincent, Muller, Glorot & Bengio, ICML 2011).

An ordinary autoencoder plus a penalty on how much the code moves when the input moves: the
squared Frobenius norm of the encoder's Jacobian at each training example,

    ||J_f(x)||_F^2 = sum_k sum_i (d h_k / d x_i)^2,      h = f(x) in R^K, x in R^D,

so the loss of a batch of N examples is

    loss = 1/N sum_n [ reconstruction(x_n) + lambda ||J_f(x_n)||_F^2 ].

The paper minimises the sum over the training set of exactly this per-example expression; the
mean over a batch is that sum divided by the data set size, a constant absorbed by the learning
rate (and the same convention as ``autoencoder_loss_fn``: per image, summed over pixels,
averaged over the batch).

The penalty is computed for any encoder by reverse mode, twice: one backward pass through the
encoder gives a vector-Jacobian product v^T J (a gradient with respect to the input), recorded
with ``create_graph=True`` so that the loss built from it can be differentiated once more with
respect to the parameters. For a batch, one backward pass of sum_n v_n . h_n gives every
example's v_n^T J_n at once, because example n's code depends on example n's input only
(true for the MLP and conv encoders here; not for batch normalisation in training mode).

- ``method="exact"``: v = e_k, the k-th unit vector, for k = 1..K. The gradient of
  sum_n h_n[k] with respect to x is row k of every example's Jacobian; the sum of their squares
  over k is ||J||_F^2 to rounding. Costs K backward passes (and K more in the parameters'
  backward pass) per step: 32 for a 32-dimensional code.
- ``method="hutchinson"``: v ~ Rademacher (+-1, the default) or N(0, I), independent per
  example. Since E[v v^T] = I, E ||v^T J||^2 = E[v^T J J^T v] = tr(J J^T) = ||J||_F^2: an
  unbiased estimate from one backward pass per sample (``n_samples`` of them, averaged). Its
  gradient is an unbiased estimate of the penalty's gradient too (v does not depend on the
  parameters), so stochastic gradient descent minimises the same objective, with a little more
  noise. With M = J J^T, the variance of one sample is 2 sum_{k != l} M_kl^2 for Rademacher
  probes and 2 ||M||_F^2 for Gaussian ones, so Rademacher is never worse.

The default is Hutchinson's estimate with one Rademacher probe: a training step then costs less
than twice that of a plain autoencoder instead of about K times, and the estimate's noise
averages out over the batch and over the steps. Measured on one CPU core with the
784-512-128-32 MLP (demos/contractive.py, 6,000 MNIST digits, 3 epochs, lambda 0.1): plain
0.57 s, Hutchinson 0.97 s, exact 14.7 s per epoch, and the two penalties trained encoders
equally contractive (mean test ||J||_F 2.95 and 2.97; 6.89 without the penalty). The exact
penalty serves measurements and tests (``metrics.encoder_jacobian_norms`` uses it) and small
codes.

A caution when reading ||J||_F: with an encoder and decoder of their own (untied weights), the
penalty can also be lowered by shrinking every code by a factor a < 1 and letting the decoder's
first layer grow by 1/a, which leaves the reconstruction as it was and multiplies ||J||_F by a.
Rifai et al. tie the decoder's weights to the encoder's (W' = W^T), which rules this out; here
the demo reports code displacements relative to the codes' spread as well, the part of the
contraction that a change of scale cannot explain.

For a sigmoid encoder h = sigmoid(W x + b) the Jacobian is diag(h (1 - h)) W, so
||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2: the closed form the tests check against.
"""

from __future__ import annotations

from collections.abc import Callable

import minigrad as mg
from autoencoders.models.base import Autoencoder, _inputs_and_targets
from minigrad import autograd
from minigrad.nn import functional as F

__all__ = ["DEFAULT_METHOD", "METHODS", "PROBES", "contractive_loss_fn", "contractive_penalty",
           "jacobian_sq_frobenius"]

METHODS = ("exact", "hutchinson")
PROBES = ("rademacher", "gaussian")
DEFAULT_METHOD = "hutchinson"


def _check(method: str, n_samples: int, probe: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}, got {probe!r}")
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")


def _probe(h: mg.Tensor, probe: str) -> mg.Tensor:
    """A random v of h's shape, dtype and device with E[v v^T] = I per example."""
    if probe == "gaussian":
        return mg.randn(*h.shape, dtype=h.dtype, device=h.device)
    signs = mg.randint(0, 2, h.shape, device=h.device).to(dtype=h.dtype)
    return signs * 2 - 1


def _unit(h: mg.Tensor, k: int) -> mg.Tensor:
    """v with v_n = e_k for every example n: code unit k (of the flattened code) is 1."""
    n, units = h.shape[0], h[0].numel()
    row = mg.eye(units, dtype=h.dtype, device=h.device)[k]  # e_k, (units,)
    return (mg.zeros(n, 1, dtype=h.dtype, device=h.device) + row).reshape(*h.shape)


def jacobian_sq_frobenius(h: mg.Tensor, x: mg.Tensor, method: str = DEFAULT_METHOD,
                          n_samples: int = 1, probe: str = "rademacher",
                          create_graph: bool = True) -> mg.Tensor:
    """||d h_n / d x_n||_F^2 for each example n, shape (N,): exact, or Hutchinson's estimate.

    h: (N, ...) codes computed from x; x: (N, ...) inputs that require grad. Example n's code
        must depend on example n's input only (see the module docstring).
    method: "exact" (one backward pass per code unit) or "hutchinson" (``n_samples`` backward
        passes with random probes of kind ``probe``, "rademacher" or "gaussian", averaged).
    create_graph: record the backward passes, so that the result can be differentiated with
        respect to the parameters (training); False gives values only (measurements).
    The graph of h is kept (retain_graph=True), so h can be used afterwards, e.g. decoded.
    """
    _check(method, n_samples, probe)
    if method == "exact":
        probes = (_unit(h, k) for k in range(h[0].numel()))
        scale = 1.0
    else:
        probes = (_probe(h, probe) for _ in range(n_samples))
        scale = 1.0 / n_samples
    axes = tuple(range(1, x.ndim))
    total = None
    for v in probes:
        # v^T J for every example at once: the gradient of sum_n v_n . h_n with respect to x
        (row,) = autograd.grad(h, x, grad_outputs=v, retain_graph=True,
                               create_graph=create_graph)
        squares = (row * row).sum(axis=axes)
        total = squares if total is None else total + squares
    return total * scale if scale != 1.0 else total


def contractive_penalty(encode: Callable[[mg.Tensor], mg.Tensor], x: mg.Tensor,
                        method: str = DEFAULT_METHOD, n_samples: int = 1,
                        probe: str = "rademacher",
                        create_graph: bool | None = None) -> tuple[mg.Tensor, mg.Tensor]:
    """(h, penalty): the codes h = encode(x), (N, ...), and ||J_f(x_n)||_F^2 per example, (N,).

    encode: any function of a batch, e.g. ``model.encode`` or ``model.encoder``.
    x: (N, ...) inputs. When x does not require grad (data), a leaf copy that does is made
        (sharing memory), because the Jacobian is a derivative with respect to the input.
    create_graph: None: record the penalty's backward passes when gradients are enabled
        (training) and not under ``no_grad`` (evaluation: values only, no graph kept).
    method, n_samples, probe: as for ``jacobian_sq_frobenius``.
    The input derivative needs a graph even under ``no_grad``, so the encoder runs with
    gradients enabled; h is returned detached when the caller had them disabled.
    """
    outer = mg.is_grad_enabled()
    if create_graph is None:
        create_graph = outer
    with mg.enable_grad():
        if not x.requires_grad:
            x = x.detach().requires_grad_()
        h = encode(x)
        penalty = jacobian_sq_frobenius(h, x, method, n_samples, probe, create_graph)
    return (h, penalty) if outer else (h.detach(), penalty.detach())


def contractive_loss_fn(weight: float, kind: str = "bce", method: str = DEFAULT_METHOD,
                        n_samples: int = 1, probe: str = "rademacher",
                        corrupt: Callable[[mg.Tensor], mg.Tensor] | None = None,
                        augment: Callable[[mg.Tensor], mg.Tensor] | None = None):
    """A ``loss_fn(model, batch)`` for the Trainer: the contractive autoencoder's loss,

        loss = 1/N sum_n [ reconstruction_n + weight * ||J_f(x_n)||_F^2 ],

    with reconstruction_n as in ``autoencoder_loss_fn`` (``kind`` "bce" or "mse", summed over
    pixels) and the Jacobian of ``model.encode`` at the (corrupted, if ``corrupt``) input.
    weight: lambda >= 0 (0 gives a plain autoencoder, at the penalty's cost).
    method, n_samples, probe: how the penalty is computed (see ``jacobian_sq_frobenius``);
        the test loss of ``Trainer.evaluate`` uses the same estimate, without a graph.
    corrupt, augment, batch: as for ``autoencoder_loss_fn``.
    Metrics: "sq_error" and, for sigmoid outputs, "bce" (per image), "jacobian_sq_frobenius"
    (the mean penalty estimate ||J||_F^2 per image) and "reconstruction" (the loss's first term).
    """
    if kind not in ("mse", "bce"):
        raise ValueError(f"kind must be 'mse' or 'bce', got {kind!r}")
    if weight < 0:
        raise ValueError(f"the penalty's weight must be >= 0, got {weight}")
    _check(method, n_samples, probe)

    def loss_fn(model: Autoencoder, batch):
        if kind == "bce" and model.output != "sigmoid":
            raise ValueError('kind="bce" needs a model with output="sigmoid"')
        x_in, target = _inputs_and_targets(batch, corrupt, augment, model.training)
        n = target.shape[0]
        h, penalty = contractive_penalty(model.encode, x_in, method, n_samples, probe)
        logits = model.decode_logits(h).reshape(target.shape)
        x_hat = logits.sigmoid() if model.output == "sigmoid" else logits
        metrics = {"sq_error": F.mse_loss(x_hat, target, reduction="sum") / n}
        if model.output == "sigmoid":
            metrics["bce"] = F.binary_cross_entropy_with_logits(logits, target,
                                                                reduction="sum") / n
        reconstruction = metrics["sq_error" if kind == "mse" else "bce"]
        mean_penalty = penalty.mean()
        metrics["reconstruction"] = reconstruction
        metrics["jacobian_sq_frobenius"] = mean_penalty
        return reconstruction + weight * mean_penalty, metrics

    return loss_fn
