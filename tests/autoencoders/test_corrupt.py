"""The corruptions of autoencoders/corrupt.py, on every device, against NumPy references."""

import numpy as np
import pytest

import minigrad as mg
from autoencoders import corrupt


@pytest.fixture
def images(rng):
    """(64, 28, 28) float32 in [0, 1] with both mid-grey and saturated pixels."""
    x = rng.uniform(0, 1, (64, 28, 28)).astype(np.float32)
    x[:, :4] = 0.0
    x[:, -4:] = 1.0
    return x


def test_gaussian_noise_std_matches_sigma_before_clipping(device, images):
    mg.manual_seed(0)
    x = mg.tensor(images, device=device)
    for sigma in (0.1, 0.5):
        added = corrupt.gaussian_noise(x, sigma, clip=False).numpy() - images
        assert abs(added.std() - sigma) < 0.015 * sigma  # 50k draws: relative s.e. ~0.3 %
        assert abs(added.mean()) < 0.01 * sigma


def test_gaussian_noise_is_clipped_to_unit_interval(device, images):
    mg.manual_seed(1)
    x = mg.tensor(images, device=device)
    noisy = corrupt.gaussian_noise(x, 0.5).numpy()
    mg.manual_seed(1)
    unclipped = corrupt.gaussian_noise(x, 0.5, clip=False).numpy()
    assert unclipped.min() < -0.5 and unclipped.max() > 1.5  # so clipping had work to do
    assert noisy.min() == 0.0 and noisy.max() == 1.0 and noisy.dtype == np.float32
    np.testing.assert_array_equal(noisy, np.clip(unclipped, 0, 1))


def test_masking_noise_zeroes_the_requested_fraction(device, images):
    mg.manual_seed(2)
    x = mg.tensor(images + 0.1, device=device)  # no pixel is 0 before masking
    for fraction in (0.25, 0.75):
        out = corrupt.masking_noise(x, fraction).numpy()
        zeroed = out == 0
        assert abs(zeroed.mean() - fraction) < 0.01
        np.testing.assert_array_equal(out[~zeroed], (images + 0.1)[~zeroed])


def test_salt_pepper_noise_fraction_and_balance(device, images):
    mg.manual_seed(3)
    mid = np.full_like(images, 0.5)
    out = corrupt.salt_pepper_noise(mg.tensor(mid, device=device), 0.3).numpy()
    assert abs((out == 0).mean() - 0.15) < 0.01
    assert abs((out == 1).mean() - 0.15) < 0.01
    assert set(np.unique(out)) == {0.0, 0.5, 1.0}
    assert out.min() >= 0 and out.max() <= 1


def test_noise_is_deterministic_with_a_seed(device, images):
    x = mg.tensor(images, device=device)
    for noise in corrupt.NOISES.values():
        mg.manual_seed(7)
        a = noise(x, 0.3).numpy()
        mg.manual_seed(7)
        b = noise(x, 0.3).numpy()
        mg.manual_seed(8)
        c = noise(x, 0.3).numpy()
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_noise_keeps_leading_axes(device, rng):
    x = mg.tensor(rng.uniform(0, 1, (3, 2, 8, 8)).astype(np.float32), device=device)
    for noise in corrupt.NOISES.values():
        assert noise(x, 0.2).shape == (3, 2, 8, 8)


def test_center_square_mask_position(device):
    mask = corrupt.center_square_mask(28, 28, 12, device=device).numpy()
    expected = np.zeros((28, 28), bool)
    expected[8:20, 8:20] = True
    np.testing.assert_array_equal(mask, expected)
    odd = corrupt.center_square_mask(7, 9, 3, device=device).numpy()
    assert odd.sum() == 9 and odd[2:5, 3:6].all()


def test_bottom_half_mask_position(device):
    mask = corrupt.bottom_half_mask(28, 28, device=device).numpy()
    assert mask[14:].all() and not mask[:14].any()
    assert corrupt.bottom_half_mask(7, 3, device=device).numpy().sum(axis=0).tolist() == [3] * 3


def test_random_pixel_mask_fraction_and_shape(device):
    mg.manual_seed(4)
    mask = corrupt.random_pixel_mask((200, 28, 28), 0.6, device=device).numpy()
    assert mask.shape == (200, 28, 28) and mask.dtype == bool
    assert abs(mask.mean() - 0.6) < 0.01
    assert mask.mean(axis=(1, 2)).std() > 0  # drawn per image, not one pattern for all


def test_fill_masked_with_number_and_image(device, images):
    x = mg.tensor(images[:5], device=device)
    mask = corrupt.center_square_mask(28, 28, 10, device=device)
    mean_image = images.mean(axis=0)
    out = corrupt.fill_masked(x, mask, mg.tensor(mean_image, device=device)).numpy()
    m = mask.numpy()
    np.testing.assert_array_equal(out[:, m], np.broadcast_to(mean_image[m], (5, m.sum())))
    np.testing.assert_array_equal(out[:, ~m], images[:5][:, ~m])
    zeros = corrupt.fill_masked(x, mask, 0.0).numpy()
    assert (zeros[:, m] == 0).all()


@pytest.mark.parametrize("factor", [2, 4, 7])
def test_downsample_is_block_mean(device, images, factor):
    got = corrupt.downsample(mg.tensor(images, device=device), factor).numpy()
    n = len(images)
    expected = images.reshape(n, 28 // factor, factor, 28 // factor, factor).mean(axis=(2, 4))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    # and, independently of reshape tricks, one block by hand
    np.testing.assert_allclose(got[3, 1, 2],
                               images[3, factor:2 * factor, 2 * factor:3 * factor].mean(),
                               rtol=1e-6)


def test_downsample_rejects_indivisible_size(device, images):
    with pytest.raises(ValueError, match="divisible"):
        corrupt.downsample(mg.tensor(images, device=device), 3)


def test_upsample_nearest_repeats_pixels(device, rng):
    low = rng.uniform(0, 1, (2, 3, 7, 7)).astype(np.float32)
    got = corrupt.upsample_nearest(mg.tensor(low, device=device), 4).numpy()
    np.testing.assert_array_equal(got, np.repeat(np.repeat(low, 4, axis=-2), 4, axis=-1))
    # nearest upsampling then block averaging gives back the low-resolution image
    back = corrupt.downsample(corrupt.upsample_nearest(mg.tensor(low, device=device), 4), 4)
    np.testing.assert_allclose(back.numpy(), low, rtol=1e-6)


def test_to_gray_luma_weights(device, rng):
    rgb = rng.uniform(0, 1, (4, 5, 6, 3)).astype(np.float32)
    got = corrupt.to_gray(mg.tensor(rgb, device=device)).numpy()
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="size 3"):
        corrupt.to_gray(mg.tensor(rgb[..., :2], device=device))


def test_corruptions_are_differentiable_where_it_matters(device, rng):
    """Super-resolution and colorization put downsample/to_gray in front of nothing trainable,
    but they are ordinary ops: gradients flow through them (block mean: 1/factor^2 each)."""
    x = mg.tensor(rng.uniform(0, 1, (1, 4, 4)).astype(np.float32), device=device,
                  requires_grad=True)
    corrupt.downsample(x, 2).sum().backward()
    np.testing.assert_allclose(mg.to_numpy(x.grad), np.full((1, 4, 4), 0.25), rtol=1e-6)
