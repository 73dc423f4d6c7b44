"""Convolution, pooling and upsampling layers (the ops are in minigrad/ops/conv.py).

Channels are ints >= 0; kernel sizes, strides, paddings and dilations ints or pairs of ints
(NumPy integers accepted, a float or a bool raises TypeError naming the argument rather than
being truncated); a value out of range (a kernel or stride of 0, a negative padding) raises
ValueError naming the layer.
"""

from __future__ import annotations

import numpy as np

from minigrad.backend import float32
from minigrad.creation import check_size
from minigrad.nn import functional as F
from minigrad.nn.linear import _empty_parameter, reset_weight_and_bias
from minigrad.nn.module import Module
from minigrad.ops.spatial_args import _conv_padding, _groups, _pair, _resize_arguments
from minigrad.tensor import Tensor

__all__ = ["Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Upsample"]


def _pair_arg(op: str, name: str, value, low: int) -> tuple[int, int]:
    """An int or a pair of ints (each >= low) as a pair of Python ints: TypeError for anything
    but integers, ValueError (from spatial_args._pair, the one place of the rule) for a value
    below ``low``, both naming the layer and the argument."""
    items = tuple(value) if isinstance(value, tuple | list) else (value,)
    for v in items:
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            raise TypeError(f"{op}: {name} must be an int or a pair of ints, got "
                            f"{type(v).__name__} {v!r}"
                            + (f" in {value!r}" if isinstance(value, tuple | list) else ""))
    ints = tuple(int(v) for v in items)
    try:
        return _pair(ints if isinstance(value, tuple | list) else ints[0], name, low)
    except ValueError as err:
        raise ValueError(f"{op}: {err}") from None


def _channels(op: str, in_channels, out_channels, groups) -> tuple[int, int, int]:
    return (check_size(in_channels, f"{op}: in_channels"),
            check_size(out_channels, f"{op}: out_channels"),
            check_size(groups, f"{op}: groups", low=1))


class Conv2d(Module):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo),
    Ho = (H + 2p - d(k-1) - 1)//s + 1.  weight (out, in/groups, kh, kw), bias (out,).
    kernel_size, stride, padding, dilation: an int or a (height, width) pair; padding may also
    be "valid" (none) or "same" (stride 1 only: Ho = H, Wo = W). groups: the channels split
    into that many groups convolved separately (groups = in_channels: depthwise)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, device=None, dtype=float32):
        super().__init__()
        in_channels, out_channels, groups = _channels("Conv2d", in_channels, out_channels,
                                                      groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups = _groups("Conv2d", groups, in_channels, out_channels)
        self.kernel_size = _pair_arg("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = _pair_arg("Conv2d", "stride", stride, 1)
        if not isinstance(padding, str):
            padding = _pair_arg("Conv2d", "padding", padding, 0)
        self.padding = _conv_padding(padding, self.stride)
        self.dilation = _pair_arg("Conv2d", "dilation", dilation, 1)
        kh, kw = self.kernel_size
        fan_in = in_channels // groups * kh * kw
        self.weight = _empty_parameter((out_channels, in_channels // groups, kh, kw), device,
                                       dtype)
        self.bias = _empty_parameter((out_channels,), device, dtype) if bias else None
        reset_weight_and_bias(self.weight, self.bias, fan_in)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            text += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class ConvTranspose2d(Module):
    """Transposed convolution (the adjoint of Conv2d; upsamples by the stride):
    (N, in_channels, H, W) -> (N, out_channels, Ho, Wo), Ho = (H-1)s - 2p + d(k-1) + op + 1.
    weight (in, out/groups, kh, kw) as in PyTorch, bias (out,); groups as in Conv2d."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1, device=None,
                 dtype=float32):
        super().__init__()
        op = "ConvTranspose2d"
        in_channels, out_channels, groups = _channels(op, in_channels, out_channels, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups = _groups(op, groups, in_channels, out_channels)
        self.kernel_size = _pair_arg(op, "kernel_size", kernel_size, 1)
        self.stride = _pair_arg(op, "stride", stride, 1)
        self.padding = _pair_arg(op, "padding", padding, 0)
        self.output_padding = _pair_arg(op, "output_padding", output_padding, 0)
        self.dilation = _pair_arg(op, "dilation", dilation, 1)
        if any(op >= max(s, d) for op, s, d in
               zip(self.output_padding, self.stride, self.dilation, strict=True)):
            raise ValueError(f"output_padding {self.output_padding} must be smaller than the "
                             f"stride {self.stride} or the dilation {self.dilation}")
        kh, kw = self.kernel_size
        self.weight = _empty_parameter((in_channels, out_channels // groups, kh, kw), device,
                                       dtype)
        self.bias = _empty_parameter((out_channels,), device, dtype) if bias else None
        # PyTorch computes fan_in from weight.shape[1] here, i.e. the output channels per group.
        reset_weight_and_bias(self.weight, self.bias, out_channels // groups * kh * kw)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        super().__init__()
        op = type(self).__name__
        self.kernel_size = _pair_arg(op, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pair_arg(op, "stride", stride, 1)
        self.padding = _pair_arg(op, "padding", padding, 0)
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                + (", ceil_mode=True" if self.ceil_mode else ""))


class MaxPool2d(_Pool2d):
    """Maximum over kh x kw windows (stride defaults to the kernel size; ceil_mode keeps the
    last, partial windows)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class AvgPool2d(_Pool2d):
    """Mean over kh x kw windows (stride defaults to the kernel size; padding counts as 0;
    ceil_mode keeps the last, partial windows)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class Upsample(Module):
    """Resizes (N, C, H, W) by an integer scale_factor or to a size (Ho, Wo), one of the two:
    mode "nearest" or "bilinear" (see minigrad.ops.conv.upsample)."""

    def __init__(self, scale_factor=None, mode: str = "nearest", align_corners: bool = False,
                 size=None):
        super().__init__()
        self.scale_factor, self.size = _resize_arguments("Upsample", scale_factor, size, mode)
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return F.upsample(x, self.scale_factor, self.mode, self.align_corners, self.size)

    def extra_repr(self) -> str:
        what = (f"size={self.size}" if self.size is not None
                else f"scale_factor={self.scale_factor}")
        return f"{what}, mode={self.mode!r}"
