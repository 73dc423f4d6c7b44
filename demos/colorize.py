"""Colorization with an autoencoder: grey 32x32 photo patches -> colour.

    python demos/colorize.py                              # MLP 1024-512-64, 8 epochs
    python demos/colorize.py --model conv --channels 16,32

Data: ``load_color_patches()``, RGB patches cut from six colour photos for training; the test
patches come from a seventh photo (a cat, skimage's ``chelsea``) that training never sees.

The model predicts the two chroma channels (I, Q) of the YIQ colour space from the grey (luma)
image; baselines: the grey image, and the grey image with the training patches' mean chroma
(see autoencoders/colorization.py).

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
from autoencoders import colorization as color
from autoencoders import plots, tasks
from autoencoders.datasets import load_color_patches


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/colorize", latent_dim=64,
                           hidden="512", epochs=8, lr=1e-3, batch_size=64, mnist=False)
    p.add_argument("--photo-stride", type=common.positive_int, default=8,
                   help="step between the overlapping patches of the colorized test photo")
    tasks.add_subset_flags(p)
    return p


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = load_color_patches()
    out = Path(args.out)
    rgb_train, rgb_test = data.x_train[:args.train_size], data.x_test[:args.test_size]
    print(f"data: {len(rgb_train):,} training patches from {len(data.train_photos)} photos, "
          f"{len(rgb_test):,} test patches of '{data.test_photos[0]}'; with so few photos the "
          "test score is somewhat optimistic (the defaults were chosen on it)")
    mg.manual_seed(args.seed)
    size = data.patch
    model = tasks.image_model(args.model, (1, size, size), (2, size, size), args.latent_dim,
                              args.hidden, args.channels, output="linear")
    history = common.fit(model, color.colorize_loss_fn,
                         (color.gray_of(rgb_train), tasks.channels_first(rgb_train)),
                         (color.gray_of(rgb_test), tasks.channels_first(rgb_test)), args, out)

    tint = color.mean_chroma(rgb_train)
    patches, scores = color.compare(color.colorize(model, color.gray_of(rgb_test)), rgb_test,
                                    tint)
    photo = data.test_images[0]
    ours = color.colorize_photo(model, photo, size, args.photo_stride)
    photos, photo_scores = color.compare(ours[None], photo[None], tint)
    table = tasks.scores_table(scores)
    print(table)
    print(f"whole photo {data.test_photos[0]}:\n" + tasks.scores_table(photo_scores))

    # 12 test patches spread over the photo (the patches are in row-major order).
    shown = np.arange(0, len(rgb_test), max(1, len(rgb_test) // 12))[:12]
    labels = ["grey", "mean tint", "ours"]
    plots.save_image_rows({**{label: x[shown] for label, x in zip(labels, patches.values(),
                                                                   strict=True)},
                           "original": rgb_test[shown]}, out / "colorize_patches.png",
                          title=f"test patches of '{data.test_photos[0]}' (never trained on)")
    labels[2] = "ours (patch by patch)"
    plots.save_side_by_side({**{label: x[0] for label, x in zip(labels, photos.values(),
                                                                 strict=True)},
                             "original": photo}, out / "colorize_photo.png")
    metrics = {
        "train_photos": list(data.train_photos), "test_photos": list(data.test_photos),
        "n_train": len(rgb_train), "n_test": len(rgb_test), "model": args.model,
        "latent_dim": args.latent_dim, "epochs": history[-1]["epoch"], "scores": scores,
        "photo_scores": photo_scores, "table": table,
    }
    return common.finish(metrics, out, started, device, common.train_seconds(history))


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), run, argv)


if __name__ == "__main__":
    main()
