"""Per-op overhead: forward + backward of a chain of elementwise ops on a small tensor.

For small models the time per op is Python overhead, not arithmetic. This times a chain of
``--ops`` elementwise ops (scalar multiply, scalar add, tanh, tensor multiply, exp/log ...)
on a ``--size`` x ``--size`` float32 tensor, forward and backward, and reports microseconds
per op (median over ``--repeats``). With PyTorch importable, the same chain runs in PyTorch
(one thread, eager) in the same process and the ratio minigrad / PyTorch is printed.

``--double`` times a double backward instead: the gradient with create_graph=True (the
backward pass recorded as a graph of its own), then the gradient of its sum, i.e. a
Hessian-vector product's worth of work, in microseconds per op of the chain.

    python benchmarks/bench_ops.py [--size 16] [--ops 300] [--repeats 30] [--device cpu]
                                   [--double]
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


def time_double_backward(make_input, grad, n_ops: int, repeats: int) -> tuple[float, float]:
    """Median microseconds per op of (first gradient with create_graph, its gradient)."""
    first, second = [], []
    for i in range(repeats + 3):
        x, other = make_input()
        loss = chain(x, other, n_ops).sum()
        t0 = time.perf_counter()
        (g,) = grad(loss, x, create_graph=True)
        t1 = time.perf_counter()
        grad(g.sum(), x)
        t2 = time.perf_counter()
        if i >= 3:
            first.append((t1 - t0) / n_ops * 1e6)
            second.append((t2 - t1) / n_ops * 1e6)
    return statistics.median(first), statistics.median(second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--double", action="store_true",
                        help="time a double backward (create_graph, then a second gradient)")
    args = parser.parse_args()
    shape = (args.size, args.size)

    def minigrad_input():
        return (mg.randn(*shape, device=args.device, requires_grad=True),
                mg.rand(*shape, device=args.device))

    if args.double:
        columns = ("backward with create_graph", "second backward")
        ours = time_double_backward(minigrad_input, mg.autograd.grad, args.ops, args.repeats)
    else:
        columns = ("forward", "backward")
        ours = time_chain(minigrad_input, args.ops, args.repeats)
    print(f"chain of {args.ops} elementwise ops on {shape} float32, {args.device}")
    print(f"minigrad: {columns[0]} {ours[0]:.2f} us/op, {columns[1]} {ours[1]:.2f} us/op, "
          f"total {sum(ours):.2f} us/op")
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: no comparison")
        return
    torch.set_num_threads(1)

    def torch_input():
        return torch.randn(*shape, requires_grad=True), torch.rand(*shape)

    if args.double:
        theirs = time_double_backward(torch_input, torch.autograd.grad, args.ops, args.repeats)
    else:
        theirs = time_chain(torch_input, args.ops, args.repeats)
    print(f"PyTorch {torch.__version__}: {columns[0]} {theirs[0]:.2f} us/op, {columns[1]} "
          f"{theirs[1]:.2f} us/op, total {sum(theirs):.2f} us/op")
    print(f"ratio minigrad/PyTorch: {columns[0]} {ours[0] / theirs[0]:.2f}, {columns[1]} "
          f"{ours[1] / theirs[1]:.2f}, total {sum(ours) / sum(theirs):.2f}")


if __name__ == "__main__":
    main()
