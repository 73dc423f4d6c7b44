"""Sizes and argument checks shared by the spatial ops (convolution, pooling, resizing) and
their layers: each rule in one place, each bad argument one clear message."""

from __future__ import annotations

import math

from minigrad.backend import DeviceError
from minigrad.creation import check_size
from minigrad.ops.elementwise import _not_a_tensor
from minigrad.tensor import Tensor

__all__ = ["conv_output_size", "conv_transpose_output_size", "pool_output_size"]


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """H_out = (H + 2p - d(k-1) - 1)//s + 1: the positions of a dilated kernel (extent d(k-1)+1)
    inside the padded input, s apart."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0,
                     ceil_mode: bool = False) -> int:
    """conv_output_size, or with ceil_mode the last, partial window too: H_out =
    ceil((H + 2p - k)/s) + 1, less one if that window would start past the input and its left
    padding (as PyTorch)."""
    if not ceil_mode:
        return conv_output_size(size, kernel, stride, padding)
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + padding else out


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """H_out = (H-1)s - 2p + d(k-1) + op + 1: the input size of the convolution whose adjoint
    this is (op picks one of the s sizes that convolution maps to H)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _pair(value, name: str, low: int) -> tuple[int, int]:
    """An int or a pair of ints (Python or NumPy integers, not bools), each >= low, as a pair
    (height, width): TypeError for another type, ValueError for a wrong count or value."""
    pair = tuple(value) if isinstance(value, tuple | list) else (value, value)
    # check_size only for the type here (TypeError for a float, a bool ...): the range is ours.
    if len(pair) != 2 or any(check_size(v, name, -math.inf) < low for v in pair):
        raise ValueError(f"{name} must be an int >= {low} or a pair of them, got {value!r}")
    return tuple(int(v) for v in pair)


def _conv_padding(padding, stride: tuple[int, int]):
    """conv2d's padding argument checked: a pair of ints >= 0, or "valid" or "same" (which
    needs stride 1, as in PyTorch: with a larger stride no padding keeps the size)."""
    if not isinstance(padding, str):
        return _pair(padding, "padding", 0)
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid', 'same', an int or a pair of ints, got "
                         f"{padding!r}")
    if padding == "same" and stride != (1, 1):
        raise ValueError(f"padding='same' needs stride 1 (no padding keeps the size with a "
                         f"larger stride), got stride {stride}")
    return padding


def _resolve_padding(padding, kernel, dilation) -> tuple[tuple[int, int], tuple[int, int]]:
    """The zeros around the input as (symmetric padding, extra after) per axis. A pair p gives
    (p, no extra); "valid" none; "same" d(k-1) zeros per axis, so Ho = H: half before and the
    rest after (an odd total's extra zero goes after, as in PyTorch)."""
    if not isinstance(padding, str):
        return padding, (0, 0)
    if padding == "valid":
        return (0, 0), (0, 0)
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    return (totals[0] // 2, totals[1] // 2), (totals[0] % 2, totals[1] % 2)


def _check_input(op: str, x: Tensor, *others: Tensor | None) -> None:
    """The input must be a tensor of shape (N, C, H, W); the parameters as _check_operands."""
    if not isinstance(x, Tensor):
        raise _not_a_tensor(op, "input", x)
    if x.ndim != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got {x.shape}")
    _check_operands(op, x, *others)


def _check_operands(op: str, x: Tensor, *others: Tensor | None) -> None:
    """The input must be a tensor, and the parameters (None: absent) tensors on its device.
    Mixed dtypes promote as in every other op (float32 weights with float64 data compute in
    float64)."""
    if not isinstance(x, Tensor):  # (a NumPy array has a .device too: "cpu", a string)
        raise _not_a_tensor(op, "input", x)
    for t in others:
        if t is not None and getattr(t, "device", None) is not x.device:
            if not isinstance(t, Tensor):
                raise _not_a_tensor(op, "parameter", t)
            raise DeviceError(f"{op}: input on {x.device} but parameter on {t.device}; "
                              "move the layer with .to(device)")


def _check_weight(op: str, weight: Tensor, expected: str) -> None:
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a weight of shape {expected}, got {weight.shape}")


def _check_output(op: str, x: Tensor, out_hw: tuple[int, int]) -> None:
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise ValueError(f"{op}: input of spatial size {x.shape[2:]} is too small for this "
                         f"kernel/stride/padding (output size would be {out_hw})")


def _groups(op: str, groups, *channels: int) -> int:
    """groups must divide the channel counts: each group of C/G input channels feeds its own
    O/G output channels."""
    if check_size(groups, f"{op}: groups", -math.inf) < 1 or any(n % groups for n in channels):
        raise ValueError(f"{op}: groups must be an int >= 1 dividing the channel counts "
                         f"{channels}, got {groups!r}")
    return int(groups)


def _resize_arguments(op: str, scale_factor, size, mode: str):
    """Checked (scale_factor, size): exactly one of them given, as a pair of ints >= 1."""
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{op}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if (scale_factor is None) == (size is None):
        raise ValueError(f"{op}: give either scale_factor or size, not "
                         + ("both" if size is not None else "neither"))
    if size is None:
        return _pair(scale_factor, "scale_factor", 1), None
    return None, _pair(size, "size", 1)


def _check_bias(op: str, bias: Tensor | None, channels: int) -> None:
    """A bias must be a vector with one entry per output channel (or feature)."""
    if bias is not None and bias.shape != (channels,):
        raise ValueError(f"{op}: expected a bias of shape ({channels},), one value per output "
                         f"channel, got shape {bias.shape}")
