"""Variational autoencoders (Kingma & Welling 2014) and their loss, the negative ELBO.

The encoder outputs, for each input x, the mean mu and log-variance logvar of a diagonal
Gaussian q(z | x). A code is drawn with the reparameterization trick,

    z = mu + exp(logvar / 2) * eps,   eps ~ N(0, I),

so that z is a differentiable function of mu and logvar, and the decoder gives p(x | z).
Training minimises, per image, the negative evidence lower bound

    -ELBO = E_q[-log p(x | z)] + KL(q(z | x) || N(0, I)),
    KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))   (closed form),

with the expectation estimated by the one sample z. In nats per image it is the number that
PyTorch's examples/vae prints as "test set loss" (BCE summed over pixels + KL).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import minigrad as mg
from autoencoders.models.base import Autoencoder, _inputs_and_targets, mlp_layers
from autoencoders.models.conv import conv_encoder_decoder
from minigrad import nn
from minigrad.nn import functional as F

__all__ = ["VAE", "ConvVAE", "VariationalAutoencoder", "vae_loss", "vae_loss_fn"]

LIKELIHOODS = ("bernoulli", "gaussian")


class VariationalAutoencoder(Autoencoder):
    """An autoencoder whose encoder outputs 2 * latent_dim numbers per input: (mu, logvar)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int,
                 output: str = "sigmoid"):
        super().__init__(encoder, decoder, output)
        self.latent_dim = latent_dim

    def encode(self, x: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """(mu, logvar) of q(z | x), each (N, latent_dim)."""
        h = self.encoder(x)
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    @staticmethod
    def reparameterize(mu: mg.Tensor, logvar: mg.Tensor,
                       eps: mg.Tensor | None = None) -> mg.Tensor:
        """z = mu + exp(logvar / 2) * eps; eps ~ N(0, I) from mu's device unless given."""
        if eps is None:
            eps = mg.randn(*mu.shape, dtype=mu.dtype, device=mu.device)
        return mu + (0.5 * logvar).exp() * eps

    def forward(self, x: mg.Tensor, eps: mg.Tensor | None = None):
        """(logits, mu, logvar): the decoder's pre-activation output for one sampled z."""
        mu, logvar = self.encode(x)
        return self.decode_logits(self.reparameterize(mu, logvar, eps)), mu, logvar

    def sample(self, n: int) -> mg.Tensor:
        """n images decoded from z ~ N(0, I) (the prior), on the model's device."""
        weight = next(iter(self.parameters()))
        return self.decode(mg.randn(n, self.latent_dim, dtype=weight.dtype,
                                    device=weight.device))


class VAE(VariationalAutoencoder):
    """The fully connected VAE of PyTorch's examples: 784-400-(20, 20), decoder 20-400-784.

    layer_sizes:  input, hidden sizes and latent size, e.g. (784, 400, 20); the encoder's last
                  linear layer outputs mu and logvar together (2 * 20 numbers).
    out_features: size of the output when it differs from the input (default layer_sizes[0]).
    Outputs are flat, (N, out_features).
    """

    def __init__(self, layer_sizes: Sequence[int] = (784, 400, 20), activation: str = "relu",
                 output: str = "sigmoid", out_features: int | None = None):
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs an input and a latent size, got {layer_sizes}")
        latent = sizes[-1]
        out_features = sizes[0] if out_features is None else int(out_features)
        encoder = nn.Sequential(nn.Flatten(), *mlp_layers((*sizes[:-1], 2 * latent),
                                                          activation))
        decoder = nn.Sequential(*mlp_layers((*sizes[:0:-1], out_features), activation))
        super().__init__(encoder, decoder, latent, output)
        self.layer_sizes = sizes


class ConvVAE(VariationalAutoencoder):
    """The convolutional VAE: ``ConvAutoencoder``'s encoder and decoder around (mu, logvar).

    Arguments as for ``ConvAutoencoder``.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64),
                 latent_dim: int = 16, image_size: int | Sequence[int] = 28,
                 out_channels: int | None = None,
                 out_image_size: int | Sequence[int] | None = None, activation: str = "relu",
                 output: str = "sigmoid"):
        encoder, decoder = conv_encoder_decoder(in_channels, channels, latent_dim, image_size,
                                                out_channels, out_image_size, activation,
                                                code_features=2 * latent_dim)
        super().__init__(encoder, decoder, latent_dim, output)


def vae_loss(x_hat: mg.Tensor, x: mg.Tensor, mu: mg.Tensor, logvar: mg.Tensor,
             likelihood: str = "bernoulli", from_logits: bool = True, sigma: float = 1.0):
    """The negative ELBO per image, averaged over the batch: (loss, reconstruction, kl).

    x_hat:       the decoder's output, reshaped to x's shape (N, ...); logits when
                 ``from_logits`` (the mean is sigmoid(x_hat)), else the mean itself.
    x:           targets (pixels in [0, 1] for "bernoulli"; need not be binary).
    likelihood:  "bernoulli": reconstruction = sum over pixels of the binary cross-entropy;
                 "gaussian":  -log N(x; mean, sigma^2 I) = sum (x - mean)^2 / (2 sigma^2)
                              + D log(sigma sqrt(2 pi)), D pixels per image.
    All three are scalar Tensors in nats per image; loss = reconstruction + kl = -ELBO.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    n = x.shape[0]
    x_hat = x_hat.reshape(x.shape)
    if likelihood == "bernoulli":
        bce = F.binary_cross_entropy_with_logits if from_logits else F.binary_cross_entropy
        recon = bce(x_hat, x, reduction="sum") / n
    else:
        mean = x_hat.sigmoid() if from_logits else x_hat
        pixels = x.size // n
        recon = (F.mse_loss(mean, x, reduction="sum") / (2 * sigma**2 * n)
                 + pixels * math.log(sigma * math.sqrt(2 * math.pi)))
    kl = F.kl_divergence_normal(mu, logvar, reduction="sum") / n
    return recon + kl, recon, kl


def vae_loss_fn(likelihood: str = "bernoulli", beta: float = 1.0,
                corrupt: Callable[[mg.Tensor], mg.Tensor] | None = None, sigma: float = 1.0,
                augment: Callable[[mg.Tensor], mg.Tensor] | None = None):
    """A ``loss_fn(model, batch)`` for the Trainer: reconstruction + beta * KL per image.

    batch: (x,) or (x_in, x_target) as in ``autoencoder_loss_fn``; corrupt, augment likewise.
    Metrics: "recon", "kl" and "elbo" (= -(recon + kl), nats per image, whatever beta).
    """

    def loss_fn(model: VariationalAutoencoder, batch):
        x_in, target = _inputs_and_targets(batch, corrupt, augment, model.training)
        if likelihood == "bernoulli" and model.output != "sigmoid":
            raise ValueError('the "bernoulli" likelihood needs a model with output="sigmoid"')
        logits, mu, logvar = model(x_in)
        _, recon, kl = vae_loss(logits, target, mu, logvar, likelihood,
                                from_logits=model.output == "sigmoid", sigma=sigma)
        return recon + beta * kl, {"recon": recon, "kl": kl, "elbo": -(recon + kl)}

    return loss_fn
