"""Loss functions, each op's forward and backward side by side.

Each takes ``reduction``: "mean" (default), "sum" or "none" (one loss per element or example).
"""

from __future__ import annotations

from minigrad.backend import DeviceError
from minigrad.ops.elementwise import abs
from minigrad.ops.reduce import mean, sum
from minigrad.tensor import Tensor, _from_op, _lift

__all__ = ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "kl_divergence_normal"]


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

    def backward(ctx, g):
        input_, target_ = ctx.saved
        d = 2 * (input_ - target_) * g
        return d, (-d if target.requires_grad else None)

    return _reduce(_from_op(diff * diff, (input, target), backward, saved=(input, target)),
                   reduction)


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

    An input outside [0, 1] (or NaN: a diverged model) is no probability. On the CPU that
    raises ValueError, as PyTorch. On a GPU, checking would wait for the device inside every
    training step, so there such elements give a NaN loss instead, which the trainer's NaN
    stop catches.
    """
    _check_reduction(reduction)
    input, target = _pair_operands("binary_cross_entropy", input, target)
    xp = input.device.xp
    p, y = input.data, target.data
    is_probability = (p >= 0) & (p <= 1)  # False for NaN too
    if input.device.type != "cuda" and not bool(xp.all(is_probability)):
        nans = int(xp.sum(xp.astype(xp.isnan(p), xp.int64)))
        outside = int(xp.sum(xp.astype(~is_probability, xp.int64))) - nans
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and "
                         f"1 (probabilities), got {outside} outside [0, 1] and {nans} NaN; for "
                         "logits use binary_cross_entropy_with_logits")
    log_p, log_q = _clamped_log(xp, p), _clamped_log(xp, 1 - p)
    out = -(y * log_p + (1 - y) * log_q)
    if input.device.type == "cuda":
        out = xp.where(is_probability, out, xp.asarray(float("nan"), dtype=out.dtype))

    def backward(ctx, g):
        p, y = ctx.saved
        xp = ctx.xp
        gp = g * (p - y) / xp.clip(p * (1 - p), 1e-12, None) if input.requires_grad else None
        gy = None
        if target.requires_grad:
            gy = g * (_clamped_log(xp, 1 - p) - _clamped_log(xp, p))
        return gp, gy

    return _reduce(_from_op(out, (input, target), backward, saved=(input, target)), reduction)


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

    def backward(ctx, g):
        x, y = ctx.saved
        sig = 0.5 * (1 + ctx.xp.tanh(0.5 * x))
        return g * (sig - y), (-g * x if target.requires_grad else None)

    return _reduce(_from_op(out, (input, target), backward, saved=(input, target)), reduction)


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
    out = -xp.sum(onehot * _log_softmax(xp, input.data), axis=1)

    def backward(ctx, g):
        (z,) = ctx.saved
        xp = ctx.xp
        return (xp.expand_dims(g, axis=1) * (xp.exp(_log_softmax(xp, z)) - onehot), None)

    return _reduce(_from_op(out, (input, target), backward, saved=(input,)), reduction)


def _log_softmax(xp, z):
    """log softmax over axis 1, shifted by the max (arrays, or tensors with the tensor
    namespace: the forward and the backward share it)."""
    shifted = z - xp.max(z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


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
    m = mu.data
    out = -0.5 * xp.sum(1 + logvar.data - m * m - xp.exp(logvar.data), axis=axes)

    def backward(ctx, g):
        m, logvar_ = ctx.saved
        xp = ctx.xp
        g = xp.reshape(g, kept)
        return (g * m if mu.requires_grad else None,
                0.5 * g * (xp.exp(logvar_) - 1) if logvar.requires_grad else None)

    return _reduce(_from_op(out, (mu, logvar), backward, saved=(mu, logvar)), reduction)
