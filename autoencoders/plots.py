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

__all__ = ["pyplot", "tile", "save_image_rows", "save_image_grid", "save_curves",
           "save_contraction", "save_sample_panels", "save_scatter_panels", "save_side_by_side",
           "save_sweep"]

DPI = 100  # pixels per inch of the saved PNGs
TITLE_SIZE = 12  # points: still readable when the README shows a figure at half its width
LABEL_SIZE = 10
MIN_TILE = 28  # pixels: the least an image of a grid gets (MNIST digits at their own size)


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
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)


def save_image_rows(rows: Mapping[str, np.ndarray], path: str | os.PathLike,
                    title: str | None = None) -> None:
    """One labelled strip per entry, e.g. {"test digits": x, "reconstructions": x_hat}.

    Every entry holds the same number of images; each strip shows them side by side.
    """
    strips = [tile(images, len(images)) for images in rows.values()]
    height, width = strips[0].shape[:2]
    # The axes fill the figure's width and each row is exactly as tall as its strip, so no
    # empty bands open between the rows (the labels and title lie outside, kept by the tight
    # bounding box); a strip of 28-pixel digits gets about 0.6 inches per image.
    width_in = max(4.0, width / 28 * 0.6)
    row_in = width_in * height / width
    gap = 0.1  # between rows, as a fraction of a row's height
    fig, axes = pyplot().subplots(len(strips), 1, squeeze=False,
                                  figsize=(width_in, len(strips) * row_in * (1 + gap)))
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1, hspace=gap)
    for ax, label, canvas in zip(axes[:, 0], rows, strips, strict=True):
        _show(ax, canvas)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=LABEL_SIZE)
    if title:
        fig.suptitle(title, y=1.0, va="bottom", fontsize=TITLE_SIZE)
    _save(fig, path)


def save_image_grid(images: np.ndarray, path: str | os.PathLike, ncols: int,
                    title: str | None = None) -> None:
    """The images in a grid of ``ncols`` columns, at least 5 inches on the long side and
    each image at least MIN_TILE pixels tall (a 20 x 20 manifold of digits stays readable)."""
    canvas = tile(images, ncols)
    height, width = canvas.shape[:2]
    zoom = max(1.0, MIN_TILE / np.shape(images)[1])  # screen pixels per image pixel
    scale = max(zoom / DPI, 5.0 / max(height, width))  # inches per image pixel
    fig, ax = pyplot().subplots(figsize=(width * scale, height * scale))
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    _show(ax, canvas)
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
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
        ax.set_title(title, fontsize=TITLE_SIZE)
    _save(fig, path)


def save_side_by_side(images: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Whole (H, W, 3) images in one row, each titled (e.g. a photo and its colorizations)."""
    fig, axes = pyplot().subplots(1, len(images), figsize=(3.6 * len(images), 3.0),
                                  squeeze=False)
    for ax, (title, image) in zip(axes[0], images.items(), strict=True):
        _show(ax, np.clip(image, 0, 1))
        ax.set_title(title, fontsize=TITLE_SIZE)
    _save(fig, path)


def save_sample_panels(samples: Mapping[str, np.ndarray], captions: Mapping[str, str],
                       path: str | os.PathLike, ncols: int = 8, per_row: int = 4) -> None:
    """One grid of ncols x ncols images per entry of ``samples``, at most ``per_row`` side
    by side in a row of panels, each titled with its name and its caption (e.g. its scores)."""
    n = len(samples)
    rows, cols = -(-n // per_row), min(n, per_row)
    fig, axes = pyplot().subplots(rows, cols, figsize=(3.2 * cols, 3.9 * rows), squeeze=False)
    for ax, (name, images) in zip(axes.flat, samples.items(), strict=False):
        _show(ax, tile(images[:ncols * ncols], ncols))
        ax.set_title(f"{name}\n{captions[name]}", fontsize=LABEL_SIZE)
    for ax in axes.flat[n:]:
        ax.axis("off")
    _save(fig, path)


def save_scatter_panels(panels: Sequence[tuple[str, np.ndarray, np.ndarray, float]],
                        path: str | os.PathLike) -> None:
    """One scatter plot per (title, points (N, 2), labels (N,), framed), coloured by digit;
    each panel is centred on the median point, and along each axis shows the fraction
    ``framed`` of the points nearest to it."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), squeeze=False)
    for ax, (title, points, labels, framed) in zip(axes[0], panels, strict=True):
        dots = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=1.5,
                          vmin=-0.5, vmax=9.5, rasterized=True)
        centre = np.median(points, axis=0)
        half = 1.05 * np.percentile(np.abs(points - centre), 100 * framed, axis=0)
        ax.set_xlim(centre[0] - half[0], centre[0] + half[0])
        ax.set_ylim(centre[1] - half[1], centre[1] + half[1])
        ax.set_title(title, fontsize=LABEL_SIZE)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(dots, ax=axes[0].tolist(), ticks=range(10), shrink=0.8, label="digit")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def save_sweep(sizes: Sequence[int], pca_errors: Sequence[float], ae_errors: Sequence[float],
               path: str | os.PathLike) -> None:
    """Test error per pixel against code size (log scale), PCA and autoencoder."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(sizes, pca_errors, marker="o", label="PCA")
    ax.plot(sizes, ae_errors, marker="s", label="autoencoder")
    ax.set_xscale("log")
    ax.minorticks_off()  # only the sizes themselves as ticks
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("code size")
    ax.set_ylabel("test squared error per pixel")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def save_contraction(results: Mapping[str, dict], norms: Mapping[str, np.ndarray],
                     sigmas: Sequence[float], path: str | os.PathLike) -> None:
    """Three panels: contraction ratio and relative displacement against sigma (log-log), and
    histograms of ||J_f(x)||_F, one line or histogram per model."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, result in results.items():
        rows = [result["noise"][str(s)] for s in sigmas]
        axes[0].plot(sigmas, [r["displacement_per_noise_norm"] for r in rows], marker="o",
                     label=name)
        axes[1].plot(sigmas, [r["relative_displacement"] for r in rows], marker="o",
                     label=name)
        axes[2].hist(norms[name], bins=40, alpha=0.6, label=name)
    axes[0].set_ylabel("mean ||h(x+eps) - h(x)|| / ||eps||")
    axes[1].set_ylabel("mean ||h(x+eps) - h(x)|| / code spread")
    for ax in axes[:2]:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("noise sigma")
    axes[2].set_xlabel("||J_f(x)||_F on test digits")
    axes[2].set_ylabel("digits")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("how far codes move under input noise", fontsize=TITLE_SIZE)
    fig.tight_layout()
    _save(fig, path)
