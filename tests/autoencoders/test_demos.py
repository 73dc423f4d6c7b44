"""Smoke tests of the demos with tiny settings on scikit-learn's 8x8 digits: every file is
written, metrics.json has its keys, and a missing GPU is one line and exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import contractive  # noqa: E402  (the demos folder is not a package)
import reproduce  # noqa: E402
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


def test_reproduce_reports_each_target_and_fails_when_one_is_missed(tmp_path):
    """On the 8x8 digits after 1 epoch the Hinton number is far off: exit code 1."""
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(["--dataset", "digits", "--hinton-epochs", "1", "--out", str(tmp_path)])
    assert exit_info.value.code == 1
    summary = _metrics(tmp_path)
    assert summary["hinton"]["published"] == {"autoencoder": 3.0, "pca30": 13.87}
    assert {"autoencoder", "pca30"} == summary["hinton"]["measured"].keys()
    assert summary["hinton"]["passed"] is False
    assert summary["vae"]["epochs"] == 10
    assert (tmp_path / "hinton/reconstructions.png").exists()
    assert (tmp_path / "vae/samples.png").exists()


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


def test_reproduce_over_seeds_reports_the_mean_its_standard_error_and_each_seed(tmp_path):
    """--seeds 3: one run per seed in its own folder; the deciding number is the mean."""
    reproduce.main(["--target", "vae", "--dataset", "digits", "--seed", "4", "--seeds", "3",
                    "--out", str(tmp_path)])
    row = _metrics(tmp_path)["vae"]
    losses = [_metrics(tmp_path / f"vae/seed_{s}")["test_loss_bce_kl_per_image"]
              for s in (4, 5, 6)]
    assert row["seeds"] == [4, 5, 6]
    assert row["per_seed"]["test_loss_bce_kl_per_image"] == pytest.approx(losses)
    assert len(set(losses)) == 3  # the seeds really differ
    assert row["measured"]["test_loss_bce_kl_per_image"] == pytest.approx(np.mean(losses))
    assert row["standard_error"]["test_loss_bce_kl_per_image"] == pytest.approx(
        np.std(losses, ddof=1) / np.sqrt(3))
    assert row["passed"] is bool(np.mean(losses) <= 105.6)


@pytest.mark.parametrize(("published", "passed"), [(2.5, True), (1.5, False)])
def test_reproduce_decides_on_the_mean_over_seeds(monkeypatch, published, passed):
    """Seeds giving 1.0 and 3.0: the mean 2.0 decides, whichever single seed would pass."""
    def target(args):
        return {"published": {"test_loss_bce_kl_per_image": published},
                "measured": {"test_loss_bce_kl_per_image": 1.0 + 2.0 * args.seed},
                "train_minutes": 1.5, "wall_minutes": 2.0}

    monkeypatch.setitem(reproduce.TARGETS, "vae", target)
    args = reproduce.parser().parse_args(["--target", "vae", "--seeds", "2"])
    row = reproduce.over_seeds("vae", args)
    assert row["measured"]["test_loss_bce_kl_per_image"] == 2.0
    assert row["standard_error"]["test_loss_bce_kl_per_image"] == pytest.approx(1.0)
    assert row["passed"] is passed
    assert (row["train_minutes"], row["wall_minutes"]) == (3.0, 4.0)


@pytest.mark.parametrize("seeds", ["0", "-1", "two"])
def test_reproduce_refuses_a_seed_count_below_one(seeds, capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.parser().parse_args(["--seeds", seeds])
    assert exit_info.value.code == 2
    assert "whole number >= 1" in capsys.readouterr().err
