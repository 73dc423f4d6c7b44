"""A small MNIST classifier, the measuring instrument of the generation demo.

Generated digits are judged the way FID judges images (Heusel et al. 2017), with a network
trained to recognise real ones: how confident it is about each sample (mean max-softmax
probability), and the Fréchet distance between its penultimate-layer features of samples and
of real test digits (``autoencoders.metrics.frechet_distance_features``).

The network is a 784-512-256-10 MLP with ReLU and dropout, trained with the lecture's
``Trainer`` like every model here. ``load_or_train`` caches its weights, so the instrument is
trained once per output folder and every sampler is measured with the same one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import minigrad as mg
from autoencoders.train import Trainer, predict
from minigrad import nn, optim
from minigrad.nn import functional as F

__all__ = ["MNISTClassifier", "classifier_loss_fn", "load_or_train"]


class MNISTClassifier(nn.Module):
    """Images (N, H, W) or (N, H*W) -> logits (N, classes).

    hidden:  sizes of the hidden layers; the last one's ReLU outputs are ``features``.
    dropout: probability of zeroing each hidden unit during training.
    """

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (512, 256),
                 classes: int = 10, dropout: float = 0.3):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in zip((in_features, *hidden), hidden, strict=False):
            layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden[-1], classes)
        self.config = {"in_features": in_features, "hidden": list(hidden), "classes": classes,
                       "dropout": dropout}

    def features(self, x: mg.Tensor) -> mg.Tensor:
        """The penultimate layer's activations, (N, hidden[-1]) (dropout is off in eval)."""
        return self.body(x)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.head(self.features(x))


def classifier_loss_fn(model: MNISTClassifier, batch) -> tuple[mg.Tensor, dict]:
    """Cross-entropy of a batch (images, labels), and its accuracy as a metric.

    The accuracy stays on the device: an example is right when the logit of its label is the
    largest one (ties count as right; with float logits they do not happen in practice).
    """
    x, y = batch
    logits = model(x)
    is_label = mg.arange(logits.shape[1], device=logits.device).reshape(1, -1) == y.reshape(-1, 1)
    label_logit = mg.where(is_label, logits, -np.inf).max(axis=1)
    correct = (label_logit >= logits.max(axis=1)).to(dtype=logits.dtype)
    return F.cross_entropy(logits, y), {"accuracy": correct.mean()}


def load_or_train(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, path: str | Path, *, device="cpu", epochs: int = 10,
                  batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                  progress: bool = True) -> tuple[MNISTClassifier, dict]:
    """The classifier cached at ``path`` (an .npz of minigrad.save), or a new one trained on
    (x_train, y_train) and saved there. A cached one is used only if it was trained with the
    same settings and the same number of training images; otherwise it is retrained.

    Returns (model in eval mode on ``device``, info) where info holds the test accuracy,
    epochs and training time.
    """
    path = Path(path)
    in_features = int(np.prod(x_train.shape[1:]))
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                "n_train": len(x_train)}
    mg.manual_seed(seed)
    model = MNISTClassifier(in_features)
    if path.exists():
        saved = mg.load(path, device=device)
        if json.loads(saved["settings"]) == {**settings, **model.config}:
            model.load_state_dict(saved["model"])
            model.to(device).eval()
            return model, json.loads(saved["info"])
    optimizer = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    trainer = Trainer(model, classifier_loss_fn, optimizer, schedule, device=device, seed=seed,
                      progress=progress)
    history = trainer.fit((x_train, y_train), None, epochs=epochs, batch_size=batch_size)
    model.eval()
    logits = predict(model, x_test)
    info = {"test_accuracy": float((logits.argmax(axis=1) == y_test).mean()),
            "epochs": epochs, "train_seconds": sum(row["time"] for row in history)}
    path.parent.mkdir(parents=True, exist_ok=True)
    mg.save({"model": model.state_dict(), "settings": json.dumps({**settings, **model.config}),
             "info": json.dumps(info)}, path)
    return model, info
