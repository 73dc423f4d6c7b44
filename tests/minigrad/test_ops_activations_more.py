"""ops/activations_more.py and their nn modules: forward against PyTorch (skipped without
it), gradients (and, for the smooth ones, gradients of gradients) by finite differences."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the reference")

# name -> (ours, PyTorch's name, kwargs, smooth)
ACTIVATIONS = {
    "relu6": (F.relu6, "relu6", {}, False),
    "hardtanh": (F.hardtanh, "hardtanh", {}, False),
    "hardtanh-range": (lambda x: F.hardtanh(x, -0.5, 2.0), "hardtanh",
                       {"min_val": -0.5, "max_val": 2.0}, False),
    "hardsigmoid": (F.hardsigmoid, "hardsigmoid", {}, False),
    "hardswish": (F.hardswish, "hardswish", {}, False),
    "selu": (F.selu, "selu", {}, False),
    "celu": (lambda x: F.celu(x, 0.7), "celu", {"alpha": 0.7}, False),
    "mish": (F.mish, "mish", {}, True),
    "logsigmoid": (F.logsigmoid, "logsigmoid", {}, True),
    "softsign": (F.softsign, "softsign", {}, False),
    "softmin": (lambda x: F.softmin(x, 0), "softmin", {"dim": 0}, True),
}


def sample(rng, shape):
    """Values spread over the kinks (+-1, +-3, 0, 6) but not on them."""
    x = rng.uniform(-7, 7, shape)
    for kink in (-3, -1, -0.5, 0, 1, 2, 3, 6):
        x = np.where(np.abs(x - kink) < 0.05, kink + 0.3, x)
    return x


@needs_torch
@pytest.mark.parametrize("shape", [(0,), (4,), (3, 5)], ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_forward_and_gradient_match_torch(device, rng, name, shape):
    fn, torch_name, kwargs, _ = ACTIVATIONS[name]
    x = sample(rng, shape)
    t = mg.tensor(x, device=device, requires_grad=True)
    out = fn(t)
    r = torch.tensor(x, requires_grad=True)
    expected = getattr(TF, torch_name)(r, **kwargs)
    # PyTorch computes celu's alpha and hardsigmoid's slope 1/6 in float32 even for doubles
    rtol = 1e-6 if name in ("celu", "hardsigmoid") else 1e-12
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=1e-14)
    weight = rng.standard_normal(shape)
    (out * mg.tensor(weight, device=device)).sum().backward()
    (expected * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradcheck(device, rng, name):
    fn, _, _, smooth = ACTIVATIONS[name]
    t = mg.tensor(sample(rng, (2, 4)), device=device, requires_grad=True)
    assert mg.gradcheck(fn, (t,))
    if smooth or name in ("selu", "celu", "softsign", "hardswish"):  # smooth off the kinks
        assert mg.gradgradcheck(fn, (t,), fast=device == "strict:device1")


@needs_torch
def test_boundaries_follow_torch(device):
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0, 6.0])
    for ours, theirs in [(F.hardtanh, TF.hardtanh), (F.relu6, TF.relu6),
                         (F.hardsigmoid, TF.hardsigmoid), (F.hardswish, TF.hardswish)]:
        t = mg.tensor(x, device=device, requires_grad=True)
        ours(t).sum().backward()
        r = torch.tensor(x, requires_grad=True)
        theirs(r).sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), err_msg=theirs.__name__)


def test_large_inputs_stay_finite(device):
    x = mg.tensor([-800.0, 800.0], device=device, requires_grad=True)
    for fn in (F.mish, F.logsigmoid, F.selu, F.celu, F.softsign):
        out = fn(x)
        out.sum().backward()
        assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad.numpy()).all()
        x.grad = None


@needs_torch
def test_modules(device, rng):
    x = sample(rng, (2, 3))
    t = mg.tensor(x, device=device)
    r = torch.tensor(x)
    pairs = [(nn.ReLU6(), torch.nn.ReLU6()), (nn.Hardtanh(-2, 2), torch.nn.Hardtanh(-2, 2)),
             (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
             (nn.SELU(), torch.nn.SELU()), (nn.CELU(0.5), torch.nn.CELU(0.5)),
             (nn.Mish(), torch.nn.Mish()), (nn.LogSigmoid(), torch.nn.LogSigmoid()),
             (nn.Softsign(), torch.nn.Softsign()), (nn.Softmin(dim=0), torch.nn.Softmin(dim=0))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(t).numpy(), theirs(r).numpy(), rtol=1e-12, atol=1e-14)
    assert "min_val=-2" in repr(nn.Hardtanh(-2, 2)) and "dim=0" in repr(nn.Softmin(0))
