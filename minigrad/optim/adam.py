"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), as PyTorch defines them."""

from __future__ import annotations

import math
import numbers

import numpy as np

from minigrad.optim.optimizer import (
    Optimizer,
    check_nonnegative,
    flag_option,
    update_square_average_,
    with_weight_decay,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adaptive moments. At step t, with g = grad (+ weight_decay * p for Adam's L2 penalty):

        m <- b1 m + (1 - b1) g                       running mean of the gradient
        v <- b2 v + (1 - b2) g^2                     running mean of its square
        (amsgrad: v_max <- max(v_max, v), used in place of v below)
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    The divisions by 1 - b^t undo the bias of m and v towards their zero start. Exactly
    torch.optim.Adam. State per parameter: "step" (int), "exp_avg" (m), "exp_avg_sq" (v) and,
    with amsgrad, "max_exp_avg_sq".
    """

    # AdamW sets this: weight decay shrinks p directly instead of being added to the gradient.
    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad})

    def _check_options(self, group: dict) -> None:
        super()._check_options(group)
        check_nonnegative(group, "eps", "epsilon value")
        flag_option(group, "amsgrad")
        betas = group["betas"]
        if (not isinstance(betas, tuple | list) or len(betas) != 2
                or not all(isinstance(b, numbers.Real) and not isinstance(b, bool | np.bool_)
                           for b in betas)):
            raise TypeError(f"betas must be a pair of numbers (beta1, beta2), got "
                            f"{type(betas).__name__} {betas!r}")
        for i, b in enumerate(betas):
            if not 0 <= b < 1:  # also false for NaN
                raise ValueError(f"Invalid beta parameter at index {i}: {b} (betas must be two "
                                 "numbers in [0, 1))")
        group["betas"] = (float(betas[0]), float(betas[1]))

    def _update(self, p, g, state, group):
        xp = p.device.xp
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        if self.decoupled_weight_decay and wd:
            p.data *= 1 - lr * wd
        else:
            g = with_weight_decay(g, p, wd)

        m, v = state["exp_avg"], state["exp_avg_sq"]
        m -= g  # m <- b1 (m - g) + g = b1 m + (1 - b1) g, in place: no temporary array
        m *= b1
        m += g
        update_square_average_(v, g, b2)
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = xp.maximum(state["max_exp_avg_sq"], v)

        if not lr:  # a zero rate moves nothing (the moments above still count the step)
            return
        # p -= lr / (1 - b1^t) * m / (sqrt(v) / c + eps) with c = sqrt(1 - b2^t), that is
        # p -= m / denominator with denominator = (sqrt(v) + eps c) (1 - b1^t) / (lr c):
        c = math.sqrt(1 - b2 ** t)
        denominator = xp.sqrt(v)
        denominator += eps * c
        denominator *= (1 - b1 ** t) / (lr * c)
        p.data -= m / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay: before the Adam step, p <- p * (1 - lr * weight_decay),
    and the gradient is left alone. Exactly torch.optim.AdamW (default weight_decay 1e-2)."""

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
