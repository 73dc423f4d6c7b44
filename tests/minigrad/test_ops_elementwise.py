"""Elementwise ops: forward against NumPy, gradients by finite differences (float64), dtype and
device preserved (float32 stays float32, also with Python scalars), comparisons."""

import operator

import numpy as np
import pytest

import minigrad as mg


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return np.abs(rng.standard_normal(shape)) + 0.5


def away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    return np.where(x < 0, x - 0.5, x + 0.5)


def leaves(device, *arrays):
    return [mg.tensor(a, device=device, requires_grad=True) for a in arrays]


def assert_forward(out, expected, device):
    assert out.device is mg.device(device)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


# -- binary ops on tensors, with broadcasting --------------------------------------------------

BINARY = {
    "add": (operator.add, np.add, normal, normal),
    "sub": (operator.sub, np.subtract, normal, normal),
    "mul": (operator.mul, np.multiply, normal, normal),
    "div": (operator.truediv, np.divide, normal, away_from_zero),
    "pow": (operator.pow, np.power, positive, normal),
    "maximum": (mg.maximum, np.maximum, normal, normal),
    "minimum": (mg.minimum, np.minimum, normal, normal),
}
BINARY_SHAPES = [((), ()), ((3,), ()), ((), (3,)), ((2, 3), (2, 3)), ((2, 3), (3,)),
                 ((2, 1), (1, 3)), ((4, 1, 3), (2, 1)), ((1,), (2, 3)), ((2, 3, 1), (1,))]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary(device, rng, name, shapes):
    fn, np_fn, sample_a, sample_b = BINARY[name]
    a, b = sample_a(rng, shapes[0]), sample_b(rng, shapes[1])
    ta, tb = leaves(device, a, b)
    assert_forward(fn(ta, tb), np_fn(a, b), device)
    assert mg.gradcheck(fn, (ta, tb))


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradient_of_one_operand_only(device, rng, name):
    fn, _, sample_a, sample_b = BINARY[name]
    a = mg.tensor(sample_a(rng, (2, 3)), device=device)
    (b,) = leaves(device, sample_b(rng, (3,)))
    assert mg.gradcheck(lambda u: fn(a, u), (b,))
    assert a.grad is None


# -- Python scalar operands, including the reflected operators ---------------------------------

SCALAR_CASES = {
    "x+2.5": (lambda x: x + 2.5, lambda x: x + 2.5, normal),
    "2.5+x": (lambda x: 2.5 + x, lambda x: 2.5 + x, normal),
    "x+2": (lambda x: x + 2, lambda x: x + 2, normal),
    "x-2.5": (lambda x: x - 2.5, lambda x: x - 2.5, normal),
    "2-x": (lambda x: 2 - x, lambda x: 2 - x, normal),
    "x*2.5": (lambda x: x * 2.5, lambda x: x * 2.5, normal),
    "2*x": (lambda x: 2 * x, lambda x: 2 * x, normal),
    "x/2.5": (lambda x: x / 2.5, lambda x: x / 2.5, normal),
    "2/x": (lambda x: 2 / x, lambda x: 2 / x, away_from_zero),
    "x**2.5": (lambda x: x ** 2.5, lambda x: x ** 2.5, positive),
    "x**3": (lambda x: x ** 3, lambda x: x ** 3, normal),
    "x**-1": (lambda x: x ** -1, lambda x: 1 / x, away_from_zero),
    "x**0.5": (lambda x: x ** 0.5, np.sqrt, positive),
    "2**x": (lambda x: 2 ** x, lambda x: np.exp2(x), normal),
    "0.5**x": (lambda x: 0.5 ** x, lambda x: 0.5 ** x, normal),
    "maximum(x,0.3)": (lambda x: mg.maximum(x, 0.3), lambda x: np.maximum(x, 0.3), normal),
    "maximum(0.3,x)": (lambda x: mg.maximum(0.3, x), lambda x: np.maximum(0.3, x), normal),
    "minimum(x,0.3)": (lambda x: mg.minimum(x, 0.3), lambda x: np.minimum(x, 0.3), normal),
    "minimum(0.3,x)": (lambda x: mg.minimum(0.3, x), lambda x: np.minimum(0.3, x), normal),
}


@pytest.mark.parametrize("shape", [(), (2, 3)], ids=str)
@pytest.mark.parametrize("case", SCALAR_CASES)
def test_python_scalar_operand(device, rng, case, shape):
    fn, np_fn, sample = SCALAR_CASES[case]
    x = sample(rng, shape)
    (tx,) = leaves(device, x)
    assert_forward(fn(tx), np_fn(x), device)
    assert mg.gradcheck(fn, (tx,))


def test_tensor_exponent_and_tensor_base(device, rng):
    base, exponent = positive(rng, (2, 3)), normal(rng, (3,))
    tb, te = leaves(device, base, exponent)
    np.testing.assert_allclose((tb ** te).numpy(), base ** exponent, rtol=1e-12)
    # d a^b / db = a^b ln a, checked by hand as well as by finite differences
    (tb ** te).sum().backward()
    np.testing.assert_allclose(mg.to_numpy(te.grad),
                               (base ** exponent * np.log(base)).sum(axis=0), rtol=1e-12)
    assert mg.gradcheck(lambda e: 3.0 ** e, (te,))


def test_pow_of_zero_base_with_positive_exponent_has_finite_gradient(device):
    (x,) = leaves(device, np.array([0.0, 1.0, -2.0]))
    (x ** 2).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(x.grad), [0.0, 2.0, -4.0])


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv],
                         ids=["add", "sub", "mul", "div"])
def test_numpy_array_operand_on_cpu(rng, op):
    host = away_from_zero(rng, (2, 3))
    (x,) = leaves("cpu", away_from_zero(rng, (3,)))
    out = op(host, x)  # NumPy defers to Tensor's reflected operator
    assert isinstance(out, mg.Tensor)
    np.testing.assert_allclose(out.numpy(), op(host, x.numpy()), rtol=1e-12)
    assert mg.gradcheck(lambda u: op(host, u), (x,))


# -- unary ops ----------------------------------------------------------------------------

UNARY = {
    "neg": (lambda x: -x, np.negative, normal),
    "exp": (mg.exp, np.exp, normal),
    "log": (mg.log, np.log, positive),
    "sqrt": (mg.sqrt, np.sqrt, positive),
    "abs": (abs, np.abs, away_from_zero),
    "abs-method": (lambda x: x.abs(), np.abs, away_from_zero),
    "clamp": (lambda x: x.clamp(-0.4, 0.6), lambda x: np.clip(x, -0.4, 0.6), normal),
    "clamp-min": (lambda x: x.clamp(min=0.2), lambda x: np.maximum(x, 0.2), normal),
    "clamp-max": (lambda x: mg.clamp(x, max=-0.1), lambda x: np.minimum(x, -0.1), normal),
}


@pytest.mark.parametrize("shape", [(), (1,), (2, 3), (2, 1, 3)], ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary(device, rng, name, shape):
    fn, np_fn, sample = UNARY[name]
    x = sample(rng, shape)
    (tx,) = leaves(device, x)
    assert_forward(fn(tx), np_fn(x), device)
    assert mg.gradcheck(fn, (tx,))


def test_abs_gradient_is_zero_at_zero(device):
    (x,) = leaves(device, np.array([-2.0, 0.0, 3.0]))
    abs(x).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(x.grad), [-1.0, 0.0, 1.0])


def test_clamp_gradient_is_one_on_the_closed_interval(device):
    (x,) = leaves(device, np.array([-1.0, 0.0, 0.5, 1.0, 2.0]))
    x.clamp(0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(x.grad), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clamp_needs_a_bound(device):
    with pytest.raises(ValueError, match="min or max"):
        mg.tensor([1.0], device=device).clamp()


@pytest.mark.parametrize("op, grad_a, grad_b", [
    (mg.maximum, [0.5, 0.0, 1.0], [0.5, 1.0, 0.0]),
    (mg.minimum, [0.5, 1.0, 0.0], [0.5, 0.0, 1.0]),
], ids=["maximum", "minimum"])
def test_maximum_minimum_split_ties_evenly(device, op, grad_a, grad_b):
    a, b = leaves(device, np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0]))
    op(a, b).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(a.grad), grad_a)
    np.testing.assert_array_equal(mg.to_numpy(b.grad), grad_b)
    # a broadcast operand collects its share from every tie
    c, d = leaves(device, np.array([2.0, 2.0, 1.0]), np.array(2.0))
    op(c, d).sum().backward()
    # maximum: half of each of the two ties, all of the third; minimum: only the two halves
    assert float(mg.to_numpy(d.grad)) == (2.0 if op is mg.maximum else 1.0)


# -- where -------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), (2, 1)),
                                    ((3,), (2, 3), ()), ((), (2,), (2,))], ids=str)
def test_where(device, rng, shapes):
    cond = rng.random(shapes[0]) > 0.5
    a, b = normal(rng, shapes[1]), normal(rng, shapes[2])
    tc = mg.tensor(cond, device=device)
    ta, tb = leaves(device, a, b)
    assert_forward(mg.where(tc, ta, tb), np.where(cond, a, b), device)
    assert mg.gradcheck(lambda u, v: mg.where(tc, u, v), (ta, tb))


def test_where_with_a_scalar_branch(device, rng):
    x = normal(rng, (2, 3))
    (tx,) = leaves(device, x)
    for fn, expected in [(lambda u: mg.where(u > 0, u, 0.0), np.where(x > 0, x, 0.0)),
                         (lambda u: mg.where(u > 0, -1.0, u), np.where(x > 0, -1.0, x))]:
        assert_forward(fn(tx), expected, device)
        assert mg.gradcheck(fn, (tx,))


# -- dtype and device ----------------------------------------------------------------------

DTYPE_CASES = {
    **{name: lambda x, y, fn=fn: fn(x, y) for name, (fn, *_) in BINARY.items()},
    **{f"{name}(x)": lambda x, y, fn=fn: fn(x) for name, (fn, *_) in UNARY.items()},
    **{case: lambda x, y, fn=fn: fn(x) for case, (fn, *_) in SCALAR_CASES.items()},
    "where": lambda x, y: mg.where(x > 0, x, y),
    "where-scalar": lambda x, y: mg.where(x > 0, 0.5, y),
    "x*np.float64": lambda x, y: x * np.float64(2.0),
    "np.float32/x": lambda x, y: np.float32(2.0) / x,
    "x+np.int64": lambda x, y: x + np.int64(1),
}


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
@pytest.mark.parametrize("case", DTYPE_CASES)
def test_dtype_and_device_are_kept(device, case, dtype):
    x = mg.tensor([[0.5, 1.5], [2.0, 3.0]], dtype=dtype, device=device, requires_grad=True)
    y = mg.tensor([0.25, 2.5], dtype=dtype, device=device, requires_grad=True)
    out = DTYPE_CASES[case](x, y)
    assert out.dtype == dtype and out.device is x.device
    out.sum().backward()
    for t in (x, y):
        assert t.grad is None or t.device.canonical(t.grad.dtype) == dtype


def test_zero_dim_float32_stays_float32_with_scalars(device):
    x = mg.tensor(1.5, device=device)
    for out in (x * 2.5, 2.5 - x, x / 3, x ** 2, 2 ** x, mg.maximum(x, 0.1)):
        assert out.dtype == mg.float32 and out.shape == ()


# -- comparisons ---------------------------------------------------------------------------

COMPARISONS = {
    "<": (operator.lt, np.less), "<=": (operator.le, np.less_equal),
    ">": (operator.gt, np.greater), ">=": (operator.ge, np.greater_equal),
    "==": (operator.eq, np.equal), "!=": (operator.ne, np.not_equal),
}


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_give_bool_tensors_without_grad(device, name):
    op, np_op = COMPARISONS[name]
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    ta, tb = leaves(device, a, b)
    for out, expected in [(op(ta, tb), np_op(a, b)), (op(ta, 2.0), np_op(a, 2.0)),
                          (op(2.0, ta), np_op(2.0, a))]:
        assert out.dtype == mg.bool_ and out.device is ta.device
        assert not out.requires_grad and out.is_leaf
        np.testing.assert_array_equal(out.numpy(), expected)


def test_functional_comparisons(device):
    a = mg.tensor([1.0, 2.0], device=device)
    np.testing.assert_array_equal(mg.equal(a, 2.0).numpy(), [False, True])
    np.testing.assert_array_equal(mg.not_equal(a, 2.0).numpy(), [True, False])
    np.testing.assert_array_equal(mg.less(a, 2.0).numpy(), [True, False])
    np.testing.assert_array_equal(mg.greater_equal(a, 2.0).numpy(), [False, True])


def test_tensors_stay_hashable():
    a, b = mg.tensor([1.0]), mg.tensor([1.0])
    assert len({a, b}) == 2


def test_pow_gradient_of_exponent_at_zero_base_is_zero(device):
    # d(0^b)/db = 0^b ln 0 -> 0 for b > 0 (PyTorch agrees); never nan, never a crash.
    b = mg.tensor([1.0, 2.0], device=device, requires_grad=True)
    (0 ** b).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(b.grad), [0.0, 0.0])
    zeros = mg.zeros(2, device=device)
    b.grad = None
    (zeros ** b).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(b.grad), [0.0, 0.0])


def test_where_between_two_numbers(device):
    cond = mg.tensor([True, False, True], device=device)
    out = mg.where(cond, 1.0, 0.0)
    assert out.dtype == mg.float32 and out.device == mg.device(device)
    np.testing.assert_array_equal(out.numpy(), [1.0, 0.0, 1.0])
