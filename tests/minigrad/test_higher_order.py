"""Gradients of gradients (create_graph=True) against closed forms and PyTorch, and the
semantics of autograd.grad / Tensor.backward against PyTorch's."""

import math

import numpy as np
import pytest

import minigrad as mg

grad = mg.autograd.grad



def leaf(device, values):
    return mg.tensor(np.asarray(values, dtype=np.float64), device=device, requires_grad=True)


def constant(device, values):
    return mg.tensor(np.asarray(values, dtype=np.float64), device=device)


# -- closed forms ---------------------------------------------------------------------------


def test_second_derivative_of_tanh(device):
    values = np.linspace(-2.5, 2.5, 7)
    x = leaf(device, values)
    (first,) = grad(x.tanh().sum(), x, create_graph=True)
    (second,) = grad(first.sum(), x)  # elementwise: the Hessian is diagonal
    t = np.tanh(values)
    np.testing.assert_allclose(first.numpy(), 1 - t * t, rtol=1e-12)
    np.testing.assert_allclose(second.numpy(), -2 * t * (1 - t * t), rtol=1e-12, atol=1e-15)


def test_hessian_of_a_quadratic_form_row_by_row(device, rng):
    a = rng.standard_normal((4, 4))  # not symmetric: the Hessian is its symmetric part
    x = leaf(device, rng.standard_normal(4))
    matrix = constant(device, a)
    f = 0.5 * (x @ (matrix @ x))
    (gradient,) = grad(f, x, create_graph=True)
    np.testing.assert_allclose(gradient.numpy(), 0.5 * (a + a.T) @ x.numpy(), rtol=1e-12)
    rows = [grad(gradient[i], x, retain_graph=True)[0].numpy() for i in range(4)]
    np.testing.assert_allclose(np.stack(rows), 0.5 * (a + a.T), rtol=1e-12, atol=1e-15)


def test_hessian_of_a_quadratic_form_by_hessian_vector_products(device, rng):
    a = rng.standard_normal((3, 3))
    x = leaf(device, rng.standard_normal(3))
    (gradient,) = grad(0.5 * (x @ (constant(device, a) @ x)), x, create_graph=True)
    columns = [grad(gradient, x, grad_outputs=constant(device, np.eye(3)[i]),
                    retain_graph=True)[0].numpy() for i in range(3)]
    np.testing.assert_allclose(np.stack(columns, axis=1), 0.5 * (a + a.T), rtol=1e-12,
                               atol=1e-15)


def test_hessian_of_the_squared_norm_squared(device, rng):
    # f = (x.x)^2:  grad = 4 (x.x) x,  Hessian = 4 (x.x) I + 8 x x^T
    values = rng.standard_normal(3)
    x = leaf(device, values)
    (gradient,) = grad((x @ x) ** 2, x, create_graph=True)
    rows = [grad(gradient[i], x, retain_graph=True)[0].numpy() for i in range(3)]
    square = values @ values
    np.testing.assert_allclose(gradient.numpy(), 4 * square * values, rtol=1e-12)
    np.testing.assert_allclose(np.stack(rows),
                               4 * square * np.eye(3) + 8 * np.outer(values, values),
                               rtol=1e-12, atol=1e-15)


def nth_derivatives(fn, values, device, n):
    """The first n derivatives of an elementwise fn at ``values``, by repeated grad."""
    x = leaf(device, values)
    current = fn(x)
    derivatives = []
    for _ in range(n):
        (current,) = grad(current.sum(), x, create_graph=True)
        derivatives.append(current.numpy().copy())
    return derivatives


def test_nth_derivatives_of_exp_2x(device):
    values = np.array([-1.0, 0.0, 0.5, 1.2])
    for n, derivative in enumerate(nth_derivatives(lambda t: (2 * t).exp(), values, device, 4),
                                   start=1):
        np.testing.assert_allclose(derivative, 2.0 ** n * np.exp(2 * values), rtol=1e-12)


def test_nth_derivatives_of_x_to_the_fifth(device):
    values = np.array([-1.3, 0.4, 0.9, 2.0])
    for n, derivative in enumerate(nth_derivatives(lambda t: t ** 5, values, device, 5),
                                   start=1):
        expected = math.factorial(5) / math.factorial(5 - n) * values ** (5 - n)
        np.testing.assert_allclose(derivative, expected, rtol=1e-12)


def test_mixed_partial_derivatives_agree_in_either_order(device):
    # f = x^2 y^3:  d2f/dxdy = d2f/dydx = 6 x y^2
    x, y = leaf(device, [1.5, -0.5]), leaf(device, [0.7, 2.0])
    f = (x * x * y * y * y).sum()
    gx, gy = grad(f, (x, y), create_graph=True)
    (gxy,) = grad(gx.sum(), y, retain_graph=True)
    (gyx,) = grad(gy.sum(), x)
    expected = 6 * x.numpy() * y.numpy() ** 2
    np.testing.assert_allclose(gxy.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(gyx.numpy(), expected, rtol=1e-12)


ROOT = 2.0945514815423265  # of x^3 - 2x - 5, Wallis's example


@pytest.mark.parametrize("shape", [(), (1,)])
def test_newton_minimisation_with_second_derivatives(device, shape):
    # F(x) = x^4/4 - x^2 - 5x has F' = x^3 - 2x - 5 and F'' = 3x^2 - 2; Newton's step -F'/F''
    # with both derivatives from autograd converges quadratically to the root of F'.
    x = np.full(shape, 2.0)
    iterations = 0
    while abs(float(x.reshape(-1)[0]) - ROOT) >= 1e-10 and iterations < 10:
        iterations += 1
        t = leaf(device, x)
        objective = (t ** 4 / 4 - t * t - 5 * t).sum()
        (slope,) = grad(objective, t, create_graph=True)
        (curvature,) = grad(slope.sum(), t)
        np.testing.assert_allclose(curvature.numpy(), 3 * x ** 2 - 2, rtol=1e-12)
        x = x - slope.numpy() / curvature.numpy()
    assert abs(float(x.reshape(-1)[0]) - ROOT) < 1e-10
    assert iterations < 10


def test_newton_root_finding_with_first_derivatives(device):
    x = 2.0
    for _ in range(9):
        t = leaf(device, x)
        f = t ** 3 - 2 * t - 5
        (slope,) = grad(f, t)
        x = x - f.item() / slope.item()
    assert abs(x - ROOT) < 1e-10


# -- against PyTorch ------------------------------------------------------------------------
# Each case: a scalar function in both libraries' spellings and its input arrays. The check
# compares the first gradients and the Hessian-vector products d/dx sum_k(grad_k * v_k).

def _mlp(lib):
    return lambda x, w, b: (x @ w + b).tanh().sum()


def _softmax_product(lib):
    axis = "axis" if lib is mg else "dim"
    return lambda x, y: (x.softmax(**{axis: -1}) * y.softmax(**{axis: 0})).sum()


def _cross_entropy(lib):
    axis = "axis" if lib is mg else "dim"
    targets = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    return lambda x: -(x.log_softmax(**{axis: -1}) * _constant_like(lib, targets, x)).sum()


def _logsumexp(lib):
    if lib is mg:
        return lambda x: (x.logsumexp(axis=1) ** 2).sum()
    return lambda x: (x.logsumexp(dim=1) ** 2).sum()


def _repeated_indices(lib):
    return lambda x: (x[[0, 2, 0, 0]].exp() * x[[1, 1, 2, 0]]).sum()


def _variance(lib):
    if lib is mg:
        return lambda x: ((x.var(axis=0, correction=1) ** 2).sum()
                          + (x.var(axis=1, keepdims=True, correction=0) * x).sum())
    return lambda x: ((x.var(dim=0, correction=1) ** 2).sum()
                      + (x.var(dim=1, keepdim=True, correction=0) * x).sum())


def _constant_like(lib, values, like):
    if lib is mg:
        return mg.tensor(values, device=like.device)
    return lib.tensor(values, dtype=lib.float64)


TORCH_CASES = {
    "mlp": (_mlp, [(3, 2), (2, 4), (4,)]),
    "softmax-product": (_softmax_product, [(2, 3), (2, 3)]),
    "cross-entropy": (_cross_entropy, [(2, 3)]),
    "logsumexp": (_logsumexp, [(2, 3)]),
    "getitem-repeated-indices": (_repeated_indices, [(3, 2)]),
    "var": (_variance, [(3, 4)]),
}


@pytest.mark.parametrize("name", TORCH_CASES)
def test_second_derivatives_match_pytorch(torch, device, rng, name):
    case, shapes = TORCH_CASES[name]
    arrays = [rng.standard_normal(s) for s in shapes]
    directions = [rng.standard_normal(s) for s in shapes]

    xs = [leaf(device, a) for a in arrays]
    firsts = grad(case(mg)(*xs), xs, create_graph=True)
    total = sum((g * constant(device, v)).sum() for g, v in zip(firsts, directions, strict=True))
    seconds = grad(total, xs, allow_unused=True)

    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    t_firsts = torch.autograd.grad(case(torch)(*ts), ts, create_graph=True)
    t_total = sum((g * torch.tensor(v)).sum() for g, v in zip(t_firsts, directions,
                                                               strict=True))
    t_seconds = torch.autograd.grad(t_total, ts, allow_unused=True)

    for mine, theirs in zip(firsts, t_firsts, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-10)
    for mine, theirs in zip(seconds, t_seconds, strict=True):
        expected = np.zeros_like(mine.numpy()) if theirs is None else theirs.numpy()
        got = np.zeros_like(expected) if mine is None else mine.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_gradient_of_the_gradient_norm_matches_pytorch(torch, device, rng):
    # The penalty of a gradient penalty (WGAN-GP style): |d f / d x|^2 differentiated wrt w.
    x_values, w_values = rng.standard_normal((3, 2)), rng.standard_normal((2, 2))
    x, w = leaf(device, x_values), leaf(device, w_values)
    (gx,) = grad((x @ w).tanh().sum(), x, create_graph=True)
    (gw,) = grad((gx * gx).sum(), w)

    tx = torch.tensor(x_values, requires_grad=True)
    tw = torch.tensor(w_values, requires_grad=True)
    (tgx,) = torch.autograd.grad((tx @ tw).tanh().sum(), tx, create_graph=True)
    (tgw,) = torch.autograd.grad((tgx * tgx).sum(), tw)
    np.testing.assert_allclose(gw.numpy(), tgw.numpy(), rtol=1e-10, atol=1e-10)


# -- semantics of grad and backward, as in PyTorch ---------------------------------------------


def test_grad_leaves_dot_grad_untouched(device):
    x = leaf(device, [1.0, 2.0])
    (g,) = grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert x.grad is None
    (x * x).sum().backward()
    before = x.grad.numpy().copy()
    grad((x * x * x).sum(), x)
    np.testing.assert_array_equal(x.grad.numpy(), before)


def test_grad_results_require_grad_only_with_create_graph(torch, device):
    x = leaf(device, [1.0, 2.0])
    (plain,) = grad((x * x).sum(), x)
    (recorded,) = grad((x * x).sum(), x, create_graph=True)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (t_plain,) = torch.autograd.grad((tx * tx).sum(), tx)
    (t_recorded,) = torch.autograd.grad((tx * tx).sum(), tx, create_graph=True)
    assert (plain.requires_grad, recorded.requires_grad) == (
        t_plain.requires_grad, t_recorded.requires_grad) == (False, True)


def test_retain_graph_defaults_to_create_graph(torch, device):
    x = leaf(device, [1.0, 2.0])
    y = (x.exp() * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError):
        grad(y, x)  # the first call freed the graph

    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ty = (tx.exp() * tx).sum()
    torch.autograd.grad(ty, tx)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(ty, tx)

    y = (x.exp() * x).sum()
    first = grad(y, x, create_graph=True)[0].numpy().copy()
    np.testing.assert_array_equal(grad(y, x)[0].numpy(), first)  # retained by create_graph
    y = (x.exp() * x).sum()
    grad(y, x, retain_graph=True)
    np.testing.assert_array_equal(grad(y, x)[0].numpy(), first)


def test_allow_unused(torch, device):
    x, unused = leaf(device, [1.0, 2.0]), leaf(device, [3.0])
    with pytest.raises(RuntimeError):
        grad((x * x).sum(), (x, unused))
    gx, gu = grad((x * x).sum(), (x, unused), allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])

    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tu = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad((tx * tx).sum(), (tx, tu))
    _, t_gu = torch.autograd.grad((tx * tx).sum(), (tx, tu), allow_unused=True)
    assert gu is None and t_gu is None


def test_backward_inputs_fills_only_those_tensors(torch, device, rng):
    x_values, w_values = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    x, w = leaf(device, x_values), leaf(device, w_values)
    (x @ w).tanh().sum().backward(inputs=[w])
    assert x.grad is None

    tx = torch.tensor(x_values, requires_grad=True)
    tw = torch.tensor(w_values, requires_grad=True)
    (tx @ tw).tanh().sum().backward(inputs=[tw])
    assert tx.grad is None
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_grad_accumulates_across_backward_calls_and_zero_resets_it(torch, device):
    x = leaf(device, [0.5, -1.0])
    for _ in range(2):
        (x * x * x).sum().backward()
    tx = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    for _ in range(2):
        (tx * tx * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.array([0.25, 1.0]), rtol=1e-12)
    if not hasattr(x.grad, "zero_"):
        pytest.skip("Tensor.zero_ is not implemented yet")
    x.grad.zero_()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -2.0])


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_with_create_graph_gives_a_differentiable_grad(torch, device):
    # x.grad = 3 x^2 recorded; backward of its sum then adds 6 x into x.grad, as in PyTorch.
    values = [0.5, -1.0, 2.0]
    x = leaf(device, values)
    (x * x * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    x.grad.sum().backward()

    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (tx * tx * tx).sum().backward(create_graph=True)
    tx.grad.sum().backward()
    expected = 3 * np.square(values) + 6 * np.array(values)
    np.testing.assert_allclose(tx.grad.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_grad_outputs_seed_the_vector_jacobian_product(torch, device, rng):
    values, seed = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x = leaf(device, values)
    (g,) = grad(x.exp() * x, x, grad_outputs=constant(device, seed))
    tx = torch.tensor(values, requires_grad=True)
    (tg,) = torch.autograd.grad(tx.exp() * tx, tx, grad_outputs=torch.tensor(seed))
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), seed * np.exp(values) * (1 + values), rtol=1e-12)


def test_grad_of_several_outputs_sums_them(torch, device):
    values = [0.5, -1.0]
    x = leaf(device, values)
    (g,) = grad([(x * x).sum(), x.exp().sum()], x)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (tg,) = torch.autograd.grad([(tx * tx).sum(), tx.exp().sum()], tx)
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)


def test_backward_on_a_non_scalar_needs_a_gradient(torch, device):
    x = leaf(device, [1.0, 2.0])
    with pytest.raises(RuntimeError):
        (x * x).backward()
    with pytest.raises(RuntimeError):
        grad(x * x, x)
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError):
        (tx * tx).backward()
    (x * x).backward(gradient=constant(device, [1.0, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0])
