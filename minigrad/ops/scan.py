"""Products, logical reductions and scans (running sums, products, extrema and logsumexps
along a dimension), under PyTorch's names; and var_mean, std_mean.

The gradients that divide by x in a textbook (prod: g out / x, cumprod: the same running) are
computed here without dividing, so that zeros in x give the right gradient instead of nan:

    d prod(x) / d x_i = prod_{j != i} x_j = (prod_{j < i} x_j) (prod_{j > i} x_j),

two exclusive running products, one from each end.
"""

from __future__ import annotations

import math
from collections import namedtuple

from minigrad.autograd import OUTPUT
from minigrad.backend import int64
from minigrad.ops.elementwise import _not_a_tensor
from minigrad.ops.reduce import _axes, mean, std, var
from minigrad.ops.select import gather
from minigrad.ops.shape import _axis, reshape
from minigrad.tensor import Tensor, _from_op, _leaf, _linear

__all__ = ["prod", "any", "all", "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
           "var_mean", "std_mean"]

CumResult = namedtuple("cummax", ["values", "indices"])


def _along(dim: int, ndim: int, part) -> tuple:
    """An index that applies ``part`` (a slice) along ``dim`` and takes everything else."""
    return (slice(None),) * dim + (part, Ellipsis)  # (the array API wants every axis named)


def _flip(xp, t, axis: int):
    return xp.flip(t, axis=axis)


def _reverse_cumsum(xp, t, axis: int):
    """sum_{k >= i} t_k along axis: the adjoint of a running sum."""
    return _flip(xp, xp.cumulative_sum(_flip(xp, t, axis), axis=axis), axis)


def _exclusive_cumprod(xp, t, axis: int):
    """prod_{j < i} t_j along axis (1 for the first element)."""
    n = t.shape[axis]
    running = xp.cumulative_prod(t, axis=axis)
    first = xp.ones_like(t[_along(axis, t.ndim, slice(0, 1))])
    return xp.concat([first, running[_along(axis, t.ndim, slice(0, n - 1))]], axis=axis)


def _product_of_others(xp, t, axis: int):
    """prod_{j != i} t_j along axis, without division: exact where t has zeros."""
    before = _exclusive_cumprod(xp, t, axis)
    after = _flip(xp, _exclusive_cumprod(xp, _flip(xp, t, axis), axis), axis)
    return before * after


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The product of the elements (dim None) or along ``dim``; 1 for no elements. Integer
    and bool tensors give int64, as PyTorch.

    dx_i = g prod_{j != i} x_j   (two exclusive running products: exact with zeros)
    """
    if not isinstance(x, Tensor):
        raise _not_a_tensor("prod", "x", x)
    if dim is None:
        out = prod(reshape(x, (-1,)), 0)
        return reshape(out, (1,) * x.ndim) if keepdim else out
    xp = x.device.xp
    if x.ndim == 0:
        _axes(dim, 0, "prod")
        return x.to(dtype=int64) if x.dtype.kind in "bi" else reshape(x, ())
    axis = _axis(dim, x.ndim, "prod")
    a = x.data
    if x.dtype.kind in "bi":
        a = xp.astype(a, x.device.xp_dtype(int64))
    out = xp.prod(a, axis=axis, keepdims=True)
    kept = tuple(out.shape)
    if not keepdim:
        out = xp.reshape(out, tuple(n for i, n in enumerate(a.shape) if i != axis))

    def backward(ctx, g):
        (x_,) = ctx.saved
        xp = ctx.xp
        g = xp.reshape(g, kept)
        if x_.shape[axis] == 0:  # no elements, no gradient
            return (xp.zeros_like(x_),)
        return (g * _product_of_others(xp, x_, axis),)

    return _from_op(out, (x,), backward, saved=(x,))


def _logical_reduction(x: Tensor, dim, keepdim: bool, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise _not_a_tensor(op, "x", x)
    xp = x.device.xp
    a = x.data if x.dtype.kind == "b" else x.data != 0
    axes = _axes(dim, x.ndim, op)
    return _leaf(getattr(xp, op)(a, axis=axes, keepdims=keepdim), x.device)


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether any element (along ``dim``) is nonzero (bool; False for no elements)."""
    return _logical_reduction(x, dim, keepdim, "any")


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is nonzero (bool; True for no elements)."""
    return _logical_reduction(x, dim, keepdim, "all")


def _scan_input(x: Tensor, dim: int, op: str):
    """(xp, x as at least 1-D, the axis, whether x was 0-d): scans need a dimension to run
    along; a 0-d tensor scans as one element."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor(op, "x", x)
    if x.ndim == 0:
        _axes(dim, 0, op)
        return x.device.xp, reshape(x, (1,)), 0, True
    return x.device.xp, x, _axis(dim, x.ndim, op), False


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sums along ``dim``: out_i = sum_{j <= i} x_j. Integers and bools give int64.

    dx_j = sum_{i >= j} g_i   (a running sum from the other end: the adjoint)
    """
    xp, x1, axis, zero_d = _scan_input(x, dim, "cumsum")
    a = x1.data
    if x.dtype.kind in "bi":
        a = xp.astype(a, x.device.xp_dtype(int64))
    out = _linear(x1, lambda t: xp.cumulative_sum(t, axis=axis),
                  lambda g: _reverse_cumsum(xp, g, axis), "cumsum",
                  data=xp.cumulative_sum(a, axis=axis))
    return reshape(out, ()) if zero_d else out


def cumprod(x: Tensor, dim: int) -> Tensor:
    """Running products along ``dim``: out_i = prod_{j <= i} x_j. Integers give int64.

    dx_j = sum_{i >= j} g_i prod_{k <= i, k != j} x_k.
    Without zeros in x that is (sum_{i >= j} g_i out_i) / x_j, one reversed running sum; with
    zeros the products are formed as written, n running products of x with x_j set to 1
    (n^2 memory along dim, but exact).
    """
    xp, x1, axis, zero_d = _scan_input(x, dim, "cumprod")
    a = x1.data
    if x.dtype.kind in "bi":
        a = xp.astype(a, x.device.xp_dtype(int64))
    out = xp.cumulative_prod(a, axis=axis)
    no_zeros = x.dtype.kind == "f" and x.requires_grad and bool(xp.all(a != 0))
    # P[j, i] = prod_{k <= i, k != j} x_k: x with x_j set to 1, multiplied up to i. Axis
    # ``axis`` indexes j, axis + 1 indexes i (and k before the running product).
    j, i = _pair_grid(x1, axis)

    def backward(ctx, g):
        x_, out_ = ctx.saved
        xp = ctx.xp
        if no_zeros:
            return (_reverse_cumsum(xp, g * out_, axis) / x_,)
        ones_at_j = xp.where(j == i, 1.0, xp.expand_dims(x_, axis=axis))
        running = xp.cumulative_prod(ones_at_j, axis=axis + 1)
        later = i >= j  # out_i depends on x_j for i >= j only
        g_i = xp.expand_dims(g, axis=axis)
        return (xp.sum(xp.where(later, running, 0.0) * g_i, axis=axis + 1),)

    result = _from_op(out, (x1,), backward, saved=(x1, OUTPUT))
    return reshape(result, ()) if zero_d else result


def _pair_grid(x: Tensor, axis: int):
    """(j, i): aranges of x's length n along ``axis``, laid along axes ``axis`` and
    ``axis + 1`` of an (ndim + 1)-d grid, to compare (j == i, i >= j) into the constant
    n x n masks of the scans' backward formulas."""
    xp = x.device.xp
    n = x.shape[axis]
    count = xp.arange(n, device=x.device.native)
    j = xp.reshape(count, tuple(n if d == axis else 1 for d in range(x.ndim + 1)))
    i = xp.reshape(count, tuple(n if d == axis + 1 else 1 for d in range(x.ndim + 1)))
    return j, i


def _cumulative_extreme(x: Tensor, dim: int, largest: bool, op: str):
    """(values, indices) of the running max (or min) along dim, PyTorch's way: a later equal
    value takes over the index, and nan, once met, stays (with its index)."""
    xp, x1, axis, zero_d = _scan_input(x, dim, op)
    a = x1.data
    n = a.shape[axis]
    index_dtype = x.device.xp_dtype(int64)
    indices = xp.zeros(a.shape, dtype=index_dtype, device=x.device.native)
    if n:
        floating = x.dtype.kind == "f"
        best = a[_along(axis, a.ndim, slice(0, 1))]
        best_index = xp.zeros(best.shape, dtype=index_dtype, device=x.device.native)
        columns = [best_index]
        for k in range(1, n):  # one step per position along dim, vectorised across the rest
            value = a[_along(axis, a.ndim, slice(k, k + 1))]
            better = value >= best if largest else value <= best
            if floating:
                better = xp.isnan(value) | (better & ~xp.isnan(best))
            best = xp.where(better, value, best)
            best_index = xp.where(better, xp.full_like(best_index, k), best_index)
            columns.append(best_index)
        indices = xp.concat(columns, axis=axis)
    index = _leaf(indices, x.device)
    values = gather(x1, axis, index)
    if zero_d:
        return CumResult(reshape(values, ()), _leaf(xp.reshape(indices, ()), x.device))
    return CumResult(values, index)


def cummax(x: Tensor, dim: int):
    """(values, indices): the running maximum along ``dim`` and where it was found (the last
    of equal values; nan propagates).   dx = g scattered back to those indices"""
    return _cumulative_extreme(x, dim, True, "cummax")


def cummin(x: Tensor, dim: int):
    """(values, indices): the running minimum along ``dim`` and where it was found (the last
    of equal values; nan propagates).   dx = g scattered back to those indices"""
    return _cumulative_extreme(x, dim, False, "cummin")


def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """Running logsumexp along ``dim``: out_i = ln sum_{j <= i} e^(x_j), one logaddexp per
    step (no overflow, and no underflow of small early terms as a global shift would give).

    dx_j = sum_{i >= j} g_i e^(x_j - out_i); each e^(x_j - out_i) <= 1 since out_i >= x_j,
    so the n x n weights cannot overflow (n^2 memory along dim).
    """
    xp, x1, axis, zero_d = _scan_input(x, dim, "logcumsumexp")
    a = x1.data
    if x.dtype.kind != "f":
        raise RuntimeError(f"logcumsumexp: expected a floating-point tensor, got {x.dtype}")
    n = a.shape[axis]
    out = a
    if n:
        running = a[_along(axis, a.ndim, slice(0, 1))]
        columns = [running]
        for k in range(1, n):
            running = xp.logaddexp(running, a[_along(axis, a.ndim, slice(k, k + 1))])
            columns.append(running)
        out = xp.concat(columns, axis=axis)
    j, i = _pair_grid(x1, axis)
    later = i >= j  # out_i depends on x_j for i >= j only
    # out_i = -inf: every x_j up to i is -inf, where the slope is undefined: nan there, as
    # PyTorch gives (made explicitly: -inf - -inf would warn)
    undefined = later & xp.expand_dims(out == -math.inf, axis=axis)

    def backward(ctx, g):
        x_, out_ = ctx.saved
        xp = ctx.xp
        # axis indexes j (x_j), axis + 1 indexes i (out_i, g_i)
        exponent = xp.expand_dims(x_, axis=axis + 1) - xp.expand_dims(
            xp.where(out_ == -math.inf, 0.0, out_), axis=axis)
        weights = xp.exp(xp.where(later, exponent, -math.inf))
        weights = xp.where(undefined, math.nan, weights)
        return (xp.sum(weights * xp.expand_dims(g, axis=axis), axis=axis + 1),)

    result = _from_op(out, (x1,), backward, saved=(x1, OUTPUT))
    return reshape(result, ()) if zero_d else result


def var_mean(x: Tensor, dim=None, *, correction: float = 1, keepdim: bool = False):
    """(var, mean) over ``dim``, as torch.var_mean (see ``var`` for correction)."""
    return var(x, dim, correction=correction, keepdims=keepdim), mean(x, dim, keepdims=keepdim)


def std_mean(x: Tensor, dim=None, *, correction: float = 1, keepdim: bool = False):
    """(std, mean) over ``dim``, as torch.std_mean (see ``std`` for correction)."""
    return std(x, dim, correction=correction, keepdims=keepdim), mean(x, dim, keepdims=keepdim)

