"""Tests of autoencoders.restoration: the denoising baseline and the completion per kind of mask
(the masks and the upsampling are tested in test_lecture_demos.py)."""

import numpy as np

import minigrad as mg
from autoencoders import restoration
from minigrad import nn


def test_best_filter_prefers_smoothing_for_gaussian_noise():
    yy, xx = np.mgrid[:16, :16]
    clean = np.stack([np.exp(-((yy - c) ** 2 + (xx - c) ** 2) / 20) for c in (5, 8, 11)])
    clean = clean.astype(np.float32)
    noisy = restoration.corrupt_images(clean, "gaussian", 0.3, seed=1)
    assert noisy.shape == clean.shape and not np.allclose(noisy, clean)
    np.testing.assert_array_equal(noisy, restoration.corrupt_images(clean, "gaussian", 0.3, 1))
    name, filter_fn = restoration.best_filter(noisy, clean)
    assert name in restoration.classical_filters()
    assert np.abs(filter_fn(noisy) - clean).mean() < np.abs(noisy - clean).mean()


def test_complete_per_kind_keeps_known_pixels_and_scores_each_kind():
    mg.manual_seed(0)
    x = np.random.default_rng(1).uniform(0, 1, (5, 1, 28, 28)).astype(np.float32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 784))
    for p in model.parameters():
        p.data[...] = 0  # a constant output: only what is kept from the input matters
    mean_image = np.full((1, 28, 28), 0.5, np.float32)
    scores, rows = restoration.complete_per_kind(model, x, mean_image, square=12,
                                                 fraction=0.7, seed=0, shown=3)
    assert list(scores) == [f"{kind}, {method}" for kind in restoration.KINDS
                            for method in ("mean fill", "autoencoder")]
    assert len(rows) == 3 * 3 + 1 and list(rows)[-1] == "original"
    assert all(len(images) == 3 for images in rows.values())
    np.testing.assert_array_equal(rows["original"], x[:3, 0])
    # the known pixels are kept: outside the centre square the completion is the original
    completed = rows["completed"]
    np.testing.assert_array_equal(completed[:, :8], x[:3, 0, :8])
    assert all(np.isfinite(row["psnr"]) and row["psnr"] > 0 for row in scores.values())
