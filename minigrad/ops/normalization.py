"""Layer normalisation and group normalisation (PyTorch's F.layer_norm and F.group_norm).

Both standardise groups of values of one example, then scale and shift per feature:

    xhat = (x - m) / sqrt(v + eps),   y = weight * xhat + bias,

with m and v (biased) the mean and variance over the normalised axes: the last axes
(``normalized_shape``) for layer norm; each of G groups of C/G channels and all their pixels
for group norm. The standardisation is one op, ``standardise``, with the backward of
batch_norm's formula (now over the normalised axes of each example):

    dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(v + eps)

written once with ``ctx.xp``, so it also records its own graph under create_graph (second
derivatives). The affine part is ordinary products and sums.
"""

from __future__ import annotations

import math

from minigrad.ops.layers import _normalised
from minigrad.ops.shape import reshape
from minigrad.ops.spatial_args import _check_operands
from minigrad.tensor import Tensor, _from_op

__all__ = ["layer_norm", "group_norm", "standardise"]


def standardise(x: Tensor, axes: tuple[int, ...], eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance), an op with the fused
    backward  dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(var + eps)  (means over axes)."""
    xp = x.device.xp
    xhat = _normalised(xp, x.data, axes, eps)[0]

    def backward(ctx, g):
        (x_,) = ctx.saved
        xp = ctx.xp
        xhat, inv_std, _, _ = _normalised(xp, x_, axes, eps)  # recomputed from the saved x
        return (inv_std * (g - xp.mean(g, axis=axes, keepdims=True)
                           - xhat * xp.mean(g * xhat, axis=axes, keepdims=True)),)

    backward.__qualname__ = "standardise.backward"
    return _from_op(xhat, (x,), backward, saved=(x,))


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) axes of input (..., *normalized_shape),
    then weight * xhat + bias, weight and bias of shape normalized_shape (optional).
    Shape: unchanged."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    _check_operands("layer_norm", input, weight, bias)
    k = len(shape)
    if k == 0 or input.shape[input.ndim - k:] != shape or input.ndim < k:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end in the "
                         f"normalized_shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} must have the shape {shape}, got {t.shape}")
    y = standardise(input, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Split the C channels of input (N, C, ...) into num_groups groups of C/G consecutive
    channels; normalise each group of each example over its channels and pixels; then
    weight * xhat + bias per channel (both (C,), optional). Shape: unchanged.
    Steps: reshape to (N, G, C/G * pixels), standardise over the last axis, reshape back."""
    _check_operands("group_norm", input, weight, bias)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input (N, C, ...), got shape {input.shape}")
    n, c = input.shape[:2]
    if not isinstance(num_groups, int) or num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: num_groups must be an int >= 1 dividing the {c} "
                         f"channels, got {num_groups!r}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"group_norm: {name} must have the shape ({c},), got {t.shape}")
    per_group = (c // num_groups) * math.prod(input.shape[2:])
    y = standardise(reshape(input, (n, num_groups, per_group)), (2,), eps)
    y = reshape(y, input.shape)
    channel = (1, c) + (1,) * (input.ndim - 2)  # a (C,) vector broadcast along axis 1
    if weight is not None:
        y = y * reshape(weight, channel)
    return y if bias is None else y + reshape(bias, channel)
