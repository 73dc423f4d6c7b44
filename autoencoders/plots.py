"""Figures of the demos, drawn on the host from NumPy arrays with matplotlib (no minigrad).

Images are float arrays in [0, 1] of shape (N, H, W) (grey) or (N, H, W, 3) (colour).
Every function writes one PNG and returns nothing; figures are closed after saving, so a
long run does not accumulate them. matplotlib is imported on first use (it takes a second),
so that a demo that stops early, e.g. for a missing GPU, does not wait for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["pyplot", "tile", "save_image_rows", "save_image_grid", "save_curves"]


def pyplot():
    """matplotlib.pyplot drawing to files (the Agg backend), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed (and none on servers or in CI)
    import matplotlib.pyplot as plt

    return plt


def tile(images: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
    """Lay N images out in rows of ``ncols`` with ``pad`` white pixels between them.

    images: (N, H, W) or (N, H, W, C); returns (rows*(H+pad)-pad, ncols*(W+pad)-pad[, C]).
    """
    images = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    n, h, w = images.shape[:3]
    rows = -(-n // ncols)
    channels = images.shape[3:]
    canvas = np.ones((rows * (h + pad) - pad, ncols * (w + pad) - pad, *channels), np.float32)
    for k in range(n):
        r, c = divmod(k, ncols)
        canvas[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[k]
    return canvas


def _show(ax, canvas: np.ndarray) -> None:
    ax.imshow(canvas, cmap="gray" if canvas.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _save(fig, path: str | os.PathLike) -> None:
    fig.savefig(path, dpi=100, bbox_inches="tight")
    pyplot().close(fig)


def save_image_rows(rows: Mapping[str, np.ndarray], path: str | os.PathLike,
                    title: str | None = None) -> None:
    """One labelled strip per entry, e.g. {"test digits": x, "reconstructions": x_hat}.

    Every entry holds the same number of images; each strip shows them side by side.
    """
    strips = [tile(images, len(images)) for images in rows.values()]
    height, width = strips[0].shape[:2]
    fig, axes = pyplot().subplots(len(strips), 1, squeeze=False,
                             figsize=(max(4.0, width / 28 * 0.6), 0.75 * len(strips) + 0.4))
    for ax, label, canvas in zip(axes[:, 0], rows, strips, strict=True):
        _show(ax, canvas)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    _save(fig, path)


def save_image_grid(images: np.ndarray, path: str | os.PathLike, ncols: int,
                    title: str | None = None) -> None:
    """The images in a grid of ``ncols`` columns."""
    canvas = tile(images, ncols)
    height, width = canvas.shape[:2]
    scale = 5.0 / max(height, width)
    fig, ax = pyplot().subplots(figsize=(width * scale, height * scale + (0.4 if title else 0)))
    _show(ax, canvas)
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path)


def save_curves(history: Sequence[Mapping[str, float]], keys: Sequence[str],
                path: str | os.PathLike, ylabel: str, title: str | None = None) -> None:
    """Metrics per epoch from the trainer's history (rows with "epoch" and each of ``keys``)."""
    fig, ax = pyplot().subplots(figsize=(5, 3.5))
    epochs = [row["epoch"] for row in history]
    for key in keys:
        ax.plot(epochs, [row[key] for row in history], marker="o", markersize=3,
                label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path)
