"""The layers ported from PyTorch: Conv1d, Conv3d, ConvTranspose1d, LayerNorm, GroupNorm,
Embedding, PixelShuffle/PixelUnshuffle, AdaptiveAvgPool2d, MaxPool2d's new options,
MaxUnpool2d, Unfold/Fold, and the functions layer_norm, group_norm and embedding.

- each layer against the PyTorch layer with the same parameters: outputs and every gradient
  (skipped without PyTorch);
- functions against naive NumPy formulas;
- default initialisations as PyTorch's (ranges and statistics);
- float64 gradcheck on "cpu", "strict:cpu" and "strict:device1"; gradgradcheck on "cpu".
"""

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

DEVICES = ["cpu", "strict:cpu", "strict:device1"]



def normal(*shape, seed=0):
    return np.random.default_rng(seed + 7 * sum(shape) + len(shape)).standard_normal(shape)


def leaves(device, *arrays):
    return [mg.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=True)
            for a in arrays]


# -- layers against PyTorch's ------------------------------------------------------------------


def _same_layer(torch, mine, theirs):
    """Copies theirs' parameters into mine (float64 both)."""
    theirs.double()
    for (name, p), (t_name, q) in zip(mine.named_parameters(), theirs.named_parameters(),
                                      strict=True):
        assert name == t_name and p.shape == tuple(q.shape)
        p.data = mg.tensor(q.detach().numpy().copy()).data
    return mine, theirs


LAYERS = {
    "Conv1d": (lambda m: m.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2),
               (2, 4, 9)),
    "Conv1d-same": (lambda m: m.Conv1d(3, 2, 4, padding="same", bias=False), (2, 3, 7)),
    "Conv3d": (lambda m: m.Conv3d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1), (2, 2, 4, 5, 3)),
    "ConvTranspose1d": (lambda m: m.ConvTranspose1d(4, 6, 3, stride=2, padding=1,
                                                    output_padding=1, groups=2), (2, 4, 5)),
    "LayerNorm": (lambda m: m.LayerNorm((3, 4)), (2, 5, 3, 4)),
    "LayerNorm-no-bias": (lambda m: m.LayerNorm(4, bias=False), (3, 4)),
    "GroupNorm": (lambda m: m.GroupNorm(2, 6), (3, 6, 4, 2)),
    "GroupNorm-1d": (lambda m: m.GroupNorm(3, 3, affine=False), (2, 3, 5)),
    "PixelShuffle": (lambda m: m.PixelShuffle(2), (2, 8, 3, 2)),
    "PixelUnshuffle": (lambda m: m.PixelUnshuffle(2), (2, 2, 4, 6)),
    "AdaptiveAvgPool2d": (lambda m: m.AdaptiveAvgPool2d((3, None)), (2, 3, 7, 5)),
    "Unfold": (lambda m: m.Unfold((2, 3), dilation=1, padding=1, stride=2), (2, 3, 5, 6)),
    "Fold": (lambda m: m.Fold((4, 5), 2, padding=1), (2, 8, 30)),
    "MaxPool2d-dilated": (lambda m: m.MaxPool2d(2, 1, 1, dilation=2), (2, 3, 6, 6)),
    "AvgPool2d-exclude-pad": (lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False),
                              (2, 3, 6, 7)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layers_match_pytorch_outputs_and_gradients(torch, name):
    build, shape = LAYERS[name]
    torch.manual_seed(0)
    mine, theirs = _same_layer(torch, build(nn), build(torch.nn))
    x = normal(*shape)
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = mine(xm), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-12)
    w = normal(*y.shape, seed=1)
    (y * mg.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), atol=1e-10)
    for p, q in zip(mine.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-10)


def test_embedding_matches_pytorch_with_padding(torch):
    ids = np.array([[0, 2, 4], [4, 1, 0]])
    mine, theirs = nn.Embedding(5, 3, padding_idx=4), torch.nn.Embedding(5, 3, padding_idx=4)
    _same_layer(torch, mine, theirs)
    y, yt = mine(mg.tensor(ids)), theirs(torch.tensor(ids))
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    w = normal(2, 3, 3)
    (y * mg.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(mine.weight.grad.numpy(), theirs.weight.grad.numpy())
    np.testing.assert_array_equal(mine.weight.grad.numpy()[4], 0)


def test_max_pool_and_unpool_layers_round_trip(torch):
    x = np.random.default_rng(0).permutation(np.arange(2 * 36.0)).reshape(1, 2, 6, 6)
    pool = nn.MaxPool2d(2, return_indices=True)
    y, indices = pool(mg.tensor(x))
    restored = nn.MaxUnpool2d(2)(y, indices)
    ty, ti = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(restored.numpy(), torch.nn.MaxUnpool2d(2)(ty, ti).numpy())


# -- default initialisations ----------------------------------------------------------------------


@pytest.mark.parametrize("layer, fan_in", [
    (lambda: nn.Conv1d(4, 50, 3, groups=2), 2 * 3),
    (lambda: nn.Conv3d(3, 40, (2, 3, 2)), 3 * 12),
    (lambda: nn.ConvTranspose1d(4, 60, 5, groups=2), 30 * 5),
])
def test_convolutions_initialise_as_pytorch(layer, fan_in):
    """kaiming_uniform(a = sqrt(5)): weight and bias uniform in +-1/sqrt(fan_in)."""
    m = layer()
    bound = 1 / math.sqrt(fan_in)
    for p in (m.weight, m.bias):
        values = p.numpy()
        assert np.all(np.abs(values) <= bound) and values.std() > bound / 4


def test_norm_layers_start_as_the_identity_affine_map():
    for m in (nn.LayerNorm((2, 3)), nn.GroupNorm(2, 4)):
        assert np.all(m.weight.numpy() == 1) and np.all(m.bias.numpy() == 0)
    assert nn.LayerNorm(3, elementwise_affine=False).weight is None
    assert len(list(nn.GroupNorm(1, 3, affine=False).parameters())) == 0


def test_embedding_initialises_from_the_standard_normal():
    m = nn.Embedding(4000, 8, padding_idx=3)
    values = m.weight.numpy()
    assert np.all(values[3] == 0)
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1) < 0.02


# -- the functions --------------------------------------------------------------------------------


def naive_standardise(x, axes, eps):
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps)


def test_layer_norm_matches_the_definition():
    x, w, b = normal(2, 3, 4), normal(3, 4, seed=1), normal(3, 4, seed=2)
    y = F.layer_norm(mg.tensor(x), (3, 4), mg.tensor(w), mg.tensor(b), eps=1e-3)
    np.testing.assert_allclose(y.numpy(), naive_standardise(x, (1, 2), 1e-3) * w + b,
                               atol=1e-12)


def test_group_norm_matches_the_definition():
    x, w, b = normal(2, 6, 3), normal(6, seed=1), normal(6, seed=2)
    y = F.group_norm(mg.tensor(x), 3, mg.tensor(w), mg.tensor(b))
    groups = naive_standardise(x.reshape(2, 3, 2, 3), (2, 3), 1e-5).reshape(2, 6, 3)
    np.testing.assert_allclose(y.numpy(), groups * w[:, None] + b[:, None], atol=1e-12)


def test_normalisation_rejects_bad_shapes():
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(mg.zeros(2, 3), (4,))
    with pytest.raises(ValueError, match="num_groups"):
        F.group_norm(mg.zeros(2, 6, 3), 4)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="expects"):
        nn.GroupNorm(2, 6)(mg.zeros(2, 4, 3))


def test_embedding_looks_up_rows_and_adds_repeated_gradients():
    weight = mg.tensor(normal(5, 3), requires_grad=True)
    ids = np.array([[1, 1], [3, 0]])
    y = F.embedding(mg.tensor(ids), weight)
    np.testing.assert_array_equal(y.numpy(), weight.numpy()[ids])
    y.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy()[:, 0], [1, 2, 0, 1, 0])


def test_embedding_rejects_bad_indices():
    with pytest.raises(IndexError, match="indices"):
        F.embedding(mg.tensor(np.array([5])), mg.zeros(5, 2))
    with pytest.raises(TypeError, match="integer"):
        F.embedding(mg.zeros(2), mg.zeros(5, 2))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)


def test_empty_batches_pass_through_the_new_layers():
    assert nn.LayerNorm(4)(mg.zeros(0, 4)).shape == (0, 4)
    assert nn.GroupNorm(2, 4)(mg.zeros(0, 4, 3)).shape == (0, 4, 3)
    assert nn.Embedding(3, 2)(mg.tensor(np.zeros((0, 5), dtype=np.int64))).shape == (0, 5, 2)
    assert nn.Conv1d(2, 3, 3)(mg.zeros(0, 2, 5)).shape == (0, 3, 3)


FUNCTIONS = {
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (3, 2), w, b), (normal(2, 3, 2),
                                                                  normal(3, 2, seed=1),
                                                                  normal(3, 2, seed=2))),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b), (normal(2, 4, 3),
                                                             normal(4, seed=1),
                                                             normal(4, seed=2))),
    "embedding": (lambda w: F.embedding(mg.tensor(np.array([[0, 3], [3, 1]]), device=w.device),
                                        w), (normal(4, 3),)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_layer_function_gradients(device, name):
    fn, arrays = FUNCTIONS[name]
    assert mg.gradcheck(fn, leaves(device, *arrays), fast=device == "strict:device1")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_layer_function_second_derivatives(name):
    fn, arrays = FUNCTIONS[name]
    assert mg.gradgradcheck(lambda *t: fn(*t).tanh(), leaves("cpu", *arrays))


@pytest.mark.parametrize("device", ["strict:cpu", "strict:device1"])
def test_new_layers_run_on_the_strict_devices(device):
    x = mg.tensor(normal(2, 4, 6), device=device)
    model = nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.LayerNorm(6))
    model.to(device)
    y = model(x)
    y.sum().backward()
    assert y.shape == (2, 4, 6) and all(p.grad is not None for p in model.parameters())
