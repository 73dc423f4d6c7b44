"""Convolution and transposed convolution of (N, C, H, W) tensors.

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
"""

from __future__ import annotations

from minigrad.ops.im2col import _chwn, _Geometry, _nchw, col2im_op, im2col_op
from minigrad.ops.linalg import _axis_sum
from minigrad.ops.shape import reshape
from minigrad.ops.spatial_args import (
    _check_bias,
    _check_input,
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

__all__ = ["conv2d", "conv_transpose2d"]


def _weight_gradient(xp, a, b):
    """a (G, M, P) @ b (G, K, P)^T for each group, the weight gradient's product, whose inner
    axis P (one entry per output pixel of the batch) is long. Computed as (b @ a^T)^T when b
    has more rows: OpenBLAS runs these long-inner products faster with the larger output side
    as rows (for conv2d's 64 x 288 gradient at batch 128: 1.1 ms instead of 1.5 ms with
    SkylakeX kernels)."""
    if b.shape[-2] > a.shape[-2]:
        return xp.matrix_transpose(b @ xp.matrix_transpose(a))
    return a @ xp.matrix_transpose(b)


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
    n, c, h, w = x.shape
    o, c_w, kh, kw = weight.shape
    _check_bias("conv2d", bias, o)
    groups = _groups("conv2d", groups, c, o)
    if c != c_w * groups:
        raise ValueError(f"conv2d: weight of shape {weight.shape} with groups={groups} expects "
                         f"{c_w * groups} input channels, got an input of shape {x.shape}")
    out_hw = (conv_output_size(h + extra[0], kh, stride[0], padding[0], dilation[0]),
              conv_output_size(w + extra[1], kw, stride[1], padding[1], dilation[1]))
    _check_output("conv2d", x, out_hw)
    xp = x.device.xp
    ho, wo = out_hw
    pixels = ho * wo * n
    geometry = _Geometry(x.device, x.shape, (kh, kw), stride, dilation, padding, extra, out_hw)
    cols = im2col_op(x, geometry)                                         # (C*kh*kw, Ho*Wo*N)
    w3 = xp.reshape(weight.data, (groups, o // groups, c_w * kh * kw))
    out = xp.reshape(w3 @ xp.reshape(cols.data, (groups, c_w * kh * kw, pixels)), (o, pixels))
    if bias is not None:
        out += xp.astype(xp.reshape(bias.data, (o, 1)), out.dtype)
    y = _nchw(xp, xp.reshape(out, (o, ho, wo, n)))                        # (N, O, Ho, Wo)

    def backward(ctx, g):
        cols_, w = ctx.saved  # cols only when the weight needs a gradient, w only for cols
        xp = ctx.xp
        g3 = xp.reshape(_chwn(xp, g), (groups, o // groups, pixels))
        gcols = gw = gb = None
        if cols.requires_grad:
            w3 = xp.reshape(w, (groups, o // groups, c_w * kh * kw))
            gcols = xp.reshape(xp.matrix_transpose(w3) @ g3, (c * kh * kw, pixels))
        if weight.requires_grad:
            cols3 = xp.reshape(cols_, (groups, c_w * kh * kw, pixels))
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
