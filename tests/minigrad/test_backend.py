"""Devices, device errors, moving tensors, seeded random numbers and the creation functions."""

import sys
import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend

HAS_CUDA = mg.cuda_is_available()


# -- device names ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cpu", "CPU", " cpu ", None])
def test_cpu_names_resolve_to_one_interned_device(name):
    dev = mg.device(name)
    assert dev is mg.device("cpu")
    assert dev.type == "cpu" and dev.index is None
    assert mg.device(dev) is dev
    assert dev == "cpu" and str(dev) == "cpu"


@pytest.mark.parametrize("name, canonical", [("strict", "strict:cpu"),
                                             ("strict:cpu", "strict:cpu"),
                                             ("strict:device1", "strict:device1")])
def test_strict_names(name, canonical):
    dev = mg.device(name)
    assert dev is mg.device(canonical)
    assert dev.type == "strict" and str(dev) == canonical


def test_strict_devices_are_distinct():
    assert mg.device("strict:cpu") is not mg.device("strict:device1")
    assert mg.device("strict:device1") != "cpu"


@pytest.mark.parametrize("name", ["tpu", "cuda:x", "cuda:-1", "strict:device2", "", "gpu0"])
def test_unknown_device_name(name):
    with pytest.raises(mg.DeviceError, match="unknown device"):
        mg.device(name)


@pytest.mark.parametrize("spec", [0, 1.5, ["cpu"]])
def test_device_spec_must_be_a_name(spec):
    with pytest.raises(mg.DeviceError, match="a device is a name"):
        mg.device(spec)


@pytest.mark.skipif(not HAS_CUDA, reason="needs CuPy and a GPU")
def test_gpu_names_are_interned_with_real_cupy():
    assert mg.device("gpu") is mg.device("cuda:0")
    assert mg.device("cuda") is mg.device("cuda:0")
    assert mg.device("gpu").type == "cuda"


# -- CuPy missing or without a GPU, simulated through sys.modules ------------------------------

@pytest.fixture
def no_cached_gpus(monkeypatch):
    """Resolve devices in a table of their own for one test: no CUDA device cached before it,
    and none of the fake ones it makes left behind (monkeypatch restores the real table)."""
    monkeypatch.setattr(backend, "_devices", {name: dev for name, dev in backend._devices.items()
                                              if not name.startswith("cuda")})


def _fake_cupy(get_device_count) -> types.ModuleType:
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=get_device_count),
        Device=lambda index: ("fake-cuda-device", index))
    return fake


@pytest.mark.parametrize("name", ["gpu", "cuda", "cuda:1", "GPU:0"])
def test_gpu_without_cupy_says_how_to_install(monkeypatch, no_cached_gpus, name):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    monkeypatch.setitem(sys.modules, "array_api_compat.cupy", None)
    with pytest.raises(mg.DeviceError) as info:
        mg.device(name)
    message = str(info.value)
    assert "CuPy" in message and "not installed" in message
    assert 'pip install -e ".[cuda12]"' in message
    assert not mg.cuda_is_available()


def _raise_no_driver():
    raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")


@pytest.mark.parametrize("get_count", [lambda: 0, _raise_no_driver], ids=["zero", "raises"])
def test_cupy_without_gpu_says_no_gpu_found(monkeypatch, no_cached_gpus, get_count):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(get_count))
    with pytest.raises(mg.DeviceError, match=r"CuPy is installed but found no (usable )?CUDA GPU"):
        mg.device("gpu")
    assert "cuda:0" not in backend._devices
    assert not mg.cuda_is_available()


def test_gpu_names_resolve_and_intern_with_fake_cupy(monkeypatch, no_cached_gpus):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(lambda: 2))
    monkeypatch.setitem(sys.modules, "array_api_compat.cupy", types.ModuleType("fake_xp"))
    gpu = mg.device("gpu")
    assert gpu is mg.device("cuda") is mg.device("cuda:0") is mg.device("GPU:0")
    assert (gpu.type, gpu.index, str(gpu)) == ("cuda", 0, "cuda:0")
    second = mg.device("cuda:1")
    assert second is not gpu and second.index == 1 and second is mg.device("gpu:1")
    with pytest.raises(mg.DeviceError, match=r"only 2 GPU\(s\)"):
        mg.device("cuda:2")


# -- device mixing, moving, host copies ------------------------------------------------------

MIXING_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "matmul": lambda a, b: a @ b,
    "maximum": mg.maximum,
    "minimum": mg.minimum,
    "where": lambda a, b: mg.where(a > 0, a, b),
    "concat": lambda a, b: mg.concat([a, b]),
    "less": lambda a, b: a < b,
}


@pytest.mark.parametrize("op", MIXING_OPS.values(), ids=MIXING_OPS.keys())
@pytest.mark.parametrize("first, second", [("cpu", "strict:device1"),
                                           ("strict:device1", "cpu"),
                                           ("strict:cpu", "strict:device1")])
def test_mixing_devices_raises_naming_both(op, first, second):
    a = mg.ones(2, 2, device=first)
    b = mg.ones(2, 2, device=second)
    with pytest.raises(mg.DeviceError) as info:
        op(a, b)
    assert first in str(info.value) and second in str(info.value)


def test_host_array_with_device_tensor_is_refused():
    x = mg.ones(3, device="strict:device1")
    with pytest.raises(mg.DeviceError, match="strict:device1"):
        x + np.ones(3, dtype=np.float32)


# -- constants: a Python float as a cached 0-d array ---------------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("value", [0.9, -3.25, 1e-3, 7.0, 1e30])
def test_a_number_beside_a_tensor_gives_numpys_result_for_the_python_float(dtype, value):
    # Reference: NumPy with the Python float itself (NEP 50 casts it to the array's dtype).
    values = np.linspace(-2, 2, 9).astype(dtype)
    x = mg.tensor(values)
    with np.errstate(all="ignore"):  # 1e30 overflows float16; value / 0 and inf * 0 as NumPy
        for got, expected in [(x * value, values * value), (value * x, value * values),
                              (x + value, values + value), (value - x, value - values),
                              (x / value, values / value), (value / x, value / values)]:
            assert got.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got.numpy(), expected)


def test_constants_are_cached_read_only_zero_d_arrays_of_the_dtype(device):
    dev = mg.device(device)
    dtype = dev.xp_dtype("float32")
    c = dev.constant(0.25, dtype)
    assert c.shape == () and c.dtype == dtype and mg.backend.device_of(c) is dev
    assert float(mg.backend.to_numpy(c)) == 0.25
    assert dev.constant(0.25, dtype) is c  # made once
    assert dev.constant(0.25, dev.xp_dtype("float64")) is not c
    if dev.type == "cpu":
        with pytest.raises(ValueError, match="read-only"):
            c[...] = 1.0


@pytest.mark.parametrize("value", [0.0, -0.0, float("nan")])
def test_zeros_and_nan_are_not_cached_as_constants(value):
    # -0.0 == 0.0 as a key would hand back the other sign; NaN never equals itself.
    dev = mg.device("cpu")
    a, b = dev.constant(value, np.dtype("float32")), dev.constant(value, np.dtype("float32"))
    assert a is not b
    assert np.array_equal(a, np.float32(value), equal_nan=True)
    assert np.signbit(a) == np.signbit(value)
    x = mg.tensor([1.0, -1.0])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal((x * value).numpy(),
                                      np.array([1.0, -1.0], np.float32) * value)


def test_to_moves_values_and_keeps_dtype(device, rng):
    values = rng.standard_normal((3, 4)).astype(np.float32)
    x = mg.tensor(values, device=device)
    for target in ("strict:device1", "cpu", device):
        y = x.to(target)
        assert y.device is mg.device(target)
        assert y.dtype == mg.float32
        np.testing.assert_array_equal(y.numpy(), values)
    assert x.to(device) is x  # nothing to do
    z = x.to(dtype=mg.float64)
    assert z.dtype == mg.float64 and z.device is x.device
    np.testing.assert_array_equal(z.numpy(), values.astype(np.float64))


def test_moving_between_devices_copies(device):
    """tensor() copies its input (as torch.tensor); numpy() shares memory on the CPU only."""
    host = np.ones(3)
    t = mg.tensor(host, device=device)
    out = t.numpy()
    host[0] = 5.0
    out[1] = 7.0
    assert t.numpy().tolist() == ([1.0, 7.0, 1.0] if device == "cpu" else [1.0, 1.0, 1.0])
    for target in ("cpu", "strict:cpu", "strict:device1"):
        if target != device:
            moved = t.to(target)
            moved.data[...] = 0
            assert t.numpy()[2] == 1.0


def test_gradients_flow_back_through_to(device, rng):
    values = rng.standard_normal((2, 3))
    x = mg.tensor(values, device=device, requires_grad=True)
    y = x.to("strict:device1") if device != "strict:device1" else x.to("cpu")
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.device is x.device
    np.testing.assert_allclose(mg.to_numpy(x.grad), 2 * values)


def test_gradient_of_a_cast_has_the_input_dtype(device):
    x = mg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = x.to(dtype=mg.float64)
    (y * y).sum().backward()
    assert x.device.canonical(x.grad.dtype) == mg.float32
    np.testing.assert_allclose(mg.to_numpy(x.grad), [2.0, 4.0, 6.0])


@pytest.mark.parametrize("make_tensor", [
    lambda d: mg.tensor([[1.0, 2.0], [3.0, 4.0]], device=d),
    lambda d: mg.tensor(5.0, device=d),
    lambda d: mg.tensor([[1.0, 2.0], [3.0, 4.0]], device=d).sum(),
    lambda d: mg.arange(4, device=d),
], ids=["matrix", "0-d", "reduced", "int"])
def test_numpy_returns_a_host_ndarray(device, make_tensor):
    t = make_tensor(device)
    host = t.numpy()
    assert type(host) is np.ndarray
    assert host.shape == t.shape and host.dtype == t.dtype


def test_implicit_numpy_conversion_only_on_cpu(device):
    t = mg.tensor([1.0, 2.0], device=device)
    if device == "cpu":
        np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0])
    else:
        with pytest.raises(TypeError, match=r"\.numpy\(\)"):
            np.asarray(t)


# -- random numbers ------------------------------------------------------------------------

def _draw(device):
    return (mg.randn(3, 4, device=device).numpy(), mg.rand(5, device=device).numpy(),
            mg.randint(0, 10, (6,), device=device).numpy())


def test_manual_seed_makes_draws_repeatable(device):
    mg.manual_seed(0)
    first = _draw(device)
    second = _draw(device)
    mg.manual_seed(0)
    again = _draw(device)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], second[0])  # the stream moves on


def test_cpu_and_strict_devices_draw_identical_numbers():
    draws = []
    for device in ("cpu", "strict:device1", "strict:cpu"):
        mg.manual_seed(123)
        draws.append(_draw(device))
    for other in draws[1:]:
        for a, b in zip(draws[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_random_dtypes_and_distribution(device):
    mg.manual_seed(1)
    n = mg.randn(2000, device=device)
    u = mg.rand(2000, device=device)
    assert n.dtype == mg.float32 and u.dtype == mg.float32
    n, u = n.numpy(), u.numpy()
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.05
    assert mg.randn(2, dtype=mg.float64, device=device).dtype == mg.float64


@pytest.mark.parametrize("args, low, high", [((3, 7), 3, 7), ((5,), 0, 5), ((-2, 2), -2, 2)])
def test_randint_range(device, args, low, high):
    mg.manual_seed(2)
    t = mg.randint(*args, size=(500,), device=device)
    assert t.dtype == mg.int64 and t.shape == (500,) and t.device is mg.device(device)
    values = t.numpy()
    assert values.min() == low and values.max() == high - 1  # both ends reached, high excluded


def test_randint_size_forms(device):
    assert mg.randint(4, device=device).shape == ()
    assert mg.randint(4, size=3, device=device).shape == (3,)
    assert mg.randint(4, size=(2, 3), dtype=mg.int32, device=device).dtype == mg.int32


# -- creation functions ----------------------------------------------------------------------

@pytest.mark.parametrize("data, dtype", [
    (1.5, mg.float32),
    ([1.0, 2.0], mg.float32),
    ([[1, 2], [3, 4]], mg.int64),
    (3, mg.int64),
    ([True, False], mg.bool_),
    (np.array([1.0, 2.0]), mg.float64),
    (np.array([1.0, 2.0], dtype=np.float32), mg.float32),
    (np.array([1, 2], dtype=np.int32), mg.int32),
    (np.float64(1.5), mg.float64),
    (np.float32(2.5), mg.float32),
    (np.int32(3), mg.int32),
], ids=["float", "float-list", "int-list", "int", "bool-list", "np-float64", "np-float32",
        "np-int32", "np-scalar-float64", "np-scalar-float32", "np-scalar-int32"])
def test_tensor_default_dtypes(device, data, dtype):
    t = mg.tensor(data, device=device)
    assert t.dtype == dtype and t.device is mg.device(device)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))
    assert mg.backend.device_of(t.data) is t.device and t.data.shape == np.shape(data)
    assert not isinstance(t.data, np.generic)  # an array, writable in place like any other


def test_tensor_dtype_argument_and_requires_grad(device):
    t = mg.tensor([1, 2, 3], dtype=mg.float64, device=device, requires_grad=True)
    assert t.dtype == mg.float64 and t.requires_grad and t.is_leaf
    u = mg.tensor(np.arange(3.0), dtype=mg.float32, device=device)
    assert u.dtype == mg.float32
    np.testing.assert_array_equal(u.numpy(), [0.0, 1.0, 2.0])


def test_tensor_from_a_tensor_on_another_device(device):
    src = mg.tensor([1.0, 2.0], device="strict:device1")
    t = mg.tensor(src, device=device)
    assert t.device is mg.device(device)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


CREATORS = {
    "zeros": (lambda **kw: mg.zeros(2, 3, **kw), np.zeros((2, 3))),
    "zeros-tuple": (lambda **kw: mg.zeros((2, 3), **kw), np.zeros((2, 3))),
    "ones": (lambda **kw: mg.ones((4,), **kw), np.ones(4)),
    "full": (lambda **kw: mg.full((2, 2), 2.5, **kw), np.full((2, 2), 2.5)),
    "eye": (lambda **kw: mg.eye(3, **kw), np.eye(3)),
    "eye-rect": (lambda **kw: mg.eye(2, 4, **kw), np.eye(2, 4)),
    "linspace": (lambda **kw: mg.linspace(0, 1, 5, **kw), np.linspace(0, 1, 5)),
    "arange-float": (lambda **kw: mg.arange(0.0, 2.0, 0.5, **kw), np.arange(0.0, 2.0, 0.5)),
    "zeros-0d": (lambda **kw: mg.zeros((), **kw), np.zeros(())),
}


@pytest.mark.parametrize("create, expected", CREATORS.values(), ids=CREATORS.keys())
def test_creation_functions(device, create, expected):
    t = create(device=device)
    assert t.dtype == mg.float32 and t.device is mg.device(device)
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-6)
    t64 = create(device=device, dtype=mg.float64)
    assert t64.dtype == mg.float64
    np.testing.assert_allclose(t64.numpy(), expected, rtol=1e-15)


def test_creation_defaults_to_cpu():
    for t in (mg.zeros(2), mg.ones(2), mg.randn(2), mg.rand(2), mg.arange(3), mg.eye(2),
              mg.linspace(0, 1, 3), mg.full(2, 1.0), mg.randint(3, size=2)):
        assert t.device is mg.device("cpu")


def test_arange_dtypes(device):
    t = mg.arange(5, device=device)
    assert t.dtype == mg.int64
    np.testing.assert_array_equal(t.numpy(), np.arange(5))
    np.testing.assert_array_equal(mg.arange(2, 11, 3, device=device).numpy(), [2, 5, 8])
    assert mg.arange(0, 1, 0.25, device=device).dtype == mg.float32


def test_requires_grad_at_creation(device):
    for t in (mg.zeros(2, device=device, requires_grad=True),
              mg.randn(2, device=device, requires_grad=True),
              mg.full(2, fill_value=3.0, device=device, requires_grad=True)):
        assert t.requires_grad and t.is_leaf


LIKES = {
    "zeros_like": (mg.zeros_like, 0.0),
    "ones_like": (mg.ones_like, 1.0),
    "full_like": (lambda x, **kw: mg.full_like(x, 7.0, **kw), 7.0),
}


@pytest.mark.parametrize("like, value", LIKES.values(), ids=LIKES.keys())
def test_like_functions_copy_shape_dtype_device(device, like, value):
    x = mg.tensor(np.ones((2, 3)), device=device)  # float64
    t = like(x)
    assert t.shape == (2, 3) and t.dtype == mg.float64 and t.device is x.device
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
    u = like(x, dtype=mg.float32, device="strict:device1")
    assert u.dtype == mg.float32 and u.device is mg.device("strict:device1")


@pytest.mark.parametrize("like", [mg.randn_like, mg.rand_like])
def test_random_like_functions(device, like):
    x = mg.zeros(3, 2, dtype=mg.float64, device=device)
    t = like(x)
    assert t.shape == (3, 2) and t.dtype == mg.float64 and t.device is x.device
    assert like(x, dtype=mg.float32).dtype == mg.float32
