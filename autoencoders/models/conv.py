"""The convolutional autoencoder: strided convolutions down to a linear code and transposed
convolutions back up.

Every convolution has kernel 3, stride 2 and padding 1, so it maps a side of s pixels to
ceil(s / 2). The decoder retraces those sizes from the output size: a transposed convolution
with the same kernel, stride and padding maps s to 2 s - 1 + output_padding, and
output_padding (0 or 1) is chosen to land exactly on the size it came from (28 -> 14 -> 7 and
back 7 -> 14 -> 28; 7 -> 4 -> 2 and back 2 -> 4 -> 7).
"""

from __future__ import annotations

from collections.abc import Sequence

from autoencoders.models.base import Autoencoder, activation
from minigrad import nn

__all__ = ["ConvAutoencoder", "conv_decoder", "conv_encoder", "conv_encoder_decoder"]


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else tuple(int(n) for n in size)


def _sizes(size: tuple[int, int], n: int) -> list[tuple[int, int]]:
    """[size, after 1 strided convolution, ..., after n]: each side s -> ceil(s / 2)."""
    sizes = [size]
    for _ in range(n):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


def conv_encoder(in_channels: int, channels: Sequence[int], image_size: int | Sequence[int],
                 out_features: int, act: str = "relu") -> nn.Sequential:
    """(N, in_channels, H, W) -> strided Conv2d + act per entry of ``channels`` -> Flatten
    -> Linear -> (N, out_features)."""
    layers: list[nn.Module] = []
    c_in = in_channels
    for c_out in channels:
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                   activation(act)]
        c_in = c_out
    h, w = _sizes(_pair(image_size), len(channels))[-1]
    layers += [nn.Flatten(), nn.Linear(c_in * h * w, out_features)]
    return nn.Sequential(*layers)


def conv_decoder(latent_dim: int, channels: Sequence[int], out_channels: int,
                 image_size: int | Sequence[int], act: str = "relu") -> nn.Sequential:
    """(N, latent_dim) -> Linear + act -> Unflatten -> ConvTranspose2d (+ act between) ->
    (N, out_channels, H, W) logits; ``channels`` as in the encoder (it is traversed backwards).
    """
    sizes = _sizes(_pair(image_size), len(channels))
    h, w = sizes[-1]
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, channels[-1] * h * w),
        activation(act),
        nn.Unflatten(1, (channels[-1], h, w)),
    ]
    c_outs = [*channels[-2::-1], out_channels]
    c_in = channels[-1]
    for i, c_out in enumerate(c_outs):
        (h_in, w_in), (h_out, w_out) = sizes[-1 - i], sizes[-2 - i]
        extra = (h_out - 2 * h_in + 1, w_out - 2 * w_in + 1)  # output_padding
        if i > 0:
            layers.append(activation(act))
        layers.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1,
                                         output_padding=extra))
        c_in = c_out
    return nn.Sequential(*layers)


def conv_encoder_decoder(in_channels: int, channels: Sequence[int], latent_dim: int,
                         image_size: int | Sequence[int], out_channels: int | None,
                         out_image_size: int | Sequence[int] | None, act: str,
                         code_features: int) -> tuple[nn.Sequential, nn.Sequential]:
    """The encoder (to ``code_features``: latent_dim, or 2 latent_dim for a VAE's mean and
    log-variance) and the decoder (from latent_dim) of the convolutional models, with the
    output defaulting to the input's channels and size."""
    if not channels:
        raise ValueError("channels needs at least one convolution, got ()")
    out_channels = in_channels if out_channels is None else out_channels
    out_image_size = image_size if out_image_size is None else out_image_size
    return (conv_encoder(in_channels, channels, image_size, code_features, act),
            conv_decoder(latent_dim, channels, out_channels, out_image_size, act))


class ConvAutoencoder(Autoencoder):
    """Images (N, in_channels, H, W) -> code (N, latent_dim) -> images (N, out_channels, H', W').

    channels:       channels of the strided convolutions, e.g. (32, 64): 28x28 -> 14 -> 7.
    image_size:     H (= W) or (H, W) of the input.
    out_channels:   of the output (default in_channels), e.g. 1 -> 3 for colorization.
    out_image_size: of the output (default image_size), e.g. 14 -> 28 for super-resolution.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64),
                 latent_dim: int = 16, image_size: int | Sequence[int] = 28,
                 out_channels: int | None = None,
                 out_image_size: int | Sequence[int] | None = None, activation: str = "relu",
                 output: str = "sigmoid"):
        encoder, decoder = conv_encoder_decoder(in_channels, channels, latent_dim, image_size,
                                                out_channels, out_image_size, activation,
                                                code_features=latent_dim)
        super().__init__(encoder, decoder, output)
        self.latent_dim = latent_dim
