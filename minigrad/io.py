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

``save`` writes to a temporary file ``.<name>.<8 hex digits>.tmp`` in the same directory,
flushes it to disk, then renames it over ``path`` (``os.replace`` is atomic): a crash in the
middle leaves the old file intact. A process killed while saving leaves its temporary file
behind; the next ``save`` to the same path removes the leftovers of that path (names of
exactly that pattern, nothing else) that no live process is writing. The rule: on POSIX a
writer holds an exclusive ``flock`` on its temporary file until it is renamed, the system
releases the locks of a killed process, and a leftover is removed only when its lock can be
taken. Where locks are unavailable (Windows, some network file systems) only leftovers
untouched for ``STALE_SECONDS`` are removed.

``load`` raises OSError when the file cannot be opened (FileNotFoundError,
IsADirectoryError, PermissionError: each names the path) and ValueError, starting with the
path, for anything else that keeps it from being read: not a zip archive, a damaged or
truncated one, an unsupported compression method or encryption, an entry that disagrees with
its header, a missing or malformed structure.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import time
import zipfile

import numpy as np

from minigrad.backend import device as _device
from minigrad.backend import device_of, to_numpy
from minigrad.tensor import Tensor, _leaf

try:
    import fcntl
except ImportError:  # Windows: no flock (see the module docstring)
    fcntl = None

__all__ = ["save", "load", "write_atomically", "STALE_SECONDS"]

_HEADER = "~minigrad"
_VERSION = 1

# Where files cannot be locked: a temporary file untouched this long belongs to a dead save.
STALE_SECONDS = 600.0


def save(obj, path) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of tensors, arrays, numbers, strings, None) to
    the ``.npz`` file ``path``, atomically. Tensors on any device are copied to the host."""
    arrays: dict[str, np.ndarray] = {}
    node = _encode(obj, (), arrays, {})
    header = json.dumps({"format": "minigrad", "version": _VERSION, "object": node})
    arrays[_HEADER] = np.array(header)
    write_atomically(path, lambda f: _write_npz(f, arrays))


def load(path, device=None):
    """Read an object written by ``save``. Tensors come back as Tensors on ``device`` (default
    the CPU) with their dtype and requires_grad; arrays come back as NumPy arrays.

    Raises OSError (FileNotFoundError ...) when the file cannot be opened, and ValueError,
    naming the path, for a file that is not a readable minigrad archive, whatever the damage.
    """
    dev = _device(device)
    path = os.fspath(path)
    with open(path, "rb") as file:  # OSErrors (missing file, a directory ...) pass through
        try:
            node, arrays = _read(file)
        except _NotMinigrad as err:
            raise ValueError(f"{path}: {err}") from None
        except MemoryError:  # sizes are checked first, so this is a real shortage of memory
            raise
        except Exception as err:  # the zip and npy layers raise many kinds on damaged input
            raise ValueError(f"{path}: corrupt or unreadable minigrad file: "
                             f"{type(err).__name__}: {err}") from None
    # Everything is read and checked: only the copies to the device are left.
    return _decode(node, arrays, dev, {})


class _NotMinigrad(Exception):
    """A readable file that is not a minigrad archive (the message follows "path: ")."""


# Readers of the .npy header versions (3.0 only differs in encoding field names as UTF-8).
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}
if hasattr(np.lib.format, "_read_array_header"):
    _HEADER_READERS[(3, 0)] = lambda f: np.lib.format._read_array_header(f, (3, 0))

# The dtypes a Tensor can have (arrays saved as arrays may have any dtype but objects).
_TENSOR_DTYPES = {np.dtype(n) for n in ("bool", "int8", "int16", "int32", "int64", "uint8",
                                        "uint16", "uint32", "uint64", "float16", "float32",
                                        "float64")}


def _read(file) -> tuple[object, dict[str, np.ndarray]]:
    """(the structure, {entry name: host array}) of an open minigrad file, every entry the
    structure names read and checked; raises on any damage (see ``load``)."""
    if file.read(6) == b"\x93NUMPY":
        raise _NotMinigrad("not a minigrad file (a single .npy array, not an archive)")
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as err:
        raise _NotMinigrad(f"not a minigrad file (not an .npz archive: {err})") from None
    with archive:
        if _HEADER + ".npy" not in archive.namelist():
            raise _NotMinigrad(f"an .npz archive but not a minigrad file (it has no {_HEADER!r} "
                               "entry; read it with numpy.load)")
        text = _read_entry(archive, _HEADER)
        if text.dtype.kind != "U" or text.ndim != 0:
            raise ValueError(f"the {_HEADER!r} entry is not a text")
        header = json.loads(str(text))
        if not isinstance(header, dict) or "object" not in header:
            raise ValueError(f"the {_HEADER!r} entry is not a minigrad header")
        if header.get("format") != "minigrad" or header.get("version") != _VERSION:
            raise _NotMinigrad(f"unsupported format {header.get('format')!r} version "
                               f"{header.get('version')!r} (this minigrad reads version "
                               f"{_VERSION})")
        arrays: dict[str, np.ndarray] = {}
        _check_node(header["object"], archive, arrays)
    return header["object"], arrays


def _read_entry(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """The array stored as ``name``.npy. Its header is checked against the size the zip
    records before the data is read, so a damaged header never makes us allocate a huge
    array; the zip layer checks the data's CRC as it is read."""
    try:
        info = archive.getinfo(name + ".npy")
    except KeyError:
        raise ValueError(f"the entry {name!r} is missing") from None
    with archive.open(info) as entry:
        version = np.lib.format.read_magic(entry)
        if version not in _HEADER_READERS:
            raise ValueError(f"the entry {name!r} has .npy format version {version}, which "
                             "this NumPy cannot read")
        shape, _, dtype = _HEADER_READERS[version](entry)
        if dtype.hasobject:
            raise ValueError(f"the entry {name!r} holds Python objects, which would need pickle "
                             "to load; they are never loaded (allow_pickle=False)")
        expected = math.prod(shape) * dtype.itemsize
        found = info.file_size - entry.tell()
        if found != expected:
            raise ValueError(f"the entry {name!r} should hold {expected} bytes of data (shape "
                             f"{shape}, {dtype}) but holds {found}")
    with archive.open(info) as entry:
        return np.lib.format.read_array(entry, allow_pickle=False)


def _check_node(node, archive: zipfile.ZipFile, arrays: dict) -> None:
    """Check a node of the structure (see the module docstring) and everything below it, and
    read the entries it names into ``arrays`` (name -> host array)."""
    if node is None or isinstance(node, bool | int | float | str):
        return
    if not isinstance(node, dict):
        raise ValueError(f"malformed structure: {_short(node)}")
    if "dict" in node:
        items = node["dict"]
        if not isinstance(items, list) or not all(
                isinstance(item, list) and len(item) == 2 and isinstance(item[0], str | int)
                and not isinstance(item[0], bool) for item in items):
            raise ValueError(f"malformed dict node: {_short(node)}")
        for _, value in items:
            _check_node(value, archive, arrays)
    elif "list" in node or "tuple" in node:
        values = node.get("list", node.get("tuple"))
        if not isinstance(values, list):
            raise ValueError(f"malformed list node: {_short(node)}")
        for value in values:
            _check_node(value, archive, arrays)
    elif "tensor" in node or "array" in node:
        kind = "tensor" if "tensor" in node else "array"
        name = node[kind]
        if not isinstance(name, str):
            raise ValueError(f"malformed {kind} node: {_short(node)}")
        if name not in arrays:
            arrays[name] = _read_entry(archive, name)
        if kind == "tensor":
            array = arrays[name]
            if array.dtype.newbyteorder("=") not in _TENSOR_DTYPES:
                raise ValueError(f"the tensor {name!r} has dtype {array.dtype}, which a Tensor "
                                 "cannot have")
            if not isinstance(node.get("requires_grad"), bool) or (
                    node["requires_grad"] and array.dtype.kind != "f"):
                raise ValueError(f"malformed tensor node: {_short(node)}")
            if not array.dtype.isnative:  # written on a machine of the other byte order
                arrays[name] = array.astype(array.dtype.newbyteorder("="))
    else:
        raise ValueError(f"malformed structure: {_short(node)}")


def _short(node) -> str:
    text = json.dumps(node)
    return text if len(text) <= 80 else text[:77] + "..."


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


def _decode(node, arrays: dict, dev, loaded: dict):
    """The object for a JSON node checked by ``_check_node``; ``arrays`` holds the entries
    (host arrays) by name, ``loaded`` caches the tensors made of them (shared tensors)."""
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if "dict" in node:
        return {key: _decode(value, arrays, dev, loaded) for key, value in node["dict"]}
    if "list" in node:
        return [_decode(value, arrays, dev, loaded) for value in node["list"]]
    if "tuple" in node:
        return tuple(_decode(value, arrays, dev, loaded) for value in node["tuple"])
    kind = "tensor" if "tensor" in node else "array"
    name = node[kind]
    if name not in loaded:
        array = arrays[name]
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


def write_atomically(path, write) -> None:
    """Call ``write(file)`` on a new temporary file next to ``path`` (opened "wb"), flush it to
    disk, move it over ``path``, then flush the directory so that the move itself survives a
    power cut. Readers of ``path`` see the old file or the new one, never a part; leftovers of
    earlier saves that were killed are removed first (see the module docstring)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    _remove_leftovers(directory, name)
    fd, temporary = _create_temporary(directory, name)
    file = os.fdopen(fd, "wb")
    try:
        write(file)
        file.flush()
        os.fsync(file.fileno())
        if fcntl is None:
            file.close()  # Windows cannot rename an open file
        # On POSIX the file stays open, so locked, until it has its final name: no cleanup
        # by another save can take it for a leftover in between.
        os.replace(temporary, path)
    except BaseException:
        if fcntl is None:
            file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        file.close()
        raise
    file.close()
    _sync_directory(directory)


def _temporary_pattern(name: str) -> re.Pattern:
    return re.compile(re.escape(f".{name}.") + r"[0-9a-f]{8}\.tmp\Z")


def _try_lock(fd: int) -> bool | None:
    """Take an exclusive lock on an open file without waiting: True when taken, False when
    another open file holds it, None where files cannot be locked."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # e.g. ENOLCK: a file system without locks
        return None
    return True


def _create_temporary(directory: str, name: str) -> tuple[int, str]:
    """(fd, path) of a new, locked temporary file for ``name`` in ``directory``."""
    for _ in range(100):
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            # Mode 0o666 lets the umask decide, as for any file created with open().
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        try:
            # Between its creation and our lock, another save's cleanup may have locked the
            # new file and removed it as a leftover: then it is no longer ours; start again.
            if _try_lock(fd) is not False and _is_named(fd, temporary):
                return fd, temporary
        except BaseException:  # e.g. Ctrl-C: leave no file behind
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(f"could not create a temporary file for {name!r} in {directory}")


def _is_named(fd: int, path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _remove_leftovers(directory: str, name: str) -> None:
    """Remove the temporary files of earlier saves of ``name`` that were killed: those whose
    lock can be taken (no live writer), or where locks are unavailable, those untouched for
    STALE_SECONDS. Anything that cannot be examined is left alone."""
    pattern = _temporary_pattern(name)
    try:
        names = [n for n in os.listdir(directory) if pattern.match(n)]
    except OSError:
        return
    for leftover in (os.path.join(directory, n) for n in names):
        try:
            fd = os.open(leftover, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError:  # removed meanwhile, or not ours to open
            continue
        try:
            locked = _try_lock(fd)
            stale = locked is None and time.time() - os.fstat(fd).st_mtime > STALE_SECONDS
        except OSError:
            locked = stale = False
        if not locked:
            os.close(fd)  # before the removal: Windows cannot remove an open file
        if locked or stale:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        if locked:
            os.close(fd)  # after the removal: the lock keeps writers off until it is gone


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
