"""Pooling of (N, C, H, W) tensors: each window of the im2col matrix reduced over its taps.

Both poolings take the windows as an op (``im2col_op``, linear in x, so its backward is
col2im), arranged as (C, kh*kw, Ho*Wo*N), and reduce over the taps axis: max pooling with
its own small op (the gradient goes to one tap per window), average pooling with the
ordinary sum and division ops. Differentiable to any order.

max_unpool2d scatters values back to the positions max pooling found (a linear op whose
adjoint is the gather at those positions). adaptive_avg_pool2d is separable: one averaging
matrix per axis, applied as matrix products (resize.py's ``_resample``).
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.ops.im2col import _Geometry, im2col_op
from minigrad.ops.reduce import sum
from minigrad.ops.resize import _resample
from minigrad.ops.shape import permute, reshape
from minigrad.ops.spatial_args import _check_input, _check_output, _pair, pool_output_size
from minigrad.tensor import Tensor, _from_op, _leaf, _linear

__all__ = ["max_pool2d", "avg_pool2d", "max_unpool2d", "adaptive_avg_pool2d"]


def _pool_windows(op: str, x: Tensor, kernel_size, stride, padding, ceil_mode: bool,
                  fill: float, dilation=1):
    """The windows as a tensor (C, kh*kw, Ho*Wo*N), and their geometry. With ceil_mode the
    last windows may reach past the padding: ``fill`` there too. A dilated window (taps d
    apart) spans d(k-1) + 1 input cells, which is what the output size counts."""
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding, dilation = _pair(padding, "padding", 0), _pair(dilation, "dilation", 1)
    _check_input(op, x)
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    n, c, h, w = x.shape
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    out_hw = tuple(pool_output_size(size, k, s, p, ceil_mode) for size, k, s, p in zip(
        (h, w), span, stride, padding, strict=True))
    _check_output(op, x, out_hw)
    extra = tuple(max(0, (o - 1) * s + k - (size + 2 * p)) for o, s, k, size, p in zip(
        out_hw, stride, span, (h, w), padding, strict=True))
    geometry = _Geometry(x.device, x.shape, kernel, stride, dilation, padding, extra, out_hw)
    cols = im2col_op(x, geometry, fill)
    windows = reshape(cols, (c, kernel[0] * kernel[1], out_hw[0] * out_hw[1] * n))
    return windows, geometry


def _as_image(x: Tensor, out, out_hw) -> Tensor:
    """(C, Ho*Wo*N) -> the (N, C, Ho, Wo) view of it."""
    n, c = x.shape[:2]
    return permute(reshape(out, (c, out_hw[0], out_hw[1], n)), (3, 0, 1, 2))


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over each kh x kw window (stride defaults to the kernel; padding counts as -inf;
    dilation d: the window's taps d apart). ceil_mode: also the last, partial windows (sizes
    from pool_output_size). PyTorch's argument order.

    (N, C, H, W) -> (N, C, Ho, Wo): the window matrix (C, kh*kw, Ho*Wo*N) reduced over its
    taps. The backward routes each output's gradient to the first tap of its window that
    holds the maximum (one tap on ties, as PyTorch), then col2im: d windows = g * winner.
    (A loop over the taps finds the winners: NumPy's argmax over a short middle axis is ten
    times slower.)
    return_indices: also the (N, C, Ho, Wo) int64 positions of the maxima, each a flat index
    row * W + col into its own H x W input plane, as PyTorch (for max_unpool2d).
    """
    _check_input("max_pool2d", x)  # before x.device: x may be no tensor at all
    xp = x.device.xp
    # Padding never wins: -inf, or the smallest value of an integer dtype.
    lowest = -math.inf if x.dtype.kind == "f" else xp.iinfo(x.data.dtype).min
    windows, geometry = _pool_windows("max_pool2d", x, kernel_size, stride, padding, ceil_mode,
                                      lowest, dilation)
    out = xp.max(windows.data, axis=1)                                     # (C, Ho*Wo*N)
    winner, first_tap = None, None
    if windows.requires_grad or return_indices:  # 1 at each window's first maximum
        winner = xp.zeros(windows.shape, dtype=xp.bool, device=x.device.native)
        taken = xp.zeros(out.shape, dtype=xp.bool, device=x.device.native)
        if return_indices:  # which tap won, per window
            first_tap = xp.zeros(out.shape, dtype=xp.int64, device=x.device.native)
        for k in range(windows.shape[1]):
            winner[:, k, :] = (windows.data[:, k, :] == out) & ~taken
            if return_indices:
                first_tap = xp.where(winner[:, k, :], k, first_tap)
            taken |= winner[:, k, :]

    def backward(ctx, g):
        xp = ctx.xp
        return (xp.expand_dims(g, axis=1) * xp.astype(winner, g.dtype),)

    y = _as_image(x, _from_op(out, (windows,), backward), geometry.out_hw)
    if not return_indices:
        return y
    return y, _leaf(_flat_indices(xp, x, geometry, first_tap), x.device)


def _flat_indices(xp, x: Tensor, geometry, tap):
    """The winning tap of every window (C, Ho*Wo*N) as PyTorch's indices (N, C, Ho, Wo): tap
    (i, j) of window (a, b) reads input row a*s - p + i*d and column b*s - p + j*d."""
    n, c, h, w = x.shape
    (ho, wo), (_, kw) = geometry.out_hw, geometry.kernel
    (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    tap = xp.reshape(tap, (c, ho, wo, n))
    dev = x.device.native
    a = xp.reshape(xp.arange(ho, dtype=xp.int64, device=dev), (1, ho, 1, 1))
    b = xp.reshape(xp.arange(wo, dtype=xp.int64, device=dev), (1, 1, wo, 1))
    rows = a * sh - ph + (tap // kw) * dh
    cols = b * sw - pw + (tap % kw) * dw
    return xp.permute_dims(rows * w + cols, (3, 0, 1, 2))


def max_unpool2d(x: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool2d: x (N, C, H, W) and its indices (N, C, H, W, flat
    positions row * Wo + col) -> (N, C, Ho, Wo), zeros except y[n, c].flat[indices] = x, with
    Ho = (H-1)s - 2p + k by default (or output_size, (Ho, Wo) or (N, C, Ho, Wo)).

    Linear in x: a scatter. A position named twice (overlapping pooling windows can pick one
    input twice, with equal values) is written once, as PyTorch writes one value: only each
    position's first occurrence in ``indices`` is kept (a 0/1 mask), so y = S (mask * x) with
    S the scatter, and the adjoint reads the gradient back at the indices, times the mask."""
    _check_input("max_unpool2d", x)
    if not isinstance(indices, Tensor) or indices.shape != x.shape or indices.dtype.kind != "i":
        raise ValueError(f"max_unpool2d: expected integer indices of the input's shape "
                         f"{x.shape}, got {getattr(indices, 'shape', indices)!r}")
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    n, c, h, w = x.shape
    if output_size is None:
        out_hw = tuple((size - 1) * s - 2 * p + k for size, s, p, k in zip(
            (h, w), stride, padding, kernel, strict=True))
    else:
        out_hw = _pair(tuple(output_size)[-2:], "output_size", 1)
    dev, xp = x.device, x.device.xp
    plane = out_hw[0] * out_hw[1]
    if dev.type != "cuda" and bool(xp.any((indices.data < 0) | (indices.data >= plane))):
        raise ValueError(f"max_unpool2d: indices must lie in [0, {plane}) for an output of "
                         f"size {out_hw}")
    size = n * c * plane
    base = xp.reshape(xp.arange(n * c, dtype=xp.int64, device=dev.native) * plane, (n, c, 1, 1))
    flat = xp.reshape(indices.data + base, (-1,))                 # positions in the flat output
    # The first occurrence of each position: sorted stably, a position differs from the one
    # before it; then back in the original order.
    order = xp.argsort(flat, stable=True)
    ordered = xp.take(flat, order)
    first = xp.concat([xp.ones((min(1, flat.shape[0]),), dtype=xp.bool, device=dev.native),
                       ordered[1:] != ordered[:-1]])
    keep = xp.astype(xp.take(first, xp.argsort(order)), x.data.dtype)

    def scatter(a):
        out = dev.scatter_add(size, flat, xp.reshape(a, (-1,)) * xp.astype(keep, a.dtype))
        return xp.reshape(out, (n, c) + out_hw)

    def gather(g):  # the adjoint
        return xp.reshape(xp.take(xp.reshape(g, (-1,)), flat) * xp.astype(keep, g.dtype),
                          x.shape)

    return _linear(x, scatter, gather, "max_unpool2d")


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each kh x kw window (stride defaults to the kernel; zero padding is counted in
    the mean with count_include_pad=True, PyTorch's default).

    (N, C, H, W) -> (N, C, Ho, Wo): the sum over each window's taps, divided by its cell
    count kh*kw (integer images: rounded towards zero, as PyTorch). ceil_mode: also the last,
    partial windows; a window reaching past the padding averages only its cells inside the
    padded input (as PyTorch). count_include_pad=False: only the cells inside the image count.
    divisor_override: divide every sum by this number instead.
    """
    windows, geometry = _pool_windows("avg_pool2d", x, kernel_size, stride, padding, ceil_mode,
                                      0)
    xp = x.device.xp
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = (geometry.kernel, geometry.stride,
                                              geometry.padding, geometry.out_hw)

    def cells_inside(size, p, s, out_size, k):
        """Window a of an axis has min(k, Hp - a s) cells inside the padded input (size
        Hp = H + 2p): k, but fewer for ceil_mode's partial windows, whose overhang does not
        count. Without count_include_pad, only its cells inside the image: the window covers
        [a s - p, a s - p + k), clipped to [0, H)."""
        starts = s * xp.arange(out_size, dtype=windows.data.dtype, device=x.device.native)
        if count_include_pad:
            return xp.clip(size + 2 * p - starts, None, k)
        return xp.clip(starts - p + k, None, size) - xp.clip(starts - p, 0, None)

    rows, cols = cells_inside(h, ph, sh, ho, kh), cells_inside(w, pw, sw, wo, kw)
    if divisor_override is not None:
        if not isinstance(divisor_override, int) or divisor_override < 1:
            raise ValueError(f"avg_pool2d: divisor_override must be an int >= 1, got "
                             f"{divisor_override!r}")
        rows, cols = xp.ones_like(rows) * divisor_override, xp.ones_like(cols)
    divisor = xp.reshape(rows[:, None] * cols[None, :], (1, ho * wo, 1))
    if x.dtype.kind in "iu":  # integers stay integers, rounded towards zero (as PyTorch)
        sums = xp.reshape(xp.sum(windows.data, axis=1), (c, ho * wo, n))
        exact = xp.astype(sums, xp.float64) / xp.astype(divisor, xp.float64)
        return _as_image(x, _leaf(xp.astype(xp.trunc(exact), x.data.dtype), x.device),
                         geometry.out_hw)
    means = reshape(sum(windows, axis=1), (c, ho * wo, n)) / _leaf(divisor, x.device)
    return _as_image(x, means, geometry.out_hw)


def _adaptive_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) averaging weights of adaptive pooling along one axis: output i averages
    inputs floor(i n_in / n_out) to ceil((i + 1) n_in / n_out) - 1 (PyTorch's windows, which
    overlap when n_out does not divide n_in)."""
    a = np.zeros((n_out, n_in))
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        a[i, start:end] = 1 / (end - start)
    return a


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average pooling to a given output size (Ho, Wo) (an int, a pair, None keeps that axis):
    (N, C, H, W) -> (N, C, Ho, Wo), output (a, b) the mean of rows floor(a H/Ho) ...
    ceil((a+1) H/Ho) - 1 and the like columns. Separable and linear: y = A_h x A_w^T per image,
    with the averaging matrices of _adaptive_matrix, as two matmul ops (any order)."""
    _check_input("adaptive_avg_pool2d", x)
    sizes = (tuple(output_size) if isinstance(output_size, tuple | list)
             else (output_size, output_size))
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                         f"{output_size!r}")
    sizes = tuple(h if s is None else s for s, h in zip(sizes, x.shape[2:], strict=True))
    if not all(isinstance(s, int) and s >= 1 for s in sizes):
        raise ValueError(f"adaptive_avg_pool2d: output sizes must be ints >= 1, got "
                         f"{output_size!r}")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"adaptive_avg_pool2d: empty spatial axes in input of shape {x.shape}")
    return _resample(x, [_adaptive_matrix(n, s) for n, s in zip(x.shape[2:], sizes,
                                                                 strict=True)])
