"""Learning-rate schedules: each sets every parameter group's "lr" from a closed formula in the
number t of ``scheduler.step()`` calls so far (count epochs or iterations, as you like).

Each group's starting rate is remembered in the group as "initial_lr" (as PyTorch does), so
it travels with the optimizer's state_dict. Creating a scheduler applies the rate for t = 0.

Arguments are checked as the optimizers check theirs: step counts (step_size, T_max,
total_iters, milestones) must be ints (TypeError otherwise), rates and factors finite numbers
in their range (ValueError otherwise, NaN included); ``load_state_dict`` checks a saved state
the same way before it changes anything.

Linear warm-up followed by cosine decay, over ``total`` steps::

    warmup = LinearLR(opt, start_factor=0.01, total_iters=500)
    decay = CosineAnnealingLR(opt, T_max=total - 500)
    schedule = SequentialLR(opt, [warmup, decay], milestones=[500])
    for x, y in loader:
        ...; opt.step(); schedule.step()
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers
from collections.abc import Mapping

import numpy as np

from minigrad.creation import check_size
from minigrad.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
           "SequentialLR"]


def _real(value, name: str, low: float = 0.0, high: float = math.inf) -> float:
    """A finite real number in [low, high] (a bool, a string or NaN refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (low <= value <= high and math.isfinite(value)):  # also false for NaN
        where = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
        raise ValueError(f"{name} must be a finite number {where}, got {value}")
    return value


def _rates(values, name: str, n: int) -> list[float]:
    """One learning rate (a finite number >= 0) per parameter group."""
    if not isinstance(values, list | tuple) or len(values) != n:
        raise ValueError(f"{name} must be a list of {n} rates (one per parameter group), got "
                         f"{type(values).__name__} {values!r}")
    return [_real(v, f"{name}[{i}]") for i, v in enumerate(values)]


class LRScheduler:
    """Base class: subclasses give the rate of a group with starting rate ``base`` at step t,
    and check their options in ``_check``."""

    # Entries of state_dict() that hold the states of other schedulers (SequentialLR).
    _nested: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self._check()
        groups = optimizer.param_groups
        self.base_lrs = _rates([group.get("initial_lr", group["lr"]) for group in groups],
                               "the groups' initial_lr", len(groups))
        for group, base in zip(groups, self.base_lrs, strict=True):
            group.setdefault("initial_lr", base)
        self.last_epoch = -1
        self.step()

    def _check(self) -> None:
        """Check (and normalize) the subclass's options; raise TypeError or ValueError."""

    def _check_state(self) -> None:
        """Check everything state_dict() holds (a loaded state, before it is used)."""
        n = len(self.optimizer.param_groups)
        self.last_epoch = check_size(self.last_epoch, "last_epoch", 0)
        self.base_lrs = _rates(self.base_lrs, "base_lrs", n)
        self._last_lr = _rates(self._last_lr, "_last_lr", n)
        self._check()

    def _lr(self, base: float, t: int) -> float:
        raise NotImplementedError

    def lr_at(self, t: int) -> list[float]:
        """The rate of every group after ``t`` calls of step()."""
        return [self._lr(base, t) for base in self.base_lrs]

    def step(self) -> None:
        """Advance one step and set each group's "lr"."""
        self.last_epoch += 1
        self._set(self.lr_at(self.last_epoch))

    def _set(self, lrs: list[float]) -> None:
        self._last_lr = list(lrs)
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        """The rates set by the last step(), one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Step count, base rates and options (everything but the optimizer)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume from ``state_dict()``; the groups get the rates of the saved step again.
        Every entry is checked first: a bad one raises ValueError or TypeError naming it, and
        nothing changes."""
        for scheduler, values in self._validated(state_dict):
            scheduler.__dict__.update(values)
            scheduler._set(scheduler._last_lr)

    def _validated(self, state_dict) -> list[tuple[LRScheduler, dict]]:
        """[(scheduler, its checked new attributes)] for this scheduler and those it holds,
        the innermost first; raises before anything is changed."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        expected, given = set(self.state_dict()), set(state_dict)
        problems = []
        if expected - given:
            problems.append(f"missing key(s) {sorted(expected - given)}")
        if given - expected:
            problems.append(f"unexpected key(s) {sorted(map(str, given - expected))}")
        if problems:
            raise ValueError(f"{name}: " + "; ".join(problems))
        values = {k: v for k, v in state_dict.items() if k not in self._nested}
        trial = copy.copy(self)  # checked (and normalized) on a copy, not on self
        trial.__dict__.update(values)
        try:
            trial._check_state()
        except (TypeError, ValueError) as err:
            raise type(err)(f"{name}: {err}") from None
        return [(self, {k: trial.__dict__[k] for k in values})]


class StepLR(LRScheduler):
    """lr = base * gamma ** (t // step_size): decay by gamma every step_size steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def _check(self):
        self.step_size = check_size(self.step_size, "step_size", 1)
        self.gamma = _real(self.gamma, "gamma")

    def _lr(self, base, t):
        return base * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base * gamma ** t."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def _check(self):
        self.gamma = _real(self.gamma, "gamma")

    def _lr(self, base, t):
        return base * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2.

    Falls from base to eta_min over T_max steps (SGDR without restarts, PyTorch's closed form);
    past T_max the cosine continues, rising back to base at 2 T_max.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def _check(self):
        self.T_max = check_size(self.T_max, "T_max", 1)
        self.eta_min = _real(self.eta_min, "eta_min")

    def _lr(self, base, t):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearLR(LRScheduler):
    """lr = base * f, f going linearly from start_factor to end_factor over total_iters steps,
    then staying at end_factor. The usual linear warm-up over W steps is
    ``LinearLR(opt, start_factor=0.01, total_iters=W)`` (end_factor defaults to 1)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1 / 3,
                 end_factor: float = 1.0, total_iters: int = 5):
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer)

    def _check(self):
        # PyTorch's ranges and words: the factors scale the starting rate down, never up.
        start = _real(self.start_factor, "start_factor", 0.0, 1.0)
        if start == 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and "
                             "less or equal to 1, got start_factor=0.0")
        self.start_factor = start
        self.end_factor = _real(self.end_factor, "end_factor", 0.0, 1.0)
        self.total_iters = check_size(self.total_iters, "total_iters", 1)

    def _lr(self, base, t):
        progress = min(t, self.total_iters) / self.total_iters
        return base * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another: the i-th takes over at step milestones[i-1] and
    sees its own step count restart at 0 (as torch's SequentialLR)."""

    _nested = ("schedulers",)

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler],
                 milestones: list[int]):
        self.schedulers = list(schedulers)
        self.milestones = milestones
        super().__init__(optimizer)

    def _check(self):
        schedulers, milestones = self.schedulers, self.milestones
        if not all(isinstance(s, LRScheduler) for s in schedulers):
            raise TypeError("SequentialLR runs schedulers, got "
                            f"{[type(s).__name__ for s in schedulers]}")
        if not isinstance(milestones, list | tuple):
            raise TypeError(f"milestones must be a list of ints, got "
                            f"{type(milestones).__name__} {milestones!r}")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{len(schedulers)} schedulers need {len(schedulers) - 1} "
                             f"milestones, got {len(milestones)}")
        milestones = [check_size(m, "a milestone", 1) for m in milestones]
        if milestones != sorted(milestones):
            raise ValueError(f"milestones must be increasing positive steps, got {milestones}")
        if any(s.optimizer is not self.optimizer for s in schedulers):
            raise ValueError("every scheduler in a SequentialLR must drive the same optimizer")
        self.milestones = milestones

    def lr_at(self, t: int) -> list[float]:
        i = bisect.bisect_right(self.milestones, t)
        start = self.milestones[i - 1] if i else 0
        return self.schedulers[i].lr_at(t - start)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["schedulers"] = [s.state_dict() for s in self.schedulers]
        return state

    def _validated(self, state_dict) -> list[tuple[LRScheduler, dict]]:
        states = state_dict.get("schedulers") if isinstance(state_dict, Mapping) else None
        if not isinstance(states, list | tuple) or len(states) != len(self.schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: 'schedulers' must hold the states "
                             f"of its {len(self.schedulers)} schedulers, got {states!r}")
        updates = [u for scheduler, state in zip(self.schedulers, states, strict=True)
                   for u in scheduler._validated(state)]
        return updates + super()._validated(state_dict)
