"""Saving and loading tensors, state dicts and checkpoints: ``save(obj, path)``, ``load(path)``.

``obj`` is a (nested) dict, list or tuple of Tensors, arrays (NumPy or any device's), Python
numbers, bools, strings and None: a model's state_dict, an optimizer's state_dict, or a whole
checkpoint such as ``{"model": ..., "optimizer": ..., "epoch": 3, "config": {...}}``.

The file is an ordinary NumPy ``.npz`` archive, written without pickle and read with
``allow_pickle=False``, so loading a file can never run code:

- Each tensor or array is one entry, named by its path in ``obj``: the dict keys and list
  positions on the way to it, joined by "/" (``model/fc1.weight``,
  ``optimizer/state/0/exp_avg``). In a key, "~" is written "~0" and "/" is written "~1" (the
  escaping of JSON Pointer, RFC 6901), so different paths get different names. A tensor that
  appears twice (tied weights) is stored once, and comes back as one tensor.
- The entry ``~minigrad`` (a name no escaped path can take) holds a JSON text
  ``{"format": "minigrad", "version": 1, "object": node}``, where a node is:
      null, true/false, a number or a string        itself
      {"list": [node, ...]}, {"tuple": [node, ...]}
      {"dict": [[key, node], ...]}                  keys are strings or integers
      {"tensor": name, "requires_grad": bool}       the entry ``name``, loaded as a Tensor
      {"array": name}                               the entry ``name``, loaded as a NumPy array

So ``np.load(path)["model/fc1.weight"]`` reads one weight without minigrad.

``save`` writes to a temporary file in the same directory, flushes it to disk, then renames it
over ``path`` (``os.replace`` is atomic): a crash in the middle leaves the old file intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile

import numpy as np

from minigrad.backend import device as _device
from minigrad.backend import device_of, to_numpy
from minigrad.tensor import Tensor, _leaf

__all__ = ["save", "load"]

_HEADER = "~minigrad"
_VERSION = 1


def save(obj, path) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of tensors, arrays, numbers, strings, None) to
    the ``.npz`` file ``path``, atomically. Tensors on any device are copied to the host."""
    arrays: dict[str, np.ndarray] = {}
    node = _encode(obj, (), arrays, {})
    header = json.dumps({"format": "minigrad", "version": _VERSION, "object": node})
    arrays[_HEADER] = np.array(header)
    _write_atomically(os.fspath(path), lambda f: _write_npz(f, arrays))


def load(path, device=None):
    """Read an object written by ``save``. Tensors come back as Tensors on ``device`` (default
    the CPU) with their dtype and requires_grad; arrays come back as NumPy arrays.

    Raises OSError (FileNotFoundError ...) when the file cannot be opened, and ValueError,
    naming the path, for a file that is not a readable minigrad archive.
    """
    dev = _device(device)
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)  # OSErrors (missing file ...) pass through
    except (ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a minigrad file (not an .npz archive: {err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a minigrad file (a single .npy array, not an archive)")
    with archive:
        if _HEADER not in archive.files:
            raise ValueError(f"{path}: an .npz archive but not a minigrad file (it has no "
                             f"{_HEADER!r} entry; read it with numpy.load)")
        try:
            header = json.loads(str(archive[_HEADER]))
            if header.get("format") != "minigrad" or header.get("version") != _VERSION:
                raise ValueError(f"unsupported format {header.get('format')!r} version "
                                 f"{header.get('version')!r}")
            return _decode(header["object"], archive, dev, {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError,
                zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: corrupt or unreadable minigrad file: {err}") from None


# -- the structure ----------------------------------------------------------------------------

def _escape(key) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _where(path: tuple[str, ...]) -> str:
    return f"at {'/'.join(path)!r}" if path else "as the whole object"


def _encode(obj, path: tuple[str, ...], arrays: dict, names: dict):
    """The JSON node for ``obj``; its arrays go into ``arrays`` (name -> host array).
    ``names`` maps id(tensor or array) -> name, so that shared tensors are stored once."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.bool_ | np.number):
        return obj.item()
    if isinstance(obj, Tensor):
        return {"tensor": _store(obj, obj.data, path, arrays, names),
                "requires_grad": obj.requires_grad}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str | int):
                raise TypeError(f"cannot save a dict key of type {type(key).__name__} "
                                f"{_where(path)}; keys must be strings or integers")
            items.append([key, _encode(value, path + (_escape(key),), arrays, names)])
        return {"dict": items}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, path + (str(i),), arrays, names) for i, v in enumerate(obj)]}
    try:
        device_of(obj)
    except TypeError:
        raise TypeError(f"cannot save a {type(obj).__name__} {_where(path)}: save() takes "
                        "dicts, lists, tuples, tensors, arrays, numbers, strings and None"
                        ) from None
    return {"array": _store(obj, obj, path, arrays, names)}


def _store(owner, array, path: tuple[str, ...], arrays: dict, names: dict) -> str:
    if id(owner) in names:
        return names[id(owner)]
    name = "/".join(path)
    if name in arrays:
        raise ValueError(f"two entries would both be stored as {name!r} (keys such as 1 and "
                         "'1' in one dict); rename one")
    host = to_numpy(array)
    if host.dtype.hasobject:
        raise TypeError(f"cannot save an array of Python objects {_where(path)} (it would need "
                        "pickle)")
    arrays[name] = host
    names[id(owner)] = name
    return name


def _decode(node, archive, dev, loaded: dict):
    """The object for a JSON node; ``loaded`` caches entries by name (shared tensors)."""
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if "dict" in node:
        return {key: _decode(value, archive, dev, loaded) for key, value in node["dict"]}
    if "list" in node:
        return [_decode(value, archive, dev, loaded) for value in node["list"]]
    if "tuple" in node:
        return tuple(_decode(value, archive, dev, loaded) for value in node["tuple"])
    kind = "tensor" if "tensor" in node else "array"
    name = node[kind]
    if name not in loaded:
        array = archive[name]
        if kind == "tensor":
            t = _leaf(dev.from_numpy(array), dev)
            array = t.requires_grad_(True) if node["requires_grad"] else t
        loaded[name] = array
    return loaded[name]


# -- writing ------------------------------------------------------------------------------------

def _write_npz(file, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez(file, **arrays) does, minus its keyword clash (an entry named "file" or
    "allow_pickle") and with pickle refused: one uncompressed ``name.npy`` per array."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", mode="w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)


def _write_atomically(path: str, write) -> None:
    """Call ``write(file)`` on a new file next to ``path``, flush it to disk, move it over
    ``path``, then flush the directory so that the move itself survives a power cut."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    # Mode 0o666 lets the umask decide, as for any file created with open().
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """fsync a directory, where the system allows it (POSIX; Windows cannot open one)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory; the file is safe anyway
        pass
    finally:
        os.close(fd)
