"""Pooling of (N, C, H, W) tensors: each window of the im2col matrix reduced over its taps.

Both poolings take the windows as an op (``im2col_op``, linear in x, so its backward is
col2im), arranged as (C, kh*kw, Ho*Wo*N), and reduce over the taps axis: max pooling with
its own small op (the gradient goes to one tap per window), average pooling with the
ordinary sum and division ops. Differentiable to any order.
"""

from __future__ import annotations

import math

from minigrad.ops.im2col import _Geometry, im2col_op
from minigrad.ops.reduce import sum
from minigrad.ops.shape import permute, reshape
from minigrad.ops.spatial_args import _check_input, _check_output, _pair, pool_output_size
from minigrad.tensor import Tensor, _from_op, _leaf

__all__ = ["max_pool2d", "avg_pool2d"]


def _pool_windows(op: str, x: Tensor, kernel_size, stride, padding, ceil_mode: bool,
                  fill: float):
    """The windows as a tensor (C, kh*kw, Ho*Wo*N), and their geometry. With ceil_mode the
    last windows may reach past the padding: ``fill`` there too."""
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    _check_input(op, x)
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    n, c, h, w = x.shape
    out_hw = tuple(pool_output_size(size, k, s, p, ceil_mode) for size, k, s, p in zip(
        (h, w), kernel, stride, padding, strict=True))
    _check_output(op, x, out_hw)
    extra = tuple(max(0, (o - 1) * s + k - (size + 2 * p)) for o, s, k, size, p in zip(
        out_hw, stride, kernel, (h, w), padding, strict=True))
    geometry = _Geometry(x.device, x.shape, kernel, stride, (1, 1), padding, extra, out_hw)
    cols = im2col_op(x, geometry, fill)
    windows = reshape(cols, (c, kernel[0] * kernel[1], out_hw[0] * out_hw[1] * n))
    return windows, geometry


def _as_image(x: Tensor, out, out_hw) -> Tensor:
    """(C, Ho*Wo*N) -> the (N, C, Ho, Wo) view of it."""
    n, c = x.shape[:2]
    return permute(reshape(out, (c, out_hw[0], out_hw[1], n)), (3, 0, 1, 2))


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False) -> Tensor:
    """Maximum over each kh x kw window (stride defaults to the kernel; padding counts as -inf).
    ceil_mode: also the last, partial windows (sizes from pool_output_size).

    (N, C, H, W) -> (N, C, Ho, Wo): the window matrix (C, kh*kw, Ho*Wo*N) reduced over its
    taps. The backward routes each output's gradient to the first tap of its window that
    holds the maximum (one tap on ties, as PyTorch), then col2im: d windows = g * winner.
    (A loop over the taps finds the winners: NumPy's argmax over a short middle axis is ten
    times slower.)
    """
    xp = x.device.xp
    # Padding never wins: -inf, or the smallest value of an integer dtype.
    lowest = -math.inf if x.dtype.kind == "f" else xp.iinfo(x.data.dtype).min
    windows, geometry = _pool_windows("max_pool2d", x, kernel_size, stride, padding, ceil_mode,
                                      lowest)
    out = xp.max(windows.data, axis=1)                                     # (C, Ho*Wo*N)
    winner = None
    if windows.requires_grad:  # a constant of the backward: 1 at each window's first maximum
        winner = xp.zeros(windows.shape, dtype=xp.bool, device=x.device.native)
        taken = xp.zeros(out.shape, dtype=xp.bool, device=x.device.native)
        for k in range(windows.shape[1]):
            winner[:, k, :] = (windows.data[:, k, :] == out) & ~taken
            taken |= winner[:, k, :]

    def backward(ctx, g):
        xp = ctx.xp
        return (xp.expand_dims(g, axis=1) * xp.astype(winner, g.dtype),)

    return _as_image(x, _from_op(out, (windows,), backward), geometry.out_hw)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False) -> Tensor:
    """Mean over each kh x kw window (stride defaults to the kernel; zero padding is counted in
    the mean, as PyTorch's default count_include_pad=True).

    (N, C, H, W) -> (N, C, Ho, Wo): the sum over each window's taps, divided by its cell
    count kh*kw (integer images: rounded towards zero, as PyTorch). ceil_mode: also the last,
    partial windows; a window reaching past the padding averages only its cells inside the
    padded input (as PyTorch).
    """
    windows, geometry = _pool_windows("avg_pool2d", x, kernel_size, stride, padding, ceil_mode,
                                      0)
    xp = x.device.xp
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = (geometry.kernel, geometry.stride,
                                              geometry.padding, geometry.out_hw)

    def cells_inside(padded_size, s, out_size, k):
        """Window a of an axis has min(k, Hp - a s) cells inside the padded input (size Hp):
        k, but fewer for ceil_mode's partial windows, whose overhang does not count."""
        starts = s * xp.arange(out_size, dtype=windows.data.dtype, device=x.device.native)
        return xp.clip(padded_size - starts, None, k)

    rows, cols = cells_inside(h + 2 * ph, sh, ho, kh), cells_inside(w + 2 * pw, sw, wo, kw)
    divisor = xp.reshape(rows[:, None] * cols[None, :], (1, ho * wo, 1))
    if x.dtype.kind in "iu":  # integers stay integers, rounded towards zero (as PyTorch)
        sums = xp.reshape(xp.sum(windows.data, axis=1), (c, ho * wo, n))
        exact = xp.astype(sums, xp.float64) / xp.astype(divisor, xp.float64)
        return _as_image(x, _leaf(xp.astype(xp.trunc(exact), x.data.dtype), x.device),
                         geometry.out_hw)
    means = reshape(sum(windows, axis=1), (c, ho * wo, n)) / _leaf(divisor, x.device)
    return _as_image(x, means, geometry.out_hw)
