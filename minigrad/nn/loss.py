"""Losses as modules: ``loss_fn = MSELoss(); loss = loss_fn(prediction, target)``.

Each module keeps the options of its function (PyTorch's names and defaults) and passes them
by keyword."""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.module import Module
from minigrad.ops.losses import _check_reduction

__all__ = ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
           "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CosineSimilarity"]


class _Loss(Module):
    _function = None

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def _options(self) -> dict:
        """The keyword options passed to the function besides the reduction."""
        return {}

    def forward(self, input, target):
        return type(self)._function(input, target, reduction=self.reduction, **self._options())

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    _function = F.mse_loss


class L1Loss(_Loss):
    _function = F.l1_loss


class BCELoss(_Loss):
    _function = F.binary_cross_entropy


class BCEWithLogitsLoss(_Loss):
    """binary_cross_entropy_with_logits; weight (broadcast to the loss) and pos_weight (one
    per class, the last axis) are kept as buffers: constants that move with the module."""

    _function = F.binary_cross_entropy_with_logits

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def _options(self) -> dict:
        return {"weight": self.weight, "pos_weight": self.pos_weight}


class _WeightedClassLoss(_Loss):
    """A loss over class labels with an optional class weight (C,) kept as a buffer, and
    labels equal to ignore_index left out."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def _options(self) -> dict:
        return {"weight": self.weight, "ignore_index": self.ignore_index}


class CrossEntropyLoss(_WeightedClassLoss):
    """cross_entropy of logits (N, C, ...) and labels (N, ...) or class probabilities."""

    _function = F.cross_entropy

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, ignore_index, reduction)
        self.label_smoothing = label_smoothing

    def _options(self) -> dict:
        return {**super()._options(), "label_smoothing": self.label_smoothing}


class NLLLoss(_WeightedClassLoss):
    """nll_loss of log-probabilities (N, C, ...) and labels (N, ...)."""

    _function = F.nll_loss


class SmoothL1Loss(_Loss):
    _function = F.smooth_l1_loss

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def _options(self) -> dict:
        return {"beta": self.beta}


class HuberLoss(_Loss):
    _function = F.huber_loss

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def _options(self) -> dict:
        return {"delta": self.delta}


class KLDivLoss(Module):
    """kl_div of log-probabilities and a target distribution (log_target: given as logs);
    reduction "mean", "batchmean" (the KL divergence per example), "sum" or "none"."""

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__()
        if reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(f"KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or "
                             f"'none', got {reduction!r}")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):
        return F.kl_div(input, target, self.reduction, self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class CosineSimilarity(Module):
    """cosine_similarity(x1, x2) along ``dim`` (norms at least eps)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"
