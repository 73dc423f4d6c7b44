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


def numpy_pca(x_train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The training mean and the first k principal axes (k, D), by NumPy's SVD."""
    mean = x_train.mean(axis=0)
    return mean, np.linalg.svd(x_train - mean, full_matrices=False)[2][:k]


def test_pca_codes_against_numpy_svd():
    rng = np.random.default_rng(3)
    x_train = rng.normal(size=(50, 6)) * np.arange(6, 0, -1)  # distinct variances
    x_test = rng.normal(size=(20, 6))
    pca, train_codes, test_codes = embedding.pca_codes(x_train, x_test, 2, seed=0)
    mean, axes = numpy_pca(x_train, 2)
    signs = np.sign(np.sum(train_codes * ((x_train - mean) @ axes.T), axis=0))  # axes' signs
    np.testing.assert_allclose(train_codes, (x_train - mean) @ axes.T * signs, atol=1e-10)
    np.testing.assert_allclose(test_codes, (x_test - mean) @ axes.T * signs, atol=1e-10)
    # more components than features: all of them, so the reconstruction is exact
    pca, train_codes, _ = embedding.pca_codes(x_train, x_test, 50, seed=0)
    assert pca.n_components_ == 6 and train_codes.shape == (50, 6)


def test_pca_errors_against_numpy_projections():
    rng = np.random.default_rng(4)
    x_train, x_test = rng.normal(size=(60, 8)), rng.normal(size=(25, 8))
    errors = embedding.pca_errors(x_train, x_test, (1, 3, 8), seed=0)
    for k, error in zip((1, 3, 8), errors, strict=True):
        mean, axes = numpy_pca(x_train, k)
        recon = (x_test - mean) @ axes.T @ axes + mean
        assert error == pytest.approx(np.mean((recon - x_test) ** 2), rel=1e-9, abs=1e-20)
    assert errors[0] > errors[1] > errors[2] == pytest.approx(0, abs=1e-20)


def test_map_panels_title_pca_and_autoencoder_and_zoom_on_the_latter():
    pca_test, ae_test, y_test = np.zeros((4, 2)), np.ones((4, 2)), np.arange(4)
    knn = {"PCA": {"1-NN": 0.3774, "5-NN": 0.5}, "autoencoder": {"1-NN": 0.7651, "5-NN": 0.8}}
    panels = embedding.map_panels(pca_test, ae_test, y_test, knn, latent_dim=2)
    assert [p[0] for p in panels] == [
        "PCA (test digits)\n1-NN 0.377",
        "autoencoder, 2-D code (test digits)\n1-NN 0.765",
        "autoencoder, 2-D code (test digits)\nzoomed on its dense middle"]
    assert all(p[1] is q for p, q in zip(panels, (pca_test, ae_test, ae_test), strict=True))
    assert all(p[2] is y_test for p in panels) and [p[3] for p in panels] == [0.995, 0.995, 0.5]


def test_tsne_codes_and_pixels_maps_a_models_codes_and_the_pixels_after_pca50():
    import minigrad as mg
    from autoencoders.models import MLPAutoencoder

    rng = np.random.default_rng(5)
    labels = np.arange(100) % 3
    x = (rng.normal(0, 0.1, (100, 64)) + np.repeat(np.eye(3), [22, 21, 21], axis=1)[labels]
         ).astype(np.float32)
    y = labels
    mg.manual_seed(0)
    model = MLPAutoencoder((64, 8, 3))
    panels, knn = embedding.tsne_codes_and_pixels(model, x[:80], x[80:], y[:80], y[80:], n=60,
                                                  seed=0, threads=1)
    assert list(knn) == ["t-SNE of 3-D AE codes", "t-SNE of pixels"] and len(panels) == 2

    # the same maps from features built here: the codes by the model's forward pass, and the
    # pixels' 50 principal components (sklearn's PCA, seed 0)
    with mg.no_grad():
        codes = model.encode(mg.tensor(x)).numpy()
    pca50 = PCA(50, random_state=0).fit(x[:80])
    for panel, (name, features) in zip(panels, [("3-D AE codes", codes),
                                                ("pixels", pca50.transform(x))], strict=True):
        points, _, scores = embedding.tsne_map(features[:80], features[80:], y[:80], y[80:],
                                               60, 0, 1)
        assert knn[f"t-SNE of {name}"] == scores
        np.testing.assert_allclose(panel[1], points, atol=1e-4)
    assert knn["t-SNE of pixels"]["1-NN"] > 0.9  # the clusters stand out in the pixels
