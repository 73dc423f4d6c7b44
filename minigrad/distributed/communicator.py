"""The communicator interface: the collective operations that data-parallel training needs.

A *communicator* connects the ``size`` processes of one job, numbered 0 .. size-1 (``rank``).
A *collective* operation is one that every process calls, in the same order, with arrays of
the same shape and dtype; it returns once this process's part is done. Data parallelism needs
four of them:

    allreduce(a, op)   every rank ends with  op(a_0, a_1, ..., a_{size-1})  elementwise
    bcast(a, root)     every rank ends with  a_root
    allgather(a)       every rank gets the stacked array  [a_0, a_1, ..., a_{size-1}]
    barrier()          no rank leaves before every rank has arrived

The design follows ChainerMN: one abstract ``Communicator`` that the training code talks to,
and one small subclass per transport (``mpi.py``: MPI through mpi4py, for host memory;
``nccl.py``: NVIDIA's NCCL through CuPy, for GPU memory). A subclass implements the
underscored methods (``_allreduce`` ...); the public ones here validate the arguments and
keep ``stats`` (calls, bytes, seconds), so the benchmarks and the tests can see how many
collective calls a training step makes and how long they take.

Arrays are the backend arrays inside Tensors (``tensor.data``), changed in place.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field

from minigrad.backend import device_of

__all__ = ["Communicator", "CommStats", "REDUCE_OPS", "check_op"]

REDUCE_OPS = ("sum", "mean", "max", "min")
"""The reductions of ``allreduce``. "mean" is "sum" followed by a division by ``size``
(floor division for integer arrays, which cannot hold the fraction)."""


def check_op(op: str) -> str:
    """``op`` as one of REDUCE_OPS (case-insensitive; "avg" is accepted for "mean")."""
    name = str(op).lower()
    name = "mean" if name == "avg" else name
    if name not in REDUCE_OPS:
        raise ValueError(f"unknown reduction {op!r}; expected one of {', '.join(REDUCE_OPS)}")
    return name


@dataclass
class CommStats:
    """What a communicator has done since the last ``reset()``.

    calls:   Counter {"allreduce": n, "bcast": n, "allgather": n, "barrier": n}.
    bytes:   payload bytes handed to the collectives (one rank's array, not the network
             traffic, which depends on the algorithm: see docs/distributed.md).
    seconds: wall-clock time spent inside the collectives (for NCCL: the time to enqueue
             them on the GPU stream, unless the stream is synchronized).
    """

    calls: Counter = field(default_factory=Counter)
    bytes: int = 0
    seconds: float = 0.0

    def reset(self) -> None:
        self.calls.clear()
        self.bytes = 0
        self.seconds = 0.0


class Communicator(ABC):
    """The collectives of one group of processes (ChainerMN's ``CommunicatorBase``).

    Attributes:
        rank:       this process's number, 0 .. size-1.
        size:       the number of processes (the *world size*).
        local_rank: this process's number among those on the same machine (pick the GPU
                    with it: ``cuda:{local_rank}``).
        name:       the transport, "mpi" or "nccl".
        stats:      a CommStats, updated by every collective.
    """

    name = "abstract"

    def __init__(self, rank: int, size: int, local_rank: int):
        self.rank = rank
        self.size = size
        self.local_rank = local_rank
        self.stats = CommStats()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(rank={self.rank}, size={self.size}, "
                f"local_rank={self.local_rank})")

    # -- the public collectives: checked and counted ------------------------------------------
    def allreduce(self, array, op: str = "sum") -> None:
        """Reduce ``array`` elementwise over all ranks, in place: afterwards every rank holds
        op(a_0, ..., a_{size-1}), op one of "sum", "mean", "max", "min"."""
        op = check_op(op)
        with self._counted("allreduce", array):
            self._allreduce(array, op)

    def bcast(self, array, root: int = 0) -> None:
        """Overwrite ``array`` on every rank with rank ``root``'s values, in place."""
        self._check_rank(root, "root")
        with self._counted("bcast", array):
            self._bcast(array, root)

    def allgather(self, array):
        """Every rank's ``array``, stacked: a new array of shape (size, *array.shape) on
        ``array``'s device; row r is rank r's array."""
        with self._counted("allgather", array):
            return self._allgather(array)

    def barrier(self) -> None:
        """Return once every rank has called barrier() (and, on GPUs, its queued
        collectives have finished)."""
        with self._counted("barrier", None):
            self._barrier()

    # -- what a transport implements ----------------------------------------------------------
    @abstractmethod
    def _allreduce(self, array, op: str) -> None: ...

    @abstractmethod
    def _bcast(self, array, root: int) -> None: ...

    @abstractmethod
    def _allgather(self, array): ...

    @abstractmethod
    def _barrier(self) -> None: ...

    @abstractmethod
    def abort(self, code: int = 1) -> None:
        """End every process of the job at once, with exit status ``code`` (for errors:
        a rank that stops while the others wait in a collective would hang the job)."""

    @abstractmethod
    def finalize(self) -> None:
        """Release the communicator's resources; it cannot be used afterwards."""

    # -- helpers ------------------------------------------------------------------------------
    def _check_rank(self, rank: int, what: str) -> None:
        if not 0 <= int(rank) < self.size:
            raise ValueError(f"{what} must be a rank in 0 .. {self.size - 1}, got {rank}")

    def _counted(self, name: str, array):
        return _Counted(self.stats, name, 0 if array is None else _nbytes(array))


class _Counted:
    """Context manager that adds one call, its bytes and its duration to a CommStats."""

    __slots__ = ("stats", "name", "nbytes", "start")

    def __init__(self, stats: CommStats, name: str, nbytes: int):
        self.stats, self.name, self.nbytes = stats, name, nbytes

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.stats.seconds += time.perf_counter() - self.start
        self.stats.calls[self.name] += 1
        self.stats.bytes += self.nbytes


def _nbytes(array) -> int:
    """Bytes of a NumPy/CuPy/array_api_strict array (the last has no ``nbytes``)."""
    nbytes = getattr(array, "nbytes", None)
    if nbytes is not None:
        return int(nbytes)
    return math.prod(array.shape) * device_of(array).canonical(array.dtype).itemsize
