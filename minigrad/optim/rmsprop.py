"""RMSprop (Hinton's lecture 6e), plain or centered, with optional momentum, as PyTorch."""

from __future__ import annotations

from minigrad.optim.optimizer import (
    Optimizer,
    check_nonnegative,
    flag_option,
    real_option,
    update_square_average_,
    with_weight_decay,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square. With g = grad + weight_decay * p:

        s <- alpha s + (1 - alpha) g^2                  running mean of g^2
        centered: a <- alpha a + (1 - alpha) g,  r = sqrt(s - a^2) + eps   (a variance estimate)
        otherwise:                               r = sqrt(s) + eps
        momentum > 0:  b <- momentum b + g / r,  p <- p - lr * b
        otherwise:     p <- p - lr * g / r

    Exactly torch.optim.RMSprop. State per parameter: "step", "square_avg" (s), and
    "grad_avg" (a, centered) and "momentum_buffer" (b, momentum > 0), all starting at zero.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered})

    def _check_options(self, group: dict) -> None:
        super()._check_options(group)
        if not 0 <= real_option(group, "alpha") <= 1:  # also false for NaN
            raise ValueError(f"Invalid alpha value: {group['alpha']} (alpha must be in [0, 1])")
        check_nonnegative(group, "eps", "epsilon value")
        check_nonnegative(group, "momentum", "momentum value")
        flag_option(group, "centered")

    def _update(self, p, g, state, group):
        xp = p.device.xp
        alpha = group["alpha"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p.data)
        state["step"] += 1
        g = with_weight_decay(g, p, group["weight_decay"])

        s = state["square_avg"]
        update_square_average_(s, g, alpha)
        if group["centered"]:
            a = state["grad_avg"]
            a *= alpha
            a += (1 - alpha) * g
            step = xp.sqrt(s - a * a)
        else:
            step = xp.sqrt(s)
        step += group["eps"]
        step **= -1  # in place 1 / r, then g / r
        step *= g
        if group["momentum"] > 0:
            b = state["momentum_buffer"]
            b *= group["momentum"]
            b += step
            step[...] = b
        step *= group["lr"]
        p.data -= step
