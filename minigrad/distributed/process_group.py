"""The default process group and the collectives on Tensors (PyTorch's torch.distributed).

A training script runs as several copies of itself (``mpiexec -n 4 python train.py``), one
per worker. Each copy calls ``init_process_group()`` once; from then on

    get_rank()          this worker's number, 0 .. world_size-1
    get_world_size()    the number of workers
    all_reduce(t, op)   t <- op(t_0, ..., t_{W-1}) on every worker, in place
    broadcast(t, src)   t <- t_src on every worker, in place
    all_gather(ts, t)   ts[r] <- t_r for every rank r, in place
    barrier()           wait until every worker got here

and one differentiable collective, for computations that span the workers (SyncBatchNorm):

    all_reduce_sum(t)   a new tensor t_0 + ... + t_{W-1}; its backward all-reduces too

Every worker must call the same collectives in the same order, with tensors of the same shape
and dtype: they are rendezvous points. A worker that skips one (or dies) leaves the others
waiting forever; that is why ``init_process_group`` makes an uncaught exception on any worker
print its traceback and abort the whole job (``MPI_Abort``) instead of exiting quietly.

Which transport carries a tensor depends on ``backend`` and on the tensor's device:

    backend    CPU / strict tensors                CUDA tensors
    "mpi"      MPI on host memory                  MPI, staged through host memory
    "nccl"     error (NCCL reduces GPU memory)     NCCL
    None       MPI                                 NCCL (set up at the first CUDA collective)

None is PyTorch's default too (gloo for CPU, NCCL for CUDA tensors). Every backend needs MPI:
mpiexec starts the processes and MPI bootstraps NCCL.
"""

from __future__ import annotations

import datetime
import sys
import time

from minigrad.backend import Device
from minigrad.distributed.communicator import Communicator, check_op
from minigrad.distributed.mpi import MpiCommunicator
from minigrad.distributed.nccl import NcclCommunicator, import_nccl
from minigrad.tensor import Tensor, _linear

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "get_rank",
           "get_world_size", "get_local_rank", "get_backend", "get_communicator", "ReduceOp",
           "all_reduce", "broadcast", "all_gather", "barrier", "broadcast_object_list",
           "monitored_barrier", "all_reduce_sum", "sum_over_ranks"]

BACKENDS = (None, "mpi", "nccl")


class ReduceOp:
    """PyTorch's names for the reductions of ``all_reduce`` (plain strings work too)."""

    SUM = "sum"
    AVG = "mean"
    MAX = "max"
    MIN = "min"


class ProcessGroup:
    """The workers of the job and the communicators that connect them.

    backend: None, "mpi" or "nccl" (see the module docstring). The MPI communicator always
    exists; the NCCL one is built at the first collective on a CUDA tensor (on that tensor's
    GPU), as PyTorch does.
    """

    def __init__(self, backend: str | None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected 'mpi', 'nccl' or None "
                             "(MPI for CPU tensors, NCCL for CUDA tensors)")
        if backend == "nccl":
            import_nccl()  # say now, not at the first collective, that CuPy/NCCL is missing
        self.backend = backend
        self.mpi = MpiCommunicator()
        self.nccl: NcclCommunicator | None = None
        # For monitored_barrier alone: a rank that waits there must never match a collective
        # that another rank, stuck in training, is still in.
        self.monitor = self.mpi.comm.Dup()

    @property
    def rank(self) -> int:
        return self.mpi.rank

    @property
    def size(self) -> int:
        return self.mpi.size

    def communicator(self, device: Device) -> Communicator:
        """The communicator for tensors on ``device``."""
        if device.type == "cuda" and self.backend in (None, "nccl"):
            if self.nccl is None:
                self.nccl = NcclCommunicator(self.mpi, device.index)
            return self.nccl
        if self.backend == "nccl":
            raise RuntimeError(f"the 'nccl' backend works on CUDA tensors, got one on {device}; "
                               "use init_process_group() (backend None: MPI for CPU tensors, "
                               "NCCL for CUDA tensors) or backend='mpi'")
        return self.mpi

    def abort(self, code: int = 1) -> None:
        (self.nccl or self.mpi).abort(code)

    def finalize(self) -> None:
        if self.nccl is not None:
            self.nccl.finalize()
        self.monitor.Free()
        self.mpi.finalize()


_group: ProcessGroup | None = None
_previous_excepthook = None


def _the_group() -> ProcessGroup:
    if _group is None:
        raise RuntimeError("minigrad.distributed: the default process group is not initialized; "
                           "call init_process_group first")
    return _group


# -- setting up and tearing down -----------------------------------------------------------------

def init_process_group(backend: str | None = None) -> None:
    """Join this process to the job's default group (call once per process, before any other
    function of minigrad.distributed).

    backend: "mpi" (host memory; CUDA tensors staged through it), "nccl" (CUDA tensors only)
    or None (MPI for CPU tensors, NCCL for CUDA tensors). Started without mpiexec, the
    process is a group of one (world size 1), so the same script runs unchanged alone.

    With more than one worker, an uncaught exception on any of them now prints its traceback
    and aborts the whole job (every rank exits with a non-zero status) instead of leaving the
    others blocked in their next collective.
    """
    global _group, _previous_excepthook
    if _group is not None:
        raise RuntimeError("init_process_group was already called; call "
                           "destroy_process_group() first to start a new group")
    group = ProcessGroup(backend)
    _group = group
    if group.size > 1:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught_exception


def destroy_process_group() -> None:
    """Leave the default group: release its communicators and restore the exception hook.
    (MPI itself stays initialized until the process exits.)"""
    global _group, _previous_excepthook
    group = _the_group()
    _group = None
    if _previous_excepthook is not None:
        sys.excepthook = _previous_excepthook
        _previous_excepthook = None
    group.finalize()


# How long a rank stopped by Ctrl-C waits for the others to stop too before aborting the job.
INTERRUPT_GRACE_SECONDS = 30.0


def _abort_on_uncaught_exception(exc_type, exc, tb) -> None:
    """sys.excepthook while a group of several workers exists: report, then end the job.

    Ctrl-C on mpiexec reaches every rank. Aborting at once would kill rank 0 while it still
    saves a checkpoint, so after a KeyboardInterrupt a rank first waits (at most
    INTERRUPT_GRACE_SECONDS) until every rank has come here too, and then exits without
    aborting; a rank stuck in a collective that the others left keeps them from coming, and
    then the job is aborted after all."""
    group = _group
    try:
        (_previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)
        if group is not None and issubclass(exc_type, KeyboardInterrupt):
            sys.stderr.flush()
            try:
                monitored_barrier(INTERRUPT_GRACE_SECONDS)
            except RuntimeError:
                pass
            else:
                group = None  # every rank stopped: nothing to abort
        if group is not None:
            sys.stderr.write(
                f"\nminigrad.distributed: rank {group.rank} of {group.size} stopped with the "
                f"uncaught {exc_type.__name__} above; aborting the whole job (MPI_Abort), so "
                "that the other ranks do not wait for it forever\n")
        sys.stderr.flush()
    finally:
        if group is not None:
            group.abort(1)


# -- who am I ---------------------------------------------------------------------------------

def is_initialized() -> bool:
    """Whether init_process_group() has been called (and destroy_process_group() not since)."""
    return _group is not None


def get_rank() -> int:
    """This worker's number, 0 .. get_world_size()-1 (rank 0 usually logs and saves)."""
    return _the_group().rank


def get_world_size() -> int:
    """The number of workers in the job."""
    return _the_group().size


def get_local_rank() -> int:
    """This worker's number among the workers on the same machine: use GPU
    ``cuda:{get_local_rank()}`` to give each worker its own GPU."""
    return _the_group().mpi.local_rank


def get_backend() -> str:
    """"mpi", "nccl", or "cpu:mpi,cuda:nccl" for backend None (PyTorch's notation)."""
    backend = _the_group().backend
    return "cpu:mpi,cuda:nccl" if backend is None else backend


def get_communicator(device="cpu") -> Communicator:
    """The communicator that carries tensors on ``device`` (for its ``stats``)."""
    from minigrad.backend import device as _device

    return _the_group().communicator(_device(device))


# -- collectives on tensors -------------------------------------------------------------------

def all_reduce(tensor: Tensor, op: str = "sum") -> None:
    """tensor <- op(tensor on rank 0, ..., tensor on rank W-1), elementwise, on every rank, in
    place. op: "sum", "mean" (sum / W; floor division for integer tensors), "max" or "min"
    (or ``ReduceOp.SUM`` ...). Any shape, 0-d included."""
    _check_tensor(tensor, "all_reduce")
    op = check_op(op)
    _the_group().communicator(tensor.device).allreduce(tensor.data, op)
    tensor._bump_version()  # an in-place change: graphs that saved the old values refuse


def broadcast(tensor: Tensor, src: int = 0) -> None:
    """tensor <- rank ``src``'s tensor on every rank, in place."""
    _check_tensor(tensor, "broadcast")
    _the_group().communicator(tensor.device).bcast(tensor.data, root=src)
    tensor._bump_version()


def all_gather(tensor_list: list[Tensor], tensor: Tensor) -> None:
    """tensor_list[r] <- rank r's ``tensor``, for every r, on every rank, in place (PyTorch's
    signature). tensor_list: get_world_size() tensors of ``tensor``'s shape, dtype and
    device."""
    _check_tensor(tensor, "all_gather")
    group = _the_group()
    if len(tensor_list) != group.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a world "
                         f"of {group.size}; give one per rank")
    for r, t in enumerate(tensor_list):
        _check_tensor(t, "all_gather")
        if t.shape != tensor.shape or t.dtype != tensor.dtype or t.device is not tensor.device:
            raise ValueError(f"all_gather: tensor_list[{r}] is {t.shape} {t.dtype} on "
                             f"{t.device}; expected {tensor.shape} {tensor.dtype} on "
                             f"{tensor.device}, like the tensor sent")
    gathered = group.communicator(tensor.device).allgather(tensor.data)
    for r, t in enumerate(tensor_list):
        t.data[...] = gathered[r]
        t._bump_version()


def broadcast_object_list(object_list: list, src: int = 0) -> None:
    """object_list[i] <- rank ``src``'s object_list[i], for every i, on every rank, in place
    (PyTorch's signature). The objects are pickled and sent over MPI from host memory: for
    small Python objects (a flag, a dict of settings, a file's bytes), not for tensors, which
    ``broadcast`` sends without pickling. Every rank passes a list of the same length."""
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list takes a list, got {type(object_list).__name__}")
    group = _the_group()
    received = group.mpi.comm.bcast(object_list if group.rank == src else None, root=src)
    if len(received) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(received)} objects, "
                         f"this rank's list has {len(object_list)}")
    object_list[:] = received


def sum_over_ranks(value: int | float) -> int | float:
    """The sum of a Python number over all ranks, on every rank, sent by MPI from host
    memory: for counts known on the host (e.g. from shapes), without a device
    synchronisation. Every rank must call it."""
    return _the_group().mpi.comm.allreduce(value)


def barrier() -> None:
    """Wait until every rank has called barrier()."""
    group = _the_group()
    (group.nccl or group.mpi).barrier()


def monitored_barrier(timeout: float | datetime.timedelta | None = None) -> None:
    """Wait until every rank has called monitored_barrier(), at most ``timeout`` (seconds or
    a timedelta; None: forever); raise RuntimeError on this rank when some rank did not
    come in time (PyTorch's, which only gloo offers). On a communicator of its own, so it
    is safe to call while another rank may be blocked in a collective that will never
    complete: after Ctrl-C, say, to let every rank finish its work before the job ends."""
    group = _the_group()
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    request = group.monitor.Ibarrier()
    deadline = None if timeout is None else time.monotonic() + timeout
    while not request.Test():
        if deadline is not None and time.monotonic() > deadline:
            # The request stays pending; the process is expected to stop (or abort) now.
            raise RuntimeError(f"monitored_barrier: not every rank arrived within {timeout} s")
        time.sleep(0.005)


# -- a differentiable collective ----------------------------------------------------------------

def all_reduce_sum(tensor: Tensor) -> Tensor:
    """y = x_0 + x_1 + ... + x_{W-1}, elementwise, the same new tensor on every rank (x_r is
    rank r's ``tensor``, which stays unchanged), with autograd through it: PyTorch's
    ``torch.distributed.nn.functional.all_reduce`` with op SUM. Any shape.

    Backward: dx = g_0 + g_1 + ... + g_{W-1}, the all-reduced sum of the ranks' gradients g_r
    = dL_r/dy of their own losses L_r. Why: y is an input of every rank's loss, and x_r reaches
    all of them through y, so the gradient of the total L_0 + ... + L_{W-1} with respect to
    x_r is sum_s dL_s/dy * dy/dx_r = sum_s g_s (dy/dx_r is the identity). Each rank thus
    back-propagates, into its own part of the computation, the gradient of the workers' total
    loss; DistributedDataParallel then averages the parameter gradients over the ranks, and the
    two together give the gradient of the mean loss 1/W sum_s L_s, as one process computing
    everything would. (As a linear map of all ranks' x at once, the all-reduce is symmetric,
    so it is its own adjoint: the backward is the same collective, to any order.)

    Every rank must call it, and later run the backward through it, in the same order: both
    are collectives.
    """
    _check_tensor(tensor, "all_reduce_sum")
    communicator = _the_group().communicator(tensor.device)
    xp = tensor.device.xp

    def summed(array):
        array = xp.asarray(array, copy=True)  # the result is new; the input stays as it was
        communicator.allreduce(array, "sum")
        return array

    return _linear(tensor, summed, summed, "all_reduce_sum")


def _check_tensor(tensor, op: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op} takes a minigrad Tensor, got {type(tensor).__name__}")
