"""The conditional VAE (Sohn, Lee & Yan, NeurIPS 2015): a VAE of p(x | y) for labels y.

Encoder and decoder both see the label, as a one-hot vector concatenated to their input:

    q(z | x, y) = N(mu, diag exp(logvar)),  (mu, logvar) = encoder([x, onehot(y)]),
    p(x | z, y) from decoder([z, onehot(y)]),  p(z) = N(0, I)  (the prior ignores y here),

trained on the conditional ELBO, E_q[log p(x | z, y)] - KL(q(z | x, y) || N(0, I)) <=
log p(x | y). Since the decoder is told the digit, the code z need not carry it and is free to
hold the style (slant, thickness); ``sample(labels)`` draws z ~ N(0, I) and decodes chosen
digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import minigrad as mg
from autoencoders.models.base import _inputs_and_targets, mlp_layers
from autoencoders.models.vae import VariationalAutoencoder, vae_loss
from minigrad import nn

__all__ = ["CVAE", "cvae_loss_fn"]


class CVAE(VariationalAutoencoder):
    """Fully connected conditional VAE: encoder (D + C)-hidden...-2d, decoder (d + C)-...-D.

    layer_sizes: input, hidden sizes and latent size, e.g. (784, 400, 20), as for ``VAE``;
    num_classes: C, the number of labels. Labels are int64 (N,) tensors (or already one-hot
    float (N, C)). Inputs (N, ...) are flattened; outputs are (N, D).
    """

    def __init__(self, layer_sizes: Sequence[int] = (784, 400, 20), num_classes: int = 10,
                 activation: str = "relu", output: str = "sigmoid"):
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs an input and a latent size, got {layer_sizes}")
        latent, c = sizes[-1], int(num_classes)
        encoder = nn.Sequential(*mlp_layers((sizes[0] + c, *sizes[1:-1], 2 * latent),
                                            activation))
        decoder = nn.Sequential(*mlp_layers((latent + c, *sizes[-2:0:-1], sizes[0]),
                                            activation))
        super().__init__(encoder, decoder, latent, output)
        self.layer_sizes = sizes
        self.num_classes = c

    def one_hot(self, labels: mg.Tensor, like: mg.Tensor) -> mg.Tensor:
        """(N, C) one-hot rows in ``like``'s dtype and device (floats pass through)."""
        if labels.ndim == 2:
            return labels.to(like.device, like.dtype)
        return mg.one_hot(labels.to(like.device), self.num_classes).to(dtype=like.dtype)

    def encode(self, x: mg.Tensor, labels: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """(mu, logvar) of q(z | x, y), each (N, latent_dim)."""
        flat = x.reshape(x.shape[0], -1)
        h = self.encoder(mg.cat([flat, self.one_hot(labels, flat)], axis=1))
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def decode_logits(self, z: mg.Tensor, labels: mg.Tensor) -> mg.Tensor:
        """The decoder's pre-activation outputs for codes z (N, d) and labels y, (N, D)."""
        return self.decoder(mg.cat([z, self.one_hot(labels, z)], axis=1))

    def decode(self, z: mg.Tensor, labels: mg.Tensor) -> mg.Tensor:
        logits = self.decode_logits(z, labels)
        return logits.sigmoid() if self.output == "sigmoid" else logits

    def forward(self, x: mg.Tensor, labels: mg.Tensor, eps: mg.Tensor | None = None):
        """(logits, mu, logvar) for one sampled z per input."""
        mu, logvar = self.encode(x, labels)
        return self.decode_logits(self.reparameterize(mu, logvar, eps), labels), mu, logvar

    def sample(self, labels) -> mg.Tensor:
        """One image per label (ints, a list/array or an int64 tensor), decoded from
        z ~ N(0, I) on the model's device: (N, D)."""
        weight = next(iter(self.parameters()))
        labels = mg.tensor(labels, device=weight.device) if not isinstance(labels, mg.Tensor) \
            else labels
        z = mg.randn(labels.shape[0], self.latent_dim, dtype=weight.dtype, device=weight.device)
        return self.decode(z, labels)


def cvae_loss_fn(likelihood: str = "bernoulli", beta: float = 1.0, sigma: float = 1.0,
                 augment: Callable[[mg.Tensor], mg.Tensor] | None = None):
    """A ``loss_fn(model, batch)`` for the Trainer with batches (x, labels): the conditional
    -ELBO per image, reconstruction + beta * KL (``vae_loss``). augment: applied to x in
    training mode only (e.g. ``binarize.dynamic_binarize``). Metrics "recon", "kl", "elbo"."""

    def loss_fn(model: CVAE, batch):
        if len(batch) != 2:
            raise ValueError(f"cvae_loss_fn needs (x, labels) batches, got {len(batch)} arrays")
        x, labels = batch
        x, _ = _inputs_and_targets((x,), None, augment, model.training)
        logits, mu, logvar = model(x, labels)
        _, recon, kl = vae_loss(logits, x.reshape(x.shape[0], -1), mu, logvar, likelihood,
                                from_logits=model.output == "sigmoid", sigma=sigma)
        return recon + beta * kl, {"recon": recon, "kl": kl, "elbo": -(recon + kl)}

    return loss_fn
