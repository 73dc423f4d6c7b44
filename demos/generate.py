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

import minigrad as mg
from autoencoders import generation as G
from autoencoders import plots, tasks
from autoencoders.classifier import load_or_train
from autoencoders.models import VAE, MLPAutoencoder, autoencoder_loss_fn, vae_loss_fn
from autoencoders.train import predict

PUBLISHED_FID = {"VAE, z ~ N(0, I)": 19.21, "AE, 10-component GMM": 10.66}


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/generate", latent_dim=16,
                           hidden="512,256", epochs=10, lr=1e-3)
    p.add_argument("--n-samples", type=common.positive_int, default=10000,
                   help="samples per sampler for the measurements")
    p.add_argument("--components", type=common.positive_int, default=10,
                   help="Gaussian mixture components")
    p.add_argument("--classifier-epochs", type=common.positive_int, default=None,
                   help="epochs of the digit classifier (default: 20 on full MNIST; on a "
                        "smaller data set as many as give the same number of steps)")
    p.set_defaults(matched_epoch_flags={"classifier_epochs": 20})
    tasks.add_subset_flags(p)
    return p


def train(build, loss_fn, x_train, x_test, args, out_dir: Path):
    """``build()`` a model with the generators seeded by --seed (so it does not depend on what
    ran before, e.g. whether the classifier was cached), train it; (model, seconds)."""
    mg.manual_seed(args.seed)
    model = build()
    history = common.fit(model, loss_fn, (x_train,), (x_test,), args, out_dir)
    return model, common.train_seconds(history)


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = common.load_images(args)
    out, shape, n = Path(args.out), data.image_shape, args.n_samples
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    classifier, classifier_info = load_or_train(
        x_train, data.y_train, x_test, data.y_test, out / "classifier.npz", device=device,
        epochs=args.classifier_epochs, seed=args.seed, progress=not args.no_progress)
    print(f"classifier test accuracy {classifier_info['test_accuracy']:.4f}")

    sizes = (x_train.shape[1], *args.hidden, args.latent_dim)
    ae, ae_seconds = train(lambda: MLPAutoencoder(sizes), autoencoder_loss_fn("bce"), x_train,
                           x_test, args, out / "ae")
    vae, vae_seconds = train(lambda: VAE(sizes), vae_loss_fn(), x_train, x_test, args,
                             out / "vae")

    gmm = f"{args.components}-component GMM"
    samples, scores, mixtures, reports = G.compare_samplers(classifier, {
        "AE": (ae, predict(ae, x_train, fn=lambda m, x: m.encode(x)), None),
        "VAE": (vae, predict(vae, x_train, fn=lambda m, x: m.encode(x)[0]),  # posterior means
                ("N(0, I)", gmm))}, x_train, x_test, n, args.components, args.seed, shape)
    plots.save_image_rows({name: G.decode(model, mixtures[name].means_, shape)
                           for name, model in (("AE", ae), ("VAE", vae))},
                          out / "mixture_means.png",
                          title=f"the {args.components} mixture components' means, decoded")
    table = tasks.scores_table(scores, digits=3)
    print(table)
    for name, report in reports.items():
        print(f"{name} mixture: components cover {report['digits_covered']} digits, mean "
              f"purity {report['mean_purity']:.3f}")
    plots.save_sample_panels(samples, {name: f"FD {s['frechet_distance']:.1f}, confidence "
                                             f"{s['confidence']:.3f}"
                                       for name, s in scores.items()}, out / "samples.png")
    metrics = {
        "dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
        "layer_sizes": list(sizes), "epochs": args.epochs, "n_samples": n,
        "components": args.components, "scores": scores, "mixtures": reports,
        "published_fid": PUBLISHED_FID, "classifier": classifier_info, "table": table,
    }
    return common.finish(metrics, out, started, device, ae_seconds + vae_seconds)


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), run, argv)


if __name__ == "__main__":
    main()
