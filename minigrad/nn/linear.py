"""Fully connected layer and shape utilities: Linear, Identity, Flatten, Unflatten, Dropout."""

from __future__ import annotations

import math

from minigrad.backend import device as _device
from minigrad.backend import float32
from minigrad.creation import check_size, zeros
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.module import Module, Parameter
from minigrad.ops.shape import flatten, reshape
from minigrad.tensor import Tensor

__all__ = ["Linear", "Identity", "Flatten", "Unflatten", "Dropout"]


def _empty_parameter(shape, device, dtype) -> Parameter:
    """A parameter of ``shape`` to be filled by an initialiser."""
    return Parameter(zeros(shape, dtype=dtype, device=_device(device)))


def reset_weight_and_bias(weight: Parameter, bias: Parameter | None, fan_in: int) -> None:
    """PyTorch's default for Linear and Conv layers: kaiming_uniform_ with a = sqrt(5), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, and the same range for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """y = x @ W^T + b:  (..., in_features) -> (..., out_features).
    weight (out_features, in_features), bias (out_features,). The sizes are ints >= 0 (with 0,
    as in PyTorch, the layer has empty weights and the initialiser leaves them alone)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=float32):
        super().__init__()
        self.in_features = check_size(in_features, "Linear: in_features")
        self.out_features = check_size(out_features, "Linear: out_features")
        in_features, out_features = self.in_features, self.out_features
        self.weight = _empty_parameter((out_features, in_features), device, dtype)
        self.bias = _empty_parameter((out_features,), device, dtype) if bias else None
        reset_weight_and_bias(self.weight, self.bias, in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input (a placeholder, e.g. to switch a layer off)."""

    def forward(self, x):
        return x


class Flatten(Module):
    """Merges axes start_dim..end_dim: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits axis ``dim`` into ``unflattened_size``: (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]):
        super().__init__()
        sizes = tuple(unflattened_size)
        for i, n in enumerate(sizes):  # -1 (one size inferred) is allowed, as in reshape
            check_size(n, f"Unflatten: unflattened_size[{i}] of {sizes}", low=-1)
        self.dim, self.unflattened_size = dim, tuple(int(n) for n in sizes)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim
        return reshape(x, x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """Zeroes each element with probability p in training, scaling the rest by 1/(1-p);
    the identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
