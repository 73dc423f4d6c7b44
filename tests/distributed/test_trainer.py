"""The Trainer on several workers: the same parameters as one process with the same global
batches (float64, to 1e-10), losses reduced over the workers, rank 0 alone writing files,
resuming with another number of workers, and Ctrl-C on mpiexec leaving a loadable checkpoint.

Every rank computes the one-process reference itself (``Trainer(..., distributed=False)``):
the data come from a generator with a fixed seed, the same on every rank.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from autoencoders.train import Trainer
from minigrad.nn import functional as F
from tests.distributed.test_ddp import MODELS, OPTIMIZERS, flat_parameters
from tests.distributed.test_faults import mpiexec

GLOBAL_BATCH = 64
N = 197  # 3 batches of 64 and a last one of 5, which 2 workers split 3 + 2


def mse(model, batch):
    x = batch[0]
    out = model(x)
    return F.mse_loss(out, x), {"abs": (out - x).abs().mean()}


def data(shape, n=N, seed=0):
    return np.random.default_rng(seed).random((n, *shape))


def trainer(model_name, optimizer, out_dir=None, **kwargs):
    build, _ = MODELS[model_name]
    mg.manual_seed(1)
    model = build()
    return Trainer(model, mse, OPTIMIZERS[optimizer](model.parameters()), out_dir=out_dir,
                   seed=3, progress=False, verbose=False, **kwargs)


def rank0_path(dist, path: Path) -> Path:
    """Rank 0's ``path`` on every rank (one machine: the ranks share the file system)."""
    box = [str(path)]
    dist.broadcast_object_list(box, src=0)
    return Path(box[0])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("model_name", MODELS)
def test_workers_train_like_one_process_with_the_whole_batch(dist, world, gather_numpy,
                                                               model_name, optimizer):
    _, shape = MODELS[model_name]
    x, x_test = data(shape), data(shape, n=41, seed=1)
    one = trainer(model_name, optimizer, distributed=False)
    one_history = one.fit((x,), (x_test,), epochs=2, batch_size=GLOBAL_BATCH)
    many = trainer(model_name, optimizer)
    history = many.fit((x,), (x_test,), epochs=2, batch_size=GLOBAL_BATCH)  # 8 steps
    assert many._distributed == (world[1] > 1)
    mine = flat_parameters(many.model)
    np.testing.assert_allclose(mine, flat_parameters(one.model), rtol=0, atol=1e-10)
    everyone = gather_numpy(mine)
    assert (everyone == everyone[0]).all()  # the workers stay bitwise identical
    for row, one_row in zip(history, one_history, strict=True):
        for key in ("train_loss", "train_abs", "test_loss", "test_abs"):
            assert row[key] == pytest.approx(one_row[key], rel=1e-12), key


def test_evaluation_is_reduced_over_the_workers(dist, world):
    x = data((16,), n=37)
    t = trainer("mlp", "adam")
    t._setup_distributed()
    reference = trainer("mlp", "adam", distributed=False).evaluate((x,), batch_size=8)
    assert t.evaluate((x,), batch_size=8) == pytest.approx(reference, rel=1e-12)


def test_only_rank_0_writes_and_resuming_works_with_another_number_of_workers(
        dist, world, tmp_path):
    rank, size = world
    x = data((16,))
    straight = trainer("mlp", "adam", distributed=False)
    straight.fit((x,), epochs=3, batch_size=GLOBAL_BATCH)

    # One epoch on every worker, into each rank's own folder: only rank 0's gets files.
    first = trainer("mlp", "adam", out_dir=tmp_path / "run")
    first.fit((x,), epochs=1, batch_size=GLOBAL_BATCH)
    files = sorted(p.name for p in (tmp_path / "run").glob("*")) if rank > 0 else None
    if rank > 0:
        assert files == [], files
    else:
        assert {"checkpoint.npz", "metrics.jsonl"} <= {p.name for p in tmp_path.glob("run/*")}
    checkpoint = rank0_path(dist, tmp_path / "run" / "checkpoint.npz")

    # Epoch 2 in one process from the workers' checkpoint ...
    alone = trainer("mlp", "adam", distributed=False)
    alone.load_checkpoint(checkpoint)
    alone.fit((x,), epochs=2, batch_size=GLOBAL_BATCH)
    # ... and epochs 2 and 3 on the workers, resumed from rank 0's folder only (the other
    # ranks' folders hold no checkpoint: rank 0 sends it).
    again = trainer("mlp", "adam", out_dir=tmp_path / "run")
    again.fit((x,), epochs=3, batch_size=GLOBAL_BATCH, resume=True)
    assert again.epoch == 3 and len(again.history) == 3
    # Epoch 3 on the workers after epoch 2 in one process.
    if rank == 0:
        alone.out_dir = tmp_path / "alone"
        alone.out_dir.mkdir()
        alone.save_checkpoint()
    alone_dir = rank0_path(dist, tmp_path / "alone")  # a collective: on every rank
    mixed = trainer("mlp", "adam", out_dir=alone_dir if rank == 0 else tmp_path / "nothing")
    mixed.fit((x,), epochs=3, batch_size=GLOBAL_BATCH, resume=True)
    for t in (again, mixed):
        np.testing.assert_allclose(flat_parameters(t.model), flat_parameters(straight.model),
                                   rtol=0, atol=1e-10)


CTRL_C_SCRIPT = textwrap.dedent("""
    import sys
    import time

    import numpy as np

    import minigrad as mg
    import minigrad.distributed as dist
    from autoencoders.train import Trainer
    from minigrad import nn, optim
    from minigrad.nn import functional as F

    dist.init_process_group()

    def slow_mse(model, batch):
        time.sleep(0.02)  # epochs of about a second: time to interrupt the second one
        return F.mse_loss(model(batch[0]), batch[0]), {}

    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 16))
    x = np.random.default_rng(0).random((1024, 16), dtype=np.float32)
    trainer = Trainer(model, slow_mse, optim.Adam(model.parameters()), out_dir=sys.argv[1],
                      progress=False)
    trainer.fit((x,), epochs=1000, batch_size=32)
""")


def test_ctrl_c_on_mpiexec_leaves_a_loadable_checkpoint(tmp_path, dist, world):
    if world[1] > 1:
        pytest.skip("starts a 2-process job of its own: run it outside mpiexec")
    if mpiexec() is None:
        pytest.skip("needs mpiexec (the MPICH wheel brings it)")
    script = tmp_path / "train.py"
    script.write_text(CTRL_C_SCRIPT)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPI_LOCAL", "OMPI_"))}
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    job = subprocess.Popen([mpiexec(), "-n", "2", sys.executable, str(script), str(out)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)  # its own process group, to clean up
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.npz").exists():
            assert job.poll() is None, job.communicate()[0]
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.1)
        time.sleep(0.5)  # into the second epoch
        job.send_signal(signal.SIGINT)
        try:
            output = job.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            output = job.communicate()[0]
            pytest.fail(f"mpiexec did not stop within 60 s of Ctrl-C:\n{output}")
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    assert job.returncode != 0, output
    state = mg.load(out / "checkpoint.npz")
    assert state["epoch"] >= 1 and len(state["history"]) == state["epoch"], output
    assert not list(out.glob("*.tmp*")), list(out.iterdir())


def run_demo(args: list[str], workers: int) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPI_LOCAL", "OMPI_"))}
    command = [sys.executable, str(root / "demos" / "train_mnist_ae.py"), *args]
    if workers > 1:
        command = [mpiexec(), "-n", str(workers), *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_the_demo_runs_on_two_workers_and_resumes_one_process_run(tmp_path, dist, world):
    """mnist5k, MLP 784-64-16, batch 128: one epoch alone, then epoch 2 on two workers
    (--resume) must report what epoch 2 alone reports, and only rank 0 writes files."""
    if world[1] > 1:
        pytest.skip("starts a 2-process job of its own: run it outside mpiexec")
    if mpiexec() is None:
        pytest.skip("needs mpiexec (the MPICH wheel brings it)")
    common = ["--dataset", "mnist5k", "--hidden", "64", "--latent-dim", "16", "--threads",
              "1", "--no-progress"]
    alone, split = tmp_path / "alone", tmp_path / "split"
    first = run_demo([*common, "--epochs", "1", "--out", str(alone)], workers=1)
    if first.returncode == 1 and "error:" in first.stderr:
        pytest.skip(f"no data: {first.stderr.strip()}")
    assert first.returncode == 0, first.stderr
    split.mkdir()
    for name in ("checkpoint.npz", "metrics.jsonl"):
        (split / name).write_bytes((alone / name).read_bytes())
    two = run_demo([*common, "--epochs", "2", "--resume", "--out", str(split)], workers=2)
    assert two.returncode == 0, two.stdout + two.stderr
    one = run_demo([*common, "--epochs", "2", "--resume", "--out", str(alone)], workers=1)
    assert one.returncode == 0, one.stderr
    assert two.stdout.count("epoch 2/2") == 1  # rank 0 alone prints
    history = [json.loads(line) for line in (split / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (alone / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == len(reference) == 2
    for key in ("train_loss", "test_loss"):
        assert history[1][key] == pytest.approx(reference[1][key], rel=1e-4), key
    metrics = json.loads((split / "metrics.json").read_text())
    assert metrics["test_sq_error_per_image"] == pytest.approx(
        json.loads((alone / "metrics.json").read_text())["test_sq_error_per_image"], rel=1e-4)
    assert {"reconstructions.png", "loss_curves.png"} <= {p.name for p in split.iterdir()}


def test_demos_read_the_launcher_environment(monkeypatch):
    """demos/common.py: rank and size from mpiexec's variables; --out is a scratch folder on
    ranks > 0 only."""
    root = Path(__file__).resolve().parents[2]
    monkeypatch.syspath_prepend(str(root / "demos"))
    import common

    for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                 "MPI_LOCALNRANKS", "PMIX_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert common.launcher_world() == (0, 1)
    assert common.output_folder("runs/x") == "runs/x"
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "3")
    assert common.launcher_world() == (1, 3)
    scratch = common.output_folder("runs/x")
    assert scratch != "runs/x" and Path(scratch).is_dir()
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    assert common.output_folder("runs/x") == "runs/x"


def _batchnorm_mlp(sync: bool):
    from minigrad import nn

    mg.manual_seed(1)
    model = nn.Sequential(nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 16))
    model = model.to(dtype=mg.float64)
    return nn.SyncBatchNorm.convert_sync_batchnorm(model) if sync else model


def _bn_trainer(model, distributed=None):
    from minigrad import optim

    # SGD, not Adam: the bias of the layer before BatchNorm has a gradient of exactly 0 in
    # theory, rounding noise in practice, which Adam would scale up to full-size steps.
    return Trainer(model, mse, optim.SGD(model.parameters(), lr=0.05, momentum=0.9), seed=3,
                   progress=False, verbose=False, distributed=distributed)


def test_sync_batchnorm_trains_like_one_process_with_the_whole_batch(dist, world,
                                                                        gather_numpy):
    """SyncBatchNorm on the workers' parts of each batch (the last one split 3 + 2) gives the
    parameters and running statistics of BatchNorm on the whole batch in one process."""
    x = data((16,))
    one = _bn_trainer(_batchnorm_mlp(sync=False), distributed=False)
    one.fit((x,), None, epochs=2, batch_size=GLOBAL_BATCH)
    many = _bn_trainer(_batchnorm_mlp(sync=True))
    many.fit((x,), None, epochs=2, batch_size=GLOBAL_BATCH)
    for (name, mine), (_, reference) in zip(many.model.state_dict().items(),
                                            one.model.state_dict().items(), strict=True):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=0, atol=1e-10,
                                   err_msg=name)
    everyone = gather_numpy(flat_parameters(many.model))
    assert (everyone == everyone[0]).all()


def test_sync_batchnorm_skips_a_last_batch_smaller_than_the_workers(dist, world,
                                                                     gather_numpy):
    """129 samples in batches of 64: the last batch has 1 sample, fewer than 2 workers.
    Every worker skips it (SyncBatchNorm's all-reduce needs all of them), nothing hangs."""
    if world[1] == 1:
        pytest.skip("one process: a batch of one sample is BatchNorm's error, as in PyTorch")
    x = data((16,), n=129)
    many = _bn_trainer(_batchnorm_mlp(sync=True))
    history = many.fit((x,), None, epochs=1, batch_size=GLOBAL_BATCH)
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])
    everyone = gather_numpy(flat_parameters(many.model))
    assert (everyone == everyone[0]).all()
