"""Data-parallel training over several processes: PyTorch's ``torch.distributed`` and
``DistributedDataParallel``, on MPI (CPU) and NCCL (GPU).

    import minigrad.distributed as dist
    from minigrad.nn.parallel import DistributedDataParallel

    dist.init_process_group()            # backend None: MPI for CPU tensors, NCCL for CUDA
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DistributedDataParallel(build_model())
    ...
    loss.backward()                      # also averages the gradients over the workers
    opt.step()

Start the script with ``mpiexec -n 4 python train.py``; started alone it is a world of one.
Needs ``pip install -e ".[distributed]"`` (mpi4py and MPICH); NCCL also needs CuPy and NCCL.

Files, in reading order: ``communicator.py`` (the interface: allreduce, bcast, allgather,
barrier), ``mpi.py`` and ``nccl.py`` (its two transports), ``process_group.py`` (the default
group and the collectives on Tensors), ``ddp.py`` (DistributedDataParallel: broadcast,
gradient buckets, averaging). docs/distributed.md explains the costs.
"""

from minigrad.distributed.communicator import REDUCE_OPS, CommStats, Communicator
from minigrad.distributed.ddp import DistributedDataParallel
from minigrad.distributed.mpi import MpiCommunicator
from minigrad.distributed.nccl import NcclCommunicator
from minigrad.distributed.process_group import (
    ReduceOp,
    all_gather,
    all_reduce,
    all_reduce_sum,
    barrier,
    broadcast,
    broadcast_object_list,
    destroy_process_group,
    get_backend,
    get_communicator,
    get_local_rank,
    get_rank,
    get_world_size,
    init_process_group,
    is_initialized,
    monitored_barrier,
    sum_over_ranks,
)

__all__ = [
    "init_process_group", "destroy_process_group", "is_initialized",
    "get_rank", "get_world_size", "get_local_rank", "get_backend", "get_communicator",
    "ReduceOp", "all_reduce", "broadcast", "all_gather", "barrier", "all_reduce_sum",
    "sum_over_ranks",
    "broadcast_object_list", "monitored_barrier", "DistributedDataParallel",
    "Communicator", "CommStats", "MpiCommunicator", "NcclCommunicator", "REDUCE_OPS",
]
