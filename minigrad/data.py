"""Mini-batches from arrays in host memory: ``DataLoader(x, y, batch_size=64, shuffle=True)``.

Each batch is gathered on the host (NumPy fancy indexing) and copied to the device once per
array, so a GPU sees one transfer per array per batch.

For data-parallel training, ``DataLoader(x, batch_size=32, sampler=DistributedSampler(len(x)))``
gives each worker its own share of every epoch (PyTorch's ``DistributedSampler``).
"""

from __future__ import annotations

import numpy as np

from minigrad.backend import device as _device
from minigrad.backend import to_numpy
from minigrad.creation import check_size
from minigrad.tensor import Tensor, _leaf

__all__ = ["DataLoader", "Dataset", "DistributedSampler", "TensorDataset"]


class Dataset:
    """A map-style data set, as PyTorch's: subclasses define ``__len__`` and
    ``__getitem__(i)``, which returns one sample: a tuple of arrays, tensors or numbers (or
    just one of them). ``DataLoader(dataset, batch_size)`` batches it."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not define __len__")


class TensorDataset(Dataset):
    """Samples from tensors of one length: item i is ``tuple(t[i] for t in tensors)``. A
    DataLoader batches it by slicing the tensors' arrays at once (no per-sample work)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: expected Tensors, got {type(t).__name__} at "
                                f"position {k}; make one with minigrad.tensor(...)")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is 0-d; every tensor needs a first "
                                 "(sample) dimension")
        lengths = [t.shape[0] for t in tensors]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors (first dimensions "
                             f"{lengths})")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


_FIELDS = (np.ndarray, np.generic, Tensor, bool, int, float)


def _is_dataset(obj, n_args: int) -> bool:
    """Whether DataLoader's first argument is a data set of samples (PyTorch's meaning) rather
    than an array: a Dataset, any other object with __len__ and __getitem__ that is not an
    array, or a lone list of tuples (samples, collated field by field as PyTorch does; a list
    of lists stays an array of rows, minigrad's meaning)."""
    if isinstance(obj, Dataset):
        return True
    if isinstance(obj, list | tuple):
        return n_args == 1 and len(obj) > 0 and isinstance(obj[0], tuple)
    if isinstance(obj, np.ndarray | Tensor) or hasattr(obj, "shape"):
        return False
    if hasattr(obj, "__iter__") and not (hasattr(obj, "__getitem__") and hasattr(obj, "__len__")):
        raise TypeError(f"DataLoader: got a {type(obj).__name__}, an iterable without __len__ "
                        "and __getitem__ (a generator, an iterable-style dataset); minigrad's "
                        "DataLoader takes arrays or a map-style Dataset: collect the samples "
                        "into a list or arrays first")
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__")


def _field(value, where: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return to_numpy(value.data)
    if isinstance(value, _FIELDS):
        return np.asarray(value)
    raise TypeError(f"DataLoader: {where} is a {type(value).__name__}; the items of a dataset "
                    "must be arrays, tensors or numbers, or tuples of them")


def _collate(items: list, tuples: bool) -> list[np.ndarray]:
    """The samples of one batch stacked field by field on the host (PyTorch's default_collate
    for arrays, tensors and numbers: Python floats give float64, ints int64)."""
    if not tuples:
        return [np.stack([_field(item, f"item {k}") for k, item in enumerate(items)])]
    width = len(items[0])
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != width:
            raise TypeError(f"DataLoader: dataset items differ in structure: expected tuples "
                            f"of {width} fields, got {type(item).__name__} {item!r:.60}")
    return [np.stack([_field(item[j], f"field {j} of an item") for item in items])
            for j in range(width)]


class DistributedSampler:
    """This worker's share of each epoch's samples, PyTorch's ``DistributedSampler``.

    num_samples: the size N of the data set (an int, or anything with ``len``).
    num_replicas, rank: the number of workers W and this worker's number; None takes them
                from the default process group of ``minigrad.distributed`` when it is
                initialised, else W = 1, rank = 0 (one process).
    shuffle:    a new order every epoch: the permutation of ``np.random.default_rng(seed +
                epoch)``, the same on every worker (so give every worker the same ``seed``);
                False: the order 0 .. N-1.
    drop_last:  False (PyTorch's default): the order is padded by repeating its first samples
                up to a multiple of W, so every worker gets ceil(N / W) indices and a few
                samples are seen twice per epoch. True: the last N mod W samples of the order
                are left out instead, every worker gets floor(N / W).

    Iterating yields the indices of rank r: ``order[r::W]`` of the (padded or cut) order, so
    the shares of an epoch are disjoint (up to the padding) and together cover it, and a
    DataLoader that batches them b at a time gives worker r the rows r, r+W, ... of the
    global batch ``order[k*b*W : (k+1)*b*W]``. ``len(sampler)`` is the share's length, equal
    on every worker, so that all workers run the same number of steps. Call ``set_epoch(e)``
    before each epoch; without it every epoch repeats the order of epoch 0 (as in PyTorch).
    """

    def __init__(self, num_samples, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        n = num_samples if isinstance(num_samples, int | np.integer) else len(num_samples)
        self.num_samples_total = check_size(n, "DistributedSampler: num_samples")
        if num_replicas is None or rank is None:
            default_world, default_rank = _default_world()
            num_replicas = default_world if num_replicas is None else num_replicas
            rank = default_rank if rank is None else rank
        self.num_replicas = check_size(num_replicas, "DistributedSampler: num_replicas", low=1)
        rank = check_size(rank, "DistributedSampler: rank")
        if rank >= self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0 .. {self.num_replicas - 1}"
                             f" for {self.num_replicas} replicas, got {rank}")
        self.rank = rank
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0
        w = self.num_replicas
        self.num_samples = n // w if drop_last else -(-n // w)  # per worker, PyTorch's name
        self.total_size = self.num_samples * w

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order from the next ``iter()`` on (same call on every worker)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        return iter(self.indices().tolist())

    def indices(self) -> np.ndarray:
        """This worker's indices for the current epoch, an int64 array of ``len(self)``."""
        n = self.num_samples_total
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:  # pad by repeating the start (again and again if N < W)
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return order[self.rank::self.num_replicas].astype(np.int64, copy=False)


def _default_world() -> tuple[int, int]:
    """(world size, rank) of minigrad.distributed's default group, or (1, 0) without one.
    Imported lazily: minigrad.data must not need mpi4py."""
    import sys

    dist = sys.modules.get("minigrad.distributed")
    if dist is not None and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class DataLoader:
    """Iterate over equally long arrays, or a data set, in mini-batches of Tensors on ``device``.

    arrays:     NumPy arrays (or anything np.asarray accepts) with the same first dimension;
                or, as PyTorch's ``DataLoader(dataset, batch_size, shuffle, sampler)``, one
                map-style data set (a ``Dataset``, ``TensorDataset`` or any object with
                ``__len__`` and ``__getitem__``; a lone list of tuples too) whose items are
                arrays, tensors or numbers, or tuples of them; they are stacked field by field
                (a TensorDataset is sliced as arrays are, without per-sample work).
    batch_size: samples per batch (an int >= 1); the last batch is smaller unless
                ``drop_last``.
    shuffle:    visit the samples in a new random order every epoch (every ``iter()``), drawn
                from this loader's own generator ``np.random.default_rng(seed)``: the same seed
                gives the same sequence of epochs in every run.
    dtype:      cast the floating-point arrays to this dtype (e.g. float32) once, up front;
                integer arrays such as labels keep theirs.
    sampler:    where the sample indices come from instead (e.g. a ``DistributedSampler``):
                an iterable of ints with ``len``, visited in its order at every ``iter()``;
                excludes ``shuffle`` (the sampler shuffles), as in PyTorch.
    device:     where batches go; by default the CPU, or a TensorDataset's device.
    num_workers, pin_memory: accepted for PyTorch code and ignored (batches are made in this
                process; the results are the same).

    Yields a tuple with one Tensor per array, or a single Tensor for a single array; for a data
    set, a tuple when its items are tuples (of one Tensor too, as PyTorch), else a Tensor. On
    the CPU an unshuffled batch of arrays is a view of the array, not a copy. ``len(loader)``
    is the number of batches per epoch.
    """

    def __init__(self, *arrays, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, device=None, dtype=None,
                 sampler=None, num_workers: int = 0, pin_memory: bool = False,
                 collate_fn=None):
        if collate_fn is not None:
            raise TypeError("DataLoader: collate_fn is not supported; batches are the samples "
                            "stacked field by field (make each item a tuple of arrays)")
        self.dataset = None
        self._unwrap = True  # one array: batches are single tensors
        if arrays and _is_dataset(arrays[0], len(arrays)):
            dataset, extra = arrays[0], arrays[1:]
            if len(extra) > 3:
                raise TypeError("DataLoader(dataset, ...) takes at most batch_size, shuffle and "
                                "sampler positionally; give the rest by keyword")
            # PyTorch's positional order: (dataset, batch_size, shuffle, sampler)
            given = dict(zip(("batch_size", "shuffle", "sampler"), extra, strict=False))
            batch_size = given.get("batch_size", batch_size)
            shuffle = given.get("shuffle", shuffle)
            sampler = given.get("sampler", sampler)
            self._unwrap = False  # items that are tuples give tuples, even of one tensor
            if isinstance(dataset, TensorDataset):  # the fast path: its arrays, sliced
                arrays = tuple(to_numpy(t.data) for t in dataset.tensors)
                if device is None:
                    device = dataset.tensors[0].device
            else:
                self.dataset = dataset
                arrays = (np.zeros((len(dataset), 0)),)  # (a stand-in, for the checks below)
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        arrays = [np.asarray(a) for a in arrays]
        for a in arrays:
            if a.dtype.kind not in "biuf":  # dicts, strings, ragged lists ...
                raise TypeError(f"DataLoader: expected arrays of numbers (or a dataset), got an "
                                f"array of dtype {a.dtype}")
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("DataLoader needs arrays with a first (sample) dimension, got a "
                             "0-d array")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"DataLoader needs arrays of equal length (first dimension), got "
                             f"lengths {lengths}")
        batch_size = check_size(batch_size, "DataLoader: batch_size", low=1)
        if dtype is not None:
            arrays = [a.astype(dtype, copy=False) if a.dtype.kind == "f" else a
                      for a in arrays]
        self.arrays = arrays
        self.dtype = dtype
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the "
                             "sampler decides the order; DistributedSampler(shuffle=True))")
        self.sampler = sampler
        self.device = _device(device)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.arrays[0]) if self.sampler is None else len(self.sampler)  # (the dataset's)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
            n = len(order)
        else:
            n = len(self.arrays[0])
            order = self._rng.permutation(n) if self.shuffle else None
        dev = self.device
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, n)
            index = slice(start, stop) if order is None else order[start:stop]
            if self.dataset is None:
                batch = tuple(_leaf(dev.from_numpy(a[index]), dev) for a in self.arrays)
                yield batch[0] if len(batch) == 1 and self._unwrap else batch
            else:
                yield self._collated(index, dev)

    def _collated(self, index, dev) -> tuple:
        """One batch of a generic data set: its items fetched one by one, then stacked."""
        positions = range(index.start, index.stop) if isinstance(index, slice) else index
        items = [self.dataset[int(i)] for i in positions]
        tuples = isinstance(items[0], tuple | list)
        fields = _collate(items, tuples)
        if self.dtype is not None:
            fields = [a.astype(self.dtype, copy=False) if a.dtype.kind == "f" else a
                      for a in fields]
        batch = tuple(_leaf(dev.from_numpy(a), dev) for a in fields)
        return batch if tuples else batch[0]
