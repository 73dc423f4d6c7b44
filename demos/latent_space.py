"""Dimensionality reduction: an autoencoder's 2-D codes of MNIST against PCA and t-SNE.

    python demos/latent_space.py                  # 2-D MLP autoencoder, 30 epochs, + sweep
    python demos/latent_space.py --sweep 2,30 --tsne-size 2000

What it measures, all in one run:
- 2-D codes of the test digits from PCA and from an autoencoder 784-512-256-128-2 (trained
  with the binary cross-entropy), side by side, coloured by digit;
- how well each 2-D map keeps the classes apart: k-nearest-neighbour accuracy (k = 1 and 5)
  of a classifier fitted on the training digits' codes and scored on the test digits' codes
  (the measure of Sainburg, McInnes & Gentner 2021, who report 1-NN 0.377 for PCA, 0.765 for
  an autoencoder, 0.724 for a VAE and 0.941 for t-SNE);
- t-SNE maps (scikit-learn) of the codes of an autoencoder with a 30-D code, and of the pixels
  (after PCA to 50 dimensions, the usual first step). t-SNE is slow and not parametric: it
  embeds a subsample (--tsne-size digits, four fifths from the training set and one fifth
  from the test set) all at once, and its kNN accuracy is fitted on the training points and
  scored on the test points of that same embedding;
- reconstruction error (squared error per pixel on the test set) against the code size
  (--sweep, default 2, 5, 10, 30) for PCA and for autoencoders of the same architecture, each
  trained for --sweep-epochs.

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
from sklearn.decomposition import PCA

import minigrad as mg
from autoencoders import plots, tasks
from autoencoders.embedding import encode, knn_scores, pca_error, tsne_panels
from autoencoders.models import MLPAutoencoder, autoencoder_loss_fn

PUBLISHED_1NN = {"PCA": 0.377, "autoencoder": 0.765, "VAE": 0.724, "t-SNE": 0.941}


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
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    y_train, y_test = data.y_train, data.y_test

    pca2 = PCA(2, random_state=args.seed).fit(x_train)
    pca_train, pca_test = pca2.transform(x_train), pca2.transform(x_test)
    model, ae_error, train_seconds = train_autoencoder(
        args.latent_dim, x_train, x_test, args, out / f"ae{args.latent_dim}", args.epochs)
    ae_train, ae_test = encode(model, x_train), encode(model, x_test)
    knn = {"PCA": knn_scores(pca_train, y_train, pca_test, y_test),
           "autoencoder": knn_scores(ae_train, y_train, ae_test, y_test)}

    pca_errors, ae_errors, sweep_models = [], [], {}
    for size in args.sweep:
        pca_errors.append(pca_error(PCA(size, random_state=args.seed).fit(x_train), x_test))
        sweep_models[size], error, seconds = train_autoencoder(
            size, x_train, x_test, args, out / f"sweep_{size}", args.sweep_epochs)
        ae_errors.append(error)
        train_seconds += seconds
    plots.save_sweep(list(args.sweep), pca_errors, ae_errors, out / "recon_vs_latent.png")

    ae_title = f"autoencoder, {args.latent_dim}-D code (test digits)"
    panels = [(f"PCA (test digits)\n1-NN {knn['PCA']['1-NN']:.3f}", pca_test, y_test, 0.995),
              (f"{ae_title}\n1-NN {knn['autoencoder']['1-NN']:.3f}", ae_test, y_test, 0.995),
              # its codes are dense in the middle with long sparse rays: zoom in as well
              (f"{ae_title}\nzoomed on its dense middle", ae_test, y_test, 0.5)]
    tsne_seconds = 0.0
    if args.tsne_size:
        tsne_started = time.perf_counter()
        big = max(args.sweep)
        pca50 = PCA(min(50, x_train.shape[1]), random_state=args.seed).fit(x_train)
        more_panels, more_knn = tsne_panels(
            {f"{big}-D AE codes": (encode(sweep_models[big], x_train),
                                    encode(sweep_models[big], x_test)),
             "pixels": (pca50.transform(x_train), pca50.transform(x_test))},
            y_train, y_test, args.tsne_size, args.seed, args.threads)
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
