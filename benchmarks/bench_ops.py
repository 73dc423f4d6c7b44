"""Per-op overhead: forward + backward of a chain of elementwise ops on a small tensor.

For small models the time per op is Python overhead, not arithmetic. This times a chain of
``--ops`` elementwise ops (scalar multiply, scalar add, tanh, tensor multiply, exp/log ...)
on a ``--size`` x ``--size`` float32 tensor, forward and backward, and reports microseconds
per op (median over ``--repeats``). With PyTorch importable, the same chain runs in PyTorch
(one thread, eager) in the same process and the ratio minigrad / PyTorch is printed.

    python benchmarks/bench_ops.py [--size 16] [--ops 300] [--repeats 30] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import minigrad as mg


def chain(x, other, n_ops: int):
    """n_ops elementwise ops, six per round: the mix a small MLP's step is made of."""
    for _ in range(n_ops // 6):
        x = (x * 0.9 + 0.05).tanh()
        x = (x * other).sigmoid()
        x = (x + 1.0).log()
    return x


def time_chain(make_input, n_ops: int, repeats: int) -> tuple[float, float]:
    """Median microseconds per op of (forward, backward)."""
    forward, backward = [], []
    for i in range(repeats + 3):
        x, other = make_input()
        t0 = time.perf_counter()
        loss = chain(x, other, n_ops).sum()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if i >= 3:  # warm-up rounds
            forward.append((t1 - t0) / n_ops * 1e6)
            backward.append((t2 - t1) / n_ops * 1e6)
    return statistics.median(forward), statistics.median(backward)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    shape = (args.size, args.size)

    def minigrad_input():
        return (mg.randn(*shape, device=args.device, requires_grad=True),
                mg.rand(*shape, device=args.device))

    ours = time_chain(minigrad_input, args.ops, args.repeats)
    print(f"chain of {args.ops} elementwise ops on {shape} float32, {args.device}")
    print(f"minigrad: forward {ours[0]:.2f} us/op, backward {ours[1]:.2f} us/op, "
          f"total {sum(ours):.2f} us/op")
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: no comparison")
        return
    torch.set_num_threads(1)

    def torch_input():
        return torch.randn(*shape, requires_grad=True), torch.rand(*shape)

    theirs = time_chain(torch_input, args.ops, args.repeats)
    print(f"PyTorch {torch.__version__}: forward {theirs[0]:.2f} us/op, backward "
          f"{theirs[1]:.2f} us/op, total {sum(theirs):.2f} us/op")
    print(f"ratio minigrad/PyTorch: forward {ours[0] / theirs[0]:.2f}, backward "
          f"{ours[1] / theirs[1]:.2f}, total {sum(ours) / sum(theirs):.2f}")


if __name__ == "__main__":
    main()
