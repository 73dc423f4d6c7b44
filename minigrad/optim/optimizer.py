"""The Optimizer base class: parameter groups, the update loop, and saving/restoring state.

An optimizer holds ``param_groups``: a list of dicts, each with a ``"params"`` list of leaf
tensors and that group's hyperparameters ("lr", "weight_decay", ...). Per-parameter buffers
(momentum, running averages, step counts) live in ``state[p]``, created at the first step on
the parameter's device. Subclasses write only ``_update``: how one parameter moves given its
gradient; the arithmetic runs on the device, in place on ``p.data``.

Checks: every hyperparameter is checked when a group is added or loaded (a NaN, a negative
rate, a string: ValueError or TypeError in PyTorch's words). ``step()`` checks every gradient
before it changes anything, and moves state buffers that live on another device or in another
dtype than their parameter (after ``model.to(...)``) to the parameter's, as PyTorch's
``load_state_dict`` does, so training simply continues where the parameters went.

Speed: an update is a handful of passes over memory, so the updates modify buffers in place
and make as few passes and parameter-sized temporaries as they can (Adam: 12 passes, at most
two temporaries alive). Temporaries matter more than they look: with several alive, the C
allocator tends to return their memory to the OS and page-fault it back at every step, which
once made Adam 4x slower on NumPy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from minigrad.autograd import enable_grad
from minigrad.backend import DeviceError, device_of, transfer
from minigrad.tensor import Tensor, _leaf

__all__ = ["Optimizer"]


def real_option(group: dict, name: str) -> float:
    """``group[name]`` as a float: a Python or NumPy real number (a bool, a string, a tensor
    raise TypeError). Stored back as a Python float, so that NumPy scalars never meet CuPy."""
    value = group[name]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    group[name] = float(value)
    return group[name]


def flag_option(group: dict, name: str) -> bool:
    """``group[name]`` as a bool (True/False; a string such as "no" would be truthy)."""
    value = group[name]
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    group[name] = bool(value)
    return group[name]


def check_nonnegative(group: dict, name: str, label: str) -> None:
    """A finite real >= 0 (NaN and infinity refused), with PyTorch's message
    "Invalid <label>: <value>" followed by the rule."""
    value = real_option(group, name)
    if not 0 <= value < math.inf:  # also false for NaN
        raise ValueError(f"Invalid {label}: {value} ({name} must be >= 0 and finite)")


def with_weight_decay(g, p: Tensor, weight_decay: float):
    """The L2-penalized gradient g + weight_decay * p (a new array; g itself is never changed)."""
    if not weight_decay:
        return g
    out = weight_decay * p.data
    out += g
    return out


def update_square_average_(average, g, decay: float) -> None:
    """average <- decay * average + (1 - decay) * g^2, in place (Adam's v, RMSprop's mean
    square), with a single temporary array alive at a time (see the module docstring)."""
    g2 = g * g
    g2 *= 1 - decay
    average *= decay
    average += g2


class Optimizer:
    """Base class of the optimizers.

    params:   an iterable of tensors, or of dicts ``{"params": [...], "lr": 0.1, ...}`` whose
              entries override ``defaults`` for that group (as in PyTorch).
    defaults: the hyperparameters of the subclass, e.g. ``{"lr": 1e-3, "betas": (0.9, 0.999)}``.
    """

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor | dict):
            raise TypeError("params must be an iterable of tensors or of dicts, got a single "
                            f"{type(params).__name__}; wrap it in a list")
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        # Keyed by the parameter itself: Tensor hashes by identity (see ops/__init__.py).
        self.state: dict[Tensor, dict] = {}
        # p -> (its state dict, device, dtype) when its buffers were last known to be there.
        self._placed: dict[Tensor, tuple] = {}
        params = list(params)
        if not params:
            raise ValueError("the optimizer got an empty list of parameters")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for i, group in enumerate(self.param_groups):
            options = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {options}")
        return "\n".join(lines) + "\n)"

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters, with the defaults filled in for options it leaves out."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"a parameter group is a dict with a 'params' list, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizers update tensors, got a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("cannot optimize a tensor computed by an op (a non-leaf); "
                                 "optimize the leaf tensors it was computed from")
            if id(p) in seen:
                raise ValueError(f"a tensor of shape {p.shape} appears twice among the "
                                 "parameters; give each parameter once")
            seen.add(id(p))
        full = {**self.defaults, **group, "params": params}
        self._check_options(full)
        self.param_groups.append(full)

    def _check_options(self, group: dict) -> None:
        """Raise TypeError for a hyperparameter that is not a number and ValueError for one
        outside its range, NaN included; numbers are stored as Python floats (subclasses
        extend this)."""
        check_nonnegative(group, "lr", "learning rate")
        if "weight_decay" in group:
            check_nonnegative(group, "weight_decay", "weight_decay value")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient, ready for the next backward: ``p.grad = None``
        (PyTorch 2's default), or with ``set_to_none=False`` zeros written in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.detach_().zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient; parameters whose grad is None are skipped.

        closure: optional function that recomputes the loss (zero_grad, forward, backward) and
        returns it; it is called first, with gradients enabled, and its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # Check every gradient before the first update, so that a bad one changes nothing.
        todo = [(p, group) for group in self.param_groups for p in group["params"]
                if p.grad is not None]
        for p, _ in todo:
            where = f"{type(self).__name__}.step: a parameter of shape {p.shape} on {p.device}"
            if p.grad.device is not p.device:
                raise DeviceError(f"{where} has its gradient on {p.grad.device}; nothing was "
                                  "updated")
            if p.grad.shape != p.shape:
                raise ValueError(f"{where} has a gradient of shape {p.grad.shape}; nothing was "
                                 "updated")
        for p, _ in todo:
            self._follow_parameter(p)
        for p, group in todo:
            g = p.grad.data
            if g.dtype != p.data.dtype:  # e.g. a float64 gradient for a float32 parameter
                g = p.device.xp.astype(g, p.data.dtype)
            self._update(p, g, self.state.setdefault(p, {}), group)
            p._bump_version()  # an in-place change: old graphs that saved p refuse
        return loss

    def _follow_parameter(self, p: Tensor) -> None:
        """Move p's state buffers to p's device and dtype if p moved or was cast since they
        were made (``model.to(...)`` after steps): what PyTorch does when it loads a state.
        Checked once per (state, device, dtype): a step normally costs one comparison."""
        state = self.state.get(p)
        if not state:
            return
        placed = self._placed.get(p)
        if (placed is not None and placed[0] is state and placed[1] is p.device
                and placed[2] == p.data.dtype):
            return
        for name, value in state.items():
            if isinstance(value, numbers.Number):  # step counts
                continue
            if device_of(value) is not p.device:
                value = transfer(value, p.device)
            if value.dtype != p.data.dtype:
                value = p.device.xp.astype(value, p.data.dtype)
            state[name] = value
        self._placed[p] = (state, p.device, p.data.dtype)

    def _update(self, p: Tensor, g, state: dict, group: dict) -> None:
        """Change ``p.data`` in place given its gradient array ``g`` (read-only: it may alias
        other arrays). ``state`` is this parameter's dict, empty before its first update."""
        raise NotImplementedError

    # -- saving and resuming ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state, as in PyTorch: parameters are named by their position.

        Returns ``{"state": {position: {"step": int, buffer name: Tensor, ...}},
        "param_groups": [{hyperparameters..., "params": [positions]}]}``, positions counted
        across the groups in order. The Tensors share memory with the live buffers: save the
        dict (``minigrad.save``) or copy it before stepping again if you need a snapshot.
        """
        positions: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            start = len(positions)
            positions.update({id(p): start + i for i, p in enumerate(group["params"])})
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, len(positions)))
            groups.append(packed)
        state = {}
        for p, buffers in self.state.items():
            if buffers:
                state[positions[id(p)]] = {
                    name: value if isinstance(value, numbers.Number)
                    else _leaf(value, device_of(value))  # not yet moved if p moved since
                    for name, value in buffers.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore state saved by ``state_dict()`` into an optimizer over equally shaped
        parameters (possibly on another device): buffers are copied onto each parameter's
        device and dtype. Every entry is checked and converted first (hyperparameters as by the
        constructor): a bad one raises ValueError or TypeError naming it, and the optimizer is
        left as it was."""
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(
                state_dict):
            raise ValueError("an optimizer state must be a dict with 'state' and 'param_groups' "
                             f"entries, got {_describe(state_dict)}")
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list | tuple) or not all(
                isinstance(g, Mapping) and isinstance(g.get("params"), list | tuple)
                for g in saved_groups):
            raise ValueError("the loaded state's 'param_groups' must be a list of dicts, each "
                             f"with a 'params' list, got {_describe(saved_groups)}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"the loaded state has {len(saved_groups)} parameter groups, this "
                             f"optimizer has {len(self.param_groups)}")
        by_position: dict[int, Tensor] = {}
        options = []
        for i, (saved, own) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"parameter group {i}: the loaded state has "
                                 f"{len(saved['params'])} parameters, this optimizer has "
                                 f"{len(own['params'])}")
            for key, p in zip(saved["params"], own["params"], strict=True):
                position = _position(key, f"parameter group {i} of the loaded state")
                if position in by_position:
                    raise ValueError(f"the loaded state lists parameter {position} twice")
                by_position[position] = p
            merged = {k: v for k, v in {**own, **saved}.items() if k != "params"}
            try:
                self._check_options(merged)
            except (TypeError, ValueError) as err:
                raise type(err)(f"parameter group {i} of the loaded state: {err}") from None
            options.append(merged)
        saved_state = state_dict["state"]
        if not isinstance(saved_state, Mapping):
            raise ValueError("the loaded state's 'state' must be a dict {position: buffers}, "
                             f"got {_describe(saved_state)}")
        state = {}
        for key, buffers in saved_state.items():
            position = _position(key, "the loaded state's 'state'")
            if position not in by_position:
                raise ValueError(f"the loaded state has buffers for parameter {position}, but "
                                 f"its groups list parameters {sorted(by_position)}")
            if not isinstance(buffers, Mapping):
                raise TypeError(f"the state of parameter {position} must be a dict of buffers, "
                                f"got {_describe(buffers)}")
            p = by_position[position]
            state[p] = {name: _moved_to(value, p, f"state '{name}' of parameter {position}")
                        for name, value in buffers.items()}
        # Everything is converted: only assignments from here on.
        self.state = state
        self._placed = {}
        for merged, own in zip(options, self.param_groups, strict=True):
            own.update(merged)


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


def _position(key, where: str) -> int:
    """A parameter position: an int, or a string of digits (serializers such as JSON turn
    integer keys into strings)."""
    if isinstance(key, str) and key.isdigit():
        return int(key)
    if isinstance(key, bool | np.bool_) or not isinstance(key, int | np.integer):
        raise ValueError(f"{where}: parameters are named by their position (an int), got "
                         f"{_describe(key)}")
    return int(key)


def _moved_to(value, p: Tensor, what: str):
    """A saved state entry for parameter ``p``: finite numbers stay; arrays and tensors of
    numbers become a copy on p's device in p's dtype (a copy, so that two optimizers never
    share a buffer)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        if not math.isfinite(value):
            raise ValueError(f"{what} is {value}, expected a finite number")
        return value.item() if isinstance(value, np.generic) else value
    array = value.data if isinstance(value, Tensor) else value
    try:
        source = device_of(array)
    except TypeError:
        raise TypeError(f"{what}: expected a number, tensor or array, got "
                        f"{_describe(value)}") from None
    if source.canonical(array.dtype).kind not in "biuf":
        raise TypeError(f"{what}: expected numbers, got an array of dtype {array.dtype}")
    if tuple(array.shape) != p.shape:
        raise ValueError(f"{what} has shape {tuple(array.shape)}, the parameter has shape "
                         f"{p.shape}")
    xp = p.device.xp
    return xp.astype(transfer(array, p.device), p.device.xp_dtype(p.dtype), copy=True)
