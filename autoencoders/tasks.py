"""Glue shared by the lecture's application demos (denoising, super-resolution, completion,
colorization, dimensionality reduction, generation): data subsets, image layouts, the
image-to-image model, and the scores and their table.

Images are passed around as (N, C, H, W) float32 arrays in [0, 1]: the convolutional models
take them as they are, and ``MLPAutoencoder`` flattens any (N, ...) input itself, so one layout
serves both (the losses reshape outputs to the target's shape).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from autoencoders import metrics
from autoencoders.datasets import Dataset
from autoencoders.models import Autoencoder, ConvAutoencoder, MLPAutoencoder

__all__ = [
    "add_subset_flags",
    "channels_first",
    "channels_last",
    "image_model",
    "image_scores",
    "scores_table",
    "subset",
]


def add_subset_flags(parser: argparse.ArgumentParser) -> None:
    """--train-size / --test-size: use only the first N images (quick runs, smoke tests)."""
    parser.add_argument("--train-size", type=int, default=None,
                        help="use only the first N training images (default: all)")
    parser.add_argument("--test-size", type=int, default=None,
                        help="use only the first N test images (default: all)")


def subset(data: Dataset, train_size: int | None, test_size: int | None) -> Dataset:
    """The first ``train_size`` / ``test_size`` images of each split (None: all). The data
    sets are shuffled, so a prefix mixes the classes."""
    return dataclasses.replace(data, x_train=data.x_train[:train_size],
                               y_train=data.y_train[:train_size],
                               x_test=data.x_test[:test_size], y_test=data.y_test[:test_size])


def channels_first(images: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, 1, H, W); (N, H, W, C) -> (N, C, H, W)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        return images[:, None]
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def channels_last(images: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) -> (N, H, W); (N, C, H, W) -> (N, H, W, C): the layout of the metrics and
    plots."""
    images = np.asarray(images)
    return images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)


def image_model(kind: str, in_shape: Sequence[int], out_shape: Sequence[int],
                latent_dim: int, hidden: Sequence[int] = (512, 256),
                channels: Sequence[int] = (32, 64), output: str = "sigmoid") -> Autoencoder:
    """An autoencoder from images of ``in_shape`` (C, H, W) to images of ``out_shape``:
    "mlp": MLPAutoencoder (C*H*W, *hidden, latent_dim) -> C'*H'*W';
    "conv": ConvAutoencoder with ``channels`` (square images)."""
    c_in, h_in, _ = in_shape
    c_out, h_out, _ = out_shape
    if kind == "mlp":
        return MLPAutoencoder((int(np.prod(in_shape)), *hidden, latent_dim), output=output,
                              out_features=int(np.prod(out_shape)))
    if kind == "conv":
        return ConvAutoencoder(c_in, channels, latent_dim, h_in, out_channels=c_out,
                               out_image_size=h_out, output=output)
    raise ValueError(f"model kind must be 'mlp' or 'conv', got {kind!r}")


def image_scores(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
                 with_ssim: bool = True) -> dict[str, float]:
    """Mean PSNR (dB; over ``mask`` only if given) and mean SSIM of (N, H, W) or (N, H, W, 3)
    images in [0, 1]. SSIM always compares whole images."""
    pred = np.clip(pred, 0, 1)
    scores = {"psnr": float(metrics.psnr(pred, target, mask).mean())}
    if with_ssim:
        channel_axis = -1 if pred.ndim == 4 else None
        scores["ssim"] = float(metrics.ssim(pred, target, channel_axis).mean())
    return scores


def scores_table(rows: Mapping[str, Mapping[str, float]], digits: int = 3) -> str:
    """A Markdown table: one row per method, one column per score."""
    columns = list(dict.fromkeys(key for row in rows.values() for key in row))
    lines = ["| method | " + " | ".join(columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for name, row in rows.items():
        cells = [f"{row[c]:.{digits}f}" if c in row else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
