"""Modules: objects that hold parameters and buffers and compute a forward pass.

A ``Module`` registers every ``Parameter``, buffer and sub-module assigned to one of its
attributes (``self.weight = Parameter(...)``, ``self.encoder = Sequential(...)``), so that
``parameters()``, ``state_dict()``, ``to(device)`` and ``train()``/``eval()`` reach all of them
through the tree. Names are dotted paths through that tree, e.g. "encoder.0.weight".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import NamedTuple, Self

import numpy as np

from minigrad.backend import device as _device
from minigrad.backend import device_of, float16, float32, float64, transfer
from minigrad.tensor import Tensor

__all__ = ["Module", "Parameter", "Sequential", "ModuleList"]


class Parameter(Tensor):
    """A Tensor that a Module treats as trainable: a leaf with requires_grad=True.

    ``Parameter(data)`` copies ``data`` (a Tensor or an array), as every Tensor constructor does.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclasses set attributes in ``__init__`` (after
    calling ``super().__init__()``) and define ``forward``; ``module(x)`` calls ``forward``."""

    # Names of this module's buffers that load_state_dict may find missing (added after
    # checkpoints were written without them): a subclass lists them.
    _optional_state: tuple[str, ...] = ()

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these three dicts to exist already.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- registration -----------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__(): call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        if isinstance(value, Parameter):
            self._unregister(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._unregister(name, keep=self._modules)
            self._modules[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter "
                                f"{name!r}: expected a Parameter or None")
            self._parameters[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r}: "
                                "expected a Tensor or None")
            self._buffers[name] = value
        elif name in self._modules and value is None:
            self._modules[name] = None
        else:
            self._unregister(name)
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Called only when normal lookup fails, i.e. for registered entries.
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if not self._unregister(name):
            object.__delattr__(self, name)

    def _unregister(self, name: str, keep: dict | None = None) -> bool:
        """Remove ``name`` from every table but ``keep`` (the one about to be written: an
        entry replaced there keeps its place in the order, as in PyTorch) and from the
        instance's plain attributes; True if some table held it."""
        self.__dict__.get("_non_persistent", set()).discard(name)
        found = False
        for table in (self._parameters, self._buffers, self._modules):
            if name in table and table is not keep:
                del table[name]
                found = True
        if name in self.__dict__:
            object.__delattr__(self, name)
        return found

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (None leaves the slot empty, like a layer without bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got "
                            f"{type(param).__name__}")
        self._unregister(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is state but not trained (e.g. BatchNorm's running mean):
        it moves with ``to()`` and is saved in ``state_dict()`` (unless ``persistent=False``),
        but is not in parameters()."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._unregister(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:  # (the set is made by the first module that needs one)
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got "
                            f"{type(module).__name__}")
        self._unregister(name, keep=self._modules)
        self._modules[name] = module

    # -- walking the tree ------------------------------------------------------------------
    def named_modules(self, prefix: str = "", _seen=None) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every descendant, each once."""
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, seen)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_entries(self, table: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, t in getattr(module, table).items():
                if t is not None and id(t) not in seen:  # shared tensors are listed once
                    seen.add(id(t))
                    yield (f"{prefix}.{name}" if prefix else name), t

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, e.g. ("encoder.0.weight", ...)."""
        return self._named_entries("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse):
            yield p

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_entries("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse):
            yield b

    def apply(self, fn) -> Module:
        """Call fn(module) on every descendant and then on self (e.g. a custom init)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes, gradients, devices ---------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm on batch statistics) everywhere."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode everywhere: ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget all parameter gradients: set them to None (PyTorch 2's default), or with
        ``set_to_none=False`` fill them with zeros in place."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_().zero_()

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze all parameters."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, device=None, dtype=None) -> Module:
        """Move (and/or cast, floating-point only) every parameter and buffer in place; the
        Parameter objects stay the same, so an optimizer built before still holds them."""
        if dtype is not None and np.dtype(dtype).kind != "f":
            raise TypeError(f"a module can only be cast to a floating-point dtype, got "
                            f"{np.dtype(dtype)} (parameters must be able to carry gradients)")
        target = None if device is None else _device(device)
        for t in [*self.parameters(), *self.buffers()]:
            cast = dtype if dtype is not None and t.dtype.kind == "f" else None
            t.data = _converted(t.data, t.device, target, cast)
            if t.grad is not None:
                t.grad.data = _converted(t.grad.data, t.device, target, cast)
                if target is not None:
                    t.grad.device = target
            if target is not None:
                t.device = target
        return self

    def half(self) -> Module:
        """Cast the floating-point parameters and buffers to float16, in place."""
        return self.to(dtype=float16)

    def float(self) -> Module:
        """Cast the floating-point parameters and buffers to float32, in place."""
        return self.to(dtype=float32)

    def double(self) -> Module:
        """Cast the floating-point parameters and buffers to float64, in place."""
        return self.to(dtype=float64)

    # -- saving and loading ----------------------------------------------------------------
    def _state_entries(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Parameters then persistent buffers of this module, then those of each child."""
        skip = self.__dict__.get("_non_persistent", ())
        for table in (self._parameters, self._buffers):
            for name, t in table.items():
                if t is not None and name not in skip:
                    yield prefix + name, t
        for name, child in self.named_children():
            yield from child._state_entries(f"{prefix}{name}.")

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """{dotted name: tensor} for all parameters and buffers. The tensors share memory with
        the module (as in PyTorch): copy them (e.g. ``t.numpy().copy()``) for a snapshot."""
        return OrderedDict((name, t.detach()) for name, t in self._state_entries())

    def load_state_dict(self, state, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state`` ({name: Tensor or array}) into the parameters and buffers,
        onto their device and dtype. strict=True: missing and unexpected names are errors
        (except a module's ``_optional_state``, names older checkpoints lack, such as
        BatchNorm's num_batches_tracked: those keep their value).
        A shape mismatch, or a value that is not numbers (a string, Python objects), is
        always an error. Every value is converted before the first is assigned, so on any
        error (RuntimeError listing each problem by name) nothing has changed."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict expects a dict {{name: tensor}}, got "
                            f"{type(state).__name__}")
        own = dict(self._state_entries())
        optional = {f"{prefix}.{key}" if prefix else key
                    for prefix, module in self.named_modules() for key in module._optional_state}
        missing = [k for k in own if k not in state and k not in optional]
        unexpected = [k for k in state if k not in own]
        problems = []
        if strict and missing:
            problems.append("missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            problems.append("unexpected key(s) in state_dict: "
                            + ", ".join(map(repr, unexpected)))
        values = {}
        for name, target in own.items():
            if name in state:
                try:
                    values[name] = _converted_value(state[name], target, name)
                except (TypeError, ValueError) as err:
                    problems.append(str(err))
        if problems:
            raise RuntimeError(f"error(s) loading state_dict into {type(self).__name__}:\n  "
                               + "\n  ".join(problems))
        for name, array in values.items():
            own[name].data[...] = array
        return IncompatibleKeys(missing, unexpected)

    # -- printing --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its parentheses in repr()."""
        return ""

    def __repr__(self) -> str:
        lines = self.extra_repr().split("\n") if self.extra_repr() else []
        for name, child in self._modules.items():
            lines.append(f"({name}): " + repr(child).replace("\n", "\n  "))
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


def _array_and_device(value):
    """(array, Device) for a NumPy/CuPy/array_api_strict array or anything np.asarray takes."""
    try:
        return value, device_of(value)
    except TypeError:
        return np.asarray(value), _device("cpu")


def _converted_value(value, target: Tensor, name: str):
    """``value`` (a Tensor, an array, a nested list of numbers) as an array on target's device
    in its dtype; ValueError or TypeError naming ``name`` when it is not numbers of target's
    shape."""
    if isinstance(value, Tensor):
        array, source = value.data, value.device
    else:
        try:
            array, source = _array_and_device(value)
        except (TypeError, ValueError) as err:  # e.g. a ragged list
            raise ValueError(f"cannot convert {name!r}: a {type(value).__name__} that is not "
                             f"an array ({err})") from None
    dtype = source.canonical(array.dtype)
    if dtype.kind not in "biuf":  # strings, Python objects, complex numbers, dates...
        what = type(value).__name__ if isinstance(value, str) else f"an array of {dtype}"
        raise TypeError(f"cannot convert {name!r}: expected a tensor or array of numbers, got "
                        f"{what}")
    if tuple(array.shape) != target.shape:
        raise ValueError(f"size mismatch for {name!r}: the state has shape "
                         f"{tuple(array.shape)}, the module has {target.shape}")
    return _converted(array, source, target.device, target.dtype)


def _converted(array, source, target, dtype):
    """``array`` (living on ``source``) moved to ``target`` (None: stay) and cast to ``dtype``
    (None: keep)."""
    if target is not None and target is not source:
        array = transfer(array, target)
        source = target
    if dtype is not None:
        array = source.xp.astype(array, source.xp_dtype(dtype))
    return array


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: children kept in order, named "0", "1", ..."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Self:
        self.add_module(str(len(self)), module)
        return self

    def __setitem__(self, index: int, module: Module) -> None:
        """Replace the child at position ``index`` (negative: from the end), in its place."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}[{index!r}] = ...: expected a Module, got "
                            f"{type(module).__name__}")
        names = list(self._modules)
        if not isinstance(index, int) or not -len(names) <= index < len(names):
            raise IndexError(f"{type(self).__name__} index {index!r} is out of range for "
                             f"{len(names)} modules")
        self.add_module(names[index], module)


class Sequential(_ModuleSequence):
    """Modules applied one after the other: ``Sequential(Linear(2, 8), ReLU(), Linear(8, 1))``
    (children named "0", "1", ...) or ``Sequential(OrderedDict(name=module, ...))``.
    Indexing gives a module (an int) or a Sequential (a slice)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def __getitem__(self, index):
        values = list(self._modules.values())
        return ModuleList(values[index]) if isinstance(index, slice) else values[index]

    def extend(self, modules) -> ModuleList:
        for module in modules:
            self.append(module)
        return self
