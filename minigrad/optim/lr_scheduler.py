"""Learning-rate schedules: each sets every parameter group's "lr" from a closed formula in the
number t of ``scheduler.step()`` calls so far (count epochs or iterations, as you like).

Each group's starting rate is remembered in the group as "initial_lr" (as PyTorch does), so
it travels with the optimizer's state_dict. Creating a scheduler applies the rate for t = 0.

Linear warm-up followed by cosine decay, over ``total`` steps::

    warmup = LinearLR(opt, start_factor=0.01, total_iters=500)
    decay = CosineAnnealingLR(opt, T_max=total - 500)
    schedule = SequentialLR(opt, [warmup, decay], milestones=[500])
    for x, y in loader:
        ...; opt.step(); schedule.step()
"""

from __future__ import annotations

import bisect
import math

from minigrad.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
           "SequentialLR"]


class LRScheduler:
    """Base class: subclasses give the rate of a group with starting rate ``base`` at step t."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

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
        """Resume from ``state_dict()``; the groups get the rates of the saved step again."""
        self.__dict__.update(state_dict)
        self._set(self._last_lr)


class StepLR(LRScheduler):
    """lr = base * gamma ** (t // step_size): decay by gamma every step_size steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer)

    def _lr(self, base, t):
        return base * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base * gamma ** t."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def _lr(self, base, t):
        return base * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2.

    Falls from base to eta_min over T_max steps (SGDR without restarts, PyTorch's closed form);
    past T_max the cosine continues, rising back to base at 2 T_max.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if T_max < 1:
            raise ValueError(f"T_max must be >= 1, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def _lr(self, base, t):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearLR(LRScheduler):
    """lr = base * f, f going linearly from start_factor to end_factor over total_iters steps,
    then staying at end_factor. The usual linear warm-up over W steps is
    ``LinearLR(opt, start_factor=0.01, total_iters=W)`` (end_factor defaults to 1)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1 / 3,
                 end_factor: float = 1.0, total_iters: int = 5):
        if start_factor < 0 or end_factor < 0:
            raise ValueError(f"factors must be >= 0, got start_factor={start_factor}, "
                             f"end_factor={end_factor}")
        if total_iters < 1:
            raise ValueError(f"total_iters must be >= 1, got {total_iters}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer)

    def _lr(self, base, t):
        progress = min(t, self.total_iters) / self.total_iters
        return base * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another: the i-th takes over at step milestones[i-1] and
    sees its own step count restart at 0 (as torch's SequentialLR)."""

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler],
                 milestones: list[int]):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{len(schedulers)} schedulers need {len(schedulers) - 1} "
                             f"milestones, got {len(milestones)}")
        if list(milestones) != sorted(milestones) or any(m < 1 for m in milestones):
            raise ValueError(f"milestones must be increasing positive steps, got {milestones}")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("every scheduler in a SequentialLR must drive the same optimizer")
        self.schedulers = list(schedulers)
        self.milestones = list(milestones)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> list[float]:
        i = bisect.bisect_right(self.milestones, t)
        start = self.milestones[i - 1] if i else 0
        return self.schedulers[i].lr_at(t - start)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["schedulers"] = [s.state_dict() for s in self.schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        for scheduler, state in zip(self.schedulers, state_dict.pop("schedulers"), strict=True):
            scheduler.load_state_dict(state)
        super().load_state_dict(state_dict)
