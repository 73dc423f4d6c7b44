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
- A checkpoint never holds NaN or infinite numbers: before one is written, the parameters,
  buffers and optimizer state are checked on the device (one read-back per epoch); if any is
  not finite (a finite loss can hide a last bad step), nothing is written and training stops
  with ``TrainingDivergedError``.
- Each epoch ends with a test-set evaluation (``model.eval()``, ``no_grad``), its row in
  ``metrics.jsonl`` (JSON lines) and an atomic checkpoint (``checkpoint.npz``: model, optimizer,
  scheduler, epoch, history), from which ``fit(..., resume=True)`` continues. That end of
  epoch (scheduler step, history, checkpoint, log) runs with Ctrl-C held back until it is
  done, so an interrupt never leaves it half done.
- Ctrl-C (KeyboardInterrupt) saves a checkpoint of the current weights, then re-raises; a
  resumed run repeats the interrupted epoch from its start with those weights.
- Empty training or test sets are refused up front (ValueError), before any training.
- Runs are repeatable: at the start of epoch ``e`` the shuffling order and minigrad's
  generators (``mg.manual_seed``: dropout, VAE noise, corruptions) are seeded from
  ``(seed, e)``, so on the CPU the same seed gives the same numbers, and resuming after
  epoch ``e`` gives exactly the run that never stopped.

Data-parallel training (``mpiexec -n W python script.py``, docs/distributed.md): when the
default process group of ``minigrad.distributed`` is initialised with W > 1 workers, ``fit``
trains the same global batches as one process would, split across the workers:

- The epoch's permutation is the one process's (same seed); global batch k (``batch_size``
  samples) goes to the workers interleaved, worker r taking its samples r, r+W, r+2W, ...
  (``batch_size // W`` or one more each). Each worker runs forward and backward on its part
  and the gradients are averaged (by ``DistributedDataParallel`` in backward, one all-reduce
  per bucket), weighted by each part's size, so that the update is the one-process update
  on the whole batch, to rounding, the last, smaller batch included. Clipping and the
  optimizer see the averaged gradients, so the workers stay identical.
- BatchNorm normalises with each worker's own part of the batch (as PyTorch's DDP does);
  rank 0's running statistics are copied to every worker at the end of each epoch, before
  the evaluation and the checkpoint. ``nn.SyncBatchNorm`` (``convert_sync_batchnorm``)
  normalises with the whole batch's statistics instead, as one process would; a last batch
  with fewer samples than workers is then skipped by all of them.
- Rank 0 draws minigrad's random numbers (dropout, noise) as one process does; worker r > 0
  draws from its own stream, seeded from ``(seed, e, r)``.
- The loss and metrics reported (progress bar, history, evaluation) are sums and counts
  all-reduced over the workers: the means over all samples, as one process reports them.
  ``evaluate`` splits the set across the workers; like ``fit`` it is collective (every
  worker must call it).
- Only rank 0 shows the progress bar, prints, and writes ``metrics.jsonl`` and checkpoints;
  ``resume`` reads rank 0's checkpoint and broadcasts it, so the others need no access to
  rank 0's files, and the number of workers may change between runs (a checkpoint holds
  nothing specific to a worker).
- Ctrl-C (mpiexec forwards it to every worker): rank 0 saves the current weights as above.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import minigrad as mg
from minigrad import nn, optim
from minigrad.creation import check_size
from minigrad.data import DataLoader
from minigrad.io import write_atomically

__all__ = ["Trainer", "TrainingDivergedError", "predict", "random_shift"]

LossFn = Callable[..., tuple[mg.Tensor, dict[str, mg.Tensor]]]


class TrainingDivergedError(RuntimeError):
    """The loss or the parameters became NaN or infinite; the message says where and what was
    kept."""


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
    distributed: None (default): train data-parallel when minigrad.distributed's process
                group has more than one worker (module docstring); False: train this
                process's model alone even then (e.g. one model per worker).
    """

    def __init__(self, model, loss_fn: LossFn, optimizer, scheduler=None, *,
                 device="cpu", out_dir: str | os.PathLike | None = None, seed: int = 0,
                 log_every: int = 50, max_grad_norm: float | None = None,
                 progress: bool = True, verbose: bool = True, distributed: bool | None = None):
        self.device = mg.device(device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.seed = check_size(seed, "Trainer: seed")
        self.log_every = check_size(log_every, "Trainer: log_every", low=1)
        if max_grad_norm is not None and not 0 < max_grad_norm < math.inf:  # NaN included
            raise ValueError(f"Trainer: max_grad_norm must be a finite number > 0 or None, got "
                             f"{max_grad_norm!r}")
        self.max_grad_norm = max_grad_norm
        self.progress = progress
        self.verbose = verbose
        self.epoch = 0  # epochs completed
        self.history: list[dict] = []
        # Data parallelism (see the module docstring): set up by fit() when a process group
        # of several workers exists; a single process keeps rank 0, world 1 and no DDP.
        self._rank, self._world = 0, 1
        self._ddp = None
        self._sync_bn = False  # the model has SyncBatchNorm layers (set with the DDP wrapper)
        self._allow_distributed = distributed is None or distributed

    @property
    def _distributed(self) -> bool:
        return self._ddp is not None

    def _setup_distributed(self) -> None:
        """Wrap the model for data parallelism when minigrad.distributed has a group of more
        than one worker (once per Trainer). The DDP wrapper gives every worker rank 0's
        parameters and averages gradients; the loss function keeps getting the bare model
        (it may call methods such as ``encode``), so the wrapper's forward is not used."""
        dist = sys.modules.get("minigrad.distributed")  # not imported: one process
        if (not self._allow_distributed or self._ddp is not None or dist is None
                or not dist.is_initialized()):
            return
        if dist.get_world_size() == 1:
            return
        self._rank, self._world = dist.get_rank(), dist.get_world_size()
        self._ddp = dist.DistributedDataParallel(self.model, broadcast_buffers=False)
        self._sync_bn = any(isinstance(m, nn.SyncBatchNorm) for m in self.model.modules())

    # -- files ----------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "checkpoint.npz"

    @property
    def metrics_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "metrics.jsonl"

    def save_checkpoint(self) -> None:
        """Write model, optimizer, scheduler, epoch and history atomically (minigrad.save).
        Raises TrainingDivergedError, writing nothing, when a number to save is not finite."""
        if self.out_dir is None:
            return
        self._check_state_finite(self.epoch + 1)
        self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        if self.out_dir is None or self._rank != 0:
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
        """Restore the state written by ``save_checkpoint`` (default: this run's own). All or
        nothing: a file that is not such a checkpoint, or whose parts do not fit this model,
        optimizer or scheduler, raises (ValueError, or the part's own error) and the trainer
        is left as it was."""
        path = self.checkpoint_path if path is None else path
        state = mg.load(path, device=self.device)
        needed = ["model", "optimizer", "epoch", "history"]
        needed += ["scheduler"] if self.scheduler is not None else []
        missing = [k for k in needed if k not in state] if isinstance(state, dict) else needed
        if missing:
            raise ValueError(f"{path}: not a Trainer checkpoint (it lacks {missing})")
        epoch, history = state["epoch"], state["history"]
        if not (isinstance(epoch, int) and epoch >= 0 and isinstance(history, list)
                and len(history) == epoch):
            raise ValueError(f"{path}: a checkpoint after epoch {epoch!r} needs one history row "
                             f"per epoch, got {type(history).__name__} {str(history)[:60]}")
        # Each load_state_dict changes nothing when it fails; undo the ones before it.
        undo = [(self.optimizer, self.optimizer.state_dict())]
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                undo.append((self.scheduler, self.scheduler.state_dict()))
                self.scheduler.load_state_dict(state["scheduler"])
            self.model.load_state_dict(state["model"])
        except BaseException:
            for part, before in reversed(undo):
                part.load_state_dict(before)
            raise
        self.epoch = epoch
        self.history = list(history)

    def _write_metrics(self) -> None:
        """metrics.jsonl: one JSON object per completed epoch, rewritten atomically (readers
        never see a half-written file)."""
        if self.out_dir is None:
            return
        if self._rank != 0:
            return
        text = "".join(json.dumps(row) + "\n" for row in self.history).encode()
        write_atomically(self.metrics_path, lambda f: f.write(text))

    def _check_state_finite(self, epoch: int) -> None:
        """Raise TrainingDivergedError if a parameter, a floating-point buffer or an optimizer
        buffer holds a NaN or an infinity. Computed on the device, read back once."""
        arrays = [t.data for t in [*self.model.parameters(), *self.model.buffers()]
                  if t.dtype.kind == "f"]
        arrays += [value for state in self.optimizer.state.values() for value in state.values()
                   if not isinstance(value, int | float)]
        if not arrays:
            return
        xp = self.device.xp
        # One boolean per array, on the device: a single read-back for all of them.
        flags = xp.stack([xp.all(xp.isfinite(mg.backend.transfer(a, self.device)))
                          for a in arrays])
        if bool(mg.to_numpy(xp.all(flags))):
            return
        bad = [name for name, p in self.model.named_parameters()
               if not bool(mg.to_numpy(xp.all(xp.isfinite(p.data))))]
        what = (f"parameter(s) {', '.join(bad)}" if bad else "a buffer or the optimizer state")
        raise TrainingDivergedError(
            f"training diverged in epoch {epoch}: {what} hold NaN or infinite values (the last "
            f"steps' gradients were not finite); {self._kept()}. Try a smaller learning rate "
            "or gradient clipping.")

    # -- training ---------------------------------------------------------------------------------
    def fit(self, train_arrays: Sequence[np.ndarray], test_arrays: Sequence[np.ndarray] | None
            = None, epochs: int = 1, batch_size: int = 128, resume: bool = False) -> list[dict]:
        """Train until ``epochs`` epochs are done in total; returns the history (one dict per
        epoch: epoch, train_loss, test_loss, train_/test_ + each metric, lr, time, eval_time).

        train_arrays / test_arrays: tuples of NumPy arrays with equal first axis, batched
        together, e.g. ``(x,)`` or ``(x_in, x_target)``; neither may be empty (ValueError).
        resume: continue from ``out_dir/checkpoint.npz`` when it exists.
        """
        epochs = check_size(epochs, "fit: epochs")
        _check_arrays(train_arrays, "training", batch_size)
        if test_arrays is not None:
            _check_arrays(test_arrays, "test", batch_size)
        # A training loop frees and reallocates the same large arrays every step: keep them
        # (a process-wide glibc setting, see minigrad.backend.keep_freed_host_memory).
        mg.backend.keep_freed_host_memory()
        self._setup_distributed()
        if self.out_dir is not None and self._rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume and self._load_checkpoint_to_resume():
            if self.verbose and self._rank == 0:
                print(f"resuming from {self.checkpoint_path} after epoch {self.epoch}")
        self._write_metrics()  # drops rows of a run that is being restarted or was cut short
        for epoch in range(self.epoch + 1, epochs + 1):
            try:
                self._run_epoch(epoch, epochs, train_arrays, test_arrays, batch_size)
            except KeyboardInterrupt as interrupt:
                self._save_on_interrupt(epoch, interrupt)
                raise
        if self._distributed:
            # Rank 0's files are complete when fit returns on any worker.
            sys.modules["minigrad.distributed"].barrier()
        return self.history

    def _load_checkpoint_to_resume(self) -> bool:
        """Load this run's checkpoint if there is one; True if loaded. With several workers,
        rank 0 reads the file and broadcasts its bytes (the other workers may not see rank
        0's disk) and every worker loads them, so that all fail or succeed alike."""
        path = self.checkpoint_path
        if not self._distributed:
            if path is None or not path.exists():
                return False
            self.load_checkpoint()
            return True
        payload = [path.read_bytes() if self._rank == 0 and path is not None and path.exists()
                   else None]
        sys.modules["minigrad.distributed"].broadcast_object_list(payload, src=0)
        if payload[0] is None:
            return False
        if self._rank == 0:
            self.load_checkpoint(path)
            return True
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "checkpoint.npz"
            copy.write_bytes(payload[0])
            self.load_checkpoint(copy)
        return True

    def _save_on_interrupt(self, epoch: int, interrupt: KeyboardInterrupt) -> None:
        """Checkpoint the current weights after Ctrl-C, unless they are not finite."""
        if self.out_dir is None:
            return
        try:
            self.save_checkpoint()
        except TrainingDivergedError as err:
            interrupt.add_note(str(err))  # shown with the KeyboardInterrupt's traceback
            if self.verbose and self._rank == 0:
                print(f"\ninterrupted in epoch {epoch}: not saved, {err}")
            return
        if self.verbose and self._rank == 0:
            print(f"\ninterrupted in epoch {epoch}: saved {self.checkpoint_path}; resume "
                  "repeats this epoch")

    def _run_epoch(self, epoch, epochs, train_arrays, test_arrays, batch_size) -> None:
        seed = _epoch_seed(self.seed, epoch)
        # Workers other than rank 0 draw different dropout masks and noise (see above).
        mg.manual_seed(seed if self._rank == 0 else _epoch_seed(seed, self._rank))
        lr = self.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        if self._distributed:
            loader = _WorkerBatches(train_arrays, batch_size, seed, self._rank, self._world,
                                    self.device)
        else:
            loader = DataLoader(*train_arrays, batch_size=batch_size, shuffle=True, seed=seed,
                                device=self.device)
        train = self._train_epoch(loader, epoch, epochs)
        if self._distributed:
            # BatchNorm's running statistics differ per worker: use rank 0's everywhere, so
            # that evaluation and the checkpoint see one model.
            for buffer in self.model.buffers():
                sys.modules["minigrad.distributed"].broadcast(buffer, src=0)
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
        # Checked before anything is recorded: a failure leaves epoch, history, scheduler and
        # the last good checkpoint as they were.
        self._check_state_finite(epoch)
        with _interrupts_held_back():
            if self.scheduler is not None:
                self.scheduler.step()
            self.history.append(row)
            self.epoch = epoch
            self._write_checkpoint()
            self._write_metrics()
        if self.verbose and self._rank == 0:
            test_part = f"  test loss {row['test_loss']:.4f}" if "test_loss" in row else ""
            print(f"epoch {epoch}/{epochs}  train loss {row['train_loss']:.4f}{test_part}  "
                  f"lr {lr:.3g}  {seconds:.1f} s", flush=True)

    def _train_epoch(self, loader, epoch: int, epochs: int) -> dict[str, float]:
        self.model.train()
        params = None if self.max_grad_norm is None else list(self.model.parameters())
        totals = _Totals()
        window, window_steps = None, 0
        window_count = 0  # distributed: totals.count at the start of the window
        bar = tqdm(loader, desc=f"epoch {epoch}/{epochs}", leave=False,
                   disable=None if self.progress and self._rank == 0 else True)
        for step, batch in enumerate(bar, 1):
            if self._distributed:
                loss, metrics, n = self._distributed_step(*batch)
            else:
                batch = _as_tuple(batch)
                loss, metrics = self.loss_fn(self.model, batch)
                self.optimizer.zero_grad()
                loss.backward()
                n = len(batch[0])
            if params is not None:
                optim.clip_grad_norm_(params, self.max_grad_norm)
            self.optimizer.step()
            if loss is not None:  # None: a worker without a sample in a small last batch
                loss = loss.detach()
                totals.add(loss, metrics, n)
                if self._distributed:
                    loss = loss * n  # the window sums samples' losses, counted in totals
                window = loss if window is None else window + loss  # stays on the device
            window_steps += 1
            if window_steps == self.log_every:
                if self._distributed:  # the mean over all workers' samples of the window
                    local = 0.0 if window is None else window.item()
                    loss_sum, count = _all_sum([local, totals.count - window_count])
                    window_count = totals.count
                    value = loss_sum / count
                else:
                    value = window.item() / window_steps  # the only read-back in the epoch
                first = step - window_steps + 1
                self._check_finite(value, epoch, f"the mean loss of steps {first}..{step}")
                bar.set_postfix(loss=f"{value:.4g}", refresh=False)
                window, window_steps = None, 0
        bar.close()
        return totals.means(self._distributed)

    def _distributed_step(self, batch, batch_size: int):
        """Forward and backward on this worker's part ``batch`` of a global batch of
        ``batch_size`` samples (None: no sample of it here), then the gradients averaged over
        the workers. Returns (loss, metrics, samples here); loss None without samples."""
        self.optimizer.zero_grad()
        loss, metrics, n = None, {}, 0
        if self._sync_bn and batch_size < self._world:
            # SyncBatchNorm's statistics are all-reduced in the forward, which a worker without
            # a sample would not join: every worker skips such a last batch (as PyTorch's
            # DistributedSampler(drop_last=True) would), and the optimizer step, with no
            # gradients, changes nothing.
            return loss, metrics, n
        if batch is None:
            self._ddp.synchronize()  # no backward here: take part in the others' averaging
            return loss, metrics, n
        loss, metrics = self.loss_fn(self.model, batch)
        n = len(batch[0])
        # The averaging gives every worker's gradient the weight 1/W, but this worker's mean
        # loss counts in the batch's mean with weight n / batch_size: scale by the ratio
        # (exactly 1, and skipped, when the batch splits evenly).
        scale = n * self._world / batch_size
        (loss if scale == 1 else loss * scale).backward()  # averages the gradients (DDP)
        return loss, metrics, n

    def _check_finite(self, value: float, epoch: int, what: str) -> None:
        if math.isfinite(value):
            return
        raise TrainingDivergedError(
            f"training diverged in epoch {epoch}: {what} is {value}; {self._kept()}. "
            "Try a smaller learning rate or gradient clipping.")

    def _kept(self) -> str:
        if self.checkpoint_path is not None and self.epoch > 0 and self.checkpoint_path.exists():
            return f"the checkpoint of epoch {self.epoch} is kept in {self.checkpoint_path}"
        return "no checkpoint was written"

    def evaluate(self, arrays: Sequence[np.ndarray], batch_size: int = 512) -> dict[str, float]:
        """Mean loss and metrics over ``arrays`` (in order), in eval mode without a graph."""
        _check_arrays(arrays, "evaluation", batch_size)
        if self._distributed:  # this worker's share: samples r, r+W, ...; the sums reduced
            arrays = [np.asarray(a)[self._rank::self._world] for a in arrays]
        self.model.eval()
        totals = _Totals()
        with mg.no_grad():
            if len(arrays[0]):
                for batch in DataLoader(*arrays, batch_size=batch_size, device=self.device):
                    batch = _as_tuple(batch)
                    loss, metrics = self.loss_fn(self.model, batch)
                    totals.add(loss, metrics, len(batch[0]))
        self.model.train()
        return totals.means(self._distributed)


def _check_arrays(arrays, which: str, batch_size: int) -> None:
    """Refuse, before any training, what would fail or mislead later: a bare array (which
    would be split into its rows) and an empty set (which has no mean loss)."""
    if isinstance(arrays, np.ndarray | mg.Tensor) or not isinstance(arrays, Sequence):
        raise TypeError(f"the {which} set must be a tuple of arrays such as (x,) or (x, y), "
                        f"got a {type(arrays).__name__}")
    loader = DataLoader(*arrays, batch_size=batch_size)  # checks lengths and batch_size
    if len(loader.arrays[0]) == 0:
        raise ValueError(f"the {which} set is empty: its arrays have 0 samples (shapes "
                         f"{[a.shape for a in loader.arrays]})")


@contextlib.contextmanager
def _interrupts_held_back():
    """Hold back Ctrl-C (SIGINT) until the block is done, then deliver it: the block's work
    (an epoch's bookkeeping and checkpoint) is never left half done. Only in the main thread
    and only when SIGINT has a Python handler (signals go to the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):
        yield
        return
    received = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
    if received:
        handler(*received[0])  # the default handler raises KeyboardInterrupt


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

    def means(self, distributed: bool = False) -> dict[str, float]:
        """The means; ``distributed``: over every worker's samples (a collective)."""
        if not distributed:
            return {name: total.item() / self.count for name, total in self.sums.items()}
        # Rank 0 always has samples (it takes the first of every batch); its names count, a
        # worker without samples contributes zeros.
        names = [list(self.sums)]
        sys.modules["minigrad.distributed"].broadcast_object_list(names, src=0)
        names = names[0]
        local = [self.sums[name].item() if name in self.sums else 0.0 for name in names]
        *sums, count = _all_sum([*local, self.count])
        return {name: total / count for name, total in zip(names, sums, strict=True)}


def _all_sum(values: list[float]) -> list[float]:
    """The sums over all workers of a few numbers (one all-reduce, float64 on the host)."""
    t = mg.tensor(np.asarray(values, dtype=np.float64))
    sys.modules["minigrad.distributed"].all_reduce(t, "sum")
    return t.numpy().tolist()


class _WorkerBatches:
    """This worker's parts of an epoch's global batches: yields (batch, size) for each global
    batch of the one-process order (``default_rng(seed).permutation``, as the DataLoader's),
    where batch is the tuple of tensors of samples rank, rank + W, ... of the global batch
    (None when that is empty, in a last batch smaller than W) and size the global batch's."""

    def __init__(self, arrays, batch_size: int, seed: int, rank: int, world: int, device):
        self.arrays = [np.asarray(a) for a in arrays]
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self.device = device

    def __len__(self) -> int:
        return -(-len(self.arrays[0]) // self.batch_size)

    def __iter__(self):
        n = len(self.arrays[0])
        order = np.random.default_rng(self.seed).permutation(n)
        for start in range(0, n, self.batch_size):
            batch = order[start:start + self.batch_size]
            mine = batch[self.rank::self.world]
            yield (tuple(mg.tensor(a[mine], device=self.device) for a in self.arrays)
                   if len(mine) else None), len(batch)


def predict(model, *arrays: np.ndarray, fn: Callable | None = None,
            batch_size: int = 512) -> np.ndarray:
    """``fn(model, *batch)`` (default ``model(x)``) over NumPy arrays in batches, in eval mode
    without a graph, on the model's device; the outputs concatenated as one NumPy array.

    E.g. codes: ``predict(vae, x, fn=lambda m, x: m.encode(x)[0])``; images from codes:
    ``predict(model, z, fn=lambda m, z: m.decode(z))``.
    """
    _check_arrays(arrays, "prediction", batch_size)
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
