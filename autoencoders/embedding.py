"""Codes as a view of the data: nearest-neighbour accuracy in a code space, PCA's
reconstruction error, and t-SNE maps, for the latent-space demo (and any other)."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from autoencoders import metrics as M
from autoencoders.train import predict

__all__ = ["encode", "knn_scores", "pca_error", "tsne_map", "tsne_panels"]


def knn_scores(train_codes, y_train, test_codes, y_test) -> dict[str, float]:
    """k-NN accuracy (k = 1, 5) of test codes classified by their nearest training codes."""
    return {f"{k}-NN": M.knn_accuracy(train_codes, y_train, test_codes, y_test, k)
            for k in (1, 5)}


def pca_error(pca: PCA, x: np.ndarray) -> float:
    """Squared error per pixel of PCA's reconstructions of x."""
    return float(((pca.inverse_transform(pca.transform(x)) - x) ** 2).mean())


def encode(model, x: np.ndarray) -> np.ndarray:
    """The codes of an autoencoder (anything with an ``encode``) for x."""
    return predict(model, x, fn=lambda m, x: m.encode(x))


def tsne_map(train_features, test_features, y_train, y_test, n: int, seed: int,
             threads: int | None):
    """t-SNE of n points (4/5 training, 1/5 test) embedded together; returns the 2-D points,
    their labels and the kNN accuracies of train -> test within the embedding."""
    n_test = min(n // 5, len(test_features))
    n_train = min(n - n_test, len(train_features))
    features = np.concatenate([train_features[:n_train], test_features[:n_test]])
    # --threads limits OpenMP too: t-SNE's threads spin-wait, so on busy cores it slows down
    # tenfold with more threads than free cores.
    with threadpool_limits(limits=threads):
        embedding = TSNE(2, init="pca", random_state=seed).fit_transform(features)
    scores = knn_scores(embedding[:n_train], y_train[:n_train], embedding[n_train:],
                        y_test[:n_test])
    return embedding, np.concatenate([y_train[:n_train], y_test[:n_test]]), scores


def tsne_panels(features: dict[str, tuple[np.ndarray, np.ndarray]], y_train: np.ndarray,
                y_test: np.ndarray, n: int, seed: int, threads: int | None
                ) -> tuple[list[tuple[str, np.ndarray, np.ndarray, float]],
                           dict[str, dict[str, float]]]:
    """A t-SNE map of each named (train features, test features) pair (see `tsne_map`):
    the scatter panels (title, points, labels, framed) for plots.save_scatter_panels and the
    kNN accuracies, keyed "t-SNE of <name>"."""
    panels, knn = [], {}
    for name, (train, test) in features.items():
        embedding, labels, knn[f"t-SNE of {name}"] = tsne_map(train, test, y_train, y_test, n,
                                                              seed, threads)
        panels.append((f"t-SNE of the {name}\n({len(labels)} digits) "
                       f"1-NN {knn[f't-SNE of {name}']['1-NN']:.3f}", embedding, labels, 1.0))
    return panels, knn
