"""The convolution family ported from PyTorch: conv1d, conv3d, conv_transpose1d, unfold/fold,
pad, max pooling with dilation and indices, max_unpool2d, avg_pool2d's count_include_pad,
adaptive_avg_pool2d, interpolate, pixel_shuffle/unshuffle.

- forward values against naive NumPy loops written from the definitions (conv1d, conv3d,
  unfold, pad) and against PyTorch (skipped without it), on many argument combinations;
- float64 gradcheck on "cpu", "strict:cpu" and "strict:device1" (random directions there);
- gradgradcheck on "cpu" (through a tanh where the op is linear, so second derivatives are
  not all zero);
- edge cases: 1x1 kernels, empty batches, bad arguments.
"""

import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F

DEVICES = ["cpu", "strict:cpu", "strict:device1"]



def normal(*shape, seed=0):
    return np.random.default_rng(seed + 7 * sum(shape) + len(shape)).standard_normal(shape)


def distinct(*shape, seed=3):
    """Well separated values: no ties in a max-pooling window."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(np.linspace(-1.5, 1.5, n)).reshape(shape)


def leaves(device, *arrays):
    return [mg.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=True)
            for a in arrays]


def check_gradients(device, fn, *arrays):
    tensors = leaves(device, *arrays)
    assert mg.gradcheck(fn, tensors, fast=device == "strict:device1")


def check_second_derivatives(fn, *arrays):
    assert mg.gradgradcheck(fn, leaves("cpu", *arrays))


def as_torch(torch, a):
    return torch.tensor(np.asarray(a))


# -- naive references -----------------------------------------------------------------------------


def naive_conv_nd(x, w, b, stride, padding, dilation):
    """y[n, o, out] = b[o] + sum_{c, taps} w[o, c, taps] * xpad[n, c, out*s + taps*d], any d."""
    d = x.ndim - 2
    xpad = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    kernel = w.shape[2:]
    out = [(xpad.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
           for i in range(d)]
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for pos in itertools.product(*(range(o) for o in out)):
        window = xpad[(slice(None), slice(None)) + tuple(
            slice(pos[i] * stride[i], pos[i] * stride[i] + dilation[i] * (kernel[i] - 1) + 1,
                  dilation[i]) for i in range(d))]
        y[(slice(None), slice(None)) + pos] = np.tensordot(
            window, w, axes=(list(range(1, d + 2)), list(range(1, d + 2))))
    return y if b is None else y + b.reshape((1, -1) + (1,) * d)


def naive_unfold(x, kernel, dilation, padding, stride):
    """out[n, (c, i, j), a * Wo + b] = xpad[n, c, a s + i d, b s + j d]."""
    n, c, h, w = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    xpad = np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c * kh * kw, ho * wo))
    for ch, i, j, a, b in itertools.product(range(c), range(kh), range(kw), range(ho),
                                            range(wo)):
        out[:, (ch * kh + i) * kw + j, a * wo + b] = xpad[:, ch, a * sh + i * dh, b * sw + j * dw]
    return out


def naive_pad(x, pad, mode):
    """numpy.pad with PyTorch's pad tuple (last axis first) and mode names."""
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(x, widths, mode=numpy_mode)


# -- conv1d, conv3d, conv_transpose1d -------------------------------------------------------------

CONV1D_CASES = [  # (stride, padding, dilation, groups)
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (3, 1, 2, 2), (1, "same", 2, 1), (1, "valid", 1, 1),
]


@pytest.mark.parametrize("stride, padding, dilation, groups", CONV1D_CASES)
def test_conv1d_matches_the_naive_loop(stride, padding, dilation, groups):
    x, w, b = normal(2, 4, 11), normal(6, 4 // groups, 3, seed=1), normal(6, seed=2)
    y = F.conv1d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding, dilation, groups)
    if padding == "same":
        padding = dilation * (3 - 1) // 2
    elif padding == "valid":
        padding = 0
    groups_out = [naive_conv_nd(x[:, g * (4 // groups):(g + 1) * (4 // groups)],
                                w[g * (6 // groups):(g + 1) * (6 // groups)], None,
                                (stride,), (padding,), (dilation,)) for g in range(groups)]
    expected = np.concatenate(groups_out, axis=1) + b[None, :, None]
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)


CONV3D_CASES = [  # (stride, padding, dilation)
    (1, 0, 1), (2, 1, 1), ((1, 2, 1), (0, 1, 2), (2, 1, 1)), (1, "same", (1, 2, 1)),
]


@pytest.mark.parametrize("stride, padding, dilation", CONV3D_CASES)
def test_conv3d_matches_the_naive_loop(stride, padding, dilation):
    x, w, b = normal(2, 3, 5, 6, 7), normal(4, 3, 2, 3, 2, seed=1), normal(4, seed=2)
    y = F.conv3d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding, dilation)

    def three(v):
        return (v,) * 3 if isinstance(v, int) else v

    if padding == "same":  # odd totals: the extra zero after, as PyTorch
        totals = [dl * (k - 1) for dl, k in zip(three(dilation), (2, 3, 2), strict=True)]
        xpad = np.pad(x, [(0, 0), (0, 0)] + [(t // 2, t - t // 2) for t in totals])
        expected = naive_conv_nd(xpad, w, b, (1, 1, 1), (0, 0, 0), three(dilation))
    else:
        expected = naive_conv_nd(x, w, b, three(stride), three(padding), three(dilation))
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)


def test_conv3d_groups_and_no_bias_match_pytorch(torch):
    x, w = normal(2, 4, 4, 5, 3), normal(6, 2, 3, 1, 2, seed=1)
    y = F.conv3d(mg.tensor(x), mg.tensor(w), None, (2, 1, 1), (1, 0, 1), 1, 2)
    t = torch.nn.functional.conv3d(as_torch(torch, x), as_torch(torch, w), None, (2, 1, 1),
                                   (1, 0, 1), 1, 2)
    np.testing.assert_allclose(y.numpy(), t.numpy(), atol=1e-12)


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups",
                         [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 2, 1, 2, 2), (2, 0, 0, 3, 1)])
def test_conv_transpose1d_matches_pytorch(torch, stride, padding, output_padding, dilation,
                                          groups):
    x, w, b = normal(2, 4, 6), normal(4, 6 // groups, 3, seed=1), normal(6, seed=2)
    y = F.conv_transpose1d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride, padding,
                           output_padding, groups, dilation)
    t = torch.nn.functional.conv_transpose1d(as_torch(torch, x), as_torch(torch, w),
                                             as_torch(torch, b), stride, padding,
                                             output_padding, groups, dilation)
    np.testing.assert_allclose(y.numpy(), t.numpy(), atol=1e-12)


def test_1x1_kernels_are_a_product_over_channels():
    x, w1, w3 = normal(2, 3, 5), normal(4, 3, 1, seed=1), normal(4, 3, 1, 1, 1, seed=1)
    expected = np.einsum("ncl,oc->nol", x, w1[:, :, 0])
    np.testing.assert_allclose(F.conv1d(mg.tensor(x), mg.tensor(w1)).numpy(), expected,
                               atol=1e-12)
    x3 = normal(2, 3, 2, 3, 4)
    np.testing.assert_allclose(F.conv3d(mg.tensor(x3), mg.tensor(w3)).numpy(),
                               np.einsum("ncdhw,oc->nodhw", x3, w3[:, :, 0, 0, 0]), atol=1e-12)


def test_empty_batches_give_empty_outputs():
    assert F.conv1d(mg.zeros(0, 3, 7), mg.zeros(2, 3, 3)).shape == (0, 2, 5)
    assert F.conv3d(mg.zeros(0, 3, 4, 4, 4), mg.zeros(2, 3, 3, 3, 3)).shape == (0, 2, 2, 2, 2)
    assert F.unfold(mg.zeros(0, 2, 4, 4), 2).shape == (0, 8, 9)


def test_empty_batches_pass_through_pooling_padding_and_resizing():
    x = mg.zeros(0, 2, 5, 6)
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    assert y.shape == indices.shape == (0, 2, 2, 3)
    assert F.max_unpool2d(y, indices, 2).shape == (0, 2, 4, 6)
    assert F.avg_pool2d(x, 3, padding=1, count_include_pad=False).shape == (0, 2, 2, 2)
    assert F.adaptive_avg_pool2d(x, 3).shape == (0, 2, 3, 3)
    assert F.interpolate(x, size=(7, 3), mode="bilinear").shape == (0, 2, 7, 3)
    assert F.pad(x, (1, 1, 2, 2), "reflect").shape == (0, 2, 9, 8)
    assert F.pixel_unshuffle(mg.zeros(0, 2, 4, 6), 2).shape == (0, 8, 2, 3)
    assert F.fold(mg.zeros(0, 8, 12), (4, 5), 2).shape == (0, 2, 4, 5)
    assert F.conv_transpose1d(mg.zeros(0, 2, 4), mg.zeros(2, 3, 3)).shape == (0, 3, 6)


def test_conv3d_rejects_bad_arguments():
    with pytest.raises(ValueError, match="conv3d"):
        F.conv3d(mg.zeros(1, 3, 4, 4), mg.zeros(2, 3, 3, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        F.conv3d(mg.zeros(1, 3, 4, 4, 4), mg.zeros(2, 3, 3, 3, 3), stride=(1, 1))
    with pytest.raises(ValueError, match="too small"):
        F.conv3d(mg.zeros(1, 3, 2, 4, 4), mg.zeros(2, 3, 3, 3, 3))
    with pytest.raises(ValueError, match="same"):
        F.conv3d(mg.zeros(1, 3, 4, 4, 4), mg.zeros(2, 3, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="conv1d"):
        F.conv1d(mg.zeros(1, 3, 4, 4), mg.zeros(2, 3, 3))


CONV_GRADIENTS = {
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, 2, 1, 2), (normal(2, 2, 9), normal(3, 2, 3),
                                                             normal(3))),
    "conv1d-groups-same": (lambda x, w, b: F.conv1d(x, w, b, 1, "same", 1, 2),
                           (normal(1, 4, 6), normal(2, 2, 2), normal(2))),
    "conv3d": (lambda x, w, b: F.conv3d(x, w, b, (1, 2, 1), 1, (1, 1, 2)),
               (normal(1, 2, 3, 4, 5), normal(2, 2, 2, 2, 2), normal(2))),
    "conv_transpose1d": (lambda x, w, b: F.conv_transpose1d(x, w, b, 2, 1, 1),
                         (normal(2, 2, 4), normal(2, 3, 3), normal(3))),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", CONV_GRADIENTS)
def test_convolution_gradients(device, name):
    fn, arrays = CONV_GRADIENTS[name]
    check_gradients(device, fn, *arrays)


@pytest.mark.parametrize("name", CONV_GRADIENTS)
def test_convolution_second_derivatives(name):
    fn, arrays = CONV_GRADIENTS[name]
    check_second_derivatives(lambda x, w, b: fn(x, w, b).tanh(), *arrays)


# -- unfold and fold ------------------------------------------------------------------------------

UNFOLD_CASES = [  # (kernel, dilation, padding, stride)
    ((2, 2), (1, 1), (0, 0), (1, 1)), ((3, 2), (1, 2), (1, 0), (2, 1)), ((1, 1), (1, 1), (0, 0),
                                                                         (1, 1)),
    ((2, 3), (2, 1), (1, 2), (1, 3)),
]


@pytest.mark.parametrize("kernel, dilation, padding, stride", UNFOLD_CASES)
def test_unfold_matches_the_naive_loop(kernel, dilation, padding, stride):
    x = normal(2, 3, 6, 7)
    y = F.unfold(mg.tensor(x), kernel, dilation, padding, stride)
    np.testing.assert_array_equal(y.numpy(), naive_unfold(x, kernel, dilation, padding, stride))


@pytest.mark.parametrize("kernel, dilation, padding, stride", UNFOLD_CASES)
def test_unfold_and_fold_match_pytorch(torch, kernel, dilation, padding, stride):
    x = normal(2, 3, 6, 7)
    tf = torch.nn.functional
    u = F.unfold(mg.tensor(x), kernel, dilation, padding, stride)
    tu = tf.unfold(as_torch(torch, x), kernel, dilation, padding, stride)
    np.testing.assert_array_equal(u.numpy(), tu.numpy())
    cols = normal(*u.shape, seed=5)
    folded = F.fold(mg.tensor(cols), (6, 7), kernel, dilation, padding, stride)
    expected = tf.fold(as_torch(torch, cols), (6, 7), kernel, dilation, padding, stride)
    np.testing.assert_allclose(folded.numpy(), expected.numpy(), atol=1e-12)


def test_fold_is_the_adjoint_of_unfold():
    """<unfold(x), c> = <x, fold(c)> for any x and c."""
    x, kernel = normal(2, 2, 5, 6), (3, 2)
    u = F.unfold(mg.tensor(x), kernel, 2, 1, (1, 2))
    c = normal(*u.shape, seed=9)
    folded = F.fold(mg.tensor(c), (5, 6), kernel, 2, 1, (1, 2))
    assert np.isclose(np.sum(u.numpy() * c), np.sum(x * folded.numpy()))


def test_fold_rejects_a_wrong_number_of_windows():
    with pytest.raises(ValueError, match="windows"):
        F.fold(mg.zeros(1, 4, 5), (4, 4), 2)
    with pytest.raises(ValueError, match="multiple"):
        F.fold(mg.zeros(1, 5, 9), (4, 4), 2)


UNFOLD_GRADIENTS = {
    "unfold": lambda x: F.unfold(x, (2, 3), 1, 1, (2, 1)),
    "fold": lambda x: F.fold(F.unfold(x, 2, 2, 1, 1) * 1.5, (4, 5), 2, 2, 1, 1),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", UNFOLD_GRADIENTS)
def test_unfold_fold_gradients(device, name):
    check_gradients(device, UNFOLD_GRADIENTS[name], normal(2, 2, 4, 5))


@pytest.mark.parametrize("name", UNFOLD_GRADIENTS)
def test_unfold_fold_second_derivatives(name):
    check_second_derivatives(lambda x: UNFOLD_GRADIENTS[name](x).tanh(), normal(1, 2, 4, 5))


# -- pad ------------------------------------------------------------------------------------------

PAD_CASES = [  # (input shape, pad)
    ((2, 3, 7), (2, 3)), ((2, 3, 5, 6), (1, 2, 3, 0)), ((3, 5, 6), (4, 1, 2, 2)),
    ((1, 2, 4, 5, 6), (1, 2, 3, 0, 2, 1)),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", PAD_CASES)
def test_pad_matches_numpy_pad(mode, shape, pad):
    x = normal(*shape)
    np.testing.assert_array_equal(F.pad(mg.tensor(x), pad, mode).numpy(),
                                  naive_pad(x, pad, mode))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", PAD_CASES)
def test_pad_matches_pytorch(torch, mode, shape, pad):
    x = normal(*shape)
    np.testing.assert_array_equal(F.pad(mg.tensor(x), pad, mode).numpy(),
                                  torch.nn.functional.pad(as_torch(torch, x), pad, mode).numpy())


def test_constant_pad_fills_a_value_and_crops_with_negative_widths(torch):
    x = normal(2, 3, 5, 6)
    for pad in [(1, 2), (-1, 2, 1, -2), (0, 0, 0, 0, 1, 1), (1, 1, 1, 1, 1, 1, 1, 1)]:
        got = F.pad(mg.tensor(x), pad, value=2.5).numpy()
        expected = torch.nn.functional.pad(as_torch(torch, x), pad, value=2.5).numpy()
        np.testing.assert_array_equal(got, expected)


def test_pad_rejects_bad_arguments():
    x = mg.zeros(1, 2, 3, 4)
    with pytest.raises(ValueError, match="reflect widths"):
        F.pad(x, (4, 0), "reflect")
    with pytest.raises(ValueError, match="circular widths"):
        F.pad(x, (5, 0), "circular")
    with pytest.raises(ValueError, match="even number"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), "wrap")
    with pytest.raises(ValueError, match="constant"):
        F.pad(x, (1, 1), "reflect", value=1.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradients(device, mode):
    pad = (2, 1, 3, 2) if mode != "constant" else (2, -1, 3, 2)
    check_gradients(device, lambda x: F.pad(x, pad, mode), normal(2, 2, 4, 5))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_second_derivatives(mode):
    check_second_derivatives(lambda x: F.pad(x, (2, 1, 1, 2), mode, ).tanh(), normal(1, 2, 3, 4))


# -- pooling --------------------------------------------------------------------------------------

MAX_POOL_CASES = [
    dict(kernel_size=3, stride=2, padding=1, dilation=2),
    dict(kernel_size=(2, 3), dilation=(2, 1), ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=1),
    dict(kernel_size=2, stride=(1, 2), dilation=3, ceil_mode=True),
]


@pytest.mark.parametrize("case", range(len(MAX_POOL_CASES)))
def test_max_pool2d_with_dilation_and_indices_matches_pytorch(torch, case):
    x, kwargs = distinct(2, 3, 9, 10), MAX_POOL_CASES[case]
    y, indices = F.max_pool2d(mg.tensor(x), return_indices=True, **kwargs)
    ty, ti = torch.nn.functional.max_pool2d(as_torch(torch, x), return_indices=True, **kwargs)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(indices.numpy(), ti.numpy())
    assert indices.dtype == mg.int64


def test_max_pool2d_indices_point_at_the_maxima():
    x = distinct(2, 2, 6, 7)
    y, indices = F.max_pool2d(mg.tensor(x), 3, 2, 1, 2, return_indices=True)
    flat = x.reshape(2, 2, -1)
    picked = np.take_along_axis(flat, indices.numpy().reshape(2, 2, -1), axis=2)
    np.testing.assert_array_equal(picked.reshape(y.shape), y.numpy())


@pytest.mark.parametrize("kernel, stride, padding, output_size",
                         [(2, None, 0, None), (3, 1, 1, None), (2, 2, 0, (9, 10)),
                          (3, 2, 1, (1, 1, 9, 10))])
def test_max_unpool2d_matches_pytorch(torch, kernel, stride, padding, output_size):
    x = distinct(1, 2, 9, 10)
    tf = torch.nn.functional
    ty, ti = tf.max_pool2d(as_torch(torch, x), kernel, stride, padding, return_indices=True)
    y = F.max_unpool2d(mg.tensor(ty.numpy()), mg.tensor(ti.numpy()), kernel, stride, padding,
                       output_size)
    expected = tf.max_unpool2d(ty, ti, kernel, stride, padding, output_size)
    np.testing.assert_array_equal(y.numpy(), expected.numpy())


def test_max_unpool2d_rejects_indices_out_of_range():
    with pytest.raises(ValueError, match="indices"):
        F.max_unpool2d(mg.zeros(1, 1, 2, 2), mg.tensor(np.full((1, 1, 2, 2), 16)), 2)


AVG_POOL_CASES = [
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(3, 2), padding=(1, 1), count_include_pad=False),
    dict(kernel_size=(3, 2), padding=1, divisor_override=5),
    dict(kernel_size=1, count_include_pad=False),
]


@pytest.mark.parametrize("case", range(len(AVG_POOL_CASES)))
def test_avg_pool2d_options_match_pytorch(torch, case):
    x, kwargs = normal(2, 3, 9, 10), AVG_POOL_CASES[case]
    np.testing.assert_allclose(F.avg_pool2d(mg.tensor(x), **kwargs).numpy(),
                               torch.nn.functional.avg_pool2d(as_torch(torch, x),
                                                              **kwargs).numpy(), atol=1e-12)


def test_avg_pool2d_without_padding_counts_averages_the_image_cells_only():
    """The corner window of a 3x3 kernel with padding 1 holds 4 image cells: their mean."""
    x = normal(1, 1, 4, 4)
    y = F.avg_pool2d(mg.tensor(x), 3, 1, 1, count_include_pad=False).numpy()
    assert np.isclose(y[0, 0, 0, 0], x[0, 0, :2, :2].mean())
    assert np.isclose(y[0, 0, 1, 1], x[0, 0, :3, :3].mean())


@pytest.mark.parametrize("output_size", [(4, 3), 5, (None, 7), 1, (9, 10), (12, 13)])
def test_adaptive_avg_pool2d_matches_pytorch(torch, output_size):
    x = normal(2, 3, 9, 10)
    np.testing.assert_allclose(
        F.adaptive_avg_pool2d(mg.tensor(x), output_size).numpy(),
        torch.nn.functional.adaptive_avg_pool2d(as_torch(torch, x), output_size).numpy(),
        atol=1e-12)


def test_adaptive_avg_pool2d_to_one_pixel_is_the_mean():
    x = normal(2, 3, 5, 4)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(mg.tensor(x), 1).numpy(),
                               x.mean(axis=(2, 3), keepdims=True), atol=1e-12)


POOL_GRADIENTS = {
    "max-dilated": (lambda x: F.max_pool2d(x, 2, 1, 1, 2), distinct(1, 2, 5, 6)),
    "max-dilated-ceil": (lambda x: F.max_pool2d(x, (2, 3), 2, 0, (2, 1), True),
                         distinct(1, 2, 6, 7)),
    "max-unpool": (lambda x: F.max_unpool2d(x, mg.tensor(np.array([[[[0, 3], [9, 15]]]])
                                                         .repeat(2, axis=1)), 2),
                   normal(1, 2, 2, 2)),
    "avg-no-pad-count": (lambda x: F.avg_pool2d(x, 3, 2, 1, True, False), normal(1, 2, 5, 6)),
    "adaptive": (lambda x: F.adaptive_avg_pool2d(x, (3, 4)), normal(1, 2, 5, 7)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", POOL_GRADIENTS)
def test_pooling_gradients(device, name):
    fn, x = POOL_GRADIENTS[name]
    if name == "max-unpool":  # the indices must live on the input's device
        idx = np.array([[[[0, 3], [9, 15]]]]).repeat(2, axis=1)
        check_gradients(device, lambda t: F.max_unpool2d(t, mg.tensor(idx, device=device), 2), x)
    else:
        check_gradients(device, fn, x)


@pytest.mark.parametrize("name", POOL_GRADIENTS)
def test_pooling_second_derivatives(name):
    fn, x = POOL_GRADIENTS[name]
    check_second_derivatives(lambda t: fn(t).tanh(), x)


def test_max_unpool2d_of_overlapping_windows_keeps_one_value(torch):
    """Overlapping windows can pick one input twice: PyTorch writes it once, so do we."""
    x = distinct(1, 1, 5, 5)
    y, indices = F.max_pool2d(mg.tensor(x), 3, 1, return_indices=True)
    ty, ti = torch.nn.functional.max_pool2d(as_torch(torch, x), 3, 1, return_indices=True)
    np.testing.assert_array_equal(
        F.max_unpool2d(y, indices, 3, 1).numpy(),
        torch.nn.functional.max_unpool2d(ty, ti, 3, 1).numpy())


# -- interpolate and pixel shuffle ---------------------------------------------------------------

INTERPOLATE_CASES = [
    ((2, 3, 7), dict(scale_factor=2.5, mode="nearest")),
    ((2, 3, 7), dict(size=11, mode="linear")),
    ((2, 3, 7), dict(size=4, mode="linear", align_corners=True)),
    ((2, 3, 7), dict(scale_factor=1.7, mode="linear")),
    ((2, 3, 7), dict(size=3, mode="area")),
    ((2, 3, 5, 6), dict(scale_factor=(1.5, 2.3), mode="bilinear")),
    ((2, 3, 5, 6), dict(size=(7, 3), mode="nearest")),
    ((2, 3, 5, 6), dict(scale_factor=3, mode="nearest")),
    ((2, 3, 5, 6), dict(scale_factor=0.5, mode="nearest")),
    ((2, 3, 5, 6), dict(size=(8, 9), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 6), dict(size=(3, 4), mode="area")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="nearest")),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="trilinear", align_corners=True)),
]


@pytest.mark.parametrize("shape, kwargs", INTERPOLATE_CASES)
def test_interpolate_matches_pytorch(torch, shape, kwargs):
    x = normal(*shape)
    got = F.interpolate(mg.tensor(x), **kwargs).numpy()
    expected = torch.nn.functional.interpolate(as_torch(torch, x), **kwargs).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_interpolate_nearest_1d_repeats_each_value():
    x = normal(1, 2, 4)
    np.testing.assert_array_equal(F.interpolate(mg.tensor(x), scale_factor=3).numpy(),
                                  np.repeat(x, 3, axis=2))


def test_interpolate_rejects_bad_arguments():
    x = mg.zeros(1, 1, 4)
    with pytest.raises(ValueError, match="mode"):
        F.interpolate(x, size=5, mode="bilinear")
    with pytest.raises(ValueError, match="either"):
        F.interpolate(x, size=5, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=5, align_corners=True)
    with pytest.raises(ValueError, match="spatial"):
        F.interpolate(mg.zeros(1, 4), size=5)


INTERPOLATE_GRADIENTS = {
    "linear": (lambda x: F.interpolate(x, size=7, mode="linear"), normal(2, 2, 4)),
    "bilinear": (lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"),
                 normal(1, 2, 3, 4)),
    "nearest-2d": (lambda x: F.interpolate(x, size=(5, 3)), normal(1, 2, 3, 4)),
    "trilinear": (lambda x: F.interpolate(x, size=(3, 4, 2), mode="trilinear",
                                          align_corners=True), normal(1, 1, 2, 3, 3)),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), normal(2, 8, 2, 3)),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), normal(2, 2, 4, 6)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", INTERPOLATE_GRADIENTS)
def test_resize_gradients(device, name):
    fn, x = INTERPOLATE_GRADIENTS[name]
    check_gradients(device, fn, x)


@pytest.mark.parametrize("name", INTERPOLATE_GRADIENTS)
def test_resize_second_derivatives(name):
    fn, x = INTERPOLATE_GRADIENTS[name]
    check_second_derivatives(lambda t: fn(t).tanh(), x)


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((3, 9, 2, 2), 3), ((1, 2, 4, 3, 5), 1),
                                      ((5, 4, 2, 3), 2)])
def test_pixel_shuffle_round_trip_and_pytorch(torch, shape, r):
    x = normal(*shape)
    y = F.pixel_shuffle(mg.tensor(x), r)
    np.testing.assert_array_equal(
        y.numpy(), torch.nn.functional.pixel_shuffle(as_torch(torch, x), r).numpy())
    np.testing.assert_array_equal(F.pixel_unshuffle(y, r).numpy(), x)


def test_pixel_shuffle_puts_channel_blocks_into_space():
    """y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w], from the definition."""
    x, r = normal(1, 8, 2, 3), 2
    y = F.pixel_shuffle(mg.tensor(x), r).numpy()
    for c, i, j, h, w in itertools.product(range(2), range(r), range(r), range(2), range(3)):
        assert y[0, c, h * r + i, w * r + j] == x[0, c * r * r + i * r + j, h, w]


def test_pixel_shuffle_rejects_indivisible_shapes():
    with pytest.raises(ValueError, match="divisible"):
        F.pixel_shuffle(mg.zeros(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="divisible"):
        F.pixel_unshuffle(mg.zeros(1, 1, 3, 4), 2)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2, mode="bilinear"),
                                    dict(size=(7, 3), mode="bilinear"),
                                    dict(size=(9, 11), mode="bilinear", align_corners=True),
                                    dict(size=(7, 3), mode="nearest")], ids=str)
def test_resizing_uint8_images_stays_uint8_as_pytorch(kwargs):
    # Computed in float32 and rounded back (integer weights would be 0): PyTorch keeps uint8
    # too; its bilinear uint8 kernel works in fixed point, so values may differ by one level.
    torch = pytest.importorskip("torch")
    x = (np.arange(20) * 13 % 256).astype(np.uint8).reshape(1, 1, 4, 5)
    theirs = torch.nn.functional.interpolate(torch.tensor(x), **kwargs).numpy()
    for ours in (F.interpolate(mg.tensor(x), **kwargs), F.upsample(mg.tensor(x), **kwargs)):
        assert ours.dtype == mg.uint8
        tolerance = 0 if kwargs["mode"] == "nearest" else 1
        assert np.abs(ours.numpy().astype(int) - theirs.astype(int)).max() <= tolerance
