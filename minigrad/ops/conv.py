"""Convolution and transposed convolution of (N, C, H, W) tensors (and 1-D, 3-D).

The convolution (PyTorch's, i.e. a cross-correlation) of x (N, C, H, W) with a weight
(O, C, kh, kw), stride s, zero padding p and dilation d is

    y[n, o, a, b] = bias[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, c, a*s + i*d, b*s + j*d]

with xpad = x surrounded by p zeros, and per spatial axis   H_out = (H + 2p - d(k-1) - 1)//s + 1.

im2col (im2col.py) turns this into ONE matrix product: with cols, the (C*kh*kw, Ho*Wo*N)
matrix of every window's values, and W = w reshaped to (O, C*kh*kw),  y = W @ cols.
So conv2d is two ops: im2col (linear in x; its backward is col2im) and the product.

Backward of the product, with g2 = the output gradient as (O, Ho*Wo*N):
    dW = g2 @ cols^T          (cols kept from the forward pass, not recomputed)
    dcols = W^T @ g2          (im2col's backward turns it into dx: col2im)
The transposed convolution is the adjoint of the convolution: the product W^T @ x, then
col2im. Both backward formulas are products with saved tensors, so with create_graph they
record their own graph: second derivatives of convolutions come for free.

Other dimensions: conv3d is the same two steps with kd*kh*kw taps (im2col works for any
number of spatial axes; ``_convolution`` is the shared body). conv1d and conv_transpose1d
are the 2-D ops on a height-1 image, so they share the 2-D path and its speed. unfold and
fold are im2col and col2im themselves under PyTorch's names and (N, C*kh*kw, L) layout.
"""

from __future__ import annotations

import math

from minigrad.ops.im2col import _chwn, _Geometry, _nchw, col2im_op, im2col_op
from minigrad.ops.linalg import _axis_sum
from minigrad.ops.shape import permute, reshape, squeeze, unsqueeze
from minigrad.ops.spatial_args import (
    _check_bias,
    _check_input,
    _check_operands,
    _check_output,
    _check_weight,
    _conv_padding,
    _groups,
    _pair,
    _resolve_padding,
    conv_output_size,
    conv_transpose_output_size,
)
from minigrad.tensor import Tensor, _from_op

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "unfold",
           "fold"]


def _weight_gradient(xp, a, b):
    """a (G, M, P) @ b (G, K, P)^T for each group, the weight gradient's product, whose inner
    axis P (one entry per output pixel of the batch) is long. Computed as (b @ a^T)^T when b
    has more rows: OpenBLAS runs these long-inner products faster with the larger output side
    as rows (for conv2d's 64 x 288 gradient at batch 128: 1.1 ms instead of 1.5 ms with
    SkylakeX kernels)."""
    if b.shape[-2] > a.shape[-2]:
        return xp.matrix_transpose(b @ xp.matrix_transpose(a))
    return a @ xp.matrix_transpose(b)


def _ntuple(value, name: str, low: int, d: int) -> tuple[int, ...]:
    """An int or a d-tuple of ints, each >= low, as a d-tuple (one entry per spatial axis)."""
    values = (value,) * d if isinstance(value, int) else tuple(value)
    if len(values) != d or not all(isinstance(v, int) and v >= low for v in values):
        raise ValueError(f"{name} must be an int >= {low} or a {d}-tuple of them, got "
                         f"{value!r}")
    return values


def _nd_padding(padding, stride, kernel, dilation, d: int):
    """The zeros around the input as (symmetric padding, extra after) per axis: ints, or
    "valid" (none), or "same" (stride 1: d(k-1) zeros per axis, half before, an odd total's
    extra zero after, as PyTorch); the rule of spatial_args._resolve_padding for any d."""
    if not isinstance(padding, str):
        return _ntuple(padding, "padding", 0, d), (0,) * d
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid', 'same', an int or a tuple of ints, got "
                         f"{padding!r}")
    if padding == "valid":
        return (0,) * d, (0,) * d
    if any(s != 1 for s in stride):
        raise ValueError(f"padding='same' needs stride 1 (no padding keeps the size with a "
                         f"larger stride), got stride {stride}")
    totals = [dl * (k - 1) for k, dl in zip(kernel, dilation, strict=True)]
    return tuple(t // 2 for t in totals), tuple(t % 2 for t in totals)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution: x (N, C, H, W), weight (O, C/G, kh, kw), bias (O,) -> (N, O, Ho, Wo).

    Steps (shapes):  xpad (C, Hp, Wp, N) -> cols (C*kh*kw, Ho*Wo*N)
                     -> W (O, C*kh*kw) @ cols = y (O, Ho*Wo*N) -> viewed as (N, O, Ho, Wo).
    Backward:  dW = g2 @ cols^T,  db = sum of g2 over pixels,  dx = col2im(W^T @ g2), cropped.
    With G groups the products are taken per group, on stacks of G blocks: W (G, O/G, C/G*kh*kw)
    @ cols (G, C/G*kh*kw, Ho*Wo*N) (the rows of cols come channel by channel, so group g's
    rows are one block); G = 1 is the plain convolution.
    stride, dilation: an int or a (height, width) pair; padding: the same, or "valid" (none)
    or "same" (stride 1: the output keeps the input's size, as PyTorch pads it).
    """
    stride, dilation = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
    padding = _conv_padding(padding, stride)
    _check_input("conv2d", x, weight, bias)
    _check_weight("conv2d", weight, "(O, C, kh, kw)")
    padding, extra = _resolve_padding(padding, tuple(weight.shape[2:]), dilation)
    return _convolution("conv2d", x, weight, bias, stride, padding, extra, dilation, groups)


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution: x (N, C, L), weight (O, C/G, k), bias (O,) -> (N, O, Lo),
    Lo = (L + 2p - d(k-1) - 1)//s + 1; arguments as conv2d's, each an int (or a 1-tuple).

    Computed as conv2d of a height-1 image with a height-1 kernel (x viewed as (N, C, 1, L)):
    the same im2col and product, no code of its own to get wrong, and the 2-D path's speed."""
    _check_operands("conv1d", x, weight, bias)
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"conv1d: expected an input (N, C, L) and a weight (O, C/G, k), got "
                         f"shapes {x.shape} and {weight.shape}")
    (s,), (dl,) = _ntuple(stride, "stride", 1, 1), _ntuple(dilation, "dilation", 1, 1)
    if not isinstance(padding, str):
        padding = (0, _ntuple(padding, "padding", 0, 1)[0])
    y = conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, (1, s), padding, (1, dl), groups)
    return squeeze(y, 2)


def conv3d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution: x (N, C, D, H, W), weight (O, C/G, kd, kh, kw), bias (O,)
    -> (N, O, Do, Ho, Wo), each output size as in conv2d; stride, padding and dilation an int
    or a triple (padding also "valid" or "same").

    The same two steps as conv2d, with windows of kd*kh*kw taps:
    cols (C*kd*kh*kw, Do*Ho*Wo*N) from the N-d im2col, then y = W (O, C*kd*kh*kw) @ cols."""
    _check_operands("conv3d", x, weight, bias)
    if x.ndim != 5 or weight.ndim != 5:
        raise ValueError(f"conv3d: expected an input (N, C, D, H, W) and a weight "
                         f"(O, C/G, kd, kh, kw), got shapes {x.shape} and {weight.shape}")
    stride, dilation = _ntuple(stride, "stride", 1, 3), _ntuple(dilation, "dilation", 1, 3)
    padding, extra = _nd_padding(padding, stride, tuple(weight.shape[2:]), dilation, 3)
    return _convolution("conv3d", x, weight, bias, stride, padding, extra, dilation, groups)


def _convolution(op: str, x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding,
                 extra, dilation, groups: int) -> Tensor:
    """The convolution of x (N, C, *spatial) with weight (O, C/G, *kernel), for any number of
    spatial axes (conv2d's docstring describes the steps; the 2-D names H, W stand for all)."""
    n, c = x.shape[:2]
    o, c_w = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    taps = math.prod(kernel)
    _check_bias(op, bias, o)
    groups = _groups(op, groups, c, o)
    if c != c_w * groups:
        raise ValueError(f"{op}: weight of shape {weight.shape} with groups={groups} expects "
                         f"{c_w * groups} input channels, got an input of shape {x.shape}")
    out_size = tuple(conv_output_size(size + e, k, s, p, d) for size, e, k, s, p, d in zip(
        x.shape[2:], extra, kernel, stride, padding, dilation, strict=True))
    if any(size < 1 for size in out_size):
        raise ValueError(f"{op}: input of spatial size {x.shape[2:]} is too small for this "
                         f"kernel/stride/padding (output size would be {out_size})")
    xp = x.device.xp
    pixels = math.prod(out_size) * n
    geometry = _Geometry(x.device, x.shape, kernel, stride, dilation, padding, extra, out_size)
    cols = im2col_op(x, geometry)                                   # (C*taps, Ho*Wo*N)
    w3 = xp.reshape(weight.data, (groups, o // groups, c_w * taps))
    out = xp.reshape(w3 @ xp.reshape(cols.data, (groups, c_w * taps, pixels)), (o, pixels))
    if bias is not None:
        out += xp.astype(xp.reshape(bias.data, (o, 1)), out.dtype)
    y = _nchw(xp, xp.reshape(out, (o, *out_size, n)))                # (N, O, Ho, Wo)

    def backward(ctx, g):
        cols_, w = ctx.saved  # cols only when the weight needs a gradient, w only for cols
        xp = ctx.xp
        g3 = xp.reshape(_chwn(xp, g), (groups, o // groups, pixels))
        gcols = gw = gb = None
        if cols.requires_grad:
            w3 = xp.reshape(w, (groups, o // groups, c_w * taps))
            gcols = xp.reshape(xp.matrix_transpose(w3) @ g3, (c * taps, pixels))
        if weight.requires_grad:
            cols3 = xp.reshape(cols_, (groups, c_w * taps, pixels))
            gw = xp.reshape(_weight_gradient(xp, g3, cols3), weight.shape)
        if bias is not None and bias.requires_grad:
            gb = _axis_sum(xp.reshape(g3, (o, pixels)), axis=1)
        return (gcols, gw) if bias is None else (gcols, gw, gb)

    saved = (cols if weight.requires_grad else None, weight if cols.requires_grad else None)
    return _from_op(y, (cols, weight) if bias is None else (cols, weight, bias), backward,
                    saved=saved)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, dilation=1, groups: int = 1) -> Tensor:
    """Transposed convolution: x (N, C_in, H, W), weight (C_in, C_out/G, kh, kw), bias (C_out,)
    -> (N, C_out, Ho, Wo),  Ho = (H-1)s - 2p + d(k-1) + op + 1.

    Every input pixel x[n, c, a, b] adds x[n, c, a, b] * w[c, :, i, j] at output row
    a*s + i*d - p, column b*s + j*d - p: the adjoint (transpose) of conv2d with this weight.
    Steps:  x2 (C_in, H*W*N) -> cols = W^T @ x2 (C_out*kh*kw, H*W*N)   (the product op)
            -> col2im into (N, C_out, Ho, Wo) (an op; its backward im2col's the gradient)
            -> + bias.
    Backward of the product, with gcols = im2col(g padded):  dx = W @ gcols,  dW = x2 @ gcols^T.
    With G groups the products are taken per group on stacks of G blocks, as in conv2d.
    output_padding (op) must be smaller than the stride or the dilation (as in PyTorch).
    """
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    output_padding = _pair(output_padding, "output_padding", 0)
    _check_input("conv_transpose2d", x, weight, bias)
    _check_weight("conv_transpose2d", weight, "(C_in, C_out, kh, kw)")
    n, c, h, w_ = x.shape
    c_w, o_g, kh, kw = weight.shape
    if c != c_w:
        raise ValueError(f"conv_transpose2d: weight of shape {weight.shape} expects {c_w} "
                         f"input channels, got an input of shape {x.shape}")
    groups = _groups("conv_transpose2d", groups, c)
    o = o_g * groups
    _check_bias("conv_transpose2d", bias, o)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller "
                         f"than the stride {stride} or the dilation {dilation}")
    ho, wo = (conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d in zip(
        (h, w_), (kh, kw), stride, padding, output_padding, dilation, strict=True))
    _check_output("conv_transpose2d", x, (ho, wo))
    xp = x.device.xp
    pixels = h * w_ * n
    ckk = o_g * kh * kw

    def backward(ctx, g):
        x_, w = ctx.saved  # x only when the weight needs a gradient, w only for x
        xp = ctx.xp
        gcols3 = xp.reshape(g, (groups, ckk, pixels))
        gx = gw = None
        if x.requires_grad:
            w3 = xp.reshape(w, (groups, c // groups, ckk))
            gx = _nchw(xp, xp.reshape(w3 @ gcols3, (c, h, w_, n)))
        if weight.requires_grad:
            x3 = xp.reshape(_chwn(xp, x_), (groups, c // groups, pixels))
            gw = xp.reshape(_weight_gradient(xp, x3, gcols3), weight.shape)
        return gx, gw

    x3 = xp.reshape(_chwn(xp, x.data), (groups, c // groups, pixels))
    w3 = xp.reshape(weight.data, (groups, c // groups, ckk))
    cols = _from_op(xp.reshape(xp.matrix_transpose(w3) @ x3, (o * kh * kw, pixels)), (x, weight),
                    backward, saved=(x if weight.requires_grad else None,
                                     weight if x.requires_grad else None))
    geometry = _Geometry(x.device, (n, o, ho, wo), (kh, kw), stride, dilation, padding, (0, 0),
                         (h, w_))
    y = col2im_op(cols, geometry)                                         # (N, C_out, Ho, Wo)
    return y if bias is None else y + reshape(bias, (1, o, 1, 1))


def conv_transpose1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution: x (N, C_in, L), weight (C_in, C_out/G, k), bias (C_out,)
    -> (N, C_out, Lo),  Lo = (L-1)s - 2p + d(k-1) + op + 1 (PyTorch's argument order).
    conv_transpose2d of the height-1 image (N, C_in, 1, L), as conv1d is conv2d's."""
    _check_operands("conv_transpose1d", x, weight, bias)
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"conv_transpose1d: expected an input (N, C_in, L) and a weight "
                         f"(C_in, C_out/G, k), got shapes {x.shape} and {weight.shape}")
    (s,), (p,) = _ntuple(stride, "stride", 1, 1), _ntuple(padding, "padding", 0, 1)
    (op,), (dl,) = (_ntuple(output_padding, "output_padding", 0, 1),
                    _ntuple(dilation, "dilation", 1, 1))
    y = conv_transpose2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, (1, s), (0, p), (0, op),
                         (1, dl), groups)
    return squeeze(y, 2)


# -- unfold and fold: im2col and col2im under PyTorch's names and layout -------------------------


def _unfold_arguments(op: str, x_shape, kernel_size, dilation, padding, stride):
    """unfold's and fold's arguments as pairs, with the window counts (Ho, Wo) they give on an
    (N, C, H, W) image: (kernel, dilation, padding, stride, out_hw)."""
    kernel = _pair(kernel_size, "kernel_size", 1)
    dilation, padding = _pair(dilation, "dilation", 1), _pair(padding, "padding", 0)
    stride = _pair(stride, "stride", 1)
    out_hw = tuple(conv_output_size(size, k, s, p, d) for size, k, s, p, d in zip(
        x_shape[2:], kernel, stride, padding, dilation, strict=True))
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise ValueError(f"{op}: image of spatial size {tuple(x_shape[2:])} is too small for "
                         f"kernel {kernel}, dilation {dilation}, padding {padding} (would give "
                         f"{out_hw} windows)")
    return kernel, dilation, padding, stride, out_hw


def unfold(x: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """PyTorch's unfold (im2col): x (N, C, H, W) -> (N, C*kh*kw, L), L = Ho*Wo windows,

        out[n, (c, i, j), (a, b)] = xpad[n, c, a*s + i*d, b*s + j*d]

    (rows channel by channel, then kernel rows and columns; windows in row-major order).
    It is im2col_op, whose (C*kh*kw, Ho*Wo*N) matrix is this tensor with the batch moved to
    the front; linear, so its backward is fold: differentiable to any order."""
    _check_input("unfold", x)
    n, c = x.shape[:2]
    kernel, dilation, padding, stride, out_hw = _unfold_arguments(
        "unfold", x.shape, kernel_size, dilation, padding, stride)
    geometry = _Geometry(x.device, x.shape, kernel, stride, dilation, padding, (0, 0), out_hw)
    cols = im2col_op(x, geometry)                                   # (C*kh*kw, L*N)
    rows, windows = c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
    return permute(reshape(cols, (rows, windows, n)), (2, 0, 1))     # (N, C*kh*kw, L)


def fold(x: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """PyTorch's fold (col2im), the adjoint of unfold: x (N, C*kh*kw, L) -> (N, C, H, W) for
    output_size (H, W): every column (one window) added back where unfold took it from, so
    overlapping windows add up (fold(unfold(x)) is x times the count of windows over each
    pixel). L must be the number of windows unfold gives for that size."""
    if not isinstance(x, Tensor) or x.ndim != 3:
        raise ValueError(f"fold: expected an input (N, C*kh*kw, L), got "
                         f"{getattr(x, 'shape', x)!r}")
    size = _pair(output_size, "output_size", 1)
    n, rows, windows = x.shape
    kernel_taps = math.prod(_pair(kernel_size, "kernel_size", 1))
    if rows % kernel_taps:
        raise ValueError(f"fold: {rows} rows are no multiple of the kernel's {kernel_taps} taps")
    c = rows // kernel_taps
    kernel, dilation, padding, stride, out_hw = _unfold_arguments(
        "fold", (n, c) + size, kernel_size, dilation, padding, stride)
    if out_hw[0] * out_hw[1] != windows:
        raise ValueError(f"fold: output_size {size} with this kernel/dilation/padding/stride "
                         f"has {out_hw[0] * out_hw[1]} windows, but the input has L = {windows}")
    geometry = _Geometry(x.device, (n, c) + size, kernel, stride, dilation, padding, (0, 0),
                         out_hw)
    cols = reshape(permute(x, (1, 2, 0)), (rows, windows * n))        # (C*kh*kw, L*N)
    return col2im_op(cols, geometry)
