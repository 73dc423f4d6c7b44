"""The Tensor: an array on a device, plus what autograd needs to differentiate through it.

A tensor made by the user is a *leaf*. A tensor made by a differentiable op (see ``ops/``)
also keeps a ``grad_fn``: the op's inputs and its backward; ``backward()`` walks these links
(``autograd.py``). Python operators (``+``, ``@``, ``x[i]`` ...) and methods such as ``x.sum()``
are attached to the class in ``ops/__init__.py``, next to the ops they call.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from minigrad import autograd
from minigrad.backend import Device, DeviceError, device_of, float32, int64, to_numpy, transfer
from minigrad.backend import bool_ as _bool
from minigrad.backend import device as _device

__all__ = ["Tensor", "DeviceError"]

_SCALARS = (int, float, bool)


class Tensor:
    """An n-dimensional array on a device that can record how it was computed.

    Attributes:
        data:  the backend array (NumPy on "cpu", CuPy on "cuda:N").
        grad:  a Tensor of ``data``'s shape on the same device after ``backward()``, else None.
               Later backward passes add to it; ``grad.zero_()`` or ``grad = None`` resets it.
        requires_grad: whether gradients flow into this tensor.
        grad_fn: the ``autograd.Node`` of the op that made this tensor (None for leaves).
        device: the Device holding ``data``.
    """

    __slots__ = ("data", "_grad", "requires_grad", "device", "grad_fn", "_version_counter",
                 "__weakref__")

    # Make NumPy defer to our reflected operators (np_array * tensor -> Tensor.__rmul__).
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        array, dev = _as_array(data, dtype, device)
        self.data = array
        self.device = dev
        self._grad = None
        self.grad_fn = None
        self._version_counter = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- description ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The dtype as a NumPy dtype (``minigrad.float32`` ...), whatever the backend."""
        return self.device.canonical(self.data.dtype)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (they receive ``.grad``)."""
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad must be a Tensor or None, got {type(value).__name__}")
            if value.device is not self.device:
                raise DeviceError(f"grad on {value.device} for a tensor on {self.device}")
            if value.shape != self.shape:
                raise ValueError(f"grad of shape {value.shape} for a tensor of shape "
                                 f"{self.shape}")
        self._grad = value

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with its views)."""
        return self._version_counter[0]

    def _bump_version(self) -> None:
        """Record an in-place change of ``data`` (ops that saved this tensor then refuse to
        differentiate with the new values)."""
        self._version_counter[0] += 1

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(to_numpy(self.data), separator=", ", precision=4,
                               threshold=64, prefix="tensor(")
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype != float32:
            extras.append(f"dtype={self.dtype}")
        if self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # -- host access --------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array on the host (shares memory on the CPU)."""
        return to_numpy(self.data)

    def item(self):
        """The single value as a Python number (a device-to-host copy on GPUs)."""
        if math.prod(self.data.shape) != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return to_numpy(self.data).reshape(()).item()

    def tolist(self):
        return to_numpy(self.data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        if self.device.type != "cpu":
            raise TypeError(f"a tensor on {self.device} cannot become a NumPy array implicitly; "
                            "call .numpy() to copy it to the host")
        return np.asarray(self.data, dtype=dtype)

    # -- autograd -----------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Turn gradient tracking on or off for a leaf, in place."""
        if not self.is_leaf:
            raise RuntimeError("requires_grad_() changes leaves only; use detach() on the "
                               "result of an op to cut it from the graph")
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.grad_fn is not None:  # (a leaf keeps its gradient anyway)
            self.grad_fn._retained = weakref.ref(self)
        return self

    def detach(self) -> Tensor:
        """The same values (shared memory, shared version counter) as a new leaf outside the
        graph."""
        t = _leaf(self.data, self.device)
        t._version_counter = self._version_counter
        return t

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf (see
        ``minigrad.autograd.backward``).

        gradient: d(objective)/d(self) as a Tensor, required unless self has one element.
        retain_graph: keep the graph for another backward (default: create_graph).
        create_graph: record the backward pass, for gradients of gradients.
        inputs: accumulate only into these tensors.
        """
        autograd.backward(self, None if gradient is None else (gradient,), retain_graph,
                          create_graph, inputs)

    # -- moving and casting -------------------------------------------------------------------
    def to(self, device=None, dtype=None) -> Tensor:
        """A copy on ``device`` and/or in ``dtype`` (self when nothing changes), as PyTorch's:
        ``x.to("cuda")``, ``x.to(dtype=minigrad.float64)``, ``x.to(minigrad.float64)``,
        ``x.to("cpu", minigrad.float64)``, or ``x.to(other)`` (other's device and dtype).

        Differentiable between floating dtypes (the gradient is moved and cast back); a cast
        to an integer or bool dtype gives a tensor outside the graph (requires_grad False: no
        gradient flows through rounding), as in PyTorch.
        """
        if isinstance(device, Tensor):
            device, dtype = device.device, device.dtype if dtype is None else dtype
        elif dtype is None and (isinstance(device, np.dtype) or (
                isinstance(device, type) and issubclass(device, np.generic))):
            device, dtype = None, device
        target = self.device if device is None else _device(device)
        src = self.device
        if dtype is not None:
            dtype = np.dtype(dtype)
        if target is src and (dtype is None or dtype == self.dtype):
            return self
        old_dtype = self.dtype
        data = self.data
        if target is not src:
            data = transfer(data, target)
        if dtype is not None and dtype != old_dtype:
            data = target.xp.astype(data, target.xp_dtype(dtype))
        if target.canonical(data.dtype).kind != "f":
            return _leaf(data, target)

        def to(ctx, g):  # d to(x) = identity, moved and cast back
            if isinstance(g, Tensor):
                return (g.to(src, old_dtype),)
            return (src.xp.astype(transfer(g, src), src.xp_dtype(old_dtype)),)

        return _from_op(data, (self,), to, device=target)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def float(self) -> Tensor:
        return self.to(dtype=float32)

    def double(self) -> Tensor:
        return self.to(dtype="float64")

    def astype(self, dtype) -> Tensor:
        return self.to(dtype=dtype)


# -- building blocks for ops ------------------------------------------------------------------

def _leaf(data, device: Device) -> Tensor:
    """A tensor around an existing backend array, without checks (for library internals)."""
    t = Tensor.__new__(Tensor)
    t.data = data
    t.device = device
    t._grad = None
    t.requires_grad = False
    t.grad_fn = None
    t._version_counter = [0]
    return t


def _from_op(data, parents: tuple, backward, saved: tuple = (), device: Device | None = None,
             view_of: Tensor | None = None) -> Tensor:
    """The output of a differentiable op: records the graph when some parent needs a grad.

    data: the op's output array; parents: the input tensors; backward: a function
    (ctx, g) -> one gradient (or None) per parent, reading ``ctx.saved`` (see autograd.py);
    saved: the tensors whose values the backward reads (parents, other tensors, or
    autograd.OUTPUT for the output itself), checked for in-place changes;
    view_of: the input whose memory ``data`` shares (reshape, slicing ...): the two then count
    in-place changes together.
    """
    t = _leaf(data, parents[0].device if device is None else device)
    if view_of is not None:
        t._version_counter = view_of._version_counter
    if autograd._grad_enabled:
        for parent in parents:
            if parent.requires_grad:
                t.requires_grad = True
                t.grad_fn = autograd.Node(backward, parents, saved, t)
                break
    return t


def _linear(x: Tensor, f, f_adjoint, name: str, view: bool = False, data=None) -> Tensor:
    """A linear op y = f(x) given as two array functions: f and its adjoint f^T (reshape and
    reshape back, slicing and scattering back, im2col and col2im ...).

    Its backward is dx = f^T(g). With create_graph that backward is itself a linear op, the
    pair (f^T, f), whose backward is f again: a linear op differentiates to any order with no
    formula beyond the pair. view: y shares x's memory (they count in-place changes together).
    data: y's values when they differ from f(x) only where f^T ignores them (pooling's -inf
    padding); None: f(x).
    """
    def backward(ctx, g):
        if isinstance(g, Tensor):
            return (_linear(g, f_adjoint, f, name),)
        return (f_adjoint(g),)

    backward.__qualname__ = name + ".backward"
    return _from_op(f(x.data) if data is None else data, (x,), backward,
                    view_of=x if view else None)


_scalar_leaves: dict = {}


def _scalar_leaf(value, device: Device) -> Tensor:
    """A Python number as a constant leaf (its data the number itself), made once per
    (type, value, device) and reused: ``x * 0.9`` in a loop then makes no new object. Safe to
    share: nothing can change it (it requires no grad, and no in-place op reaches it).
    The cache stops growing at 4096 entries (say a varying learning rate as the number)."""
    if type(value) is float and (value == 0 or value != value):
        return _leaf(value, device)  # -0.0 == 0.0 as a key, and nan != nan: not cached
    key = (type(value), value, id(device))  # devices are interned: id is their identity
    leaf = _scalar_leaves.get(key)
    if leaf is None:
        leaf = _leaf(value, device)
        if len(_scalar_leaves) < 4096:
            _scalar_leaves[key] = leaf
    return leaf


_float_leaves: dict = {}  # id(leaf) -> the Python float it stands for (leaves are kept)


def _float_leaf(value: float, like: Tensor) -> Tensor:
    """The Python float beside the floating tensor ``like`` in ``like * 0.9``, as a constant
    leaf holding ``like.device.constant(value, dtype)``: the same result as the float, sooner
    (see ``Device.constant``). Made once per (value, dtype, device) as ``_scalar_leaf``; NaN,
    zeros, and every number once the cache is full stay Python numbers."""
    if value == 0 or value != value:
        return _leaf(value, like.device)
    dtype = like.data.dtype
    key = (float, value, id(like.device), dtype)
    leaf = _scalar_leaves.get(key)
    if leaf is None:
        if len(_scalar_leaves) >= 4096:  # the cache is full: the number itself, as before it
            return _leaf(value, like.device)
        leaf = _scalar_leaves[key] = _leaf(like.device.constant(value, dtype), like.device)
        _float_leaves[id(leaf)] = value
    return leaf


def lifted_number(t: Tensor):
    """The Python number that an op lifted to the constant leaf ``t`` (the 2 in x * 2), or
    None when t is not one (for ``viz``, which labels such leaves with their value)."""
    if not hasattr(t.data, "shape"):
        return t.data
    return _float_leaves.get(id(t))


def _lift(value, like: Tensor, op: str) -> Tensor:
    """The other operand of a binary op as a Tensor on ``like``'s device.

    Python scalars stay Python scalars inside (so float32 * 2.0 stays float32, as the array
    API's weak scalar promotion says); lists and arrays on ``like``'s device (host lists and
    NumPy arrays: the CPU) become tensors there; tensors and arrays on another device are
    refused, not moved; anything else (None, a string, another library's tensor) is a
    TypeError naming it.
    """
    if isinstance(value, Tensor):
        if value.device is not like.device:
            raise DeviceError(f"{op}: expected both operands on one device, got "
                              f"{like.device} and {value.device}; move one with .to(...)")
        return value
    if isinstance(value, np.generic):  # NumPy scalars (np.sqrt(2)) act as Python numbers
        value = value.item()
    if isinstance(value, _SCALARS):
        return _scalar_leaf(value, like.device)
    # Only what is left, the rare case, pays for the checks below.
    cls = type(value)
    name = (cls.__qualname__ if cls.__module__ == "builtins"
            else f"{cls.__module__.split('.')[0]}.{cls.__qualname__}")
    if isinstance(value, list | tuple):
        source = _device("cpu")
    else:
        try:
            source = device_of(value)
        except TypeError:
            raise TypeError(f"{op}: expected a Tensor or a number as the other operand, got "
                            f"{name}") from None
    if source is not like.device:
        where = f"a host {name}" if source.type == "cpu" else f"an array on {source}"
        raise DeviceError(f"{op}: cannot combine a tensor on {like.device} with {where}; make "
                          "it a tensor on that device first")
    return Tensor(value, device=like.device)


def _is_array_of(value, dev: Device) -> bool:
    try:
        return device_of(value) is dev
    except TypeError:
        return False


def _as_array(data, dtype, device):
    """(backend array, Device) for Tensor(data, dtype, device).

    Floats default to float32 (Python numbers and lists); arrays keep their dtype unless one
    is given; integers become int64. The data is always copied, never aliased. Values must be
    bools, integers or floats (no strings, objects or complex numbers), and nested lists
    rectangular: anything else is refused with the reason.
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.generic):  # a NumPy scalar is a 0-d array: it keeps its dtype
        data = np.asarray(data)
    if dtype is not None and np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"cannot make a tensor of dtype {np.dtype(dtype)}; minigrad holds "
                        "bool, integer and floating-point tensors")
    if isinstance(data, _SCALARS) or isinstance(data, list | tuple):
        try:
            host = np.asarray(data)
        except ValueError as err:  # NumPy: "... inhomogeneous shape after 1 dimensions ..."
            raise ValueError(f"cannot make a tensor from a ragged nested {type(data).__name__}: "
                             f"every row must have the same length ({err})") from None
        if host.dtype.kind not in "biuf":
            raise TypeError(f"cannot make a tensor from this {type(data).__name__}: NumPy reads "
                            f"its values as {host.dtype} (values that are not bools or real "
                            "numbers, or integers beyond 64 bits); expected numbers")
        if dtype is None:
            dtype = float32 if host.dtype.kind == "f" else (
                _bool if host.dtype.kind == "b" else int64)
        dev = _device(device)
        return dev.from_numpy(host, dtype), dev
    try:
        source = device_of(data)
    except TypeError:
        cls = type(data)
        name = (cls.__qualname__ if cls.__module__ == "builtins"
                else f"{cls.__module__.split('.')[0]}.{cls.__qualname__}")
        raise TypeError(f"cannot make a tensor from {name}; expected a number, a (nested) "
                        "list, or a NumPy/CuPy array") from None
    try:
        kind = source.canonical(data.dtype).kind
    except KeyError:  # an array_api_strict dtype minigrad has no name for (complex)
        kind = "c"
    if kind not in "biuf":
        raise TypeError(f"cannot make a tensor from an array of dtype {data.dtype}; minigrad "
                        "holds bool, integer and floating-point tensors")
    dev = source if device is None else _device(device)
    original = data
    if dev is not source:
        data = transfer(data, dev)
    if dtype is not None and dev.canonical(data.dtype) != np.dtype(dtype):
        data = dev.xp.astype(data, dev.xp_dtype(dtype))
    elif data is original:
        # Copy, as torch.tensor does: an optimizer updating the tensor in place must not
        # change the caller's array behind its back.
        data = dev.xp.asarray(data, copy=True)
    return data, dev
