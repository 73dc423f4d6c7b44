"""The functions behind the layers and losses, under PyTorch's names
(``import minigrad.nn.functional as F``). Public names only: every op, with its forward and
backward side by side, lives in ``minigrad/ops/``."""

from minigrad.ops.activations import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from minigrad.ops.conv import conv2d, conv_transpose2d
from minigrad.ops.layers import batch_norm, dropout, linear
from minigrad.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_divergence_normal,
    l1_loss,
    mse_loss,
)
from minigrad.ops.pool import avg_pool2d, max_pool2d
from minigrad.ops.reduce import log_softmax, softmax
from minigrad.ops.resize import upsample

__all__ = [
    "linear", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample",
    "batch_norm", "dropout",
    "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "silu", "softmax",
    "log_softmax",
    "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "kl_divergence_normal",
]
