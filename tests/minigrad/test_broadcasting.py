"""Property-based tests of broadcasting binary ops: for random broadcast-compatible shapes, the
forward equals NumPy's and each input's gradient equals the upstream gradient times the local
derivative, summed over the axes that broadcasting added or stretched (computed with NumPy)."""

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

VALUES = st.floats(-4, 4, allow_subnormal=False)
NONZERO = st.one_of(st.floats(0.25, 4), st.floats(-4, -0.25))

# name: (op, NumPy op, elements of b, (G, a, b) -> upstream-shaped gradients of a and b)
OPS = {
    "add": (operator.add, np.add, VALUES, lambda G, a, b: (G, G)),
    "sub": (operator.sub, np.subtract, VALUES, lambda G, a, b: (G, -G)),
    "mul": (operator.mul, np.multiply, VALUES, lambda G, a, b: (G * b, G * a)),
    "div": (operator.truediv, np.divide, NONZERO, lambda G, a, b: (G / b, -G * a / b ** 2)),
    # ties share the gradient equally
    "maximum": (mg.maximum, np.maximum, VALUES,
                lambda G, a, b: (G * ((a > b) + 0.5 * (a == b)), G * ((a < b) + 0.5 * (a == b)))),
    "minimum": (mg.minimum, np.minimum, VALUES,
                lambda G, a, b: (G * ((a < b) + 0.5 * (a == b)), G * ((a > b) + 0.5 * (a == b)))),
}


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient of the broadcast shape back to ``shape``."""
    lead = grad.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] > 1)
    return grad.sum(axis=tuple(range(lead)) + stretched).reshape(shape)


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # `device` is a name
@given(data=st.data())
@pytest.mark.parametrize("name", OPS)
def test_broadcasting_binary_op(device, name, data):
    op, np_op, b_values, local_grads = OPS[name]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    shape_a, shape_b = shapes.input_shapes
    a = data.draw(hnp.arrays(np.float64, shape_a, elements=VALUES), label="a")
    b = data.draw(hnp.arrays(np.float64, shape_b, elements=b_values), label="b")
    upstream = data.draw(hnp.arrays(np.float64, shapes.result_shape, elements=VALUES),
                         label="upstream")

    ta = mg.tensor(a, device=device, requires_grad=True)
    tb = mg.tensor(b, device=device, requires_grad=True)
    out = op(ta, tb)
    assert out.shape == shapes.result_shape and out.device is ta.device
    np.testing.assert_allclose(out.numpy(), np_op(a, b), rtol=1e-13, atol=1e-13)

    out.backward(mg.tensor(upstream, device=device))
    grad_a, grad_b = (np.broadcast_to(g, shapes.result_shape)
                      for g in local_grads(upstream, a, b))
    assert ta.grad.shape == shape_a and tb.grad.shape == shape_b
    np.testing.assert_allclose(mg.to_numpy(ta.grad), unbroadcast(grad_a, shape_a),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mg.to_numpy(tb.grad), unbroadcast(grad_b, shape_b),
                               rtol=1e-12, atol=1e-12)


def test_unbroadcast_reference():
    """The NumPy reference itself, on a case worked by hand."""
    grad = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)),
                                  grad.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(unbroadcast(grad, ()), 276.0)
    np.testing.assert_array_equal(unbroadcast(grad, (2, 3, 4)), grad)
    np.testing.assert_array_equal(unbroadcast(np.ones((2, 3)), (1, 3)), [[2.0, 2.0, 2.0]])
