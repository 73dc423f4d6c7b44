"""The functions behind the layers and losses (``import minigrad.nn.functional as F``).

Fused ops (forward and backward side by side) where one op is cheaper and clearer than a
chain of small ones: linear, batch_norm in training, and the losses. The convolution, pooling
and upsampling ops live in ``minigrad/ops/conv.py``; the activations in ``minigrad/ops``.
"""

from __future__ import annotations

from minigrad.backend import DeviceError
from minigrad.ops.activations import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from minigrad.ops.conv import (
    _check_operands,
    avg_pool2d,
    conv2d,
    conv_transpose2d,
    max_pool2d,
    upsample,
)
from minigrad.ops.elementwise import abs, mul
from minigrad.ops.linalg import _axis_sum
from minigrad.ops.reduce import log_softmax, mean, softmax, sum
from minigrad.ops.shape import reshape
from minigrad.tensor import Tensor, _from_op, _leaf, _lift

__all__ = [
    "linear", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample",
    "batch_norm", "dropout",
    "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "silu", "softmax",
    "log_softmax",
    "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "kl_divergence_normal",
]


# -- layers -------------------------------------------------------------------------------------

def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b:  x (..., in), weight (out, in), bias (out,) -> (..., out).

    With x2, g2 = x and g flattened to (rows, in) and (rows, out):
    dx = g2 @ W,  dW = g2^T @ x2,  db = sum of g2 over rows.
    """
    _check_operands("linear", x, weight, bias)
    out_features, in_features = weight.shape
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(f"linear: weight of shape {weight.shape} expects inputs (..., "
                         f"{in_features}), got shape {x.shape}")
    xp = x.device.xp
    x2 = xp.reshape(x.data, (-1, in_features))
    # A column-major x (e.g. the flattened batch-last images of ops/conv.py) gets a column-major
    # output and gradient, computed as the transpose of W x2^T (same product, free view): the
    # elementwise ops next to this layer then see operands of one memory order, several times
    # faster than mixed orders.
    transposed = x.device.is_transposed(x2)
    out = (weight.data @ x2.T).T if transposed else x2 @ weight.data.T
    if bias is not None:
        out += xp.astype(bias.data, out.dtype)
    out = xp.reshape(out, x.shape[:-1] + (out_features,))

    def backward(g):
        g2 = xp.reshape(g, (-1, out_features))
        gx = None
        if x.requires_grad:
            gx = xp.reshape((weight.data.T @ g2.T).T if transposed else g2 @ weight.data, x.shape)
        gw = g2.T @ x2 if weight.requires_grad else None
        if bias is None:
            return gx, gw
        return gx, gw, (_axis_sum(x.device, g2, axis=0) if bias.requires_grad else None)

    return _from_op(out, (x, weight) if bias is None else (x, weight, bias), backward)


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


def _batch_norm_train(x, running_mean, running_var, weight, bias, momentum, eps, shape):
    xp = x.device.xp
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // x.shape[1]
    if count < 2:
        raise ValueError(f"batch_norm: training needs more than one value per channel, got "
                         f"input shape {x.shape}")
    mean_ = xp.mean(x.data, axis=axes, keepdims=True)
    centred = x.data - mean_
    var = xp.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt(var + eps)
    xhat = centred * inv_std
    w = None if weight is None else xp.reshape(weight.data, shape)
    out = xhat if w is None else xhat * w
    if bias is not None:
        out = out + xp.reshape(bias.data, shape)
    if running_mean is not None:
        stat_dtype = running_mean.data.dtype
        running_mean.data *= 1 - momentum
        running_mean.data += xp.astype(momentum * xp.reshape(mean_, (-1,)), stat_dtype)
        running_var.data *= 1 - momentum
        unbiased = (count / (count - 1)) * xp.reshape(var, (-1,))
        running_var.data += xp.astype(momentum * unbiased, stat_dtype)

    def backward(g):
        gh = g if w is None else g * w
        gx = inv_std * (gh - xp.mean(gh, axis=axes, keepdims=True)
                        - xhat * xp.mean(gh * xhat, axis=axes, keepdims=True))
        grads = [gx]
        if weight is not None:
            grads.append(xp.sum(g * xhat, axis=axes) if weight.requires_grad else None)
        if bias is not None:
            grads.append(xp.sum(g, axis=axes) if bias.requires_grad else None)
        return tuple(grads)

    parents = tuple(t for t in (x, weight, bias) if t is not None)
    return _from_op(out, parents, backward)


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


# -- losses -------------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    return loss


def _pair_operands(op: str, input: Tensor, target) -> tuple[Tensor, Tensor]:
    """input and target as tensors of one shape on one device (a silently broadcast target,
    e.g. (N,) against (N, 1), is a classic bug, so shapes must match exactly)."""
    target = _lift(target, input, op)
    if target.shape != input.shape:
        raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} "
                         "differ; reshape one of them")
    return input, target


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced.   d input = 2 (input - target) g,  d target = -that"""
    _check_reduction(reduction)
    input, target = _pair_operands("mse_loss", input, target)
    diff = input.data - target.data

    def backward(g):
        d = 2 * diff * g
        return d, (-d if target.requires_grad else None)

    return _reduce(_from_op(diff * diff, (input, target), backward), reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced.   d input = sign(input - target) g"""
    _check_reduction(reduction)
    input, target = _pair_operands("l1_loss", input, target)
    return _reduce(abs(input - target), reduction)


def _clamped_log(xp, a):
    """log(a) clamped at -100, as PyTorch's BCE, without ever evaluating log(0)."""
    positive = a > 0
    return xp.where(positive, xp.clip(xp.log(xp.where(positive, a, 1.0)), -100.0, None), -100.0)


def binary_cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p = input and targets y in [0, 1].

    Each log is clamped at -100 (as PyTorch), so p = 0 or 1 gives a large finite loss, never
    inf or NaN.   dp = g (p - y) / max(p (1 - p), 1e-12),  dy = g (log(1 - p) - log p)
    """
    _check_reduction(reduction)
    input, target = _pair_operands("binary_cross_entropy", input, target)
    xp = input.device.xp
    p, y = input.data, target.data
    log_p, log_q = _clamped_log(xp, p), _clamped_log(xp, 1 - p)
    out = -(y * log_p + (1 - y) * log_q)

    def backward(g):
        gp = g * (p - y) / xp.clip(p * (1 - p), 1e-12, None)
        return gp, (g * (log_q - log_p) if target.requires_grad else None)

    return _reduce(_from_op(out, (input, target), backward), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """binary_cross_entropy(sigmoid(x), y) for logits x = input, computed stably as
        max(x, 0) - x y + log(1 + e^-|x|)     (finite and exact even for |x| = 100).
    dx = g (sigmoid(x) - y),  dy = -g x
    """
    _check_reduction(reduction)
    input, target = _pair_operands("binary_cross_entropy_with_logits", input, target)
    xp = input.device.xp
    x, y = input.data, target.data
    out = xp.maximum(x, 0) - x * y + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(g):
        sig = 0.5 * (1 + xp.tanh(0.5 * x))
        return g * (sig - y), (-g * x if target.requires_grad else None)

    return _reduce(_from_op(out, (input, target), backward), reduction)


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """-log softmax(input)[target]: logits (N, C) or (N, C, d1, ...), integer class labels
    (N,) or (N, d1, ...) in [0, C). reduction="none" gives the labels' shape.

    With logp = log_softmax over the class axis and onehot = (class == target):
    loss = -sum(onehot * logp),   d input = g (softmax(input) - onehot).
    """
    _check_reduction(reduction)
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
        raise TypeError("cross_entropy: target must be a tensor of integer class labels")
    if target.device is not input.device:
        raise DeviceError(f"cross_entropy: logits on {input.device} but labels on "
                          f"{target.device}")
    if input.ndim < 2 or target.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError(f"cross_entropy: expected logits (N, C, ...) and labels (N, ...), "
                         f"got shapes {input.shape} and {target.shape}")
    dev, xp = input.device, input.device.xp
    classes = input.shape[1]
    labels = target.data
    if dev.type != "cuda" and bool(xp.any((labels < 0) | (labels >= classes))):
        # Checked where it costs no GPU synchronisation; an out-of-range label would
        # otherwise silently contribute a loss of 0.
        raise ValueError(f"cross_entropy: labels must lie in [0, {classes}) for {classes} "
                         "classes")
    class_index = xp.reshape(xp.arange(classes, dtype=labels.dtype, device=dev.native),
                             (1, classes) + (1,) * (input.ndim - 2))
    onehot = xp.astype(xp.expand_dims(labels, axis=1) == class_index, input.data.dtype)
    z = input.data
    shifted = z - xp.max(z, axis=1, keepdims=True)
    logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    out = -xp.sum(onehot * logp, axis=1)

    def backward(g):
        return (xp.expand_dims(g, axis=1) * (xp.exp(logp) - onehot), None)

    return _reduce(_from_op(out, (input, target), backward), reduction)


def kl_divergence_normal(mu: Tensor, logvar: Tensor, reduction: str = "mean") -> Tensor:
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) per example:
        -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) over all axes but the first (batch),
    then reduced over the batch: "mean" (average per example), "sum", or "none" -> (N,).
    d mu = g mu,   d logvar = g (exp(logvar) - 1) / 2
    """
    _check_reduction(reduction)
    mu, logvar = _pair_operands("kl_divergence_normal", mu, logvar)
    if mu.ndim < 2:
        raise ValueError(f"kl_divergence_normal: expected (N, latent...) tensors, got shape "
                         f"{mu.shape}")
    xp = mu.device.xp
    axes = tuple(range(1, mu.ndim))
    kept = (mu.shape[0],) + (1,) * (mu.ndim - 1)
    m, var = mu.data, xp.exp(logvar.data)
    out = -0.5 * xp.sum(1 + logvar.data - m * m - var, axis=axes)

    def backward(g):
        g = xp.reshape(g, kept)
        return (g * m if mu.requires_grad else None,
                0.5 * g * (var - 1) if logvar.requires_grad else None)

    return _reduce(_from_op(out, (mu, logvar), backward), reduction)
