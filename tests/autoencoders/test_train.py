"""The Trainer: exact repeatability, resume, divergence, Ctrl-C, its log and checkpoint."""

import json

import numpy as np
import pytest

import minigrad as mg
from autoencoders.models import VAE, MLPAutoencoder, autoencoder_loss_fn, vae_loss_fn
from autoencoders.train import Trainer, TrainingDivergedError, predict, random_shift
from minigrad import optim

RNG = np.random.default_rng(0)
X_TRAIN = RNG.random((96, 16), dtype=np.float32)
X_TEST = RNG.random((40, 16), dtype=np.float32)


def _trainer(out_dir, model="ae", loss_fn=None, seed=0, schedule=True, **kwargs):
    mg.manual_seed(123)  # the initial weights
    if model == "ae":
        net, default_loss = MLPAutoencoder((16, 8, 4)), autoencoder_loss_fn("mse")
    else:
        net, default_loss = VAE((16, 8, 2)), vae_loss_fn()
    opt = optim.Adam(net.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5) if schedule else None
    return Trainer(net, loss_fn or default_loss, opt, sched, out_dir=out_dir, seed=seed,
                   progress=False, verbose=False, log_every=kwargs.pop("log_every", 2),
                   **kwargs)


def _params(model) -> dict[str, np.ndarray]:
    return {name: p.numpy().copy() for name, p in model.named_parameters()}


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _without_times(history):
    return [{k: v for k, v in row.items() if k not in ("time", "eval_time")} for row in history]


def test_same_seed_same_parameters_different_seed_different(tmp_path):
    runs = []
    for name, seed in [("a", 0), ("b", 0), ("c", 1)]:
        t = _trainer(tmp_path / name, "vae", seed=seed)
        t.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=16)
        runs.append(_params(t.model))
    _assert_same(runs[0], runs[1])
    assert not np.array_equal(runs[0]["decoder.0.weight"], runs[2]["decoder.0.weight"])


def test_resume_after_epoch_1_equals_two_straight_epochs(tmp_path):
    straight = _trainer(tmp_path / "straight", "vae")
    straight.fit((X_TRAIN,), (X_TEST,), epochs=2, batch_size=16)

    first = _trainer(tmp_path / "resumed", "vae")
    first.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=16)
    mg.manual_seed(999)  # whatever happens in between must not matter
    resumed = _trainer(tmp_path / "resumed", "vae")  # a new process would build it afresh
    resumed.fit((X_TRAIN,), (X_TEST,), epochs=2, batch_size=16, resume=True)

    assert resumed.epoch == 2
    _assert_same(_params(straight.model), _params(resumed.model))
    assert _without_times(resumed.history) == _without_times(straight.history)
    assert resumed.scheduler.get_last_lr() == straight.scheduler.get_last_lr() == [2.5e-3]
    rows = [json.loads(line) for line in (tmp_path / "resumed/metrics.jsonl").open()]
    assert [row["epoch"] for row in rows] == [1, 2]


def test_metrics_log_and_checkpoint(tmp_path):
    t = _trainer(tmp_path, "ae")
    history = t.fit((X_TRAIN,), (X_TEST,), epochs=2, batch_size=32)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert rows == history and len(rows) == 2
    assert {"epoch", "train_loss", "test_loss", "train_sq_error", "test_sq_error",
            "train_bce", "test_bce", "lr", "time", "eval_time"} <= rows[0].keys()
    assert [row["lr"] for row in rows] == [1e-2, 5e-3]  # the lr each epoch trained with

    # The test loss is the squared error per image of the final model, recomputed here.
    out = predict(t.model, X_TEST)
    expected = np.mean(np.sum((out - X_TEST) ** 2, axis=1))
    assert rows[1]["test_loss"] == pytest.approx(expected, rel=1e-5)
    assert rows[1]["test_sq_error"] == rows[1]["test_loss"]

    # The checkpoint is a minigrad file with everything needed to continue; no temporaries.
    state = mg.load(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 2 and state["history"] == history
    assert {"model", "optimizer", "scheduler"} <= state.keys()
    _assert_same({k: v.numpy() for k, v in state["model"].items()}, _params(t.model))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "metrics.jsonl"]


def test_loss_is_read_back_only_when_logging(tmp_path, monkeypatch):
    """96 samples / 16 = 6 steps; log_every=3 -> 2 read-backs in the loop, then one per
    reported number at epoch end (loss, sq_error, bce for train and for test)."""
    reads = []
    original = mg.Tensor.item
    monkeypatch.setattr(mg.Tensor, "item", lambda self: reads.append(1) or original(self))
    monkeypatch.setattr(mg.Tensor, "numpy", lambda self: pytest.fail("numpy() in a step"))
    t = _trainer(None, "ae", log_every=3)
    t.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=16)
    assert len(reads) == 2 + 3 + 3


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy on NaN arrays
def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    calls = []
    base = autoencoder_loss_fn("mse")

    def poisoned(model, batch):  # 6 steps per epoch: NaN from step 2 of epoch 2 on
        calls.append(model.training)
        loss, metrics = base(model, batch)
        return (loss * float("nan") if sum(calls) > 7 else loss), metrics

    t = _trainer(tmp_path, "ae", loss_fn=poisoned, log_every=4)
    with pytest.raises(TrainingDivergedError, match=r"epoch 2: the mean loss of steps 1\.\.4 "
                                                    r"is nan; the checkpoint of epoch 1"):
        t.fit((X_TRAIN,), (X_TEST,), epochs=3, batch_size=16)
    assert sum(calls) == 6 + 4  # stopped at the first read-back after the NaN

    reference = _trainer(tmp_path / "reference", "ae")
    reference.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=16)
    state = mg.load(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 1
    _assert_same({k: v.numpy() for k, v in state["model"].items()}, _params(reference.model))
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_in_the_last_steps_is_caught_at_epoch_end(tmp_path):
    base = autoencoder_loss_fn("mse")
    calls = []

    def poisoned(model, batch):
        calls.append(1)
        loss, metrics = base(model, batch)
        return (loss * float("inf") if len(calls) == 6 else loss), metrics

    t = _trainer(None, "ae", loss_fn=poisoned, log_every=100)
    with pytest.raises(TrainingDivergedError, match="epoch 1: the epoch's mean training loss "
                                                    "is inf; no checkpoint was written"):
        t.fit((X_TRAIN,), None, epochs=1, batch_size=16)


def test_keyboard_interrupt_saves_a_checkpoint_then_resume_repeats_the_epoch(tmp_path):
    base = autoencoder_loss_fn("mse")
    calls = []

    def interrupted(model, batch):
        calls.append(model.training)
        if sum(calls) == 9 and model.training:  # step 3 of epoch 2
            raise KeyboardInterrupt
        return base(model, batch)

    t = _trainer(tmp_path, "ae", loss_fn=interrupted)
    with pytest.raises(KeyboardInterrupt):
        t.fit((X_TRAIN,), (X_TEST,), epochs=3, batch_size=16)
    state = mg.load(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 1  # epochs completed
    # The weights as they were at the interrupt, two steps into epoch 2.
    _assert_same({k: v.numpy() for k, v in state["model"].items()}, _params(t.model))
    resumed = _trainer(tmp_path, "ae")
    resumed.fit((X_TRAIN,), (X_TEST,), epochs=3, batch_size=16, resume=True)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]


def test_without_resume_a_run_starts_over(tmp_path):
    _trainer(tmp_path, "ae").fit((X_TRAIN,), (X_TEST,), epochs=2, batch_size=32)
    again = _trainer(tmp_path, "ae")
    again.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=32)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1
    assert mg.load(tmp_path / "checkpoint.npz")["epoch"] == 1


def test_pairs_of_arrays_map_inputs_to_targets(tmp_path):
    """(x_in, x_target) batches: a model from 4 to 16 numbers learns the target."""
    x_in = X_TRAIN[:, ::4].copy()
    mg.manual_seed(0)
    model = MLPAutoencoder((4, 16, 8), out_features=16)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    t = Trainer(model, autoencoder_loss_fn("bce"), opt, progress=False, verbose=False)
    history = t.fit((x_in, X_TRAIN), (x_in, X_TRAIN), epochs=20, batch_size=32)
    assert history[-1]["test_loss"] < history[0]["test_loss"]


@pytest.mark.parametrize("device", ["strict:device1"])
def test_training_on_another_device(tmp_path, device):
    """The same loop on a non-CPU device (array_api_strict, CuPy's stand-in) gives the CPU's
    numbers, and a checkpoint from one device resumes on the other."""
    cpu = _trainer(tmp_path / "cpu", "vae")
    cpu.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=32)
    other = _trainer(tmp_path / "other", "vae", device=device)
    other.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=32)
    assert other.model.decoder[0].weight.device == mg.device(device)
    for name, value in _params(cpu.model).items():
        np.testing.assert_allclose(_params(other.model)[name], value, rtol=1e-4, atol=1e-6)
    resumed = _trainer(tmp_path / "cpu", "vae", device=device)
    resumed.fit((X_TRAIN,), (X_TEST,), epochs=2, batch_size=32, resume=True)
    assert resumed.epoch == 2


def test_a_failed_checkpoint_write_leaves_the_previous_one(tmp_path, monkeypatch):
    """Checkpoints go through minigrad.save, which writes a temporary file and renames it:
    a crash while writing epoch 2's leaves epoch 1's intact and no partial file."""
    t = _trainer(tmp_path, "ae")
    t.fit((X_TRAIN,), (X_TEST,), epochs=1, batch_size=32)

    write_array = np.lib.format.write_array
    written = []

    def crash_after_one_array(*args, **kwargs):  # the archive is half written
        if written:
            raise OSError("disk full")
        written.append(write_array(*args, **kwargs))

    monkeypatch.setattr(np.lib.format, "write_array", crash_after_one_array)
    with pytest.raises(OSError, match="disk full"):
        t.fit((X_TRAIN,), (X_TEST,), epochs=2, batch_size=32, resume=True)
    monkeypatch.undo()
    assert mg.load(tmp_path / "checkpoint.npz")["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "metrics.jsonl"]


def test_random_shift_moves_each_image_by_its_own_offset(device):
    rng = np.random.default_rng(0)
    images = rng.random((200, 1, 5, 6))
    mg.manual_seed(0)
    out = random_shift(mg.tensor(images, device=device), (5, 6), max_shift=1).numpy()
    padded = np.pad(images, [(0, 0), (0, 0), (1, 1), (1, 1)])
    seen = set()
    for image, shifted in zip(padded, out, strict=True):
        matches = [(dy, dx) for dy in range(3) for dx in range(3)
                   if np.array_equal(image[:, dy:dy + 5, dx:dx + 6], shifted)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 9  # every offset occurs
    flat = random_shift(mg.tensor(images.reshape(200, 30), device=device), (5, 6))
    assert flat.shape == (200, 30)


def test_augment_applies_to_input_and_target_alike():
    mg.manual_seed(0)
    model = MLPAutoencoder((16, 8, 4)).to("cpu", mg.float64)
    x = mg.tensor(X_TEST.astype(np.float64))
    loss_fn = autoencoder_loss_fn("mse", augment=lambda x: x * 0)
    _, metrics = loss_fn(model, (x,))
    zeros_out = model(mg.zeros(40, 16, dtype=mg.float64)).numpy()
    assert metrics["sq_error"].item() == pytest.approx(np.sum(zeros_out**2) / 40, rel=1e-12)
    model.eval()  # evaluation sees the data as it is
    _, metrics = loss_fn(model, (x,))
    clean = np.sum((model(x).numpy() - X_TEST) ** 2) / 40
    assert metrics["sq_error"].item() == pytest.approx(clean, rel=1e-6)
    with pytest.raises(ValueError, match="augment works on"):
        autoencoder_loss_fn("mse", augment=lambda x: x)(model, (x, x))


def test_one_process_trains_alike_whether_or_not_data_parallelism_is_allowed(tmp_path):
    """Without a process group of several workers (here: none) ``distributed`` changes
    nothing: same parameters and history, files written as before. The data-parallel
    behaviour is tested under mpiexec in tests/distributed/test_trainer.py."""
    runs = []
    for i, distributed in enumerate((None, False)):
        trainer = _trainer(tmp_path / str(i), distributed=distributed)
        history = trainer.fit((X_TRAIN,), (X_TEST,), epochs=2, batch_size=32)
        assert not trainer._distributed
        assert (tmp_path / str(i) / "checkpoint.npz").exists()
        runs.append((_params(trainer.model), [row["test_loss"] for row in history]))
    _assert_same(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
