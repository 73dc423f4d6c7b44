"""Per-op overhead: forward + backward of a chain of elementwise ops on a small tensor.

For small models the time per op is Python overhead, not arithmetic. This times a chain of
``--ops`` elementwise ops (scalar multiply, scalar add, tanh, tensor multiply, exp/log ...)
on a ``--size`` x ``--size`` float32 tensor, forward and backward, and reports microseconds
per op (median over ``--repeats``). With PyTorch importable, the same chain runs in PyTorch
(one thread, eager) in the same process, the two taking turns round by round, and the ratio
minigrad / PyTorch is printed: the median over rounds of each round's ratio.

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


def chain_round(make_input, n_ops: int) -> tuple[float, float]:
    """Microseconds per op of one (forward, backward) of the chain."""
    x, other = make_input()
    t0 = time.perf_counter()
    loss = chain(x, other, n_ops).sum()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return (t1 - t0) / n_ops * 1e6, (t2 - t1) / n_ops * 1e6


def double_backward_round(make_input, grad, n_ops: int) -> tuple[float, float]:
    """Microseconds per op of one (first gradient with create_graph, its gradient)."""
    x, other = make_input()
    loss = chain(x, other, n_ops).sum()
    t0 = time.perf_counter()
    (g,) = grad(loss, x, create_graph=True)
    t1 = time.perf_counter()
    grad(g.sum(), x)
    t2 = time.perf_counter()
    return (t1 - t0) / n_ops * 1e6, (t2 - t1) / n_ops * 1e6


def times_taking_turns(rounds: dict, repeats: int, warmup: int = 3) -> dict:
    """{name: (part 1 times, part 2 times)}, one of each per round, of ``rounds`` (name ->
    function returning one round's two times). The libraries take turns round by round, so
    that round i of each ran at nearly the same moment of the shared VM's changing speed."""
    times = {name: ([], []) for name in rounds}
    for i in range(warmup + repeats):
        for name, one_round in rounds.items():
            first, second = one_round()
            if i >= warmup:
                times[name][0].append(first)
                times[name][1].append(second)
    return times


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median over rounds of ours[i] / theirs[i]: each round's two times were taken back
    to back, so a slow spell of the machine divides out (a ratio of the two medians lets a
    spell that hit one library's rounds more than the other's through)."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


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

    def round_of(make_input, grad):
        if args.double:
            return lambda: double_backward_round(make_input, grad, args.ops)
        return lambda: chain_round(make_input, args.ops)

    rounds = {"minigrad": round_of(minigrad_input, mg.autograd.grad)}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(1)

        def torch_input():
            return torch.randn(*shape, requires_grad=True), torch.rand(*shape)

        rounds[f"PyTorch {torch.__version__}"] = round_of(torch_input, torch.autograd.grad)
    columns = (("backward with create_graph", "second backward") if args.double
               else ("forward", "backward"))
    times = times_taking_turns(rounds, args.repeats)
    print(f"chain of {args.ops} elementwise ops on {shape} float32, {args.device}")
    for name, (a, b) in times.items():
        a, b = statistics.median(a), statistics.median(b)
        print(f"{name}: {columns[0]} {a:.2f} us/op, {columns[1]} {b:.2f} us/op, "
              f"total {a + b:.2f} us/op (medians over rounds)")
    if torch is None:
        print("PyTorch not installed: no comparison")
        return
    ours, theirs = times.values()
    totals = [[a + b for a, b in zip(*parts, strict=True)] for parts in (ours, theirs)]
    print(f"ratio minigrad/PyTorch (median of the {args.repeats} rounds' ratios): {columns[0]} "
          f"{paired_ratio(ours[0], theirs[0]):.2f}, {columns[1]} "
          f"{paired_ratio(ours[1], theirs[1]):.2f}, total {paired_ratio(*totals):.2f}")


if __name__ == "__main__":
    main()
