"""Layers other than convolutions: Linear, BatchNorm, Dropout, shape layers, activation
modules and initialisers, against NumPy formulas and finite differences."""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def host(a):
    return mg.to_numpy(a.data if isinstance(a, mg.Tensor) else a)


# -- Linear ------------------------------------------------------------------------------------

def test_linear_matches_numpy(device, rng):
    layer = nn.Linear(4, 3, device=device, dtype=mg.float64)
    x = rng.standard_normal((5, 4))
    y = layer(mg.tensor(x, device=device))
    np.testing.assert_allclose(y.numpy(), x @ host(layer.weight).T + host(layer.bias),
                               atol=1e-12)
    # Leading axes are batch axes, and a 1-D input is a single example.
    x3 = rng.standard_normal((2, 5, 4))
    np.testing.assert_allclose(layer(mg.tensor(x3, device=device)).numpy(),
                               x3 @ host(layer.weight).T + host(layer.bias), atol=1e-12)
    assert layer(mg.tensor(x[0], device=device)).shape == (3,)


def test_linear_without_bias_and_bad_input():
    layer = nn.Linear(4, 3, bias=False)
    assert layer.bias is None and len(list(layer.parameters())) == 1
    with pytest.raises(ValueError, match=r"expects inputs \(\.\.\., 4\)"):
        layer(mg.zeros(2, 5))


def test_linear_default_init_follows_pytorch():
    mg.manual_seed(1)
    layer = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.mean()) < 0.05 * bound
    # U(-a, a) has variance a^2 / 3.
    np.testing.assert_allclose(w.var(), bound**2 / 3, rtol=0.1)
    assert np.abs(b).max() <= bound


def test_layers_take_device_and_dtype():
    for layer in (nn.Linear(2, 3, device="strict:device1", dtype=mg.float64),
                  nn.Conv2d(1, 2, 3, device="strict:device1", dtype=mg.float64),
                  nn.BatchNorm2d(2, device="strict:device1", dtype=mg.float64)):
        for t in (*layer.parameters(), *layer.buffers()):
            assert t.device == mg.device("strict:device1")
            assert t.dtype == (mg.int64 if t.ndim == 0 else mg.float64)  # BatchNorm's count


# -- gradchecks of every layer ------------------------------------------------------------------

def _layers(device):
    kw = dict(device=device, dtype=mg.float64)
    return [
        (nn.Linear(3, 2, **kw), (4, 3)),
        (nn.Linear(3, 2, bias=False, **kw), (2, 5, 3)),
        (nn.BatchNorm1d(3, **kw), (5, 3)),
        (nn.BatchNorm1d(2, **kw), (4, 2, 3)),
        (nn.BatchNorm2d(2, **kw), (3, 2, 2, 3)),
        (nn.BatchNorm2d(2, affine=False, **kw), (3, 2, 2, 2)),
        (nn.Flatten(), (2, 3, 2)),
        (nn.Unflatten(1, (2, 3)), (2, 6)),
        (nn.Identity(), (2, 3)),
        (nn.ReLU(), (3, 4)), (nn.LeakyReLU(0.2), (3, 4)), (nn.ELU(0.5), (3, 4)),
        (nn.Sigmoid(), (3, 4)), (nn.Tanh(), (3, 4)), (nn.Softplus(), (3, 4)),
        (nn.Softplus(beta=2.0), (3, 4)), (nn.GELU(), (3, 4)), (nn.SiLU(), (3, 4)),
        (nn.Softmax(dim=1), (3, 4)), (nn.LogSoftmax(dim=0), (3, 4)),
    ]


def test_every_layer_gradchecks_input_and_parameters(device, rng):
    for layer, shape in _layers(device):
        # Values away from 0 so the kinks of ReLU-like functions are not straddled.
        x = rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
        x = mg.tensor(x, device=device, requires_grad=True)
        mg.gradcheck(layer, (x,), params=list(layer.parameters()))


def test_batch_norm_in_eval_mode_gradchecks(device, rng):
    layer = nn.BatchNorm2d(2, device=device, dtype=mg.float64)
    layer.running_mean.data[...] = layer.running_mean.device.from_numpy(np.array([0.5, -1.0]))
    layer.running_var.data[...] = layer.running_var.device.from_numpy(np.array([2.0, 0.5]))
    layer.eval()
    x = mg.tensor(rng.standard_normal((3, 2, 2, 2)), device=device, requires_grad=True)
    mg.gradcheck(layer, (x,), params=list(layer.parameters()))


def test_activation_modules_match_the_functions(rng):
    x = mg.tensor(rng.standard_normal((3, 4)))
    pairs = [(nn.ReLU(), np.maximum(x.numpy(), 0)),
             (nn.LeakyReLU(0.1), np.where(x.numpy() > 0, x.numpy(), 0.1 * x.numpy())),
             (nn.ELU(), np.where(x.numpy() > 0, x.numpy(), np.expm1(x.numpy()))),
             (nn.Sigmoid(), 1 / (1 + np.exp(-x.numpy()))),
             (nn.Tanh(), np.tanh(x.numpy())),
             (nn.Softplus(beta=2.0), np.log1p(np.exp(2 * x.numpy())) / 2),
             (nn.SiLU(), x.numpy() / (1 + np.exp(-x.numpy()))),
             (nn.Softmax(dim=1), np.exp(x.numpy()) / np.exp(x.numpy()).sum(1, keepdims=True)),
             (nn.LogSoftmax(dim=1),
              x.numpy() - np.log(np.exp(x.numpy()).sum(1, keepdims=True)))]
    for module, expected in pairs:
        np.testing.assert_allclose(module(x).numpy(), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=repr(module))


def test_flatten_unflatten_identity_shapes():
    x = mg.zeros(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)
    assert nn.Identity()(x) is x


# -- BatchNorm ------------------------------------------------------------------------------------

def _numpy_batch_norm(x, axes, weight, bias, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased, for normalising
    shape = [1] * x.ndim
    shape[1] = -1
    return (x - mean) / np.sqrt(var + eps) * weight.reshape(shape) + bias.reshape(shape)


@pytest.mark.parametrize("shape,layer_type", [((6, 3), nn.BatchNorm1d),
                                              ((6, 3, 4), nn.BatchNorm1d),
                                              ((4, 3, 5, 2), nn.BatchNorm2d)])
def test_batch_norm_training_and_running_statistics(device, rng, shape, layer_type):
    layer = layer_type(3, device=device, dtype=mg.float64)
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    layer.weight.data[...] = layer.weight.device.from_numpy(weight)
    layer.bias.data[...] = layer.bias.device.from_numpy(bias)
    axes = (0,) + tuple(range(2, len(shape)))
    n = np.prod([shape[a] for a in axes])
    running_mean, running_var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + step
        y = layer(mg.tensor(x, device=device))
        np.testing.assert_allclose(y.numpy(), _numpy_batch_norm(x, axes, weight, bias),
                                   atol=1e-10)
        # Running statistics: momentum 0.1, the unbiased variance.
        running_mean = 0.9 * running_mean + 0.1 * x.mean(axis=axes)
        running_var = 0.9 * running_var + 0.1 * x.var(axis=axes) * n / (n - 1)
        np.testing.assert_allclose(host(layer.running_mean), running_mean, atol=1e-12)
        np.testing.assert_allclose(host(layer.running_var), running_var, atol=1e-12)
    # Eval mode: the running statistics normalise, and nothing is updated.
    layer.eval()
    x = rng.standard_normal(shape)
    y = layer(mg.tensor(x, device=device))
    bshape = [1] * len(shape)
    bshape[1] = -1
    expected = ((x - running_mean.reshape(bshape)) / np.sqrt(running_var.reshape(bshape) + 1e-5)
                * weight.reshape(bshape) + bias.reshape(bshape))
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(host(layer.running_mean), running_mean, atol=1e-12)


@pytest.mark.parametrize("layer_type", [nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm])
def test_batch_norm_counts_batches_and_momentum_none_averages_them_all(device, rng, layer_type):
    """num_batches_tracked counts training forwards (not eval ones); with momentum=None the
    running statistics are the plain mean of every batch's mean and unbiased variance, the
    starting values forgotten (PyTorch's cumulative moving average)."""
    layer = layer_type(3, momentum=None, device=device, dtype=mg.float64)
    assert layer.num_batches_tracked.dtype == mg.int64 and layer.num_batches_tracked.shape == ()
    shape = (5, 3, 4) if layer_type is nn.BatchNorm1d else (5, 3, 2, 2)
    axes = (0, *range(2, len(shape)))
    means, variances = [], []
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        layer(mg.tensor(x, device=device))
        means.append(x.mean(axis=axes))
        variances.append(x.var(axis=axes, ddof=1))
        assert layer.num_batches_tracked.item() == step + 1
    np.testing.assert_allclose(host(layer.running_mean), np.mean(means, axis=0), atol=1e-12)
    np.testing.assert_allclose(host(layer.running_var), np.mean(variances, axis=0), atol=1e-12)
    layer.eval()
    layer(mg.tensor(rng.standard_normal(shape), device=device))
    assert layer.num_batches_tracked.item() == 4
    assert "momentum=None" in repr(layer)


def test_batch_norm_momentum_none_and_its_count_match_torch(rng):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm1d(3, momentum=None, dtype=mg.float64)
    theirs = torch.nn.BatchNorm1d(3, momentum=None, dtype=torch.float64)
    for step in range(3):
        x = rng.standard_normal((4, 3)) + step
        ours(mg.tensor(x))
        theirs(torch.tensor(x))
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), atol=1e-12,
                                   err_msg=name)


def test_batch_norm_loads_pytorch_state_and_checkpoints_without_the_count(rng):
    """A PyTorch BatchNorm's state_dict (num_batches_tracked included) loads strictly; a
    checkpoint written before minigrad kept the count loads too, the count staying 0."""
    torch = pytest.importorskip("torch")
    theirs = torch.nn.BatchNorm2d(3)
    theirs(torch.randn(4, 3, 2, 2))
    theirs(torch.randn(4, 3, 2, 2))
    ours = nn.BatchNorm2d(3)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    assert ours.num_batches_tracked.item() == 2
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-6)
    old = {name: value for name, value in nn.BatchNorm2d(3).state_dict().items()
           if name != "num_batches_tracked"}
    fresh = nn.BatchNorm2d(3)
    assert fresh.load_state_dict(old).missing_keys == []  # as PyTorch's for its old versions
    assert fresh.num_batches_tracked.item() == 0
    with pytest.raises(RuntimeError, match="missing key.*'running_var'"):
        fresh.load_state_dict({k: v for k, v in old.items() if k != "running_var"})


def test_batch_norm_without_running_statistics_always_uses_the_batch(rng):
    layer = nn.BatchNorm1d(2, affine=False, track_running_stats=False, dtype=mg.float64).eval()
    x = rng.standard_normal((5, 2))
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), atol=1e-12)
    assert list(layer.parameters()) == [] and list(layer.buffers()) == []


def test_batch_norm_rejects_wrong_shapes_and_single_values():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expects input \(N, C, H, W\)"):
        nn.BatchNorm2d(3)(mg.zeros(2, 3))
    with pytest.raises(ValueError, match="C = 3"):
        nn.BatchNorm1d(3)(mg.zeros(2, 4))
    with pytest.raises(ValueError, match="more than one value"):
        nn.BatchNorm1d(3)(mg.zeros(1, 3))


def test_batch_norm_keeps_float32_statistics_with_float64_data(device, rng):
    layer = nn.BatchNorm1d(3, device=device)
    layer(mg.tensor(rng.standard_normal((4, 3)), device=device))
    assert layer.running_mean.dtype == mg.float32 and layer.running_var.dtype == mg.float32


def test_batch_norm_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 3, 4, 5))
    ours = nn.BatchNorm2d(3, dtype=mg.float64)
    theirs = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    ours.load_state_dict({"weight": w, "bias": b}, strict=False)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ym, yt = ours(xm), theirs(xt)
    g = rng.standard_normal(x.shape)
    ym.backward(mg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), atol=1e-12)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), atol=1e-12)


# -- Dropout ------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_zeroes_a_fraction_p_and_preserves_the_mean(device, p):
    mg.manual_seed(0)
    layer = nn.Dropout(p)
    x = mg.ones(200, 500, device=device, requires_grad=True)
    y = layer(x)
    values = y.numpy()
    zeroed = np.mean(values == 0)
    assert abs(zeroed - p) < 0.01
    np.testing.assert_allclose(values[values != 0], 1 / (1 - p), rtol=1e-6)
    assert abs(values.mean() - 1) < 0.02
    # The gradient flows through the kept elements with the same scale.
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), values, rtol=1e-6)


def test_dropout_is_seeded_and_the_identity_in_eval(device):
    layer = nn.Dropout(0.5)
    x = mg.ones(50, 40, device=device)
    mg.manual_seed(3)
    first = layer(x).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(layer(x).numpy(), first)
    assert not np.array_equal(layer(x).numpy(), first)  # the generator moves on
    layer.eval()
    assert layer(x) is x


def test_dropout_extremes():
    x = mg.ones(10, 10)
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    assert F.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(1.5)


# -- init ---------------------------------------------------------------------------------------

def test_calculate_gain_values():
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert nn.init.calculate_gain("linear") == 1
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.init.calculate_gain("swish")


@pytest.mark.parametrize("name,expected_std", [
    ("kaiming_uniform_", math.sqrt(2) / math.sqrt(64 * 9)),      # relu gain, fan_in
    ("kaiming_normal_", math.sqrt(2) / math.sqrt(64 * 9)),
    ("xavier_uniform_", math.sqrt(2 / (64 * 9 + 32 * 9))),
    ("xavier_normal_", math.sqrt(2 / (64 * 9 + 32 * 9))),
])
def test_initialisers_have_the_documented_spread(device, name, expected_std):
    mg.manual_seed(0)
    w = mg.zeros(32, 64, 3, 3, device=device)
    fn = getattr(nn.init, name)
    result = fn(w, nonlinearity="relu") if name.startswith("kaiming") else fn(w)
    assert result is w
    values = w.numpy()
    np.testing.assert_allclose(values.std(), expected_std, rtol=0.05)
    assert abs(values.mean()) < 0.05 * expected_std
    if "uniform" in name:
        assert np.abs(values).max() <= math.sqrt(3) * expected_std * (1 + 1e-6)


def test_simple_initialisers(device):
    mg.manual_seed(0)
    t = mg.zeros(1000, device=device)
    nn.init.uniform_(t, -2, 3)
    assert t.numpy().min() >= -2 and t.numpy().max() < 3
    nn.init.normal_(t, 5, 0.1)
    assert abs(t.numpy().mean() - 5) < 0.02
    nn.init.ones_(t)
    assert np.all(t.numpy() == 1)
    nn.init.zeros_(t)
    assert np.all(t.numpy() == 0)
    nn.init.constant_(t, 0.5)
    assert np.all(t.numpy() == 0.5)
    assert t.dtype == mg.float32


def test_initialisers_are_seeded_and_equal_on_cpu_and_strict():
    mg.manual_seed(7)
    a = nn.init.kaiming_uniform_(mg.zeros(4, 3))
    mg.manual_seed(7)
    b = nn.init.kaiming_uniform_(mg.zeros(4, 3, device="strict:device1"))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(mg.zeros(3))
