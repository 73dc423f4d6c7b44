"""Differentiable ops, and the Tensor methods and operators that call them.

Files: ``elementwise`` (arithmetic, math), ``activations``, ``reduce`` (sum, mean, softmax
...), ``shape`` (reshape, indexing, concat ...), ``linalg`` (matmul), ``conv`` (convolutions),
``pool``, ``resize`` (upsampling), ``im2col`` (the windows those three share), ``layers``
(linear, batch_norm, dropout), ``losses``, ``inplace`` (``add_``, ``+=`` ...). Each op computes
its output and defines its backward right next to it. ``namespace`` lists the ops under the
array API's names, for backward formulas under create_graph; ``spatial_args`` checks the
arguments of the spatial ops.
"""

from minigrad import autograd  # noqa: I001  (after the ops: autograd's namespace needs them)
from minigrad.ops import inplace, namespace
from minigrad.ops.activations import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from minigrad.ops.elementwise import (
    abs,
    add,
    clamp,
    div,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    maximum,
    minimum,
    mul,
    neg,
    not_equal,
    pow,
    sqrt,
    sub,
    where,
)
from minigrad.ops.linalg import matmul
from minigrad.ops.reduce import log_softmax, logsumexp, max, mean, min, softmax, std, sum, var
from minigrad.ops.shape import (
    broadcast_to,
    concat,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from minigrad.tensor import Tensor

__all__ = [
    "abs", "add", "broadcast_to", "clamp", "concat", "div", "elu", "equal", "exp", "expand",
    "flatten", "gelu", "getitem", "greater", "greater_equal", "leaky_relu", "less",
    "less_equal", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mul", "neg", "not_equal", "pad", "permute", "pow", "relu", "reshape", "sigmoid",
    "silu", "softmax", "softplus", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum",
    "tanh", "transpose", "unsqueeze", "var", "where",
]


def _reflected(op):
    return lambda self, other: op(other, self)


_OPERATORS = {
    "__add__": add, "__radd__": _reflected(add),
    "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul),
    "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "__eq__": equal, "__ne__": not_equal, "__lt__": less, "__le__": less_equal,
    "__gt__": greater, "__ge__": greater_equal,
}
_METHODS = [exp, log, sqrt, abs, clamp, relu, leaky_relu, elu, sigmoid, tanh, softplus, gelu,
            silu, sum, mean, var, std, max, min, logsumexp, softmax, log_softmax, reshape,
            flatten, permute, transpose, squeeze, unsqueeze, expand, broadcast_to, split, pad,
            matmul, maximum, minimum]


def _install_on_tensor() -> None:
    """The one step that connects the ops to the Tensor class and to autograd:

    - Python's operators (``a + b``, ``x[i]``, ``a @ b`` ...) and methods (``x.sum()`` ...)
      become the ops above;
    - the in-place methods (``x.add_(1)``, ``x += 1`` ...) from ``ops/inplace.py``;
    - autograd gets the namespace that backward formulas compute with under create_graph.
    """
    for name, op in _OPERATORS.items():
        setattr(Tensor, name, op)
    for op in _METHODS:
        setattr(Tensor, op.__name__, op)
    for name, op in inplace.OPERATORS.items():
        setattr(Tensor, name, op)
    for op in inplace.METHODS:
        setattr(Tensor, op.__name__, op)
    Tensor.__hash__ = object.__hash__  # __eq__ is elementwise, identity stays the hash
    Tensor.T = property(lambda self: permute(self, tuple(range(self.ndim))[::-1]))
    Tensor.mT = property(lambda self: transpose(self, -2, -1))
    autograd.tensor_namespace = namespace


_install_on_tensor()
