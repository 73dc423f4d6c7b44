"""Ops that move values around without arithmetic: their backward moves gradients back."""

from __future__ import annotations

import numbers

from minigrad.autograd import sum_to_shape
from minigrad.backend import is_host_array
from minigrad.tensor import Tensor, _from_op, _lift, _linear

__all__ = ["reshape", "flatten", "permute", "transpose", "squeeze", "unsqueeze", "expand",
           "broadcast_to", "getitem", "concat", "stack", "split", "pad"]


def _shape_arg(shape) -> tuple[int, ...]:
    """Accept reshape(x, 2, 3) as well as reshape(x, (2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _axis(axis: int, ndim: int) -> int:
    """``axis`` counted from the front, or IndexError when a tensor of ``ndim`` lacks it."""
    if not -ndim <= axis < ndim:
        raise IndexError(f"axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim


def reshape(x: Tensor, *shape) -> Tensor:
    """The same values in a new shape (one entry may be -1).   dx = g reshaped back"""
    xp = x.device.xp
    shape, old = _shape_arg(shape), tuple(x.data.shape)
    return _linear(x, lambda a: xp.reshape(a, shape), lambda g: xp.reshape(g, old), "reshape",
                   view=True)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim (inclusive) into one, as torch.flatten."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = _axis(start_dim, x.ndim), _axis(end_dim, x.ndim)
    shape = x.shape
    return reshape(x, shape[:start] + (-1,) + shape[end + 1:])


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder the axes: out.shape[i] = x.shape[dims[i]].   dx = g permuted by the inverse"""
    xp = x.device.xp
    dims = tuple(_axis(d, x.ndim) for d in _shape_arg(dims))
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute needs each of the {x.ndim} axes once, got {dims}")
    inverse = tuple(sorted(range(x.ndim), key=dims.__getitem__))
    return _linear(x, lambda a: xp.permute_dims(a, dims), lambda g: xp.permute_dims(g, inverse),
                   "permute", view=True)


def transpose(x: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes (the last two by default)."""
    dims = list(range(x.ndim))
    dim0, dim1 = _axis(dim0, x.ndim), _axis(dim1, x.ndim)
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(x, tuple(dims))


def squeeze(x: Tensor, axis=None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis``)."""
    if axis is None or x.ndim == 0:  # a 0-d tensor squeezes to itself, as in PyTorch
        axes = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        axes = {_axis(a, x.ndim) for a in ((axis,) if isinstance(axis, int) else axis)}
        bad = [a for a in axes if x.shape[a] != 1]
        if bad:
            raise ValueError(f"cannot squeeze axis {bad[0]} of size {x.shape[bad[0]]} "
                             f"(shape {x.shape})")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """Insert a size-1 axis at position ``axis`` of the result."""
    axis = _axis(axis, x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def broadcast_to(x: Tensor, *shape) -> Tensor:
    """x stretched to ``shape`` by broadcasting.   dx = g summed back (done by the engine)"""
    xp = x.device.xp
    shape, old = _shape_arg(shape), tuple(x.data.shape)
    return _linear(x, lambda a: xp.broadcast_to(a, shape), lambda g: sum_to_shape(g, old, xp),
                   "broadcast_to", view=True)


def expand(x: Tensor, *shape) -> Tensor:
    """Like broadcast_to, where -1 keeps the existing size (as torch's expand)."""
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    return broadcast_to(x, tuple(x.shape[i - lead] if n == -1 else n
                                 for i, n in enumerate(shape)))


def _index_key(key, x: Tensor):
    """Normalise an index: tensors, lists and NumPy arrays become arrays on x's device, and a
    trailing Ellipsis is added (the array API does not fill in missing axes implicitly).

    Returns (key, array_axis): array_axis is the axis of the one integer array when it is the
    only non-trivial part of the key (x[idx], x[:, idx], x[..., idx]), which ``take`` handles
    on every backend; -1 for keys without arrays; None for other array keys (NumPy/CuPy
    semantics).
    """
    if not isinstance(key, tuple):
        key = (key,)
    parts = []
    for k in key:
        if isinstance(k, list) or is_host_array(k):  # host indices, like ints, go to x's device
            k = Tensor(k, device=x.device)
        if isinstance(k, numbers.Integral):  # np.argmax(...) and friends: an int, not an array
            k = int(k)
        if isinstance(k, Tensor):
            k = _lift(k, x, "indexing")  # refuses an index tensor on another device
            if k.dtype.kind not in "iub":
                raise IndexError(f"tensors used as indices must be integer or bool, got {k.dtype}")
            k = k.data
        parts.append(k)
    if not any(p is Ellipsis for p in parts):
        parts.append(Ellipsis)
    arrays = [i for i, p in enumerate(parts)
              if not (p is None or p is Ellipsis or isinstance(p, int | slice))]
    if not arrays:
        return tuple(parts), -1
    only = arrays[0]
    ellipsis = next(i for i, p in enumerate(parts) if p is Ellipsis)
    trivial = all(p is Ellipsis or (isinstance(p, slice) and p == slice(None))
                  for i, p in enumerate(parts) if i != only)
    if (len(arrays) == 1 and trivial
            and x.device.canonical(parts[only].dtype).kind in "iu"):
        return parts[only], only if only < ellipsis else x.ndim - (len(parts) - only)
    return tuple(parts), None


def getitem(x: Tensor, key) -> Tensor:
    """x[key] for ints, slices, None, Ellipsis and integer (or bool) arrays.

    dx = zeros with g written back at the selected positions; with integer arrays a position
    can be selected twice, so the gradient is scatter-added instead of written.
    """
    xp = x.device.xp
    key, array_axis = _index_key(key, x)
    shape = x.data.shape

    def select(a):
        if array_axis is None or array_axis < 0:
            return a[key]
        picked = xp.take(a, xp.reshape(key, (-1,)), axis=array_axis)
        return xp.reshape(picked, shape[:array_axis] + tuple(key.shape)
                          + shape[array_axis + 1:])

    def scatter(g):  # the adjoint of select: g written back at the selected positions
        if array_axis == -1:
            grad = xp.zeros(shape, dtype=g.dtype, device=x.device.native)
            settable = tuple(p for p in key if p is not None)
            if len(settable) < len(key):  # the array API cannot assign through a new axis
                g = xp.reshape(g, grad[settable].shape)
            grad[settable] = g
            return grad
        # Scatter-add g to the flat positions of the selected elements.
        size = x.size
        positions = select(xp.reshape(xp.arange(size, device=x.device.native), shape))
        flat = x.device.scatter_add(size, xp.reshape(positions, (-1,)), xp.reshape(g, (-1,)))
        return xp.reshape(flat, shape)

    return _linear(x, select, scatter, "getitem", view=array_axis == -1)


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.   d tensors[i] = the slice of g it filled"""
    tensors = tuple(tensors)
    first = tensors[0]
    tensors = tuple(_lift(t, first, "concat") for t in tensors)
    xp = first.device.xp
    out = xp.concat([t.data for t in tensors], axis=axis)
    axis = axis % out.ndim
    bounds = [0]
    for t in tensors:
        bounds.append(bounds[-1] + t.data.shape[axis])

    def backward(ctx, g):
        lead = (slice(None),) * axis
        return tuple(g[lead + (slice(lo, hi), Ellipsis)] if t.requires_grad else None
                     for t, lo, hi in zip(tensors, bounds, bounds[1:], strict=False))

    return _from_op(out, tensors, backward)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis."""
    tensors = tuple(tensors)
    axis = axis % (tensors[0].ndim + 1)
    return concat([unsqueeze(t, axis) for t in tensors], axis=axis)


def split(x: Tensor, split_size_or_sections, axis: int = 0) -> list[Tensor]:
    """Cut x along ``axis`` into pieces of one size (the last may be smaller) or of given sizes,
    as torch.split."""
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        sizes = [min(step, n - lo) for lo in range(0, n, step)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split sizes {sizes} do not add up to {n} (axis {axis})")
    lead = (slice(None),) * (axis % x.ndim)
    pieces, lo = [], 0
    for size in sizes:
        pieces.append(getitem(x, lead + (slice(lo, lo + size),)))
        lo += size
    return pieces


def pad(x: Tensor, pad_width, value: float = 0.0) -> Tensor:
    """Constant padding. pad_width: an int for every side, or one (before, after) pair per axis
    (as numpy.pad).   dx = the centre of g"""
    xp = x.device.xp
    if isinstance(pad_width, int):
        pad_width = [(pad_width, pad_width)] * x.ndim
    pad_width = [tuple(p) for p in pad_width]
    if len(pad_width) != x.ndim:
        raise ValueError(f"pad needs {x.ndim} (before, after) pairs, got {len(pad_width)}")
    shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pad_width, strict=True))
    centre = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, pad_width, strict=True))

    def padded(a):
        out = xp.full(shape, value, dtype=a.dtype, device=x.device.native)
        out[centre] = a
        return out

    def backward(ctx, g):  # affine in x: the constant fill has no gradient
        return (g[centre],)

    return _from_op(padded(x.data), (x,), backward)
