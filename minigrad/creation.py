"""Functions that create tensors: from data, filled with a constant, ranges, random numbers.

Each takes ``device=`` (default "cpu") and ``dtype=`` (default float32 for floating values)
and ``requires_grad=``. Sizes must be ints (Python or NumPy integers; a float such as 2.5 or
a bool raises TypeError rather than being truncated) and >= 0 (ValueError).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from minigrad.backend import bool_, float32, int64
from minigrad.backend import device as _device
from minigrad.tensor import Tensor, _leaf

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "arange",
           "linspace", "eye", "randn", "rand", "randint", "zeros_like", "ones_like", "full_like",
           "randn_like", "rand_like"]


def check_size(value, what: str, low: int = 0) -> int:
    """``value`` as a size: a Python or NumPy integer (not a bool) >= low. ``what`` names the
    argument in the errors, e.g. "Linear: in_features"."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{what} must be >= {low}, got {value}")
    return int(value)


def _shape(shape, op: str) -> tuple[int, ...]:
    """The sizes of ``zeros(2, 3)`` or ``zeros((2, 3))``, checked."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = shape[0]
    return tuple(check_size(n, f"{op}: size {i} of {tuple(shape)}") for i, n in enumerate(shape))


def _finish(data, dev, requires_grad: bool) -> Tensor:
    t = _leaf(data, dev)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor from a number, a nested list, or an array (copied to ``device`` if needed).

    Python floats become float32; arrays keep their dtype unless ``dtype`` is given.
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``shape`` (an int or a tuple) filled with ``fill_value``; the dtype by
    default from the value, as PyTorch: bool, int64 for an int, float32 for a float."""
    if dtype is None:
        dtype = (bool_ if isinstance(fill_value, bool | np.bool_) else
                 int64 if isinstance(fill_value, int | np.integer) else float32)
    dev = _device(device)
    shape = _shape((shape,) if not isinstance(shape, tuple | list) else shape, "full")
    data = dev.xp.full(shape, fill_value, dtype=dev.xp_dtype(dtype), device=dev.native)
    return _finish(data, dev, requires_grad)


def zeros(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """zeros(2, 3) or zeros((2, 3))."""
    return full(_shape(shape, "zeros"), 0, dtype=dtype, device=device, requires_grad=requires_grad)


def ones(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """ones(2, 3) or ones((2, 3))."""
    return full(_shape(shape, "ones"), 1, dtype=dtype, device=device, requires_grad=requires_grad)


def empty(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """PyTorch's uninitialised tensor: here filled with zeros (a fresh array costs the same)."""
    return full(_shape(shape, "empty"), 0, dtype=dtype, device=device,
                requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing ``array``'s memory (changes to one show in the other), as PyTorch's
    ``from_numpy``; ``minigrad.tensor`` copies instead."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: cannot make a tensor of dtype {array.dtype}; minigrad "
                        "holds bool, integer and floating-point tensors")
    if not array.dtype.isnative:
        raise ValueError(f"from_numpy: the array's byte order is not the machine's "
                         f"({array.dtype.str}); convert it with array.astype(array.dtype."
                         "newbyteorder('='))")
    return _leaf(array, _device("cpu"))


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, without a copy when it already is one (or, on the CPU, a NumPy
    array) of the dtype and device asked for; else a copy, as ``tensor``."""
    if isinstance(data, Tensor):
        return data.to(device if device is not None else data.device, dtype)
    if (isinstance(data, np.ndarray) and _device(device).name == "cpu"
            and data.dtype.kind in "biuf"
            and (dtype is None or np.dtype(dtype) == data.dtype) and data.dtype.isnative):
        return from_numpy(data)
    return Tensor(data, dtype=dtype, device=device)


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, int) for v in (start, stop, step)) else float32
    dev = _device(device)
    data = dev.xp.arange(start, stop, step, dtype=dev.xp_dtype(dtype), device=dev.native)
    return _leaf(data, dev)


def _integer_endpoint(value, dtype: np.dtype, name: str) -> int:
    """start or stop of an integer linspace as PyTorch converts it to the dtype: a float
    truncated toward zero, a negative int wrapped into an unsigned dtype (two's complement);
    a value beyond the dtype is refused instead of wrapped."""
    info = np.iinfo(dtype)
    if isinstance(value, int | np.integer):
        v = int(value)
        low = -info.max if info.min == 0 else info.min
        if low <= v <= info.max:
            return v % (info.max + 1) if v < 0 and info.min == 0 else v
    else:
        v = float(value)
        if math.isfinite(v) and info.min <= v <= info.max:
            return math.trunc(v)
    raise ValueError(f"linspace: {name} {value!r} does not fit in {dtype} "
                     f"([{info.min}, {info.max}])")


def _integer_linspace(start: int, stop: int, num: int) -> np.ndarray:
    """PyTorch's integer linspace (ATen's CPU kernel), as float64 values before the cast.

    With the double step = (stop - start) / (num - 1), the first half counts from start and
    the second from stop, and each value is truncated toward zero:

        v_i = start + step * i              (i < num // 2)
        v_i = stop - step * (num - 1 - i)   (the rest)

    The kernel is compiled with fused multiply-adds, so each v_i is its exact value rounded
    once. NumPy rounds twice (the product, then the sum); that can only matter for values
    within a few units in the last place of an integer, and those are recomputed exactly.
    """
    if num == 1:
        return np.array([float(start)])
    step = (float(stop) - float(start)) / (num - 1)
    i = np.arange(num)
    first = i < num // 2
    base = np.where(first, float(start), float(stop))
    count = np.where(first, i, i - (num - 1))  # stop - step (num-1-i) = stop + step (i-(num-1))
    product = step * count
    values = base + product
    numerator, denominator = step.as_integer_ratio()  # step = numerator / 2^k exactly
    exact = (numerator.bit_length() + num.bit_length() <= 53  # every product exact,
             and max(abs(start), abs(stop)) * denominator < 2 ** 53)  # every sum
    if not exact:
        # The two roundings are off by at most 1.5 units in the last place of the larger term.
        bound = 4 * np.spacing(np.maximum(np.abs(base), np.abs(product)))
        for j in np.flatnonzero(np.abs(values - np.round(values)) <= bound):
            values[j] = float(Fraction(base[j]) + Fraction(step) * int(count[j]))
    return np.trunc(values)


def linspace(start, stop, num: int, dtype=float32, device=None) -> Tensor:
    """``num`` evenly spaced values from start to stop, both included.

    Floating dtypes: NumPy's/CuPy's linspace. Integer dtypes: PyTorch's values exactly (its
    rounding toward zero of each value; see _integer_linspace). A bool dtype is refused, as by
    PyTorch.
    """
    num = check_size(num, "linspace: num")
    dtype = np.dtype(dtype)
    if dtype.kind not in "iuf":
        raise TypeError(f"linspace: expected a floating-point or integer dtype, got {dtype}")
    dev = _device(device)
    if dtype.kind == "f":
        data = dev.xp.linspace(start, stop, num, dtype=dev.xp_dtype(dtype), device=dev.native)
        return _leaf(data, dev)
    start = _integer_endpoint(start, dtype, "start")
    stop = _integer_endpoint(stop, dtype, "stop")
    values = _integer_linspace(start, stop, num) if num else np.zeros(0)
    return _leaf(dev.from_numpy(values.astype(dtype)), dev)


def eye(n: int, m: int | None = None, dtype=float32, device=None) -> Tensor:
    """The n x m identity matrix."""
    dev = _device(device)
    n = check_size(n, "eye: n")
    m = None if m is None else check_size(m, "eye: m")
    return _leaf(dev.xp.eye(n, m, dtype=dev.xp_dtype(dtype), device=dev.native), dev)


def randn(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """Samples from N(0, 1), from the device's seeded generator (see manual_seed)."""
    dev = _device(device)
    return _finish(dev.randn(_shape(shape, "randn"), dtype), dev, requires_grad)


def rand(*shape, dtype=float32, device=None, requires_grad=False) -> Tensor:
    """Samples from U[0, 1), from the device's seeded generator."""
    dev = _device(device)
    return _finish(dev.rand(_shape(shape, "rand"), dtype), dev, requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype=int64, device=None) -> Tensor:
    """Integers uniform in [low, high) (or [0, low) when high is None) of shape ``size``."""
    if high is None:
        low, high = 0, low
    dev = _device(device)
    shape = _shape((size,) if not isinstance(size, tuple | list) else size, "randint")
    return _leaf(dev.randint(low, high, shape, dtype), dev)


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
