"""Contractive autoencoder on MNIST: a plain autoencoder against one penalised for its Jacobian.

    python demos/contractive.py                       # MLP 784-512-128-32, both 10 epochs
    python demos/contractive.py --penalty-weight 0.3 --method exact

Two autoencoders of the same architecture are trained from the same initial weights on the
same batches: a plain one (the binary cross-entropy per image) and a contractive one (Rifai et
al. 2011), whose loss per image adds lambda ||J_f(x)||_F^2, the squared Frobenius norm of the
encoder's Jacobian dh/dx at the training digit (--penalty-weight is lambda). The penalty is
computed by reverse mode with create_graph=True: Hutchinson's unbiased estimate with one
Rademacher probe per digit (one extra backward pass per step) by default, or exactly with
--method exact (one backward pass per code unit); see autoencoders/models/contractive.py.

Measured on the test digits (the first --measure-size of them) for both models:
- the mean Frobenius norm of the encoder's Jacobian ||J_f(x)||_F (exact);
- for each noise level sigma (--sigmas), the mean code displacement ||h(x + eps) - h(x)|| with
  eps ~ N(0, sigma^2 I) unclipped, also divided by ||eps|| (the contraction ratio) and by the
  codes' RMS spread around their mean (an encoder could shrink all its codes and let the
  decoder scale them back up; the relative displacement is immune to that);
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
from autoencoders import metrics as M
from autoencoders import plots, tasks
from autoencoders.models import autoencoder_loss_fn, contractive_loss_fn
from autoencoders.models.contractive import DEFAULT_METHOD, METHODS, PROBES
from autoencoders.train import predict


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


def plot_contraction(results: dict[str, dict], norms: dict[str, np.ndarray], sigmas,
                     path: Path) -> None:
    """Three panels: contraction ratio and relative displacement against sigma (log-log), and
    histograms of ||J_f(x)||_F, one line or histogram per model."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, result in results.items():
        rows = [result["noise"][str(s)] for s in sigmas]
        axes[0].plot(sigmas, [r["displacement_per_noise_norm"] for r in rows], marker="o",
                     label=name)
        axes[1].plot(sigmas, [r["relative_displacement"] for r in rows], marker="o",
                     label=name)
        axes[2].hist(norms[name], bins=40, alpha=0.6, label=name)
    axes[0].set_ylabel("mean ||h(x+eps) - h(x)|| / ||eps||")
    axes[1].set_ylabel("mean ||h(x+eps) - h(x)|| / code spread")
    for ax in axes[:2]:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("noise sigma")
    axes[2].set_xlabel("||J_f(x)||_F on test digits")
    axes[2].set_ylabel("digits")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("how far codes move under input noise", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)  # an unusable device fails here, before any work
    started = time.perf_counter()
    data = tasks.subset(common.load_images(args), args.train_size, args.test_size)
    out = Path(args.out)
    x_train, x_test = tasks.channels_first(data.x_train), tasks.channels_first(data.x_test)
    shape = x_train.shape[1:]

    penalty = {"weight": args.penalty_weight, "method": args.method,
               "n_samples": args.n_samples, "probe": args.probe}
    losses = {
        "autoencoder": (autoencoder_loss_fn("bce"), "ae"),
        "contractive": (contractive_loss_fn(args.penalty_weight, "bce", args.method,
                                            args.n_samples, args.probe), "cae"),
    }
    models, histories = {}, {}
    for name, (loss_fn, folder) in losses.items():
        mg.manual_seed(args.seed)  # the same initial weights for both
        model = tasks.image_model(args.model, shape, shape, args.latent_dim, args.hidden,
                                  args.channels)
        print(f"--- {name} ---", flush=True)
        histories[name] = common.fit(model, loss_fn, (x_train,), (x_test,), args, out / folder)
        models[name] = model

    measured = x_test[:args.measure_size]
    results, norms = {}, {}
    for name, model in models.items():
        norms[name] = M.encoder_jacobian_norms(model, measured)
        results[name] = M.contraction(model, measured, args.sigmas, seed=args.seed + 1,
                                      jacobian_norms=norms[name])
        final = histories[name][-1]  # the last epoch's test evaluation: the final weights
        results[name]["test_bce_per_image"] = final["test_bce"]
        results[name]["test_sq_error_per_image"] = final["test_sq_error"]
    table = contraction_table(results, args.sigmas)
    print(table)

    plot_contraction(results, norms, args.sigmas, out / "contraction.png")
    shown = x_test[:12]
    rows = {"test digits": shown[:, 0]}
    for name, model in models.items():
        rows[name] = predict(model, shown).reshape(shown.shape)[:, 0]
    plots.save_image_rows(rows, out / "reconstructions.png",
                          title=f"plain and contractive (lambda {args.penalty_weight}) "
                                "autoencoders")
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
        **common.timings(started, device, trained),
    }
    common.write_json(metrics, out / "metrics.json")
    return metrics


def contraction_table(results: dict[str, dict], sigmas) -> str:
    """A Markdown table, one row per model: reconstruction errors, Jacobian norm, and the
    displacement (absolute and relative to the code spread) at each sigma."""
    rows = {}
    for name, result in results.items():
        row = {"test BCE": result["test_bce_per_image"],
               "test sq. error": result["test_sq_error_per_image"],
               "mean ||J||_F": result["jacobian_frobenius"],
               "code spread": result["code_spread"]}
        for s in sigmas:
            row[f"disp. sigma={s}"] = result["noise"][str(s)]["displacement"]
            row[f"rel. disp. sigma={s}"] = result["noise"][str(s)]["relative_displacement"]
        rows[name] = row
    return tasks.scores_table(rows, digits=4)


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    return common.run(lambda: run(args), args.threads)


if __name__ == "__main__":
    main()
