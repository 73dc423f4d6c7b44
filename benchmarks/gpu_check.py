"""Verify everything GPU-side in one run: tests, step times, demos, memory, host syncs.

    python benchmarks/gpu_check.py                      # on cuda:0, under 8 minutes
    python benchmarks/gpu_check.py --out my_gpu.json --suite-timeout 200
    python benchmarks/gpu_check.py --dry-run            # every section on strict:device1, tiny

Run it once on a machine with an NVIDIA GPU and CuPy (``pip install -e ".[cuda12]"``; PyTorch
with CUDA for the comparison column). It prints a short table and writes one JSON summary
(``--out``, default gpu_check.json) with these sections:

- ``suite``: the engine tests (tests/minigrad) on the device, via ``pytest -k <device>``: the
  tests take every device of tests/conftest.py's DEVICES, which holds "cuda:0" when CuPy finds
  a GPU. Pass/fail counts; stopped after ``--suite-timeout`` seconds (the counts then come
  from pytest's progress characters, and the section says ``timed_out``).
- ``benchmark``: W1-W3 of benchmarks/bench_training.py (its model builders and its timing,
  imported, not copied) against PyTorch on the same GPU (``torch.device("cuda")`` as the
  default device while PyTorch builds its models), median wall-clock ms per step. A step ends
  with ``loss.item()``, so the GPU has finished its work when the clock stops.
- ``demos``: demos/train_mnist_ae.py and demos/train_mnist_vae.py, one epoch each with
  ``--device gpu`` in a subprocess (into a temporary --out): wall time, exit code, and the
  headline numbers of their metrics.json.
- ``memory``: CuPy's memory pool during a few training steps of each model: the high-water
  mark of ``used_bytes()`` (a hook on every allocation, so short-lived peaks inside
  backward() count too) and ``total_bytes()`` (what the pool holds from the GPU).
- ``syncs``: host-device synchronisations in one training step of W1, W2 and W3 (zero
  expected; see below).

``--dry-run`` (also chosen by ``--device strict:device1``) runs every section on
``strict:device1`` (array_api_strict standing in for CuPy) with tiny sizes and PyTorch on
the CPU, so that the script keeps working without a GPU (tests/test_gpu_check.py runs it).

How syncs are counted (class SyncCounter). A step syncs when the host waits for a device
value. In minigrad every deliberate device-to-host copy goes through
``minigrad.backend.to_numpy`` (Tensor.item / numpy / tolist / float / int / bool use it), so
the counter replaces that function in every loaded minigrad and autoencoders module (they
import it by name, so patching the backend module alone would miss them). Beneath it:

- strict:device1: array_api_strict's Array is a Python class, so its host exits are patched
  too: ``__array__``, ``__bool__``, ``__float__``, ``__int__``, ``__index__``,
  ``__complex__``, ``__dlpack__`` and ``to_device`` to another device. Any conversion of a
  device1 array to a host value is therefore caught, whoever calls it.
- cuda: ``cupy.asnumpy`` is patched; ``cupy.ndarray`` is a compiled type whose methods cannot
  be replaced, so a direct ``.get()``, ``.item()``, ``.tolist()``, ``float()``, ``int()`` or
  ``bool()`` on a CuPy array outside to_numpy is NOT caught on the GPU, nor are CuPy's own
  syncs (boolean-mask indexing, ``nonzero``, ``unique``: they need a size from the device)
  or explicit stream synchronisations. The same engine source runs on strict:device1, where
  those conversions are caught, so the dry run covers them, except code that only runs
  when ``device.type == "cuda"``.

A sync is counted once at its outermost patched call (float(t) -> item -> to_numpy ->
to_device is one sync), for device arrays only (NumPy and strict:cpu arrays are host
memory), and its place is recorded as the innermost minigrad/autoencoders frames.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # bench_training lives next to this script, not in a package

import bench_training  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import backend, optim  # noqa: E402
from minigrad.nn import functional as F  # noqa: E402

DRY_DEVICE = "strict:device1"


# -- counting host-device synchronisations ------------------------------------------------

class SyncCounter:
    """Counts device-to-host conversions while active (a context manager); see the module
    docstring for what is and is not caught. ``count`` is the total, ``places`` a Counter of
    the code locations ("file:line in function") that asked for them."""

    def __init__(self):
        self.count = 0
        self.places: collections.Counter[str] = collections.Counter()
        self._depth = threading.local()
        self._undo: list = []
        self.active = False

    # The wrapper counts a call when the conversion leaves a device (is_device) and no
    # patched call is already running on this thread: nested calls are the same sync.
    def _wrap(self, fn, is_device):
        counter = self

        def wrapper(*args, **kwargs):
            depth = getattr(counter._depth, "n", 0)
            if counter.active and depth == 0 and is_device(*args, **kwargs):
                counter.count += 1
                counter.places[_caller()] += 1
            counter._depth.n = depth + 1
            try:
                return fn(*args, **kwargs)
            finally:
                counter._depth.n = depth

        wrapper.__wrapped__ = fn
        return wrapper

    def _patch(self, owner, name, is_device) -> bool:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        try:
            setattr(owner, name, self._wrap(original, is_device))
        except (TypeError, AttributeError):  # compiled types (cupy.ndarray) refuse
            return False
        self._undo.append((owner, name, original))
        return True

    def __enter__(self) -> SyncCounter:
        original = backend.to_numpy
        for name, module in list(sys.modules.items()):
            if (name.split(".")[0] in ("minigrad", "autoencoders")
                    and getattr(module, "to_numpy", None) is original):
                self._patch(module, "to_numpy", _to_numpy_leaves_device)
        try:
            import array_api_strict._array_object as strict_array
        except ImportError:
            pass
        else:
            cls = strict_array.Array
            for name in ("__array__", "__bool__", "__float__", "__int__", "__index__",
                         "__complex__", "__dlpack__"):
                if name in cls.__dict__:
                    self._patch(cls, name, _strict_on_device)
            self._patch(cls, "to_device", _strict_leaves_device)
        if "cupy" in sys.modules:
            import cupy

            self._patch(cupy, "asnumpy", lambda *a, **k: True)
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def reset(self) -> None:
        self.count = 0
        self.places.clear()


def _is_device_array(array) -> bool:
    module = type(array).__module__
    if module.startswith("cupy"):
        return True
    return module.startswith("array_api_strict") and "device1" in str(array.device)


def _to_numpy_leaves_device(array, *args, **kwargs) -> bool:
    if type(array).__module__ == "minigrad.tensor":
        array = array.data
    return _is_device_array(array)


def _strict_on_device(array, *args, **kwargs) -> bool:
    return _is_device_array(array)


def _strict_leaves_device(array, device=None, *args, **kwargs) -> bool:
    return _is_device_array(array) and "device1" not in str(device)


def _caller(frames: int = 3) -> str:
    """The innermost ``frames`` frames of the engine (minigrad/, autoencoders/) and of the
    benchmarks, without this file, as "path:line in function", innermost first."""
    found = []
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = Path(frame.filename)
        if path == Path(__file__).resolve() or path.name == "gpu_check.py":
            continue
        try:
            rel = path.resolve().relative_to(ROOT)
        except ValueError:
            continue
        if rel.parts[0] in ("minigrad", "autoencoders", "benchmarks"):
            found.append(f"{rel}:{frame.lineno} in {frame.name}")
        if len(found) == frames:
            break
    return " <- ".join(found) or "(outside the repository)"


# -- the training steps, with and without the loss read back --------------------------------

def model_steps(device: str, batch: int) -> dict:
    """name -> a training step without reading the loss back (zero grads, forward, loss,
    backward, Adam), and a function reading the last loss: bench_training's models."""
    x_flat = mg.rand(batch, 784, device=device)
    x_img = mg.rand(batch, 1, 28, 28, device=device)

    def vae_loss(model):
        recon, mu, logvar = model(x_flat)
        return (F.binary_cross_entropy(recon, x_flat, reduction="sum")
                + F.kl_divergence_normal(mu, logvar, reduction="sum"))

    models = {
        "W1 MLP AE": (bench_training.mlp_autoencoder(device),
                      lambda m: F.mse_loss(m(x_flat), x_flat)),
        "W2 conv AE": (bench_training.conv_autoencoder(device),
                       lambda m: F.mse_loss(m(x_img), x_img)),
        "W3 VAE": (bench_training.VAE(device), vae_loss),
    }
    steps = {}
    for name, (model, loss_of) in models.items():
        opt = optim.Adam(model.parameters(), lr=1e-3)
        last = {}

        def step(model=model, loss_of=loss_of, opt=opt, last=last):
            opt.zero_grad()
            loss = loss_of(model)
            loss.backward()
            opt.step()
            last["loss"] = loss

        steps[name] = (step, lambda last=last: last["loss"].item())
    return steps


def skipped_on_cuda(place: str) -> bool:
    """Whether the sync at ``place`` (as _caller writes it) sits on a line guarded by
    ``.type != "cuda"``: a check the engine makes on the CPU and on the array_api_strict
    stand-ins but skips on CuPy, so it costs no sync on a GPU."""
    import linecache

    path, _, rest = place.split(" <- ")[0].rpartition(":")
    line = linecache.getline(str(ROOT / path), int(rest.split()[0]))
    return '.type != "cuda"' in line


def count_syncs(device: str, batch: int) -> dict:
    """Syncs in the first step (which creates Adam's state), in a later step, and in reading
    the loss back (1 expected: the one sync a training loop needs, when it logs).
    ``step_on_cuda`` leaves out the syncs that a GPU skips (see skipped_on_cuda); ``ok``
    wants it and ``first_step_on_cuda`` to be 0 for every model."""
    result = {}
    for name, (step, read_loss) in model_steps(device, batch).items():
        row = {}
        with SyncCounter() as counter:
            for label, call in (("first_step", step), ("step", step), ("loss_item", read_loss)):
                counter.reset()
                call()
                row[label] = counter.count
                if label == "loss_item":
                    continue
                row[f"{label}_on_cuda"] = sum(n for place, n in counter.places.items()
                                              if not skipped_on_cuda(place))
                if counter.places:
                    row[f"{label}_places"] = dict(counter.places)
        result[name] = row
    result["ok"] = all(row["step_on_cuda"] == 0 and row["first_step_on_cuda"] == 0
                       for key, row in result.items() if key != "ok")
    return result


# -- GPU memory -----------------------------------------------------------------------------

def measure_memory(device: str, batch: int, steps: int = 3) -> dict:
    """The pool's high-water mark of used bytes during ``steps`` training steps of each
    model (CuPy only). Every allocation goes through a hook that samples ``used_bytes()``
    right after it, so the peak inside backward() is seen, not just between steps."""
    if mg.device(device).type != "cuda":
        return {"skipped": f"{device} has no CuPy memory pool", "ok": True}
    import cupy

    pool = cupy.get_default_memory_pool()
    result = {}
    for name, (step, read_loss) in model_steps(device, batch).items():
        step()  # build Adam's state first: it lives as long as the model
        read_loss()
        before = pool.used_bytes()
        peak = [before]

        def malloc(size, peak=peak):
            memory = pool.malloc(size)
            peak[0] = max(peak[0], pool.used_bytes())
            return memory

        cupy.cuda.set_allocator(malloc)
        try:
            for _ in range(steps):
                step()
            read_loss()
        finally:
            cupy.cuda.set_allocator(pool.malloc)
        result[name] = {"peak_used_mib": peak[0] / 2**20,
                        "step_extra_mib": (peak[0] - before) / 2**20,
                        "pool_total_mib": pool.total_bytes() / 2**20}
    result["ok"] = True
    return result


# -- step times against PyTorch -------------------------------------------------------------

def benchmark(device: str, batch: int, steps: int, warmup: int, torch_device: str | None,
              torch_threads: int | None = None) -> dict:
    """bench_training's W1-W3 on ``device`` against PyTorch on ``torch_device`` (None: no
    PyTorch), median wall-clock ms, timed by bench_training.median_ms. ``torch_threads``:
    PyTorch's CPU threads (the dry run's 1 keeps it off the neighbours' cores)."""
    bench_training.BATCH = batch  # read by its builders when they make the inputs
    mg.manual_seed(0)
    ours = bench_training.minigrad_steps(device)
    theirs, torch_note = {}, "not installed"
    if torch_device is not None:
        try:
            import torch
        except ImportError:
            torch_device = None
        else:
            torch.manual_seed(0)
            if torch_threads:
                torch.set_num_threads(torch_threads)
            with torch.device(torch_device):  # the default device of its factories and layers
                theirs = bench_training.torch_steps()
            torch_note = f"PyTorch {torch.__version__} on {torch_device}"
    result = {"batch": batch, "steps": steps, "torch": torch_note}
    for name, step in ours.items():
        if name in theirs:
            ms, ref = bench_training.median_ms([step, theirs[name]], warmup, steps,
                                               time.perf_counter)
            result[name] = {"minigrad_ms": ms, "torch_ms": ref, "ratio": ms / ref}
        else:
            (ms,) = bench_training.median_ms([step], warmup, steps, time.perf_counter)
            result[name] = {"minigrad_ms": ms}
    result["ok"] = True
    return result


# -- the test suite -------------------------------------------------------------------------

_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")
_PROGRESS = re.compile(r"^([.FEsxX]+)\s*(\[\s*\d+%\])?$")


def run_suite(device: str, paths: list[str], timeout: float) -> dict:
    """pytest on ``paths``, the tests of ``device`` only (their ids hold its name)."""
    # --maxfail rather than -x: one failing test should not hide how many others pass
    command = [sys.executable, "-m", "pytest", "-q", "--maxfail", "20", "-p", "no:cacheprovider",
               *paths, "-k", device]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        output, returncode, timed_out = done.stdout + done.stderr, done.returncode, False
    except subprocess.TimeoutExpired as err:
        output = _text(err.stdout) + _text(err.stderr)
        returncode, timed_out = None, True
    counts = {}
    summary = [line for line in output.splitlines() if _COUNTS.search(line)]
    if summary and not timed_out:
        for number, what in _COUNTS.findall(summary[-1]):
            counts[what.rstrip("s") if what.startswith("error") else what] = int(number)
    else:  # killed: count pytest's progress characters
        marks = "".join(m.group(1) for line in output.splitlines()
                        if (m := _PROGRESS.match(line.strip())))
        counts = {"passed": marks.count("."), "failed": marks.count("F"),
                  "error": marks.count("E"), "skipped": marks.count("s")}
    failures = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return {"command": " ".join(command[1:]), "seconds": time.perf_counter() - started,
            "timed_out": timed_out, "returncode": returncode, **counts,
            "failures": failures[:10],
            "ok": (not counts.get("failed") and not counts.get("error")
                   and counts.get("passed", 0) > 0 and (timed_out or returncode == 0))}


def _text(data) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


# -- the demos ------------------------------------------------------------------------------

DEMOS = {  # script -> the headline numbers of its metrics.json
    "train_mnist_ae": ("test_sq_error_per_image", "test_bce_per_image"),
    "train_mnist_vae": ("test_loss_bce_kl_per_image", "test_kl_per_image"),
}


def run_demos(device: str, extra: list[str], timeout: float) -> dict:
    """Each demo for one epoch on ``device`` into a temporary folder."""
    result = {}
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as scratch:
        for demo, headline in DEMOS.items():
            out = Path(scratch) / demo
            command = [sys.executable, str(ROOT / "demos" / f"{demo}.py"), "--device", device,
                       "--epochs", "1", "--out", str(out), "--no-progress", *extra]
            started = time.perf_counter()
            try:
                done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                      timeout=timeout)
                returncode, tail = done.returncode, (done.stdout + done.stderr)[-1500:]
            except subprocess.TimeoutExpired as err:
                returncode, tail = None, (_text(err.stdout) + _text(err.stderr))[-1500:]
            row = {"command": " ".join(command[1:]), "returncode": returncode,
                   "wall_seconds": time.perf_counter() - started}
            metrics_file = out / "metrics.json"
            if metrics_file.exists():
                metrics = json.loads(metrics_file.read_text())
                row.update({key: metrics.get(key) for key in
                            ("dataset", "device", "seconds_per_epoch", *headline)})
            row["ok"] = returncode == 0 and metrics_file.exists()
            if not row["ok"]:
                row["output_tail"] = tail
            result[demo] = row
    result["ok"] = all(row["ok"] for row in result.values())
    return result


# -- the whole check ------------------------------------------------------------------------

def environment(device: str) -> dict:
    info = {"device": device, "python": sys.version.split()[0], "minigrad_device":
            str(mg.device(device))}
    if mg.device(device).type == "cuda":
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(mg.device(device).index)
        name = props["name"]
        info.update(cupy=cupy.__version__,
                    gpu=name.decode() if isinstance(name, bytes) else str(name),
                    gpu_memory_gib=props["totalGlobalMem"] / 2**30)
    with contextlib.suppress(ImportError):
        import torch

        info.update(torch=torch.__version__, torch_cuda=torch.cuda.is_available())
    return info


def section(summary: dict, name: str, fn, *args) -> None:
    """Run one section; an exception fails that section only, the others still run."""
    print(f"[gpu_check] {name} ...", flush=True)
    started = time.perf_counter()
    try:
        summary[name] = fn(*args)
    except Exception as err:  # report and go on: one broken part should not hide the rest
        summary[name] = {"ok": False, "error": f"{type(err).__name__}: {err}",
                         "traceback": traceback.format_exc()[-2000:]}
    summary[name]["section_seconds"] = time.perf_counter() - started


def print_table(summary: dict) -> None:
    print(f"\ngpu_check on {summary['environment'].get('gpu', summary['device'])}"
          f"{' (dry run)' if summary['dry_run'] else ''}")
    for name in ("suite", "benchmark", "demos", "memory", "syncs"):
        print(f"  {name:<10} {'ok' if summary[name].get('ok') else 'FAILED'}"
              f"  ({summary[name]['section_seconds']:.0f} s)")
    suite = summary["suite"]
    print(f"  tests: {suite.get('passed', 0)} passed, {suite.get('failed', 0)} failed"
          f"{', timed out' if suite.get('timed_out') else ''}")
    print(f"  {'model':<12} {'minigrad ms':>12} {'PyTorch ms':>11} {'ratio':>6} "
          f"{'syncs/step':>10} {'peak MiB':>9}")
    for model in ("W1 MLP AE", "W2 conv AE", "W3 VAE"):
        b = summary["benchmark"].get(model, {})
        s = summary["syncs"].get(model, {})
        m = summary["memory"].get(model, {})
        cells = [f"{b['minigrad_ms']:12.2f}" if "minigrad_ms" in b else f"{'-':>12}",
                 f"{b['torch_ms']:11.2f}" if "torch_ms" in b else f"{'-':>11}",
                 f"{b['ratio']:6.2f}" if "ratio" in b else f"{'-':>6}",
                 f"{s.get('step_on_cuda', '-'):>10}",
                 f"{m['peak_used_mib']:9.1f}" if "peak_used_mib" in m else f"{'-':>9}"]
        print(f"  {model:<12} " + " ".join(cells))
    for demo, row in summary["demos"].items():
        if isinstance(row, dict):
            numbers = ", ".join(f"{k} {row[k]:.4g}" for k in DEMOS[demo] if row.get(k) is not None)
            print(f"  {demo:<16} {row['wall_seconds']:6.1f} s  {numbers}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0", help="the GPU to check")
    parser.add_argument("--dry-run", action="store_true",
                        help=f"every section on {DRY_DEVICE}, tiny sizes, PyTorch on the CPU")
    parser.add_argument("--out", default="gpu_check.json", help="the JSON summary")
    parser.add_argument("--suite-timeout", type=float, default=240,
                        help="seconds for the test suite (its counts so far after that)")
    parser.add_argument("--dataset", default="auto",
                        help="the demos' --dataset (auto: full MNIST if found, else mnist5k)")
    args = parser.parse_args(argv)
    dry = args.dry_run or args.device.startswith("strict")
    device = DRY_DEVICE if dry else args.device
    if dry:  # sizes that keep the whole check within seconds on one CPU core
        suite_paths = ["tests/minigrad/test_tensor.py", "tests/minigrad/test_optim.py"]
        batch, steps, warmup, demo_timeout = 8, 1, 0, 60
        demo_extra = ["--dataset", "digits", "--threads", "1", "--hidden", "32",
                      "--latent-dim", "4"]
        torch_device, torch_threads = "cpu", 1
        suite_timeout = min(args.suite_timeout, 60)
    else:
        suite_paths = ["tests/minigrad"]
        batch, steps, warmup, demo_timeout = bench_training.BATCH, 30, 5, 150
        demo_extra = ["--dataset", args.dataset]
        torch_device, torch_threads = ("cuda" if _torch_cuda() else None), None
        suite_timeout = args.suite_timeout
    try:  # no GPU / no CuPy: fail here, in one line, before any section
        mg.device(device)
    except mg.DeviceError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    summary = {"device": device, "dry_run": dry, "environment": environment(device)}
    section(summary, "suite", run_suite, device, suite_paths, suite_timeout)
    section(summary, "benchmark", benchmark, device, batch, steps, warmup, torch_device,
            torch_threads)
    section(summary, "memory", measure_memory, device, batch)
    section(summary, "syncs", count_syncs, device, batch)
    # "gpu" is what a user types; any other cuda:N is passed as it is
    section(summary, "demos", run_demos, "gpu" if device == "cuda:0" else device, demo_extra,
            demo_timeout)
    summary["ok"] = all(summary[name]["ok"] for name in
                        ("suite", "benchmark", "memory", "syncs", "demos"))
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    print_table(summary)
    print(f"summary in {args.out}: {'all ok' if summary['ok'] else 'SOME CHECKS FAILED'}")
    return summary


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
