"""One training loop for every model of the lecture, and the loss functions it is given.

A ``Trainer`` runs minibatch gradient descent with any ``loss_fn(model, batch) -> (loss,
metrics)``: ``batch`` is the tuple of tensors the DataLoader yields (one per training array,
already on the device), ``loss`` a scalar Tensor to minimise and ``metrics`` a dict of scalar
Tensors to report. Denoising, super-resolution and the VAE differ only in that function.

What the loop guarantees:

- Nothing inside a step copies from the device to the host. Losses are summed on the device
  and read back only every ``log_every`` steps (for the progress bar) and at epoch end.
- A NaN or infinite loss, seen at one of those read-backs, stops training with
  ``TrainingDivergedError`` naming epoch, step and value; the checkpoint of the last good
  epoch is left as it was.
- Each epoch ends with a test-set evaluation (``model.eval()``, ``no_grad``), its row in
  ``metrics.jsonl`` (JSON lines) and an atomic checkpoint (``checkpoint.npz``: model, optimizer,
  scheduler, epoch, history), from which ``fit(..., resume=True)`` continues.
- Ctrl-C (KeyboardInterrupt) saves a checkpoint of the current weights, then re-raises; a
  resumed run repeats the interrupted epoch from its start with those weights.
- Runs are repeatable: at the start of epoch ``e`` the shuffling order and minigrad's
  generators (``mg.manual_seed``: dropout, VAE noise, corruptions) are seeded from
  ``(seed, e)``, so on the CPU the same seed gives the same numbers, and resuming after
  epoch ``e`` gives exactly the run that never stopped.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import minigrad as mg
from minigrad import optim
from minigrad.data import DataLoader

__all__ = ["Trainer", "TrainingDivergedError", "predict", "random_shift"]

LossFn = Callable[..., tuple[mg.Tensor, dict[str, mg.Tensor]]]


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the message says where and what was kept."""


def _epoch_seed(seed: int, epoch: int) -> int:
    """A seed for epoch ``epoch`` of a run seeded with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class Trainer:
    """Trains ``model`` by minimising ``loss_fn`` with ``optimizer``.

    model:      an ``nn.Module``; moved to ``device`` (in place, so an optimizer made before
                still holds its parameters).
    loss_fn:    ``loss_fn(model, batch) -> (loss, metrics)``, see the module docstring.
    scheduler:  an ``optim.lr_scheduler`` stepped once per epoch, or None.
    out_dir:    where ``metrics.jsonl`` and ``checkpoint.npz`` go (None: nowhere).
    seed:       seeds shuffling and minigrad's generators per epoch (see the module docstring).
    log_every:  steps between read-backs of the loss (progress bar and divergence check).
    max_grad_norm: clip the gradients' global norm to this before each step (None: never).
    progress:   show a tqdm bar (only on a terminal); verbose: print one line per epoch.
    """

    def __init__(self, model, loss_fn: LossFn, optimizer, scheduler=None, *,
                 device="cpu", out_dir: str | os.PathLike | None = None, seed: int = 0,
                 log_every: int = 50, max_grad_norm: float | None = None,
                 progress: bool = True, verbose: bool = True):
        self.device = mg.device(device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.seed = int(seed)
        self.log_every = int(log_every)
        self.max_grad_norm = max_grad_norm
        self.progress = progress
        self.verbose = verbose
        self.epoch = 0  # epochs completed
        self.history: list[dict] = []

    # -- files ----------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "checkpoint.npz"

    @property
    def metrics_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "metrics.jsonl"

    def save_checkpoint(self) -> None:
        """Write model, optimizer, scheduler, epoch and history atomically (minigrad.save)."""
        if self.out_dir is None:
            return
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "seed": self.seed,
            "history": self.history,
        }
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        mg.save(state, self.checkpoint_path)

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> None:
        """Restore the state written by ``save_checkpoint`` (default: this run's own)."""
        state = mg.load(self.checkpoint_path if path is None else path, device=self.device)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])

    def _write_metrics(self) -> None:
        """metrics.jsonl: one JSON object per completed epoch, rewritten atomically."""
        if self.out_dir is None:
            return
        temporary = self.out_dir / ".metrics.jsonl.tmp"
        temporary.write_text("".join(json.dumps(row) + "\n" for row in self.history))
        os.replace(temporary, self.metrics_path)  # readers never see a half-written file

    # -- training ---------------------------------------------------------------------------------
    def fit(self, train_arrays: Sequence[np.ndarray], test_arrays: Sequence[np.ndarray] | None
            = None, epochs: int = 1, batch_size: int = 128, resume: bool = False) -> list[dict]:
        """Train until ``epochs`` epochs are done in total; returns the history (one dict per
        epoch: epoch, train_loss, test_loss, train_/test_ + each metric, lr, time, eval_time).

        train_arrays / test_arrays: NumPy arrays with equal first axis, batched together.
        resume: continue from ``out_dir/checkpoint.npz`` when it exists.
        """
        # A training loop frees and reallocates the same large arrays every step: keep them
        # (a process-wide glibc setting, see minigrad.backend.keep_freed_host_memory).
        mg.backend.keep_freed_host_memory()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load_checkpoint()
            if self.verbose:
                print(f"resuming from {self.checkpoint_path} after epoch {self.epoch}")
        self._write_metrics()  # drops rows of a run that is being restarted or was cut short
        for epoch in range(self.epoch + 1, epochs + 1):
            try:
                self._run_epoch(epoch, epochs, train_arrays, test_arrays, batch_size)
            except KeyboardInterrupt:
                self.save_checkpoint()
                if self.verbose and self.out_dir is not None:
                    print(f"\ninterrupted in epoch {epoch}: saved {self.checkpoint_path}; "
                          "resume repeats this epoch")
                raise
        return self.history

    def _run_epoch(self, epoch, epochs, train_arrays, test_arrays, batch_size) -> None:
        seed = _epoch_seed(self.seed, epoch)
        mg.manual_seed(seed)
        lr = self.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        loader = DataLoader(*train_arrays, batch_size=batch_size, shuffle=True, seed=seed,
                            device=self.device)
        train = self._train_epoch(loader, epoch, epochs)
        seconds = time.perf_counter() - start
        self._check_finite(train["loss"], epoch, "the epoch's mean training loss")
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train.items()}}
        if test_arrays is not None:
            start = time.perf_counter()
            test = self.evaluate(test_arrays, batch_size)
            self._check_finite(test["loss"], epoch, "the test loss")
            row.update({f"test_{k}": v for k, v in test.items()})
            row["eval_time"] = time.perf_counter() - start
        row.update(lr=lr, time=seconds)
        if self.scheduler is not None:
            self.scheduler.step()
        self.history.append(row)
        self.epoch = epoch
        self.save_checkpoint()
        self._write_metrics()
        if self.verbose:
            test_part = f"  test loss {row['test_loss']:.4f}" if "test_loss" in row else ""
            print(f"epoch {epoch}/{epochs}  train loss {row['train_loss']:.4f}{test_part}  "
                  f"lr {lr:.3g}  {seconds:.1f} s", flush=True)

    def _train_epoch(self, loader, epoch: int, epochs: int) -> dict[str, float]:
        self.model.train()
        params = None if self.max_grad_norm is None else list(self.model.parameters())
        totals = _Totals()
        window, window_steps = None, 0
        bar = tqdm(loader, desc=f"epoch {epoch}/{epochs}", leave=False,
                   disable=None if self.progress else True)
        for step, batch in enumerate(bar, 1):
            batch = _as_tuple(batch)
            loss, metrics = self.loss_fn(self.model, batch)
            self.optimizer.zero_grad()
            loss.backward()
            if params is not None:
                optim.clip_grad_norm_(params, self.max_grad_norm)
            self.optimizer.step()
            loss = loss.detach()
            totals.add(loss, metrics, len(batch[0]))
            window = loss if window is None else window + loss  # stays on the device
            window_steps += 1
            if window_steps == self.log_every:
                value = window.item() / window_steps  # the only read-back within the epoch
                first = step - window_steps + 1
                self._check_finite(value, epoch, f"the mean loss of steps {first}..{step}")
                bar.set_postfix(loss=f"{value:.4g}", refresh=False)
                window, window_steps = None, 0
        bar.close()
        return totals.means()

    def _check_finite(self, value: float, epoch: int, what: str) -> None:
        if math.isfinite(value):
            return
        kept = (f"the checkpoint of epoch {self.epoch} is kept in {self.checkpoint_path}"
                if self.checkpoint_path is not None and self.epoch > 0
                else "no checkpoint was written")
        raise TrainingDivergedError(
            f"training diverged in epoch {epoch}: {what} is {value}; {kept}. "
            "Try a smaller learning rate or gradient clipping.")

    def evaluate(self, arrays: Sequence[np.ndarray], batch_size: int = 512) -> dict[str, float]:
        """Mean loss and metrics over ``arrays`` (in order), in eval mode without a graph."""
        self.model.eval()
        totals = _Totals()
        with mg.no_grad():
            for batch in DataLoader(*arrays, batch_size=batch_size, device=self.device):
                batch = _as_tuple(batch)
                loss, metrics = self.loss_fn(self.model, batch)
                totals.add(loss, metrics, len(batch[0]))
        self.model.train()
        return totals.means()


def _as_tuple(batch) -> tuple:
    """The DataLoader yields a bare Tensor for a single array; loss functions get a tuple."""
    return (batch,) if isinstance(batch, mg.Tensor) else batch


class _Totals:
    """Sums of per-batch means weighted by batch size, kept on the device until ``means``."""

    def __init__(self):
        self.sums: dict[str, mg.Tensor] = {}
        self.count = 0

    def add(self, loss: mg.Tensor, metrics: dict[str, mg.Tensor], n: int) -> None:
        for name, value in {"loss": loss, **metrics}.items():
            value = value.detach() * n
            self.sums[name] = value if name not in self.sums else self.sums[name] + value
        self.count += n

    def means(self) -> dict[str, float]:
        return {name: total.item() / self.count for name, total in self.sums.items()}


def predict(model, *arrays: np.ndarray, fn: Callable | None = None,
            batch_size: int = 512) -> np.ndarray:
    """``fn(model, *batch)`` (default ``model(x)``) over NumPy arrays in batches, in eval mode
    without a graph, on the model's device; the outputs concatenated as one NumPy array.

    E.g. codes: ``predict(vae, x, fn=lambda m, x: m.encode(x)[0])``; images from codes:
    ``predict(model, z, fn=lambda m, z: m.decode(z))``.
    """
    device = next(iter(model.parameters())).device
    was_training = model.training
    model.eval()
    outputs = []
    with mg.no_grad():
        for batch in DataLoader(*arrays, batch_size=batch_size, device=device):
            batch = _as_tuple(batch)
            out = model(*batch) if fn is None else fn(model, *batch)
            outputs.append(out.numpy())
    model.train(was_training)
    return np.concatenate(outputs)


def random_shift(x: mg.Tensor, image_shape: Sequence[int], max_shift: int = 1) -> mg.Tensor:
    """Data augmentation: each image moved by its own random whole number of pixels in
    [-max_shift, max_shift] along both axes, zeros coming in at the border.

    x: (N, ...) with the last dimensions holding an image of ``image_shape`` (H, W), possibly
    flattened, e.g. (N, 784) or (N, 1, 28, 28). Runs on x's device with x's generator: the
    (2s + 1)^2 shifted copies are slices of one zero-padded batch, and each image keeps one.
    """
    s = max_shift
    h, w = image_shape
    n = x.shape[0]
    images = x.reshape(n, -1, h, w)
    padded = mg.pad(images, [(0, 0), (0, 0), (s, s), (s, s)])
    side = 2 * s + 1
    choice = mg.randint(0, side * side, (n, 1, 1, 1), device=x.device)
    out = None
    for k in range(side * side):
        dy, dx = divmod(k, side)
        picked = (choice == k).to(dtype=x.dtype) * padded[:, :, dy:dy + h, dx:dx + w]
        out = picked if out is None else out + picked
    return out.reshape(x.shape)
