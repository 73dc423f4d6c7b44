"""Losses as modules: ``loss_fn = MSELoss(); loss = loss_fn(prediction, target)``."""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.module import Module
from minigrad.ops.losses import _check_reduction

__all__ = ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss"]


class _Loss(Module):
    _function = None

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return type(self)._function(input, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    _function = F.mse_loss


class L1Loss(_Loss):
    _function = F.l1_loss


class BCELoss(_Loss):
    _function = F.binary_cross_entropy


class BCEWithLogitsLoss(_Loss):
    _function = F.binary_cross_entropy_with_logits


class CrossEntropyLoss(_Loss):
    _function = F.cross_entropy
