"""Reductions over axes, and the softmax family built on them.

Each reduction takes ``axis`` (None for all, an int or a tuple; negative counts from the end)
and ``keepdims``. Its backward reshapes the gradient to the keepdims shape so it broadcasts
against the input.
"""

from __future__ import annotations

from minigrad.autograd import OUTPUT
from minigrad.tensor import Tensor, _from_op

__all__ = ["sum", "mean", "var", "std", "max", "min", "logsumexp", "softmax", "log_softmax"]


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative ints, checked against ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if ndim == 0 and all(a in (0, -1) for a in axes):
        return ()  # as in PyTorch, a 0-d tensor reduces over "axis 0" to itself
    result = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise IndexError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(result))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis``.   dx = g broadcast back over the summed axes"""
    xp = x.device.xp
    axes = _axes(axis, x.ndim)
    kept = _kept_shape(x.data.shape, axes)
    shape = tuple(x.data.shape)

    def backward(ctx, g):
        return (ctx.xp.broadcast_to(ctx.xp.reshape(g, kept), shape),)

    return _from_op(xp.sum(x.data, axis=axes, keepdims=keepdims), (x,), backward)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``.   dx = g / n broadcast back, n = number of averaged elements"""
    xp = x.device.xp
    axes = _axes(axis, x.ndim)
    kept = _kept_shape(x.data.shape, axes)
    shape = tuple(x.data.shape)
    n = _count(shape, axes)

    def backward(ctx, g):
        return (ctx.xp.broadcast_to(ctx.xp.reshape(g / n, kept), shape),)

    return _from_op(xp.mean(x.data, axis=axes, keepdims=keepdims), (x,), backward)


def var(x: Tensor, axis=None, correction: float = 0, keepdims: bool = False) -> Tensor:
    """Variance sum((x - mean)^2) / (n - correction)  (correction=1: unbiased).

    dx = g * 2 (x - mean) / (n - correction); the path through the mean contributes nothing
    because the deviations sum to zero.
    """
    xp = x.device.xp
    axes = _axes(axis, x.ndim)
    kept = _kept_shape(x.data.shape, axes)
    dof = _count(x.data.shape, axes) - correction
    deviation = x.data - xp.mean(x.data, axis=axes, keepdims=True)
    out = xp.sum(deviation * deviation, axis=axes, keepdims=keepdims) / dof

    def backward(ctx, g):
        (x_,) = ctx.saved
        xp = ctx.xp
        deviation = x_ - xp.mean(x_, axis=axes, keepdims=True)
        return (xp.reshape(g, kept) * (2 / dof) * deviation,)

    return _from_op(out, (x,), backward, saved=(x,))


def std(x: Tensor, axis=None, correction: float = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation, sqrt(var)."""
    return var(x, axis, correction, keepdims) ** 0.5


def _extremum(x: Tensor, axis, keepdims: bool, reduce) -> Tensor:
    """max or min; the gradient goes to the extreme elements, split evenly among ties."""
    xp = x.device.xp
    axes = _axes(axis, x.ndim)
    kept = _kept_shape(x.data.shape, axes)
    out = reduce(x.data, axis=axes, keepdims=keepdims)
    share = None
    if x.requires_grad:  # a constant of the backward: 1/ties at the extremes, 0 elsewhere
        is_extreme = xp.astype(x.data == xp.reshape(out, kept), x.data.dtype)
        share = is_extreme / xp.sum(is_extreme, axis=axes, keepdims=True)

    def backward(ctx, g):
        return (ctx.xp.reshape(g, kept) * share,)

    backward.__qualname__ = reduce.__name__ + ".backward"
    return _from_op(out, (x,), backward)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``.   dx = g at the maxima (split among ties), 0 elsewhere"""
    return _extremum(x, axis, keepdims, x.device.xp.max)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``.   dx = g at the minima (split among ties), 0 elsewhere"""
    return _extremum(x, axis, keepdims, x.device.xp.min)


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """ln sum(e^x) over ``axis``, shifted by the max so e^x never overflows.

    dx = g * e^(x - out) = g * softmax(x)   (0 for rows that are all -inf)
    """
    xp = x.device.xp
    axes = _axes(axis, x.ndim)
    kept = _kept_shape(x.data.shape, axes)
    shift = xp.max(x.data, axis=axes, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, xp.zeros_like(shift))  # all -inf rows
    out_kept = xp.log(xp.sum(xp.exp(x.data - shift), axis=axes, keepdims=True)) + shift
    out = out_kept if keepdims else xp.reshape(out_kept, tuple(
        n for i, n in enumerate(x.data.shape) if i not in axes))
    # A row of only -inf has out = -inf, and e^(-inf + inf) = nan would poison every gradient
    # upstream even where g = 0; measured from its shift (0) it gets zero instead.
    all_minus_inf = out_kept == -float("inf")

    def backward(ctx, g):
        x_, out_ = ctx.saved
        xp = ctx.xp
        anchor = xp.where(all_minus_inf, shift, xp.reshape(out_, kept))
        return (xp.reshape(g, kept) * xp.exp(x_ - anchor),)

    return _from_op(out, (x,), backward, saved=(x, OUTPUT))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^x / sum(e^x) along ``axis``.   dx = s * (g - sum(g * s))"""
    xp = x.device.xp
    e = xp.exp(x.data - xp.max(x.data, axis=axis, keepdims=True))

    def backward(ctx, g):
        (s,) = ctx.saved
        return (s * (g - ctx.xp.sum(g * s, axis=axis, keepdims=True)),)

    return _from_op(e / xp.sum(e, axis=axis, keepdims=True), (x,), backward, saved=(OUTPUT,))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``.   dx = g - softmax(x) * sum(g)"""
    xp = x.device.xp
    shifted = x.data - xp.max(x.data, axis=axis, keepdims=True)
    out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def backward(ctx, g):
        (out_,) = ctx.saved
        xp = ctx.xp
        return (g - xp.exp(out_) * xp.sum(g, axis=axis, keepdims=True),)

    return _from_op(out, (x,), backward, saved=(OUTPUT,))
