"""More activation functions, under PyTorch's names: the piecewise-linear "hard" family
(hardtanh, relu6, hardsigmoid, hardswish), the scaled ELUs (selu, celu), and smooth ones built
from softplus and softmax (mish, logsigmoid, softsign, softmin).

The hard functions have kinks, and their gradients follow PyTorch at the kinks: 0 at the
boundaries of hardtanh's linear piece (x = min_val or max_val). The others are compositions of
differentiable ops, so their gradients, and gradients of gradients, come from those ops; the
derivative is still written in each docstring.
"""

from __future__ import annotations

from minigrad.ops.activations import elu, softplus, tanh
from minigrad.ops.elementwise import _namespace, abs, neg
from minigrad.ops.reduce import softmax
from minigrad.tensor import Tensor, _from_op

__all__ = ["hardtanh", "relu6", "hardsigmoid", "hardswish", "selu", "celu", "mish",
           "logsigmoid", "softsign", "softmin"]

# SELU's constants (Klambauer et al., "Self-Normalizing Neural Networks", 2017), as PyTorch's
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val].   dx = g where min_val < x < max_val, else 0
    (0 on the boundaries too, as PyTorch)."""
    xp = _namespace(x, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    inside = (x.data > min_val) & (x.data < max_val) if x.requires_grad else None

    def backward(ctx, g):
        return (g * ctx.xp.astype(inside, g.dtype),)

    return _from_op(xp.clip(x.data, min_val, max_val), (x,), backward)


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6).   dx = g where 0 < x < 6, else 0"""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: Tensor) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between.

    dx = g / 6 where -3 < x < 3, else 0
    """
    xp = _namespace(x, "hardsigmoid")
    inside = (x.data > -3) & (x.data < 3) if x.requires_grad else None

    def backward(ctx, g):
        return (g * ctx.xp.astype(inside, g.dtype) / 6,)

    return _from_op(xp.clip(x.data / 6 + 0.5, 0.0, 1.0), (x,), backward)


def hardswish(x: Tensor) -> Tensor:
    """x relu6(x + 3) / 6: 0 below -3, x above 3, x (x + 3) / 6 between.

    dx = g * (0 for x <= -3;  x / 3 + 1/2 for -3 < x < 3;  1 for x >= 3), PyTorch's pieces
    """
    xp = _namespace(x, "hardswish")
    a = x.data
    low, high = a <= -3, a >= 3  # constants of the backward (a kink is not differentiated)

    def backward(ctx, g):
        (x_,) = ctx.saved
        xp = ctx.xp
        return (g * xp.where(low, 0.0, xp.where(high, 1.0, x_ / 3 + 0.5)),)

    return _from_op(a * xp.clip(a / 6 + 0.5, 0.0, 1.0), (x,), backward, saved=(x,))


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants (alpha ~ 1.6733, scale ~
    1.0507).   dx = g scale for x > 0, else g scale alpha e^x"""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1)) = alpha * elu(x / alpha).

    dx = g for x > 0, else g e^(x / alpha)
    """
    _namespace(x, "celu")
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0 (it divides x)")
    return alpha * elu(x / alpha, 1.0)


def mish(x: Tensor) -> Tensor:
    """x tanh(softplus(x)) (Misra, 2019).

    dx = g (tanh(sp) + x sigmoid(x) (1 - tanh^2(sp))),  sp = softplus(x)
    """
    _namespace(x, "mish")
    return x * tanh(softplus(x))


def logsigmoid(x: Tensor) -> Tensor:
    """ln sigmoid(x) = -softplus(-x), stable for large |x|.   dx = g sigmoid(-x)"""
    _namespace(x, "logsigmoid")
    return neg(softplus(neg(x)))


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|).   dx = g / (1 + |x|)^2"""
    _namespace(x, "softsign")
    return x / (1 + abs(x))


def softmin(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(-x) along ``dim``: weights that favour small values.

    dx = -s (g - sum(g s)),  s = softmin(x)
    """
    _namespace(x, "softmin")
    return softmax(neg(x), dim)
