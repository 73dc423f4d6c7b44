"""What every autoencoder here shares: an encoder to a code z, a decoder from z to the
pre-activation outputs ("logits"), and an output activation; plus the loss the trainer uses.

Keeping the decoder's last layer free of the output activation lets the loss use the stable
binary cross-entropy on logits, log(1 + e^-|l|) + max(l, 0) - x l, instead of taking the log
of a sigmoid that may have rounded to 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F

__all__ = ["ACTIVATIONS", "Autoencoder", "activation", "autoencoder_loss_fn", "mlp_layers"]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
OUTPUTS = ("sigmoid", "linear")


def activation(name: str) -> nn.Module:
    """A new activation module by name (one of ``ACTIVATIONS``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def mlp_layers(sizes: Sequence[int], act: str = "relu") -> list[nn.Module]:
    """Linear layers sizes[0] -> sizes[1] -> ... -> sizes[-1], ``act`` between them and
    nothing after the last (a linear code layer in an encoder, logits in a decoder)."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        if i > 0:
            layers.append(activation(act))
        layers.append(nn.Linear(n_in, n_out))
    return layers


class Autoencoder(nn.Module):
    """x -> encoder -> z -> decoder -> logits -> output activation -> x_hat.

    encoder, decoder: modules; output: "sigmoid" (pixels in [0, 1]) or "linear".
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, output: str = "sigmoid"):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.encoder = encoder
        self.decoder = decoder
        self.output = output

    def encode(self, x: mg.Tensor) -> mg.Tensor:
        """The code z of each input, (N, latent_dim)."""
        return self.encoder(x)

    def decode_logits(self, z: mg.Tensor) -> mg.Tensor:
        """The decoder's outputs before the output activation."""
        return self.decoder(z)

    def decode(self, z: mg.Tensor) -> mg.Tensor:
        """The reconstruction x_hat from codes z."""
        logits = self.decode_logits(z)
        return logits.sigmoid() if self.output == "sigmoid" else logits

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.decode(self.encode(x))


def _inputs_and_targets(batch, corrupt, augment, training: bool) -> tuple[mg.Tensor, mg.Tensor]:
    """(x_in, target) of a batch (x,) or (x_in, target): augmented (in training only), then
    the input corrupted."""
    if len(batch) == 1:
        x = batch[0] if augment is None or not training else augment(batch[0])
        x_in, target = x, x
    elif augment is not None:
        raise ValueError("augment works on (x,) batches; augment (x_in, target) pairs together "
                         "before training")
    else:
        x_in, target = batch
    return (x_in if corrupt is None else corrupt(x_in)), target


def autoencoder_loss_fn(kind: str = "mse", corrupt: Callable[[mg.Tensor], mg.Tensor] | None
                        = None, augment: Callable[[mg.Tensor], mg.Tensor] | None = None):
    """A ``loss_fn(model, batch)`` for the Trainer, per image (summed over pixels, averaged
    over the batch).

    kind:    "mse": squared error sum((x_hat - x)^2); "bce": binary cross-entropy on the
             logits (needs output="sigmoid"; targets in [0, 1]).
    corrupt: applied to the input on the device (denoising), e.g. ``corrupt.gaussian_noise``.
    augment: in training mode only (``model.training``), applied to x before anything else, so
             to input and target alike (for (x,) batches), e.g. ``train.random_shift``.
    batch:   (x,) to reconstruct x, or (x_in, x_target) to map inputs to other targets
             (super-resolution, colorization, completion).
    Metrics: "sq_error" (squared error per image) and, for sigmoid outputs, "bce".
    """
    if kind not in ("mse", "bce"):
        raise ValueError(f"kind must be 'mse' or 'bce', got {kind!r}")

    def loss_fn(model: Autoencoder, batch):
        if kind == "bce" and model.output != "sigmoid":
            raise ValueError('kind="bce" needs a model with output="sigmoid"')
        x_in, target = _inputs_and_targets(batch, corrupt, augment, model.training)
        n = target.shape[0]
        logits = model.decode_logits(model.encode(x_in)).reshape(target.shape)
        x_hat = logits.sigmoid() if model.output == "sigmoid" else logits
        metrics = {"sq_error": F.mse_loss(x_hat, target, reduction="sum") / n}
        if model.output == "sigmoid":
            metrics["bce"] = F.binary_cross_entropy_with_logits(logits, target,
                                                                reduction="sum") / n
        return metrics["sq_error" if kind == "mse" else "bce"], metrics

    return loss_fn
