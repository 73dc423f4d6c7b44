"""ops/scan.py: prod, any, all, cumsum, cumprod, cummax, cummin, logcumsumexp, var_mean,
std_mean. Forward and gradients against PyTorch (skipped without it), finite differences on
every device, zeros in products, empty and 0-d tensors, negative dims."""

import numpy as np
import pytest

import minigrad as mg

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the reference")


def both(x, device, requires_grad=True):
    return (mg.tensor(x, device=device, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def check_against_torch(ours, theirs, t, r, rng):
    """Forward values and the gradient of a random weighted sum agree with PyTorch's."""
    out, expected = ours(t), theirs(r)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    weight = rng.standard_normal(tuple(expected.shape))
    (out * mg.tensor(weight, device=t.device)).sum().backward()
    (expected * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), rtol=1e-10, atol=1e-12)


PRODUCT_INPUTS = {
    "plain": np.array([[1.5, -2.0, 0.5], [0.3, 2.0, -1.2]]),
    "one-zero": np.array([[1.5, 0.0, 0.5], [0.3, 2.0, -1.2]]),
    "two-zeros": np.array([[0.0, 0.0, 0.5], [0.0, 2.0, -1.2]]),
}


@needs_torch
@pytest.mark.parametrize("case", PRODUCT_INPUTS)
@pytest.mark.parametrize("dim", [None, 0, -1])
def test_prod_with_zeros(device, rng, case, dim):
    t, r = both(PRODUCT_INPUTS[case], device)
    if dim is None:
        check_against_torch(mg.prod, torch.prod, t, r, rng)
    else:
        check_against_torch(lambda x: x.prod(dim, keepdim=True),
                            lambda x: x.prod(dim, keepdim=True), t, r, rng)


@pytest.mark.parametrize("case", PRODUCT_INPUTS)
def test_prod_gradgrad(device, case):
    t = mg.tensor(PRODUCT_INPUTS[case], device=device, requires_grad=True)
    assert mg.gradcheck(lambda x: mg.prod(x, 1), (t,))
    assert mg.gradgradcheck(lambda x: mg.prod(x, 1), (t,), fast=device == "strict:device1")


@needs_torch
def test_prod_edge_cases(device):
    empty = mg.tensor(np.zeros((2, 0)), device=device, requires_grad=True)
    out = mg.prod(empty, 1)
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0])
    out.sum().backward()
    assert empty.grad.shape == (2, 0)
    scalar = mg.tensor(3.0, device=device)
    assert mg.prod(scalar).item() == 3.0 and mg.prod(scalar, 0).item() == 3.0
    ints = mg.tensor([[1, 2], [3, 4]], device=device)
    assert mg.prod(ints).item() == 24 and mg.prod(ints).dtype == mg.int64
    assert mg.prod(mg.tensor([True, False], device=device)).dtype == mg.int64


@needs_torch
@pytest.mark.parametrize("name", ["any", "all"])
def test_any_all(device, name):
    x = np.array([[0, 1, 0], [0, 0, 0]])
    t, r = mg.tensor(x, device=device), torch.tensor(x)
    for args in [(), (0,), (-1,)]:
        np.testing.assert_array_equal(getattr(t, name)(*args).numpy(),
                                      getattr(r, name)(*args).numpy())
    np.testing.assert_array_equal(getattr(mg, name)(t, 1, keepdim=True).numpy(),
                                  getattr(torch, name)(r, 1, keepdim=True).numpy())
    empty = mg.tensor(np.zeros((0,)), device=device)
    assert getattr(mg, name)(empty).item() == getattr(torch, name)(torch.zeros(0)).item()


@needs_torch
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
def test_scans_match_torch(device, rng, name, dim):
    x = rng.uniform(-2, 2, (3, 4))
    t, r = both(x, device)
    check_against_torch(lambda a: getattr(a, name)(dim) if name != "logcumsumexp"
                        else mg.logcumsumexp(a, dim), lambda a: getattr(torch, name)(a, dim),
                        t, r, rng)


@needs_torch
def test_cumprod_with_zeros(device, rng):
    x = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.0, 1.0, -2.0, 4.0, 0.5]])
    t, r = both(x, device)
    check_against_torch(lambda a: mg.cumprod(a, 1), lambda a: torch.cumprod(a, 1), t, r, rng)


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
def test_scan_gradgrad(device, rng, name):
    x = rng.uniform(-2, 2, (2, 4))
    x[0, 1] = 0.0 if name == "cumprod" else x[0, 1]  # the exact (n^2) path of cumprod too
    t = mg.tensor(x, device=device, requires_grad=True)
    fn = lambda a: getattr(mg, name)(a, -1)  # noqa: E731
    assert mg.gradcheck(fn, (t,))
    assert mg.gradgradcheck(fn, (t,), fast=device == "strict:device1")


@needs_torch
def test_scan_edge_cases(device):
    ints = mg.tensor([1, 2, 3], device=device)
    assert mg.cumsum(ints, 0).dtype == mg.int64 and mg.cumsum(ints, 0).tolist() == [1, 3, 6]
    assert mg.cumprod(ints, 0).tolist() == [1, 2, 6]
    bools = mg.tensor([True, True, False], device=device)
    assert mg.cumsum(bools, 0).tolist() == [1, 2, 2]
    scalar = mg.tensor(2.0, device=device, dtype=mg.float64, requires_grad=True)
    for fn in (mg.cumsum, mg.cumprod, mg.logcumsumexp):
        out = fn(scalar, 0)
        assert out.shape == () and mg.gradcheck(lambda a: fn(a, 0), (scalar,))  # noqa: B023
    empty = mg.tensor(np.zeros((0, 3)), device=device, requires_grad=True)
    for fn in (mg.cumsum, mg.cumprod, mg.logcumsumexp):
        out = fn(empty, 0)
        assert out.shape == (0, 3)
        out.sum().backward()
    with pytest.raises(IndexError):
        mg.cumsum(ints, 1)
    big = np.array([-1000.0, 0.0, 1000.0, -np.inf])
    np.testing.assert_allclose(mg.logcumsumexp(mg.tensor(big, device=device), 0).numpy(),
                               torch.logcumsumexp(torch.tensor(big), 0).numpy())


@needs_torch
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin(device, rng, name):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 5.0, 0.0], [2.0, 1.0, 1.0, 4.0, 4.0, 4.0]])
    t, r = both(x, device)
    values, indices = getattr(t, name)(1)
    expected = getattr(torch, name)(r, 1)
    np.testing.assert_array_equal(values.numpy(), expected.values.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    assert indices.dtype == mg.int64
    weight = rng.standard_normal(x.shape)
    (values * mg.tensor(weight, device=device)).sum().backward()
    (expected.values * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy())
    with_nan = np.array([1.0, np.nan, 3.0, 0.0])
    ours = getattr(mg, name)(mg.tensor(with_nan, device=device), 0)
    theirs = getattr(torch, name)(torch.tensor(with_nan), 0)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    t2 = mg.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    assert mg.gradcheck(lambda a: getattr(mg, name)(a, 0).values, (t2,))


@needs_torch
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_std_mean(device, rng, name):
    x = rng.standard_normal((3, 4))
    t = mg.tensor(x, device=device)
    for kwargs in [{}, {"dim": 1}, {"dim": 0, "correction": 0, "keepdim": True}]:
        spread, mean = getattr(mg, name)(t, **kwargs)
        expected = getattr(torch, name)(torch.tensor(x), **kwargs)
        np.testing.assert_allclose(spread.numpy(), expected[0].numpy(), rtol=1e-12)
        np.testing.assert_allclose(mean.numpy(), expected[1].numpy(), rtol=1e-12)


@needs_torch
def test_logcumsumexp_leading_minus_infinity(device):
    x = np.array([-np.inf, -np.inf, 1.0, 2.0])
    t, r = both(x, device)
    out, expected = mg.logcumsumexp(t, 0), torch.logcumsumexp(r, 0)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy())  # nan where undefined, as torch
