"""In-place operations: ``x.add_(y)``, ``x += y``, ``x.zero_()`` ... change the tensor itself,
as in PyTorch, and stay safe for autograd.

Each one computes the out-of-place op, then writes the result into ``x.data`` (so views of x
see it) and counts the change in x's version counter:

- On a leaf that requires grad, an in-place op is refused while grad mode is on (the change
  would be invisible to the gradient); under ``no_grad()`` it is the update step
  ``w -= lr * w.grad``, and w stays the same leaf.
- Anywhere else, when the graph is recorded, x takes over the new op's ``grad_fn``: the op's
  input is x *before* the change (a tensor sharing x's memory and its old ``grad_fn``).
- A backward that saved x's old values then sees a newer version and raises, instead of
  computing a gradient from the new values (``autograd.Node._unpack``).
"""

from __future__ import annotations

import numpy as np

from minigrad import autograd
from minigrad.ops.elementwise import add, clamp, div, mul, sub, where
from minigrad.ops.shape import broadcast_to
from minigrad.tensor import Tensor, _leaf

__all__ = ["add_", "sub_", "mul_", "div_", "clamp_", "zero_", "fill_", "copy_"]


def _inplace(x: Tensor, name: str, op) -> Tensor:
    """x <- op(x) in place; op maps a tensor (x before the change) to a tensor of x's shape."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    recording = autograd.is_grad_enabled()
    if recording and x.is_leaf and x.requires_grad:
        raise RuntimeError(f"{name}: a leaf tensor that requires grad (shape {x.shape}) is being "
                           "used in an in-place operation; do updates under "
                           "`with minigrad.no_grad():`, or use the out-of-place op")
    before = _leaf(x.data, x.device)  # x as it is now, in the graph where x was
    before.grad_fn, before.requires_grad = x.grad_fn, x.requires_grad
    before._version_counter = x._version_counter
    result = op(before)
    if result.shape != x.shape:
        raise RuntimeError(f"{name}: the result has shape {result.shape}, which cannot be "
                           f"written into a tensor of shape {x.shape}")
    if result.dtype != x.dtype and not np.can_cast(result.dtype, x.dtype, "same_kind"):
        raise RuntimeError(f"{name}: a result of dtype {result.dtype} cannot be written into a "
                           f"tensor of dtype {x.dtype}")
    _write(x, name, result)
    x._bump_version()
    if result.grad_fn is not None:
        x.grad_fn, x.requires_grad = result.grad_fn, True
        x.grad_fn._rebase_output(x)
    return x


def _write(x: Tensor, name: str, result: Tensor) -> None:
    xp = x.device.xp
    values = result.data
    if isinstance(values, int | float) or values.dtype != x.data.dtype:
        values = xp.astype(xp.asarray(values, device=x.device.native), x.data.dtype)
    if isinstance(x.data, np.generic):  # a NumPy scalar (some 0-d results) cannot be written
        x.data = xp.asarray(values, copy=True)
        return
    try:
        x.data[...] = values
    except ValueError as err:  # read-only memory: a broadcast view
        raise RuntimeError(f"{name}: cannot write into this tensor of shape {x.shape} in "
                           f"place: its memory is read-only (a broadcast view?); make a copy "
                           f"first") from err


def add_(x: Tensor, other, alpha=1) -> Tensor:
    """x += alpha * other, in place."""
    return _inplace(x, "add_", lambda t: add(t, other if alpha == 1 else mul(other, alpha)))


def sub_(x: Tensor, other, alpha=1) -> Tensor:
    """x -= alpha * other, in place."""
    return _inplace(x, "sub_", lambda t: sub(t, other if alpha == 1 else mul(other, alpha)))


def mul_(x: Tensor, other) -> Tensor:
    """x *= other, in place."""
    return _inplace(x, "mul_", lambda t: mul(t, other))


def div_(x: Tensor, other) -> Tensor:
    """x /= other, in place."""
    return _inplace(x, "div_", lambda t: div(t, other))


def clamp_(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max], in place."""
    return _inplace(x, "clamp_", lambda t: clamp(t, min, max))


def fill_(x: Tensor, value) -> Tensor:
    """Every element set to ``value`` (no gradient flows to the old values)."""
    nowhere = x.device.xp.zeros(x.data.shape, dtype=x.device.xp.bool, device=x.device.native)
    return _inplace(x, "fill_", lambda t: where(nowhere, t, value))


def zero_(x: Tensor) -> Tensor:
    """Every element set to 0."""
    return fill_(x, 0)


def copy_(x: Tensor, src) -> Tensor:
    """x's values replaced by ``src`` (broadcast to x's shape, moved to x's device, cast to its
    dtype); the gradient flows to src."""
    if not isinstance(src, Tensor):
        src = Tensor(src, dtype=x.dtype, device=x.device)
    return _inplace(x, "copy_", lambda t: broadcast_to(src.to(x.device, x.dtype), x.shape))


OPERATORS = {"__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_}
METHODS = [add_, sub_, mul_, div_, clamp_, fill_, zero_, copy_]
