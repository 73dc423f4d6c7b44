"""gradgradcheck: it catches wrong second derivatives, and every converted op passes it.

Second derivatives are checked against central differences of first-order gradients (see
minigrad/gradcheck.py), so a backward recorded with create_graph=True that computes the right
first derivative from the wrong graph (a constant where a tensor belongs) is caught.
"""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import _from_op

# -- ops with a planted error --------------------------------------------------------------


def square(x, constant_at=None):
    """x^2 with the right first derivative 2 g x everywhere. Where the boolean NumPy mask
    ``constant_at`` is True the backward reads 2 x from a constant array captured in the
    forward pass instead of the saved tensor, so the recorded gradient does not depend on x
    there and the second derivative comes out 0 instead of 2."""
    mask = np.zeros(x.shape, dtype=bool) if constant_at is None else constant_at
    keep = x.device.from_numpy(~mask, x.dtype)
    frozen = x.device.from_numpy(mask, x.dtype) * (2 * x.data)

    def backward(ctx, g):
        (x_,) = ctx.saved
        return (g * (2 * x_ * keep + frozen),)

    return _from_op(x.data * x.data, (x,), backward, saved=(x,))


def product_with_frozen_partners(a, b):
    """a * b whose backward multiplies g by constant copies of the partners: first derivatives
    right, but the mixed second derivative d^2(ab)/(da db) = 1 comes out 0."""
    a_value, b_value = a.data, b.data

    def backward(ctx, g):
        return g * b_value, g * a_value

    return _from_op(a.data * b.data, (a, b), backward)


def only_at(shape, index):
    mask = np.zeros(shape, dtype=bool)
    mask[index] = True
    return mask


@pytest.fixture
def x(device, rng):
    return mg.tensor(rng.standard_normal((2, 3)) + 2, device=device, requires_grad=True)


def test_passes_the_correct_square(x):
    assert mg.gradgradcheck(square, (x,)) is True
    assert mg.gradgradcheck(square, x, fast=True)


def test_catches_a_backward_built_from_constants_that_gradcheck_passes(x):
    frozen_everywhere = np.ones(x.shape, dtype=bool)
    assert mg.gradcheck(lambda t: square(t, frozen_everywhere), (x,))
    with pytest.raises(mg.GradcheckError, match="second-order gradient mismatch"):
        mg.gradgradcheck(lambda t: square(t, frozen_everywhere), (x,))
    with pytest.raises(mg.GradcheckError, match=r"directional second derivative mismatch"):
        mg.gradgradcheck(lambda t: square(t, frozen_everywhere), (x,), fast=True)


def test_names_the_element_with_the_wrong_second_derivative(x):
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradgradcheck(lambda t: square(t, only_at(t.shape, (1, 2))), (x,))
    found = re.search(r"tensor 0 \(shape \(2, 3\)\) at index \(1, 2\): "
                      r"analytic (\S+), numeric (\S+), error", str(info.value))
    assert found, str(info.value)
    assert float(found[1]) == 0.0  # the frozen element's recorded gradient has no slope
    assert abs(float(found[2])) > 1e-3


def test_catches_a_wrong_mixed_second_derivative(device, rng):
    a = mg.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    b = mg.tensor(rng.standard_normal(4), device=device, requires_grad=True)
    assert mg.gradcheck(product_with_frozen_partners, (a, b))
    with pytest.raises(mg.GradcheckError):
        mg.gradgradcheck(product_with_frozen_partners, (a, b))
    assert mg.gradgradcheck(lambda u, v: u * v, (a, b))


def test_an_error_is_an_assertion_error(x):
    with pytest.raises(AssertionError):
        mg.gradgradcheck(lambda t: square(t, only_at(t.shape, (0, 0))), (x,))


@pytest.mark.parametrize("fast", [False, True])
def test_checks_params_as_well_as_inputs(device, rng, x, fast):
    w = mg.tensor(rng.standard_normal(3) + 2, device=device, requires_grad=True)
    assert mg.gradgradcheck(lambda t: t * square(w), (x,), params=(w,), fast=fast)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradgradcheck(lambda t: t * square(w, only_at(w.shape, 2)), (x,), params=(w,),
                         fast=fast)
    if not fast:
        assert "tensor 1 (shape (3,)) at index (2,)" in str(info.value)
    w.requires_grad_(False)  # a parameter that needs no gradient is a constant
    assert mg.gradgradcheck(lambda t: t * square(w, only_at(w.shape, 2)), (x,), params=(w,),
                            fast=fast)


def test_tolerances_decide(device, rng):
    # A second derivative off by a relative 1e-4: within rtol=1e-3, outside rtol=1e-6.
    x = mg.tensor(rng.standard_normal(3) + 2, device=device, requires_grad=True)
    off = x.device.from_numpy(np.full(3, 1e-4), x.dtype)

    def slightly_wrong(t):
        frozen = 2 * t.data * t.data * off

        def backward(ctx, g):  # 2 x at x, but its derivative is 2 + 4e-4 x, not 2
            (t_,) = ctx.saved
            return (g * (2 * t_ + 2 * t_ * t_ * off - frozen),)

        return _from_op(t.data * t.data, (t,), backward, saved=(t,))

    assert mg.gradcheck(slightly_wrong, (x,), rtol=1e-9, atol=1e-9)
    assert mg.gradgradcheck(slightly_wrong, (x,))
    with pytest.raises(mg.GradcheckError):
        mg.gradgradcheck(slightly_wrong, (x,), rtol=1e-6, atol=1e-9)


def test_functions_with_zero_second_derivative_pass(device, x):
    assert mg.gradgradcheck(lambda t: 3 * t + 1, (x,))
    assert mg.gradgradcheck(lambda t: t.sum() - t[0, 1], (x,), fast=True)


def test_a_tensor_the_function_ignores_passes(device, rng, x):
    unused = mg.tensor(rng.standard_normal(2), device=device, requires_grad=True)
    assert mg.gradgradcheck(lambda t, u: t.tanh(), (x, unused))


def test_leaves_inputs_and_their_grad_unchanged(x):
    before = x.numpy().copy()
    mg.gradgradcheck(lambda t: t.tanh(), (x,))
    mg.gradgradcheck(lambda t: t.tanh(), (x,), fast=True)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None


def test_refuses_float32_and_says_why(device):
    x32 = mg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(TypeError, match=r"float64.*float32.*rounding error.*\.double\(\)"):
        mg.gradgradcheck(lambda t: t * t, (x32,))


def test_needs_something_to_check(device):
    with pytest.raises(ValueError, match="nothing to check"):
        mg.gradgradcheck(lambda t: t * 2, (mg.tensor([1.0], dtype=mg.float64, device=device),))


# -- every op whose backward is recorded under create_graph -------------------------------------
# Each case: (function, input arrays). Piecewise-linear and linear ops have zero second
# derivatives of their own, so their output goes through curved(y) = y * y: the second
# derivative of the composition then runs through the op's recorded backward (and the
# backward of that). Inputs keep away from kinks, ties and clamp bounds by far more than eps.


def curved(y):
    return y * y


def _normal(*shape):
    return np.random.default_rng(sum(shape) + len(shape)).standard_normal(shape)


def _positive(*shape):
    return 0.5 + np.random.default_rng(7 + sum(shape)).random(shape)


def _away_from_zero(*shape):
    """Values with |x| in [0.2, 1.2] and both signs."""
    rng = np.random.default_rng(11 + sum(shape))
    return rng.choice([-1.0, 1.0], shape) * (0.2 + rng.random(shape))


def _distinct(*shape):
    """A permutation of well separated values (no ties for max/min)."""
    n = int(np.prod(shape))
    return np.random.default_rng(3).permutation(np.linspace(-1.5, 1.5, n)).reshape(shape)


CLAMPED = np.array([[-1.4, -0.6, 0.1], [0.5, 0.9, 1.7]])  # below, inside and above [-0.5, 0.8]
CONDITION = np.array([[True, False, True], [False, False, True]])

ELEMENTWISE = {
    "add": (lambda a, b: curved(a + b), (_normal(2, 3), _normal(3))),
    "sub": (lambda a, b: curved(a - b), (_normal(2, 3), _normal(2, 1))),
    "mul": (lambda a, b: a * b, (_normal(2, 3), _normal(3))),
    "mul-self": (lambda a: a * a * a, (_normal(2, 3),)),
    "div": (lambda a, b: a / b, (_normal(2, 3), _positive(2, 3))),
    "div-by-number": (lambda a: curved(a / 3.0), (_normal(2, 3),)),
    "rdiv": (lambda b: 2.0 / b, (_positive(2, 3),)),
    "pow-tensor-exponent": (lambda a, b: a ** b, (_positive(2, 3), _normal(2, 3))),
    "pow-number-exponent": (lambda a: a ** 3, (_normal(2, 3),)),
    "pow-fractional-exponent": (lambda a: a ** 1.5, (_positive(2, 3),)),
    "pow-positive-base": (lambda b: 2.5 ** b, (_normal(2, 3),)),
    "neg": (lambda a: curved(-a), (_normal(2, 3),)),
    "exp": (lambda a: a.exp(), (_normal(2, 3),)),
    "log": (lambda a: a.log(), (_positive(2, 3),)),
    "sqrt": (lambda a: a.sqrt(), (_positive(2, 3),)),
    "abs": (lambda a: curved(a.abs()) * a, (_away_from_zero(2, 3),)),
    "clamp": (lambda a: curved(a.clamp(-0.5, 0.8)), (CLAMPED,)),
    "clamp-min": (lambda a: curved(mg.clamp(a, min=-0.5)), (CLAMPED,)),
    "clamp-max": (lambda a: curved(mg.clamp(a, max=0.8)), (CLAMPED,)),
    "maximum": (lambda a, b: curved(mg.maximum(a, b)), (_distinct(2, 3), _distinct(3) + 0.05)),
    "minimum": (lambda a, b: curved(a.minimum(b)), (_distinct(2, 3), _distinct(2, 3) * -1)),
    "where": (lambda a, b: curved(mg.where(mg.tensor(CONDITION, device=a.device), a, b)),
              (_normal(2, 3), _normal(3))),
}

ACTIVATIONS = {
    "relu": (lambda a: curved(a.relu()), (_away_from_zero(2, 3),)),
    "leaky_relu": (lambda a: curved(mg.leaky_relu(a, 0.1)), (_away_from_zero(2, 3),)),
    "elu": (lambda a: a.elu(), (_away_from_zero(2, 3),)),
    "elu-alpha": (lambda a: mg.elu(a, alpha=0.7), (_away_from_zero(2, 3),)),
    "sigmoid": (lambda a: a.sigmoid(), (_normal(2, 3),)),
    "tanh": (lambda a: a.tanh(), (_normal(2, 3),)),
    "softplus": (lambda a: a.softplus(), (_normal(2, 3),)),
    "gelu": (lambda a: a.gelu(), (_normal(2, 3),)),
    "silu": (lambda a: a.silu(), (_normal(2, 3),)),
}

REDUCTIONS = {
    "sum": (lambda a: curved(a.sum()), (_normal(2, 3),)),
    "sum-axis": (lambda a: curved(a.sum(axis=1)), (_normal(2, 3),)),
    "sum-axes-keepdims": (lambda a: curved(a.sum(axis=(0, 2), keepdims=True)),
                          (_normal(2, 3, 2),)),
    "mean": (lambda a: curved(a.mean()), (_normal(2, 3),)),
    "mean-axis-keepdims": (lambda a: curved(a.mean(axis=-1, keepdims=True)), (_normal(2, 3),)),
    "var": (lambda a: a.var(), (_normal(2, 3),)),
    "var-axis-unbiased": (lambda a: a.var(axis=0, correction=1), (_normal(3, 2),)),
    "var-keepdims": (lambda a: curved(a.var(axis=1, keepdims=True)), (_normal(2, 3),)),
    "std": (lambda a: a.std(), (_normal(2, 3),)),
    "std-axis-keepdims": (lambda a: a.std(axis=1, keepdims=True), (_normal(2, 3),)),
    "max": (lambda a: curved(a.max()), (_distinct(2, 3),)),
    "max-axis": (lambda a: curved(a.max(axis=0)), (_distinct(2, 3),)),
    "min-axis-keepdims": (lambda a: curved(a.min(axis=1, keepdims=True)), (_distinct(2, 3),)),
    "logsumexp": (lambda a: a.logsumexp(), (_normal(2, 3),)),
    "logsumexp-axis": (lambda a: a.logsumexp(axis=1), (_normal(2, 3),)),
    "logsumexp-axes-keepdims": (lambda a: mg.logsumexp(a, axis=(0, 1), keepdims=True),
                                (_normal(2, 3, 2),)),
    "softmax": (lambda a: a.softmax(), (_normal(2, 3),)),
    "softmax-axis0": (lambda a: a.softmax(axis=0), (_normal(3, 2),)),
    "log_softmax": (lambda a: a.log_softmax(), (_normal(2, 3),)),
    "log_softmax-axis0": (lambda a: mg.log_softmax(a, axis=0), (_normal(3, 2),)),
}

SHAPES = {
    "reshape": (lambda a: a.reshape(3, -1) @ a.reshape(2, 3), (_normal(2, 3),)),
    "flatten": (lambda a: curved(a.flatten(1)), (_normal(2, 2, 2),)),
    "permute": (lambda a: curved(a.permute(2, 0, 1)), (_normal(2, 3, 2),)),
    "transpose": (lambda a: a.transpose() @ a, (_normal(2, 3),)),
    ".T": (lambda a: a.T @ a.exp(), (_normal(2, 3),)),
    "squeeze": (lambda a: curved(a.squeeze()), (_normal(1, 3, 1),)),
    "unsqueeze": (lambda a: curved(a.unsqueeze(1)) * a.unsqueeze(0), (_normal(3),)),
    "expand": (lambda a: curved(a.expand(2, -1, 3)), (_normal(1, 3),)),
    "broadcast_to": (lambda a: curved(mg.broadcast_to(a, (2, 3))), (_normal(3),)),
    "getitem-slices": (lambda a: curved(a[1:, ::2]) * a[:1, :2], (_normal(3, 4),)),
    "getitem-int-and-none": (lambda a: curved(a[1, None, :]), (_normal(3, 4),)),
    "getitem-repeated-indices": (lambda a: curved(a[[0, 2, 0, 0]]), (_normal(3, 2),)),
    "getitem-index-on-an-axis": (lambda a: curved(a[:, np.array([1, 1, 0])]), (_normal(2, 3),)),
    "concat": (lambda a, b: curved(mg.concat([a, b, a], axis=1)), (_normal(2, 3), _normal(2, 1))),
    "stack": (lambda a, b: curved(mg.stack([a, b], axis=-1)) * a.unsqueeze(-1),
              (_normal(2, 3), _normal(2, 3))),
    "split": (lambda a: (lambda p: p[0].sum() * p[1] * p[2])(a.split([1, 2, 1], axis=1)),
              (_normal(2, 4),)),
    "pad": (lambda a: curved(mg.pad(a, [(1, 0), (0, 2)], value=0.5)), (_normal(2, 3),)),
}

MATMUL = {
    "2-D": (lambda a, b: curved(a @ b), (_normal(2, 3), _normal(3, 2))),
    "batched-broadcast": (lambda a, b: curved(a @ b), (_normal(2, 2, 3), _normal(3, 2))),
    "batched-both": (lambda a, b: curved(a @ b), (_normal(2, 1, 2, 3), _normal(3, 3, 2))),
    "vector-matrix": (lambda v, m: curved(v @ m), (_normal(3), _normal(3, 2))),
    "matrix-vector": (lambda m, v: curved(m @ v), (_normal(2, 3), _normal(3))),
    "vector-batch": (lambda v, m: curved(v @ m), (_normal(3), _normal(2, 3, 2))),
    "dot": (lambda u, v: curved(u @ v), (_normal(3), _normal(3))),
    "mg.matmul-nonlinear": (lambda a, b: mg.matmul(a.tanh(), b).exp(),
                            (_normal(2, 3), _normal(3, 2))),
}


def run_gradgradcheck(device, fn, arrays):
    """gradgradcheck of fn on float64 leaves made from arrays: every element on the NumPy and
    strict CPU devices, random directions on strict:device1 (a GPU stand-in)."""
    tensors = [mg.tensor(a, device=device, requires_grad=True) for a in arrays]
    assert mg.gradgradcheck(fn, tensors, fast=device == "strict:device1")


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_second_derivatives(device, name):
    run_gradgradcheck(device, *ELEMENTWISE[name])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_second_derivatives(device, name):
    run_gradgradcheck(device, *ACTIVATIONS[name])


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_second_derivatives(device, name):
    run_gradgradcheck(device, *REDUCTIONS[name])


@pytest.mark.parametrize("name", SHAPES)
def test_shape_op_second_derivatives(device, name):
    run_gradgradcheck(device, *SHAPES[name])


@pytest.mark.parametrize("name", MATMUL)
def test_matmul_second_derivatives(device, name):
    run_gradgradcheck(device, *MATMUL[name])


def test_a_composition_of_many_ops(device, rng):
    # a small network with a softmax head: second derivatives through all of it at once
    def network(x, w1, b1, w2):
        h = (x @ w1 + b1).tanh()
        return (h @ w2).log_softmax(axis=-1).sum(axis=0) * mg.tensor(
            np.array([1.0, -2.0]), device=x.device)

    arrays = (rng.standard_normal((3, 2)), rng.standard_normal((2, 4)),
              rng.standard_normal(4), rng.standard_normal((4, 2)))
    run_gradgradcheck(device, network, arrays)
