"""ops/math.py: unary and binary math, rounding, predicates, logical and bitwise ops. Forward
values against PyTorch (skipped without it), gradients by finite differences on every device,
gradients of gradients for the smooth ones."""

import numpy as np
import pytest

import minigrad as mg

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the reference")


def sample(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


# name -> (domain (low, high), smooth there)
UNARY = {
    "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.2, 1.2), "asin": (-0.9, 0.9),
    "acos": (-0.9, 0.9), "atan": (-3, 3), "sinh": (-3, 3), "cosh": (-3, 3),
    "asinh": (-3, 3), "acosh": (1.1, 4), "atanh": (-0.9, 0.9), "log2": (0.1, 4),
    "log10": (0.1, 4), "log1p": (-0.9, 4), "expm1": (-3, 3), "exp2": (-3, 3),
    "rsqrt": (0.2, 4), "reciprocal": (0.2, 4), "square": (-3, 3), "erf": (-3, 3),
    "erfc": (-3, 3),
}


@needs_torch
@pytest.mark.parametrize("shape", [(), (0,), (2, 3)], ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_forward_matches_torch(device, rng, name, shape):
    x = sample(rng, shape, *UNARY[name])
    out = getattr(mg, name)(mg.tensor(x, device=device))
    expected = getattr(torch, name)(torch.tensor(x)).numpy()
    assert out.shape == shape and out.dtype == mg.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", UNARY)
def test_unary_gradients(device, rng, name):
    x = mg.tensor(sample(rng, (2, 3), *UNARY[name]), device=device, requires_grad=True)
    fn = getattr(mg, name)
    assert mg.gradcheck(fn, (x,))
    assert mg.gradgradcheck(fn, (x,), fast=device == "strict:device1")


@pytest.mark.parametrize("name", ["sin", "log2", "square", "erf"])
def test_unary_is_a_method_and_keeps_float32(device, name):
    x = mg.tensor([0.5, 1.5], device=device)
    out = getattr(x, name)()
    assert out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), getattr(mg, name)(x.double()).numpy(), rtol=1e-6)


@needs_torch
def test_integers_promote_to_float32(device):
    x = mg.tensor([1, 2, 3], device=device)
    assert mg.sin(x).dtype == mg.float32
    assert mg.square(x).dtype == mg.int64  # square keeps integers, as torch
    np.testing.assert_allclose(mg.log2(x).numpy(), torch.log2(torch.tensor([1, 2, 3])).numpy())


@needs_torch
@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid", "sin"])
@pytest.mark.parametrize("values", [[1, 2, 3], [True, False, True]])
@pytest.mark.filterwarnings("ignore:divide by zero")  # log(False) = -inf, as torch
def test_floating_functions_of_integers_and_bools_are_float32_as_torch(device, name, values):
    # PyTorch computes exp, tanh, sigmoid ... of an int64 or bool tensor in float32 (NumPy
    # would give float64).
    got = getattr(mg.tensor(values, device=device), name)()
    expected = getattr(torch.tensor(values), name)()
    assert got.dtype == mg.float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@needs_torch
@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc"])
def test_rounding_forward_and_zero_gradient(device, name):
    x = np.array([-2.5, -1.5, -0.5, -0.2, 0.0, 0.5, 1.5, 2.5, 2.7, np.inf, -np.inf])
    t = mg.tensor(x, device=device, requires_grad=True)
    out = getattr(mg, name)(t)
    np.testing.assert_array_equal(out.numpy(), getattr(torch, name)(torch.tensor(x)).numpy())
    out.backward(mg.ones_like(out))  # (not out.sum(): inf - inf)
    np.testing.assert_array_equal(t.grad.numpy(), np.zeros_like(x))
    ints = mg.tensor([-3, 0, 4], device=device)
    assert getattr(mg, name)(ints).dtype == mg.int64


@needs_torch
def test_round_decimals(device):
    x = np.array([1.2345, -2.5678, 0.125])
    np.testing.assert_allclose(mg.round(mg.tensor(x, device=device), decimals=2).numpy(),
                               torch.round(torch.tensor(x), decimals=2).numpy())


# -- binary ops -------------------------------------------------------------------------------

BINARY = ["atan2", "fmod", "remainder", "logaddexp", "copysign"]


@needs_torch
@pytest.mark.parametrize("name", BINARY + ["floor_divide"])
def test_binary_forward_broadcasts_like_torch(device, rng, name):
    a = rng.uniform(-5, 5, (2, 3))
    b = rng.uniform(0.5, 2, (3,)) * rng.choice([-1, 1], (3,))
    out = getattr(mg, name)(mg.tensor(a, device=device), mg.tensor(b, device=device))
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("name", ["fmod", "remainder", "floor_divide"])
def test_integer_division_ops(device, name):
    a = np.array([-7, -5, 5, 7, 0])
    b = np.array([3, -3, 3, -3, 2])
    out = getattr(mg, name)(mg.tensor(a, device=device), mg.tensor(b, device=device))
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out.dtype == mg.int64


@needs_torch
def test_scalar_operands_and_operators(device):
    a = np.array([-7.5, 5.0, 7.25])
    t = mg.tensor(a, device=device)
    np.testing.assert_allclose((t % 2).numpy(), (torch.tensor(a) % 2).numpy())
    np.testing.assert_allclose((t // 2).numpy(), (torch.tensor(a) // 2).numpy())
    np.testing.assert_allclose(mg.fmod(t, 2.0).numpy(), torch.fmod(torch.tensor(a), 2).numpy())
    np.testing.assert_allclose(mg.atan2(t, 2.0).numpy(), np.arctan2(a, 2.0))


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradients(device, rng, name):
    # values kept away from the jumps of fmod/remainder and the kink of copysign at 0
    a = mg.tensor(rng.uniform(0.2, 0.8, (2, 3)) * rng.choice([-1, 1], (2, 3)) + 3,
                  device=device, requires_grad=True)
    b = mg.tensor(rng.uniform(1.1, 1.4, (3,)), device=device, requires_grad=True)
    fn = getattr(mg, name)
    assert mg.gradcheck(fn, (a, b))
    if name in ("atan2", "logaddexp"):
        assert mg.gradgradcheck(fn, (a, b), fast=device == "strict:device1")


@needs_torch
def test_fmod_and_remainder_gradients_match_torch(device, rng):
    a = rng.uniform(-5, 5, (4,))
    b = rng.uniform(0.6, 2, (4,)) * np.array([1, -1, 1, -1])
    for name in ("fmod", "remainder"):
        ta = mg.tensor(a, device=device, requires_grad=True)
        tb = mg.tensor(b, device=device, requires_grad=True)
        getattr(mg, name)(ta, tb).sum().backward()
        ra = torch.tensor(a, requires_grad=True)
        rb = torch.tensor(b, requires_grad=True)
        getattr(torch, name)(ra, rb).sum().backward()
        np.testing.assert_allclose(ta.grad.numpy(), ra.grad.numpy())
        np.testing.assert_allclose(tb.grad.numpy(), rb.grad.numpy())


@needs_torch
def test_copysign_signed_zero_and_gradient(device):
    a = np.array([1.5, -2.0, 0.0, 3.0])
    b = np.array([-0.0, 1.0, -1.0, 0.0])
    ta = mg.tensor(a, device=device, requires_grad=True)
    out = mg.copysign(ta, mg.tensor(b, device=device))
    ra = torch.tensor(a, requires_grad=True)
    expected = torch.copysign(ra, torch.tensor(b))
    np.testing.assert_array_equal(np.signbit(out.numpy()), np.signbit(expected.detach().numpy()))
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(ta.grad.numpy(), ra.grad.numpy())


@needs_torch
def test_logaddexp_extremes(device):
    a = np.array([1000.0, -1000.0, -np.inf, 0.0])
    b = np.array([1000.0, -1000.0, 1.0, -np.inf])
    out = mg.logaddexp(mg.tensor(a, device=device), mg.tensor(b, device=device))
    np.testing.assert_allclose(out.numpy(), torch.logaddexp(torch.tensor(a),
                                                            torch.tensor(b)).numpy())


def test_lerp(device, rng):
    start = mg.tensor(rng.standard_normal((2, 3)), device=device, requires_grad=True)
    end = mg.tensor(rng.standard_normal((3,)), device=device, requires_grad=True)
    weight = mg.tensor(rng.uniform(0, 1, (2, 3)), device=device, requires_grad=True)
    out = mg.lerp(start, end, weight)
    s, e, w = start.numpy(), end.numpy(), weight.numpy()
    np.testing.assert_allclose(out.numpy(), s + w * (e - s), rtol=1e-12)
    np.testing.assert_allclose(start.lerp(end, 0.25).numpy(), s + 0.25 * (e - s), rtol=1e-12)
    assert mg.gradcheck(mg.lerp, (start, end, weight))
    assert mg.gradgradcheck(mg.lerp, (start, end, weight), fast=device == "strict:device1")


# -- predicates, logical and bitwise -----------------------------------------------------------

SPECIAL = np.array([0.0, -1.5, np.inf, -np.inf, np.nan, 1e-300])


@needs_torch
@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_predicates(device, name):
    out = getattr(mg, name)(mg.tensor(SPECIAL, device=device))
    assert out.dtype == mg.bool_ and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), getattr(torch, name)(torch.tensor(SPECIAL)))


@needs_torch
@pytest.mark.parametrize("equal_nan", [False, True])
def test_isclose_and_allclose(device, equal_nan):
    a = np.array([1.0, 1.0, np.inf, np.inf, np.nan, 0.0, 1e-9])
    b = np.array([1.0 + 1e-6, 1.1, np.inf, -np.inf, np.nan, 1e-9, 0.0])
    out = mg.isclose(mg.tensor(a, device=device), mg.tensor(b, device=device),
                     equal_nan=equal_nan)
    expected = torch.isclose(torch.tensor(a), torch.tensor(b), equal_nan=equal_nan)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    x = mg.tensor([1.0, 2.0], device=device)
    assert mg.allclose(x, x + 1e-9) is True
    assert x.allclose(x + 1e-3) is False


@needs_torch
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical(device, name):
    a = np.array([0, 1, 2, 0])
    b = np.array([0.0, 0.0, 3.0, -1.0])
    out = getattr(mg, name)(mg.tensor(a, device=device), mg.tensor(b, device=device))
    assert out.dtype == mg.bool_
    np.testing.assert_array_equal(out.numpy(), getattr(torch, name)(torch.tensor(a),
                                                                     torch.tensor(b)).numpy())
    np.testing.assert_array_equal(mg.logical_not(mg.tensor(a, device=device)).numpy(), a == 0)


@needs_torch
def test_bitwise_ops_and_operators(device):
    a = np.array([0b1100, 7, -3])
    b = np.array([0b1010, 1, 5])
    ta, tb = mg.tensor(a, device=device), mg.tensor(b, device=device)
    ra, rb = torch.tensor(a), torch.tensor(b)
    for ours, theirs in [(ta & tb, ra & rb), (ta | tb, ra | rb), (ta ^ tb, ra ^ rb),
                         (~ta, ~ra), (ta & 6, ra & 6), (6 | ta, 6 | ra),
                         (mg.bitwise_xor(ta, tb), torch.bitwise_xor(ra, rb))]:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    m = mg.tensor([True, False], device=device)
    np.testing.assert_array_equal((~m).numpy(), [False, True])
    np.testing.assert_array_equal((m & mg.tensor([True, True], device=device)).numpy(),
                                  [True, False])
    with pytest.raises(TypeError):
        mg.tensor([1.0], device=device) & ta[:1]


def test_empty_and_zero_d(device):
    empty = mg.tensor(np.zeros((0, 2)), device=device, requires_grad=True)
    out = mg.sin(empty) + mg.atan2(empty, empty + 1)
    assert out.shape == (0, 2)
    out.sum().backward()
    assert empty.grad.shape == (0, 2)
    scalar = mg.tensor(0.5, device=device, dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(mg.atanh, (scalar,))


@needs_torch
@pytest.mark.parametrize("name", ["atan2", "logaddexp", "copysign"])
def test_binary_promotion_and_numbers(device, name):
    ints = np.array([1, 2, -3])
    a = mg.tensor(ints, device=device)
    x = mg.tensor([1.5, -2.5, 0.5], device=device, dtype=mg.float64, requires_grad=True)
    if name != "logaddexp":  # (PyTorch has no integer logaddexp)
        out = getattr(mg, name)(a, a)
        expected = getattr(torch, name)(torch.tensor(ints), torch.tensor(ints))
        assert out.dtype == mg.float32
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    mixed = getattr(mg, name)(x, a)
    assert mixed.dtype == mg.float64
    np.testing.assert_allclose(mixed.detach().numpy(), getattr(torch, name)(
        torch.tensor(x.detach().numpy()), torch.tensor(ints)).numpy(), rtol=1e-12)
    assert mg.gradcheck(lambda t: getattr(mg, name)(t, 0.7), (x,))
    assert mg.gradcheck(lambda t: getattr(mg, name)(t, a), (x,))
    if name != "copysign":
        assert mg.gradcheck(lambda t: getattr(mg, name)(-1.2, t), (x,))


def test_isclose_and_logical_with_numbers(device):
    x = mg.tensor([1.0, -2.0, np.nan], device=device)
    np.testing.assert_array_equal(mg.isclose(x, 1.0).numpy(), [True, False, False])
    np.testing.assert_array_equal(mg.isclose(-2.0, x).numpy(), [False, True, False])
    np.testing.assert_array_equal(mg.logical_and(x, True).numpy(), [True, True, True])
    np.testing.assert_array_equal(mg.logical_or(0, x * 0).numpy(), [False, False, True])
