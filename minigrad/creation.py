"""Functions that create tensors: from data, filled with a constant, ranges, random numbers.

Each takes ``device=`` (default "cpu") and ``dtype=`` (default float32 for floating values)
and ``requires_grad=``.
"""

from __future__ import annotations

from minigrad.backend import device as _device
from minigrad.backend import float32, int64
from minigrad.tensor import Tensor, _leaf

__all__ = ["tensor", "zeros", "ones", "full", "arange", "linspace", "eye", "randn", "rand",
           "randint", "zeros_like", "ones_like", "full_like", "randn_like", "rand_like"]


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _finish(data, dev, requires_grad: bool) -> Tensor:
    t = _leaf(data, dev)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor from a number, a nested list, or an array (copied to ``device`` if needed).

    Python floats become float32; arrays keep their dtype unless ``dtype`` is given.
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def full(shape, fill_value, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``shape`` (an int or a tuple) filled with ``fill_value``."""
    dev = _device(device)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    data = dev.xp.full(shape, fill_value, dtype=dev.xp_dtype(dtype), device=dev.native)
    return _finish(data, dev, requires_grad)


def zeros(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """zeros(2, 3) or zeros((2, 3))."""
    return full(_shape(shape), 0, dtype=dtype, device=device, requires_grad=requires_grad)


def ones(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """ones(2, 3) or ones((2, 3))."""
    return full(_shape(shape), 1, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, int) for v in (start, stop, step)) else float32
    dev = _device(device)
    data = dev.xp.arange(start, stop, step, dtype=dev.xp_dtype(dtype), device=dev.native)
    return _leaf(data, dev)


def linspace(start, stop, num: int, dtype=float32, device=None) -> Tensor:
    """``num`` evenly spaced values from start to stop, both included."""
    dev = _device(device)
    data = dev.xp.linspace(start, stop, num, dtype=dev.xp_dtype(dtype), device=dev.native)
    return _leaf(data, dev)


def eye(n: int, m: int | None = None, dtype=float32, device=None) -> Tensor:
    """The n x m identity matrix."""
    dev = _device(device)
    return _leaf(dev.xp.eye(n, m, dtype=dev.xp_dtype(dtype), device=dev.native), dev)


def randn(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """Samples from N(0, 1), from the device's seeded generator (see manual_seed)."""
    dev = _device(device)
    return _finish(dev.randn(_shape(shape), dtype), dev, requires_grad)


def rand(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """Samples from U[0, 1), from the device's seeded generator."""
    dev = _device(device)
    return _finish(dev.rand(_shape(shape), dtype), dev, requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype=int64, device=None) -> Tensor:
    """Integers uniform in [low, high) (or [0, low) when high is None) of shape ``size``."""
    if high is None:
        low, high = 0, low
    dev = _device(device)
    return _leaf(dev.randint(low, high, _shape((size,)) if isinstance(size, int)
                             else tuple(size), dtype), dev)


def _like(fn, x: Tensor, dtype, device, requires_grad, **kwargs) -> Tensor:
    return fn(x.shape, dtype=x.dtype if dtype is None else dtype,
              device=x.device if device is None else device, requires_grad=requires_grad,
              **kwargs)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, x, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, x, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(full, x, dtype, device, requires_grad, fill_value=fill_value)


def randn_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(randn, x, dtype, device, requires_grad)


def rand_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(rand, x, dtype, device, requires_grad)
