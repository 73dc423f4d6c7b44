"""The long runs that measure a VAE as the literature does (docs/generative.md), as commands.

    python -m autoencoders.generative_runs iwae --objective iwae --k 5 --out runs/iwae_k5
    python -m autoencoders.generative_runs iwae --objective vae --k 1 --out runs/vae_k1
    python -m autoencoders.generative_runs rate-distortion --betas 0.1,0.3,1,3,10 \\
        --out runs/rate_distortion

``iwae``: Burda, Grosse & Salakhutdinov (ICLR 2016), Table 1, one stochastic layer: a
784-200-200-50 tanh VAE (decoder 50-200-200-784, Bernoulli), trained on dynamically binarized
MNIST with Adam (beta1 0.9, beta2 0.999, eps 1e-4), batches of 20, for sum_{i=0..7} 3^i = 3280
passes with learning rate 1e-3 * 10^(-i/7) during the 3^i passes of stage i (``--epochs``
shortens the schedule: it then stops early in it, with the rate still above the paper's final
1e-4). ``--schedule cosine`` instead anneals the rate from --lr to --min-lr over the --epochs of
the run (``optim.lr_scheduler.CosineAnnealingLR``, stepped per epoch), so that a short run ends
annealed, as the paper's long one does. The objective is the k-sample IWAE bound
("iwae") or the k-sample ELBO ("vae"); ``--kl analytic`` (the VAE, k = 1) takes the ELBO's KL
term in closed form instead of sampling it (``vae_loss_fn``). At the end, the test
log-likelihood by importance sampling with --eval-k 5000 samples on the test set binarized once
(seed 0), with its Monte Carlo and data standard errors. Writes metrics.json (and the
Trainer's metrics.jsonl and checkpoint; --resume continues a run).

``rate-distortion``: one beta-VAE per beta (``vae_loss_fn(beta=...)``), same data, then rate
and distortion of each on the binary test set: rate_distortion.json, rate_distortion.png, and
samples.png (12 samples of each beta).

--train-subset N trains on the first N training images only (a quick timing or smoke run).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import minigrad as mg
from autoencoders import plots
from autoencoders.binarize import binarized_mnist, dynamic_binarize
from autoencoders.likelihood import log_likelihood
from autoencoders.models import VAE, iwae_loss_fn, vae_loss_fn
from autoencoders.rate_distortion import plot_rate_distortion, rate_distortion_curve
from autoencoders.train import Trainer
from minigrad import optim
from minigrad.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

__all__ = ["BurdaSchedule", "IWAE_FLAGS", "SHORT_SCHEDULE", "VAE_FLAGS", "VAE_TARGET",
           "burda_epochs", "curve_epochs", "main", "table1", "table1_passed"]

PUBLISHED = {  # Burda et al. 2016, Table 1, MNIST, one stochastic layer: test log p(x), k=5000
    ("vae", 1): -86.76, ("vae", 5): -86.47, ("vae", 50): -86.35,
    ("iwae", 1): -86.76, ("iwae", 5): -85.54, ("iwae", 50): -84.78,
}


def burda_epochs(stages: int = 8) -> int:
    """Passes of the full schedule: sum_{i < stages} 3^i (3280 for 8 stages)."""
    return sum(3**i for i in range(stages))


class BurdaSchedule(LRScheduler):
    """lr = base * 10^(-i/7) during the 3^i epochs of stage i = 0, 1, ... (stepped per epoch);
    past the last stage the last rate stays."""

    def __init__(self, optimizer, stages: int = 8):
        self.stages = stages
        super().__init__(optimizer)

    def _lr(self, base: float, t: int) -> float:
        i, end = 0, 1
        while t >= end and i < self.stages - 1:
            i += 1
            end += 3**i
        return base * 10 ** (-i / 7)


def _data(args):
    x_train, _, x_test, _ = binarized_mnist(args.data, seed=0, root=args.data_dir)
    if args.train_subset:
        x_train = x_train[:args.train_subset]
    if args.test_subset:
        x_test = x_test[:args.test_subset]
    return x_train, x_test


def _trainer(args, loss_fn, x_train, out: Path) -> Trainer:
    mg.manual_seed(args.seed)
    model = VAE((x_train.shape[1], *args.hidden, args.latent_dim), activation=args.activation)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-4)
    if args.schedule == "cosine":
        schedule = CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.min_lr)
    else:
        schedule = BurdaSchedule(optimizer)
    return Trainer(model, loss_fn, optimizer, schedule, device=args.device,
                   out_dir=out, seed=args.seed, progress=not args.no_progress)


def _train(args, loss_fn, x_train, x_test, out: Path):
    trainer = _trainer(args, loss_fn, x_train, out)
    history = trainer.fit((x_train,), (x_test,), epochs=args.epochs,
                          batch_size=args.batch_size, resume=args.resume)
    return trainer.model, history


def curve_epochs(epochs: int, stages: int = 8) -> list[int]:
    """The epochs at which a run's log-likelihood curve is measured: the ends of the Burda
    schedule's stages (1, 4, 13, 40, 121, ...) that come before ``epochs``, then ``epochs``."""
    ends = [burda_epochs(i) for i in range(1, stages + 1)]
    return [e for e in ends if e < epochs] + [epochs]


def _objective(args):
    """The training loss: the k-sample bound of --objective, or, with --kl analytic (VAE, k = 1),
    the ELBO with its KL term in closed form (``vae_loss_fn``: Kingma & Welling's estimator B,
    the same objective with less gradient noise than sampling log q - log p too)."""
    if args.kl == "sampled":
        return iwae_loss_fn(k=args.k, objective=args.objective, augment=dynamic_binarize)
    if args.objective != "vae" or args.k != 1:
        raise ValueError(f"--kl analytic is the one-sample ELBO: it needs --objective vae --k 1, "
                         f"got --objective {args.objective} --k {args.k}")
    return vae_loss_fn(augment=dynamic_binarize)


def run_iwae(args) -> dict:
    out = Path(args.out)
    x_train, x_test = _data(args)
    loss_fn = _objective(args)
    started = time.perf_counter()
    trainer = _trainer(args, loss_fn, x_train, out)
    # The test log-likelihood against epochs, on the first --curve-test-size test images
    # (k = --eval-k each): training pauses at the ends of the schedule's stages to measure it.
    curve = []
    stops = curve_epochs(args.epochs) if args.curve_test_size and args.eval_k else [args.epochs]
    for i, epochs in enumerate(stops):
        history = trainer.fit((x_train,), (x_test,), epochs=epochs,
                              batch_size=args.batch_size, resume=args.resume and i == 0)
        if trainer.epoch == epochs and len(stops) > 1:  # not a point a resumed run passed
            point = log_likelihood(trainer.model, x_test[:args.curve_test_size], k=args.eval_k,
                                   batch_size=args.eval_batch, seed=0).summary()
            curve.append({"epoch": epochs, **point})
            print(f"epoch {epochs}: test log p(x) {point['log_likelihood']:.2f} "
                  f"(first {point['n']} test images, k = {args.eval_k})", flush=True)
    model = trainer.model
    train_seconds = sum(row["time"] for row in history)
    metrics = {"objective": args.objective, "k": args.k, "kl": args.kl, "epochs": len(history),
               "layer_sizes": [x_train.shape[1], *args.hidden, args.latent_dim],
               "activation": args.activation, "schedule": args.schedule,
               "n_train": len(x_train), "n_test": len(x_test),
               "seconds_per_epoch": train_seconds / max(len(history), 1),
               "train_seconds": train_seconds, "device": str(trainer.device),
               "last_epoch": history[-1] if history else None,
               "published_log_likelihood": PUBLISHED.get((args.objective, args.k)),
               "log_likelihood_curve": curve}
    if args.eval_k:
        start = time.perf_counter()
        result = log_likelihood(model, x_test, k=args.eval_k, batch_size=args.eval_batch,
                                seed=0)
        metrics["test_log_likelihood"] = result.summary()
        metrics["eval_seconds"] = time.perf_counter() - start
    metrics["wall_seconds"] = time.perf_counter() - started
    _write(metrics, out / "metrics.json")
    return metrics


VAE_TARGET = -89.0  # this repository's bar for the VAE (k = 1) of a shortened schedule
# A run of a few hundred epochs anneals within them: 1e-3 down to 1e-5 by a cosine (the paper's
# stages, cut there, would leave the rate at 1.9e-4 after 200 epochs; docs/generative.md).
SHORT_SCHEDULE = ("--schedule", "cosine", "--min-lr", "1e-5")
# The VAE of the table: k = 1 with the KL term in closed form (the same bound as the paper's
# k = 1 row, with less gradient noise: it gets further in the same epochs).
VAE_FLAGS = ("--objective", "vae", "--k", "1", "--kl", "analytic")
IWAE_FLAGS = ("--objective", "iwae", "--k", "5")


def table1(vae_epochs: int, iwae_epochs: int, out: str | Path,
           flags: Sequence[str] = ()) -> dict:
    """Burda et al.'s Table 1, the rows that a shortened run can check, every model trained
    with SHORT_SCHEDULE (``flags``: more command-line flags for all, e.g. --device):

    - vae_k1: the VAE (VAE_FLAGS) for ``vae_epochs``, held to VAE_TARGET;
    - iwae_k5: the IWAE (k = 5) for ``iwae_epochs``;
    - vae_k1_same_epochs: the VAE for ``iwae_epochs`` (vae_k1 itself when the two counts are
      equal), which the IWAE must beat: the paper's finding is the IWAE above the VAE trained
      as long.

    Each run writes into out/<name>. Returns the published and measured test
    log-likelihoods, their data standard errors, the curves, each run's epochs and training
    seconds, the summed times, and "passed"."""
    plan = {"vae_k1": (VAE_FLAGS, vae_epochs), "iwae_k5": (IWAE_FLAGS, iwae_epochs)}
    if iwae_epochs != vae_epochs:
        plan["vae_k1_same_epochs"] = (VAE_FLAGS, iwae_epochs)
    runs = {name: main(["iwae", *model, "--epochs", str(epochs), *SHORT_SCHEDULE,
                        "--out", str(Path(out) / name), *flags])
            for name, (model, epochs) in plan.items()}
    runs.setdefault("vae_k1_same_epochs", runs["vae_k1"])
    measured = {n: r["test_log_likelihood"]["log_likelihood"] for n, r in runs.items()}
    return {"published": {"vae_k1": PUBLISHED["vae", 1], "iwae_k5": PUBLISHED["iwae", 5]},
            "measured": measured,
            "target": f"vae_k1 >= {VAE_TARGET}, iwae_k5 > vae_k1_same_epochs",
            "passed": table1_passed(measured),
            "data_se": {n: r["test_log_likelihood"]["data_se"] for n, r in runs.items()},
            "curves": {n: r["log_likelihood_curve"] for n, r in runs.items()},
            "run_epochs": {n: r["epochs"] for n, r in runs.items()},
            "run_train_minutes": {n: r["train_seconds"] / 60 for n, r in runs.items()},
            "epochs": vae_epochs, "seconds_per_epoch": runs["vae_k1"]["seconds_per_epoch"],
            "train_seconds": sum(runs[n]["train_seconds"] for n in plan),
            "wall_seconds": sum(runs[n]["wall_seconds"] for n in plan),
            "device": runs["vae_k1"]["device"]}


def table1_passed(measured: dict) -> bool:
    """The VAE at or above VAE_TARGET, and the IWAE above the VAE trained as long."""
    return (measured["vae_k1"] >= VAE_TARGET
            and measured["iwae_k5"] > measured["vae_k1_same_epochs"])


def run_rate_distortion(args) -> dict:
    out = Path(args.out)
    x_train, x_test = _data(args)
    models, histories = {}, {}
    for beta in args.betas:
        loss_fn = vae_loss_fn(beta=beta, augment=dynamic_binarize)
        models[beta], histories[beta] = _train(args, loss_fn, x_train, x_test,
                                               out / f"beta_{beta:g}")
    rows = rate_distortion_curve(args.betas, models, x_test, samples=args.samples)
    plot_rate_distortion(rows, out / "rate_distortion.png",
                         title=f"beta-VAE, {args.epochs} epochs, binarized {args.data}")
    side = int(round(x_test.shape[1] ** 0.5))  # square images: MNIST or the 8x8 digits
    mg.manual_seed(args.seed)
    with mg.no_grad():
        samples = {f"beta {beta:g}": models[beta].eval().sample(12).numpy().reshape(-1, side, side)
                   for beta in args.betas}
    plots.save_image_rows(samples, out / "samples.png",
                          title="beta-VAE: means of p(x | z), z ~ N(0, I)")
    metrics = {"rows": rows, "epochs": args.epochs}
    _write(metrics, out / "rate_distortion.json")
    return metrics


def _write(metrics: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    print(json.dumps(metrics, indent=2, default=float))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("iwae", "rate-distortion"):
        s = sub.add_parser(name)
        s.add_argument("--out", required=True)
        s.add_argument("--data", "--dataset", default="mnist",
                       help="mnist, mnist5k, digits or auto (datasets.load_dataset)")
        s.add_argument("--data-dir", default=None,
                       help="folder of the MNIST .gz files, or the folder holding mnist/ "
                            "(default: $MINIGRAD_DATA, else the cache)")
        s.add_argument("--hidden", type=lambda t: tuple(int(v) for v in t.split(",")),
                       default=(200, 200))
        s.add_argument("--latent-dim", type=int, default=50)
        s.add_argument("--activation", default="tanh")
        s.add_argument("--epochs", type=int, default=burda_epochs(),
                       help="passes over the training set (3280: Burda et al.'s schedule)")
        s.add_argument("--batch-size", type=int, default=20)
        s.add_argument("--lr", type=float, default=1e-3)
        s.add_argument("--schedule", choices=("burda", "cosine"), default="burda",
                       help="burda: the paper's stages (cut at --epochs); cosine: --lr down to "
                            "--min-lr over --epochs")
        s.add_argument("--min-lr", type=float, default=1e-4,
                       help="the rate a cosine schedule ends at (default: the paper's last)")
        s.add_argument("--device", default="cpu")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--train-subset", type=int, default=0)
        s.add_argument("--test-subset", type=int, default=0)
        s.add_argument("--resume", action="store_true")
        s.add_argument("--no-progress", action="store_true")
        s.add_argument("--threads", type=int, default=None, help="BLAS threads (CPU)")
        if name == "iwae":
            s.add_argument("--objective", choices=("iwae", "vae"), default="iwae")
            s.add_argument("--k", type=int, default=1, help="samples in the training bound")
            s.add_argument("--kl", choices=("sampled", "analytic"), default="sampled",
                           help="VAE (k = 1) only: the KL term sampled as log q - log p (the "
                                "k-sample bound at k = 1) or in closed form")
            s.add_argument("--eval-k", type=int, default=5000,
                           help="importance samples for the test log-likelihood (0: none)")
            s.add_argument("--eval-batch", type=int, default=100)
            s.add_argument("--curve-test-size", type=int, default=1000,
                           help="test images for the log-likelihood measured at the end of "
                                "each schedule stage (0: no curve)")
        else:
            s.add_argument("--betas", type=lambda t: [float(v) for v in t.split(",")],
                           default=[0.1, 0.3, 1.0, 3.0, 10.0])
            s.add_argument("--samples", type=int, default=10,
                           help="codes per test image for the distortion")
    return p


def main(argv: list[str] | None = None) -> dict:
    from threadpoolctl import threadpool_limits

    from autoencoders.runconfig import default_threads

    args = parser().parse_args(argv)
    job = run_iwae if args.command == "iwae" else run_rate_distortion
    with threadpool_limits(limits=args.threads or default_threads(), user_api="blas"):
        return job(args)


if __name__ == "__main__":
    main()
