"""The collectives on Tensors against NumPy, on every rank.

Every rank can compute what every other rank sends: rank r's data comes from a generator
seeded with r. So each rank checks the result of a collective on its own, against NumPy.
"""

import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.distributed import process_group

DTYPES = ["float32", "float64", "int64"]
SHAPES = [(), (7,), (3, 5), (600, 1001)]  # 0-d, small, 2-d, large (600k numbers)
NUMPY_OF = {"sum": lambda s, w: s.sum(axis=0),
            "max": lambda s, w: s.max(axis=0),
            "min": lambda s, w: s.min(axis=0),
            "mean": lambda s, w: s.sum(axis=0) / w if s.dtype.kind == "f"
            else s.sum(axis=0) // w}


def rank_data(r: int, shape, dtype) -> np.ndarray:
    """What rank r sends: integers in [-1000, 1000) for int64, else normal samples."""
    rng = np.random.default_rng(1000 + r)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-1000, 1000, size=shape, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype)


def check_close(got, expected) -> None:
    if expected.dtype.kind == "i":
        np.testing.assert_array_equal(got, expected)
    else:  # the reduction order may differ from NumPy's for more than two ranks
        tol = 1e-6 if expected.dtype == np.float32 else 1e-13
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    assert got.dtype == expected.dtype and got.shape == expected.shape


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_all_reduce_matches_numpy(dist, world, op, dtype, shape):
    rank, size = world
    stacked = np.stack([rank_data(r, shape, dtype) for r in range(size)])
    t = mg.tensor(rank_data(rank, shape, dtype))
    version = t._version
    dist.all_reduce(t, op)
    check_close(t.numpy(), NUMPY_OF[op](stacked, size).astype(dtype))
    assert t._version == version + 1  # graphs that saved the old values refuse to backward


@pytest.mark.parametrize("device", ["strict:device1", "strict:cpu"])
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_all_reduce_on_other_devices_is_staged_through_the_host(dist, world, device, op):
    rank, size = world
    stacked = np.stack([rank_data(r, (4, 3), "float64") for r in range(size)])
    t = mg.tensor(rank_data(rank, (4, 3), "float64"), device=device)
    dist.all_reduce(t, op)
    assert t.device == mg.device(device)
    check_close(t.numpy(), NUMPY_OF[op](stacked, size))


def test_all_reduce_of_a_non_contiguous_array_changes_it_in_place(dist, world):
    rank, size = world
    t = mg.tensor(np.asfortranarray(rank_data(rank, (5, 3), "float64")))
    assert not t.data.flags.c_contiguous
    array = t.data
    dist.all_reduce(t)
    assert t.data is array
    check_close(t.numpy(), sum(rank_data(r, (5, 3), "float64") for r in range(size)))


def test_reduce_op_names_and_unknown_op(dist, world):
    _, size = world
    t = mg.tensor([1.0, 2.0], dtype="float64")
    dist.all_reduce(t, dist.ReduceOp.AVG)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    dist.all_reduce(t, dist.ReduceOp.SUM)
    np.testing.assert_array_equal(t.numpy(), [size, 2.0 * size])
    with pytest.raises(ValueError, match="unknown reduction 'prod'"):
        dist.all_reduce(t, "prod")


@pytest.mark.parametrize("shape", [(), (6,), (300, 401)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_matches_the_source_rank(dist, world, dtype, shape):
    rank, size = world
    src = size - 1
    t = mg.tensor(rank_data(rank, shape, dtype))
    dist.broadcast(t, src=src)
    np.testing.assert_array_equal(t.numpy(), rank_data(src, shape, dtype))
    assert t.dtype == np.dtype(dtype)


def test_broadcast_rejects_a_rank_outside_the_world(dist, world):
    _, size = world
    with pytest.raises(ValueError, match="root must be a rank"):
        dist.broadcast(mg.tensor([1.0]), src=size)


@pytest.mark.parametrize("shape", [(), (4, 3)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_all_gather_fills_one_tensor_per_rank(dist, world, dtype, shape):
    rank, size = world
    received = [mg.zeros(*shape, dtype=dtype) for _ in range(size)]
    dist.all_gather(received, mg.tensor(rank_data(rank, shape, dtype)))
    for r, t in enumerate(received):
        np.testing.assert_array_equal(t.numpy(), rank_data(r, shape, dtype))
        assert t._version == 1


def test_all_gather_checks_its_list(dist, world):
    _, size = world
    with pytest.raises(ValueError, match="one per rank"):
        dist.all_gather([mg.zeros(2)] * (size + 1), mg.zeros(2))
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        dist.all_gather([mg.zeros(3)] * size, mg.zeros(2))


def test_barrier_rank_and_world(dist, world):
    rank, size = world
    dist.barrier()
    assert 0 <= rank < size and 0 <= dist.get_local_rank() <= rank
    assert dist.get_backend() == "mpi"
    assert dist.is_initialized()


def test_stats_count_calls_and_bytes(dist):
    comm = dist.get_communicator("cpu")
    comm.stats.reset()
    dist.all_reduce(mg.zeros(10, dtype="float64"))
    dist.broadcast(mg.zeros(3, dtype="int64"))
    assert comm.stats.calls == {"allreduce": 1, "bcast": 1}
    assert comm.stats.bytes == 10 * 8 + 3 * 8


# -- errors without a group, without MPI, without CuPy -------------------------------------------

def test_calls_before_init_process_group_raise(monkeypatch):
    import minigrad.distributed as dist

    monkeypatch.setattr(process_group, "_group", None)
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(mg.zeros(2)), lambda: dist.broadcast(mg.zeros(2)),
                 lambda: dist.DistributedDataParallel(mg.nn.Linear(2, 2))):
        with pytest.raises(RuntimeError, match="call init_process_group first"):
            call()


def test_init_twice_raises(dist):
    with pytest.raises(RuntimeError, match="already called"):
        dist.init_process_group()


def test_unknown_backend(monkeypatch):
    import minigrad.distributed as dist

    monkeypatch.setattr(process_group, "_group", None)
    with pytest.raises(ValueError, match="unknown backend 'gloo'"):
        dist.init_process_group("gloo")


def test_without_mpi4py_init_says_what_to_install(monkeypatch):
    import minigrad.distributed as dist

    monkeypatch.setattr(process_group, "_group", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `import mpi4py` now fails
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[distributed\]"'):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()
