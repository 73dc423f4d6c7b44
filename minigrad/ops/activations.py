"""Activation functions, each written to be numerically stable for any input."""

from __future__ import annotations

import math

from minigrad.autograd import OUTPUT
from minigrad.tensor import Tensor, _from_op

__all__ = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "silu"]


def relu(x: Tensor) -> Tensor:
    """max(x, 0).   dx = g * [x > 0]"""
    xp = x.device.xp
    # Against an array of zeros, not the scalar 0: NumPy's maximum has no vectorised loop for
    # a broadcast scalar and is slower that way, even counting the zero-fill.
    out = xp.maximum(x.data, xp.zeros_like(x.data))
    # The mask is taken now, while x is still in cache, and kept (1 byte an element) instead of
    # reading x again in the backward pass; without a backward to come (inference, or an input
    # that needs no gradient) it is not taken at all.
    positive = x.data > 0 if x.requires_grad else None

    def backward(ctx, g):
        return (g * ctx.xp.astype(positive, g.dtype),)

    return _from_op(out, (x,), backward)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else slope * x.   dx = g * (1 if x > 0 else slope)"""
    xp = x.device.xp
    positive = x.data > 0
    out = xp.where(positive, x.data, negative_slope * x.data)

    def backward(ctx, g):
        return (ctx.xp.where(positive, g, negative_slope * g),)

    return _from_op(out, (x,), backward)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha (e^x - 1).   dx = g * (1 if x > 0 else out + alpha)"""
    xp = x.device.xp
    positive = x.data > 0
    out = xp.where(positive, x.data, alpha * (xp.exp(xp.minimum(x.data, 0)) - 1))  # no overflow

    def backward(ctx, g):
        (out_,) = ctx.saved
        return (ctx.xp.where(positive, g, g * (out_ + alpha)),)

    return _from_op(out, (x,), backward, saved=(OUTPUT,))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2, which cannot overflow.

    dx = g * s (1 - s)
    """
    xp = x.device.xp

    def backward(ctx, g):
        (s,) = ctx.saved
        return (g * s * (1 - s),)

    return _from_op(0.5 * (1 + xp.tanh(0.5 * x.data)), (x,), backward, saved=(OUTPUT,))


def tanh(x: Tensor) -> Tensor:
    """tanh x.   dx = g * (1 - tanh^2 x)"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (g * (1 - out * out),)

    return _from_op(x.device.xp.tanh(x.data), (x,), backward, saved=(OUTPUT,))


def softplus(x: Tensor) -> Tensor:
    """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), stable for large |x|.   dx = g * sigmoid(x)"""
    xp = x.device.xp
    out = xp.maximum(x.data, 0) + xp.log1p(xp.exp(-xp.abs(x.data)))

    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g * 0.5 * (1 + ctx.xp.tanh(0.5 * x_)),)

    return _from_op(out, (x,), backward, saved=(x,))


_GELU_C = math.sqrt(2 / math.pi)


def gelu(x: Tensor) -> Tensor:
    """x * Phi(x) in its tanh form (PyTorch's ``approximate="tanh"``).

    The array API has no erf, so the exact form would need a backend-specific special
    function; the tanh form differs from it by less than 1e-3 everywhere.
    u = c (x + 0.044715 x^3),  out = x (1 + tanh u) / 2
    dx = g * [(1 + tanh u) / 2 + x (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2) / 2]
    """
    xp = x.device.xp
    a = x.data
    out = 0.5 * a * (1 + xp.tanh(_GELU_C * (a + 0.044715 * a * a * a)))

    def backward(ctx, g):
        (a,) = ctx.saved
        t = ctx.xp.tanh(_GELU_C * (a + 0.044715 * a * a * a))
        du = _GELU_C * (1 + 3 * 0.044715 * a * a)
        return (g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * du),)

    return _from_op(out, (x,), backward, saved=(x,))


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x).   dx = g * s (1 + x (1 - s))"""
    xp = x.device.xp

    def backward(ctx, g):
        (x_,) = ctx.saved
        s = 0.5 * (1 + ctx.xp.tanh(0.5 * x_))
        return (g * s * (1 + x_ * (1 - s)),)

    return _from_op(x.data * (0.5 * (1 + xp.tanh(0.5 * x.data))), (x,), backward, saved=(x,))
