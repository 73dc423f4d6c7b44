"""PyTorch's spellings beside the array API's, for code ported from PyTorch.

A PyTorch call either gives PyTorch's result or raises an error naming minigrad's spelling.

- ``dim``/``keepdim`` are accepted wherever ``axis``/``keepdims`` are (``torch_names``, the
  one place that maps them); giving both spellings of one argument is a TypeError.
- ``max``/``min`` with ``dim`` (``x.max(1)``, ``x.max(dim=1)``) return PyTorch's
  ``(values, indices)`` pair; with the array API's ``axis=`` they return the values only, as
  before. ``x.max(other)`` with a tensor is ``maximum``.
- Tensor methods PyTorch has and the array API spells otherwise (``view``, ``size()``,
  ``chunk``, ``flip`` ...), installed on Tensor by ``ops/__init__.py``.

The ops themselves (``reduce.py``, ``shape.py`` ...) keep the array API's names; internal code
(backward formulas) calls them directly and pays nothing for the renaming.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from minigrad.backend import bool_, float16, int32, int64
from minigrad.backend import device as _device
from minigrad.creation import _shape as _sizes
from minigrad.ops import reduce, shape, shape_more
from minigrad.ops.elementwise import _not_a_tensor, maximum, minimum, where
from minigrad.ops.elementwise import pow as power  # (not shadowing the builtin here)
from minigrad.tensor import Tensor, _from_op, _leaf, _linear

__all__ = ["torch_names", "accepts_dim", "ValuesIndices", "max", "min", "argmax", "argmin",
           "cat", "chunk", "unbind", "masked_fill", "numel",
           "is_tensor"]


def torch_names(op: str, kwargs: dict, extra: dict | None = None) -> dict:
    """``kwargs`` with PyTorch's names renamed to minigrad's: dim -> axis, keepdim -> keepdims
    (plus ``extra``, e.g. unbiased -> correction); TypeError when both spellings are given."""
    renames = {"dim": "axis", "keepdim": "keepdims", **(extra or {})}
    out = dict(kwargs)
    for torch_name, name in renames.items():
        if torch_name in out:
            if name in out:
                raise TypeError(f"{op}() got both '{torch_name}' (PyTorch's name) and '{name}' "
                                "(minigrad's); give one")
            out[name] = out.pop(torch_name)
    if "correction" in out and "unbiased" in renames and isinstance(out["correction"], bool):
        out["correction"] = int(out["correction"])  # unbiased=True is correction=1
    return out


def accepts_dim(fn, extra: dict | None = None):
    """``fn`` (an op taking ``axis``/``keepdims``) that also takes ``dim``/``keepdim``.

    Positional arguments pass through unchanged (PyTorch's order is the same); only calls with
    keywords pay for the renaming."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            kwargs = torch_names(fn.__name__, kwargs, extra)
        return fn(*args, **kwargs)

    return wrapper


def _keep(op: str, keepdim, keepdims) -> bool:
    if keepdim is not None and keepdims is not None:
        raise TypeError(f"{op}() got both 'keepdim' (PyTorch's name) and 'keepdims' "
                        "(minigrad's); give one")
    return bool(keepdim if keepdim is not None else keepdims)


# -- max / min with dim: PyTorch's (values, indices) --------------------------------------------

class ValuesIndices(NamedTuple):
    """What ``max(dim)``/``min(dim)`` return, as PyTorch's ``torch.return_types.max``."""

    values: Tensor
    indices: Tensor


def _arg(x: Tensor, dim, keepdim: bool, op: str):
    """(the index array of the extremum along dim, dim counted from the front or None)."""
    xp = x.device.xp
    find = xp.argmax if op.endswith("max") else xp.argmin
    if dim is None:
        if math.prod(x.data.shape) == 0:
            raise RuntimeError(f"{op}: the tensor of shape {x.shape} has no elements")
        index = find(xp.reshape(x.data, (-1,)))
        return (xp.reshape(index, (1,) * x.ndim) if keepdim else index), None
    if isinstance(dim, tuple | list):
        hint = "" if op.startswith("arg") else "; for the values over several axes use axis=..."
        raise TypeError(f"{op}: dim must be one int, got {dim!r}{hint}")
    if x.ndim == 0:  # PyTorch: a 0-d tensor has "dim 0", the tensor itself
        shape._axis(dim, 1, op)
        return xp.zeros((), dtype=xp.int64, device=x.device.native), None
    d = shape._axis(dim, x.ndim, op)
    if x.shape[d] == 0:
        raise IndexError(f"{op}: cannot reduce dim {d} of length 0 (shape {x.shape})")
    return find(x.data, axis=d, keepdims=keepdim), d


def _with_indices(x: Tensor, dim, keepdim: bool, op: str) -> ValuesIndices:
    """PyTorch's max/min along one dim. As in PyTorch, the gradient of the values goes to the
    one element each index names (ties are not split, unlike ``x.max()`` over everything)."""
    index, d = _arg(x, dim, keepdim, op)
    indices = _leaf(index, x.device)
    if d is None:  # a 0-d tensor
        return ValuesIndices(shape.reshape(x, ()), indices)
    xp = x.device.xp
    picked = index if keepdim else xp.expand_dims(index, axis=d)
    n = x.shape[d]
    positions = xp.reshape(xp.arange(n, device=x.device.native),
                           tuple(n if i == d else 1 for i in range(x.ndim)))
    hit = positions == picked  # one True along dim per kept position
    kept = picked.shape
    full = x.data.shape

    def take(a):
        values = xp.take_along_axis(a, picked, axis=d)
        return values if keepdim else xp.squeeze(values, axis=d)

    def scatter(g):  # the adjoint: g written back where the indices point
        g = xp.broadcast_to(xp.reshape(g, kept), full)
        return xp.where(hit, g, xp.zeros_like(g))

    return ValuesIndices(_linear(x, take, scatter, op), indices)


def _extremum(raw, elementwise, op: str):
    def f(x, dim=None, keepdim=None, *, axis=None, keepdims=None, out=None):
        if out is not None:
            raise TypeError(f"{op}: out= is not supported; use the returned tensor")
        if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
            return elementwise(x, dim)
        keep = _keep(op, keepdim, keepdims)
        if dim is None:  # all elements, or the array API's axis=: the values only
            return raw(x, axis, keep)
        if axis is not None:
            raise TypeError(f"{op}() got both 'dim' (PyTorch's name) and 'axis' (minigrad's); "
                            "give one")
        if not isinstance(x, Tensor):
            raise _not_a_tensor(op, "x", x)
        return _with_indices(x, dim, keep, op)

    f.__name__ = f.__qualname__ = op
    f.__doc__ = (f"The {op}imum: of all elements (``x.{op}()``), over ``axis`` (the array API's "
                 f"spelling: values only), or along\n    one ``dim`` (PyTorch's: a "
                 f"``(values, indices)`` pair, the gradient going to the indexed element).\n"
                 f"    ``x.{op}(other_tensor)`` is the elementwise {op}imum.")
    return f


max = _extremum(reduce.max, maximum, "max")
min = _extremum(reduce.min, minimum, "min")


def _argfn(op: str):
    def f(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
        if not isinstance(x, Tensor):
            raise _not_a_tensor(op, "x", x)
        if dim is not None and axis is not None:
            raise TypeError(f"{op}() got both 'dim' (PyTorch's name) and 'axis' (minigrad's); "
                            "give one")
        index, _ = _arg(x, dim if axis is None else axis, _keep(op, keepdim, keepdims), op)
        return _leaf(index, x.device)

    f.__name__ = f.__qualname__ = op
    f.__doc__ = (f"The int64 index of the {op[3:]}imum along ``dim`` (of the flattened tensor "
                 "when None), the first one among ties, as PyTorch.")
    return f


argmax = _argfn("argmax")
argmin = _argfn("argmin")

# Ops that take axis/keepdims, with PyTorch's names accepted too (installed as methods and
# as minigrad.<name>).
sum = accepts_dim(reduce.sum)
mean = accepts_dim(reduce.mean)
var = accepts_dim(reduce.var, {"unbiased": "correction"})
std = accepts_dim(reduce.std, {"unbiased": "correction"})
logsumexp = accepts_dim(reduce.logsumexp)
softmax = accepts_dim(reduce.softmax)
log_softmax = accepts_dim(reduce.log_softmax)
concat = accepts_dim(shape.concat)
stack = accepts_dim(shape.stack)
squeeze = accepts_dim(shape.squeeze)
unsqueeze = accepts_dim(shape.unsqueeze)
split = accepts_dim(shape.split)


def cat(tensors, dim=None, *, axis=None) -> Tensor:
    """PyTorch's name for ``concat``."""
    if dim is not None and axis is not None:
        raise TypeError("cat() got both 'dim' (PyTorch's name) and 'axis' (minigrad's); give one")
    return shape.concat(tensors, (axis or 0) if dim is None else dim)


# -- Tensor methods PyTorch has -----------------------------------------------------------------

def numel(x: Tensor) -> int:
    """The number of elements."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("numel", "x", x)
    return math.prod(x.data.shape)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of ceil(n / chunks) along ``dim`` (fewer when they run
    out), as torch.chunk."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("chunk", "x", x)
    if not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"chunk: expected chunks to be an int >= 1, got {chunks!r}")
    if x.ndim == 0:
        raise ValueError("chunk: a 0-d tensor has no dim to split")
    n = x.shape[shape._axis(dim, x.ndim, "chunk")]
    if n == 0:  # PyTorch gives `chunks` empty pieces
        return tuple(shape.split(x, [0] * chunks, dim))
    return tuple(shape.split(x, -(-n // chunks), dim))


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, that dim removed."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("unbind", "x", x)
    d = shape._axis(dim, x.ndim, "unbind")
    lead = (slice(None),) * d
    return tuple(shape.getitem(x, lead + (i,)) for i in range(x.shape[d]))


def flip(x: Tensor, *dims) -> Tensor:
    """Tensor.flip: ``x.flip(0, 1)`` as well as ``x.flip((0, 1))`` (``shape_more.flip``)."""
    return shape_more.flip(x, dims[0] if len(dims) == 1 else dims)


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """x with ``value`` where the bool ``mask`` (broadcast to x) is True, in x's dtype.
    dx = g where mask is False"""
    if not isinstance(x, Tensor):
        raise _not_a_tensor("masked_fill", "x", x)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: expected a number or a 0-d tensor as the value, "
                             f"got shape {value.shape}")
        value = value.to(x.device, x.dtype)
    else:
        value = _leaf(x.device.xp.asarray(value, dtype=x.data.dtype, device=x.device.native),
                      x.device)
    return where(mask, value, x)


def clone(x: Tensor) -> Tensor:
    """A copy with its own memory, in the graph (dx = g)."""
    xp = x.device.xp
    return _from_op(xp.asarray(x.data, copy=True), (x,), lambda ctx, g: (g,))


def size(x: Tensor, dim=None):
    """The shape (``x.size()``, a tuple where PyTorch has torch.Size), or the length of one
    dim (``x.size(1)``). The number of elements is ``numel()``."""
    if dim is None:
        return tuple(x.data.shape)
    return x.data.shape[shape._axis(dim, x.ndim, "size")]


def view(x: Tensor, *shape_):
    """``reshape`` (minigrad arrays reshape without a copy whenever they can; no error for
    non-contiguous memory). ``view(dtype)`` reinterpreting bits is not supported."""
    if len(shape_) == 1 and not isinstance(shape_[0], int | tuple | list):
        raise TypeError(f"view({shape_[0]!r}): reinterpreting the bits as another dtype is not "
                        "supported; use .to(dtype) to convert the values")
    return shape.reshape(x, *shape_)


def t(x: Tensor) -> Tensor:
    """The transpose of a matrix; 0-d and 1-d tensors as they are (PyTorch's ``t()``)."""
    if x.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dims, got {x.ndim}; use "
                         "transpose(dim0, dim1) or permute")
    return x if x.ndim < 2 else shape.transpose(x, 0, 1)


def _new(name: str, fill):
    def f(x: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        dev = x.device if device is None else _device(device)
        dt = x.dtype if dtype is None else np.dtype(dtype)
        out = _leaf(dev.xp.full(_sizes(size, name), fill, dtype=dev.xp_dtype(dt),
                                device=dev.native), dev)
        return out.requires_grad_(True) if requires_grad else out

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"A tensor of the given size filled with {fill}, with x's dtype and device "
                 f"unless given (``x.{name}(2, 3)`` or ``x.{name}((2, 3))``).")
    return f


new_zeros = _new("new_zeros", 0)
new_ones = _new("new_ones", 1)
new_empty = _new("new_empty", 0)  # (zeros: PyTorch's would be uninitialised)


def new_full(x: Tensor, size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``, with x's dtype and device by default."""
    dev = x.device if device is None else _device(device)
    dt = x.dtype if dtype is None else np.dtype(dtype)
    size = _sizes((size,) if isinstance(size, int) else tuple(size), "new_full")
    out = _leaf(dev.xp.full(size, fill_value, dtype=dev.xp_dtype(dt), device=dev.native), dev)
    return out.requires_grad_(True) if requires_grad else out


def new_tensor(x: Tensor, data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``data`` (copied), with x's dtype and device by default."""
    return Tensor(data, dtype=x.dtype if dtype is None else dtype,
                  device=x.device if device is None else device, requires_grad=requires_grad)


def _cast(name: str, dtype):
    def f(x: Tensor) -> Tensor:
        return x.to(dtype=dtype)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"x cast to {np.dtype(dtype)} (x itself when it is already)."
    return f


def cuda(x: Tensor, device=None) -> Tensor:
    """A copy on the GPU (``cuda:index``; the first one by default)."""
    if isinstance(device, int):
        device = f"cuda:{device}"
    return x.to("cuda" if device is None else device)


def detach_(x: Tensor) -> Tensor:
    """Cut x from the graph, in place: it becomes a leaf that does not require grad."""
    x.grad_fn = None
    x.requires_grad = False
    return x


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """x reshaped to other's shape."""
    return shape.reshape(x, other.shape)


def reshape_as(x: Tensor, other: Tensor) -> Tensor:
    """x reshaped to other's shape."""
    return shape.reshape(x, other.shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """x broadcast to other's shape."""
    return shape.expand(x, other.shape)


def type_as(x: Tensor, other: Tensor) -> Tensor:
    """x cast to other's dtype."""
    return x.to(dtype=other.dtype)


def contiguous(x: Tensor) -> Tensor:
    """x itself: minigrad's arrays have no strides for it to fix."""
    return x


def dim(x: Tensor) -> int:
    """The number of dimensions (``ndim``)."""
    return x.data.ndim


def element_size(x: Tensor) -> int:
    """Bytes per element."""
    return x.dtype.itemsize


def is_floating_point(x: Tensor) -> bool:
    return x.dtype.kind == "f"


# name -> function, installed on Tensor by ops/__init__.py
METHODS = {
    "max": max, "min": min, "argmax": argmax, "argmin": argmin, "sum": sum, "mean": mean,
    "var": var, "std": std, "logsumexp": logsumexp, "softmax": softmax,
    "log_softmax": log_softmax, "squeeze": squeeze, "unsqueeze": unsqueeze, "split": split,
    "chunk": chunk, "unbind": unbind, "flip": flip,
    "masked_fill": masked_fill, "clone": clone, "numel": numel, "size": size, "view": view,
    "t": t, "cuda": cuda, "detach_": detach_,
    "view_as": view_as, "reshape_as": reshape_as, "expand_as": expand_as, "type_as": type_as,
    "contiguous": contiguous, "dim": dim, "element_size": element_size,
    "is_floating_point": is_floating_point,
    "pow": power,  # x.pow(2), as x ** 2 (PyTorch code writes both)
    "long": _cast("long", int64), "int": _cast("int", int32), "bool": _cast("bool", bool_),
    "half": _cast("half", float16),
    "new_zeros": new_zeros, "new_ones": new_ones, "new_empty": new_empty,
    "new_full": new_full, "new_tensor": new_tensor,
}
