"""Reliability of the ops: every bad input gets one clear error naming what was expected and
what came, no result is silently wrong, and PyTorch's behaviour is the reference.

Classes: axes out of range (never wrapped), var/std (PyTorch's default correction, and inf/nan
without degrees of freedom), empty reductions, pow at zero and negative bases, integer
linspace, the exact GELU and its erf, non-tensors where a tensor is expected, matmul shapes
and empty operands, nested tuples in an index.
"""

import math
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.ops import namespace
from minigrad.ops import shape as shape_ops
from minigrad.ops.activations import _erf, _erfc


def assert_same_floats(actual, expected, rtol=1e-14):
    """Equal where finite (to rtol), and the same infinities and nans, element by element."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(actual) * np.sign(actual),
                                  np.isinf(expected) * np.sign(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=rtol, atol=0)


# -- 1. axes out of range: an IndexError naming the axis and the valid range ------------------

X3 = np.arange(24.0).reshape(2, 3, 4)

OUT_OF_RANGE = {
    "stack": (lambda x: mg.stack([x, x], axis=77), 77, "[-4, 3]"),
    "stack-negative": (lambda x: mg.stack([x, x], axis=-5), -5, "[-4, 3]"),
    "concat": (lambda x: mg.concat([x, x], axis=3), 3, "[-3, 2]"),
    "split": (lambda x: x.split(1, axis=77), 77, "[-3, 2]"),
    "squeeze": (lambda x: x.squeeze(3), 3, "[-3, 2]"),
    "unsqueeze": (lambda x: x.unsqueeze(4), 4, "[-4, 3]"),
    "unsqueeze-negative": (lambda x: x.unsqueeze(-5), -5, "[-4, 3]"),
    "transpose": (lambda x: x.transpose(0, -4), -4, "[-3, 2]"),
    "permute": (lambda x: x.permute(0, 1, 3), 3, "[-3, 2]"),
    "flatten": (lambda x: x.flatten(0, 5), 5, "[-3, 2]"),
    "softmax": (lambda x: x.softmax(axis=77), 77, "[-3, 2]"),
    "log_softmax": (lambda x: mg.log_softmax(x, axis=-4), -4, "[-3, 2]"),
    "sum": (lambda x: x.sum(axis=3), 3, "[-3, 2]"),
    "mean": (lambda x: x.mean(axis=(0, 5)), 5, "[-3, 2]"),
    "var": (lambda x: x.var(axis=-4), -4, "[-3, 2]"),
    "std": (lambda x: x.std(axis=3), 3, "[-3, 2]"),
    "max": (lambda x: x.max(axis=3), 3, "[-3, 2]"),
    "min": (lambda x: x.min(axis=-4), -4, "[-3, 2]"),
    "logsumexp": (lambda x: x.logsumexp(axis=3), 3, "[-3, 2]"),
}


@pytest.mark.parametrize("name", OUT_OF_RANGE)
def test_axes_out_of_range_raise_index_error(device, name):
    fn, axis, valid = OUT_OF_RANGE[name]
    x = mg.tensor(X3, device=device)
    with pytest.raises(IndexError) as info:
        fn(x)
    message = str(info.value)
    assert f"axis {axis} is out of range" in message and valid in message


@pytest.mark.parametrize("axis", [0, 3, -1, -4])
def test_stack_takes_every_valid_axis(device, axis):
    arrays = [X3, X3 + 100]
    x, y = (mg.tensor(a, device=device, requires_grad=True) for a in arrays)
    out = mg.stack([x, y], axis=axis)
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays, axis=axis))
    assert mg.gradcheck(lambda a, b: mg.stack([a, b], axis=axis), (x, y))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_a_zero_dim_tensor_takes_axis_0_or_minus_1(device, op):
    x = mg.tensor(2.0, device=device, requires_grad=True)
    for axis in (0, -1):
        out = getattr(mg, op)(x, axis=axis)
        assert out.shape == () and out.item() == (1.0 if op == "softmax" else 0.0)
    with pytest.raises(IndexError, match="axis 1 is out of range"):
        getattr(mg, op)(x, axis=1)
    with pytest.raises(TypeError, match="expected one int axis"):
        getattr(mg, op)(x, axis=(0,))


def test_concat_and_stack_name_the_shapes_that_differ(device):
    a, b = mg.zeros(2, 2, device=device), mg.zeros(3, 3, device=device)
    with pytest.raises(ValueError, match=r"shape \(\*, 2\).*got shape \(3, 3\) for tensor 1"):
        mg.concat([a, b])
    with pytest.raises(ValueError, match=r"shape \(2, \*\).*got shape \(3, 3\) for tensor 1"):
        mg.concat([mg.zeros(2, 3, device=device), b], axis=1)
    with pytest.raises(ValueError, match=r"got \(2, 2\) for tensor 0 and \(3, 3\) for tensor 1"):
        mg.stack([a, b])
    with pytest.raises(ValueError, match="non-empty"):
        mg.concat([])
    with pytest.raises(ValueError, match="non-empty"):
        mg.stack([])
    with pytest.raises(ValueError, match="0-d tensors cannot be concatenated"):
        mg.concat([mg.tensor(1.0, device=device), mg.tensor(2.0, device=device)])
    with pytest.raises(TypeError, match="expected a sequence of Tensors, got minigrad.Tensor"):
        mg.concat(a)


def test_split_and_flatten_arguments_are_checked(device):
    x = mg.tensor(X3, device=device)
    with pytest.raises(ValueError, match="split size >= 1, got 0"):
        x.split(0)
    with pytest.raises(ValueError, match=r"ints >= 0, got \[1, -1, 2\]"):
        x.split([1, -1, 2], axis=1)
    with pytest.raises(ValueError, match="0-d tensor has no axis"):
        mg.tensor(1.0, device=device).split(1)
    with pytest.raises(ValueError, match="start_dim 2 comes after end_dim 0"):
        x.flatten(2, 0)
    # An axis of length 0 splits into one empty piece, as in PyTorch.
    pieces = mg.zeros(0, 3, device=device).split(2)
    assert [p.shape for p in pieces] == [(0, 3)]


# -- 1-2. var and std: PyTorch's default correction, and its values without dof -------------

def test_var_and_std_default_to_the_unbiased_estimate_as_pytorch(torch, device, rng):
    a = rng.standard_normal((4, 5))
    x = mg.tensor(a, device=device)
    t = torch.tensor(a)
    np.testing.assert_allclose(x.var().item(), t.var().item(), rtol=1e-14)
    np.testing.assert_allclose(x.std(axis=1).numpy(), t.std(dim=1).numpy(), rtol=1e-14)
    np.testing.assert_allclose(x.var(correction=0).item(), np.var(a), rtol=1e-14)


@pytest.mark.parametrize("axis", [None, 0], ids=["all", "axis0"])
@pytest.mark.parametrize("n, correction", [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 5),
                                           (3, 3), (3, 1.5), (3, 2.5), (3, 3.5)])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_and_std_without_degrees_of_freedom_match_pytorch(torch, device, op, n,
                                                               correction, axis):
    a = np.stack([np.arange(float(n)) ** 2, np.full(n, 2.0)], axis=1)  # a spread, a constant
    a = a[:, 0] if axis is None else a
    x = mg.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    seed = np.array(-2.0) if axis is None else np.array([1.5, -2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = getattr(x, op)(axis=axis, correction=correction)
        out.backward(mg.tensor(seed, device=device))
    ours = [w for w in caught if "degrees of freedom" in str(w.message)]
    assert len(ours) == (1 if n - correction <= 0 else 0)
    assert not [w for w in caught if w not in ours]  # no NumPy divide-by-zero warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dims = {} if axis is None else {"dim": axis}
        expected = getattr(t, op)(correction=correction, **dims)
        expected.backward(torch.tensor(seed))
    assert_same_floats(out.numpy(), expected.detach().numpy())
    assert_same_floats(mg.to_numpy(x.grad), t.grad.numpy())


def test_var_without_degrees_of_freedom_keeps_dtype_and_rows(device):
    x = mg.tensor([[1.0, 2.0], [3.0, 3.0]], dtype=mg.float32, device=device)
    with pytest.warns(RuntimeWarning, match=r"n - correction = 2 - 2 <= 0"):
        out = x.var(axis=1, correction=2)
    assert out.dtype == mg.float32
    assert_same_floats(out.numpy(), [np.inf, np.nan])  # 0.5 / 0 and 0 / 0


@pytest.mark.parametrize("shape, axis", [((3,), None), ((2, 3), 1), ((2, 3), 0)], ids=str)
def test_std_of_a_constant_slice_has_gradient_zero_as_pytorch(torch, device, shape, axis):
    a = np.full(shape, 1.5)
    x = mg.tensor(a, device=device, requires_grad=True)
    x.std(axis=axis).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    (t.std() if axis is None else t.std(dim=axis)).sum().backward()
    assert_same_floats(mg.to_numpy(x.grad), t.grad.numpy())
    np.testing.assert_array_equal(mg.to_numpy(x.grad), 0.0)


@pytest.mark.parametrize("correction", [0, 1])
def test_var_and_std_differentiate_twice(device, rng, correction):
    x = mg.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    assert mg.gradgradcheck(lambda t: t.var(axis=1, correction=correction) ** 2, (x,))
    assert mg.gradgradcheck(lambda t: t.std(axis=0, correction=correction), (x,))


# -- 1. reductions over no elements ------------------------------------------------------------

@pytest.mark.filterwarnings("error")  # no "Mean of empty slice", no log(0) warnings
def test_mean_sum_and_logsumexp_of_no_elements_match_pytorch(torch, device):
    cases = [((0,), None), ((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((0, 3), None)]
    for shape, axis in cases:
        x = mg.zeros(*shape, dtype=mg.float64, device=device, requires_grad=True)
        t = torch.zeros(*shape, dtype=torch.float64)
        dims = {} if axis is None else {"dim": axis}
        for op in ("mean", "sum"):
            out = getattr(x, op)(axis=axis)
            expected = getattr(t, op)(**dims)
            assert_same_floats(out.numpy(), expected.numpy())
            out.sum().backward()
            assert x.grad.shape == shape
        lse = x.logsumexp(axis=axis)
        expected = t.logsumexp(dim=tuple(range(len(shape))) if axis is None else axis)
        assert_same_floats(lse.numpy(), expected.numpy())


def test_mean_of_no_elements_is_nan_with_keepdims_and_for_integers(device):
    out = mg.zeros(0, 3, device=device).mean(axis=0, keepdims=True)
    assert out.shape == (1, 3) and np.isnan(out.numpy()).all()
    out = mg.tensor(np.zeros(0, dtype=np.int64), device=device).mean()
    assert np.isnan(out.item())


def test_max_and_min_of_no_elements_raise_as_pytorch(device):
    empty = mg.zeros(0, 3, device=device)
    for op in ("max", "min"):
        with pytest.raises(RuntimeError, match=rf"{op}: the tensor of shape \(0, 3\) has no"):
            getattr(empty, op)()
        with pytest.raises(IndexError, match=rf"{op}: cannot reduce axis 0 of length 0"):
            getattr(empty, op)(axis=0)
        assert getattr(empty, op)(axis=1).shape == (0,)  # the other axis is fine


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_no_elements_is_empty(device, op):
    for shape, axis in [((0, 3), 0), ((0, 3), 1), ((3, 0), 1)]:
        x = mg.zeros(*shape, device=device, requires_grad=True)
        out = getattr(mg, op)(x, axis=axis)
        assert out.shape == shape
        out.sum().backward()
        assert x.grad.shape == shape


# -- 3. pow at zero and negative bases, against PyTorch ------------------------------------------

POW_VALUES = np.array([0.0, -0.0, -2.0, 2.0, 0.5, -0.5, 1.0, 3.0, -1.0, np.inf, -np.inf, np.nan])


def _grads(lib_tensor, f, arrays, backward_seed):
    tensors = [lib_tensor(a) for a in arrays]
    out = f(*tensors)
    out.backward(backward_seed(out))
    return out, tensors


def test_pow_of_two_tensors_matches_pytorch_at_every_edge(torch, device):
    a, b = (v.ravel() for v in np.meshgrid(POW_VALUES, POW_VALUES, indexing="ij"))
    with np.errstate(all="ignore"):  # NumPy's own warnings about inf and nan values
        x = mg.tensor(a, device=device, requires_grad=True)
        y = mg.tensor(b, device=device, requires_grad=True)
        out = x ** y
        out.backward(mg.ones(out.shape, dtype=mg.float64, device=device))
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    expected = tx ** ty
    expected.backward(torch.ones_like(expected))
    assert_same_floats(out.numpy(), expected.detach().numpy())
    assert_same_floats(mg.to_numpy(x.grad), tx.grad.numpy())
    assert_same_floats(mg.to_numpy(y.grad), ty.grad.numpy())


@pytest.mark.parametrize("base", list(POW_VALUES), ids=str)
def test_pow_of_a_number_base_matches_pytorch(torch, device, base):
    with np.errstate(all="ignore"):
        y = mg.tensor(POW_VALUES, device=device, requires_grad=True)
        (base ** y).sum().backward()  # (-2.0) ** y used to raise "math domain error"
    ty = torch.tensor(POW_VALUES, requires_grad=True)
    (base ** ty).sum().backward()
    assert_same_floats(mg.to_numpy(y.grad), ty.grad.numpy())


@pytest.mark.parametrize("exponent", [0, 0.0, 1, 2, 3, -1, -2, 1.5, -0.5, 2.5, -3.0], ids=str)
def test_pow_of_a_number_exponent_matches_pytorch(torch, device, exponent):
    with np.errstate(all="ignore"):
        x = mg.tensor(POW_VALUES, device=device, requires_grad=True)
        (x ** exponent).sum().backward()
    tx = torch.tensor(POW_VALUES, requires_grad=True)
    (tx ** exponent).sum().backward()
    assert_same_floats(mg.to_numpy(x.grad), tx.grad.numpy())


def test_pow_exponent_one_half_follows_the_power_rule(device):
    # PyTorch computes x ** 0.5 through sqrt and its gradient through rsqrt, which gives
    # -inf at x = -0.0 and nan at x = -inf; minigrad keeps the power rule's values there:
    # 0.5 (-0)^(-1/2) = inf and 0.5 (-inf)^(-1/2) = 0, as PyTorch's tensor ** tensor does.
    with np.errstate(all="ignore"):
        x = mg.tensor([-0.0, -np.inf], device=device, requires_grad=True)
        (x ** 0.5).sum().backward()
    assert_same_floats(mg.to_numpy(x.grad), [np.inf, 0.0])


def test_pow_gradients_at_zero_base_by_hand(device):
    # d/dx x^0 = 0 at x = 0 (not 0 * 0^-1 = nan); d/dy 0^y = 0 for y >= 0, -inf for y < 0
    x = mg.zeros(3, dtype=mg.float64, device=device, requires_grad=True)
    y = mg.tensor([0.0, 2.0, -1.0], device=device, requires_grad=True)
    with np.errstate(divide="ignore"):
        (x ** y).sum().backward()
    assert_same_floats(mg.to_numpy(x.grad), [0.0, 0.0, -np.inf])
    assert_same_floats(mg.to_numpy(y.grad), [0.0, 0.0, -np.inf])


def test_pow_second_derivatives_away_from_the_edges(device, rng):
    a = rng.uniform(0.5, 2.0, (2, 3))
    b = rng.standard_normal((2, 3))
    x, y = (mg.tensor(v, device=device, requires_grad=True) for v in (a, b))
    assert mg.gradgradcheck(lambda s, t: s ** t, (x, y))
    assert mg.gradgradcheck(lambda t: (-2.0) ** (t * 0) + 3.0 ** t, (y,))


# -- 4. linspace -----------------------------------------------------------------------------

LINSPACE_CASES = [(5, -5, 20), (5, -5, 7), (5, -5, 5), (0, 10, 1000), (-3, 1000, 77),
                  (0.5, 5.7, 4), (-2.5, 2.5, 11), (3, 3, 5), (0, 1, 3), (10, 0, 4),
                  (-7.9, 7.9, 33), (0, 10, 0), (4, 9, 1), (693, -649, 267), (-148, 77, 1971)]


@pytest.mark.parametrize("dtype", ["int32", "int64", "int16"])
def test_integer_linspace_matches_pytorch(torch, dtype):
    rng = np.random.default_rng(0)
    cases = LINSPACE_CASES + [(int(rng.integers(-1000, 1000)), int(rng.integers(-1000, 1000)),
                               int(rng.integers(0, 500))) for _ in range(100)]
    for start, stop, num in cases:
        expected = torch.linspace(start, stop, num, dtype=getattr(torch, dtype)).numpy()
        out = mg.linspace(start, stop, num, dtype=dtype).numpy()
        assert out.dtype == expected.dtype, (start, stop, num)
        np.testing.assert_array_equal(out, expected, err_msg=str((start, stop, num)))


def test_integer_linspace_on_every_device(device):
    out = mg.linspace(5, -5, 20, dtype=mg.int32, device=device)
    assert out.dtype == mg.int32 and out.device == mg.device(device)
    np.testing.assert_array_equal(
        out.numpy(), [5, 4, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, -1, -1, -2, -2, -3, -3, -4, -5])
    np.testing.assert_array_equal(mg.linspace(-1, 5, 3, dtype=mg.uint8, device=device).numpy(),
                                  [255, 130, 5])  # -1 wraps into uint8 first, as in PyTorch


def test_float_linspace_is_close_to_pytorch(torch):
    for start, stop, num in LINSPACE_CASES:
        expected = torch.linspace(start, stop, num, dtype=torch.float64).numpy()
        np.testing.assert_allclose(mg.linspace(start, stop, num, dtype=mg.float64).numpy(),
                                   expected, rtol=1e-15, atol=1e-13)


def test_linspace_refuses_what_pytorch_refuses():
    with pytest.raises(TypeError, match="floating-point or integer dtype, got bool"):
        mg.linspace(0, 1, 3, dtype=mg.bool_)
    with pytest.raises(ValueError, match=r"start 300 does not fit in uint8 \(\[0, 255\]\)"):
        mg.linspace(300, 0, 3, dtype=mg.uint8)
    with pytest.raises(ValueError, match="stop inf does not fit in int64"):
        mg.linspace(0, math.inf, 3, dtype=mg.int64)
    with pytest.raises(ValueError, match=">= 0, got -1"):
        mg.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="must be an int, got float"):
        mg.linspace(0, 1, 2.0)


# -- 5. erf, erfc and the exact GELU -------------------------------------------------------------

def _erf_points():
    return np.concatenate([np.linspace(-6, 6, 20001), np.geomspace(1e-300, 6, 500),
                           -np.geomspace(1e-300, 6, 500), np.linspace(6, 30, 97),
                           [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0, np.inf, -np.inf]])


def test_erf_matches_math_erf_to_float64_rounding():
    x = _erf_points()
    xp = mg.device("cpu").xp
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(_erf(x, xp), expected, rtol=1e-15, atol=0)
    assert np.isnan(_erf(np.array([np.nan]), xp)[0])


def test_erfc_keeps_its_relative_precision_in_the_tail():
    x = _erf_points()
    x = x[np.abs(x) < 26]  # beyond, erfc(x) is a denormal (few digits) or 0
    xp = mg.device("cpu").xp
    expected = np.array([math.erfc(v) for v in x])
    ours = _erfc(x, xp)
    # e^(-x^2) amplifies the rounding of x^2: about x^2 units of 1e-16, as math.erfc itself
    np.testing.assert_array_less(np.abs(ours - expected), 1e-15 * (1 + x * x) * expected)
    assert _erfc(np.array([30.0, -30.0]), xp).tolist() == [0.0, 2.0]


def test_erf_on_every_device_and_in_float32(device):
    x = np.linspace(-5, 5, 101)
    expected = np.array([math.erf(v) for v in x])
    t = mg.tensor(x, device=device)
    np.testing.assert_allclose(mg.to_numpy(_erf(t.data, t.device.xp)), expected, rtol=1e-15,
                               atol=1e-300)
    t32 = mg.tensor(x, dtype=mg.float32, device=device)
    out = _erf(t32.data, t32.device.xp)
    assert t32.device.canonical(out.dtype) == mg.float32
    np.testing.assert_allclose(mg.to_numpy(out), expected, rtol=3e-7, atol=1e-7)


def test_erf_on_tensors_is_differentiable(device):
    # Through minigrad's namespace, erf is recorded as ops: d erf / dx = 2/sqrt(pi) e^(-x^2)
    x = mg.tensor(np.linspace(-5, 5, 41), device=device, requires_grad=True)
    (g,) = mg.autograd.grad(_erf(x, namespace).sum(), x)
    np.testing.assert_allclose(g.numpy(), 2 / np.sqrt(np.pi) * np.exp(-x.numpy() ** 2),
                               rtol=1e-12, atol=1e-300)


GELU_X = np.concatenate([np.linspace(-12, 12, 481), [0.0, -0.0, 1e-300, -1e-300, 40, -40]])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_pytorch(torch, device, approximate):
    x = mg.tensor(GELU_X, device=device, requires_grad=True)
    out = mg.gelu(x, approximate=approximate) if approximate == "tanh" else mg.gelu(x)
    out.sum().backward()
    t = torch.tensor(GELU_X, requires_grad=True)
    expected = torch.nn.functional.gelu(t, approximate=approximate)
    expected.sum().backward()
    # PyTorch computes 1 + erf(x / sqrt 2) (1 + tanh u), which cancels for x << 0: absolute
    # errors of 1e-16 (|x| 1e-16), relative ones up to 1e-10 (1e-6) there. minigrad's erfc
    # keeps the relative precision; its tanh form cancels as PyTorch's.
    atol = 1e-15 if approximate == "none" else 2e-14
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-13, atol=atol)
    np.testing.assert_allclose(mg.to_numpy(x.grad), t.grad.numpy(), rtol=1e-13, atol=atol)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
def test_gelu_is_accurate_in_the_left_tail(device, dtype):
    x = np.array([-3.0, -5.0, -10.0, -20.0, -37.0])
    out = mg.gelu(mg.tensor(x, dtype=dtype, device=device)).numpy()
    expected = x * np.array([math.erfc(-v / math.sqrt(2)) for v in x]) / 2
    if dtype == mg.float32:  # float32 ends at 1e-45: gelu(-20) = -5.5e-88 is 0 there
        np.testing.assert_allclose(out, expected.astype(np.float32), rtol=1e-5, atol=1e-44)
    else:  # the rounding of x / sqrt 2 alone moves erfc by x^2 units of 1e-16, relatively
        np.testing.assert_array_less(np.abs(out - expected), 1e-15 * (1 + x * x) * -expected)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradchecks_twice(device, rng, approximate):
    x = mg.tensor(3 * rng.standard_normal((3, 4)), device=device, requires_grad=True)
    assert mg.gradcheck(lambda t: mg.gelu(t, approximate=approximate), (x,))
    assert mg.gradgradcheck(lambda t: mg.gelu(t, approximate=approximate), (x,))


def test_gelu_approximate_is_checked_and_the_module_takes_it(torch):
    x = mg.tensor([-1.0, 0.5, 2.0])
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        mg.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("exact")
    for approximate in ("none", "tanh"):
        module = nn.GELU(approximate)
        assert repr(module) == repr(torch.nn.GELU(approximate))
        np.testing.assert_allclose(module(x).numpy(), mg.gelu(x, approximate).numpy())
    assert nn.GELU().approximate == "none"


# -- 6. a non-tensor where a tensor is expected: one TypeError naming argument and type -------

UNARY_OPS = {
    "relu": mg.relu, "leaky_relu": mg.leaky_relu, "elu": mg.elu, "sigmoid": mg.sigmoid,
    "tanh": mg.tanh, "softplus": mg.softplus, "gelu": mg.gelu, "silu": mg.silu, "exp": mg.exp,
    "log": mg.log, "sqrt": mg.sqrt, "abs": mg.abs, "neg": mg.neg,
    "clamp": lambda x: mg.clamp(x, 0.0), "sum": mg.sum, "mean": mg.mean, "var": mg.var,
    "std": mg.std, "max": mg.max, "min": mg.min, "logsumexp": mg.logsumexp,
    "softmax": mg.softmax, "log_softmax": mg.log_softmax,
    "reshape": lambda x: mg.reshape(x, (-1,)), "flatten": mg.flatten,
    "permute": lambda x: mg.permute(x, (0,)), "transpose": lambda x: mg.transpose(x, 0, 0),
    "squeeze": mg.squeeze, "unsqueeze": lambda x: mg.unsqueeze(x, 0),
    "broadcast_to": lambda x: mg.broadcast_to(x, (2, 3)), "expand": lambda x: mg.expand(x, 3),
    "getitem": lambda x: mg.getitem(x, 0), "split": lambda x: mg.split(x, 1),
    "pad": lambda x: shape_ops.pad(x, 1),  # (numpy.pad's signature; mg.pad is PyTorch's)
}


@pytest.mark.parametrize("value", [np.ones(3), [1.0, 2.0, 3.0], 1.5, None],
                         ids=["ndarray", "list", "float", "None"])
@pytest.mark.parametrize("name", UNARY_OPS)
def test_unary_ops_name_a_non_tensor_argument(name, value):
    type_name = "numpy.ndarray" if isinstance(value, np.ndarray) else type(value).__name__
    with pytest.raises(TypeError,
                       match=rf"^{name}: expected a Tensor for argument 'x', got {type_name}"):
        UNARY_OPS[name](value)


def test_binary_ops_take_two_numbers_where_pytorch_does(torch):
    for op in ("add", "sub", "mul", "div"):
        for a, b in [(1, 2), (1, 2.5), (2.5, 1), (3.0, 2.0)] + [(True, 1)] * (op != "sub"):
            out = getattr(mg, op)(a, b)
            expected = getattr(torch, op)(a, b)
            assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
            np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-7)
    for op in ("pow", "maximum", "minimum", "less", "equal"):
        with pytest.raises(TypeError, match=rf"{op}: expected a Tensor for argument 'a' or 'b'"):
            getattr(mg, op)(1, 2.5)


def test_binary_ops_and_friends_name_what_came():
    x = mg.ones(2, 3)
    with pytest.raises(TypeError, match=r"add: .*got numpy.ndarray and numpy.ndarray"):
        mg.add(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match=r"matmul: .*got numpy.ndarray and list"):
        mg.matmul(np.ones((2, 2)), [[1.0]])
    with pytest.raises(TypeError, match="add: expected a Tensor or a number as the other "
                                        "operand, got NoneType"):
        x + None
    with pytest.raises(TypeError, match="mul: .* got str"):
        x * "a"
    with pytest.raises(TypeError, match="where: expected a Tensor for argument 'condition', "
                                        "got numpy.ndarray"):
        mg.where(np.ones(2) > 0, 1.0, 0.0)
    with pytest.raises(TypeError, match="where: expected a bool condition, got a tensor of "
                                        "dtype float32"):
        mg.where(x, x, x)
    with pytest.raises(TypeError, match="concat: expected a sequence of Tensors, got "
                                        "numpy.ndarray at position 1"):
        mg.concat([x, np.ones((2, 3))])
    with pytest.raises(TypeError, match="clamp: expected a number .* for 'min', got minigrad"):
        x.clamp(min=mg.tensor(0.0))


def test_another_librarys_tensor_is_named_with_its_library(torch):
    with pytest.raises(TypeError, match="mul: .*got torch.Tensor"):
        mg.ones(2) * torch.ones(2)
    with pytest.raises(TypeError, match="cannot make a tensor from torch.Tensor"):
        mg.tensor(torch.ones(2))


def test_arrays_of_another_device_are_refused_not_moved():
    x = mg.ones(2)
    with pytest.raises(mg.DeviceError, match="tensor on cpu with an array on strict:device1"):
        x + mg.ones(2, device="strict:device1").data
    with pytest.raises(mg.DeviceError, match="tensor on strict:cpu with a host numpy.ndarray"):
        mg.ones(2, device="strict:cpu") + np.ones(2)


def test_layers_name_a_non_tensor_input():
    with pytest.raises(TypeError, match="linear: expected a Tensor for argument 'input', got "
                                        "numpy.ndarray"):
        nn.Linear(3, 2)(np.ones((2, 3)))
    with pytest.raises(TypeError, match="linear: expected a Tensor for argument 'parameter', "
                                        "got list"):
        nn.functional.linear(mg.ones(2, 3), [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="conv2d: expected a Tensor for argument 'input'"):
        nn.Conv2d(1, 1, 3)(np.ones((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="avg_pool2d: expected a Tensor for argument 'input'"):
        nn.functional.avg_pool2d([[1.0]], 2)


@pytest.mark.parametrize("data, error, match", [
    (["a", "b"], TypeError, "NumPy reads its values as <U1"),
    ([1.0, None], TypeError, "NumPy reads its values as object"),
    (2 ** 70, TypeError, "integers beyond 64 bits"),
    ([[1, 2], [3]], ValueError, "ragged nested list: every row must have the same length"),
    (np.array([1 + 2j]), TypeError, "array of dtype complex128"),
    (np.array(["x"], dtype=object), TypeError, "array of dtype object"),
    (1 + 2j, TypeError, "cannot make a tensor from complex"),
], ids=["strings", "None", "big-int", "ragged", "complex-array", "objects", "complex"])
def test_tensor_refuses_values_that_are_not_numbers(data, error, match):
    with pytest.raises(error, match=match):
        mg.tensor(data)


def test_tensor_refuses_a_complex_dtype():
    with pytest.raises(TypeError, match="cannot make a tensor of dtype complex128"):
        mg.tensor([1.0], dtype=np.complex128)


# -- 7. matmul: shapes named as PyTorch does, and empty operands ----------------------------

@pytest.mark.parametrize("a, b, text", [
    ((2, 3), (4, 5), "(2x3 and 4x5): the last axis of mat1 (3) must match the second-to-last "
                     "axis of mat2 (4)"),
    ((3,), (4, 5), "(3 and 4x5)"),
    ((2, 3), (4,), "(2x3 and 4): the last axis of mat1 (3) must match the only axis of mat2"),
    ((3,), (4,), "(3 and 4)"),
    ((7, 2, 3), (7, 4, 5), "(7x2x3 and 7x4x5)"),
])
def test_matmul_names_both_shapes(device, a, b, text):
    x, y = mg.zeros(*a, device=device), mg.zeros(*b, device=device)
    with pytest.raises(ValueError, match="mat1 and mat2 shapes cannot be multiplied " +
                       text.replace("(", r"\(").replace(")", r"\)")):
        x @ y


def test_matmul_names_batch_axes_that_do_not_broadcast_and_zero_dim_operands(device):
    with pytest.raises(ValueError, match=r"batch axes .* do not broadcast \(7x2x3 and 6x3x5\)"):
        mg.zeros(7, 2, 3, device=device) @ mg.zeros(6, 3, 5, device=device)
    with pytest.raises(ValueError, match=r"at least one axis, got shapes \(\) and \(3,\)"):
        mg.matmul(mg.zeros((), device=device), mg.zeros(3, device=device))


@pytest.mark.parametrize("a, b", [((0,), (0,)), ((0,), (0, 8)), ((8, 0), (0,)),
                                  ((3, 0), (0, 4)), ((0, 3), (3, 4)), ((2, 0, 3), (3, 4)),
                                  ((0,), (2, 0, 5)), ((2, 4, 0), (0,)), ((0, 3), (3,))],
                         ids=str)
def test_matmul_of_empty_operands_matches_pytorch(torch, device, rng, a, b):
    arrays = [rng.standard_normal(a), rng.standard_normal(b)]
    x, y = (mg.tensor(v, device=device, requires_grad=True) for v in arrays)
    out = x @ y
    seed = rng.standard_normal(out.shape)
    out.backward(mg.tensor(seed, device=device))
    tx, ty = (torch.tensor(v, requires_grad=True) for v in arrays)
    expected = tx @ ty
    expected.backward(torch.tensor(seed))
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(mg.to_numpy(x.grad), tx.grad.numpy())
    np.testing.assert_array_equal(mg.to_numpy(y.grad), ty.grad.numpy())


@pytest.mark.parametrize("a, b", [((3,), (2, 3, 4)), ((2, 1, 3), (3,)), ((3,), (3, 4))],
                         ids=str)
def test_matmul_vector_gradients_over_batches_differentiate_twice(device, rng, a, b):
    x, y = (mg.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in (a, b))
    assert mg.gradcheck(lambda s, t: s @ t, (x, y))
    assert mg.gradgradcheck(lambda s, t: (s @ t) ** 2, (x, y))


# -- 8. nested tuples in an index ----------------------------------------------------------------

def test_a_nested_tuple_is_an_integer_index_as_a_list(torch, device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = mg.tensor(a, device=device, requires_grad=True)
    for key in [((0,),), ((1, 0, 1),), (slice(None), (2, 0)), (Ellipsis, (3, 3, -1))]:
        out = x[key]
        expected = torch.tensor(a)[key]
        np.testing.assert_array_equal(out.numpy(), a[key])
        np.testing.assert_array_equal(out.numpy(), expected.numpy())
        assert mg.gradcheck(lambda t, key=key: t[key], (x,))
    (x[((1, 0, 1),)] * 2).sum().backward()  # row 1 picked twice: its gradient adds up
    np.testing.assert_array_equal(mg.to_numpy(x.grad)[:, 0, 0], [2.0, 4.0])


def test_nested_tuples_beside_other_index_arrays_as_numpy_and_pytorch(torch, rng):
    a = rng.standard_normal((3, 4, 5, 6, 2))
    b, c, d = np.array([0, 3, 1]), np.array([4, 4, 0]), np.array([5, 0, 2])
    key = ((1, 0, -1), b, c, d, slice(None))
    x = mg.tensor(a, requires_grad=True)
    out = x[key]
    np.testing.assert_array_equal(out.numpy(), a[key])
    t = torch.tensor(a, requires_grad=True)
    expected = t[(1, 0, -1), torch.tensor(b), torch.tensor(c), torch.tensor(d), :]
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    seed = rng.standard_normal(out.shape)
    out.backward(mg.tensor(seed))
    expected.backward(torch.tensor(seed))
    np.testing.assert_array_equal(mg.to_numpy(x.grad), t.grad.numpy())


def test_index_lists_and_tuples_are_checked(device):
    x = mg.tensor(X3, device=device)
    assert x[[]].shape == (0, 3, 4) and x[()].shape == (2, 3, 4)  # [] is an integer index
    with pytest.raises(IndexError, match="integer or bool"):
        x[[0.5]]
    with pytest.raises(IndexError, match=r"only integers, slices.*got \(slice"):
        x[((slice(None), 0),)]


def test_a_bool_scalar_index_is_a_mask_not_an_integer():
    a = np.arange(6.0).reshape(2, 3)
    x = mg.tensor(a)
    for key in (True, False, np.True_):
        assert x[key].shape == a[key].shape  # (1, 2, 3) and (0, 2, 3), not row 1 or row 0
