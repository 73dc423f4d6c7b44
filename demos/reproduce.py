"""Reproduce the published numbers with one command, and say how long it took.

    python demos/reproduce.py --target vae       # ~10 epochs
    python demos/reproduce.py --target hinton    # long on a CPU: see README for timings
    python demos/reproduce.py --target all --device gpu
    python demos/reproduce.py --target vae --seeds 10   # seeds 0-9: mean, spread, each seed

- hinton: Hinton & Salakhutdinov (2006), Science 313:504, Fig. 2: a 784-1000-500-250-30
  autoencoder (mirrored decoder, linear code, sigmoid output) reaches an average squared
  reconstruction error of 3.00 per MNIST test image (summed over the 784 pixels in [0, 1]),
  where PCA with 30 components gets 13.87. Here it is trained from scratch (ReLU, Adam 1e-3
  with a cosine schedule over 100 epochs, cross-entropy loss, no RBM pretraining), each
  training digit moved by a random -1..1 pixels in x and y (without this the network overfits:
  4.02 after 80 epochs); PCA-30 is computed on the same data in the same run.
- vae: PyTorch's examples/vae (784-400-20, Adam 1e-3, batch 128, 10 epochs, BCE summed over
  pixels + KL, pixels not binarized) prints a test set loss of about 105.6 nats per image
  after epoch 10 (the number this target must reach or beat).

Each target writes its demo's figures and metrics into --out/<target>/ (--out/<target>/seed_<s>/
with --seeds above 1), and the summary (published vs measured, pass/fail, minutes) into
--out/metrics.json. With several seeds the measured number is their mean, reported with its
standard error and every seed's value; a target passes when that number is at or below the
published one. Exit code 1 when a target misses its number.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import common
import train_mnist_ae
import train_mnist_vae

import minigrad as mg
from autoencoders import plots, reproduction
from autoencoders.datasets import load_dataset

HINTON_ERROR = 3.00   # autoencoder, squared error per test image
HINTON_PCA = 13.87    # PCA with 30 components, same measure
VAE_LOSS = 105.6      # PyTorch examples/vae, test loss after 10 epochs


def hinton(args: argparse.Namespace) -> dict:
    flags = ["--model", "mlp", "--hidden", "1000,500,250", "--latent-dim", "30",
             "--loss", "bce", "--schedule", "cosine", "--lr", "1e-3",
             "--epochs", str(args.hinton_epochs), "--batch-size", "128",
             "--weight-decay", str(args.hinton_weight_decay),
             "--shift", str(args.hinton_shift)]
    run = train_mnist_ae.parser().parse_args(flags + _shared(args, "hinton"))
    metrics = train_mnist_ae.train(run)
    data = load_dataset(args.dataset, root=args.data_dir)
    model = train_mnist_ae.build_model(run, data.image_shape)
    model.load_state_dict(mg.load(Path(run.out) / "checkpoint.npz")["model"])
    pca, rows = reproduction.pca_comparison(model, data.x_train.reshape(len(data.x_train), -1),
                                            data.x_test.reshape(len(data.x_test), -1),
                                            data.image_shape)
    # Hinton & Salakhutdinov's Fig. 2B: test digits, the autoencoder's and PCA's reconstructions.
    plots.save_image_rows(rows, Path(run.out) / "autoencoder_vs_pca.png",
                          title="30 numbers per digit")
    return {"published": {"autoencoder": HINTON_ERROR, "pca30": HINTON_PCA},
            "measured": {"autoencoder": metrics["test_sq_error_per_image"], "pca30": pca},
            **_timing(metrics), "dataset": metrics["dataset"]}


def vae(args: argparse.Namespace) -> dict:
    flags = ["--model", "mlp", "--hidden", "400", "--latent-dim", "20", "--lr", "1e-3",
             "--epochs", "10", "--batch-size", "128", "--schedule", "constant"]
    run = train_mnist_vae.parser().parse_args(flags + _shared(args, "vae"))
    metrics = train_mnist_vae.train(run)
    return {"published": {"test_loss_bce_kl_per_image": VAE_LOSS},
            "measured": {"test_loss_bce_kl_per_image": metrics["test_loss_bce_kl_per_image"]},
            **_timing(metrics), "dataset": metrics["dataset"]}


def _shared(args: argparse.Namespace, name: str) -> list[str]:
    out = Path(args.out) / name
    if args.seeds > 1:
        out = out / f"seed_{args.seed}"
    flags = ["--device", args.device, "--seed", str(args.seed), "--dataset", args.dataset,
             "--out", str(out)]
    if args.data_dir:
        flags += ["--data-dir", args.data_dir]
    if args.resume:
        flags.append("--resume")
    return flags


def _timing(metrics: dict) -> dict:
    """Training time summed over the epochs (so it survives --resume), and this run's."""
    return {"epochs": metrics["epochs"], "seconds_per_epoch": metrics["seconds_per_epoch"],
            "train_minutes": metrics["train_seconds"] / 60,
            "wall_minutes": metrics["wall_seconds"] / 60, "device": metrics["device"]}


TARGETS = {"hinton": hinton, "vae": vae}
# The measured number that decides whether a target passes (lower is better for both).
DECIDING = {"hinton": "autoencoder", "vae": "test_loss_bce_kl_per_image"}


def over_seeds(name: str, args: argparse.Namespace) -> dict:
    """Run target ``name`` for seeds args.seed, ..., args.seed + args.seeds - 1. The measured
    numbers are the means over the seeds; with several seeds the result also lists each
    seed's numbers and the standard error of the mean (sample standard deviation / sqrt(n))."""
    seeds = range(args.seed, args.seed + args.seeds)
    runs = [TARGETS[name](argparse.Namespace(**{**vars(args), "seed": seed})) for seed in seeds]
    return reproduction.over_seeds(runs, seeds, DECIDING[name])


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=common.HelpFormatter)
    p.add_argument("--target", choices=(*TARGETS, "all"), default="all",
                   help="which published number to reproduce")
    p.add_argument("--device", default="cpu", help='"cpu", "gpu" or "cuda:N"')
    p.add_argument("--seed", type=int, default=0, help="the (first) seed")
    p.add_argument("--seeds", type=_positive, default=1,
                   help="run each target for this many seeds from --seed on; the measured "
                        "number is their mean")
    p.add_argument("--dataset", choices=("mnist", "auto", "mnist5k", "digits"),
                   default="mnist", help="the published numbers are on full MNIST")
    p.add_argument("--data-dir", default=None,
                   help="folder of the MNIST .gz files, or the folder holding mnist/ "
                        "(default: $MINIGRAD_DATA, else the cache)")
    p.add_argument("--hinton-epochs", type=common.positive_int, default=100,
                   help="epochs of the Hinton target's autoencoder")
    p.add_argument("--hinton-weight-decay", type=float, default=0.0,
                   help="AdamW weight decay for the Hinton target (0: Adam)")
    p.add_argument("--hinton-shift", type=int, default=1,
                   help="random shifts of the training digits by up to this many pixels")
    p.add_argument("--out", default="runs/reproduce",
                   help="output folder: one subfolder per target, metrics.json the summary")
    p.add_argument("--resume", action="store_true",
                   help="continue each target from its checkpoint")
    p.add_argument("--threads", type=common.positive_int, default=None,
                   help="BLAS threads on the CPU (default: as in every demo, 1 on a machine "
                        "of at most 2 cores, else the cores the load average leaves free)")
    return p


def reproduce(args: argparse.Namespace) -> dict:
    targets = list(TARGETS) if args.target == "all" else [args.target]
    summary_path = Path(args.out) / "metrics.json"
    for name in targets:
        result = over_seeds(name, args)
        # Read just before writing: another target may have finished meanwhile.
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        summary[name] = result
        common.write_json(summary, summary_path)
    print("\n".join(reproduction.summary_lines(summary, targets)))
    return summary


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    summary = common.run(lambda: reproduce(args), args.threads)
    targets = list(TARGETS) if args.target == "all" else [args.target]
    if not all(summary[name]["passed"] for name in targets):
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main()
