"""Resizing (N, C, H, W) tensors: nearest and bilinear upsampling."""

from __future__ import annotations

import functools

from minigrad.backend import Device
from minigrad.ops.im2col import _chwn, _nchw
from minigrad.ops.linalg import matmul
from minigrad.ops.shape import permute, reshape
from minigrad.ops.spatial_args import _check_input, _resize_arguments
from minigrad.tensor import Tensor, _leaf, _linear

__all__ = ["upsample"]


def upsample(x: Tensor, scale_factor=None, mode: str = "nearest",
             align_corners: bool = False, size=None) -> Tensor:
    """Resize (N, C, H, W) by an integer scale_factor, to (N, C, H*sh, W*sw), or to a given
    size (Ho, Wo); one of the two (each an int or a pair), as PyTorch's interpolate.

    mode="nearest": output row r reads input row floor(r H / Ho) (computed exactly in
        integers). With an integer scale each pixel becomes an sh x sw block (a broadcast),
        and the backward sums the gradient over each block.
    mode="bilinear": y = A_h x A_w^T per image, where A (size_out, size_in) holds the linear
        interpolation weights along one axis, sampled as PyTorch does (align_corners=False:
        source coordinate (r + 0.5) H/Ho - 0.5, clamped at 0); differentiated by matmul.
        A nearest resize to a size that is no multiple of the input uses the same products,
        with one weight of 1 per row.
    """
    scale_factor, size = _resize_arguments("upsample", scale_factor, size, mode)
    _check_input("upsample", x)
    h, w = x.shape[2:]
    if size is not None:
        if size[0] % h or size[1] % w:
            return _resize(x, size, mode, align_corners)
        scale_factor = (size[0] // h, size[1] // w)
    sh, sw = scale_factor
    if mode == "nearest":
        return _upsample_nearest(x, sh, sw)
    return _resize(x, (h * sh, w * sw), mode, align_corners)


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


def _resize(x: Tensor, out_hw: tuple[int, int], mode: str, align_corners: bool) -> Tensor:
    """(N, C, H, W) -> (N, C, Ho, Wo) as two products with (Ho, H) and (Wo, W) matrices."""
    n, c, h, w = x.shape
    ho, wo = out_hw
    a_h, a_w = (_leaf(_interpolation_matrix(n_in, n_out, mode, align_corners, x.device,
                                            x.dtype), x.device)
                for n_in, n_out in ((h, ho), (w, wo)))
    a = reshape(permute(x, (1, 2, 3, 0)), (c, h, w * n))                   # (C, H, W*N)
    a = reshape(matmul(a_h, a), (c * ho, w, n))                            # rows resized
    a = reshape(matmul(a_w, a), (c, ho, wo, n))                            # columns too
    return permute(a, (3, 0, 1, 2))


@functools.lru_cache(maxsize=64)
def _interpolation_matrix(n_in: int, n_out: int, mode: str, align_corners: bool, dev: Device,
                          dtype):
    """(n_out, n_in) interpolation weights along one axis, built once per size, on the device.
    "nearest": output r reads input floor(r n_in / n_out), weight 1. "bilinear": output r
    reads the inputs lo and lo + 1 around its source coordinate, with weights 1 - frac and
    frac (both at the last input past the end)."""
    xp = dev.xp
    inputs = xp.arange(n_in, dtype=dev.xp_dtype(dtype), device=dev.native)[None, :]
    if mode == "nearest":  # in integers: r * (n_in / n_out) in floats can round down wrongly
        source = xp.arange(n_out, dtype=xp.int64, device=dev.native) * n_in // n_out
        return xp.astype(inputs == xp.astype(source, inputs.dtype)[:, None], inputs.dtype)
    r = xp.arange(n_out, dtype=inputs.dtype, device=dev.native)
    if align_corners:
        source = r * ((n_in - 1) / (n_out - 1)) if n_out > 1 else r * 0
    else:
        source = xp.clip((r + 0.5) * (n_in / n_out) - 0.5, 0.0, None)
    lo = xp.clip(xp.floor(source), None, n_in - 1)
    hi = xp.clip(lo + 1, None, n_in - 1)
    frac = source - lo
    return (xp.astype(inputs == lo[:, None], r.dtype) * (1 - frac)[:, None]
            + xp.astype(inputs == hi[:, None], r.dtype) * frac[:, None])
