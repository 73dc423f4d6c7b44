"""minigrad.save / minigrad.load: round trips on every device, the file layout, atomic writes,
no pickle, and clear errors."""

import json
import os
import pickle
import stat

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.backend import device_of


def checkpoint(device):
    """A nested object like a training checkpoint, plus the host values of its tensors."""
    rng = np.random.default_rng(0)
    values = {
        "w": rng.standard_normal((3, 4)).astype(np.float32),
        "b": rng.standard_normal(4),  # float64
        "step": np.array([1, 2, 3], np.int64),
        "mask": np.array([[True, False]]),
        "scalar": np.array(2.5, np.float32),
    }
    t = {k: mg.tensor(v, device=device) for k, v in values.items()}
    t["w"].requires_grad_(True)
    obj = {
        "model": {"fc1.weight": t["w"], "fc1.bias": t["b"]},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": t["scalar"]}, 1: {"count": t["step"]}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "name": None}]},
        "epoch": 3,
        "config": {"layers": [64, 32], "act": "relu", "a/b~c": 1.5, "": "empty key",
                   "nested": [[], {}, ()]},
        "mask": t["mask"],
        "host": np.arange(5, dtype=np.int32),
    }
    return obj, values


def test_round_trip_of_a_nested_checkpoint(device, tmp_path):
    obj, values = checkpoint(device)
    path = tmp_path / "ckpt.npz"
    mg.save(obj, path)
    for target in (device, "cpu"):
        got = mg.load(path, device=target)
        assert got["epoch"] == 3
        assert got["config"] == {"layers": [64, 32], "act": "relu", "a/b~c": 1.5,
                                 "": "empty key", "nested": [[], {}, ()]}
        assert got["optimizer"]["param_groups"] == obj["optimizer"]["param_groups"]
        assert isinstance(got["optimizer"]["param_groups"][0]["betas"], tuple)
        assert list(got["optimizer"]["state"]) == [0, 1]  # integer keys stay integers
        tensors = {"w": got["model"]["fc1.weight"], "b": got["model"]["fc1.bias"],
                   "step": got["optimizer"]["state"][1]["count"], "mask": got["mask"],
                   "scalar": got["optimizer"]["state"][0]["exp_avg"]}
        for key, t in tensors.items():
            assert isinstance(t, mg.Tensor) and t.device == target
            assert t.dtype == values[key].dtype and t.shape == values[key].shape
            np.testing.assert_array_equal(t.numpy(), values[key])
            assert t.requires_grad == (key == "w")
        assert type(got["host"]) is np.ndarray and got["host"].dtype == np.int32
        np.testing.assert_array_equal(got["host"], np.arange(5))


def test_from_a_device_to_the_cpu_and_back(tmp_path):
    x = np.random.default_rng(1).standard_normal((5, 2)).astype(np.float32)
    mg.save({"x": mg.tensor(x, device="strict:device1")}, tmp_path / "a.npz")
    on_cpu = mg.load(tmp_path / "a.npz")["x"]
    assert on_cpu.device == "cpu"
    mg.save({"x": on_cpu}, tmp_path / "b.npz")
    back = mg.load(tmp_path / "b.npz", device="strict:device1")["x"]
    assert device_of(back.data) is mg.device("strict:device1")
    np.testing.assert_array_equal(back.numpy(), x)


def test_device_arrays_come_back_as_numpy(tmp_path):
    raw = mg.ones(3, device="strict:device1").data
    mg.save([raw, mg.tensor(1.0)], tmp_path / "r.npz")
    got = mg.load(tmp_path / "r.npz")
    assert type(got[0]) is np.ndarray and np.array_equal(got[0], np.ones(3))
    assert isinstance(got[1], mg.Tensor) and got[1].item() == 1.0


def test_single_tensor_and_plain_values(tmp_path):
    for obj in (mg.arange(4), 7, "text", None, [1.5, True, None], (1, "a")):
        mg.save(obj, tmp_path / "x.npz")
        got = mg.load(tmp_path / "x.npz")
        if isinstance(obj, mg.Tensor):
            np.testing.assert_array_equal(got.numpy(), np.arange(4))
        else:
            assert got == obj and type(got) is type(obj)
    mg.save({"n": np.float32(0.5), "k": np.int64(3)}, tmp_path / "s.npz")
    assert mg.load(tmp_path / "s.npz") == {"n": 0.5, "k": 3}


def test_shared_tensors_are_stored_once(tmp_path):
    w = mg.randn(3, 3, requires_grad=True)
    mg.save({"encoder": {"w": w}, "decoder": {"w": w}}, tmp_path / "tied.npz")
    got = mg.load(tmp_path / "tied.npz")
    assert got["encoder"]["w"] is got["decoder"]["w"]
    assert np.load(tmp_path / "tied.npz").files == ["encoder/w", "~minigrad"]


def test_the_file_is_a_plain_npz_with_readable_names(tmp_path):
    obj, values = checkpoint("cpu")
    mg.save(obj, tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted([
            "model/fc1.weight", "model/fc1.bias", "optimizer/state/0/exp_avg",
            "optimizer/state/1/count", "mask", "host", "~minigrad"])
        np.testing.assert_array_equal(archive["model/fc1.weight"], values["w"])
        header = json.loads(str(archive["~minigrad"]))
    assert header["format"] == "minigrad" and header["version"] == 1
    # Keys with "/" and "~" are escaped as in JSON Pointer.
    mg.save({"a/b": {"~c": mg.zeros(1)}}, tmp_path / "esc.npz")
    assert "a~1b/~0c" in np.load(tmp_path / "esc.npz").files


def test_optimizer_checkpoint_resumes_on_another_device(device, tmp_path):
    rng = np.random.default_rng(3)
    start = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    grads = [[rng.standard_normal((4, 3)), rng.standard_normal(3)] for _ in range(5)]

    def train(params, opt, steps):
        for g in steps:
            for p, gi in zip(params, g, strict=True):
                p.grad = mg.tensor(gi, device=p.device)
            opt.step()

    # Copies: on the CPU a tensor made from an array shares its memory, and steps are in place.
    straight = [mg.tensor(v.copy(), device=device, requires_grad=True) for v in start]
    train(straight, optim.Adam(straight, lr=0.1, amsgrad=True), grads)

    params = [mg.tensor(v.copy(), device="cpu", requires_grad=True) for v in start]
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    train(params, opt, grads[:3])
    mg.save({"model": params, "optimizer": opt.state_dict(), "epoch": 3}, tmp_path / "c.npz")

    ckpt = mg.load(tmp_path / "c.npz", device=device)
    resumed = ckpt["model"]
    opt2 = optim.Adam(resumed, lr=0.5)
    opt2.load_state_dict(ckpt["optimizer"])
    train(resumed, opt2, grads[3:])
    assert ckpt["epoch"] == 3
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_a_crash_while_writing_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"epoch": 1, "w": mg.ones(3)}, path)

    def crashing_write(file, array, **options):
        file.write(b"\x93NUMPY half an array")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(np.lib.format, "write_array", crashing_write)
    with pytest.raises(RuntimeError, match="simulated crash"):
        mg.save({"epoch": 2, "w": mg.zeros(3)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind
    got = mg.load(path)
    assert got["epoch"] == 1 and np.array_equal(got["w"].numpy(), np.ones(3))


def test_save_flushes_the_file_then_its_directory(tmp_path, monkeypatch):
    """Data first, then the directory entry of the rename, so a power cut loses neither."""
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        info = os.fstat(fd)
        synced.append((stat.S_ISDIR(info.st_mode), info.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    mg.save({"w": mg.ones(3)}, tmp_path / "ckpt.npz")
    monkeypatch.undo()
    assert [is_dir for is_dir, _ in synced] == [False, True]
    assert synced[0][1] == os.stat(tmp_path / "ckpt.npz").st_ino  # the file, renamed since
    assert synced[1][1] == os.stat(tmp_path).st_ino


def test_keys_that_are_also_savez_arguments(tmp_path):
    obj = {"file": mg.ones(2), "allow_pickle": mg.zeros(1), "args": [np.arange(3)]}
    mg.save(obj, tmp_path / "k.npz")
    got = mg.load(tmp_path / "k.npz")
    np.testing.assert_array_equal(got["file"].numpy(), np.ones(2))
    np.testing.assert_array_equal(got["allow_pickle"].numpy(), np.zeros(1))
    np.testing.assert_array_equal(got["args"][0], np.arange(3))


def test_saved_file_gets_ordinary_permissions(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    umask = os.umask(0o022)
    try:
        mg.save([1], tmp_path / "p.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "p.npz").stat().st_mode & 0o777 == 0o644


def test_pickle_is_never_used(tmp_path):
    # An archive whose structure points at an array of Python objects (stored by pickle).
    path = tmp_path / "evil.npz"
    header = json.dumps({"format": "minigrad", "version": 1, "object": {"array": "x"}})
    np.savez(path, x=np.array([{"a": 1}], dtype=object), **{"~minigrad": np.array(header)})
    with pytest.raises(ValueError, match=r"evil\.npz.*allow_pickle=False"):
        mg.load(path)
    # A plain pickle file.
    with open(tmp_path / "p.pkl", "wb") as f:
        pickle.dump({"x": 1}, f)
    with pytest.raises(ValueError, match=r"p\.pkl: not a minigrad file"):
        mg.load(tmp_path / "p.pkl")
    # And save refuses what it could only store with pickle.
    with pytest.raises(TypeError, match="array of Python objects at 'x'"):
        mg.save({"x": np.array([None, 1], dtype=object)}, tmp_path / "o.npz")


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "missing.npz")
    (tmp_path / "noise.npz").write_bytes(b"this is not an archive at all")
    with pytest.raises(ValueError, match=r"noise\.npz: not a minigrad file"):
        mg.load(tmp_path / "noise.npz")
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match=r"plain\.npz: an \.npz archive but not a minigrad"):
        mg.load(tmp_path / "plain.npz")
    np.save(tmp_path / "single.npy", np.ones(2))
    with pytest.raises(ValueError, match=r"single\.npy: not a minigrad file"):
        mg.load(tmp_path / "single.npy")
    mg.save({"w": mg.randn(100, 100)}, tmp_path / "cut.npz")
    data = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz: "):
        mg.load(tmp_path / "cut.npz")
    header = json.dumps({"format": "minigrad", "version": 99, "object": None})
    np.savez(tmp_path / "future.npz", **{"~minigrad": np.array(header)})
    with pytest.raises(ValueError, match=r"future\.npz: .*version 99"):
        mg.load(tmp_path / "future.npz")


def test_save_errors_name_the_place(tmp_path):
    with pytest.raises(TypeError, match="cannot save a set at 'config/tags'"):
        mg.save({"config": {"tags": {"a"}}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dict key of type float at 'config'"):
        mg.save({"config": {1.5: 2}}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="both be stored as '1'"):
        mg.save({1: mg.zeros(1), "1": mg.zeros(1)}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)  # a failed save writes nothing
