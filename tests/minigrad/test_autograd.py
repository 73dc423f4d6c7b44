"""The backward pass: deep graphs, accumulation, shared subgraphs, explicit gradients, freeing
the graph, grad mode, detach, requires_grad_, retain_grad and leaves."""

import gc
import time
import weakref

import numpy as np
import pytest

import minigrad as mg


def leaf(device, values, dtype=mg.float64):
    return mg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


def grad_of(t):
    return mg.to_numpy(t.grad)


# -- deep graphs ---------------------------------------------------------------------------

def test_chain_of_100000_ops_backpropagates():
    x = leaf("cpu", [1.0, 2.0])
    y = x
    start = time.perf_counter()
    for _ in range(50_000):  # 100,000 ops; dy/dx = 1.00001^50000
        y = y * 1.00001 + 1.0
    y.sum().backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(grad_of(x), [1.00001 ** 50_000] * 2, rtol=1e-9)
    assert elapsed < 10, f"100,000-op chain took {elapsed:.1f} s"


def test_long_chain_on_a_strict_device():
    x = leaf("strict:device1", [3.0])
    y = x
    for _ in range(10_000):
        y = y + 1
    y.backward()
    assert grad_of(x).tolist() == [1.0]
    assert y.item() == 10_003.0


def test_dropping_a_deep_graph_without_backward_is_fine():
    x = leaf("cpu", [1.0])
    y = x
    for _ in range(100_000):
        y = y + 1
    del y  # freeing 100,000 nested tensors must not overflow the C stack
    gc.collect()


# -- how gradients combine -------------------------------------------------------------------

def test_gradients_accumulate_across_backward_calls(device):
    x = leaf(device, [1.0, -2.0, 3.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [3.0, 3.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [5.0, -1.0, 9.0])  # 3 + 2x


def test_diamond_graph_sums_both_paths(device):
    x = leaf(device, [1.0, 2.0])
    y = x * 2  # used twice below
    z = (y * y + y.exp()).sum()
    z.backward()
    values = np.array([1.0, 2.0])
    np.testing.assert_allclose(grad_of(x), (2 * (2 * values) + np.exp(2 * values)) * 2)


def test_a_node_runs_once_with_the_gradients_of_all_its_readers(device):
    """y is read by an op made right after it and by the last op of a 20-op branch made from
    it; its backward must wait for both and run once, with their sum (the engine runs nodes
    newest first). Checked against the closed form d/dx [3y + (y + 20)^2], y = 2x."""
    received = []

    class Probe(mg.autograd.Function):  # the identity, recording the gradients it receives
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            received.append(mg.to_numpy(g).copy())
            return g

    x = leaf(device, [0.5, -1.0])
    y = Probe.apply(x * 2)
    near = y * 3
    branch = y
    for _ in range(20):
        branch = branch + 1
    (near + branch * branch).sum().backward()
    values = 2 * np.array([0.5, -1.0])
    np.testing.assert_allclose(np.array(received), [3 + 2 * (values + 20)])
    np.testing.assert_allclose(grad_of(x), 2 * (3 + 2 * (values + 20)))


def test_several_roots_share_one_pass(device):
    """autograd.grad of two outputs (made in either order) sums their gradients; a node they
    share runs once."""
    x = leaf(device, [1.0, 2.0])
    shared = x.exp()
    first, second = (shared * 2).sum(), (shared * shared).sum()
    for outputs in ((first, second), (second, first)):
        (g,) = mg.autograd.grad(outputs, x, retain_graph=True)
        e = np.exp([1.0, 2.0])
        np.testing.assert_allclose(mg.to_numpy(g), 2 * e + 2 * e * e)


def test_tensor_used_twice_in_one_op(device):
    x = leaf(device, [1.5, -2.0])
    (x * x + x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [4.0, -3.0])


def test_leaf_gradient_has_the_leaf_shape_and_device(device):
    x = leaf(device, [[1.0], [2.0]])  # (2, 1), broadcast against (3,)
    b = leaf(device, [1.0, 2.0, 3.0])
    (x * b).sum().backward()
    assert x.grad.shape == (2, 1) and b.grad.shape == (3,)
    assert isinstance(x.grad, mg.Tensor) and x.grad.device is x.device
    np.testing.assert_array_equal(grad_of(x), [[6.0], [6.0]])
    np.testing.assert_array_equal(grad_of(b), [3.0, 3.0, 3.0])


def test_unused_leaf_gets_no_gradient(device):
    x, unused = leaf(device, [1.0]), leaf(device, [2.0])
    (x * 2).sum().backward()
    assert unused.grad is None


# -- explicit gradients ------------------------------------------------------------------

def test_non_scalar_output_needs_an_explicit_gradient(device):
    x = leaf(device, [1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"one element; output 0 has shape \(3,\)"):
        y.backward()
    y.backward(mg.tensor([1.0, 10.0, 100.0], dtype=mg.float64, device=device))
    np.testing.assert_array_equal(grad_of(x), [2.0, 20.0, 200.0])


def test_one_element_outputs_get_an_implicit_gradient(device):
    x = leaf(device, [[2.0]])
    (x * x).backward()  # shape (1, 1)
    np.testing.assert_array_equal(grad_of(x), [[4.0]])


def test_backward_on_a_tensor_without_grad_raises(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0, 2.0], device=device).sum().backward()
    x = leaf(device, [1.0])
    with mg.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


# -- freeing the graph -----------------------------------------------------------------------

def test_second_backward_without_retain_graph_raises(device):
    x = leaf(device, [1.0, 2.0])
    z = (x.exp() * x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = leaf(device, [1.0, 2.0])
    z = (x * x).sum()
    z.backward(retain_graph=True)
    np.testing.assert_array_equal(grad_of(x), [2.0, 4.0])
    z.backward()
    np.testing.assert_array_equal(grad_of(x), [4.0, 8.0])


@pytest.mark.parametrize("retain_graph", [False, True])
def test_intermediates_are_released_after_backward(device, retain_graph):
    x = leaf(device, [1.0, 2.0])
    y = x.exp()
    z = y.sum()
    w = weakref.ref(y)
    del y
    gc.collect()
    assert w() is not None  # z's graph keeps it alive until backward
    z.backward(retain_graph=retain_graph)
    gc.collect()
    assert (w() is None) == (not retain_graph)


def test_intermediate_arrays_of_a_longer_graph_are_released():
    x = leaf("cpu", np.ones(4))
    refs = []
    h = x
    for _ in range(5):
        h = (h * 2).tanh()
        refs.append(weakref.ref(h))
    loss = h.sum()
    del h
    loss.backward()
    gc.collect()
    assert all(r() is None for r in refs)


# -- grad mode -------------------------------------------------------------------------

def test_no_grad_context(device):
    x = leaf(device, [1.0])
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2 + 1
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert (x * 2).requires_grad


def test_no_grad_decorator(device):
    x = leaf(device, [1.0])

    @mg.no_grad()
    def infer(t):
        assert not mg.is_grad_enabled()
        return t * 2

    assert not infer(x).requires_grad
    assert infer.__name__ == "infer"
    assert mg.is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ValueError), mg.no_grad():
        raise ValueError
    assert mg.is_grad_enabled()


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled(device, mode):
    x = leaf(device, [1.0])
    with mg.set_grad_enabled(mode):
        assert mg.is_grad_enabled() is mode
        assert (x * 2).requires_grad is mode

    @mg.set_grad_enabled(mode)
    def double(t):
        return t * 2

    assert double(x).requires_grad is mode
    assert mg.is_grad_enabled()


def test_grad_modes_nest():
    x = leaf("cpu", [1.0])
    with mg.no_grad():
        with mg.enable_grad():
            assert (x * 2).requires_grad
        with mg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert mg.is_grad_enabled()


# -- detach, requires_grad_, retain_grad, is_leaf ----------------------------------------

def test_detach_shares_data_and_stops_gradients(device):
    x = leaf(device, [1.0, 2.0])
    d = x.detach()
    assert d.data is x.data and not d.requires_grad and d.is_leaf
    if device == "cpu":
        assert np.shares_memory(d.numpy(), x.numpy())
    (d * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [1.0, 2.0])  # only the non-detached path
    y = (x * 3).detach()
    assert not y.requires_grad and y.is_leaf


def test_requires_grad_(device):
    x = mg.tensor([1.0], device=device)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(TypeError, match="floating-point.*int64"):
        mg.tensor([1, 2], device=device).requires_grad_()
    with pytest.raises(TypeError, match="floating-point"):
        mg.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaves only"):
        (leaf(device, [1.0]) * 2).requires_grad_(False)


def test_retain_grad_keeps_a_non_leaf_gradient(device):
    x = leaf(device, [1.0, 2.0])
    y = x * 2
    y.retain_grad()
    other = x * 3
    (y * y + other).sum().backward()
    np.testing.assert_array_equal(grad_of(y), [4.0, 8.0])  # 2y
    np.testing.assert_array_equal(grad_of(x), [11.0, 19.0])  # 2y * 2 + 3
    assert other.grad is None  # not retained
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0], device=device).retain_grad()


def test_is_leaf(device):
    x = leaf(device, [1.0])
    c = mg.tensor([2.0], device=device)
    assert x.is_leaf and c.is_leaf
    assert not (x * c).is_leaf
    assert (c * 2).is_leaf  # nothing to differentiate: outside the graph
    assert not (x > 0).requires_grad and (x > 0).is_leaf


def test_gradients_keep_float32(device):
    x = leaf(device, [1.0, 2.0], dtype=mg.float32)
    ((x * 2.5).exp().sum() / 3).backward()
    assert x.device.canonical(x.grad.dtype) == mg.float32


def test_gradient_has_the_dtype_of_its_tensor_after_mixed_dtype_ops(device):
    w = leaf(device, [[1.0, 2.0], [3.0, 4.0]], dtype=mg.float32)
    x = mg.tensor(np.ones((3, 2)), device=device)  # float64
    y = x @ w
    assert y.dtype == mg.float64
    y.sum().backward()
    assert w.device.canonical(w.grad.dtype) == mg.float32
    np.testing.assert_array_equal(grad_of(w), np.full((2, 2), 3.0))
    w.data -= 0.5 * w.grad.data  # an optimizer's in-place step must keep working
    assert w.dtype == mg.float32


def test_set_grad_enabled_as_a_call_switches_at_once():
    x = mg.ones(2, requires_grad=True)
    try:
        mg.set_grad_enabled(False)
        assert not mg.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        mg.set_grad_enabled(True)
    assert mg.is_grad_enabled() and (x * 2).requires_grad
