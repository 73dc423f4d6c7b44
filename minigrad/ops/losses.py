"""Loss functions, each op's forward and backward side by side.

Each takes ``reduction``: "mean" (default), "sum" or "none" (one loss per element or example).
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.backend import DeviceError
from minigrad.ops.activations import softplus
from minigrad.ops.elementwise import abs, exp, log, maximum, sqrt, where
from minigrad.ops.reduce import mean, sum
from minigrad.ops.shape import broadcast_to
from minigrad.tensor import Tensor, _from_op, _leaf, _lift

__all__ = ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "kl_divergence_normal", "nll_loss", "smooth_l1_loss", "huber_loss",
           "kl_div", "cosine_similarity"]


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


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """binary_cross_entropy(sigmoid(x), y) for logits x = input, computed stably as
        max(x, 0) - x y + log(1 + e^-|x|)     (finite and exact even for |x| = 100).
    dx = g (sigmoid(x) - y),  dy = -g x

    weight (broadcast against the loss) rescales each element; pos_weight (broadcast along
    the last axis: one per class) weighs the positive term, as PyTorch:
        loss = -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]
             = w [(1 - y) x + (1 + (p - 1) y) softplus(-x)],
    composed from differentiable ops (so gradients reach weight and pos_weight too).
    (A string as the third argument is the reduction, the signature before the port.)
    """
    if isinstance(weight, str):
        reduction, weight = weight, None
    _check_reduction(reduction)
    input, target = _pair_operands("binary_cross_entropy_with_logits", input, target)
    if weight is not None or pos_weight is not None:
        x, y = input, target
        scale = 1 if pos_weight is None else 1 + (_lift(pos_weight, x, "pos_weight") - 1) * y
        loss = (1 - y) * x + scale * softplus(-x)
        return _reduce(loss if weight is None else loss * _lift(weight, x, "weight"), reduction)
    xp = input.device.xp
    x, y = input.data, target.data
    out = xp.maximum(x, 0) - x * y + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(ctx, g):
        x, y = ctx.saved
        sig = 0.5 * (1 + ctx.xp.tanh(0.5 * x))
        return g * (sig - y), (-g * x if target.requires_grad else None)

    return _reduce(_from_op(out, (input, target), backward, saved=(input, target)), reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """-log softmax(input)[target]: logits (N, C) or (N, C, d1, ...), and either integer class
    labels (N,) or (N, d1, ...) in [0, C), or class probabilities of the logits' shape (soft
    targets). reduction="none" gives the labels' shape (N, d1, ...).

    In general, with logp = log_softmax over the class axis and a target distribution q
    per example,   loss = -sum_c q_c logp_c,   d input = g (softmax(input) sum_c q_c - q):
      labels:         q = onehot(label) w_label  (0 for label == ignore_index);
      label_smoothing e: q = (1 - e) onehot w_label + e/C w  (PyTorch's mix of the two);
      probabilities p:   q = w p, smoothed first to (1 - e) p + e/C.
    weight w (C,) weighs the classes (w = 1 without it). reduction "mean" divides the sum by
    the weight of the counted labels, sum of w_label (the label count without weights), or
    for probabilities by the number of examples N d1 ..., as PyTorch.
    (A string as the third argument is the reduction, the signature before the port.)
    """
    if isinstance(weight, str):
        reduction, weight = weight, None
    _check_reduction(reduction)
    if not isinstance(input, Tensor):
        raise TypeError("cross_entropy: input must be a tensor of logits")
    if not isinstance(target, Tensor):
        raise TypeError("cross_entropy: target must be a tensor of integer class labels or of "
                        "class probabilities")
    if target.device is not input.device:
        raise DeviceError(f"cross_entropy: logits on {input.device} but labels on "
                          f"{target.device}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    dev, xp = input.device, input.device.xp
    classes = input.shape[1] if input.ndim >= 2 else 0
    w = _class_weight("cross_entropy", weight, input)      # (1, C, 1, ...) array or None
    if target.dtype.kind == "f":  # class probabilities
        if target.shape != input.shape:
            raise TypeError(f"cross_entropy: target must be integer class labels, or class "
                            f"probabilities of the logits' shape {input.shape}; got floats of "
                            f"shape {target.shape}")
        q = target if label_smoothing == 0 else target * (1 - label_smoothing) + (
            label_smoothing / classes)
        if w is not None:
            q = q * _leaf(w, dev)
        loss = _soft_cross_entropy(input, q)
        if reduction == "mean":
            return sum(loss) / math.prod(loss.shape)
        return _reduce(loss, reduction)
    if target.dtype.kind not in "iu":
        raise TypeError("cross_entropy: target must be a tensor of integer class labels or of "
                        "class probabilities")
    onehot, counted, all_counted = _label_weights("cross_entropy", input, target, w,
                                                  ignore_index)
    q = onehot
    if label_smoothing:
        spread = label_smoothing / classes * (1.0 if w is None else w)
        valid = xp.astype(target.data != ignore_index, input.data.dtype)
        q = (1 - label_smoothing) * onehot + spread * xp.expand_dims(valid, axis=1)
    # Without weights and ignored labels each q sums to 1 (smoothed or not): the common case
    # takes the shorter backward and the plain mean.
    plain = w is None and all_counted
    loss = _soft_cross_entropy(input, _leaf(q, dev), rows_sum_to_one=plain)
    if reduction == "mean":
        return mean(loss) if plain else sum(loss) / _leaf(counted(), dev)
    return _reduce(loss, reduction)


def _class_weight(op: str, weight, input: Tensor):
    """A class weight (C,) as an array shaped (1, C, 1, ...) to broadcast along axis 1."""
    if weight is None:
        return None
    weight = _lift(weight, input, op)
    if input.ndim < 2 or weight.shape != (input.shape[1],):
        raise ValueError(f"{op}: weight must have one entry per class, shape "
                         f"({input.shape[1] if input.ndim >= 2 else '?'},), got {weight.shape}")
    xp = input.device.xp
    return xp.astype(xp.reshape(weight.data, (1, -1) + (1,) * (input.ndim - 2)),
                     input.data.dtype)


def _label_weights(op: str, input: Tensor, target: Tensor, w, ignore_index: int):
    """For integer labels: (q, counted, all_counted) with q (N, C, ...) = onehot(label) *
    w_label, zero for ignored labels; counted() the mean's denominator, the sum of w_label
    over the counted labels (their number without weights); all_counted True when no label
    is ignored (known on the CPU only: False on a GPU, where checking would synchronise).
    Labels must be in [0, C) or equal ignore_index."""
    if input.ndim < 2 or target.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError(f"{op}: expected input (N, C, ...) and labels (N, ...), got shapes "
                         f"{input.shape} and {target.shape}")
    dev, xp = input.device, input.device.xp
    classes = input.shape[1]
    labels = target.data
    dtype = input.data.dtype
    all_counted = False
    if dev.type != "cuda" and math.prod(labels.shape):
        # Checked where it costs no GPU synchronisation; an out-of-range label would
        # otherwise silently contribute a loss of 0. Two reductions settle the usual case.
        low, high = int(xp.min(labels)), int(xp.max(labels))
        all_counted = 0 <= low and high < classes and not low <= ignore_index <= high
        if not all_counted and bool(xp.any((labels != ignore_index)
                                           & ((labels < 0) | (labels >= classes)))):
            raise ValueError(f"{op}: labels must lie in [0, {classes}) for {classes} classes "
                             f"(or equal ignore_index={ignore_index})")
    class_index = xp.reshape(xp.arange(classes, dtype=labels.dtype, device=dev.native),
                             (1, classes) + (1,) * (input.ndim - 2))
    hits = xp.expand_dims(labels, axis=1) == class_index
    if 0 <= ignore_index < classes:  # (another ignore_index matches no class anyway)
        hits = hits & xp.expand_dims(labels != ignore_index, axis=1)
    q = xp.astype(hits, dtype)
    if w is not None:
        q = q * w

    def counted():
        if w is not None:
            return xp.sum(q)
        return xp.sum(xp.astype(labels != ignore_index, dtype))

    return q, counted, all_counted


def _soft_cross_entropy(input: Tensor, q: Tensor, rows_sum_to_one: bool = False) -> Tensor:
    """-sum_c q_c log softmax(input)_c over axis 1, an op:
    d input = g (softmax(input) sum_c q_c - q),   d q = -g log softmax(input).
    rows_sum_to_one: q is a constant whose sums over c are 1, so d input = g (softmax - q)."""
    xp = input.device.xp
    out = -xp.sum(q.data * _log_softmax(xp, input.data), axis=1)

    def backward(ctx, g):
        z, q_ = ctx.saved
        xp = ctx.xp
        logp = _log_softmax(xp, z)
        g1 = xp.expand_dims(g, axis=1)
        p = xp.exp(logp)
        gz = g1 * ((p if rows_sum_to_one else p * xp.sum(q_, axis=1, keepdims=True)) - q_)
        return gz, (-g1 * logp if q.requires_grad else None)

    return _from_op(out, (input, q), backward, saved=(input, q))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """The negative log likelihood of labels under log-probabilities input (N, C, ...)
    (e.g. log_softmax's output): loss = -w_label input[label] per example, 0 where label ==
    ignore_index; "mean" divides the sum by the sum of w_label over the counted labels.
    A product with a constant (the weighted one-hot q) and a sum: d input = -g q."""
    _check_reduction(reduction)
    if not isinstance(input, Tensor):
        raise TypeError("nll_loss: input must be a tensor of log-probabilities")
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
        raise TypeError("nll_loss: target must be a tensor of integer class labels")
    if target.device is not input.device:
        raise DeviceError(f"nll_loss: input on {input.device} but labels on {target.device}")
    w = _class_weight("nll_loss", weight, input)
    q, counted, all_counted = _label_weights("nll_loss", input, target, w, ignore_index)
    loss = -sum(input * _leaf(q, input.device), axis=1)
    if reduction == "mean":
        if w is None and all_counted:
            return mean(loss)
        return sum(loss) / _leaf(counted(), input.device)
    return _reduce(loss, reduction)


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


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """With d = input - target:  0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta
    (beta = 0: the L1 loss).   d input = g clip(d / beta, -1, 1),  d target = -that"""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    return _piecewise_quadratic("smooth_l1_loss", input, target, reduction, beta, 1 / beta)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """With d = input - target:  0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta),
    i.e. delta * smooth_l1 with beta = delta.   d input = g clip(d, -delta, delta)"""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return _piecewise_quadratic("huber_loss", input, target, reduction, delta, 1.0)


def _piecewise_quadratic(op: str, input: Tensor, target, reduction: str, beta: float,
                         scale: float) -> Tensor:
    """scale * (0.5 d^2 where |d| < beta, else beta (|d| - 0.5 beta)): smooth L1 (scale 1/beta)
    and Huber (scale 1). Its derivative in d is scale * clip(d, -beta, beta)."""
    _check_reduction(reduction)
    input, target = _pair_operands(op, input, target)
    xp = input.device.xp
    d = input.data - target.data
    a = xp.abs(d)
    out = scale * xp.where(a < beta, 0.5 * d * d, beta * (a - 0.5 * beta))

    def backward(ctx, g):
        input_, target_ = ctx.saved
        gd = g * scale * ctx.xp.clip(input_ - target_, -beta, beta)
        return gd, (-gd if target.requires_grad else None)

    return _reduce(_from_op(out, (input, target), backward, saved=(input, target)), reduction)


def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """PyTorch's KL divergence loss, input = log q (log-probabilities), target = p (or log p
    with log_target):   loss = p (log p - input)   pointwise (0 where p = 0),
    reduction "mean" (over all elements), "batchmean" (the sum over the batch size: the true
    KL(p || q) per example), "sum" or "none". Composed from differentiable ops:
    d input = -g p,  d p = g (log p + 1 - input)."""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                         f"{reduction!r}")
    input, target = _pair_operands("kl_div", input, target)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        positive = target.data > 0
        safe = where(positive, target, 1.0)  # log is only taken where p > 0 (no -inf * 0)
        loss = where(positive, target * log(safe), 0.0) - target * input
    if reduction == "batchmean":
        return sum(loss) / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def cosine_similarity(x1: Tensor, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 x2) / (max(|x1|, eps) max(|x2|, eps)) along ``dim`` (x1 and x2 broadcast), as
    PyTorch: each vector divided by its norm (at least eps), then the dot product.
    Composed from differentiable ops (norms as sqrt of sums of squares)."""
    x2 = _lift(x2, x1, "cosine_similarity")
    # Broadcast first: a vector repeated along ``dim`` has a longer norm than the original.
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} do not "
                         "broadcast") from None
    if not -len(shape) <= dim < len(shape):
        raise ValueError(f"cosine_similarity: dim {dim} is out of range for {len(shape)} axes")
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    # max(|x|, eps) as sqrt(max(|x|^2, eps^2)): the same value, and no infinite derivative of
    # the square root at a zero vector.
    norm1 = sqrt(maximum(sum(x1 * x1, axis=dim, keepdims=True), eps * eps))
    norm2 = sqrt(maximum(sum(x2 * x2, axis=dim, keepdims=True), eps * eps))
    return sum((x1 / norm1) * (x2 / norm2), axis=dim)
