"""Resizing (N, C, H, W) tensors: nearest and bilinear upsampling; PyTorch's ``interpolate``
for 1, 2 or 3 spatial axes (nearest, linear, bilinear, trilinear, area).

Every resize here is separable and linear: along each spatial axis, y = A x with an
(out, in) matrix A of sampling weights. ``interpolate`` applies one such matrix per axis as a
matrix product (an op, so differentiable to any order); the 2-D fast paths (``upsample``)
stay for integer scales.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minigrad.ops.im2col import _chwn, _nchw
from minigrad.ops.linalg import matmul
from minigrad.ops.shape import permute, reshape
from minigrad.ops.spatial_args import _check_input, _check_operands, _resize_arguments
from minigrad.tensor import Tensor, _leaf, _linear

__all__ = ["upsample", "interpolate", "pixel_shuffle", "pixel_unshuffle"]


def upsample(x: Tensor, scale_factor=None, mode: str = "nearest",
             align_corners: bool = False, size=None) -> Tensor:
    """Resize (N, C, H, W) by an integer scale_factor, to (N, C, H*sh, W*sw), or to a given
    size (Ho, Wo); one of the two (each an int or a pair), as PyTorch's interpolate.

    mode="nearest": output row r reads input row floor(r H / Ho) (computed exactly in
        integers). With an integer scale each pixel becomes an sh x sw block (a broadcast),
        and the backward sums the gradient over each block.
    mode="bilinear", or a nearest resize to a size that is no multiple of the input: the
        products with one interpolation matrix per axis of ``interpolate`` (below), which
        this is then.
    """
    scale_factor, size = _resize_arguments("upsample", scale_factor, size, mode)
    _check_input("upsample", x)
    h, w = x.shape[2:]
    if size is not None:
        if size[0] % h or size[1] % w:
            return interpolate(x, size=size, mode=mode,
                               align_corners=align_corners if mode == "bilinear" else None)
        scale_factor = (size[0] // h, size[1] // w)
    sh, sw = scale_factor
    if mode == "nearest":
        return _upsample_nearest(x, sh, sw)
    return interpolate(x, size=(h * sh, w * sw), mode=mode, align_corners=align_corners)


def _upsample_nearest(x: Tensor, sh: int, sw: int) -> Tensor:
    """Each pixel an sh x sw block: a broadcast, whose adjoint sums the gradient per block."""
    xp = x.device.xp
    n, c, h, w = x.shape

    def blocks(a):  # (N, C, H, W) -> (N, C, H*sh, W*sw)
        a = _chwn(xp, a)[:, :, None, :, None, :]                           # (C, H, 1, W, 1, N)
        return _nchw(xp, xp.reshape(xp.broadcast_to(a, (c, h, sh, w, sw, n)),
                                    (c, h * sh, w * sw, n)))

    def block_sums(g):  # the adjoint
        return _nchw(xp, xp.sum(xp.reshape(_chwn(xp, g), (c, h, sh, w, sw, n)), axis=(2, 4)))

    return _linear(x, blocks, block_sums, "upsample")


# -- interpolate: one sampling matrix per spatial axis -------------------------------------------

_MODES_BY_AXES = {1: ("nearest", "linear", "area"), 2: ("nearest", "bilinear", "area"),
                  3: ("nearest", "trilinear", "area")}


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None
                ) -> Tensor:
    """PyTorch's interpolate: (N, C, *spatial) with 1, 2 or 3 spatial axes -> (N, C, *size).

    size: the output's spatial size, or scale_factor (a number or one per axis): each size
    floor(S * scale). modes: "nearest" (any axes), "linear" (1-D), "bilinear" (2-D),
    "trilinear" (3-D), "area" (adaptive average pooling). Along each axis, output r samples
    the input at a source coordinate, with scale = 1/scale_factor when that was given
    (PyTorch's default), else S_in / S_out:
        nearest:   src = floor(r * scale)                     (1 weight)
        linear:    src = max((r + 0.5) * scale - 0.5, 0),  or  r (S_in - 1)/(S_out - 1) with
                   align_corners; weights 1 - frac and frac on floor(src) and the next input.
    The output is the product of those matrices along each axis (``_resample``)."""
    _check_operands("interpolate", input)
    axes = input.ndim - 2
    if axes not in _MODES_BY_AXES:
        raise ValueError(f"interpolate: expected an input (N, C, ...) with 1 to 3 spatial axes, "
                         f"got shape {input.shape}")
    if mode not in _MODES_BY_AXES[axes]:
        raise ValueError(f"interpolate: mode {mode!r} is not for {axes}-D inputs; choose one of "
                         f"{_MODES_BY_AXES[axes]}")
    if align_corners is not None and mode in ("nearest", "area"):
        raise ValueError("interpolate: align_corners only applies to the linear modes")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give either size or scale_factor, not "
                         + ("both" if size is not None else "neither"))
    in_size = tuple(input.shape[2:])
    if size is not None:
        out_size = (size,) * axes if isinstance(size, int) else tuple(size)
        if len(out_size) != axes or not all(isinstance(s, int) and s >= 1 for s in out_size):
            raise ValueError(f"interpolate: size must be an int >= 1 or {axes} of them, "
                             f"got {size!r}")
        scales = tuple(i / o for i, o in zip(in_size, out_size, strict=True))
    else:
        factors = ((scale_factor,) * axes if isinstance(scale_factor, int | float)
                   else tuple(scale_factor))
        if len(factors) != axes or not all(f > 0 for f in factors):
            raise ValueError(f"interpolate: scale_factor must be a number > 0 or {axes} of "
                             f"them, got {scale_factor!r}")
        out_size = tuple(math.floor(i * f) for i, f in zip(in_size, factors, strict=True))
        if recompute_scale_factor:
            scales = tuple(i / o for i, o in zip(in_size, out_size, strict=True))
        else:
            scales = tuple(1 / f for f in factors)
    if (mode == "nearest" and axes == 2 and scale_factor is not None
            and all(isinstance(f, int) for f in factors)):
        return _upsample_nearest(input, *factors)  # each pixel a block: a broadcast, no product
    if mode == "area":
        from minigrad.ops.pool import _adaptive_matrix  # noqa: PLC0415 (pool imports this file)
        return _resample(input, [_adaptive_matrix(i, o) for i, o in zip(
            in_size, out_size, strict=True)])
    linear = mode != "nearest"
    return _resample(input, [_sampling_matrix(i, o, s, linear, bool(align_corners))
                             for i, o, s in zip(in_size, out_size, scales, strict=True)])


@functools.lru_cache(maxsize=64)
def _sampling_matrix(n_in: int, n_out: int, scale: float, linear: bool,
                     align_corners: bool) -> np.ndarray:
    """(n_out, n_in) float64 weights of one axis (built once per size, on the host)."""
    r = np.arange(n_out)
    a = np.zeros((n_out, n_in))
    if not linear:  # nearest: in float32, as PyTorch computes this index
        source = np.floor(r.astype(np.float32) * np.float32(scale)).astype(np.int64)
        a[r, np.minimum(source, n_in - 1)] = 1
        return a
    if align_corners:
        source = r * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        source = np.maximum((r + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = source - lo
    np.add.at(a, (r, lo), 1 - frac)
    np.add.at(a, (r, hi), frac)
    return a


def _resample(x: Tensor, matrices) -> Tensor:
    """x (N, C, S_1, ..., S_k) with matrix A_i (out_i, in_i) applied along spatial axis i:
    each axis in turn moved last and multiplied by A_i^T (a matmul op, so the backward is the
    product with A_i, and so on to any order)."""
    dev = x.device
    integer = x.dtype.kind in "iub"
    if integer:  # weights like 0.25 in an integer dtype would be 0: compute in float32
        dtype = x.dtype
        x = _leaf(dev.xp.astype(x.data, dev.xp_dtype("float32")), dev)
    for i, a in enumerate(matrices):
        if a.shape[0] == a.shape[1] and np.array_equal(a, np.eye(a.shape[0])):
            continue  # this axis keeps its size and samples
        axis = 2 + i
        order = tuple(k for k in range(x.ndim) if k != axis) + (axis,)
        a_t = _leaf(dev.from_numpy(np.ascontiguousarray(a.T).astype(x.dtype)), dev)
        y = matmul(permute(x, order), a_t)                       # the axis resampled, last
        x = permute(y, tuple(int(k) for k in np.argsort(order)))  # and back in its place
    if integer:  # back to the integers, rounded to the nearest, as PyTorch
        x = _leaf(dev.xp.astype(dev.xp.round(x.data), dev.xp_dtype(dtype)), dev)
    return x


# -- pixel shuffle: channels to space and back ----------------------------------------------------


def _check_shuffle(op: str, x: Tensor, factor) -> None:
    _check_operands(op, x)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"{op}: the factor must be an int >= 1, got {factor!r}")
    if x.ndim < 3:
        raise ValueError(f"{op}: expected an input (*, C, H, W), got shape {x.shape}")


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r):  y[..., c, h r + i, w r + j] = x[..., c r^2 + i r + j,
    h, w] (sub-pixel convolution's rearrangement). A reshape, a permutation and a reshape,
    each an op: differentiable to any order."""
    _check_shuffle("pixel_shuffle", x, upscale_factor)
    r = upscale_factor
    *batch, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle: {c} channels are not divisible by the square of the "
                         f"upscale factor {r}")
    lead = len(batch)
    y = reshape(x, (*batch, c // (r * r), r, r, h, w))
    y = permute(y, (*range(lead), lead, lead + 3, lead + 1, lead + 4, lead + 2))  # C, H, i, W, j
    return reshape(y, (*batch, c // (r * r), h * r, w * r))


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of pixel_shuffle: (*, C, H r, W r) -> (*, C r^2, H, W)."""
    _check_shuffle("pixel_unshuffle", x, downscale_factor)
    r = downscale_factor
    *batch, c, hr, wr = x.shape
    if hr % r or wr % r:
        raise ValueError(f"pixel_unshuffle: spatial size ({hr}, {wr}) is not divisible by the "
                         f"downscale factor {r}")
    lead = len(batch)
    y = reshape(x, (*batch, c, hr // r, r, wr // r, r))
    y = permute(y, (*range(lead), lead, lead + 2, lead + 4, lead + 1, lead + 3))  # C, i, j, H, W
    return reshape(y, (*batch, c * r * r, hr // r, wr // r))
