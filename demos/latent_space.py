"""Dimensionality reduction: an autoencoder's 2-D codes of MNIST against PCA and t-SNE.

    python demos/latent_space.py                  # 2-D MLP autoencoder, 30 epochs, + sweep
    python demos/latent_space.py --sweep 2,30 --tsne-size 2000

What it measures, all in one run (the results are in docs/guide/uses.md):
- 2-D codes of the test digits from PCA and from an autoencoder 784-512-256-128-2 (binary
  cross-entropy), and how well each keeps the classes apart: k-NN accuracy (k = 1, 5) fitted
  on the training digits' codes, scored on the test digits' (Sainburg, McInnes & Gentner 2021);
- t-SNE maps of the codes of the sweep's largest autoencoder (30-D) and of the pixels (after
  PCA to 50-D), of --tsne-size digits (4/5 training, 1/5 test) embedded together, with kNN
  accuracy fitted on the training points and scored on the test points of that embedding;
- test squared error per pixel against the code size (--sweep) for PCA and for autoencoders
  of the same architecture trained for --sweep-epochs.

Writes into --out (default runs/latent_space):
- codes_2d.png           PCA, autoencoder (also zoomed on its dense middle) and the two t-SNE
                         maps, coloured by digit;
- recon_vs_latent.png    test reconstruction error against code size, PCA and autoencoder;
- metrics.json           kNN accuracies, reconstruction errors, sizes, times;
- ae2/, sweep_K/         each autoencoder's trainer log and checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common

import minigrad as mg
from autoencoders import embedding, plots, tasks
from autoencoders.embedding import PUBLISHED_1NN, encode, knn_scores, pca_error
from autoencoders.models import MLPAutoencoder, autoencoder_loss_fn


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/latent_space", latent_dim=2,
                           hidden="512,256,128", epochs=30, lr=2e-3)
    p.set_defaults(schedule="cosine")
    p.add_argument("--sweep", type=common.int_list, default=(2, 5, 10, 30),
                   help="code sizes of the reconstruction-error sweep")
    p.add_argument("--sweep-epochs", type=common.positive_int, default=None,
                   help="epochs of each autoencoder of the sweep (default: 5 on full MNIST; on "
                        "a smaller data set as many as give the same number of steps)")
    p.set_defaults(matched_epoch_flags={"sweep_epochs": 5})
    p.add_argument("--tsne-size", type=int, default=3000,
                   help="digits embedded by t-SNE (0: no t-SNE)")
    tasks.add_subset_flags(p)
    return p


def train_autoencoder(latent_dim: int, x_train, x_test, args, out_dir: Path, epochs: int):
    """An MLP autoencoder (784, *--hidden, latent_dim) trained with the binary cross-entropy;
    returns (model, test squared error per pixel, training seconds)."""
    mg.manual_seed(args.seed)
    model = MLPAutoencoder((x_train.shape[1], *args.hidden, latent_dim))
    history = common.fit(model, autoencoder_loss_fn("bce"), (x_train,), (x_test,), args,
                         out_dir, epochs=epochs)
    seconds = common.train_seconds(history)
    return model, history[-1]["test_sq_error"] / x_train.shape[1], seconds


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = common.load_images(args)
    out = Path(args.out)
    x_train, x_test = (common.model_inputs(x, "mlp") for x in (data.x_train, data.x_test))
    y_train, y_test = data.y_train, data.y_test

    pca2, pca_train, pca_test = embedding.pca_codes(x_train, x_test, 2, args.seed)
    model, ae_error, train_seconds = train_autoencoder(
        args.latent_dim, x_train, x_test, args, out / f"ae{args.latent_dim}", args.epochs)
    ae_train, ae_test = encode(model, x_train), encode(model, x_test)
    knn = {"PCA": knn_scores(pca_train, y_train, pca_test, y_test),
           "autoencoder": knn_scores(ae_train, y_train, ae_test, y_test)}

    pca_errors = embedding.pca_errors(x_train, x_test, args.sweep, args.seed)
    sweep = [train_autoencoder(size, x_train, x_test, args, out / f"sweep_{size}",
                               args.sweep_epochs) for size in args.sweep]
    ae_errors = [error for _, error, _ in sweep]
    train_seconds += sum(seconds for _, _, seconds in sweep)
    plots.save_sweep(list(args.sweep), pca_errors, ae_errors, out / "recon_vs_latent.png")

    panels = embedding.map_panels(pca_test, ae_test, y_test, knn, args.latent_dim)
    tsne_seconds = 0.0
    if args.tsne_size:
        tsne_started = time.perf_counter()
        biggest = sweep[args.sweep.index(max(args.sweep))][0]  # the largest code's model
        more_panels, more_knn = embedding.tsne_codes_and_pixels(
            biggest, x_train, x_test, y_train, y_test, args.tsne_size, args.seed, args.threads)
        panels += more_panels
        knn.update(more_knn)
        tsne_seconds = time.perf_counter() - tsne_started
    plots.save_scatter_panels(panels, out / "codes_2d.png")

    table = tasks.scores_table(knn)
    print(table)
    metrics = {
        "dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
        "latent_dim": args.latent_dim, "hidden": list(args.hidden), "epochs": args.epochs,
        "knn_accuracy": knn, "published_1nn": PUBLISHED_1NN, "table": table,
        "test_sq_error_per_pixel": {"PCA": pca_error(pca2, x_test), "autoencoder": ae_error},
        "sweep": {"sizes": list(args.sweep), "epochs": args.sweep_epochs,
                  "pca_sq_error_per_pixel": pca_errors, "ae_sq_error_per_pixel": ae_errors},
        "tsne_size": args.tsne_size, "tsne_seconds": tsne_seconds,
    }
    return common.finish(metrics, out, started, device, train_seconds)


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), run, argv)


if __name__ == "__main__":
    main()
