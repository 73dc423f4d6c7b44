"""Normalisation layers: batch norm (also synchronised over data-parallel workers), layer norm
and group norm."""

from __future__ import annotations

import math
import numbers
import sys

from minigrad.autograd import no_grad
from minigrad.backend import device as _device
from minigrad.backend import float32, int64
from minigrad.creation import check_size, ones, zeros
from minigrad.nn import functional as F
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "SyncBatchNorm", "LayerNorm", "GroupNorm"]


class _BatchNorm(Module):
    """Per-channel normalisation with batch statistics in training and the running statistics
    in eval mode, as PyTorch's.

    Each training forward adds one to ``num_batches_tracked`` and moves the running
    statistics by ``momentum`` (0.1: r <- 0.9 r + 0.1 batch statistic); momentum=None makes
    them the plain average of all batches so far (the factor is 1 / num_batches_tracked)."""

    _input_ndims: tuple[int, ...] = ()
    # Checkpoints written before minigrad kept the count load without it (it then stays 0).
    _optional_state = ("num_batches_tracked",)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=float32):
        super().__init__()
        dev = _device(device)
        name = type(self).__name__
        num_features = check_size(num_features, f"{name}: num_features")
        for option, value, rule in (("eps", eps, ">= 0"), ("momentum", momentum, "in [0, 1]")):
            if option == "momentum" and value is None:
                continue  # the cumulative average
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name}: {option} must be a real number"
                                f"{' or None' if option == 'momentum' else ''}, got "
                                f"{type(value).__name__} {value!r}")
            if not (0 <= value and math.isfinite(value)) or (option == "momentum" and value > 1):
                raise ValueError(f"{name}: {option} must be a finite number {rule}, got {value}")
        self.num_features, self.eps = num_features, float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=dev))
            self.bias = Parameter(zeros(num_features, dtype=dtype, device=dev))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=dev))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=dev))
            self.register_buffer("num_batches_tracked", zeros((), dtype=int64, device=dev))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def _check_input(self, x: Tensor) -> None:
        if x.ndim not in self._input_ndims or x.shape[1] != self.num_features:
            shapes = " or ".join(("(N, C)", "(N, C, L)", "(N, C, H, W)")[n - 2]
                                 for n in self._input_ndims)
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects input "
                             f"{shapes} with C = {self.num_features}, got shape {x.shape}")

    def _average_factor(self) -> float:
        """Counts a training batch; returns how far the running statistics move towards its
        statistics: momentum, or 1 / num_batches_tracked when momentum is None (reading the
        count back from the device, as PyTorch does; only then)."""
        if not (self.training and self.num_batches_tracked is not None):
            return 0.0 if self.momentum is None else self.momentum
        with no_grad():
            self.num_batches_tracked.add_(1)
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked.item())
        return self.momentum

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or self.running_mean is None, self._average_factor(),
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


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the whole batch of all data-parallel
    workers (PyTorch's SyncBatchNorm): inputs (N, C), (N, C, L) or (N, C, H, W), normalised
    per channel C.

    In training, with a process group of W > 1 workers (minigrad.distributed), worker r holding
    x_r (N_r examples; the N_r may differ) and n the number of values per channel over all
    workers, the channel mean and biased variance are

        m = (sum over workers of sum(x_r)) / n,   v = (sum over workers of sum((x_r - m)^2)) / n,

    two all-reduces of C numbers (and n summed over the workers on the host, from the
    shapes: no device synchronisation), the two passes of
    textbook batch norm; y_r = weight * (x_r - m) / sqrt(v + eps) + bias. The running
    statistics are updated from m and the unbiased v n/(n-1), identically on every worker. So
    data-parallel training gives what one process with the whole batch and BatchNorm gives.
    The forward is written with minigrad ops around ``all_reduce_sum``, whose backward
    all-reduces the gradients: autograd then gives every worker its part of the whole
    batch's gradient (see all_reduce_sum), with two more all-reduces per layer in backward.
    Every worker must run the forward and backward of every SyncBatchNorm layer, as for any
    collective.

    Otherwise it is BatchNorm: in eval mode (running statistics; or, without them, each
    worker's own batch, as PyTorch), and without a process group or with a world of one.
    Only the default process group exists in minigrad, so there is no process_group argument.
    """

    _input_ndims = (2, 3, 4)

    def forward(self, x: Tensor) -> Tensor:
        dist = _distributed_with_several_workers()
        if dist is None or not self.training:
            return super().forward(x)
        self._check_input(x)
        channels = self.num_features
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, channels) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector along axis 1
        count = dist.sum_over_ranks(x.numel() // channels)  # n, from the shapes, on the host
        if count < 2:
            raise ValueError(f"{type(self).__name__}: training needs more than one value per "
                             f"channel over all workers, got input shape {x.shape} here and "
                             f"{count} value(s) per channel in all")
        mean = dist.all_reduce_sum(x.sum(axis=axes)) / count
        centred = x - mean.reshape(shape)
        var = dist.all_reduce_sum((centred * centred).sum(axis=axes)) / count
        y = centred / (var + self.eps).sqrt().reshape(shape)
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        if self.running_mean is not None:
            factor = self._average_factor()
            with no_grad():
                self.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
                unbiased = var * (count / (count - 1))
                self.running_var.mul_(1 - factor).add_(unbiased, alpha=factor)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every BatchNorm1d/BatchNorm2d in its tree replaced by a
        SyncBatchNorm with the same options, training mode, parameters and running
        statistics (the same Parameter and buffer objects, as PyTorch: an optimizer built on
        the old model still updates the new one). The modules are replaced in place, in
        their positions; a BatchNorm passed itself is returned converted."""
        if isinstance(module, BatchNorm1d | BatchNorm2d):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)
            converted._parameters.update(module._parameters)  # weight, bias when affine
            converted._buffers.update(module._buffers)  # the running statistics when tracked
            return converted.train(module.training)
        for name, child in module.named_children():
            module.add_module(name, cls.convert_sync_batchnorm(child))  # in its place
        return module


def _distributed_with_several_workers():
    """minigrad.distributed when its default process group has more than one worker, else
    None. A group exists only when the script imported minigrad.distributed (and thereby
    mpi4py) and initialised it, so looking in sys.modules imports nothing: plain minigrad
    never loads MPI."""
    dist = sys.modules.get("minigrad.distributed")
    if dist is None or not dist.is_initialized() or dist.get_world_size() == 1:
        return None
    return dist


class LayerNorm(Module):
    """Normalises each example over its last axes, normalized_shape (an int or a tuple), then
    scales and shifts elementwise: weight (ones) and bias (zeros) of that shape when
    elementwise_affine (bias=False leaves out the shift), as PyTorch. Same statistics in
    training and evaluation (no running averages)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=float32):
        super().__init__()
        shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                 else tuple(normalized_shape))
        self.normalized_shape = tuple(check_size(n, "LayerNorm: normalized_shape")
                                      for n in shape)
        self.eps, self.elementwise_affine = float(eps), elementwise_affine
        dev = _device(device)
        self.weight = (Parameter(ones(self.normalized_shape, dtype=dtype, device=dev))
                       if elementwise_affine else None)
        self.bias = (Parameter(zeros(self.normalized_shape, dtype=dtype, device=dev))
                     if elementwise_affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Normalises each example over groups of num_channels/num_groups channels (and all their
    pixels), then scales and shifts per channel: weight (ones) and bias (zeros) of shape
    (num_channels,) when affine, as PyTorch. Input (N, num_channels, ...)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=float32):
        super().__init__()
        num_groups = check_size(num_groups, "GroupNorm: num_groups", low=1)
        num_channels = check_size(num_channels, "GroupNorm: num_channels")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels {num_channels} must be divisible by "
                             f"num_groups {num_groups}")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = float(eps), affine
        dev = _device(device)
        self.weight = Parameter(ones(num_channels, dtype=dtype, device=dev)) if affine else None
        self.bias = Parameter(zeros(num_channels, dtype=dtype, device=dev)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}) expects an "
                             f"input (N, {self.num_channels}, ...), got shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
