"""Contractive autoencoder on MNIST: a plain autoencoder against one penalised for its Jacobian.

    python demos/contractive.py                       # MLP 784-512-128-32, both 10 epochs
    python demos/contractive.py --penalty-weight 0.3 --method exact

Two autoencoders of the same architecture are trained from the same initial weights on the
same batches: a plain one (binary cross-entropy per image) and a contractive one (Rifai et al.
2011), whose loss adds lambda ||J_f(x)||_F^2 (--penalty-weight), by Hutchinson's estimate or
exactly (--method); see docs/guide/demos.md and autoencoders/models/contractive.py.

Measured on the test digits (the first --measure-size of them) for both models:
- the mean Frobenius norm of the encoder's Jacobian ||J_f(x)||_F (exact);
- for each noise level sigma (--sigmas), the mean code displacement ||h(x + eps) - h(x)|| with
  eps ~ N(0, sigma^2 I) unclipped, also divided by ||eps|| (the contraction ratio) and by the
  codes' RMS spread around their mean (immune to an encoder shrinking all its codes);
- the test reconstruction errors (binary cross-entropy and squared error per image).

Writes into --out (default runs/contractive):
- contraction.png       contraction ratio and relative displacement against sigma, and the
                        distribution of ||J_f(x)||_F over the test digits, for both models;
- reconstructions.png   test digits and both models' reconstructions;
- metrics.json          the measurements above, the settings and times;
- ae/, cae/             each model's trainer log and checkpoint (--resume continues).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import numpy as np

import minigrad as mg
from autoencoders import contraction, plots, tasks
from autoencoders.models.contractive import DEFAULT_METHOD, METHODS, PROBES

FOLDERS = {"autoencoder": "ae", "contractive": "cae"}  # each model's trainer log, checkpoint


def float_list(text: str) -> tuple[float, ...]:
    """'0.01,0.1' -> (0.01, 0.1)."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/contractive", latent_dim=32,
                           hidden="512,128", epochs=10, lr=1e-3)
    p.add_argument("--penalty-weight", "--lambda", dest="penalty_weight", type=float,
                   default=0.1, help="lambda, the weight of ||J_f(x)||_F^2 in the loss per image")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                   help="the penalty: Hutchinson's estimate or exact (one backward pass per "
                        "code unit)")
    p.add_argument("--n-samples", type=int, default=1,
                   help="Hutchinson's estimate: random probes per digit and step")
    p.add_argument("--probe", choices=PROBES, default="rademacher",
                   help="Hutchinson's estimate: the probes' distribution")
    p.add_argument("--sigmas", type=float_list, default=(0.01, 0.05, 0.1),
                   help="standard deviations of the input noise of the displacement measure")
    p.add_argument("--measure-size", type=int, default=None,
                   help="test digits the contraction is measured on (default: all)")
    tasks.add_subset_flags(p)
    return p


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)  # an unusable device fails here, before any work
    started = time.perf_counter()
    data = common.load_images(args)
    out = Path(args.out)
    x_train, x_test = tasks.channels_first(data.x_train), tasks.channels_first(data.x_test)
    shape = x_train.shape[1:]

    penalty = {"weight": args.penalty_weight, "method": args.method,
               "n_samples": args.n_samples, "probe": args.probe}
    models, histories = {}, {}
    for name, loss_fn in contraction.loss_fns(**penalty).items():
        mg.manual_seed(args.seed)  # the same initial weights for both
        models[name] = tasks.image_model(args.model, shape, shape, args.latent_dim,
                                         args.hidden, args.channels)
        print(f"--- {name} ---", flush=True)
        histories[name] = common.fit(models[name], loss_fn, (x_train,), (x_test,), args,
                                     out / FOLDERS[name])

    measured = x_test[:args.measure_size]
    results, norms = contraction.measure(models, histories, measured, args.sigmas, args.seed + 1)
    table = contraction.contraction_table(results, args.sigmas)
    print(table)

    plots.save_contraction(results, norms, args.sigmas, out / "contraction.png")
    plots.save_image_rows(contraction.reconstruction_rows(models, x_test[:12]),
                          out / "reconstructions.png", title="plain and contractive "
                          f"(lambda {args.penalty_weight}) autoencoders")
    trained = sum(common.train_seconds(h) for h in histories.values())
    metrics = {
        "dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
        "n_measured": len(measured), "model": args.model,
        "layer_sizes": [int(np.prod(shape)), *args.hidden, args.latent_dim]
        if args.model == "mlp" else None,
        "latent_dim": args.latent_dim, "epochs": histories["contractive"][-1]["epoch"],
        "penalty": penalty, "sigmas": list(args.sigmas), **results, "table": table,
        "seconds_per_epoch": {name: common.train_seconds(h) / len(h)
                              for name, h in histories.items()},
    }
    return common.finish(metrics, out, started, device, trained)


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), run, argv)


if __name__ == "__main__":
    main()
