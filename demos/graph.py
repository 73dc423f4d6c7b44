"""Draw the computation graph of one training loss, as minigrad records it.

    python demos/graph.py                               # the VAE of train_mnist_vae.py
    python demos/graph.py --model ae --out ae_graph.png

One batch of random images goes through the model and its loss; ``minigrad.viz.draw``
renders the graph that backward() would walk: one box per op, the parameters under their
dotted names, arrows the way data flows. Needs the `viz` extra (`pip install -e ".[viz]"`)
and Graphviz's `dot` program.
"""

from __future__ import annotations

import argparse

import common

import minigrad as mg
import minigrad.viz
from autoencoders.models import VAE, MLPAutoencoder, autoencoder_loss_fn, vae_loss_fn


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("vae", "ae"), default="vae",
                   help="the VAE 784-400-20 with its negative ELBO, or the MLP autoencoder "
                        "784-512-128-32 with its cross-entropy loss")
    p.add_argument("--out", default="docs/figures/vae_graph.svg",
                   help="the picture to write: .svg or .png")
    p.add_argument("--batch-size", type=int, default=4)
    return p


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    common.run(lambda: draw(args))


def draw(args) -> None:
    mg.manual_seed(0)
    if args.model == "vae":
        model, loss_fn = VAE((784, 400, 20)), vae_loss_fn()
    else:
        model, loss_fn = MLPAutoencoder((784, 512, 128, 32)), autoencoder_loss_fn("bce")
    images = mg.rand(args.batch_size, 784)
    loss, _ = loss_fn(model, (images,))
    path = mg.viz.draw(loss, args.out, params=dict(model.named_parameters()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
