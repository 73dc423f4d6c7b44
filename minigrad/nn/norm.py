"""Batch normalisation layers."""

from __future__ import annotations

import math
import numbers

from minigrad.backend import device as _device
from minigrad.backend import float32
from minigrad.creation import check_size, ones, zeros
from minigrad.nn import functional as F
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    """Per-channel normalisation with batch statistics in training (updating running
    averages, momentum 0.1 as PyTorch) and the running statistics in eval mode."""

    _input_ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=float32):
        super().__init__()
        dev = _device(device)
        name = type(self).__name__
        num_features = check_size(num_features, f"{name}: num_features")
        for option, value, rule in (("eps", eps, ">= 0"), ("momentum", momentum, "in [0, 1]")):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name}: {option} must be a real number, got "
                                f"{type(value).__name__} {value!r}")
            if not (0 <= value and math.isfinite(value)) or (option == "momentum" and value > 1):
                raise ValueError(f"{name}: {option} must be a finite number {rule}, got {value}")
        self.num_features, self.eps, self.momentum = num_features, float(eps), float(momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=dev))
            self.bias = Parameter(zeros(num_features, dtype=dtype, device=dev))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=dev))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=dev))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._input_ndims or x.shape[1] != self.num_features:
            shapes = " or ".join(("(N, C)", "(N, C, L)", "(N, C, H, W)")[n - 2]
                                 for n in self._input_ndims)
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects input "
                             f"{shapes} with C = {self.num_features}, got shape {x.shape}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or self.running_mean is None, self.momentum,
                            self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs, per channel C."""

    _input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs, per channel C (statistics over N, H, W)."""

    _input_ndims = (4,)
