"""Image restoration tasks of the lecture: what the demos corrupt and the classical baselines
they compare the autoencoders with.

- Denoising: a fixed corruption of the test set (`corrupt_images`) and the classical filter
  tuned on training digits (`best_filter` among `classical_filters`).
- Super-resolution: block-mean downsampling and spline upsampling (nearest, bicubic).
- Completion: three kinds of mask per image (`draw_masks`), the mean-filled training input
  (`masking`), and the masked pixels shown in red (`highlight`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from scipy import ndimage

import minigrad as mg
from autoencoders import corrupt, tasks

__all__ = ["KINDS", "best_filter", "classical_filters", "complete_per_kind", "corrupt_images",
           "downsample", "draw_masks", "highlight", "masking", "upsample"]

KINDS = ("centre square", "bottom half", "random pixels")  # completion masks, in kind order


def corrupt_images(images: np.ndarray, noise: str, level: float, seed: int) -> np.ndarray:
    """A fixed corruption of host images (the test set), drawn on the CPU with ``seed``."""
    mg.manual_seed(seed)
    return corrupt.NOISES[noise](mg.tensor(images), level).numpy()


def classical_filters() -> dict[str, Callable]:
    """Candidate filters on (N, H, W) images, each smoothing within an image only."""
    filters = {}
    for sigma in (0.5, 0.75, 1.0, 1.5):
        filters[f"Gaussian blur sigma={sigma}"] = functools.partial(
            ndimage.gaussian_filter, sigma=(0, sigma, sigma))
    for size in (2, 3):
        filters[f"median filter {size}x{size}"] = functools.partial(
            ndimage.median_filter, size=(1, size, size))
    return filters


def best_filter(noisy: np.ndarray, clean: np.ndarray) -> tuple[str, Callable]:
    """The candidate filter with the best mean PSNR on (noisy, clean) training digits."""
    filters = classical_filters()
    psnrs = {name: tasks.image_scores(f(noisy), clean, with_ssim=False)["psnr"]
             for name, f in filters.items()}
    name = max(psnrs, key=psnrs.get)
    return name, filters[name]


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Block means of host images (..., H, W) (corrupt.downsample on the CPU)."""
    return corrupt.downsample(mg.tensor(images), factor).numpy()


def upsample(images: np.ndarray, size: tuple[int, int], order: int) -> np.ndarray:
    """(N, h, w) -> (N, *size) by spline interpolation of ``order`` (0 nearest, 3 bicubic),
    image by image (resizing a stack would also interpolate across images)."""
    from skimage.transform import resize  # a second to import: only when used

    return np.stack([resize(image, size, order=order, anti_aliasing=False)
                     for image in images]).astype(np.float32)


def draw_masks(x: mg.Tensor, kind: mg.Tensor, square: int, fraction: float) -> mg.Tensor:
    """Boolean masks (True = missing) shaped like images x (N, 1, H, W): image i gets the
    centre square if kind[i] == 0, the bottom half if 1, random pixels if 2. kind: (N,) ints."""
    h, w = x.shape[-2:]
    kind = kind.reshape(-1, 1, 1, 1)
    centre = corrupt.center_square_mask(h, w, square, device=x.device)
    bottom = corrupt.bottom_half_mask(h, w, device=x.device)
    pixels = corrupt.random_pixel_mask(x.shape, fraction, device=x.device)
    return mg.where(kind == 0, centre, mg.where(kind == 1, bottom, pixels))


def masking(mean_image: np.ndarray, square: int, fraction: float):
    """corrupt(x) for the trainer: a random kind and mask per image, filled with the mean."""
    def corrupt_batch(x: mg.Tensor) -> mg.Tensor:
        kind = mg.randint(0, len(KINDS), size=(x.shape[0],), device=x.device)
        mask = draw_masks(x, kind, square, fraction)
        return corrupt.fill_masked(x, mask, mg.tensor(mean_image, device=x.device))

    return corrupt_batch


def highlight(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Grey images (N, H, W) as RGB with the masked pixels in red."""
    rgb = np.repeat(images[..., None], 3, axis=-1)
    rgb[mask] = (1.0, 0.0, 0.0)
    return rgb


def complete_per_kind(model, x_test: np.ndarray, mean_image: np.ndarray, square: int,
                      fraction: float, seed: int, shown: int = 12
                      ) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Mask every (N, 1, H, W) test image with each kind of mask in turn (the same masks in
    every run: seeded by ``seed``), fill with ``mean_image`` and complete with ``model``.

    Returns the scores ({"<kind>, mean fill" / "<kind>, autoencoder": scores}, PSNR over the
    missing pixels, SSIM of the whole image) and the figure's rows for the first ``shown``
    images: per kind masked (in red) / mean fill / completed, then the originals."""
    from autoencoders.train import predict

    scores, rows = {}, {}
    x = mg.tensor(x_test)
    clean = x_test[:, 0]
    for k, name in enumerate(KINDS):
        mg.manual_seed(seed + 1 + k)  # the same test masks in every run
        kind = mg.full(len(x_test), fill_value=k, dtype=mg.int64)
        mask = draw_masks(x, kind, square, fraction).numpy()
        mean_filled = np.where(mask, mean_image, x_test)
        completed = np.where(mask, predict(model, mean_filled).reshape(x_test.shape), x_test)
        scores[f"{name}, mean fill"] = tasks.image_scores(mean_filled[:, 0], clean, mask[:, 0])
        scores[f"{name}, autoencoder"] = tasks.image_scores(completed[:, 0], clean, mask[:, 0])
        rows[f"{name}: masked"] = highlight(clean[:shown], mask[:shown, 0])
        rows["mean fill" + " " * k] = mean_filled[:shown, 0]  # row labels must be unique
        rows["completed" + " " * k] = completed[:shown, 0]
    rows["original"] = clean[:shown]
    return scores, rows
