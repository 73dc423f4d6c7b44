"""Finite-difference gradient checking: the proof that every backward is right.

For a function f of tensors, ``gradcheck`` compares the gradient that ``backward()`` computes
with central differences, (L(x + eps e_i) - L(x - eps e_i)) / (2 eps), where
L = sum(f(x) * w) projects a non-scalar output onto a fixed random w (so one backward checks
one vector-Jacobian product w^T J; a wrong J survives this only for w in a measure-zero set).
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd import no_grad
from minigrad.backend import float64, to_numpy
from minigrad.tensor import Tensor, _leaf

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message names the worst element."""


def _checked_tensors(inputs, params) -> list[Tensor]:
    tensors = [t for t in (*inputs, *params) if isinstance(t, Tensor) and t.requires_grad]
    if not tensors:
        raise ValueError("gradcheck: no input or parameter requires grad, nothing to check")
    for t in tensors:
        if t.dtype != float64:
            raise TypeError(
                f"gradcheck needs float64 tensors, got {t.dtype} (shape {t.shape}): in float32 "
                "the rounding error of a central difference (~1e-7 / eps) swamps the "
                "derivative, so the check would fail or pass at random. Use .double().")
    return tensors


def gradcheck(fn, inputs, params=(), *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, fast: bool = False, n_directions: int = 4,
              seed: int = 0) -> bool:
    """Check d fn(*inputs) / d t for every tensor t in inputs and params that requires grad.

    fn: function of ``inputs`` returning a Tensor of any shape; ``params`` are further tensors
    it reads (e.g. a model's parameters). All checked tensors must be float64.
    fast=False: every element of every tensor, two evaluations of fn each.
    fast=True:  ``n_directions`` random directions u, comparing the directional derivative
                (L(x + eps u) - L(x - eps u)) / (2 eps) with sum(grad * u): seconds for a model.
    Passes when |analytic - numeric| <= atol + rtol * |numeric|; otherwise raises
    GradcheckError naming the worst element (tensor, index, analytic, numeric, error).
    """
    inputs = tuple(inputs) if isinstance(inputs, list | tuple) else (inputs,)
    tensors = _checked_tensors(inputs, params)
    rng = np.random.default_rng(seed)

    for t in tensors:
        t.grad = None
    out = fn(*inputs)
    weight = out.device.from_numpy(rng.standard_normal(out.shape), out.dtype)
    (out * _leaf(weight, out.device)).sum().backward()
    xp = out.device.xp

    def objective() -> float:
        with no_grad():
            return float(to_numpy(xp.sum(fn(*inputs).data * weight)))

    analytic = [np.zeros(t.shape) if t.grad is None else to_numpy(t.grad) for t in tensors]

    if fast:
        _check_directions(tensors, analytic, objective, rng, eps, atol, rtol, n_directions)
    else:
        _check_elements(tensors, analytic, objective, eps, atol, rtol)
    return True


def _check_elements(tensors, analytic, objective, eps, atol, rtol) -> None:
    worst = None
    for k, (t, grad) in enumerate(zip(tensors, analytic, strict=True)):
        for flat in range(grad.size):
            index = np.unravel_index(flat, t.shape) if t.shape else ()
            index = tuple(int(i) for i in index)
            original = float(to_numpy(t.data[index]))
            t.data[index] = original + eps
            up = objective()
            t.data[index] = original - eps
            down = objective()
            t.data[index] = original
            numeric = (up - down) / (2 * eps)
            exact = float(grad[index])
            excess = abs(exact - numeric) - (atol + rtol * abs(numeric))
            if worst is None or excess > worst[0]:
                worst = (excess, k, t.shape, index, exact, numeric)
    if worst is not None and worst[0] > 0:  # None: only empty tensors, nothing to compare
        _, k, shape, index, exact, numeric = worst
        raise GradcheckError(
            f"gradient mismatch in tensor {k} (shape {shape}) at index {index}: "
            f"analytic {exact:.8g}, numeric {numeric:.8g}, error {abs(exact - numeric):.3g} "
            f"(allowed {atol:g} + {rtol:g} * |numeric|)")


def _check_directions(tensors, analytic, objective, rng, eps, atol, rtol, n) -> None:
    for d in range(n):
        directions = [rng.standard_normal(t.shape) for t in tensors]
        moves = [t.device.from_numpy(u, t.dtype) for t, u in zip(tensors, directions,
                                                                   strict=True)]
        exact = float(sum(np.sum(g * u) for g, u in zip(analytic, directions, strict=True)))
        originals = [t.data for t in tensors]
        for t, x, m in zip(tensors, originals, moves, strict=True):
            t.data = x + eps * m
        up = objective()
        for t, x, m in zip(tensors, originals, moves, strict=True):
            t.data = x - eps * m
        down = objective()
        for t, x in zip(tensors, originals, strict=True):
            t.data = x
        numeric = (up - down) / (2 * eps)
        if abs(exact - numeric) > atol + rtol * abs(numeric):
            raise GradcheckError(
                f"directional derivative mismatch along random direction {d}: analytic "
                f"{exact:.8g}, numeric {numeric:.8g}, error {abs(exact - numeric):.3g} "
                f"(allowed {atol:g} + {rtol:g} * |numeric|)")
