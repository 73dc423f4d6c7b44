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
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from minigrad.nn.conv import AvgPool2d, Conv2d, ConvTranspose2d, MaxPool2d, Upsample
from minigrad.nn.linear import Dropout, Flatten, Identity, Linear, Unflatten
from minigrad.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss
from minigrad.nn.module import Module, ModuleList, Parameter, Sequential
from minigrad.nn.norm import BatchNorm1d, BatchNorm2d

__all__ = [
    "functional", "init",
    "Module", "Parameter", "Sequential", "ModuleList",
    "Linear", "Identity", "Flatten", "Unflatten", "Dropout",
    "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Upsample",
    "BatchNorm1d", "BatchNorm2d",
    "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "GELU", "SiLU", "Softmax",
    "LogSoftmax",
    "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
]
