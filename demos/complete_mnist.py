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

import minigrad as mg
from autoencoders import plots, tasks
from autoencoders.models import autoencoder_loss_fn
from autoencoders.restoration import complete_per_kind, masking


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/complete", latent_dim=64,
                           hidden="512,256", epochs=10, lr=1e-3)
    p.add_argument("--square", type=int, default=12, help="side of the centred square mask")
    p.add_argument("--random-fraction", type=float, default=0.7,
                   help="probability that a pixel is missing in the random-pixel masks")
    tasks.add_subset_flags(p)
    return p


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = common.load_images(args)
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

    scores, rows = complete_per_kind(model, x_test, mean_image, args.square,
                                     args.random_fraction, args.seed)
    table = tasks.scores_table(scores)
    print(table)
    plots.save_image_rows(rows, out / "completion.png", title="completion of test digits "
                          "(PSNR over the missing pixels)")
    metrics = {
        "dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
        "square": args.square, "random_fraction": args.random_fraction, "model": args.model,
        "latent_dim": args.latent_dim, "epochs": history[-1]["epoch"], "scores": scores,
        "table": table,
    }
    return common.finish(metrics, out, started, device, common.train_seconds(history))


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), run, argv)


if __name__ == "__main__":
    main()
