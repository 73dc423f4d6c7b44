"""Elementwise arithmetic and math, each op's forward and backward side by side.

Binary ops broadcast; their backward returns gradients in the broadcast shape and the engine
sums each back to its input's shape (``autograd.sum_to_shape``). A backward computes only the
gradients whose input requires one.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from minigrad.autograd import OUTPUT
from minigrad.backend import float32, int64
from minigrad.tensor import _SCALARS, Tensor, _float_leaf, _from_op, _leaf, _lift

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "clamp",
           "maximum", "minimum", "where", "equal", "not_equal", "less", "less_equal",
           "greater", "greater_equal"]


def _type_name(value) -> str:
    """The type of ``value`` as an error message names it: ``float``, ``numpy.ndarray``,
    ``torch.Tensor`` (the library named, so that another library's Tensor is not mistaken for
    ours)."""
    cls = type(value)
    module = cls.__module__.split(".")[0]
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _namespace(x, op: str):
    """x's array namespace, or the one TypeError for a non-tensor x (every op with a tensor
    argument x starts here)."""
    try:
        return x.device.xp
    except AttributeError:
        raise _not_a_tensor(op, "x", x) from None


def _float_input(x, op: str):
    """(xp, x's array in a floating dtype): integers and bools become float32, as PyTorch's
    floating-point functions (exp, tanh, sin ...) promote them."""
    try:
        xp, data = x.device.xp, x.data
    except AttributeError:
        raise _not_a_tensor(op, "x", x) from None
    if (getattr(data.dtype, "kind", None) or x.dtype.kind) != "f":  # (strict's have no kind)
        data = xp.astype(data, x.device.xp_dtype(float32))
    return xp, data


def _not_a_tensor(op: str, name: str, value) -> TypeError:
    """The one error for a non-tensor where an op needs a tensor, as PyTorch's TypeError.

    Ops raise it from the ``except AttributeError`` around their first use of ``x.device``:
    a try block costs nothing when no exception comes, so the check is free for tensors.
    """
    convertible = isinstance(value, list | tuple | numbers.Number) or hasattr(value, "shape")
    return TypeError(f"{op}: expected a Tensor for argument '{name}', got {_type_name(value)}"
                     + ("; make one with minigrad.tensor(...)" if convertible else ""))


# The binary ops that, as PyTorch's, also take two numbers (torch.add(1, 2.5) is a tensor).
_NUMBER_OPS = ("add", "sub", "mul", "div")


def _operands(a, b, op: str) -> tuple[Tensor, Tensor]:
    """(a, b) as tensors on one device: a Python number beside a tensor stays a weak scalar
    (``_lift``); two numbers make a 0-d tensor where PyTorch's function allows it."""
    if isinstance(a, Tensor):
        if type(b) is float and _is_float(a):  # x * 0.9: the most common case, at once
            return a, _float_leaf(b, a)
        if type(b) is Tensor and b.device is a.device:  # x * y: nothing to lift
            return _promoted(a, b, op)
        return _promoted(a, _lift(b, a, op), op)
    if isinstance(b, Tensor):
        if type(a) is float and _is_float(b):  # 1.0 - x
            return _float_leaf(a, b), b
        return _promoted(_lift(a, b, op), b, op)
    if op in _NUMBER_OPS and isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        # PyTorch's dtype for two numbers: the default float32 when either is a float or for
        # a true division (an int tensor would give float64 there), else int64 (bool for two
        # bools).
        floating = op == "div" or isinstance(a, float) or isinstance(b, float)
        a = Tensor(a, dtype=float32 if floating else None)
        return a, _lift(b, a, op)
    raise TypeError(f"{op}: expected a Tensor for argument 'a' or 'b', got {_type_name(a)} and "
                    f"{_type_name(b)}")


def _promoted(a: Tensor, b: Tensor, op: str) -> tuple[Tensor, Tensor]:
    """(a, b) cast to PyTorch's result dtype where it differs from the backend's (NumPy's).

    PyTorch: a Python float with an integer or bool tensor gives the default float32 (NumPy:
    float64); an integer with a floating tensor gives that floating dtype (int64 + float32 ->
    float32; NumPy: float64); a 0-d tensor of the same kind does not widen a tensor with
    dimensions (float32 + 0-d float64 -> float32); a true division of integers gives float32.
    Operands of one dtype, and Python numbers of the tensor's kind, pass at once.
    """
    ad, bd = a.data, b.data
    if isinstance(bd, _SCALARS):
        if isinstance(ad, _SCALARS):  # (two numbers, inside in-place ops)
            return a, b
        if type(bd) is not bool and _is_float(a):  # x * 2.0, x + 1: the common case, at once
            return a, b
        return _with_number(a, b, a, bd, op)
    if isinstance(ad, _SCALARS):
        if type(ad) is not bool and _is_float(b):
            return a, b
        return _with_number(a, b, b, ad, op)
    da, db = ad.dtype, bd.dtype
    if (da is db or da == db) and (op != "div" or _is_float(a)):
        return a, b
    target = _result_type(a, b)
    if op == "div" and target.kind != "f":
        target = np.dtype(float32)
    return (a if a.dtype == target else a.to(dtype=target),
            b if b.dtype == target else b.to(dtype=target))


def _with_number(a: Tensor, b: Tensor, t: Tensor, number, op: str):
    """_promoted for a tensor t (a or b) and a Python number (the other one)."""
    if type(number) is bool and t.dtype.kind != "b":  # True is 1 (the array API refuses a
        number = int(number)                          # bool with numbers)
        a, b = (a, _leaf(number, a.device)) if t is a else (_leaf(number, b.device), b)
    if _is_float(t) or (type(number) is bool and op != "div"):
        return a, b
    if type(number) is float or op == "div":
        target = float32
    elif t.dtype.kind == "b":  # bool tensor + int: int64, as NumPy and PyTorch
        target = int64
    else:
        return a, b
    return (a.to(dtype=target), b) if t is a else (a, b.to(dtype=target))


def _is_float(t: Tensor) -> bool:
    try:
        return t.data.dtype.kind == "f"  # NumPy and CuPy dtypes, at once
    except AttributeError:  # array_api_strict's dtypes have no kind
        return t.dtype.kind == "f"


_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def _result_type(a: Tensor, b: Tensor) -> np.dtype:
    """PyTorch's result dtype of two tensors: a 0-d tensor beside one with dimensions decides
    only when its category (bool < integer < floating) is higher; between categories the
    higher one's dtype wins (int64 + float16 -> float16), within one NumPy's rule holds."""
    da, db = a.dtype, b.dtype
    if (a.ndim == 0) != (b.ndim == 0):
        dim, zero = (da, db) if b.ndim == 0 else (db, da)
        return dim if _CATEGORY[dim.kind] >= _CATEGORY[zero.kind] else zero
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if ca != cb:
        return da if ca > cb else db
    return np.promote_types(da, db)


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
    """a / b.   da = g / b,  db = -g * a / b^2"""
    a, b = _operands(a, b, "div")

    def backward(ctx, g):
        a_, b_ = ctx.saved
        return ((g / b_ if a.requires_grad else None),
                (-g * a_ / (b_ * b_) if b.requires_grad else None))

    # The inputs, not the output, as PyTorch: then y = x / w; y.add_(1) can still backward.
    return _from_op(a.data / b.data, (a, b), backward,
                    saved=(a if b.requires_grad else None, b))


def neg(x: Tensor) -> Tensor:
    """-x.   dx = -g"""
    if not isinstance(x, Tensor):  # -x.data would negate a NumPy array's memoryview
        raise _not_a_tensor("neg", "x", x)

    def backward(ctx, g):
        return (-g,)

    return _from_op(-x.data, (x,), backward)


def pow(a, b) -> Tensor:
    """a ** b, differentiated as PyTorch does at the edges (zero and negative bases):

        da = g * b a^(b-1),  and 0 wherever b = 0: a^0 is the constant 1, even at a = 0
             (where b a^(b-1) would be 0 * 0^-1 = nan)
        db = g * a^b ln a,   and at a = 0: 0 for b >= 0 (0^b is constant there, not
             0 * ln 0 = nan), a^b ln 0 = -a^b = -inf for b < 0 (a^b = inf), nan for a < 0
             (a^b is real only at integer b, a set without a slope)
    """
    a, b = _operands(a, b, "pow")

    def backward(ctx, g):
        a_, b_, out = ctx.saved
        xp = ctx.xp
        ga = gb = None
        if a.requires_grad:
            if isinstance(b_, int | float):  # a Python exponent, as in x ** 2
                ga = xp.zeros_like(g) if b_ == 0 else g * (b_ * a_ ** (b_ - 1))
            else:
                zero = b_ == 0  # exponent 1 there, so that a^(b-1) cannot be 0^-1 = inf
                ga = xp.where(zero, 0.0, g * (b_ * a_ ** (xp.where(zero, 1.0, b_) - 1)))
        if b.requires_grad:
            gb = g * _times_log_base(xp, out, a_, b_)
        return ga, gb

    return _from_op(a.data ** b.data, (a, b), backward,
                    saved=(a, b, OUTPUT if b.requires_grad else None))


def _times_log_base(xp, out, a, b):
    """a^b ln a for pow's exponent gradient (out = a^b), with PyTorch's values where ln a is not
    finite, and without computing ln 0 or ln(-1) (NumPy would warn about each):
    0 at a = 0, b >= 0;  -out (= inf * -inf = -inf for a = +0) at a = 0, b < 0;  nan for a < 0.
    ``a`` is a Python number (2 ** x) or an array/tensor like ``out``."""
    if isinstance(a, int | float):
        if a > 0:
            return out * math.log(a)
        return xp.where(b >= 0, 0.0, -out) if a == 0 else out * math.nan
    positive = a > 0  # ln a computed there only, and out too (0^-1 = inf times ln 1 = 0 warns)
    log_a = xp.log(xp.where(positive, a, 1.0))
    at_zero = xp.where(b >= 0, 0.0, -out)
    return xp.where(positive, xp.where(positive, out, 0.0) * log_a,
                    xp.where(a == 0, at_zero, math.nan))


def exp(x: Tensor) -> Tensor:
    """e^x.   dx = g * e^x"""
    xp, data = _float_input(x, "exp")

    def backward(ctx, g):
        (out,) = ctx.saved
        return (g * out,)

    return _from_op(xp.exp(data), (x,), backward, saved=(OUTPUT,))


def log(x: Tensor) -> Tensor:
    """ln x.   dx = g / x"""
    xp, data = _float_input(x, "log")

    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g / x_,)

    return _from_op(xp.log(data), (x,), backward, saved=(x,))


def sqrt(x: Tensor) -> Tensor:
    """sqrt(x).   dx = g / (2 sqrt(x))"""
    xp, data = _float_input(x, "sqrt")

    def backward(ctx, g):
        (out,) = ctx.saved
        return (g / (2 * out),)

    return _from_op(xp.sqrt(data), (x,), backward, saved=(OUTPUT,))


def abs(x: Tensor) -> Tensor:
    """|x|.   dx = g * sign(x)   (0 at x = 0)"""
    xp = _namespace(x, "abs")
    sign = xp.sign(x.data)  # a constant of the backward: its own derivative is 0

    def backward(ctx, g):
        return (g * sign,)

    return _from_op(xp.abs(x.data), (x,), backward)


_BOUND_TYPES = (int, float, type(None))


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None).   dx = g where min <= x <= max, else 0"""
    if min is None and max is None:
        raise ValueError("clamp needs min or max (or both)")
    if type(min) not in _BOUND_TYPES or type(max) not in _BOUND_TYPES:  # (cheap when they are)
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and not isinstance(bound, numbers.Real):
                raise TypeError(f"clamp: expected a number (or None) for '{name}', got "
                                f"{_type_name(bound)}; for tensor bounds use maximum/minimum")
    xp = _namespace(x, "clamp")
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


def where(condition, a=None, b=None) -> Tensor | tuple[Tensor, ...]:
    """a where condition else b.   da = g where condition, db = g elsewhere

    condition: a bool tensor (or, beside a tensor a or b, a bool array on its device).

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``, as in PyTorch: a tuple
    of int64 index tensors, one per dimension, of the nonzero (True) elements.
    """
    if a is None and b is None:
        # (imported here: select.py builds on this module)
        from minigrad.ops.select import nonzero

        if not isinstance(condition, Tensor):
            raise _not_a_tensor("where", "condition", condition)
        return nonzero(condition, as_tuple=True)
    if a is None or b is None:
        raise TypeError("where: give both a and b (the values where condition is True and "
                        "where it is False), or the condition alone for its indices")
    if isinstance(condition, Tensor):
        like = condition
    else:
        like = a if isinstance(a, Tensor) else b
        if not isinstance(like, Tensor):
            raise _not_a_tensor("where", "condition", condition)
        condition = _lift(condition, like, "where")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a, device=like.device)  # two numbers: the result takes the default dtype
    a, b = _promoted(_lift(a, like, "where"), _lift(b, like, "where"), "where")
    xp = like.device.xp
    cond = condition.data
    if cond.dtype != xp.bool:  # NumPy would read nonzero as True; PyTorch refuses
        raise TypeError(f"where: expected a bool condition, got a tensor of dtype "
                        f"{condition.dtype}; compare first (x > 0)")

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
