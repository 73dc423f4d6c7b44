"""More elementwise math, under PyTorch's names: trigonometric and hyperbolic functions,
logarithms and exponentials in other bases, rounding, the error function, two-operand math
(atan2, fmod, remainder, logaddexp, lerp, copysign), predicates (isnan, isclose ...), logical
and bitwise ops.

Each op's forward and backward sit side by side, as in ``elementwise.py``. Integer and bool
inputs of the floating-point functions (sin, log2 ...) are computed in float32, PyTorch's
default dtype. Rounding and sign have a zero gradient (PyTorch's choice: they are piecewise
constant); predicates, logical and bitwise ops give tensors outside the graph.
"""

from __future__ import annotations

import math

from minigrad.autograd import OUTPUT
from minigrad.backend import float32
from minigrad.ops.activations import _erf, _erfc
from minigrad.ops.elementwise import _float_input, _namespace, _not_a_tensor, _operands, sub
from minigrad.tensor import Tensor, _from_op, _leaf, _lift

__all__ = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
           "atanh", "log2", "log10", "log1p", "expm1", "exp2", "rsqrt", "reciprocal", "square",
           "sign", "floor", "ceil", "round", "trunc", "erf", "erfc",
           "atan2", "fmod", "remainder", "floor_divide", "logaddexp", "lerp", "copysign",
           "isclose", "allclose", "isnan", "isinf", "isfinite",
           "logical_not", "logical_and", "logical_or", "logical_xor",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"]

_LN2 = math.log(2)
_LN10 = math.log(10)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _unary(x: Tensor, op: str, forward, backward, saved=()) -> Tensor:
    """The output of a one-input floating-point op: ``forward(xp, a)`` on x's array, recorded
    with ``backward`` (named after ``op`` in the graph)."""
    xp, a = _float_input(x, op)
    backward.__qualname__ = op + ".backward"
    return _from_op(forward(xp, a), (x,), backward, saved=saved)


# -- trigonometric and hyperbolic functions -------------------------------------------------

def sin(x: Tensor) -> Tensor:
    """sin x.   dx = g cos x"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g * ctx.xp.cos(x_),)

    return _unary(x, "sin", lambda xp, a: xp.sin(a), backward, saved=(x,))


def cos(x: Tensor) -> Tensor:
    """cos x.   dx = -g sin x"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (-g * ctx.xp.sin(x_),)

    return _unary(x, "cos", lambda xp, a: xp.cos(a), backward, saved=(x,))


def tan(x: Tensor) -> Tensor:
    """tan x.   dx = g (1 + tan^2 x)   (from the output: no cos^2 to divide by)"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (g * (1 + out * out),)

    return _unary(x, "tan", lambda xp, a: xp.tan(a), backward, saved=(OUTPUT,))


def asin(x: Tensor) -> Tensor:
    """arcsin x, on [-1, 1].   dx = g / sqrt(1 - x^2)   (inf at +-1, nan outside)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / ctx.xp.sqrt(1 - x_ * x_),)

    return _unary(x, "asin", lambda xp, a: xp.asin(a), backward, saved=(x,))


def acos(x: Tensor) -> Tensor:
    """arccos x, on [-1, 1].   dx = -g / sqrt(1 - x^2)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (-g / ctx.xp.sqrt(1 - x_ * x_),)

    return _unary(x, "acos", lambda xp, a: xp.acos(a), backward, saved=(x,))


def atan(x: Tensor) -> Tensor:
    """arctan x.   dx = g / (1 + x^2)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / (1 + x_ * x_),)

    return _unary(x, "atan", lambda xp, a: xp.atan(a), backward, saved=(x,))


def sinh(x: Tensor) -> Tensor:
    """sinh x.   dx = g cosh x"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g * ctx.xp.cosh(x_),)

    return _unary(x, "sinh", lambda xp, a: xp.sinh(a), backward, saved=(x,))


def cosh(x: Tensor) -> Tensor:
    """cosh x.   dx = g sinh x"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g * ctx.xp.sinh(x_),)

    return _unary(x, "cosh", lambda xp, a: xp.cosh(a), backward, saved=(x,))


def asinh(x: Tensor) -> Tensor:
    """arsinh x.   dx = g / sqrt(x^2 + 1)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / ctx.xp.sqrt(x_ * x_ + 1),)

    return _unary(x, "asinh", lambda xp, a: xp.asinh(a), backward, saved=(x,))


def acosh(x: Tensor) -> Tensor:
    """arcosh x, on [1, inf).   dx = g / sqrt((x - 1)(x + 1))   (factored as PyTorch: x^2 - 1
    would lose the digits of x - 1 near x = 1)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / ctx.xp.sqrt((x_ - 1) * (x_ + 1)),)

    return _unary(x, "acosh", lambda xp, a: xp.acosh(a), backward, saved=(x,))


def atanh(x: Tensor) -> Tensor:
    """artanh x, on (-1, 1).   dx = g / (1 - x^2)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / (1 - x_ * x_),)

    return _unary(x, "atanh", lambda xp, a: xp.atanh(a), backward, saved=(x,))


# -- logarithms, exponentials and powers ----------------------------------------------------

def log2(x: Tensor) -> Tensor:
    """log_2 x.   dx = g / (x ln 2)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / (x_ * _LN2),)

    return _unary(x, "log2", lambda xp, a: xp.log2(a), backward, saved=(x,))


def log10(x: Tensor) -> Tensor:
    """log_10 x.   dx = g / (x ln 10)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / (x_ * _LN10),)

    return _unary(x, "log10", lambda xp, a: xp.log10(a), backward, saved=(x,))


def log1p(x: Tensor) -> Tensor:
    """ln(1 + x), accurate for tiny x.   dx = g / (1 + x)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / (1 + x_),)

    return _unary(x, "log1p", lambda xp, a: xp.log1p(a), backward, saved=(x,))


def expm1(x: Tensor) -> Tensor:
    """e^x - 1, accurate for tiny x.   dx = g e^x = g (out + 1)"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (g * (out + 1),)

    return _unary(x, "expm1", lambda xp, a: xp.expm1(a), backward, saved=(OUTPUT,))


def exp2(x: Tensor) -> Tensor:
    """2^x.   dx = g 2^x ln 2"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (g * out * _LN2,)

    return _unary(x, "exp2", lambda xp, a: 2.0 ** a, backward, saved=(OUTPUT,))


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x).   dx = -g / (2 x^(3/2)) = -g out^3 / 2"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (-0.5 * g * out * out * out,)

    return _unary(x, "rsqrt", lambda xp, a: 1 / xp.sqrt(a), backward, saved=(OUTPUT,))


def reciprocal(x: Tensor) -> Tensor:
    """1 / x.   dx = -g / x^2 = -g out^2"""
    def backward(ctx, g):
        (out,) = ctx.saved
        return (-g * out * out,)

    return _unary(x, "reciprocal", lambda xp, a: 1 / a, backward, saved=(OUTPUT,))


def square(x: Tensor) -> Tensor:
    """x^2, in x's dtype (integers stay integers, as PyTorch).   dx = 2 g x"""
    try:
        data = x.data
    except AttributeError:
        raise _not_a_tensor("square", "x", x) from None

    def backward(ctx, g):
        (x_,) = ctx.saved
        return (2 * g * x_,)

    return _from_op(data * data, (x,), backward, saved=(x,))


# -- rounding and sign: piecewise constant, so a zero gradient --------------------------------

def _piecewise_constant(x: Tensor, op: str, forward) -> Tensor:
    """A piecewise-constant op in x's dtype: its gradient is 0 (PyTorch's convention; the
    output still requires a gradient when x does, so code that calls backward runs)."""
    xp = _namespace(x, op)

    def backward(ctx, g):
        return (ctx.xp.zeros_like(g),)

    backward.__qualname__ = op + ".backward"
    return _from_op(forward(xp, x.data), (x,), backward)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 (nan for nan).   dx = 0"""
    return _piecewise_constant(x, "sign", lambda xp, a: xp.sign(a))


def _integer_or(xp, a, fn):
    """Rounding leaves integers as they are (the array API does not take them everywhere)."""
    return a if xp.isdtype(a.dtype, ("integral", "bool")) else fn(a)


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x.   dx = 0"""
    return _piecewise_constant(x, "floor", lambda xp, a: _integer_or(xp, a, xp.floor))


def ceil(x: Tensor) -> Tensor:
    """The smallest integer >= x.   dx = 0"""
    return _piecewise_constant(x, "ceil", lambda xp, a: _integer_or(xp, a, xp.ceil))


def trunc(x: Tensor) -> Tensor:
    """x rounded towards zero.   dx = 0"""
    return _piecewise_constant(x, "trunc", lambda xp, a: _integer_or(xp, a, xp.trunc))


def round(x: Tensor, decimals: int = 0) -> Tensor:
    """x rounded to ``decimals`` decimal places, halves to even (as PyTorch: round(2.5) = 2).
    With decimals != 0 it is round(x 10^d) / 10^d, as PyTorch computes it.   dx = 0"""
    def forward(xp, a):
        if xp.isdtype(a.dtype, ("integral", "bool")):
            return a
        if decimals == 0:
            return xp.round(a)
        scale = 10.0 ** decimals
        return xp.round(a * scale) / scale

    return _piecewise_constant(x, "round", forward)


# -- the error function ---------------------------------------------------------------------

def erf(x: Tensor) -> Tensor:
    """erf x = 2/sqrt(pi) int_0^x e^(-t^2) dt (W. J. Cody's approximation, see activations.py).

    dx = g 2/sqrt(pi) e^(-x^2)
    """
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g * _TWO_OVER_SQRT_PI * ctx.xp.exp(-x_ * x_),)

    return _unary(x, "erf", lambda xp, a: _erf(a, xp), backward, saved=(x,))


def erfc(x: Tensor) -> Tensor:
    """erfc x = 1 - erf x, without the cancellation for large x.   dx = -g 2/sqrt(pi) e^(-x^2)"""
    def backward(ctx, g):
        (x_,) = ctx.saved
        return (-g * _TWO_OVER_SQRT_PI * ctx.xp.exp(-x_ * x_),)

    return _unary(x, "erfc", lambda xp, a: _erfc(a, xp), backward, saved=(x,))


# -- two-operand math -----------------------------------------------------------------------

def _float_operands(a, b, op: str):
    """(a, b) as tensors on one device, and (xp, a's values, b's values) in one floating
    dtype, as PyTorch promotes: an integer or bool tensor takes the other's floating dtype
    (float32 when neither has one); a number stays a Python float."""
    a, b = _operands(a, b, op)
    dev = a.device
    xp = dev.xp
    values = [a.data, b.data]
    is_array = [hasattr(v, "dtype") for v in values]
    floating = [v.dtype for v, arr in zip(values, is_array, strict=True)
                if arr and xp.isdtype(v.dtype, "real floating")]
    dtype = floating[0] if floating else dev.xp_dtype(float32)
    for k, (v, arr) in enumerate(zip(values, is_array, strict=True)):
        if not arr:
            values[k] = float(v)
        elif not xp.isdtype(v.dtype, "real floating"):
            values[k] = xp.astype(v, dtype)
    return a, b, xp, values[0], values[1]


def atan2(a, b) -> Tensor:
    """The angle of the point (b, a), in (-pi, pi]: atan(a / b) in the right quadrant.

    da = g b / (a^2 + b^2),  db = -g a / (a^2 + b^2)
    """
    a, b, xp, ad, bd = _float_operands(a, b, "atan2")

    def backward(ctx, g):
        a_, b_ = ctx.saved
        r2 = a_ * a_ + b_ * b_
        return ((g * b_ / r2 if a.requires_grad else None),
                (-g * a_ / r2 if b.requires_grad else None))

    return _from_op(xp.atan2(ad, bd), (a, b), backward, saved=(a, b))


def remainder(a, b) -> Tensor:
    """a - b floor(a / b): the remainder with the sign of the divisor b (Python's %).

    da = g,  db = -g floor(a / b)   (floor(a / b) a constant of the backward)
    """
    a, b = _operands(a, b, "remainder")
    xp = a.device.xp
    quotient = xp.floor_divide(a.data, b.data) if (a.requires_grad or b.requires_grad) else None

    def backward(ctx, g):
        return (g if a.requires_grad else None), (-g * quotient if b.requires_grad else None)

    return _from_op(xp.remainder(a.data, b.data), (a, b), backward)


def fmod(a, b) -> Tensor:
    """a - b trunc(a / b): the remainder with the sign of the dividend a (C's fmod).

    It is the remainder (sign of b) moved by one b where the two signs differ.
    da = g,  db = -g trunc(a / b)   (a constant of the backward)
    """
    a, b = _operands(a, b, "fmod")
    xp = a.device.xp
    r = xp.remainder(a.data, b.data)
    # Where r is not 0 and its sign is not a's, fmod = r - b (sign of a, magnitude < |b|).
    differs = (r != 0) & ((r < 0) != (a.data < 0))
    out = xp.where(differs, r - b.data, r)
    quotient = None
    if b.requires_grad:  # trunc(a / b) = floor(a / b) + 1 exactly where the signs differed
        quotient = xp.astype(xp.floor_divide(a.data, b.data), out.dtype) + xp.astype(
            differs, out.dtype)

    def backward(ctx, g):
        return (g if a.requires_grad else None), (-g * quotient if b.requires_grad else None)

    return _from_op(out, (a, b), backward)


def floor_divide(a, b) -> Tensor:
    """floor(a / b) (Python's //). Piecewise constant and, as in PyTorch, not differentiable:
    the result is outside the graph."""
    a, b = _operands(a, b, "floor_divide")
    return _leaf(a.device.xp.floor_divide(a.data, b.data), a.device)


def logaddexp(a, b) -> Tensor:
    """ln(e^a + e^b), without overflow.   da = g e^(a - out),  db = g e^(b - out)"""
    a, b, xp, ad, bd = _float_operands(a, b, "logaddexp")

    def backward(ctx, g):
        a_, b_, out = ctx.saved
        xp = ctx.xp
        return ((g * xp.exp(a_ - out) if a.requires_grad else None),
                (g * xp.exp(b_ - out) if b.requires_grad else None))

    return _from_op(xp.logaddexp(ad, bd), (a, b), backward, saved=(a, b, OUTPUT))


def lerp(start: Tensor, end, weight) -> Tensor:
    """start + weight (end - start), linear interpolation (weight a number or a tensor).

    Composed of differentiable ops, so its gradients follow:
    dstart = g (1 - weight),  dend = g weight,  dweight = g (end - start)
    """
    if not isinstance(start, Tensor):
        raise _not_a_tensor("lerp", "start", start)
    end = _lift(end, start, "lerp")
    return start + weight * sub(end, start)


def copysign(a, b) -> Tensor:
    """|a| with the sign of b (b = -0.0 counts as negative, as in IEEE and PyTorch).

    da = g out / a = g sign(a) sign(b), and 0 at a = 0 (PyTorch's value);  db = 0
    """
    a, b, xp, ad, bd = _float_operands(a, b, "copysign")
    out = xp.copysign(ad, bd)
    factor = None
    if a.requires_grad:  # out / a = +-1, a constant of the backward (0 where a = 0)
        factor = xp.where(ad == 0, xp.zeros_like(out), xp.sign(out) * xp.sign(ad))

    def backward(ctx, g):
        return ((g * factor if a.requires_grad else None),
                (ctx.xp.zeros_like(g) if b.requires_grad else None))

    return _from_op(out, (a, b), backward)


# -- predicates and logical ops: results outside the graph ---------------------------------

def _predicate(x: Tensor, op: str, fn) -> Tensor:
    xp = _namespace(x, op)
    return _leaf(fn(xp, x.data), x.device)


def isnan(x: Tensor) -> Tensor:
    """Where x is nan (bool)."""
    return _predicate(x, "isnan", lambda xp, a: xp.isnan(a))


def isinf(x: Tensor) -> Tensor:
    """Where x is +-inf (bool)."""
    return _predicate(x, "isinf", lambda xp, a: xp.isinf(a))


def isfinite(x: Tensor) -> Tensor:
    """Where x is neither inf nor nan (bool)."""
    return _predicate(x, "isfinite", lambda xp, a: xp.isfinite(a))


def isclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|a - b| <= atol + rtol |b| elementwise (bool), as PyTorch: equal values (infinities
    too) are close, an infinity is close to nothing else, nan only to nan with equal_nan."""
    a, b, xp, ad, bd = _float_operands(a, b, "isclose")
    if not hasattr(ad, "dtype"):  # a number against a tensor: symmetric up to rtol's |b|
        ad = xp.full_like(bd, ad)
    equal = ad == bd
    finite = xp.isfinite(ad) & (xp.isfinite(bd) if hasattr(bd, "dtype") else math.isfinite(bd))
    # (the difference only where both are finite: inf - inf would warn and give nan)
    safe_a = xp.where(finite, ad, xp.zeros_like(ad))
    safe_b = xp.where(finite, bd, xp.zeros_like(ad))
    close = equal | (finite & (xp.abs(safe_a - safe_b) <= atol + rtol * xp.abs(safe_b)))
    if equal_nan:
        close = close | (xp.isnan(ad) & (xp.isnan(bd) if hasattr(bd, "dtype")
                                         else math.isnan(bd)))
    return _leaf(close, a.device)


def allclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element of a is close to b (see isclose), a Python bool."""
    close = isclose(a, b, rtol, atol, equal_nan)
    return bool(close.device.xp.all(close.data))


def _as_bool(xp, a):
    return a if xp.isdtype(a.dtype, "bool") else a != 0


def logical_not(x: Tensor) -> Tensor:
    """not x (bool; nonzero values count as true)."""
    return _predicate(x, "logical_not", lambda xp, a: xp.logical_not(_as_bool(xp, a)))


def _logical(a, b, op: str, fn) -> Tensor:
    a, b = _operands(a, b, op)
    xp = a.device.xp
    like = a.data if hasattr(a.data, "dtype") else b.data
    values = []
    for v in (a.data, b.data):
        if not hasattr(v, "dtype"):  # a number: its truth value, as a bool array
            v = xp.full_like(like, bool(v), dtype=a.device.xp_dtype("bool"))
        values.append(_as_bool(xp, v))
    return _leaf(fn(xp, *values), a.device)


def logical_and(a, b) -> Tensor:
    """a and b, elementwise (bool)."""
    return _logical(a, b, "logical_and", lambda xp, a, b: xp.logical_and(a, b))


def logical_or(a, b) -> Tensor:
    """a or b, elementwise (bool)."""
    return _logical(a, b, "logical_or", lambda xp, a, b: xp.logical_or(a, b))


def logical_xor(a, b) -> Tensor:
    """a xor b, elementwise (bool)."""
    return _logical(a, b, "logical_xor", lambda xp, a, b: xp.logical_xor(a, b))


# -- bitwise ops on integer and bool tensors ------------------------------------------------

def _bitwise(a, b, op: str, fn) -> Tensor:
    a, b = _operands(a, b, op)
    for t in (a, b):
        if hasattr(t.data, "dtype") and t.dtype.kind not in "biu":
            raise TypeError(f"{op}: expected integer or bool tensors, got {t.dtype}")
        if not hasattr(t.data, "dtype") and isinstance(t.data, float):
            raise TypeError(f"{op}: expected an integer or bool operand, got a float")
    return _leaf(fn(a.data, b.data), a.device)


def bitwise_and(a, b) -> Tensor:
    """a & b, bit by bit (logical and for bools)."""
    return _bitwise(a, b, "bitwise_and", lambda a, b: a & b)


def bitwise_or(a, b) -> Tensor:
    """a | b, bit by bit (logical or for bools)."""
    return _bitwise(a, b, "bitwise_or", lambda a, b: a | b)


def bitwise_xor(a, b) -> Tensor:
    """a ^ b, bit by bit (logical xor for bools)."""
    return _bitwise(a, b, "bitwise_xor", lambda a, b: a ^ b)


def bitwise_not(x: Tensor) -> Tensor:
    """~x: every bit flipped (logical not for bools)."""
    xp = _namespace(x, "bitwise_not")
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: expected an integer or bool tensor, got {x.dtype}")
    return _leaf(xp.bitwise_invert(x.data), x.device)
