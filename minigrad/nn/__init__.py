"""Neural-network building blocks on minigrad: modules, layers, losses, initialisers.

    from minigrad import nn
    import minigrad.nn.functional as F
    model = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(16 * 14 * 14, 10))

Files: module.py (Module, Parameter, Sequential, ModuleList), linear.py, conv.py, norm.py,
activation.py, loss.py, functional.py (the functions behind them), init.py.
"""

from minigrad.nn import functional, init
from minigrad.nn.activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
)
from minigrad.nn.conv import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    Fold,
    MaxPool2d,
    MaxUnpool2d,
    PixelShuffle,
    PixelUnshuffle,
    Unfold,
    Upsample,
)
from minigrad.nn.embedding import Embedding
from minigrad.nn.linear import Dropout, Flatten, Identity, Linear, Unflatten
from minigrad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineSimilarity,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from minigrad.nn.module import Module, ModuleList, Parameter, Sequential
from minigrad.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, SyncBatchNorm

__all__ = [
    "functional", "init",
    "Module", "Parameter", "Sequential", "ModuleList",
    "Linear", "Identity", "Flatten", "Unflatten", "Dropout",
    "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Upsample",
    "BatchNorm1d", "BatchNorm2d", "SyncBatchNorm",
    "Conv1d", "Conv3d", "ConvTranspose1d", "MaxUnpool2d", "AdaptiveAvgPool2d", "PixelShuffle",
    "PixelUnshuffle", "Unfold", "Fold", "LayerNorm", "GroupNorm", "Embedding",
    "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "GELU", "SiLU", "Softmax",
    "LogSoftmax",
    "ReLU6", "Hardtanh", "Hardsigmoid", "Hardswish", "SELU", "CELU", "Mish", "LogSigmoid",
    "Softsign", "Softmin",
    "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CosineSimilarity",
]
