"""The MPI communicator: collectives on host memory through mpi4py.

MPI (the Message Passing Interface) is the standard library for collectives between the
processes of one job; ``mpiexec -n 4 python train.py`` starts four copies of the script and
connects them. mpi4py has two spellings of each collective: lower-case ones (``allreduce``)
pickle arbitrary Python objects, upper-case ones (``Allreduce``) hand a contiguous buffer
straight to the C library. Gradients are large arrays, so only the buffer-based ones are used
here: no pickling, no extra copy.

Arrays on other devices (CuPy on a GPU, the array_api_strict test devices) and
non-contiguous NumPy arrays are *staged*: copied into a contiguous host array, reduced there,
and copied back. That is correct everywhere and fast on the CPU; on GPUs use NCCL
(``nccl.py``) instead, which reduces in GPU memory.
"""

from __future__ import annotations

import numpy as np

from minigrad.backend import device_of, to_numpy
from minigrad.distributed.communicator import Communicator

__all__ = ["MpiCommunicator", "import_mpi", "INSTALL_HINT"]

INSTALL_HINT = ('install the distributed extra: pip install -e ".[distributed]"  (mpi4py and the '
                "MPICH wheel, which brings mpiexec); then start the job with "
                "mpiexec -n 2 python your_script.py")


def import_mpi():
    """mpi4py's ``MPI`` module (importing it initializes MPI), or one clear ImportError."""
    try:
        from mpi4py import MPI
    except (ImportError, OSError, RuntimeError) as err:  # missing package, or no libmpi
        raise ImportError(f"minigrad.distributed needs mpi4py and an MPI library ({err}); "
                          + INSTALL_HINT) from err
    return MPI


class MpiCommunicator(Communicator):
    """Collectives over MPI on host (NumPy) memory; other arrays are staged through it.

    comm: the mpi4py communicator to use (default: a duplicate of ``MPI.COMM_WORLD``, so that
          our collectives never match messages of other MPI code in the same program, as
          ChainerMN does).
    """

    name = "mpi"

    def __init__(self, comm=None):
        MPI = import_mpi()
        self.MPI = MPI
        self._owns_comm = comm is None
        self.comm = MPI.COMM_WORLD.Dup() if comm is None else comm
        # The processes that share this machine's memory: their order gives the local rank.
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        local_rank = node.Get_rank()
        node.Free()
        super().__init__(self.comm.Get_rank(), self.comm.Get_size(), local_rank)
        self._ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def _allreduce(self, array, op: str) -> None:
        host, staged = _host_buffer(array)
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self._ops[op])
        if op == "mean":
            if host.dtype.kind == "f":
                host /= self.size
            else:  # integers cannot hold the fraction: round down, as NumPy's //
                host //= self.size
        if staged:
            _write_back(array, host)

    def _bcast(self, array, root: int) -> None:
        host, staged = _host_buffer(array)
        self.comm.Bcast(host, root=root)
        if staged and self.rank != root:
            _write_back(array, host)

    def _allgather(self, array):
        host, _ = _host_buffer(array)
        out = np.empty((self.size, *host.shape), dtype=host.dtype)
        self.comm.Allgather(host, out)
        return out if isinstance(array, np.ndarray) else device_of(array).from_numpy(out)

    def _barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        # All of MPI_COMM_WORLD: the launcher then stops every process of the job.
        self.MPI.COMM_WORLD.Abort(code)

    def finalize(self) -> None:
        if self._owns_comm and self.comm != self.MPI.COMM_NULL:
            self.comm.Free()


def _host_buffer(array) -> tuple[np.ndarray, bool]:
    """(a C-contiguous, writeable NumPy array with ``array``'s values, whether it is a copy
    that must be written back). A contiguous NumPy array is its own buffer: no copy."""
    if isinstance(array, np.ndarray) and array.flags.c_contiguous and array.flags.writeable:
        return array, False
    return np.array(to_numpy(array), order="C", copy=True), True


def _write_back(array, host: np.ndarray) -> None:
    """Copy the host buffer's values into ``array`` in place (on ``array``'s device)."""
    if isinstance(array, np.ndarray):
        array[...] = host
    else:
        array[...] = device_of(array).from_numpy(host)
