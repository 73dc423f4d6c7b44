"""Generating digits from an autoencoder's code space, and judging the samples.

Samplers of codes (`code_samplers`): N(0, I), one Gaussian fitted to the training codes, and a
Gaussian mixture fitted to them. The samples are judged through a digit classifier
(`classifier_view`, `sampler_scores`): the Fréchet distance between its penultimate features
of the samples and of the test digits, its mean confidence, and the entropy of the digits it
sees. `component_report` tells what each mixture component learned. A conditional model's
samples of chosen digits (`conditional_samples`) are judged by how often the classifier sees
the digit that was asked for (`recognition`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import ndtri
from sklearn.mixture import GaussianMixture

import minigrad as mg
from autoencoders import metrics as M
from autoencoders.train import predict

__all__ = ["classifier_view", "code_samplers", "compare_samplers", "component_report",
           "conditional_samples", "decode", "interpolation_rows", "label_entropy_bits",
           "manifold", "recognition", "sample_images", "sampler_scores", "training_codes"]


def code_samplers(codes: np.ndarray, n: int, components: int, rng: np.random.Generator,
                  seed: int) -> tuple[dict[str, np.ndarray], GaussianMixture, np.ndarray]:
    """n codes from N(0, I), from one Gaussian fitted to ``codes`` and from a mixture;
    also the fitted mixture and the component each mixture sample came from."""
    codes = codes.astype(np.float64)  # float32 codes give the mixture non-PSD covariances
    d = codes.shape[1]
    mean, cov = M.feature_statistics(codes)
    mixture = GaussianMixture(components, covariance_type="full", random_state=seed).fit(codes)
    mixed, component = mixture.sample(n)  # sorted by component: shuffled so grids mix them
    order = rng.permutation(n)
    samplers = {"N(0, I)": rng.standard_normal((n, d)),
                "one Gaussian": rng.multivariate_normal(mean, cov, size=n),
                f"{components}-component GMM": mixed[order]}
    return samplers, mixture, component[order]


def component_report(mixture: GaussianMixture, component: np.ndarray,
                     labels: np.ndarray) -> dict:
    """What the mixture learned, seen through the classifier: each component's weight, the
    digit the classifier sees most in its samples, and how often (its purity)."""
    rows = []
    for k in range(mixture.n_components):
        seen = np.bincount(labels[component == k], minlength=10)
        rows.append({"weight": float(mixture.weights_[k]), "digit": int(seen.argmax()),
                     "purity": float(seen.max() / max(seen.sum(), 1))})
    return {"components": rows,
            "digits_covered": len({row["digit"] for row in rows}),
            "mean_purity": float(np.average([r["purity"] for r in rows],
                                            weights=[r["weight"] for r in rows]))}


def training_codes(model, x: np.ndarray) -> np.ndarray:
    """The codes (N, d) of inputs x that a sampler is fitted to: an autoencoder's codes, a
    VAE's posterior means (its ``encode`` gives (mu, logvar))."""
    def means(m, x):
        codes = m.encode(x)
        return codes[0] if isinstance(codes, tuple) else codes

    return predict(model, x, fn=means)


def decode(model, z: np.ndarray, shape) -> np.ndarray:
    """Images (N, *shape) decoded from codes z (N, d)."""
    images = predict(model, z.astype(np.float32), fn=lambda m, z: m.decode(z))
    return images.reshape(len(z), *shape)


def classifier_view(classifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """The classifier's penultimate features (N, F), max softmax probabilities (N,) and
    predicted digits (N,) of (N, H, W) images."""
    flat = images.reshape(len(images), -1)
    features = predict(classifier, flat, fn=lambda m, x: m.features(x))
    logits = predict(classifier, flat)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return features, probs.max(axis=1), logits.argmax(axis=1)


def label_entropy_bits(labels: np.ndarray) -> float:
    """Entropy of the predicted digits' histogram: log2(10) = 3.32 bits when balanced."""
    p = np.bincount(labels, minlength=10) / len(labels)
    p = p[p > 0]
    return float((p * np.log2(1 / p)).sum())


def sampler_scores(classifier, samples: Mapping[str, np.ndarray], test_images: np.ndarray
                   ) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """For each named set of (N, H, W) samples: its Fréchet distance to ``test_images`` in the
    classifier's features, mean confidence and label entropy; also the predicted digits."""
    test_features = classifier_view(classifier, test_images)[0]
    scores, predicted = {}, {}
    for name, images in samples.items():
        features, confidence, predicted[name] = classifier_view(classifier, images)
        scores[name] = {"frechet_distance": M.frechet_distance_features(features,
                                                                        test_features),
                        "confidence": float(confidence.mean()),
                        "label_entropy_bits": label_entropy_bits(predicted[name])}
    return scores, predicted


def sample_images(name: str, model, codes: np.ndarray, n: int, components: int,
                  rng: np.random.Generator, seed: int, shape,
                  samplers: tuple[str, ...] | None = None
                  ) -> tuple[dict[str, np.ndarray], GaussianMixture, np.ndarray]:
    """Decoded samples of ``model`` from the `code_samplers` fitted to its training ``codes``
    (only those named in ``samplers``, if given), as {"<name>, <sampler>": (n, *shape)}; also
    the mixture and the component of each mixture sample."""
    z, mixture, component = code_samplers(codes, n, components, rng, seed)
    images = {f"{name}, {sampler}": decode(model, z[sampler], shape) for sampler in z
              if samplers is None or sampler in samplers}
    return images, mixture, component


def compare_samplers(classifier, models: Mapping[str, tuple], x_train: np.ndarray,
                     x_test: np.ndarray, n: int, components: int, seed: int, shape
                     ) -> tuple[dict, dict, dict, dict]:
    """The generation demo's comparison: n samples of each model from the `code_samplers`
    fitted to its training codes, judged by ``classifier`` against the test digits, beside
    the floor of n real training digits.

    models: {name: (model, its training codes (N, d), the samplers to use or None for all)}.
    Returns (samples {"<name>, <sampler>": (n, *shape)}, scores (`sampler_scores`, with the
    floor), mixtures {name: GaussianMixture}, reports {name: `component_report`} for the
    models whose mixture was sampled). All
    randomness comes from numpy.random.default_rng(seed), in this order."""
    rng = np.random.default_rng(seed)
    samples, mixtures, component = {}, {}, {}
    for name, (model, codes, samplers) in models.items():
        images, mixtures[name], component[name] = sample_images(
            name, model, codes, n, components, rng, seed, shape, samplers)
        samples.update(images)
    floor = x_train[rng.permutation(len(x_train))[:n]].reshape(-1, *shape)
    scores, predicted = sampler_scores(classifier,
                                       {**samples, "training digits (floor)": floor}, x_test)
    gmm = f"{components}-component GMM"
    reports = {name: component_report(mixtures[name], component[name],
                                      predicted[f"{name}, {gmm}"])
               for name in models if f"{name}, {gmm}" in samples}
    return samples, scores, mixtures, reports


def interpolation_rows(model, x: np.ndarray, labels: np.ndarray, image_shape,
                       steps: int = 10, pairs: int = 4) -> dict[str, np.ndarray]:
    """Decodings of (1 - t) mu_a + t mu_b for t in [0, 1], between test digits of
    different classes: one row per pair, labelled "a -> b"."""
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    ends = [(firsts[i], firsts[-1 - i]) for i in range(pairs)]
    mu = predict(model, x[[i for pair in ends for i in pair]], fn=lambda m, x: m.encode(x)[0])
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    rows = {}
    for k, (a, b) in enumerate(ends):
        z = (1 - t) * mu[2 * k] + t * mu[2 * k + 1]
        images = predict(model, z, fn=lambda m, z: m.decode(z))
        rows[f"{labels[a]} -> {labels[b]}"] = images.reshape(-1, *image_shape)
    return rows


def manifold(model, image_shape, n: int = 20) -> np.ndarray:
    """Decodings of an n x n grid of 2-D codes at the normal quantiles of (k + 0.5) / n."""
    q = ndtri((np.arange(n) + 0.5) / n).astype(np.float32)
    z = np.stack(np.meshgrid(q, q[::-1]), axis=-1).reshape(-1, 2)  # z2 grows upwards
    return predict(model, z, fn=lambda m, z: m.decode(z)).reshape(-1, *image_shape)


def conditional_samples(model, digits: Sequence[int], per_digit: int, shape, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``per_digit`` samples of each of ``digits`` from a conditional model's
    ``sample(labels)`` (e.g. a ``CVAE``), with minigrad's generators seeded by ``seed``:
    images (len(digits) * per_digit, *shape), grouped by digit in the given order, and the
    (N,) int64 labels asked for."""
    labels = np.repeat(np.asarray(digits, dtype=np.int64), per_digit)
    mg.manual_seed(seed)
    images = predict(model, labels, fn=lambda m, y: m.sample(y))
    return images.reshape(len(labels), *shape), labels


def recognition(classifier, images: np.ndarray, labels: np.ndarray) -> dict:
    """How often the classifier sees in (N, H, W) ``images`` the digits ``labels`` (N,) that
    were asked for: "recognized" (the fraction overall), "per_digit" ({digit: fraction}),
    and its mean max-softmax "confidence"."""
    _, confidence, predicted = classifier_view(classifier, images)
    hit = predicted == labels
    return {"recognized": float(hit.mean()), "confidence": float(confidence.mean()),
            "per_digit": {int(d): float(hit[labels == d].mean()) for d in np.unique(labels)}}
