"""SyncBatchNorm on one process: exactly BatchNorm without a process group, its own
(synchronised) formulas checked against BatchNorm and PyTorch with a one-worker stand-in for
the all-reduce, convert_sync_batchnorm, and the errors. tests/distributed/
test_sync_batchnorm.py checks it on several workers."""

import subprocess
import sys
import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import norm

SHAPES = {"NC": (6, 3), "NCL": (5, 3, 4), "NCHW": (4, 3, 3, 2)}


def batchnorm_for(shape):
    return nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d


def run(module, data, upstream):
    """(output, input gradient, parameter gradients, running statistics) as NumPy arrays."""
    x = mg.tensor(data, requires_grad=True)
    y = module(x)
    (y * mg.tensor(upstream)).sum().backward()
    grads = [p.grad.numpy() for p in module.parameters()]
    return [y.numpy(), x.grad.numpy(), *grads, *(b.numpy() for b in module.buffers())]


def pair(shape, **options):
    """A BatchNorm and a SyncBatchNorm with the same float64 parameters (not 1 and 0)."""
    modules = batchnorm_for(shape)(3, dtype="float64", **options), nn.SyncBatchNorm(
        3, dtype="float64", **options)
    if modules[0].affine:
        with mg.no_grad():
            for module in modules:
                module.weight.copy_(mg.tensor([0.5, -2.0, 1.5]))
                module.bias.copy_(mg.tensor([0.1, 0.2, -0.3]))
    return modules


# minigrad.distributed's collectives in a world of one: the identity.
ONE_WORKER = types.SimpleNamespace(all_reduce_sum=lambda t: t, sum_over_ranks=lambda n: n)


@pytest.fixture
def one_worker_all_reduce(monkeypatch):
    """SyncBatchNorm takes its synchronised path, with the all-reduce of a world of one (the
    identity): its own formulas, on one process."""
    monkeypatch.setattr(norm, "_distributed_with_several_workers", lambda: ONE_WORKER)


OPTIONS = {"default": {}, "no_affine": {"affine": False},
           "no_running_stats": {"track_running_stats": False}, "momentum": {"momentum": 0.3},
           "cumulative": {"momentum": None}}


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES)
def test_without_a_process_group_it_is_batchnorm_exactly(shape, options):
    rng = np.random.default_rng(0)
    batchnorm, sync = pair(shape, **OPTIONS[options])
    for training in (True, True, False):
        batchnorm.train(training)
        sync.train(training)
        data, upstream = rng.normal(1.0, 2.0, (2, *shape))
        for ours, theirs in zip(run(sync, data, upstream), run(batchnorm, data, upstream),
                                strict=True):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES)
def test_the_synchronised_formulas_agree_with_batchnorm(one_worker_all_reduce, shape, options):
    rng = np.random.default_rng(1)
    batchnorm, sync = pair(shape, **OPTIONS[options])
    for _ in range(3):
        data, upstream = rng.normal(3.0, 2.0, (2, *shape))
        for ours, theirs in zip(run(sync, data, upstream), run(batchnorm, data, upstream),
                                strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("synchronised", [False, True], ids=["plain", "synchronised"])
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES)
def test_agrees_with_pytorch_batchnorm(monkeypatch, shape, synchronised):
    torch = pytest.importorskip("torch")
    if synchronised:
        monkeypatch.setattr(norm, "_distributed_with_several_workers", lambda: ONE_WORKER)
    rng = np.random.default_rng(2)
    _, sync = pair(shape)
    theirs = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(
        3, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, -2.0, 1.5]))
        theirs.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    for training in (True, True, False):
        sync.train(training)
        theirs.train(training)
        data, upstream = rng.normal(1.0, 2.0, (2, *shape))
        x = torch.tensor(data, requires_grad=True)
        y = theirs(x)
        (y * torch.tensor(upstream)).sum().backward()
        expected = [y, x.grad, theirs.weight.grad, theirs.bias.grad, theirs.running_mean,
                    theirs.running_var, theirs.num_batches_tracked]
        for ours, reference in zip(run(sync, data, upstream), expected, strict=True):
            np.testing.assert_allclose(ours, reference.detach().numpy(), rtol=0, atol=1e-12)
        theirs.zero_grad()
        sync.zero_grad()


@pytest.mark.parametrize("synchronised", [False, True], ids=["plain", "synchronised"])
def test_wrong_inputs_get_batchnorm_messages(monkeypatch, synchronised):
    if synchronised:
        monkeypatch.setattr(norm, "_distributed_with_several_workers", lambda: ONE_WORKER)
    sync = nn.SyncBatchNorm(3)
    shapes = r"\(N, C\) or \(N, C, L\) or \(N, C, H, W\) with C = 3"
    with pytest.raises(ValueError, match=rf"SyncBatchNorm\(3\) expects input {shapes}, got "
                                         r"shape \(2, 4\)"):
        sync(mg.zeros(2, 4))
    with pytest.raises(ValueError, match=rf"expects input {shapes}, got shape \(2, 3, 1, 1, 1\)"):
        sync(mg.zeros(2, 3, 1, 1, 1))
    with pytest.raises(ValueError, match=rf"expects input {shapes}, got shape \(3,\)"):
        sync(mg.zeros(3))
    with pytest.raises(ValueError, match="more than one value per channel"):
        sync(mg.zeros(1, 3))
    with pytest.raises(ValueError, match="momentum must be a finite number in"):
        nn.SyncBatchNorm(3, momentum=2)


def test_convert_sync_batchnorm_replaces_batchnorms_and_keeps_their_state():
    mg.manual_seed(0)
    inner = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, momentum=0.2),
                          nn.GroupNorm(1, 3), nn.Flatten())
    model = nn.Sequential(inner, nn.Linear(3 * 4 * 4, 5),
                          nn.BatchNorm1d(5, eps=1e-3, affine=False), nn.LayerNorm(5),
                          nn.BatchNorm1d(5, track_running_stats=False))
    x = mg.randn(6, 2, 4, 4)
    model(x)  # running statistics other than 0 and 1
    model[2].eval()
    before_modules = dict(model.named_modules())
    before_state = model.state_dict()
    before_tensors = [*model.parameters(), *model.buffers()]
    expected = model(x).numpy()

    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)

    assert converted is model  # changed in place, as PyTorch
    after = dict(model.named_modules())
    assert list(after) == list(before_modules)  # same names, same order
    for name, module in after.items():
        old = before_modules[name]
        if isinstance(old, nn.BatchNorm1d | nn.BatchNorm2d):
            assert type(module) is nn.SyncBatchNorm
            assert module.extra_repr() == old.extra_repr()  # eps, momentum, affine, tracking
            assert module.training == old.training
        else:
            assert module is old
    assert not after["2"].training and after["0.1"].training
    after_tensors = [*model.parameters(), *model.buffers()]
    assert all(a is b for a, b in zip(after_tensors, before_tensors, strict=True))
    state = model.state_dict()
    assert list(state) == list(before_state)
    for key, value in state.items():
        np.testing.assert_array_equal(value.numpy(), before_state[key].numpy())
    np.testing.assert_array_equal(model(x).numpy(), expected)


def test_convert_sync_batchnorm_of_a_batchnorm_returns_a_new_module():
    bn = nn.BatchNorm1d(4, dtype="float64").eval()
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert type(sync) is nn.SyncBatchNorm and not sync.training
    assert sync.weight is bn.weight and sync.running_var is bn.running_var
    assert sync.weight.dtype == mg.float64
    assert type(bn) is nn.BatchNorm1d


def test_importing_and_using_it_loads_no_mpi():
    code = ("import sys, minigrad as mg; from minigrad import nn; "
            "nn.SyncBatchNorm(2)(mg.randn(4, 2)).sum().backward(); "
            "assert 'minigrad.distributed' not in sys.modules and 'mpi4py' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
