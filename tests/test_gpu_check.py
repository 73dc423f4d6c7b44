"""benchmarks/gpu_check.py without a GPU: its dry run on strict:device1, its sync counter, and
the demos' mapping of workers to GPUs (demos/common.py's rank_device).

The dry run runs every section of the GPU check on array_api_strict's device1, which refuses
implicit host conversion like CuPy, so the script cannot rot between the rare runs on a GPU,
and a host-device sync that creeps into a training step fails here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import minigrad as mg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "demos"))  # the demos import their helpers as `common`

import common  # noqa: E402

SECTIONS = ("suite", "benchmark", "memory", "syncs", "demos")
MODELS = ("W1 MLP AE", "W2 conv AE", "W3 VAE")


def _load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" /
                                                  "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> dict:
    """The JSON summary of one dry run (a subprocess: the check patches modules and starts
    pytest and the demos itself). About 30 s on a busy 2-core machine."""
    out = tmp_path_factory.mktemp("gpu_check") / "summary.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"),
                           "--dry-run", "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=58)
    assert out.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(out.read_text())
    summary["_returncode"] = done.returncode
    return summary


@pytest.mark.slow
def test_dry_run_reports_every_section_and_succeeds(dry_run):
    assert dry_run["dry_run"] and dry_run["device"] == "strict:device1"
    for name in SECTIONS:
        assert name in dry_run, name
        assert dry_run[name]["ok"], (name, dry_run[name])
    assert dry_run["ok"] and dry_run["_returncode"] == 0
    suite = dry_run["suite"]
    assert suite["passed"] > 0 and not suite.get("failed") and not suite["timed_out"]
    for demo in ("train_mnist_ae", "train_mnist_vae"):
        row = dry_run["demos"][demo]
        assert row["returncode"] == 0 and row["device"] == "strict:device1"
    assert dry_run["demos"]["train_mnist_ae"]["test_sq_error_per_image"] > 0
    assert dry_run["demos"]["train_mnist_vae"]["test_loss_bce_kl_per_image"] > 0
    for model in MODELS:
        assert dry_run["benchmark"][model]["minigrad_ms"] > 0
    assert "skipped" in dry_run["memory"]  # no CuPy pool on the stand-in


@pytest.mark.slow
def test_a_training_step_does_not_sync(dry_run):
    syncs = dry_run["syncs"]
    for model in ("W1 MLP AE", "W2 conv AE"):  # no sync at all, not even on the stand-in
        assert syncs[model]["first_step"] == 0 and syncs[model]["step"] == 0, syncs[model]
    for model in MODELS:
        assert syncs[model]["step_on_cuda"] == 0, syncs[model]
        assert syncs[model]["loss_item"] == 1  # the counter does see the loss read back
    # The VAE's binary_cross_entropy checks its input range on the CPU and the stand-ins (a
    # sync), not on CuPy: it must be the only such place, reported with its line.
    places = syncs["W3 VAE"].get("step_places", {})
    assert all("minigrad/ops/losses.py" in place and "binary_cross_entropy" in place
               for place in places), places


def test_the_sync_counter_sees_every_way_to_the_host():
    gpu_check = _load_gpu_check()
    t = mg.tensor([[1.5]], device="strict:device1")
    raw = t.data
    with gpu_check.SyncCounter() as counter:
        for read in (float, int, bool, lambda t: t.item(), lambda t: t.numpy(),
                     lambda t: t.tolist(), lambda t: mg.backend.to_numpy(t)):
            read(t)
        assert counter.count == 7
        bool(raw[0, 0])  # an engine's direct conversion of a device array, past to_numpy
        float(raw[0, 0])
        assert counter.count == 9
        mg.tensor([[1.5]]).item()  # host memory: no sync
        float(mg.tensor([[1.5]], device="strict:cpu"))
        assert counter.count == 9
        assert all("test_gpu_check" not in place for place in counter.places)
    float(t)  # the patches are gone afterwards
    assert counter.count == 9
    assert not hasattr(mg.backend.to_numpy, "__wrapped__")
    assert not hasattr(type(raw).__bool__, "__wrapped__")


def test_syncs_on_lines_a_gpu_skips_are_recognised():
    gpu_check = _load_gpu_check()
    line = next(n for n, text in enumerate((ROOT / "minigrad/ops/losses.py").read_text()
                                           .splitlines(), 1)
                if 'type != "cuda"' in text and "is_probability" in text)
    assert gpu_check.skipped_on_cuda(f"minigrad/ops/losses.py:{line} in binary_cross_entropy")
    assert not gpu_check.skipped_on_cuda("minigrad/tensor.py:1 in <module>")


@pytest.mark.parametrize("flag, local_rank, world, expected", [
    ("gpu", 3, 4, "cuda:3"),           # several workers: one GPU each, by local rank
    ("cuda", 1, 2, "cuda:1"),
    ("GPU", 0, 2, "cuda:0"),
    ("gpu", 0, 1, "gpu"),              # one process: as given
    ("cuda:1", 0, 2, "cuda:1"),        # an explicit GPU is the user's choice
    ("cpu", 1, 2, "cpu"),
    ("strict:device1", 1, 2, "strict:device1"),
])
def test_each_worker_gets_the_gpu_of_its_local_rank(flag, local_rank, world, expected):
    assert common.rank_device(flag, local_rank, world) == expected


def test_without_a_launcher_the_device_flag_stays(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    assert common.worker_device("gpu") == "gpu"
