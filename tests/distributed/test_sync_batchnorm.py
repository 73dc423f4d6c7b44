"""SyncBatchNorm on several workers: the differentiable all-reduce it is built on, and the
equivalence with one process that uses plain BatchNorm on the whole batch (outputs, input
gradients, DistributedDataParallel training: parameters, gradients, running statistics).

Every rank computes the single-process reference itself, from data of a generator with a
fixed seed; rank r takes its rows of each global batch, in even or uneven parts (5 and 3 rows
on two workers; for one layer also 8 and 0). On one process (plain pytest) the part is the
whole batch and SyncBatchNorm is BatchNorm, so the same assertions hold.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.distributed import DistributedDataParallel

GLOBAL_BATCH = 8
STEPS = 3
TOL = 1e-10


def rows(rank: int, size: int, split: str) -> slice:
    """Rank ``rank``'s rows of a global batch: "even" parts, "uneven" ones (3 rows on every
    rank but rank 0, which takes the rest: 5 and 3 on two workers), or "empty" ones (all rows
    on rank 0, none on the others)."""
    if split == "even":
        part = np.array_split(np.arange(GLOBAL_BATCH), size)[rank]
        return slice(part[0], part[-1] + 1)
    first = GLOBAL_BATCH - 3 * (size - 1) if split == "uneven" else GLOBAL_BATCH
    start = 0 if rank == 0 else first + 3 * (rank - 1)
    return slice(start, first if rank == 0 else min(start + 3, GLOBAL_BATCH))


def conv_net(norm):
    """(N, 2, 5, 5) images -> 3 numbers, with a 2-d batch norm after the convolution."""
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), norm(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 5 * 5, 3)).to(dtype="float64")


def mlp(norm):
    """(N, 6) -> 3 numbers, with a batch norm of (N, C) features."""
    return nn.Sequential(nn.Linear(6, 8), norm(8), nn.Tanh(), nn.Linear(8, 3)
                         ).to(dtype="float64")


MODELS = {"conv": (conv_net, nn.BatchNorm2d, (2, 5, 5)), "mlp": (mlp, nn.BatchNorm1d, (6,))}


def assert_close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, what
    assert np.abs(actual - expected).max(initial=0) < TOL, what


def test_all_reduce_sum_sums_and_its_backward_sums_the_gradients(dist, world, gather_numpy):
    rank, size = world
    x = mg.tensor(np.arange(6.0).reshape(2, 3) + 10 * rank, requires_grad=True)
    y = dist.all_reduce_sum(x)
    everyone = gather_numpy(x.numpy())
    assert_close(y.numpy(), everyone.sum(axis=0), "the sum over the ranks")
    assert_close(x.numpy(), everyone[rank], "the input is left as it was")
    weights = np.full((2, 3), rank + 1.0)
    (y * mg.tensor(weights)).sum().backward()  # rank r's loss: (r + 1) * sum(y)
    # dx_r = sum over the ranks s of dL_s/dy = sum_s (s + 1)
    assert_close(x.grad.numpy(), np.full((2, 3), size * (size + 1) / 2), "the gradient")


def test_all_reduce_sum_differentiates_twice(dist, world):
    rank, size = world
    x = mg.tensor([1.0 + rank], requires_grad=True)
    y = dist.all_reduce_sum(x)
    (g,) = mg.autograd.grad((y * y).sum(), x, create_graph=True)  # 2 y summed over the ranks
    total = size * (size + 1) / 2  # y = sum_s (1 + s)
    assert_close(g.numpy(), [2 * total * size], "first derivative")
    g.sum().backward()  # d/dx_r of sum_s (2 y W) = 2 W * W
    assert_close(x.grad.numpy(), [2 * size * size], "second derivative")


@pytest.mark.parametrize("split", ["even", "uneven", "empty"])
@pytest.mark.parametrize("shape", [(3,), (3, 4), (3, 2, 3)], ids=["NC", "NCL", "NCHW"])
def test_forward_and_input_gradient_are_the_whole_batch_ones(dist, world, gather_numpy, shape,
                                                             split):
    rank, size = world
    mine = rows(rank, size, split)
    rng = np.random.default_rng(3)
    data = rng.normal(2.0, 3.0, (GLOBAL_BATCH, *shape))
    upstream = rng.normal(size=(GLOBAL_BATCH, *shape))  # dL/dy of the whole-batch loss
    reference = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(3, dtype="float64")
    sync = nn.SyncBatchNorm(3, dtype="float64")
    with mg.no_grad():  # a weight and bias other than 1 and 0
        for bn in (reference, sync):
            bn.weight.copy_(mg.tensor([0.5, -2.0, 1.5]))
            bn.bias.copy_(mg.tensor([0.1, 0.2, -0.3]))

    x_all = mg.tensor(data, requires_grad=True)
    y_all = reference(x_all)
    (y_all * mg.tensor(upstream)).sum().backward()
    x = mg.tensor(data[mine], requires_grad=True)
    y = sync(x)
    (y * mg.tensor(upstream[mine])).sum().backward()  # the losses of the ranks sum to the above

    assert_close(y.numpy(), y_all.numpy()[mine], "output")
    assert_close(x.grad.numpy(), x_all.grad.numpy()[mine], "input gradient")
    for name in ("weight", "bias"):  # each rank has its examples' share: they sum to the whole
        shares = gather_numpy(getattr(sync, name).grad.numpy())
        assert_close(shares.sum(axis=0), getattr(reference, name).grad.numpy(), name + ".grad")
    for name in ("running_mean", "running_var"):
        assert_close(getattr(sync, name).numpy(), getattr(reference, name).numpy(), name)
    sync.eval()
    reference.eval()
    assert_close(sync(x).numpy(), reference(x).numpy(), "eval-mode output")


@pytest.mark.parametrize("split", ["even", "uneven"])
@pytest.mark.parametrize("model_name", MODELS)
def test_ddp_with_sync_batchnorm_trains_like_one_process_with_batchnorm(dist, world, model_name,
                                                                        split):
    rank, size = world
    build, batchnorm, example_shape = MODELS[model_name]
    mg.manual_seed(5)
    reference = build(batchnorm)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(build(batchnorm))
    model.load_state_dict(reference.state_dict())
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in model.modules()) == 1
    ddp = DistributedDataParallel(model)
    opts = [optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ddp, reference)]

    rng = np.random.default_rng(11)
    mine = rows(rank, size, split)
    for _ in range(STEPS):
        x = rng.normal(1.0, 2.0, (GLOBAL_BATCH, *example_shape))
        target = rng.normal(size=(GLOBAL_BATCH, 3))
        for opt in opts:
            opt.zero_grad()
        # The whole batch's loss is the mean over its examples. DDP averages the ranks'
        # gradients, so rank r's loss is its examples' share times the world size.
        out = reference(mg.tensor(x))
        ((out - mg.tensor(target)) ** 2).mean().backward()
        y = ddp(mg.tensor(x[mine]))
        scale = size / (GLOBAL_BATCH * 3)
        (((y - mg.tensor(target[mine])) ** 2).sum() * scale).backward()
        assert_close(y.numpy(), out.numpy()[mine], "output")
        for opt in opts:
            opt.step()

    ref_params = dict(reference.named_parameters())
    for name, p in ddp.module.named_parameters():
        assert_close(p.numpy(), ref_params[name].numpy(), name)
        assert_close(p.grad.numpy(), ref_params[name].grad.numpy(), name + ".grad")
    for (name, b), (_, r) in zip(ddp.module.named_buffers(), reference.named_buffers(),
                                 strict=True):
        assert_close(b.numpy(), r.numpy(), name)
    assert np.abs(reference[1].running_var.numpy() - 1).max() > 1e-2  # the statistics moved

    ddp.eval()
    reference.eval()
    x = rng.normal(size=(GLOBAL_BATCH, *example_shape))
    assert_close(ddp(mg.tensor(x[mine])).numpy(), reference(mg.tensor(x)).numpy()[mine],
                 "eval-mode output")


def test_too_few_values_over_all_workers_is_an_error_on_every_rank(dist, world):
    rank, _ = world
    sync = nn.SyncBatchNorm(2, dtype="float64")
    x = mg.ones((1 if rank == 0 else 0, 2), dtype="float64")  # one example in all
    with pytest.raises(ValueError, match="more than one value per channel"):
        sync(x)
