"""Gradients of gradients (create_graph=True) through the spatial, layer and loss ops and
their nn layers.

- gradgradcheck (float64) of every op and layer against central differences of first-order
  gradients: every element on "cpu" and "strict:cpu", random directions on "strict:device1".
  Ops that are linear in an input (convolution in x, pooling, upsampling) go through a
  nonlinearity (tanh), so their second derivatives are not trivially zero.
- Double backward (a gradient penalty, differentiated again) against PyTorch, to 1e-10.
- Gradient-penalty training steps (task loss + |d loss / d x|^2, and WGAN-GP's critic
  penalty) on an MLP and on small conv nets, every parameter gradient against PyTorch.
"""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

grad = mg.autograd.grad



# -- data ---------------------------------------------------------------------------------------


def normal(*shape, seed=0):
    return np.random.default_rng(seed + 7 * sum(shape) + len(shape)).standard_normal(shape)


def distinct(*shape):
    """A permutation of well separated values: no ties in any max-pooling window, and no
    winner changes under a finite-difference step."""
    n = int(np.prod(shape))
    return np.random.default_rng(3).permutation(np.linspace(-1.5, 1.5, n)).reshape(shape)


def probabilities(*shape, seed=0):
    """Values in [0.1, 0.9]: inside (0, 1), away from the clamps of binary cross-entropy."""
    return 0.1 + 0.8 * np.random.default_rng(seed + 13 * sum(shape)).random(shape)


def away_from_zero(*shape, seed=0):
    """Values with |x| in [0.3, 1.3] and both signs."""
    rng = np.random.default_rng(seed + 11 * sum(shape))
    return rng.choice([-1.0, 1.0], shape) * (0.3 + rng.random(shape))


def constant(like, values, dtype=None):
    """A tensor outside the graph on ``like``'s device."""
    return mg.tensor(np.asarray(values), dtype=dtype, device=like.device)


def check_second_derivatives(device, fn, arrays, params=()):
    """gradgradcheck of fn on float64 leaves made from ``arrays`` (and ``params``): every
    element on the CPU devices, random directions on strict:device1 (a GPU stand-in); and
    the second derivatives checked are not all zero (a check of zeros proves little)."""
    tensors = [mg.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=True)
               for a in arrays]
    assert mg.gradgradcheck(fn, tensors, params, fast=device == "strict:device1")
    assert largest_hessian_vector_product(fn, tensors, list(params)) > 1e-6


def largest_hessian_vector_product(fn, tensors, params):
    """max |H v| over the entries, for the Hessian H of sum(fn(*tensors) * w) with respect to
    tensors and params, at random w and v."""
    rng = np.random.default_rng(30)
    everything = tensors + params
    out = fn(*tensors)
    firsts = grad((out * constant(out, rng.standard_normal(out.shape))).sum(), everything,
                  create_graph=True, allow_unused=True)
    terms = [(g * constant(g, rng.standard_normal(g.shape))).sum() for g in firsts
             if g is not None and g.requires_grad]
    if not terms:
        return 0.0
    seconds = grad(sum(terms[1:], terms[0]), everything, allow_unused=True)
    return max(float(np.abs(g.numpy()).max()) for g in seconds if g is not None)


# -- gradgradcheck of the ops -------------------------------------------------------------------
# Each case: (function of the tensors, arrays for them).

CONV2D = {
    "stride-padding-bias": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1).tanh(),
                            (normal(2, 2, 3, 3), normal(3, 2, 2, 2), normal(3))),
    # more output channels than window values: the weight gradient's other product order
    "1x1-kernel-more-outputs": (lambda x, w, b: F.conv2d(x, w, b).tanh(),
                                (normal(2, 1, 2, 2), normal(4, 1, 1, 1), normal(4))),
    "no-bias": (lambda x, w: F.conv2d(x, w).tanh(), (normal(2, 2, 3, 4), normal(2, 2, 2, 2))),
    "pairs-of-stride-and-padding": (
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(0, 1)).tanh(),
        (normal(1, 2, 5, 3), normal(2, 2, 3, 2), normal(2))),
    "padding-same-even-kernel": (  # an odd total of zeros: the extra one after
        lambda x, w, b: F.conv2d(x, w, b, padding="same").tanh(),
        (normal(1, 2, 3, 4), normal(2, 2, 2, 3), normal(2))),
    "padding-same-dilated": (lambda x, w: F.conv2d(x, w, padding="same", dilation=2).tanh(),
                             (normal(1, 2, 4, 4), normal(2, 2, 2, 3))),
    "padding-valid": (lambda x, w, b: F.conv2d(x, w, b, padding="valid").tanh(),
                      (normal(2, 1, 4, 3), normal(2, 1, 3, 2), normal(2))),
    "dilation": (lambda x, w, b: F.conv2d(x, w, b, dilation=(2, 1), padding=1).tanh(),
                 (normal(1, 2, 4, 4), normal(2, 2, 2, 2), normal(2))),
    "groups-bias": (lambda x, w, b: F.conv2d(x, w, b, groups=2, stride=2).tanh(),
                    (normal(2, 4, 3, 3), normal(4, 2, 2, 2), normal(4))),
    "depthwise-no-bias": (lambda x, w: F.conv2d(x, w, groups=3, padding=1).tanh(),
                          (normal(1, 3, 3, 3), normal(6, 1, 2, 2))),
}

CONV_TRANSPOSE2D = {
    "stride-padding-output_padding-bias": (
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                           output_padding=1).tanh(),
        (normal(2, 2, 2, 3), normal(2, 3, 2, 2), normal(3))),
    "1x1-kernel-more-inputs": (lambda x, w, b: F.conv_transpose2d(x, w, b).tanh(),
                               (normal(2, 4, 2, 2), normal(4, 1, 1, 1), normal(1))),
    "no-bias": (lambda x, w: F.conv_transpose2d(x, w).tanh(),
                (normal(1, 2, 3, 2), normal(2, 2, 2, 2))),
    "pairs": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(0, 1),
                                                 output_padding=(1, 0)).tanh(),
              (normal(1, 2, 2, 3), normal(2, 2, 2, 3), normal(2))),
    "dilation-output_padding": (
        lambda x, w, b: F.conv_transpose2d(x, w, b, dilation=2, output_padding=1).tanh(),
        (normal(1, 2, 2, 2), normal(2, 2, 2, 2), normal(2))),
    "groups-bias": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=2).tanh(),
                    (normal(2, 4, 2, 2), normal(4, 1, 2, 2), normal(2))),
    "groups-dilation-no-bias": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2, dilation=2, groups=2).tanh(),
        (normal(1, 2, 2, 2), normal(2, 2, 2, 2))),
}

MAX_POOL2D = {
    "kernel-2": (lambda x: F.max_pool2d(x, 2).tanh(), (distinct(2, 2, 4, 4),)),
    "overlapping-windows": (lambda x: F.max_pool2d(x, 3, stride=1).tanh(),
                            (distinct(1, 2, 4, 4),)),
    "padding": (lambda x: F.max_pool2d(x, 2, stride=1, padding=1).tanh(),
                (distinct(1, 2, 3, 3),)),
    "ceil_mode": (lambda x: F.max_pool2d(x, 2, ceil_mode=True).tanh(), (distinct(1, 2, 5, 5),)),
    "padding-ceil_mode-pairs": (
        lambda x: F.max_pool2d(x, (3, 2), stride=(2, 2), padding=(1, 1), ceil_mode=True).tanh(),
        (distinct(1, 2, 6, 5),)),
}

AVG_POOL2D = {
    "kernel-2": (lambda x: F.avg_pool2d(x, 2).tanh(), (normal(2, 2, 4, 4),)),
    "overlapping-windows": (lambda x: F.avg_pool2d(x, 3, stride=1).tanh(), (normal(1, 2, 4, 4),)),
    "padding": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1).tanh(), (normal(1, 2, 5, 5),)),
    "ceil_mode": (lambda x: F.avg_pool2d(x, 2, ceil_mode=True).tanh(), (normal(1, 2, 5, 5),)),
    "padding-ceil_mode-pairs": (
        lambda x: F.avg_pool2d(x, (3, 2), stride=2, padding=(1, 1), ceil_mode=True).tanh(),
        (normal(1, 2, 6, 5),)),
}

UPSAMPLE = {
    "nearest-scale-2": (lambda x: F.upsample(x, 2).tanh(), (normal(2, 2, 2, 3),)),
    "nearest-scale-pair": (lambda x: F.upsample(x, (2, 3)).tanh(), (normal(1, 2, 2, 2),)),
    "nearest-size-multiple": (lambda x: F.upsample(x, size=(4, 6)).tanh(),
                              (normal(1, 2, 2, 3),)),
    "nearest-size-not-a-multiple": (lambda x: F.upsample(x, size=(3, 5)).tanh(),
                                    (normal(2, 2, 2, 3),)),
    "bilinear-scale": (lambda x: F.upsample(x, 2, mode="bilinear").tanh(),
                       (normal(1, 2, 2, 3),)),
    "bilinear-scale-align_corners": (
        lambda x: F.upsample(x, 2, mode="bilinear", align_corners=True).tanh(),
        (normal(1, 2, 2, 3),)),
    "bilinear-size": (lambda x: F.upsample(x, size=(3, 5), mode="bilinear").tanh(),
                      (normal(2, 2, 2, 3),)),
    "bilinear-size-align_corners": (
        lambda x: F.upsample(x, size=(3, 5), mode="bilinear", align_corners=True).tanh(),
        (normal(1, 2, 2, 3),)),
    "bilinear-downsize": (lambda x: F.upsample(x, size=(2, 2), mode="bilinear").tanh(),
                          (normal(1, 2, 3, 5),)),
}

LINEAR = {
    "2-D-bias": (lambda x, w, b: F.linear(x, w, b).tanh(), (normal(3, 4), normal(2, 4),
                                                            normal(2))),
    "2-D-no-bias": (lambda x, w: F.linear(x, w).tanh(), (normal(3, 4), normal(2, 4))),
    "3-D-bias": (lambda x, w, b: F.linear(x, w, b).tanh(), (normal(2, 3, 4), normal(2, 4),
                                                            normal(2))),
    # x.T of a row-major (in, rows) leaf: a column-major input (the `transposed` branch)
    "column-major-bias": (lambda xt, w, b: F.linear(xt.T, w, b).tanh(),
                          (normal(4, 3), normal(2, 4), normal(2))),
    "column-major-no-bias": (lambda xt, w: F.linear(xt.T, w).tanh(),
                             (normal(3, 5), normal(4, 3))),
}


def _running_mean(x):
    return constant(x, [0.3, -0.2])


def _running_var(x):
    return constant(x, [0.7, 1.4])


BATCH_NORM = {
    "training-weight-bias-4-D": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True).tanh(),
        (normal(3, 2, 2, 2), normal(2), normal(2))),
    "training-no-weight-no-bias-2-D": (
        lambda x: F.batch_norm(x, None, None, training=True).tanh(), (normal(4, 3),)),
    "training-weight-only-3-D": (
        lambda x, w: F.batch_norm(x, None, None, w, training=True).tanh(),
        (normal(2, 2, 3), normal(2))),
    "training-updating-running-statistics": (
        lambda x, w, b: F.batch_norm(x, mg.zeros(2, dtype=mg.float64, device=x.device),
                                     mg.ones(2, dtype=mg.float64, device=x.device), w, b,
                                     training=True).tanh(),
        (normal(3, 2, 2), normal(2), normal(2))),
    "eval-running-statistics-weight-bias": (
        lambda x, w, b: F.batch_norm(x, _running_mean(x), _running_var(x), w, b).tanh(),
        (normal(3, 2, 2, 2), normal(2), normal(2))),
    "eval-running-statistics-only": (
        lambda x: F.batch_norm(x, _running_mean(x), _running_var(x)).tanh(), (normal(3, 2),)),
}


def _dropout_with_a_fixed_mask(x, p=0.4):
    mg.manual_seed(0)  # the same mask on every call of the function
    return F.dropout(x, p)


DROPOUT = {
    "dropout": (lambda x: _dropout_with_a_fixed_mask(x).tanh(), (normal(3, 4),)),
    "dropout-times-input": (lambda x: _dropout_with_a_fixed_mask(x, 0.3) * x, (normal(2, 5),)),
}


@pytest.mark.parametrize("name", CONV2D)
def test_conv2d_second_derivatives(device, name):
    check_second_derivatives(device, *CONV2D[name])


@pytest.mark.parametrize("name", CONV_TRANSPOSE2D)
def test_conv_transpose2d_second_derivatives(device, name):
    check_second_derivatives(device, *CONV_TRANSPOSE2D[name])


@pytest.mark.parametrize("name", MAX_POOL2D)
def test_max_pool2d_second_derivatives(device, name):
    check_second_derivatives(device, *MAX_POOL2D[name])


@pytest.mark.parametrize("name", AVG_POOL2D)
def test_avg_pool2d_second_derivatives(device, name):
    check_second_derivatives(device, *AVG_POOL2D[name])


@pytest.mark.parametrize("name", UPSAMPLE)
def test_upsample_second_derivatives(device, name):
    check_second_derivatives(device, *UPSAMPLE[name])


@pytest.mark.parametrize("name", LINEAR)
def test_linear_second_derivatives(device, name):
    check_second_derivatives(device, *LINEAR[name])


def test_a_transposed_view_reaches_the_column_major_branch_of_linear():
    # The precondition of the "column-major" cases above, on the device that has the branch:
    # the input is column-major, and linear answers with a column-major output.
    xt = mg.tensor(normal(4, 3), requires_grad=True)
    flags = xt.T.data.flags
    assert flags.f_contiguous and not flags.c_contiguous
    out = F.linear(xt.T, mg.tensor(normal(2, 4), requires_grad=True)).data
    assert out.flags.f_contiguous and not out.flags.c_contiguous


@pytest.mark.parametrize("name", BATCH_NORM)
def test_batch_norm_second_derivatives(device, name):
    check_second_derivatives(device, *BATCH_NORM[name])


@pytest.mark.parametrize("name", DROPOUT)
def test_dropout_second_derivatives(device, name):
    check_second_derivatives(device, *DROPOUT[name])


def test_the_fixed_dropout_mask_drops_some_values_and_keeps_others(device):
    x = mg.tensor(np.ones((3, 4)), device=device)
    kept = _dropout_with_a_fixed_mask(x).numpy()
    assert 0 < np.count_nonzero(kept) < kept.size
    np.testing.assert_allclose(kept[kept != 0], 1 / (1 - 0.4))


# -- losses: each reduction ---------------------------------------------------------------------

REDUCTIONS = ("none", "mean", "sum")


def _labels(x, values):
    return constant(x, np.asarray(values), dtype=mg.int64)


LOSSES = {
    "mse_loss": (lambda r: lambda a, b: F.mse_loss(a, b, reduction=r),
                 (normal(2, 3), normal(2, 3, seed=1))),
    # |a - b| is piecewise linear: tanh makes its second derivative non-trivial
    "l1_loss": (lambda r: lambda a, b: F.l1_loss(a, b, reduction=r).tanh(),
                (away_from_zero(2, 3), away_from_zero(2, 3, seed=1) * 0.1)),
    "binary_cross_entropy-soft-targets": (
        lambda r: lambda p, y: F.binary_cross_entropy(p, y, reduction=r),
        (probabilities(2, 3), probabilities(2, 3, seed=1))),
    "binary_cross_entropy-hard-targets": (
        lambda r: lambda p: F.binary_cross_entropy(p, constant(p, [[1.0, 0.0, 1.0],
                                                                   [0.0, 0.0, 1.0]]),
                                                   reduction=r),
        (probabilities(2, 3),)),
    "binary_cross_entropy_with_logits": (
        lambda r: lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=r),
        (normal(2, 3) * 2, probabilities(2, 3))),
    "cross_entropy-(N,C)": (
        lambda r: lambda z: F.cross_entropy(z, _labels(z, [0, 3, 1]), reduction=r),
        (normal(3, 4),)),
    "cross_entropy-(N,C,d)": (
        lambda r: lambda z: F.cross_entropy(z, _labels(z, [[0, 2], [1, 1]]), reduction=r),
        (normal(2, 3, 2),)),
    "cross_entropy-(N,C,d1,d2)": (
        lambda r: lambda z: F.cross_entropy(z, _labels(z, [[[0, 2], [1, 0]]]), reduction=r),
        (normal(1, 3, 2, 2),)),
    "kl_divergence_normal": (
        lambda r: lambda mu, logvar: F.kl_divergence_normal(mu, logvar, reduction=r),
        (normal(2, 3), normal(2, 3, seed=1) * 0.5)),
    "kl_divergence_normal-(N,a,b)": (
        lambda r: lambda mu, logvar: F.kl_divergence_normal(mu, logvar, reduction=r),
        (normal(2, 2, 2), normal(2, 2, 2, seed=1) * 0.5)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSSES)
def test_loss_second_derivatives(device, name, reduction):
    make_fn, arrays = LOSSES[name]
    check_second_derivatives(device, make_fn(reduction), arrays)


# -- the nn layers, parameters included ----------------------------------------------------------


def _bn_eval(layer_type, features):
    """A batch-norm layer in eval mode with non-trivial running statistics."""
    def build(device):
        layer = layer_type(features, device=device, dtype=mg.float64)
        layer.running_mean.data = layer.running_mean.device.from_numpy(
            normal(features, seed=4) * 0.3)
        layer.running_var.data = layer.running_var.device.from_numpy(
            probabilities(features, seed=4) + 0.5)
        for p in (layer.weight, layer.bias):
            p.data = p.device.from_numpy(normal(features, seed=5))
        return layer.eval()

    return build


def _affine_batch_norm(layer_type, features):
    def build(device):
        layer = layer_type(features, device=device, dtype=mg.float64)
        for p, seed in ((layer.weight, 6), (layer.bias, 7)):
            p.data = p.device.from_numpy(normal(features, seed=seed))
        return layer

    return build


def _float64(build):
    return lambda device: build(device=device, dtype=mg.float64)


LAYERS = {
    "Conv2d": (_float64(lambda **k: nn.Conv2d(2, 3, 2, stride=2, padding=1, **k)),
               normal(2, 2, 3, 3)),
    "Conv2d-same-dilation-groups-no-bias": (
        _float64(lambda **k: nn.Conv2d(2, 4, 2, padding="same", dilation=2, groups=2,
                                       bias=False, **k)),
        normal(1, 2, 4, 4)),
    "ConvTranspose2d": (
        _float64(lambda **k: nn.ConvTranspose2d(2, 3, 2, stride=2, padding=1,
                                                output_padding=1, **k)),
        normal(2, 2, 2, 2)),
    "ConvTranspose2d-groups-dilation": (
        _float64(lambda **k: nn.ConvTranspose2d(2, 4, 2, stride=2, groups=2, dilation=2, **k)),
        normal(1, 2, 2, 2)),
    "Linear": (_float64(lambda **k: nn.Linear(4, 3, **k)), normal(3, 4)),
    "Linear-3-D-input-no-bias": (_float64(lambda **k: nn.Linear(4, 3, bias=False, **k)),
                                 normal(2, 2, 4)),
    "BatchNorm1d-training": (_affine_batch_norm(nn.BatchNorm1d, 3), normal(4, 3)),
    "BatchNorm1d-training-(N,C,L)": (_affine_batch_norm(nn.BatchNorm1d, 2), normal(2, 2, 3)),
    "BatchNorm2d-training": (_affine_batch_norm(nn.BatchNorm2d, 2), normal(2, 2, 2, 2)),
    "BatchNorm2d-training-no-affine": (
        lambda device: nn.BatchNorm2d(2, affine=False, device=device, dtype=mg.float64),
        normal(2, 2, 2, 2)),
    "BatchNorm1d-eval": (_bn_eval(nn.BatchNorm1d, 3), normal(4, 3)),
    "BatchNorm2d-eval": (_bn_eval(nn.BatchNorm2d, 2), normal(2, 2, 2, 2)),
    "MaxPool2d": (lambda device: nn.MaxPool2d(2, padding=1, ceil_mode=True),
                  distinct(1, 2, 4, 5)),
    "AvgPool2d": (lambda device: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
                  normal(1, 2, 5, 4)),
    "Upsample-nearest": (lambda device: nn.Upsample(scale_factor=2), normal(1, 2, 2, 3)),
    "Upsample-nearest-size": (lambda device: nn.Upsample(size=(3, 5)), normal(1, 2, 2, 3)),
    "Upsample-bilinear": (lambda device: nn.Upsample(scale_factor=2, mode="bilinear"),
                          normal(1, 2, 2, 3)),
    "Upsample-bilinear-align_corners": (
        lambda device: nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True),
        normal(1, 2, 2, 3)),
    "Dropout": (lambda device: nn.Dropout(0.4), normal(3, 4)),
    "small-conv-net": (  # its Flatten hands Linear a column-major input on the CPU
        lambda device: nn.Sequential(
            nn.Conv2d(1, 2, 2, device=device, dtype=mg.float64), nn.Tanh(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2, 2, device=device, dtype=mg.float64)),
        normal(2, 1, 3, 3)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_second_derivatives_with_parameters(device, name):
    build, x = LAYERS[name]
    mg.manual_seed(0)
    layer = build(device)
    params = list(layer.parameters())
    if name == "Dropout":
        def fn(t):
            mg.manual_seed(1)  # a fixed mask
            return layer(t).tanh()
    else:
        def fn(t):
            return layer(t).tanh()
    check_second_derivatives(device, fn, (x,), params)


# -- double backward against PyTorch --------------------------------------------------------------


def _functional(lib):
    if lib is mg:
        return F
    import torch.nn.functional

    return torch.nn.functional


def _weighted_sum(lib, y, seed):
    """sum(y * w) for fixed random weights w: a scalar that sees every output."""
    weights = np.random.default_rng(seed).standard_normal(tuple(y.shape))
    if lib is mg:
        return (y * constant(y, weights)).sum()
    return (y * lib.tensor(weights)).sum()


def _class_labels(lib, values, like):
    if lib is mg:
        return _labels(like, values)
    return lib.tensor(np.asarray(values))


def _torch_conv2d(lib, x, w, b):
    y = _functional(lib).conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2), groups=2)
    return _weighted_sum(lib, y.tanh(), 1)


def _torch_conv_transpose2d(lib, x, w, b):
    y = _functional(lib).conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,
                                          groups=2, dilation=(1, 2))
    return _weighted_sum(lib, y.tanh(), 2)


def _torch_max_pool2d(lib, x):
    y = _functional(lib).max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
    return _weighted_sum(lib, y.tanh(), 3)


def _torch_avg_pool2d(lib, x):
    y = _functional(lib).avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
    return _weighted_sum(lib, y.tanh(), 4)


def _torch_batch_norm(lib, x, w, b):
    y = _functional(lib).batch_norm(x, None, None, w, b, training=True)
    return _weighted_sum(lib, y.tanh(), 5)


def _torch_cross_entropy(lib, z):
    labels = _class_labels(lib, [[0, 2, 1], [2, 2, 0]], z)
    return _functional(lib).cross_entropy(z, labels)


def _torch_cross_entropy_sum(lib, z):
    return _functional(lib).cross_entropy(z, _class_labels(lib, [1, 0, 2, 2], z),
                                          reduction="sum")


def _torch_binary_cross_entropy(lib, p, y):
    return _functional(lib).binary_cross_entropy(p, y)


TORCH_CASES = {
    "conv2d": (_torch_conv2d, (normal(2, 4, 5, 5), normal(4, 2, 3, 2), normal(4))),
    "conv_transpose2d": (_torch_conv_transpose2d,
                         (normal(2, 4, 2, 3), normal(4, 1, 3, 2), normal(2))),
    "max_pool2d": (_torch_max_pool2d, (distinct(2, 2, 6, 5),)),
    "avg_pool2d": (_torch_avg_pool2d, (normal(2, 2, 6, 5),)),
    "batch_norm-training": (_torch_batch_norm, (normal(3, 2, 2, 3), normal(2), normal(2))),
    "cross_entropy-(N,C,d)": (_torch_cross_entropy, (normal(2, 3, 3),)),
    "cross_entropy-(N,C)-sum": (_torch_cross_entropy_sum, (normal(4, 3),)),
    "binary_cross_entropy": (_torch_binary_cross_entropy,
                             (probabilities(2, 3), probabilities(2, 3, seed=1))),
}


def _penalty_and_its_gradient(lib, case, tensors):
    """The first gradients of the case's scalar (recorded), the gradient penalty
    sum_k |grad_k|^2, and the penalty's gradient with respect to every input."""
    autograd_grad = grad if lib is mg else lib.autograd.grad
    firsts = autograd_grad(case(lib, *tensors), tensors, create_graph=True)
    penalty = sum((g * g).sum() for g in firsts)
    seconds = autograd_grad(penalty, tensors)
    return firsts, penalty, seconds


@pytest.mark.parametrize("name", TORCH_CASES)
def test_gradient_penalty_gradients_match_pytorch(torch, device, name):
    case, arrays = TORCH_CASES[name]
    mine = [mg.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    firsts, penalty, seconds = _penalty_and_its_gradient(mg, case, mine)
    t_firsts, t_penalty, t_seconds = _penalty_and_its_gradient(torch, case, theirs)

    np.testing.assert_allclose(penalty.item(), t_penalty.item(), rtol=1e-10)
    for got, expected in zip(firsts, t_firsts, strict=True):
        np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-10,
                                   atol=1e-10)
    for got, expected in zip(seconds, t_seconds, strict=True):
        assert np.abs(expected.numpy()).max() > 1e-3  # a non-trivial second derivative
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=1e-10)


# -- gradient-penalty training steps against PyTorch -----------------------------------------------


def _copy_parameters(model, torch_model, torch):
    mine, theirs = list(model.parameters()), list(torch_model.parameters())
    assert len(mine) == len(theirs)
    with torch.no_grad():
        for p, q in zip(mine, theirs, strict=True):
            assert p.shape == tuple(q.shape)
            q.copy_(torch.tensor(p.numpy()))


def _assert_same_parameters_and_gradients(model, torch_model):
    for p, q in zip(model.parameters(), torch_model.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert p.grad is not None and not p.grad.requires_grad
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)


def _penalised_step(lib, model, optimizer, x_values, task_loss):
    """One step on task loss + |d task loss / d x|^2 (a double-backward penalty)."""
    x = (mg.tensor(x_values, device=next(iter(model.parameters())).device, requires_grad=True)
         if lib is mg else lib.tensor(x_values, requires_grad=True))
    autograd_grad = grad if lib is mg else lib.autograd.grad
    optimizer.zero_grad()
    loss = task_loss(model(x))
    (gx,) = autograd_grad(loss, x, create_graph=True)
    total = loss + (gx * gx).sum()
    total.backward()
    optimizer.step()
    return total.item()


def _mlp(lib, device=None):
    kwargs = {"dtype": mg.float64, "device": device} if lib is mg else {"dtype": lib.float64}
    return lib.nn.Sequential(lib.nn.Linear(3, 5, **kwargs), lib.nn.Tanh(),
                             lib.nn.Linear(5, 4, **kwargs), lib.nn.Softplus(),
                             lib.nn.Linear(4, 2, **kwargs))


def _conv_net(lib, device=None):
    kwargs = {"dtype": mg.float64, "device": device} if lib is mg else {"dtype": lib.float64}
    return lib.nn.Sequential(
        lib.nn.Conv2d(1, 3, 3, padding=1, **kwargs), lib.nn.BatchNorm2d(3, **kwargs),
        lib.nn.Tanh(), lib.nn.MaxPool2d(2),
        lib.nn.ConvTranspose2d(3, 2, 2, stride=2, **kwargs), lib.nn.Tanh(),
        lib.nn.AvgPool2d(2, ceil_mode=True), lib.nn.Flatten(), lib.nn.Linear(18, 3, **kwargs))


def _regression_loss(lib, target):
    functional = _functional(lib)
    return lambda out: functional.mse_loss(out, target)


def _classification_loss(lib, labels):
    functional = _functional(lib)
    return lambda out: functional.cross_entropy(out, labels)


def _train_both(torch, device, build, x_values, make_loss, steps=2):
    mg.manual_seed(0)
    model = build(mg, device)
    torch_model = build(torch)
    _copy_parameters(model, torch_model, torch)
    optimizer = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1, momentum=0.9)
    mine_loss, theirs_loss = make_loss(mg), make_loss(torch)
    for _ in range(steps):
        total = _penalised_step(mg, model, optimizer, x_values, mine_loss)
        t_total = _penalised_step(torch, torch_model, torch_optimizer, x_values, theirs_loss)
        np.testing.assert_allclose(total, t_total, rtol=1e-10)
        _assert_same_parameters_and_gradients(model, torch_model)
    return model, torch_model


def test_gradient_penalty_training_of_an_mlp_matches_pytorch(torch, device):
    x_values, target = normal(6, 3), normal(6, 2, seed=1)

    def make_loss(lib):
        t = mg.tensor(target, device=device) if lib is mg else torch.tensor(target)
        return _regression_loss(lib, t)

    _train_both(torch, device, _mlp, x_values, make_loss)


def test_gradient_penalty_training_of_a_conv_net_matches_pytorch(torch, device):
    x_values, labels = normal(2, 1, 6, 6), np.array([2, 0])

    def make_loss(lib):
        t = (mg.tensor(labels, device=device) if lib is mg else torch.tensor(labels))
        return _classification_loss(lib, t)

    model, torch_model = _train_both(torch, device, _conv_net, x_values, make_loss)
    for name in ("running_mean", "running_var"):  # the batch norm's statistics, updated twice
        np.testing.assert_allclose(getattr(model[1], name).numpy(),
                                   getattr(torch_model[1], name).numpy(), rtol=1e-10)


def _critic(lib, device=None):
    kwargs = {"dtype": mg.float64, "device": device} if lib is mg else {"dtype": lib.float64}
    return lib.nn.Sequential(
        lib.nn.Conv2d(1, 2, 3, stride=2, padding=1, **kwargs), lib.nn.Softplus(),
        lib.nn.Upsample(scale_factor=2, mode="bilinear"),
        lib.nn.Conv2d(2, 2, 3, padding="same", groups=2, **kwargs), lib.nn.Tanh(),
        lib.nn.AvgPool2d(2), lib.nn.Flatten(), lib.nn.Linear(8, 1, **kwargs))


def _generator(lib, device=None):
    kwargs = {"dtype": mg.float64, "device": device} if lib is mg else {"dtype": lib.float64}
    return lib.nn.Sequential(
        lib.nn.ConvTranspose2d(3, 2, 2, stride=2, **kwargs), lib.nn.Tanh(),
        lib.nn.Upsample(scale_factor=2), lib.nn.Conv2d(2, 1, 3, padding=1, **kwargs))


def _wgan_gp_step(lib, generator, critic, optimizer, z, real, mix):
    """WGAN-GP: E[D(fake)] - E[D(real)] + 10 E[(|grad D(x_mix)| - 1)^2] at the points
    x_mix = mix * real + (1 - mix) * fake, fake = G(z) not detached (x_mix is no leaf), so
    the penalty's second derivatives reach the generator too; one step of both."""
    autograd_grad = grad if lib is mg else lib.autograd.grad
    optimizer.zero_grad()
    fake = generator(z)
    x_mix = mix * real + (1 - mix) * fake
    (g,) = autograd_grad(critic(x_mix).sum(), x_mix, create_graph=True)
    norms = ((g * g).sum(axis=(1, 2, 3)) if lib is mg else (g * g).sum(dim=(1, 2, 3))).sqrt()
    penalty = ((norms - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
    loss.backward()
    optimizer.step()
    return loss.item()


def test_wgan_gp_step_matches_pytorch(torch, device):
    z, real = normal(3, 3, 1, 1), normal(3, 1, 4, 4, seed=1)
    mix = np.random.default_rng(2).random((3, 1, 1, 1))
    mg.manual_seed(0)
    models = nn.ModuleList([_generator(mg, device), _critic(mg, device)])
    torch_models = torch.nn.ModuleList([_generator(torch), _critic(torch)])
    _copy_parameters(models, torch_models, torch)
    optimizer = mg.optim.Adam(models.parameters(), lr=1e-2)
    torch_optimizer = torch.optim.Adam(torch_models.parameters(), lr=1e-2)
    data = [mg.tensor(a, device=device) for a in (z, real, mix)]
    torch_data = [torch.tensor(a) for a in (z, real, mix)]
    for _ in range(2):
        loss = _wgan_gp_step(mg, *models, optimizer, *data)
        t_loss = _wgan_gp_step(torch, *torch_models, torch_optimizer, *torch_data)
        np.testing.assert_allclose(loss, t_loss, rtol=1e-10)
        _assert_same_parameters_and_gradients(models, torch_models)


# -- third derivatives --------------------------------------------------------------------------


def directional_first_derivative(fn, arrays):
    """The function x -> sum_k <d sum(fn(x) * w) / d x_k, v_k>, for fixed random w and v_k,
    with that first derivative recorded: its second derivatives are fn's third."""
    directions = [np.random.default_rng(20 + k).standard_normal(np.shape(a))
                  for k, a in enumerate(arrays)]

    def derivative(*tensors):
        out = fn(*tensors)
        weights = constant(out, np.random.default_rng(19).standard_normal(out.shape))
        firsts = grad((out * weights).sum(), tensors, create_graph=True)
        terms = [(g * constant(g, v)).sum() for g, v in zip(firsts, directions, strict=True)]
        return sum(terms[1:], terms[0])

    return derivative


def _with_arrays(case, *arrays):
    """A case's function with smaller arrays (a third-order check differentiates more)."""
    return case[0], arrays


THIRD_ORDER = {
    "conv2d": _with_arrays(CONV2D["stride-padding-bias"],
                           normal(2, 1, 3, 3), normal(2, 1, 2, 2), normal(2)),
    "conv_transpose2d": _with_arrays(CONV_TRANSPOSE2D["groups-bias"],
                                     normal(1, 2, 2, 2), normal(2, 1, 2, 2), normal(2)),
    "max_pool2d": _with_arrays(MAX_POOL2D["padding-ceil_mode-pairs"], distinct(1, 1, 5, 4)),
    "avg_pool2d": _with_arrays(AVG_POOL2D["padding-ceil_mode-pairs"], normal(1, 1, 5, 4)),
    "upsample-bilinear": _with_arrays(UPSAMPLE["bilinear-size"], normal(1, 1, 2, 3)),
    "upsample-nearest": _with_arrays(UPSAMPLE["nearest-scale-2"], normal(1, 2, 2, 2)),
    "linear-column-major": LINEAR["column-major-bias"],
    "batch_norm-training": _with_arrays(BATCH_NORM["training-weight-bias-4-D"],
                                        normal(2, 2, 1, 2), normal(2), normal(2)),
    "batch_norm-eval": _with_arrays(BATCH_NORM["eval-running-statistics-weight-bias"],
                                    normal(2, 2, 1, 2), normal(2), normal(2)),
    "cross_entropy": (LOSSES["cross_entropy-(N,C,d)"][0]("mean"),
                      LOSSES["cross_entropy-(N,C,d)"][1]),
    "binary_cross_entropy": (LOSSES["binary_cross_entropy-soft-targets"][0]("none"),
                             LOSSES["binary_cross_entropy-soft-targets"][1]),
}


@pytest.mark.parametrize("name", THIRD_ORDER)
def test_third_derivatives(device, name):
    fn, arrays = THIRD_ORDER[name]
    check_second_derivatives(device, directional_first_derivative(fn, arrays), arrays)
