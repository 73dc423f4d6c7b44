"""Train an autoencoder on MNIST and show what it learned.

    python demos/train_mnist_ae.py                      # MLP 784-512-128-32, 5 epochs, CPU
    python demos/train_mnist_ae.py --model conv --device gpu

Writes into --out (default runs/mnist_ae):
- reconstructions.png    test digits (top) and their reconstructions (bottom);
- samples_from_noise.png images decoded from random codes z ~ N(0, I): an autoencoder's code
                         space has no such distribution, so these are not digits;
- loss_curves.png        training and test loss per epoch;
- metrics.json           test squared error per image (summed over the pixels) and per
                         pixel, test binary cross-entropy per image, epochs, times, data set;
- metrics.jsonl, checkpoint.npz  the trainer's log and checkpoint (--resume continues).
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import common
import numpy as np

import minigrad as mg
from autoencoders import plots
from autoencoders.models import ConvAutoencoder, MLPAutoencoder, autoencoder_loss_fn
from autoencoders.train import Trainer, predict, random_shift


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/mnist_ae", latent_dim=32,
                           hidden="512,128", epochs=5, lr=1e-3)
    p.add_argument("--loss", choices=("bce", "mse"), default="bce",
                   help="training loss per image: cross-entropy on the logits, or squared "
                        "error (both are reported)")
    p.add_argument("--shift", type=int, default=0,
                   help="data augmentation: move each training image by up to this many "
                        "pixels (0: none)")
    return p


def build_model(args: argparse.Namespace, image_shape: tuple[int, int]):
    if args.model == "mlp":
        sizes = (int(np.prod(image_shape)), *args.hidden, args.latent_dim)
        return MLPAutoencoder(sizes)
    return ConvAutoencoder(1, args.channels, args.latent_dim, image_shape)


def train(args: argparse.Namespace) -> dict:
    """Train, draw the figures, write metrics.json; returns the metrics."""
    device = mg.device(args.device)  # an unusable device fails here, before any work
    started = time.perf_counter()
    data = common.load_images(args)
    out = Path(args.out)
    mg.manual_seed(args.seed)
    model = build_model(args, data.image_shape)
    optimizer = common.optimizer(model, args)
    augment = (functools.partial(random_shift, image_shape=data.image_shape,
                                 max_shift=args.shift) if args.shift else None)
    trainer = Trainer(model, autoencoder_loss_fn(args.loss, augment=augment), optimizer,
                      common.scheduler(optimizer, args), device=device, out_dir=out,
                      seed=args.seed, progress=not args.no_progress)
    x_train = common.model_inputs(data.x_train, args.model)
    x_test = common.model_inputs(data.x_test, args.model)
    history = trainer.fit((x_train,), (x_test,), epochs=args.epochs,
                          batch_size=args.batch_size, resume=args.resume)

    shown = data.x_test[:16]
    recon = predict(model, x_test[:16]).reshape(shown.shape)
    plots.save_image_rows({"test digits": shown, "reconstructions": recon},
                          out / "reconstructions.png")
    z = np.random.default_rng(args.seed).standard_normal((32, args.latent_dim))
    noise = predict(model, z.astype(np.float32), fn=lambda m, z: m.decode(z))
    plots.save_image_grid(noise.reshape(-1, *data.image_shape), out / "samples_from_noise.png",
                          ncols=8, title="decoded from z ~ N(0, I): not digits")
    plots.save_curves(history, ["train_loss", "test_loss"], out / "loss_curves.png",
                      ylabel=f"{args.loss} per image", title=f"{args.model} autoencoder")

    final = trainer.evaluate((x_test,), args.batch_size)  # the final model, clean test digits
    pixels = int(np.prod(data.image_shape))
    metrics = {
        "dataset": data.name,
        "model": args.model,
        "latent_dim": args.latent_dim,
        "loss": args.loss,
        "epochs": history[-1]["epoch"],
        "shift": args.shift,
        "weight_decay": args.weight_decay,
        "test_sq_error_per_image": final["sq_error"],
        "test_sq_error_per_pixel": final["sq_error"] / pixels,
        "test_bce_per_image": final["bce"],
        "seconds_per_epoch": common.train_seconds(history) / len(history),
    }
    return common.finish(
        metrics, out, started, device, common.train_seconds(history),
        f"test squared error {metrics['test_sq_error_per_image']:.2f} per image "
        f"({metrics['test_sq_error_per_pixel']:.5f} per pixel); figures in {out}")


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), train, argv)


if __name__ == "__main__":
    main()
