"""Elementwise arithmetic and math, each op's forward and backward side by side.

Binary ops broadcast; their backward returns gradients in the broadcast shape and the engine
sums each back to its input's shape (``autograd.sum_to_shape``). A backward computes only the
gradients whose input requires one.
"""

from __future__ import annotations

import math

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
    return _from_op(a.data + b.data, (a, b), lambda g: (g, g))


def sub(a, b) -> Tensor:
    """a - b.   da = g,  db = -g"""
    a, b = _operands(a, b, "sub")
    return _from_op(a.data - b.data, (a, b),
                    lambda g: (g, -g if b.requires_grad else None))


def mul(a, b) -> Tensor:
    """a * b.   da = g * b,  db = g * a"""
    a, b = _operands(a, b, "mul")

    def backward(g):
        return (g * b.data if a.requires_grad else None,
                g * a.data if b.requires_grad else None)

    return _from_op(a.data * b.data, (a, b), backward)


def div(a, b) -> Tensor:
    """a / b.   da = g / b,  db = -g * a / b^2 = -g * out / b"""
    a, b = _operands(a, b, "div")
    out = a.data / b.data

    def backward(g):
        ga = g / b.data if a.requires_grad else None
        return ga, (-g * out / b.data if b.requires_grad else None)

    return _from_op(out, (a, b), backward)


def neg(x: Tensor) -> Tensor:
    """-x.   dx = -g"""
    return _from_op(-x.data, (x,), lambda g: (-g,))


def pow(a, b) -> Tensor:
    """a ** b.   da = g * b * a^(b-1),  db = g * a^b * ln(a)"""
    a, b = _operands(a, b, "pow")
    out = a.data ** b.data

    def backward(g):
        ga = g * b.data * a.data ** (b.data - 1) if a.requires_grad else None
        gb = None
        if b.requires_grad:  # a may be a Python number here (as in 2 ** x)
            # ln a is taken as 0 where a = 0: there a^b is the constant 0 (b > 0), whose slope
            # is 0, not 0 * ln 0 = nan.
            if isinstance(a.data, int | float):
                log_a = math.log(a.data) if a.data != 0 else 0.0
            else:
                xp = b.device.xp
                log_a = xp.log(xp.where(a.data == 0, 1.0, a.data))
            gb = g * out * log_a
        return ga, gb

    return _from_op(out, (a, b), backward)


def exp(x: Tensor) -> Tensor:
    """e^x.   dx = g * e^x"""
    out = x.device.xp.exp(x.data)
    return _from_op(out, (x,), lambda g: (g * out,))


def log(x: Tensor) -> Tensor:
    """ln x.   dx = g / x"""
    return _from_op(x.device.xp.log(x.data), (x,), lambda g: (g / x.data,))


def sqrt(x: Tensor) -> Tensor:
    """sqrt(x).   dx = g / (2 sqrt(x))"""
    out = x.device.xp.sqrt(x.data)
    return _from_op(out, (x,), lambda g: (g / (2 * out),))


def abs(x: Tensor) -> Tensor:
    """|x|.   dx = g * sign(x)   (0 at x = 0)"""
    xp = x.device.xp
    return _from_op(xp.abs(x.data), (x,), lambda g: (g * xp.sign(x.data),))


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None).   dx = g where min <= x <= max, else 0"""
    if min is None and max is None:
        raise ValueError("clamp needs min or max (or both)")
    xp = x.device.xp
    out = xp.clip(x.data, min, max)

    def backward(g):
        inside = True
        if min is not None:
            inside = x.data >= min
        if max is not None:
            inside = (x.data <= max) if min is None else inside & (x.data <= max)
        return (g * xp.astype(inside, g.dtype),)

    return _from_op(out, (x,), backward)


def _select_grads(a: Tensor, b: Tensor, a_wins, g):
    """Gradients of max/min(a, b): g goes to the winner, split evenly on ties."""
    xp = a.device.xp
    share_a = xp.astype(a_wins, g.dtype) + 0.5 * xp.astype(a.data == b.data, g.dtype)
    return (g * share_a if a.requires_grad else None,
            g * (1 - share_a) if b.requires_grad else None)


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b).   da = g where a > b (half on ties), db likewise"""
    a, b = _operands(a, b, "maximum")
    xp = a.device.xp
    out = xp.maximum(a.data, b.data)
    return _from_op(out, (a, b), lambda g: _select_grads(a, b, a.data > b.data, g))


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b).   da = g where a < b (half on ties), db likewise"""
    a, b = _operands(a, b, "minimum")
    xp = a.device.xp
    out = xp.minimum(a.data, b.data)
    return _from_op(out, (a, b), lambda g: _select_grads(a, b, a.data < b.data, g))


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
    out = xp.where(cond, a.data, b.data)

    def backward(g):
        zero = xp.zeros_like(g)
        return (None,
                xp.where(cond, g, zero) if a.requires_grad else None,
                xp.where(cond, zero, g) if b.requires_grad else None)

    return _from_op(out, (condition, a, b), backward)


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
