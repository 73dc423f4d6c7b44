"""Differentiable ops, and the Tensor methods and operators that call them.

Files: ``elementwise`` (arithmetic, math), ``activations``, ``reduce`` (sum, mean, softmax
...), ``shape`` (reshape, indexing, concat ...), ``linalg`` (matmul), ``conv`` (convolutions),
``pool``, ``resize`` (upsampling, interpolate, pixel shuffle), ``im2col`` (the windows those
three share), ``padding`` (F.pad's modes), ``layers`` (linear, batch_norm, dropout, embedding),
``normalization`` (layer_norm, group_norm), ``losses``, ``inplace`` (``add_``, ``+=`` ...);
under more of PyTorch's names ``math`` (sin, atan2, isclose, bitwise ...),
``activations_more`` (hardtanh, selu, mish ...), ``scan`` (prod, cumsum, cummax ...),
``select`` (gather, scatter, sort, topk ...), ``shape_more`` (flip, roll, diagonal, einsum
...). Each op computes
its output and defines its backward right next to it. ``namespace`` lists the ops under the
array API's names, for backward formulas under create_graph; ``spatial_args`` checks the
arguments of the spatial ops.
"""

from minigrad import autograd  # noqa: I001  (after the ops: autograd's namespace needs them)
from minigrad.ops import conventions, inplace, namespace
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
from minigrad.ops.conventions import (  # (the reductions etc. taking dim= as well as axis=)
    argmax,
    argmin,
    cat,
    concat,
    is_tensor,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    numel,
    softmax,
    split,
    squeeze,
    stack,
    std,
    sum,
    unsqueeze,
    var,
)
from minigrad.ops.linalg import matmul
from minigrad.ops.shape import (
    broadcast_to,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    transpose,
)
from minigrad.tensor import Tensor

# More ops under PyTorch's names: ops/math.py (elementwise math, predicates, logical and
# bitwise ops), activations_more.py, scan.py (prod, any/all, cumulative ops), select.py
# (gather, scatter, sort ...), shape_more.py (flip, roll, einsum ...).
from minigrad.ops import activations_more, math, scan, select, shape_more  # noqa: E402
from minigrad.ops.activations_more import (  # noqa: E402
    celu, hardsigmoid, hardswish, hardtanh, logsigmoid, mish, relu6, selu, softmin, softsign,
)
from minigrad.ops.math import (  # noqa: E402
    acos, acosh, allclose, asin, asinh, atan, atan2, atanh, bitwise_and, bitwise_not,
    bitwise_or, bitwise_xor, ceil, copysign, cos, cosh, erf, erfc, exp2, expm1, floor,
    floor_divide, fmod, isclose, isfinite, isinf, isnan, lerp, log1p, log2, log10, logaddexp,
    logical_and, logical_not, logical_or, logical_xor, reciprocal, remainder, round, rsqrt,
    sign, sin, sinh, square, tan, trunc,
)
from minigrad.ops.scan import (  # noqa: E402
    all, any, cummax, cummin, cumprod, cumsum, logcumsumexp, prod, std_mean, var_mean,
)
from minigrad.ops.select import (  # noqa: E402
    argsort, gather, index_select, masked_select, nonzero, one_hot, scatter, scatter_add,
    scatter_reduce, sort, take_along_dim, topk,
)
from minigrad.ops.shape_more import (  # noqa: E402
    bmm, diag, diagonal, einsum, flip, meshgrid, movedim, narrow, outer, repeat,
    repeat_interleave, roll, swapaxes, tile, tril, triu, unfold,
)

__all__ = [
    "abs", "add", "argmax", "argmin", "broadcast_to", "cat", "clamp", "concat", "div", "elu",
    "equal", "exp", "expand", "flatten", "gelu", "getitem", "greater", "greater_equal",
    "is_tensor", "leaky_relu", "less", "less_equal", "log", "log_softmax", "logsumexp", "matmul",
    "max", "maximum", "mean", "min", "minimum", "mul", "neg", "not_equal", "numel", "pad",
    "permute", "pow", "relu", "reshape", "sigmoid", "silu", "softmax", "softplus", "split", "sqrt",
    "squeeze", "stack", "std", "sub", "sum", "tanh", "transpose", "unsqueeze", "var", "where",
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

__all__ += [name for module in (math, activations_more, scan, select, shape_more)
            for name in module.__all__]
_OPERATORS.update({
    "__mod__": remainder, "__rmod__": _reflected(remainder),
    "__floordiv__": floor_divide, "__rfloordiv__": _reflected(floor_divide),
    "__and__": bitwise_and, "__rand__": _reflected(bitwise_and),
    "__or__": bitwise_or, "__ror__": _reflected(bitwise_or),
    "__xor__": bitwise_xor, "__rxor__": _reflected(bitwise_xor),
    "__invert__": bitwise_not,
})
_METHODS += [
    sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, log2, log10, log1p, expm1,
    exp2, rsqrt, reciprocal, square, sign, floor, ceil, round, trunc, erf, erfc, atan2, fmod,
    remainder, floor_divide, logaddexp, lerp, copysign, isclose, allclose, isnan, isinf,
    isfinite, logical_not, logical_and, logical_or, logical_xor, bitwise_and, bitwise_or,
    bitwise_xor, bitwise_not, prod, any, all, cumsum, cumprod, cummax, cummin, logcumsumexp,
    sort, argsort, topk, gather, scatter, scatter_add, scatter_reduce, index_select,
    take_along_dim, masked_select, nonzero, flip, roll, repeat, repeat_interleave, tile, tril,
    triu, diag, diagonal, movedim, swapaxes, narrow, unfold, outer, bmm,
]


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
    for name, op in conventions.METHODS.items():  # PyTorch's spellings (see conventions.py)
        setattr(Tensor, name, op)
    Tensor.__hash__ = object.__hash__  # __eq__ is elementwise, identity stays the hash
    Tensor.T = property(lambda self: permute(self, tuple(range(self.ndim))[::-1]))
    Tensor.mT = property(lambda self: transpose(self, -2, -1))
    autograd.tensor_namespace = namespace


_install_on_tensor()
