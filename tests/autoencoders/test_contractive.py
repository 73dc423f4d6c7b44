"""The contractive autoencoder's penalty ||J_f(x)||_F^2: against the closed form of a sigmoid
encoder (exact to rounding, Hutchinson's estimate within its standard error), its parameter
gradients against finite differences and PyTorch, the loss function, the contraction metrics
against a linear encoder, and that training with the penalty contracts the encoder."""

import numpy as np
import pytest

import minigrad as mg
from autoencoders import metrics as M
from autoencoders.datasets import load_dataset
from autoencoders.models import (
    MLPAutoencoder,
    autoencoder_loss_fn,
    contractive_loss_fn,
    contractive_penalty,
    jacobian_sq_frobenius,
)
from autoencoders.train import Trainer
from minigrad import nn, optim

D, K, N = 9, 5, 6  # input size, code size, examples


def _sigmoid_encoder(rng, device):
    """h = sigmoid(W x + b) on (N, 1, 3, 3) inputs, float64, with W (K, D) and b (K,) returned
    as NumPy for the closed form."""
    linear = nn.Linear(D, K)
    encoder = nn.Sequential(nn.Flatten(), linear, nn.Sigmoid()).to(device, mg.float64)
    weight = rng.standard_normal((K, D))
    bias = rng.standard_normal(K)
    linear.weight.data = mg.tensor(weight, device=device).data
    linear.bias.data = mg.tensor(bias, device=device).data
    return encoder, weight, bias


def _closed_form(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2 of h = sigmoid(W x + b), per row."""
    h = 1 / (1 + np.exp(-(x.reshape(len(x), -1) @ weight.T + bias)))
    return (h * (1 - h)) ** 2 @ (weight**2).sum(axis=1)


# -- the penalty against the sigmoid encoder's closed form --------------------------------------

def test_exact_penalty_matches_the_closed_form(device, rng):
    encoder, weight, bias = _sigmoid_encoder(rng, device)
    x = rng.standard_normal((N, 1, 3, 3))
    h, penalty = contractive_penalty(encoder, mg.tensor(x, device=device), method="exact")
    assert h.shape == (N, K) and penalty.shape == (N,)
    np.testing.assert_allclose(penalty.numpy(), _closed_form(x, weight, bias), rtol=0,
                               atol=1e-10)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_estimate_is_unbiased_with_the_predicted_variance(device, rng, probe):
    """S independent one-probe estimates per example (the batch repeated S times: every row
    draws its own probe): their mean is within 4 standard errors of the closed form, and their
    variance is the predicted 2 sum_{k != l} M_kl^2 (Rademacher) or 2 ||M||_F^2 (Gaussian),
    M = J J^T, within 15%."""
    encoder, weight, bias = _sigmoid_encoder(rng, device)
    x = rng.standard_normal((N, D))
    samples = 20_000
    repeated = mg.tensor(np.tile(x, (samples, 1)), device=device)
    mg.manual_seed(1)
    _, penalty = contractive_penalty(encoder, repeated, method="hutchinson", probe=probe)
    estimates = penalty.numpy().reshape(samples, N)
    mean = estimates.mean(axis=0)
    standard_error = estimates.std(axis=0, ddof=1) / np.sqrt(samples)
    exact = _closed_form(x, weight, bias)
    assert np.all(np.abs(mean - exact) < 4 * standard_error), (mean, exact, standard_error)

    h = 1 / (1 + np.exp(-(x @ weight.T + bias)))
    jacobians = (h * (1 - h))[:, :, None] * weight  # (N, K, D): diag(h (1 - h)) W
    m = jacobians @ jacobians.transpose(0, 2, 1)  # (N, K, K)
    off_diagonal = (m**2).sum(axis=(1, 2)) - (np.diagonal(m, axis1=1, axis2=2) ** 2).sum(1)
    predicted = 2 * off_diagonal if probe == "rademacher" else 2 * (m**2).sum(axis=(1, 2))
    np.testing.assert_allclose(estimates.var(axis=0, ddof=1), predicted, rtol=0.15)


def test_hutchinson_averages_its_samples(rng):
    """n_samples=s is the mean of s one-probe estimates: with the same generator state, the
    probes are the same draws as s one-sample calls in a row."""
    encoder, _, _ = _sigmoid_encoder(rng, "cpu")
    x = mg.tensor(rng.standard_normal((N, D)))
    mg.manual_seed(3)
    _, together = contractive_penalty(encoder, x, method="hutchinson", n_samples=3)
    mg.manual_seed(3)
    one_by_one = [contractive_penalty(encoder, x, method="hutchinson")[1].numpy()
                  for _ in range(3)]
    np.testing.assert_allclose(together.numpy(), np.mean(one_by_one, axis=0), rtol=1e-12)


def test_penalty_of_codes_with_more_than_one_axis(rng):
    """A code of shape (N, 2, 3): the Frobenius norm runs over all its units."""
    weight = rng.standard_normal((6, 4))
    x = rng.standard_normal((3, 4))
    xt = mg.tensor(x, requires_grad=True)
    h = (xt @ mg.tensor(weight).T).tanh().reshape(3, 2, 3)
    penalty = jacobian_sq_frobenius(h, xt, method="exact")
    t = np.tanh(x @ weight.T)
    np.testing.assert_allclose(penalty.numpy(), (1 - t**2) ** 2 @ (weight**2).sum(1),
                               atol=1e-12)


def test_penalty_under_no_grad_is_values_only(rng):
    encoder, weight, bias = _sigmoid_encoder(rng, "cpu")
    x = rng.standard_normal((N, D))
    with mg.no_grad():
        h, penalty = contractive_penalty(encoder, mg.tensor(x), method="exact")
    assert not h.requires_grad and not penalty.requires_grad
    np.testing.assert_allclose(penalty.numpy(), _closed_form(x, weight, bias), atol=1e-10)


@pytest.mark.parametrize("kwargs", [{"method": "forward"}, {"probe": "uniform"},
                                    {"n_samples": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        contractive_penalty(lambda x: x * 2, mg.ones(2, 3), **kwargs)
    with pytest.raises(ValueError):
        contractive_loss_fn(0.1, **kwargs)


# -- the penalty's gradients --------------------------------------------------------------------

def _tanh_model(device):
    mg.manual_seed(0)
    return MLPAutoencoder((6, 5, 3), activation="tanh").to(device, mg.float64)


@pytest.mark.parametrize("method", ["exact", "hutchinson"])
def test_penalty_gradients_match_finite_differences(device, rng, method):
    """d sum_n w_n ||J_f(x_n)||_F^2 with respect to every encoder parameter and the input
    (second derivatives of the encoder), by central differences; Hutchinson's probes are fixed
    by seeding the generator before each evaluation."""
    model = _tanh_model(device)
    x = mg.tensor(rng.uniform(0, 1, (4, 6)), device=device, requires_grad=True)

    def penalty(x):
        mg.manual_seed(7)
        return contractive_penalty(model.encode, x, method=method, n_samples=2)[1]

    assert mg.gradcheck(penalty, (x,), params=list(model.encoder.parameters()), atol=1e-7,
                        rtol=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_penalty_and_its_gradients_match_pytorch(rng, activation):
    """The exact penalty of a 6-5-3 encoder and the gradient of its sum with respect to every
    parameter, against PyTorch computing the same with torch.autograd.grad(create_graph=True),
    one backward pass per code unit. The code layer's bias does not move the Jacobian (nor,
    through ReLU's zero second derivative, does the hidden bias): None counts as zeros."""
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    model = MLPAutoencoder((6, 5, 3), activation=activation).to("cpu", mg.float64)
    x = rng.uniform(0, 1, (4, 6))
    _, penalty = contractive_penalty(model.encode, mg.tensor(x), method="exact")
    params = list(model.encoder.parameters())
    grads = mg.autograd.grad(penalty.sum(), params, allow_unused=True)

    weights = [torch.tensor(p.numpy(), requires_grad=True) for p in params]
    act = torch.tanh if activation == "tanh" else torch.relu
    xt = torch.tensor(x, requires_grad=True)
    h = act(xt @ weights[0].T + weights[1]) @ weights[2].T + weights[3]
    expected = torch.zeros(4, dtype=torch.float64)
    for k in range(h.shape[1]):
        (row,) = torch.autograd.grad(h[:, k].sum(), xt, create_graph=True)
        expected = expected + (row**2).sum(dim=1)
    expected_grads = torch.autograd.grad(expected.sum(), weights, allow_unused=True)
    np.testing.assert_allclose(penalty.numpy(), expected.detach().numpy(), rtol=1e-12)
    assert grads[3] is None and expected_grads[3] is None
    for p, got, want in zip(params, grads, expected_grads, strict=True):
        got = np.zeros(p.shape) if got is None else got.numpy()
        want = np.zeros(p.shape) if want is None else want.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# -- the loss function --------------------------------------------------------------------------

def test_loss_is_reconstruction_plus_weighted_mean_penalty(rng):
    model = _tanh_model("cpu")
    x = mg.tensor(rng.uniform(0, 1, (5, 6)))
    loss, metrics = contractive_loss_fn(0.5, method="exact")(model, (x,))
    plain_loss, plain = autoencoder_loss_fn("bce")(model, (x,))
    _, penalty = contractive_penalty(model.encode, x, method="exact")
    assert metrics["reconstruction"].item() == pytest.approx(plain_loss.item(), rel=1e-12)
    assert metrics["bce"].item() == pytest.approx(plain["bce"].item(), rel=1e-12)
    assert metrics["sq_error"].item() == pytest.approx(plain["sq_error"].item(), rel=1e-12)
    assert metrics["jacobian_sq_frobenius"].item() == pytest.approx(penalty.numpy().mean())
    assert loss.item() == pytest.approx(plain_loss.item() + 0.5 * penalty.numpy().mean())
    # the loss is differentiable in the parameters through the penalty's backward passes
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_trainer_evaluates_the_loss_without_a_graph(rng):
    model = _tanh_model("cpu")
    x = rng.uniform(0, 1, (20, 6))
    trainer = Trainer(model, contractive_loss_fn(0.5, method="exact"),
                      optim.SGD(model.parameters(), lr=0.0), progress=False, verbose=False)
    scores = trainer.evaluate((x,), batch_size=8)
    with mg.no_grad():
        _, penalty = contractive_penalty(model.encode, mg.tensor(x), method="exact")
    assert scores["jacobian_sq_frobenius"] == pytest.approx(penalty.numpy().mean())
    assert scores["loss"] == pytest.approx(scores["bce"] + 0.5 * scores["jacobian_sq_frobenius"])


# -- the contraction metrics against a linear encoder -------------------------------------------

class _Linear(nn.Module):
    """encode(x) = W x + b: its Jacobian is W everywhere."""

    def __init__(self, weight):
        super().__init__()
        self.layer = nn.Linear(weight.shape[1], weight.shape[0])
        self.layer.weight.data = mg.tensor(weight).data

    def encode(self, x):
        return self.layer(x)


def test_contraction_metrics_of_a_linear_encoder(rng):
    """||J||_F = ||W||_F for every input; h(x + eps) - h(x) = W eps, so the mean of
    ||W eps||^2 / sigma^2 is ||W||_F^2 up to sampling error, at every sigma."""
    weight = rng.standard_normal((3, 8)).astype(np.float32)
    model = _Linear(weight)
    x = rng.uniform(0, 1, (4000, 8)).astype(np.float32)
    frobenius = np.linalg.norm(weight)
    np.testing.assert_allclose(M.encoder_jacobian_norms(model, x[:50]), frobenius, rtol=1e-5)
    for sigma in (0.01, 0.1):
        moved, noise = M.code_displacement(model, x, sigma, seed=2)
        assert moved.shape == noise.shape == (4000,)
        assert (moved**2).mean() / sigma**2 == pytest.approx(frobenius**2, rel=0.05)
        assert noise.mean() == pytest.approx(sigma * np.sqrt(8), rel=0.05)
    report = M.contraction(model, x[:500], (0.01, 0.1), seed=2)
    assert report["jacobian_frobenius"] == pytest.approx(frobenius, rel=1e-5)
    assert set(report["noise"]) == {"0.01", "0.1"}
    codes = x[:500] @ weight.T
    spread = np.sqrt(((codes - codes.mean(0)) ** 2).sum(1).mean())
    assert report["code_spread"] == pytest.approx(spread, rel=1e-4)
    row = report["noise"]["0.1"]
    assert row["relative_displacement"] == pytest.approx(row["displacement"] / spread, rel=1e-4)
    # displacements grow linearly with sigma for a linear map
    assert row["displacement"] == pytest.approx(10 * report["noise"]["0.01"]["displacement"],
                                                rel=0.1)


# -- training contracts the encoder -------------------------------------------------------------

def test_training_with_the_penalty_reduces_the_jacobian_norm():
    """Two 64-16-4 autoencoders from the same weights on the same batches of the 8x8 digits,
    without and with the penalty (Hutchinson, the default): the contractive one's Jacobian is
    much smaller on the test digits, and its reconstruction not much worse."""
    data = load_dataset("digits")
    x_train = data.x_train.reshape(len(data.x_train), -1)
    x_test = data.x_test.reshape(len(data.x_test), -1)
    results = {}
    for name, loss_fn in {"plain": autoencoder_loss_fn("bce"),
                          "contractive": contractive_loss_fn(1.0)}.items():
        mg.manual_seed(0)
        model = MLPAutoencoder((64, 16, 4))
        trainer = Trainer(model, loss_fn, optim.Adam(model.parameters(), lr=3e-3),
                          progress=False, verbose=False)
        history = trainer.fit((x_train,), (x_test,), epochs=5, batch_size=64)
        results[name] = (M.encoder_jacobian_norms(model, x_test).mean(),
                         history[-1]["test_bce"])
    (plain_norm, plain_bce), (cae_norm, cae_bce) = results["plain"], results["contractive"]
    assert cae_norm < 0.5 * plain_norm, results
    assert cae_bce < 1.1 * plain_bce, results
