"""Metrics of autoencoders/metrics.py against hand-computed values and closed forms."""

import math

import numpy as np
import pytest

from autoencoders import metrics


def test_psnr_hand_computed():
    target = np.zeros((2, 2, 2))
    pred = target.copy()
    pred[0, 0, 0] = 0.5  # image 0: one error of 0.5 among 4 pixels -> MSE 0.0625
    pred[1] = 0.1  # image 1: MSE 0.01
    got = metrics.psnr(pred, target)
    np.testing.assert_allclose(got, [10 * math.log10(1 / 0.0625), 20.0])
    assert got[0] == pytest.approx(12.0412, abs=1e-4)


def test_psnr_with_mask_and_data_range():
    target = np.zeros((1, 2, 2))
    pred = target.copy()
    pred[0, 0, 0] = 0.5
    mask = np.zeros((2, 2), bool)
    mask[0] = True  # two counted pixels: MSE 0.25 / 2
    assert metrics.psnr(pred, target, mask=mask)[0] == pytest.approx(10 * math.log10(8))
    assert metrics.psnr(pred * 255, target, data_range=255)[0] == pytest.approx(
        10 * math.log10(1 / 0.0625))


def test_psnr_per_image_masks_and_errors():
    target = np.zeros((2, 3))
    pred = np.array([[0.2, 0.0, 0.0], [0.0, 0.0, 0.4]])
    mask = np.array([[True, False, False], [False, True, True]])
    np.testing.assert_allclose(metrics.psnr(pred, target, mask=mask),
                               [10 * math.log10(1 / 0.04), 10 * math.log10(2 / 0.16)])
    assert metrics.psnr(target, target)[0] == pytest.approx(100.0)  # exact: capped
    with pytest.raises(ValueError, match="equal shapes"):
        metrics.psnr(pred, target[:, :2])
    with pytest.raises(ValueError, match="no masked pixel"):
        metrics.psnr(pred, target, mask=np.zeros((2, 3), bool))


def test_ssim_per_image(rng):
    from skimage.metrics import structural_similarity

    x = rng.uniform(0, 1, (3, 28, 28))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    got = metrics.ssim(y, x)
    assert got.shape == (3,)
    assert got[1] == pytest.approx(structural_similarity(y[1], x[1], data_range=1.0))
    np.testing.assert_allclose(metrics.ssim(x, x), 1.0)
    colour = rng.uniform(0, 1, (2, 16, 16, 3))
    np.testing.assert_allclose(metrics.ssim(colour, colour, channel_axis=-1), 1.0)


def test_frechet_distance_diagonal_closed_form(rng):
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    got = metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_rotated_and_commuting_covariances(rng):
    """A full covariance: rotating both Gaussians by the same orthogonal Q leaves the
    distance unchanged, so the diagonal closed form still applies."""
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    s1, s2 = rng.uniform(0.1, 2, 4), rng.uniform(0.1, 2, 4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    got = metrics.frechet_distance(q @ mu1, q @ np.diag(s1) @ q.T, q @ mu2,
                                   q @ np.diag(s2) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)
    # non-commuting 1-D-in-2-D case: N(0, diag(1, 0)) vs N(0, diag(0, 1)): 1 + 1 - 0
    assert metrics.frechet_distance(np.zeros(2), np.diag([1.0, 0.0]), np.zeros(2),
                                    np.diag([0.0, 1.0])) == pytest.approx(2.0, abs=1e-12)


def test_frechet_distance_of_features(rng):
    a = rng.normal(size=(20000, 3)) * [1.0, 2.0, 0.5] + [1.0, 0.0, 0.0]
    b = rng.normal(size=(20000, 3))
    # N(mu, diag(1, 4, 0.25)) vs N(0, I): 1 + (0 + 1 + 0.25) = 2.25
    assert metrics.frechet_distance_features(a, b) == pytest.approx(2.25, abs=0.1)
    assert metrics.frechet_distance_features(a, a) == pytest.approx(0.0, abs=1e-8)
    mu, cov = metrics.feature_statistics(a)
    np.testing.assert_allclose(mu, a.mean(axis=0))
    np.testing.assert_allclose(cov, np.cov(a.T))


def test_knn_accuracy_toy_set():
    train = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    labels = np.array([0, 0, 1, 1, 1])
    test = np.array([[0.4], [1.9], [9.0], [1.2]])
    test_labels = np.array([0, 0, 1, 1])
    # 1-NN: 0.4->0 (right), 1.9->2 is class 1 (wrong), 9->10 (right), 1.2->1 is class 0 (wrong)
    assert metrics.knn_accuracy(train, labels, test, test_labels, k=1) == 0.5
    # 3-NN: 0.4 -> {0,1,2}: 0,0,1 -> 0 (right); 1.9 -> {2,1,0}: 1,0,0 -> 0 (right);
    # 9 -> {10,11,2}: 1 (right); 1.2 -> {1,2,0}: 0,1,0 -> 0 (wrong)
    assert metrics.knn_accuracy(train, labels, test, test_labels, k=3) == 0.75
