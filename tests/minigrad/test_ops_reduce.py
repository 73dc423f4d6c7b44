"""Reductions and the softmax family: every axis/keepdims variant against NumPy, gradients by
finite differences, ties of max/min, and numerical stability."""

import numpy as np
import pytest

import minigrad as mg


def np_logsumexp(a, axis=None, keepdims=False):
    shift = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axis)


def np_softmax(a, axis):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


REDUCTIONS = {
    "sum": (mg.sum, np.sum),
    "mean": (mg.mean, np.mean),
    # var and std default to PyTorch's unbiased estimate (correction=1, NumPy's ddof=1)
    "var": (lambda x, axis=None, keepdims=False: x.var(axis, keepdims=keepdims),
            lambda a, axis=None, keepdims=False: np.var(a, axis, ddof=1, keepdims=keepdims)),
    "var-biased": (lambda x, axis=None, keepdims=False: x.var(axis, 0, keepdims), np.var),
    "var-unbiased": (lambda x, axis=None, keepdims=False: x.var(axis, 1, keepdims),
                     lambda a, axis=None, keepdims=False: np.var(a, axis, ddof=1,
                                                                 keepdims=keepdims)),
    "std": (lambda x, axis=None, keepdims=False: x.std(axis=axis, keepdims=keepdims),
            lambda a, axis=None, keepdims=False: np.std(a, axis, ddof=1, keepdims=keepdims)),
    "std-biased": (lambda x, axis=None, keepdims=False: x.std(axis, correction=0,
                                                              keepdims=keepdims), np.std),
    "std-unbiased": (lambda x, axis=None, keepdims=False: x.std(axis, correction=1,
                                                                keepdims=keepdims),
                     lambda a, axis=None, keepdims=False: np.std(a, axis, ddof=1,
                                                                 keepdims=keepdims)),
    # (positionally, x.max(1) is PyTorch's (values, indices): see test_pytorch_conventions.py)
    "max": (lambda x, axis=None, keepdims=False: x.max(axis=axis, keepdims=keepdims), np.max),
    "min": (lambda x, axis=None, keepdims=False: x.min(axis=axis, keepdims=keepdims), np.min),
    "logsumexp": (mg.logsumexp, np_logsumexp),
}
AXES = [None, 0, 1, -1, -3, (0, 2), (-1, 0), (0, 1, 2), [2, 1]]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction(device, rng, name, axis, keepdims):
    fn, np_fn = REDUCTIONS[name]
    a = rng.standard_normal((2, 3, 4))
    x = mg.tensor(a, device=device, requires_grad=True)
    out = fn(x, axis=axis, keepdims=keepdims)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    expected = np_fn(a, axis=np_axis, keepdims=keepdims)
    assert out.shape == np.shape(expected) and out.device is x.device
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda t: fn(t, axis=axis, keepdims=keepdims), (x,))


# Single-element reductions: std has an infinite slope at 0 and correction=1 divides by zero
# (tested in test_reliability_ops.py).
EDGE_OPS = ["sum", "mean", "var-biased", "max", "min", "logsumexp"]


@pytest.mark.parametrize("shape, axis", [((), None), ((), 0), ((), -1), ((), (0,)),
                                         ((1, 3, 1), None), ((1, 3, 1), 0), ((1, 3, 1), -1),
                                         ((1, 3, 1), (0, 2)), ((1, 3, 1), 1), ((3, 1), -2)],
                         ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", EDGE_OPS)
def test_reduction_edge_shapes(device, rng, name, shape, axis, keepdims):
    fn, np_fn = REDUCTIONS[name]
    a = rng.standard_normal(shape)
    x = mg.tensor(a, device=device, requires_grad=True)
    out = fn(x, axis=axis, keepdims=keepdims)
    # NumPy refuses axis=0 on 0-d arrays; PyTorch (and minigrad) reduce a 0-d tensor to itself
    expected = np_fn(a, axis=None if shape == () else axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda t: fn(t, axis=axis, keepdims=keepdims), (x,))


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_axis_errors(device, name):
    fn, _ = REDUCTIONS[name]
    x = mg.zeros(2, 3, device=device)
    with pytest.raises(IndexError, match="axis 2 is out of range"):
        fn(x, axis=2)
    with pytest.raises(IndexError, match="axis -3 is out of range"):
        fn(x, axis=(0, -3))
    with pytest.raises(ValueError, match="repeated axis"):
        fn(x, axis=(1, -1))


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
@pytest.mark.parametrize("name", [*REDUCTIONS, "softmax", "log_softmax"])
def test_reduction_keeps_dtype(device, name, dtype):
    fn = REDUCTIONS[name][0] if name in REDUCTIONS else getattr(mg, name)
    x = mg.tensor([[1.0, -2.0, 3.0], [0.5, 0.25, 4.0]], dtype=dtype, device=device,
                  requires_grad=True)
    for out in (fn(x), fn(x, axis=1)):
        assert out.dtype == dtype and out.device is x.device
        out.sum().backward()
        assert x.device.canonical(x.grad.dtype) == dtype


# -- ties: the gradient is split evenly among equal extremes (like torch.amax / amin) --------

@pytest.mark.parametrize("name, axis, expected", [
    ("max", 1, [[0, 0.5, 0.5, 0], [1 / 3, 1 / 3, 0, 1 / 3]]),
    ("max", None, [[0, 0.5, 0.5, 0], [0, 0, 0, 0]]),
    ("max", 0, [[0, 1, 1, 0], [1, 0, 0, 1]]),
    ("min", 1, [[0.5, 0, 0, 0.5], [0, 0, 1, 0]]),
    ("min", None, [[0, 0, 0, 0], [0, 0, 1, 0]]),
])
def test_extremum_ties_split_the_gradient(device, name, axis, expected):
    a = np.array([[1.0, 3.0, 3.0, 1.0], [2.0, 2.0, 0.0, 2.0]])
    x = mg.tensor(a, device=device, requires_grad=True)
    getattr(x, name)(axis=axis).sum().backward()
    np.testing.assert_allclose(mg.to_numpy(x.grad), expected, rtol=1e-15)


# -- logsumexp, softmax, log_softmax: stability ----------------------------------------------

@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("offset", [1000.0, -1000.0, 1e30])
def test_logsumexp_is_stable_for_large_inputs(device, offset):
    small = np.array([[0.0, 1.0, 2.0], [3.0, 3.0, 3.0]])
    x = mg.tensor(small + offset, device=device, requires_grad=True)
    out = x.logsumexp(axis=1)
    expected = offset + np.log(np.sum(np.exp(small), axis=1))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    out.sum().backward()
    if offset != 1e30:  # at 1e30 the small differences vanish in rounding
        np.testing.assert_allclose(mg.to_numpy(x.grad), np_softmax(small, 1), rtol=1e-9)


def test_logsumexp_of_rows_that_are_all_minus_infinity(device):
    a = np.array([[-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 0.0], [1.0, 2.0, 3.0]])
    x = mg.tensor(a, device=device, requires_grad=True)
    with np.errstate(divide="ignore"):  # log(0) on the all -inf row
        out = x.logsumexp(axis=1)
    np.testing.assert_allclose(out.numpy(), [-np.inf, np.log(2.0), np_logsumexp(a[2])],
                               rtol=1e-12)
    # softmax gradients, zero at -inf entries and for the all -inf row (not nan, which would
    # spread to everything upstream of x)
    out[1:].sum().backward(retain_graph=True)
    expected = [[0, 0, 0], [0, 0.5, 0.5], np_softmax(a[2], 0)]
    np.testing.assert_allclose(mg.to_numpy(x.grad), expected, rtol=1e-12)
    x.grad = None
    out.sum().backward()
    np.testing.assert_allclose(mg.to_numpy(x.grad), expected, rtol=1e-12)


@pytest.mark.parametrize("shape, axis", [((2, 3, 4), -1), ((2, 3, 4), 0), ((2, 3, 4), 1),
                                         ((5,), 0), ((2, 1), 1), ((2, 1), -2)], ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(device, rng, name, shape, axis):
    a = rng.standard_normal(shape)
    x = mg.tensor(a, device=device, requires_grad=True)
    fn = getattr(mg, name)
    s = np_softmax(a, axis)
    expected = s if name == "softmax" else np.log(s)
    out = getattr(x, name)(axis=axis)
    assert out.shape == shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)
    assert mg.gradcheck(lambda t: fn(t, axis=axis), (x,))


@pytest.mark.filterwarnings("error")
def test_softmax_family_is_stable(device):
    a = np.array([[0.0, 1000.0, -1000.0], [1e4, 1e4, 1e4]])
    x = mg.tensor(a, device=device, requires_grad=True)
    np.testing.assert_allclose(x.softmax().numpy(), [[0, 1, 0], [1 / 3, 1 / 3, 1 / 3]],
                               atol=1e-15)
    log_s = x.log_softmax()
    np.testing.assert_allclose(log_s.numpy(), [[-1000, 0, -2000], [-np.log(3)] * 3],
                               rtol=1e-12)
    log_s.sum().backward()
    assert np.all(np.isfinite(mg.to_numpy(x.grad)))
    # d/dx sum(log_softmax) = 1 - n * softmax
    np.testing.assert_allclose(mg.to_numpy(x.grad), [[1, -2, 1], [0, 0, 0]], atol=1e-12)
