"""DistributedDataParallel: the same model on every worker, each on its own part of the batch.

Data parallelism in one formula. The loss of a batch of B examples split over W workers,
b = B / W examples each, is the mean of the workers' mean losses:

    L(theta) = 1/B sum_i l_i(theta) = 1/W sum_r L_r(theta),   L_r = 1/b sum_{i in r} l_i,

so its gradient is the mean of the workers' gradients, dL/dtheta = 1/W sum_r dL_r/dtheta.
A training step is therefore: each worker does forward and backward on its own b examples,
the gradients are averaged over the workers (one all-reduce), and every worker applies the
same optimizer step to the same parameters. Started from the same parameters (rank 0's,
broadcast when the wrapper is built), the workers stay identical, step after step, and follow
the trajectory of one process that trains on the whole batch.

Usage (``mpiexec -n 2 python train.py``), as in PyTorch::

    dist.init_process_group()
    model = DistributedDataParallel(model)        # rank 0's parameters everywhere
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for x in my_part_of_each_batch:
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()                           # ... and the gradients are averaged
        opt.step()

**When the gradients are averaged.** As in PyTorch, at the end of every ``backward()`` that
reached the model's parameters: the wrapper registers a hook with autograd
(``autograd.register_multi_grad_hook``), so gradient clipping, logging of gradient norms and
the optimizer all see averaged gradients. Inside ``with model.no_sync():`` backward passes
only accumulate locally (gradient accumulation); the first backward after it averages
everything accumulated. ``synchronize()`` averages explicitly (for a worker that has no
data in a step where others run backward: it must take part in the collective). Unlike
PyTorch, the all-reduces run after the backward pass rather than overlapping
with it (minigrad's backward runs on one thread). An optimizer step on gradients that were
never averaged (updates inside ``no_sync()``) is caught: the next training-mode forward raises.

**Buckets.** One all-reduce per parameter would pay the latency of a collective (tens of
microseconds on a network, more through a launcher) once per tensor. Gradients are instead
packed into a few flat buffers of about ``bucket_cap_mb`` each (PyTorch's default 25 MiB), one
all-reduce per bucket. As in PyTorch, parameters are put into buckets in reverse order, the
order in which backward produces their gradients; parameters of different dtypes or devices
go to different buckets.

**Parameters without a gradient.** A parameter that did not take part in this worker's loss
has ``grad is None``. The worker then contributes zeros for it, and each bucket carries one
extra number per parameter: how many workers had a gradient. Used anywhere, the parameter gets
the average (zeros counted); used nowhere, its ``grad`` stays None on every worker, so the
optimizer skips it everywhere. That is PyTorch's ``find_unused_parameters=True`` behaviour,
without the flag, and it keeps the workers identical.

**Buffers and BatchNorm.** Each worker normalizes with the statistics of its own part of the
batch (PyTorch's DDP does the same). So a model with BatchNorm trained on W workers with b
examples each is not the same as one process with the whole batch; with ``nn.SyncBatchNorm``
(``SyncBatchNorm.convert_sync_batchnorm(model)``) it is, at the cost of all-reduces in every
forward and backward (minigrad/nn/norm.py). Running statistics drift apart between workers;
with ``broadcast_buffers=True`` (PyTorch's default) every training forward first copies rank 0's
buffers to all workers, so evaluation and checkpoints agree.
"""

from __future__ import annotations

import contextlib
import weakref
import zlib

import numpy as np

from minigrad.autograd import is_grad_enabled, register_multi_grad_hook
from minigrad.backend import to_numpy
from minigrad.distributed import process_group
from minigrad.nn.module import Module
from minigrad.tensor import Tensor, _leaf

__all__ = ["DistributedDataParallel"]

MIB = 2**20


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the default process group.

    module:            the model; every worker builds the same one (same parameter shapes,
                       same order). Its parameters and buffers are replaced in place by rank
                       0's, so an optimizer built on them before or after still works.
    bucket_cap_mb:     the size (MiB) at which a gradient bucket is closed; a parameter larger
                       than that gets a bucket of its own.
    broadcast_buffers: copy rank 0's buffers (BatchNorm's running statistics) to every worker
                       at each training forward.

    ``ddp(x)`` is ``module(x)``; ``ddp.module`` is the wrapped model (its state_dict keys
    are those of ``ddp.state_dict()`` without the "module." prefix, as in PyTorch). Gradients
    are averaged at the end of each ``backward()`` (see the module docstring).
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0,
                 broadcast_buffers: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got "
                            f"{type(module).__name__}")
        if bucket_cap_mb < 0:
            raise ValueError(f"bucket_cap_mb must be >= 0, got {bucket_cap_mb}")
        group = process_group._the_group()
        self.module = module
        self.bucket_cap_mb = bucket_cap_mb
        self.broadcast_buffers = broadcast_buffers
        self.world_size = group.size
        # The parameters that train, fixed now: the buckets are laid out once.
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._buffers_list = list(module.buffers())
        _check_same_structure(group, module)
        _broadcast_tensors(group, [*module.parameters(), *self._buffers_list])
        self.buckets = _make_buckets(self._params, bucket_cap_mb * MIB)
        # For the check that no parameter update skips the averaging (see forward).
        self._version_at_forward = self._param_version()
        self._synchronized = True  # no gradient waits to be averaged
        self._sync_enabled = True  # False inside no_sync()
        hook = _averaging_hook(self)
        self._hook = register_multi_grad_hook(self._params, hook)
        hook.handle_box.append(self._hook)

    def forward(self, *args, **kwargs):
        if self.training and is_grad_enabled():
            self._check_synchronized()
            if self.broadcast_buffers and self._buffers_list:
                _broadcast_tensors(process_group._the_group(), self._buffers_list)
        return self.module(*args, **kwargs)

    def synchronize(self) -> None:
        """Average the gradients over the workers: on every worker, for each parameter,

            p.grad <- 1/W sum_r (p.grad on worker r)      (None counts as zeros)

        with one all-reduce per bucket. A parameter without a gradient on every worker keeps
        ``grad = None``. Collective: every worker must call it at the same point. backward()
        calls it (outside ``no_sync()``); call it yourself only where a worker runs no
        backward in a step that others do (no data of its own), so that it takes part."""
        group = process_group._the_group()
        for bucket in self.buckets:
            bucket.average_gradients(group.communicator(bucket.device), self.world_size)
        self._synchronized = True

    def __del__(self):
        hook = getattr(self, "_hook", None)
        if hook is not None:
            hook.remove()

    @contextlib.contextmanager
    def no_sync(self):
        """Inside the block, backward passes only accumulate gradients on each worker (no
        communication); the first backward after it averages what was accumulated, as
        PyTorch's ``no_sync``."""
        previous, self._sync_enabled = self._sync_enabled, False
        try:
            yield
        finally:
            self._sync_enabled = previous

    def _gradients_filled(self) -> None:
        """Called by autograd after a backward that reached the parameters."""
        self._synchronized = False
        if self._sync_enabled:
            self.synchronize()

    def to(self, device=None, dtype=None) -> DistributedDataParallel:
        """Move/cast the wrapped model (as Module.to) and lay the buckets out again for the
        new devices and dtypes. Every worker must do the same."""
        super().to(device, dtype)
        self.buckets = _make_buckets(self._params, self.bucket_cap_mb * MIB)
        return self

    def extra_repr(self) -> str:
        return (f"world_size={self.world_size}, buckets={len(self.buckets)}, "
                f"bucket_cap_mb={self.bucket_cap_mb}")

    # -- the forgotten-synchronize check ------------------------------------------------------
    def _param_version(self) -> int:
        """The sum of the parameters' version counters: it grows with every in-place update
        (an optimizer step bumps each parameter it changes)."""
        return sum(p._version for p in self._params)

    def _check_synchronized(self) -> None:
        version = self._param_version()
        if version != self._version_at_forward and not self._synchronized:
            raise RuntimeError(
                "DistributedDataParallel: the parameters were updated since the last forward "
                "pass, but the gradients were not averaged over the workers, so the workers "
                "now hold different models: a step inside no_sync() (end the block with a "
                "backward outside it, or call model.synchronize() before optimizer.step()). "
                "(To train one worker's copy alone on purpose, call model.module(x) instead.)")
        self._version_at_forward = version


def _averaging_hook(ddp: DistributedDataParallel):
    """The autograd hook of a wrapper, holding it weakly (so that a dropped wrapper is freed
    and its hook removed)."""
    ref = weakref.ref(ddp)
    handle_box = []

    def hook(grads) -> None:
        wrapper = ref()
        if wrapper is None:
            handle_box[0].remove()
            return
        wrapper._gradients_filled()

    hook.handle_box = handle_box
    return hook


class _Bucket:
    """Parameters whose gradients travel together, as one flat array of their dtype:

        [ g_1 (n_1 numbers) | g_2 (n_2) | ... | g_k (n_k) | had_1 ... had_k ]

    g_j is parameter j's gradient flattened (zeros where it has none); had_j is 1 if it has
    one. After the all-reduce (a sum), had_j counts the workers that had a gradient.
    """

    def __init__(self, params: list[Tensor]):
        self.params = params
        self.device = params[0].device
        self.dtype = params[0].dtype
        self.sizes = [p.numel() for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).tolist()
        self.numel = self.offsets[-1]

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def average_gradients(self, comm, world_size: int) -> None:
        xp, dev = self.device.xp, self.device
        had = np.array([p.grad is not None for p in self.params], dtype=self.dtype)
        pieces = [xp.reshape(p.grad.data, (-1,)) if p.grad is not None
                  else xp.zeros((n,), dtype=dev.xp_dtype(self.dtype), device=dev.native)
                  for p, n in zip(self.params, self.sizes, strict=True)]
        # A new buffer every step: the averaged gradients become views into it, so no later
        # step can overwrite a gradient someone still holds.
        flat = xp.concat([*pieces, dev.from_numpy(had)])
        comm.allreduce(flat, "sum")
        had = to_numpy(flat[self.numel:]) > 0
        grads = flat[:self.numel]
        grads /= world_size
        for j, p in enumerate(self.params):
            if not had[j]:
                continue  # no worker had a gradient: leave None everywhere
            view = xp.reshape(grads[self.offsets[j]:self.offsets[j + 1]], p.data.shape)
            if p.grad is None or p.grad.requires_grad:
                p.grad = _leaf(view, dev)
            else:  # keep the grad tensor object, as PyTorch averages it in place
                p.grad.data = view
                p.grad._bump_version()


def _make_buckets(params: list[Tensor], cap_bytes: float) -> list[_Bucket]:
    """Split ``params`` into buckets of one device and dtype each, in reverse order (the order
    backward produces the gradients, as in PyTorch), closing a bucket once it holds at least
    ``cap_bytes``."""
    open_buckets: dict[tuple, list[Tensor]] = {}
    buckets = []
    for p in reversed(params):
        key = (p.device.name, p.dtype)
        members = open_buckets.setdefault(key, [])
        members.append(p)
        if sum(q.numel() for q in members) * p.dtype.itemsize >= cap_bytes:
            buckets.append(_Bucket(members))
            del open_buckets[key]
    buckets.extend(_Bucket(members) for members in open_buckets.values())
    return buckets


def _broadcast_tensors(group, tensors: list[Tensor]) -> None:
    """Overwrite ``tensors`` in place with rank 0's values: one broadcast per (device, dtype),
    of all of that group's tensors packed into one flat array."""
    by_kind: dict[tuple, list[Tensor]] = {}
    for t in tensors:
        by_kind.setdefault((t.device.name, t.dtype), []).append(t)
    for members in by_kind.values():
        dev = members[0].device
        xp = dev.xp
        flat = xp.concat([xp.reshape(t.data, (-1,)) for t in members])
        group.communicator(dev).bcast(flat, root=0)
        offset = 0
        for t in members:
            t.data[...] = xp.reshape(flat[offset:offset + t.numel()], t.data.shape)
            t._bump_version()
            offset += t.numel()


def _check_same_structure(group, module: Module) -> None:
    """Raise on every worker (not just on the odd one, which would leave the others hanging)
    when the workers' models differ in their parameters' or buffers' number, shapes or
    dtypes: a few integers (a checksum of the shapes among them), compared by an all-reduce
    of their minimum and of their maximum."""
    shapes = [(t.shape, str(t.dtype)) for t in [*module.parameters(), *module.buffers()]]
    signature = np.array([len(shapes), sum(int(np.prod(s)) for s, _ in shapes),
                          zlib.crc32(repr(shapes).encode())], dtype=np.int64)
    low, high = signature.copy(), signature.copy()
    group.mpi.allreduce(low, "min")
    group.mpi.allreduce(high, "max")
    if not np.array_equal(low, high):
        raise RuntimeError(
            "DistributedDataParallel: the workers built different models (their parameters "
            f"and buffers differ in number, shape or dtype; here: {len(shapes)} tensors, "
            f"{signature[1]} numbers). Build the same model on every worker.")
