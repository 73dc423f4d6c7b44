"""In-place operations: ``x.add_(y)``, ``x += y``, ``x.zero_()`` ... change the tensor itself,
as in PyTorch, and stay safe for autograd.

Each one computes the out-of-place op, then writes the result into ``x.data`` (so views of x
see it, and an operand that shares x's memory is read before it is overwritten) and counts
the change in x's version counter, which x shares with its views:

- On a leaf that requires grad, an in-place op is refused while grad mode is on (the change
  would be invisible to the gradient); under ``no_grad()`` it is the update step
  ``w -= lr * w.grad``, and w stays the same leaf.
- Anywhere else, when the graph is recorded, x takes over the new op's ``grad_fn``: the op's
  input is x *before* the change (a tensor with x's old ``grad_fn``). When the op's backward
  needs those old values (``y.mul_(w)`` with w requiring grad), they are copied first, as
  PyTorch saves the original self.
- A backward that saved x's old values then sees a newer version and raises, instead of
  computing a gradient from the new values (``autograd.Node._unpack``).

Not supported while recording (a clear error instead of a wrong gradient): changing in place
a *view* (``y[0]``, ``y.reshape(-1)`` ...) of a tensor that requires grad (PyTorch refuses it
for views of leaves and rewrites the base's graph for other views), and an operand that is
another view of the changed tensor's memory (PyTorch refuses partial overlaps).
"""

from __future__ import annotations

import numpy as np

from minigrad import autograd
from minigrad.ops.elementwise import add, clamp, mul, sub, where
from minigrad.tensor import Tensor, _from_op, _leaf, _lift

__all__ = ["add_", "sub_", "mul_", "div_", "clamp_", "zero_", "fill_", "copy_"]


def _inplace(x: Tensor, name: str, op, *operands, numbers: tuple = (),
             always_float: bool = False, casts: bool = False) -> Tensor:
    """x <- op(x_before, *operands) in place; op maps tensors (x before the change, then the
    operands, which may be tensors or numbers) to a tensor that broadcasting fits to x.
    numbers: other arguments of op that decide the result's dtype (alpha, clamp's bounds);
    always_float: the result is floating-point whatever the operands (true division);
    casts: op casts the operands to x's dtype itself (fill_, copy_)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    # x is in a graph that this op extends (only then can a change mislead a gradient)
    extends_graph = autograd.is_grad_enabled() and x.requires_grad
    if extends_graph:
        _check_writable_in_graph(x, name)
    # x before the change: the op's input, and also the operand in x.add_(x) (one tensor for
    # both roles: two would run x's old grad_fn twice).
    before = _snapshot(x)
    aliased = any(operand is x for operand in operands)
    inputs = []
    for operand in operands:
        if operand is x:
            operand = before
        elif (extends_graph and isinstance(operand, Tensor) and operand.requires_grad
              and operand._version_counter is x._version_counter):
            raise RuntimeError(
                f"{name}: unsupported operation: the operand of shape {operand.shape} shares "
                f"memory with the tensor of shape {x.shape} that is changed in place (it is a "
                "view of it, or it of the operand). Copy the operand first (operand * 1).")
        inputs.append(operand)
    if not casts:
        _check_result_kind(x, name, (*operands, *numbers), always_float)
    result = op(before, *inputs)
    if result.shape != x.shape:
        raise RuntimeError(f"{name}: output with shape {x.shape} doesn't match the broadcast "
                           f"shape {result.shape}")
    if result.dtype != x.dtype and not np.can_cast(result.dtype, x.dtype, "same_kind"):
        raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the desired "
                           f"output type {x.dtype}")
    node = result.grad_fn
    if node is not None and not aliased and any(s is before for s in node._saved):
        # The backward reads x's old values, which the write below overwrites: it gets a copy,
        # as PyTorch saves the original self (x.add_(x) keeps x itself as the operand, and
        # then, as in PyTorch, the backward raises).
        kept = _kept(before)
        node._saved = tuple(kept if s is before else s for s in node._saved)
    _write(x, name, result.data)
    x._bump_version()
    if node is not None:
        x.grad_fn, x.requires_grad = node, True
        node._rebase_output(x)
    return x


# bool < integers < floats: mixing kinds gives the highest one.
_LEVELS = {"b": 0, "i": 1, "u": 1, "f": 2}


def _kind(value) -> str | None:
    if isinstance(value, Tensor):
        return value.dtype.kind
    if isinstance(value, bool | np.bool_):
        return "b"
    if isinstance(value, int | np.integer):
        return "i"
    if isinstance(value, float | np.floating):
        return "f"
    if isinstance(value, np.ndarray):
        return value.dtype.kind
    return None


def _check_result_kind(x: Tensor, name: str, operands, always_float: bool) -> None:
    """Refuse, before computing, a result of a higher kind than x's dtype (a float result for
    an integer tensor, an integer one for a bool tensor), as PyTorch does: the array API does
    not even compute some of them (an integer array plus a Python float)."""
    kinds = [k for k in map(_kind, operands) if k in _LEVELS]
    if always_float:
        kinds.append("f")
    if not kinds or x.dtype.kind not in _LEVELS:
        return
    highest = max(kinds, key=_LEVELS.__getitem__)
    if _LEVELS[highest] > _LEVELS[x.dtype.kind]:
        kind_name = {"b": "bool", "i": "integer", "u": "integer", "f": "float"}[highest]
        raise RuntimeError(f"{name}: result type {kind_name} can't be cast to the desired "
                           f"output type {x.dtype}")


def _snapshot(x: Tensor) -> Tensor:
    """x as it is now: x's memory and version counter, in the graph where x is now (its
    grad_fn, whose saved output it is now)."""
    t = _leaf(x.data, x.device)
    t.grad_fn, t.requires_grad = x.grad_fn, x.requires_grad
    t._version_counter = x._version_counter
    return t


def _kept(before: Tensor) -> Tensor:
    """A copy of ``before`` in memory of its own, in the graph as the identity of before."""
    def clone(ctx, g):
        return (g,)

    kept = _from_op(before.device.xp.asarray(before.data, copy=True), (before,), clone)
    kept._version_counter = [before._version]  # the version the node recorded
    return kept


# The ops whose output is a view of their input (ops/shape.py: they share its memory and its
# version counter).
_VIEW_OPS = frozenset({"reshape", "permute", "broadcast_to", "getitem"})


def _view_base(x: Tensor) -> Tensor | None:
    """The tensor whose memory x views through recorded view ops (reshape, slicing ...), or
    None when x is not a recorded view."""
    t = x
    while (t.grad_fn is not None and t.grad_fn.name in _VIEW_OPS and t.grad_fn.inputs
           and t.grad_fn.inputs[0]._version_counter is x._version_counter):
        t = t.grad_fn.inputs[0]
    return None if t is x else t


def _check_writable_in_graph(x: Tensor, name: str) -> None:
    """Refuse recorded in-place changes that would make gradients wrong."""
    if x.is_leaf:
        raise RuntimeError(f"{name}: a leaf tensor that requires grad (shape {x.shape}) is being "
                           "used in an in-place operation; do updates under "
                           "`with minigrad.no_grad():`, or use the out-of-place op")
    base = _view_base(x)
    if base is None:
        return
    if base.is_leaf:
        raise RuntimeError(f"{name}: a view (shape {x.shape}) of a leaf tensor that requires "
                           f"grad (shape {base.shape}) is being used in an in-place operation; "
                           "change the leaf under `with minigrad.no_grad():`")
    raise RuntimeError(f"{name}: changing in place a view (shape {x.shape}) of a tensor that "
                       f"requires grad (shape {base.shape}) is not supported while the graph is "
                       "recorded: the gradient would miss the change. Build the new tensor out "
                       "of place (where, concat ...), or change it under no_grad()")


def _write(x: Tensor, name: str, values) -> None:
    """x.data[...] = values (an array or a number of x's kind), in x's dtype."""
    xp = x.device.xp
    if isinstance(x.data, np.generic):  # a NumPy scalar (some 0-d results) cannot be written
        x.data = xp.astype(xp.asarray(values, device=x.device.native), x.data.dtype)
        return
    if not isinstance(values, int | float) and values.dtype != x.data.dtype:
        values = xp.astype(values, x.data.dtype)
    try:
        x.data[...] = values
    except ValueError as err:  # read-only memory: a broadcast view
        raise RuntimeError(f"{name}: cannot write into this tensor of shape {x.shape} in "
                           f"place: its memory is read-only (a broadcast view?); make a copy "
                           f"first") from err


def _scaled(x: Tensor, other, alpha, name: str):
    """alpha * other for add_/sub_ (other itself when alpha is 1)."""
    if alpha == 1:
        return other
    if not isinstance(other, Tensor):
        other = _lift(other, x, name)
    return mul(other, alpha)


def add_(x: Tensor, other, alpha=1) -> Tensor:
    """x += alpha * other, in place."""
    return _inplace(x, "add_", lambda t, o: add(t, _scaled(x, o, alpha, "add_")), other,
                    numbers=(alpha,) if alpha != 1 else ())


def sub_(x: Tensor, other, alpha=1) -> Tensor:
    """x -= alpha * other, in place."""
    return _inplace(x, "sub_", lambda t, o: sub(t, _scaled(x, o, alpha, "sub_")), other,
                    numbers=(alpha,) if alpha != 1 else ())


def mul_(x: Tensor, other) -> Tensor:
    """x *= other, in place."""
    return _inplace(x, "mul_", mul, other)


def div_(x: Tensor, other) -> Tensor:
    """x /= other, in place."""
    return _inplace(x, "div_", _divide, other, always_float=True)


def _divide(a: Tensor, b) -> Tensor:
    """a / b for div_.   da = g / b,  db = -g * a / b^2

    Unlike ``div``, whose backward reads its output, this one reads the old a (saved only
    when b needs a gradient, and then copied by _inplace), as PyTorch's div_ does: the result
    is x itself, which later in-place ops may change again.
    """
    b = _lift(b, a, "div_")

    def backward(ctx, g):
        a_, b_ = ctx.saved
        return ((g / b_ if a.requires_grad else None),
                (-g * a_ / (b_ * b_) if b.requires_grad else None))

    backward.__qualname__ = "div_.backward"
    return _from_op(a.data / b.data, (a, b), backward,
                    saved=(a if b.requires_grad else None, b))


def clamp_(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max], in place."""
    return _inplace(x, "clamp_", lambda t: clamp(t, min, max), numbers=(min, max))


def _nowhere(x: Tensor):
    """An all-False condition of x's shape: where(nowhere, x, value) is value, broadcast to x,
    and its backward gives x a zero gradient and value the summed one."""
    xp = x.device.xp
    return xp.zeros(x.data.shape, dtype=xp.bool, device=x.device.native)


def fill_(x: Tensor, value) -> Tensor:
    """Every element set to ``value`` (a number, or a 0-d tensor, which gets the gradient);
    cast to x's dtype as PyTorch does (2.7 fills an integer tensor with 2)."""
    return _fill(x, value, "fill_")


def _fill(x: Tensor, value, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{name} only supports a 0-dimensional value tensor, got one of "
                               f"shape {value.shape}")
        value = value.to(x.device, x.dtype)
    else:
        if isinstance(value, np.generic):
            value = value.item()
        if x.dtype.kind != "f":
            value = x.dtype.type(value).item()  # truncation toward 0, as a C cast
    if autograd.is_grad_enabled() and (x.requires_grad or (isinstance(value, Tensor)
                                                           and value.requires_grad)):
        return _inplace(x, name, lambda t, v: where(_nowhere(x), t, v), value, casts=True)
    # Nothing to record (x.grad.zero_(), initialisation): write the value directly.
    _write(x, name, value.data if isinstance(value, Tensor) else value)
    x._bump_version()
    return x


def zero_(x: Tensor) -> Tensor:
    """Every element set to 0."""
    return _fill(x, 0, "zero_")


def copy_(x: Tensor, src) -> Tensor:
    """x's values replaced by ``src`` (broadcast to x's shape, moved to x's device, cast to its
    dtype); the gradient flows to src (moved and cast back), x's old values get none."""
    if not isinstance(x, Tensor):
        raise TypeError(f"copy_: expected a Tensor, got {type(x).__name__}")
    if not isinstance(src, Tensor):
        src = Tensor(src, dtype=x.dtype, device=x.device)

    def copied(t, s):
        return where(_nowhere(x), t, s.to(x.device, x.dtype))

    return _inplace(x, "copy_", copied, src, casts=True)


OPERATORS = {"__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_}
METHODS = [add_, sub_, mul_, div_, clamp_, fill_, zero_, copy_]
