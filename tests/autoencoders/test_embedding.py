"""Tests of autoencoders.embedding: kNN accuracy in a code space, PCA error and t-SNE panels."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from autoencoders import embedding


def clusters(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 3
    return rng.normal(0, 0.1, (n, 5)) + 4 * np.eye(5)[labels], labels


def test_knn_scores_on_separated_clusters():
    rng = np.random.default_rng(0)
    (x, y), (xt, yt) = clusters(60, rng), clusters(30, rng)
    assert embedding.knn_scores(x, y, xt, yt) == {"1-NN": 1.0, "5-NN": 1.0}


def test_pca_error_is_zero_with_all_components():
    x = np.random.default_rng(1).normal(size=(40, 6))
    assert embedding.pca_error(PCA(6).fit(x), x) == pytest.approx(0, abs=1e-20)
    assert embedding.pca_error(PCA(1).fit(x), x) > 0.1


def test_tsne_panels_name_and_score_each_map():
    rng = np.random.default_rng(2)
    (x, y), (xt, yt) = clusters(80, rng), clusters(20, rng)
    panels, knn = embedding.tsne_panels({"codes": (x, xt)}, y, yt, n=60, seed=0, threads=1)
    assert list(knn) == ["t-SNE of codes"] and knn["t-SNE of codes"]["1-NN"] > 0.8
    (title, points, labels, framed), = panels
    assert title.startswith("t-SNE of the codes\n(60 digits)") and points.shape == (60, 2)
    assert len(labels) == 60 and framed == 1.0
