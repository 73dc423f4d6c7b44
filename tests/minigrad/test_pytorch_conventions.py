"""PyTorch's spellings: each call gives PyTorch's result (checked against torch when it is
installed, else against NumPy) or a clear error; the differentiable ones are gradchecked on
every device."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.data import DataLoader, Dataset, TensorDataset

try:
    import torch
except ImportError:  # the values are then checked against NumPy only
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch as a reference")

A = np.random.default_rng(0).standard_normal((3, 4, 5))


def pieces(m, parts, scale=True):
    """Several outputs (chunk, split, unbind) joined into one, each weighted differently so
    that a gradient routed to the wrong piece shows."""
    return m.cat([p.reshape(-1) * (k + 1 if scale else 1) for k, p in enumerate(parts)])


# name: (f(m, x) for m = minigrad or torch, NumPy reference of f)
METHODS = {
    "sum(dim=1)": (lambda m, x: x.sum(dim=1), lambda a: a.sum(1)),
    "sum(dim=(0,2),keepdim)": (lambda m, x: x.sum(dim=(0, 2), keepdim=True),
                               lambda a: a.sum((0, 2), keepdims=True)),
    "mean(dim=-1)": (lambda m, x: x.mean(dim=-1), lambda a: a.mean(-1)),
    "var(dim=1,unbiased=False)": (lambda m, x: x.var(dim=1, unbiased=False),
                                  lambda a: a.var(1)),
    "std(1,keepdim)": (lambda m, x: x.std(1, keepdim=True),
                       lambda a: a.std(1, ddof=1, keepdims=True)),
    "max(dim=1).values": (lambda m, x: x.max(dim=1).values, lambda a: a.max(1)),
    "max(1,True)[0]": (lambda m, x: x.max(1, True)[0], lambda a: a.max(1, keepdims=True)),
    "min(dim=-1).values": (lambda m, x: x.min(dim=-1).values, lambda a: a.min(-1)),
    "max()": (lambda m, x: x.max(), lambda a: a.max()),
    "max(other)": (lambda m, x: x.max(x.flip(0)), lambda a: np.maximum(a, a[::-1])),
    "softmax(dim=1)": (lambda m, x: x.softmax(dim=1),
                       lambda a: np.exp(a) / np.exp(a).sum(1, keepdims=True)),
    "log_softmax(dim=0)": (lambda m, x: x.log_softmax(dim=0),
                           lambda a: a - np.log(np.exp(a).sum(0, keepdims=True))),
    "logsumexp(dim=2,keepdim)": (lambda m, x: x.logsumexp(dim=2, keepdim=True),
                                 lambda a: np.log(np.exp(a).sum(2, keepdims=True))),
    "unsqueeze(dim=1)": (lambda m, x: x.unsqueeze(dim=1), lambda a: a[:, None]),
    "squeeze(dim=0)": (lambda m, x: x[:1].squeeze(dim=0), lambda a: a[0]),
    "squeeze(1) of size 4": (lambda m, x: x.squeeze(1), lambda a: a),
    "cat(dim=1)": (lambda m, x: m.cat([x, 2 * x], dim=1),
                   lambda a: np.concatenate([a, 2 * a], 1)),
    "stack(dim=-1)": (lambda m, x: m.stack([x, x * x], dim=-1),
                      lambda a: np.stack([a, a * a], -1)),
    "view(-1,5)": (lambda m, x: x.view(-1, 5), lambda a: a.reshape(-1, 5)),
    "view((12,5))": (lambda m, x: x.view((12, 5)), lambda a: a.reshape(12, 5)),
    "view_as": (lambda m, x: x.view_as(x[0].reshape(-1)[:1].expand(60)),
                lambda a: a.reshape(60)),
    "reshape_as": (lambda m, x: x.reshape_as(x.reshape(4, 15)), lambda a: a.reshape(4, 15)),
    "t()": (lambda m, x: x[0].t(), lambda a: a[0].T),
    "t() of 1-d": (lambda m, x: x[0, 0].t(), lambda a: a[0, 0]),
    "clone": (lambda m, x: x.clone() * 2, lambda a: a * 2),
    "contiguous": (lambda m, x: x.contiguous(), lambda a: a),
    "double": (lambda m, x: x.double(), lambda a: a),
    "type_as": (lambda m, x: x.type_as(x), lambda a: a),
    "expand_as": (lambda m, x: x[:, :1].expand_as(x), lambda a: np.broadcast_to(a[:, :1],
                                                                                 a.shape)),
    "masked_fill": (lambda m, x: x.masked_fill(x > 0.5, -1.0),
                    lambda a: np.where(a > 0.5, -1.0, a)),
    "chunk(3,1)": (lambda m, x: pieces(m, x.chunk(3, 1)),
                   lambda a: np.concatenate([p.reshape(-1) * (k + 1) for k, p in
                                             enumerate(np.array_split(a, [2, 4], 1))])),
    "chunk(2,dim=2)": (lambda m, x: pieces(m, x.chunk(2, dim=2)),
                       lambda a: np.concatenate([a[..., :3].reshape(-1),
                                                 2 * a[..., 3:].reshape(-1)])),
    "split(2,dim=1)": (lambda m, x: pieces(m, x.split(2, dim=1)),
                       lambda a: np.concatenate([a[:, :2].reshape(-1),
                                                 2 * a[:, 2:].reshape(-1)])),
    "split([1,4],2)": (lambda m, x: pieces(m, x.split([1, 4], 2)),
                       lambda a: np.concatenate([a[..., :1].reshape(-1),
                                                 2 * a[..., 1:].reshape(-1)])),
    "unbind(1)": (lambda m, x: pieces(m, x.unbind(1)),
                  lambda a: np.concatenate([(k + 1) * a[:, k].reshape(-1) for k in range(4)])),
    "flip(0,2)": (lambda m, x: x.flip(0, 2), lambda a: a[::-1, :, ::-1]),
    "flip((1,))": (lambda m, x: x.flip((1,)), lambda a: a[:, ::-1]),
    "roll(2,1)": (lambda m, x: x.roll(2, 1), lambda a: np.roll(a, 2, 1)),
    "roll((1,-2),(0,2))": (lambda m, x: x.roll((1, -2), (0, 2)),
                           lambda a: np.roll(a, (1, -2), (0, 2))),
    "roll(3)": (lambda m, x: x.roll(3), lambda a: np.roll(a, 3)),
    "repeat(2,1,3)": (lambda m, x: x.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3))),
    "repeat((2,1,1,2))": (lambda m, x: x.repeat((2, 1, 1, 2)),
                          lambda a: np.tile(a, (2, 1, 1, 2))),
}


def _torch_value(fn, a):
    return fn(torch, torch.tensor(a)).detach().numpy()


@pytest.mark.parametrize("name", METHODS)
def test_method_values_match_pytorch(device, name):
    fn, np_fn = METHODS[name]
    out = fn(mg, mg.tensor(A, device=device))
    expected = _torch_value(fn, A) if torch is not None else np_fn(A)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), np_fn(A), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in METHODS if n != "max()"])
def test_method_gradients(device, name):
    fn, _ = METHODS[name]
    x = mg.tensor(A, device=device, requires_grad=True)
    assert mg.gradcheck(lambda t: fn(mg, t), (x,))


@pytest.mark.parametrize("name", ["max(dim=1).values", "min(dim=-1).values", "masked_fill",
                                  "chunk(3,1)", "unbind(1)", "clone", "view(-1,5)", "t()",
                                  "cat(dim=1)", "softmax(dim=1)", "var(dim=1,unbiased=False)"])
def test_second_derivatives(device, name):
    fn, _ = METHODS[name]
    x = mg.tensor(A, device=device, requires_grad=True)
    assert mg.gradgradcheck(lambda t: fn(mg, t) ** 2, (x,))


@needs_torch
def test_max_with_dim_routes_ties_as_pytorch(device):
    """max(dim) sends the gradient to the one returned index (not split among ties), as
    PyTorch; max() over everything splits it evenly, as PyTorch's."""
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for call in (lambda x: x.max(dim=1).values, lambda x: x.min(0).values,
                 lambda x: x.max(), lambda x: x.max(1, keepdim=True)[0]):
        x = mg.tensor(a, device=device, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        call(x).sum().backward()
        call(t).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_max_and_min_with_dim_return_values_and_indices(device):
    x = mg.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], device=device)
    values, indices = x.max(1)
    assert isinstance(x.max(dim=1), tuple)
    np.testing.assert_array_equal(values.numpy(), [5.0, 6.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 2])
    assert indices.dtype == mg.int64
    out = mg.min(x, dim=0, keepdim=True)
    np.testing.assert_array_equal(out.values.numpy(), [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(out.indices.numpy(), [[0, 1, 0]])
    # The array API's axis= keeps returning the values only.
    np.testing.assert_array_equal(x.max(axis=1).numpy(), [5.0, 6.0])
    np.testing.assert_array_equal(x.max(axis=(0, 1), keepdims=True).numpy(), [[6.0]])
    assert x.max().item() == 6.0
    v, i = mg.tensor(3.0, device=device).max(0)
    assert v.item() == 3.0 and i.item() == 0


@needs_torch
@pytest.mark.parametrize("call", [
    lambda m, x: m.argmax(x), lambda m, x: x.argmax(1), lambda m, x: x.argmin(dim=0),
    lambda m, x: x.argmax(dim=-1, keepdim=True), lambda m, x: m.argmin(x, 2),
    lambda m, x: x.argmax(keepdim=True)])
def test_argmax_argmin_match_pytorch(device, call):
    a = np.random.default_rng(1).integers(0, 3, size=(3, 4, 5)).astype(np.float32)  # ties
    out = call(mg, mg.tensor(a, device=device))
    expected = call(torch, torch.tensor(a)).numpy()
    assert out.dtype == mg.int64 and out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_both_spellings_of_one_argument_are_refused():
    x = mg.ones(2, 3)
    for call in (lambda: x.sum(dim=0, axis=0), lambda: x.mean(0, keepdim=True, keepdims=True),
                 lambda: x.max(dim=0, axis=0), lambda: mg.cat([x, x], dim=0, axis=0),
                 lambda: x.softmax(dim=0, axis=0), lambda: x.argmax(dim=0, axis=1)):
        with pytest.raises(TypeError, match="both 'dim'|both 'keepdim'"):
            call()


def test_max_with_several_dims_names_axis():
    with pytest.raises(TypeError, match="axis="):
        mg.ones(2, 3).max((0, 1))


# -- type promotion -----------------------------------------------------------------------------

DTYPES = ["bool", "int8", "uint8", "int32", "int64", "float16", "float32", "float64"]
OPS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
       "sub": lambda a, b: a - b, "pow": lambda a, b: a ** b, "lt": lambda a, b: a < b}


def _dtype_name(d) -> str:
    return str(d).replace("torch.", "")


def _promotion_cases():
    for op in ("add", "mul", "div"):
        for d1 in DTYPES:
            for d2 in DTYPES:
                yield op, d1, (2,), d2, (2,)
                yield op, d1, (2,), d2, ()
    for op in OPS:
        for d1 in ("bool", "int32", "int64", "float16", "float32"):
            for number in (2, 2.5, True):
                yield op, d1, (2,), number, None


@needs_torch
def test_type_promotion_matches_pytorch():
    """The result dtype of every pair of dtypes (and of a tensor with a Python number) as
    PyTorch's, where NumPy's rules would differ (int + 2.5 -> float64, int64 + float32 ->
    float64, int / int -> float64, float32 + 0-d float64 -> float64 ...)."""
    wrong = []
    for op, d1, s1, d2, s2 in _promotion_cases():
        if op in ("sub",) and "bool" in (d1, str(d2)) or (op == "sub" and d2 is True):
            continue  # (PyTorch refuses to subtract bools)
        if op == "pow" and d1 == "bool":
            continue
        fn = OPS[op]
        a = np.ones(s1, dtype=d1)
        if s2 is None:
            ours, theirs = fn(mg.tensor(a), d2), fn(torch.tensor(a), d2)
            ours_r, theirs_r = fn(d2, mg.tensor(a)), fn(d2, torch.tensor(a))
            if op in ("add", "mul") and _dtype_name(ours_r.dtype) != _dtype_name(theirs_r.dtype):
                wrong.append((op, d2, d1, ours_r.dtype, theirs_r.dtype))
        else:
            b = np.ones(s2, dtype=d2)
            ours, theirs = fn(mg.tensor(a), mg.tensor(b)), fn(torch.tensor(a), torch.tensor(b))
        if _dtype_name(ours.dtype) != _dtype_name(theirs.dtype):
            wrong.append((op, d1, s1, d2, s2, ours.dtype, theirs.dtype))
    assert not wrong


@pytest.mark.parametrize("case", [
    # (a, b, op, the result dtype PyTorch gives)
    (np.arange(3), 2.5, "add", "float32"),
    (np.arange(3), np.arange(1, 4), "div", "float32"),
    (np.arange(3, dtype=np.int32), np.ones(3, np.float64), "add", "float64"),
    (np.arange(3), np.ones(3, np.float32), "mul", "float32"),
    (np.ones(3, np.float32), np.float64(2.0), "add", "float32"),  # a 0-d tensor
    (np.array([True, False]), 2.5, "mul", "float32"),
    (np.array([True, False]), 3, "add", "int64"),
    (np.arange(3, dtype=np.int32), 2, "add", "int32"),
    (np.ones(3, np.float32), True, "mul", "float32"),
])
def test_type_promotion_cases(device, case):
    a, b, op, expected = case
    x = mg.tensor(a, device=device)
    y = mg.tensor(b, device=device) if isinstance(b, np.ndarray | np.generic) else b
    out = {"add": lambda: x + y, "mul": lambda: x * y, "div": lambda: x / y}[op]()
    assert out.dtype == np.dtype(expected)
    np.testing.assert_allclose(out.numpy(), {"add": np.add, "mul": np.multiply,
                                             "div": np.divide}[op](a, b), rtol=1e-6)


def test_where_promotes_as_pytorch(device):
    cond = mg.tensor([True, False], device=device)
    assert mg.where(cond, mg.tensor([1, 2], device=device), 2.5).dtype == mg.float32
    x = mg.tensor([1.0, 2.0], device=device)
    assert mg.where(cond, x, mg.tensor(0.0, dtype=mg.float64, device=device)).dtype == mg.float32
    assert mg.where(cond, x, 0).numpy().tolist() == [1.0, 0.0]


def test_promotion_keeps_gradients_flowing(device):
    # float32 tensor with a float64 one: float64, differentiable to both
    x = mg.tensor([1.0, 2.0], dtype=mg.float32, device=device, requires_grad=True)
    w = mg.tensor([3.0, 4.0], dtype=mg.float64, device=device, requires_grad=True)
    (x * w).sum().backward()
    assert x.grad.dtype == mg.float32 and w.grad.dtype == mg.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])


def test_in_place_ops_refuse_a_float_result_into_an_int_tensor():
    x = mg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x += 2.5


# -- Tensor methods and attributes ---------------------------------------------------------------

def test_size_is_a_method_and_numel_counts(device):
    x = mg.zeros(2, 3, 4, device=device)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and mg.numel(x) == 24 and x.dim() == 3
    with pytest.raises(IndexError):
        x.size(3)


def test_casts_and_descriptions(device):
    x = mg.tensor([1.5, -2.0], device=device)
    assert x.long().dtype == mg.int64 and x.int().dtype == mg.int32
    assert x.bool().dtype == mg.bool_ and x.double().dtype == mg.float64
    assert x.float().dtype == mg.float32 and x.cpu().device == mg.device("cpu")
    np.testing.assert_array_equal(x.long().numpy(), [1, -2])  # truncation, as PyTorch
    assert x.element_size() == 4 and x.double().element_size() == 8
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert x.to(mg.float64).dtype == mg.float64
    assert x.to("cpu", mg.float64).dtype == mg.float64
    assert x.type_as(mg.tensor([1])).dtype == mg.int64


def test_half_and_element_size():
    x = mg.tensor([1.0, 2.0])
    assert x.half().dtype == mg.float16 and x.half().element_size() == 2


def test_new_tensors_take_dtype_and_device(device):
    x = mg.tensor([1, 2], dtype=mg.int32, device=device)
    for t, shape, value in ((x.new_zeros(2, 3), (2, 3), 0), (x.new_ones((4,)), (4,), 1),
                            (x.new_full((2,), 7), (2,), 7)):
        assert t.shape == shape and t.dtype == mg.int32 and t.device is x.device
        assert (t.numpy() == value).all()
    t = x.new_tensor([[1.5]], dtype=mg.float64)
    assert t.dtype == mg.float64 and t.device is x.device and t.shape == (1, 1)
    assert x.new_tensor([3]).dtype == mg.int32
    f = x.new_zeros(2, dtype=mg.float64, requires_grad=True)
    assert f.requires_grad and f.is_leaf


def test_clone_copies_and_detach__cuts(device):
    x = mg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x.clone()
    y.data[...] = 0  # (the array only: its own memory)
    assert x.numpy().tolist() == [1.0, 2.0] and y.requires_grad
    z = x * 2
    assert z.detach_() is z and not z.requires_grad and z.grad_fn is None
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_view_of_a_dtype_names_the_alternative():
    with pytest.raises(TypeError, match=r"\.to\(dtype\)"):
        mg.ones(4).view(mg.int32)


def test_t_refuses_more_than_two_dims():
    with pytest.raises(ValueError, match="permute"):
        mg.ones(2, 3, 4).t()


def test_masked_fill_keeps_the_dtype_and_takes_a_0d_tensor(device):
    x = mg.tensor([1, 2, 3], device=device)
    out = x.masked_fill(x > 1, 0)
    assert out.dtype == mg.int64 and out.numpy().tolist() == [1, 0, 0]
    out = x.float().masked_fill(x == 2, mg.tensor(9.0, device=device))
    assert out.numpy().tolist() == [1.0, 9.0, 3.0]


@needs_torch
def test_chunk_and_split_sizes_match_pytorch():
    a = np.arange(10.0)
    for args in ((3,), (4,), (11,), (1,)):
        ours = [p.shape for p in mg.tensor(a).chunk(*args)]
        assert ours == [tuple(p.shape) for p in torch.tensor(a).chunk(*args)]
    for size in (3, [2, 8], 10):
        ours = [p.shape for p in mg.tensor(a).split(size)]
        assert ours == [tuple(p.shape) for p in torch.tensor(a).split(size)]
    empty = [tuple(p.shape) for p in torch.empty(0, 3).chunk(2)]
    assert [p.shape for p in mg.empty(0, 3).chunk(2)] == empty


def test_cuda_without_a_gpu_raises_device_error():
    if mg.cuda_is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(mg.DeviceError):
        mg.ones(2).cuda()


# -- module-level functions ----------------------------------------------------------------------

def test_from_numpy_shares_memory_and_as_tensor_avoids_copies():
    a = np.arange(3.0)
    t = mg.from_numpy(a)
    a[0] = 7.0
    assert t.dtype == mg.float64 and t.numpy()[0] == 7.0
    assert mg.as_tensor(t) is t
    assert np.shares_memory(mg.as_tensor(a).numpy(), a)
    assert not np.shares_memory(mg.as_tensor(a, dtype=mg.float32).numpy(), a)
    assert mg.as_tensor([1, 2]).dtype == mg.int64
    with pytest.raises(TypeError, match="numpy.ndarray"):
        mg.from_numpy([1.0])


def test_creation_spellings(device):
    assert mg.empty(2, 3, device=device).shape == (2, 3)
    assert mg.empty((2, 3), dtype=mg.int64).dtype == mg.int64
    assert mg.zeros((2, 3), dtype=mg.int64).dtype == mg.int64
    assert mg.ones(2, 3, dtype=mg.int32).shape == (2, 3)
    # full infers the dtype from the value, as PyTorch
    assert mg.full((2,), 7).dtype == mg.int64 and mg.full((2,), 7.0).dtype == mg.float32
    assert mg.full((2,), True).dtype == mg.bool_
    assert mg.is_tensor(mg.ones(1)) and not mg.is_tensor(np.ones(1))
    with mg.inference_mode():
        assert not (mg.ones(1, requires_grad=True) * 2).requires_grad


def test_optimizer_zero_grad_set_to_none(device):
    p = mg.nn.Parameter(mg.ones(2, device=device))
    opt = mg.optim.SGD([p], lr=0.1)
    (p * 3).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.numpy().tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_module_conventions():
    class Net(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = mg.nn.Linear(2, 3)
            self.register_buffer("steps", mg.zeros(1))
            self.register_buffer("cache", mg.zeros(2), persistent=False)

    net = Net()
    assert "steps" in net.state_dict() and "cache" not in net.state_dict()
    assert [name for name, _ in net.named_buffers()] == ["steps", "cache"]
    net.load_state_dict(net.state_dict())
    assert [name for name, _ in net.named_modules()] == ["", "fc"]
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net and seen == ["Linear", "Net"]
    assert net.double() is net and net.fc.weight.dtype == mg.float64
    assert net.half().fc.weight.dtype == mg.float16 and net.float().fc.bias.dtype == mg.float32
    assert net.requires_grad_(False) is net and not net.fc.weight.requires_grad
    net.requires_grad_()
    net.fc(mg.ones(1, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert net.fc.weight.grad.numpy().sum() == 0
    net.zero_grad()
    assert net.fc.weight.grad is None


# -- data ----------------------------------------------------------------------------------------

class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i * i


def test_dataloader_takes_a_dataset_as_pytorch(device):
    loader = DataLoader(Squares(), 2, device=device)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    x, y = batches[0]
    assert x.shape == (2, 2) and x.dtype == mg.float32 and y.dtype == mg.int64
    assert y.numpy().tolist() == [0, 1] and batches[2][1].numpy().tolist() == [16]
    assert x.device is mg.device(device)
    dropped = DataLoader(Squares(), batch_size=2, shuffle=True, drop_last=True, seed=0)
    seen = sorted(v for _, y in dropped for v in y.numpy().tolist())
    assert len(seen) == 4 and set(seen) <= {0, 1, 4, 9, 16}


@needs_torch
def test_dataloader_batches_match_pytorchs():
    samples = [(np.arange(3.0) + i, i, 0.5 * i) for i in range(5)]
    ours = list(DataLoader(samples, batch_size=2))
    theirs = list(torch.utils.data.DataLoader(samples, batch_size=2))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for u, v in zip(a, b, strict=True):
            assert _dtype_name(u.dtype) == _dtype_name(v.dtype)
            np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_tensor_dataset_keeps_the_tensors_device_and_the_tuple(device):
    x = mg.tensor(np.arange(10.0).reshape(5, 2), device=device)
    ds = TensorDataset(x, mg.arange(5, device=device))
    assert len(ds) == 5 and ds[1][0].numpy().tolist() == [2.0, 3.0]
    (xb, yb), *_ = DataLoader(ds, batch_size=4)
    assert xb.device is x.device and yb.numpy().tolist() == [0, 1, 2, 3]
    (only,), *_ = DataLoader(TensorDataset(x), batch_size=2)  # a 1-tuple, as PyTorch
    assert only.shape == (2, 2)
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(x, mg.arange(4))


def test_dataloader_errors_are_clear():
    with pytest.raises(TypeError, match="generator"):
        DataLoader((i for i in range(3)), batch_size=2)
    with pytest.raises(TypeError, match="collate_fn"):
        DataLoader(Squares(), batch_size=2, collate_fn=list)

    class Dicts(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {"x": i}

    with pytest.raises(TypeError, match="dict"):
        list(DataLoader(Dicts(), batch_size=2))
    with pytest.raises(TypeError, match="dtype object"):
        DataLoader([{"x": 1}, {"x": 2}], batch_size=2)
