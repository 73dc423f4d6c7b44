"""Codes as a view of the data: nearest-neighbour accuracy in a code space, PCA's codes and
reconstruction errors, t-SNE maps and the scatter panels, for the latent-space demo (and any
other)."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from autoencoders import metrics as M
from autoencoders.train import predict

__all__ = ["PUBLISHED_1NN", "encode", "knn_scores", "map_panels", "pca_codes", "pca_error",
           "pca_errors", "tsne_codes_and_pixels", "tsne_map", "tsne_panels"]

# 1-NN accuracy of 2-D maps of MNIST, Sainburg, McInnes & Gentner (2021)
PUBLISHED_1NN = {"PCA": 0.377, "autoencoder": 0.765, "VAE": 0.724, "t-SNE": 0.941}


def knn_scores(train_codes, y_train, test_codes, y_test) -> dict[str, float]:
    """k-NN accuracy (k = 1, 5) of test codes classified by their nearest training codes."""
    return {f"{k}-NN": M.knn_accuracy(train_codes, y_train, test_codes, y_test, k)
            for k in (1, 5)}


def pca_error(pca: PCA, x: np.ndarray) -> float:
    """Squared error per pixel of PCA's reconstructions of x."""
    return float(((pca.inverse_transform(pca.transform(x)) - x) ** 2).mean())


def pca_codes(x_train: np.ndarray, x_test: np.ndarray, components: int, seed: int
              ) -> tuple[PCA, np.ndarray, np.ndarray]:
    """PCA with min(components, D) components fitted to x_train (N, D); returns it and the
    codes of x_train (N, k) and of x_test (M, k)."""
    pca = PCA(min(components, x_train.shape[1]), random_state=seed).fit(x_train)
    return pca, pca.transform(x_train), pca.transform(x_test)


def pca_errors(x_train: np.ndarray, x_test: np.ndarray, sizes, seed: int) -> list[float]:
    """`pca_error` on x_test (M, D) of a PCA fitted to x_train (N, D) with each number of
    components in ``sizes``."""
    return [pca_error(PCA(size, random_state=seed).fit(x_train), x_test) for size in sizes]


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


def tsne_codes_and_pixels(model, x_train: np.ndarray, x_test: np.ndarray, y_train: np.ndarray,
                          y_test: np.ndarray, n: int, seed: int, threads: int | None):
    """`tsne_panels` of the (K-)dimensional codes of ``model``, called "K-D AE codes", and of
    the pixels after PCA to 50 dimensions (the usual first step); x_train (N, D), x_test (M, D)."""
    codes = encode(model, x_train), encode(model, x_test)
    pixels = pca_codes(x_train, x_test, 50, seed)[1:]
    return tsne_panels({f"{codes[0].shape[1]}-D AE codes": codes, "pixels": pixels},
                       y_train, y_test, n, seed, threads)


def map_panels(pca_test: np.ndarray, ae_test: np.ndarray, y_test: np.ndarray,
               knn: dict[str, dict[str, float]], latent_dim: int
               ) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """The scatter panels of the test digits' 2-D codes (N, 2) from PCA and the autoencoder,
    titled with their 1-NN accuracy (knn["PCA"], knn["autoencoder"]), and the autoencoder's
    again zoomed on its dense middle (its codes have long sparse rays)."""
    title = f"autoencoder, {latent_dim}-D code (test digits)"
    return [(f"PCA (test digits)\n1-NN {knn['PCA']['1-NN']:.3f}", pca_test, y_test, 0.995),
            (f"{title}\n1-NN {knn['autoencoder']['1-NN']:.3f}", ae_test, y_test, 0.995),
            (f"{title}\nzoomed on its dense middle", ae_test, y_test, 0.5)]
