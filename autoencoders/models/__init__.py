"""The lecture's autoencoders, built on minigrad's public API only.

- ``MLPAutoencoder``: fully connected (Hinton & Salakhutdinov 2006).
- ``ConvAutoencoder``: strided convolutions and transposed convolutions.
- ``VAE`` / ``ConvVAE``: variational autoencoders, with ``vae_loss`` (the negative ELBO) and
  ``iwae_loss`` (the importance-weighted bound of Burda et al. 2016, k samples).
- ``CVAE``: the conditional VAE (Sohn et al. 2015), ``cvae_loss_fn``.
- The contractive autoencoder (Rifai et al. 2011): an ``MLPAutoencoder`` or
  ``ConvAutoencoder`` trained with ``contractive_loss_fn``, which adds lambda ||J_f(x)||_F^2,
  the squared Frobenius norm of the encoder's Jacobian (``contractive_penalty``, exact or
  Hutchinson's estimate).

Every model has ``encode(x)``, ``decode(z)`` (outputs after the output activation),
``decode_logits(z)`` (before it) and ``forward``. Inputs and targets may differ in size and
channels (``out_features``, ``out_channels``, ``out_image_size``), so the same classes serve
denoising, super-resolution, completion and colorization. ``autoencoder_loss_fn`` and
``vae_loss_fn`` make the ``loss_fn`` that ``autoencoders.train.Trainer`` minimises.
"""

from autoencoders.models.base import ACTIVATIONS, Autoencoder, autoencoder_loss_fn
from autoencoders.models.contractive import (
    contractive_loss_fn,
    contractive_penalty,
    jacobian_sq_frobenius,
)
from autoencoders.models.conv import ConvAutoencoder
from autoencoders.models.cvae import CVAE, cvae_loss_fn
from autoencoders.models.mlp import MLPAutoencoder
from autoencoders.models.vae import (
    VAE,
    ConvVAE,
    VariationalAutoencoder,
    iwae_loss,
    iwae_loss_fn,
    log_importance_weights,
    vae_loss,
    vae_loss_fn,
)

__all__ = [
    "ACTIVATIONS",
    "CVAE",
    "Autoencoder",
    "ConvAutoencoder",
    "ConvVAE",
    "MLPAutoencoder",
    "VAE",
    "VariationalAutoencoder",
    "autoencoder_loss_fn",
    "contractive_loss_fn",
    "cvae_loss_fn",
    "contractive_penalty",
    "iwae_loss",
    "iwae_loss_fn",
    "jacobian_sq_frobenius",
    "log_importance_weights",
    "vae_loss",
    "vae_loss_fn",
]
