"""Stochastic gradient descent, with momentum and Nesterov momentum as PyTorch defines them."""

from __future__ import annotations

import math

from minigrad.optim.optimizer import (
    Optimizer,
    check_nonnegative,
    flag_option,
    real_option,
    with_weight_decay,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """p <- p - lr * d, where for each step t (g_t = grad + weight_decay * p):

        momentum == 0:  d = g_t
        otherwise:      b_1 = g_t,  b_t = momentum * b_(t-1) + (1 - dampening) * g_t
                        d = b_t, or with nesterov d = g_t + momentum * b_t

    Exactly torch.optim.SGD. State per parameter: "momentum_buffer" (b) when momentum > 0.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _check_options(self, group: dict) -> None:
        super()._check_options(group)
        check_nonnegative(group, "momentum", "momentum value")
        if not math.isfinite(real_option(group, "dampening")):
            raise ValueError(f"Invalid dampening value: {group['dampening']} (dampening must be "
                             "a finite number)")
        nesterov = flag_option(group, "nesterov")
        if nesterov and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                             "(nesterov momentum needs momentum > 0 and dampening = 0), got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p, g, state, group):
        xp = p.device.xp
        g = with_weight_decay(g, p, group["weight_decay"])
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = xp.asarray(g, copy=True)
            else:
                buf *= momentum
                buf += g if group["dampening"] == 0 else (1 - group["dampening"]) * g
            if group["nesterov"]:
                step = momentum * buf
                step += g
            else:
                step = buf
        else:
            step = g
        p.data -= group["lr"] * step
