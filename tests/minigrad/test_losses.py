"""Losses against NumPy formulas (including extreme inputs), finite differences and torch."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_log_softmax(z, axis=1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses_match_numpy(device, rng, reduction):
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p, t = rng.uniform(0.01, 0.99, (4, 3)), rng.uniform(0, 1, (4, 3))
    mk = lambda a: mg.tensor(a, device=device)  # noqa: E731
    r = REDUCE[reduction]
    cases = [
        (F.mse_loss(mk(x), mk(y), reduction), r((x - y) ** 2)),
        (F.l1_loss(mk(x), mk(y), reduction), r(np.abs(x - y))),
        (F.binary_cross_entropy(mk(p), mk(t), reduction),
         r(-(t * np.log(p) + (1 - t) * np.log(1 - p)))),
        (F.binary_cross_entropy_with_logits(mk(x), mk(t), reduction),
         r(-(t * np.log(np_sigmoid(x)) + (1 - t) * np.log(1 - np_sigmoid(x))))),
    ]
    for loss, expected in cases:
        assert loss.shape == np.shape(expected)
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_numpy(device, rng, reduction):
    z = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    loss = F.cross_entropy(mg.tensor(z, device=device), mg.tensor(labels, device=device),
                           reduction)
    expected = -np_log_softmax(z)[np.arange(5), labels]
    np.testing.assert_allclose(loss.numpy(), REDUCE[reduction](expected), rtol=1e-10)


def test_cross_entropy_with_spatial_axes(device, rng):
    z = rng.standard_normal((2, 3, 4, 5))          # (N, C, H, W)
    labels = rng.integers(0, 3, (2, 4, 5))
    loss = F.cross_entropy(mg.tensor(z, device=device), mg.tensor(labels, device=device),
                           reduction="none")
    logp = np_log_softmax(z)
    expected = -np.take_along_axis(logp, labels[:, None], axis=1)[:, 0]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_kl_divergence_normal_matches_the_closed_form(device, rng, reduction):
    mu, logvar = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    kl = F.kl_divergence_normal(mg.tensor(mu, device=device), mg.tensor(logvar, device=device),
                                reduction)
    per_example = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)
    np.testing.assert_allclose(kl.numpy(), REDUCE[reduction](per_example), rtol=1e-10)


def test_kl_divergence_normal_is_zero_for_the_prior_and_sums_over_all_latent_axes(rng):
    zero = F.kl_divergence_normal(mg.zeros(4, 2, 3), mg.zeros(4, 2, 3), "none")
    np.testing.assert_array_equal(zero.numpy(), np.zeros(4))
    # KL of N(m, s^2) from N(0, 1) in one dimension: (s^2 + m^2 - 1)/2 - log s.
    mu, var = 0.7, 2.5
    kl = F.kl_divergence_normal(mg.tensor([[mu]]), mg.tensor([[np.log(var)]]), "sum")
    assert kl.item() == pytest.approx((var + mu**2 - 1) / 2 - 0.5 * np.log(var), rel=1e-6)


def test_binary_cross_entropy_is_finite_at_zero_and_one(device):
    p = mg.tensor(np.array([0.0, 1.0, 0.0, 1.0]), device=device, requires_grad=True)
    t = mg.tensor(np.array([0.0, 1.0, 1.0, 0.0]), device=device)
    loss = F.binary_cross_entropy(p, t, reduction="none")
    # Right answers cost 0; wrong ones cost the clamp, -log clamped at 100 (as PyTorch).
    np.testing.assert_array_equal(loss.numpy(), [0.0, 0.0, 100.0, 100.0])
    loss.sum().backward()
    assert np.all(np.isfinite(mg.to_numpy(p.grad)))


def test_binary_cross_entropy_with_logits_is_stable_for_large_logits(device):
    x = mg.tensor(np.array([100.0, -100.0, 100.0, -100.0, 0.0]), device=device,
                  requires_grad=True)
    t = mg.tensor(np.array([1.0, 0.0, 0.0, 1.0, 1.0]), device=device)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    # log(1 + e^-100) ~ 3.7e-44: the confident right answers cost ~0, wrong ones 100.
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, 100.0, 100.0, np.log(2)], atol=1e-30,
                               rtol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(mg.to_numpy(x.grad), [0.0, 0.0, 1.0, -1.0, -0.5], atol=1e-30)


def test_binary_cross_entropy_with_logits_float32_extremes():
    x = mg.tensor([100.0, -100.0, 30.0], dtype=mg.float32)
    loss = F.binary_cross_entropy_with_logits(x, mg.tensor([0.0, 1.0, 1.0]), reduction="none")
    assert np.all(np.isfinite(loss.numpy()))
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, np.exp(-30.0)], rtol=1e-6)


def test_cross_entropy_is_stable_for_large_logits(device):
    z = mg.tensor(np.array([[1000.0, 0.0], [0.0, -1000.0]]), device=device,
                  requires_grad=True)
    labels = mg.tensor(np.array([1, 0]), device=device)
    loss = F.cross_entropy(z, labels, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1000.0, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(mg.to_numpy(z.grad), [[1.0, -1.0], [0.0, 0.0]])


def test_losses_gradcheck(device, rng):
    mk = lambda a: mg.tensor(a, device=device, requires_grad=True)  # noqa: E731
    x, y = mk(rng.standard_normal((3, 4))), mk(rng.standard_normal((3, 4)))
    p, t = mk(rng.uniform(0.05, 0.95, (3, 4))), mk(rng.uniform(0, 1, (3, 4)))
    mg.gradcheck(lambda a, b: F.mse_loss(a, b, reduction="none"), (x, y))
    mg.gradcheck(lambda a, b: F.mse_loss(a, b), (x, y))
    mg.gradcheck(lambda a, b: F.l1_loss(a, b, reduction="sum"), (x, y))
    mg.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), (p, t))
    mg.gradcheck(lambda a, b: F.binary_cross_entropy(a, b), (p, t))
    mg.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, "none"), (x, t))
    mg.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, "sum"), (x, t))
    labels = mg.tensor(np.array([2, 0, 3]), device=device)
    mg.gradcheck(lambda a: F.cross_entropy(a, labels, "none"), (x,))
    mg.gradcheck(lambda a: F.cross_entropy(a, labels), (x,))
    z = mk(rng.standard_normal((2, 3, 2, 2)))
    pixel_labels = mg.tensor(rng.integers(0, 3, (2, 2, 2)), device=device)
    mg.gradcheck(lambda a: F.cross_entropy(a, pixel_labels, "sum"), (z,))
    mg.gradcheck(lambda m, v: F.kl_divergence_normal(m, v, "none"), (x, y))
    mg.gradcheck(lambda m, v: F.kl_divergence_normal(m, v), (x, y))


def test_loss_modules_match_the_functions(rng):
    x, y = mg.tensor(rng.standard_normal((3, 4))), mg.tensor(rng.uniform(0, 1, (3, 4)))
    p = mg.tensor(rng.uniform(0.1, 0.9, (3, 4)))
    labels = mg.tensor(np.array([1, 0, 3]))
    pairs = [(nn.MSELoss(), F.mse_loss(x, y)),
             (nn.L1Loss(reduction="sum"), F.l1_loss(x, y, "sum")),
             (nn.BCEWithLogitsLoss(reduction="none"), F.binary_cross_entropy_with_logits(
                 x, y, "none"))]
    for module, expected in pairs:
        np.testing.assert_array_equal(module(x, y).numpy(), expected.numpy())
    np.testing.assert_array_equal(nn.BCELoss()(p, y).numpy(),
                                  F.binary_cross_entropy(p, y).numpy())
    np.testing.assert_array_equal(nn.CrossEntropyLoss()(x, labels).numpy(),
                                  F.cross_entropy(x, labels).numpy())
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


def test_bad_reduction_and_shapes_are_explained():
    x = mg.zeros(3, 2)
    with pytest.raises(ValueError, match="'mean', 'sum' or 'none'.*'avg'"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.BCELoss(reduction="total")
    with pytest.raises(ValueError, match=r"input shape \(3, 2\) and target shape \(3,\)"):
        F.mse_loss(x, mg.zeros(3))
    with pytest.raises(TypeError, match="integer class labels"):
        F.cross_entropy(x, mg.zeros(3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels \(N, \.\.\.\)"):
        F.cross_entropy(x, mg.tensor([0, 1]))


def test_losses_match_torch(rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, y = rng.standard_normal((5, 3)), rng.uniform(0, 1, (5, 3))
    p = rng.uniform(0.02, 0.98, (5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    cases = [
        (lambda a: F.mse_loss(a, mg.tensor(y)), lambda a: tf.mse_loss(a, torch.tensor(y)), x),
        (lambda a: F.l1_loss(a, mg.tensor(y), "sum"),
         lambda a: tf.l1_loss(a, torch.tensor(y), reduction="sum"), x),
        (lambda a: F.binary_cross_entropy(a, mg.tensor(y)),
         lambda a: tf.binary_cross_entropy(a, torch.tensor(y)), p),
        (lambda a: F.binary_cross_entropy_with_logits(a, mg.tensor(y), "sum"),
         lambda a: tf.binary_cross_entropy_with_logits(a, torch.tensor(y), reduction="sum"),
         x * 30),
        (lambda a: F.cross_entropy(a, mg.tensor(labels)),
         lambda a: tf.cross_entropy(a, torch.tensor(labels)), x),
    ]
    for ours, theirs, value in cases:
        am, at = mg.tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)
        lm, lt = ours(am), theirs(at)
        lm.backward()
        lt.backward()
        np.testing.assert_allclose(lm.numpy(), lt.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(am.grad, at.grad.numpy(), rtol=1e-9, atol=1e-15)
    # Probabilities of exactly 0 and 1: both clamp the log at -100.
    edge = np.array([0.0, 1.0, 0.0, 1.0])
    target = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(
        F.binary_cross_entropy(mg.tensor(edge), mg.tensor(target), "none").numpy(),
        tf.binary_cross_entropy(torch.tensor(edge), torch.tensor(target),
                                reduction="none").numpy())


@pytest.mark.parametrize("values, outside, nans", [([3.0, 0.5], 1, 0), ([np.nan, 0.5], 0, 1),
                                                   ([-0.1, np.nan], 1, 1)])
def test_binary_cross_entropy_refuses_non_probabilities(device, values, outside, nans):
    # PyTorch: "all elements of input should be between 0 and 1"; a negative or NaN loss would
    # otherwise hide a diverged model from the trainer's NaN stop.
    p = mg.tensor(values, device=device)
    target = mg.tensor([1.0, 0.0], device=device)
    if mg.device(device).type == "cuda":  # no check there (it would wait for the GPU): NaN
        assert np.isnan(F.binary_cross_entropy(p, target).item())
        return
    with pytest.raises(ValueError, match=rf"between 0 and 1.*{outside} outside.*{nans} NaN"):
        F.binary_cross_entropy(p, target)
