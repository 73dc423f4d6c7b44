"""DistributedDataParallel: the start from rank 0's parameters, the equivalence with one
process training on the whole batch, buckets, unused parameters, BatchNorm, misuse.

Every rank can compute the single-process reference itself: the data come from a generator
with a fixed seed, the same on every rank, and rank r trains on rows r*b .. (r+1)*b of each
global batch.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.distributed import DistributedDataParallel
from minigrad.nn import functional as F

GLOBAL_BATCH = 64
STEPS = 6


def mlp_autoencoder():
    """16-12-4-12-16, ReLU, linear code layer, sigmoid output."""
    return nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4), nn.Linear(4, 12),
                         nn.ReLU(), nn.Linear(12, 16), nn.Sigmoid()).to(dtype="float64")


def conv_autoencoder():
    """8x8 images: two stride-2 convolutions down to 8x2x2, a 6-number code, two transposed
    convolutions back up (no BatchNorm: its batch statistics would differ per worker)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32, 6), nn.Linear(6, 32), nn.ReLU(), nn.Unflatten(1, (8, 2, 2)),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
    ).to(dtype="float64")


MODELS = {"mlp": (mlp_autoencoder, (16,)), "conv": (conv_autoencoder, (1, 8, 8))}
OPTIMIZERS = {"adam": lambda params: optim.Adam(params, lr=1e-2),
              "sgd_momentum": lambda params: optim.SGD(params, lr=0.5, momentum=0.9)}


def flat_parameters(model) -> np.ndarray:
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


def train(model, opt, batches) -> None:
    for x in batches:
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("model_name", MODELS)
def test_two_workers_train_like_one_process_with_the_whole_batch(dist, world, gather_numpy,
                                                                 model_name, optimizer):
    rank, size = world
    if GLOBAL_BATCH % size:
        pytest.skip(f"the global batch of {GLOBAL_BATCH} does not split over {size} workers")
    build, example_shape = MODELS[model_name]
    mg.manual_seed(100 + rank)  # different initial parameters on every rank ...
    ddp = DistributedDataParallel(build())  # ... until rank 0's are broadcast
    reference = build()
    reference.load_state_dict(ddp.module.state_dict())
    start = flat_parameters(reference)

    rng = np.random.default_rng(7)
    batches = [mg.tensor(rng.random((GLOBAL_BATCH, *example_shape)), dtype="float64")
               for _ in range(STEPS)]
    local = GLOBAL_BATCH // size
    my_batches = [x[rank * local:(rank + 1) * local] for x in batches]

    train(ddp, OPTIMIZERS[optimizer](ddp.parameters()), my_batches)  # backward averages
    train(reference, OPTIMIZERS[optimizer](reference.parameters()), batches)

    assert np.abs(flat_parameters(reference) - start).max() > 1e-3  # it did train
    for (name, p), q in zip(ddp.module.named_parameters(), reference.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=0, atol=1e-10, err_msg=name)
    everyone = gather_numpy(flat_parameters(ddp))
    assert all(np.array_equal(row, everyone[0]) for row in everyone)  # bitwise identical


def model_with_batchnorm():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                         nn.Linear(4, 2)).to(dtype="float64")


def test_construction_broadcasts_rank_0s_parameters_and_buffers(dist, world, gather_numpy):
    rank, _ = world
    mg.manual_seed(0)
    rank_0s = model_with_batchnorm()  # what rank 0 builds (the same seed everywhere)
    mg.manual_seed(rank)
    model = model_with_batchnorm()
    model[1].running_var.data[...] = 10.0 + rank
    parameters = list(model.parameters())
    ddp = DistributedDataParallel(model)
    assert list(ddp.module.parameters()) == parameters  # the same objects, changed in place
    np.testing.assert_array_equal(flat_parameters(model), flat_parameters(rank_0s))
    np.testing.assert_array_equal(model[1].running_var.numpy(), np.full(4, 10.0))
    everyone = gather_numpy(flat_parameters(model))
    assert all(np.array_equal(row, everyone[0]) for row in everyone)


def test_batchnorm_uses_each_workers_own_batch_and_rank_0s_running_statistics(dist, world):
    rank, _ = world
    ddp = DistributedDataParallel(model_with_batchnorm())
    bn = ddp.module[1]
    bn.running_mean.data[...] = 1.0 + rank  # the workers' running statistics drifted apart
    reference = model_with_batchnorm()
    reference.load_state_dict(ddp.module.state_dict())
    reference[1].running_mean.data[...] = 1.0  # rank 0's

    x = mg.tensor(np.random.default_rng(rank).standard_normal((8, 3)), dtype="float64")
    out = ddp(x)
    # Normalized with this worker's own batch statistics, as PyTorch's DDP (no SyncBatchNorm),
    # after the running statistics were replaced by rank 0's (broadcast_buffers=True).
    np.testing.assert_allclose(out.numpy(), reference(x).numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(bn.running_mean.numpy(), reference[1].running_mean.numpy(),
                               rtol=0, atol=1e-14)


class TwoHeads(nn.Module):
    """A body and three heads: ``a`` is used everywhere, ``b`` only on rank 0, ``never``
    nowhere."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.a, self.b, self.never = nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x, use_b: bool):
        h = self.body(x).tanh()
        y = (self.a(h) ** 2).sum()
        return y + self.b(h).sum() if use_b else y


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_gradients_are_averaged_and_unused_parameters_handled_alike(dist, world, device):
    rank, size = world

    def data(r):
        return mg.tensor(np.random.default_rng(r).standard_normal((5, 3)), dtype="float64",
                         device=device)

    ddp = DistributedDataParallel(TwoHeads().to(device, "float64"))
    ddp(data(rank), use_b=rank == 0).backward()
    ddp.synchronize()

    # The reference: each rank's gradients computed here, None as zeros, averaged.
    expected = {name: np.zeros(p.shape) for name, p in ddp.module.named_parameters()}
    for r in range(size):
        copy = TwoHeads().to(device, "float64")
        copy.load_state_dict(ddp.module.state_dict())
        copy(data(r), use_b=r == 0).backward()
        for name, p in copy.named_parameters():
            if p.grad is not None:
                expected[name] += p.grad.numpy() / size
    for name, p in ddp.module.named_parameters():
        if name.startswith("never."):
            assert p.grad is None, name  # unused on every worker: no gradient anywhere
        else:
            assert p.grad.device == mg.device(device)
            np.testing.assert_allclose(p.grad.numpy(), expected[name], rtol=1e-14,
                                       atol=1e-15, err_msg=name)


def test_a_few_buckets_instead_of_one_call_per_parameter(dist):
    comm = dist.get_communicator("cpu")
    x = mg.rand(4, 16, dtype="float64")
    n_params = len(list(mlp_autoencoder().parameters()))  # 8: 4 layers, weight and bias

    def allreduce_calls(ddp) -> int:
        """The collective calls of one backward (which averages the gradients)."""
        ddp.module.zero_grad()
        loss = F.mse_loss(ddp(x), x)
        comm.stats.reset()
        loss.backward()
        return comm.stats.calls["allreduce"]

    default = DistributedDataParallel(mlp_autoencoder())
    assert len(default.buckets) == 1 and allreduce_calls(default) == 1
    tiny = DistributedDataParallel(mlp_autoencoder(), bucket_cap_mb=0)
    assert len(tiny.buckets) == n_params and allreduce_calls(tiny) == n_params
    # In reverse order of the parameters: the order backward produces the gradients.
    assert tiny.buckets[0].params[0] is list(tiny.module.parameters())[-1]

    # A cap of 1.5 KiB: the weights of 12x16 (1.5 KiB), 4x12, 12x4, 16x12 fill buckets.
    mid = DistributedDataParallel(mlp_autoencoder(), bucket_cap_mb=1.5 / 1024)
    caps = [b.nbytes for b in mid.buckets]
    assert 1 < len(caps) < n_params and allreduce_calls(mid) == len(caps)
    assert all(c >= 1536 for c in caps[:-1])
    assert sum(b.numel for b in mid.buckets) == sum(p.numel() for p in mid.parameters())


def test_buckets_hold_one_dtype_each(dist):
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 2).to(dtype="float64"))
    ddp = DistributedDataParallel(model)
    assert sorted(str(b.dtype) for b in ddp.buckets) == ["float32", "float64"]


def test_no_sync_accumulates_and_the_next_backward_averages(dist, world, gather_numpy):
    # PyTorch's gradient accumulation: backward passes inside no_sync() stay local, the first
    # one after it averages everything accumulated (averaging again changes nothing).
    rank, size = world
    comm = dist.get_communicator("cpu")
    ddp = DistributedDataParallel(mlp_autoencoder())
    reference = mlp_autoencoder()
    reference.load_state_dict(ddp.module.state_dict())
    xs = [mg.tensor(np.random.default_rng([rank, k]).random((4, 16))) for k in range(3)]
    comm.stats.reset()
    with ddp.no_sync():
        for x in xs[:2]:
            F.mse_loss(ddp(x), x).backward()
    assert comm.stats.calls["allreduce"] == 0
    F.mse_loss(ddp(xs[2]), xs[2]).backward()
    assert comm.stats.calls["allreduce"] == len(ddp.buckets)
    ddp.synchronize()
    for x in xs:  # the same three backward passes on this worker alone
        F.mse_loss(reference(x), x).backward()
    local = np.concatenate([p.grad.numpy().ravel() for p in reference.parameters()])
    averaged = np.concatenate([p.grad.numpy().ravel() for p in ddp.module.parameters()])
    np.testing.assert_allclose(averaged, gather_numpy(local).mean(axis=0), rtol=1e-12)


def test_a_step_on_gradients_never_averaged_is_an_error(dist):
    ddp = DistributedDataParallel(mlp_autoencoder())
    opt = optim.SGD(ddp.parameters(), lr=0.1)
    x = mg.rand(4, 16, dtype="float64")
    F.mse_loss(ddp(x), x).backward()  # averaged by backward
    opt.step()
    with ddp.no_sync():
        F.mse_loss(ddp(x), x).backward()
    opt.step()  # on gradients of this worker only: the workers' models now differ
    with mg.no_grad():
        ddp(x)  # evaluation is not checked
    with pytest.raises(RuntimeError, match=r"inside no_sync\(\)"):
        ddp(x)
    ddp.module(x)  # the wrapped model alone is not checked either


def test_workers_with_different_models_all_raise(dist, world):
    rank, size = world
    if size == 1:
        pytest.skip("needs several workers")
    with pytest.raises(RuntimeError, match="the workers built different models"):
        DistributedDataParallel(nn.Linear(3, 4 + rank))


def test_wrapper_api_follows_pytorch(dist):
    from minigrad.nn.parallel import DistributedDataParallel as FromNn

    assert FromNn is DistributedDataParallel
    ddp = DistributedDataParallel(nn.Linear(2, 3))
    assert list(ddp.state_dict()) == ["module.weight", "module.bias"]
    assert list(ddp.module.state_dict()) == ["weight", "bias"]
    with pytest.raises(TypeError, match="wraps a Module"):
        DistributedDataParallel(lambda x: x)


def test_moving_the_wrapper_lays_the_buckets_out_again(dist):
    ddp = DistributedDataParallel(nn.Linear(3, 2))
    assert [str(b.dtype) for b in ddp.buckets] == ["float32"]
    ddp.to("strict:device1", "float64")
    assert [(str(b.dtype), str(b.device)) for b in ddp.buckets] == [("float64",
                                                                     "strict:device1")]
    x = mg.ones(4, 3, dtype="float64", device="strict:device1")
    ddp(x).sum().backward()
    ddp.synchronize()
    np.testing.assert_allclose(ddp.module.bias.grad.numpy(), [4.0, 4.0])
