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
import functools
import time
from collections.abc import Callable
from pathlib import Path

import common
import numpy as np
from scipy import ndimage

import minigrad as mg
from autoencoders import corrupt, plots, tasks
from autoencoders.models import autoencoder_loss_fn
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


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    level = DEFAULT_LEVEL[args.noise] if args.level is None else args.level
    data = tasks.subset(common.load_images(args), args.train_size, args.test_size)
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
        **common.timings(started, device, common.train_seconds(history)),
    }
    common.write_json(metrics, out / "metrics.json")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    return common.run(lambda: run(args), args.threads)


if __name__ == "__main__":
    main()
