"""Ops that move values around without arithmetic: their backward moves gradients back."""

from __future__ import annotations

import numbers
import operator

import numpy as np

from minigrad.autograd import sum_to_shape
from minigrad.backend import int64, is_host_array
from minigrad.ops.elementwise import _namespace, _not_a_tensor, _type_name
from minigrad.tensor import Tensor, _from_op, _lift, _linear

__all__ = ["reshape", "flatten", "permute", "transpose", "squeeze", "unsqueeze", "expand",
           "broadcast_to", "getitem", "concat", "stack", "split", "pad"]


def _shape_arg(shape) -> tuple[int, ...]:
    """Accept reshape(x, 2, 3) as well as reshape(x, (2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _axis(axis: int, ndim: int, op: str = "", new: bool = False) -> int:
    """``axis`` counted from the front, or IndexError when a tensor of ``ndim`` lacks it (as
    PyTorch: no wrapping around). new: the axis of a new dimension (unsqueeze, stack), so one
    of ndim + 1 positions."""
    if not isinstance(axis, int):
        try:
            axis = operator.index(axis)  # NumPy integers too, but not 1.0
        except TypeError:
            raise TypeError(f"{op + ': ' if op else ''}expected an int axis, got "
                            f"{_type_name(axis)}") from None
    size = ndim + 1 if new else ndim
    if not -size <= axis < size:
        what = (f"a new axis of a tensor with {ndim} dimensions" if new
                else f"a tensor with {ndim} dimensions")
        raise IndexError(f"{op + ': ' if op else ''}axis {axis} is out of range for {what} "
                         f"(expected an axis in [{-size}, {size - 1}])")
    return axis % size


def reshape(x: Tensor, *shape) -> Tensor:
    """The same values in a new shape (one entry may be -1).   dx = g reshaped back"""
    xp = _namespace(x, "reshape")
    shape, old = _shape_arg(shape), tuple(x.data.shape)
    return _linear(x, lambda a: xp.reshape(a, shape), lambda g: xp.reshape(g, old), "reshape",
                   view=True)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim (inclusive) into one, as torch.flatten."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("flatten", "x", x)
    # (a 0-d tensor flattens to shape (1,): PyTorch counts it as having axis 0 here)
    start = _axis(start_dim, x.ndim or 1, "flatten")
    end = _axis(end_dim, x.ndim or 1, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"(shape {x.shape})")
    if x.ndim == 0:
        return reshape(x, (1,))
    shape = x.shape
    return reshape(x, shape[:start] + (-1,) + shape[end + 1:])


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder the axes: out.shape[i] = x.shape[dims[i]].   dx = g permuted by the inverse"""
    xp = _namespace(x, "permute")
    dims = tuple(_axis(d, x.ndim, "permute") for d in _shape_arg(dims))
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute needs each of the {x.ndim} axes once, got {dims}")
    inverse = tuple(sorted(range(x.ndim), key=dims.__getitem__))
    return _linear(x, lambda a: xp.permute_dims(a, dims), lambda g: xp.permute_dims(g, inverse),
                   "permute", view=True)


def transpose(x: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes (the last two by default)."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("transpose", "x", x)
    dims = list(range(x.ndim))
    dim0, dim1 = _axis(dim0, x.ndim, "transpose"), _axis(dim1, x.ndim, "transpose")
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(x, tuple(dims))


def squeeze(x: Tensor, axis=None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis``); an axis in ``axis`` whose size is
    not 1 stays, as in PyTorch (the array API would raise)."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("squeeze", "x", x)
    if axis is None or x.ndim == 0:  # a 0-d tensor squeezes to itself, as in PyTorch
        axes = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        axes = {_axis(a, x.ndim, "squeeze")
                for a in (axis if isinstance(axis, tuple | list) else (axis,))}
        axes = {a for a in axes if x.shape[a] == 1}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """Insert a size-1 axis at position ``axis`` of the result."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("unsqueeze", "x", x)
    axis = _axis(axis, x.ndim, "unsqueeze", new=True)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def broadcast_to(x: Tensor, *shape) -> Tensor:
    """x stretched to ``shape`` by broadcasting.   dx = g summed back (done by the engine)"""
    xp = _namespace(x, "broadcast_to")
    shape, old = _shape_arg(shape), tuple(x.data.shape)
    return _linear(x, lambda a: xp.broadcast_to(a, shape), lambda g: sum_to_shape(g, old, xp),
                   "broadcast_to", view=True)


def expand(x: Tensor, *shape) -> Tensor:
    """Like broadcast_to, where -1 keeps the existing size (as torch's expand)."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("expand", "x", x)
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    return broadcast_to(x, tuple(x.shape[i - lead] if n == -1 else n
                                 for i, n in enumerate(shape)))


def _host_index(k, x: Tensor) -> Tensor:
    """A list, a tuple or a NumPy array inside an index as a Tensor on x's device: a sequence
    of indices, the same whether a list or a (nested) tuple, as in NumPy and PyTorch
    (x[((0,),)] is x[[0]]); [] is an empty integer index, not a float one."""
    try:
        t = Tensor(k, device=x.device)
    except (TypeError, ValueError):  # slices or None inside a list, ragged lists ...
        raise IndexError(f"only integers, slices, None, Ellipsis, and integer or bool arrays "
                         f"(or lists and tuples of integers) are valid indices, got {k!r}"
                         ) from None
    if t.numel() == 0 and t.dtype.kind == "f":
        t = Tensor(k, dtype=int64, device=x.device)
    return t


def _index_key(key, x: Tensor):
    """Normalise an index: tensors, lists, tuples and NumPy arrays inside it become arrays on
    x's device, and a trailing Ellipsis is added (the array API does not fill in missing axes
    implicitly).

    Returns (key, array_axis): array_axis is the axis of the one integer array when it is the
    only non-trivial part of the key (x[idx], x[:, idx], x[..., idx]), which ``take`` handles
    on every backend; -1 for keys without arrays; None for other array keys (NumPy/CuPy
    semantics).
    """
    if not isinstance(key, tuple):
        key = (key,)
    parts = []
    for k in key:
        if type(k) is int or type(k) is slice:  # the common parts, passed through at once
            parts.append(k)
            continue
        if isinstance(k, list | tuple) or is_host_array(k):  # host indices go to x's device
            k = _host_index(k, x)
        elif isinstance(k, bool | np.bool_):
            # x[True] adds an axis and x[False] selects nothing (NumPy, PyTorch): a 0-d mask,
            # not the integer 1 or 0 that bool is in Python
            k = Tensor(k, device=x.device)
        elif isinstance(k, numbers.Integral):  # np.argmax(...) and friends: an int
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
    xp = _namespace(x, "getitem")
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
        size = x.numel()
        positions = select(xp.reshape(xp.arange(size, device=x.device.native), shape))
        flat = x.device.scatter_add(size, xp.reshape(positions, (-1,)), xp.reshape(g, (-1,)))
        return xp.reshape(flat, shape)

    return _linear(x, select, scatter, "getitem", view=array_axis == -1)


def _tensor_sequence(tensors, op: str) -> tuple[Tensor, ...]:
    """concat's and stack's first argument checked: a non-empty sequence of tensors, all on
    the first one's device."""
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{op}: expected a sequence of Tensors, got {_type_name(tensors)}")
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of Tensors, got none")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a sequence of Tensors, got {_type_name(t)} at "
                            f"position {i}")
    return tuple(_lift(t, tensors[0], op) for t in tensors)  # refuses other devices


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; their shapes agree on every other axis.

    d tensors[i] = the slice of g it filled
    """
    tensors = _tensor_sequence(tensors, "concat")
    first = tensors[0]
    ndim = first.data.ndim
    if ndim == 0:
        raise ValueError("concat: 0-d tensors cannot be concatenated (they have no axis); "
                         "stack them instead")
    axis = _axis(axis, ndim, "concat")
    try:
        out = first.device.xp.concat([t.data for t in tensors], axis=axis)
    except ValueError:  # shapes checked on failure only (not on every concat)
        _check_concat_shapes(tensors, axis)
        raise
    bounds = [0]
    for t in tensors:
        bounds.append(bounds[-1] + t.data.shape[axis])

    def backward(ctx, g):
        lead = (slice(None),) * axis
        return tuple(g[lead + (slice(lo, hi), Ellipsis)] if t.requires_grad else None
                     for t, lo, hi in zip(tensors, bounds, bounds[1:], strict=False))

    return _from_op(out, tensors, backward)


def _check_concat_shapes(tensors, axis: int) -> None:
    """Raise ValueError naming the first tensor whose shape differs from the first one's off
    ``axis``."""
    shape = tuple(tensors[0].data.shape)
    for i, t in enumerate(tensors):
        other = tuple(t.data.shape)
        if len(other) != len(shape) or other[:axis] + other[axis + 1:] != (
                shape[:axis] + shape[axis + 1:]):
            expected = ", ".join("*" if k == axis else str(n) for k, n in enumerate(shape))
            raise ValueError(f"concat: expected tensors of shape ({expected}) (any size along "
                             f"axis {axis}), got shape {other} for tensor {i}")


def stack(tensors, axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis."""
    tensors = _tensor_sequence(tensors, "stack")
    shape = tensors[0].data.shape
    axis = _axis(axis, len(shape), "stack", new=True)
    for i, t in enumerate(tensors):
        if t.data.shape != shape:
            raise ValueError(f"stack: expected tensors of one shape, got {tuple(shape)} for "
                             f"tensor 0 and {tuple(t.data.shape)} for tensor {i}")
    return concat([unsqueeze(t, axis) for t in tensors], axis=axis)


def split(x: Tensor, split_size_or_sections, axis: int = 0) -> list[Tensor]:
    """Cut x along ``axis`` into pieces of one size (the last may be smaller) or of given sizes,
    as torch.split."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("split", "x", x)
    if x.ndim == 0:
        raise ValueError("split: a 0-d tensor has no axis to split")
    axis = _axis(axis, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step < 1 and not (step == 0 and n == 0):
            raise ValueError(f"split: expected a split size >= 1, got {step}")
        # (an axis of length 0 gives one empty piece, as in PyTorch)
        sizes = [min(step, n - lo) for lo in range(0, n, step)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if not all(isinstance(k, numbers.Integral) and k >= 0 for k in sizes):
            raise ValueError(f"split: expected sizes that are ints >= 0, got {sizes}")
        if sum(sizes) != n:
            raise ValueError(f"split sizes {sizes} do not add up to {n} (axis {axis})")
    lead = (slice(None),) * axis
    pieces, lo = [], 0
    for size in sizes:
        pieces.append(getitem(x, lead + (slice(lo, lo + size),)))
        lo += size
    return pieces


def pad(x: Tensor, pad_width, value: float = 0.0) -> Tensor:
    """Constant padding. pad_width: an int for every side, or one (before, after) pair per axis
    (as numpy.pad).   dx = the centre of g"""
    xp = _namespace(x, "pad")
    if isinstance(pad_width, int):
        pad_width = [(pad_width, pad_width)] * x.ndim
    pad_width = [tuple(p) for p in pad_width]
    if len(pad_width) != x.ndim:
        raise ValueError(f"pad needs {x.ndim} (before, after) pairs, got {len(pad_width)}")
    if not all(len(p) == 2 and all(isinstance(k, int) and k >= 0 for k in p)
               for p in pad_width):
        raise ValueError(f"pad: expected (before, after) pairs of ints >= 0, got {pad_width}")
    shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pad_width, strict=True))
    centre = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, pad_width, strict=True))

    def padded(a):
        out = xp.full(shape, value, dtype=a.dtype, device=x.device.native)
        out[centre] = a
        return out

    def backward(ctx, g):  # affine in x: the constant fill has no gradient
        return (g[centre],)

    return _from_op(padded(x.data), (x,), backward)
