"""Smoke tests of the demos with tiny settings on scikit-learn's 8x8 digits: every file is
written, metrics.json has its keys, and a missing GPU is one line and exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import minigrad as mg

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import contractive  # noqa: E402  (the demos folder is not a package)
import train_mnist_ae  # noqa: E402
import train_mnist_vae  # noqa: E402

TINY = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--no-progress"]


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("model", [["--model", "mlp", "--hidden", "16"],
                                   ["--model", "conv", "--channels", "4,8"]])
def test_autoencoder_demo_writes_figures_and_metrics(tmp_path, model):
    train_mnist_ae.main([*TINY, *model, "--latent-dim", "4", "--out", str(tmp_path)])
    for name in ["reconstructions.png", "samples_from_noise.png", "loss_curves.png",
                 "metrics.json", "metrics.jsonl", "checkpoint.npz"]:
        assert (tmp_path / name).stat().st_size > 0, name
    metrics = _metrics(tmp_path)
    assert {"test_sq_error_per_image", "test_sq_error_per_pixel", "test_bce_per_image",
            "epochs", "train_seconds", "dataset"} <= metrics.keys()
    assert metrics["dataset"] == "digits" and metrics["epochs"] == 1
    assert metrics["test_sq_error_per_pixel"] == pytest.approx(
        metrics["test_sq_error_per_image"] / 64)


def test_autoencoder_demo_resumes(tmp_path):
    flags = [*TINY, "--hidden", "16", "--latent-dim", "4", "--out", str(tmp_path)]
    train_mnist_ae.main(flags)
    flags[flags.index("--epochs") + 1] = "2"
    train_mnist_ae.main([*flags, "--resume"])
    assert _metrics(tmp_path)["epochs"] == 2
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("model, device", [("mlp", "cpu"), ("conv", "strict:device1")])
def test_vae_demo_writes_figures_and_metrics(tmp_path, model, device):
    """strict:device1 stands in for a GPU: the figures are drawn from device tensors too."""
    train_mnist_vae.main([*TINY, "--model", model, "--hidden", "16", "--channels", "4",
                          "--latent-dim", "2", "--device", device, "--out", str(tmp_path)])
    for name in ["samples.png", "manifold.png", "interpolation.png", "elbo_curves.png",
                 "metrics.json", "checkpoint.npz"]:
        assert (tmp_path / name).stat().st_size > 0, name
    metrics = _metrics(tmp_path)
    assert metrics["test_elbo_nats_per_image"] == pytest.approx(
        -metrics["test_loss_bce_kl_per_image"])
    assert metrics["test_loss_bce_kl_per_image"] == pytest.approx(
        metrics["test_bce_per_image"] + metrics["test_kl_per_image"])


@pytest.mark.parametrize("method", ["hutchinson", "exact"])
def test_contractive_demo_writes_figures_and_metrics(tmp_path, method):
    contractive.main([*TINY, "--hidden", "16", "--latent-dim", "4", "--method", method,
                      "--measure-size", "100", "--sigmas", "0.01,0.1", "--out", str(tmp_path)])
    for name in ["contraction.png", "reconstructions.png", "metrics.json", "ae/checkpoint.npz",
                 "cae/metrics.jsonl"]:
        assert (tmp_path / name).stat().st_size > 0, name
    metrics = _metrics(tmp_path)
    assert metrics["penalty"]["method"] == method and metrics["n_measured"] == 100
    for model in ("autoencoder", "contractive"):
        row = metrics[model]
        assert set(row["noise"]) == {"0.01", "0.1"}
        assert row["jacobian_frobenius"] > 0 and row["code_spread"] > 0
        assert row["test_bce_per_image"] > 0 and row["test_sq_error_per_image"] > 0
        moved = row["noise"]["0.1"]
        assert moved["relative_displacement"] == pytest.approx(
            moved["displacement"] / row["code_spread"])
    assert "| contractive |" in metrics["table"]


@pytest.mark.skipif(mg.cuda_is_available(), reason="this machine has a usable GPU")
def test_gpu_without_cupy_is_one_line_and_exit_code_2(tmp_path):
    command = [sys.executable, str(DEMOS / "train_mnist_vae.py"), "--device", "gpu", "--out",
               str(tmp_path), *TINY]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "pip install" in lines[0] and "cuda12" in lines[0]
    assert not (tmp_path / "checkpoint.npz").exists()
