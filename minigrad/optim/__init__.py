"""Optimizers, learning-rate schedules and gradient clipping.

    opt = optim.Adam(params, lr=1e-3)        # params: leaf tensors with requires_grad
    for x, y in loader:
        opt.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        optim.clip_grad_norm_(params, 1.0)   # optional
        opt.step()

Files: ``optimizer`` (the base class: groups, state, state_dict), ``sgd``, ``adam`` (Adam,
AdamW), ``rmsprop``, ``lr_scheduler``, ``clip``.
"""

from minigrad.optim import lr_scheduler
from minigrad.optim.adam import Adam, AdamW
from minigrad.optim.clip import clip_grad_norm_, clip_grad_value_
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler", "clip_grad_norm_",
           "clip_grad_value_"]
