"""Elementwise arithmetic and math, each op's forward and backward side by side.

Binary ops broadcast; their backward returns gradients in the broadcast shape and the engine
sums each back to its input's shape (``autograd.sum_to_shape``). A backward computes only the
gradients whose input requires one.
"""

from __future__ import annotations

import math

from minigrad.autograd import OUTPUT
from minigrad.tensor import Tensor, _from_op, _leaf, _lift

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "clamp",
           "maximum", "minimum", "where", "equal", "not_equal", "less", "less_equal",
           "greater", "greater_equal"]


def _operands(a, b, op: str) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, _lift(b, a, op)
    return _lift(a, b, op), b


def add(a, b) -> Tensor:
    """a + b.   da = g,  db = g"""
    a, b = _operands(a, b, "add")

    def backward(ctx, g):
        return g, g

    return _from_op(a.data + b.data, (a, b), backward)


def sub(a, b) -> Tensor:
    """a - b.   da = g,  db = -g"""
    a, b = _operands(a, b, "sub")

    def backward(ctx, g):
        return g, (-g if b.requires_grad else None)

    return _from_op(a.data - b.data, (a, b), backward)


def mul(a, b) -> Tensor:
    """a * b.   da = g * b,  db = g * a"""
    a, b = _operands(a, b, "mul")

    def backward(ctx, g):
        a_, b_ = ctx.saved
        return (g * b_ if a.requires_grad else None), (g * a_ if b.requires_grad else None)

    # Each input is saved only when the other needs a gradient (y.mul_(3) may then change y).
    return _from_op(a.data * b.data, (a, b), backward,
                    saved=(a if b.requires_grad else None, b if a.requires_grad else None))


def div(a, b) -> Tensor:
    """a / b.   da = g / b,  db = -g * a / b^2 = -g * out / b"""
    a, b = _operands(a, b, "div")

    def backward(ctx, g):
        b_, out = ctx.saved
        return ((g / b_ if a.requires_grad else None),
                (-g * out / b_ if b.requires_grad else None))

    return _from_op(a.data / b.data, (a, b), backward,
                    saved=(b, OUTPUT if b.requires_grad else None))


def neg(x: Tensor) -> Tensor:
    """-x.   dx = -g"""
    def backward(ctx, g):
        return (-g,)

    return _from_op(-x.data, (x,), backward)


def pow(a, b) -> Tensor:
    """a ** b.   da = g * b * a^(b-1),  db = g * a^b * ln(a)   (ln a taken as 0 where a = 0:
    there a^b is the constant 0 for b > 0, whose slope is 0, not 0 * ln 0 = nan)"""
    a, b = _operands(a, b, "pow")

    def backward(ctx, g):
        a_, b_, out = ctx.saved
        ga = g * b_ * a_ ** (b_ - 1) if a.requires_grad else None
        gb = None
        if b.requires_grad:
            if isinstance(a_, int | float):  # a Python number, as in 2 ** x
                log_a = math.log(a_) if a_ != 0 else 0.0
            else:
                xp = ctx.xp
                log_a = xp.log(xp.where(a_ == 0, 1.0, a_))
            gb = g * out * log_a
        return ga, gb

    return _from_op(a.data ** b.data, (a, b), backward,
                    saved=(a, b, OUTPUT if b.requires_grad else None))


def exp(x: Tensor) -> Tensor:
    """e^x.   dx = g * e^x"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (g * out,)

    return _from_op(x.device.xp.exp(x.data), (x,), backward, saved=(OUTPUT,))


def log(x: Tensor) -> Tensor:
    """ln x.   dx = g / x"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / x_,)

    return _from_op(x.device.xp.log(x.data), (x,), backward, saved=(x,))


def sqrt(x: Tensor) -> Tensor:
    """sqrt(x).   dx = g / (2 sqrt(x))"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (g / (2 * out),)

    return _from_op(x.device.xp.sqrt(x.data), (x,), backward, saved=(OUTPUT,))


def abs(x: Tensor) -> Tensor:
    """|x|.   dx = g * sign(x)   (0 at x = 0)"""
    xp = x.device.xp
    sign = xp.sign(x.data)  # a constant of the backward: its own derivative is 0

    def backward(ctx, g):
        return (g * sign,)

    return _from_op(xp.abs(x.data), (x,), backward)


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None).   dx = g where min <= x <= max, else 0"""
    if min is None and max is None:
        raise ValueError("clamp needs min or max (or both)")
    xp = x.device.xp
    inside = None
    if x.requires_grad:
        if min is not None:
            inside = x.data >= min
        if max is not None:
            inside = (x.data <= max) if min is None else inside & (x.data <= max)

    def backward(ctx, g):
        return (g * ctx.xp.astype(inside, g.dtype),)

    return _from_op(xp.clip(x.data, min, max), (x,), backward)


def _selection(a: Tensor, b: Tensor, a_wins, out):
    """The backward of max/min(a, b) = out: g goes to the winner, split evenly on ties. The
    shares are constants of the backward (taken from the forward's values)."""
    xp = a.device.xp
    ties = a.data == b.data
    share_a = xp.astype(a_wins, out.dtype) + 0.5 * xp.astype(ties, out.dtype)

    def backward(ctx, g):
        return (g * share_a if a.requires_grad else None,
                g * (1 - share_a) if b.requires_grad else None)

    return backward


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b).   da = g where a > b (half on ties), db likewise"""
    a, b = _operands(a, b, "maximum")
    out = a.device.xp.maximum(a.data, b.data)
    backward = _selection(a, b, a.data > b.data, out)
    backward.__qualname__ = "maximum.backward"
    return _from_op(out, (a, b), backward)


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b).   da = g where a < b (half on ties), db likewise"""
    a, b = _operands(a, b, "minimum")
    out = a.device.xp.minimum(a.data, b.data)
    backward = _selection(a, b, a.data < b.data, out)
    backward.__qualname__ = "minimum.backward"
    return _from_op(out, (a, b), backward)


def where(condition, a, b) -> Tensor:
    """a where condition else b.   da = g where condition, db = g elsewhere"""
    if isinstance(condition, Tensor):
        like = condition
    else:
        like = a if isinstance(a, Tensor) else b
        condition = _lift(condition, like, "where")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a, device=like.device)  # two numbers: the result takes the default dtype
    a = _lift(a, like, "where")
    b = _lift(b, like, "where")
    xp = like.device.xp
    cond = condition.data

    def backward(ctx, g):
        zero = ctx.xp.zeros_like(g)
        return (None,
                ctx.xp.where(cond, g, zero) if a.requires_grad else None,
                ctx.xp.where(cond, zero, g) if b.requires_grad else None)

    return _from_op(xp.where(cond, a.data, b.data), (condition, a, b), backward)


# Comparisons give boolean tensors outside the graph.

def _compare(a, b, op: str, fn) -> Tensor:
    a, b = _operands(a, b, op)
    return _leaf(fn(a.data, b.data), a.device)


def equal(a, b) -> Tensor:
    return _compare(a, b, "equal", lambda x, y: x == y)


def not_equal(a, b) -> Tensor:
    return _compare(a, b, "not_equal", lambda x, y: x != y)


def less(a, b) -> Tensor:
    return _compare(a, b, "less", lambda x, y: x < y)


def less_equal(a, b) -> Tensor:
    return _compare(a, b, "less_equal", lambda x, y: x <= y)


def greater(a, b) -> Tensor:
    return _compare(a, b, "greater", lambda x, y: x > y)


def greater_equal(a, b) -> Tensor:
    return _compare(a, b, "greater_equal", lambda x, y: x >= y)
