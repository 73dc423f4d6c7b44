"""In-place ops (add_, sub_, mul_, div_, clamp_, fill_, zero_, copy_, +=, -=, *=, /=), the
version counter that guards saved values against them, and casting out of the graph (to()).

Values are checked against NumPy on every device; autograd behaviour (which changes raise,
which gradients come out) against PyTorch running the same scenario."""

import numpy as np
import pytest

import minigrad as mg


def host(t):
    return mg.to_numpy(t)


# -- values against NumPy, on every device ---------------------------------------------------
# Each case: the in-place call on a tensor x (and operand o, a tensor or a number), and the
# NumPy computation of the new values of x from arrays (x_, o_).

X_VALUES = np.array([[1.5, -2.0, 3.0], [0.25, 4.0, -0.5]])

FLOAT_CASES = {
    "add_ tensor": (lambda x, o: x.add_(o), lambda x, o: x + o),
    "add_ alpha": (lambda x, o: x.add_(o, alpha=2.5), lambda x, o: x + 2.5 * o),
    "add_ number alpha": (lambda x, o: x.add_(1.5, alpha=2), lambda x, o: x + 3.0),
    "sub_ tensor": (lambda x, o: x.sub_(o), lambda x, o: x - o),
    "sub_ alpha": (lambda x, o: x.sub_(o, alpha=-0.5), lambda x, o: x + 0.5 * o),
    "mul_ tensor": (lambda x, o: x.mul_(o), lambda x, o: x * o),
    "mul_ number": (lambda x, o: x.mul_(-3.0), lambda x, o: x * -3.0),
    "div_ tensor": (lambda x, o: x.div_(o), lambda x, o: x / o),
    "div_ number": (lambda x, o: x.div_(4), lambda x, o: x / 4),
    "clamp_ both": (lambda x, o: x.clamp_(-1.0, 2.0), lambda x, o: np.clip(x, -1.0, 2.0)),
    "clamp_ min": (lambda x, o: x.clamp_(min=0.5), lambda x, o: np.maximum(x, 0.5)),
    "clamp_ max": (lambda x, o: x.clamp_(max=0.5), lambda x, o: np.minimum(x, 0.5)),
    "fill_": (lambda x, o: x.fill_(-7.25), lambda x, o: np.full_like(x, -7.25)),
    "zero_": (lambda x, o: x.zero_(), lambda x, o: np.zeros_like(x)),
    "copy_": (lambda x, o: x.copy_(o), lambda x, o: np.broadcast_to(o, x.shape)),
}


def _augmented(op):
    def run(x, o):
        y = x
        if op == "+=":
            y += o
        elif op == "-=":
            y -= o
        elif op == "*=":
            y *= o
        else:
            y /= o
        return y

    return run


OPERATOR_CASES = {
    "+=": (_augmented("+="), lambda x, o: x + o),
    "-=": (_augmented("-="), lambda x, o: x - o),
    "*=": (_augmented("*="), lambda x, o: x * o),
    "/=": (_augmented("/="), lambda x, o: x / o),
}

# Operand shapes that broadcast to x's (2, 3): the same shape, a row, a column, a 0-d tensor.
OPERAND_SHAPES = [(2, 3), (3,), (2, 1), ()]


def _operand(shape):
    rng = np.random.default_rng(1)
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("shape", OPERAND_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
@pytest.mark.parametrize("name", [*FLOAT_CASES, *OPERATOR_CASES])
def test_float_inplace_ops_match_numpy(device, name, dtype, shape):
    call, reference = {**FLOAT_CASES, **OPERATOR_CASES}[name]
    o_ = _operand(shape).astype(dtype)
    x = mg.tensor(X_VALUES, dtype=dtype, device=device)
    o = mg.tensor(o_, device=device)
    view = x.reshape(-1)  # made before: shares x's memory
    version = x._version
    returned = call(x, o)
    expected = reference(X_VALUES.astype(dtype), o_).astype(dtype)
    assert returned is x
    assert x.dtype == dtype and x.shape == (2, 3)
    tolerance = 1e-6 if dtype == mg.float32 else 1e-12
    np.testing.assert_allclose(host(x), expected, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(host(view), expected.reshape(-1), rtol=tolerance, atol=tolerance)
    assert x._version == version + 1 and view._version == version + 1


@pytest.mark.parametrize("other_dtype", [mg.float32, mg.float64])
def test_float32_tensor_keeps_its_dtype_whatever_the_operand(device, other_dtype):
    x = mg.tensor([1.0, 2.0], dtype=mg.float32, device=device)
    x.add_(mg.tensor([0.1, 0.2], dtype=other_dtype, device=device))
    x *= 3  # a Python int: no promotion
    assert x.dtype == mg.float32
    np.testing.assert_allclose(host(x), (np.array([1.0, 2.0]) + [0.1, 0.2]) * 3, rtol=1e-6)


INT_CASES = {
    "add_": (lambda x, o: x.add_(o), lambda x, o: x + o),
    "add_ alpha": (lambda x, o: x.add_(o, alpha=-2), lambda x, o: x - 2 * o),
    "sub_": (lambda x, o: x.sub_(o), lambda x, o: x - o),
    "mul_": (lambda x, o: x.mul_(o), lambda x, o: x * o),
    "+= 3": (lambda x, o: _augmented("+=")(x, 3), lambda x, o: x + 3),
    "*= -2": (lambda x, o: _augmented("*=")(x, -2), lambda x, o: x * -2),
    "clamp_": (lambda x, o: x.clamp_(-1, 2), lambda x, o: np.clip(x, -1, 2)),
    "fill_ 5": (lambda x, o: x.fill_(5), lambda x, o: np.full_like(x, 5)),
    # PyTorch casts a float fill value as C does: toward zero.
    "fill_ 2.7": (lambda x, o: x.fill_(2.7), lambda x, o: np.full_like(x, 2)),
    "fill_ -2.7": (lambda x, o: x.fill_(-2.7), lambda x, o: np.full_like(x, -2)),
    "zero_": (lambda x, o: x.zero_(), lambda x, o: np.zeros_like(x)),
    "copy_": (lambda x, o: x.copy_(o), lambda x, o: np.broadcast_to(o, x.shape)),
}


@pytest.mark.parametrize("name", INT_CASES)
def test_integer_inplace_ops_match_numpy(device, name):
    call, reference = INT_CASES[name]
    x_ = np.array([[3, -4, 0], [7, 1, -2]], dtype=np.int64)
    o_ = np.array([2, -3, 5], dtype=np.int64)
    x = mg.tensor(x_, device=device)
    assert call(x, mg.tensor(o_, device=device)) is x
    assert x.dtype == mg.int64
    np.testing.assert_array_equal(host(x), reference(x_, o_))


def test_copy_casts_floats_into_an_integer_tensor_toward_zero(device):
    x = mg.tensor([0, 0, 0], device=device)
    x.copy_(mg.tensor(np.array([2.7, -3.2, 0.9]), device=device))
    np.testing.assert_array_equal(host(x), np.array([2.7, -3.2, 0.9]).astype(np.int64))
    assert x.dtype == mg.int64


def test_copy_takes_arrays_and_lists_and_tensors_of_another_dtype(device):
    x = mg.tensor(np.zeros((2, 2)), device=device)
    x.copy_([[1, 2], [3, 4]])
    np.testing.assert_array_equal(host(x), [[1.0, 2.0], [3.0, 4.0]])
    x.copy_(mg.tensor([5, 6], device=device))  # int64 row, broadcast
    np.testing.assert_array_equal(host(x), [[5.0, 6.0], [5.0, 6.0]])
    assert x.dtype == mg.float64


def test_copy_from_another_device_moves_the_values():
    x = mg.tensor([0.0, 0.0], device="strict:device1")
    x.copy_(mg.tensor([1.5, 2.5]))  # from the CPU
    assert x.device == "strict:device1"
    np.testing.assert_array_equal(host(x), [1.5, 2.5])


def test_bool_tensors_fill_and_copy(device):
    x = mg.tensor([True, False, False], device=device)
    x.fill_(0)
    np.testing.assert_array_equal(host(x), [False, False, False])
    x.copy_(mg.tensor([0.0, 2.5, 0.0], device=device))  # nonzero is True, as a cast
    np.testing.assert_array_equal(host(x), [False, True, False])
    assert x.dtype == mg.bool_


def test_bool_tensors_add_as_logical_or():  # NumPy only: the array API has no bool +
    x = mg.tensor([True, False, False])
    x.add_(mg.tensor([False, False, True]))
    np.testing.assert_array_equal(host(x), [True, False, True])


def test_fill_with_a_zero_dimensional_tensor_casts_it(device):
    x = mg.tensor([[1, 2], [3, 4]], device=device)
    x.fill_(mg.tensor(-2.5, dtype=mg.float64))  # from the CPU, and a float for an int tensor
    np.testing.assert_array_equal(host(x), [[-2, -2], [-2, -2]])
    assert x.dtype == mg.int64 and x._version == 1


def test_zero_dimensional_tensor(device):
    x = mg.tensor(1.5, dtype=mg.float64, device=device)
    x.add_(2).mul_(2)
    assert x.shape == () and x.item() == 7.0


def test_view_of_a_view_and_a_row_see_the_change(device):
    x = mg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    row, flat_then_back = x[1], x.reshape(-1).reshape(3, 2)
    x.mul_(10)
    np.testing.assert_array_equal(host(row), [30.0, 40.0, 50.0])
    np.testing.assert_array_equal(host(flat_then_back), np.arange(0.0, 60.0, 10).reshape(3, 2))


def test_change_through_a_view_reaches_the_base(device):
    x = mg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    x[0].zero_()
    x.reshape(-1).mul_(2)
    x.T.add_(1)
    np.testing.assert_array_equal(host(x), [[1.0, 1.0, 1.0], [7.0, 9.0, 11.0]])
    assert x._version == 3


# -- results that cannot be written ----------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda x, dev: x.add_(1.5),
    lambda x, dev: x.mul_(mg.tensor([0.5, 2.0], device=dev)),
    lambda x, dev: x.div_(2),
    lambda x, dev: x.sub_(mg.tensor([1, 2], device=dev), alpha=0.5),
    lambda x, dev: x.clamp_(0.5, 1.5),
], ids=["add_ float", "mul_ float tensor", "div_ (true division)", "sub_ float alpha",
        "clamp_ float bounds"])
def test_float_result_into_an_integer_tensor_raises_as_pytorch(device, call):
    x = mg.tensor([1, 2], device=device)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        call(x, device)
    np.testing.assert_array_equal(host(x), [1, 2])
    assert x._version == 0


def test_integer_result_into_a_bool_tensor_raises(device):
    x = mg.tensor([True, False], device=device)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(1)


def test_pytorch_refuses_the_same_dtype_changes(torch):
    for call in [lambda x: x.add_(1.5), lambda x: x.div_(2), lambda x: x.clamp_(0.5, 1.5)]:
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            call(torch.tensor([1, 2]))
    assert torch.tensor([1, 2]).fill_(2.7).tolist() == [2, 2]  # fill_ casts, as ours


@pytest.mark.parametrize("other_shape", [(2, 2), (1, 2), (3, 2)], ids=str)
def test_result_larger_than_the_tensor_raises(device, other_shape):
    x = mg.tensor([1.0, 2.0], device=device)
    with pytest.raises(RuntimeError, match=r"output with shape \(2,\) doesn't match the "
                                           r"broadcast shape"):
        x.add_(mg.tensor(np.ones(other_shape), device=device))
    np.testing.assert_array_equal(host(x), [1.0, 2.0])


def test_pytorch_refuses_a_result_larger_than_the_tensor(torch):
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.tensor([1.0, 2.0]).add_(torch.ones(2, 2))


def test_operands_that_do_not_broadcast_raise(device):
    x = mg.tensor([1.0, 2.0], device=device)
    with pytest.raises((RuntimeError, ValueError)):
        x.add_(mg.tensor([1.0, 2.0, 3.0], device=device))
    with pytest.raises(RuntimeError, match="0-dimensional"):
        x.fill_(mg.tensor([1.0, 2.0], device=device))
    np.testing.assert_array_equal(host(x), [1.0, 2.0])
    assert x._version == 0


def test_a_read_only_broadcast_view_cannot_be_written():
    x = mg.tensor([1.0, 2.0]).expand(3, 2)
    with pytest.raises(RuntimeError, match="read-only"):
        x.add_(1)


def test_operand_on_another_device_is_refused():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(mg.DeviceError):
        x.add_(mg.tensor([1.0, 2.0], device="strict:device1"))


# -- leaves, no_grad and parameter updates ---------------------------------------------------

def leaf(device, values, dtype=mg.float64):
    return mg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


@pytest.mark.parametrize("call", [
    lambda w: w.add_(1), lambda w: w.mul_(2), lambda w: w.zero_(), lambda w: w.fill_(1.0),
    lambda w: w.copy_(w * 0), lambda w: w.clamp_(0, 1), lambda w: w.div_(2),
    lambda w: w.sub_(1), lambda w: _augmented("-=")(w, 1),
], ids=["add_", "mul_", "zero_", "fill_", "copy_", "clamp_", "div_", "sub_", "-="])
def test_leaf_that_requires_grad_refuses_inplace_under_grad_mode(device, call):
    w = leaf(device, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        call(w)
    np.testing.assert_array_equal(host(w), [1.0, 2.0])
    assert w._version == 0 and w.is_leaf


def test_pytorch_refuses_inplace_on_a_leaf_that_requires_grad(torch):
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.tensor([1.0], requires_grad=True).add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        torch.tensor([[1.0]], requires_grad=True)[0].add_(1)


def test_view_of_a_leaf_that_requires_grad_refuses_inplace_under_grad_mode(device):
    w = leaf(device, [[1.0, 2.0], [3.0, 4.0]])
    for view in (w[0], w.reshape(-1), w.T, w.reshape(4)[1:3]):
        with pytest.raises(RuntimeError, match="view .* of a leaf tensor that requires grad"):
            view.mul_(2)
    np.testing.assert_array_equal(host(w), [[1.0, 2.0], [3.0, 4.0]])


def test_update_under_no_grad_keeps_the_same_leaf(device):
    w = leaf(device, [1.0, -2.0])
    (w * w).sum().backward()
    data_before = w.data
    with mg.no_grad():
        w -= 0.1 * w.grad
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    assert w.data is data_before  # the same memory
    np.testing.assert_allclose(host(w), [1.0 - 0.2, -2.0 + 0.4])
    (w * w).sum().backward()  # training continues: the new gradient accumulates
    np.testing.assert_allclose(host(w.grad), [2.0 + 1.6, -4.0 - 3.2])


def test_handwritten_sgd_training_matches_pytorch(torch, device):
    rng = np.random.default_rng(3)
    inputs, targets = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    w0, b0 = rng.standard_normal((3, 1)), rng.standard_normal(1)

    def train(lib, tensor):
        w, b = tensor(w0, True), tensor(b0, True)
        x, y = tensor(inputs, False), tensor(targets, False)
        for _ in range(5):
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                w -= 0.1 * w.grad
                b.sub_(b.grad, alpha=0.1)
                w.grad.zero_()
                b.grad.zero_()
        return w, b

    w, b = train(mg, lambda a, rg: mg.tensor(a, device=device, requires_grad=rg))
    tw, tb = train(torch, lambda a, rg: torch.tensor(a, requires_grad=rg))
    np.testing.assert_allclose(host(w), tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(host(b), tb.detach().numpy(), rtol=1e-12)
    assert w.is_leaf and w.requires_grad


def test_zeroed_grad_accumulates_from_zero(device):
    x = leaf(device, [1.0, 2.0])
    (x * 3).sum().backward()
    grad = x.grad
    x.grad.zero_()
    assert x.grad is grad
    np.testing.assert_array_equal(host(grad), [0.0, 0.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [2.0, 4.0])


# -- autograd through in-place ops, against PyTorch ------------------------------------------
# Each scenario runs on minigrad and on PyTorch through `lib` (the same spelling in both) and
# returns the tensors whose .grad to compare. The outcomes must agree: both raise the
# in-place-modification error, or neither does and the gradients are equal.


class _Lib:
    """What the scenarios need from a library: float64 tensors on one device, no_grad, SGD."""

    def __init__(self, module, device=None):
        self.module, self.device = module, device
        self.no_grad = module.no_grad
        self.SGD = module.optim.SGD

    def tensor(self, values, requires_grad=False):
        values = np.asarray(values, dtype=np.float64)
        if self.module is mg:
            return mg.tensor(values, device=self.device, requires_grad=requires_grad)
        return self.module.tensor(values, requires_grad=requires_grad)


def _xw(lib):
    x = lib.tensor([[0.5, -1.0], [2.0, 1.5]], requires_grad=True)
    w = lib.tensor([[1.5, 0.25], [-0.5, 2.0]], requires_grad=True)
    return x, w


def issue_example(lib):
    x, w = _xw(lib)
    y = (x * w).sum()
    y.backward(retain_graph=True)
    lib.SGD([w], lr=1).step()
    y.backward()
    return x, w


def sum_of_sum_then_change_w(lib):
    x, w = _xw(lib)
    y = (x + w).sum()
    with lib.no_grad():
        w.add_(1)
    y.backward()
    return x, w


def scale_by_number_then_change_x(lib):
    x, _ = _xw(lib)
    y = (x * 2).sum()
    with lib.no_grad():
        x.add_(1)  # mul by a number saves only the number
    y.backward()
    return (x,)


def product_then_change_x(lib):
    x, w = _xw(lib)
    y = (x * w).sum()
    with lib.no_grad():
        x.add_(1)  # w's gradient needs x
    y.backward()
    return x, w


def product_with_constant_then_change_constant(lib):
    x, _ = _xw(lib)
    c = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = (x * c).sum()
    c.mul_(2)
    y.backward()
    return (x,)


def product_with_constant_then_change_x(lib):
    x, _ = _xw(lib)
    c = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = (x * c).sum()
    with lib.no_grad():
        x.mul_(2)  # only c is needed
    y.backward()
    return (x,)


def sgd_step_between_two_backwards_of_matmul(lib):
    x, w = _xw(lib)
    y = (x @ w).tanh().sum()
    y.backward(retain_graph=True)
    lib.SGD([w], lr=0.1).step()
    y.backward()
    return x, w


def change_w_through_reshape(lib):
    x, w = _xw(lib)
    y = (x * w).sum()
    with lib.no_grad():
        w.reshape(-1).mul_(2)
    y.backward()
    return x, w


def change_w_through_a_row(lib):
    x, w = _xw(lib)
    y = (x * w).sum()
    with lib.no_grad():
        w[0].zero_()
    y.backward()
    return x, w


def change_w_through_transpose(lib):
    x, w = _xw(lib)
    y = (x * w).sum()
    with lib.no_grad():
        w.T.add_(1)
    y.backward()
    return x, w


def power_then_change_x(lib):
    x, _ = _xw(lib)
    y = (x ** 2).sum()
    with lib.no_grad():
        x.sub_(1)
    y.backward()
    return (x,)


def sum_then_change_x(lib):
    x, _ = _xw(lib)
    y = x.sum() * 3
    with lib.no_grad():
        x.add_(1)
    y.backward()
    return (x,)


def add_then_mul_on_a_product(lib):
    x, _ = _xw(lib)
    y = x * 2
    y.add_(1)
    y.mul_(3)
    y.sum().backward()
    return (x,)


def every_inplace_op_on_a_non_leaf(lib):
    x, w = _xw(lib)
    y = x * 1.5
    y.add_(w, alpha=2)
    y.sub_(x)
    y *= w
    y.div_(w + 3)
    y.clamp_(-0.6, 0.8)
    y -= 0.5 * x
    (y * y).sum().backward()
    return x, w


def exp_then_add(lib):
    x, _ = _xw(lib)
    y = x.exp()
    y.add_(1)  # exp's backward needs its output
    y.sum().backward()
    return (x,)


def exp_then_add_under_no_grad(lib):
    x, _ = _xw(lib)
    y = x.exp()
    with lib.no_grad():
        y.add_(1)
    y.sum().backward()
    return (x,)


def sigmoid_then_mul(lib):
    x, _ = _xw(lib)
    y = x.sigmoid()
    y.mul_(2)
    y.sum().backward()
    return (x,)


def tanh_then_sub(lib):
    x, _ = _xw(lib)
    y = x.tanh()
    y -= 1
    y.sum().backward()
    return (x,)


def product_then_mul_by_w(lib):
    x, w = _xw(lib)
    y = x * 1
    y.mul_(w)  # w's gradient needs y's old values: PyTorch keeps them
    y.sum().backward()
    return x, w


def product_then_div_by_w(lib):
    x, w = _xw(lib)
    y = x * 3
    y.div_(w)
    y.sum().backward()
    return x, w


def add_itself(lib):
    x, _ = _xw(lib)
    y = x * 2
    y.add_(y)
    y.add_(y, alpha=0.5)
    y.sum().backward()
    return (x,)


def mul_by_itself(lib):
    x, _ = _xw(lib)
    y = x * 2
    y.mul_(y)  # mul saves its operand, which is y, changed
    y.sum().backward()
    return (x,)


def copy_itself(lib):
    x, _ = _xw(lib)
    y = x * 2
    y.copy_(y)
    (y * y).sum().backward()
    return (x,)


def add_its_transpose(lib):
    x, _ = _xw(lib)
    y = x * 2
    y.add_(y.T)  # overlapping memory: PyTorch refuses
    y.sum().backward()
    return (x,)


def fill_then_use(lib):
    x, _ = _xw(lib)
    y = x * 2
    y.fill_(1.5)
    (y * x).sum().backward()
    return (x,)


def fill_with_a_tensor(lib):
    x, _ = _xw(lib)
    value = lib.tensor(0.75, requires_grad=True)
    y = x * 2
    y.fill_(value)
    (y * x).sum().backward()
    return x, value


def zero_then_add(lib):
    x, w = _xw(lib)
    y = x * 2
    y.zero_()
    y.add_(w * x)
    y.sum().backward()
    return x, w


def copy_from_w(lib):
    x, w = _xw(lib)
    y = x * 2
    y.copy_(w[0])  # broadcast row: its gradient is summed
    (y * 3).sum().backward()
    return x, w


def constant_takes_a_gradient_in_place(lib):
    _, w = _xw(lib)
    b = lib.tensor([[0.0, 0.0], [0.0, 0.0]])
    b.add_(w)
    (b * b).sum().backward()
    return (w,)


def retain_grad_then_change(lib):
    x, _ = _xw(lib)
    y = x * 2
    y.retain_grad()
    y.add_(1)
    (y * y).sum().backward()
    return x, y


def non_leaf_changed_under_no_grad(lib):
    x, w = _xw(lib)
    y = x + w
    with lib.no_grad():
        y.mul_(2)  # add saved nothing; y keeps its grad_fn
    (y * 3).sum().backward()
    return x, w


def use_then_change(lib):
    x, _ = _xw(lib)
    y = x * 2
    z = y + 0  # recorded before the change: its gradient is 2, not 6 (edges, as PyTorch's)
    y.mul_(3)
    z.sum().backward()
    return (x,)


def quotient_then_change(lib):
    x, w = _xw(lib)
    y = x / w  # div saves its inputs, not its output, as PyTorch
    y.add_(1)
    y.sum().backward()
    return x, w


def constant_changed_by_a_tensor_after_use(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    w2 = lib.tensor([1.0, 1.0], requires_grad=True)
    b = lib.tensor([0.0, 0.0])
    y = w + b  # b was a constant when y was made: w2 gets no gradient through y
    b.add_(w2)
    y.sum().backward()
    return w, w2


SCENARIOS = [issue_example, sum_of_sum_then_change_w, scale_by_number_then_change_x,
             product_then_change_x, product_with_constant_then_change_constant,
             product_with_constant_then_change_x, sgd_step_between_two_backwards_of_matmul,
             change_w_through_reshape, change_w_through_a_row, change_w_through_transpose,
             power_then_change_x, sum_then_change_x, add_then_mul_on_a_product,
             every_inplace_op_on_a_non_leaf, exp_then_add, exp_then_add_under_no_grad,
             sigmoid_then_mul, tanh_then_sub, product_then_mul_by_w, product_then_div_by_w,
             add_itself, mul_by_itself, copy_itself, add_its_transpose, fill_then_use,
             fill_with_a_tensor, zero_then_add, copy_from_w,
             constant_takes_a_gradient_in_place, retain_grad_then_change,
             non_leaf_changed_under_no_grad, use_then_change, quotient_then_change,
             constant_changed_by_a_tensor_after_use]


def _outcome(scenario, lib):
    """("raises", message) or ("grads", [gradient arrays])."""
    try:
        tensors = scenario(lib)
    except RuntimeError as err:
        return "raises", str(err)
    grads = []
    for t in tensors:
        g = t.grad
        grads.append(None if g is None else (host(g) if lib.module is mg
                                             else g.detach().numpy()))
    return "grads", grads


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_inplace_autograd_matches_pytorch(torch, device, scenario):
    ours, message = _outcome(scenario, _Lib(mg, device))
    theirs, reference = _outcome(scenario, _Lib(torch))
    assert ours == theirs, f"minigrad: {ours} ({message}); PyTorch: {theirs} ({reference})"
    if ours == "raises":
        assert ("modified by an in-place operation" in message) == (
            "modified by an inplace operation" in reference), (message, reference)
        return
    for g, expected in zip(message, reference, strict=True):
        assert (g is None) == (expected is None)
        if g is not None:
            np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12)


def test_version_error_names_the_op_and_the_shape(device):
    x = leaf(device, [[1.0, 2.0, 3.0]])
    w = leaf(device, [[0.5, 0.5, 0.5]])
    y = (x * w).sum()
    y.backward(retain_graph=True)
    mg.optim.SGD([w], lr=1).step()
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*\(1, 3\).*'mul'"):
        y.backward()
    e = x.exp()
    e.add_(1)
    with pytest.raises(RuntimeError, match=r"\(1, 3\).*'exp' saved is at version 1; expected "
                                           r"version 0"):
        e.sum().backward()


def test_gradients_through_inplace_ops_pass_gradcheck(device):
    rng = np.random.default_rng(5)
    x, w = leaf(device, rng.standard_normal((2, 3))), leaf(device, rng.uniform(1, 2, (3,)))

    def fn(x, w):
        y = x * 1
        y.mul_(w)  # keeps y's old values for w's gradient
        y.add_(x.exp(), alpha=0.5)
        y.div_(w)
        y -= w
        return y * y

    assert mg.gradcheck(fn, (x, w))
    assert mg.gradgradcheck(fn, (x, w))


def test_inplace_on_a_view_of_a_non_leaf_raises_instead_of_a_wrong_gradient(device):
    """PyTorch rewrites the base's graph for this (CopySlices); minigrad refuses it."""
    x = leaf(device, [[1.0, 2.0], [3.0, 4.0]])
    y = x * 2
    for view in (y[0], y.reshape(-1), y.T):
        with pytest.raises(RuntimeError, match="changing in place a view"):
            view.mul_(3)
    with mg.no_grad():
        y[0].mul_(3)  # without recording it is an ordinary change
    np.testing.assert_array_equal(host(y), [[6.0, 12.0], [6.0, 8.0]])


def test_operand_sharing_memory_with_the_target_raises_as_pytorch(torch, device):
    x = leaf(device, [[1.0, 2.0], [3.0, 4.0]])
    y = x * 2
    with pytest.raises(RuntimeError, match="shares memory"):
        y.add_(y[0])
    with pytest.raises(RuntimeError, match="single memory location"):
        ty = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True) * 2
        ty.add_(ty[0])


def test_detached_copy_shares_the_version_counter(device):
    x = leaf(device, [1.0, 2.0])
    y = x.exp()
    y.detach().mul_(2)  # same memory as y, which exp saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# -- casting (Tensor.to) ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [mg.int64, mg.int32, mg.bool_], ids=str)
def test_cast_to_a_non_float_dtype_leaves_the_graph(device, dtype):
    x = mg.tensor([1.5, -2.5, 0.0], device=device, requires_grad=True)
    y = x.to(dtype=dtype)
    assert y.dtype == dtype and not y.requires_grad and y.is_leaf and y.grad_fn is None
    np.testing.assert_array_equal(host(y), np.array([1.5, -2.5, 0.0]).astype(dtype))
    loss = y.to(dtype=mg.float64).sum()  # back to float: still outside the graph
    assert not loss.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        loss.backward()


def test_pytorch_casts_to_integers_outside_the_graph(torch):
    y = torch.tensor([1.5, 2.5], requires_grad=True).to(dtype=torch.int64)
    assert not y.requires_grad and y.grad_fn is None


def test_gradient_flows_only_through_the_float_path(torch, device):
    def run(lib, tensor):
        x = tensor([1.5, -2.5, 3.0])
        rounded = x.to(dtype=lib.int64).to(dtype=lib.float64)
        (x * rounded + x * x).sum().backward()
        return x.grad

    ours = run(mg, lambda v: mg.tensor(v, dtype=mg.float64, device=device, requires_grad=True))
    theirs = run(torch, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    np.testing.assert_array_equal(host(ours), theirs.numpy())


@pytest.mark.parametrize("dtype", [mg.float32, mg.float16], ids=str)
def test_float_casts_stay_differentiable(device, dtype):
    if dtype == mg.float16 and device.startswith("strict"):
        pytest.skip("array_api_strict has no float16")
    x = leaf(device, [0.3, -1.2, 2.0])

    def fn(x):  # through a narrower float and back: the gradient is cast back to float64
        return (x.to(dtype=dtype) * 3).to(dtype=mg.float64) * x

    # Looser than usual: the forward passes through float16/32, whose rounding (a relative
    # 1e-3 for float16) limits what central differences can resolve.
    tol = {mg.float32: 1e-4, mg.float16: 2e-2}[dtype]
    assert mg.gradcheck(fn, (x,), eps=1e-2, atol=tol, rtol=tol)
    assert mg.gradgradcheck(fn, (x,), eps=1e-2, atol=tol, rtol=tol)
    out = x.to(dtype=dtype)
    assert out.requires_grad and out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == mg.float64
    np.testing.assert_array_equal(host(x.grad), [1.0, 1.0, 1.0])


def test_move_between_devices_is_differentiable(device):
    x = leaf(device, [0.5, -1.0])

    def fn(x):
        return x.to("strict:cpu").exp().to(device) * x

    assert mg.gradcheck(fn, (x,))
    fn(x).sum().backward()
    assert x.grad.device == device


def test_to_accepts_pytorch_spellings(device):
    x = mg.tensor([1.5, 2.5], device=device, requires_grad=True)
    assert x.to(mg.float64).dtype == mg.float64  # a dtype in the first place
    assert x.to(np.float64).dtype == mg.float64
    assert x.to(dtype="float64").requires_grad
    like = mg.tensor([1], dtype=mg.int32, device="strict:cpu")
    moved = x.to(like)  # other's device and dtype
    assert moved.device == "strict:cpu" and moved.dtype == mg.int32
    assert x.to(device) is x and x.to(dtype=mg.float32) is x


def test_module_refuses_a_non_floating_dtype():
    layer = mg.nn.Linear(2, 3)
    for dtype in (mg.int64, mg.bool_):
        with pytest.raises(TypeError, match="floating-point"):
            layer.to(dtype=dtype)
    assert layer.weight.dtype == mg.float32
    layer.to(dtype=mg.float64)
    assert layer.weight.dtype == mg.float64 and layer.weight.requires_grad
