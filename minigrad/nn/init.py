"""Weight initialisation, in place on a tensor's data, from its device's seeded generator.

The names and formulas are PyTorch's (``torch.nn.init``). For a weight of shape
(out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel).
    kaiming (He):  std = gain / sqrt(fan)             uniform bound = sqrt(3) * std
    xavier (Glorot): std = gain * sqrt(2 / (fan_in + fan_out)),  uniform bound = sqrt(3) * std
A tensor with no elements (e.g. the weight of ``Linear(0, 5)``) is left as it is, as in
PyTorch (kaiming warns that this is a no-op): its fans may be 0.
"""

from __future__ import annotations

import math
import warnings

from minigrad.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_"]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through ``nonlinearity``."""
    if nonlinearity in ("linear", "identity", "conv2d", "conv_transpose2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected linear, sigmoid, tanh, "
                     "relu, leaky_relu or selu")


def _fill(t: Tensor, values) -> Tensor:
    t.data[...] = values
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U(a, b)."""
    return _fill(t, a + (b - a) * t.device.rand(t.shape, t.dtype))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std^2)."""
    return _fill(t, mean + std * t.device.randn(t.shape, t.dtype))


def constant_(t: Tensor, value: float) -> Tensor:
    return _fill(t, value)


def zeros_(t: Tensor) -> Tensor:
    return _fill(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return _fill(t, 1.0)


def _fans(t: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): in * kernel size, out * kernel size."""
    if t.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got "
                         f"shape {t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(t)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def _empty(t: Tensor, warn: bool = False) -> bool:
    """Whether ``t`` has no elements (and so nothing to initialise)."""
    if 0 not in t.shape:
        return False
    if warn:  # PyTorch's warning, so that a misconfigured layer does not go unnoticed
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
    return True


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound), bound = gain * sqrt(3 / fan); ``a`` is the leaky_relu slope.
    With a = sqrt(5) (PyTorch's Linear/Conv default) the bound is 1 / sqrt(fan_in)."""
    if _empty(t, warn=True):
        return t
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2), std = gain / sqrt(fan)."""
    if _empty(t, warn=True):
        return t
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity))


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    if _empty(t):
        return t
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    if _empty(t):
        return t
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))
