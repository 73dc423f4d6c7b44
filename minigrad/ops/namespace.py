"""minigrad's ops under the array API's names: the namespace a backward formula computes with
when ``create_graph=True``.

A backward is written once against ``ctx.xp`` (see ``autograd.py``). On an ordinary backward
that is the device's array namespace and the values are arrays; when the backward pass is
itself recorded it is this module and the values are tensors, so every function here is a
differentiable op (or, for masks and signs, a constant). Arrays that a formula holds as
constants (a ReLU mask) may meet tensors in operators (``g * mask``), in ``astype`` and in the
two-operand functions (``where``, ``maximum``, ``matmul`` ...); the one-operand functions take
tensors only, so a formula that wrongly reads a forward array under create_graph fails.
"""

from __future__ import annotations

from minigrad.backend import device_of
from minigrad.ops.activations import tanh
from minigrad.ops.elementwise import abs, clamp, exp, log, maximum, minimum, sqrt, where
from minigrad.ops.linalg import matmul
from minigrad.ops.math import cos, cosh, sin, sinh
from minigrad.ops.reduce import max, mean, sum
from minigrad.ops.scan import cumprod, cumsum
from minigrad.ops.shape import broadcast_to, concat, permute, reshape, transpose, unsqueeze
from minigrad.ops.shape_more import flip as _flip
from minigrad.tensor import Tensor, _leaf

__all__ = ["abs", "astype", "broadcast_to", "clip", "concat", "exp", "expand_dims", "log",
           "matmul", "matrix_transpose", "max", "maximum", "mean", "minimum", "ones_like",
           "permute_dims", "reshape", "sign", "sqrt", "sum", "tanh", "where", "zeros_like"]


def permute_dims(x: Tensor, axes) -> Tensor:
    return permute(x, tuple(axes))


def matrix_transpose(x: Tensor) -> Tensor:
    return transpose(x, -2, -1)


def expand_dims(x: Tensor, axis: int) -> Tensor:
    return unsqueeze(x, axis)


def astype(x, dtype, copy: bool = True):
    """x cast to ``dtype`` (a NumPy dtype): a differentiable cast for a tensor, a constant
    array for an array."""
    if isinstance(x, Tensor):
        return x.to(dtype=dtype)
    dev = device_of(x)
    return dev.xp.astype(x, dev.xp_dtype(dtype))


def clip(x: Tensor, min=None, max=None) -> Tensor:
    return clamp(x, min, max)


def sign(x: Tensor) -> Tensor:
    """The sign of x, a constant (its derivative is 0 wherever it exists)."""
    return _leaf(x.device.xp.sign(x.data), x.device)


def zeros_like(x: Tensor) -> Tensor:
    return _leaf(x.device.xp.zeros_like(x.data), x.device)


def ones_like(x: Tensor) -> Tensor:
    return _leaf(x.device.xp.ones_like(x.data), x.device)


# -- for the backward formulas of ops/math.py and ops/scan.py -------------------------------
__all__ += ["cos", "cosh", "cumulative_prod", "cumulative_sum", "flip", "sin", "sinh"]


def cumulative_sum(x: Tensor, axis: int | None = None) -> Tensor:
    return cumsum(x, 0 if axis is None else axis)


def cumulative_prod(x: Tensor, axis: int | None = None) -> Tensor:
    return cumprod(x, 0 if axis is None else axis)


def flip(x: Tensor, axis=None) -> Tensor:
    return _flip(x, tuple(range(x.ndim)) if axis is None else axis)
