"""Sorting, selection and indexing along a dimension, under PyTorch's names: gather and the
scatters, index_select, take_along_dim, masked_select, nonzero, one_hot, sort, argsort, topk.

One pair of linear maps carries all of them. For an ``index`` tensor along ``dim`` of a tensor
of shape ``shape``, every element of ``index`` names one flat position of that tensor:

    position[i_0, ..., i_k] = sum_d coord_d * stride_d,  coord_dim = index[i_0, ..., i_k],
                                                        coord_d = i_d for d != dim.

``gather`` reads those positions (y = take(x_flat, position)), and its adjoint, the
scatter-add, adds each value back at its position (repeats add). So the gradient of gather is a
scatter-add, the gradient of scatter_add is a gather, and either differentiates again to the
other (``tensor._linear``). Sorting, topk, cummax ... pick their values with a gather of the
indices they found, which is where their gradients come from.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from minigrad.backend import int64
from minigrad.ops.elementwise import _not_a_tensor, where
from minigrad.ops.shape import _axis, broadcast_to, getitem, reshape
from minigrad.tensor import Tensor, _from_op, _leaf, _linear

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select",
           "take_along_dim", "masked_select", "nonzero", "one_hot", "sort", "argsort", "topk"]

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


def _index_array(index, x: Tensor, op: str):
    """``index`` as an integer array on x's device (a Tensor, or a list / NumPy array)."""
    if not isinstance(index, Tensor):
        index = Tensor(np.asarray(index), device=x.device)
    if index.device is not x.device:
        raise RuntimeError(f"{op}: index is on {index.device}, the tensor on {x.device}")
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer index tensor, got {index.dtype}")
    return index.data


def _positions(x: Tensor, dim: int, index, op: str):
    """The flat positions in x (shape S) that ``index`` (same ndim) names along ``dim``, as
    described in the module docstring; checks the shapes and the index range as PyTorch."""
    xp = x.device.xp
    shape = tuple(x.data.shape)
    ishape = tuple(index.shape)
    if len(ishape) != len(shape):
        raise RuntimeError(f"{op}: index must have as many dimensions as the tensor "
                           f"({len(shape)}), got {len(ishape)}")
    for d, (n, m) in enumerate(zip(shape, ishape, strict=True)):
        if d != dim and m > n:
            raise RuntimeError(f"{op}: index size {m} exceeds the tensor's size {n} along "
                               f"dimension {d}")
    if index.size and bool(xp.any((index < 0) | (index >= shape[dim]))):
        raise IndexError(f"{op}: index out of range for dimension {dim} of size {shape[dim]}")
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    positions = xp.astype(index, x.device.xp_dtype(int64)) * strides[dim]
    for d, m in enumerate(ishape):
        if d != dim:
            coord = xp.arange(m, dtype=x.device.xp_dtype(int64), device=x.device.native)
            view = [1] * len(ishape)
            view[d] = m
            positions = positions + xp.reshape(coord, tuple(view)) * strides[d]
    return positions


def _gather_pair(x: Tensor, positions):
    """(take, scatter-add): the linear map x -> x_flat[positions] and its adjoint, on arrays."""
    xp = x.device.xp
    shape = tuple(x.data.shape)
    size = math.prod(shape)
    flat = xp.reshape(positions, (-1,))
    out_shape = tuple(positions.shape)

    def take(a):
        return xp.reshape(xp.take(xp.reshape(a, (-1,)), flat, axis=0), out_shape)

    def scatter_add(g):
        return xp.reshape(x.device.scatter_add(size, flat, xp.reshape(g, (-1,))), shape)

    return take, scatter_add


def _apply(fn, adjoint, t, name: str):
    """A linear array map applied to an array, or as a differentiable op to a tensor (so a
    backward formula can use it under create_graph)."""
    return _linear(t, fn, adjoint, name) if isinstance(t, Tensor) else fn(t)


def _zero_d(x: Tensor, dim: int, op: str):
    if x.ndim == 0 and dim not in (0, -1):
        raise IndexError(f"{op}: dimension {dim} is out of range for a 0-d tensor")


def _on_zero_d(op, x: Tensor, dim: int, index, src: Tensor | None, *args) -> Tensor:
    """``op`` (gather or a scatter) on a 0-d x, index and src, as PyTorch does: as on
    1-element vectors along dim 0 (or -1), the result back to 0-d."""
    _zero_d(x, dim, op.__name__)
    vector = _leaf(x.device.xp.reshape(index, (1,)), x.device)
    sources = () if src is None else (reshape(src, (1,)),)
    return reshape(op(reshape(x, (1,)), 0, vector, *sources, *args), ())


def gather(x: Tensor, dim: int, index) -> Tensor:
    """out[i][j][k] = x[index[i][j][k]][j][k] for dim = 0 (likewise for other dims), the shape
    of ``index``, which has x's ndim and is no larger than x off ``dim``.

    dx = g scatter-added back at the gathered positions (repeats add)
    """
    if not isinstance(x, Tensor):
        raise _not_a_tensor("gather", "x", x)
    index = _index_array(index, x, "gather")
    if x.ndim == 0:
        return _on_zero_d(gather, x, dim, index, None)
    dim = _axis(dim, x.ndim, "gather")
    take, scatter_add_ = _gather_pair(x, _positions(x, dim, index, "gather"))
    return _linear(x, take, scatter_add_, "gather")


def scatter_add(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """x with src[i][j][k] added at [index[i][j][k]][j][k] (dim = 0; repeats add). Only the
    part of ``src`` of index's shape is used, as in PyTorch.

    dx = g,  dsrc = gather(g, dim, index)
    """
    if not isinstance(x, Tensor):
        raise _not_a_tensor("scatter_add", "x", x)
    index = _index_array(index, x, "scatter_add")
    src = _source(src, index, x, "scatter_add")
    if x.ndim == 0:
        return _on_zero_d(scatter_add, x, dim, index, src)
    dim = _axis(dim, x.ndim, "scatter_add")
    take, scatter_add_ = _gather_pair(x, _positions(x, dim, index, "scatter_add"))
    return x + _linear(src, scatter_add_, take, "scatter_add")


def _source(src, index, x: Tensor, op: str) -> Tensor:
    """src cut to index's shape (PyTorch reads only that part); a number becomes a tensor of
    index's shape."""
    if not isinstance(src, Tensor):
        xp = x.device.xp
        return _leaf(xp.full(tuple(index.shape), src, dtype=x.data.dtype,
                             device=x.device.native), x.device)
    if src.ndim != index.ndim or any(s < i for s, i in zip(src.shape, index.shape,
                                                           strict=True)):
        raise RuntimeError(f"{op}: src of shape {src.shape} is smaller than index "
                           f"{tuple(index.shape)}")
    if tuple(src.shape) != tuple(index.shape):
        src = getitem(src, tuple(slice(0, n) for n in index.shape))
    return src


# How each scattering reduction combines values: (NumPy's ufunc, the array API's reduction
# over an axis, the elementwise combination of two arrays)
_COMBINE = {"max": (np.maximum, "max", "maximum"), "min": (np.minimum, "min", "minimum"),
            "prod": (np.multiply, "prod", "multiply")}


def _scatter_combine(x: Tensor, size: int, positions, values, op: str, initial):
    """A flat array of ``size``: ``initial`` combined by ``op`` ("max", "min" or "prod") with
    the values scattered to each position. NumPy arrays use ufunc.at; other backends a
    one-hot comparison (memory len(values) * size: meant for the strict test namespace)."""
    xp = x.device.xp
    ufunc, reduction, combine = _COMBINE[op]
    out = xp.full((size,), initial, dtype=values.dtype, device=x.device.native)
    if isinstance(out, np.ndarray):
        ufunc.at(out, positions, values)
        return out
    if not values.shape[0]:
        return out
    hit = positions[:, None] == xp.arange(size, dtype=positions.dtype,
                                          device=x.device.native)[None, :]
    fill = xp.full_like(values, initial)[:, None]
    spread = xp.where(hit, values[:, None], fill)
    return getattr(xp, combine)(out, getattr(xp, reduction)(spread, axis=0))


def scatter(x: Tensor, dim: int, index, src=None, value=None, reduce=None) -> Tensor:
    """x with src (or the number ``value``) written at [index[i][j][k]][j][k] (dim = 0).
    Where an index repeats, the last write wins (PyTorch leaves that order unspecified).
    reduce="add" is scatter_add, reduce="multiply" scatter_reduce's "prod" (as PyTorch's).

    dx = g where nothing was written, else 0;  dsrc = gather(g) for the writes that won
    """
    if reduce == "add":
        return scatter_add(x, dim, index, src if src is not None else value)
    if reduce == "multiply":
        return scatter_reduce(x, dim, index, src if src is not None else value, "prod")
    if reduce is not None:
        raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    if not isinstance(x, Tensor):
        raise _not_a_tensor("scatter", "x", x)
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src and value")
    index = _index_array(index, x, "scatter")
    src = _source(src if src is not None else value, index, x, "scatter")
    if x.ndim == 0:
        return _on_zero_d(scatter, x, dim, index, src)
    xp = x.device.xp
    dim = _axis(dim, x.ndim, "scatter")
    positions = _positions(x, dim, index, "scatter")
    take, scatter_add_ = _gather_pair(x, positions)
    flat = xp.reshape(positions, (-1,))
    order = xp.arange(flat.shape[0], dtype=flat.dtype, device=x.device.native)
    # The write that wins at each position: the last one, the largest order among its writers.
    last = _scatter_combine(x, math.prod(x.shape), flat, order, "max", -1)
    wins = xp.reshape(xp.take(last, flat, axis=0) == order, tuple(index.shape))
    hit = xp.reshape(last >= 0, tuple(x.data.shape))
    written = _linear(where(_leaf(wins, x.device), src, 0), scatter_add_, take, "scatter")
    return where(_leaf(hit, x.device), written, x)


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(x: Tensor, dim: int, index, src: Tensor, reduce: str,
                   include_self: bool = True) -> Tensor:
    """x with the src values at [index[i][j][k]][j][k] (dim = 0) reduced into each position
    by ``reduce``: "sum", "prod", "mean", "amax" or "amin", together with
    x's own value when include_self, else replacing it; positions nothing is scattered to keep
    x's value.

    sum:        dx = g (0 where hit and not include_self),  dsrc = gather(g)
    prod:       each factor gets g times the product of the others (zeros: see _scatter_prod)
    mean:       out = total / count;  dx = g / count,  dsrc = gather(g / count)
    amax, amin: g is shared evenly among the elements (of x and src) equal to the result, as
                PyTorch does (except that with include_self=False an x equal to the result
                is not counted among them: it took no part; PyTorch counts it)
    """
    if reduce not in _REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {_REDUCTIONS}, got {reduce!r}")
    if not isinstance(x, Tensor):
        raise _not_a_tensor("scatter_reduce", "x", x)
    index = _index_array(index, x, "scatter_reduce")
    src = _source(src, index, x, "scatter_reduce")
    if x.ndim == 0:
        return _on_zero_d(scatter_reduce, x, dim, index, src, reduce, include_self)
    xp = x.device.xp
    dim = _axis(dim, x.ndim, "scatter_reduce")
    shape = tuple(x.data.shape)
    positions = _positions(x, dim, index, "scatter_reduce")
    flat = xp.reshape(positions, (-1,))
    take, scatter_add_ = _gather_pair(x, positions)
    ones = xp.ones(tuple(index.shape), dtype=x.data.dtype, device=x.device.native)
    counts = scatter_add_(ones)  # how many src values land on each position
    hit = _leaf(counts > 0, x.device)
    if reduce == "prod":
        return _scatter_prod(x, src, include_self, flat, take, scatter_add_, hit.data)
    if reduce in ("sum", "mean"):
        total = _linear(src, scatter_add_, take, "scatter_reduce")
        if include_self:
            total = total + x
        if reduce == "sum":
            return total if include_self else where(hit, total, x)
        divisor = counts + 1 if include_self else xp.where(counts > 0, counts, 1)
        if x.dtype.kind != "f":  # integers: the mean rounded down, as PyTorch
            mean = _leaf(xp.floor_divide(total.data, xp.astype(divisor, total.data.dtype)),
                         x.device)
        else:
            mean = total / _leaf(divisor, x.device)
        return mean if include_self else where(hit, mean, x)
    largest = reduce == "amax"
    if x.dtype.kind == "f":  # the identity of max (or min): what no value loses to
        identity = -math.inf if largest else math.inf
    else:
        identity = xp.iinfo(x.data.dtype).min if largest else xp.iinfo(x.data.dtype).max
    src_flat = xp.reshape(src.data, (-1,))
    reduced = _scatter_combine(x, math.prod(shape), flat, src_flat,
                               "max" if largest else "min", identity)
    reduced = xp.reshape(reduced, shape)
    if include_self:
        out = (xp.maximum if largest else xp.minimum)(reduced, x.data)
    else:
        out = xp.where(hit.data, reduced, x.data)
    if not (x.requires_grad or src.requires_grad):
        return _leaf(out, x.device)
    # Which elements the result came from (constants of the backward), and how many tie.
    from_self = (x.data == out) if include_self else ~hit.data
    from_src = src.data == take(out)
    dtype = x.data.dtype
    ties = xp.astype(from_self, dtype) + scatter_add_(xp.astype(from_src, dtype))
    self_share = xp.astype(from_self, dtype) / xp.where(ties > 0, ties, 1)
    src_ties = take(ties)
    src_share = xp.astype(from_src, dtype) / xp.where(src_ties > 0, src_ties, 1)

    def backward(ctx, g):
        return ((g * self_share if x.requires_grad else None),
                (_apply(take, scatter_add_, g, "gather") * src_share
                 if src.requires_grad else None))

    return _from_op(out, (x, src), backward)


def _scatter_prod(x: Tensor, src: Tensor, include_self: bool, flat, take, scatter_add_,
                  hit) -> Tensor:
    """scatter_reduce with reduce="prod" (see there); ``hit``: where some src value lands.

    Each position's contributors c (x itself when it takes part, and the src values that
    land there) multiply to out_p, and d out_p / d c_i = prod_{j != i} c_j. Without dividing
    by a zero: with P_p the product of the nonzero contributors (from logarithms, its sign
    counted apart) and z_p the number of zero ones,

        dc_i = g_p P_p / c_i   where z_p = 0,
        dc_i = g_p P_p         where c_i is the one zero (z_p = 1),
        dc_i = 0               otherwise (another factor is 0).

    Differentiating that once more is exact away from zeros (PyTorch has no second
    derivative here at all).
    """
    xp = x.device.xp
    shape = tuple(x.data.shape)
    values = xp.reshape(src.data, (-1,))
    product = xp.reshape(_scatter_combine(x, math.prod(shape), flat, values, "prod", 1), shape)
    out = x.data * product if include_self else xp.where(hit, product, x.data)
    if not (x.requires_grad or src.requires_grad):
        return _leaf(out, x.device)
    dtype = x.data.dtype
    # Constants of the backward: who takes part, where the zeros are, the sign of each P_p.
    self_part = xp.ones_like(hit) if include_self else ~hit  # (or where nothing lands)
    self_zero = self_part & (x.data == 0)
    src_zero = src.data == 0
    zeros = xp.astype(self_zero, dtype) + scatter_add_(xp.astype(src_zero, dtype))
    negatives = (xp.astype(self_part & (x.data < 0), dtype)
                 + scatter_add_(xp.astype(src.data < 0, dtype)))
    sign = 1 - 2 * xp.remainder(negatives, 2)
    self_ok = self_part & (zeros - xp.astype(self_zero, dtype) == 0)
    src_ok = take(zeros) - xp.astype(src_zero, dtype) == 0
    self_one = self_zero | ~self_part  # factors read as 1 in P (zeros, and x outside it)

    def backward(ctx, g):
        x_, s_ = ctx.saved
        xp = ctx.xp
        x1 = xp.where(self_one, 1.0, x_)
        s1 = xp.where(src_zero, 1.0, s_)
        log_p = xp.log(xp.abs(x1)) + _apply(scatter_add_, take, xp.log(xp.abs(s1)),
                                            "scatter_add")
        g_p = g * (xp.exp(log_p) * sign)  # g_p P_p (the constant array on the right)
        return ((xp.where(self_ok, g_p / x1, 0.0) if x.requires_grad else None),
                (xp.where(src_ok, _apply(take, scatter_add_, g_p, "gather") / s1, 0.0)
                 if src.requires_grad else None))

    backward.__qualname__ = "scatter_reduce.backward"
    return _from_op(out, (x, src), backward, saved=(x, src))


def index_select(x: Tensor, dim: int, index) -> Tensor:
    """The slices of x at the positions ``index`` (1-D) along ``dim``.

    dx = g scatter-added back along dim (an index may repeat)
    """
    if not isinstance(x, Tensor):
        raise _not_a_tensor("index_select", "x", x)
    idx = _index_array(index, x, "index_select")
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be 0-d or 1-D, got {idx.ndim} dimensions")
    if x.ndim == 0:
        _zero_d(x, dim, "index_select")
        return gather(x, 0, _leaf(x.device.xp.reshape(idx, ()), x.device))
    dim = _axis(dim, x.ndim, "index_select")
    n = x.shape[dim]
    if idx.size and bool(x.device.xp.any((idx < 0) | (idx >= n))):
        raise IndexError(f"index_select: index out of range for dimension {dim} of size {n}")
    key = (slice(None),) * dim + (_leaf(x.device.xp.reshape(idx, (-1,)), x.device),)
    return getitem(x, key)


def take_along_dim(x: Tensor, indices, dim: int | None = None) -> Tensor:
    """gather with broadcasting: x and ``indices`` broadcast against each other off ``dim``;
    dim None: gather from the flattened x at the flattened indices.

    dx = g scatter-added back (through the broadcast, summed)
    """
    if not isinstance(x, Tensor):
        raise _not_a_tensor("take_along_dim", "x", x)
    idx = _leaf(_index_array(indices, x, "take_along_dim"), x.device)
    if dim is None:
        return gather(reshape(x, (-1,)), 0, reshape(idx, (-1,)))
    if idx.ndim != x.ndim:
        raise RuntimeError(f"take_along_dim: indices must have {x.ndim} dimensions, got "
                           f"{idx.ndim}")
    dim = _axis(dim, x.ndim, "take_along_dim")
    both = [np.broadcast_shapes((a,), (b,))[0] for a, b in zip(x.shape, idx.shape,
                                                                 strict=True)]
    x_shape = tuple(n if d != dim else x.shape[d] for d, n in enumerate(both))
    i_shape = tuple(n if d != dim else idx.shape[d] for d, n in enumerate(both))
    return gather(broadcast_to(x, x_shape), dim, broadcast_to(idx, i_shape))


def masked_select(x: Tensor, mask) -> Tensor:
    """The elements of x where the bool ``mask`` is true (the two broadcast), as a 1-D tensor
    in row-major order.   dx = g written back at the selected positions"""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("masked_select", "x", x)
    if not isinstance(mask, Tensor):
        mask = Tensor(np.asarray(mask), device=x.device)
    if mask.dtype.kind != "b":
        raise TypeError(f"masked_select: expected a bool mask, got {mask.dtype}")
    shape = tuple(np.broadcast_shapes(x.shape, mask.shape))
    xp = x.device.xp
    # The flat positions of the true elements (host-synchronising: they decide the size)
    (positions,) = xp.nonzero(xp.reshape(xp.broadcast_to(mask.data, shape), (-1,)))
    positions = _leaf(xp.astype(positions, x.device.xp_dtype(int64)), x.device)
    return gather(reshape(broadcast_to(x, shape), (-1,)), 0, positions)


def nonzero(x: Tensor, as_tuple: bool = False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, one row per element in
    row-major order; as_tuple: a tuple of ndim 1-D tensors, one per dimension."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("nonzero", "x", x)
    xp = x.device.xp
    a = x.data
    if x.ndim == 0:  # the array API needs a dimension; a 0-d result has no columns
        count = int(bool(a != 0))
        if as_tuple:
            return (_leaf(xp.zeros((count,), dtype=x.device.xp_dtype(int64),
                                   device=x.device.native), x.device),)
        return _leaf(xp.zeros((count, 0), dtype=x.device.xp_dtype(int64),
                              device=x.device.native), x.device)
    parts = [xp.astype(p, x.device.xp_dtype(int64)) for p in xp.nonzero(a)]
    if as_tuple:
        return tuple(_leaf(p, x.device) for p in parts)
    return _leaf(xp.stack(parts, axis=1), x.device)


def one_hot(x: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape (*x.shape, num_classes) with 1 at each class in x (int64);
    num_classes = -1: x.max() + 1."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("one_hot", "x", x)
    if x.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensors, got {x.dtype}")
    xp = x.device.xp
    if num_classes == -1:
        if x.data.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty "
                               "tensor; give num_classes")
        num_classes = int(xp.max(x.data)) + 1
    if x.data.size:
        if bool(xp.any(x.data < 0)):
            raise RuntimeError("one_hot: class values must be non-negative")
        if bool(xp.any(x.data >= num_classes)):
            raise RuntimeError("one_hot: class values must be smaller than num_classes")
    classes = xp.arange(num_classes, dtype=x.data.dtype, device=x.device.native)
    return _leaf(xp.astype(x.data[..., None] == classes, x.device.xp_dtype(int64)), x.device)


def _sort_indices(x: Tensor, dim: int, descending: bool, op: str):
    """(x or a 1-element view of a 0-d x, dim, the int64 indices that sort it along dim).
    Always stable: ties keep their order (PyTorch's stable=True; its unstable default makes no
    promise, so this is one of its answers). nan sorts as the largest value, as in PyTorch."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor(op, "x", x)
    xp = x.device.xp
    if x.ndim == 0:
        _zero_d(x, dim, op)
        return None, 0, xp.zeros((), dtype=x.device.xp_dtype(int64), device=x.device.native)
    dim = _axis(dim, x.ndim, op)
    order = xp.argsort(x.data, axis=dim, descending=descending, stable=True)
    return x, dim, xp.astype(order, x.device.xp_dtype(int64))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The int64 indices that sort x along ``dim`` (always stably, see sort)."""
    _, _, order = _sort_indices(x, dim, descending, "argsort")
    return _leaf(order, x.device)


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices): x sorted along ``dim`` and where each value came from. Always stable
    (equal values keep their order); nan counts as the largest value, as in PyTorch.

    dx = g scattered back to where each value came from (values = gather(x, dim, indices))
    """
    source, dim, order = _sort_indices(x, dim, descending, "sort")
    indices = _leaf(order, x.device)
    if source is None:  # 0-d
        return SortResult(reshape(x, ()), indices)
    return SortResult(gather(x, dim, indices), indices)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the k largest (largest=False: smallest) elements along ``dim``,
    in sorted order (sorted=False gives the same order). Ties: the earlier element first.

    dx = g scattered back to the chosen elements
    """
    source, axis, order = _sort_indices(x, dim, largest, "topk")
    n = 1 if source is None else x.shape[axis]
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for a dimension of size {n}")
    if source is None:
        return TopkResult(reshape(x, ()), _leaf(order, x.device))
    key = (slice(None),) * axis + (slice(0, k), Ellipsis)
    indices = _leaf(order[key], x.device)
    return TopkResult(gather(x, axis, indices), indices)
