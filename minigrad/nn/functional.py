"""The functions behind the layers and losses, under PyTorch's names
(``import minigrad.nn.functional as F``). Public names only: every op, with its forward and
backward side by side, lives in ``minigrad/ops/``."""

from minigrad.ops.activations import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from minigrad.ops.activations_more import (
    celu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    relu6,
    selu,
    softmin,
    softsign,
)
from minigrad.ops.conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    fold,
    unfold,
)
from minigrad.ops.conventions import log_softmax, softmax  # (they take dim= too)
from minigrad.ops.layers import batch_norm, dropout, embedding, linear
from minigrad.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_similarity,
    cross_entropy,
    huber_loss,
    kl_div,
    kl_divergence_normal,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from minigrad.ops.normalization import group_norm, layer_norm
from minigrad.ops.padding import pad
from minigrad.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_unpool2d
from minigrad.ops.resize import interpolate, pixel_shuffle, pixel_unshuffle, upsample
from minigrad.ops.select import one_hot

__all__ = [
    "linear", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample",
    "conv1d", "conv3d", "conv_transpose1d", "unfold", "fold", "pad", "max_unpool2d",
    "adaptive_avg_pool2d", "interpolate", "pixel_shuffle", "pixel_unshuffle",
    "batch_norm", "dropout", "layer_norm", "group_norm", "embedding",
    "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "silu", "softmax",
    "log_softmax",
    "relu6", "hardtanh", "hardsigmoid", "hardswish", "selu", "celu", "mish", "logsigmoid",
    "softsign", "softmin", "one_hot",
    "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "kl_divergence_normal",
    "nll_loss", "smooth_l1_loss", "huber_loss", "kl_div", "cosine_similarity",
]
