"""Corruptions for the conditioned autoencoders: noise, masks, downsampling, gray conversion.

Every function takes and returns minigrad Tensors and uses only public minigrad ops and the
tensor's own device's generator (``mg.rand``, ``mg.randn``, ``mg.where`` ...), so it runs
inside a trainer's ``loss_fn`` on any device, a fresh corruption for every batch.
``mg.manual_seed`` makes the draws reproducible. To corrupt NumPy images (for a baseline),
wrap them: ``downsample(mg.tensor(images), 2).numpy()``.

Images are (..., H, W): any leading axes (batch, channel) are carried along; the last two
axes are the pixel grid. Masks are boolean tensors, True where a pixel is missing.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import Tensor

__all__ = [
    "NOISES",
    "bottom_half_mask",
    "center_square_mask",
    "downsample",
    "fill_masked",
    "gaussian_noise",
    "masking_noise",
    "random_pixel_mask",
    "salt_pepper_noise",
    "to_gray",
    "upsample_nearest",
]


# ---------------------------------------------------------------------------------------------
# Noise (denoising autoencoders; Vincent et al. 2010 used the same three kinds)
# ---------------------------------------------------------------------------------------------


def gaussian_noise(x: Tensor, sigma: float = 0.5, clip: bool = True) -> Tensor:
    """x + sigma * N(0, 1) per pixel, clipped to [0, 1] unless ``clip`` is False."""
    noisy = x + sigma * mg.randn(*x.shape, dtype=x.dtype, device=x.device)
    return noisy.clamp(0.0, 1.0) if clip else noisy


def masking_noise(x: Tensor, fraction: float = 0.25) -> Tensor:
    """x with a random ``fraction`` of its pixels (each independently) set to 0."""
    return fill_masked(x, random_pixel_mask(x.shape, fraction, x.device), 0.0)


def salt_pepper_noise(x: Tensor, fraction: float = 0.25) -> Tensor:
    """x with a random ``fraction`` of its pixels set to 0 or 1, each with probability 1/2."""
    u = mg.rand(*x.shape, dtype=x.dtype, device=x.device)
    # One uniform draw decides both: u < fraction/2 -> pepper (0), u > 1 - fraction/2 -> salt.
    salted = mg.where(u > 1.0 - fraction / 2, 1.0, x)
    return mg.where(u < fraction / 2, 0.0, salted)


# name -> function(x, level): the denoising demo's --noise choices
NOISES = {
    "gaussian": gaussian_noise,
    "masking": masking_noise,
    "salt_pepper": salt_pepper_noise,
}


# ---------------------------------------------------------------------------------------------
# Masks (image completion)
# ---------------------------------------------------------------------------------------------


def center_square_mask(height: int, width: int, size: int, device=None) -> Tensor:
    """(height, width) boolean mask, True on the centred ``size`` x ``size`` square."""
    top, left = (height - size) // 2, (width - size) // 2
    mask = np.zeros((height, width), dtype=bool)  # a fixed pattern: built once on the host
    mask[top : top + size, left : left + size] = True
    return mg.tensor(mask, device=device)


def bottom_half_mask(height: int, width: int, device=None) -> Tensor:
    """(height, width) boolean mask, True on the bottom height // 2 rows."""
    mask = np.zeros((height, width), dtype=bool)
    mask[height - height // 2 :] = True
    return mg.tensor(mask, device=device)


def random_pixel_mask(shape: tuple[int, ...], fraction: float, device=None) -> Tensor:
    """Boolean mask of ``shape``, each entry True with probability ``fraction``."""
    return mg.rand(*shape, device=device) < fraction


def fill_masked(x: Tensor, mask: Tensor, fill) -> Tensor:
    """x with the masked pixels replaced by ``fill`` (a number, or a tensor broadcasting
    against x such as a mean image). ``mask`` broadcasts against x."""
    return mg.where(mask, fill, x)


# ---------------------------------------------------------------------------------------------
# Resolution (super-resolution)
# ---------------------------------------------------------------------------------------------


def downsample(x: Tensor, factor: int) -> Tensor:
    """(..., H, W) -> (..., H/factor, W/factor): the mean of each factor x factor block."""
    *lead, h, w = x.shape
    if h % factor or w % factor:
        raise ValueError(f"downsample by {factor} needs H and W divisible by it, got {(h, w)}")
    blocks = x.reshape(*lead, h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(-3, -1))


def upsample_nearest(x: Tensor, factor: int) -> Tensor:
    """(..., h, w) -> (..., h*factor, w*factor): each pixel repeated into a factor x factor
    block (the inverse of ``downsample`` on blockwise-constant images)."""
    *lead, h, w = x.shape
    spread = x.reshape(*lead, h, 1, w, 1).broadcast_to(*lead, h, factor, w, factor)
    return spread.reshape(*lead, h * factor, w * factor)


# ---------------------------------------------------------------------------------------------
# Colour (colorization)
# ---------------------------------------------------------------------------------------------

# ITU-R BT.601 luma weights, the Y of YIQ/YUV (and of skimage.color.rgb2gray up to rounding).
LUMA = (0.299, 0.587, 0.114)


def to_gray(rgb: Tensor) -> Tensor:
    """(..., 3) RGB -> (...,) luma Y = 0.299 R + 0.587 G + 0.114 B."""
    if rgb.shape[-1] != 3:
        raise ValueError(f"to_gray needs RGB in the last axis (size 3), got shape {rgb.shape}")
    weights = mg.tensor(LUMA, dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights).sum(axis=-1)
