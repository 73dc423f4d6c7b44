"""ops/shape_more.py: flip, roll, repeat, tile, repeat_interleave, tril, triu, diag, diagonal,
meshgrid, movedim, swapaxes, narrow, unfold, einsum, outer, bmm. Forward and gradients
against PyTorch (skipped without it), finite differences (and, all being linear, gradients of
gradients) on every device."""

import numpy as np
import pytest

import minigrad as mg

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the reference")

# name -> (ours, theirs, input shape): each a function of one tensor
CASES = {
    "flip": (lambda x: x.flip((0, -1)), lambda x: x.flip((0, -1)), (2, 3, 4)),
    "flip-none": (lambda x: mg.flip(x, ()), lambda x: torch.flip(x, ()), (2, 3)),
    "roll": (lambda x: x.roll((1, -2), (0, 2)), lambda x: x.roll((1, -2), (0, 2)), (2, 3, 4)),
    "roll-flat": (lambda x: mg.roll(x, 5), lambda x: torch.roll(x, 5), (2, 3)),
    "repeat": (lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), (3, 2)),
    "repeat-zero": (lambda x: x.repeat(0, 2), lambda x: x.repeat(0, 2), (3, 2)),
    "tile": (lambda x: x.tile((2,)), lambda x: x.tile((2,)), (3, 2)),
    "repeat_interleave": (lambda x: x.repeat_interleave(2), lambda x: x.repeat_interleave(2),
                          (2, 3)),
    "repeat_interleave-dim": (lambda x: mg.repeat_interleave(x, mg.tensor([1, 0, 3]), dim=-1),
                              lambda x: x.repeat_interleave(torch.tensor([1, 0, 3]), dim=-1),
                              (2, 3)),
    "tril": (lambda x: x.tril(), lambda x: x.tril(), (2, 3, 4)),
    "tril-offset": (lambda x: mg.tril(x, -1), lambda x: x.tril(-1), (4, 3)),
    "triu": (lambda x: x.triu(1), lambda x: x.triu(1), (3, 4)),
    "diag-matrix": (lambda x: x.diag(), lambda x: x.diag(), (3, 4)),
    "diag-matrix-offset": (lambda x: mg.diag(x, -2), lambda x: x.diag(-2), (3, 4)),
    "diag-vector": (lambda x: mg.diag(x, 1), lambda x: torch.diag(x, 1), (3,)),
    "diag-vector-below": (lambda x: mg.diag(x, -2), lambda x: torch.diag(x, -2), (2,)),
    "diagonal": (lambda x: x.diagonal(1, 0, 2), lambda x: x.diagonal(1, 0, 2), (3, 2, 4)),
    "diagonal-neg": (lambda x: mg.diagonal(x, -1, -1, -2), lambda x: x.diagonal(-1, -1, -2),
                     (2, 3, 3)),
    "diagonal-empty": (lambda x: mg.diagonal(x, 5), lambda x: x.diagonal(5), (2, 3)),
    "movedim": (lambda x: x.movedim((0, 1), (2, 0)), lambda x: x.movedim((0, 1), (2, 0)),
                (2, 3, 4)),
    "swapaxes": (lambda x: x.swapaxes(0, -1), lambda x: x.swapaxes(0, -1), (2, 3, 4)),
    "narrow": (lambda x: x.narrow(1, 1, 2), lambda x: x.narrow(1, 1, 2), (2, 4)),
    "narrow-negative": (lambda x: mg.narrow(x, -1, -3, 2), lambda x: x.narrow(-1, -3, 2),
                        (2, 4)),
    "unfold": (lambda x: x.unfold(1, 3, 2), lambda x: x.unfold(1, 3, 2), (2, 7, 2)),
    "unfold-overlap": (lambda x: x.unfold(-1, 2, 1), lambda x: x.unfold(-1, 2, 1), (3, 4)),
    "unfold-0d": (lambda x: x.unfold(0, 1, 1), lambda x: x.unfold(0, 1, 1), ()),
    "einsum-matmul": (lambda x: mg.einsum("ij,jk->ik", x, x.T),
                      lambda x: torch.einsum("ij,jk->ik", x, x.T), (2, 3)),
    "einsum-trace": (lambda x: mg.einsum("ii", x), lambda x: torch.einsum("ii", x), (3, 3)),
    "einsum-diag": (lambda x: mg.einsum("ii->i", x), lambda x: torch.einsum("ii->i", x), (3, 3)),
    "einsum-batch": (lambda x: mg.einsum("bij,bkj->bik", x, x),
                     lambda x: torch.einsum("bij,bkj->bik", x, x), (2, 3, 4)),
    "einsum-ellipsis": (lambda x: mg.einsum("...ij->...ji", x),
                        lambda x: torch.einsum("...ij->...ji", x), (2, 3, 4)),
    "einsum-implicit": (lambda x: mg.einsum("ba,ca", x, x), lambda x: torch.einsum("ba,ca", x, x),
                        (3, 2)),
    "einsum-three": (lambda x: mg.einsum("ij,jk,k->i", x, x.T, x[0]),
                     lambda x: torch.einsum("ij,jk,k->i", x, x.T, x[0]), (3, 3)),
    "einsum-sum": (lambda x: mg.einsum("ijk->j", x), lambda x: torch.einsum("ijk->j", x),
                   (2, 3, 4)),
    "einsum-outer": (lambda x: mg.einsum("i,j->ij", x, x), lambda x: torch.einsum("i,j->ij", x, x),
                     (3,)),
    "einsum-broadcast": (lambda x: mg.einsum("...i,...i->...", x, x[:1]),
                         lambda x: torch.einsum("...i,...i->...", x, x[:1]), (3, 4)),
    "einsum-capitals": (lambda x: mg.einsum("...Ab,cb->...Ac", x, x[0]),
                        lambda x: torch.einsum("...Ab,cb->...Ac", x, x[0]), (2, 3, 4)),
    "outer": (lambda x: x.outer(x * 2), lambda x: x.outer(x * 2), (4,)),
    "bmm": (lambda x: x.bmm(x.mT), lambda x: x.bmm(x.mT), (2, 3, 4)),
}


@needs_torch
@pytest.mark.parametrize("name", CASES)
def test_matches_torch(device, rng, name):
    ours, theirs, shape = CASES[name]
    x = rng.standard_normal(shape)
    t = mg.tensor(x, device=device, requires_grad=True)
    r = torch.tensor(x, requires_grad=True)
    out, expected = ours(t), theirs(r)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    weight = rng.standard_normal(tuple(expected.shape))
    (out * mg.tensor(weight, device=device)).sum().backward()
    (expected * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", [n for n in CASES if not n.endswith(("-zero", "-empty"))])
def test_gradcheck(device, rng, name):
    ours, _, shape = CASES[name]
    t = mg.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    assert mg.gradcheck(ours, (t,))
    if name.startswith(("einsum", "outer", "bmm", "diag", "unfold", "repeat")):
        assert mg.gradgradcheck(ours, (t,), fast=device == "strict:device1")


@needs_torch
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(device, rng, indexing):
    a, b, c = rng.standard_normal(2), rng.standard_normal(3), rng.standard_normal(4)
    ours = mg.meshgrid(*(mg.tensor(v, device=device, requires_grad=True) for v in (a, b, c)),
                       indexing=indexing)
    theirs = torch.meshgrid(*(torch.tensor(v) for v in (a, b, c)), indexing=indexing)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    x = mg.tensor(a, device=device, requires_grad=True)
    y = mg.tensor(b, device=device, requires_grad=True)
    assert mg.gradcheck(lambda p, q: mg.meshgrid(p, q, indexing=indexing)[0]
                        * mg.meshgrid(p, q, indexing=indexing)[1], (x, y))


def test_errors(device):
    x = mg.tensor(np.zeros((2, 3)), device=device)
    with pytest.raises(RuntimeError):
        mg.repeat(x, 2)
    with pytest.raises(RuntimeError):
        mg.narrow(x, 1, 2, 2)
    with pytest.raises(RuntimeError):
        mg.unfold(x, 1, 4, 1)
    with pytest.raises(RuntimeError):
        mg.tril(mg.tensor([1.0], device=device))
    with pytest.raises(RuntimeError):
        mg.diagonal(x, 0, 1, -1)
    with pytest.raises(RuntimeError):
        mg.bmm(x, x)
    with pytest.raises(ValueError):
        mg.einsum("ij,jk->ik", x)
    with pytest.raises(ValueError):
        mg.einsum("ijk->i", x)
    with pytest.raises(IndexError):
        mg.flip(x, 2)


def test_integer_tensors(device):
    x = mg.tensor([[1, 2], [3, 4]], device=device)
    assert mg.flip(x, 0).tolist() == [[3, 4], [1, 2]]
    assert mg.tril(x).tolist() == [[1, 0], [3, 4]]
    assert mg.repeat(x, 1, 2).tolist() == [[1, 2, 1, 2], [3, 4, 3, 4]]
    assert mg.einsum("ij->j", x).tolist() == [4, 6]
