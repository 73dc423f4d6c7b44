"""The NCCL communicator without a GPU: its interface, its errors, and its calls into CuPy's
NCCL bindings, checked against a stand-in for ``cupy.cuda.nccl`` in a world of one.

(On a machine with GPUs, the collective tests run through NCCL when given CUDA tensors; here
the stand-in shows that the right buffers, counts, dtypes and reductions reach NCCL.)
"""

import ctypes
import sys
import types
from contextlib import nullcontext

import numpy as np
import pytest

import minigrad.distributed as dist
from minigrad.distributed import Communicator, NcclCommunicator, process_group
from minigrad.distributed.process_group import ProcessGroup


def test_nccl_communicator_implements_the_whole_interface():
    assert issubclass(NcclCommunicator, Communicator)
    assert not NcclCommunicator.__abstractmethods__
    for method in ("allreduce", "bcast", "allgather", "barrier", "abort", "finalize"):
        assert callable(getattr(NcclCommunicator, method))


def hide_cupy(monkeypatch):
    for name in ("cupy", "cupy.cuda", "cupy.cuda.nccl"):
        monkeypatch.setitem(sys.modules, name, None)  # `import cupy` now fails


def test_without_cupy_the_nccl_backend_says_what_to_install(monkeypatch):
    hide_cupy(monkeypatch)
    monkeypatch.setattr(process_group, "_group", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[cuda12\]"'):
        dist.init_process_group("nccl")  # before MPI is even needed
    assert not dist.is_initialized()


def test_without_cupy_the_communicator_says_what_to_install(monkeypatch, dist):
    hide_cupy(monkeypatch)
    with pytest.raises(ImportError, match=r"nvidia-nccl-cu12.*backend=\"mpi\""):
        NcclCommunicator(dist.get_communicator("cpu"))


# -- a stand-in for CuPy and its NCCL bindings ---------------------------------------------------

class FakeGpuArray:
    """Just enough of a CuPy array: NumPy memory on a pretend GPU."""

    __module__ = "cupy.fake"  # NcclCommunicator recognizes CuPy arrays by their module

    def __init__(self, host: np.ndarray, device_id: int = 0):
        self.host = host
        self.device = types.SimpleNamespace(id=device_id)

    shape = property(lambda self: self.host.shape)
    size = property(lambda self: self.host.size)
    dtype = property(lambda self: self.host.dtype)
    nbytes = property(lambda self: self.host.nbytes)
    flags = property(lambda self: self.host.flags)
    data = property(lambda self: types.SimpleNamespace(ptr=self.host.ctypes.data))

    def __itruediv__(self, k):
        self.host /= k
        return self

    def __ifloordiv__(self, k):
        self.host //= k
        return self

    def __setitem__(self, key, value):
        self.host[key] = value.host if isinstance(value, FakeGpuArray) else value


def fake_cupy(calls: list) -> types.ModuleType:
    """cupy, cupy.cuda and cupy.cuda.nccl for a world of one; NCCL calls go to ``calls``."""
    nccl = types.ModuleType("cupy.cuda.nccl")
    nccl.available = True
    nccl.NCCL_INT64, nccl.NCCL_FLOAT32, nccl.NCCL_FLOAT64 = 4, 7, 8
    nccl.NCCL_SUM, nccl.NCCL_MAX, nccl.NCCL_MIN = 0, 2, 3
    nccl.get_unique_id = lambda: (42,) * 8
    itemsize = {4: 8, 7: 4, 8: 8}

    class FakeNcclCommunicator:
        def __init__(self, ndev, unique_id, rank):
            calls.append(("init", ndev, unique_id, rank))

        def allReduce(self, send, recv, count, dtype, op, stream):  # noqa: N802 (CuPy's name)
            calls.append(("allReduce", send == recv, count, dtype, op))

        def bcast(self, buff, count, dtype, root, stream):
            calls.append(("bcast", count, dtype, root))

        def allGather(self, send, recv, count, dtype, stream):  # noqa: N802 (CuPy's name)
            calls.append(("allGather", count, dtype))
            ctypes.memmove(recv, send, count * itemsize[dtype])  # a world of one

        def destroy(self):
            calls.append(("destroy",))

    nccl.NcclCommunicator = FakeNcclCommunicator
    stream = types.SimpleNamespace(ptr=0, synchronize=lambda: calls.append(("sync",)))
    cuda = types.ModuleType("cupy.cuda")
    cuda.nccl = nccl
    cuda.Device = lambda index: nullcontext()
    cuda.get_current_stream = lambda: stream
    cupy = types.ModuleType("cupy")
    cupy.cuda = cuda
    cupy.empty = lambda shape, dtype: FakeGpuArray(np.empty(shape, dtype))
    cupy.ascontiguousarray = lambda a: FakeGpuArray(np.ascontiguousarray(a.host), a.device.id)
    return cupy


@pytest.fixture
def nccl_calls(monkeypatch, world):
    if world[1] > 1:
        pytest.skip("the stand-in for NCCL connects a world of one")
    calls = []
    cupy = fake_cupy(calls)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cupy.cuda)
    monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", cupy.cuda.nccl)
    return calls


def test_nccl_collectives_reach_the_bindings(dist, nccl_calls):
    comm = NcclCommunicator(dist.get_communicator("cpu"), device=0)
    assert nccl_calls == [("init", 1, (42,) * 8, 0)]  # the id came over MPI from rank 0

    a = FakeGpuArray(np.array([2.0, 4.0, 6.0], dtype=np.float32))
    comm.allreduce(a, "mean")  # NCCL sums in place; the division by the world size follows
    assert nccl_calls[-1] == ("allReduce", True, 3, 7, 0)
    np.testing.assert_array_equal(a.host, [2.0, 4.0, 6.0])
    comm.allreduce(FakeGpuArray(np.arange(3)), "max")
    assert nccl_calls[-1] == ("allReduce", True, 3, 4, 2)

    strided = FakeGpuArray(np.zeros((4, 6))[:, ::2])  # not contiguous: staged, written back
    comm.bcast(strided, root=0)
    assert nccl_calls[-1] == ("bcast", 12, 8, 0)

    gathered = comm.allgather(FakeGpuArray(np.array(5.0)))  # 0-d
    assert nccl_calls[-1] == ("allGather", 1, 8)
    assert gathered.shape == (1,) and gathered.host[0] == 5.0

    comm.barrier()
    assert nccl_calls[-1] == ("sync",)
    assert comm.stats.calls == {"allreduce": 2, "bcast": 1, "allgather": 1, "barrier": 1}
    comm.finalize()
    assert nccl_calls[-1] == ("destroy",)


def test_nccl_refuses_host_arrays_other_gpus_and_other_dtypes(dist, nccl_calls):
    comm = NcclCommunicator(dist.get_communicator("cpu"), device=0)
    with pytest.raises(TypeError, match="works on GPU"):
        comm.allreduce(np.zeros(3))
    with pytest.raises(ValueError, match="on cuda:0, the array on cuda:1"):
        comm.allreduce(FakeGpuArray(np.zeros(3), device_id=1))
    with pytest.raises(TypeError, match="NCCL cannot reduce bool"):
        comm.allreduce(FakeGpuArray(np.zeros(3, dtype=bool)))


def test_process_group_sends_cuda_tensors_through_nccl(dist, nccl_calls):
    cuda0 = types.SimpleNamespace(type="cuda", index=0)
    default = ProcessGroup(None)  # MPI for CPU tensors, NCCL (made when first needed) for CUDA
    try:
        assert default.communicator(_cpu()).name == "mpi"
        assert default.nccl is None
        assert default.communicator(cuda0).name == "nccl"
    finally:
        default.finalize()
    only_nccl = ProcessGroup("nccl")
    try:
        with pytest.raises(RuntimeError, match="works on CUDA tensors"):
            only_nccl.communicator(_cpu())
    finally:
        only_nccl.finalize()
    staged = ProcessGroup("mpi")  # CUDA tensors through MPI, via host memory
    try:
        assert staged.communicator(cuda0).name == "mpi"
    finally:
        staged.finalize()


def _cpu():
    import minigrad as mg

    return mg.device("cpu")
