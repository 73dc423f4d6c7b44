"""Binarized MNIST, as the VAE literature trains and tests on it.

A Bernoulli decoder gives a probability to binary images only: p(x | z) = prod_d m_d^x_d
(1 - m_d)^(1 - x_d) sums to 1 over x in {0, 1}^D. Gray MNIST pixels are therefore binarized:

- dynamically for training (Salakhutdinov & Murray 2008; Burda et al. 2016): every time an
  image is seen, each pixel is drawn anew as x_d ~ Bernoulli(intensity_d). This is a data
  augmentation that keeps the model from overfitting to one binarization.
  ``dynamic_binarize`` does it for a batch on the device; pass it as the ``augment`` of
  ``vae_loss_fn`` / ``iwae_loss_fn``, which the Trainer applies in training mode only, with a
  fresh draw for each batch (its generators are seeded per epoch, so runs repeat).
- once for testing, with a fixed seed (``binarize_fixed``), so every model is scored on the
  same binary test set. (The "statically binarized" MNIST of Larochelle & Murray 2011 is a
  different, fixed set; numbers on the two are not comparable to a fraction of a nat.)
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from autoencoders.datasets import load_dataset

__all__ = ["binarize_fixed", "binarized_mnist", "dynamic_binarize"]


def dynamic_binarize(x: mg.Tensor) -> mg.Tensor:
    """Each pixel independently 1 with probability x (intensities in [0, 1]), else 0; same
    shape and dtype, drawn on x's device from its seeded generator (``mg.manual_seed``)."""
    return (mg.rand(*x.shape, dtype=x.dtype, device=x.device) < x).to(dtype=x.dtype)


def binarize_fixed(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Binary float32 images (same shape), pixel d drawn once as Bernoulli(images[d]) with
    ``numpy.random.default_rng(seed)``: the same array for the same seed, on any machine."""
    images = np.asarray(images, dtype=np.float32)
    u = np.random.default_rng(seed).random(images.shape, dtype=np.float32)
    return (u < images).astype(np.float32)


def binarized_mnist(name: str = "mnist", seed: int = 0, flatten: bool = True,
                    root=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test_binary, y_test) for training with dynamic binarization.

    x_train: intensities in [0, 1] (to be binarized per batch by ``dynamic_binarize``);
    x_test_binary: the test images binarized once with ``seed``. name: a
    ``datasets.load_dataset`` name ("mnist", "mnist5k", "digits"). flatten: images as (N, H*W).
    """
    data = load_dataset(name, root)
    x_train, x_test = data.x_train, binarize_fixed(data.x_test, seed)
    if flatten:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    return x_train, data.y_train, x_test, data.y_test
