"""Activation functions, each written to be numerically stable for any input; and erf, erfc
and the normal distribution's CDF on the array API, for the exact GELU."""

from __future__ import annotations

import math

from minigrad.autograd import OUTPUT
from minigrad.ops.elementwise import _float_input, _namespace
from minigrad.tensor import Tensor, _from_op

__all__ = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "silu"]


def relu(x: Tensor) -> Tensor:
    """max(x, 0).   dx = g * [x > 0]"""
    xp = _namespace(x, "relu")
    # Against an array of zeros, not the scalar 0: NumPy's maximum has no vectorised loop for
    # a broadcast scalar and is slower that way, even counting the zero-fill.
    out = xp.maximum(x.data, xp.zeros_like(x.data))
    # The mask is taken now, while x is still in cache, and kept (1 byte an element) instead of
    # reading x again in the backward pass; without a backward to come (inference, or an input
    # that needs no gradient) it is not taken at all.
    positive = x.data > 0 if x.requires_grad else None

    def backward(ctx, g):
        return (g * ctx.xp.astype(positive, g.dtype),)

    return _from_op(out, (x,), backward)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else slope * x.   dx = g * (1 if x > 0 else slope)"""
    xp = _namespace(x, "leaky_relu")
    positive = x.data > 0
    out = xp.where(positive, x.data, negative_slope * x.data)

    def backward(ctx, g):
        return (ctx.xp.where(positive, g, negative_slope * g),)

    return _from_op(out, (x,), backward)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha (e^x - 1).   dx = g * (1 if x > 0 else out + alpha)"""
    xp = _namespace(x, "elu")
    positive = x.data > 0
    out = xp.where(positive, x.data, alpha * (xp.exp(xp.minimum(x.data, 0)) - 1))  # no overflow

    def backward(ctx, g):
        (out_,) = ctx.saved
        return (ctx.xp.where(positive, g, g * (out_ + alpha)),)

    return _from_op(out, (x,), backward, saved=(OUTPUT,))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2, which cannot overflow.

    dx = g * s (1 - s)
    """
    xp, data = _float_input(x, "sigmoid")
    # 1/2 + tanh(x/2)/2, with 1/2 as a 0-d array of x's dtype (Device.constant: the Python
    # number's result, sooner) and the last two steps in place on the new array.
    half = x.device.constant(0.5, data.dtype)
    out = xp.tanh(data * half)
    out *= half
    out += half

    def backward(ctx, g):
        (s,) = ctx.saved
        return (g * s * (1 - s),)

    return _from_op(out, (x,), backward, saved=(OUTPUT,))


def tanh(x: Tensor) -> Tensor:
    """tanh x.   dx = g * (1 - tanh^2 x)"""
    xp, data = _float_input(x, "tanh")

    def backward(ctx, g):
        (out,) = ctx.saved
        # g - g out^2: as accurate as g (1 - out^2), and NumPy is slower with the number 1
        return (g - g * out * out,)

    return _from_op(xp.tanh(data), (x,), backward, saved=(OUTPUT,))


def softplus(x: Tensor) -> Tensor:
    """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), stable for large |x|.   dx = g * sigmoid(x)"""
    xp = _namespace(x, "softplus")
    out = xp.maximum(x.data, 0) + xp.log1p(xp.exp(-xp.abs(x.data)))

    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g * 0.5 * (1 + ctx.xp.tanh(0.5 * x_)),)

    return _from_op(out, (x,), backward, saved=(x,))


# -- erf, erfc and the normal distribution, on the array API ---------------------------------
#
# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969), 631-638, as in his SPECFUN routine CALERF (netlib.org/specfun/erf): near-minimax
# rational functions, good to about 1e-18, for erf on |x| <= 0.46875 and for erfc on
# [0.46875, 4] (times e^(-x^2)) and on [4, inf) (times e^(-x^2) / x, in 1/x^2).
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_ERF_SMALL = 0.46875  # where Cody's ranges meet
_ERFC_ZERO = 28.0  # erfc(28) ~ 1e-342 rounds to 0 even as a float64 denormal
# Correctly rounded constants (1 / math.sqrt(2) is one unit in the last place off)
_INV_SQRT_PI = 5.6418958354775628695e-1  # 1/sqrt(pi), Cody's SQRPI
_INV_SQRT_2 = 7.0710678118654752440e-1
_INV_SQRT_2PI = 3.9894228040143267794e-1


def _rational(z, num, den):
    """num(z) / den(z) by Horner's rule, in Cody's form: num[-1] is num's leading coefficient,
    num[-2] its constant term; den is monic, den[-1] its constant term."""
    top, bottom = num[-1] * z, z
    for p, q in zip(num[:-2], den[:-1], strict=True):
        top = (top + p) * z
        bottom = (bottom + q) * z
    return (top + num[-2]) / (bottom + den[-1])


def _erfc_outer(y, xp):
    """erfc(y) for y >= 0.46875, Cody's two outer ranges. Each is evaluated on y clipped into
    its range, and where picks one, so no element overflows or divides by zero anywhere."""
    mid = xp.clip(y, _ERF_SMALL, 4.0)
    erfc_mid = xp.exp(-mid * mid) * _rational(mid, _ERFC_C, _ERFC_D)
    far = xp.clip(y, 4.0, _ERFC_ZERO)
    z = 1 / (far * far)
    erfc_far = xp.exp(-far * far) * (_INV_SQRT_PI - z * _rational(z, _ERFC_P, _ERFC_Q)) / far
    return xp.where(y <= 4.0, erfc_mid, erfc_far)


def _erf(x, xp):
    """The error function erf x = 2/sqrt(pi) int_0^x e^(-t^2) dt, to within about 2e-16 relative
    in float64 (checked against math.erf), by W. J. Cody's rational approximations (above).

    x: an array (xp its namespace) or a tensor (xp = minigrad.ops.namespace: then erf is
    recorded as ops and can be differentiated, to any order).
    """
    y = xp.abs(x)
    inner = xp.clip(x, -_ERF_SMALL, _ERF_SMALL)
    erf_inner = inner * _rational(inner * inner, _ERF_A, _ERF_B)
    erf_outer = xp.sign(x) * (1 - _erfc_outer(y, xp))
    return xp.where(y <= _ERF_SMALL, erf_inner, erf_outer)


def _erfc(x, xp):
    """The complementary error function erfc x = 1 - erf x, with full relative precision for
    large x too, where 1 - erf x cancels (within about (1 + x^2) 1e-16 relative; denormal
    below 2e-308, 0 past x = 27.3). Arrays or tensors, as _erf."""
    y = xp.abs(x)
    inner = xp.clip(x, -_ERF_SMALL, _ERF_SMALL)
    erfc_inner = 1 - inner * _rational(inner * inner, _ERF_A, _ERF_B)
    outer = _erfc_outer(y, xp)
    return xp.where(y <= _ERF_SMALL, erfc_inner, xp.where(x > 0, outer, 2 - outer))


def _normal_cdf(x, xp):
    """Phi(x) = P(N(0, 1) <= x) = erfc(-x / sqrt 2) / 2: through erfc, not 1 + erf(x / sqrt 2),
    so that the left tail keeps its relative precision instead of cancelling to 0."""
    return 0.5 * _erfc(-x * _INV_SQRT_2, xp)


def _normal_pdf(x, xp):
    """phi(x) = e^(-x^2 / 2) / sqrt(2 pi), taken at x clipped to +-40 (phi(40) = 1e-348 is 0
    already), so that x^2 cannot overflow."""
    x = xp.clip(x, -40.0, 40.0)
    return _INV_SQRT_2PI * xp.exp(-0.5 * x * x)


_GELU_C = math.sqrt(2 / math.pi)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x), Phi the standard normal CDF, as PyTorch's gelu (exact by default).

    approximate="none":  out = x Phi(x) = x erfc(-x / sqrt 2) / 2  (erfc: see _erfc)
        dx = g * (Phi(x) + x phi(x)),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
    approximate="tanh":  u = c (x + 0.044715 x^3), c = sqrt(2 / pi),  out = x (1 + tanh u) / 2
        dx = g * [(1 + tanh u) / 2 + x (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2) / 2]
        (cheaper; within 1e-3 of the exact form everywhere)
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    xp = _namespace(x, "gelu")
    a = x.data
    if approximate == "none":
        def backward(ctx, g):
            (a,) = ctx.saved
            return (g * (_normal_cdf(a, ctx.xp) + a * _normal_pdf(a, ctx.xp)),)

        return _from_op(a * _normal_cdf(a, xp), (x,), backward, saved=(x,))

    def backward_tanh(ctx, g):
        (a,) = ctx.saved
        t = ctx.xp.tanh(_GELU_C * (a + 0.044715 * a * a * a))
        du = _GELU_C * (1 + 3 * 0.044715 * a * a)
        return (g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * du),)

    backward_tanh.__qualname__ = "gelu.backward"
    out = 0.5 * a * (1 + xp.tanh(_GELU_C * (a + 0.044715 * a * a * a)))
    return _from_op(out, (x,), backward_tanh, saved=(x,))


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x).   dx = g * s (1 + x (1 - s))"""
    xp = _namespace(x, "silu")

    def backward(ctx, g):
        (x_,) = ctx.saved
        s = 0.5 * (1 + ctx.xp.tanh(0.5 * x_))
        return (g * s * (1 + x_ * (1 - s)),)

    return _from_op(x.data * (0.5 * (1 + xp.tanh(0.5 * x.data))), (x,), backward, saved=(x,))
