"""Tests of autoencoders.generation: code samplers, the classifier's view of samples and the
mixture report."""

import numpy as np
import pytest

import minigrad as mg
from autoencoders import generation as G
from autoencoders.classifier import MNISTClassifier


def test_label_entropy_bits():
    assert G.label_entropy_bits(np.arange(10).repeat(3)) == pytest.approx(np.log2(10))
    assert G.label_entropy_bits(np.full(7, 4)) == 0
    assert G.label_entropy_bits(np.array([1, 2])) == pytest.approx(1.0)


def test_code_samplers_fit_the_codes():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(-5, 0.1, (200, 2)), rng.normal(5, 0.1, (200, 2))])
    samplers, mixture, component = G.code_samplers(codes, 300, 2, rng, seed=0)
    assert set(samplers) == {"N(0, I)", "one Gaussian", "2-component GMM"}
    assert all(z.shape == (300, 2) for z in samplers.values())
    # the mixture's samples lie near the two clusters, each labelled with its component
    mixed = samplers["2-component GMM"]
    assert np.all(np.abs(np.abs(mixed) - 5) < 1)
    for k in range(2):
        centre = mixture.means_[k]
        assert np.abs(mixed[component == k] - centre).max() < 1
    # one Gaussian fitted to both clusters is wide
    assert samplers["one Gaussian"].std(axis=0).min() > 3


def test_component_report():
    class Mixture:
        n_components = 2
        weights_ = np.array([0.75, 0.25])

    component = np.array([0, 0, 0, 0, 1, 1])
    labels = np.array([3, 3, 3, 5, 7, 7])
    report = G.component_report(Mixture(), component, labels)
    assert [row["digit"] for row in report["components"]] == [3, 7]
    assert [row["purity"] for row in report["components"]] == [0.75, 1.0]
    assert report["digits_covered"] == 2
    assert report["mean_purity"] == pytest.approx(0.75 * 0.75 + 0.25 * 1.0)


def test_classifier_view_and_sampler_scores():
    rng = np.random.default_rng(1)
    mg.manual_seed(0)
    classifier = MNISTClassifier(in_features=16, hidden=(8,))
    classifier.eval()
    images = rng.uniform(0, 1, (50, 4, 4)).astype(np.float32)
    features, confidence, digits = G.classifier_view(classifier, images)
    assert features.shape == (50, 8) and confidence.shape == digits.shape == (50,)
    assert np.all((0.1 <= confidence) & (confidence <= 1))
    scores, predicted = G.sampler_scores(classifier, {"same": images, "zeros": 0 * images},
                                         images)
    assert scores["same"]["frechet_distance"] == pytest.approx(0, abs=1e-3)
    assert scores["zeros"]["frechet_distance"] > 0.01
    np.testing.assert_array_equal(predicted["same"], digits)


def test_manifold_and_interpolation_shapes_and_ends():
    from autoencoders.models import VAE

    mg.manual_seed(0)
    vae = VAE((16, 8, 2))
    vae.eval()
    grid = G.manifold(vae, (4, 4), n=5)
    assert grid.shape == (25, 4, 4) and np.all((0 <= grid) & (grid <= 1))
    x = np.random.default_rng(0).uniform(0, 1, (30, 16)).astype(np.float32)
    labels = np.arange(30) % 10
    rows = G.interpolation_rows(vae, x, labels, (4, 4), steps=6, pairs=3)
    assert list(rows) == ["0 -> 9", "1 -> 8", "2 -> 7"]
    assert all(images.shape == (6, 4, 4) for images in rows.values())
    # the ends are the decodings of the two digits' code means
    mu = vae.encode(mg.tensor(x[[0, 9]]))[0]
    ends = vae.decode(mu).numpy().reshape(2, 4, 4)
    np.testing.assert_allclose(rows["0 -> 9"][[0, -1]], ends, atol=1e-5)


def test_compare_samplers_scores_each_models_samplers_and_the_floor():
    """Two 'models' whose decoder is the identity on 16-D codes: the AE-like one's codes are
    the training images themselves, so its mixture samples lie near the data and score far
    better than N(0, I); the floor is made of real training images."""
    from minigrad import nn

    class Identity(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(mg.ones(1))

        def decode(self, z):
            return z * self.scale

    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 1, (4, 16))
    x_train = (centres[rng.integers(0, 4, 400)] + rng.normal(0, 0.02, (400, 16))).astype(
        np.float32)
    x_test = (centres[rng.integers(0, 4, 200)] + rng.normal(0, 0.02, (200, 16))).astype(
        np.float32)
    mg.manual_seed(0)
    classifier = MNISTClassifier(in_features=16, hidden=(8,)).eval()
    samples, scores, mixtures, reports = G.compare_samplers(
        classifier, {"A": (Identity(), x_train, None),
                     "B": (Identity(), x_train, ("N(0, I)",))},
        x_train, x_test, n=100, components=4, seed=0, shape=(4, 4))
    assert set(samples) == {"A, N(0, I)", "A, one Gaussian", "A, 4-component GMM",
                            "B, N(0, I)"}
    assert set(scores) == {*samples, "training digits (floor)"}
    assert all(images.shape == (100, 4, 4) for images in samples.values())
    assert set(mixtures) == {"A", "B"} and set(reports) == {"A"}
    fd = {name: row["frechet_distance"] for name, row in scores.items()}
    assert fd["A, 4-component GMM"] < 0.1 * fd["A, N(0, I)"]
    assert fd["training digits (floor)"] < 0.1 * fd["A, N(0, I)"]
    # the mixture found the four centres
    found = np.sort(mixtures["A"].means_[:, 0])
    assert np.allclose(found, np.sort(centres[:, 0]), atol=0.05)


def test_training_codes_are_the_codes_or_the_posterior_means():
    from autoencoders.models import VAE, MLPAutoencoder

    mg.manual_seed(0)
    x = np.random.default_rng(0).random((7, 12)).astype(np.float32)
    ae, vae = MLPAutoencoder((12, 8, 3)), VAE((12, 8, 3))
    np.testing.assert_allclose(G.training_codes(ae, x), ae.eval().encode(mg.tensor(x)).numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(G.training_codes(vae, x),
                               vae.eval().encode(mg.tensor(x))[0].numpy(), atol=1e-6)
