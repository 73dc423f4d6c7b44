"""Convolution, pooling and upsampling layers (the ops are in minigrad/ops/conv.py).

Channels are ints >= 0; kernel sizes, strides, paddings and dilations ints or pairs of ints
(NumPy integers accepted, a float or a bool raises TypeError naming the argument rather than
being truncated); a value out of range (a kernel or stride of 0, a negative padding) raises
ValueError naming the layer.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.backend import float32
from minigrad.creation import check_size
from minigrad.nn import functional as F
from minigrad.nn.linear import _empty_parameter, reset_weight_and_bias
from minigrad.nn.module import Module
from minigrad.ops.spatial_args import _conv_padding, _groups, _pair, _resize_arguments
from minigrad.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool2d",
           "AvgPool2d", "MaxUnpool2d", "AdaptiveAvgPool2d", "Upsample", "PixelShuffle",
           "PixelUnshuffle", "Unfold", "Fold"]


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
    last, partial windows; dilation spreads the taps; return_indices also returns the flat
    positions of the maxima, for MaxUnpool2d)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = _pair_arg("MaxPool2d", "dilation", dilation, 1)
        self.return_indices = return_indices

    def forward(self, x: Tensor):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", dilation={self.dilation}"
                                       if self.dilation != (1, 1) else "")


class AvgPool2d(_Pool2d):
    """Mean over kh x kw windows (stride defaults to the kernel size; padding counts as 0
    unless count_include_pad=False; ceil_mode keeps the last, partial windows)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


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


# -- the layers ported from PyTorch's convolution family ---------------------------------------


def _ntuple_arg(op: str, name: str, value, low: int, d: int) -> tuple[int, ...]:
    """An int or a d-tuple of ints (each >= low) as a d-tuple of Python ints; errors as
    _pair_arg's."""
    items = tuple(value) if isinstance(value, tuple | list) else (value,) * d
    for v in items:
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            raise TypeError(f"{op}: {name} must be an int or a tuple of {d} ints, got "
                            f"{type(v).__name__} {v!r}")
    if len(items) != d or any(int(v) < low for v in items):
        raise ValueError(f"{op}: {name} must be an int >= {low} or {d} of them, got {value!r}")
    return tuple(int(v) for v in items)


class _ConvNd(Module):
    """Conv1d and Conv3d: Conv2d's layer for 1 or 3 spatial axes (PyTorch's arguments and
    default initialisation: kaiming_uniform with a = sqrt(5), bias U(+-1/sqrt(fan_in)))."""

    _dims = 0
    _function = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, device=None, dtype=float32):
        super().__init__()
        op, d = type(self).__name__, self._dims
        in_channels, out_channels, groups = _channels(op, in_channels, out_channels, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups = _groups(op, groups, in_channels, out_channels)
        self.kernel_size = _ntuple_arg(op, "kernel_size", kernel_size, 1, d)
        self.stride = _ntuple_arg(op, "stride", stride, 1, d)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{op}: padding must be 'valid', 'same' or ints, got "
                                 f"{padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{op}: padding='same' needs stride 1, got {self.stride}")
            self.padding = padding
        else:
            self.padding = _ntuple_arg(op, "padding", padding, 0, d)
        self.dilation = _ntuple_arg(op, "dilation", dilation, 1, d)
        fan_in = in_channels // groups * math.prod(self.kernel_size)
        self.weight = _empty_parameter((out_channels, in_channels // groups, *self.kernel_size),
                                       device, dtype)
        self.bias = _empty_parameter((out_channels,), device, dtype) if bias else None
        reset_weight_and_bias(self.weight, self.bias, fan_in)

    def forward(self, x: Tensor) -> Tensor:
        return type(self)._function(x, self.weight, self.bias, self.stride, self.padding,
                                    self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self._dims and self.padding != "valid":
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class Conv1d(_ConvNd):
    """1-D convolution: (N, in_channels, L) -> (N, out_channels, Lo),
    Lo = (L + 2p - d(k-1) - 1)//s + 1.  weight (out, in/groups, k), bias (out,)."""

    _dims = 1
    _function = F.conv1d


class Conv3d(_ConvNd):
    """3-D convolution: (N, in_channels, D, H, W) -> (N, out_channels, Do, Ho, Wo), each size
    as in Conv2d.  weight (out, in/groups, kd, kh, kw), bias (out,)."""

    _dims = 3
    _function = F.conv3d


class ConvTranspose1d(Module):
    """1-D transposed convolution (the adjoint of Conv1d): (N, in_channels, L) ->
    (N, out_channels, Lo), Lo = (L-1)s - 2p + d(k-1) + op + 1. weight (in, out/groups, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1, device=None,
                 dtype=float32):
        super().__init__()
        op = "ConvTranspose1d"
        in_channels, out_channels, groups = _channels(op, in_channels, out_channels, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups = _groups(op, groups, in_channels, out_channels)
        (self.kernel_size, self.stride, self.padding, self.output_padding,
         self.dilation) = (_ntuple_arg(op, name, value, low, 1) for name, value, low in (
             ("kernel_size", kernel_size, 1), ("stride", stride, 1), ("padding", padding, 0),
             ("output_padding", output_padding, 0), ("dilation", dilation, 1)))
        if self.output_padding[0] >= max(self.stride[0], self.dilation[0]):
            raise ValueError(f"{op}: output_padding {self.output_padding} must be smaller than "
                             f"the stride {self.stride} or the dilation {self.dilation}")
        (k,) = self.kernel_size
        self.weight = _empty_parameter((in_channels, out_channels // groups, k), device, dtype)
        self.bias = _empty_parameter((out_channels,), device, dtype) if bias else None
        reset_weight_and_bias(self.weight, self.bias, out_channels // groups * k)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        for name in ("padding", "output_padding"):
            if getattr(self, name) != (0,):
                text += f", {name}={getattr(self, name)}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class MaxUnpool2d(Module):
    """The partial inverse of MaxPool2d(return_indices=True): see F.max_unpool2d."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair_arg("MaxUnpool2d", "kernel_size", kernel_size, 1)
        self.stride = (self.kernel_size if stride is None
                       else _pair_arg("MaxUnpool2d", "stride", stride, 1))
        self.padding = _pair_arg("MaxUnpool2d", "padding", padding, 0)

    def forward(self, x: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (Ho, Wo) (an int, a pair, None keeps an axis)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r) (see F.pixel_shuffle)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of PixelShuffle."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Unfold(Module):
    """Image windows as columns: (N, C, H, W) -> (N, C*kh*kw, L) (see F.unfold)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Columns back into an image, overlaps added: (N, C*kh*kw, L) -> (N, C, H, W) for
    output_size (H, W) (see F.fold)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
