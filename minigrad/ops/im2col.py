"""im2col and col2im: every convolution, transposed convolution and pooling window of this
package runs through this pair.

For a fixed kernel tap (i, j), the strided slice xpad[c, i*d :: s, j*d :: s] lists, for every
output pixel, the input value that tap multiplies. Copying the kh*kw slices into a matrix
``cols`` with one row per (c, i, j) and one column per output pixel turns a convolution into
one matrix product (see conv.py). The Python loop runs over the kh*kw taps only; each step
copies a whole slice (all pixels, all batch items) at once. col2im is its adjoint: the same
loop, adding each block back into the slice it came from (overlaps add up).

Memory layout: inside these ops images live as (C, H, W, N), batch axis last, because then
  - each slice copy moves contiguous runs of N numbers, fast even for tiny images;
  - W @ cols, of shape (O, Ho*Wo*N), already is the output in that layout, and the
    (N, O, Ho, Wo) tensor handed back is a permuted view of it (no copy);
  - the next layer receives its input in (C, H, W, N) order, so its copies stay cheap too.
``_chwn`` and ``_nchw`` switch between the two views of the same memory.

im2col (with its zero padding) is linear in the image, and col2im is its adjoint, so as ops
(``im2col_op``) each one's backward is the other: differentiable to any order.
"""

from __future__ import annotations

from minigrad.backend import Device
from minigrad.tensor import Tensor, _linear

__all__ = ["im2col_op", "col2im_op"]


def _chwn(xp, a):
    """(N, C, H, W) -> (C, H, W, N), a view."""
    return xp.permute_dims(a, (1, 2, 3, 0))


def _nchw(xp, a):
    """(C, H, W, N) -> (N, C, H, W), a view."""
    return xp.permute_dims(a, (3, 0, 1, 2))


def _padded(dev: Device, a, padding: tuple[int, int], fill: float = 0,
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


def _col2im(dev: Device, cols, padded_shape, kernel, stride, dilation, out_hw):
    """The adjoint of _im2col: cols (C*kh*kw, Ho*Wo*N) -> (C, Hp, Wp, N), every tap's block
    added back into the slice it was copied from."""
    xp = dev.xp
    (kh, kw), (ho, wo) = kernel, out_hw
    c, n = padded_shape[0], padded_shape[3]
    cols = xp.reshape(cols, (c, kh, kw, ho, wo, n))
    out = xp.zeros(padded_shape, dtype=cols.dtype, device=dev.native)
    for i in range(kh):
        for j in range(kw):
            out[_tap(i, j, stride, dilation, out_hw)] += cols[:, i, j, ...]
    return out


class _Geometry:
    """Where the windows of one im2col lie: an (N, C, H, W) image, padded by ``padding``
    (and ``extra`` more zeros below and to the right), read by a kernel of ``kernel`` taps
    with ``stride`` and ``dilation`` at ``out_hw`` output positions."""

    __slots__ = ("dev", "shape", "kernel", "stride", "dilation", "padding", "extra", "out_hw")

    def __init__(self, dev: Device, shape, kernel, stride, dilation, padding, extra, out_hw):
        self.dev, self.shape, self.kernel, self.stride = dev, tuple(shape), kernel, stride
        self.dilation, self.padding, self.extra, self.out_hw = dilation, padding, extra, out_hw

    @property
    def padded_shape(self) -> tuple[int, ...]:
        n, c, h, w = self.shape
        (ph, pw), (eh, ew) = self.padding, self.extra
        return (c, h + 2 * ph + eh, w + 2 * pw + ew, n)

    def to_cols(self, image, fill: float = 0):
        """(N, C, H, W) -> cols (C*kh*kw, Ho*Wo*N), the padding filled with ``fill``."""
        dev = self.dev
        xpad = _padded(dev, _chwn(dev.xp, image), self.padding, fill, self.extra)
        return _im2col(dev, xpad, self.kernel, self.stride, self.dilation, self.out_hw)

    def from_cols(self, cols):
        """The adjoint of to_cols (zero fill): cols -> (N, C, H, W), blocks added back."""
        dev = self.dev
        padded = _col2im(dev, cols, self.padded_shape, self.kernel, self.stride, self.dilation,
                         self.out_hw)
        return _nchw(dev.xp, _cropped(padded, self.padding, self.shape[2:]))


def im2col_op(x: Tensor, geometry: _Geometry, fill: float = 0) -> Tensor:
    """x (N, C, H, W) -> its windows (C*kh*kw, Ho*Wo*N), an op. ``fill`` pads the values
    (pooling pads with -inf); gradients see zero padding, which receives no gradient."""
    data = geometry.to_cols(x.data, fill) if fill != 0 else None
    return _linear(x, geometry.to_cols, geometry.from_cols, "im2col", data=data)


def col2im_op(cols: Tensor, geometry: _Geometry) -> Tensor:
    """cols (C*kh*kw, Ho*Wo*N) -> the (N, C, H, W) image they add up to, an op (the adjoint
    of im2col_op, e.g. the transposed convolution's output)."""
    return _linear(cols, geometry.from_cols, geometry.to_cols, "col2im")
