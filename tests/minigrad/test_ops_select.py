"""ops/select.py: gather, scatter, scatter_add, scatter_reduce, index_select, take_along_dim,
masked_select, nonzero, one_hot, sort, argsort, topk; and where with numbers. Forward and
gradients against PyTorch (skipped without it), finite differences on every device."""

import numpy as np
import pytest

import minigrad as mg

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the reference")

INDEX = np.array([[0, 1, 2, 0], [2, 2, 1, 0]])  # repeats along dim 0, for a (3, 4) tensor


def weighted_grad_matches(out, expected, leaves, rng):
    """The gradients of a random weighted sum agree: ``leaves`` are (ours, theirs) pairs."""
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    weight = rng.standard_normal(tuple(expected.shape))
    (out * mg.tensor(weight, device=out.device)).sum().backward()
    (expected * torch.tensor(weight)).sum().backward()
    for ours, theirs in leaves:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12,
                                   atol=1e-14)


@needs_torch
@pytest.mark.parametrize("dim", [0, -1])
def test_gather(device, rng, dim):
    x = rng.standard_normal((3, 4))
    index = INDEX if dim == 0 else np.array([[3, 0], [1, 1], [2, 3]])
    t, r = mg.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = t.gather(dim, mg.tensor(index, device=device))
    weighted_grad_matches(out, torch.gather(r, dim, torch.tensor(index)), [(t, r)], rng)
    assert mg.gradcheck(lambda a: mg.gather(a, dim, index), (t,))
    assert mg.gradgradcheck(lambda a: mg.gather(a, dim, index) ** 2, (t,),
                            fast=device == "strict:device1")


def test_gather_errors_and_edges(device):
    x = mg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    with pytest.raises(IndexError):
        mg.gather(x, 1, mg.tensor([[3]], device=device))
    with pytest.raises(RuntimeError):
        mg.gather(x, 0, mg.tensor([0], device=device))
    with pytest.raises(TypeError):
        mg.gather(x, 0, mg.tensor([[0.0]], device=device))
    assert mg.gather(x, 0, mg.tensor(np.zeros((0, 3), dtype=np.int64), device=device)).shape \
        == (0, 3)
    scalar = mg.tensor(5.0, device=device)
    assert mg.gather(scalar, 0, mg.tensor(0, device=device)).item() == 5.0


@needs_torch
def test_scatter_add_and_scatter(device, rng):
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    for op in ("scatter_add", "scatter"):
        index = INDEX if op == "scatter_add" else np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
        t = mg.tensor(x, device=device, requires_grad=True)
        s = mg.tensor(src, device=device, requires_grad=True)
        r, rs = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
        out = getattr(t, op)(0, mg.tensor(index, device=device), s)
        expected = getattr(torch, op)(r, 0, torch.tensor(index), rs)
        weighted_grad_matches(out, expected, [(t, r), (s, rs)], rng)
        assert mg.gradcheck(lambda a, b: getattr(mg, op)(a, 0, index, b), (t, s))  # noqa: B023
    # src may be larger than index: only its first index.shape part is read (PyTorch's
    # backward fails there, so only the values are compared)
    big = rng.standard_normal((3, 5))
    np.testing.assert_allclose(
        mg.scatter_add(mg.tensor(x, device=device), 0, mg.tensor(INDEX, device=device),
                       mg.tensor(big, device=device)).numpy(),
        torch.scatter_add(torch.tensor(x), 0, torch.tensor(INDEX), torch.tensor(big)).numpy())
    value = mg.scatter(mg.tensor(x, device=device), 1, mg.tensor([[0], [2], [1]], device=device),
                       value=7.0)
    np.testing.assert_array_equal(value.numpy(), torch.tensor(x).scatter(
        1, torch.tensor([[0], [2], [1]]), 7.0).numpy())


def test_scatter_repeated_index_last_write_wins(device):
    x = mg.tensor(np.zeros(3), device=device)
    out = mg.scatter(x, 0, mg.tensor([1, 1, 1], device=device),
                     mg.tensor([1.0, 2.0, 3.0], device=device))
    np.testing.assert_array_equal(out.numpy(), [0.0, 3.0, 0.0])


@needs_torch
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce(device, rng, reduce, include_self):
    x = rng.standard_normal((3, 4))
    src = rng.standard_normal((2, 4))
    src[1, 0] = src[0, 0] = 5.0  # a tie between two sources at x[0, 0]... and for amin:
    src[0, 3] = src[1, 3] = -5.0  # and with x itself (only when x takes part: PyTorch
    x[0, 3] = -5.0 if include_self else 0.0  # counts x in the ties even when it does not)
    t = mg.tensor(x, device=device, requires_grad=True)
    s = mg.tensor(src, device=device, requires_grad=True)
    r, rs = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    out = t.scatter_reduce(0, mg.tensor(INDEX, device=device), s, reduce,
                           include_self=include_self)
    expected = r.scatter_reduce(0, torch.tensor(INDEX), rs, reduce, include_self=include_self)
    weighted_grad_matches(out, expected, [(t, r), (s, rs)], rng)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_gradcheck(device, rng, reduce):
    t = mg.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    s = mg.tensor(rng.standard_normal((2, 4)), device=device, requires_grad=True)
    fn = lambda a, b: mg.scatter_reduce(a, 0, INDEX, b, reduce)  # noqa: E731
    assert mg.gradcheck(fn, (t, s))
    assert mg.gradgradcheck(lambda a, b: fn(a, b) ** 2, (t, s), fast=device == "strict:device1")


@needs_torch
def test_index_select_take_along_dim_masked_select(device, rng):
    x = rng.standard_normal((3, 4))
    t, r = mg.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    index = np.array([2, 0, 2])
    weighted_grad_matches(t.index_select(-1, mg.tensor(index, device=device)),
                          r.index_select(-1, torch.tensor(index)), [(t, r)], rng)
    t.grad, r.grad = None, None
    along = np.array([[1], [0], [3]])
    weighted_grad_matches(mg.take_along_dim(t, mg.tensor(along, device=device), 1),
                          torch.take_along_dim(r, torch.tensor(along), 1), [(t, r)], rng)
    t.grad, r.grad = None, None
    broadcast = np.array([[0, 2, 1, 1]])  # (1, 4) against (3, 4) along dim 0
    weighted_grad_matches(mg.take_along_dim(t, mg.tensor(broadcast, device=device), 0),
                          torch.take_along_dim(r, torch.tensor(broadcast), 0), [(t, r)], rng)
    flat = np.array([11, 0, 5])
    np.testing.assert_array_equal(mg.take_along_dim(t, flat).numpy(),
                                  torch.take_along_dim(r, torch.tensor(flat)).detach().numpy())
    t.grad, r.grad = None, None
    mask = np.array([True, False, True, True])  # broadcast over the rows
    weighted_grad_matches(t.masked_select(mg.tensor(mask, device=device)),
                          r.masked_select(torch.tensor(mask)), [(t, r)], rng)
    assert mg.gradcheck(lambda a: mg.index_select(a, 0, [1, 1]), (t,))
    assert mg.gradcheck(lambda a: mg.masked_select(a, mask), (t,))
    with pytest.raises(IndexError):
        mg.index_select(t, 0, [3])


@needs_torch
def test_nonzero_and_one_hot(device):
    x = np.array([[0, 1.5, 0], [2, 0, -1]])
    t = mg.tensor(x, device=device)
    np.testing.assert_array_equal(t.nonzero().numpy(), torch.tensor(x).nonzero().numpy())
    for ours, theirs in zip(mg.nonzero(t, as_tuple=True), torch.tensor(x).nonzero(as_tuple=True),
                            strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.nonzero(mg.tensor(np.zeros((0, 2)), device=device)).shape == (0, 2)
    assert mg.nonzero(mg.tensor(3.0, device=device)).shape == (1, 0)
    labels = np.array([[0, 2], [1, 2]])
    out = mg.nn.functional.one_hot(mg.tensor(labels, device=device))
    assert out.dtype == mg.int64
    np.testing.assert_array_equal(out.numpy(), torch.nn.functional.one_hot(
        torch.tensor(labels)).numpy())
    assert mg.one_hot(mg.tensor([1], device=device), 4).shape == (1, 4)
    with pytest.raises(RuntimeError):
        mg.one_hot(mg.tensor([4], device=device), 3)


@needs_torch
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, -1])
def test_sort_argsort_stable_with_ties_and_nan(device, rng, dim, descending):
    x = np.array([[3.0, 1.0, np.nan, 1.0, 2.0], [0.0, 0.0, -1.0, 5.0, 0.0]])
    t = mg.tensor(x, device=device)
    values, indices = mg.sort(t, dim, descending=descending, stable=True)
    expected = torch.sort(torch.tensor(x), dim=dim, descending=descending, stable=True)
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    np.testing.assert_array_equal(t.argsort(dim, descending=descending).numpy(),
                                  expected.indices.numpy())
    distinct = mg.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    assert mg.gradcheck(lambda a: mg.sort(a, dim, descending)[0], (distinct,))


@needs_torch
@pytest.mark.parametrize("largest", [True, False])
def test_topk(device, rng, largest):
    x = rng.standard_normal((3, 5))
    t, r = mg.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    values, indices = t.topk(2, dim=1, largest=largest)
    expected = torch.topk(r, 2, dim=1, largest=largest)
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    weighted_grad_matches(values, expected.values, [(t, r)], rng)
    assert mg.topk(t, 0, dim=0).values.shape == (0, 5)
    with pytest.raises(RuntimeError):
        mg.topk(t, 6)


def test_sort_edge_cases(device):
    scalar = mg.tensor(2.0, device=device)
    values, indices = mg.sort(scalar)
    assert values.item() == 2.0 and indices.item() == 0
    empty = mg.tensor(np.zeros((0, 3)), device=device)
    assert mg.sort(empty, 0).values.shape == (0, 3)
    ints = mg.tensor([3, 1, 2], device=device)
    assert mg.sort(ints).values.tolist() == [1, 2, 3]


@needs_torch
def test_where_with_numbers(device, rng):
    x = rng.standard_normal((2, 3))
    t, r = mg.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    weighted_grad_matches(mg.where(t > 0, t, 0.0), torch.where(r > 0, r, 0.0), [(t, r)], rng)
    out = mg.where(mg.tensor(x > 0, device=device), 1.0, -1.0)
    np.testing.assert_array_equal(out.numpy(), np.where(x > 0, 1.0, -1.0))


SELECTIONS = {
    "sort": lambda a: mg.sort(a, 0, descending=True).values,
    "topk": lambda a: mg.topk(a, 2).values,
    "index_select": lambda a: mg.index_select(a, 1, [0, 0, 3]),
    "take_along_dim": lambda a: mg.take_along_dim(a, np.array([[2], [0], [1]]), 1),
    "masked_select": lambda a: mg.masked_select(a, np.array([True, False, False, True])),
    "scatter": lambda a: mg.scatter(a, 0, np.array([[2, 0, 1, 1]]), a[:1] * 2),
    "scatter_add": lambda a: mg.scatter_add(a, 1, np.array([[0, 0], [1, 3], [3, 3]]), a[:, :2]),
}


@pytest.mark.parametrize("name", SELECTIONS)
def test_selection_gradgrad(device, rng, name):
    t = mg.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    fn = lambda a: SELECTIONS[name](a) ** 2  # noqa: E731  (squared: a nonzero second derivative)
    assert mg.gradcheck(fn, (t,))
    assert mg.gradgradcheck(fn, (t,), fast=device == "strict:device1")


def test_zero_d_selections(device):
    x = mg.tensor(3.0, device=device, dtype=mg.float64, requires_grad=True)
    zero = mg.tensor(0, device=device)
    for out in (mg.gather(x, 0, zero), mg.sort(x).values, mg.topk(x, 1).values,
                mg.index_select(x, 0, zero), mg.scatter_add(x, 0, zero, x)):
        assert out.shape == ()
    assert mg.scatter_add(x, 0, zero, x).item() == 6.0
    assert mg.gradcheck(lambda a: mg.scatter_reduce(a, 0, zero, a * 2, "amax"), (x,))
    flag = mg.tensor(True, device=device)
    assert mg.sort(flag).values.dtype == mg.bool_


@needs_torch
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_integers(device, reduce, include_self):
    x, src = np.array([[1, 5, 3], [2, 2, 9]]), np.array([[4, 4, 4], [7, 1, -2]])
    index = np.array([[0, 0, 1], [1, 0, 0]])
    out = mg.scatter_reduce(mg.tensor(x, device=device), 0, mg.tensor(index, device=device),
                            mg.tensor(src, device=device), reduce, include_self=include_self)
    expected = torch.tensor(x).scatter_reduce(0, torch.tensor(index), torch.tensor(src), reduce,
                                              include_self=include_self)
    assert out.dtype == mg.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


@needs_torch
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("zeros", ["one-in-src", "two-at-a-position", "in-x"])
def test_scatter_reduce_prod_with_zeros(device, rng, zeros, include_self):
    x, src = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (2, 4))
    if zeros == "one-in-src":
        src[0, 1] = 0.0
    elif zeros == "two-at-a-position":  # index[:, 1] = [1, 2]; index[:, 3] = [0, 0]
        src[0, 3] = src[1, 3] = 0.0
        x[1, 3] = 0.0
    else:
        x[0, 0] = x[2, 1] = 0.0
    t = mg.tensor(x, device=device, requires_grad=True)
    s = mg.tensor(src, device=device, requires_grad=True)
    r, rs = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    out = mg.scatter_reduce(t, 0, mg.tensor(INDEX, device=device), s, "prod",
                            include_self=include_self)
    expected = r.scatter_reduce(0, torch.tensor(INDEX), rs, "prod", include_self=include_self)
    weighted_grad_matches(out, expected, [(t, r), (s, rs)], rng)
    assert mg.gradcheck(lambda a, b: mg.scatter_reduce(a, 0, INDEX, b, "prod",
                                                       include_self=include_self), (t, s))


def test_scatter_with_reduce_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.arange(1.0, 7.0).reshape(2, 3)
    index = np.array([[0, 1, 0], [1, 0, 0]])
    src = np.arange(2.0, 8.0).reshape(2, 3)
    for reduce in ("add", "multiply"):
        ours = mg.scatter(mg.tensor(x), 0, mg.tensor(index), mg.tensor(src), reduce=reduce)
        theirs = torch.tensor(x).scatter(0, torch.tensor(index), torch.tensor(src),
                                         reduce=reduce)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
        ours = mg.scatter(mg.tensor(x), 0, mg.tensor(index), value=3.0, reduce=reduce)
        theirs = torch.tensor(x).scatter(0, torch.tensor(index), 3.0, reduce=reduce)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match="'add' or 'multiply'"):
        mg.scatter(mg.tensor(x), 0, mg.tensor(index), mg.tensor(src), reduce="max")
