"""Reproduce the published numbers with one command, and say how long it took.

    python demos/reproduce.py --target vae       # ~10 epochs
    python demos/reproduce.py --target hinton    # long on a CPU: see docs/reproduction.md
    python demos/reproduce.py --target iwae      # three 784-200-200-50 models: ~2.2 h on 2 cores
    python demos/reproduce.py --target all --device gpu --seeds 10   # mean and spread

Targets (docs/reproduction.md has their settings and the numbers measured):
- hinton: Hinton & Salakhutdinov (2006), Fig. 2: squared error 3.00 per MNIST test image for a
  784-1000-500-250-30 autoencoder, 13.87 for PCA-30 (computed in the same run);
- vae: PyTorch's examples/vae (784-400-20, 10 epochs): test loss (BCE + KL) 105.6 nats;
- iwae: Burda et al. (ICLR 2016), Table 1: test log p(x) of a VAE (k = 1), -86.76, and an
  IWAE (k = 5), -85.54, after 3,280 passes; here a VAE of --vae-epochs and an IWAE and a VAE
  of --iwae-epochs, each with the learning rate annealed within its epochs, met when the VAE
  reaches -89.0 nats and the IWAE beats the VAE trained as long (generative_runs.table1).

Each target writes into --out/<target>/ (--out/<target>/seed_<s>/ with --seeds above 1), the
summary (published vs measured, passed, minutes; with several seeds the means, their standard
errors and each seed's value) into --out/metrics.json. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common
import train_mnist_ae
import train_mnist_vae

import minigrad as mg
from autoencoders import generative_runs, reproduction
from autoencoders.datasets import load_dataset

HINTON = {"autoencoder": 3.00, "pca30": 13.87}  # squared error per test image
VAE = {"test_loss_bce_kl_per_image": 105.6}      # PyTorch examples/vae, after 10 epochs


def hinton(args: argparse.Namespace, seed: int, out: Path) -> dict:
    flags = ("--model mlp --hidden 1000,500,250 --latent-dim 30 --loss bce --schedule cosine "
             "--lr 1e-3 --batch-size 128 --shift 1 --epochs").split()
    run = train_mnist_ae.parser().parse_args([*flags, str(args.hinton_epochs), "--out",
                                              str(out), *_shared(args, seed)])
    metrics = train_mnist_ae.train(run)
    data = load_dataset(args.dataset, root=args.data_dir)
    model = train_mnist_ae.build_model(run, data.image_shape)
    model.load_state_dict(mg.load(out / "checkpoint.npz")["model"])
    pca = reproduction.hinton_comparison(model, data, out / "autoencoder_vs_pca.png")
    return {"published": HINTON, "measured": {"autoencoder": metrics["test_sq_error_per_image"],
                                              "pca30": pca},
            **reproduction.timing(metrics), "dataset": metrics["dataset"]}


def vae(args: argparse.Namespace, seed: int, out: Path) -> dict:
    flags = ("--model mlp --hidden 400 --latent-dim 20 --lr 1e-3 --epochs 10 --batch-size 128 "
             "--schedule constant").split()
    run = train_mnist_vae.parser().parse_args([*flags, "--out", str(out), *_shared(args, seed)])
    metrics = train_mnist_vae.train(run)
    return {"published": VAE, "measured": {k: metrics[k] for k in VAE},
            **reproduction.timing(metrics), "dataset": metrics["dataset"]}


def iwae(args: argparse.Namespace, seed: int, out: Path) -> dict:
    result = generative_runs.table1(args.vae_epochs, args.iwae_epochs, out,
                                    [*_shared(args, seed), "--no-progress"])
    return {**result, **reproduction.timing(result), "dataset": args.dataset}


def _shared(args: argparse.Namespace, seed: int) -> list[str]:
    """The flags every target passes on: dataset, device, seed, [data dir], [resume]."""
    return ["--dataset", args.dataset, "--device", args.device, "--seed", str(seed),
            *(["--data-dir", args.data_dir] if args.data_dir else []),
            *(["--resume"] if args.resume else [])]


# name -> (the target, whether the means of its measured numbers meet it)
TARGETS = {
    "hinton": (hinton, lambda m, p: m["autoencoder"] <= p["autoencoder"]),
    "vae": (vae, lambda m, p: m["test_loss_bce_kl_per_image"] <= p["test_loss_bce_kl_per_image"]),
    "iwae": (iwae, lambda m, p: generative_runs.table1_passed(m)),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=common.HelpFormatter)
    p.add_argument("--target", choices=(*TARGETS, "all"), default="all",
                   help="which published number to reproduce")
    p.add_argument("--device", default="cpu", help='"cpu", "gpu" or "cuda:N"')
    p.add_argument("--seed", type=int, default=0, help="the (first) seed")
    p.add_argument("--seeds", type=common.positive_int, default=1,
                   help="run each target for this many seeds from --seed on")
    common.add_data_flags(p, "mnist", help="the published numbers are on full MNIST")
    p.add_argument("--hinton-epochs", type=common.positive_int, default=100,
                   help="epochs of the Hinton target's autoencoder")
    p.add_argument("--vae-epochs", type=common.positive_int, default=180,
                   help="epochs of the IWAE target's VAE, held to -89.0 nats (the learning "
                        "rate annealed within them)")
    p.add_argument("--iwae-epochs", type=common.positive_int, default=120,
                   help="epochs of the IWAE target's IWAE (k = 5) and of the VAE it must beat")
    p.add_argument("--out", default="runs/reproduce",
                   help="output folder: one subfolder per target, metrics.json the summary")
    p.add_argument("--resume", action="store_true",
                   help="continue each target from its checkpoint")
    p.add_argument("--threads", type=common.positive_int, default=None,
                   help="BLAS threads on the CPU (default: as in every demo)")
    return p


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    targets = {name: TARGETS[name] for name in TARGETS if args.target in (name, "all")}
    seeds = range(args.seed, args.seed + args.seeds)
    summary = common.run(lambda: reproduction.run_targets(targets, args, seeds, args.out),
                         args.threads)
    if not all(summary[name]["passed"] for name in targets):
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main()
