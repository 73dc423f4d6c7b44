"""The losses ported from PyTorch: nll_loss, cross_entropy's weight / ignore_index /
label_smoothing / probability targets, binary_cross_entropy_with_logits' weight and pos_weight,
smooth_l1_loss, huber_loss, kl_div, cosine_similarity, and their modules.

- values against naive NumPy formulas written from the definitions, and against PyTorch
  (skipped without it), for every reduction;
- float64 gradcheck on "cpu", "strict:cpu" and "strict:device1";
- gradgradcheck on "cpu" (all these losses are twice differentiable where tested).
"""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

DEVICES = ["cpu", "strict:cpu", "strict:device1"]
REDUCTIONS = ["mean", "sum", "none"]



def rng(seed=0):
    return np.random.default_rng(seed)


def logits(*shape, seed=0):
    return rng(seed).standard_normal(shape)


def labels(shape, classes, seed=1, ignored=()):
    y = rng(seed).integers(0, classes, shape)
    for index in ignored:
        y[index] = -100
    return y


def probabilities(*shape, axis=1, seed=2):
    p = rng(seed).random(shape) + 0.1
    return p / p.sum(axis=axis, keepdims=True)


def log_softmax(z, axis=1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def T(torch, a):
    return torch.tensor(np.asarray(a))


def check_gradients(device, fn, *arrays, constants=()):
    tensors = [mg.tensor(a, device=device, requires_grad=True) for a in arrays]
    consts = [mg.tensor(c, device=device) for c in constants]
    assert mg.gradcheck(lambda *t: fn(*t, *consts), tensors, fast=device == "strict:device1")


def check_second_derivatives(fn, *arrays, constants=()):
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    consts = [mg.tensor(c) for c in constants]
    assert mg.gradgradcheck(lambda *t: fn(*t, *consts), tensors)


# -- nll_loss and cross_entropy -------------------------------------------------------------------


def naive_weighted_nll(logp, y, w, ignore_index=-100):
    """Per example -w[y] logp[y] (0 if ignored), and the mean's denominator sum of w[y]."""
    n = logp.shape[0]
    flat_logp = np.moveaxis(logp, 1, -1).reshape(-1, logp.shape[1])
    flat_y = y.reshape(-1)
    loss, weights = np.zeros(flat_y.shape), np.zeros(flat_y.shape)
    for k, label in enumerate(flat_y):
        if label != ignore_index:
            weights[k] = w[label]
            loss[k] = -w[label] * flat_logp[k, label]
    return loss.reshape((n,) + logp.shape[2:]), weights.sum()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_the_definition(reduction, weighted):
    z = log_softmax(logits(6, 4, 3))
    y = labels((6, 3), 4, ignored=[(0, 0), (3, 2)])
    w = rng(5).random(4) + 0.5 if weighted else np.ones(4)
    got = F.nll_loss(mg.tensor(z), mg.tensor(y), mg.tensor(w) if weighted else None,
                     reduction=reduction).numpy()
    loss, denominator = naive_weighted_nll(z, y, w)
    expected = {"none": loss, "sum": loss.sum(), "mean": loss.sum() / denominator}[reduction]
    np.testing.assert_allclose(got, expected, atol=1e-12)


CE_OPTIONS = [dict(), dict(weight=True), dict(label_smoothing=0.2),
              dict(weight=True, label_smoothing=0.3), dict(ignore_index=2),
              dict(weight=True, ignore_index=1, label_smoothing=0.1)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(len(CE_OPTIONS)))
def test_cross_entropy_and_nll_with_labels_match_pytorch(torch, reduction, case):
    options = dict(CE_OPTIONS[case])
    z = logits(5, 4, 3)
    y = labels((5, 3), 4, ignored=[(0, 0), (2, 1)])
    y[y == -100] = options.get("ignore_index", -100)
    mine, theirs = dict(options), dict(options)
    if options.pop("weight", False):
        w = rng(7).random(4) + 0.5
        mine["weight"], theirs["weight"] = mg.tensor(w), T(torch, w)
    got = F.cross_entropy(mg.tensor(z), mg.tensor(y), reduction=reduction, **mine).numpy()
    expected = torch.nn.functional.cross_entropy(T(torch, z), T(torch, y), reduction=reduction,
                                                 **theirs).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    mine.pop("label_smoothing", None)
    theirs.pop("label_smoothing", None)
    got = F.nll_loss(mg.tensor(z), mg.tensor(y), reduction=reduction, **mine).numpy()
    expected = torch.nn.functional.nll_loss(T(torch, z), T(torch, y), reduction=reduction,
                                            **theirs).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_probabilities_matches_pytorch(torch, reduction, smoothing,
                                                          weighted):
    z, p = logits(5, 4, 3), probabilities(5, 4, 3)
    w = rng(7).random(4) + 0.5
    got = F.cross_entropy(mg.tensor(z), mg.tensor(p), mg.tensor(w) if weighted else None,
                          reduction=reduction, label_smoothing=smoothing).numpy()
    expected = torch.nn.functional.cross_entropy(
        T(torch, z), T(torch, p), T(torch, w) if weighted else None, reduction=reduction,
        label_smoothing=smoothing).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_cross_entropy_with_one_hot_probabilities_equals_labels():
    z, y = logits(6, 5), labels((6,), 5)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(F.cross_entropy(mg.tensor(z), mg.tensor(onehot)).numpy(),
                               F.cross_entropy(mg.tensor(z), mg.tensor(y)).numpy(), atol=1e-12)


def test_label_smoothing_mixes_in_the_uniform_distribution():
    """With smoothing e: (1 - e) * the label loss + e * the mean of -logp over the classes."""
    z, y, e = logits(4, 3), labels((4,), 3), 0.3
    logp = log_softmax(z)
    expected = (1 - e) * -logp[np.arange(4), y] + e * -logp.mean(axis=1)
    got = F.cross_entropy(mg.tensor(z), mg.tensor(y), reduction="none", label_smoothing=e)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_ignored_labels_add_no_loss_and_no_gradient():
    z = mg.tensor(logits(4, 3), requires_grad=True)
    y = mg.tensor(np.array([0, -100, 2, -100]))
    loss = F.cross_entropy(z, y, label_smoothing=0.1)
    loss.backward()
    np.testing.assert_array_equal(z.grad.numpy()[[1, 3]], 0)
    kept = F.cross_entropy(mg.tensor(logits(4, 3)[[0, 2]]), mg.tensor(np.array([0, 2])),
                           label_smoothing=0.1)
    assert np.isclose(loss.item(), kept.item())


def test_class_losses_reject_bad_labels_and_weights():
    z = mg.tensor(logits(3, 4))
    with pytest.raises(ValueError, match="ignore_index"):
        F.nll_loss(z, mg.tensor(np.array([0, 4, 1])))
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(z, mg.tensor(np.array([0, 1, 1])), mg.ones(3))
    with pytest.raises(TypeError, match="integer class labels"):
        F.nll_loss(z, mg.tensor(np.zeros((3, 4))))
    with pytest.raises(TypeError, match="probabilities"):
        F.cross_entropy(z, mg.tensor(np.zeros((3, 3))))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(z, mg.tensor(np.array([0, 1, 1])), label_smoothing=1.5)


def test_the_reduction_is_still_accepted_in_third_place():
    """The signature before the port took the reduction third; a string there still is."""
    z, y = mg.tensor(logits(3, 4)), mg.tensor(np.array([0, 1, 3]))
    np.testing.assert_array_equal(F.cross_entropy(z, y, "sum").numpy(),
                                  F.cross_entropy(z, y, reduction="sum").numpy())


CLASS_GRADIENTS = {
    "nll-weighted-ignored": (
        lambda z, y, w: F.nll_loss(z, y, w), (logits(5, 3, 2),),
        (labels((5, 2), 3, ignored=[(1, 1)]), rng(3).random(3) + 0.5)),
    "ce-weighted-smoothed": (
        lambda z, y, w: F.cross_entropy(z, y, w, label_smoothing=0.2), (logits(5, 3),),
        (labels((5,), 3, ignored=[(2,)]), rng(3).random(3) + 0.5)),
    "ce-ignore-index-sum": (
        lambda z, y: F.cross_entropy(z, y, ignore_index=1, reduction="sum"), (logits(4, 3, 2),),
        (labels((4, 2), 3),)),
    "ce-probabilities": (  # gradients with respect to the logits and the target
        lambda z, p: F.cross_entropy(z, p, label_smoothing=0.1), (logits(4, 3),
                                                                  probabilities(4, 3)), ()),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", CLASS_GRADIENTS)
def test_class_loss_gradients(device, name):
    fn, arrays, constants = CLASS_GRADIENTS[name]
    check_gradients(device, fn, *arrays, constants=constants)


@pytest.mark.parametrize("name", CLASS_GRADIENTS)
def test_class_loss_second_derivatives(name):
    fn, arrays, constants = CLASS_GRADIENTS[name]
    check_second_derivatives(fn, *arrays, constants=constants)


# -- binary cross-entropy with weights ------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_pos_weight_matches_the_definition_and_pytorch(torch, reduction):
    x, y = logits(4, 3), rng(3).random((4, 3))
    pw, w = rng(4).random(3) + 0.5, rng(5).random((4, 3))
    got = F.binary_cross_entropy_with_logits(mg.tensor(x), mg.tensor(y), mg.tensor(w),
                                             reduction=reduction, pos_weight=mg.tensor(pw))
    s = 1 / (1 + np.exp(-x))
    loss = -w * (pw * y * np.log(s) + (1 - y) * np.log(1 - s))
    expected = {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        T(torch, x), T(torch, y), T(torch, w), reduction=reduction, pos_weight=T(torch, pw))
    np.testing.assert_allclose(got.numpy(), theirs.numpy(), atol=1e-12)


def test_bce_with_logits_pos_weight_is_stable_for_large_logits():
    x = mg.tensor(np.array([[-100.0, 100.0]]))
    loss = F.binary_cross_entropy_with_logits(x, mg.tensor(np.array([[1.0, 0.0]])),
                                              reduction="none", pos_weight=mg.tensor([2.0, 2.0]))
    np.testing.assert_allclose(loss.numpy(), [[200.0, 100.0]])


@pytest.mark.parametrize("device", DEVICES)
def test_bce_with_logits_pos_weight_gradients(device):
    check_gradients(device, lambda x, pw, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=pw), logits(4, 3), rng(4).random(3) + 0.5,
        constants=(rng(3).random((4, 3)),))


def test_bce_with_logits_pos_weight_second_derivatives():
    check_second_derivatives(lambda x, y, w: F.binary_cross_entropy_with_logits(
        x, y, w, pos_weight=mg.tensor([0.5, 2.0, 3.0])), logits(4, 3),
        constants=(rng(3).random((4, 3)), rng(5).random((4, 3))))


# -- smooth L1, Huber -----------------------------------------------------------------------------


def naive_smooth_l1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


def naive_huber(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_smooth_l1_and_huber_match_the_definition_and_pytorch(torch, reduction, beta):
    x, y = 2 * logits(5, 4), logits(5, 4, seed=1)
    reduce = {"none": lambda a: a, "sum": np.sum, "mean": np.mean}[reduction]
    smooth = F.smooth_l1_loss(mg.tensor(x), mg.tensor(y), reduction, beta).numpy()
    if beta:
        np.testing.assert_allclose(smooth, reduce(naive_smooth_l1(x - y, beta)), atol=1e-12)
    tf = torch.nn.functional
    np.testing.assert_allclose(smooth, tf.smooth_l1_loss(T(torch, x), T(torch, y),
                                                         reduction=reduction,
                                                         beta=beta).numpy(), atol=1e-12)
    if beta:
        huber = F.huber_loss(mg.tensor(x), mg.tensor(y), reduction, beta).numpy()
        np.testing.assert_allclose(huber, reduce(naive_huber(x - y, beta)), atol=1e-12)
        np.testing.assert_allclose(huber, tf.huber_loss(T(torch, x), T(torch, y),
                                                        reduction=reduction,
                                                        delta=beta).numpy(), atol=1e-12)


def test_smooth_l1_and_huber_reject_bad_parameters():
    x = mg.zeros(2)
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(x, x, delta=0.0)


ROBUST_GRADIENTS = {  # differences away from the kinks at |d| = beta
    "smooth_l1": lambda x, y: F.smooth_l1_loss(x, y, beta=0.5),
    "huber": lambda x, y: F.huber_loss(x, y, "sum", delta=0.5),
}


def _away_from_kinks():
    x = logits(4, 3)
    return x + np.where(np.abs(np.abs(x) - 0.5) < 0.05, 0.2, 0.0), np.zeros((4, 3))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ROBUST_GRADIENTS)
def test_robust_loss_gradients(device, name):
    check_gradients(device, ROBUST_GRADIENTS[name], *_away_from_kinks())


@pytest.mark.parametrize("name", ROBUST_GRADIENTS)
def test_robust_loss_second_derivatives(name):
    check_second_derivatives(ROBUST_GRADIENTS[name], *_away_from_kinks())


# -- kl_div and cosine similarity -----------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_the_definition_and_pytorch(torch, reduction, log_target):
    log_q, p = np.log(probabilities(4, 5)), probabilities(4, 5, seed=8)
    p[0, 0] = 0.0  # 0 log 0 = 0
    target = np.log(p + (p == 0)) if log_target else p
    got = F.kl_div(mg.tensor(log_q), mg.tensor(target), reduction, log_target).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        pointwise = np.where(p > 0, p * (np.log(p) - log_q), 0.0)
    if log_target:
        pointwise = np.exp(target) * (target - log_q)
    expected = {"none": pointwise, "sum": pointwise.sum(), "mean": pointwise.mean(),
                "batchmean": pointwise.sum() / 4}[reduction]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    with pytest.warns(UserWarning) if reduction == "mean" else _no_warning():
        theirs = torch.nn.functional.kl_div(T(torch, log_q), T(torch, target),
                                            reduction=reduction, log_target=log_target)
    np.testing.assert_allclose(got, theirs.numpy(), atol=1e-12)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_kl_div_batchmean_is_the_kl_divergence_per_example():
    p, q = probabilities(3, 4), probabilities(3, 4, seed=9)
    kl = np.sum(p * np.log(p / q)) / 3
    assert np.isclose(F.kl_div(mg.tensor(np.log(q)), mg.tensor(p), "batchmean").item(), kl)


@pytest.mark.parametrize("shapes, dim", [(((4, 5), (4, 5)), 1), (((4, 5, 3), (1, 5, 3)), 1),
                                         (((4, 5, 3), (1, 5, 3)), 0), (((4, 5), (5,)), -1)])
def test_cosine_similarity_matches_the_definition_and_pytorch(torch, shapes, dim):
    a, b = logits(*shapes[0]), logits(*shapes[1], seed=4)
    got = F.cosine_similarity(mg.tensor(a), mg.tensor(b), dim).numpy()
    a2, b2 = np.broadcast_arrays(a, b)
    expected = (a2 * b2).sum(dim) / (np.linalg.norm(a2, axis=dim) * np.linalg.norm(b2, axis=dim))
    np.testing.assert_allclose(got, expected, atol=1e-12)
    theirs = torch.nn.functional.cosine_similarity(T(torch, a), T(torch, b), dim).numpy()
    np.testing.assert_allclose(got, theirs, atol=1e-12)


def test_cosine_similarity_of_a_zero_vector_is_zero_with_a_finite_gradient():
    a = mg.tensor(np.zeros((1, 3)), requires_grad=True)
    s = F.cosine_similarity(a, mg.tensor(np.array([[1.0, 2.0, 3.0]])))
    s.sum().backward()
    assert s.item() == 0.0 and np.all(np.isfinite(a.grad.numpy()))


OTHER_GRADIENTS = {
    "kl_div": (lambda q, p: F.kl_div(q, p, "batchmean"), (np.log(probabilities(3, 4)),
                                                          probabilities(3, 4, seed=8))),
    "kl_div-log-target": (lambda q, p: F.kl_div(q, p, "sum", log_target=True),
                          (np.log(probabilities(3, 4)), np.log(probabilities(3, 4, seed=8)))),
    "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b, dim=-1),
                          (logits(3, 4), logits(1, 4, seed=5))),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", OTHER_GRADIENTS)
def test_kl_and_cosine_gradients(device, name):
    fn, arrays = OTHER_GRADIENTS[name]
    check_gradients(device, fn, *arrays)


@pytest.mark.parametrize("name", OTHER_GRADIENTS)
def test_kl_and_cosine_second_derivatives(name):
    fn, arrays = OTHER_GRADIENTS[name]
    check_second_derivatives(fn, *arrays)


# -- the modules ----------------------------------------------------------------------------------


def test_loss_modules_match_their_functions():
    z, y = mg.tensor(logits(5, 4)), mg.tensor(labels((5,), 4, ignored=[(1,)]))
    w = mg.tensor(rng(3).random(4) + 0.5)
    x, t = mg.tensor(logits(5, 4, seed=3)), mg.tensor(logits(5, 4, seed=4))
    pairs = [
        (nn.NLLLoss(w, reduction="sum")(z, y), F.nll_loss(z, y, w, reduction="sum")),
        (nn.CrossEntropyLoss(w, label_smoothing=0.1)(z, y),
         F.cross_entropy(z, y, w, label_smoothing=0.1)),
        (nn.SmoothL1Loss(beta=0.5)(x, t), F.smooth_l1_loss(x, t, beta=0.5)),
        (nn.HuberLoss("sum", 2.0)(x, t), F.huber_loss(x, t, "sum", 2.0)),
        (nn.KLDivLoss("batchmean")(z, x.softmax(1)), F.kl_div(z, x.softmax(1), "batchmean")),
        (nn.CosineSimilarity(0)(x, t), F.cosine_similarity(x, t, 0)),
        (nn.BCEWithLogitsLoss(pos_weight=mg.ones(4) * 2)(x, t.sigmoid()),
         F.binary_cross_entropy_with_logits(x, t.sigmoid(), pos_weight=mg.ones(4) * 2)),
    ]
    for module_value, function_value in pairs:
        np.testing.assert_array_equal(module_value.numpy(), function_value.numpy())


def test_loss_modules_match_pytorch_modules(torch):
    z, y = logits(5, 4), labels((5,), 4, ignored=[(2,)])
    w = rng(3).random(4) + 0.5
    mine = nn.CrossEntropyLoss(mg.tensor(w), ignore_index=-100, label_smoothing=0.2)
    theirs = torch.nn.CrossEntropyLoss(T(torch, w), ignore_index=-100, label_smoothing=0.2)
    assert np.isclose(mine(mg.tensor(z), mg.tensor(y)).item(),
                      theirs(T(torch, z), T(torch, y)).item())
    assert repr(nn.KLDivLoss("batchmean")) == "KLDivLoss(reduction='batchmean', log_target=False)"
    with pytest.raises(ValueError, match="batchmean"):
        nn.KLDivLoss("avg")
