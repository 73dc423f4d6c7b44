"""Tests of autoencoders.contraction: the measurements per model and their table."""

import numpy as np
import pytest

import minigrad as mg
from autoencoders import contraction
from autoencoders.models import MLPAutoencoder


def test_measure_and_table():
    mg.manual_seed(0)
    models = {"a": MLPAutoencoder((16, 8, 3)), "b": MLPAutoencoder((16, 8, 3))}
    histories = {name: [{"test_bce": 1.0 + k, "test_sq_error": 0.5 + k}]
                 for k, name in enumerate(models)}
    x = np.random.default_rng(0).uniform(0, 1, (20, 16)).astype(np.float32)
    results, norms = contraction.measure(models, histories, x, (0.01, 0.1), seed=1)
    assert set(results) == set(norms) == {"a", "b"}
    assert norms["a"].shape == (20,) and np.all(norms["a"] > 0)
    assert results["b"]["test_bce_per_image"] == 2.0
    assert results["b"]["test_sq_error_per_image"] == 1.5
    assert set(results["a"]["noise"]) == {"0.01", "0.1"}
    table = contraction.contraction_table(results, (0.01, 0.1))
    assert "| a |" in table and "| b |" in table and "rel. disp. sigma=0.1" in table


def _weights(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W (out, in), b) of each Linear in a Sequential, as float64 NumPy arrays."""
    return [(m.weight.numpy().astype(np.float64), m.bias.numpy().astype(np.float64))
            for m in layers if hasattr(m, "weight")]


def test_loss_fns_against_numpy_bce_and_closed_form_jacobian():
    """A tanh MLP 6-5-2 (decoder 2-5-6): the plain loss is the binary cross-entropy per image
    of a NumPy forward pass; the contractive one adds weight * mean ||J||_F^2 with
    J = W2 diag(1 - tanh(W1 x + b1)^2) W1."""
    mg.manual_seed(0)
    model = MLPAutoencoder((6, 5, 2), activation="tanh")
    x = np.random.default_rng(2).uniform(0, 1, (7, 6)).astype(np.float32)
    (w1, b1), (w2, b2) = _weights(model.encoder)
    (v1, c1), (v2, c2) = _weights(model.decoder)
    a = np.tanh(x @ w1.T + b1)
    logits = np.tanh((a @ w2.T + b2) @ v1.T + c1) @ v2.T + c2
    bce = np.mean(np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-abs(logits))),
                         axis=1))
    jacobians = np.einsum("kh,nh,hd->nkd", w2, 1 - a**2, w1)
    penalty = np.mean(np.sum(jacobians**2, axis=(1, 2)))

    losses = contraction.loss_fns(0.3, "exact", 1, "rademacher")
    assert list(losses) == ["autoencoder", "contractive"]
    plain, _ = losses["autoencoder"](model, (mg.tensor(x),))
    contractive, metrics = losses["contractive"](model, (mg.tensor(x),))
    assert float(plain.numpy()) == pytest.approx(bce, rel=1e-5)
    assert float(metrics["jacobian_sq_frobenius"].numpy()) == pytest.approx(penalty, rel=1e-4)
    assert float(contractive.numpy()) == pytest.approx(bce + 0.3 * penalty, rel=1e-5)


def test_loss_fns_pass_the_estimate_on():
    """With a 1-D code one Rademacher probe (+-1) gives ||J||_F^2 exactly, a Gaussian one
    does not; and a method that does not exist is refused."""
    mg.manual_seed(1)
    model = MLPAutoencoder((6, 1))  # the code is W x + b: J = W for every digit
    x = mg.tensor(np.random.default_rng(3).uniform(0, 1, (5, 6)).astype(np.float32))
    exact = float(np.sum(_weights(model.encoder)[0][0] ** 2))
    for probe, exact_estimate in [("rademacher", True), ("gaussian", False)]:
        mg.manual_seed(2)
        _, metrics = contraction.loss_fns(1.0, "hutchinson", 1, probe)["contractive"](model, (x,))
        estimate = float(metrics["jacobian_sq_frobenius"].numpy())
        assert (estimate == pytest.approx(exact, rel=1e-5)) is exact_estimate, probe
    with pytest.raises(ValueError):
        contraction.loss_fns(1.0, "nope", 1, "rademacher")


@pytest.mark.parametrize("channels", [1, 3])
def test_reconstruction_rows_against_one_image_at_a_time(channels):
    mg.manual_seed(0)
    size = channels * 16
    models = {"a": MLPAutoencoder((size, 4)), "b": MLPAutoencoder((size, 8, 3))}
    x = np.random.default_rng(4).uniform(0, 1, (5, channels, 4, 4)).astype(np.float32)
    rows = contraction.reconstruction_rows(models, x)
    assert list(rows) == ["test digits", "a", "b"]
    layout = (lambda im: im[:, 0]) if channels == 1 else (lambda im: np.moveaxis(im, 1, -1))
    np.testing.assert_array_equal(rows["test digits"], layout(x))
    for name, model in models.items():
        with mg.no_grad():
            one_by_one = np.stack([model(mg.tensor(image[None])).numpy().reshape(image.shape)
                                   for image in x])
        np.testing.assert_allclose(rows[name], layout(one_by_one), atol=1e-6)
