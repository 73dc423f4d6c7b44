"""minigrad.autograd.Function: ops of your own with a forward and a backward, as PyTorch's
torch.autograd.Function. Gradients are checked by finite differences (gradcheck, and
gradgradcheck for second order) on every device, and against the same Function written for
PyTorch."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function


def host(t):
    return mg.to_numpy(t)


def leaf(device, values):
    return mg.tensor(np.asarray(values, dtype=np.float64), device=device, requires_grad=True)


X_VALUES = [[0.3, -1.2, 2.0], [-0.7, 0.05, 1.1]]


# -- the Functions, written once for either library ---------------------------------------------
# Each factory takes the library's Function base class and its module, and returns the class.

def cube_function(base, lib):
    class Cube(base):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    return Cube


def softplus_function(base, lib):
    class StableSoftplus(base):
        """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|); d/dx = sigmoid(x)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x + x.abs()) / 2 + (1 + (-x.abs()).exp()).log()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.sigmoid()

    return StableSoftplus


def exp_function(base, lib):
    class SavedOutputExp(base):
        """Saves its output, which under create_graph must stay connected to x."""

        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    return SavedOutputExp


def scaled_product_function(base, lib):
    class ScaledProduct(base):
        """x * w * scale + shift, with two numbers among the arguments."""

        @staticmethod
        def forward(ctx, x, scale, w, shift=0.0):
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            return x * w * scale + shift

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            gx = g * w * ctx.scale if ctx.needs_input_grad[0] else None
            gw = g * x * ctx.scale if ctx.needs_input_grad[2] else None
            return gx, None, gw, None  # shift given by keyword counts as an argument

    return ScaledProduct


def exp_and_square_function(base, lib):
    class ExpAndSquare(base):
        """Two differentiable outputs, e^x and w^2, and one that is not (x > 0)."""

        @staticmethod
        def forward(ctx, x, w):
            e = x.exp()
            ctx.save_for_backward(e, w)
            return e, w * w, x > 0

        @staticmethod
        def backward(ctx, g_exp, g_square, g_positive):
            e, w = ctx.saved_tensors
            return g_exp * e, g_square * 2 * w

    return ExpAndSquare


CORRECT = {"cube": cube_function, "softplus": softplus_function, "saved-output": exp_function}


# -- correct Functions: finite differences on every device -------------------------------------

@pytest.mark.parametrize("name", CORRECT)
def test_correct_function_passes_gradcheck_and_gradgradcheck(device, name):
    fn = CORRECT[name](Function, mg)
    x = leaf(device, X_VALUES)
    assert mg.gradcheck(fn.apply, (x,))
    assert mg.gradgradcheck(fn.apply, (x,))


def test_function_with_number_arguments_passes_both_checks(device):
    fn = scaled_product_function(Function, mg)
    x, w = leaf(device, X_VALUES), leaf(device, np.ones((2, 3)) * 0.5 - np.eye(2, 3))
    assert mg.gradcheck(lambda x, w: fn.apply(x, 2.5, w, shift=1.0), (x, w))
    assert mg.gradgradcheck(lambda x, w: fn.apply(x, 2.5, w), (x, w))


def test_function_inside_a_larger_graph_passes_both_checks(device):
    cube, softplus = cube_function(Function, mg), softplus_function(Function, mg)
    x, w = leaf(device, X_VALUES), leaf(device, [[0.5], [-1.5], [0.25]])

    def model(x, w):
        return softplus.apply(cube.apply(x) @ w).tanh() * x.sum()

    assert mg.gradcheck(model, (x, w))
    assert mg.gradgradcheck(model, (x, w))


@pytest.mark.parametrize("use", ["both", "first", "second"])
def test_several_outputs_pass_both_checks(device, use):
    fn = exp_and_square_function(Function, mg)
    x, w = leaf(device, X_VALUES), leaf(device, [1.5, -0.5, 2.0])

    def f(x, w):
        e, square, positive = fn.apply(x, w)
        assert not positive.requires_grad
        return {"both": e * square, "first": e, "second": square}[use]

    assert mg.gradcheck(f, (x, w))
    assert mg.gradgradcheck(f, (x, w))


# -- against PyTorch -------------------------------------------------------------------------

def _gradients(lib, fn, arrays, device=None):
    """Output, first gradients and Hessian-vector products of sum(fn(*x) * weight)."""
    rng = np.random.default_rng(7)
    if lib is mg:
        xs = [mg.tensor(a, device=device, requires_grad=True) for a in arrays]
        grad, to_host = mg.autograd.grad, host
    else:
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        grad, to_host = lib.autograd.grad, (lambda t: t.detach().numpy())
    out = fn(*xs)
    weight = rng.standard_normal(tuple(out.shape))
    loss = (out * (mg.tensor(weight, device=device) if lib is mg else lib.tensor(weight))).sum()
    firsts = grad(loss, xs, create_graph=True)
    directions = [rng.standard_normal(a.shape) for a in arrays]
    total = sum(((g * (mg.tensor(v, device=device) if lib is mg else lib.tensor(v))).sum()
                 for g, v in zip(firsts, directions, strict=True)), start=0)
    seconds = grad(total, xs, allow_unused=True)
    return ([to_host(out)] + [to_host(g) for g in firsts]
            + [None if g is None else to_host(g) for g in seconds])


def _against_pytorch(torch, device, make_fn, call, arrays):
    ours = _gradients(mg, call(make_fn(Function, mg)), arrays, device)
    theirs = _gradients(torch, call(make_fn(torch.autograd.Function, torch)), arrays)
    for a, b in zip(ours, theirs, strict=True):
        if b is None:
            assert a is None or not np.any(a)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CORRECT)
def test_matches_the_same_function_in_pytorch(torch, device, name):
    _against_pytorch(torch, device, CORRECT[name], lambda fn: fn.apply,
                     [np.array(X_VALUES)])


def test_number_arguments_match_pytorch(torch, device):
    w = np.array([[1.5, -0.5, 2.0], [0.25, 1.0, -1.0]])
    _against_pytorch(torch, device, scaled_product_function,
                     lambda fn: lambda x, w: fn.apply(x, -1.5, w, shift=0.5),
                     [np.array(X_VALUES), w])


@pytest.mark.parametrize("use", ["both", "first", "second"])
def test_several_outputs_match_pytorch(torch, device, use):
    def call(fn):
        def f(x, w):
            e, square, _ = fn.apply(x, w)
            return {"both": e * square, "first": e, "second": square}[use]

        return f

    _against_pytorch(torch, device, exp_and_square_function, call,
                     [np.array(X_VALUES), np.array([1.5, -0.5, 2.0])])


# -- what backward receives --------------------------------------------------------------------

def _recording(make_outputs):
    """A Function of one tensor whose forward returns make_outputs(x) and whose backward
    records the gradients it receives (and returns ones)."""
    received = []

    class Recorder(Function):
        @staticmethod
        def forward(ctx, x):
            return make_outputs(x)

        @staticmethod
        def backward(ctx, *grads):
            received.append(grads)
            return mg.ones_like(grads[0]) if grads[0] is not None else None

    return Recorder, received


def test_unused_output_gets_zeros_and_non_tensors_get_none(device):
    fn, received = _recording(lambda x: (x * 2, x.sum() * 3, "label", x.to(dtype=mg.int64)))
    x = leaf(device, [1.0, 4.0, 2.0])
    doubled, total, label, index = fn.apply(x)
    assert label == "label"
    assert doubled.requires_grad and total.requires_grad and not index.requires_grad
    np.testing.assert_array_equal(host(index), [1, 4, 2])
    total.backward()
    ((g_doubled, g_total, g_label, g_index),) = received
    np.testing.assert_array_equal(host(g_doubled), [0.0, 0.0, 0.0])  # unused: zeros
    assert g_total.shape == () and g_total.item() == 1.0
    assert g_label is None
    assert g_index.dtype == mg.int64
    np.testing.assert_array_equal(host(g_index), [0, 0, 0])


def test_pytorch_gives_an_unused_output_zeros_and_a_non_tensor_none(torch):
    received = []

    class Recorder(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x.sum() * 3, "label", x.to(dtype=torch.int64)

        @staticmethod
        def backward(ctx, *grads):
            received.append(grads)
            return torch.ones_like(grads[0])

    Recorder.apply(torch.tensor([1.0, 4.0, 2.0], requires_grad=True))[1].backward()
    ((g_doubled, _, g_label, g_index),) = received
    assert g_doubled.tolist() == [0.0, 0.0, 0.0] and g_label is None
    assert g_index.tolist() == [0, 0, 0]


def test_gradients_of_several_outputs_add_up_in_one_backward_call(device):
    fn, received = _recording(lambda x: (x * 2, x * 3))
    x = leaf(device, [1.0, 2.0])
    a, b = fn.apply(x)
    (a * 5 + b * 7 + a).sum().backward()
    assert len(received) == 1
    ((g_a, g_b),) = received
    np.testing.assert_array_equal(host(g_a), [6.0, 6.0])
    np.testing.assert_array_equal(host(g_b), [7.0, 7.0])
    np.testing.assert_array_equal(host(x.grad), [1.0, 1.0])  # the Recorder returns ones


def test_outputs_of_different_dtypes(device):
    class Pair(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, (x * 3).to(dtype=mg.float32)

        @staticmethod
        def backward(ctx, g64, g32):
            assert g64.dtype == mg.float64 and g32.dtype == mg.float32
            return g64 * 2 + g32.to(dtype=mg.float64) * 3

    x = leaf(device, [1.0, 2.0])
    a, b = Pair.apply(x)
    assert a.dtype == mg.float64 and b.dtype == mg.float32
    (a.sum() + b.sum()).backward()
    np.testing.assert_array_equal(host(x.grad), [5.0, 5.0])


def test_mark_non_differentiable(device):
    class SortedWithOrder(Function):
        @staticmethod
        def forward(ctx, x):
            doubled, order = x * 2, x * 0 + 1
            ctx.mark_non_differentiable(order)
            return doubled, order

        @staticmethod
        def backward(ctx, g, g_order):
            np.testing.assert_array_equal(host(g_order), [0.0, 0.0])
            return g * 2

    x = leaf(device, [1.0, 2.0])
    doubled, order = SortedWithOrder.apply(x)
    assert doubled.requires_grad and not order.requires_grad
    doubled.sum().backward()
    np.testing.assert_array_equal(host(x.grad), [2.0, 2.0])


def test_needs_input_grad_and_number_arguments_get_no_gradient(device):
    seen = []

    class Affine(Function):
        @staticmethod
        def forward(ctx, x, scale, w, name="affine"):
            seen.append((ctx.needs_input_grad, name))
            return x * scale + w

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, g, None  # None for the numbers

    x, w = leaf(device, [1.0, 2.0]), mg.tensor([0.5, 0.5], dtype=mg.float64, device=device)
    y = Affine.apply(x, 2, w, name="kw")
    assert seen == [((True, False, False, False), "kw")]  # name, given by keyword, counts
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), [2.0, 2.0])
    assert w.grad is None


def test_forward_does_not_record_and_backward_sees_tensors(device):
    modes = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(("forward", mg.is_grad_enabled(), (x * 2).requires_grad))
            return x * 2

        @staticmethod
        def backward(ctx, g):
            modes.append(("backward", type(g).__name__, g.device))
            return g * 2

    x = leaf(device, [1.0])
    y = Probe.apply(x)
    assert y.grad_fn is not None and y.grad_fn.name == "Probe"
    y.backward()
    assert modes == [("forward", False, False), ("backward", "Tensor", mg.device(device))]


def test_no_graph_without_inputs_that_require_grad(device):
    fn = cube_function(Function, mg)
    constant = mg.tensor([2.0], device=device)
    assert not fn.apply(constant).requires_grad
    x = leaf(device, [2.0])
    with mg.no_grad():
        y = fn.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(host(y), [8.0])


def test_backward_twice_with_retain_graph_accumulates(device):
    fn = cube_function(Function, mg)
    x = leaf(device, [2.0, -1.0])
    y = fn.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(host(x.grad), [24.0, 6.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_function_is_exported_at_the_top_level():
    assert mg.Function is mg.autograd.Function
    assert mg.autograd.FunctionCtx is not None


def test_output_on_another_device(device):
    class MoveAndDouble(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.source = x.device
            return x.to("strict:cpu") * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).to(ctx.source)

    x = leaf(device, [1.0, 3.0])
    y = MoveAndDouble.apply(x)
    assert y.device == "strict:cpu"
    (y * y).sum().backward()
    assert x.grad.device == device
    np.testing.assert_array_equal(host(x.grad), [8.0, 24.0])  # d (2x)^2 / dx = 8x


# -- wrong backwards are caught ----------------------------------------------------------------

def test_planted_wrong_backward_fails_gradcheck(device):
    class WrongCube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x ** 2  # should be 3 x^2

    with pytest.raises(mg.GradcheckError, match="gradient mismatch"):
        mg.gradcheck(WrongCube.apply, (leaf(device, X_VALUES),))


def test_backward_with_a_constant_passes_gradcheck_but_fails_gradgradcheck(device):
    class ConstantCube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            frozen = mg.tensor(x.data, device=x.device)  # read the values: a constant
            return g * 3 * frozen ** 2

    x = leaf(device, X_VALUES)
    assert mg.gradcheck(ConstantCube.apply, (x,))
    with pytest.raises(mg.GradcheckError, match="second-order"):
        mg.gradgradcheck(ConstantCube.apply, (x,))


def _returning(value_of):
    """A Function of (x, k) whose backward returns value_of(g)."""
    class Faulty(Function):
        @staticmethod
        def forward(ctx, x, k=1.0):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return value_of(g)

    return Faulty


@pytest.mark.parametrize("value_of, error, message", [
    (lambda g: (g, None, g), RuntimeError, "Faulty.backward returned 3 gradients, but forward "
                                           "took 2 arguments"),
    (lambda g: g, RuntimeError, "Faulty.backward returned 1 gradients, but forward took 2"),
    (lambda g: (g.sum(), None), RuntimeError, r"Faulty.backward returned a gradient of shape "
                                              r"\(\) for argument 0 of shape \(2, 3\)"),
    (lambda g: (2.0, None), TypeError, "Faulty.backward returned a float for argument 0"),
    (lambda g: (g.numpy(), None), TypeError, "Faulty.backward returned a ndarray"),
    (lambda g: (g, g), RuntimeError, "Faulty.backward returned a gradient for argument 1, "
                                     "which is not a tensor"),
], ids=["too-many", "too-few", "wrong-shape", "number", "array", "gradient-for-a-number"])
def test_wrong_gradients_raise_errors_naming_the_function(value_of, error, message):
    x = leaf("cpu", X_VALUES)
    y = _returning(value_of).apply(x, 2.0)
    with pytest.raises(error, match=message):
        y.sum().backward()


def test_extra_trailing_nones_are_accepted_as_in_pytorch(device):
    fn = _returning(lambda g: (g * 2, None, None))
    x = leaf(device, [1.0, 2.0])
    fn.apply(x, 2.0).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [2.0, 2.0])


def test_gradient_on_another_device_raises():
    fn = _returning(lambda g: (g.to("strict:cpu"), None))
    y = fn.apply(leaf("cpu", [1.0]), 2.0)
    with pytest.raises(mg.DeviceError, match="Faulty.backward returned a gradient on strict"):
        y.backward()


def test_forward_must_return_tensors():
    class ReturnsList(Function):
        @staticmethod
        def forward(ctx, x):
            return [x]

    with pytest.raises(TypeError, match="ReturnsList.forward must return a Tensor or a tuple"):
        ReturnsList.apply(leaf("cpu", [1.0]))


def test_save_for_backward_takes_tensors_only():
    class SavesNumber(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 2.0)
            return x

    with pytest.raises(TypeError, match="save_for_backward takes tensors"):
        SavesNumber.apply(leaf("cpu", [1.0]))


# -- saved tensors -----------------------------------------------------------------------------

def test_saved_input_changed_in_place_raises_the_version_error(device):
    fn = cube_function(Function, mg)
    x = leaf(device, [[1.0, 2.0, 3.0]])
    y = fn.apply(x)
    with mg.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*\(1, 3\).*"
                                           r"'Cube' saved"):
        y.sum().backward()


def test_saved_output_changed_in_place_raises_the_version_error(torch, device):
    for lib, base in ((mg, Function), (torch, torch.autograd.Function)):
        fn = exp_function(base, lib)
        x = (leaf(device, [1.0, 2.0]) if lib is mg
             else torch.tensor([1.0, 2.0], requires_grad=True))
        y = fn.apply(x)
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation|modified by an "
                                               "in-place operation"):
            y.sum().backward()


def test_saved_output_of_several_changed_in_place_raises(device):
    fn = exp_and_square_function(Function, mg)
    e, square, _ = fn.apply(leaf(device, [1.0]), leaf(device, [2.0]))
    e.mul_(2)
    with pytest.raises(RuntimeError, match="'ExpAndSquare' saved"):
        (e + square).sum().backward()


def test_saved_tensors_only_inside_backward():
    captured = []

    class Peek(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            captured.append(ctx)
            with pytest.raises(RuntimeError, match="only be read inside backward"):
                _ = ctx.saved_tensors
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2

    y = Peek.apply(leaf("cpu", [1.0]))
    with pytest.raises(RuntimeError, match="only be read inside backward"):
        _ = captured[0].saved_tensors
    y.backward()
    with pytest.raises(RuntimeError, match="only be read inside backward"):
        _ = captured[0].saved_tensors


def test_output_shares_the_memory_and_version_of_a_returned_input(torch, device):
    def run(lib, base, tensor):
        class Identity(base):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g

        x, w = tensor([1.0, 2.0]), tensor([3.0, 4.0])
        product = (x * w).sum()  # saves x
        y = Identity.apply(x)
        assert y.grad_fn is not None
        with lib.no_grad():
            y.add_(1)  # changes x
        assert x.tolist() == [2.0, 3.0]
        with pytest.raises(RuntimeError, match="modified by an in.?place operation"):
            product.backward()

    run(mg, Function, lambda v: leaf(device, v))
    run(torch, torch.autograd.Function,
        lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))


def test_tensor_given_by_keyword_gets_its_gradient_as_in_pytorch(torch, device):
    def run(base, x, w):
        class Product(base):
            @staticmethod
            def forward(ctx, x, scale=1.0, w=None):
                ctx.save_for_backward(x, w)
                ctx.seen = ctx.needs_input_grad
                return x * w * scale

            @staticmethod
            def backward(ctx, g):
                x, w = ctx.saved_tensors
                return g * w * 2, None, g * x * 2

        y = Product.apply(x, w=w, scale=2)
        y.sum().backward()
        return y.grad_fn

    ours = [leaf(device, [1.0, -2.0]), leaf(device, [3.0, 0.5])]
    theirs = [torch.tensor([1.0, -2.0], requires_grad=True),
              torch.tensor([3.0, 0.5], requires_grad=True)]
    run(Function, *ours)
    run(torch.autograd.Function, *theirs)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(host(a.grad), b.grad.numpy())
