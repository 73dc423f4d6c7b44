"""Convolution, transposed convolution, pooling and upsampling against naive NumPy loops.

The references below are written from the definitions, independently of im2col:
- conv2d: for every output pixel, the dilated window of the padded input times the kernel;
- conv_transpose2d: every input pixel scatters (pixel value * kernel) onto the output;
- pooling: max / mean of every window; upsampling: y[a, b] = x[a // s, b // s] (nearest) and
  the sampling formula of bilinear interpolation.
Forward values are checked on the whole grid on the CPU, gradients by finite differences on
a representative subset on every device.
"""

import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.ops.conv import conv_output_size, conv_transpose_output_size

# -- naive references -------------------------------------------------------------------------


def naive_conv2d(x, w, b, stride, padding, dilation):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xpad[:, :, ph:ph + h, pw:pw + wd] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, ho, wo))
    for a in range(ho):
        for bb in range(wo):
            window = xpad[:, :, a * sh:a * sh + dh * (kh - 1) + 1:dh,
                          bb * sw:bb * sw + dw * (kw - 1) + 1:dw]          # (N, C, kh, kw)
            y[:, :, a, bb] = np.einsum("ncij,ocij->no", window, w)
    return y if b is None else y + b[None, :, None, None]


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation):
    n, c, h, wd = x.shape
    _, o, kh, kw = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    full = np.zeros((n, o, (h - 1) * sh + dh * (kh - 1) + 1 + oph,
                     (wd - 1) * sw + dw * (kw - 1) + 1 + opw))
    for a in range(h):
        for bb in range(wd):
            full[:, :, a * sh:a * sh + dh * (kh - 1) + 1:dh,
                 bb * sw:bb * sw + dw * (kw - 1) + 1:dw] += np.einsum("nc,coij->noij",
                                                                     x[:, :, a, bb], w)
    y = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    return y if b is None else y + b[None, :, None, None]


def naive_pool(x, kernel, stride, padding, reduce, fill):
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xpad = np.full((n, c, h + 2 * ph, wd + 2 * pw), fill)
    xpad[:, :, ph:ph + h, pw:pw + wd] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, ho, wo))
    for a in range(ho):
        for bb in range(wo):
            y[:, :, a, bb] = reduce(xpad[:, :, a * sh:a * sh + kh, bb * sw:bb * sw + kw],
                                    axis=(2, 3))
    return y


def naive_upsample_nearest(x, sh, sw):
    n, c, h, w = x.shape
    y = np.zeros((n, c, h * sh, w * sw))
    for a in range(h * sh):
        for b in range(w * sw):
            y[:, :, a, b] = x[:, :, a // sh, b // sw]
    return y


def naive_upsample_bilinear(x, sh, sw, align_corners):
    return naive_resize_bilinear(x, x.shape[2] * sh, x.shape[3] * sw, align_corners)


def naive_resize_bilinear(x, ho, wo, align_corners):
    n, c, h, w = x.shape

    def source(r, size_in, size_out):
        if align_corners:
            return r * (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
        return max((r + 0.5) * size_in / size_out - 0.5, 0.0)

    y = np.zeros((n, c, ho, wo))
    for a in range(ho):
        for b in range(wo):
            u, v = source(a, h, ho), source(b, w, wo)
            a0, b0 = min(int(np.floor(u)), h - 1), min(int(np.floor(v)), w - 1)
            a1, b1 = min(a0 + 1, h - 1), min(b0 + 1, w - 1)
            fu, fv = u - a0, v - b0
            y[:, :, a, b] = ((1 - fu) * (1 - fv) * x[:, :, a0, b0] + (1 - fu) * fv * x[:, :, a0, b1]
                             + fu * (1 - fv) * x[:, :, a1, b0] + fu * fv * x[:, :, a1, b1])
    return y


def naive_resize_nearest(x, ho, wo):
    """Output pixel (a, b) reads input (floor(a H / Ho), floor(b W / Wo))."""
    n, c, h, w = x.shape
    y = np.zeros((n, c, ho, wo))
    for a in range(ho):
        for b in range(wo):
            y[:, :, a, b] = x[:, :, (a * h) // ho, (b * w) // wo]
    return y


def test_naive_references_agree_with_hand_computed_values():
    # 1 x 1 x 3 x 3 input, 2 x 2 kernel of ones: each output is the sum of a 2 x 2 block.
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.ones((1, 1, 2, 2))
    y = naive_conv2d(x, w, None, (1, 1), (0, 0), (1, 1))
    np.testing.assert_array_equal(y[0, 0], [[8, 12], [20, 24]])
    # Transposed conv of a single 1 with stride 2 places the kernel at the origin.
    k = np.arange(4.0).reshape(1, 1, 2, 2)
    t = naive_conv_transpose2d(np.ones((1, 1, 1, 1)), k, None, (2, 2), (0, 0), (0, 0), (1, 1))
    np.testing.assert_array_equal(t[0, 0], [[0, 1], [2, 3]])
    p = naive_pool(x, (2, 2), (1, 1), (0, 0), np.max, -np.inf)
    np.testing.assert_array_equal(p[0, 0], [[4, 5], [7, 8]])


# -- conv2d -----------------------------------------------------------------------------------

CONV_GRID = list(itertools.product([1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2]))


@pytest.mark.parametrize("channels", [(1, 1), (3, 4)])
def test_conv2d_forward_grid_matches_naive_loop(channels, rng):
    c, o = channels
    x = rng.standard_normal((2, c, 9, 7))
    checked = 0
    for k, s, p, d in CONV_GRID:
        if conv_output_size(7, k, s, p, d) < 1:
            continue
        w = rng.standard_normal((o, c, k, k))
        b = rng.standard_normal(o)
        y = F.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride=s, padding=p, dilation=d)
        np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, b, (s, s), (p, p), (d, d)),
                                   atol=1e-12, err_msg=f"k={k} s={s} p={p} d={d}")
        checked += 1
    assert checked > 60


def test_conv2d_rectangular_arguments_match_naive_loop(rng):
    x = rng.standard_normal((3, 2, 11, 6))
    w = rng.standard_normal((5, 2, 3, 2))
    y = F.conv2d(mg.tensor(x), mg.tensor(w), None, stride=(2, 1), padding=(1, 2),
                 dilation=(2, 3))
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, None, (2, 1), (1, 2), (2, 3)),
                               atol=1e-12)


def test_conv2d_output_size_formula():
    # H_out = (H + 2p - d(k-1) - 1)//s + 1, by hand for a few cases.
    assert conv_output_size(28, 3, 2, 1) == 14
    assert conv_output_size(7, 5, 1, 0) == 3
    assert conv_output_size(9, 3, 3, 2, 2) == 3     # (9 + 4 - 4 - 1)//3 + 1
    assert conv_transpose_output_size(14, 3, 2, 1, 1) == 28
    assert conv_transpose_output_size(7, 3, 2, 1, 0) == 13


CONV_GRADCHECK = [  # (kernel, stride, padding, dilation, in/out channels, size)
    (3, 1, 1, 1, (2, 3), (5, 6)),
    (3, 2, 1, 1, (1, 2), (7, 6)),
    (2, 3, 0, 1, (2, 2), (7, 8)),
    (3, 1, 2, 2, (2, 1), (6, 5)),
    (1, 2, 0, 1, (3, 2), (5, 5)),
    (5, 2, 2, 1, (1, 2), (7, 7)),
]


@pytest.mark.parametrize("k,s,p,d,channels,size", CONV_GRADCHECK)
def test_conv2d_gradcheck(device, rng, k, s, p, d, channels, size):
    c, o = channels
    x = mg.tensor(rng.standard_normal((2, c, *size)), device=device, requires_grad=True)
    w = mg.tensor(rng.standard_normal((o, c, k, k)), device=device, requires_grad=True)
    b = mg.tensor(rng.standard_normal(o), device=device, requires_grad=True)
    mg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, s, p, d), (x, w, b))


def test_conv2d_on_every_device_matches_naive_loop(device, rng):
    x = rng.standard_normal((2, 3, 8, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    y = F.conv2d(mg.tensor(x, device=device), mg.tensor(w, device=device),
                 mg.tensor(b, device=device), stride=2, padding=1)
    assert y.device == mg.device(device)
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, b, (2, 2), (1, 1), (1, 1)),
                               atol=1e-12)


def test_conv2d_float32_stays_float32(rng):
    x = mg.tensor(rng.standard_normal((2, 1, 6, 6)), dtype=mg.float32, requires_grad=True)
    layer = nn.Conv2d(1, 2, 3)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == mg.float32 and x.grad.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32


def test_conv_layers_with_float64_data_compute_in_float64_with_float32_gradients(device, rng):
    # As every other op: mixed dtypes promote, and each gradient keeps its tensor's dtype.
    x = mg.tensor(rng.standard_normal((2, 2, 6, 6)), device=device, requires_grad=True)
    for layer in (nn.Conv2d(2, 3, 3, device=device), nn.ConvTranspose2d(2, 3, 3, device=device)):
        y = layer(x)
        assert y.dtype == mg.float64
        y.sum().backward()
        assert layer.weight.device.canonical(layer.weight.grad.dtype) == mg.float32
        assert layer.bias.device.canonical(layer.bias.grad.dtype) == mg.float32


def test_conv2d_bad_arguments_are_named():
    x = mg.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match="expects 2 input channels"):
        F.conv2d(x, mg.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        F.conv2d(mg.zeros(3, 8, 8), mg.zeros(4, 3, 3, 3))
    with pytest.raises(ValueError, match="too small"):
        F.conv2d(mg.zeros(1, 3, 2, 2), mg.zeros(4, 3, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        F.conv2d(x, mg.zeros(4, 3, 3, 3), stride=0)
    with pytest.raises(mg.DeviceError):
        F.conv2d(x, mg.zeros(4, 3, 3, 3, device="strict:device1"))


# -- conv_transpose2d ---------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [(1, 1), (3, 2)])
def test_conv_transpose2d_forward_grid_matches_naive_scatter(channels, rng):
    c, o = channels
    x = rng.standard_normal((2, c, 5, 4))
    checked = 0
    for k, s, p, d in CONV_GRID:
        for op in range(max(s, d)):
            if conv_transpose_output_size(4, k, s, p, op, d) < 1:
                continue
            w = rng.standard_normal((c, o, k, k))
            b = rng.standard_normal(o)
            y = F.conv_transpose2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride=s,
                                   padding=p, output_padding=op, dilation=d)
            expected = naive_conv_transpose2d(x, w, b, (s, s), (p, p), (op, op), (d, d))
            np.testing.assert_allclose(y.numpy(), expected, atol=1e-12,
                                       err_msg=f"k={k} s={s} p={p} op={op} d={d}")
            checked += 1
    assert checked > 100


def test_conv_transpose2d_rectangular_arguments_match_naive_scatter(rng):
    x = rng.standard_normal((2, 3, 4, 6))
    w = rng.standard_normal((3, 2, 2, 3))
    args = dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1), dilation=(1, 2))
    y = F.conv_transpose2d(mg.tensor(x), mg.tensor(w), None, **args)
    np.testing.assert_allclose(y.numpy(), naive_conv_transpose2d(
        x, w, None, (3, 2), (1, 0), (2, 1), (1, 2)), atol=1e-12)


def test_conv_transpose2d_is_the_adjoint_of_conv2d(rng):
    # <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same weight and geometry.
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    y = rng.standard_normal((2, 4, 5, 4))
    forward = F.conv2d(mg.tensor(x), mg.tensor(w), stride=2, padding=1).numpy()
    adjoint = F.conv_transpose2d(mg.tensor(y), mg.tensor(w), stride=2, padding=1,
                                 output_padding=(0, 1)).numpy()
    assert adjoint.shape == x.shape
    np.testing.assert_allclose(np.sum(forward * y), np.sum(x * adjoint), rtol=1e-12)


CONVT_GRADCHECK = [  # (kernel, stride, padding, output_padding, dilation, channels, size)
    (3, 2, 1, 1, 1, (2, 3), (4, 3)),
    (3, 1, 0, 0, 1, (1, 2), (3, 4)),
    (2, 3, 0, 2, 1, (2, 1), (3, 3)),
    (3, 1, 1, 1, 2, (2, 2), (4, 3)),
    (5, 2, 2, 0, 1, (1, 1), (3, 3)),
]


@pytest.mark.parametrize("k,s,p,op,d,channels,size", CONVT_GRADCHECK)
def test_conv_transpose2d_gradcheck(device, rng, k, s, p, op, d, channels, size):
    c, o = channels
    x = mg.tensor(rng.standard_normal((2, c, *size)), device=device, requires_grad=True)
    w = mg.tensor(rng.standard_normal((c, o, k, k)), device=device, requires_grad=True)
    b = mg.tensor(rng.standard_normal(o), device=device, requires_grad=True)
    mg.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, d), (x, w, b))


def test_conv_transpose2d_on_every_device_matches_naive_scatter(device, rng):
    x = rng.standard_normal((2, 3, 4, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    y = F.conv_transpose2d(mg.tensor(x, device=device), mg.tensor(w, device=device), None,
                           stride=2, padding=1, output_padding=1)
    np.testing.assert_allclose(y.numpy(), naive_conv_transpose2d(
        x, w, None, (2, 2), (1, 1), (1, 1), (1, 1)), atol=1e-12)


def test_conv_transpose2d_rejects_too_large_output_padding():
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(mg.zeros(1, 2, 3, 3), mg.zeros(2, 2, 3, 3), stride=2,
                           output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(2, 2, 3, stride=1, output_padding=1)


# -- pooling ----------------------------------------------------------------------------------

POOL_GRID = list(itertools.product([1, 2, 3], [None, 1, 2, 3], [0, 1]))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_forward_grid_matches_naive_loop(kind, rng):
    x = rng.standard_normal((2, 3, 7, 6))
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    reduce, fill = (np.max, -np.inf) if kind == "max" else (np.mean, 0.0)
    for k, s, p in POOL_GRID:
        if 2 * p > k:
            continue
        y = pool(mg.tensor(x), k, s, p)
        stride = k if s is None else s
        np.testing.assert_allclose(
            y.numpy(), naive_pool(x, (k, k), (stride, stride), (p, p), reduce, fill),
            atol=1e-12, err_msg=f"k={k} s={s} p={p}")


def test_pooling_rectangular_kernel(rng):
    x = rng.standard_normal((1, 2, 8, 9))
    y = F.max_pool2d(mg.tensor(x), (2, 3), (2, 2), (1, 1))
    np.testing.assert_allclose(y.numpy(), naive_pool(x, (2, 3), (2, 2), (1, 1), np.max, -np.inf))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (3, 1, 0)])
def test_pooling_gradcheck(device, rng, kind, k, s, p):
    # Distinct values, so no max is tied (ties make the max non-differentiable).
    x = mg.tensor(rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 10.0, device=device,
                  requires_grad=True)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    mg.gradcheck(lambda x: pool(x, k, s, p), (x,))


def test_max_pool_gradient_goes_to_one_argmax_on_ties(device):
    # Every window is constant: the whole gradient of a window goes to its first element.
    x = mg.ones(1, 1, 4, 4, device=device, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(mg.to_numpy(x.grad)[0, 0], expected)


def test_max_pool_overlapping_windows_add_their_gradients(device):
    # A single large value in the middle wins all four overlapping 2x2 windows around it.
    values = np.zeros((1, 1, 3, 3))
    values[0, 0, 1, 1] = 5
    x = mg.tensor(values, device=device, requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    assert mg.to_numpy(x.grad)[0, 0, 1, 1] == 4
    assert mg.to_numpy(x.grad).sum() == 4


def test_pooling_on_every_device(device, rng):
    x = rng.standard_normal((2, 3, 6, 5))
    for pool, reduce, fill in [(F.max_pool2d, np.max, -np.inf), (F.avg_pool2d, np.mean, 0.0)]:
        y = pool(mg.tensor(x, device=device), 3, 2, 1)
        np.testing.assert_allclose(y.numpy(), naive_pool(x, (3, 3), (2, 2), (1, 1), reduce,
                                                         fill), atol=1e-12)


def naive_pool_ceil_mode(x, kernel, stride, padding, kind):
    """PyTorch's ceil_mode, from its documentation: Ho = ceil((H + 2p - k)/s) + 1, less one if
    the last window would start at or past H + p; a window reaching past the padded input
    takes the max, or the mean, of its cells inside it (zero padding counting as cells)."""
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    fill = -np.inf if kind == "max" else 0.0
    xpad = np.full((n, c, h + 2 * ph, wd + 2 * pw), fill)
    xpad[:, :, ph:ph + h, pw:pw + wd] = x

    def out_size(size, k, s, p):
        o = int(np.ceil((size + 2 * p - k) / s)) + 1
        return o - 1 if (o - 1) * s >= size + p else o

    ho, wo = out_size(h, kh, sh, ph), out_size(wd, kw, sw, pw)
    y = np.zeros((n, c, ho, wo))
    for a in range(ho):
        for bb in range(wo):
            window = xpad[:, :, a * sh:a * sh + kh, bb * sw:bb * sw + kw]  # clipped at the edge
            y[:, :, a, bb] = window.max(axis=(2, 3)) if kind == "max" else window.mean((2, 3))
    return y


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("k", "s", "p", "size"), [
    (2, 2, 0, (7, 5)), (3, 2, 1, (6, 8)), (3, 3, 0, (7, 10)), (2, 3, 1, (8, 6)),
    (3, 2, 0, (4, 4)),
])
def test_pooling_ceil_mode_matches_naive_loop(rng, kind, k, s, p, size):
    x = rng.standard_normal((2, 3, *size))
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    y = pool(mg.tensor(x), k, s, p, ceil_mode=True)
    np.testing.assert_allclose(y.numpy(), naive_pool_ceil_mode(x, (k, k), (s, s), (p, p), kind),
                               atol=1e-12)


def test_pool_output_size_with_ceil_mode():
    from minigrad.ops.spatial_args import pool_output_size

    assert pool_output_size(7, 2, 2) == 3 and pool_output_size(7, 2, 2, ceil_mode=True) == 4
    assert pool_output_size(6, 3, 2, 1, ceil_mode=True) == 4  # ceil(5/2) + 1 = 4, starts at 6 < 7
    assert pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3  # ceil(5/2) + 1 = 4, but 6 >= 6
    assert pool_output_size(8, 2, 2, ceil_mode=True) == 4     # no partial window to keep


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_ceil_mode_gradcheck(device, rng, kind):
    x = mg.tensor(rng.standard_normal((2, 2, 5, 7)), device=device, requires_grad=True)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    mg.gradcheck(lambda x: pool(x, 3, 2, 1, ceil_mode=True), (x,))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_ceil_mode_matches_torch(rng, kind):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 7, 9))
    ours = (F.max_pool2d if kind == "max" else F.avg_pool2d)(mg.tensor(x), 3, 2, 1,
                                                             ceil_mode=True)
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    theirs = pool(torch.tensor(x), 3, 2, 1, ceil_mode=True)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)


def test_pooling_layers_take_ceil_mode(rng):
    x = rng.standard_normal((1, 1, 5, 5))
    for layer, kind in ((nn.MaxPool2d(2, ceil_mode=True), "max"),
                        (nn.AvgPool2d(2, ceil_mode=True), "avg")):
        assert "ceil_mode=True" in repr(layer)
        np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                                   naive_pool_ceil_mode(x, (2, 2), (2, 2), (0, 0), kind))


def test_pooling_rejects_padding_over_half_the_kernel():
    with pytest.raises(ValueError, match="half"):
        F.max_pool2d(mg.zeros(1, 1, 4, 4), 2, padding=2)


# -- upsampling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1, 2, 3, (2, 3)])
def test_upsample_nearest_matches_naive_loop(device, rng, scale):
    x = rng.standard_normal((2, 3, 4, 5))
    sh, sw = (scale, scale) if isinstance(scale, int) else scale
    y = F.upsample(mg.tensor(x, device=device), scale)
    np.testing.assert_array_equal(y.numpy(), naive_upsample_nearest(x, sh, sw))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("scale", [2, 3, (3, 2)])
def test_upsample_bilinear_matches_naive_loop(rng, scale, align_corners):
    x = rng.standard_normal((2, 2, 4, 5))
    sh, sw = (scale, scale) if isinstance(scale, int) else scale
    y = F.upsample(mg.tensor(x), scale, mode="bilinear", align_corners=align_corners)
    np.testing.assert_allclose(y.numpy(), naive_upsample_bilinear(x, sh, sw, align_corners),
                               atol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_gradcheck(device, rng, mode):
    x = mg.tensor(rng.standard_normal((2, 2, 3, 4)), device=device, requires_grad=True)
    mg.gradcheck(lambda x: F.upsample(x, (2, 3), mode=mode), (x,))


def test_upsample_nearest_backward_sums_each_block(device):
    x = mg.ones(1, 1, 2, 2, device=device, requires_grad=True)
    F.upsample(x, 3).sum().backward()
    np.testing.assert_array_equal(mg.to_numpy(x.grad), np.full((1, 1, 2, 2), 9.0))


def test_upsample_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        F.upsample(mg.zeros(1, 1, 2, 2), 2, mode="bicubic")


SIZES = [(7, 9), (3, 2), (8, 5), (1, 1)]  # larger, smaller, a multiple in one axis, a point


@pytest.mark.parametrize("size", SIZES)
def test_upsample_to_a_size_nearest_matches_naive_loop(device, rng, size):
    x = rng.standard_normal((2, 3, 4, 5))
    y = F.upsample(mg.tensor(x, device=device), size=size)
    np.testing.assert_array_equal(y.numpy(), naive_resize_nearest(x, *size))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_upsample_to_a_size_bilinear_matches_naive_loop(rng, size, align_corners):
    x = rng.standard_normal((2, 2, 4, 5))
    y = F.upsample(mg.tensor(x), size=size, mode="bilinear", align_corners=align_corners)
    np.testing.assert_allclose(y.numpy(), naive_resize_bilinear(x, *size, align_corners),
                               atol=1e-12)


def test_upsample_to_a_multiple_size_is_the_integer_scale(rng):
    x = mg.tensor(rng.standard_normal((1, 2, 3, 4)))
    for mode in ("nearest", "bilinear"):
        np.testing.assert_array_equal(F.upsample(x, size=(6, 12), mode=mode).numpy(),
                                      F.upsample(x, (2, 3), mode=mode).numpy())


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_to_a_size_gradcheck(device, rng, mode):
    x = mg.tensor(rng.standard_normal((2, 2, 3, 4)), device=device, requires_grad=True)
    mg.gradcheck(lambda x: F.upsample(x, size=(5, 3), mode=mode), (x,))


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_to_a_size_matches_torch(rng, mode):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4, 5))
    ours = F.upsample(mg.tensor(x), size=(7, 3), mode=mode).numpy()
    theirs = torch.nn.functional.interpolate(torch.tensor(x), size=(7, 3), mode=mode)
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-12)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "give either scale_factor or size, not neither"),
    ({"scale_factor": 2, "size": 4}, "not both"),
    ({"size": (0, 3)}, "size must be an int >= 1"),
    ({"size": 4, "mode": "bicubic"}, "mode must be 'nearest' or 'bilinear'"),
])
def test_upsample_arguments_are_checked_by_the_function_and_the_layer(kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.upsample(mg.zeros(1, 1, 2, 2), **kwargs)
    with pytest.raises(ValueError, match=message):
        nn.Upsample(**kwargs)


def test_upsample_layer_to_a_size(rng):
    layer = nn.Upsample(size=(5, 7), mode="bilinear")
    assert "size=(5, 7), mode='bilinear'" in repr(layer)
    x = rng.standard_normal((1, 2, 3, 3))
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               naive_resize_bilinear(x, 5, 7, False), atol=1e-12)


# -- layers -------------------------------------------------------------------------------------

def test_conv_layers_gradcheck_input_and_every_parameter(device, rng):
    layers = [nn.Conv2d(2, 3, 3, stride=2, padding=1, device=device, dtype=mg.float64),
              nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1,
                                 device=device, dtype=mg.float64),
              nn.MaxPool2d(2), nn.AvgPool2d(3, stride=2, padding=1), nn.Upsample(2),
              nn.Upsample(2, mode="bilinear")]
    x = mg.tensor(rng.permutation(2 * 2 * 5 * 4).reshape(2, 2, 5, 4) / 7.0, device=device,
                  requires_grad=True)
    for layer in layers:
        mg.gradcheck(layer, (x,), params=list(layer.parameters()))


def test_conv_layer_defaults_follow_pytorch():
    mg.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 3 * 3)
    for p in (conv.weight, conv.bias):
        values = p.numpy()
        assert np.all(np.abs(values) <= bound) and np.abs(values).max() > 0.8 * bound
    convt = nn.ConvTranspose2d(4, 8, 3)
    assert convt.weight.shape == (4, 8, 3, 3)
    bound_t = 1 / np.sqrt(8 * 3 * 3)  # PyTorch's fan_in uses weight.shape[1] here
    assert np.abs(convt.weight.numpy()).max() <= bound_t
    assert np.abs(convt.weight.numpy()).max() > 0.8 * bound_t
    assert nn.Conv2d(1, 1, 3, bias=False).bias is None


def test_conv_layer_shapes_of_a_conv_autoencoder(device):
    x = mg.zeros(4, 1, 28, 28, device=device)
    encoder = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1, device=device), nn.ReLU(),
                            nn.Conv2d(8, 16, 3, stride=2, padding=1, device=device))
    decoder = nn.Sequential(
        nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1, device=device),
        nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1, device=device))
    z = encoder(x)
    assert z.shape == (4, 16, 7, 7)
    assert decoder(z).shape == (4, 1, 28, 28)


# -- against PyTorch, where it is installed -------------------------------------------------------

def test_conv_layers_match_torch_values_and_gradients(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 2, 9, 8))
    cases = [
        (nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=1, dtype=mg.float64),
         torch.nn.Conv2d(2, 4, 3, stride=2, padding=1, dtype=torch.float64)),
        (nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(2, 1), dilation=(2, 1),
                   dtype=mg.float64),
         torch.nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(2, 1), dilation=(2, 1),
                         dtype=torch.float64)),
        (nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, dtype=mg.float64),
         torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1,
                                  dtype=torch.float64)),
        (nn.ConvTranspose2d(2, 3, (2, 3), stride=(3, 1), padding=(0, 1), output_padding=(2, 1),
                            dilation=(1, 2), dtype=mg.float64),
         torch.nn.ConvTranspose2d(2, 3, (2, 3), stride=(3, 1), padding=(0, 1),
                                  output_padding=(2, 1), dilation=(1, 2), dtype=torch.float64)),
    ]
    for ours, theirs in cases:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
            theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
        xm = mg.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ym, yt = ours(xm), theirs(xt)
        np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), atol=1e-12)
        g = rng.standard_normal(yt.shape)
        ym.backward(mg.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xm.grad, xt.grad.numpy(), atol=1e-11)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), atol=1e-11)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), atol=1e-11)


def test_pooling_and_upsampling_match_torch(rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((2, 3, 7, 9))
    x[0, 0, :2, :2] = 1.0  # a tied window
    cases = [
        (lambda t: F.max_pool2d(t, 2), lambda t: tf.max_pool2d(t, 2)),
        (lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: tf.max_pool2d(t, 3, 2, 1)),
        (lambda t: F.avg_pool2d(t, 3, 2, 1), lambda t: tf.avg_pool2d(t, 3, 2, 1)),
        (lambda t: F.upsample(t, 2), lambda t: tf.interpolate(t, scale_factor=2)),
        (lambda t: F.upsample(t, (2, 3), "bilinear"),
         lambda t: tf.interpolate(t, scale_factor=(2, 3), mode="bilinear")),
        (lambda t: F.upsample(t, 3, "bilinear", align_corners=True),
         lambda t: tf.interpolate(t, scale_factor=3, mode="bilinear", align_corners=True)),
    ]
    for ours, theirs in cases:
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ym, yt = ours(xm), theirs(xt)
        np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), atol=1e-12)
        g = rng.standard_normal(yt.shape)
        ym.backward(mg.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xm.grad, xt.grad.numpy(), atol=1e-12)


# -- padding="same" / "valid" -----------------------------------------------------------------

def naive_same_conv2d(x, w, b, dilation):
    """Stride 1, d(k-1) zeros per axis: total//2 before, the rest after (PyTorch's split)."""
    (dh, dw), (kh, kw) = dilation, w.shape[2:]
    th, tw = dh * (kh - 1), dw * (kw - 1)
    xpad = np.pad(x, [(0, 0), (0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2)])
    return naive_conv2d(xpad, w, b, (1, 1), (0, 0), dilation)


@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 3), (4, 3), (5, 2)])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1), (1, 3)])
def test_conv2d_same_padding_keeps_the_size_and_matches_naive_loop(rng, kernel, dilation):
    x = rng.standard_normal((2, 3, 9, 7))
    w = rng.standard_normal((4, 3, *kernel))
    b = rng.standard_normal(4)
    y = F.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), padding="same", dilation=dilation)
    assert y.shape == (2, 4, 9, 7)
    np.testing.assert_allclose(y.numpy(), naive_same_conv2d(x, w, b, dilation), atol=1e-12)


def test_conv2d_valid_padding_is_no_padding(rng):
    x, w = rng.standard_normal((2, 2, 8, 6)), rng.standard_normal((3, 2, 3, 2))
    y = F.conv2d(mg.tensor(x), mg.tensor(w), padding="valid", stride=2)
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, None, (2, 2), (0, 0), (1, 1)),
                               atol=1e-12)


@pytest.mark.parametrize("kernel", [(2, 3), (3, 3)])  # an odd total (padded after) and even
def test_conv2d_same_padding_gradcheck(device, rng, kernel):
    x = mg.tensor(rng.standard_normal((2, 2, 5, 4)), device=device, requires_grad=True)
    w = mg.tensor(rng.standard_normal((3, 2, *kernel)), device=device, requires_grad=True)
    b = mg.tensor(rng.standard_normal(3), device=device, requires_grad=True)
    mg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding="same"), (x, w, b))


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch: a padded copy, as ours
def test_conv2d_same_padding_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 4, 3))
    ours = F.conv2d(mg.tensor(x), mg.tensor(w), padding="same", dilation=(1, 2))
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding="same",
                                        dilation=(1, 2))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"padding": "same", "stride": 2}, "padding='same' needs stride 1"),
    ({"padding": "full"}, "padding must be 'valid', 'same'"),
    ({"padding": -1}, "padding must be an int >= 0"),
])
def test_conv2d_bad_padding_is_refused_by_the_function_and_the_layer(kwargs, message):
    x, w = mg.zeros(1, 1, 5, 5), mg.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match=message):
        F.conv2d(x, w, **kwargs)
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(1, 1, 3, **kwargs)


def test_conv2d_layer_with_same_padding(rng):
    layer = nn.Conv2d(2, 3, (2, 4), padding="same", dilation=2)
    assert "padding='same'" in repr(layer)
    x = rng.standard_normal((1, 2, 6, 9))
    y = layer(mg.tensor(x))
    expected = naive_same_conv2d(x, layer.weight.numpy().astype(np.float64),
                                 layer.bias.numpy().astype(np.float64), (2, 2))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_conv_weight_of_the_wrong_rank_is_named():
    with pytest.raises(ValueError, match=r"conv2d: expected a weight of shape \(O, C, kh, kw\)"):
        F.conv2d(mg.zeros(1, 1, 5, 5), mg.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="conv_transpose2d: expected a weight of shape"):
        F.conv_transpose2d(mg.zeros(1, 1, 5, 5), mg.zeros(1, 3, 3))


# -- groups -------------------------------------------------------------------------------------

def naive_grouped(naive, x, w, b, groups, **geometry):
    """Each group of input channels convolved on its own with its block of the weight (taken
    along the weight's axis 0 for conv2d, where the outputs are, and along its input axis 0
    for the transposed one), the outputs side by side."""
    xs = np.split(x, groups, axis=1)
    ws = np.split(w, groups, axis=0)
    ys = [naive(xg, wg, None, **geometry) for xg, wg in zip(xs, ws, strict=True)]
    y = np.concatenate(ys, axis=1)
    return y if b is None else y + b[None, :, None, None]


@pytest.mark.parametrize(("c", "o", "groups"), [(6, 6, 2), (6, 9, 3), (4, 8, 4), (3, 3, 3)])
@pytest.mark.parametrize(("k", "s", "p", "d"), [(3, 1, 1, 1), (3, 2, 1, 1), (2, 1, 0, 2)])
def test_grouped_conv2d_matches_naive_loop_per_group(rng, c, o, groups, k, s, p, d):
    x = rng.standard_normal((2, c, 7, 6))
    w = rng.standard_normal((o, c // groups, k, k))
    b = rng.standard_normal(o)
    y = F.conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), s, p, d, groups=groups)
    expected = naive_grouped(naive_conv2d, x, w, b, groups, stride=(s, s), padding=(p, p),
                             dilation=(d, d))
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize(("c", "o", "groups"), [(6, 6, 2), (6, 9, 3), (4, 4, 4)])
def test_grouped_conv_transpose2d_matches_naive_loop_per_group(rng, c, o, groups):
    x = rng.standard_normal((2, c, 4, 5))
    w = rng.standard_normal((c, o // groups, 3, 3))
    b = rng.standard_normal(o)
    y = F.conv_transpose2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), stride=2, padding=1,
                           output_padding=1, groups=groups)
    expected = naive_grouped(naive_conv_transpose2d, x, w, b, groups, stride=(2, 2),
                             padding=(1, 1), output_padding=(1, 1), dilation=(1, 1))
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("transposed", [False, True])
def test_grouped_convolutions_gradcheck(device, rng, transposed):
    x = mg.tensor(rng.standard_normal((2, 4, 5, 4)), device=device, requires_grad=True)
    shape = (4, 3, 3, 3) if transposed else (6, 2, 3, 3)  # groups = 2: 4 -> 6 channels
    w = mg.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    b = mg.tensor(rng.standard_normal(6), device=device, requires_grad=True)
    if transposed:
        mg.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, groups=2), (x, w, b))
    else:
        mg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, 2, 1, groups=2), (x, w, b))


def test_grouped_convolutions_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 6, 7, 7))
    w = rng.standard_normal((9, 2, 3, 3))
    ours = F.conv2d(mg.tensor(x), mg.tensor(w), stride=2, padding=1, groups=3)
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1,
                                        groups=3)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)
    wt = rng.standard_normal((6, 3, 3, 3))
    ours = F.conv_transpose2d(mg.tensor(x), mg.tensor(wt), stride=2, padding=1,
                              output_padding=1, groups=3)
    theirs = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(wt), stride=2,
                                                  padding=1, output_padding=1, groups=3)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)


def test_groups_that_do_not_divide_the_channels_are_refused():
    with pytest.raises(ValueError, match=r"conv2d: groups must be an int >= 1 dividing the "
                                         r"channel counts \(6, 4\), got 4"):
        F.conv2d(mg.zeros(1, 6, 5, 5), mg.zeros(4, 1, 3, 3), groups=4)
    with pytest.raises(ValueError, match="with groups=2 expects 4 input channels"):
        F.conv2d(mg.zeros(1, 6, 5, 5), mg.zeros(4, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="conv_transpose2d: groups must be"):
        F.conv_transpose2d(mg.zeros(1, 6, 5, 5), mg.zeros(6, 1, 3, 3), groups=0)
    with pytest.raises(ValueError, match="Conv2d: groups must be"):
        nn.Conv2d(6, 4, 3, groups=3)
    with pytest.raises(ValueError, match="ConvTranspose2d: groups must be"):
        nn.ConvTranspose2d(6, 4, 3, groups=4)


def test_grouped_conv_layers_shapes_init_and_repr():
    mg.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, groups=4)
    assert conv.weight.shape == (16, 2, 3, 3) and "groups=4" in repr(conv)
    bound = 1 / np.sqrt(2 * 3 * 3)  # PyTorch's fan_in: in_channels / groups * kh * kw
    assert bound * 0.8 < np.abs(conv.weight.numpy()).max() <= bound
    convt = nn.ConvTranspose2d(8, 16, 3, groups=4)
    assert convt.weight.shape == (8, 4, 3, 3) and "groups=4" in repr(convt)
    bound_t = 1 / np.sqrt(4 * 3 * 3)  # weight.shape[1] * kh * kw
    assert bound_t * 0.8 < np.abs(convt.weight.numpy()).max() <= bound_t
    assert conv(mg.zeros(2, 8, 5, 5)).shape == (2, 16, 3, 3)
    assert convt(mg.zeros(2, 8, 5, 5)).shape == (2, 16, 7, 7)


def test_misshapen_bias_and_weight_are_named(device):
    x = mg.ones(1, 3, 5, 5, device=device)
    with pytest.raises(ValueError, match=r"bias of shape \(4,\).*got shape \(5,\)"):
        F.conv2d(x, mg.ones(4, 3, 3, 3, device=device), mg.ones(5, device=device))
    with pytest.raises(ValueError, match=r"bias of shape \(6,\).*got shape \(3,\)"):
        F.conv_transpose2d(x, mg.ones(3, 6, 3, 3, device=device), mg.ones(3, device=device))
    with pytest.raises(ValueError, match=r"weight of shape \(out_features, in_features\), got "
                                         r"shape \(4, 3, 1\)"):
        F.linear(mg.ones(2, 3, device=device), mg.ones(4, 3, 1, device=device))
    with pytest.raises(ValueError, match=r"bias of shape \(4,\).*got shape \(2, 2\)"):
        F.linear(mg.ones(2, 3, device=device), mg.ones(4, 3, device=device),
                 mg.ones(2, 2, device=device))


def test_integer_pooling_matches_pytorch(device):
    # max pooling pads with the dtype's lowest value (not -inf, which no integer holds); average
    # pooling of integers rounds towards zero. Reference values from torch 2.13.
    x = mg.tensor(np.arange(16).reshape(1, 1, 4, 4), device=device)
    np.testing.assert_array_equal(F.max_pool2d(x, 2, padding=1).numpy()[0, 0],
                                  [[0, 2, 3], [8, 10, 11], [12, 14, 15]])
    averaged = F.avg_pool2d(x, 2, padding=1)
    assert averaged.dtype == mg.int64
    np.testing.assert_array_equal(averaged.numpy()[0, 0], [[0, 0, 0], [3, 7, 4], [3, 6, 3]])
    x = mg.tensor(-np.arange(16).reshape(1, 1, 4, 4), device=device)  # towards zero, not down
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.avg_pool2d(torch.tensor(x.numpy()), 2, padding=1).numpy()
    np.testing.assert_array_equal(F.avg_pool2d(x, 2, padding=1).numpy(), expected)
