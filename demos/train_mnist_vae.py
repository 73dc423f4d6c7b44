"""Train a variational autoencoder on MNIST and generate digits from it.

    python demos/train_mnist_vae.py                     # 784-400-20 VAE, 10 epochs, CPU
    python demos/train_mnist_vae.py --latent-dim 2      # adds the 2-D manifold figure

Writes into --out (default runs/mnist_vae):
- samples.png        digits decoded from z ~ N(0, I), the prior;
- manifold.png       (latent size 2 only) decodings of a grid of z through the inverse normal
                     CDF, so equal areas of the prior get equal space (Kingma & Welling);
- interpolation.png  decodings along straight lines between the codes (means) of test digits;
- elbo_curves.png    -ELBO = BCE + KL per image, training and test, per epoch;
- metrics.json       test -ELBO (BCE + KL, nats per image, as PyTorch's examples/vae reports
                     it), its two parts, the ELBO, epochs, times, data set;
- metrics.jsonl, checkpoint.npz  the trainer's log and checkpoint (--resume continues).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import numpy as np

import minigrad as mg
from autoencoders import plots
from autoencoders.generation import interpolation_rows, manifold
from autoencoders.models import VAE, ConvVAE, vae_loss_fn
from autoencoders.train import Trainer, predict


def parser() -> argparse.ArgumentParser:
    return common.base_parser(__doc__.splitlines()[0], out="runs/mnist_vae", latent_dim=20,
                              hidden="400", epochs=10, lr=1e-3)


def build_model(args: argparse.Namespace, image_shape: tuple[int, int]):
    if args.model == "mlp":
        return VAE((int(np.prod(image_shape)), *args.hidden, args.latent_dim))
    return ConvVAE(1, args.channels, args.latent_dim, image_shape)


def train(args: argparse.Namespace) -> dict:
    """Train, draw the figures, write metrics.json; returns the metrics."""
    device = mg.device(args.device)  # an unusable device fails here, before any work
    started = time.perf_counter()
    data = common.load_images(args)
    out = Path(args.out)
    mg.manual_seed(args.seed)
    model = build_model(args, data.image_shape)
    optimizer = common.optimizer(model, args)
    trainer = Trainer(model, vae_loss_fn("bernoulli"), optimizer,
                      common.scheduler(optimizer, args), device=device, out_dir=out,
                      seed=args.seed, progress=not args.no_progress)
    x_train = common.model_inputs(data.x_train, args.model)
    x_test = common.model_inputs(data.x_test, args.model)
    history = trainer.fit((x_train,), (x_test,), epochs=args.epochs,
                          batch_size=args.batch_size, resume=args.resume)

    z = np.random.default_rng(args.seed).standard_normal((64, args.latent_dim))
    samples = predict(model, z.astype(np.float32), fn=lambda m, z: m.decode(z))
    plots.save_image_grid(samples.reshape(-1, *data.image_shape), out / "samples.png",
                          ncols=8, title="decoded from z ~ N(0, I)")
    if args.latent_dim == 2:
        plots.save_image_grid(manifold(model, data.image_shape), out / "manifold.png",
                              ncols=20, title="2-D latent space")
    plots.save_image_rows(interpolation_rows(model, x_test, data.y_test, data.image_shape),
                          out / "interpolation.png")
    plots.save_curves(history, ["train_loss", "test_loss"], out / "elbo_curves.png",
                      ylabel="-ELBO = BCE + KL (nats per image)", title="VAE")

    last = history[-1]
    metrics = {
        "dataset": data.name,
        "model": args.model,
        "latent_dim": args.latent_dim,
        "epochs": last["epoch"],
        "test_loss_bce_kl_per_image": last["test_loss"],
        "test_elbo_nats_per_image": last["test_elbo"],
        "test_bce_per_image": last["test_recon"],
        "test_kl_per_image": last["test_kl"],
        "seconds_per_epoch": common.train_seconds(history) / len(history),
    }
    return common.finish(
        metrics, out, started, device, common.train_seconds(history),
        f"test loss (BCE + KL) {metrics['test_loss_bce_kl_per_image']:.2f} nats per image; "
        f"figures in {out}")


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), train, argv)


if __name__ == "__main__":
    main()
