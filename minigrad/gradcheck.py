"""Finite-difference gradient checking: the proof that every backward is right.

For a function f of tensors, ``gradcheck`` compares the gradient that autograd computes
with central differences, (L(x + eps e_i) - L(x - eps e_i)) / (2 eps), where
L = sum(f(x) * w) projects a non-scalar output onto a fixed random w (so one backward checks
one vector-Jacobian product w^T J; a wrong J survives this only for w in a measure-zero set).

``gradgradcheck`` does the same one order up: with G(x) = dL/dx recorded (create_graph=True)
and fixed random v, the scalar L2 = sum(G(x) * v) is differentiated again, and its gradient
(a Hessian-vector product) is compared with central differences of L2, whose G comes from
ordinary first-order backward passes alone.
"""

from __future__ import annotations

import numpy as np

from minigrad import autograd
from minigrad.autograd import enable_grad, no_grad
from minigrad.backend import float64, to_numpy
from minigrad.tensor import Tensor, _leaf

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message names the worst element."""


def _as_inputs(inputs) -> tuple:
    return tuple(inputs) if isinstance(inputs, list | tuple) else (inputs,)


def _checked_tensors(inputs, params, check: str = "gradcheck") -> list[Tensor]:
    tensors = [t for t in (*inputs, *params) if isinstance(t, Tensor) and t.requires_grad]
    if not tensors:
        raise ValueError(f"{check}: no input or parameter requires grad, nothing to check")
    for t in tensors:
        if t.dtype != float64:
            raise TypeError(
                f"{check} needs float64 tensors, got {t.dtype} (shape {t.shape}): in float32 "
                "the rounding error of a central difference (~1e-7 / eps) swamps the "
                "derivative, so the check would fail or pass at random. Use .double().")
    return tensors


def _random_array(rng, shape, like):
    """A standard-normal array of ``shape`` on the device and in the dtype of tensor ``like``."""
    return like.device.from_numpy(rng.standard_normal(shape), like.dtype)


def _weighted_sum(out: Tensor, weight) -> Tensor:
    """sum(out * w) for a fixed backend array w: the scalar whose gradient is w^T J."""
    return (out * _leaf(weight, out.device)).sum()


def _gradients(scalar: Tensor, tensors, create_graph: bool = False) -> tuple:
    """d scalar / d t for each t (None where t does not reach ``scalar``); ``.grad`` is not
    touched."""
    if not scalar.requires_grad:  # nothing in it depends on a checked tensor
        return (None,) * len(tensors)
    return autograd.grad(scalar, tensors, create_graph=create_graph, allow_unused=True)


def _host(gradients, tensors) -> list[np.ndarray]:
    """Gradients as NumPy arrays, zeros for None (an input the function does not use)."""
    return [np.zeros(t.shape) if g is None else to_numpy(g)
            for g, t in zip(gradients, tensors, strict=True)]


# How an error message names the derivative of each order: (per element, per direction).
_NAMES = {1: ("gradient", "directional derivative"),
          2: ("second-order gradient", "directional second derivative")}


def _compare(tensors, analytic, objective, rng, eps, atol, rtol, fast, n_directions,
             order) -> None:
    """Raise GradcheckError unless ``analytic`` (one array per tensor) matches central
    differences of ``objective()``, a float computed from the tensors' current values."""
    element, direction = _NAMES[order]
    if fast:
        _check_directions(tensors, analytic, objective, rng, eps, atol, rtol, n_directions,
                          direction)
    else:
        _check_elements(tensors, analytic, objective, eps, atol, rtol, element)


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
    The gradients come from ``autograd.grad``: no ``.grad`` is changed.
    """
    inputs = _as_inputs(inputs)
    tensors = _checked_tensors(inputs, params)
    rng = np.random.default_rng(seed)

    with enable_grad():
        out = fn(*inputs)
        weight = _random_array(rng, out.shape, out)
        analytic = _host(_gradients(_weighted_sum(out, weight), tensors), tensors)
    xp = out.device.xp

    def objective() -> float:
        with no_grad():
            return float(to_numpy(xp.sum(fn(*inputs).data * weight)))

    _compare(tensors, analytic, objective, rng, eps, atol, rtol, fast, n_directions, 1)
    return True


def gradgradcheck(fn, inputs, params=(), *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, fast: bool = False, n_directions: int = 4,
                  seed: int = 0) -> bool:
    """Check the second derivatives of fn(*inputs), as PyTorch's gradgradcheck.

    With a fixed random w (the shape of fn's output) and the first gradients
    G_k(x) = d sum(fn(*inputs) * w) / d t_k recorded with create_graph=True, the scalar
    L2 = sum_k sum(G_k * v_k) (fixed random v_k) is differentiated once more; that gradient,
    a Hessian-vector product, must match central differences of L2 whose G comes from
    ordinary first-order backward passes. Arguments, modes, tolerances and errors are those of
    ``gradcheck``; the checked tensors are those of inputs and params that require grad.
    """
    inputs = _as_inputs(inputs)
    tensors = _checked_tensors(inputs, params, "gradgradcheck")
    rng = np.random.default_rng(seed)

    with enable_grad():
        out = fn(*inputs)
        weight = _random_array(rng, out.shape, out)
        directions = [_random_array(rng, t.shape, t) for t in tensors]
        first = _gradients(_weighted_sum(out, weight), tensors, create_graph=True)
        terms = [_weighted_sum(g, v) for g, v in zip(first, directions, strict=True)
                 if g is not None]
        second = (None,) * len(tensors)
        if terms:
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            second = _gradients(total, tensors)
        analytic = _host(second, tensors)

    def objective() -> float:  # L2 from first-order gradients only
        with enable_grad():
            gradients = _gradients(_weighted_sum(fn(*inputs), weight), tensors)
        total = 0.0
        for g, v in zip(gradients, directions, strict=True):
            if g is not None:
                total += float(to_numpy(g.device.xp.sum(g.data * v)))
        return total

    _compare(tensors, analytic, objective, rng, eps, atol, rtol, fast, n_directions, 2)
    return True


def _check_elements(tensors, analytic, objective, eps, atol, rtol, what) -> None:
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
            f"{what} mismatch in tensor {k} (shape {shape}) at index {index}: "
            f"analytic {exact:.8g}, numeric {numeric:.8g}, error {abs(exact - numeric):.3g} "
            f"(allowed {atol:g} + {rtol:g} * |numeric|)")


def _check_directions(tensors, analytic, objective, rng, eps, atol, rtol, n, what) -> None:
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
                f"{what} mismatch along random direction {d}: analytic "
                f"{exact:.8g}, numeric {numeric:.8g}, error {abs(exact - numeric):.3g} "
                f"(allowed {atol:g} + {rtol:g} * |numeric|)")
