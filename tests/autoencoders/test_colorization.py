"""Tests of autoencoders.colorization: the colour space, the baselines and the photo stitching."""

import numpy as np
import pytest

import minigrad as mg
from autoencoders import colorization as color
from minigrad import nn


def test_color_space_round_trip():
    rgb = np.random.default_rng(1).uniform(0, 1, (2, 4, 4, 3)).astype(np.float32)
    gray = color.gray_of(rgb)
    np.testing.assert_allclose(gray[:, 0], rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-6)
    chroma = np.einsum("ck,nhwk->nchw", color.YIQ_FROM_RGB[1:], rgb)
    back = color.to_rgb(mg.tensor(gray), mg.tensor(chroma.astype(np.float32))).numpy()
    np.testing.assert_allclose(back.transpose(0, 2, 3, 1), rgb, atol=1e-5)
    # zero chroma is the grey image in all three channels
    grey3 = color.with_chroma(gray, np.zeros(2)[:, None, None])
    np.testing.assert_allclose(grey3, np.repeat(gray[:, 0, ..., None], 3, axis=-1), atol=1e-6)


def zero_chroma_model(h: int, w: int):
    """A model predicting zero chroma for (N, 1, h, w) grey input."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(h * w, 2 * h * w))
    for p in model.parameters():
        p.data[...] = 0
    return model


def test_compare_scores_the_baselines_and_a_uniformly_tinted_image():
    # Every pixel has the same colour: the mean training chroma of that colour is exact.
    rgb = np.broadcast_to(np.float32([0.8, 0.4, 0.2]), (3, 8, 8, 3)).copy()
    tint = color.mean_chroma(rgb)
    assert tint.shape == (2, 1, 1)
    ours = color.with_chroma(color.gray_of(rgb), np.zeros((2, 1, 1)))  # = the grey baseline
    images, scores = color.compare(ours, rgb, tint)
    assert list(images) == ["grey copied to RGB", "grey + mean training chroma", "autoencoder"]
    np.testing.assert_allclose(images["grey + mean training chroma"], rgb, atol=1e-5)
    np.testing.assert_allclose(images["autoencoder"], images["grey copied to RGB"], atol=1e-6)
    assert scores["grey + mean training chroma"]["psnr"] > scores["grey copied to RGB"]["psnr"]
    assert scores["autoencoder"] == pytest.approx(scores["grey copied to RGB"])


def test_colorize_photo_covers_every_pixel():
    """Zero chroma, patch by patch: every pixel (edges included) is its grey value."""
    photo = np.random.default_rng(0).uniform(0, 1, (13, 17, 3)).astype(np.float32)
    out = color.colorize_photo(zero_chroma_model(8, 8), photo, patch=8, stride=4)
    grey = color.gray_of(photo[None])[0, 0]
    np.testing.assert_allclose(out, np.repeat(grey[..., None], 3, axis=-1), atol=1e-5)
