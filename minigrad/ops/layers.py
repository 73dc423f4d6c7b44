"""The ops behind the layers that have one: linear (x @ W^T + b in one step), batch_norm
(normalisation with its fused backward), dropout and embedding (a lookup)."""

from __future__ import annotations

import math

from minigrad.ops.elementwise import _not_a_tensor, mul, where
from minigrad.ops.linalg import _axis_sum
from minigrad.ops.shape import getitem, reshape
from minigrad.ops.spatial_args import _check_bias, _check_operands
from minigrad.tensor import Tensor, _from_op, _leaf

__all__ = ["linear", "batch_norm", "dropout", "embedding"]


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b:  x (..., in), weight (out, in), bias (out,) -> (..., out).

    With x2, g2 = x and g flattened to (rows, in) and (rows, out):
    dx = g2 @ W,  dW = g2^T @ x2,  db = sum of g2 over rows.
    """
    _check_operands("linear", x, weight, bias)
    if weight.ndim != 2:
        raise ValueError(f"linear: expected a weight of shape (out_features, in_features), got "
                         f"shape {weight.shape}")
    out_features, in_features = weight.shape
    _check_bias("linear", bias, out_features)
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(f"linear: weight of shape {weight.shape} expects inputs (..., "
                         f"{in_features}), got shape {x.shape}")
    xp = x.device.xp
    rows = math.prod(x.shape[:-1])  # not -1: that is ambiguous for in_features = 0
    x2 = xp.reshape(x.data, (rows, in_features))
    # A column-major x (e.g. the flattened batch-last images of ops/conv.py) gets a column-major
    # output and gradient, computed as the transpose of W x2^T (same product, free view): the
    # elementwise ops next to this layer then see operands of one memory order, several times
    # faster than mixed orders.
    transposed = x.device.is_transposed(x2)
    out = (weight.data @ x2.T).T if transposed else x2 @ weight.data.T
    if bias is not None:
        out += xp.astype(bias.data, out.dtype)
    out = xp.reshape(out, x.shape[:-1] + (out_features,))

    def backward(ctx, g):
        x_, w = ctx.saved  # x only when the weight needs a gradient, w only for x
        xp = ctx.xp
        g2 = xp.reshape(g, (rows, out_features))
        gx = gw = None
        if x.requires_grad:
            w_t = xp.matrix_transpose(w)
            gx = xp.matrix_transpose(w_t @ xp.matrix_transpose(g2)) if transposed else g2 @ w
            gx = xp.reshape(gx, x.shape)
        if weight.requires_grad:
            gw = xp.matrix_transpose(g2) @ xp.reshape(x_, (rows, in_features))
        if bias is None:
            return gx, gw
        return gx, gw, (_axis_sum(g2, axis=0) if bias.requires_grad else None)

    return _from_op(out, (x, weight) if bias is None else (x, weight, bias), backward,
                    saved=(x if weight.requires_grad else None,
                           weight if x.requires_grad else None))


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of x (N, C, ...) over all other axes, then scale by
    weight and shift by bias (both (C,), optional).

    training (or no running statistics): with the batch mean m and biased variance v,
        xhat = (x - m) / sqrt(v + eps),  y = weight * xhat + bias;
        running_mean <- (1 - momentum) running_mean + momentum m,
        running_var  <- (1 - momentum) running_var  + momentum v n/(n-1)   (unbiased).
      Backward, with gh = g * weight and means over the n values of a channel:
        dx = (gh - mean(gh) - xhat mean(gh xhat)) / sqrt(v + eps)
        dweight = sum(g xhat),  dbias = sum(g).
    otherwise: the running statistics replace m and v (an affine map of x).
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, ...), got shape {x.shape}")
    _check_operands("batch_norm", x, running_mean, running_var, weight, bias)
    channels = x.shape[1]
    shape = (1, channels) + (1,) * (x.ndim - 2)       # broadcasts a (C,) vector along axis 1
    if not training and running_mean is not None:
        xp, dev = x.device.xp, x.device
        inv_std = xp.reshape(1 / xp.sqrt(running_var.data + eps), shape)
        xhat = (x - _leaf(xp.reshape(running_mean.data, shape), dev)) * _leaf(inv_std, dev)
        y = xhat if weight is None else xhat * reshape(weight, shape)
        return y if bias is None else y + reshape(bias, shape)
    return _batch_norm_train(x, running_mean, running_var, weight, bias, momentum, eps, shape)


def _normalised(xp, x, axes, eps: float):
    """(xhat, 1 / sqrt(v + eps), m, v) of x over ``axes``: arrays, or tensors with xp the
    tensor namespace (the forward and the backward share this one formula)."""
    mean = xp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = xp.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt(var + eps)
    return centred * inv_std, inv_std, mean, var


def _batch_norm_train(x, running_mean, running_var, weight, bias, momentum, eps, shape):
    xp = x.device.xp
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.numel() // x.shape[1]
    if count < 2:
        raise ValueError(f"batch_norm: training needs more than one value per channel, got "
                         f"input shape {x.shape}")
    xhat, _, mean_, var = _normalised(xp, x.data, axes, eps)
    out = xhat if weight is None else xhat * xp.reshape(weight.data, shape)
    if bias is not None:
        out = out + xp.reshape(bias.data, shape)
    if running_mean is not None:
        stat_dtype = running_mean.data.dtype
        running_mean.data *= 1 - momentum
        running_mean.data += xp.astype(momentum * xp.reshape(mean_, (-1,)), stat_dtype)
        running_var.data *= 1 - momentum
        unbiased = (count / (count - 1)) * xp.reshape(var, (-1,))
        running_var.data += xp.astype(momentum * unbiased, stat_dtype)
        running_mean._bump_version()
        running_var._bump_version()

    def backward(ctx, g):
        x_, w = ctx.saved
        xp = ctx.xp
        xhat, inv_std, _, _ = _normalised(xp, x_, axes, eps)  # recomputed: x is what's saved
        gh = g if w is None else g * xp.reshape(w, shape)
        gx = inv_std * (gh - xp.mean(gh, axis=axes, keepdims=True)
                        - xhat * xp.mean(gh * xhat, axis=axes, keepdims=True))
        grads = [gx]
        if weight is not None:
            grads.append(xp.sum(g * xhat, axis=axes) if weight.requires_grad else None)
        if bias is not None:
            grads.append(xp.sum(g, axis=axes) if bias.requires_grad else None)
        return tuple(grads)

    backward.__qualname__ = "batch_norm.backward"
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    return _from_op(out, inputs, backward, saved=(x, weight))


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), so the expected
    value is unchanged (inverted dropout); the identity when not training.
    The mask comes from the device's seeded generator.   dx = g * mask / (1 - p)"""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    xp = x.device.xp
    keep = x.device.rand(x.shape, x.dtype) >= p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    return mul(x, _leaf(xp.astype(keep, x.data.dtype) * scale, x.device))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Row lookup: integer indices input (any shape) into weight (V, D) -> (*input.shape, D),
    y[..., :] = weight[input[...], :]. The lookup is getitem with an integer array, so
    d weight adds each output row's gradient to the row it was read from (repeats add up).
    padding_idx: that row is read as usual but receives no gradient (PyTorch's padding
    token; its initial value is zeros, see nn.Embedding)."""
    if not isinstance(input, Tensor):
        raise _not_a_tensor("embedding", "input", input)
    _check_operands("embedding", input, weight)
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices, got dtype {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: expected a weight (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    xp, dev = input.device.xp, input.device
    rows = weight.shape[0]
    outside = (input.data < 0) | (input.data >= rows)
    if dev.type != "cuda" and math.prod(input.shape) and bool(xp.any(outside)):
        raise IndexError(f"embedding: indices must lie in [0, {rows}) for {rows} embeddings")
    y = getitem(weight, input.data)
    if padding_idx is None:
        return y
    padding_idx = padding_idx + rows if padding_idx < 0 else padding_idx
    # The padding rows read from a constant copy of the weight: same values, no gradient.
    constant = getitem(_leaf(weight.data, dev), input.data)
    return where(xp.expand_dims(input.data != padding_idx, axis=-1), y, constant)
