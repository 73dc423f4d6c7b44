"""Generating digits: an autoencoder's decoder with three ways of drawing codes, and a VAE.

    python demos/generate.py                     # 16-D codes, MLP 784-512-256-16, 10 epochs
    python demos/generate.py --latent-dim 8 --n-samples 5000

A plain autoencoder has a decoder but no distribution over its codes to sample from. This
demo decodes 10,000 codes from each of:
  (a) the autoencoder, z ~ N(0, I)                      (naive: ignores where the codes are)
  (b) the autoencoder, one Gaussian fitted to its training codes (mean and full covariance)
  (c) the autoencoder, a 10-component Gaussian mixture fitted to its training codes
      (sklearn GaussianMixture; "ex-post density estimation", Ghosh et al. 2020)
  (d) the VAE, z ~ N(0, I)                              (the prior it was trained towards)
  (e) the VAE, a 10-component mixture fitted to its training codes (posterior means)
The autoencoder and the VAE have the same layer sizes and code size, and train for the same
epochs on the same data.

The samples are measured with a 784-512-256-10 classifier trained here on the real training
digits (``autoencoders.classifier``; its weights are cached in --out): its mean max-softmax
confidence on the samples, and the Fréchet distance between its 256-D penultimate features
of the samples and of the test digits ("FID for MNIST"; lower is better). The same distance
between 10,000 training digits and the test digits is the floor a perfect sampler would reach.
The entropy of the classifier's predicted digits shows whether a sampler covers all ten
(log2 10 = 3.32 bits when balanced). For the mixtures, the classifier also tells what each
component learned: the digit it sees most among the component's samples, and how often.
Ghosh et al. (ICLR 2020, 16-D codes, Inception FID) report 19.21 for a VAE with N(0, I) and
10.66 for an autoencoder with a 10-component mixture; our numbers are on another scale (other
features), only the ordering is comparable.

Writes into --out (default runs/generate):
- samples.png        a grid of samples from each sampler, with its distance and confidence;
- mixture_means.png  the decoded means of the mixture components (AE and VAE);
- metrics.json       confidence, Fréchet distance and label entropy per sampler, the floor,
                     each mixture component's weight, digit and purity, the classifier's test
                     accuracy, settings and times;
- classifier.npz     the classifier's cached weights; ae/, vae/ the trainers' logs and
                     checkpoints.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import numpy as np
from sklearn.mixture import GaussianMixture

import minigrad as mg
from autoencoders import metrics as M
from autoencoders import plots, tasks
from autoencoders.classifier import load_or_train
from autoencoders.models import VAE, MLPAutoencoder, autoencoder_loss_fn, vae_loss_fn
from autoencoders.train import predict

PUBLISHED_FID = {"VAE, z ~ N(0, I)": 19.21, "AE, 10-component GMM": 10.66}


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/generate", latent_dim=16,
                           hidden="512,256", epochs=10, lr=1e-3)
    p.add_argument("--n-samples", type=int, default=10000,
                   help="samples per sampler for the measurements")
    p.add_argument("--components", type=int, default=10, help="Gaussian mixture components")
    p.add_argument("--classifier-epochs", type=common.positive_int, default=20)
    tasks.add_subset_flags(p)
    return p


def train(build, loss_fn, x_train, x_test, args, out_dir: Path):
    """``build()`` a model with the generators seeded by --seed (so it does not depend on what
    ran before, e.g. whether the classifier was cached), train it; (model, seconds)."""
    mg.manual_seed(args.seed)
    model = build()
    history = common.fit(model, loss_fn, (x_train,), (x_test,), args, out_dir)
    return model, common.train_seconds(history)


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


def decode(model, z: np.ndarray, shape) -> np.ndarray:
    images = predict(model, z.astype(np.float32), fn=lambda m, z: m.decode(z))
    return images.reshape(len(z), *shape)


def classifier_view(classifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """The classifier's penultimate features (N, 256), max softmax probabilities (N,) and
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


def sample_panels(samples: dict[str, np.ndarray], scores: dict, path: Path,
                  ncols: int = 8) -> None:
    """One grid of ncols x ncols samples per sampler, side by side."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(samples), figsize=(3.2 * len(samples), 3.7), squeeze=False)
    for ax, (name, images) in zip(axes[0], samples.items(), strict=True):
        ax.imshow(plots.tile(images[:ncols * ncols], ncols), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(f"{name}\nFD {scores[name]['frechet_distance']:.1f}, confidence "
                     f"{scores[name]['confidence']:.3f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = tasks.subset(common.load_images(args), args.train_size, args.test_size)
    out = Path(args.out)
    shape = data.image_shape
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    pixels = x_train.shape[1]

    classifier, classifier_info = load_or_train(
        x_train, data.y_train, x_test, data.y_test, out / "classifier.npz", device=device,
        epochs=args.classifier_epochs, seed=args.seed, progress=not args.no_progress)
    print(f"classifier test accuracy {classifier_info['test_accuracy']:.4f}")

    sizes = (pixels, *args.hidden, args.latent_dim)
    ae, ae_seconds = train(lambda: MLPAutoencoder(sizes), autoencoder_loss_fn("bce"), x_train,
                           x_test, args, out / "ae")
    vae, vae_seconds = train(lambda: VAE(sizes), vae_loss_fn(), x_train, x_test, args,
                             out / "vae")

    rng = np.random.default_rng(args.seed)
    n = args.n_samples
    ae_codes = predict(ae, x_train, fn=lambda m, x: m.encode(x))
    vae_codes = predict(vae, x_train, fn=lambda m, x: m.encode(x)[0])  # posterior means
    ae_z, ae_mixture, ae_component = code_samplers(ae_codes, n, args.components, rng,
                                                   args.seed)
    vae_z, vae_mixture, vae_component = code_samplers(vae_codes, n, args.components, rng,
                                                      args.seed)
    gmm = f"{args.components}-component GMM"
    samples = {"AE, z ~ N(0, I)": decode(ae, ae_z["N(0, I)"], shape),
               "AE, one Gaussian": decode(ae, ae_z["one Gaussian"], shape),
               f"AE, {gmm}": decode(ae, ae_z[gmm], shape),
               "VAE, z ~ N(0, I)": decode(vae, vae_z["N(0, I)"], shape),
               f"VAE, {gmm}": decode(vae, vae_z[gmm], shape)}
    reference = x_train[rng.permutation(len(x_train))[:n]].reshape(-1, *shape)
    samples_and_floor = {**samples, "training digits (floor)": reference}

    test_features = classifier_view(classifier, x_test)[0]
    scores, predicted = {}, {}
    for name, images in samples_and_floor.items():
        features, confidence, predicted[name] = classifier_view(classifier, images)
        scores[name] = {"frechet_distance": M.frechet_distance_features(features,
                                                                        test_features),
                        "confidence": float(confidence.mean()),
                        "label_entropy_bits": label_entropy_bits(predicted[name])}
    mixtures = {"AE": component_report(ae_mixture, ae_component, predicted[f"AE, {gmm}"]),
                "VAE": component_report(vae_mixture, vae_component,
                                        predicted[f"VAE, {gmm}"])}
    plots.save_image_rows(
        {"AE": decode(ae, ae_mixture.means_, shape), "VAE": decode(vae, vae_mixture.means_,
                                                                    shape)},
        out / "mixture_means.png", title=f"the {args.components} mixture components' means, "
                                         "decoded")
    table = tasks.scores_table(scores, digits=3)
    print(table)
    for name, report in mixtures.items():
        print(f"{name} mixture: components cover {report['digits_covered']} digits, mean "
              f"purity {report['mean_purity']:.3f}")
    sample_panels(samples, scores, out / "samples.png")
    metrics = {
        "dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
        "layer_sizes": list(sizes), "epochs": args.epochs, "n_samples": n,
        "components": args.components, "scores": scores, "mixtures": mixtures,
        "published_fid": PUBLISHED_FID,
        "classifier": classifier_info, "table": table,
        **common.timings(started, device, ae_seconds + vae_seconds),
    }
    common.write_json(metrics, out / "metrics.json")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    return common.run(lambda: run(args), args.threads)


if __name__ == "__main__":
    main()
