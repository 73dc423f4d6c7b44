"""Colorization with an autoencoder: grey patches in, the two chroma channels of YIQ out.

The input is the grey (luma) image Y = 0.299 R + 0.587 G + 0.114 B. The model does not have to
reproduce it: it predicts the chroma (I, Q), and the colour image is the exact inverse
transform of (Y, I, Q), clipped to [0, 1]. The loss is the squared error of that RGB image, so
predicting zero chroma gives back exactly the grey baseline.

Baselines: the grey image copied to three channels, and the grey image with the training
patches' mean chroma (a constant tint, the best colour-blind guess).
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from autoencoders import corrupt, tasks
from autoencoders.train import predict
from minigrad.nn import functional as F

__all__ = ["RGB_FROM_YIQ", "YIQ_FROM_RGB", "colorize", "colorize_loss_fn", "colorize_photo",
           "compare", "gray_of", "mean_chroma", "to_rgb", "with_chroma"]

# RGB -> YIQ (NTSC): Y is corrupt.LUMA; the I and Q rows sum to 0, so grey (r = g = b) has
# no chroma and the inverse maps (Y, 0, 0) back to (Y, Y, Y) exactly.
YIQ_FROM_RGB = np.array([corrupt.LUMA,
                         [0.5959, -0.2746, -0.3213],
                         [0.2115, -0.5227, 0.3112]])
RGB_FROM_YIQ = np.linalg.inv(YIQ_FROM_RGB).astype(np.float32)


def to_rgb(gray: mg.Tensor, chroma: mg.Tensor) -> mg.Tensor:
    """(N, 1, H, W) luma and (N, 2, H, W) chroma -> (N, 3, H, W) RGB (not yet clipped)."""
    yiq = mg.concat([gray, chroma], axis=1)
    matrix = mg.tensor(RGB_FROM_YIQ, dtype=gray.dtype, device=gray.device)
    # out[n, c] = sum_k matrix[c, k] yiq[n, k]: a matmul over the channel axis.
    return (yiq.permute(0, 2, 3, 1) @ matrix.T).permute(0, 3, 1, 2)


def _predicted_rgb(model, gray: mg.Tensor) -> mg.Tensor:
    return to_rgb(gray, model(gray).reshape(gray.shape[0], 2, *gray.shape[2:]))


def colorize_loss_fn(model, batch):
    """Squared error per image of the RGB image made from the input luma and predicted
    chroma; batch = (gray (N, 1, H, W), rgb (N, 3, H, W))."""
    gray, rgb = batch
    sq_error = F.mse_loss(_predicted_rgb(model, gray), rgb, reduction="sum") / gray.shape[0]
    return sq_error, {"sq_error": sq_error}


def colorize(model, gray: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) grey -> (N, H, W, 3) RGB in [0, 1]."""
    return np.clip(tasks.channels_last(predict(model, gray, fn=_predicted_rgb)), 0, 1)


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) -> (N, 1, H, W) luma (corrupt.to_gray on the CPU)."""
    return corrupt.to_gray(mg.tensor(rgb)).numpy()[:, None]


def mean_chroma(rgb: np.ndarray) -> np.ndarray:
    """The mean (I, Q) of (..., 3) RGB images, shape (2, 1, 1) to broadcast over (2, H, W)."""
    return (rgb.reshape(-1, 3) @ YIQ_FROM_RGB.T).mean(axis=0)[1:, None, None]


def with_chroma(gray: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) grey and a (2,) or (N, 2, H, W)-broadcastable chroma -> (N, H, W, 3)."""
    chroma = np.broadcast_to(chroma, (len(gray), 2, *gray.shape[2:]))
    yiq = np.concatenate([gray, chroma], axis=1)
    return np.clip(np.einsum("ck,nkhw->nhwc", RGB_FROM_YIQ, yiq), 0, 1)


def colorize_photo(model, photo: np.ndarray, patch: int, stride: int) -> np.ndarray:
    """Colorize a whole (H, W, 3) photo from its grey version, patch by patch: every
    ``stride`` pixels (plus the last row and column of patches, to reach the edges), each
    output pixel the mean over the patches covering it."""
    h, w = photo.shape[:2]
    tops = sorted({*range(0, h - patch + 1, stride), h - patch})
    lefts = sorted({*range(0, w - patch + 1, stride), w - patch})
    gray = gray_of(photo[None])[0, 0]
    corners = [(t, l) for t in tops for l in lefts]
    patches = np.stack([gray[t:t + patch, l:l + patch] for t, l in corners])[:, None]
    colored = colorize(model, patches)
    total = np.zeros((h, w, 3), np.float32)
    count = np.zeros((h, w, 1), np.float32)
    for (t, l), rgb in zip(corners, colored, strict=True):
        total[t:t + patch, l:l + patch] += rgb
        count[t:t + patch, l:l + patch] += 1
    return total / count


def compare(ours: np.ndarray, rgb: np.ndarray, tint: np.ndarray
            ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """The three methods on (N, H, W, 3) images ``rgb``, given our colorization ``ours`` and
    the training chroma ``tint`` (see mean_chroma): ({method: images}, {method: scores}),
    methods "grey copied to RGB", "grey + mean training chroma", "autoencoder"."""
    gray = gray_of(rgb)
    images = {"grey copied to RGB": np.repeat(gray[:, 0, ..., None], 3, axis=-1),
              "grey + mean training chroma": with_chroma(gray, tint),
              "autoencoder": ours}
    return images, {name: tasks.image_scores(x, rgb) for name, x in images.items()}
