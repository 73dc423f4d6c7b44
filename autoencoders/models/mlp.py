"""The fully connected autoencoder (Hinton & Salakhutdinov 2006: 784-1000-500-250-30)."""

from __future__ import annotations

from collections.abc import Sequence

from autoencoders.models.base import Autoencoder, mlp_layers
from minigrad import nn

__all__ = ["MLPAutoencoder"]


class MLPAutoencoder(Autoencoder):
    """Encoder layer_sizes[0] -> ... -> layer_sizes[-1] (the code, linear), decoder the mirror.

    layer_sizes:  e.g. (784, 1000, 500, 250, 30); inputs of any shape (N, ...) are flattened
                  to (N, layer_sizes[0]).
    activation:   of the hidden layers (see ``base.ACTIVATIONS``).
    output:       "sigmoid" (pixels in [0, 1]) or "linear".
    out_features: size of the decoder's output when it differs from the input's, e.g. a
                  super-resolution model 196 -> ... -> 784 (default layer_sizes[0]).
    Outputs are flat, (N, out_features).
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "relu",
                 output: str = "sigmoid", out_features: int | None = None):
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs an input and a code size, got {layer_sizes}")
        out_features = sizes[0] if out_features is None else int(out_features)
        encoder = nn.Sequential(nn.Flatten(), *mlp_layers(sizes, activation))
        decoder = nn.Sequential(*mlp_layers((*sizes[:0:-1], out_features), activation))
        super().__init__(encoder, decoder, output)
        self.layer_sizes = sizes
        self.latent_dim = sizes[-1]
