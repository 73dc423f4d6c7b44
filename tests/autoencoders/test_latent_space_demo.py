"""demos/latent_space.py end to end on scikit-learn's 8x8 digits with tiny settings: its files,
its metrics.json keys, and its PCA numbers against NumPy's SVD."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from autoencoders.datasets import load_dataset

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import latent_space  # noqa: E402  (the demos folder is not a package)

TINY = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--no-progress",
        "--hidden", "16", "--sweep", "2,4", "--sweep-epochs", "1", "--threads", "1"]


@pytest.mark.parametrize("tsne_size", [0, 150])
def test_latent_space_demo_writes_its_files_and_metrics(tmp_path, tsne_size):
    latent_space.main([*TINY, "--tsne-size", str(tsne_size), "--out", str(tmp_path)])
    for name in ["codes_2d.png", "recon_vs_latent.png", "metrics.json", "ae2/checkpoint.npz",
                 "sweep_2/metrics.jsonl", "sweep_4/checkpoint.npz"]:
        assert (tmp_path / name).stat().st_size > 0, name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert list(metrics) == [
        "dataset", "n_train", "n_test", "latent_dim", "hidden", "epochs", "knn_accuracy",
        "published_1nn", "table", "test_sq_error_per_pixel", "sweep", "tsne_size",
        "tsne_seconds", "train_seconds", "wall_seconds", "device"]
    tsne = ["t-SNE of 4-D AE codes", "t-SNE of pixels"] if tsne_size else []
    assert list(metrics["knn_accuracy"]) == ["PCA", "autoencoder", *tsne]
    assert (metrics["tsne_seconds"] > 0) == bool(tsne_size)
    assert metrics["published_1nn"]["PCA"] == 0.377
    assert metrics["sweep"]["sizes"] == [2, 4] and metrics["sweep"]["epochs"] == 1
    assert len(metrics["sweep"]["ae_sq_error_per_pixel"]) == 2

    # PCA's numbers from NumPy: principal axes by SVD, 1-NN by brute force
    data = load_dataset("digits")
    x_train = data.x_train.reshape(len(data.x_train), -1).astype(np.float64)
    x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float64)
    mean = x_train.mean(axis=0)
    axes = np.linalg.svd(x_train - mean, full_matrices=False)[2]
    errors = [np.mean(((x_test - mean) @ axes[:k].T @ axes[:k] + mean - x_test) ** 2)
              for k in (2, 2, 4)]
    measured = [metrics["test_sq_error_per_pixel"]["PCA"],
                *metrics["sweep"]["pca_sq_error_per_pixel"]]
    np.testing.assert_allclose(measured, errors, rtol=1e-4)
    train_codes, test_codes = (x_train - mean) @ axes[:2].T, (x_test - mean) @ axes[:2].T
    nearest = np.argmin(((test_codes[:, None] - train_codes[None]) ** 2).sum(axis=2), axis=1)
    one_nn = np.mean(data.y_train[nearest] == data.y_test)
    assert metrics["knn_accuracy"]["PCA"]["1-NN"] == pytest.approx(one_nn, abs=1e-9)
