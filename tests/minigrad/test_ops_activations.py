"""Activations: forward against their textbook formulas in NumPy, gradients by finite
differences, dtype/device kept, and finite values and gradients for huge inputs."""

import math

import numpy as np
import pytest

import minigrad as mg


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def np_gelu(x):
    """x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, with the standard library's erfc."""
    return x * np.vectorize(math.erfc)(-x / math.sqrt(2)) / 2


ACTIVATIONS = {
    "relu": (mg.relu, lambda x: np.maximum(x, 0)),
    "leaky_relu": (lambda x: x.leaky_relu(), lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu-0.2": (lambda x: mg.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (mg.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    "elu-alpha": (lambda x: x.elu(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "sigmoid": (mg.sigmoid, np_sigmoid),
    "tanh": (lambda x: x.tanh(), np.tanh),
    "softplus": (mg.softplus, lambda x: np.log1p(np.exp(x))),
    "gelu": (lambda x: x.gelu(), np_gelu),
    "gelu-tanh": (lambda x: mg.gelu(x, approximate="tanh"), np_gelu_tanh),
    "silu": (mg.silu, lambda x: x * np_sigmoid(x)),
}


def sample(rng, shape):
    """Normal values kept away from 0, where relu, leaky_relu and elu have a kink."""
    x = 2 * rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)


@pytest.mark.parametrize("shape", [(), (5,), (2, 1, 3)], ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(device, rng, name, shape):
    fn, np_fn = ACTIVATIONS[name]
    x = sample(rng, shape)
    t = mg.tensor(x, device=device, requires_grad=True)
    out = fn(t)
    assert out.device is t.device and out.shape == shape
    np.testing.assert_allclose(out.numpy(), np_fn(x), rtol=1e-12, atol=1e-14)
    assert mg.gradcheck(fn, (t,))


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_keeps_dtype(device, name, dtype):
    fn, _ = ACTIVATIONS[name]
    t = mg.tensor([-1.5, 0.5, 2.0], dtype=dtype, device=device, requires_grad=True)
    out = fn(t)
    assert out.dtype == dtype and out.device is t.device
    out.sum().backward()
    assert t.device.canonical(t.grad.dtype) == dtype


# Values at x = -1000 and x = 1000, and the derivative there.
LIMITS = {
    "relu": ((0, 1000), (0, 1)),
    "leaky_relu": ((-10, 1000), (0.01, 1)),
    "elu": ((-1, 1000), (0, 1)),
    "sigmoid": ((0, 1), (0, 0)),
    "tanh": ((-1, 1), (0, 0)),
    "softplus": ((0, 1000), (0, 1)),
    "gelu": ((0, 1000), (0, 1)),
    "gelu-tanh": ((0, 1000), (0, 1)),
    "silu": ((0, 1000), (0, 1)),
}


@pytest.mark.filterwarnings("error")  # no overflow warnings either
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
@pytest.mark.parametrize("name", LIMITS)
def test_activation_is_stable_for_huge_inputs(device, name, dtype):
    fn, _ = ACTIVATIONS[name]
    values, slopes = LIMITS[name]
    t = mg.tensor([-1000.0, 1000.0], dtype=dtype, device=device, requires_grad=True)
    out = fn(t)
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), values, atol=1e-6)
    np.testing.assert_allclose(mg.to_numpy(t.grad), slopes, atol=1e-6)


def test_softplus_is_accurate_over_a_wide_range(device):
    x = np.linspace(-50, 50, 101)
    out = mg.tensor(x, device=device).softplus().numpy()
    np.testing.assert_allclose(out, np.logaddexp(0, x), rtol=1e-12)  # ln(e^0 + e^x)


@pytest.mark.parametrize("name, value, slope", [
    ("relu", 0.0, 0.0), ("leaky_relu", 0.0, 0.01), ("elu", 0.0, 1.0),
])
def test_kinks_use_the_left_derivative_at_zero(device, name, value, slope):
    fn, _ = ACTIVATIONS[name]
    t = mg.tensor([0.0], dtype=mg.float64, device=device, requires_grad=True)
    out = fn(t)
    out.sum().backward()
    assert out.numpy()[0] == value and mg.to_numpy(t.grad)[0] == slope
