"""Denoising autoencoder on MNIST: trained on corrupted digits to give back the clean ones.

    python demos/denoise_mnist.py                         # Gaussian noise, sigma 0.5
    python demos/denoise_mnist.py --noise masking --level 0.5
    python demos/denoise_mnist.py --noise salt_pepper --model conv

Each training batch is corrupted afresh on the device, inside the loss (Vincent et al. 2008):
Gaussian noise of standard deviation --level clipped to [0, 1], masking noise (a fraction
--level of the pixels set to 0) or salt-and-pepper noise (a fraction --level set to 0 or 1).
The target is the clean digit.

The test set is corrupted once, with a fixed seed. Baselines, in the same run: the noisy
input itself, and a classical filter (Gaussian blur or median filter), with its kind and width
chosen for the best PSNR on 1,000 corrupted training digits. This is a fair version of the
filter, because it is tuned on the same data as the autoencoder.

Writes into --out (default runs/denoise):
- denoising.png   rows of noisy / best filter / denoised / clean test digits;
- metrics.json    PSNR (dB) and SSIM of each method over the test set, and the settings;
- metrics.jsonl, checkpoint.npz  the trainer's log and checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common

import minigrad as mg
from autoencoders import corrupt, plots, tasks
from autoencoders.models import autoencoder_loss_fn
from autoencoders.restoration import best_filter, corrupt_images
from autoencoders.train import predict

DEFAULT_LEVEL = {"gaussian": 0.5, "masking": 0.5, "salt_pepper": 0.25}


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/denoise", latent_dim=64,
                           hidden="512,256", epochs=10, lr=1e-3)
    p.add_argument("--noise", choices=tuple(corrupt.NOISES), default="gaussian")
    p.add_argument("--level", type=float, default=None,
                   help="sigma of the Gaussian noise, or the fraction of pixels masked or "
                        "salted (default: 0.5, 0.5, 0.25 for gaussian, masking, salt_pepper)")
    tasks.add_subset_flags(p)
    return p


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    level = DEFAULT_LEVEL[args.noise] if args.level is None else args.level
    data = common.load_images(args)
    out = Path(args.out)
    x_train, x_test = tasks.channels_first(data.x_train), tasks.channels_first(data.x_test)

    mg.manual_seed(args.seed)
    shape = x_train.shape[1:]
    model = tasks.image_model(args.model, shape, shape, args.latent_dim, args.hidden,
                              args.channels)
    noise = corrupt.NOISES[args.noise]
    loss_fn = autoencoder_loss_fn("bce", corrupt=lambda x: noise(x, level))
    history = common.fit(model, loss_fn, (x_train,), (x_test,), args, out)

    noisy = corrupt_images(data.x_test, args.noise, level, args.seed + 1)
    denoised = predict(model, noisy[:, None]).reshape(noisy.shape)
    n_tune = min(1000, len(data.x_train))
    tune_noisy = corrupt_images(data.x_train[:n_tune], args.noise, level, args.seed + 2)
    filter_name, filter_fn = best_filter(tune_noisy, data.x_train[:n_tune])
    filtered = filter_fn(noisy)
    scores = {
        "noisy input": tasks.image_scores(noisy, data.x_test),
        f"best filter ({filter_name})": tasks.image_scores(filtered, data.x_test),
        "denoising autoencoder": tasks.image_scores(denoised, data.x_test),
    }
    table = tasks.scores_table(scores)
    print(table)

    shown = slice(0, 12)
    plots.save_image_rows({"noisy": noisy[shown], "filter": filtered[shown],
                           "denoised": denoised[shown], "clean": data.x_test[shown]},
                          out / "denoising.png",
                          title=f"{args.noise} noise, level {level}: test digits")
    metrics = {
        "dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
        "noise": args.noise, "level": level, "model": args.model,
        "latent_dim": args.latent_dim, "epochs": history[-1]["epoch"],
        "best_filter": filter_name, "scores": scores, "table": table,
    }
    return common.finish(metrics, out, started, device, common.train_seconds(history))


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), run, argv)


if __name__ == "__main__":
    main()
