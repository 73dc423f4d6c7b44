"""PyTorch's ``F.pad``: constant, reflect, replicate and circular padding of the last axes.

``pad`` lists (before, after) widths from the LAST axis backwards, as PyTorch:
(left, right) pads the last axis, (left, right, top, bottom) the last two, and so on.

Every mode is linear in x (the constant fill aside), so each is one ``_linear`` op: a forward
map and its adjoint, differentiable to any order.

- constant: the centre of a new array filled with ``value``; a negative width crops instead.
  Adjoint: the centre of the gradient (the fill receives none).
- reflect / replicate / circular: along each padded axis, output position r reads input
  position src(r), with, for an axis of n values padded by (a, b), and i = r - a:
      reflect    src = |i| mirrored at 0 and n - 1 (the edge is not repeated):  needs a, b < n
      replicate  src = clip(i, 0, n - 1)
      circular   src = i mod n                                                 needs a, b <= n
  a gather (``take``) along the axis. Its adjoint adds every gradient back to the position it
  was read from: the centre, plus the padded positions added one slice at a time (the widths
  are small, so that loop is short).
"""

from __future__ import annotations

import numpy as np

from minigrad.ops.elementwise import _not_a_tensor
from minigrad.tensor import Tensor, _linear

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pads the last len(pad)/2 axes of ``input`` by pad = (before_last, after_last,
    before_second_last, ...) widths; mode "constant" (with ``value``, default 0), "reflect",
    "replicate" or "circular". Shape: (..., S) -> (..., S + before + after) per padded axis.
    The non-constant modes pad at most the last 3 axes and leave at least the first (batch)
    axis alone, as PyTorch (which needs (C, ...) or (N, C, ...) inputs there)."""
    if not isinstance(input, Tensor):
        raise _not_a_tensor("pad", "input", input)
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    widths = tuple(pad)
    if len(widths) % 2 or not all(isinstance(w, int | np.integer) for w in widths):
        raise ValueError(f"pad: expected an even number of ints (before, after per axis, the "
                         f"last axis first), got {pad!r}")
    axes = len(widths) // 2
    if axes > input.ndim:
        raise ValueError(f"pad: {axes} (before, after) pairs for an input of {input.ndim} axes")
    # (axis, before, after) from the last axis backwards, as the tuple lists them.
    per_axis = [(input.ndim - 1 - k, int(widths[2 * k]), int(widths[2 * k + 1]))
                for k in range(axes)]
    if mode == "constant":
        return _pad_constant(input, per_axis, 0.0 if value is None else value)
    if value not in (None, 0):
        raise ValueError(f"pad: a fill value only makes sense with mode='constant', not {mode!r}")
    if axes > 3 or axes >= input.ndim:
        raise ValueError(f"pad: mode {mode!r} pads 1 to 3 trailing axes and needs at least one "
                         f"more axis in front (got {axes} pairs for shape {input.shape})")
    out = input
    for axis, before, after in per_axis:
        if before or after:
            out = _pad_gather(out, axis, before, after, mode)
    return out


def _pad_constant(x: Tensor, per_axis, value: float) -> Tensor:
    """Constant padding (negative widths crop): the centre of a ``value``-filled array."""
    xp, dev = x.device.xp, x.device
    shape = list(x.shape)
    source = [slice(None)] * x.ndim   # the part of x that is kept (all of it unless cropped)
    target = [slice(None)] * x.ndim   # where that part lands in the output
    for axis, before, after in per_axis:
        n = shape[axis]
        size = n + before + after
        if size < 0:
            raise ValueError(f"pad: widths ({before}, {after}) leave a negative size on axis "
                             f"{axis} of length {n}")
        source[axis] = slice(max(-before, 0), n - max(-after, 0))
        target[axis] = slice(max(before, 0), max(before, 0) + max(n - max(-before, 0)
                                                                   - max(-after, 0), 0))
        shape[axis] = size
    source, target, shape = tuple(source), tuple(target), tuple(shape)

    def padded(a, fill=0):
        out = xp.full(shape, fill, dtype=a.dtype, device=dev.native)
        out[target] = a[source]
        return out

    def centre(g):  # the adjoint: the kept part's gradient, zero where x was cropped away
        gx = xp.zeros(x.shape, dtype=g.dtype, device=dev.native)
        gx[source] = g[target]
        return gx

    data = padded(x.data, value) if value != 0 else None  # the fill has no gradient
    return _linear(x, padded, centre, "pad", data=data)


def _source_positions(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each of the n + before + after output positions, the input position it reads."""
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        if before > n or after > n:
            raise ValueError(f"pad: circular widths ({before}, {after}) must be at most the "
                             f"axis length {n}")
        return i % n
    if before >= n or after >= n:  # reflect
        raise ValueError(f"pad: reflect widths ({before}, {after}) must be smaller than the "
                         f"axis length {n}")
    i = np.abs(i)                                  # mirrored at 0 ...
    return np.where(i > n - 1, 2 * (n - 1) - i, i)  # ... and at n - 1


def _pad_gather(x: Tensor, axis: int, before: int, after: int, mode: str) -> Tensor:
    """Reflect, replicate or circular padding of one axis: a gather and its adjoint."""
    xp, dev = x.device.xp, x.device
    n = x.shape[axis]
    if n == 0:
        raise ValueError(f"pad: mode {mode!r} cannot pad an empty axis (shape {x.shape})")
    if before < 0 or after < 0:
        raise ValueError(f"pad: mode {mode!r} needs widths >= 0, got ({before}, {after})")
    src = _source_positions(n, before, after, mode)
    indices = xp.asarray(src, dtype=xp.int64, device=dev.native)

    def at(k):  # index of position k along ``axis``
        return (slice(None),) * axis + (k, Ellipsis)

    def gather(a):
        return xp.take(a, indices, axis=axis)

    def scatter(g):  # the adjoint: each output position's gradient added to its source
        gx = g[(slice(None),) * axis + (slice(before, before + n), Ellipsis)]  # the centre
        gx = xp.asarray(gx, copy=True)
        for r in [*range(before), *range(before + n, before + n + after)]:  # the borders
            gx[at(int(src[r]))] += g[at(r)]
        return gx

    return _linear(x, gather, scatter, f"pad_{mode}")
