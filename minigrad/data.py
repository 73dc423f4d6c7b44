"""Mini-batches from arrays in host memory: ``DataLoader(x, y, batch_size=64, shuffle=True)``.

Each batch is gathered on the host (NumPy fancy indexing) and copied to the device once per
array, so a GPU sees one transfer per array per batch.
"""

from __future__ import annotations

import numpy as np

from minigrad.backend import device as _device
from minigrad.creation import check_size
from minigrad.tensor import _leaf

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over equally long arrays in mini-batches of Tensors on ``device``.

    arrays:     NumPy arrays (or anything np.asarray accepts) with the same first dimension.
    batch_size: samples per batch (an int >= 1); the last batch is smaller unless
                ``drop_last``.
    shuffle:    visit the samples in a new random order every epoch (every ``iter()``), drawn
                from this loader's own generator ``np.random.default_rng(seed)``: the same seed
                gives the same sequence of epochs in every run.
    dtype:      cast the floating-point arrays to this dtype (e.g. float32) once, up front;
                integer arrays such as labels keep theirs.

    Yields a tuple with one Tensor per array, or a single Tensor for a single array. On the CPU
    an unshuffled batch is a view of the array, not a copy. ``len(loader)`` is the number of
    batches per epoch.
    """

    def __init__(self, *arrays, batch_size: int, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, device="cpu", dtype=None):
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        arrays = [np.asarray(a) for a in arrays]
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
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = _device(device)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.arrays[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.arrays[0])
        order = self._rng.permutation(n) if self.shuffle else None
        dev = self.device
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, n)
            index = slice(start, stop) if order is None else order[start:stop]
            batch = tuple(_leaf(dev.from_numpy(a[index]), dev) for a in self.arrays)
            yield batch[0] if len(batch) == 1 else batch
