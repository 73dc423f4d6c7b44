"""The Optimizer base class: parameter groups, the update loop, and saving/restoring state.

An optimizer holds ``param_groups``: a list of dicts, each with a ``"params"`` list of leaf
tensors and that group's hyperparameters ("lr", "weight_decay", ...). Per-parameter buffers
(momentum, running averages, step counts) live in ``state[p]``, created at the first step on
the parameter's device. Subclasses write only ``_update``: how one parameter moves given its
gradient; the arithmetic runs on the device, in place on ``p.data``.

Speed: an update is a handful of passes over memory, so the updates modify buffers in place
and keep at most one temporary array alive at a time. That matters more than it looks: with
two or three parameter-sized temporaries alive, the C allocator tends to return their memory
to the OS and page-fault it back at every step, which made Adam 4x slower on NumPy.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd import enable_grad
from minigrad.backend import device_of, transfer
from minigrad.tensor import Tensor, _leaf

__all__ = ["Optimizer"]


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
        """Raise ValueError for hyperparameters outside their range (subclasses extend)."""
        if group["lr"] < 0:
            raise ValueError(f"lr must be >= 0, got {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"weight_decay must be >= 0, got {group['weight_decay']}")

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``p.grad = None``), ready for the next backward."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self, closure=None):
        """Update every parameter that has a gradient; parameters whose grad is None are skipped.

        closure: optional function that recomputes the loss (zero_grad, forward, backward) and
        returns it; it is called first, with gradients enabled, and its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.data, self.state.setdefault(p, {}), group)
                    p._bump_version()  # an in-place change: old graphs that saved p refuse
        return loss

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
                    name: value if isinstance(value, int | float) else _leaf(value, p.device)
                    for name, value in buffers.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state saved by ``state_dict()`` into an optimizer over equally shaped
        parameters (possibly on another device): buffers are copied onto each parameter's
        device and dtype. Everything is checked before anything changes."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"the loaded state has {len(saved_groups)} parameter groups, this "
                             f"optimizer has {len(self.param_groups)}")
        by_position: dict[int, Tensor] = {}
        for i, (saved, own) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"parameter group {i}: the loaded state has "
                                 f"{len(saved['params'])} parameters, this optimizer has "
                                 f"{len(own['params'])}")
            by_position.update((int(k), p) for k, p in zip(saved["params"], own["params"],
                                                           strict=True))
        state = {}
        for position, buffers in state_dict["state"].items():
            position = int(position)  # tolerate serializers that turn keys into strings
            if position not in by_position:
                raise ValueError(f"the loaded state has buffers for parameter {position}, but "
                                 f"its groups list parameters {sorted(by_position)}")
            p = by_position[position]
            state[p] = {name: _moved_to(value, p, f"state '{name}' of parameter {position}")
                        for name, value in buffers.items()}
        self.state = state
        for saved, own in zip(saved_groups, self.param_groups, strict=True):
            own.update({k: v for k, v in saved.items() if k != "params"})


def _moved_to(value, p: Tensor, what: str):
    """A saved state entry for parameter ``p``: numbers stay; arrays and tensors become a copy
    on p's device in p's dtype (a copy, so that two optimizers never share a buffer)."""
    if isinstance(value, int | float | np.integer | np.floating):
        return value.item() if isinstance(value, np.generic) else value
    array = value.data if isinstance(value, Tensor) else value
    try:
        device_of(array)
    except TypeError:
        raise TypeError(f"{what}: expected a number, tensor or array, got "
                        f"{type(value).__name__}") from None
    if tuple(array.shape) != p.shape:
        raise ValueError(f"{what} has shape {tuple(array.shape)}, the parameter has shape "
                         f"{p.shape}")
    xp = p.device.xp
    return xp.astype(transfer(array, p.device), p.device.xp_dtype(p.dtype), copy=True)
