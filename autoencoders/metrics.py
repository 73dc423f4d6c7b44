"""Measurements of the demos, on the host with NumPy: image quality (PSNR, SSIM), the
Fréchet distance between feature distributions (FID-style), and k-nearest-neighbour accuracy
of codes; and how much an encoder contracts its input space (the contractive autoencoder's
measurements: code displacement under input noise and the norm of the encoder's Jacobian),
which run the model on its device in batches and return NumPy arrays. A VAE's test
log-likelihood, the importance-weighted estimate with k samples, is ``log_likelihood``
(defined in ``autoencoders.likelihood``, re-exported here).

Image metrics return one value per image, so a demo reports their mean over a test set (and
can show the spread); images are float arrays in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import minigrad as mg
from autoencoders.likelihood import LogLikelihood, log_likelihood
from autoencoders.models.contractive import contractive_penalty
from autoencoders.train import predict
from minigrad.data import DataLoader

__all__ = [
    "LogLikelihood",
    "code_displacement",
    "contraction",
    "encoder_jacobian_norms",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_features",
    "knn_accuracy",
    "log_likelihood",
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


# -- contraction of an encoder ---------------------------------------------------------------------

def encoder_jacobian_norms(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """||J_f(x_n)||_F = sqrt(sum_ki (d h_k / d x_i)^2) of ``model.encode`` at each input, (N,).

    Exact (one backward pass per code unit, see ``models.contractive``), in eval mode without
    keeping a graph, on the model's device; x: (N, ...) as the model takes it.
    """
    device = next(iter(model.parameters())).device
    was_training = model.training
    model.eval()
    norms = []
    with mg.no_grad():  # values only: contractive_penalty enables gradients for the input
        for batch in DataLoader(x, batch_size=batch_size, device=device):
            _, penalty = contractive_penalty(model.encode, batch, method="exact")
            norms.append(np.sqrt(penalty.numpy()))
    model.train(was_training)
    return np.concatenate(norms)


def code_displacement(model, x: np.ndarray, sigma: float, seed: int = 0,
                      batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(||h(x_n + eps_n) - h(x_n)||, ||eps_n||) for each input, two arrays of shape (N,).

    h = ``model.encode``; eps_n ~ N(0, sigma^2 I), drawn on the host with ``seed`` and not
    clipped to the pixel range (clipping would make the noise depend on the image and no longer
    isotropic). For small sigma, h(x + eps) - h(x) ~ J eps and E ||J eps||^2 = sigma^2 ||J||_F^2,
    so the mean displacement divided by sigma approaches the Jacobian's RMS Frobenius norm.
    """
    x = np.asarray(x, dtype=np.float32)
    noise = (sigma * np.random.default_rng(seed).standard_normal(x.shape)).astype(np.float32)

    def encode(m, batch):
        return m.encode(batch)

    moved = (predict(model, x + noise, fn=encode, batch_size=batch_size)
             - predict(model, x, fn=encode, batch_size=batch_size))
    flat = (len(x), -1)
    return (np.linalg.norm(moved.reshape(flat), axis=1),
            np.linalg.norm(noise.reshape(flat), axis=1))


def contraction(model, x: np.ndarray, sigmas: Sequence[float], seed: int = 0,
                batch_size: int = 256, jacobian_norms: np.ndarray | None = None) -> dict:
    """How much ``model.encode`` moves its codes under small input changes, over inputs x:

    - "jacobian_frobenius": mean ||J_f(x_n)||_F (exact); "jacobian_sq_frobenius": mean
      ||J_f(x_n)||_F^2 (the contractive penalty, without its weight);
    - "code_spread": the codes' RMS distance from their mean, sqrt(1/N sum_n ||h_n - mean h||^2):
      the scale against which a displacement is small or large (an encoder can shrink every
      code and let the decoder scale it back up, so absolute displacements alone can mislead);
    - "noise": for each sigma (its key is str(sigma)): "displacement", the mean
      ||h(x + eps) - h(x)|| with eps ~ N(0, sigma^2 I); "displacement_per_noise_norm", the mean
      of ||h(x + eps) - h(x)|| / ||eps|| (the contraction ratio); "relative_displacement", the
      mean displacement divided by the code spread.
    Each sigma draws its noise with its own seed (seed + its index). jacobian_norms: the
    result of ``encoder_jacobian_norms(model, x)`` if already computed (None: computed here).
    """
    codes = predict(model, np.asarray(x, dtype=np.float32), fn=lambda m, b: m.encode(b),
                    batch_size=batch_size)
    codes = codes.reshape(len(codes), -1)
    spread = float(np.sqrt(((codes - codes.mean(axis=0)) ** 2).sum(axis=1).mean()))
    jacobian = (encoder_jacobian_norms(model, x, batch_size) if jacobian_norms is None
                else np.asarray(jacobian_norms))
    noise = {}
    for k, sigma in enumerate(sigmas):
        moved, noise_norm = code_displacement(model, x, sigma, seed + k, batch_size)
        noise[str(sigma)] = {
            "displacement": float(moved.mean()),
            "displacement_per_noise_norm": float((moved / noise_norm).mean()),
            "relative_displacement": float(moved.mean() / spread),
        }
    return {"jacobian_frobenius": float(jacobian.mean()),
            "jacobian_sq_frobenius": float((jacobian**2).mean()),
            "code_spread": spread, "noise": noise}
