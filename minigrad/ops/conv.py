"""Convolution, transposed convolution, pooling and upsampling of (N, C, H, W) tensors.

The convolution (PyTorch's, i.e. a cross-correlation) of x (N, C, H, W) with a weight
(O, C, kh, kw), stride s, zero padding p and dilation d is

    y[n, o, a, b] = bias[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, c, a*s + i*d, b*s + j*d]

with xpad = x surrounded by p zeros, and per spatial axis   H_out = (H + 2p - d(k-1) - 1)//s + 1.

im2col turns this into ONE matrix product. For a fixed kernel tap (i, j), the strided slice
xpad[c, i*d :: s, j*d :: s] lists, for every output pixel, the input value that tap multiplies.
Copying the kh*kw slices into a matrix ``cols`` with one row per (c, i, j) and one column per
output pixel gives  y = W @ cols,  W = w reshaped to (O, C*kh*kw). The Python loop runs over
the kh*kw taps only; each step copies a whole slice (all pixels, all batch items) at once.

Memory layout: inside this file images live as (C, H, W, N), batch axis last, because then
  - each slice copy moves contiguous runs of N numbers, fast even for tiny images;
  - W @ cols, of shape (O, Ho*Wo*N), already is the output in that layout, and the
    (N, O, Ho, Wo) tensor handed back is a permuted view of it (no copy);
  - the next layer receives its input in (C, H, W, N) order, so its copies stay cheap too.
``_chwn`` and ``_nchw`` switch between the two views of the same memory.

Backward, with g2 = the output gradient as (O, Ho*Wo*N):
    dW = g2 @ cols^T          (cols kept from the forward pass, not recomputed)
    dx = col2im(W^T @ g2)     col2im = the adjoint of im2col: the same loop over taps, adding
                              each block back into the slice it came from (overlaps add up).
The transposed convolution is the adjoint of the convolution: its forward is conv2d's input
gradient and its backward is a convolution. Pooling reduces the im2col matrix over its taps.
"""

from __future__ import annotations

import functools
import math

from minigrad.backend import Device, DeviceError
from minigrad.ops.linalg import _axis_sum, matmul
from minigrad.ops.shape import permute, reshape
from minigrad.tensor import Tensor, _from_op, _leaf

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample",
           "conv_output_size", "conv_transpose_output_size", "pool_output_size"]


# -- sizes and arguments ----------------------------------------------------------------------

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
    """An int or a pair of ints, each >= low, as a pair (height, width)."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= low for v in pair):
        raise ValueError(f"{name} must be an int >= {low} or a pair of them, got {value!r}")
    return pair


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
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got {shape}")
    _check_operands(op, x, *others)


def _check_operands(op: str, x: Tensor, *others: Tensor | None) -> None:
    """The parameters (None: absent) must live on the input's device. Mixed dtypes promote
    as in every other op (float32 weights with float64 data compute in float64)."""
    for t in others:
        if t is not None and t.device is not x.device:
            raise DeviceError(f"{op}: input on {x.device} but parameter on {t.device}; "
                              "move the layer with .to(device)")


def _check_weight(op: str, weight: Tensor, expected: str) -> None:
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a weight of shape {expected}, got {weight.shape}")


def _check_output(op: str, x: Tensor, out_hw: tuple[int, int]) -> None:
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise ValueError(f"{op}: input of spatial size {x.shape[2:]} is too small for this "
                         f"kernel/stride/padding (output size would be {out_hw})")


# -- the two layouts, padding, im2col and col2im ----------------------------------------------

def _chwn(xp, a):
    """(N, C, H, W) -> (C, H, W, N), a view."""
    return xp.permute_dims(a, (1, 2, 3, 0))


def _nchw(xp, a):
    """(C, H, W, N) -> (N, C, H, W), a view."""
    return xp.permute_dims(a, (3, 0, 1, 2))


def _padded(dev: Device, a, padding: tuple[int, int], fill: float = 0.0,
            extra: tuple[int, int] = (0, 0)):
    """(C, H, W, N) -> a new (C, H + 2ph + eh, W + 2pw + ew, N) array with ``fill`` around
    (``extra``: more of it below and to the right, for padding="same" with an odd total and
    for ceil_mode's partial pooling windows).

    A copy even without padding: then each tap of im2col reads contiguous runs of N values,
    whatever the memory order of ``a`` (reading an (N, C, H, W)-ordered input in place, nine
    times, is several times slower than copying it once).
    """
    (ph, pw), (eh, ew) = padding, extra
    c, h, w, n = a.shape
    out = dev.xp.empty((c, h + 2 * ph + eh, w + 2 * pw + ew, n), dtype=a.dtype,
                       device=dev.native)
    out[:, ph:ph + h, pw:pw + w, :] = a
    # Only the border gets the fill (writing the whole array first would be a second pass).
    out[:, :ph, ...] = fill
    out[:, ph + h:, ...] = fill
    out[:, ph:ph + h, :pw, :] = fill
    out[:, ph:ph + h, pw + w:, :] = fill
    return out


def _cropped(a, padding: tuple[int, int], size: tuple[int, int]):
    """The inverse of _padded: the centre (C, H, W, N) of a padded array, a view."""
    (ph, pw), (h, w) = padding, size
    return a[:, ph:ph + h, pw:pw + w, :]


def _tap(i: int, j: int, stride, dilation, out_hw) -> tuple[slice, ...]:
    """Where kernel tap (i, j) reads for all outputs: rows i*d, i*d + s, ... (Ho of them)."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    return (slice(None), slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (wo - 1) + 1, sw), slice(None))


def _im2col(dev: Device, xpad, kernel, stride, dilation, out_hw):
    """(C, Hp, Wp, N) -> cols (C*kh*kw, Ho*Wo*N) with
    cols[(c, i, j), (a, b, n)] = xpad[c, a*s + i*d, b*s + j*d, n]."""
    xp = dev.xp
    (kh, kw), (ho, wo) = kernel, out_hw
    c, n = xpad.shape[0], xpad.shape[3]
    cols = xp.empty((c, kh, kw, ho, wo, n), dtype=xpad.dtype, device=dev.native)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j, ...] = xpad[_tap(i, j, stride, dilation, out_hw)]
    return xp.reshape(cols, (c * kh * kw, ho * wo * n))


def _col2im(dev: Device, cols, padded_shape, kernel, stride, dilation, out_hw, start=0.0):
    """The adjoint of _im2col: cols (C*kh*kw, Ho*Wo*N) -> (C, Hp, Wp, N), every tap's block
    added back into the slice it was copied from, on top of ``start`` (a scalar or an array
    broadcastable to (C, Hp, Wp, N): conv_transpose2d starts from its bias, saving a pass)."""
    xp = dev.xp
    (kh, kw), (ho, wo) = kernel, out_hw
    c, n = padded_shape[0], padded_shape[3]
    cols = xp.reshape(cols, (c, kh, kw, ho, wo, n))
    out = xp.empty(padded_shape, dtype=cols.dtype, device=dev.native)
    out[...] = start
    for i in range(kh):
        for j in range(kw):
            out[_tap(i, j, stride, dilation, out_hw)] += cols[:, i, j, ...]
    return out


def _weight_gradient(xp, a, b):
    """a (G, M, P) @ b (G, K, P)^T for each group, the weight gradient's product, whose inner
    axis P (one entry per output pixel of the batch) is long. Computed as (b @ a^T)^T when b
    has more rows: OpenBLAS runs these long-inner products faster with the larger output side
    as rows (for conv2d's 64 x 288 gradient at batch 128: 1.1 ms instead of 1.5 ms with
    SkylakeX kernels)."""
    if b.shape[-2] > a.shape[-2]:
        return xp.matrix_transpose(b @ xp.matrix_transpose(a))
    return a @ xp.matrix_transpose(b)


def _groups(op: str, groups, *channels: int) -> int:
    """groups must divide the channel counts: each group of C/G input channels feeds its own
    O/G output channels."""
    if not isinstance(groups, int) or groups < 1 or any(n % groups for n in channels):
        raise ValueError(f"{op}: groups must be an int >= 1 dividing the channel counts "
                         f"{channels}, got {groups!r}")
    return groups


# -- convolution --------------------------------------------------------------------------------

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
    groups = _groups("conv2d", groups, c, o)
    if c != c_w * groups:
        raise ValueError(f"conv2d: weight of shape {weight.shape} with groups={groups} expects "
                         f"{c_w * groups} input channels, got an input of shape {x.shape}")
    out_hw = (conv_output_size(h + extra[0], kh, stride[0], padding[0], dilation[0]),
              conv_output_size(w + extra[1], kw, stride[1], padding[1], dilation[1]))
    _check_output("conv2d", x, out_hw)
    dev, xp = x.device, x.device.xp
    ho, wo = out_hw

    xpad = _padded(dev, _chwn(xp, x.data), padding, extra=extra)          # (C, Hp, Wp, N)
    padded_shape = tuple(xpad.shape)
    cols = _im2col(dev, xpad, (kh, kw), stride, dilation, out_hw)         # (C*kh*kw, Ho*Wo*N)
    pixels = ho * wo * n
    cols3 = xp.reshape(cols, (groups, c_w * kh * kw, pixels))
    w3 = xp.reshape(weight.data, (groups, o // groups, c_w * kh * kw))
    out = xp.reshape(w3 @ cols3, (o, pixels))                             # (O, Ho*Wo*N)
    if bias is not None:
        out += xp.astype(xp.reshape(bias.data, (o, 1)), out.dtype)
    y = _nchw(xp, xp.reshape(out, (o, ho, wo, n)))

    def backward(g):
        g2 = xp.reshape(_chwn(xp, g), (o, pixels))
        g3 = xp.reshape(g2, (groups, o // groups, pixels))
        gx = gw = gb = None
        if x.requires_grad:
            gcols = xp.reshape(xp.matrix_transpose(w3) @ g3, (c * kh * kw, pixels))
            dxpad = _col2im(dev, gcols, padded_shape, (kh, kw), stride, dilation, out_hw)
            gx = _nchw(xp, _cropped(dxpad, padding, (h, w)))
        if weight.requires_grad:
            gw = xp.reshape(_weight_gradient(xp, g3, cols3), weight.shape)
        if bias is not None and bias.requires_grad:
            gb = _axis_sum(dev, g2, axis=1)
        return (gx, gw) if bias is None else (gx, gw, gb)

    return _from_op(y, (x, weight) if bias is None else (x, weight, bias), backward)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, dilation=1, groups: int = 1) -> Tensor:
    """Transposed convolution: x (N, C_in, H, W), weight (C_in, C_out/G, kh, kw), bias (C_out,)
    -> (N, C_out, Ho, Wo),  Ho = (H-1)s - 2p + d(k-1) + op + 1.

    Every input pixel x[n, c, a, b] adds x[n, c, a, b] * w[c, :, i, j] at output row
    a*s + i*d - p, column b*s + j*d - p: the adjoint (transpose) of conv2d with this weight.
    Steps:  x2 (C_in, H*W*N) -> cols = W^T @ x2 (C_out*kh*kw, H*W*N)
            -> col2im into (C_out, Ho + 2p, Wo + 2p, N) -> cropped, viewed as (N, C_out, Ho, Wo).
    Backward (conv2d's forward):  gcols = im2col(g padded) (C_out*kh*kw, H*W*N),
            dx = W @ gcols,  dW = x2 @ gcols^T,  db = sum of g over (N, Ho, Wo).
    With G groups the products are taken per group on stacks of G blocks, as in conv2d.
    output_padding (op) must be smaller than the stride or the dilation (as in PyTorch).
    """
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    output_padding = _pair(output_padding, "output_padding", 0)
    _check_input("conv_transpose2d", x, weight, bias)
    _check_weight("conv_transpose2d", weight, "(C_in, C_out, kh, kw)")
    n, c, h, w = x.shape
    c_w, o_g, kh, kw = weight.shape
    if c != c_w:
        raise ValueError(f"conv_transpose2d: weight of shape {weight.shape} expects {c_w} "
                         f"input channels, got an input of shape {x.shape}")
    groups = _groups("conv_transpose2d", groups, c)
    o = o_g * groups
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller "
                         f"than the stride {stride} or the dilation {dilation}")
    ho, wo = (conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d in zip(
        (h, w), (kh, kw), stride, padding, output_padding, dilation, strict=True))
    _check_output("conv_transpose2d", x, (ho, wo))
    dev, xp = x.device, x.device.xp
    ph, pw = padding

    pixels = h * w * n
    x3 = xp.reshape(_chwn(xp, x.data), (groups, c // groups, pixels))
    w3 = xp.reshape(weight.data, (groups, c // groups, o_g * kh * kw))
    padded_shape = (o, ho + 2 * ph, wo + 2 * pw, n)
    cols = xp.reshape(xp.matrix_transpose(w3) @ x3, (o * kh * kw, pixels))  # (C_out*kh*kw, H*W*N)
    start = 0.0 if bias is None else xp.astype(xp.reshape(bias.data, (o, 1, 1, 1)), cols.dtype)
    out = _col2im(dev, cols, padded_shape, (kh, kw), stride, dilation, (h, w), start)
    y = _nchw(xp, _cropped(out, padding, (ho, wo)))                       # of (C_out, Ho, Wo, N)

    def backward(g):
        gpad = _padded(dev, _chwn(xp, g), padding)
        gcols = _im2col(dev, gpad, (kh, kw), stride, dilation, (h, w))   # (C_out*kh*kw, H*W*N)
        gcols3 = xp.reshape(gcols, (groups, o_g * kh * kw, pixels))
        gx = gw = gb = None
        if x.requires_grad:
            gx = _nchw(xp, xp.reshape(w3 @ gcols3, (c, h, w, n)))
        if weight.requires_grad:
            gw = xp.reshape(_weight_gradient(xp, x3, gcols3), weight.shape)
        if bias is not None and bias.requires_grad:
            gb = xp.sum(g, axis=(0, 2, 3))
        return (gx, gw) if bias is None else (gx, gw, gb)

    return _from_op(y, (x, weight) if bias is None else (x, weight, bias), backward)


# -- pooling ------------------------------------------------------------------------------------

def _pool_windows(op: str, x: Tensor, kernel_size, stride, padding, ceil_mode: bool,
                  fill: float):
    """The im2col matrix of the pooling windows, as (C, kh*kw, Ho*Wo*N), and the geometry.
    With ceil_mode the last windows may reach past the padding: ``fill`` there too."""
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    _check_input(op, x)
    if any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    n, c, h, w = x.shape
    out_hw = tuple(pool_output_size(size, k, s, p, ceil_mode) for size, k, s, p in zip(
        (h, w), kernel, stride, padding, strict=True))
    _check_output(op, x, out_hw)
    extra = tuple(max(0, (o - 1) * s + k - (size + 2 * p)) for o, s, k, size, p in zip(
        out_hw, stride, kernel, (h, w), padding, strict=True))
    dev = x.device
    xpad = _padded(dev, _chwn(dev.xp, x.data), padding, fill, extra)
    cols = _im2col(dev, xpad, kernel, stride, (1, 1), out_hw)
    windows = dev.xp.reshape(cols, (c, kernel[0] * kernel[1], out_hw[0] * out_hw[1] * n))
    return windows, (kernel, stride, padding, out_hw, tuple(xpad.shape))


def _pool_backward(x: Tensor, gcols, geometry):
    """dx from the gradient of the window matrix (C, kh*kw, Ho*Wo*N): col2im, crop, view."""
    kernel, stride, padding, out_hw, padded_shape = geometry
    dev = x.device
    dxpad = _col2im(dev, gcols, padded_shape, kernel, stride, (1, 1), out_hw)
    return _nchw(dev.xp, _cropped(dxpad, padding, x.shape[2:]))


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False) -> Tensor:
    """Maximum over each kh x kw window (stride defaults to the kernel; padding counts as -inf).
    ceil_mode: also the last, partial windows (sizes from pool_output_size).

    (N, C, H, W) -> (N, C, Ho, Wo): the window matrix (C, kh*kw, Ho*Wo*N) reduced over its
    taps. The backward routes each output's gradient to the first tap of its window that
    holds the maximum (one tap on ties, as PyTorch), then col2im. (A loop over the taps: NumPy's
    argmax over a short middle axis is ten times slower.)
    """
    windows, geometry = _pool_windows("max_pool2d", x, kernel_size, stride, padding, ceil_mode,
                                      -math.inf)
    dev, xp = x.device, x.device.xp
    n, c = x.shape[:2]
    (ho, wo), taps = geometry[3], windows.shape[1]
    out = xp.max(windows, axis=1)                                          # (C, Ho*Wo*N)

    def backward(g):
        g2 = xp.reshape(_chwn(xp, g), (c, ho * wo * n))
        gcols = xp.empty(windows.shape, dtype=g2.dtype, device=dev.native)
        taken = xp.zeros(out.shape, dtype=xp.bool, device=dev.native)
        for k in range(taps):
            winner = (windows[:, k, :] == out) & ~taken
            gcols[:, k, :] = xp.astype(winner, g2.dtype) * g2
            taken |= winner
        return (_pool_backward(x, gcols, geometry),)

    return _from_op(_nchw(xp, xp.reshape(out, (c, ho, wo, n))), (x,), backward)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False) -> Tensor:
    """Mean over each kh x kw window (stride defaults to the kernel; zero padding is counted in
    the mean, as PyTorch's default count_include_pad=True).

    (N, C, H, W) -> (N, C, Ho, Wo). Backward: every tap of a window gets g / (its cell count,
    kh*kw). ceil_mode: also the last, partial windows; a window reaching past the padding
    averages only its cells inside the padded input (as PyTorch).
    """
    windows, geometry = _pool_windows("avg_pool2d", x, kernel_size, stride, padding, ceil_mode,
                                      0.0)
    xp = x.device.xp
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (ho, wo), _ = geometry

    def cells_inside(padded_size, s, out_size, k):
        """Window a of an axis has min(k, Hp - a s) cells inside the padded input (size Hp):
        k, but fewer for ceil_mode's partial windows, whose overhang does not count."""
        starts = s * xp.arange(out_size, dtype=windows.dtype, device=x.device.native)
        return xp.clip(padded_size - starts, None, k)

    rows, cols = cells_inside(h + 2 * ph, sh, ho, kh), cells_inside(w + 2 * pw, sw, wo, kw)
    divisor = xp.reshape(rows[:, None] * cols[None, :], (1, ho, wo, 1))
    out = xp.reshape(xp.sum(windows, axis=1), (c, ho, wo, n)) / divisor

    def backward(g):
        g2 = xp.reshape(_chwn(xp, g) / divisor, (c, 1, ho * wo * n))
        return (_pool_backward(x, xp.broadcast_to(g2, windows.shape), geometry),)

    return _from_op(_nchw(xp, out), (x,), backward)


# -- upsampling ---------------------------------------------------------------------------------

def upsample(x: Tensor, scale_factor=None, mode: str = "nearest",
             align_corners: bool = False, size=None) -> Tensor:
    """Resize (N, C, H, W) by an integer scale_factor, to (N, C, H*sh, W*sw), or to a given
    size (Ho, Wo); one of the two (each an int or a pair), as PyTorch's interpolate.

    mode="nearest": output row r reads input row floor(r H / Ho) (computed exactly in
        integers). With an integer scale each pixel becomes an sh x sw block (a broadcast),
        and the backward sums the gradient over each block.
    mode="bilinear": y = A_h x A_w^T per image, where A (size_out, size_in) holds the linear
        interpolation weights along one axis, sampled as PyTorch does (align_corners=False:
        source coordinate (r + 0.5) H/Ho - 0.5, clamped at 0); differentiated by matmul.
        A nearest resize to a size that is no multiple of the input uses the same products,
        with one weight of 1 per row.
    """
    scale_factor, size = _resize_arguments("upsample", scale_factor, size, mode)
    _check_input("upsample", x)
    h, w = x.shape[2:]
    if size is not None:
        if size[0] % h or size[1] % w:
            return _resize(x, size, mode, align_corners)
        scale_factor = (size[0] // h, size[1] // w)
    sh, sw = scale_factor
    if mode == "nearest":
        return _upsample_nearest(x, sh, sw)
    return _resize(x, (h * sh, w * sw), mode, align_corners)


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


def _upsample_nearest(x: Tensor, sh: int, sw: int) -> Tensor:
    xp = x.device.xp
    n, c, h, w = x.shape
    a = _chwn(xp, x.data)[:, :, None, :, None, :]                          # (C, H, 1, W, 1, N)
    out = xp.reshape(xp.broadcast_to(a, (c, h, sh, w, sw, n)), (c, h * sh, w * sw, n))

    def backward(g):
        blocks = xp.reshape(_chwn(xp, g), (c, h, sh, w, sw, n))
        return (_nchw(xp, xp.sum(blocks, axis=(2, 4))),)

    return _from_op(_nchw(xp, out), (x,), backward)


def _resize(x: Tensor, out_hw: tuple[int, int], mode: str, align_corners: bool) -> Tensor:
    """(N, C, H, W) -> (N, C, Ho, Wo) as two products with (Ho, H) and (Wo, W) matrices."""
    n, c, h, w = x.shape
    ho, wo = out_hw
    a_h, a_w = (_leaf(_interpolation_matrix(n_in, n_out, mode, align_corners, x.device,
                                            x.dtype), x.device)
                for n_in, n_out in ((h, ho), (w, wo)))
    a = reshape(permute(x, (1, 2, 3, 0)), (c, h, w * n))                   # (C, H, W*N)
    a = reshape(matmul(a_h, a), (c * ho, w, n))                            # rows resized
    a = reshape(matmul(a_w, a), (c, ho, wo, n))                            # columns too
    return permute(a, (3, 0, 1, 2))


@functools.lru_cache(maxsize=64)
def _interpolation_matrix(n_in: int, n_out: int, mode: str, align_corners: bool, dev: Device,
                          dtype):
    """(n_out, n_in) interpolation weights along one axis, built once per size, on the device.
    "nearest": output r reads input floor(r n_in / n_out), weight 1. "bilinear": output r
    reads the inputs lo and lo + 1 around its source coordinate, with weights 1 - frac and
    frac (both at the last input past the end)."""
    xp = dev.xp
    inputs = xp.arange(n_in, dtype=dev.xp_dtype(dtype), device=dev.native)[None, :]
    if mode == "nearest":  # in integers: r * (n_in / n_out) in floats can round down wrongly
        source = xp.arange(n_out, dtype=xp.int64, device=dev.native) * n_in // n_out
        return xp.astype(inputs == xp.astype(source, inputs.dtype)[:, None], inputs.dtype)
    r = xp.arange(n_out, dtype=inputs.dtype, device=dev.native)
    if align_corners:
        source = r * ((n_in - 1) / (n_out - 1)) if n_out > 1 else r * 0
    else:
        source = xp.clip((r + 0.5) * (n_in / n_out) - 0.5, 0.0, None)
    lo = xp.clip(xp.floor(source), None, n_in - 1)
    hi = xp.clip(lo + 1, None, n_in - 1)
    frac = source - lo
    return (xp.astype(inputs == lo[:, None], r.dtype) * (1 - frac)[:, None]
            + xp.astype(inputs == hi[:, None], r.dtype) * frac[:, None])
