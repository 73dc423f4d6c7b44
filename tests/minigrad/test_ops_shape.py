"""Shape ops and indexing: forward against NumPy, gradients by finite differences."""

import numpy as np
import pytest

import minigrad as mg

A = np.random.default_rng(7).standard_normal((2, 3, 4))


def check(device, fn, expected_fn, *arrays):
    """fn's forward equals NumPy's expected_fn, and its gradient passes gradcheck."""
    tensors = [mg.tensor(a, device=device, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    expected = expected_fn(*arrays)
    assert out.device is tensors[0].device and out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert mg.gradcheck(fn, tensors)


# -- reshape, flatten, permute, squeeze, expand ----------------------------------------------

RESHAPES = {
    "reshape(-1)": (lambda x: x.reshape(-1), lambda a: a.reshape(-1)),
    "reshape(4,-1)": (lambda x: x.reshape(4, -1), lambda a: a.reshape(4, -1)),
    "reshape((3,1,8))": (lambda x: x.reshape((3, 1, 8)), lambda a: a.reshape(3, 1, 8)),
    "mg.reshape": (lambda x: mg.reshape(x, [6, 4]), lambda a: a.reshape(6, 4)),
    "flatten": (lambda x: x.flatten(), lambda a: a.reshape(-1)),
    "flatten(1)": (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
    "flatten(0,-2)": (lambda x: x.flatten(0, -2), lambda a: a.reshape(6, 4)),
    "permute": (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    "permute-neg": (lambda x: x.permute((-1, 0, -2)), lambda a: a.transpose(2, 0, 1)),
    "transpose": (lambda x: x.transpose(), lambda a: a.swapaxes(-2, -1)),
    "transpose(0,2)": (lambda x: mg.transpose(x, 0, 2), lambda a: a.swapaxes(0, 2)),
    ".T": (lambda x: x.T, lambda a: a.T),
    ".mT": (lambda x: x.mT, lambda a: a.swapaxes(-1, -2)),
    "unsqueeze(0)": (lambda x: x.unsqueeze(0), lambda a: a[None]),
    "unsqueeze(-1)": (lambda x: x.unsqueeze(-1), lambda a: a[..., None]),
    "unsqueeze(2)": (lambda x: mg.unsqueeze(x, 2), lambda a: a[:, :, None]),
    "expand": (lambda x: x[:, :1].expand(5, -1, 3, -1),
               lambda a: np.broadcast_to(a[:, :1], (5, 2, 3, 4))),
    "broadcast_to": (lambda x: x[0, :, :1].broadcast_to((2, 3, 3)),
                     lambda a: np.broadcast_to(a[0, :, :1], (2, 3, 3))),
}


@pytest.mark.parametrize("name", RESHAPES)
def test_reshaping_ops(device, name):
    fn, np_fn = RESHAPES[name]
    check(device, fn, np_fn, A)


SQUEEZES = {
    "squeeze()": (lambda x: x.squeeze(), lambda a: a.squeeze()),
    "squeeze(0)": (lambda x: x.squeeze(0), lambda a: a.squeeze(0)),
    "squeeze(-2)": (lambda x: x.squeeze(-2), lambda a: a.squeeze(-2)),
    "squeeze((0,2))": (lambda x: mg.squeeze(x, (0, 2)), lambda a: a.squeeze((0, 2))),
}


@pytest.mark.parametrize("name", SQUEEZES)
def test_squeeze(device, name):
    fn, np_fn = SQUEEZES[name]
    check(device, fn, np_fn, A.reshape(1, 6, 1, 4))


def test_squeeze_keeps_a_longer_axis_as_pytorch(device):
    # PyTorch's squeeze(dim) leaves a dim whose size is not 1 as it is (the array API raises)
    x = mg.zeros(1, 6, 1, device=device)
    assert x.squeeze(1).shape == (1, 6, 1)
    assert x.squeeze((0, 1)).shape == (6, 1)


ZERO_DIM = {
    "reshape(1,1)": (lambda x: x.reshape(1, 1), lambda a: a.reshape(1, 1)),
    "flatten": (lambda x: x.flatten(), lambda a: a.reshape(1)),
    ".T": (lambda x: x.T, lambda a: a.T),
    "squeeze()": (lambda x: x.squeeze(), lambda a: a.squeeze()),
    "squeeze(0)": (lambda x: x.squeeze(0), lambda a: a),  # as in PyTorch
    "squeeze(-1)": (lambda x: x.squeeze(-1), lambda a: a),
    "unsqueeze(0)": (lambda x: x.unsqueeze(0), lambda a: a[None]),
    "unsqueeze(-1)": (lambda x: x.unsqueeze(-1), lambda a: a[None]),
    "expand": (lambda x: x.expand(2, 3), lambda a: np.broadcast_to(a, (2, 3))),
    "x[None]": (lambda x: x[None], lambda a: a[None]),
    "x[...]": (lambda x: x[...], lambda a: a[...]),
    "stack": (lambda x: mg.stack([x, 2 * x]), lambda a: np.stack([a, 2 * a])),
    "pad": (lambda x: x.reshape(1).pad(1), lambda a: np.pad(a.reshape(1), 1)),
}


@pytest.mark.parametrize("name", ZERO_DIM)
def test_shape_ops_on_zero_dim_tensors(device, name):
    fn, np_fn = ZERO_DIM[name]
    check(device, fn, np_fn, np.array(1.5))


def test_permute_needs_every_axis_once(device):
    with pytest.raises(ValueError, match="each of the 3 axes once"):
        mg.zeros(2, 3, 4, device=device).permute(0, 1, 1)


# -- indexing ----------------------------------------------------------------------------

BASIC_KEYS = {
    "int": 1, "negative int": -1, "two ints": (1, 2), "three ints": (1, -1, 0),
    "slice": slice(1, None), "step": slice(None, None, 2),
    "negative step": (slice(None, None, -1),),
    "slices": (slice(None), slice(1, 3)), "int and negative step": (1, slice(None, None, -2)),
    "stepped inner": (Ellipsis, slice(3, 0, -2)), "None": None, "None inside": (slice(None), None),
    "None at end": (Ellipsis, None), "Ellipsis": Ellipsis, "Ellipsis int": (Ellipsis, 0),
    "int Ellipsis int": (0, Ellipsis, 1), "empty slice": slice(2, 2),
}


@pytest.mark.parametrize("name", BASIC_KEYS)
def test_basic_indexing(device, name):
    key = BASIC_KEYS[name]
    check(device, lambda x: x[key], lambda a: a[key], A)


def _on(device, index):
    return mg.tensor(np.asarray(index), device=device)


# (key builder from a device name, NumPy key): integer arrays that work on every device
ARRAY_KEYS = {
    "array": (lambda d: _on(d, [1, 0, 1]), [1, 0, 1]),
    "repeated": (lambda d: _on(d, [1, 1, 0, 1]), [1, 1, 0, 1]),
    "negative": (lambda d: _on(d, [-1, 0]), [-1, 0]),
    "list": (lambda d: [1, 0, 1], [1, 0, 1]),
    "numpy array": (lambda d: np.array([1, 1, 0]), [1, 1, 0]),
    "numpy array later axis": (lambda d: (slice(None), np.array([2, 0])), (slice(None), [2, 0])),
    "2-D array": (lambda d: _on(d, [[1, 0], [1, 1]]), [[1, 0], [1, 1]]),
    "later axis": (lambda d: (slice(None), _on(d, [2, 2, 0])), (slice(None), [2, 2, 0])),
    "last axis": (lambda d: (slice(None), slice(None), _on(d, [3, 0, 3])),
                  (slice(None), slice(None), [3, 0, 3])),
    "Ellipsis array": (lambda d: (Ellipsis, _on(d, [3, 1, 1])), (Ellipsis, [3, 1, 1])),
    "Ellipsis array slice": (lambda d: (Ellipsis, _on(d, [0, 2, 0]), slice(None)),
                             (Ellipsis, [0, 2, 0], slice(None))),
    "int32 array": (lambda d: mg.tensor(np.array([1, 0, 1], dtype=np.int32), device=d),
                    [1, 0, 1]),
}


@pytest.mark.parametrize("name", ARRAY_KEYS)
def test_integer_array_indexing(device, name):
    make_key, np_key = ARRAY_KEYS[name]
    key = make_key(device)
    np_key = tuple(np.asarray(k) if isinstance(k, list) else k for k in np_key) \
        if isinstance(np_key, tuple) else np.asarray(np_key)
    check(device, lambda x: x[key], lambda a: a[np_key], A)


def test_repeated_indices_add_their_gradients(device):
    x = mg.tensor(np.arange(3.0), device=device, requires_grad=True)
    x[_on(device, [0, 2, 0, 0])].sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(x.grad), [3.0, 0.0, 1.0])
    y = mg.tensor(np.ones((2, 3)), device=device, requires_grad=True)
    (y[:, [1, 1, 2]] * mg.tensor([1.0, 10.0, 100.0], device=device)).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(y.grad), [[0, 11, 100], [0, 11, 100]])


# Keys that mix an integer array with other indices, or masks: NumPy semantics, on the CPU.
CPU_KEYS = {
    "array then int": (np.array([1, 0]), 0),
    "array then slice": (np.array([1, 0, 1]), slice(1, None)),
    "int then array": (1, np.array([2, 2, 0])),
    "two arrays": (np.array([1, 0]), np.array([2, 2])),
    "array Ellipsis int": (np.array([1, 1]), Ellipsis, 3),
    "numpy scalar": np.int64(1),
}


@pytest.mark.parametrize("name", CPU_KEYS)
def test_mixed_array_indexing_on_cpu(name):
    key = CPU_KEYS[name]
    check("cpu", lambda x: x[key], lambda a: a[key], A)


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy-mask", "tensor-mask"])
def test_boolean_mask_on_cpu(as_tensor):
    for mask in (A > 0, A[:, :, 0] > 0):  # every axis, or the leading ones
        key = mg.tensor(mask) if as_tensor else mask
        check("cpu", lambda x, key=key: x[key], lambda a, mask=mask: a[mask], A)


def test_numpy_integer_scalar_is_an_int_index(device):
    check(device, lambda x: x[np.int64(1)], lambda a: a[1], A)
    check(device, lambda x: x[:, np.int64(1)], lambda a: a[:, 1], A)
    check(device, lambda x: x[np.int64(1), np.int32(-1)], lambda a: a[1, -1], A)


def test_index_tensor_on_another_device_is_refused():
    x = mg.zeros(3, device="strict:device1")
    with pytest.raises(mg.DeviceError, match=r"strict:device1 and cpu"):
        x[mg.tensor([0, 1])]


def test_float_tensor_index_is_refused(device):
    x = mg.zeros(3, device=device)
    with pytest.raises(IndexError, match="integer or bool"):
        x[mg.tensor([0.0], device=device)]


# -- concat, stack, split, pad -----------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(device, rng, axis):
    shapes = [[(1, 3, 2), (2, 3, 2), (3, 3, 2)], [(2, 1, 2), (2, 2, 2), (2, 3, 2)],
              [(2, 3, 1), (2, 3, 2), (2, 3, 3)]][axis % 3]
    arrays = [rng.standard_normal(s) for s in shapes]
    check(device, lambda *ts: mg.concat(ts, axis=axis),
          lambda *arrs: np.concatenate(arrs, axis=axis), *arrays)


def test_concat_with_a_constant_part(device, rng):
    const = mg.tensor(rng.standard_normal((2, 2)), device=device)
    check(device, lambda x: mg.concat([const, x, const], axis=1),
          lambda a: np.concatenate([const.numpy(), a, const.numpy()], axis=1),
          rng.standard_normal((2, 3)))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack(device, rng, axis):
    arrays = [rng.standard_normal((2, 3)) for _ in range(3)]
    check(device, lambda *ts: mg.stack(list(ts), axis=axis),
          lambda *arrs: np.stack(arrs, axis=axis), *arrays)


@pytest.mark.parametrize("sizes, axis, np_sections", [
    (2, 1, [2, 4]), (3, 1, [3]), (5, 1, []), ([1, 3, 1], 1, [1, 4]), (1, 0, [1]),
    ([2, 0, 3], -2, [2, 2]), (4, -1, [4]), ([3, 3], -1, [3]),
])
def test_split(device, sizes, axis, np_sections):
    a = np.arange(2 * 5 * 6, dtype=np.float64).reshape(2, 5, 6)
    x = mg.tensor(a, device=device, requires_grad=True)
    pieces = x.split(sizes, axis=axis)
    expected = np.split(a, np_sections, axis=axis)
    assert len(pieces) == len(expected)
    for piece, ref in zip(pieces, expected, strict=True):
        np.testing.assert_array_equal(piece.numpy(), ref)

    def weighted(t):  # each piece scaled differently, so a mixed-up gradient shows
        return mg.concat([p * (i + 1) for i, p in enumerate(mg.split(t, sizes, axis))], axis)

    assert mg.gradcheck(weighted, (x,))


def test_split_sizes_must_add_up(device):
    with pytest.raises(ValueError, match=r"do not add up to 5"):
        mg.zeros(5, 2, device=device).split([2, 2])


@pytest.mark.parametrize("pad_width, value", [(1, 0.0), ([(0, 1), (2, 0), (1, 1)], 0.0),
                                              (2, -1.5), ([(0, 0), (0, 0), (0, 3)], 7.0)],
                         ids=str)
def test_pad(device, pad_width, value):
    check(device, lambda x: x.pad(pad_width, value=value),
          lambda a: np.pad(a, pad_width, constant_values=value), A)


def test_pad_needs_one_pair_per_axis(device):
    with pytest.raises(ValueError, match="needs 3"):
        mg.zeros(1, 2, 3, device=device).pad([(1, 1)])


# -- dtype kept ----------------------------------------------------------------------------

SHAPE_OPS = {
    "reshape": lambda x: x.reshape(-1), "flatten": lambda x: x.flatten(), ".T": lambda x: x.T,
    "permute": lambda x: x.permute(1, 0, 2), "squeeze": lambda x: x.unsqueeze(1).squeeze(1),
    "expand": lambda x: x.expand(2, 2, 3, 4), "basic index": lambda x: x[1, ::-1],
    "array index": lambda x: x[:, [0, 0, 2]], "concat": lambda x: mg.concat([x, x]),
    "stack": lambda x: mg.stack([x, x], -1), "split": lambda x: x.split(1, axis=1)[1],
    "pad": lambda x: x.pad(1),
}


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64], ids=str)
@pytest.mark.parametrize("name", SHAPE_OPS)
def test_shape_ops_keep_dtype(device, name, dtype):
    x = mg.tensor(A, dtype=dtype, device=device, requires_grad=True)
    out = SHAPE_OPS[name](x)
    assert out.dtype == dtype and out.device is x.device
    out.sum().backward()
    assert x.device.canonical(x.grad.dtype) == dtype and x.grad.shape == A.shape


@pytest.mark.parametrize("op", [
    lambda x: x.squeeze(3), lambda x: x.unsqueeze(4), lambda x: x.permute(0, 1, 3),
    lambda x: x.transpose(0, 3), lambda x: x.flatten(0, 5)])
def test_axes_out_of_range_are_refused(op):
    with pytest.raises(IndexError, match="out of range"):
        op(mg.zeros(1, 2, 3))


def test_full_takes_shape_and_value_positionally(device):
    t = mg.full((2, 3), 1.5, device=device)
    assert t.shape == (2, 3) and t.dtype == mg.float32
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), 1.5, np.float32))
