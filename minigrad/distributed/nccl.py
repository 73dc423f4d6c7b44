"""The NCCL communicator: collectives in GPU memory through CuPy's NCCL bindings.

NCCL (NVIDIA Collective Communications Library) runs the collectives as GPU kernels, over
NVLink between the GPUs of one machine and over InfiniBand/Ethernet between machines, without
copying the arrays to host memory. It is what PyTorch's "nccl" backend and ChainerMN's
``PureNcclCommunicator`` use.

NCCL cannot start a job by itself: every process needs the same *unique id*, made by one of
them. As in ChainerMN, MPI does that bootstrap: rank 0 calls ``nccl.get_unique_id()`` and
broadcasts it over MPI; then each rank builds its ``NcclCommunicator(size, id, rank)`` on its
own GPU. MPI stays in use for the barrier and for aborting the job on errors.

Collectives are enqueued on the current CUDA stream and return at once, so a later kernel on
that stream sees their result; ``barrier()`` waits for them.
"""

from __future__ import annotations

import numpy as np

from minigrad.distributed.communicator import Communicator
from minigrad.distributed.mpi import MpiCommunicator

__all__ = ["NcclCommunicator", "import_nccl", "INSTALL_HINT"]

INSTALL_HINT = ('the NCCL backend needs CuPy and the NCCL library: pip install -e ".[cuda12]" '
                '(or ".[cuda13]") and pip install nvidia-nccl-cu12 (or a system libnccl); '
                'without GPUs use backend="mpi"')


def import_nccl():
    """(cupy, cupy.cuda.nccl), or one clear ImportError saying what to install."""
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    if not getattr(nccl, "available", True):  # CuPy is there, but it found no libnccl
        raise ImportError(f"CuPy is installed but cannot load NCCL; {INSTALL_HINT}")
    return cupy, nccl


class NcclCommunicator(Communicator):
    """Collectives over NCCL on CuPy arrays of one GPU.

    mpi:    the MpiCommunicator of the same processes (bootstrap, barrier, abort).
    device: the index of this rank's GPU (default: ``mpi.local_rank``, one GPU per process).
    """

    name = "nccl"

    def __init__(self, mpi: MpiCommunicator, device: int | None = None):
        cupy, nccl = import_nccl()
        super().__init__(mpi.rank, mpi.size, mpi.local_rank)
        self.cupy, self.nccl_module, self.mpi = cupy, nccl, mpi
        self.device = mpi.local_rank if device is None else int(device)
        # NCCL's enums, looked up by name (they are plain ints in CuPy's bindings).
        self._dtypes = {np.dtype(name): getattr(nccl, "NCCL_" + name.upper())
                        for name in ("float16", "float32", "float64", "int32", "int64",
                                     "uint8")
                        if hasattr(nccl, "NCCL_" + name.upper())}
        self._ops = {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX,
                     "min": nccl.NCCL_MIN}
        unique_id = nccl.get_unique_id() if self.rank == 0 else None
        unique_id = mpi.comm.bcast(unique_id, root=0)  # a small tuple: the pickling bcast
        with cupy.cuda.Device(self.device):
            self.comm = nccl.NcclCommunicator(self.size, unique_id, self.rank)

    # -- the collectives ------------------------------------------------------------------------
    def _allreduce(self, array, op: str) -> None:
        buf = self._contiguous(array)
        with self.cupy.cuda.Device(self.device):
            self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtype(buf),
                                self._ops[op], self._stream())
            if op == "mean":
                if buf.dtype.kind == "f":
                    buf /= self.size
                else:  # integers cannot hold the fraction: round down, as NumPy's //
                    buf //= self.size
            if buf is not array:
                array[...] = buf

    def _bcast(self, array, root: int) -> None:
        buf = self._contiguous(array)
        with self.cupy.cuda.Device(self.device):
            self.comm.bcast(buf.data.ptr, buf.size, self._dtype(buf), root, self._stream())
            if buf is not array:
                array[...] = buf

    def _allgather(self, array):
        buf = self._contiguous(array)
        with self.cupy.cuda.Device(self.device):
            out = self.cupy.empty((self.size, *buf.shape), dtype=buf.dtype)
            self.comm.allGather(buf.data.ptr, out.data.ptr, buf.size, self._dtype(buf),
                                self._stream())
        return out

    def _barrier(self) -> None:
        with self.cupy.cuda.Device(self.device):
            self.cupy.cuda.get_current_stream().synchronize()
        self.mpi.barrier()

    def abort(self, code: int = 1) -> None:
        try:
            self.comm.abort()  # stop NCCL kernels that wait for a peer that will never come
        finally:
            self.mpi.abort(code)

    def finalize(self) -> None:
        self.comm.destroy()

    # -- helpers ----------------------------------------------------------------------------------
    def _stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr

    def _dtype(self, array) -> int:
        dtype = np.dtype(array.dtype)
        if dtype not in self._dtypes:
            raise TypeError(f"NCCL cannot reduce {dtype} arrays; use one of "
                            + ", ".join(str(d) for d in self._dtypes))
        return self._dtypes[dtype]

    def _contiguous(self, array):
        """``array`` itself when it is a C-contiguous CuPy array on this GPU, else a
        contiguous copy (written back after the collective)."""
        if not type(array).__module__.startswith("cupy"):
            raise TypeError(f"the NCCL backend works on GPU (CuPy) arrays, got a "
                            f"{type(array).__module__}.{type(array).__name__}; move the tensor "
                            f"with .to('cuda:{self.device}'), or use backend='mpi' for CPU "
                            "tensors")
        if array.device.id != self.device:
            raise ValueError(f"this rank's NCCL communicator is on cuda:{self.device}, the array "
                             f"on cuda:{array.device.id}; give each process one GPU")
        if array.flags.c_contiguous:
            return array
        with self.cupy.cuda.Device(self.device):
            return self.cupy.ascontiguousarray(array)
