"""Image completion (inpainting) with an autoencoder on MNIST: fill in missing pixels.

    python demos/complete_mnist.py                        # MLP, 10 epochs
    python demos/complete_mnist.py --square 14 --random-fraction 0.9 --model conv

Three kinds of mask: a centred square (--square pixels wide), the bottom half, and random
pixels (each missing with probability --random-fraction). The missing pixels are filled with
the training set's mean image, which is both the baseline and the model's input: the model
sees the baseline and is trained to turn it into the whole digit. One model learns all three
kinds; each training image gets a kind and a fresh mask drawn on the device, inside the loss.
The completion keeps the known pixels and takes the model's output in the missing ones.

Scores over the test set, per kind of mask (each test image masked once, with a fixed seed):
PSNR over the missing pixels only (the known ones are exact in both methods), and SSIM of the
whole completed image.

Writes into --out (default runs/complete):
- completion.png  per kind: masked (missing pixels in red) / mean fill / completed, then the
                  originals;
- metrics.json    the scores of the mean fill and of the autoencoder per kind of mask;
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
from autoencoders.models import autoencoder_loss_fn
from autoencoders.train import predict

KINDS = ("centre square", "bottom half", "random pixels")


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/complete", latent_dim=64,
                           hidden="512,256", epochs=10, lr=1e-3)
    p.add_argument("--square", type=int, default=12, help="side of the centred square mask")
    p.add_argument("--random-fraction", type=float, default=0.7,
                   help="probability that a pixel is missing in the random-pixel masks")
    tasks.add_subset_flags(p)
    return p


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


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = tasks.subset(common.load_images(args), args.train_size, args.test_size)
    out = Path(args.out)
    x_train, x_test = tasks.channels_first(data.x_train), tasks.channels_first(data.x_test)
    mean_image = x_train.mean(axis=0)  # (1, H, W)

    mg.manual_seed(args.seed)
    shape = x_train.shape[1:]
    model = tasks.image_model(args.model, shape, shape, args.latent_dim, args.hidden,
                              args.channels)
    loss_fn = autoencoder_loss_fn("bce", corrupt=masking(mean_image, args.square,
                                                         args.random_fraction))
    history = common.fit(model, loss_fn, (x_train,), (x_test,), args, out)

    shown = slice(0, 12)
    scores, rows = {}, {}
    x = mg.tensor(x_test)
    for k, name in enumerate(KINDS):
        mg.manual_seed(args.seed + 1 + k)  # the same test masks in every run
        mask = draw_masks(x, mg.full(len(x_test), fill_value=k, dtype=mg.int64), args.square,
                          args.random_fraction).numpy()
        mean_filled = np.where(mask, mean_image, x_test)
        completed = np.where(mask, predict(model, mean_filled).reshape(x_test.shape), x_test)
        scores[f"{name}, mean fill"] = tasks.image_scores(mean_filled[:, 0], data.x_test,
                                                          mask[:, 0])
        scores[f"{name}, autoencoder"] = tasks.image_scores(completed[:, 0], data.x_test,
                                                            mask[:, 0])
        rows[f"{name}: masked"] = highlight(data.x_test[shown], mask[shown, 0])
        rows["mean fill" + " " * k] = mean_filled[shown, 0]  # row labels must be unique
        rows["completed" + " " * k] = completed[shown, 0]
    rows["original"] = data.x_test[shown]
    table = tasks.scores_table(scores)
    print(table)
    plots.save_image_rows(rows, out / "completion.png", title="completion of test digits "
                          "(PSNR over the missing pixels)")
    metrics = {
        "dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
        "square": args.square, "random_fraction": args.random_fraction, "model": args.model,
        "latent_dim": args.latent_dim, "epochs": history[-1]["epoch"], "scores": scores,
        "table": table, **common.timings(started, device, common.train_seconds(history)),
    }
    common.write_json(metrics, out / "metrics.json")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    return common.run(lambda: run(args), args.threads)


if __name__ == "__main__":
    main()
