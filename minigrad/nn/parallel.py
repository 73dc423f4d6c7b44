"""Data-parallel wrappers, where PyTorch keeps them (``torch.nn.parallel``).

    from minigrad.nn.parallel import DistributedDataParallel

The implementation lives in ``minigrad/distributed/ddp.py``, next to the collectives it uses.
"""

from minigrad.distributed.ddp import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
