"""Where arrays live: devices, array namespaces, dtypes, random numbers and host transfer.

This is the only module of the engine that knows which array library it runs on. Everything
else writes array code against the array API standard through the namespace ``device.xp``
(``array_api_compat``'s wrapper of NumPy, CuPy or ``array_api_strict``), so the same source runs
on all of them.

Device names follow PyTorch: ``"cpu"`` (NumPy), ``"gpu"`` / ``"cuda"`` / ``"cuda:1"`` (CuPy).
For testing without a GPU there are ``"strict"`` / ``"strict:cpu"`` and ``"strict:device1"``:
``array_api_strict`` arrays, which refuse implicit NumPy conversion and device mixing exactly
where CuPy does, so code that passes on ``strict:device1`` does not secretly rely on NumPy.

Backend-specific code lives here and only here, each piece with a portable fallback:
random numbers, scatter-add and host transfer.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Device",
    "DeviceError",
    "device",
    "device_of",
    "to_numpy",
    "transfer",
    "keep_freed_host_memory",
    "manual_seed",
    "cuda_is_available",
    "float16",
    "float32",
    "float64",
    "int32",
    "int64",
    "uint8",
    "bool_",
]


class DeviceError(RuntimeError):
    """A device that cannot be used: unknown name, CuPy missing, no GPU, or two devices mixed."""


# Canonical dtypes are NumPy dtype objects (CuPy uses the same ones); array_api_strict has its
# own dtype objects, which Device.xp_dtype / Device.canonical translate to and from.
float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")
_DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float16", "float32", "float64")

_GPU_HELP = (
    'Install GPU support with: pip install -e ".[cuda12]"  (or ".[cuda13]" for CUDA 13), '
    'or use device="cpu".'
)

_seed: int | None = None


class Device:
    """One place arrays can live, with its array namespace and random generator.

    Attributes:
        type:   "cpu", "cuda" or "strict".
        index:  GPU ordinal for "cuda", else None.
        xp:     the array-API namespace to compute with (looked up once, here).
        native: the library's own device object, passed as ``device=`` on creation.
    Devices are interned: ``device("gpu") is device("cuda:0")``, so ops compare them with ``is``.
    """

    __slots__ = ("type", "index", "name", "xp", "native", "_dtype_map", "_canon_map", "_rng",
                 "_constants")

    def __init__(self, name: str, type_: str, index: int | None, xp, native):
        self.name = name
        self.type = type_
        self.index = index
        self.xp = xp
        self.native = native
        if type_ == "strict":
            self._dtype_map = {np.dtype(n): getattr(xp, n) for n in _DTYPE_NAMES
                               if hasattr(xp, n)}
        else:
            self._dtype_map = None
        self._canon_map = (None if self._dtype_map is None
                           else {v: k for k, v in self._dtype_map.items()})
        self._rng = None
        self._constants = {}

    def __repr__(self) -> str:
        return f"device({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                return device(other) is self
            except DeviceError:
                return False
        return other is self

    def __hash__(self) -> int:
        return hash(self.name)

    # -- dtypes ---------------------------------------------------------------------------
    def xp_dtype(self, dtype):
        """The namespace's dtype object for a canonical (NumPy) dtype or dtype name."""
        dtype = np.dtype(dtype)
        return dtype if self._dtype_map is None else self._dtype_map[dtype]

    def canonical(self, xp_dtype) -> np.dtype:
        """The canonical NumPy dtype for one of this namespace's dtype objects (or for a
        canonical dtype: itself)."""
        if self._canon_map is None or isinstance(xp_dtype, np.dtype):
            return xp_dtype
        return self._canon_map[xp_dtype]

    # -- host transfer ----------------------------------------------------------------------
    def from_numpy(self, array: np.ndarray, dtype=None):
        """Copy a host array onto this device (a view on CPU when no cast is needed)."""
        array = np.asarray(array, dtype=None if dtype is None else np.dtype(dtype))
        if self.type == "cpu":
            return array
        if self.type == "cuda":
            with self.native:
                return self.xp.asarray(array)
        # copy=True: like a real host-to-device transfer, never a view of the host array
        return self.xp.asarray(array, device=self.native, copy=True)

    def constant(self, value: float, dtype):
        """The Python float ``value`` as a 0-d array of ``dtype`` (this namespace's) on this
        device, made once per (value, dtype) and reused (up to 4096 of them; NaN and zeros,
        which do not work as keys, are made each time). Read-only where the namespace allows.

        A speed device, not a semantic one: NumPy multiplies an array by a same-dtype 0-d array
        with the result it gives for the Python float (NEP 50 casts the float to the array's
        dtype), but about 0.5 us sooner on small arrays, a third of a small op's whole cost.
        """
        key = (value, dtype)
        array = self._constants.get(key)
        if array is None:
            array = self.from_numpy(np.asarray(value, dtype=self.canonical(dtype)))
            if self.type == "cpu":
                array.flags.writeable = False
            if value == value and value != 0 and len(self._constants) < 4096:
                self._constants[key] = array
        return array

    # -- random numbers ---------------------------------------------------------------------
    @property
    def rng(self):
        """This device's generator; CuPy's own on GPUs, NumPy's otherwise (copied over)."""
        if self._rng is None:
            if self.type == "cuda":
                import cupy

                with self.native:
                    self._rng = cupy.random.default_rng(_seed)
            else:
                self._rng = np.random.default_rng(_seed)
        return self._rng

    def _draw(self, method: str, *args, **kwargs):
        """Call ``method`` of this device's generator, leaving the result on this device.

        NumPy's and CuPy's generators draw on their own device (CuPy's inside its device
        context); array_api_strict has no generator, so its numbers are drawn by NumPy and
        copied over, which makes them equal to the CPU's.
        """
        if self.type == "cuda":
            with self.native:
                return getattr(self.rng, method)(*args, **kwargs)
        drawn = getattr(self.rng, method)(*args, **kwargs)
        return self.from_numpy(drawn) if self.type == "strict" else drawn

    def randn(self, shape: tuple[int, ...], dtype=float32):
        """Standard normal samples of ``shape``."""
        return self._draw("standard_normal", shape, dtype=np.dtype(dtype))

    def rand(self, shape: tuple[int, ...], dtype=float32):
        """Uniform samples in [0, 1) of ``shape``."""
        return self._draw("random", shape, dtype=np.dtype(dtype))

    def randint(self, low: int, high: int, shape: tuple[int, ...], dtype=int64):
        """Integers uniform in [low, high) of ``shape``."""
        return self._draw("integers", low, high, size=shape, dtype=np.dtype(dtype))

    # -- memory layout ------------------------------------------------------------------------
    def is_transposed(self, a) -> bool:
        """Whether the 2-D array ``a`` is stored column-major (the transposed view of a
        row-major array). Ops use it to hand back results in the memory order of their inputs:
        NumPy/CuPy elementwise ops on operands of different orders are several times slower.
        False where the namespace does not say (array_api_strict)."""
        if self.type == "strict" or a.ndim != 2:
            return False
        return a.flags.f_contiguous and not a.flags.c_contiguous

    # -- scatter-add --------------------------------------------------------------------------
    def scatter_add(self, size: int, index, values):
        """A 1-D array of ``size`` zeros with ``values[k]`` added at ``index[k]`` (repeats add).

        index, values: 1-D arrays of equal length on this device. NumPy and CuPy have a fast
        ``bincount``; the portable fallback multiplies by a one-hot matrix, O(len(index) * size),
        which is only meant for the array_api_strict test namespace.
        """
        xp = self.xp
        if self.type != "strict":
            out = xp.bincount(index, weights=values, minlength=size)
            return xp.astype(out, values.dtype, copy=False)
        one_hot = xp.astype(index[:, None] == xp.arange(size, device=self.native)[None, :],
                            values.dtype)
        return values @ one_hot


_devices: dict[str, Device] = {}


_host_memory_kept: bool | None = None


def keep_freed_host_memory(enabled: bool = True) -> bool:
    """Ask glibc to keep large freed blocks for reuse instead of returning them to the OS
    (``enabled=False``: glibc's defaults again). Returns whether the setting took effect.

    A process-wide speed setting, made only when called (the trainer and the benchmarks call
    it): a training step allocates and frees the same large arrays every time (activations,
    im2col matrices, gradients). By default glibc gives big blocks back to the OS when they
    are freed, so every step pays a page fault per 4 KiB to get them back: about 10 ms of a
    36 ms conv-autoencoder step on one core. (CuPy pools GPU memory for the same reason.)
    The price: up to 256 MiB of freed memory stays with the process. Linux/glibc only.
    """
    import ctypes

    global _host_memory_kept
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    # glibc's defaults: mmap above 128 KiB, trim above 128 KiB of free heap.
    mmap_bytes, trim_bytes = (32 * 2**20, 256 * 2**20) if enabled else (128 * 2**10,
                                                                       128 * 2**10)
    libc.mallopt(m_mmap_threshold, mmap_bytes)  # blocks up to 32 MiB (glibc's maximum): heap
    libc.mallopt(m_trim_threshold, trim_bytes)  # keep up to 256 MiB of free heap for reuse
    _host_memory_kept = bool(enabled)
    return True


def _cpu() -> Device:
    import array_api_compat.numpy as xp

    return Device("cpu", "cpu", None, xp, "cpu")


def _strict(which: str) -> Device:
    try:
        import array_api_strict as xp
    except ImportError as err:
        raise DeviceError(
            "device 'strict' needs the array_api_strict package, which is not installed; "
            'install the dev extra: pip install -e ".[dev]"'
        ) from err
    native = xp.Device("device1" if which == "device1" else "CPU_DEVICE")
    return Device(f"strict:{which}", "strict", None, xp, native)


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA GPU."""
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy raises CUDARuntimeError (or others) when no driver is present
        return False


def _cuda(index: int) -> Device:
    try:
        import cupy
    except ImportError as err:
        raise DeviceError(f"device 'cuda:{index}' needs CuPy, which is not installed. "
                          + _GPU_HELP) from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:
        raise DeviceError(f"CuPy is installed but found no usable CUDA GPU ({err}). "
                          "Check the NVIDIA driver (nvidia-smi), or use device=\"cpu\".") from err
    if count == 0:
        raise DeviceError('CuPy is installed but found no CUDA GPU. Use device="cpu".')
    if index >= count:
        raise DeviceError(f"device 'cuda:{index}' requested but only {count} GPU(s) found "
                          f"(cuda:0 .. cuda:{count - 1}).")
    # Imported after the checks above, so that a CuPy that cannot reach a GPU is reported as
    # such, not as an ImportError of the wrapper ("CuPy is not installed").
    import array_api_compat.cupy as xp

    return Device(f"cuda:{index}", "cuda", index, xp, cupy.cuda.Device(index))


def _canonical_name(name: str) -> str:
    name = name.strip().lower()
    if name in ("gpu", "cuda"):
        return "cuda:0"
    if name.startswith("gpu:"):
        name = "cuda:" + name[4:]
    if name in ("strict", "strict:cpu", "strict:cpu_device"):
        return "strict:cpu"
    return name


def device(spec: str | Device | None = None) -> Device:
    """Resolve a device name ("cpu", "gpu", "cuda:1", "strict:device1") to its Device.

    ``None`` means the CPU. Raises DeviceError naming the problem and its fix.
    """
    if isinstance(spec, Device):
        return spec
    if spec is None:
        spec = "cpu"
    if not isinstance(spec, str):
        raise DeviceError(f"a device is a name like 'cpu' or 'cuda:0', got {spec!r}")
    name = _canonical_name(spec)
    found = _devices.get(name)
    if found is not None:
        return found
    if name == "cpu":
        dev = _cpu()
    elif name in ("strict:cpu", "strict:device1"):
        dev = _strict(name.split(":")[1])
    elif name.startswith("cuda:") and name[5:].isdigit():
        dev = _cuda(int(name[5:]))
    else:
        raise DeviceError(f"unknown device {spec!r}; expected 'cpu', 'gpu', 'cuda', 'cuda:N', "
                          "'strict' or 'strict:device1'")
    _devices[name] = dev
    return dev


def device_of(array) -> Device:
    """The Device an array of any supported library lives on."""
    if isinstance(array, np.ndarray | np.generic):
        return device("cpu")
    module = type(array).__module__
    if module.startswith("cupy"):
        return device(f"cuda:{array.device.id}")
    if module.startswith("array_api_strict"):
        return device("strict:device1" if "device1" in str(array.device) else "strict:cpu")
    raise TypeError(f"expected a NumPy, CuPy or array_api_strict array, got {type(array)!r}")


def is_host_array(value) -> bool:
    """Whether ``value`` is a NumPy array (host memory, whatever the device in use)."""
    return isinstance(value, np.ndarray)


def to_numpy(array) -> np.ndarray:
    """Copy any backend array (or a minigrad Tensor's values) to a NumPy array on the host
    (no copy for NumPy arrays)."""
    if type(array).__module__ == "minigrad.tensor":
        array = array.data
    if isinstance(array, np.ndarray | np.generic):
        return np.asarray(array)
    module = type(array).__module__
    if module.startswith("cupy"):
        return array.get()
    if module.startswith("array_api_strict"):
        import array_api_strict

        # a copy, as from a GPU: to_device on strict:cpu would return the same buffer
        return np.array(array.to_device(array_api_strict.Device("CPU_DEVICE")), copy=True)
    return np.asarray(array)


def transfer(array, target: Device):
    """``array`` (of any backend) as an array on ``target``: the one place where arrays move
    between devices. The same array when it is already there; GPU to GPU a direct copy;
    otherwise through host memory."""
    source = device_of(array)
    if source is target:
        return array
    if source.type == "cuda" and target.type == "cuda":
        with target.native:
            return target.xp.asarray(array)
    return target.from_numpy(to_numpy(array))


def manual_seed(seed: int) -> None:
    """Seed the random generator of every device, present and future.

    The CPU and the array_api_strict devices then draw identical numbers; CuPy draws its own
    (reproducible) stream, since its generator algorithm differs from NumPy's.
    """
    global _seed
    _seed = int(seed)
    for dev in _devices.values():
        dev._rng = None
