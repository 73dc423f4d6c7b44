"""im2col and col2im: every convolution, transposed convolution and pooling window of this
package runs through this pair.

For a fixed kernel tap (i, j), the strided slice xpad[c, i*d :: s, j*d :: s] lists, for every
output pixel, the input value that tap multiplies. Copying the kh*kw slices into a matrix
``cols`` with one row per (c, i, j) and one column per output pixel turns a convolution into
one matrix product (see conv.py). The Python loop runs over the kh*kw taps only; each step
copies a whole slice (all pixels, all batch items) at once. col2im is its adjoint: the same
loop, adding each block back into the slice it came from (overlaps add up).

The same code serves 1-D, 2-D and 3-D windows (conv1d, conv3d): the taps loop over the
product of the kernel's axes, and each slice has one entry per spatial axis.

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

import itertools
import math

from minigrad.backend import Device
from minigrad.tensor import Tensor, _linear

__all__ = ["im2col_op", "col2im_op"]


def _chwn(xp, a):
    """(N, C, *spatial) -> (C, *spatial, N), a view (any number of spatial axes)."""
    return xp.permute_dims(a, tuple(range(1, a.ndim)) + (0,))


def _nchw(xp, a):
    """(C, *spatial, N) -> (N, C, *spatial), a view."""
    return xp.permute_dims(a, (a.ndim - 1,) + tuple(range(a.ndim - 1)))


def _padded(dev: Device, a, padding: tuple[int, ...], fill: float = 0,
            extra: tuple[int, ...] | None = None):
    """(C, *spatial, N) -> a new (C, ..., S_k + 2p_k + e_k, ..., N) array with ``fill`` around
    (``extra``: more of it after each axis, for padding="same" with an odd total and for
    ceil_mode's partial pooling windows). The same code for 1, 2 or 3 spatial axes.

    A copy even without padding: then each tap of im2col reads contiguous runs of N values,
    whatever the memory order of ``a`` (reading an (N, C, H, W)-ordered input in place, nine
    times, is several times slower than copying it once).
    """
    extra = (0,) * len(padding) if extra is None else extra
    sizes = a.shape[1:-1]
    out = dev.xp.empty((a.shape[0],) + tuple(s + 2 * p + e for s, p, e in
                                             zip(sizes, padding, extra, strict=True))
                       + (a.shape[-1],), dtype=a.dtype, device=dev.native)
    centre = tuple(slice(p, p + s) for p, s in zip(padding, sizes, strict=True))
    out[(slice(None),) + centre + (Ellipsis,)] = a
    # Only the border gets the fill (writing the whole array first would be a second pass):
    # along axis k, the slabs before and after the centre, within the centre of the axes
    # before k (already filled there) and across the whole of the axes after it.
    for k, (p, s) in enumerate(zip(padding, sizes, strict=True)):
        before = (slice(None),) + centre[:k]
        out[before + (slice(None, p), Ellipsis)] = fill
        out[before + (slice(p + s, None), Ellipsis)] = fill
    return out


def _cropped(a, padding: tuple[int, ...], size: tuple[int, ...]):
    """The inverse of _padded: the centre (C, *size, N) of a padded array, a view."""
    return a[(slice(None),) + tuple(slice(p, p + s) for p, s in zip(padding, size, strict=True))
             + (slice(None),)]


def _tap(taps: tuple[int, ...], stride, dilation, out_size) -> tuple[slice, ...]:
    """Where kernel tap (i, j, ...) reads for all outputs: along each axis, positions i*d,
    i*d + s, ... (one per output position)."""
    return ((slice(None),)
            + tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                    for i, s, d, o in zip(taps, stride, dilation, out_size, strict=True))
            + (slice(None),))


def _im2col(dev: Device, xpad, kernel, stride, dilation, out_size):
    """(C, *padded, N) -> cols (C*prod(kernel), prod(out_size)*N) with, in 2-D,
    cols[(c, i, j), (a, b, n)] = xpad[c, a*s + i*d, b*s + j*d, n]   (1-D, 3-D alike)."""
    xp = dev.xp
    c, n = xpad.shape[0], xpad.shape[-1]
    cols = xp.empty((c, *kernel, *out_size, n), dtype=xpad.dtype, device=dev.native)
    for taps in itertools.product(*(range(k) for k in kernel)):
        cols[(slice(None), *taps, Ellipsis)] = xpad[_tap(taps, stride, dilation, out_size)]
    return xp.reshape(cols, (c * math.prod(kernel), math.prod(out_size) * n))


def _col2im(dev: Device, cols, padded_shape, kernel, stride, dilation, out_size):
    """The adjoint of _im2col: cols (C*prod(kernel), prod(out_size)*N) -> (C, *padded, N),
    every tap's block added back into the slice it was copied from."""
    xp = dev.xp
    c, n = padded_shape[0], padded_shape[-1]
    cols = xp.reshape(cols, (c, *kernel, *out_size, n))
    out = xp.zeros(padded_shape, dtype=cols.dtype, device=dev.native)
    for taps in itertools.product(*(range(k) for k in kernel)):
        out[_tap(taps, stride, dilation, out_size)] += cols[(slice(None), *taps, Ellipsis)]
    return out


class _Geometry:
    """Where the windows of one im2col lie: an (N, C, *spatial) image (1, 2 or 3 spatial
    axes), padded by ``padding`` (and ``extra`` more zeros after each axis), read by a kernel
    of ``kernel`` taps with ``stride`` and ``dilation`` at ``out_hw`` output positions (one
    entry per spatial axis in each tuple; the name is from the 2-D case)."""

    __slots__ = ("dev", "shape", "kernel", "stride", "dilation", "padding", "extra", "out_hw")

    def __init__(self, dev: Device, shape, kernel, stride, dilation, padding, extra, out_hw):
        self.dev, self.shape, self.kernel, self.stride = dev, tuple(shape), kernel, stride
        self.dilation, self.padding, self.extra, self.out_hw = dilation, padding, extra, out_hw

    @property
    def padded_shape(self) -> tuple[int, ...]:
        n, c, *sizes = self.shape
        return (c, *(s + 2 * p + e for s, p, e in zip(sizes, self.padding, self.extra,
                                                      strict=True)), n)

    def to_cols(self, image, fill: float = 0):
        """(N, C, *spatial) -> cols (C*prod(kernel), prod(out)*N), padding filled with
        ``fill``."""
        dev = self.dev
        xpad = _padded(dev, _chwn(dev.xp, image), self.padding, fill, self.extra)
        return _im2col(dev, xpad, self.kernel, self.stride, self.dilation, self.out_hw)

    def from_cols(self, cols):
        """The adjoint of to_cols (zero fill): cols -> (N, C, *spatial), blocks added back."""
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
