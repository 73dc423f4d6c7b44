"""gradcheck itself: it must pass correct gradients and catch wrong ones, with a useful message."""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import _from_op


def square(x, factor=None):
    """x^2, whose backward returns the true gradient 2 g x times ``factor`` (a NumPy array):
    all ones gives a correct op, anything else a deliberately wrong backward."""
    factor = np.ones(x.shape) if factor is None else factor
    scale = x.device.from_numpy(factor, x.dtype)
    return _from_op(x.data * x.data, (x,), lambda ctx, g: (2 * g * x.data * scale,))


def wrong_at(shape, index, by=1.5):
    factor = np.ones(shape)
    factor[index] = by
    return factor


@pytest.fixture
def x(device, rng):
    return mg.tensor(rng.standard_normal((2, 3)) + 2, device=device, requires_grad=True)


def test_passes_a_correct_op(x):
    assert mg.gradcheck(square, (x,)) is True
    assert mg.gradcheck(square, x)  # a single tensor need not be in a tuple
    assert mg.gradcheck(lambda t: square(t).sum(), (x,))  # scalar output


def test_reports_the_wrong_element(x):
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(lambda t: square(t, wrong_at(t.shape, (1, 2))), (x,))
    message = str(info.value)
    found = re.search(r"tensor 0 \(shape \(2, 3\)\) at index \(1, 2\): "
                      r"analytic (\S+), numeric (\S+), error", message)
    assert found, message
    analytic, numeric = float(found[1]), float(found[2])
    assert analytic == pytest.approx(1.5 * numeric, rel=1e-6)


def test_a_gradient_error_is_an_assertion_error(x):
    with pytest.raises(AssertionError):
        mg.gradcheck(lambda t: square(t, wrong_at(t.shape, (0, 0), by=1.01)), (x,))


def test_tolerances_decide(x):
    slightly_wrong = wrong_at(x.shape, (0, 1), by=1 + 1e-4)
    assert mg.gradcheck(lambda t: square(t, slightly_wrong), (x,))  # within rtol=1e-3
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda t: square(t, slightly_wrong), (x,), rtol=1e-6, atol=1e-8)


def test_fast_mode(x):
    assert mg.gradcheck(square, (x,), fast=True)
    with pytest.raises(mg.GradcheckError, match=r"directional derivative.*analytic .*numeric"):
        mg.gradcheck(lambda t: square(t, wrong_at(t.shape, (1, 0))), (x,), fast=True)


@pytest.mark.parametrize("fast", [False, True])
def test_checks_params_as_well_as_inputs(device, rng, x, fast):
    w = mg.tensor(rng.standard_normal((3,)) + 2, device=device, requires_grad=True)
    assert mg.gradcheck(lambda t: t * square(w), (x,), params=(w,), fast=fast)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(lambda t: t * square(w, wrong_at(w.shape, 2, by=0.0)), (x,), params=(w,),
                     fast=fast)
    if not fast:
        assert "tensor 1 (shape (3,)) at index (2,)" in str(info.value)
    # a parameter that does not require grad is left alone
    w.requires_grad_(False)
    assert mg.gradcheck(lambda t: t * square(w, wrong_at(w.shape, 2, by=0.0)), (x,),
                        params=(w,), fast=fast)


def test_leaves_inputs_unchanged(x):
    before = x.numpy().copy()
    mg.gradcheck(lambda t: t.exp(), (x,))
    mg.gradcheck(lambda t: t.exp(), (x,), fast=True)
    np.testing.assert_array_equal(x.numpy(), before)


def test_refuses_float32_and_says_why(device):
    x32 = mg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(TypeError, match=r"float64.*float32.*rounding error.*\.double\(\)"):
        mg.gradcheck(lambda t: t * t, (x32,))


def test_needs_something_to_check(device):
    with pytest.raises(ValueError, match="nothing to check"):
        mg.gradcheck(lambda t: t * 2, (mg.tensor([1.0], dtype=mg.float64, device=device),))


def test_inputs_without_grad_are_constants(device, x):
    c = mg.tensor(np.array([1.0, -1.0, 2.0]), device=device)
    assert mg.gradcheck(lambda t, k: t * k, (x, c))
    assert c.grad is None


def test_empty_tensors_pass(device):
    empty = mg.zeros(0, 3, dtype=mg.float64, device=device, requires_grad=True)
    assert mg.gradcheck(lambda t: t * 2, (empty,))
