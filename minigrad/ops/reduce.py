"""Reductions over axes, and the softmax family built on them.

Each reduction takes ``axis`` (None for all, an int or a tuple; negative counts from the end)
and ``keepdims``. Its backward reshapes the gradient to the keepdims shape so it broadcasts
against the input.
"""

from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from minigrad.autograd import OUTPUT, is_grad_enabled
from minigrad.backend import int64
from minigrad.ops.elementwise import _namespace, _type_name
from minigrad.tensor import Tensor, _from_op, _leaf

__all__ = ["sum", "mean", "var", "std", "max", "min", "logsumexp", "softmax", "log_softmax"]


def _axes(axis, ndim: int, op: str = "") -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative ints, checked against ``ndim`` (as PyTorch: an
    axis out of range is an IndexError, never wrapped around); ``op`` prefixes the errors."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) or not hasattr(axis, "__iter__") else tuple(axis)
    if ndim == 0 and all(a in (0, -1) for a in axes):
        return ()  # as in PyTorch, a 0-d tensor reduces over "axis 0" to itself
    result = []
    for a in axes:
        if not isinstance(a, int):
            try:
                a = operator.index(a)  # NumPy integers too, but not 1.0
            except TypeError:
                raise TypeError(f"{op + ': ' if op else ''}axis must be an int or a tuple of "
                                f"ints, got {_type_name(a)}") from None
        if not -ndim <= a < ndim:
            raise IndexError(f"{op + ': ' if op else ''}axis {a} is out of range for a tensor "
                             f"with {ndim} dimensions (expected an axis in [{-ndim}, {ndim - 1}])")
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{op + ': ' if op else ''}repeated axis in {axis}")
    return tuple(sorted(result))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def sum(x: Tensor, axis=None, keepdims: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``axis`` (0 for no elements), with PyTorch's result dtypes:

    - ``dtype`` given: x is cast to it before summing, as ``torch.sum(x, dtype=...)`` (a
      float32 tensor summed in float64 ...); the cast is differentiable between floating
      dtypes. A bool ``dtype`` gives whether any element is nonzero, as PyTorch.
    - ``dtype=None``: bool and integer tensors sum to int64 (NumPy would give uint64 for
      unsigned ints and the array API refuses bool), floating tensors keep their dtype.

    As in PyTorch, summing a tensor that requires grad into an integer or bool dtype is an
    error (no gradient can flow through it) while grad mode is on.

    dx = g broadcast back over the summed axes (and cast back to x's dtype)
    """
    xp = _namespace(x, "sum")
    axes = _axes(axis, x.ndim, "sum")
    if dtype is None:
        target = int64 if x.dtype.kind in "biu" else x.dtype
    else:
        target = np.dtype(dtype)
    if target.kind != "f" and x.requires_grad and is_grad_enabled():
        raise RuntimeError(f"sum: cannot sum a tensor that requires grad into {target} (no "
                           "gradient flows through an integer or bool result; PyTorch refuses "
                           "it too); detach() it first, or sum under no_grad()")
    if target.kind == "b":  # NumPy would sum bools to a count; PyTorch gives any()
        return _leaf(xp.any(x.data, axis=axes, keepdims=keepdims), x.device)
    if target != x.dtype:
        x = x.to(dtype=target)  # its own node: the gradient is cast back to x's dtype there
    kept = _kept_shape(x.data.shape, axes)
    shape = tuple(x.data.shape)

    def backward(ctx, g):
        return (ctx.xp.broadcast_to(ctx.xp.reshape(g, kept), shape),)

    # (an integer dtype is named: NumPy and the array API would widen int32 to int64)
    out = xp.sum(x.data, axis=axes, keepdims=keepdims,
                 dtype=None if target.kind == "f" else x.data.dtype)
    return _from_op(out, (x,), backward)


def _kept_mean(xp, a, axes: tuple[int, ...], n: int):
    """The mean of ``a`` over ``axes`` (n elements each) in the keepdims shape. With n = 0
    ``a`` has no elements, so neither has anything the mean is subtracted from: zeros of the
    right shape stand in for it (NumPy's mean would warn "Mean of empty slice")."""
    return (xp.mean if n else xp.sum)(a, axis=axes, keepdims=True)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``; nan where no elements are averaged (0/0), as in PyTorch.

    dx = g / n broadcast back, n = number of averaged elements
    """
    xp = _namespace(x, "mean")
    axes = _axes(axis, x.ndim, "mean")
    shape = tuple(x.data.shape)
    kept = _kept_shape(shape, axes)
    n = _count(shape, axes)
    if n:
        out = xp.mean(x.data, axis=axes, keepdims=keepdims)
    else:  # 0/0 without NumPy's "Mean of empty slice" warning
        out_shape = kept if keepdims else tuple(k for i, k in enumerate(shape) if i not in axes)
        dtype = x.data.dtype if x.dtype.kind == "f" else x.device.xp_dtype("float64")
        out = xp.full(out_shape, math.nan, dtype=dtype, device=x.device.native)
    # (n = 0: x, and so its gradient, has no elements; dividing by 1 keeps clear of 1/0)
    divisor = n if n else 1

    def backward(ctx, g):
        return (ctx.xp.broadcast_to(ctx.xp.reshape(g / divisor, kept), shape),)

    return _from_op(out, (x,), backward)


def _over_zero(xp, t):
    """t / 0 as IEEE arithmetic (and PyTorch) gives it: inf with the sign of t, nan where t is
    0 or nan; without NumPy's divide-by-zero warnings. On arrays, or on tensors via ctx.xp."""
    inf = xp.ones_like(t) * math.inf
    return xp.where(t > 0, inf, xp.where(t < 0, -inf, inf * math.nan))


def _variance(x: Tensor, axis, correction, keepdims: bool, op: str) -> Tensor:
    """var (see there); ``op`` names the function the user called, in errors and warnings."""
    xp = _namespace(x, op)
    axes = _axes(axis, x.ndim, op)
    kept = _kept_shape(x.data.shape, axes)
    n = _count(x.data.shape, axes)
    dof = n - correction
    if dof <= 0:
        warnings.warn(f"{op}: no degrees of freedom left (n - correction = {n} - {correction} "
                      f"<= 0 for the {n} elements of each reduction): the result is inf, or nan "
                      "where the squared deviations sum to 0, as in PyTorch", RuntimeWarning,
                      stacklevel=3)
    deviation = x.data - _kept_mean(xp, x.data, axes, n)
    squares = xp.sum(deviation * deviation, axis=axes, keepdims=keepdims)
    out = squares / dof if dof > 0 else _over_zero(xp, squares)
    whole = axis is None or x.ndim == 0  # PyTorch's backward tells these apart (see var)

    def backward(ctx, g):
        (x_,) = ctx.saved
        xp = ctx.xp
        deviation = x_ - _kept_mean(xp, x_, axes, n)
        g = xp.reshape(g, kept)
        if dof > 0 or (dof < 0 and not whole):
            return (g * (2 / dof) * deviation,)
        if not whole:  # 2/0 = inf times g (x - mean)
            return (_over_zero(xp, g * deviation),)
        # g * inf, nan where x equals the mean (computed without NumPy's 0 * inf warning)
        return (xp.where(deviation == 0, xp.ones_like(deviation) * math.nan, _over_zero(xp, g)),)

    backward.__qualname__ = "var.backward"  # (std's own node follows it)
    return _from_op(out, (x,), backward, saved=(x,))


def var(x: Tensor, axis=None, correction: float = 1, keepdims: bool = False) -> Tensor:
    """Variance over ``axis``, with PyTorch's divisor and default (correction=1, unbiased):

        var = sum((x - mean)^2) / max(0, n - correction)

    correction=0 gives the mean squared deviation (NumPy's default ddof=0). With no degrees of
    freedom left (n <= correction, e.g. one element with correction=1) the division is by 0, as
    in PyTorch: inf, or nan where the sum is 0 (0/0), with a RuntimeWarning.

    dx = g * 2 (x - mean) / (n - correction); the path through the mean contributes nothing
    because the deviations sum to zero. With n <= correction the slope of inf is undefined
    and minigrad gives PyTorch's values: reducing over everything (no axis), g * inf, nan
    where x equals the mean; over given axes the formula above with n - correction itself
    (2/0 = inf for n = correction; finite, of the opposite sign, for n < correction).
    """
    return _variance(x, axis, correction, keepdims, "var")


def std(x: Tensor, axis=None, correction: float = 1, keepdims: bool = False) -> Tensor:
    """Standard deviation sqrt(var(x, axis, correction)), with var's arguments and default.

    dx = var's dx for the gradient g / (2 std), taken as 0 where std = 0 (a constant slice,
    where sqrt has an infinite slope; PyTorch's choice, a subgradient)
    """
    v = _variance(x, axis, correction, keepdims, "std")

    def backward(ctx, g):
        (out,) = ctx.saved
        xp = ctx.xp
        zero = out == 0  # 1 there in the divisor, so that no 1/0 is computed
        return (xp.where(zero, 0.0, g / (2 * xp.where(zero, 1.0, out))),)

    return _from_op(v.device.xp.sqrt(v.data), (v,), backward, saved=(OUTPUT,))


def _extremum(x: Tensor, axis, keepdims: bool, op: str) -> Tensor:
    """max or min; the gradient goes to the extreme elements, split evenly among ties."""
    xp = _namespace(x, op)
    axes = _axes(axis, x.ndim, op)
    shape = tuple(x.data.shape)
    empty = [a for a in axes if shape[a] == 0]
    if empty:  # the extremum of no values is undefined; PyTorch's errors
        if axis is None:
            raise RuntimeError(f"{op}: the tensor of shape {shape} has no elements; give an "
                               "axis of nonzero length to reduce over")
        raise IndexError(f"{op}: cannot reduce axis {empty[0]} of length 0 (shape {shape}): "
                         "the extremum of no values is undefined")
    kept = _kept_shape(shape, axes)
    out = getattr(xp, op)(x.data, axis=axes, keepdims=keepdims)
    share = None
    if x.requires_grad:  # a constant of the backward: 1/ties at the extremes, 0 elsewhere
        is_extreme = xp.astype(x.data == xp.reshape(out, kept), x.data.dtype)
        share = is_extreme / xp.sum(is_extreme, axis=axes, keepdims=True)

    def backward(ctx, g):
        return (ctx.xp.reshape(g, kept) * share,)

    backward.__qualname__ = op + ".backward"
    return _from_op(out, (x,), backward)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``.   dx = g at the maxima (split among ties), 0 elsewhere"""
    return _extremum(x, axis, keepdims, "max")


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``.   dx = g at the minima (split among ties), 0 elsewhere"""
    return _extremum(x, axis, keepdims, "min")


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """ln sum(e^x) over ``axis``, shifted by the max so e^x never overflows.

    dx = g * e^(x - out) = g * softmax(x)   (0 for rows that are all -inf)

    Over no elements: ln 0 = -inf, as in PyTorch.
    """
    xp = _namespace(x, "logsumexp")
    axes = _axes(axis, x.ndim, "logsumexp")
    kept = _kept_shape(x.data.shape, axes)
    if _count(x.data.shape, axes):
        shift = xp.max(x.data, axis=axes, keepdims=True)
        shift = xp.where(xp.isfinite(shift), shift, xp.zeros_like(shift))  # all -inf rows
        out_kept = xp.log(xp.sum(xp.exp(x.data - shift), axis=axes, keepdims=True)) + shift
    else:  # an empty sum (the max of nothing would raise, ln 0 would warn)
        shift = xp.sum(x.data, axis=axes, keepdims=True)  # zeros of the kept shape
        out_kept = shift - math.inf
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


def _softmax_axis(x: Tensor, axis, op: str):
    """(xp, axis, n, shift) for softmax and log_softmax: ``axis`` checked as the one int
    PyTorch takes (a 0-d tensor has "axis 0", which reduces over nothing: axis () then), n the
    length along it, and the max along it that keeps e^x from overflowing (0 for n = 0, where
    the max does not exist)."""
    xp = _namespace(x, op)
    shape = x.data.shape
    if isinstance(axis, int) and -len(shape) <= axis < len(shape):  # the common case, at once
        n = shape[axis]
    else:
        if not isinstance(axis, int) and (axis is None or hasattr(axis, "__iter__")):
            raise TypeError(f"{op}: expected one int axis, got {axis!r}")
        axis = _axes(axis, len(shape), op)  # an IndexError out of range; () for 0-d tensors
        n = _count(shape, axis)
    return xp, axis, n, (xp.max(x.data, axis=axis, keepdims=True) if n else 0.0)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^x / sum(e^x) along ``axis``.   dx = s * (g - sum(g * s))"""
    xp, axis, _, shift = _softmax_axis(x, axis, "softmax")
    e = xp.exp(x.data - shift)

    def backward(ctx, g):
        (s,) = ctx.saved
        return (s * (g - ctx.xp.sum(g * s, axis=axis, keepdims=True)),)

    return _from_op(e / xp.sum(e, axis=axis, keepdims=True), (x,), backward, saved=(OUTPUT,))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``.   dx = g - softmax(x) * sum(g)"""
    xp, axis, n, shift = _softmax_axis(x, axis, "log_softmax")
    shifted = out = x.data - shift
    if n:  # (along an empty axis there is nothing to normalise, and ln 0 would warn)
        out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def backward(ctx, g):
        (out_,) = ctx.saved
        xp = ctx.xp
        return (g - xp.exp(out_) * xp.sum(g, axis=axis, keepdims=True),)

    return _from_op(out, (x,), backward, saved=(OUTPUT,))
