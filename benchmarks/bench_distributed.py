"""Data-parallel training speed: steps per second on 1, 2, ... workers, and the share of a step
spent communicating.

    mpiexec -n 2 python benchmarks/bench_distributed.py        # 2 workers
    python benchmarks/bench_distributed.py                     # 1 worker (a world of one)

Models: W1 (MLP autoencoder 784-512-256-32-256-512-784) and W2 (conv autoencoder), the
models of bench_training.py (imported from it), float32. One BLAS thread per worker
(threadpoolctl), so W workers use W cores.

A step: zero grads, forward, MSE loss, backward, ``ddp.synchronize()`` (timed apart from
backward, which does it when not inside ``no_sync()``; the all-reduce of
the gradients), Adam update, loss read back. ``--scaling strong`` (default) keeps the global
batch at 128, split over the workers (the same training, hopefully faster); ``--scaling weak``
gives every worker 128 examples (more data per step).

Columns: ms/step and steps/s (median wall-clock step on rank 0); compute ms: the CPU time of
the step without synchronize (what the worker computes itself; on a busy machine the wall
clock also counts the neighbours); sync ms: the median time inside synchronize(), which
includes waiting for the slowest worker; allreduce ms: one
all-reduce of a gradient-sized buffer alone, right after a barrier (the pure communication
cost, no waiting); est ms: the slowest worker's compute ms plus allreduce ms, the step a
machine with a free core per worker would take (CPU time: neighbours cannot inflate it);
ex/s and est ex/s: global examples per second from ms/step and from est ms. ``--sweep``
also times all-reduces from 4 KiB to 64 MiB, to fit the latency-bandwidth model of
docs/distributed.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import BATCH, conv_autoencoder, mlp_autoencoder  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.distributed as dist  # noqa: E402
from minigrad import optim  # noqa: E402
from minigrad.nn import functional as F  # noqa: E402
from minigrad.nn.parallel import DistributedDataParallel  # noqa: E402

MODELS = {"W1 MLP AE": (mlp_autoencoder, (784,)), "W2 conv AE": (conv_autoencoder, (1, 28, 28))}


def time_training(build, example_shape, local_batch: int, warmup: int, steps: int) -> dict:
    """Median wall-clock step and synchronize times (s) on this rank, the CPU time of the
    step without synchronize (the worker's own computing, which neighbours on a busy machine
    cannot inflate), and the model's gradient bytes."""
    ddp = DistributedDataParallel(build("cpu"))
    opt = optim.Adam(ddp.parameters(), lr=1e-3)
    x = mg.rand(local_batch, *example_shape)
    step_times, sync_times, compute_times = [], [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = F.mse_loss(ddp(x), x)
        with ddp.no_sync():  # backward alone here; the averaging it would do is timed next
            loss.backward()
        t1, c1 = time.perf_counter(), time.process_time()
        ddp.synchronize()
        t2, c2 = time.perf_counter(), time.process_time()
        opt.step()
        loss.item()
        t3, c3 = time.perf_counter(), time.process_time()
        if i >= warmup:
            step_times.append(t3 - t0)
            sync_times.append(t2 - t1)
            compute_times.append((c1 - c0) + (c3 - c2))
    grad_bytes = sum(b.nbytes for b in ddp.buckets)
    return {"step": statistics.median(step_times), "sync": statistics.median(sync_times),
            "compute": statistics.median(compute_times), "bytes": grad_bytes,
            "buckets": len(ddp.buckets)}


def time_allreduce(nbytes: int, repeats: int) -> float:
    """Median seconds of one all-reduce of ``nbytes`` of float32, all ranks starting together
    (a barrier before each), so that no waiting for a slow worker is counted."""
    buffer = mg.zeros(max(1, nbytes // 4))
    times = []
    for _ in range(repeats + 2):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(buffer)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", choices=["W1", "W2"], help="time one model only")
    parser.add_argument("--scaling", choices=["strong", "weak"], default="strong")
    parser.add_argument("--sweep", action="store_true", help="also time all-reduce vs size")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS thread per worker: W workers on W cores
    mg.backend.keep_freed_host_memory()
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    mg.manual_seed(rank)
    local_batch = BATCH // world if args.scaling == "strong" else BATCH
    if rank == 0:
        print(f"{world} worker(s), one BLAS thread each; {args.scaling} scaling: "
              f"{local_batch} examples per worker, global batch {local_batch * world}; "
              f"float32; median of {args.steps} steps")
        print(f"{'model':<11} {'grad MB':>7} {'buckets':>7} {'ms/step':>8} {'steps/s':>8} "
              f"{'compute ms':>10} {'sync ms':>8} {'sync %':>7} {'allreduce ms':>12} "
              f"{'est ms':>7} {'ex/s':>7} {'est ex/s':>8}")
    for name, (build, shape) in MODELS.items():
        if args.only and not name.startswith(args.only):
            continue
        r = time_training(build, shape, local_batch, args.warmup, args.steps)
        pure = time_allreduce(r["bytes"], repeats=10)
        slowest = mg.tensor(np.array([r["compute"]]))  # a step waits for the slowest worker
        dist.all_reduce(slowest, "max")
        estimate = slowest.item() + (pure if world > 1 else 0.0)
        examples = local_batch * world
        if rank == 0:
            print(f"{name:<11} {r['bytes'] / 2**20:>7.2f} {r['buckets']:>7} "
                  f"{r['step'] * 1e3:>8.2f} {1 / r['step']:>8.1f} {r['compute'] * 1e3:>10.2f} "
                  f"{r['sync'] * 1e3:>8.2f} "
                  f"{100 * r['sync'] / r['step']:>6.1f}% {pure * 1e3:>12.3f} "
                  f"{estimate * 1e3:>7.2f} {examples / r['step']:>7.0f} "
                  f"{examples / estimate:>8.0f}")
    if args.sweep and world > 1:  # (a world of one has nothing to exchange)
        if rank == 0:
            print(f"\nall-reduce of float32 on {world} worker(s), median of 10")
            print(f"{'size':>10} {'ms':>9} {'GB/s (bytes / time)':>20}")
        for nbytes in [2**k for k in range(12, 27, 2)]:
            seconds = time_allreduce(nbytes, repeats=10)
            if rank == 0:
                print(f"{nbytes / 2**10:>7.0f} KiB {seconds * 1e3:>9.3f} "
                      f"{nbytes / seconds / 1e9:>20.2f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
