"""matmul: every 1-D case, batches with broadcast batch axes, against np.matmul and finite
differences; dtype and device kept."""

import numpy as np
import pytest

import minigrad as mg

SHAPES = [
    ((3, 4), (4, 2)),  # mat @ mat
    ((4,), (4,)),  # vec @ vec -> scalar
    ((4,), (4, 2)),  # vec @ mat
    ((3, 4), (4,)),  # mat @ vec
    ((4,), (2, 4, 3)),  # vec @ batched
    ((2, 3, 4), (4,)),  # batched @ vec
    ((2, 3, 4), (2, 4, 5)),  # batched @ batched
    ((2, 3, 4), (4, 5)),  # batched @ mat
    ((3, 4), (2, 4, 5)),  # mat @ batched
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch axes on both sides
    ((1, 3, 4), (2, 1, 4, 2)),
    ((1, 1), (1, 1)),
    ((1,), (1, 3)),
]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul(device, rng, shapes):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    ta = mg.tensor(a, device=device, requires_grad=True)
    tb = mg.tensor(b, device=device, requires_grad=True)
    out = ta @ tb
    expected = np.matmul(a, b)
    assert out.shape == expected.shape and out.device is ta.device
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda x, y: x @ y, (ta, tb))


@pytest.mark.parametrize("shapes", [((4,), (4,)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3))],
                         ids=str)
def test_matmul_gradient_by_hand(device, rng, shapes):
    """With upstream gradient G: dA = G @ B^T and dB = A^T @ G, summed over broadcast axes."""
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    ta = mg.tensor(a, device=device, requires_grad=True)
    tb = mg.tensor(b, device=device, requires_grad=True)
    out = mg.matmul(ta, tb)
    upstream = rng.standard_normal(out.shape)
    out.backward(mg.tensor(upstream, device=device))
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = upstream.reshape(np.matmul(a2, b2).shape)  # vectors as 1-row / 1-column matrices
    grad_a = np.matmul(g2, np.swapaxes(b2, -1, -2))
    grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)
    while grad_a.ndim > a2.ndim:
        grad_a = grad_a.sum(axis=0)
    while grad_b.ndim > b2.ndim:
        grad_b = grad_b.sum(axis=0)
    np.testing.assert_allclose(mg.to_numpy(ta.grad), grad_a.reshape(a.shape), rtol=1e-12)
    np.testing.assert_allclose(mg.to_numpy(tb.grad), grad_b.reshape(b.shape), rtol=1e-12)


def test_matmul_with_one_constant_operand(device, rng):
    w = mg.tensor(rng.standard_normal((4, 3)), device=device)
    x = mg.tensor(rng.standard_normal((2, 4)), device=device, requires_grad=True)
    assert mg.gradcheck(lambda t: t @ w, (x,))
    assert mg.gradcheck(lambda t: w.T @ t.T, (x,))
    assert w.grad is None


def test_numpy_array_matmul_tensor_on_cpu(rng):
    host = rng.standard_normal((3, 4))
    x = mg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    out = host @ x
    assert isinstance(out, mg.Tensor)
    np.testing.assert_allclose(out.numpy(), host @ x.numpy(), rtol=1e-12)
    assert mg.gradcheck(lambda t: host @ t, (x,))


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((4,), (4,)), ((4,), (2, 4, 3)),
                                    ((2, 3, 4), (4,))], ids=str)
def test_matmul_keeps_dtype(device, shapes, dtype):
    a = mg.ones(*shapes[0], dtype=dtype, device=device, requires_grad=True)
    b = mg.ones(*shapes[1], dtype=dtype, device=device, requires_grad=True)
    out = a @ b
    assert out.dtype == dtype and out.device is a.device
    out.sum().backward()
    for t in (a, b):
        assert t.device.canonical(t.grad.dtype) == dtype and t.grad.shape == t.shape
