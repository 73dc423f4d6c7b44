"""Generating digits: an autoencoder's decoder with three ways of drawing codes, and VAEs.

    python demos/generate.py                     # 16-D codes, MLP 784-512-256-16, 10 epochs
    python demos/generate.py --latent-dim 8 --n-samples 5000 --vae-betas 1,0.5,0.1

A plain autoencoder has a decoder but no distribution over its codes to sample from. This
demo decodes 10,000 codes from each of:
  (a) the autoencoder, z ~ N(0, I)                      (naive: ignores where the codes are)
  (b) the autoencoder, one Gaussian fitted to its training codes (mean and full covariance)
  (c) the autoencoder, a 10-component Gaussian mixture fitted to its training codes
      (sklearn GaussianMixture; "ex-post density estimation", Ghosh et al. 2020)
  (d) the VAE, z ~ N(0, I)                              (the prior it was trained towards)
  (e) the VAE, a 10-component mixture fitted to its aggregate posterior (posterior means)
  (f, g) the same for a beta-VAE of each other --vae-betas (beta < 1: a sharper decoder and
      codes further from N(0, I); the mixture does not need them near it)
All models have the same layer sizes and train for the same epochs on the same data.

The samples are judged by a 784-512-256-10 classifier trained here on the real digits
(``autoencoders.classifier``, cached in --out): the Fréchet distance between its penultimate
features of the samples and of the test digits ("FID for MNIST"; 10,000 training digits give
the floor), its mean confidence, the entropy of the digits it sees (3.32 bits when balanced),
and for the mixtures what each component learned (docs/guide/uses.md, docs/generative.md).

Writes into --out (default runs/generate):
- samples.png        a grid of samples from each sampler, with its distance and confidence;
- mixture_means.png  the decoded means of each model's mixture components;
- metrics.json       distance, confidence and label entropy per sampler and the floor, each
                     mixture component's weight, digit and purity, the classifier's test
                     accuracy, settings and times;
- classifier.npz     the classifier's cached weights; ae/, vae/, vae_beta_<b>/ the trainers'
                     logs and checkpoints.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common

import minigrad as mg
from autoencoders import generation as G
from autoencoders import plots, tasks
from autoencoders.models import VAE, MLPAutoencoder, autoencoder_loss_fn, vae_loss_fn

PUBLISHED_FID = {"VAE, z ~ N(0, I)": 19.21, "AE, 10-component GMM": 10.66}


def parser() -> argparse.ArgumentParser:
    p = common.base_parser(__doc__.splitlines()[0], out="runs/generate", latent_dim=16,
                           hidden="512,256", epochs=10, lr=1e-3)
    p.add_argument("--n-samples", type=common.positive_int, default=10000,
                   help="samples per sampler for the measurements")
    p.add_argument("--components", type=common.positive_int, default=10,
                   help="Gaussian mixture components")
    p.add_argument("--vae-betas", type=lambda t: [float(b) for b in t.split(",")],
                   default=[1.0, 0.25], help="one VAE per beta (weight of the KL term)")
    common.add_classifier_flag(p)
    tasks.add_subset_flags(p)
    return p


def run(args: argparse.Namespace) -> dict:
    device = mg.device(args.device)
    started = time.perf_counter()
    data = common.load_images(args)
    out, shape, n = Path(args.out), data.image_shape, args.n_samples
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    classifier, classifier_info = common.digit_classifier(args, data, device)

    sizes = (x_train.shape[1], *args.hidden, args.latent_dim)
    vae_samplers = ("N(0, I)", f"{args.components}-component GMM")
    runs = [("AE", "ae", MLPAutoencoder, autoencoder_loss_fn("bce"), None)] + [
        ("VAE", "vae", VAE, vae_loss_fn(), vae_samplers) if beta == 1 else
        (f"VAE beta={beta:g}", f"vae_beta_{beta:g}", VAE, vae_loss_fn(beta=beta), vae_samplers)
        for beta in args.vae_betas]
    models, seconds = {}, 0.0
    for name, folder, build, loss_fn, samplers in runs:
        mg.manual_seed(args.seed)  # each model's weights do not depend on what ran before
        model = build(sizes)
        history = common.fit(model, loss_fn, (x_train,), (x_test,), args, out / folder)
        seconds += common.train_seconds(history)
        models[name] = (model, G.training_codes(model, x_train), samplers)
    samples, scores, mixtures, reports = G.compare_samplers(
        classifier, models, x_train, x_test, n, args.components, args.seed, shape)
    plots.save_image_rows({name: G.decode(model, mixtures[name].means_, shape)
                           for name, (model, _, _) in models.items()}, out / "mixture_means.png",
                          title=f"the {args.components} mixture components' means, decoded")
    table = tasks.scores_table(scores, digits=3)
    print(table)
    for name, report in reports.items():
        print(f"{name} mixture: components cover {report['digits_covered']} digits, mean "
              f"purity {report['mean_purity']:.3f}")
    plots.save_sample_panels(samples, {name: f"FD {s['frechet_distance']:.1f}, confidence "
                                             f"{s['confidence']:.3f}"
                                       for name, s in scores.items()}, out / "samples.png")
    metrics = {"dataset": data.name, "n_train": len(x_train), "n_test": len(x_test),
               "layer_sizes": list(sizes), "epochs": args.epochs, "n_samples": n,
               "vae_betas": args.vae_betas, "components": args.components, "scores": scores,
               "mixtures": reports, "published_fid": PUBLISHED_FID,
               "classifier": classifier_info, "table": table}
    return common.finish(metrics, out, started, device, seconds)


def main(argv: list[str] | None = None) -> dict:
    return common.cli(parser(), run, argv)


if __name__ == "__main__":
    main()
