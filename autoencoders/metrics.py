"""Measurements of the demos, on the host with NumPy: image quality (PSNR, SSIM), the
Fréchet distance between feature distributions (FID-style), and k-nearest-neighbour accuracy
of codes.

Image metrics return one value per image, so a demo reports their mean over a test set (and
can show the spread); images are float arrays in [0, 1].
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_features",
    "knn_accuracy",
    "psnr",
    "ssim",
]

# PSNR of an exact reconstruction is infinite; the MSE is floored here, which caps it at 100 dB.
_MIN_MSE = 1e-10


def psnr(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
         data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image, 10 log10(data_range^2 / MSE) in dB.

    pred, target: (N, ...) images. mask: None for all pixels, or a boolean array broadcasting
    against them, True where the error counts (e.g. only the filled-in pixels of a completion);
    each image's MSE is then the mean over its own masked pixels. Returns shape (N,).
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"psnr needs equal shapes, got {pred.shape} and {target.shape}")
    squared = (pred - target) ** 2
    axes = tuple(range(1, pred.ndim))
    if mask is None:
        mse = squared.mean(axis=axes)
    else:
        weight = np.broadcast_to(np.asarray(mask, dtype=np.float64), pred.shape)
        counted = weight.sum(axis=axes)
        if np.any(counted == 0):
            raise ValueError("psnr: some image has no masked pixel to measure")
        mse = (squared * weight).sum(axis=axes) / counted
    return 10 * np.log10(data_range**2 / np.maximum(mse, _MIN_MSE))


def ssim(pred: np.ndarray, target: np.ndarray, channel_axis: int | None = None,
         data_range: float = 1.0) -> np.ndarray:
    """Structural similarity of each image (skimage.metrics.structural_similarity with its
    default uniform 7x7 window). pred, target: (N, H, W), or (N, H, W, C) with
    ``channel_axis=-1``. Returns shape (N,)."""
    from skimage.metrics import structural_similarity

    if np.shape(pred) != np.shape(target):
        raise ValueError(f"ssim needs equal shapes, got {np.shape(pred)} and {np.shape(target)}")
    return np.array([
        structural_similarity(np.asarray(p, dtype=np.float64), np.asarray(t, dtype=np.float64),
                              data_range=data_range, channel_axis=channel_axis)
        for p, t in zip(pred, target, strict=True)
    ])


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features, in float64."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh(a)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray,
                     cov2: np.ndarray) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2):

        ||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1^1/2 cov2 cov1^1/2)^1/2)

    The inner matrix is symmetric PSD, so its square root comes from an eigendecomposition
    (no complex parts to discard, unlike sqrtm(cov1 @ cov2)); tiny negative eigenvalues from
    rounding are clipped to 0.
    """
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    cov1, cov2 = np.asarray(cov1, dtype=np.float64), np.asarray(cov2, dtype=np.float64)
    root1 = _sqrtm_psd(cov1)
    inner = root1 @ cov2 @ root1
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * cross)


def frechet_distance_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of (N, D) features (as FID does
    with Inception features; the generation demo uses an MNIST classifier's)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def knn_accuracy(train_codes: np.ndarray, train_labels: np.ndarray, test_codes: np.ndarray,
                 test_labels: np.ndarray, k: int = 1) -> float:
    """Accuracy of a k-nearest-neighbour classifier (Euclidean, majority vote; scikit-learn)
    fitted on the training codes and scored on the test codes."""
    from sklearn.neighbors import KNeighborsClassifier

    classifier = KNeighborsClassifier(n_neighbors=k).fit(train_codes, train_labels)
    return float(classifier.score(test_codes, test_labels))
